//! Kubernetes: Deployment + Service workers, DaemonSet daemons, external bindings for
//! infrastructure, and no trigger wiring.

use chrono::NaiveDate;

use super::common::*;
use super::limits::*;
use super::model::*;
use super::value::src;
use crate::cron::CronDialect;
use crate::platform::Platform;

const NOT_WIRED: &str = "upstream-stack-and-limits.md §2.3 (no trigger wiring on Kubernetes); seed 001 (queue triggers not supported)";

pub fn profile(as_of: NaiveDate) -> Profile {
    Profile {
        platform: Platform::Kubernetes,
        as_of,
        worker: WorkerProfile {
            backing_service: src("Kubernetes Deployment + Service", SEED_WORKER),
            memory: src(
                MemoryRule::Unconstrained,
                "upstream-stack-and-limits.md §3.3.1 (no constraint on Kubernetes)",
            ),
            execution_cap_seconds: src(
                None,
                "upstream-cloud-semantics.md §3.1 (timeout only as env)",
            ),
            timeout_enforced: src(
                false,
                "upstream-cloud-semantics.md §3.1 (timeout only as env)",
            ),
            sync_request_max_bytes: src(None, "upstream-cloud-semantics.md §3.2 (none set)"),
            sync_response_max_bytes: src(None, "upstream-cloud-semantics.md §3.2 (none set)"),
            async_request_max_bytes: src(
                None,
                "upstream-stack-and-limits.md §2.3 (no event delivery)",
            ),
            http_timeout: src(
                HttpTimeout::Fixed(300),
                "upstream-runtime-and-bindings.md §2.4 (runtime proxy read timeout 300 s)",
            ),
            event_task_timeout: EventTaskTimeouts {
                queue_seconds: event_task_timeout(),
                storage_seconds: event_task_timeout(),
                cron_seconds: event_task_timeout(),
            },
            command_timeout: src(
                CommandTimeout::WorkerTimeout,
                "upstream-runtime-and-bindings.md §2.8 (budget = ALIEN_WORKER_TIMEOUT_SECONDS)",
            ),
            concurrency: src(
                ConcurrencyModel::FixedReplicas { replicas: 1 },
                "upstream-cloud-semantics.md §0 item 7 (replicas 1; concurrencyLimit ignored)",
            ),
            cold_start_ms: src(
                None,
                "upstream-cloud-semantics.md §3.1 (replicas 1, always running)",
            ),
            scale_to_zero: src(
                ScaleToZero::Never,
                "upstream-cloud-semantics.md §3.1 (replicas: Some(1))",
            ),
            invoke_transport: src(
                InvokeTransport::Http,
                "seed 001 Platform Details (HTTP to the Kubernetes service)",
            ),
            transport_env: src("http", "published-3.3.49.md §9 (ALIEN_TRANSPORT)"),
            triggers: TriggerSupport {
                queue: src(TriggerWiring::NotWired, NOT_WIRED),
                storage: src(TriggerWiring::NotWired, NOT_WIRED),
                schedule: src(TriggerWiring::NotWired, NOT_WIRED),
            },
            max_queue_triggers: max_queue_triggers(),
            readiness_probe_runs: src(
                true,
                "upstream-cloud-semantics.md §3.2 (probe path is the route health check)",
            ),
            restart_on_crash: src(
                true,
                "upstream-cloud-semantics.md §3.1 (restartPolicy Always)",
            ),
            limits: limits(),
        },
        queue: QueueProfile {
            backing_service: src(
                "external binding (sqs, pubsub or servicebus)",
                "upstream-stack-and-limits.md §2.2 (EXTERNAL_BINDING_REQUIRED)",
            ),
            delivery: src(
                DeliveryModel::Lease { lease_seconds: 30 },
                "upstream-stack-and-limits.md §6.3 (binding LEASE_SECONDS 30)",
            ),
            consumers: src(
                ConsumerModel::Competing,
                "upstream-stack-and-limits.md §6.3 (binding receive competes)",
            ),
            failure_redelivery: src(Redelivery::AfterLease, "upstream-stack-and-limits.md §6.3"),
            lease_renewed_while_running: src(
                false,
                "upstream-stack-and-limits.md §6.3 (binding lease)",
            ),
            retention_seconds: src(
                None,
                "upstream-stack-and-limits.md §2.2 (set by the external queue)",
            ),
            max_deliveries: src(
                None,
                "upstream-stack-and-limits.md §2.2 (set by the external queue)",
            ),
            trigger_batch_size: src(1, NOT_WIRED),
            trigger_claim_size: src(1, NOT_WIRED),
            binding_message_max_bytes: binding_message_max_bytes(),
            service_message_max_bytes: binding_message_max_bytes(),
            receive_max_batch: receive_max_batch(),
            binding_lease_seconds: src(
                Some(30),
                "upstream-stack-and-limits.md §6.3 (LEASE_SECONDS)",
            ),
            attempt_count: src(
                AttemptCount::AlwaysOne,
                "upstream-cloud-semantics.md §4.1 (cloud bindings report attempt 1)",
            ),
            source_name: src(SourceName::LogicalId, NOT_WIRED),
            stable_message_id: src(
                true,
                "upstream-stack-and-limits.md §2.2 (set by the external queue)",
            ),
            push_backoff: src(None, NOT_WIRED),
            trigger_at_limit: src(TriggerAtLimit::Waits, NOT_WIRED),
        },
        storage: StorageProfile {
            backing_service: src(
                "external binding (s3, gcs or blob)",
                "upstream-stack-and-limits.md §2.2",
            ),
            event_type_casing: src(EventCasing::CamelCase, NOT_WIRED),
            trigger_events: src(TriggerEvents::FiresOnly { firing: vec![] }, NOT_WIRED),
            ignores_staging_keys: src(false, "upstream-stack-and-limits.md §2.3 (not wired)"),
            failure_retries: src(StorageRetry::None, NOT_WIRED),
        },
        cron: CronProfile {
            backing_service: src("none (no CronJob)", "upstream-cloud-semantics.md §6"),
            dialect: src(
                CronDialect::UnixCron,
                "upstream-cloud-semantics.md §6 (not wired; checked as unix-cron)",
            ),
            invalid_code: src(
                "RESOURCE_CONFIG_INVALID",
                "upstream-stack-and-limits.md §3.1 (no preflight validates cron)",
            ),
            schedule_name: src(ScheduleName::CronExpression, NOT_WIRED),
            retries: src(0, NOT_WIRED),
            per_replica: src(false, NOT_WIRED),
            catch_up_once: src(false, NOT_WIRED),
            time_zone: src("UTC", NOT_WIRED),
        },
        kv: kv(src(
            "external binding (dynamodb, firestore or tablestorage)",
            "upstream-cloud-semantics.md §8",
        )),
        daemon: DaemonProfile {
            supported: src(true, "seed 004 Platform Mapping (Kubernetes: supported)"),
            backing_runtime: src(
                "single-replica Deployment (seed 004); DaemonSet in upstream code",
                "seed 004 Platform Mapping; upstream-cloud-semantics.md §7 (DaemonSet)",
            ),
            restart: src(
                RestartPolicy::CrashLoopBackOff {
                    initial: 10,
                    max: 300,
                    reset_after: 600,
                },
                "[platform knowledge] kubelet CrashLoopBackOff 10 s doubling to 5 min, reset after 10 min running; upstream-cloud-semantics.md §7 (restartPolicy Always)",
            ),
            default_stop_grace_seconds: src(
                30,
                "upstream-cloud-semantics.md §7 (terminationGracePeriodSeconds, Kubernetes default 30)",
            ),
            source_code_supported: src(
                false,
                "seed 003 code (source not supported by the Kubernetes controller)",
            ),
        },
        names: NamingProfile {
            worker_id_max: src(
                None,
                "upstream-stack-and-limits.md §3.3.4 (no rules on kubernetes)",
            ),
            storage_id_max: src(None, "upstream-stack-and-limits.md §3.3.4"),
            vault_id_max: src(None, "upstream-stack-and-limits.md §3.3.4"),
            service_account_id_max: src(None, "upstream-stack-and-limits.md §3.3.4"),
        },
        commands: commands(src(
            "HTTP POST /_alien/commands",
            "upstream-runtime-and-bindings.md §5.3 (HttpCommandDispatcher)",
        )),
        external_binding_types: src(
            vec!["storage", "queue", "kv"],
            "upstream-stack-and-limits.md §2.2 (Kubernetes requires external bindings for storage, queue, kv)",
        ),
        iam: IamProfile {
            denial: src(
                None,
                "upstream-stack-and-limits.md §1.5 (permission sets carry aws/gcp/azure grants only; Kubernetes)",
            ),
            queue_send: src(None, "no identity check on Kubernetes"),
            queue_receive: src(None, "no identity check on Kubernetes"),
            queue_ack: src(None, "no identity check on Kubernetes"),
            queue_lease: src(None, "no identity check on Kubernetes"),
            worker_invoke: src(None, "no identity check on Kubernetes"),
        },
    }
}

/// A Deployment: request = limit = memoryMb, CPU limit 1, ephemeral storage not limited.
fn limits() -> InstanceLimitsProfile {
    InstanceLimitsProfile {
        memory_enforced: src(
            true,
            "upstream-cloud-semantics.md §3.1 (memory request = limit = memoryMb Mi)",
        ),
        cpu: src(
            CpuShare::Fixed { millicpus: 1000 },
            "upstream-cloud-semantics.md §3.1 (CPU request 100m, limit 1)",
        ),
        scratch: src(
            ScratchDisk::HostDisk,
            "upstream-cloud-semantics.md §3.1 (no ephemeral-storage limit set: the node's disk)",
        ),
        out_of_memory: src(
            Some(OutOfMemoryReport {
                error_type: "OOMKilled",
                message: "Container terminated with reason OOMKilled, exit code 137 (memory limit {limit_mb}Mi)",
            }),
            "https://kubernetes.io/docs/tasks/configure-pod-container/assign-memory-resource/ (a container past its memory limit is terminated: reason OOMKilled)",
        ),
    }
}
