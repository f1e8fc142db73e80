//! AWS: Lambda, SQS, S3, EventBridge, DynamoDB.

use chrono::NaiveDate;

use super::common::*;
use super::limits::*;
use super::model::*;
use super::value::{Change, dated, src, ymd};
use crate::cron::CronDialect;
use crate::platform::Platform;

pub fn profile(as_of: NaiveDate) -> Profile {
    Profile {
        platform: Platform::Aws,
        as_of,
        worker: WorkerProfile {
            backing_service: src("AWS Lambda (arm64)", SEED_WORKER),
            memory: src(
                MemoryRule::Range {
                    service: "AWS Lambda",
                    min: 128,
                    max: 10_240,
                    floor: None,
                },
                "upstream-stack-and-limits.md §3.3.1 (WorkerMemoryCheck, AWS)",
            ),
            execution_cap_seconds: src(
                Some(900),
                "seed 001 Limits (Lambda: 15 min); upstream-stack-and-limits.md §3.6 item 5",
            ),
            timeout_enforced: src(
                true,
                "upstream-cloud-semantics.md §3.1 (Lambda Timeout = timeoutSeconds)",
            ),
            sync_request_max_bytes: src(
                Some(6 * 1024 * 1024),
                "seed 001 Limits (Lambda: 6 MB sync)",
            ),
            sync_response_max_bytes: src(
                Some(6 * 1024 * 1024),
                "seed 001 Limits (Lambda: 6 MB response)",
            ),
            async_request_max_bytes: dated(
                as_of,
                &[
                    Change {
                        since: None,
                        value: Some(256 * 1024),
                        source: "seed 001 Limits (Lambda: 256 KB async)",
                    },
                    Change {
                        since: Some(ymd(2025, 10, 1)),
                        value: Some(1024 * 1024),
                        source: "anchors.md §0 item 4 (Lambda async raised to 1 MB, Oct 2025)",
                    },
                ],
            ),
            http_timeout: src(
                HttpTimeout::Fixed(30),
                "upstream-cloud-semantics.md §3.2 (API Gateway HTTP API integration: provider default 30 s)",
            ),
            event_task_timeout: EventTaskTimeouts {
                queue_seconds: event_task_timeout(),
                storage_seconds: event_task_timeout(),
                cron_seconds: event_task_timeout(),
            },
            command_timeout: src(
                CommandTimeout::Fixed(120),
                "upstream-runtime-and-bindings.md §2.5 (commands on Lambda: fixed 120 s)",
            ),
            concurrency: src(
                ConcurrencyModel::ReservedConcurrency {
                    default_limit: 1000,
                },
                "seed 000 Configuration (reserved concurrency); seed 001 Limits (Lambda: 1,000 default)",
            ),
            cold_start_ms: src(
                Some((1000, 3000)),
                "seed 001 Platform Details (Lambda cold starts typically 1-3 s)",
            ),
            scale_to_zero: src(
                ScaleToZero::Always,
                "seed 001 Guarantees (scale to zero when idle)",
            ),
            invoke_transport: src(
                InvokeTransport::LambdaInvoke,
                "seed 001 Platform Details (worker-to-worker uses the Lambda Invoke API)",
            ),
            transport_env: src("lambda", "published-3.3.49.md §9 (ALIEN_TRANSPORT)"),
            triggers: TriggerSupport {
                queue: src(
                    TriggerWiring::Wired,
                    "seed 001 Trigger Support Matrix (SQS event source)",
                ),
                storage: src(
                    TriggerWiring::Wired,
                    "seed 001 Trigger Support Matrix (S3 notifications)",
                ),
                schedule: src(
                    TriggerWiring::Wired,
                    "seed 001 Trigger Support Matrix (EventBridge)",
                ),
            },
            max_queue_triggers: max_queue_triggers(),
            readiness_probe_runs: src(
                true,
                "upstream-cloud-semantics.md §3.2 (probe runs for public workers)",
            ),
            restart_on_crash: src(
                true,
                "[platform knowledge] a crashed Lambda sandbox is replaced on the next invoke",
            ),
            limits: limits(),
        },
        queue: QueueProfile {
            backing_service: src("Amazon SQS (standard)", "upstream-cloud-semantics.md §4.1"),
            delivery: src(
                DeliveryModel::Visibility {
                    multiplier: 6,
                    min: 30,
                    max: 43_200,
                    untriggered: 30,
                },
                "seed 001 Platform Details (max(30s, min(12h, worker_timeout × 6))); upstream-cloud-semantics.md §0 item 2",
            ),
            consumers: src(
                ConsumerModel::Competing,
                "upstream-cloud-semantics.md §4.2 (competing consumers)",
            ),
            failure_redelivery: src(
                Redelivery::AfterLease,
                "upstream-cloud-semantics.md §4.2 (invocation error → visible again after the visibility timeout)",
            ),
            lease_renewed_while_running: src(
                false,
                "[platform knowledge] Lambda event source mappings do not extend SQS visibility",
            ),
            retention_seconds: src(
                Some(345_600),
                "upstream-stack-and-limits.md §6.2 (4 days, CloudFormation/Terraform and SQS default)",
            ),
            max_deliveries: src(
                None,
                "upstream-cloud-semantics.md §0 item 3 (no DLQ, no maxReceiveCount)",
            ),
            trigger_batch_size: src(1, "upstream-stack-and-limits.md §6.1 (batch_size(1))"),
            trigger_claim_size: src(1, "upstream-stack-and-limits.md §6.1 (batch_size(1))"),
            binding_message_max_bytes: binding_message_max_bytes(),
            service_message_max_bytes: dated(
                as_of,
                &[
                    Change {
                        since: None,
                        value: 256 * 1024,
                        source: "upstream-cloud-semantics.md §4.1 (SQS 256 KiB)",
                    },
                    Change {
                        since: Some(ymd(2025, 8, 1)),
                        value: 1024 * 1024,
                        source: "peers.md headline 3 (SQS raised to 1 MiB, Aug 2025)",
                    },
                ],
            ),
            receive_max_batch: receive_max_batch(),
            binding_lease_seconds: src(
                None,
                "upstream-stack-and-limits.md §6.3 (SQS uses the queue's VisibilityTimeout)",
            ),
            attempt_count: src(
                AttemptCount::Real,
                "upstream-stack-and-limits.md §5.5 (ApproximateReceiveCount)",
            ),
            source_name: src(
                SourceName::PhysicalQueue,
                "upstream-stack-and-limits.md §5.5 (last ':' segment of eventSourceArn)",
            ),
            stable_message_id: src(
                true,
                "upstream-runtime-and-bindings.md §2.5 (id = SQS MessageId)",
            ),
            push_backoff: src(
                None,
                "upstream-cloud-semantics.md §4.2 (a Lambda event source mapping polls SQS: no push)",
            ),
            trigger_at_limit: src(
                TriggerAtLimit::ThrottlesUntilVisible { pollers: 5 },
                "upstream-cloud-semantics.md §4.2 (\"Throttling under reserved concurrency also returns messages\"); AWS re:Post lambda-sqs-scaling (\"Event source mappings don't account for reserved concurrency and can process more messages off your queue than can be sent to your function\"); Lambda docs services-sqs-scaling (\"starts processing five batches at a time\"); services-sqs-configure (visibility ≥ 6 × timeout \"allows Lambda to retry if your function is throttled\")",
            ),
        },
        storage: StorageProfile {
            backing_service: src("Amazon S3", "upstream-cloud-semantics.md §5.1"),
            event_type_casing: src(
                EventCasing::CamelCase,
                "upstream-stack-and-limits.md §5.5 (serde camelCase: created)",
            ),
            trigger_events: src(
                TriggerEvents::Any,
                "upstream-stack-and-limits.md §5.6 (other → s3:{other})",
            ),
            ignores_staging_keys: src(
                false,
                "upstream-cloud-semantics.md §5.1 (whole bucket, no filter)",
            ),
            failure_retries: src(
                StorageRetry::AsyncRetries { retries: 2 },
                "upstream-cloud-semantics.md §5.1 (Lambda async: provider default 2 retries)",
            ),
        },
        cron: CronProfile {
            backing_service: src("EventBridge rule", "upstream-stack-and-limits.md §4.3"),
            dialect: src(
                CronDialect::EventBridge,
                "upstream-stack-and-limits.md §4.2 (crontab_to_eventbridge)",
            ),
            invalid_code: src(
                "RESOURCE_CONFIG_INVALID",
                "upstream-stack-and-limits.md §4.2 (e): controller ResourceConfigInvalid",
            ),
            schedule_name: src(
                ScheduleName::RuleArn,
                "upstream-stack-and-limits.md §4.3 (resources[0], the rule ARN)",
            ),
            retries: src(
                2,
                "upstream-cloud-semantics.md §6 (Lambda async: provider default 2 retries)",
            ),
            per_replica: src(false, "upstream-cloud-semantics.md §6"),
            catch_up_once: src(
                false,
                "upstream-cloud-semantics.md §6 (rules run continuously; no catch-up)",
            ),
            time_zone: src("UTC", "upstream-stack-and-limits.md §4.1"),
        },
        kv: kv(src("Amazon DynamoDB", "upstream-cloud-semantics.md §8")),
        daemon: DaemonProfile {
            supported: src(
                false,
                "seed 004 Platform Mapping (AWS: not supported; fails during preflight)",
            ),
            backing_runtime: src(
                "none",
                "upstream-cloud-semantics.md §7 (no built-in controller)",
            ),
            restart: src(RestartPolicy::None, "upstream-cloud-semantics.md §7"),
            default_stop_grace_seconds: default_stop_grace(),
            source_code_supported: src(false, "seed 003 code (use image for Daemon today)"),
        },
        names: NamingProfile {
            worker_id_max: src(
                Some(IdLimit {
                    max: 55,
                    cloud_resource: "AWS Lambda worker name",
                    cloud_limit: 64,
                    pattern: "{prefix}-{id}",
                }),
                "upstream-stack-and-limits.md §3.3.4",
            ),
            storage_id_max: src(
                Some(IdLimit {
                    max: 54,
                    cloud_resource: "AWS S3 bucket name",
                    cloud_limit: 63,
                    pattern: "{prefix}-{id}",
                }),
                "upstream-stack-and-limits.md §3.3.4",
            ),
            vault_id_max: src(None, "upstream-stack-and-limits.md §3.3.4"),
            service_account_id_max: src(
                Some(IdLimit {
                    max: 55,
                    cloud_resource: "AWS IAM role name",
                    cloud_limit: 64,
                    pattern: "{prefix}-{id}",
                }),
                "upstream-stack-and-limits.md §3.3.4",
            ),
        },
        commands: commands(src(
            "Lambda Invoke (async, InvocationType Event)",
            "upstream-runtime-and-bindings.md §5.3",
        )),
        external_binding_types: src(
            vec![],
            "upstream-stack-and-limits.md §2.2 (EXTERNAL_BINDING_REQUIRED: kubernetes and machines only)",
        ),
        iam: IamProfile {
            denial: src(
                Some(Denial {
                    code: "AccessDenied",
                    status: 403,
                }),
                "[platform knowledge] IAM denials are AccessDenied / 403 on SQS and Lambda",
            ),
            queue_send: src(
                Some(IamAction {
                    action: "sqs:SendMessage",
                    granted_by: &["queue/data-write", "queue/publish"],
                }),
                "upstream permission-sets queue/data-write.jsonc, queue/publish.jsonc (aws grant actions)",
            ),
            queue_receive: src(
                Some(IamAction {
                    action: "sqs:ReceiveMessage",
                    granted_by: &["queue/data-read"],
                }),
                "upstream permission-sets queue/data-read.jsonc (aws grant actions)",
            ),
            queue_ack: src(
                Some(IamAction {
                    action: "sqs:DeleteMessage",
                    granted_by: &["queue/data-read", "queue/data-write"],
                }),
                "upstream permission-sets queue/data-read.jsonc, queue/data-write.jsonc (aws grant actions)",
            ),
            queue_lease: src(
                Some(IamAction {
                    action: "sqs:ChangeMessageVisibility",
                    granted_by: &["queue/data-read", "queue/data-write"],
                }),
                "upstream permission-sets queue/data-read.jsonc, queue/data-write.jsonc (aws grant actions)",
            ),
            worker_invoke: src(
                Some(IamAction {
                    action: "lambda:InvokeFunction",
                    granted_by: &["worker/invoke"],
                }),
                "upstream permission-sets worker/invoke.jsonc (aws grant actions); links to workers add no grant (resource_link_permissions.rs)",
            ),
        },
    }
}

/// Lambda: memory is `MemorySize`, CPU follows it, `/tmp` is 512 MB of its own.
fn limits() -> InstanceLimitsProfile {
    InstanceLimitsProfile {
        memory_enforced: src(
            true,
            "upstream-cloud-semantics.md §3.1 (MemorySize = memoryMb); https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html",
        ),
        cpu: src(
            CpuShare::ProportionalToMemory { mb_per_vcpu: 1769 },
            "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html (at 1,769 MB a function has the equivalent of one vCPU)",
        ),
        scratch: src(
            ScratchDisk::Disk {
                path: "/tmp",
                mb: 512,
            },
            "https://docs.aws.amazon.com/lambda/latest/dg/configuration-ephemeral-storage.html (/tmp, 512 MB by default; upstream-cloud-semantics.md §3.1 maps no EphemeralStorage)",
        ),
        out_of_memory: src(
            Some(OutOfMemoryReport {
                error_type: "Runtime.ExitError",
                message: "Runtime exited with error: signal: killed",
            }),
            "[platform knowledge] Lambda reports an instance killed past MemorySize as Runtime.ExitError \"Runtime exited with error: signal: killed\"",
        ),
    }
}
