//! The inputs every run gets: the `send`, `put` and `advance` steps of a scenario file (its
//! handlers are ignored: the real app handles), or a default workload of ten messages to
//! each queue a worker consumes.

use std::time::Duration;

use alien_providers::Payload;
use serde_json::json;

use crate::scenario::Scenario;
use crate::stack::{Resource, Stack};

/// One input, played through the control API.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// `POST /queues/{queue}/messages`.
    Send { queue: String, payload: Payload },
    /// `PUT /storage/{bucket}/objects/{key}`.
    Put {
        bucket: String,
        key: String,
        body: Vec<u8>,
        content_type: String,
    },
    /// `POST /clock/advance`.
    Advance(Duration),
    /// Advance to this offset from the run's start (a step's `at`), when still ahead.
    AdvanceTo(Duration),
}

/// The inputs, in order, and what was left out of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub inputs: Vec<Input>,
    /// Steps or tables of the scenario that are not played, in words.
    pub notes: Vec<String>,
}

/// Why a workload cannot be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WorkloadError {
    #[error(
        "stack '{0}' has no queue a worker consumes, so there is no default workload: give --inputs SCENARIO.toml"
    )]
    NothingConsumed(String),
    #[error("--inputs {file}: steps[{step}]: {message}")]
    Step {
        file: String,
        step: usize,
        message: String,
    },
    #[error(
        "--inputs {file}: no send step targets a queue a worker consumes, so no delivery could be duplicated"
    )]
    NoMessages { file: String },
}

/// Default messages per consumed queue.
pub const DEFAULT_MESSAGES: u32 = 10;
/// How far the default workload advances after sending.
pub const DEFAULT_ADVANCE: Duration = Duration::from_secs(3600);

/// The queues some worker of `stack` has a queue trigger on, in stack order.
pub fn consumed_queues(stack: &Stack) -> Vec<String> {
    let mut queues: Vec<String> = Vec::new();
    for (_, worker) in stack.workers() {
        for queue in worker.queue_triggers() {
            if !queues.contains(&queue.id) {
                queues.push(queue.id.clone());
            }
        }
    }
    queues
}

impl Workload {
    /// For each consumed queue, messages `{"n": 1}` … `{"n": 10}`, then one hour.
    pub fn default_for(stack: &Stack) -> Result<Workload, WorkloadError> {
        let queues = consumed_queues(stack);
        if queues.is_empty() {
            return Err(WorkloadError::NothingConsumed(stack.id.clone()));
        }
        let mut inputs: Vec<Input> = queues
            .iter()
            .flat_map(|queue| {
                (1..=DEFAULT_MESSAGES).map(move |n| Input::Send {
                    queue: queue.clone(),
                    payload: Payload::Json(json!({ "n": n })),
                })
            })
            .collect();
        inputs.push(Input::Advance(DEFAULT_ADVANCE));
        Ok(Workload {
            inputs,
            notes: Vec::new(),
        })
    }

    /// The `send`, `put` and `advance` steps of `scenario`, checked against `stack` (the one
    /// the runs use, which may differ from the scenario's own). A `put` body is `size` bytes
    /// of `x`, as `bytes` payloads are in scenarios.
    pub fn from_scenario(scenario: &Scenario, stack: &Stack) -> Result<Workload, WorkloadError> {
        let file = scenario.file.display().to_string();
        let step_error = |step: usize, message: String| WorkloadError::Step {
            file: file.clone(),
            step,
            message,
        };
        let has = |id: &str, want: fn(&Resource) -> bool| {
            stack.resource(id).is_some_and(|e| want(&e.config))
        };
        let mut inputs = Vec::new();
        let mut notes = Vec::new();
        for (i, step) in scenario.spec.steps.iter().enumerate() {
            let played = step.send.is_some() || step.put.is_some() || step.advance.is_some();
            if !played {
                notes.push(format!(
                    "steps[{i}] of the inputs is not a send, put or advance: not played"
                ));
                continue;
            }
            if let Some(at) = step.at {
                inputs.push(Input::AdvanceTo(at));
            }
            if let Some(send) = &step.send {
                if !has(&send.queue, |r| matches!(r, Resource::Queue(_))) {
                    return Err(step_error(
                        i,
                        format!("stack '{}' has no queue '{}'", stack.id, send.queue),
                    ));
                }
                let payload = match (&send.json, &send.text) {
                    (Some(value), _) => Payload::Json(
                        serde_json::to_value(value).map_err(|e| step_error(i, e.to_string()))?,
                    ),
                    (None, Some(text)) => Payload::Text(text.clone()),
                    (None, None) => Payload::Text("x".repeat(send.bytes.unwrap_or(0) as usize)),
                };
                for _ in 0..send.repeat.unwrap_or(1) {
                    inputs.push(Input::Send {
                        queue: send.queue.clone(),
                        payload: payload.clone(),
                    });
                }
            } else if let Some(put) = &step.put {
                if !has(&put.bucket, |r| matches!(r, Resource::Storage(_))) {
                    return Err(step_error(
                        i,
                        format!("stack '{}' has no storage '{}'", stack.id, put.bucket),
                    ));
                }
                inputs.push(Input::Put {
                    bucket: put.bucket.clone(),
                    key: put.key.clone(),
                    body: vec![b'x'; put.size as usize],
                    content_type: put.content_type.clone(),
                });
            } else if let Some(by) = step.advance {
                inputs.push(Input::Advance(by));
            }
        }
        if !scenario.spec.faults.is_empty() {
            notes.push(
                "the inputs' [faults] are not used: each run sets its own (none, duplicate delivery, lost acks)"
                    .into(),
            );
        }
        let consumed = consumed_queues(stack);
        // The faults strike queue deliveries, so some input must be one.
        let delivered = inputs
            .iter()
            .any(|input| matches!(input, Input::Send { queue, .. } if consumed.contains(queue)));
        if !delivered {
            return Err(WorkloadError::NoMessages { file });
        }
        Ok(Workload { inputs, notes })
    }

    /// The messages sent, as `N messages to 'q'` per queue, and the objects put.
    pub fn summary(&self) -> String {
        let mut per_queue: Vec<(&str, usize)> = Vec::new();
        let mut puts = 0;
        for input in &self.inputs {
            match input {
                Input::Send { queue, .. } => {
                    match per_queue.iter().position(|(q, _)| *q == queue.as_str()) {
                        Some(i) => per_queue[i].1 += 1,
                        None => per_queue.push((queue, 1)),
                    }
                }
                Input::Put { .. } => puts += 1,
                _ => {}
            }
        }
        let mut parts: Vec<String> = per_queue
            .iter()
            .map(|(q, n)| format!("{n} {} to '{q}'", plural(*n, "message", "messages")))
            .collect();
        if puts > 0 {
            parts.push(format!("{puts} {} put", plural(puts, "object", "objects")));
        }
        parts.join(", ")
    }
}

/// `one` for 1, else `many`.
pub fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::scenario::parse_scenario;

    /// The detector's fixture stack: queues `jobs` (consumed by `app`) and `emails`, storage
    /// `uploads`, KV `cache`.
    fn fixture_stack() -> Stack {
        crate::stack::load_stack(&repo().join("tests/fixtures/stacks/idempotency"))
            .unwrap()
            .stack
    }

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    fn scenario(steps: &str) -> Scenario {
        let text = format!(
            "name = \"inputs\"\nstack = \"../stacks/idempotency/alien.json\"\nplatforms = \"all\"\n{steps}"
        );
        parse_scenario(&text, &repo().join("tests/fixtures/scenarios/inputs.toml")).unwrap()
    }

    #[test]
    fn the_default_sends_ten_messages_to_each_consumed_queue_then_advances_an_hour() {
        let stack = fixture_stack();
        assert_eq!(consumed_queues(&stack), ["jobs"]);
        let workload = Workload::default_for(&stack).unwrap();
        assert_eq!(workload.inputs.len(), 11);
        assert_eq!(
            workload.inputs[0],
            Input::Send {
                queue: "jobs".into(),
                payload: Payload::Json(json!({"n": 1}))
            }
        );
        assert_eq!(
            workload.inputs[9],
            Input::Send {
                queue: "jobs".into(),
                payload: Payload::Json(json!({"n": 10}))
            }
        );
        assert_eq!(workload.inputs[10], Input::Advance(DEFAULT_ADVANCE));
        assert_eq!(workload.summary(), "10 messages to 'jobs'");
    }

    #[test]
    fn a_stack_nobody_consumes_has_no_default() {
        let mut stack = fixture_stack();
        stack.resources.shift_remove("app");
        assert_eq!(
            Workload::default_for(&stack).unwrap_err().to_string(),
            "stack 'idempotency' has no queue a worker consumes, so there is no default workload: give --inputs SCENARIO.toml"
        );
    }

    #[test]
    fn scenario_sends_puts_and_advances_are_played_and_other_steps_are_noted() {
        let s = scenario(
            r#"
[faults]
lost_ack = 0.5

[[steps]]
send = { queue = "jobs", json = { count_kv = "count" }, repeat = 2 }

[[steps]]
at = "10m"
put = { bucket = "uploads", key = "in/a.txt", size = 3 }

[[steps]]
inject = "handler_crash"

[[steps]]
advance = "1h"
"#,
        );
        let workload = Workload::from_scenario(&s, &fixture_stack()).unwrap();
        let count = Input::Send {
            queue: "jobs".into(),
            payload: Payload::Json(json!({"count_kv": "count"})),
        };
        assert_eq!(
            workload.inputs,
            [
                count.clone(),
                count,
                Input::AdvanceTo(Duration::from_secs(600)),
                Input::Put {
                    bucket: "uploads".into(),
                    key: "in/a.txt".into(),
                    body: b"xxx".to_vec(),
                    content_type: "application/octet-stream".into(),
                },
                Input::Advance(Duration::from_secs(3600)),
            ]
        );
        assert_eq!(
            workload.notes,
            [
                "steps[2] of the inputs is not a send, put or advance: not played",
                "the inputs' [faults] are not used: each run sets its own (none, duplicate delivery, lost acks)",
            ]
        );
        assert_eq!(workload.summary(), "2 messages to 'jobs', 1 object put");
    }

    #[test]
    fn scenario_steps_must_fit_the_stack_and_reach_a_consumer() {
        let s = scenario("[[steps]]\nsend = { queue = \"emails\", text = \"hi\" }\n");
        let mut stack = fixture_stack();
        assert_eq!(
            Workload::from_scenario(&s, &stack).unwrap_err(),
            WorkloadError::NoMessages {
                file: s.file.display().to_string()
            }
        );
        stack.resources.shift_remove("emails");
        assert_eq!(
            Workload::from_scenario(&s, &stack).unwrap_err().to_string(),
            format!(
                "--inputs {}: steps[0]: stack 'idempotency' has no queue 'emails'",
                s.file.display()
            )
        );
    }
}
