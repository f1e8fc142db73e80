//! What a handler receives: the event shapes an Alien app gets from its host
//! (upstream-stack-and-limits.md §5; published-3.3.49.md §6.1, §8).

use std::collections::BTreeMap;

use alien_providers::Payload;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One delivery to a worker or daemon.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Event {
    Queue(QueueMessage),
    Storage(StorageEvent),
    Cron(CronEvent),
    Command(CommandEvent),
    Http(HttpRequest),
}

impl Event {
    /// A key that stays the same across redeliveries of the same event, used by scripted
    /// behaviours to count attempts.
    pub fn key(&self) -> String {
        match self {
            Event::Queue(m) => format!("queue:{}", m.id),
            Event::Storage(s) => format!(
                "storage:{}:{}:{}:{}",
                s.bucket, s.key, s.event_type, s.sequence
            ),
            Event::Cron(c) => format!("cron:{}:{}", c.schedule_name, c.scheduled_time.timestamp()),
            Event::Command(c) => format!("command:{}", c.command_id),
            Event::Http(h) => format!("http:{}", h.request_id),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Event::Queue(_) => "queue",
            Event::Storage(_) => "storage",
            Event::Cron(_) => "cron",
            Event::Command(_) => "command",
            Event::Http(_) => "http",
        }
    }
}

/// `QueueMessage {id, payload, receipt_handle, source, attempt_count, timestamp, attributes}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueMessage {
    pub id: String,
    pub payload: Payload,
    pub receipt_handle: String,
    /// What the platform puts in `source` (physical name, subscription path, topic or id).
    pub source: String,
    pub attempt_count: u32,
    pub timestamp: DateTime<Utc>,
    pub attributes: BTreeMap<String, String>,
}

/// `StorageEvent {key, event_type, bucket, size, content_type, timestamp, …}`; `event_type` is
/// spelled the way the platform's runtime writes it (`created` or `Created`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StorageEvent {
    pub key: String,
    pub event_type: String,
    pub bucket: String,
    pub size: u64,
    pub content_type: String,
    pub timestamp: DateTime<Utc>,
    /// Which change of the object this is (distinguishes two puts of one key).
    #[serde(skip, default)]
    pub sequence: u64,
}

/// `CronEvent {schedule_name, scheduled_time}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CronEvent {
    pub schedule_name: String,
    pub scheduled_time: DateTime<Utc>,
}

/// `ArcCommand {command_id, command_name, params, attempt, deadline}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandEvent {
    pub command_id: String,
    pub name: String,
    pub params: serde_json::Value,
    pub attempt: u32,
    pub deadline: Option<DateTime<Utc>>,
}

/// An HTTP request through a public endpoint or a worker-to-worker call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpRequest {
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    /// Body size in bytes (the simulator does not need the bytes themselves).
    pub body_bytes: u64,
}
