//! Assertion helpers over the trace: a message's attempts and the causes of its redeliveries.

use crate::emulate::control::TraceLine;

/// One delivery of a message and how the worker's attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first delivery (counted here; the platform's own count may differ).
    pub number: usize,
    /// The worker it went to (`binding` for an app's own receive).
    pub worker: String,
    /// `succeeded`, `failed`, `timed_out`, `crashed`, or `running` when nothing ended it yet.
    pub outcome: String,
    /// The handler's error, when it failed.
    pub error: Option<String>,
    /// Virtual milliseconds since the start when it was delivered.
    pub delivered_ms: i64,
}

const OUTCOMES: [&str; 4] = ["succeeded", "failed", "timed_out", "crashed"];

fn detail<'a>(e: &'a TraceLine, key: &str) -> Option<&'a str> {
    e.detail
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The attempts of message `id` of `queue`, in order.
pub(super) fn attempts(trace: &[TraceLine], queue: &str, id: &str) -> Vec<Attempt> {
    let mut out: Vec<Attempt> = Vec::new();
    for e in trace.iter().filter(|e| e.subject.as_deref() == Some(id)) {
        if e.kind == "delivered" && e.resource == queue {
            out.push(Attempt {
                number: out.len() + 1,
                worker: detail(e, "to").unwrap_or_default().to_string(),
                outcome: "running".into(),
                error: None,
                delivered_ms: e.t_ms,
            });
        } else if OUTCOMES.contains(&e.kind.as_str())
            && let Some(open) = out
                .iter_mut()
                .find(|a| a.outcome == "running" && a.worker == e.resource)
        {
            open.outcome = e.kind.clone();
            open.error = detail(e, "error").map(String::from);
        }
    }
    out
}

/// The `cause` of each `lease_expired` of message `id` of `queue`, in order.
pub(super) fn causes(trace: &[TraceLine], queue: &str, id: &str) -> Vec<String> {
    trace
        .iter()
        .filter(|e| e.kind == "lease_expired" && e.resource == queue)
        .filter(|e| e.subject.as_deref() == Some(id))
        .filter_map(|e| detail(e, "cause").map(String::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seq: u64, kind: &str, resource: &str, detail: &[(&str, &str)]) -> TraceLine {
        TraceLine {
            seq,
            at: chrono::DateTime::UNIX_EPOCH,
            t_ms: seq as i64 * 1000,
            kind: kind.into(),
            resource: resource.into(),
            subject: Some("m-1".into()),
            detail: detail
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn attempts_pair_deliveries_with_outcomes() {
        let trace = [
            line(0, "sent", "jobs", &[]),
            line(1, "delivered", "jobs", &[("to", "app")]),
            line(2, "failed", "app", &[("error", "boom")]),
            line(
                3,
                "lease_expired",
                "jobs",
                &[("cause", "visibility timeout: 180 s")],
            ),
            line(4, "delivered", "jobs", &[("to", "app")]),
            line(5, "succeeded", "app", &[]),
        ];
        let got = attempts(&trace, "jobs", "m-1");
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].outcome.as_str(), got[0].error.as_deref()),
            ("failed", Some("boom"))
        );
        assert_eq!((got[1].number, got[1].outcome.as_str()), (2, "succeeded"));
        assert_eq!(causes(&trace, "jobs", "m-1"), ["visibility timeout: 180 s"]);
    }
}
