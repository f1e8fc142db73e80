//! The upstream Alien stack JSON model (reference upstream-stack-and-limits.md §1; alien-core
//! 3.3.x `Stack`, `ResourceEntry`, `Resource`). Field names are camelCase as upstream writes
//! them. Resource configs reject unknown fields (upstream uses `deny_unknown_fields`); unknown
//! top-level keys are kept in [`Stack::extra`] and written back unchanged.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::platform::Platform;

/// A whole stack. `resources` keeps the order of the document.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stack {
    pub id: String,
    pub resources: IndexMap<String, ResourceEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<PermissionsConfig>,
    /// `supportedPlatforms` (alien-core); `platforms` is accepted as an alias. None = every platform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_platforms: Option<Vec<Platform>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<Value>,
    /// Top-level keys this model does not know, preserved as written.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

impl Stack {
    /// `Stack::supports_platform`: None means all platforms.
    pub fn supports_platform(&self, platform: Platform) -> bool {
        self.supported_platforms
            .as_ref()
            .is_none_or(|platforms| platforms.contains(&platform))
    }

    pub fn resource(&self, id: &str) -> Option<&ResourceEntry> {
        self.resources.get(id)
    }

    pub fn workers(&self) -> impl Iterator<Item = (&str, &Worker)> {
        self.resources
            .iter()
            .filter_map(|(id, entry)| match &entry.config {
                Resource::Worker(w) => Some((id.as_str(), w)),
                _ => None,
            })
    }

    pub fn daemons(&self) -> impl Iterator<Item = (&str, &Daemon)> {
        self.resources
            .iter()
            .filter_map(|(id, entry)| match &entry.config {
                Resource::Daemon(d) => Some((id.as_str(), d)),
                _ => None,
            })
    }
}

/// One entry of `resources`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceEntry {
    pub config: Resource,
    pub lifecycle: Lifecycle,
    pub dependencies: Vec<ResourceRef>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub remote_access: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_when: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    Frozen,
    Live,
}

/// `{ "type": <resource type>, "id": <id> }`, used by links, triggers and dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    #[serde(rename = "type")]
    pub resource_type: String,
    pub id: String,
}

/// A resource config, dispatched on its `type` tag.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a stack holds a handful of resources; unboxed variants keep matching and construction plain"
)]
pub enum Resource {
    Worker(Worker),
    Daemon(Daemon),
    Queue(Queue),
    Storage(Storage),
    Kv(Kv),
    /// Any other type (`vault`, `container`, `postgres`, …): kept as written, reported as not emulated.
    Other(OtherResource),
}

impl Resource {
    pub fn type_name(&self) -> &str {
        match self {
            Resource::Worker(_) => "worker",
            Resource::Daemon(_) => "daemon",
            Resource::Queue(_) => "queue",
            Resource::Storage(_) => "storage",
            Resource::Kv(_) => "kv",
            Resource::Other(o) => &o.resource_type,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Resource::Worker(r) => &r.id,
            Resource::Daemon(r) => &r.id,
            Resource::Queue(r) => &r.id,
            Resource::Storage(r) => &r.id,
            Resource::Kv(r) => &r.id,
            Resource::Other(o) => &o.id,
        }
    }

    pub fn is_emulated(&self) -> bool {
        !matches!(self, Resource::Other(_))
    }

    /// The resource's own references (links, trigger targets, encryption key), as upstream's
    /// `get_dependencies()`; an entry's `dependencies` list comes on top.
    pub fn references(&self) -> Vec<&ResourceRef> {
        match self {
            Resource::Worker(w) => {
                let mut refs: Vec<&ResourceRef> = w.links.iter().collect();
                refs.extend(w.triggers.iter().filter_map(WorkerTrigger::target));
                refs
            }
            Resource::Daemon(d) => d.links.iter().collect(),
            Resource::Storage(s) => s.encryption_key.iter().collect(),
            Resource::Queue(_) | Resource::Kv(_) | Resource::Other(_) => Vec::new(),
        }
    }
}

impl Serialize for Resource {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut value = match self {
            Resource::Worker(r) => serde_json::to_value(r),
            Resource::Daemon(r) => serde_json::to_value(r),
            Resource::Queue(r) => serde_json::to_value(r),
            Resource::Storage(r) => serde_json::to_value(r),
            Resource::Kv(r) => serde_json::to_value(r),
            Resource::Other(o) => return o.raw.serialize(serializer),
        }
        .map_err(S::Error::custom)?;
        if let Value::Object(map) = &mut value {
            map.insert("type".into(), Value::String(self.type_name().to_string()));
        }
        value.serialize(serializer)
    }
}

/// A resource type the emulator does not model; `raw` is the whole config object.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherResource {
    pub resource_type: String,
    pub id: String,
    pub raw: Value,
}

/// Worker (`type: worker`, upstream-stack-and-limits.md §1.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Worker {
    pub id: String,
    pub links: Vec<ResourceRef>,
    pub triggers: Vec<WorkerTrigger>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_endpoints: Vec<WorkerPublicEndpoint>,
    /// `ingress: public|private`, written by npm `@alienplatform/core` 1.4.0 instead of
    /// `publicEndpoints` (reference real-clients.md §1). Kept so the stack round-trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Ingress>,
    pub permissions: String,
    pub code: Code,
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u32,
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u32,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub commands_enabled: bool,
    #[serde(default)]
    pub concurrency_limit: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sandbox_launcher: bool,
    #[serde(default)]
    pub readiness_probe: Option<ReadinessProbe>,
}

/// Worker memory default, 512 MB (`worker.rs` L260-262).
pub const DEFAULT_WORKER_MEMORY_MB: u32 = 512;
/// Worker timeout default, 180 s (`worker.rs` L264-266).
pub const DEFAULT_WORKER_TIMEOUT_SECONDS: u32 = 180;
/// `MAX_WORKER_TIMEOUT_SECONDS` (`worker.rs` L269); the minimum is 1.
pub const MAX_WORKER_TIMEOUT_SECONDS: u32 = 3600;

fn default_memory_mb() -> u32 {
    DEFAULT_WORKER_MEMORY_MB
}

fn default_timeout_seconds() -> u32 {
    DEFAULT_WORKER_TIMEOUT_SECONDS
}

impl Worker {
    /// Public when it has a public endpoint, or `ingress: public` (npm core 1.4.0).
    pub fn is_public(&self) -> bool {
        !self.public_endpoints.is_empty() || self.ingress == Some(Ingress::Public)
    }

    pub fn queue_triggers(&self) -> impl Iterator<Item = &ResourceRef> {
        self.triggers.iter().filter_map(|t| match t {
            WorkerTrigger::Queue { queue, .. } => Some(queue),
            _ => None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ingress {
    Public,
    Private,
}

/// `WorkerCode` / `DaemonCode`, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Code {
    Image { image: String },
    Source { src: String, toolchain: Toolchain },
}

/// `ToolchainConfig`, tagged by `type`, lowercase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Toolchain {
    #[serde(rename_all = "camelCase")]
    Rust { binary_name: String },
    #[serde(rename_all = "camelCase")]
    Typescript {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        binary_name: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Docker {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dockerfile: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        build_args: Option<BTreeMap<String, String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
    },
}

/// `WorkerTrigger`, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum WorkerTrigger {
    Queue {
        queue: ResourceRef,
        /// alien-core 3.3.49 queue batch options (published-3.3.49.md §8).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        batch: Option<QueueBatchConfig>,
    },
    Storage {
        storage: ResourceRef,
        events: Vec<String>,
    },
    Schedule {
        cron: String,
    },
}

impl WorkerTrigger {
    /// The resource a queue or storage trigger depends on; schedules have none.
    pub fn target(&self) -> Option<&ResourceRef> {
        match self {
            WorkerTrigger::Queue { queue, .. } => Some(queue),
            WorkerTrigger::Storage { storage, .. } => Some(storage),
            WorkerTrigger::Schedule { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueBatchConfig {
    pub max_messages: u32,
    #[serde(default)]
    pub max_window_seconds: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerPublicEndpoint {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_label: Option<String>,
    #[serde(default)]
    pub wildcard_subdomains: bool,
}

/// `ReadinessProbe` (not deny_unknown_fields upstream): method default GET, path default "/".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessProbe {
    #[serde(default = "default_probe_method")]
    pub method: String,
    #[serde(default = "default_probe_path")]
    pub path: String,
}

fn default_probe_method() -> String {
    "GET".into()
}

fn default_probe_path() -> String {
    "/".into()
}

/// Daemon (`type: daemon`, upstream-stack-and-limits.md §1.10).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Daemon {
    pub id: String,
    pub links: Vec<ResourceRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_endpoints: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    pub permissions: String,
    pub code: Code,
    #[serde(default = "default_daemon_cpu")]
    pub cpu: ResourceSize,
    #[serde(default = "default_daemon_memory")]
    pub memory: ResourceSize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Schema 1..=86400; the Local supervisor defaults it to 30 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<Value>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub commands_enabled: bool,
}

/// `{min, desired}` strings, as daemon `cpu` and `memory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSize {
    pub min: String,
    pub desired: String,
}

fn default_daemon_cpu() -> ResourceSize {
    ResourceSize {
        min: "0.1".into(),
        desired: "0.1".into(),
    }
}

fn default_daemon_memory() -> ResourceSize {
    ResourceSize {
        min: "128Mi".into(),
        desired: "128Mi".into(),
    }
}

/// Queue (`type: queue`): only `id`; no retention, visibility or DLQ knobs exist upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub id: String,
}

/// Storage (`type: storage`, §1.8; `notifications` from alien-core 3.3.49).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Storage {
    pub id: String,
    #[serde(default)]
    pub public_read: bool,
    #[serde(default)]
    pub versioning: bool,
    #[serde(default)]
    pub lifecycle_rules: Vec<LifecycleRule>,
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<ResourceRef>,
    /// Object events sent to queues (alien-core 3.3.49, published-3.3.49.md §8); checked by
    /// the parser (see `stack::notifications`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<StorageNotification>,
}

/// The only notification event v1 supports, and the default of
/// [`StorageNotification::events`] (published-3.3.49.md §8).
pub const NOTIFICATION_EVENT_CREATED: &str = "created";

/// `StorageNotification` (alien-core 3.3.49, published-3.3.49.md §8): objects created under
/// `prefix` and ending in `suffix` (both literal, both optional) are announced to `queue`, one
/// StorageEvent JSON message per object, at least once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageNotification {
    /// `{type: "queue", id}`.
    pub queue: ResourceRef,
    /// Defaults to `["created"]`, and is omitted when it is that default.
    #[serde(
        default = "default_notification_events",
        skip_serializing_if = "is_default_notification_events"
    )]
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

impl StorageNotification {
    /// Whether `event` on `key` is announced: the event is listed and the key starts with
    /// the prefix and ends with the suffix, compared literally (published-3.3.49.md §8).
    pub fn matches(&self, event: &str, key: &str) -> bool {
        self.events.iter().any(|e| e == event)
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

fn default_notification_events() -> Vec<String> {
    vec![NOTIFICATION_EVENT_CREATED.to_string()]
}

fn is_default_notification_events(events: &[String]) -> bool {
    events == [NOTIFICATION_EVENT_CREATED]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    pub days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Kv (`type: kv`): only `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kv {
    pub id: String,
}

/// `permissions` of the stack (`PermissionsConfig`, §1.5). Profiles map a scope (`*` or a
/// resource id) to permission-set references (a name such as `queue/data-read`, or an inline set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionsConfig {
    #[serde(default)]
    pub profiles: IndexMap<String, IndexMap<String, Vec<Value>>>,
    #[serde(default = "default_management")]
    pub management: Value,
}

fn default_management() -> Value {
    Value::String("auto".into())
}
