//! Engine events → worker-protocol `Task`s, and task results → [`TaskOutcome`].
//!
//! Field mapping follows the 3.3.49 protos (published-3.3.49.md §6.1) and what the Local
//! trigger service fills in (upstream-runtime-and-bindings.md §4.4): queue payloads are the
//! JSON text or the raw text of the message, timestamps become `google.protobuf.Timestamp`,
//! command params are JSON bytes. HTTP requests are never tasks: the runtime proxies them to
//! the app's registered port (upstream-runtime-and-bindings.md §1.4).

use std::sync::atomic::{AtomicU64, Ordering};

use alien_worker_protocol::{
    ControlGrpcServer,
    control::{self, task::Payload},
};
use chrono::{DateTime, Utc};

use crate::engine::Event;

/// `COMMANDS_INLINE_MAX_BYTES` (published-3.3.49.md §10, §11): what a runtime advertises in
/// `ArcCommand.max_inline_bytes`.
pub const COMMANDS_INLINE_MAX_BYTES: u64 = 150_000;

/// How one delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// The app answered `TaskSuccess`; `response_data` is the command's JSON result, empty
    /// for events (published-3.3.49.md §7).
    Success { response_data: Vec<u8> },
    /// The app answered `TaskError` (`HANDLER_ERROR`, `COMMAND_ERROR`, …), the host could
    /// not deliver (codes [`TaskOutcome::HOST_UNAVAILABLE`], [`TaskOutcome::NOT_A_TASK`]), or
    /// the platform's limits killed the app past its memory (the platform's error type, e.g.
    /// `Runtime.ExitError`; the process is restarted as after a crash).
    Error { code: String, message: String },
    /// No answer within the delivery timeout. In 3.3.49 this cancels the application
    /// (published-3.3.49.md §6.2), so the host has stopped the process and restarts it.
    Timeout,
    /// The process ended before answering; the supervisor restarts it.
    Crashed,
}

impl TaskOutcome {
    /// The host had no live application to deliver to (stopped, restarting, no task
    /// subscriber, or the server refused the task).
    pub const HOST_UNAVAILABLE: &'static str = "HOST_UNAVAILABLE";
    /// The event is not something the worker protocol delivers as a task (HTTP).
    pub const NOT_A_TASK: &'static str = "NOT_A_TASK";

    pub fn is_success(&self) -> bool {
        matches!(self, TaskOutcome::Success { .. })
    }

    /// The outcome of a process that ended before answering: killed past its memory, the
    /// platform's error (Lambda: `Runtime.ExitError`, "Runtime exited with error: signal:
    /// killed"), else [`TaskOutcome::Crashed`].
    pub(crate) fn died(process: &super::process::AppProcess) -> Self {
        match process.out_of_memory() {
            Some(death) => TaskOutcome::Error {
                code: death.error_type.clone(),
                message: death.message.clone(),
            },
            None => TaskOutcome::Crashed,
        }
    }

    pub(crate) fn host_unavailable(message: impl Into<String>) -> Self {
        TaskOutcome::Error {
            code: Self::HOST_UNAVAILABLE.to_string(),
            message: message.into(),
        }
    }
}

/// The event kind has no task representation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} events are not delivered as worker tasks; the gateway proxies HTTP to the app's registered port"
)]
pub struct NotATask {
    pub kind: &'static str,
}

impl From<NotATask> for TaskOutcome {
    fn from(error: NotATask) -> Self {
        TaskOutcome::Error {
            code: TaskOutcome::NOT_A_TASK.to_string(),
            message: error.to_string(),
        }
    }
}

/// A task id unique within this emulator process: `send_task` rejects an id that is still
/// pending ("Duplicate task delivery identity", published-3.3.49.md §6.2), and upstream's
/// Local trigger service uses a fresh id per delivery (upstream-runtime-and-bindings.md §4.4).
pub fn next_task_id(kind: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("emu-{kind}-{}-{n}", std::process::id())
}

/// Builds the protocol `Task` for `event` with the given `task_id`.
pub fn task_for_event(event: &Event, task_id: String) -> Result<control::Task, NotATask> {
    let payload = match event {
        Event::Queue(message) => Payload::QueueMessage(control::QueueMessage {
            id: message.id.clone(),
            payload: message.payload.to_body().into_bytes(),
            receipt_handle: message.receipt_handle.clone(),
            source: message.source.clone(),
            attempt_count: message.attempt_count,
            timestamp: Some(timestamp(message.timestamp)),
            attributes: message
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }),
        Event::Storage(storage) => Payload::StorageEvent(control::StorageEvent {
            key: storage.key.clone(),
            event_type: storage.event_type.clone(),
            bucket: storage.bucket.clone(),
            size: storage.size,
            content_type: storage.content_type.clone(),
            timestamp: Some(timestamp(storage.timestamp)),
            ..Default::default()
        }),
        Event::Cron(cron) => Payload::CronEvent(control::CronEvent {
            schedule_name: cron.schedule_name.clone(),
            scheduled_time: Some(timestamp(cron.scheduled_time)),
        }),
        Event::Command(command) => Payload::ArcCommand(control::ArcCommand {
            command_id: command.command_id.clone(),
            command_name: command.name.clone(),
            // Serializing a `serde_json::Value` cannot fail.
            params: serde_json::to_vec(&command.params).unwrap_or_default(),
            attempt: command.attempt,
            deadline: command.deadline.map(timestamp),
            // The runtime, not the app, submits responses; SDKs ignore these
            // (upstream-runtime-and-bindings.md §1.4).
            response_url: String::new(),
            storage_upload_url: String::new(),
            max_inline_bytes: COMMANDS_INLINE_MAX_BYTES,
        }),
        Event::Http(_) => return Err(NotATask { kind: "http" }),
    };
    Ok(control::Task {
        task_id,
        payload: Some(payload),
    })
}

/// Maps the app's answer (the fields of the published server's `TaskResult`, a type the crate
/// does not export by name) to an outcome.
fn outcome_from_parts(
    success: bool,
    response_data: Vec<u8>,
    error_code: Option<String>,
    error_message: Option<String>,
) -> TaskOutcome {
    if success {
        TaskOutcome::Success { response_data }
    } else {
        TaskOutcome::Error {
            code: error_code.unwrap_or_default(),
            message: error_message.unwrap_or_default(),
        }
    }
}

/// Sends `task` and waits up to `timeout` for the app's `SendTaskResult`. `Err` carries the
/// published server's refusal or cancellation message (published-3.3.49.md §6.2); the caller
/// tells timeouts and crashes apart from process state.
pub(crate) async fn send(
    control: &ControlGrpcServer,
    task: control::Task,
    timeout: std::time::Duration,
) -> Result<TaskOutcome, String> {
    control.send_task(task, timeout).await.map(|result| {
        outcome_from_parts(
            result.success,
            result.response_data,
            result.error_code,
            result.error_message,
        )
    })
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use alien_providers::Payload as MessagePayload;
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::engine::{CommandEvent, CronEvent, HttpRequest, QueueMessage, StorageEvent};

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap() + chrono::Duration::nanoseconds(5)
    }

    fn queue(payload: MessagePayload) -> Event {
        Event::Queue(QueueMessage {
            id: "m-1".into(),
            payload,
            receipt_handle: "7:abc".into(),
            source: "jobs".into(),
            attempt_count: 2,
            timestamp: at(),
            attributes: BTreeMap::from([("k".to_string(), "v".to_string())]),
        })
    }

    #[test]
    fn queue_json_payload_is_compact_json_text() {
        let task = task_for_event(&queue(MessagePayload::Json(json!({"a": 1}))), "t".into())
            .expect("queue is a task");
        let Some(Payload::QueueMessage(m)) = task.payload else {
            panic!("expected a queue message, got {task:?}");
        };
        assert_eq!(m.payload, br#"{"a":1}"#);
        assert_eq!(
            (m.id.as_str(), m.source.as_str(), m.attempt_count),
            ("m-1", "jobs", 2)
        );
        assert_eq!(m.receipt_handle, "7:abc");
        assert_eq!(m.attributes.get("k").map(String::as_str), Some("v"));
        let ts = m.timestamp.expect("timestamp");
        assert_eq!((ts.seconds, ts.nanos), (at().timestamp(), 5));
        assert_eq!(task.task_id, "t");
    }

    #[test]
    fn queue_text_payload_is_raw_text() {
        let task = task_for_event(&queue(MessagePayload::Text("hi \"x\"".into())), "t".into())
            .expect("queue is a task");
        let Some(Payload::QueueMessage(m)) = task.payload else {
            panic!("expected a queue message");
        };
        assert_eq!(m.payload, b"hi \"x\"");
    }

    #[test]
    fn storage_cron_and_command_map_field_by_field() {
        let storage = Event::Storage(StorageEvent {
            key: "a/b.txt".into(),
            event_type: "created".into(),
            bucket: "uploads".into(),
            size: 12,
            content_type: "text/plain".into(),
            timestamp: at(),
            sequence: 3,
        });
        let Some(Payload::StorageEvent(s)) = task_for_event(&storage, "t".into()).unwrap().payload
        else {
            panic!("expected a storage event");
        };
        assert_eq!(
            (s.key.as_str(), s.event_type.as_str(), s.bucket.as_str()),
            ("a/b.txt", "created", "uploads")
        );
        assert_eq!((s.size, s.content_type.as_str()), (12, "text/plain"));
        assert!(s.timestamp.is_some());

        let cron = Event::Cron(CronEvent {
            schedule_name: "*/5 * * * *".into(),
            scheduled_time: at(),
        });
        let Some(Payload::CronEvent(c)) = task_for_event(&cron, "t".into()).unwrap().payload else {
            panic!("expected a cron event");
        };
        assert_eq!(c.schedule_name, "*/5 * * * *");
        assert_eq!(c.scheduled_time.map(|t| t.seconds), Some(at().timestamp()));

        let command = Event::Command(CommandEvent {
            command_id: "cmd-1".into(),
            name: "add".into(),
            params: json!({"a": 40, "b": 2}),
            attempt: 1,
            deadline: Some(at()),
        });
        let Some(Payload::ArcCommand(a)) = task_for_event(&command, "t".into()).unwrap().payload
        else {
            panic!("expected a command");
        };
        assert_eq!(
            (a.command_id.as_str(), a.command_name.as_str()),
            ("cmd-1", "add")
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&a.params).unwrap(),
            json!({"a": 40, "b": 2})
        );
        assert_eq!((a.attempt, a.max_inline_bytes), (1, 150_000));
        assert!(a.deadline.is_some());
    }

    #[test]
    fn http_is_not_a_task() {
        let http = Event::Http(HttpRequest {
            request_id: "r".into(),
            method: "GET".into(),
            path: "/".into(),
            headers: BTreeMap::new(),
            body_bytes: 0,
        });
        let error = task_for_event(&http, "t".into()).expect_err("http is proxied");
        let TaskOutcome::Error { code, .. } = TaskOutcome::from(error) else {
            panic!("expected an error outcome");
        };
        assert_eq!(code, TaskOutcome::NOT_A_TASK);
    }

    #[test]
    fn results_map_to_success_or_error() {
        assert_eq!(
            outcome_from_parts(true, b"{}".to_vec(), None, None),
            TaskOutcome::Success {
                response_data: b"{}".to_vec()
            }
        );
        assert_eq!(
            outcome_from_parts(
                false,
                Vec::new(),
                Some("HANDLER_ERROR".into()),
                Some("boom".into())
            ),
            TaskOutcome::Error {
                code: "HANDLER_ERROR".into(),
                message: "boom".into()
            }
        );
    }

    #[test]
    fn task_ids_are_unique() {
        let a = next_task_id("queue");
        let b = next_task_id("queue");
        assert_ne!(a, b);
        assert!(a.starts_with("emu-queue-"));
    }
}
