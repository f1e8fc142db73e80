//! Pub/Sub push to a receiver that always fails: how often the message comes back, and what
//! the receiver sees. Upstream wires every GCP queue trigger as a push subscription with no
//! retry or dead-letter policy (upstream-cloud-semantics.md §4.2).

use std::time::Duration;

use super::{Outcome, obs, setup};
use crate::Platform;
use crate::conformance::case::{Case, same};
use crate::conformance::{PushSeen, Receiver, Target};

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

/// How long the slow receiver holds each push before it answers 200: past the 10 s ack
/// deadline.
const HOLD: Duration = Duration::from_secs(15);
/// The ack deadline of the push subscription (upstream: the worker's timeout, 10 s here).
const ACK_DEADLINE: Duration = Duration::from_secs(10);
/// How long the slow receiver is watched: the first push, its ack deadline, the redelivery.
const SLOW_WINDOW: Duration = Duration::from_secs(20);

pub const PAST_ACK_DEADLINE: Case = Case {
    name: "pubsub-push-past-ack-deadline",
    source: "Pub/Sub push: the endpoint must answer within the subscription's ack deadline, else the push counts as a negative ack and the message is pushed again; upstream sets the ack deadline to the worker's timeout (upstream-cloud-semantics.md §4.2: \"a handler that runs past the ack deadline is also redelivered\")",
    platforms: &[Platform::Gcp],
    elsewhere: "only Pub/Sub pushes to the worker (upstream-cloud-semantics.md §4.2)",
    facts: &[
        same(
            "second push",
            "after the ack deadline, while the first is unanswered",
        ),
        same("message id", "the same on every push"),
    ],
};

/// When the second push came, against the ack deadline and the first push's answer.
fn second_push(pushes: &[PushSeen]) -> &'static str {
    let Some(gap) = pushes
        .get(1)
        .map(|p| p.after.saturating_sub(pushes[0].after))
    else {
        return "none";
    };
    // Half a second of slack for a peer's timers.
    if gap + Duration::from_millis(500) < ACK_DEADLINE {
        "before the ack deadline"
    } else if gap < HOLD {
        "after the ack deadline, while the first is unanswered"
    } else {
        "after the first answer"
    }
}

fn same_id(pushes: &[PushSeen]) -> &'static str {
    if pushes
        .windows(2)
        .all(|w| w[0].message_id == w[1].message_id)
    {
        "the same on every push"
    } else {
        "changes"
    }
}

fn times(pushes: &[PushSeen]) -> String {
    let times: Vec<String> = pushes
        .iter()
        .map(|p| format!("{:.2}", p.after.as_secs_f64()))
        .collect();
    times.join(" ")
}

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
    let pushes = setup(target.push(run_id, Receiver::Fails, WINDOW).await)?;
    let attempts: Vec<String> = pushes
        .iter()
        .filter_map(|p| p.delivery_attempt.map(|a| a.to_string()))
        .collect();
    Ok(vec![
        obs("pushed again", if pushes.len() > 1 { "yes" } else { "no" }),
        obs("message id", same_id(&pushes)),
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
            times(&pushes),
        ),
    ])
}

pub async fn past_ack_deadline<T: Target>(target: &T, run_id: &str) -> Outcome {
    let pushes = setup(
        target
            .push(run_id, Receiver::AnswersAfter(HOLD), SLOW_WINDOW)
            .await,
    )?;
    Ok(vec![
        obs("second push", second_push(&pushes)),
        obs("message id", same_id(&pushes)),
        obs(
            &format!("pushes in {} s (s after publish)", SLOW_WINDOW.as_secs()),
            times(&pushes),
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

    // The second push against the 10 s ack deadline and the 15 s hold.
    #[test]
    fn the_second_push_is_placed_against_the_deadline_and_the_answer() {
        assert_eq!(second_push(&at(&[0])), "none");
        assert_eq!(second_push(&at(&[0, 1000])), "before the ack deadline");
        assert_eq!(
            second_push(&at(&[100, 10_050])),
            "after the ack deadline, while the first is unanswered"
        );
        assert_eq!(second_push(&at(&[0, 15_200])), "after the first answer");
    }
}
