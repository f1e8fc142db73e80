//! GCP: Cloud Run, Pub/Sub, GCS, Cloud Scheduler, Firestore.

use chrono::NaiveDate;

use super::common::*;
use super::limits::*;
use super::model::*;
use super::value::src;
use crate::cron::CronDialect;
use crate::platform::Platform;

pub fn profile(as_of: NaiveDate) -> Profile {
    Profile {
        platform: Platform::Gcp,
        as_of,
        worker: WorkerProfile {
            backing_service: src("Google Cloud Run (gen2)", SEED_WORKER),
            memory: src(
                MemoryRule::Range {
                    service: "GCP Cloud Run",
                    min: 128,
                    max: 32_768,
                    floor: Some(512),
                },
                "upstream-stack-and-limits.md §3.3.1 (WorkerMemoryCheck, GCP; CLOUD_RUN_GEN2_MIN_MEMORY_MB = 512)",
            ),
            execution_cap_seconds: src(Some(3600), "seed 001 Limits (Cloud Run: 60 min)"),
            timeout_enforced: src(
                true,
                "upstream-cloud-semantics.md §3.1 (revision timeout = timeoutSeconds)",
            ),
            sync_request_max_bytes: src(
                Some(32 * 1024 * 1024),
                "seed 001 Limits (Cloud Run: 32 MB)",
            ),
            sync_response_max_bytes: src(
                Some(32 * 1024 * 1024),
                "seed 001 Limits (Cloud Run: 32 MB)",
            ),
            async_request_max_bytes: src(
                Some(32 * 1024 * 1024),
                "seed 001 Platform Details (Cloud Run: 32 MB request/response; push is an HTTP request)",
            ),
            http_timeout: src(
                HttpTimeout::WorkerTimeout,
                "upstream-cloud-semantics.md §3.2 (request timeout = worker timeout)",
            ),
            event_task_timeout: EventTaskTimeouts {
                queue_seconds: event_task_timeout(),
                storage_seconds: event_task_timeout(),
                cron_seconds: event_task_timeout(),
            },
            command_timeout: src(
                CommandTimeout::WorkerTimeout,
                "upstream-runtime-and-bindings.md §5.4 (budget = worker timeout)",
            ),
            concurrency: src(
                ConcurrencyModel::MaxInstances {
                    per_instance: 1000,
                    default_max: 100,
                },
                "upstream-cloud-semantics.md §3.1 (max_instance_count = limit; per-instance concurrency 1000); [platform knowledge] Cloud Run default max instances 100",
            ),
            cold_start_ms: src(
                Some((1000, 2000)),
                "seed 001 Platform Details (Cloud Run cold starts typically 1-2 s)",
            ),
            scale_to_zero: src(
                ScaleToZero::Always,
                "upstream-cloud-semantics.md §3.1 (min_instance_count 0)",
            ),
            invoke_transport: src(
                InvokeTransport::Http,
                "seed 001 Platform Details (direct HTTP to the private service URL)",
            ),
            transport_env: src("cloud-run", "published-3.3.49.md §9 (ALIEN_TRANSPORT)"),
            triggers: TriggerSupport {
                queue: src(
                    TriggerWiring::Wired,
                    "seed 001 Trigger Support Matrix (Pub/Sub push)",
                ),
                storage: src(
                    TriggerWiring::Wired,
                    "seed 001 Trigger Support Matrix (GCS notifications)",
                ),
                schedule: src(
                    TriggerWiring::Wired,
                    "seed 001 Trigger Support Matrix (Cloud Scheduler)",
                ),
            },
            max_queue_triggers: max_queue_triggers(),
            readiness_probe_runs: src(
                true,
                "upstream-cloud-semantics.md §3.2 (runs for public workers)",
            ),
            restart_on_crash: src(
                true,
                "[platform knowledge] Cloud Run replaces a crashed instance",
            ),
            limits: limits(),
        },
        queue: QueueProfile {
            backing_service: src(
                "Google Pub/Sub (push subscription per triggered worker)",
                "upstream-cloud-semantics.md §4.2",
            ),
            delivery: src(
                DeliveryModel::AckDeadlinePerSubscription,
                "upstream-cloud-semantics.md §0 item 4 (push subscription ack_deadline_seconds = worker timeoutSeconds, no clamp)",
            ),
            consumers: src(
                ConsumerModel::FanOut,
                "upstream-cloud-semantics.md §4.2 (each push subscription gets its own copy)",
            ),
            failure_redelivery: src(
                Redelivery::Immediate,
                "upstream-cloud-semantics.md §4.2 (500 → Pub/Sub redelivers with no retry policy, immediately)",
            ),
            lease_renewed_while_running: src(
                false,
                "upstream-cloud-semantics.md §4.2 (push: a handler past the ack deadline is redelivered)",
            ),
            retention_seconds: src(
                Some(604_800),
                "upstream-cloud-semantics.md §4.1 (subscription retention default 7 days)",
            ),
            max_deliveries: src(
                None,
                "upstream-cloud-semantics.md §4.2 (dead_letter_policy None)",
            ),
            trigger_batch_size: src(
                1,
                "upstream-stack-and-limits.md §6.1 (1 push message per HTTP request)",
            ),
            trigger_claim_size: src(1, "upstream-stack-and-limits.md §6.1"),
            binding_message_max_bytes: binding_message_max_bytes(),
            service_message_max_bytes: src(
                10 * 1024 * 1024,
                "upstream-cloud-semantics.md §4.1 (Pub/Sub provider 10 MB)",
            ),
            receive_max_batch: receive_max_batch(),
            binding_lease_seconds: src(
                Some(30),
                "upstream-stack-and-limits.md §6.3 (ModifyAckDeadline to 30 after the pull)",
            ),
            attempt_count: src(
                AttemptCount::AlwaysOne,
                "upstream-cloud-semantics.md §4.2 (None for push → 1)",
            ),
            source_name: src(
                SourceName::SubscriptionPath,
                "upstream-stack-and-limits.md §5.5 (push format: full subscription path)",
            ),
            stable_message_id: src(
                true,
                "upstream-runtime-and-bindings.md §2.6 (id = messageId)",
            ),
            push_backoff: src(
                Some(PushBackoff {
                    initial_ms: 100,
                    max_ms: 60_000,
                }),
                "peers-2026.md \"Pub/Sub delivery facts\" (push subscription docs, \"Push backoff\": after negative acknowledgements delivery pauses, from 100 ms up to 60 s; doubling per failure, reset by a success)",
            ),
            trigger_at_limit: src(
                TriggerAtLimit::Waits,
                "[platform knowledge] Cloud Run holds requests pending while every instance at max instances is busy; Pub/Sub push flow control slows pushes to a busy endpoint",
            ),
        },
        storage: StorageProfile {
            backing_service: src("Google Cloud Storage", "upstream-cloud-semantics.md §5.1"),
            event_type_casing: src(
                EventCasing::Capitalized,
                "upstream-stack-and-limits.md §5.5 (format!(\"{:?}\") → Created)",
            ),
            trigger_events: src(
                TriggerEvents::Any,
                "upstream-stack-and-limits.md §5.6 (other → passthrough)",
            ),
            ignores_staging_keys: src(
                false,
                "upstream-cloud-semantics.md §5.1 (object_name_prefix None)",
            ),
            failure_retries: src(
                StorageRetry::AsQueue,
                "upstream-cloud-semantics.md §5.1 (push sub, ack deadline = timeout, no retry policy)",
            ),
        },
        cron: CronProfile {
            backing_service: src(
                "Cloud Scheduler HTTP job",
                "upstream-stack-and-limits.md §4.3",
            ),
            dialect: src(
                CronDialect::UnixCron,
                "upstream-stack-and-limits.md §4.3 (raw string, unix-cron)",
            ),
            invalid_code: src(
                "RESOURCE_CONFIG_INVALID",
                "upstream-stack-and-limits.md §3.1 (invalid cron caught at deploy by the cloud API)",
            ),
            schedule_name: src(
                ScheduleName::SchedulerJobName,
                "upstream-stack-and-limits.md §4.3 (X-CloudScheduler-JobName)",
            ),
            retries: src(
                0,
                "upstream-cloud-semantics.md §6 (no retryConfig → provider default retryCount 0)",
            ),
            per_replica: src(false, "upstream-cloud-semantics.md §6"),
            catch_up_once: src(
                false,
                "upstream-cloud-semantics.md §6 (at-most-once by default)",
            ),
            time_zone: src("UTC", "upstream-stack-and-limits.md §4.3 (time_zone UTC)"),
        },
        kv: kv(src("Firestore (Native)", "upstream-cloud-semantics.md §8")),
        daemon: DaemonProfile {
            supported: src(
                false,
                "seed 004 Platform Mapping (GCP: not supported; fails during preflight)",
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
                None,
                "upstream-stack-and-limits.md §3.3.4 (no rule for GCP workers)",
            ),
            storage_id_max: src(
                Some(IdLimit {
                    max: 54,
                    cloud_resource: "GCS bucket name",
                    cloud_limit: 63,
                    pattern: "{prefix}-{id}",
                }),
                "upstream-stack-and-limits.md §3.3.4",
            ),
            vault_id_max: src(None, "upstream-stack-and-limits.md §3.3.4"),
            service_account_id_max: src(
                Some(IdLimit {
                    max: 21,
                    cloud_resource: "GCP service account ID",
                    cloud_limit: 30,
                    pattern: "{prefix}-{id}",
                }),
                "upstream-stack-and-limits.md §3.3.4",
            ),
        },
        commands: commands(src(
            "Pub/Sub publish to the worker's commands topic",
            "upstream-runtime-and-bindings.md §5.3",
        )),
        external_binding_types: src(
            vec![],
            "upstream-stack-and-limits.md §2.2 (EXTERNAL_BINDING_REQUIRED: kubernetes and machines only)",
        ),
        iam: IamProfile {
            denial: src(
                Some(Denial {
                    code: "PERMISSION_DENIED",
                    status: 403,
                }),
                "[platform knowledge] Google APIs answer 403 PERMISSION_DENIED",
            ),
            queue_send: src(
                Some(IamAction {
                    action: "pubsub.topics.publish",
                    granted_by: &["queue/data-write", "queue/publish"],
                }),
                "upstream permission-sets queue/data-write.jsonc, queue/publish.jsonc (roles/pubsub.publisher)",
            ),
            queue_receive: src(
                Some(IamAction {
                    action: "pubsub.subscriptions.consume",
                    granted_by: &["queue/data-read", "queue/data-write"],
                }),
                "upstream permission-sets queue/data-read.jsonc, queue/data-write.jsonc (roles/pubsub.subscriber)",
            ),
            queue_ack: src(
                Some(IamAction {
                    action: "pubsub.subscriptions.consume",
                    granted_by: &["queue/data-read", "queue/data-write"],
                }),
                "upstream permission-sets queue/data-read.jsonc, queue/data-write.jsonc (roles/pubsub.subscriber)",
            ),
            queue_lease: src(
                Some(IamAction {
                    action: "pubsub.subscriptions.consume",
                    granted_by: &["queue/data-read", "queue/data-write"],
                }),
                "upstream permission-sets queue/data-read.jsonc, queue/data-write.jsonc (roles/pubsub.subscriber)",
            ),
            worker_invoke: src(
                Some(IamAction {
                    action: "run.routes.invoke",
                    granted_by: &["worker/invoke"],
                }),
                "upstream permission-sets worker/invoke.jsonc (roles/run.invoker)",
            ),
        },
    }
}

/// Cloud Run: `limits.memory` is enforced, no CPU is set (1 vCPU default), and the
/// filesystem is in memory.
fn limits() -> InstanceLimitsProfile {
    InstanceLimitsProfile {
        memory_enforced: src(
            true,
            "upstream-cloud-semantics.md §3.1 (limits.memory = memoryMb Mi); https://cloud.google.com/run/docs/configuring/memory-limits (instances past the limit are terminated)",
        ),
        cpu: src(
            CpuShare::Fixed { millicpus: 1000 },
            "upstream-cloud-semantics.md §3.1 (no CPU limit set); https://cloud.google.com/run/docs/configuring/services/cpu (1 vCPU by default)",
        ),
        scratch: src(
            ScratchDisk::InMemory,
            "https://cloud.google.com/run/docs/configuring/memory-limits (writing files to the filesystem counts against memory)",
        ),
        out_of_memory: src(
            Some(OutOfMemoryReport {
                error_type: "MemoryLimitExceeded",
                message: "Memory limit of {limit_mb} MiB exceeded with {used_mb} MiB used. Consider increasing the memory limit, see https://cloud.google.com/run/docs/configuring/memory-limits",
            }),
            "[platform knowledge] the Cloud Run log line for an instance terminated past its memory limit",
        ),
    }
}
