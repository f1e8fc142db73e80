//! The trace: every send, delivery, attempt, ack, failure, timeout, redelivery, dead letter,
//! expiry, storage event and notification, cron fire, daemon start/exit/restart and fault,
//! with virtual timestamps. Stable text for people and snapshots; JSON for tools.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;

macro_rules! kinds {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// What happened.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($variant),*
        }

        impl Kind {
            /// The stable name used in text and JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name),*
                }
            }

            /// Every kind, for parsing names back.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];
        }
    };
}

kinds! {
    Sent => "sent",
    Rejected => "rejected",
    Delivered => "delivered",
    Acked => "acked",
    AckStale => "ack_stale",
    LeaseExpired => "lease_expired",
    PushBackoff => "push_backoff",
    DeadLettered => "dead_lettered",
    Expired => "expired",
    ColdStart => "cold_start",
    Succeeded => "succeeded",
    Failed => "failed",
    TimedOut => "timed_out",
    Crashed => "crashed",
    Throttled => "throttled",
    ScaledIn => "scaled_in",
    ScaledToZero => "scaled_to_zero",
    Recycled => "recycled",
    ProcessStarted => "process_started",
    ProcessExited => "process_exited",
    OutOfMemory => "out_of_memory",
    ObjectPut => "object_put",
    ObjectDeleted => "object_deleted",
    StorageEvent => "storage_event",
    StorageNotification => "storage_notification",
    KvPut => "kv_put",
    KvDeleted => "kv_deleted",
    KvRejected => "kv_rejected",
    CronFired => "cron_fired",
    CronSkipped => "cron_skipped",
    HttpRequest => "http_request",
    HttpResponse => "http_response",
    DaemonStarted => "daemon_started",
    DaemonExited => "daemon_exited",
    DaemonRestartScheduled => "daemon_restart_scheduled",
    DaemonGaveUp => "daemon_gave_up",
    DaemonSigterm => "daemon_sigterm",
    DaemonKilled => "daemon_killed",
    DaemonRefused => "daemon_refused",
    CommandCreated => "command_created",
    CommandDispatched => "command_dispatched",
    CommandSucceeded => "command_succeeded",
    CommandFailed => "command_failed",
    CommandExpired => "command_expired",
    CommandLeaseExpired => "command_lease_expired",
    CommandLeaseReleased => "command_lease_released",
    Fault => "fault",
}

impl Kind {
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Kind::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown trace kind '{name}'")))
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One line of the trace.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct TraceEvent {
    /// Position in the trace.
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// Milliseconds since the simulation started.
    pub t_ms: i64,
    pub kind: Kind,
    /// The resource it concerns (queue, worker, bucket, daemon…).
    pub resource: String,
    /// The message, object, command or invocation it concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `key=value` details in a fixed order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<(String, String)>,
}

impl TraceEvent {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.detail
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The trace of a simulation. `alien simulate` keeps every event; `alien emulate` keeps a
/// bounded window of recent events in memory ([`Trace::bound`]) while its store appends each
/// event to disk ([`Trace::take_new`]), and readers page older ones from there.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Trace {
    #[serde(skip)]
    start: Option<DateTime<Utc>>,
    events: Vec<TraceEvent>,
    /// The sequence number of the next event.
    #[serde(skip)]
    next_seq: u64,
    /// The first event the store has not taken yet: events before it may leave memory.
    #[serde(skip)]
    taken: u64,
    /// Most events kept in memory once taken (`None`: all of them).
    #[serde(skip)]
    window: Option<usize>,
}

impl Trace {
    pub fn new(start: DateTime<Utc>) -> Trace {
        Trace {
            start: Some(start),
            ..Trace::default()
        }
    }

    pub fn push(
        &mut self,
        at: DateTime<Utc>,
        kind: Kind,
        resource: &str,
        subject: Option<&str>,
        detail: Vec<(&str, String)>,
    ) {
        let start = self.start.unwrap_or(at);
        self.events.push(TraceEvent {
            seq: self.next_seq,
            at,
            t_ms: (at - start).num_milliseconds(),
            kind,
            resource: resource.to_string(),
            subject: subject.map(str::to_string),
            detail: detail
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        });
        self.next_seq += 1;
        self.evict();
    }

    /// A trace that goes on from `recent` (the newest events recorded earlier, in order)
    /// after a restart; the next event gets `next_seq`. Everything before is on disk.
    pub fn resume(start: DateTime<Utc>, recent: Vec<TraceEvent>, next_seq: u64) -> Trace {
        Trace {
            start: Some(start),
            events: recent,
            next_seq,
            taken: next_seq,
            window: None,
        }
    }

    /// Keeps at most about `window` events in memory once the store has taken them (at most
    /// twice that between evictions, so an eviction costs O(1) per event).
    pub fn bound(&mut self, window: usize) {
        self.window = Some(window.max(1));
        self.evict();
    }

    /// Events the store has not taken yet, oldest first; they count as taken afterwards.
    pub fn take_new(&mut self) -> Vec<TraceEvent> {
        let from = self.events.partition_point(|e| e.seq < self.taken);
        self.taken = self.next_seq;
        let new = self.events[from..].to_vec();
        self.evict();
        new
    }

    /// Drops the oldest taken events once the window is twice full.
    fn evict(&mut self) {
        let Some(window) = self.window else {
            return;
        };
        if self.events.len() <= window.saturating_mul(2) {
            return;
        }
        let taken = self.events.partition_point(|e| e.seq < self.taken);
        let excess = self.events.len() - window;
        self.events.drain(..excess.min(taken));
    }

    /// The sequence number the next event will get (the number of events ever recorded).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The oldest event still in memory (older ones are only on disk).
    pub fn first_seq(&self) -> u64 {
        self.events.first().map_or(self.next_seq, |e| e.seq)
    }

    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.start
    }

    /// The events in memory: all of them unless the trace is [bounded](Trace::bound).
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    pub fn count(&self, kind: Kind, resource: Option<&str>) -> usize {
        self.events
            .iter()
            .filter(|e| e.kind == kind && resource.is_none_or(|r| e.resource == r))
            .count()
    }

    /// The stable text form: one event per line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            out.push_str(&render_line(e));
            out.push('\n');
        }
        out
    }

    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(&self.events).expect("trace events serialize")
    }
}

/// `+00:00:30.000 delivered      jobs         m-1 attempt=2 to=processor`.
pub fn render_line(e: &TraceEvent) -> String {
    let mut line = format!(
        "{} {:<24} {:<14}",
        offset(e.t_ms),
        e.kind.as_str(),
        e.resource
    );
    if let Some(subject) = &e.subject {
        let _ = write!(line, " {subject}");
    }
    for (k, v) in &e.detail {
        let _ = write!(line, " {k}={v}");
    }
    line.trim_end().to_string()
}

/// `+HH:MM:SS.mmm`, with a day count once past 24 hours (`+2d03:00:00.000`).
pub fn offset(t_ms: i64) -> String {
    let sign = if t_ms < 0 { "-" } else { "+" };
    let ms = t_ms.unsigned_abs();
    let days = ms / 86_400_000;
    let h = ms / 3_600_000 % 24;
    let m = ms / 60_000 % 60;
    let s = ms / 1000 % 60;
    let milli = ms % 1000;
    if days > 0 {
        format!("{sign}{days}d{h:02}:{m:02}:{s:02}.{milli:03}")
    } else {
        format!("{sign}{h:02}:{m:02}:{s:02}.{milli:03}")
    }
}
