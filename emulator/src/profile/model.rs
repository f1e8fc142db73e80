//! The shape of a platform profile. Engine and preflight code read these fields; they never
//! branch on the platform's name.

use serde::Serialize;

use super::limits::InstanceLimitsProfile;
use super::value::Sourced;
use crate::cron::CronDialect;
use crate::platform::Platform;

/// Everything the emulator knows about one platform on one day.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub platform: Platform,
    /// The day whose limits are in force (`aws@2025-06` pins the first of that month).
    pub as_of: chrono::NaiveDate,
    pub worker: WorkerProfile,
    pub queue: QueueProfile,
    pub storage: StorageProfile,
    pub cron: CronProfile,
    pub kv: KvProfile,
    pub daemon: DaemonProfile,
    pub names: NamingProfile,
    pub commands: CommandsProfile,
    /// Resource types the platform cannot provision: the deployment must bind existing ones.
    pub external_binding_types: Sourced<Vec<&'static str>>,
    pub iam: IamProfile,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerProfile {
    pub backing_service: Sourced<&'static str>,
    pub memory: Sourced<MemoryRule>,
    /// The platform's own execution cap, beyond Alien's 1..=3600 (`None` = no lower cap).
    pub execution_cap_seconds: Sourced<Option<u32>>,
    /// Whether the platform itself stops an invocation at `timeoutSeconds`.
    pub timeout_enforced: Sourced<bool>,
    /// Maximum synchronous request body (HTTP and worker-to-worker), in bytes.
    pub sync_request_max_bytes: Sourced<Option<u64>>,
    /// Maximum synchronous response body, in bytes.
    pub sync_response_max_bytes: Sourced<Option<u64>>,
    /// Maximum asynchronous invocation payload (events the platform pushes), in bytes.
    pub async_request_max_bytes: Sourced<Option<u64>>,
    /// How long the public endpoint waits for a response.
    pub http_timeout: Sourced<HttpTimeout>,
    /// The runtime's fixed cap on one queue, storage or cron task (`EVENT_TASK_TIMEOUT`).
    pub event_task_timeout: EventTaskTimeouts,
    /// Timeout of a pushed command task.
    pub command_timeout: Sourced<CommandTimeout>,
    pub concurrency: Sourced<ConcurrencyModel>,
    /// Typical cold start when a new instance starts, in milliseconds (`None` = always warm).
    pub cold_start_ms: Sourced<Option<(u32, u32)>>,
    pub scale_to_zero: Sourced<ScaleToZero>,
    pub invoke_transport: Sourced<InvokeTransport>,
    /// `ALIEN_TRANSPORT` injected into the worker.
    pub transport_env: Sourced<&'static str>,
    pub triggers: TriggerSupport,
    /// Most queue triggers one worker may have.
    pub max_queue_triggers: Sourced<u32>,
    /// Whether the readiness probe runs for public workers after deploy.
    pub readiness_probe_runs: Sourced<bool>,
    pub restart_on_crash: Sourced<bool>,
    /// Memory, CPU and scratch disk of one instance.
    pub limits: InstanceLimitsProfile,
}

/// Worker memory rule of a platform (`WorkerMemoryCheck`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum MemoryRule {
    /// Inclusive range in MB; `floor` is a stricter minimum with its own message (Cloud Run gen2).
    Range {
        service: &'static str,
        min: u32,
        max: u32,
        floor: Option<u32>,
    },
    /// Only these values; others below the maximum are rounded up with a warning.
    Steps {
        service: &'static str,
        values: Vec<u32>,
    },
    Unconstrained,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "seconds", rename_all = "camelCase")]
pub enum HttpTimeout {
    Fixed(u32),
    WorkerTimeout,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventTaskTimeouts {
    pub queue_seconds: Sourced<u32>,
    pub storage_seconds: Sourced<u32>,
    pub cron_seconds: Sourced<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "seconds", rename_all = "camelCase")]
pub enum CommandTimeout {
    Fixed(u32),
    WorkerTimeout,
}

/// What `concurrencyLimit` maps to and what happens past it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ConcurrencyModel {
    /// Lambda reserved concurrency: requests past the limit are throttled (429).
    ReservedConcurrency { default_limit: u32 },
    /// Cloud Run max instances (`default_max` when unset), each serving up to `per_instance`
    /// requests at once.
    MaxInstances { per_instance: u32, default_max: u32 },
    /// Container Apps max replicas (`default_max` when unset).
    MaxReplicas { default_max: u32 },
    /// A fixed number of replicas; `concurrencyLimit` is ignored.
    FixedReplicas { replicas: u32 },
    /// One local process; `concurrencyLimit` is not enforced.
    SingleProcess,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ScaleToZero {
    Always,
    /// Only workers without public endpoints scale to zero (Container Apps `min_replicas`).
    PrivateOnly,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum InvokeTransport {
    /// Lambda `Invoke` RequestResponse: payload limits apply, handler errors are function errors.
    LambdaInvoke,
    /// HTTP to the target's private URL.
    Http,
}

#[derive(Debug, Clone, Serialize)]
pub struct TriggerSupport {
    pub queue: Sourced<TriggerWiring>,
    pub storage: Sourced<TriggerWiring>,
    pub schedule: Sourced<TriggerWiring>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TriggerWiring {
    Wired,
    /// Accepted by preflight upstream but never delivered.
    NotWired,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueProfile {
    pub backing_service: Sourced<&'static str>,
    pub delivery: Sourced<DeliveryModel>,
    pub consumers: Sourced<ConsumerModel>,
    /// When a failed (not timed-out) delivery comes back.
    pub failure_redelivery: Sourced<Redelivery>,
    pub retention_seconds: Sourced<Option<u64>>,
    /// Deliveries before the message is dead-lettered (`None` = retried until retention).
    pub max_deliveries: Sourced<Option<u32>>,
    /// Messages handed to one invocation.
    pub trigger_batch_size: Sourced<u32>,
    /// Messages the trigger claims per poll (Local claims 10 and runs them one by one).
    pub trigger_claim_size: Sourced<u32>,
    /// The portable binding cap on a serialized message.
    pub binding_message_max_bytes: Sourced<u64>,
    /// The service's own message size limit.
    pub service_message_max_bytes: Sourced<u64>,
    pub receive_max_batch: Sourced<u32>,
    /// Whether the trigger keeps renewing the lease while the handler runs (Dapr renews
    /// Service Bus locks), so only a dead consumer lets it expire.
    pub lease_renewed_while_running: Sourced<bool>,
    /// Lease a binding `receive()` takes (`None` = the queue's visibility timeout).
    pub binding_lease_seconds: Sourced<Option<u32>>,
    pub attempt_count: Sourced<AttemptCount>,
    /// `QueueMessage.source` the handler sees.
    pub source_name: Sourced<SourceName>,
    /// Whether `QueueMessage.id` stays the same across redeliveries.
    pub stable_message_id: Sourced<bool>,
    /// How a push subscription slows down after failed pushes (`None`: no push backoff).
    pub push_backoff: Sourced<Option<PushBackoff>>,
    /// What the queue trigger does when every instance the platform allows is busy.
    pub trigger_at_limit: Sourced<TriggerAtLimit>,
}

/// A queue trigger facing a worker at its concurrency limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TriggerAtLimit {
    /// It takes only what the worker can run now; the rest waits in the queue.
    Waits,
    /// It keeps receiving (Lambda's event source mapping does not account for reserved
    /// concurrency): a message it cannot invoke is throttled and stays in flight until its
    /// visibility timeout, then comes back with one more receive. `pollers` messages are held
    /// that way at once.
    ThrottlesUntilVisible { pollers: u32 },
}

/// Push backoff: after a failed push the subscription pauses delivery, for `initial_ms` and
/// then twice as long after each further failure up to `max_ms`; a success ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushBackoff {
    pub initial_ms: u64,
    pub max_ms: u64,
}

/// How a delivered message is hidden from other consumers and when it comes back.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DeliveryModel {
    /// SQS: visibility = max(min, min(max, multiplier × longest timeout of triggered workers)),
    /// `untriggered` when no worker triggers on the queue.
    Visibility {
        multiplier: u32,
        min: u32,
        max: u32,
        untriggered: u32,
    },
    /// Pub/Sub push: one subscription per triggered worker, ack deadline = the worker's timeout.
    AckDeadlinePerSubscription,
    /// Service Bus peek-lock with a fixed lock.
    PeekLock { lock_seconds: u32 },
    /// Local store lease.
    Lease { lease_seconds: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ConsumerModel {
    /// Each message goes to one consumer.
    Competing,
    /// Each subscription (each triggered worker) gets its own copy.
    FanOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Redelivery {
    /// Visible again at once (Pub/Sub push with no retry policy, Service Bus abandon).
    Immediate,
    /// Visible again when the lease, lock or visibility timeout runs out.
    AfterLease,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttemptCount {
    /// The real delivery count (ApproximateReceiveCount, deliverycount, local attempt).
    Real,
    /// Always 1 (Pub/Sub push carries no count).
    AlwaysOne,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SourceName {
    /// The physical queue name `{prefix}-{id}`.
    PhysicalQueue,
    /// The full push subscription path.
    SubscriptionPath,
    /// The Dapr `topic` field, often `"unknown"` on the raw binding path.
    DaprTopic,
    /// The logical queue id.
    LogicalId,
}

#[derive(Debug, Clone, Serialize)]
pub struct StorageProfile {
    pub backing_service: Sourced<&'static str>,
    /// How `StorageEvent.event_type` is spelled on the wire.
    pub event_type_casing: Sourced<EventCasing>,
    /// Which trigger `events` strings are accepted and which fire.
    pub trigger_events: Sourced<TriggerEvents>,
    /// Whether keys like `photo.png#1` (object_store staging files) raise no event.
    pub ignores_staging_keys: Sourced<bool>,
    /// Extra deliveries after a failed storage event.
    pub failure_retries: Sourced<StorageRetry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EventCasing {
    /// serde camelCase: `created`, `metadataUpdated`.
    CamelCase,
    /// Rust Debug: `Created`, `TierChanged`.
    Capitalized,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum TriggerEvents {
    /// Any string is wired (unknown names pass through to the provider).
    Any,
    /// Only these are accepted; any other is a configuration error.
    Only { allowed: Vec<&'static str> },
    /// Any string is accepted, but only these ever fire.
    FiresOnly { firing: Vec<&'static str> },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum StorageRetry {
    /// Lambda asynchronous invocation retries.
    AsyncRetries {
        retries: u32,
    },
    /// Redelivered like a queue message (push subscription or Service Bus queue).
    AsQueue,
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct CronProfile {
    pub backing_service: Sourced<&'static str>,
    pub dialect: Sourced<CronDialect>,
    /// Error code upstream reports for an expression the platform rejects.
    pub invalid_code: Sourced<&'static str>,
    pub schedule_name: Sourced<ScheduleName>,
    /// Extra attempts after a failed fire.
    pub retries: Sourced<u32>,
    /// Fires once per running replica rather than once.
    pub per_replica: Sourced<bool>,
    /// After downtime, fire once for the missed slots.
    pub catch_up_once: Sourced<bool>,
    pub time_zone: Sourced<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ScheduleName {
    /// The EventBridge rule ARN, `resources[0]` of the event.
    RuleArn,
    /// The Cloud Scheduler job name from `X-CloudScheduler-JobName`.
    SchedulerJobName,
    /// The Dapr component name `cron-{app}-{n}`.
    DaprComponent,
    /// The cron expression itself.
    CronExpression,
}

#[derive(Debug, Clone, Serialize)]
pub struct KvProfile {
    pub backing_service: Sourced<&'static str>,
    pub max_key_bytes: Sourced<usize>,
    pub key_charset: Sourced<&'static str>,
    pub max_value_bytes: Sourced<usize>,
    pub ttl_expiry: Sourced<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DaemonProfile {
    pub supported: Sourced<bool>,
    pub backing_runtime: Sourced<&'static str>,
    pub restart: Sourced<RestartPolicy>,
    pub default_stop_grace_seconds: Sourced<u32>,
    /// Code types the controller runs (`image` only today).
    pub source_code_supported: Sourced<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RestartPolicy {
    /// Local: a daemon that exits after starting is relaunched at the controller's next
    /// `ready_check_seconds` tick; one that dies within `startup_check_ms` of its launch is a
    /// failed start, retried after base^attempt seconds, giving up after `max_attempts`.
    ExponentialSeconds {
        base: u32,
        max_attempts: u32,
        ready_check_seconds: u32,
        startup_check_ms: u32,
    },
    /// Back-off doubling from `initial` to `max` seconds, never giving up; reset after the
    /// container ran `reset_after` seconds.
    CrashLoopBackOff {
        initial: u32,
        max: u32,
        reset_after: u32,
    },
    None,
}

/// Resource id limits (`ResourceNameLengthCheck`, §3.3.4); `None` = no limit.
#[derive(Debug, Clone, Serialize)]
pub struct NamingProfile {
    pub worker_id_max: Sourced<Option<IdLimit>>,
    pub storage_id_max: Sourced<Option<IdLimit>>,
    pub vault_id_max: Sourced<Option<IdLimit>>,
    pub service_account_id_max: Sourced<Option<IdLimit>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdLimit {
    pub max: usize,
    pub cloud_resource: &'static str,
    pub cloud_limit: usize,
    pub pattern: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommandsProfile {
    pub push_transport: Sourced<&'static str>,
    pub inline_max_bytes: Sourced<u64>,
    pub default_lease_seconds: Sourced<u32>,
}

/// What the platform's identity system checks on the data-plane calls the emulator sees
/// (queue operations and worker-to-worker calls), from upstream's permission sets
/// (`crates/alien-permissions/permission-sets/{queue,worker}/*.jsonc`).
#[derive(Debug, Clone, Serialize)]
pub struct IamProfile {
    /// How a denied call fails; `None` = calls are not checked against the workload's
    /// permission profile at all.
    pub denial: Sourced<Option<Denial>>,
    pub queue_send: Sourced<Option<IamAction>>,
    pub queue_receive: Sourced<Option<IamAction>>,
    /// Deleting / completing a received message.
    pub queue_ack: Sourced<Option<IamAction>>,
    /// Changing a lease (renew, nack).
    pub queue_lease: Sourced<Option<IamAction>>,
    pub worker_invoke: Sourced<Option<IamAction>>,
}

/// One checked action: the platform's name for it and the permission sets that grant it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IamAction {
    pub action: &'static str,
    pub granted_by: &'static [&'static str],
}

/// The platform's refusal: its error code and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Denial {
    pub code: &'static str,
    pub status: u16,
}
