//! Local: native processes, the SQLite-backed local queue, a watched storage directory, the
//! `cron` crate scheduler and the supervised daemon.

use chrono::NaiveDate;

use super::common::*;
use super::limits::*;
use super::model::*;
use super::value::src;
use crate::cron::CronDialect;
use crate::platform::Platform;

const TRIGGERS: &str =
    "upstream-cloud-semantics.md §0b Local; upstream-runtime-and-bindings.md §4.4";

pub fn profile(as_of: NaiveDate) -> Profile {
    Profile {
        platform: Platform::Local,
        as_of,
        worker: WorkerProfile {
            backing_service: src("native process (LocalTriggerService)", SEED_LIMITS),
            memory: src(
                MemoryRule::Unconstrained,
                "upstream-cloud-semantics.md §0b Local (memory not enforced)",
            ),
            execution_cap_seconds: src(
                None,
                "upstream-cloud-semantics.md §0b Local (timeout not enforced)",
            ),
            timeout_enforced: src(
                false,
                "upstream-cloud-semantics.md §0b Local (memory, timeout and concurrency not enforced)",
            ),
            sync_request_max_bytes: src(
                None,
                "upstream-runtime-and-bindings.md §2.8 (plain HTTP proxy)",
            ),
            sync_response_max_bytes: src(
                None,
                "upstream-runtime-and-bindings.md §2.8 (plain HTTP proxy)",
            ),
            async_request_max_bytes: src(
                None,
                "upstream-runtime-and-bindings.md §4.4 (tasks sent in-process)",
            ),
            http_timeout: src(
                HttpTimeout::Fixed(300),
                "upstream-runtime-and-bindings.md §2.4 (proxy read timeout 300 s)",
            ),
            event_task_timeout: EventTaskTimeouts {
                queue_seconds: src(
                    300,
                    "upstream-stack-and-limits.md §6.1 (local queue send_task 300 s)",
                ),
                storage_seconds: src(
                    30,
                    "upstream-stack-and-limits.md §6.1 (local storage send_task 30 s)",
                ),
                cron_seconds: src(
                    60,
                    "upstream-stack-and-limits.md §6.1 (local cron send_task 60 s)",
                ),
            },
            command_timeout: src(
                CommandTimeout::WorkerTimeout,
                "upstream-runtime-and-bindings.md §2.8 (budget = ALIEN_WORKER_TIMEOUT_SECONDS)",
            ),
            concurrency: src(
                ConcurrencyModel::SingleProcess,
                "upstream-stack-and-limits.md §6.1 (concurrencyLimit ignored on Local)",
            ),
            cold_start_ms: src(None, "upstream-cloud-semantics.md §3.1 (always running)"),
            scale_to_zero: src(
                ScaleToZero::Never,
                "upstream-cloud-semantics.md §3.1 (always running)",
            ),
            invoke_transport: src(
                InvokeTransport::Http,
                "upstream-cloud-semantics.md §3.3 (HTTP to worker_url)",
            ),
            transport_env: src("local", "published-3.3.49.md §9 (ALIEN_TRANSPORT)"),
            triggers: TriggerSupport {
                queue: src(TriggerWiring::Wired, TRIGGERS),
                storage: src(TriggerWiring::Wired, TRIGGERS),
                schedule: src(TriggerWiring::Wired, TRIGGERS),
            },
            max_queue_triggers: max_queue_triggers(),
            readiness_probe_runs: src(false, "upstream-cloud-semantics.md §3.2 (not run on Local)"),
            restart_on_crash: src(
                true,
                "seed 001 Local (automatic restart on crash via background monitor)",
            ),
            limits: limits(),
        },
        queue: QueueProfile {
            backing_service: src(
                "local queue owned by the host (local-queue-http)",
                "published-3.3.49.md §4",
            ),
            delivery: src(
                DeliveryModel::Lease { lease_seconds: 30 },
                "upstream-stack-and-limits.md §6.4 (visible_at = now + 30 s)",
            ),
            consumers: src(
                ConsumerModel::Competing,
                "upstream-cloud-semantics.md §4.2 (pollers claim with a transaction)",
            ),
            failure_redelivery: src(
                Redelivery::AfterLease,
                "upstream-runtime-and-bindings.md §4.4 (no ack, no nack → after the 30 s lease)",
            ),
            lease_renewed_while_running: src(
                false,
                "upstream-cloud-semantics.md §13 item 3 (the lease is not linked to the handler)",
            ),
            retention_seconds: src(None, "upstream-stack-and-limits.md §6.4 (no retention)"),
            max_deliveries: src(
                None,
                "upstream-stack-and-limits.md §6.4 (no max-receive count, no DLQ)",
            ),
            trigger_batch_size: src(
                1,
                "upstream-stack-and-limits.md §6.1 (dispatched one at a time)",
            ),
            trigger_claim_size: src(10, "upstream-stack-and-limits.md §6.1 (receive up to 10)"),
            binding_message_max_bytes: binding_message_max_bytes(),
            service_message_max_bytes: src(
                65_536,
                "upstream-stack-and-limits.md §6.4 (payloads over 64 KiB rejected)",
            ),
            receive_max_batch: receive_max_batch(),
            binding_lease_seconds: src(Some(30), "published-3.3.49.md §4.5 (LEASE_SECONDS)"),
            attempt_count: src(
                AttemptCount::Real,
                "upstream-stack-and-limits.md §5.5 (the local store's real attempt count)",
            ),
            source_name: src(
                SourceName::LogicalId,
                "upstream-stack-and-limits.md §5.5 (the logical queue id)",
            ),
            stable_message_id: src(
                false,
                "upstream-runtime-and-bindings.md §4.4 (id = a new UUID per delivery)",
            ),
            push_backoff: src(
                None,
                "published-3.3.49.md §4.5 (the local queue is polled by the runtime: no push)",
            ),
            trigger_at_limit: src(
                TriggerAtLimit::Waits,
                "upstream-cloud-semantics.md §4.2 (the Local poller runs each claimed message in turn)",
            ),
        },
        storage: StorageProfile {
            backing_service: src(
                "watched local directory",
                "upstream-cloud-semantics.md §5.1",
            ),
            event_type_casing: src(
                EventCasing::CamelCase,
                "upstream-stack-and-limits.md §5.5 (created / deleted only)",
            ),
            trigger_events: src(
                TriggerEvents::FiresOnly {
                    firing: vec!["created", "deleted"],
                },
                "upstream-stack-and-limits.md §5.6 (Local: other events never fire)",
            ),
            ignores_staging_keys: src(
                true,
                "upstream-cloud-semantics.md §5.1 (staging files key#N ignored)",
            ),
            failure_retries: src(
                StorageRetry::None,
                "upstream-runtime-and-bindings.md §4.4 (failures logged, no retry)",
            ),
        },
        cron: CronProfile {
            backing_service: src(
                "in-process cron crate scheduler",
                "upstream-stack-and-limits.md §4.3",
            ),
            dialect: src(
                CronDialect::CronCrate,
                "upstream-stack-and-limits.md §4.3 (\"0 \" prepended, cron crate 0.17)",
            ),
            invalid_code: src(
                "INVALID_CRON_EXPRESSION",
                "upstream-stack-and-limits.md §4.3 (INVALID_CRON_EXPRESSION, logged by the local scheduler)",
            ),
            schedule_name: src(
                ScheduleName::CronExpression,
                "upstream-stack-and-limits.md §4.3 (the cron expression itself)",
            ),
            retries: src(
                0,
                "upstream-runtime-and-bindings.md §4.4 (result ignored, no retry)",
            ),
            per_replica: src(false, "upstream-runtime-and-bindings.md §4.4"),
            catch_up_once: src(
                true,
                "upstream-stack-and-limits.md §4.3 (one catch-up event after downtime)",
            ),
            time_zone: src("UTC", "upstream-stack-and-limits.md §4.3"),
        },
        kv: kv(src("local-kv (localkv.v2)", "published-3.3.49.md §5.2")),
        daemon: DaemonProfile {
            supported: src(true, "seed 004 Platform Mapping (Local: supported)"),
            backing_runtime: src(
                "supervised child process",
                "upstream-runtime-and-bindings.md §4.2",
            ),
            restart: src(
                RestartPolicy::ExponentialSeconds {
                    base: 2,
                    max_attempts: 10,
                    ready_check_seconds: 5,
                    startup_check_ms: 50,
                },
                "upstream-runtime-and-bindings.md §4.2 (Ready re-check every 5 s; a start fails if the process exited within 50 ms; MAX_RETRIES = 10, delay 2^attempt s)",
            ),
            default_stop_grace_seconds: default_stop_grace(),
            source_code_supported: src(
                false,
                "seed 003 code (source not supported by the Local controller)",
            ),
        },
        names: NamingProfile {
            worker_id_max: src(
                None,
                "upstream-stack-and-limits.md §3.3.4 (no rules on local)",
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
            vec![],
            "upstream-stack-and-limits.md §2.2 (EXTERNAL_BINDING_REQUIRED: kubernetes and machines only)",
        ),
        iam: IamProfile {
            denial: src(
                None,
                "upstream-stack-and-limits.md §1.5 (permission sets carry aws/gcp/azure grants only; Local)",
            ),
            queue_send: src(None, "no identity check on Local"),
            queue_receive: src(None, "no identity check on Local"),
            queue_ack: src(None, "no identity check on Local"),
            queue_lease: src(None, "no identity check on Local"),
            worker_invoke: src(None, "no identity check on Local"),
        },
    }
}

/// Local: an OS process with no limits.
fn limits() -> InstanceLimitsProfile {
    InstanceLimitsProfile {
        memory_enforced: src(
            false,
            "upstream-cloud-semantics.md §3.1 (memoryMb not enforced on Local)",
        ),
        cpu: src(
            CpuShare::Unlimited,
            "upstream-cloud-semantics.md §3.1 (Local: an OS process, no limits)",
        ),
        scratch: src(
            ScratchDisk::HostDisk,
            "upstream-cloud-semantics.md §3.1 (Local: an OS process on the host)",
        ),
        out_of_memory: src(
            None,
            "upstream-cloud-semantics.md §3.1 (memoryMb not enforced on Local)",
        ),
    }
}
