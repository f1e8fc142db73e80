//! The scenario file format (TOML), as serde types. Every table rejects unknown fields so a
//! typo is an error naming the field, not a silently ignored expectation.
//!
//! ```toml
//! name = "handler-fails-twice"
//! description = "A queue handler fails twice, then succeeds."
//! sources = ["upstream-cloud-semantics.md §0 item 2"]
//! stack = "stacks/queue-worker.json"    # or an inline [stack] table mirroring the JSON
//! platforms = ["aws", "gcp"]            # or "all"
//!
//! [handlers.processor]
//! mode = { kind = "fail_first", times = 2 }
//!
//! [[steps]]
//! label = "job"
//! send = { queue = "jobs", json = { n = 1 } }
//!
//! [[steps]]
//! advance = "1h"
//!
//! [expect.aws.deliveries]
//! job = ["0s", "1080s", "2160s"]
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::engine::duration_serde;
use crate::engine::{Behaviour, DaemonBehaviour, FaultKind, SendVia};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Where each expected outcome comes from (reference sections, seeds).
    #[serde(default)]
    pub sources: Vec<String>,
    pub stack: StackSpec,
    pub platforms: PlatformsSpec,
    /// Seed of the simulation's RNG (default 1; `alien simulate --seed` overrides).
    #[serde(default)]
    pub seed: Option<u64>,
    /// Virtual start instant, RFC 3339 (default [`super::DEFAULT_START`]).
    #[serde(default)]
    pub start: Option<String>,
    /// Day whose platform limits apply: `YYYY-MM` or `YYYY-MM-DD` (default: the start day).
    #[serde(default)]
    pub profile_date: Option<String>,
    /// Whether new instances pay their cold start (default true).
    #[serde(default)]
    pub cold_starts: Option<bool>,
    /// How long an idle instance stays warm (default the engine's).
    #[serde(default, with = "opt_duration")]
    pub idle_timeout: Option<Duration>,
    #[serde(default)]
    pub handlers: BTreeMap<String, Behaviour>,
    #[serde(default)]
    pub daemons: BTreeMap<String, DaemonBehaviour>,
    /// Probability of each fault at each opportunity.
    #[serde(default)]
    pub faults: BTreeMap<FaultKind, f64>,
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Expectations per platform name, and `all` for every platform.
    #[serde(default)]
    pub expect: BTreeMap<String, Expectations>,
    /// What must hold on every platform and under every fault plan (`alien chaos` checks it
    /// after each run, `alien simulate` too): end-state KV values, queue counts, trace counts.
    #[serde(default)]
    pub invariants: Option<Expectations>,
}

/// A path to a stack file (relative to the scenario file) or the stack inline.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StackSpec {
    Path(String),
    Inline(toml::Table),
}

/// `"all"` or a list of platform names.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PlatformsSpec {
    All(String),
    List(Vec<String>),
}

/// One timeline step: an optional label and `at`, and exactly one action.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Names the step for expectations (message ids, HTTP status, command state, outcome).
    #[serde(default)]
    pub label: Option<String>,
    /// Run the clock to this offset from the start before the action.
    #[serde(default, with = "opt_duration")]
    pub at: Option<Duration>,
    #[serde(default)]
    pub send: Option<SendStep>,
    #[serde(default)]
    pub put: Option<PutStep>,
    #[serde(default)]
    pub delete: Option<ObjectStep>,
    #[serde(default)]
    pub http: Option<HttpStep>,
    #[serde(default)]
    pub command: Option<CommandStep>,
    #[serde(default, with = "opt_duration")]
    pub advance: Option<Duration>,
    #[serde(default)]
    pub crash_daemon: Option<DaemonRef>,
    #[serde(default)]
    pub stop_daemon: Option<DaemonRef>,
    #[serde(default)]
    pub preempt: Option<PreemptStep>,
    #[serde(default, with = "opt_duration")]
    pub downtime: Option<Duration>,
    #[serde(default)]
    pub inject: Option<FaultKind>,
    #[serde(default)]
    pub kv_put: Option<KvPutStep>,
    #[serde(default)]
    pub kv_get: Option<KvKeyStep>,
    #[serde(default)]
    pub kv_delete: Option<KvKeyStep>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    pub queue: String,
    /// A JSON payload.
    #[serde(default)]
    pub json: Option<toml::Value>,
    /// A text payload.
    #[serde(default)]
    pub text: Option<String>,
    /// A text payload of this many bytes (for size limits).
    #[serde(default)]
    pub bytes: Option<u64>,
    /// `binding` (app code, 64 KiB cap; default) or `service` (the cloud API's own limit).
    #[serde(default)]
    pub via: SendVia,
    /// Send this many copies (default 1).
    #[serde(default)]
    pub repeat: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutStep {
    pub bucket: String,
    pub key: String,
    #[serde(default = "one_byte")]
    pub size: u64,
    #[serde(default = "octet_stream")]
    pub content_type: String,
}

fn one_byte() -> u64 {
    1
}

fn octet_stream() -> String {
    "application/octet-stream".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectStep {
    pub bucket: String,
    pub key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    pub worker: String,
    #[serde(default = "get")]
    pub method: String,
    #[serde(default = "root")]
    pub path: String,
    #[serde(default)]
    pub bytes: u64,
}

fn get() -> String {
    "GET".into()
}

fn root() -> String {
    "/".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandStep {
    pub target: String,
    pub name: String,
    #[serde(default)]
    pub params: Option<toml::Value>,
    #[serde(default, with = "opt_duration")]
    pub deadline: Option<Duration>,
}

/// `crash_daemon = "agent"` or `crash_daemon = { daemon = "agent", code = 1 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DaemonRef {
    Name(String),
    Detailed {
        daemon: String,
        #[serde(default)]
        code: Option<i32>,
    },
}

impl DaemonRef {
    pub fn daemon(&self) -> &str {
        match self {
            DaemonRef::Name(name) => name,
            DaemonRef::Detailed { daemon, .. } => daemon,
        }
    }

    pub fn code(&self) -> Option<i32> {
        match self {
            DaemonRef::Name(_) => None,
            DaemonRef::Detailed { code, .. } => *code,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreemptStep {
    pub daemon: String,
    /// `daemon_sigterm` (default) or `daemon_crash`.
    #[serde(default = "sigterm")]
    pub fault: FaultKind,
}

fn sigterm() -> FaultKind {
    FaultKind::DaemonSigterm
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvPutStep {
    pub store: String,
    pub key: String,
    /// The value as text.
    #[serde(default)]
    pub value: Option<String>,
    /// A value of this many bytes (for the value size limit).
    #[serde(default)]
    pub bytes: Option<usize>,
    #[serde(default, with = "opt_duration")]
    pub ttl: Option<Duration>,
    /// Write only if the key is absent.
    #[serde(default)]
    pub if_absent: bool,
    /// Write only if the current version is this token (`v1`, `v2`, …).
    #[serde(default)]
    pub if_version: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KvKeyStep {
    pub store: String,
    pub key: String,
}

/// What must hold on a platform after the timeline ran.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Exact counts of trace kinds: `count.<resource>.<kind> = n` (`*` = any resource).
    #[serde(default)]
    pub count: BTreeMap<String, BTreeMap<String, usize>>,
    /// Lower bounds of trace kind counts, same shape as `count`.
    #[serde(default)]
    pub at_least: BTreeMap<String, BTreeMap<String, usize>>,
    /// Delivery offsets from the start of the messages a labelled send step sent.
    #[serde(default)]
    pub deliveries: BTreeMap<String, Vec<String>>,
    /// Dead-letter queue contents per queue.
    #[serde(default)]
    pub dead_letters: BTreeMap<String, DeadLetterExpect>,
    /// HTTP status per labelled `http` step.
    #[serde(default)]
    pub http: BTreeMap<String, u16>,
    /// State per labelled `command` step.
    #[serde(default)]
    pub commands: BTreeMap<String, CommandExpect>,
    /// Status per daemon.
    #[serde(default)]
    pub daemons: BTreeMap<String, DaemonExpect>,
    /// Final KV values: `kv.<store>.<key> = "text"`.
    #[serde(default)]
    pub kv: BTreeMap<String, BTreeMap<String, String>>,
    /// KV keys that must read as absent at the end: `kv_absent.<store> = [keys]`.
    #[serde(default)]
    pub kv_absent: BTreeMap<String, Vec<String>>,
    /// Outcome of labelled steps (`sent`, `rejected`, `written`, `condition_failed`,
    /// `deleted`, `absent`, or the text a `kv_get` read).
    #[serde(default)]
    pub steps: BTreeMap<String, String>,
    /// Final counts of a queue's messages.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueExpect>,
    #[serde(default)]
    pub trace_contains: Vec<TraceMatcher>,
    #[serde(default)]
    pub trace_not_contains: Vec<TraceMatcher>,
    /// Invariants of `alien chaos`'s library that must hold over the run (checked as if the
    /// run was drained: a message still held at the end counts).
    #[serde(default)]
    pub holds: Vec<String>,
    /// Library invariants the run is known to break (a recorded regression): each must
    /// report at least one finding.
    #[serde(default)]
    pub violates: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterExpect {
    /// Labels of the send steps whose messages are on the DLQ, in order.
    pub messages: Vec<String>,
    /// Receive count every dead letter had.
    #[serde(default)]
    pub deliveries: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandExpect {
    /// `PENDING`, `DISPATCHED`, `SUCCEEDED`, `FAILED` or `EXPIRED`.
    pub state: String,
    #[serde(default)]
    pub attempt: Option<u32>,
    #[serde(default)]
    pub error_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonExpect {
    /// `running`, `stopping`, `backing_off`, `stopped`, `gave_up` or `refused`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub running: Option<bool>,
    #[serde(default)]
    pub restarts: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueExpect {
    #[serde(default)]
    pub visible: Option<usize>,
    #[serde(default)]
    pub in_flight: Option<usize>,
    #[serde(default)]
    pub dead_lettered: Option<usize>,
}

/// A substring of a rendered trace line, or a kind/resource/text matcher.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum TraceMatcher {
    Text(String),
    Event(EventMatcher),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMatcher {
    pub kind: String,
    #[serde(default)]
    pub resource: Option<String>,
    /// A substring of the rendered line.
    #[serde(default)]
    pub contains: Option<String>,
}

/// serde `with` module for optional durations.
mod opt_duration {
    use std::time::Duration;

    use serde::Deserializer;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        super::duration_serde::deserialize(d).map(Some)
    }
}
