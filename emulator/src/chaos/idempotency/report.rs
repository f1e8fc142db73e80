//! The detector's findings in the user's terms, grouped by the worker that must be at fault
//! (the workers handed the inputs that link the resource that differs), as text and JSON:
//!
//! ```text
//! idempotency of stack 'shop' on aws: the real app under alien emulate, 3 runs of the same inputs
//! inputs: 10 messages to 'jobs'
//!   clean               10 deliveries
//!   duplicate delivery  20 deliveries, 10 duplicated
//!   lost acks           20 deliveries, 10 acks lost
//!
//! worker 'app' is not idempotent:
//!   KV 'cache' key 'count' is "20" with duplicate delivery, "10" without
//!   messages sent to 'emails': 2 with duplicate delivery, 1 without (input 4, m-10 {"notify":"emails"}, sent 2 vs 1)
//! ```

use serde::Serialize;

use super::diff::{Difference, differences};
use super::end_state::ObjectDigest;
use super::runs::Run;
use super::workload::{Input, plural};
use super::{IdempotencyOptions, Mode};
use crate::profile::ConsumerModel;
use crate::stack::{Stack, Worker};

/// Text lines per worker and run before the rest is summed up (JSON has every one).
const MAX_LINES: usize = 10;
/// Inputs named per "messages sent" line.
const MAX_INPUTS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub stack: String,
    pub platform: String,
    /// The inputs in words (`10 messages to 'jobs'`).
    pub inputs: String,
    /// Every input message, numbered in sending order.
    pub messages: Vec<InputMessage>,
    pub runs: Vec<RunSummary>,
    pub idempotent: bool,
    pub findings: Vec<Finding>,
    pub notes: Vec<String>,
}

/// An input message: its number, queue, payload and id in the clean run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputMessage {
    pub number: usize,
    pub queue: String,
    pub payload: String,
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub mode: Mode,
    /// Deliveries of the input messages to workers.
    pub deliveries: usize,
    /// How often the run's fault struck.
    pub faults: usize,
}

/// One difference from the clean run, in one faulty run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub mode: Mode,
    /// The workers that got the inputs and link the resource that differs.
    pub workers: Vec<String>,
    #[serde(flatten)]
    pub difference: Difference,
}

/// The report of `runs` (the clean run first).
pub(super) fn build(options: &IdempotencyOptions, runs: &[Run]) -> Report {
    let stack = &options.stack.stack;
    let fed: Vec<&str> = options
        .workload
        .inputs
        .iter()
        .filter_map(|i| match i {
            Input::Send { queue, .. } => Some(queue.as_str()),
            _ => None,
        })
        .collect();
    let clean = &runs[0];
    let mut findings = Vec::new();
    for run in &runs[1..] {
        for difference in differences(&clean.end, &run.end) {
            findings.push(Finding {
                mode: run.mode,
                workers: suspects(stack, &fed, difference.resource()),
                difference,
            });
        }
    }
    let messages = options
        .workload
        .inputs
        .iter()
        .filter_map(|i| match i {
            Input::Send { queue, payload } => Some((queue, payload)),
            _ => None,
        })
        .enumerate()
        .map(|(i, (queue, payload))| InputMessage {
            number: i + 1,
            queue: queue.clone(),
            payload: payload.to_body(),
            id: clean.input_ids.get(i).cloned(),
        })
        .collect();
    let mut notes = options.workload.notes.clone();
    // A fan-out queue keeps a copy of every message on its own pull subscription, which no
    // worker consumes (upstream-cloud-semantics.md §13 item 1): `GET /status` counts it.
    let fan_out = options.profile.queue.consumers.value == ConsumerModel::FanOut;
    for run in runs {
        for q in &run.held {
            notes.push(format!(
                "{} run: after a day of draining, queue '{}' still held {} visible and {} in flight{}",
                run.mode,
                q.name,
                q.visible,
                q.in_flight,
                if fan_out {
                    " (on this platform the queue's own pull subscription keeps a copy of every message, and no worker consumes it)"
                } else {
                    ""
                }
            ));
        }
    }
    Report {
        stack: stack.id.clone(),
        platform: options.profile.platform.to_string(),
        inputs: options.workload.summary(),
        messages,
        runs: runs
            .iter()
            .map(|r| RunSummary {
                mode: r.mode,
                deliveries: r.deliveries,
                faults: r.faults,
            })
            .collect(),
        idempotent: findings.is_empty(),
        findings,
        notes,
    }
}

/// Workers handed inputs (consumers of `fed` queues) that link `resource`; else any worker
/// linking it; else the workers handed inputs.
fn suspects(stack: &Stack, fed: &[&str], resource: &str) -> Vec<String> {
    let consumers: Vec<(&str, &Worker)> = stack
        .workers()
        .filter(|(_, w)| w.queue_triggers().any(|q| fed.contains(&q.id.as_str())))
        .collect();
    let links = |w: &Worker| w.links.iter().any(|l| l.id == resource);
    let linking: Vec<_> = consumers
        .iter()
        .copied()
        .filter(|(_, w)| links(w))
        .collect();
    if !linking.is_empty() {
        return ids(linking);
    }
    let any: Vec<_> = stack.workers().filter(|(_, w)| links(w)).collect();
    if !any.is_empty() {
        return ids(any);
    }
    ids(consumers)
}

fn ids(workers: Vec<(&str, &Worker)>) -> Vec<String> {
    workers.into_iter().map(|(id, _)| id.to_string()).collect()
}

impl Report {
    /// The report as text.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "idempotency of stack '{}' on {}: the real app under alien emulate, {} runs of the same inputs\ninputs: {}\n",
            self.stack,
            self.platform,
            self.runs.len(),
            self.inputs
        );
        for run in &self.runs {
            let faults = match run.mode {
                Mode::Clean => String::new(),
                Mode::DuplicateDelivery => format!(", {} duplicated", run.faults),
                Mode::LostAck => format!(
                    ", {} {} lost",
                    run.faults,
                    plural(run.faults, "ack", "acks")
                ),
            };
            out.push_str(&format!(
                "  {:<20}{} {}{faults}\n",
                run.mode.label(),
                run.deliveries,
                plural(run.deliveries, "delivery", "deliveries")
            ));
        }
        out.push('\n');
        if self.findings.is_empty() {
            out.push_str("no difference: idempotent under duplicate delivery and lost acks\n");
        }
        let mut groups: Vec<(&[String], Vec<&Finding>)> = Vec::new();
        for finding in &self.findings {
            match groups
                .iter_mut()
                .find(|(w, _)| *w == finding.workers.as_slice())
            {
                Some((_, list)) => list.push(finding),
                None => groups.push((&finding.workers, vec![finding])),
            }
        }
        for (workers, findings) in groups {
            out.push_str(&format!("{}\n", who(workers)));
            for mode in Mode::ALL {
                let lines: Vec<String> = findings
                    .iter()
                    .filter(|f| f.mode == mode)
                    .map(|f| self.line(f))
                    .collect();
                for line in lines.iter().take(MAX_LINES) {
                    out.push_str(&format!("  {line}\n"));
                }
                if lines.len() > MAX_LINES {
                    out.push_str(&format!(
                        "  … and {} more with {mode} (see --json)\n",
                        lines.len() - MAX_LINES
                    ));
                }
            }
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }

    /// One finding in words.
    fn line(&self, finding: &Finding) -> String {
        let mode = finding.mode;
        match &finding.difference {
            Difference::Kv {
                store,
                key,
                clean,
                faulty,
            } => {
                let shown = |v: &Option<super::Shown>| {
                    v.as_ref().map_or("absent".to_string(), ToString::to_string)
                };
                format!(
                    "KV '{store}' key '{key}' is {} with {mode}, {} without",
                    shown(faulty),
                    shown(clean)
                )
            }
            Difference::Object {
                bucket,
                key,
                clean,
                faulty,
            } => match (clean, faulty) {
                (Some(a), Some(b)) => format!(
                    "object '{key}' in '{bucket}' differs with {mode} ({}) from the clean run ({})",
                    digest(b),
                    digest(a)
                ),
                (None, Some(b)) => {
                    format!(
                        "object '{key}' in '{bucket}' exists only with {mode} ({})",
                        digest(b)
                    )
                }
                (Some(_), None) => format!("object '{key}' in '{bucket}' is missing with {mode}"),
                (None, None) => format!("object '{key}' in '{bucket}'"),
            },
            Difference::Sent {
                queue,
                clean,
                faulty,
                inputs,
            } => {
                let mut line =
                    format!("messages sent to '{queue}': {faulty} with {mode}, {clean} without");
                let named: Vec<String> = inputs
                    .iter()
                    .take(MAX_INPUTS)
                    .map(|i| {
                        format!(
                            "{}, sent {} vs {}",
                            self.input_name(i.input),
                            i.faulty,
                            i.clean
                        )
                    })
                    .collect();
                if !named.is_empty() {
                    let more = if inputs.len() > MAX_INPUTS {
                        "; …"
                    } else {
                        ""
                    };
                    line.push_str(&format!(" ({}{more})", named.join("; ")));
                }
                line
            }
        }
    }

    /// `input 4, m-4 {"notify":"emails"}`.
    fn input_name(&self, number: usize) -> String {
        match self.messages.get(number.wrapping_sub(1)) {
            Some(m) => match &m.id {
                Some(id) => format!("input {number}, {id} {}", m.payload),
                None => format!("input {number} {}", m.payload),
            },
            None => format!("input {number}"),
        }
    }
}

fn who(workers: &[String]) -> String {
    let quoted: Vec<String> = workers.iter().map(|w| format!("'{w}'")).collect();
    match quoted.as_slice() {
        [] => "the app is not idempotent:".to_string(),
        [one] => format!("worker {one} is not idempotent:"),
        many => format!("one of workers {} is not idempotent:", many.join(", ")),
    }
}

fn digest(d: &ObjectDigest) -> String {
    format!(
        "{} {}, md5 {}",
        d.size,
        plural(d.size as usize, "byte", "bytes"),
        d.md5
    )
}
