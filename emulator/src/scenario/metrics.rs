//! The portability summary of one run: a fixed list of metrics read off the trace and the
//! step results, compared side by side by `alien simulate --diff-platforms`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::run::StepRecord;
use crate::engine::duration_serde::format_duration;
use crate::engine::{Kind, Sim, TraceEvent};

/// Metric name → value, in [`METRICS`] order; `-` when it does not apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics(pub Vec<(String, String)>);

impl Metrics {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Trace kinds counted as metrics, with their row names.
const COUNTED: &[(&str, Kind)] = &[
    ("messages sent", Kind::Sent),
    ("messages rejected", Kind::Rejected),
    ("deliveries", Kind::Delivered),
    ("acked", Kind::Acked),
    ("stale acks", Kind::AckStale),
    ("handler failures", Kind::Failed),
    ("handler timeouts", Kind::TimedOut),
    ("handler crashes", Kind::Crashed),
    ("lease expiries", Kind::LeaseExpired),
    ("dead-lettered", Kind::DeadLettered),
    ("expired", Kind::Expired),
    ("storage events", Kind::StorageEvent),
    ("cron fires", Kind::CronFired),
    ("cron skipped", Kind::CronSkipped),
    ("cold starts", Kind::ColdStart),
    ("throttled", Kind::Throttled),
    ("scaled to zero", Kind::ScaledToZero),
    ("daemon starts", Kind::DaemonStarted),
    ("daemon exits", Kind::DaemonExited),
    ("daemon killed", Kind::DaemonKilled),
    ("daemon refused", Kind::DaemonRefused),
    ("daemon gave up", Kind::DaemonGaveUp),
    ("commands succeeded", Kind::CommandSucceeded),
    ("commands failed", Kind::CommandFailed),
    ("commands expired", Kind::CommandExpired),
    ("command lease expiries", Kind::CommandLeaseExpired),
    ("kv rejected", Kind::KvRejected),
    ("faults", Kind::Fault),
];

/// Reads the metrics of a finished run.
pub fn collect_metrics(sim: &Sim, steps: &[StepRecord]) -> Metrics {
    let events = sim.trace().events();
    let mut rows = Vec::new();
    for (name, kind) in COUNTED {
        rows.push((
            name.to_string(),
            events
                .iter()
                .filter(|e| e.kind == *kind)
                .count()
                .to_string(),
        ));
    }
    rows.push(("first redelivery after".into(), first_redelivery(events)));
    rows.push((
        "max attempt seen".into(),
        max_detail(events, Kind::Delivered, "attempt"),
    ));
    rows.push((
        "storage event type".into(),
        distinct_detail(events, Kind::StorageEvent, "event"),
    ));
    rows.push(("first cron fire".into(), first_at(events, Kind::CronFired)));
    for step in steps {
        let Some(label) = &step.label else { continue };
        let value = match step.action {
            "http" => step
                .ids
                .first()
                .and_then(|id| sim.http_result(id))
                .map_or("-".into(), |r| r.status.to_string()),
            "command" => step
                .ids
                .first()
                .and_then(|id| sim.command_status(id))
                .map_or("-".into(), |s| {
                    serde_json::to_value(s.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                }),
            _ => step.outcome.clone(),
        };
        rows.push((format!("{} {label}", step.action), value));
    }
    Metrics(rows)
}

/// Time between the first two deliveries of the first message delivered twice.
fn first_redelivery(events: &[TraceEvent]) -> String {
    let mut first: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for e in events.iter().filter(|e| e.kind == Kind::Delivered) {
        let key = (e.resource.as_str(), e.subject.as_deref().unwrap_or(""));
        match first.get(&key) {
            Some(t) => return ms(e.t_ms - t),
            None => {
                first.insert(key, e.t_ms);
            }
        }
    }
    "-".into()
}

fn max_detail(events: &[TraceEvent], kind: Kind, key: &str) -> String {
    events
        .iter()
        .filter(|e| e.kind == kind)
        .filter_map(|e| e.get(key)?.parse::<u64>().ok())
        .max()
        .map_or("-".into(), |n| n.to_string())
}

fn distinct_detail(events: &[TraceEvent], kind: Kind, key: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for value in events
        .iter()
        .filter(|e| e.kind == kind)
        .filter_map(|e| e.get(key))
    {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    if seen.is_empty() {
        "-".into()
    } else {
        seen.join(",")
    }
}

fn first_at(events: &[TraceEvent], kind: Kind) -> String {
    events
        .iter()
        .find(|e| e.kind == kind)
        .map_or("-".into(), |e| ms(e.t_ms))
}

fn ms(t_ms: i64) -> String {
    format_duration(Duration::from_millis(t_ms.max(0) as u64))
}
