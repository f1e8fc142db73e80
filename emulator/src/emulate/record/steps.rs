//! From recorded inputs to scenario steps (`crate::scenario::Step`): each input becomes the
//! step that replays it at its offset, the `faults` table, or a [`Gap`] — something the
//! format cannot say, listed in the file's header rather than approximated silently.

use std::collections::BTreeMap;
use std::time::Duration;

use alien_providers::Payload;
use toml::Value;

use super::{Recorded, Session};
use crate::engine::duration_serde::format_duration;
use crate::engine::{FaultKind, SendVia};

/// An external input, as a route hands it to the recorder once the engine accepted it.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A message sent through the control API or the SQS endpoint.
    Send {
        queue: String,
        payload: Payload,
        via: SendVia,
    },
    /// An object put through the control API (its size and content type; not its bytes).
    Put {
        bucket: String,
        key: String,
        size: u64,
        content_type: String,
    },
    Delete {
        bucket: String,
        key: String,
    },
    /// `POST /clock/advance`, noted at the instant the advance began.
    Advance(Duration),
    FireCron {
        worker: String,
        index: usize,
    },
    /// `POST /faults`: what it replaced.
    Faults {
        rates: Option<Vec<(FaultKind, f64)>>,
        seed: Option<u64>,
        recycle: Option<bool>,
    },
    /// `POST /faults/inject`; a daemon fault names its daemon.
    Inject {
        fault: FaultKind,
        daemon: Option<String>,
    },
    StartDaemon(String),
    StopDaemon(String),
    /// A request at a worker's public endpoint; `bytes`: its body length, when its head
    /// announced one.
    Http {
        worker: String,
        method: String,
        path: String,
        bytes: Option<u64>,
    },
}

/// What the format cannot say, in the order the header lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Gap {
    ResumedState,
    ObjectContents,
    CronFires,
    DaemonStarts,
    Reseeds,
    Recycling,
    ColdStartLatency,
    UnknownQueues,
    HttpDetails,
    HttpSizes,
    JsonAsText,
    DuringAdvance,
}

impl Gap {
    pub(super) fn explain(self) -> &'static str {
        match self {
            Gap::ResumedState => {
                "what the session resumed from its state directory: those messages, objects \
                 and KV entries are not replayed"
            }
            Gap::ObjectContents => {
                "object contents: a `put` step holds the size and content type, so a replay \
                 writes that many filler bytes"
            }
            Gap::CronFires => {
                "cron fires by hand (`POST /crons/…/fire`): no step fires a cron; the \
                 schedule's own slots still fire in a replay"
            }
            Gap::DaemonStarts => {
                "daemon starts by hand (`POST /daemons/…/start`): no step starts a daemon"
            }
            Gap::Reseeds => {
                "fault stream reseeds (`POST /faults` with `seed`): `seed` below is the \
                 session's `--seed`"
            }
            Gap::Recycling => {
                "process recycling (`--recycle`, `POST /faults` with `recycle`): scripted \
                 handlers have no process to recycle"
            }
            Gap::ColdStartLatency => {
                "a fixed `--cold-start` latency: `cold_starts` is on or off, so a replay draws \
                 the profile's latencies"
            }
            Gap::UnknownQueues => {
                "sends to queues made at run time (SQS `CreateQueue`): the stack has no such \
                 queue"
            }
            Gap::HttpDetails => {
                "headers, query strings and bodies of gateway requests: an `http` step holds \
                 the method, path and body size"
            }
            Gap::HttpSizes => {
                "body sizes of chunked gateway requests (no `Content-Length`): recorded as \
                 `bytes = 0`"
            }
            Gap::JsonAsText => {
                "JSON message bodies TOML cannot hold (null, integers past 64 bits): sent as \
                 their JSON text"
            }
            Gap::DuringAdvance => {
                "inputs that arrived while the clock was advancing: each runs at the end of \
                 that advance"
            }
        }
    }
}

/// One `[[steps]]` entry: an optional label, its offset and its one action.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Step {
    pub label: Option<String>,
    pub at: Duration,
    pub action: &'static str,
    pub value: Action,
}

/// An action's value: plain (`advance = "1h"`) or an inline table whose fields keep the
/// order given (`send = { queue = "jobs", json = … }`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    Plain(Value),
    Fields(Vec<(&'static str, Value)>),
}

/// The scenario's timeline and what goes around it.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub steps: Vec<Step>,
    /// The `faults` table: the rates set last.
    pub faults: Vec<(FaultKind, f64)>,
    /// Every change of the rates, with its offset, for the comment above the table.
    pub fault_changes: Vec<String>,
    /// Instances per gap (an empty list: the gap concerns the whole session).
    pub gaps: BTreeMap<Gap, Vec<String>>,
    /// Virtual time the session went on after the last step.
    pub tail: Duration,
}

/// The plan of `inputs` for `session`, which ended `end` after its start. Inputs run in the
/// order of their offsets; one that arrived during an advance runs at its end (a replay
/// cannot go back in time).
pub(super) fn plan(session: &Session, mut inputs: Vec<Recorded>, end: Duration) -> Plan {
    inputs.sort_by_key(|r| r.at);
    let mut plan = Plan {
        faults: session.fault_rates.clone(),
        ..Plan::default()
    };
    if !session.fault_rates.is_empty() {
        plan.fault_changes
            .push(format!("at start: {}", rates_text(&session.fault_rates)));
    }
    session_gaps(session, &mut plan);
    let mut counts = Counts::default();
    let mut cursor = Duration::ZERO;
    for Recorded { at, input } in inputs {
        let at = if at < cursor {
            plan.gap(
                Gap::DuringAdvance,
                format!("{}: {}", when(at), input.summary()),
            );
            cursor
        } else {
            at
        };
        let moves = match &input {
            Input::Advance(by) => *by,
            _ => Duration::ZERO,
        };
        if let Some(step) = step_of(session, at, input, &mut counts, &mut plan) {
            cursor = at + moves;
            plan.steps.push(step);
        }
    }
    plan.tail = end.saturating_sub(cursor);
    plan
}

/// The step of one input, or None when it became the faults table or a gap.
fn step_of(
    session: &Session,
    at: Duration,
    input: Input,
    counts: &mut Counts,
    plan: &mut Plan,
) -> Option<Step> {
    let step = |action, value| Step {
        label: None,
        at,
        action,
        value,
    };
    match input {
        Input::Send {
            queue,
            payload,
            via,
        } => {
            if !session.queues.contains(&queue) {
                plan.gap(Gap::UnknownQueues, format!("{}: {queue}", when(at)));
                return None;
            }
            let (key, body) = payload_value(&payload);
            if key == "text" && matches!(payload, Payload::Json(_)) {
                plan.gap(Gap::JsonAsText, format!("{}: {queue}", when(at)));
            }
            let mut send = vec![("queue", Value::String(queue)), (key, body)];
            if via == SendVia::Service {
                send.push(("via", Value::String("service".into())));
            }
            Some(Step {
                label: Some(counts.next("send")),
                ..step("send", Action::Fields(send))
            })
        }
        Input::Put {
            bucket,
            key,
            size,
            content_type,
        } => {
            if size > 0 {
                plan.gap(
                    Gap::ObjectContents,
                    format!("{}: {bucket}/{key} ({size} bytes)", when(at)),
                );
            }
            let mut put = object(bucket, key);
            put.push(("size", integer(size)));
            put.push(("content_type", Value::String(content_type)));
            Some(step("put", Action::Fields(put)))
        }
        Input::Delete { bucket, key } => Some(step("delete", Action::Fields(object(bucket, key)))),
        Input::Advance(by) => Some(step("advance", plain(format_duration(by)))),
        Input::FireCron { worker, index } => {
            plan.gap(Gap::CronFires, format!("{}: {worker} #{index}", when(at)));
            None
        }
        Input::Faults {
            rates,
            seed,
            recycle,
        } => {
            if let Some(rates) = rates {
                plan.fault_changes
                    .push(format!("{}: {}", when(at), rates_text(&rates)));
                plan.faults = rates;
            }
            if let Some(seed) = seed {
                plan.gap(Gap::Reseeds, format!("{}: seed {seed}", when(at)));
            }
            if let Some(on) = recycle {
                plan.gap(Gap::Recycling, format!("{}: recycle {on}", when(at)));
            }
            None
        }
        Input::Inject {
            fault,
            daemon: Some(daemon),
        } => {
            let preempt = vec![
                ("daemon", Value::String(daemon)),
                ("fault", Value::String(fault.as_str().into())),
            ];
            Some(step("preempt", Action::Fields(preempt)))
        }
        Input::Inject {
            fault,
            daemon: None,
        } => Some(step("inject", plain(fault.as_str().into()))),
        Input::StartDaemon(daemon) => {
            plan.gap(Gap::DaemonStarts, format!("{}: {daemon}", when(at)));
            None
        }
        Input::StopDaemon(daemon) => Some(step("stop_daemon", plain(daemon))),
        Input::Http {
            worker,
            method,
            path,
            bytes,
        } => {
            plan.gap(Gap::HttpDetails, format!("{}: {method} {path}", when(at)));
            if bytes.is_none() {
                plan.gap(Gap::HttpSizes, format!("{}: {method} {path}", when(at)));
            }
            let http = vec![
                ("worker", Value::String(worker)),
                ("method", Value::String(method)),
                ("path", Value::String(path)),
                ("bytes", integer(bytes.unwrap_or(0))),
            ];
            Some(Step {
                label: Some(counts.next("http")),
                ..step("http", Action::Fields(http))
            })
        }
    }
}

/// Gaps that concern the whole session rather than one input.
fn session_gaps(session: &Session, plan: &mut Plan) {
    if let Some(dir) = &session.resumed_from {
        plan.gap(Gap::ResumedState, dir.display().to_string());
    }
    if session.recycle {
        plan.gap(Gap::Recycling, "--recycle".into());
    }
    if session.cold_start.is_some_and(|d| !d.is_zero()) {
        plan.gaps.entry(Gap::ColdStartLatency).or_default();
    }
}

impl Plan {
    fn gap(&mut self, gap: Gap, instance: String) {
        self.gaps.entry(gap).or_default().push(instance);
    }
}

impl Input {
    /// A few words naming the input, for the header.
    fn summary(&self) -> String {
        match self {
            Input::Send { queue, .. } => format!("send to {queue}"),
            Input::Put { bucket, key, .. } => format!("put {bucket}/{key}"),
            Input::Delete { bucket, key } => format!("delete {bucket}/{key}"),
            Input::Advance(by) => format!("advance {}", format_duration(*by)),
            Input::FireCron { worker, index } => format!("cron fire {worker} #{index}"),
            Input::Faults { .. } => "fault settings".into(),
            Input::Inject { fault, .. } => format!("inject {}", fault.as_str()),
            Input::StartDaemon(d) => format!("start {d}"),
            Input::StopDaemon(d) => format!("stop {d}"),
            Input::Http { method, path, .. } => format!("{method} {path}"),
        }
    }
}

/// Labels `send-1`, `send-2`, `http-1`, … so expectations can name the steps.
#[derive(Default)]
struct Counts(BTreeMap<&'static str, usize>);

impl Counts {
    fn next(&mut self, action: &'static str) -> String {
        let n = self.0.entry(action).or_default();
        *n += 1;
        format!("{action}-{n}")
    }
}

/// `("json", value)` when TOML can hold the JSON body, else `("text", its JSON text)`.
fn payload_value(payload: &Payload) -> (&'static str, Value) {
    match payload {
        Payload::Json(json) => match Value::try_from(json) {
            Ok(value) => ("json", value),
            Err(_) => ("text", Value::String(json.to_string())),
        },
        Payload::Text(text) => ("text", Value::String(text.clone())),
    }
}

fn object(bucket: String, key: String) -> Vec<(&'static str, Value)> {
    vec![
        ("bucket", Value::String(bucket)),
        ("key", Value::String(key)),
    ]
}

fn plain(text: String) -> Action {
    Action::Plain(Value::String(text))
}

fn integer(n: u64) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn when(at: Duration) -> String {
    format!("at {}", format_duration(at))
}

fn rates_text(rates: &[(FaultKind, f64)]) -> String {
    if rates.is_empty() {
        return "none".into();
    }
    rates
        .iter()
        .map(|(kind, p)| format!("{} = {p}", kind.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
