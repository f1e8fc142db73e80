//! Azure: Container Apps (Dapr), Service Bus, Blob Storage + Event Grid, Table Storage.

use chrono::NaiveDate;

use super::common::*;
use super::limits::*;
use super::model::*;
use super::value::src;
use crate::cron::CronDialect;
use crate::platform::Platform;

/// `AZURE_VALID_COMBOS` memory values, MB (`alien-preflights/src/azure.rs`).
pub const AZURE_MEMORY_STEPS: [u32; 8] = [512, 1024, 1536, 2048, 2560, 3072, 3584, 4096];

pub fn profile(as_of: NaiveDate) -> Profile {
    Profile {
        platform: Platform::Azure,
        as_of,
        worker: WorkerProfile {
            backing_service: src("Azure Container Apps (Dapr sidecar)", SEED_WORKER),
            memory: src(
                MemoryRule::Steps {
                    service: "Azure Container Apps",
                    values: AZURE_MEMORY_STEPS.to_vec(),
                },
                "upstream-stack-and-limits.md §3.3.1 (AZURE_VALID_COMBOS, rounded up with a warning, >4096 error)",
            ),
            execution_cap_seconds: src(
                None,
                "seed 001 Limits (Container Apps: varies); upstream-cloud-semantics.md §3.1 (timeout not mapped)",
            ),
            timeout_enforced: src(
                false,
                "upstream-cloud-semantics.md §3.1 (timeoutSeconds not mapped to any Azure setting; env only)",
            ),
            sync_request_max_bytes: src(None, "seed 001 Limits (Container Apps: varies)"),
            sync_response_max_bytes: src(None, "seed 001 Limits (Container Apps: varies)"),
            async_request_max_bytes: src(
                Some(256 * 1024),
                "upstream-cloud-semantics.md §4.1 (Service Bus Standard 256 KB)",
            ),
            http_timeout: src(
                HttpTimeout::Fixed(240),
                "upstream-cloud-semantics.md §3.2 (Container Apps ingress, provider fixed ~240 s)",
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
                ConcurrencyModel::MaxReplicas { default_max: 10 },
                "upstream-cloud-semantics.md §0 item 5 (max_replicas = concurrencyLimit or 10)",
            ),
            cold_start_ms: src(
                Some((1000, 5000)),
                "[platform knowledge] Container Apps scale-from-zero takes seconds; seed 001 gives no figure",
            ),
            scale_to_zero: src(
                ScaleToZero::PrivateOnly,
                "upstream-cloud-semantics.md §0 item 5 (min_replicas 0 private, 1 public)",
            ),
            invoke_transport: src(
                InvokeTransport::Http,
                "seed 001 Platform Details (direct HTTP to the private Container App URL)",
            ),
            transport_env: src("container-app", "published-3.3.49.md §9 (ALIEN_TRANSPORT)"),
            triggers: TriggerSupport {
                queue: src(
                    TriggerWiring::Wired,
                    "seed 001 Trigger Support Matrix (Service Bus + KEDA; Dapr binding upstream)",
                ),
                storage: src(
                    TriggerWiring::Wired,
                    "seed 001 Trigger Support Matrix (Dapr blob storage binding)",
                ),
                schedule: src(
                    TriggerWiring::Wired,
                    "seed 001 Trigger Support Matrix (Dapr cron binding)",
                ),
            },
            max_queue_triggers: max_queue_triggers(),
            readiness_probe_runs: src(
                true,
                "upstream-cloud-semantics.md §3.2 (runs if configured and a URL exists)",
            ),
            restart_on_crash: src(
                true,
                "[platform knowledge] Container Apps restarts a crashed replica",
            ),
            limits: limits(),
        },
        queue: QueueProfile {
            backing_service: src(
                "Azure Service Bus queue (Dapr input binding)",
                "upstream-cloud-semantics.md §4.2",
            ),
            delivery: src(
                DeliveryModel::PeekLock { lock_seconds: 60 },
                "upstream-cloud-semantics.md §4.1 (lock duration: provider default PT1M)",
            ),
            consumers: src(
                ConsumerModel::Competing,
                "upstream-cloud-semantics.md §4.2 (each Dapr binding reads the same queue)",
            ),
            failure_redelivery: src(
                Redelivery::Immediate,
                "upstream-cloud-semantics.md §4.2 (non-2xx → Dapr abandons → DeliveryCount++)",
            ),
            lease_renewed_while_running: src(
                true,
                "upstream-cloud-semantics.md §13 item 2 (Dapr renews the lock every 20 s, lockRenewalInSec 20)",
            ),
            retention_seconds: src(
                None,
                "upstream-cloud-semantics.md §4.1 (TTL: provider default)",
            ),
            max_deliveries: src(
                Some(10),
                "upstream-stack-and-limits.md §6.2 (Service Bus default MaxDeliveryCount 10, then the built-in DLQ)",
            ),
            trigger_batch_size: src(1, "upstream-stack-and-limits.md §6.1 (1 per Dapr delivery)"),
            trigger_claim_size: src(
                1,
                "upstream-cloud-semantics.md §4.2 (Dapr maxActiveMessages 1)",
            ),
            binding_message_max_bytes: binding_message_max_bytes(),
            service_message_max_bytes: src(
                256 * 1024,
                "upstream-cloud-semantics.md §4.1 (Service Bus Standard 256 KB)",
            ),
            receive_max_batch: src(
                1,
                "upstream-runtime-and-bindings.md §3.4 (Service Bus: one message per receive call)",
            ),
            binding_lease_seconds: src(
                Some(30),
                "upstream-stack-and-limits.md §6.3 (peek-lock call gets Some(30))",
            ),
            attempt_count: src(
                AttemptCount::Real,
                "upstream-stack-and-limits.md §5.5 (Dapr deliverycount)",
            ),
            source_name: src(
                SourceName::DaprTopic,
                "upstream-stack-and-limits.md §5.5 (topic, else \"unknown\")",
            ),
            stable_message_id: src(true, "upstream-runtime-and-bindings.md §2.7 (messageid)"),
            push_backoff: src(
                None,
                "upstream-cloud-semantics.md §4.2 (Dapr receives from Service Bus with peek-lock: no push)",
            ),
            trigger_at_limit: src(
                TriggerAtLimit::Waits,
                "upstream-cloud-semantics.md §4.2 (Dapr binding maxConcurrentHandlers 1: it receives only what a handler can take)",
            ),
        },
        storage: StorageProfile {
            backing_service: src(
                "Azure Blob Storage via Event Grid → Service Bus → Dapr",
                "upstream-cloud-semantics.md §5.1",
            ),
            event_type_casing: src(
                EventCasing::Capitalized,
                "upstream-stack-and-limits.md §5.5 (same as GCP, capitalized)",
            ),
            trigger_events: src(
                TriggerEvents::Only {
                    allowed: vec!["created", "deleted", "tierChanged"],
                },
                "upstream-stack-and-limits.md §5.6 (Azure: error for any other event)",
            ),
            ignores_staging_keys: src(
                false,
                "upstream-cloud-semantics.md §5.1 (container subject filter only)",
            ),
            failure_retries: src(
                StorageRetry::AsQueue,
                "upstream-cloud-semantics.md §5.1 (Service Bus queue defaults)",
            ),
        },
        cron: CronProfile {
            backing_service: src("Dapr cron binding", "upstream-stack-and-limits.md §4.3"),
            dialect: src(
                CronDialect::Dapr,
                "upstream-cloud-semantics.md §6 (Dapr robfig/cron, seconds optional)",
            ),
            invalid_code: src(
                "RESOURCE_CONFIG_INVALID",
                "upstream-stack-and-limits.md §3.1 (invalid cron caught at deploy by the cloud API)",
            ),
            schedule_name: src(
                ScheduleName::DaprComponent,
                "upstream-stack-and-limits.md §4.3 (component name cron-{app}-{n})",
            ),
            retries: src(
                0,
                "upstream-cloud-semantics.md §6 (handler result ignored by Dapr cron)",
            ),
            per_replica: src(
                true,
                "upstream-cloud-semantics.md §6 (fires per replica; nothing while scaled to 0)",
            ),
            catch_up_once: src(false, "upstream-cloud-semantics.md §6"),
            time_zone: src(
                "UTC",
                "upstream-cloud-semantics.md §6 (container local time, UTC)",
            ),
        },
        kv: kv(src("Azure Table Storage", "upstream-cloud-semantics.md §8")),
        daemon: DaemonProfile {
            supported: src(
                false,
                "seed 004 Platform Mapping (Azure: not supported; fails during preflight)",
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
                    max: 23,
                    cloud_resource: "Azure Container App name",
                    cloud_limit: 32,
                    pattern: "{prefix}-{id}",
                }),
                "upstream-stack-and-limits.md §3.3.4",
            ),
            storage_id_max: src(
                Some(IdLimit {
                    max: 54,
                    cloud_resource: "Azure Blob container name",
                    cloud_limit: 63,
                    pattern: "{prefix}-{id}",
                }),
                "upstream-stack-and-limits.md §3.3.4",
            ),
            vault_id_max: src(
                Some(IdLimit {
                    max: 15,
                    cloud_resource: "Azure Key Vault name",
                    cloud_limit: 24,
                    pattern: "{prefix}-{id}",
                }),
                "upstream-stack-and-limits.md §3.3.4",
            ),
            service_account_id_max: src(None, "upstream-stack-and-limits.md §3.3.4"),
        },
        commands: commands(src(
            "Service Bus message to the worker's commands queue",
            "upstream-runtime-and-bindings.md §5.3",
        )),
        external_binding_types: src(
            vec![],
            "upstream-stack-and-limits.md §2.2 (EXTERNAL_BINDING_REQUIRED: kubernetes and machines only)",
        ),
        iam: IamProfile {
            denial: src(
                Some(Denial {
                    code: "Unauthorized",
                    status: 401,
                }),
                "[platform knowledge] Service Bus refuses a missing data role with 401 Unauthorized",
            ),
            queue_send: src(
                Some(IamAction {
                    action: "Microsoft.ServiceBus/namespaces/messages/send/action",
                    granted_by: &["queue/data-write", "queue/publish"],
                }),
                "upstream permission-sets queue/data-write.jsonc, queue/publish.jsonc (Azure Service Bus Data Sender)",
            ),
            queue_receive: src(
                Some(IamAction {
                    action: "Microsoft.ServiceBus/namespaces/messages/receive/action",
                    granted_by: &["queue/data-read"],
                }),
                "upstream permission-sets queue/data-read.jsonc (Azure Service Bus Data Receiver; data-write grants only the Sender role)",
            ),
            queue_ack: src(
                Some(IamAction {
                    action: "Microsoft.ServiceBus/namespaces/messages/receive/action",
                    granted_by: &["queue/data-read"],
                }),
                "upstream permission-sets queue/data-read.jsonc (Azure Service Bus Data Receiver)",
            ),
            queue_lease: src(
                Some(IamAction {
                    action: "Microsoft.ServiceBus/namespaces/messages/receive/action",
                    granted_by: &["queue/data-read"],
                }),
                "upstream permission-sets queue/data-read.jsonc (Azure Service Bus Data Receiver)",
            ),
            worker_invoke: src(
                None,
                "upstream permission-sets worker/invoke.jsonc (Azure grants are control-plane actions only; calls reach the private app URL without a data-plane check)",
            ),
        },
    }
}

/// Container Apps: memory as set, CPU = memory GiB / 2, ephemeral storage by vCPU.
fn limits() -> InstanceLimitsProfile {
    InstanceLimitsProfile {
        memory_enforced: src(
            true,
            "upstream-cloud-semantics.md §3.1 (memory = memoryMb/1024 Gi)",
        ),
        cpu: src(
            CpuShare::ProportionalToMemory { mb_per_vcpu: 2048 },
            "upstream-cloud-semantics.md §3.1 (cpu = memory_gi / 2); upstream-stack-and-limits.md §3.3.2",
        ),
        scratch: src(
            ScratchDisk::DiskByCpu {
                tiers: vec![
                    CpuTier {
                        up_to_millicpus: 250,
                        mb: 1024,
                    },
                    CpuTier {
                        up_to_millicpus: 500,
                        mb: 2048,
                    },
                    CpuTier {
                        up_to_millicpus: 1000,
                        mb: 4096,
                    },
                ],
                mb_above: 8192,
            },
            "https://learn.microsoft.com/azure/container-apps/storage-mounts (ephemeral storage: 0.25 vCPU or lower 1 GiB, 0.5 2 GiB, 1 4 GiB, over 1 8 GiB)",
        ),
        out_of_memory: src(
            Some(OutOfMemoryReport {
                error_type: "OOMKilled",
                message: "Container was terminated with exit code 137 and reason OOMKilled (memory limit {limit_mb} MiB)",
            }),
            "[platform knowledge] Container Apps system logs report a replica killed past its memory as OOMKilled, exit code 137",
        ),
    }
}
