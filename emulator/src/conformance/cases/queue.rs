//! Queue cases: delivery, leases, redelivery counts, size limits and dead letters, through
//! `QueueProvider` as each platform's service API shows them.

use std::time::Duration;

use alien_providers::{Payload, QueueProvider, ReceiveOptions};
use serde_json::json;

use super::{
    CaseError, NO_KUBERNETES_QUEUE, Outcome, QUEUE_PLATFORMS, describe, kind_or, obs, receive_one,
    setup, shortest_lease,
};
use crate::Platform;
use crate::conformance::case::{Case, Fact, NOT_CHECKED, same};
use crate::conformance::{QueueSetup, Target};

/// Pub/Sub fills `deliveryAttempt` only for a subscription with a dead-letter policy, which
/// upstream never sets; its binding then reports attempt 1 on every delivery.
const PUBSUB_ATTEMPT: &str = "peers-2026.md (Pub/Sub: deliveryAttempt only with a dead-letter policy); upstream-cloud-semantics.md §4.1 (the Pub/Sub binding reports attempt 1)";

pub const ROUNDTRIP: Case = Case {
    name: "queue-roundtrip",
    source: "SQS SendMessage/ReceiveMessage/DeleteMessage, Pub/Sub Publish/Pull/Acknowledge, Service Bus send/peek-lock/complete; upstream-runtime-and-bindings.md §3.4",
    platforms: QUEUE_PLATFORMS,
    elsewhere: NO_KUBERNETES_QUEUE,
    facts: &[
        same("received", "2"),
        same("payloads", "json {\"job\":1} | text two"),
        same("attempts", "1,1"),
        same("after ack", "0"),
    ],
};

pub const VISIBILITY: Case = Case {
    name: "queue-visibility",
    source: "a received message is hidden until its lease ends (SQS visibility timeout, Pub/Sub ack deadline, Service Bus lock), then delivered again",
    platforms: QUEUE_PLATFORMS,
    elsewhere: NO_KUBERNETES_QUEUE,
    facts: &[
        same("first attempt", "1"),
        same("while leased", "0"),
        Fact {
            what: "after the lease",
            value: "attempt 2",
            on: &[(Platform::Gcp, "attempt 1", PUBSUB_ATTEMPT)],
        },
    ],
};

pub const NACK: Case = Case {
    name: "queue-nack",
    source: "published-3.3.49.md §0: nack ends the lease now (SQS ChangeMessageVisibility 0, Pub/Sub ModifyAckDeadline 0, Service Bus Abandon); the delivery count is kept",
    platforms: QUEUE_PLATFORMS,
    elsewhere: NO_KUBERNETES_QUEUE,
    facts: &[Fact {
        what: "after nack",
        value: "attempt 2",
        on: &[(Platform::Gcp, "attempt 1", PUBSUB_ATTEMPT)],
    }],
};

/// 64 KiB and 1 MiB, each at the limit and one byte over.
const SIZES: [usize; 4] = [65_536, 65_537, 1_048_576, 1_048_577];

pub const SERVICE_SIZE_LIMIT: Case = Case {
    name: "queue-service-size-limit",
    source: "each service's own message limit, sent through its API (not the binding's 64 KiB cap)",
    platforms: QUEUE_PLATFORMS,
    elsewhere: NO_KUBERNETES_QUEUE,
    facts: &[
        same("65536 bytes", "accepted"),
        Fact {
            what: "65537 bytes",
            value: "accepted",
            on: &[(
                Platform::Local,
                "PayloadTooLarge",
                "upstream-stack-and-limits.md §6.4: the local queue rejects payloads over 64 KiB",
            )],
        },
        Fact {
            what: "1048576 bytes",
            value: "accepted",
            on: &[
                (
                    Platform::Azure,
                    "PayloadTooLarge",
                    "upstream-cloud-semantics.md §4.1: Service Bus Standard, 256 KB",
                ),
                (
                    Platform::Local,
                    "PayloadTooLarge",
                    "upstream-stack-and-limits.md §6.4",
                ),
            ],
        },
        Fact {
            what: "1048577 bytes",
            value: "PayloadTooLarge",
            on: &[
                (
                    Platform::Aws,
                    "PayloadTooLarge",
                    "SQS quotas: messages up to 1 MiB (1,048,576 bytes), raised from 256 KiB",
                ),
                (
                    Platform::Gcp,
                    "accepted",
                    "upstream-cloud-semantics.md §4.1: Pub/Sub accepts 10 MB",
                ),
            ],
        },
    ],
};

pub const MAXIMUM_MESSAGE_SIZE: Case = Case {
    name: "queue-maximum-message-size",
    source: "SQS SetQueueAttributes MaximumMessageSize: larger messages are rejected",
    platforms: &[Platform::Aws],
    elsewhere: "MaximumMessageSize is an SQS queue attribute; Pub/Sub and Service Bus Standard have no per-queue limit and the local queue's is fixed",
    facts: &[
        same("1024 bytes", "accepted"),
        same("1025 bytes", "PayloadTooLarge"),
    ],
};

pub const INPUT_RULES: Case = Case {
    name: "queue-input-rules",
    source: "published-3.3.49.md §4.5 and upstream-runtime-and-bindings.md §3.4: at most 10 messages per receive, a renewal of 1..=600 s; checked before the call on every platform (alien_providers::validate)",
    platforms: QUEUE_PLATFORMS,
    elsewhere: NO_KUBERNETES_QUEUE,
    facts: &[
        same("receive 11", "InvalidArgument"),
        same("renew 601 s", "InvalidArgument"),
        same("renew 60 s", "ok"),
    ],
};

/// Deliveries before a message is dead-lettered: Pub/Sub's smallest `maxDeliveryAttempts`
/// is 5 (Pub/Sub DeadLetterPolicy reference), so every platform uses 5.
const MAX_DELIVERIES: u32 = 5;

pub const DEAD_LETTER: Case = Case {
    name: "dead-letter-after-max-deliveries",
    source: "SQS RedrivePolicy maxReceiveCount, Pub/Sub DeadLetterPolicy maxDeliveryAttempts, Service Bus MaxDeliveryCount: after that many deliveries the message moves to the dead-letter queue (topic)",
    platforms: &[Platform::Aws, Platform::Gcp, Platform::Azure],
    elsewhere: "the local queue has no dead-letter queue: messages are retried until acked (upstream-cloud-semantics.md §4.1); Kubernetes binds an external queue",
    facts: &[
        Fact {
            what: "attempts",
            value: "1,2,3,4,5",
            on: &[(
                Platform::Gcp,
                "1,2,3,4,5",
                "Pub/Sub dead-letter topics: with a dead-letter policy each message carries deliveryAttempt",
            )],
        },
        same("source queue after the last delivery", "0"),
        same("dead letters", "1"),
        Fact {
            what: "dead letter receive count",
            value: NOT_CHECKED,
            on: &[(
                Platform::Aws,
                "6",
                "SQS ApproximateReceiveCount counts receives across all queues (SQS API reference), so the first receive from the DLQ sees maxReceiveCount + 1",
            )],
        },
    ],
};

fn queue_setup(run_id: &str, case: &str, lease: Duration) -> QueueSetup {
    QueueSetup {
        name: format!("conf-{run_id}-{case}"),
        visibility_timeout: lease,
        max_message_bytes: None,
        max_receive_count: None,
    }
}

pub async fn roundtrip<T: Target>(target: &T, run_id: &str) -> Outcome {
    let q = setup(
        target
            .queue(&queue_setup(run_id, "rt", Duration::from_secs(30)))
            .await,
    )?;
    q.send(Payload::Json(json!({"job": 1}))).await?;
    q.send(Payload::Text("two".into())).await?;
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(q.receive(ReceiveOptions::new(10)).await?);
        if got.len() >= 2 {
            break;
        }
        target.sleep(Duration::from_millis(300)).await;
    }
    got.sort_by_key(|m| describe(&m.payload));
    let payloads: Vec<String> = got.iter().map(|m| describe(&m.payload)).collect();
    let attempts: Vec<String> = got.iter().map(|m| m.attempt.to_string()).collect();
    let mut out = vec![
        obs("received", got.len().to_string()),
        obs("payloads", payloads.join(" | ")),
        obs("attempts", attempts.join(",")),
    ];
    for m in &got {
        q.ack(&m.receipt).await?;
    }
    let left = q.receive(ReceiveOptions::new(10)).await?;
    out.push(obs("after ack", left.len().to_string()));
    Ok(out)
}

pub async fn visibility<T: Target>(target: &T, run_id: &str) -> Outcome {
    let lease = shortest_lease(target.platform());
    let q = setup(target.queue(&queue_setup(run_id, "vis", lease)).await)?;
    q.send(Payload::Text("m".into())).await?;
    let first = receive_one(target, &q, 10).await?;
    let mut out = vec![obs(
        "first attempt",
        first.map_or("none".into(), |m| m.attempt.to_string()),
    )];
    let hidden = q.receive(ReceiveOptions::new(1)).await?;
    out.push(obs("while leased", hidden.len().to_string()));
    target.sleep(lease).await;
    let again = receive_one(target, &q, 10).await?;
    out.push(obs(
        "after the lease",
        again.map_or("none".into(), |m| format!("attempt {}", m.attempt)),
    ));
    Ok(out)
}

pub async fn nack<T: Target>(target: &T, run_id: &str) -> Outcome {
    let q = setup(
        target
            .queue(&queue_setup(run_id, "nack", Duration::from_secs(30)))
            .await,
    )?;
    q.send(Payload::Text("m".into())).await?;
    let first = receive_one(target, &q, 10)
        .await?
        .ok_or("the message never arrived")?;
    q.nack(&first.receipt).await?;
    let again = receive_one(target, &q, 10).await?;
    Ok(vec![obs(
        "after nack",
        again.map_or("none".into(), |m| format!("attempt {}", m.attempt)),
    )])
}

pub async fn service_size_limit<T: Target>(target: &T, run_id: &str) -> Outcome {
    let q = setup(
        target
            .queue(&queue_setup(run_id, "size", Duration::from_secs(30)))
            .await,
    )?;
    let mut out = Vec::new();
    for size in SIZES {
        let sent = q.send(Payload::Text("x".repeat(size))).await;
        out.push(obs(&format!("{size} bytes"), kind_or(sent, "accepted")));
    }
    Ok(out)
}

pub async fn maximum_message_size<T: Target>(target: &T, run_id: &str) -> Outcome {
    let mut s = queue_setup(run_id, "max", Duration::from_secs(30));
    s.max_message_bytes = Some(1024);
    let q = setup(target.queue(&s).await)?;
    let mut out = Vec::new();
    for size in [1024, 1025] {
        let sent = q.send(Payload::Text("x".repeat(size))).await;
        out.push(obs(&format!("{size} bytes"), kind_or(sent, "accepted")));
    }
    Ok(out)
}

/// Receives and nacks the message [`MAX_DELIVERIES`] times, then looks for it in the
/// dead-letter queue. A peer moves it asynchronously (LocalStack's timers are about 1 s, the
/// Pub/Sub emulator forwards in the background), so the source and the dead letters are
/// polled until it has moved.
pub async fn dead_letter<T: Target>(target: &T, run_id: &str) -> Outcome {
    let mut s = queue_setup(run_id, "dlq", shortest_lease(target.platform()));
    s.max_receive_count = Some(MAX_DELIVERIES);
    let q = setup(target.queue(&s).await)?;
    q.send(Payload::Text("poison".into())).await?;
    let mut attempts = Vec::new();
    for _ in 0..MAX_DELIVERIES {
        let Some(m) = receive_one(target, &q, 10).await? else {
            break;
        };
        attempts.push(m.attempt.to_string());
        q.nack(&m.receipt).await?;
    }
    let mut returned = 0;
    let mut dead = Vec::new();
    for _ in 0..20 {
        let back = q.receive(ReceiveOptions::new(1)).await?;
        for m in &back {
            q.nack(&m.receipt).await?;
        }
        returned += back.len();
        dead = setup(target.dead_letters(&q).await)?;
        if !dead.is_empty() {
            break;
        }
        target.sleep(Duration::from_millis(500)).await;
    }
    let count = dead
        .first()
        .map_or("none".to_string(), |m| m.attempt.to_string());
    if attempts.is_empty() {
        return Err(CaseError::Failed("the message never arrived".into()));
    }
    Ok(vec![
        obs("attempts", attempts.join(",")),
        obs("source queue after the last delivery", returned.to_string()),
        obs("dead letters", dead.len().to_string()),
        obs("dead letter receive count", count),
    ])
}

pub async fn input_rules<T: Target>(target: &T, run_id: &str) -> Outcome {
    let q = setup(
        target
            .queue(&queue_setup(run_id, "rules", Duration::from_secs(60)))
            .await,
    )?;
    let mut out = vec![obs(
        "receive 11",
        kind_or(q.receive(ReceiveOptions::new(11)).await, "ok"),
    )];
    q.send(Payload::Text("m".into())).await?;
    let m = receive_one(target, &q, 10)
        .await?
        .ok_or("the message never arrived")?;
    out.push(obs(
        "renew 601 s",
        kind_or(
            q.change_visibility(&m.receipt, Duration::from_secs(601))
                .await,
            "ok",
        ),
    ));
    out.push(obs(
        "renew 60 s",
        kind_or(
            q.change_visibility(&m.receipt, Duration::from_secs(60))
                .await,
            "ok",
        ),
    ));
    q.ack(&m.receipt).await?;
    Ok(out)
}
