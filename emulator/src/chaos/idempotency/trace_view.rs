//! What the detector reads from a run's trace (`GET /trace`): the messages the app itself
//! sent, and how the inputs were delivered.
//!
//! A `sent` event that is not one of the detector's inputs is a message the app sent. It is
//! attributed to input `k` only when every worker attempt in flight at that point is an attempt
//! of `k` (an attempt opens with `delivered` to a worker and closes with that worker's
//! `succeeded`, `failed`, `timed_out` or `crashed` for the same message); otherwise it stays
//! unattributed rather than guessed.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::emulate::control::TraceLine;

/// Messages the app sent to one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SentMessages {
    pub total: usize,
    /// Input number (1-based, in sending order) → messages sent while only it was handled.
    pub after_input: BTreeMap<usize, usize>,
    /// Sent while no attempt, or attempts of several messages, were in flight.
    pub unattributed: usize,
}

/// Trace kinds that end a worker attempt.
const ATTEMPT_ENDS: [&str; 4] = ["succeeded", "failed", "timed_out", "crashed"];

fn detail<'a>(event: &'a TraceLine, key: &str) -> Option<&'a str> {
    event
        .detail
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A worker attempt's message: `delivered` to a worker (not pulled through a binding).
fn attempt_start(event: &TraceLine) -> Option<&str> {
    let to = detail(event, "to")?;
    (event.kind == "delivered" && to != "binding")
        .then_some(event.subject.as_deref())
        .flatten()
}

/// Per queue, the messages sent that are not among `inputs` (the input messages' ids, in
/// sending order).
pub fn sent_by_app(trace: &[TraceLine], inputs: &[String]) -> BTreeMap<String, SentMessages> {
    let number = |id: &str| inputs.iter().position(|i| i == id).map(|p| p + 1);
    let mut open: BTreeMap<&str, usize> = BTreeMap::new();
    let mut sent: BTreeMap<String, SentMessages> = BTreeMap::new();
    for event in trace {
        let subject = event.subject.as_deref();
        if let Some(message) = attempt_start(event) {
            *open.entry(message).or_default() += 1;
        } else if ATTEMPT_ENDS.contains(&event.kind.as_str())
            && let Some(message) = subject
            && let Some(n) = open.get_mut(message)
        {
            *n -= 1;
            if *n == 0 {
                open.remove(message);
            }
        } else if event.kind == "sent" && subject.is_none_or(|id| number(id).is_none()) {
            let entry = sent.entry(event.resource.clone()).or_default();
            entry.total += 1;
            let only = match open.keys().collect::<Vec<_>>().as_slice() {
                [one] => number(one),
                _ => None,
            };
            match only {
                Some(k) => *entry.after_input.entry(k).or_default() += 1,
                None => entry.unattributed += 1,
            }
        }
    }
    sent
}

/// How often the input messages were delivered to a worker.
pub fn input_deliveries(trace: &[TraceLine], inputs: &[String]) -> usize {
    trace
        .iter()
        .filter_map(attempt_start)
        .filter(|id| inputs.iter().any(|i| i == id))
        .count()
}

/// How often fault `name` struck.
pub fn faults_struck(trace: &[TraceLine], name: &str) -> usize {
    trace
        .iter()
        .filter(|e| e.kind == "fault" && detail(e, "fault") == Some(name))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        seq: u64,
        kind: &str,
        resource: &str,
        subject: &str,
        detail: &[(&str, &str)],
    ) -> TraceLine {
        TraceLine {
            seq,
            at: "2026-01-05T00:00:00Z".parse().unwrap(),
            t_ms: 0,
            kind: kind.into(),
            resource: resource.into(),
            subject: (!subject.is_empty()).then(|| subject.to_string()),
            detail: detail
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Input m-1 is delivered twice (a duplicate) and sends once per attempt; input m-4 sends
    /// once; a send while attempts of two messages overlap is not attributed.
    #[test]
    fn sends_are_attributed_only_to_the_one_message_in_flight() {
        let to_app = [("to", "app"), ("attempt", "1")];
        let trace = [
            line(0, "sent", "jobs", "m-1", &[]),
            line(1, "delivered", "jobs", "m-1", &to_app),
            line(2, "fault", "app", "", &[("fault", "duplicate_delivery")]),
            line(
                3,
                "delivered",
                "jobs",
                "m-1",
                &[("to", "app"), ("attempt", "2")],
            ),
            line(4, "sent", "emails", "m-2", &[]),
            line(5, "succeeded", "app", "m-1", &[]),
            line(6, "sent", "emails", "m-3", &[]),
            line(7, "succeeded", "app", "m-1", &[]),
            line(8, "sent", "jobs", "m-4", &[]),
            line(9, "delivered", "jobs", "m-4", &to_app),
            line(10, "sent", "emails", "m-5", &[]),
            line(11, "sent", "jobs", "m-6", &[]),
            line(12, "delivered", "jobs", "m-6", &to_app),
            line(13, "sent", "emails", "m-7", &[]),
            line(14, "succeeded", "app", "m-4", &[]),
            line(15, "succeeded", "app", "m-6", &[]),
            line(16, "sent", "emails", "m-8", &[]),
        ];
        let inputs = ["m-1", "m-4", "m-6"].map(String::from);
        let sent = sent_by_app(&trace, &inputs);
        assert_eq!(
            sent,
            BTreeMap::from([(
                "emails".to_string(),
                SentMessages {
                    total: 5,
                    after_input: BTreeMap::from([(1, 2), (2, 1)]),
                    unattributed: 2,
                }
            )])
        );
        assert_eq!(input_deliveries(&trace, &inputs), 4);
        assert_eq!(faults_struck(&trace, "duplicate_delivery"), 1);
        assert_eq!(faults_struck(&trace, "lost_ack"), 0);
    }
}
