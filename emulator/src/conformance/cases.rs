//! The cases: each drives a target through the provider traits and records what it saw.
//! The expected observations are the AWS facts each case cites, not emulator output.

use std::time::Duration;

use alien_providers::{
    Payload, PutObjectOptions, QueueProvider, ReceiveOptions, ScheduleProvider, ScheduleTrigger,
    StorageProvider, WorkerInvokeRequest, WorkerProvider,
};
use serde_json::json;

use super::{KeyRule, Observation, QueueSetup, Target};

/// A conformance case: its facts and where they come from.
#[derive(Debug)]
pub struct Case {
    pub name: &'static str,
    pub source: &'static str,
    /// `(what, value)` every target must observe.
    pub expected: &'static [(&'static str, &'static str)],
}

/// SQS 1 MiB (1,048,576 bytes) message limit, raised from 256 KiB (issue 6 item 4).
const MIB: usize = 1_048_576;

pub const CASES: &[Case] = &[
    Case {
        name: "queue-roundtrip",
        source: "SQS SendMessage/ReceiveMessage/DeleteMessage; upstream-runtime-and-bindings.md §3.4",
        expected: &[
            ("received", "2"),
            ("payloads", "json {\"job\":1} | text two"),
            ("attempts", "1,1"),
            ("after ack", "0"),
        ],
    },
    Case {
        name: "queue-visibility",
        source: "SQS visibility timeout: a received message is hidden until it expires, then redelivered with ApproximateReceiveCount 2",
        expected: &[
            ("first attempt", "1"),
            ("while leased", "0"),
            ("after the timeout", "attempt 2"),
        ],
    },
    Case {
        name: "queue-nack",
        source: "published-3.3.49.md §0: nack = ChangeMessageVisibility 0; the receive count is kept",
        expected: &[("after nack", "attempt 2")],
    },
    Case {
        name: "sqs-1mib-limit",
        source: "SQS quotas: messages up to 1 MiB (1,048,576 bytes), raised from 256 KiB",
        expected: &[
            ("1048576 bytes", "accepted"),
            ("1048577 bytes", "PayloadTooLarge"),
        ],
    },
    Case {
        name: "queue-maximum-message-size",
        source: "SQS SetQueueAttributes MaximumMessageSize: larger messages are rejected",
        expected: &[
            ("1024 bytes", "accepted"),
            ("1025 bytes", "PayloadTooLarge"),
        ],
    },
    Case {
        name: "dlq-keeps-receive-count",
        source: "SQS dead-letter queues: after maxReceiveCount receives the message moves to the DLQ, keeping ApproximateReceiveCount, which counts receives across all queues (SQS API reference), so the first receive from the DLQ sees maxReceiveCount + 1",
        expected: &[
            ("attempts", "1,2"),
            ("source queue after redrive", "0"),
            ("dead letters", "1"),
            ("dead letter receive count", "3"),
        ],
    },
    Case {
        name: "storage-roundtrip",
        source: "S3 PutObject/GetObject/HeadObject/ListObjectsV2/DeleteObject",
        expected: &[
            ("get", "hello"),
            ("head size", "5"),
            ("list", "a/1.txt"),
            ("after delete", "missing"),
            ("missing key", "missing"),
        ],
    },
    Case {
        name: "storage-notification-to-queue",
        source: "published-3.3.49.md §8: a Storage notifications rule sends one StorageEvent JSON per created object whose key matches the literal prefix/suffix; S3's s3:TestEvent is acked unseen",
        expected: &[
            ("messages", "1"),
            ("event", "created in/a.txt 5"),
            ("bucketName", "the bucket"),
            ("timestamp", "RFC 3339"),
        ],
    },
    Case {
        name: "schedule-daily",
        source: "upstream-stack-and-limits.md §4.2: `0 12 * * *` → EventBridge `cron(0 12 * * ? *)`",
        expected: &[("0 12 * * *", "registered")],
    },
    Case {
        name: "schedule-both-day-fields",
        source: "EventBridge cron: day-of-month and day-of-week cannot both be set (one must be ?); PutRule answers ValidationException",
        expected: &[("0 12 1 * 1", "InvalidArgument")],
    },
    Case {
        name: "invoke-missing-function",
        source: "Lambda Invoke of an unknown function: ResourceNotFoundException; upstream-runtime-and-bindings.md §3.5",
        expected: &[("invoke", "NotFound")],
    },
];

fn obs(what: &str, value: impl Into<String>) -> Observation {
    Observation {
        what: what.to_string(),
        value: value.into(),
    }
}

fn kind_or<T>(result: alien_providers::Result<T>, ok: &str) -> String {
    match result {
        Ok(_) => ok.to_string(),
        Err(e) => e.kind.name().to_string(),
    }
}

fn describe(payload: &Payload) -> String {
    match payload {
        Payload::Json(v) => format!("json {v}"),
        Payload::Text(t) => format!("text {t}"),
    }
}

fn err(e: alien_providers::ProviderError) -> String {
    e.to_string()
}

fn setup(run_id: &str, case: &str, visibility: u64) -> QueueSetup {
    QueueSetup {
        name: format!("conf-{run_id}-{case}"),
        visibility_timeout: Duration::from_secs(visibility),
        max_message_bytes: None,
        max_receive_count: None,
    }
}

/// Receives until something comes back or `tries` polls found nothing (peers need a
/// moment; the emulator answers at once).
async fn receive_one<T: Target>(
    target: &T,
    queue: &T::Queue,
    tries: u32,
) -> alien_providers::Result<Option<alien_providers::QueueMessage>> {
    for _ in 0..tries {
        let mut got = queue.receive(ReceiveOptions::new(1)).await?;
        if let Some(m) = got.pop() {
            return Ok(Some(m));
        }
        target.sleep(Duration::from_millis(500)).await;
    }
    Ok(None)
}

pub(super) async fn run_case<T: Target>(
    target: &T,
    case: &Case,
    run_id: &str,
) -> Result<Vec<Observation>, String> {
    let mut out = Vec::new();
    match case.name {
        "queue-roundtrip" => {
            let q = target.queue(&setup(run_id, "rt", 30)).await.map_err(err)?;
            q.send(Payload::Json(json!({"job": 1})))
                .await
                .map_err(err)?;
            q.send(Payload::Text("two".into())).await.map_err(err)?;
            let mut got = Vec::new();
            for _ in 0..10 {
                got.extend(q.receive(ReceiveOptions::new(10)).await.map_err(err)?);
                if got.len() >= 2 {
                    break;
                }
                target.sleep(Duration::from_millis(300)).await;
            }
            got.sort_by_key(|m| describe(&m.payload));
            out.push(obs("received", got.len().to_string()));
            let payloads: Vec<String> = got.iter().map(|m| describe(&m.payload)).collect();
            out.push(obs("payloads", payloads.join(" | ")));
            let attempts: Vec<String> = got.iter().map(|m| m.attempt.to_string()).collect();
            out.push(obs("attempts", attempts.join(",")));
            for m in &got {
                q.ack(&m.receipt).await.map_err(err)?;
            }
            let left = q.receive(ReceiveOptions::new(10)).await.map_err(err)?;
            out.push(obs("after ack", left.len().to_string()));
        }
        "queue-visibility" => {
            let q = target.queue(&setup(run_id, "vis", 2)).await.map_err(err)?;
            q.send(Payload::Text("m".into())).await.map_err(err)?;
            let first = receive_one(target, &q, 10).await.map_err(err)?;
            out.push(obs(
                "first attempt",
                first.map_or("none".into(), |m| m.attempt.to_string()),
            ));
            let hidden = q.receive(ReceiveOptions::new(1)).await.map_err(err)?;
            out.push(obs("while leased", hidden.len().to_string()));
            target.sleep(Duration::from_secs(2)).await;
            let again = receive_one(target, &q, 10).await.map_err(err)?;
            out.push(obs(
                "after the timeout",
                again.map_or("none".into(), |m| format!("attempt {}", m.attempt)),
            ));
        }
        "queue-nack" => {
            let q = target
                .queue(&setup(run_id, "nack", 30))
                .await
                .map_err(err)?;
            q.send(Payload::Text("m".into())).await.map_err(err)?;
            let first = receive_one(target, &q, 10)
                .await
                .map_err(err)?
                .ok_or("the message never arrived")?;
            q.nack(&first.receipt).await.map_err(err)?;
            let again = receive_one(target, &q, 10).await.map_err(err)?;
            out.push(obs(
                "after nack",
                again.map_or("none".into(), |m| format!("attempt {}", m.attempt)),
            ));
        }
        "sqs-1mib-limit" => {
            let q = target.queue(&setup(run_id, "mib", 30)).await.map_err(err)?;
            for size in [MIB, MIB + 1] {
                let sent = q.send(Payload::Text("x".repeat(size))).await;
                out.push(obs(&format!("{size} bytes"), kind_or(sent, "accepted")));
            }
        }
        "queue-maximum-message-size" => {
            let mut s = setup(run_id, "max", 30);
            s.max_message_bytes = Some(1024);
            let q = target.queue(&s).await.map_err(err)?;
            for size in [1024, 1025] {
                let sent = q.send(Payload::Text("x".repeat(size))).await;
                out.push(obs(&format!("{size} bytes"), kind_or(sent, "accepted")));
            }
        }
        "dlq-keeps-receive-count" => {
            let mut s = setup(run_id, "dlq", 1);
            s.max_receive_count = Some(2);
            let q = target.queue(&s).await.map_err(err)?;
            q.send(Payload::Text("poison".into())).await.map_err(err)?;
            let mut attempts = Vec::new();
            for _ in 0..2 {
                if let Some(m) = receive_one(target, &q, 10).await.map_err(err)? {
                    attempts.push(m.attempt.to_string());
                }
                target.sleep(Duration::from_millis(1_500)).await;
            }
            out.push(obs("attempts", attempts.join(",")));
            // SQS moves the message on the receive after the last allowed one; a peer's
            // timers are coarse (LocalStack: ~1 s), so poll the source until it has moved.
            let mut returned = 0;
            let mut dead = Vec::new();
            for _ in 0..10 {
                returned += q.receive(ReceiveOptions::new(1)).await.map_err(err)?.len();
                dead = target.dead_letters(&q).await.map_err(err)?;
                if !dead.is_empty() {
                    break;
                }
                target.sleep(Duration::from_millis(500)).await;
            }
            out.push(obs("source queue after redrive", returned.to_string()));
            out.push(obs("dead letters", dead.len().to_string()));
            out.push(obs(
                "dead letter receive count",
                dead.first()
                    .map_or("none".into(), |m| m.attempt.to_string()),
            ));
        }
        "storage-roundtrip" => {
            let st = target
                .storage(&format!("conf-{run_id}-bucket"))
                .await
                .map_err(err)?;
            st.put("a/1.txt", b"hello".to_vec(), PutObjectOptions::default())
                .await
                .map_err(err)?;
            let got = st.get("a/1.txt").await.map_err(err)?;
            out.push(obs(
                "get",
                got.map_or("missing".into(), |o| {
                    String::from_utf8_lossy(&o.body).into_owned()
                }),
            ));
            let head = st.head("a/1.txt").await.map_err(err)?;
            out.push(obs(
                "head size",
                head.map_or("missing".into(), |m| m.size.to_string()),
            ));
            let listed = st.list("a/", None).await.map_err(err)?;
            let keys: Vec<String> = listed.objects.iter().map(|o| o.key.clone()).collect();
            out.push(obs("list", keys.join(",")));
            st.delete("a/1.txt").await.map_err(err)?;
            let gone = st.get("a/1.txt").await.map_err(err)?;
            out.push(obs(
                "after delete",
                if gone.is_some() { "present" } else { "missing" },
            ));
            let missing = st.get("never-written").await.map_err(err)?;
            out.push(obs(
                "missing key",
                if missing.is_some() {
                    "present"
                } else {
                    "missing"
                },
            ));
        }
        "storage-notification-to-queue" => {
            let bucket = format!("conf-{run_id}-notify");
            let rule = KeyRule {
                prefix: Some("in/".into()),
                suffix: Some(".txt".into()),
            };
            let (st, q) = target
                .notifying_storage(&bucket, &setup(run_id, "notify", 30), &rule)
                .await
                .map_err(err)?;
            for key in ["in/a.txt", "out/b.txt", "in/c.bin"] {
                st.put(key, b"hello".to_vec(), PutObjectOptions::default())
                    .await
                    .map_err(err)?;
            }
            // Peers deliver notifications asynchronously: poll until one arrives, then a
            // little longer for any that should not.
            let mut got = Vec::new();
            let mut quiet_polls = 0;
            for _ in 0..30 {
                got.extend(q.receive(ReceiveOptions::new(10)).await.map_err(err)?);
                if !got.is_empty() {
                    quiet_polls += 1;
                    if quiet_polls > 3 {
                        break;
                    }
                }
                target.sleep(Duration::from_millis(500)).await;
            }
            for m in &got {
                q.ack(&m.receipt).await.map_err(err)?;
            }
            out.push(obs("messages", got.len().to_string()));
            let event = got.first().map(|m| match &m.payload {
                Payload::Json(v) => v.clone(),
                Payload::Text(t) => json!({"text": t}),
            });
            let field = |name: &str| {
                event
                    .as_ref()
                    .and_then(|e| e.get(name))
                    .map_or("none".to_string(), |v| {
                        v.as_str().map_or_else(|| v.to_string(), str::to_string)
                    })
            };
            out.push(obs(
                "event",
                format!(
                    "{} {} {}",
                    field("eventType"),
                    field("objectKey"),
                    field("size")
                ),
            ));
            let name = field("bucketName");
            out.push(obs(
                "bucketName",
                if name == bucket {
                    "the bucket".into()
                } else {
                    name
                },
            ));
            let timestamp = field("timestamp");
            out.push(obs(
                "timestamp",
                if chrono::DateTime::parse_from_rfc3339(&timestamp).is_ok() {
                    "RFC 3339".into()
                } else {
                    timestamp
                },
            ));
        }
        "schedule-daily" | "schedule-both-day-fields" => {
            let cron = case.expected[0].0;
            let schedules = target.schedules().await.map_err(err)?;
            let registered = schedules
                .register(ScheduleTrigger {
                    target: format!("conf-{run_id}-w"),
                    cron: cron.to_string(),
                })
                .await;
            out.push(obs(cron, kind_or(registered, "registered")));
        }
        "invoke-missing-function" => {
            let workers = target.workers().await.map_err(err)?;
            let answer = workers
                .invoke(WorkerInvokeRequest {
                    target_worker: format!("conf-{run_id}-missing"),
                    method: "GET".into(),
                    path: "/".into(),
                    ..WorkerInvokeRequest::default()
                })
                .await;
            out.push(obs("invoke", kind_or(answer, "answered")));
        }
        other => return Err(format!("no case named {other}")),
    }
    Ok(out)
}

/// The expected error kinds used above exist (a rename would silently change the facts).
#[cfg(test)]
#[test]
fn expected_kinds_are_real_kind_names() {
    use alien_providers::ErrorKind;
    for name in [
        ErrorKind::PayloadTooLarge { size: 0, limit: 0 }.name(),
        ErrorKind::InvalidArgument.name(),
        ErrorKind::NotFound.name(),
    ] {
        assert!(
            CASES
                .iter()
                .flat_map(|c| c.expected.iter())
                .any(|(_, v)| *v == name),
            "{name}"
        );
    }
}
