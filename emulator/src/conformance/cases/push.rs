//! Pub/Sub push to a receiver that always fails: how often the message comes back, and what
//! the receiver sees. Upstream wires every GCP queue trigger as a push subscription with no
//! retry or dead-letter policy (upstream-cloud-semantics.md §4.2).

use std::time::Duration;

use super::{Outcome, obs, setup};
use crate::Platform;
use crate::conformance::case::{Case, same};
use crate::conformance::{PushSeen, Target};

/// How long the receiver is watched.
pub const WINDOW: Duration = Duration::from_secs(10);

pub const FAILING_RECEIVER: Case = Case {
    name: "pubsub-push-failing-receiver",
    source: "Pub/Sub push subscriptions (peers-2026.md, Pub/Sub delivery facts): a non-success response is a negative ack and the message is pushed again; after failures delivery pauses between 100 ms and 60 s (\"push backoff\"); deliveryAttempt is only set with a dead-letter policy, which upstream does not set (upstream-cloud-semantics.md §4.2: ack deadline = worker timeout, no retry or dead-letter policy)",
    platforms: &[Platform::Gcp],
    elsewhere: "only Pub/Sub pushes to the worker: Lambda polls SQS, Dapr reads Service Bus with peek-lock, the local trigger polls (upstream-cloud-semantics.md §4.2)",
    facts: &[
        same("pushed again", "yes"),
        same("message id", "the same on every push"),
        same("deliveryAttempt", "absent"),
        same("pauses", "grow"),
    ],
};

/// Whether the pauses between pushes grow: the last is at least four times the first (push
/// backoff doubles from 100 ms; a flat rate stays near 1).
fn pauses(pushes: &[PushSeen]) -> &'static str {
    let gaps: Vec<Duration> = pushes.windows(2).map(|w| w[1].after - w[0].after).collect();
    match (gaps.first(), gaps.last()) {
        (Some(first), Some(last)) if gaps.len() >= 2 => {
            if *last >= *first * 4 {
                "grow"
            } else {
                "flat"
            }
        }
        _ => "too few pushes to tell",
    }
}

pub async fn failing_receiver<T: Target>(target: &T, run_id: &str) -> Outcome {
    let pushes = setup(target.failing_push(run_id, WINDOW).await)?;
    let ids: Vec<&str> = pushes.iter().map(|p| p.message_id.as_str()).collect();
    let attempts: Vec<String> = pushes
        .iter()
        .filter_map(|p| p.delivery_attempt.map(|a| a.to_string()))
        .collect();
    let times: Vec<String> = pushes
        .iter()
        .map(|p| format!("{:.2}", p.after.as_secs_f64()))
        .collect();
    Ok(vec![
        obs("pushed again", if pushes.len() > 1 { "yes" } else { "no" }),
        obs(
            "message id",
            if ids.windows(2).all(|w| w[0] == w[1]) {
                "the same on every push"
            } else {
                "changes"
            },
        ),
        obs(
            "deliveryAttempt",
            if attempts.is_empty() {
                "absent".to_string()
            } else {
                attempts.join(",")
            },
        ),
        obs("pauses", pauses(&pushes)),
        obs(
            &format!("pushes in {} s (s after publish)", WINDOW.as_secs()),
            times.join(" "),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: &[u64]) -> Vec<PushSeen> {
        ms.iter()
            .map(|&ms| PushSeen {
                after: Duration::from_millis(ms),
                message_id: "m".into(),
                delivery_attempt: None,
            })
            .collect()
    }

    // peers-2026.md: push backoff pauses 100 ms doubling; the emulator pushes about once a second.
    #[test]
    fn doubling_pauses_grow_and_a_steady_rate_is_flat() {
        assert_eq!(pauses(&at(&[0, 100, 300, 700, 1500])), "grow");
        assert_eq!(pauses(&at(&[0, 1000, 2000, 3010, 4000])), "flat");
        assert_eq!(pauses(&at(&[0, 1000])), "too few pushes to tell");
    }
}
