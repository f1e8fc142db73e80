//! The GCP queue adapter against Google's Pub/Sub emulator (`ALIEN_PUBSUB_EMULATOR_URL`,
//! started by `scripts/peers/pubsub.sh start`).
#![cfg(feature = "gcp")]

use std::time::{Duration, Instant};

use alien_providers::gcp::{GcpClients, GcpConfig, GcpQueue, PubSubQueueSpec};
use alien_providers::{ErrorKind, Payload, QueueProvider, ReceiveOptions};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROJECT: &str = "alien-local";

/// The emulator's URL, or `None` (skip) when unset outside CI; in CI a missing peer fails.
fn emulator() -> Option<String> {
    match std::env::var("ALIEN_PUBSUB_EMULATOR_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!(
            "ALIEN_PUBSUB_EMULATOR_URL is not set; start the emulator with \
             `export ALIEN_PUBSUB_EMULATOR_URL=$(bash scripts/peers/pubsub.sh start)`"
        ),
        _ => {
            eprintln!(
                "skipped: ALIEN_PUBSUB_EMULATOR_URL is not set (scripts/peers/pubsub.sh start)"
            );
            None
        }
    }
}

/// A topic name no other test (or earlier run against the same emulator) uses.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{name}-{nanos}")
}

async fn clients(url: &str) -> GcpClients {
    GcpClients::new(&GcpConfig::for_emulators(PROJECT, Some(url), None))
        .await
        .expect("clients")
}

async fn queue(clients: &GcpClients, name: &str, ack_deadline: u64, dlq: Option<u32>) -> GcpQueue {
    clients
        .create_queue(&PubSubQueueSpec {
            name: unique(name),
            ack_deadline: Duration::from_secs(ack_deadline),
            dead_letter_after: dlq,
        })
        .await
        .expect("create_queue")
}

fn wait(seconds: u64) -> ReceiveOptions {
    ReceiveOptions::new(10).with_wait(Duration::from_secs(seconds))
}

// upstream-cloud-semantics.md §4.1: send = Publish, receive from `{topic}-sub`, ack.
#[tokio::test(flavor = "multi_thread")]
async fn send_receive_ack_round_trip() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let queue = queue(&clients, "round-trip", 10, None).await;
    assert!(queue.subscription().ends_with("-sub"));
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    let id = queue
        .send(Payload::Json(json!({"job": 1})))
        .await
        .expect("send");
    let text = queue
        .send(Payload::Text("plain".into()))
        .await
        .expect("send");
    let mut got = Vec::new();
    for _ in 0..5 {
        got.extend(queue.receive(wait(5)).await.expect("receive"));
        if got.len() >= 2 {
            break;
        }
    }
    assert_eq!(got.len(), 2, "{got:?}");
    let first = got.iter().find(|m| m.id == id).expect("the JSON message");
    assert_eq!(first.payload, Payload::Json(json!({"job": 1})));
    // No dead-letter policy: Pub/Sub leaves deliveryAttempt empty, the adapter reports 1.
    assert_eq!(first.attempt, 1);
    assert!(
        first.enqueued_at > before,
        "publish time {}",
        first.enqueued_at
    );
    let second = got.iter().find(|m| m.id == text).expect("the text message");
    assert_eq!(second.payload, Payload::Text("plain".into()));
    for message in &got {
        queue.ack(&message.receipt).await.expect("ack");
    }
    // Acked: nothing comes back within longer than the ack deadline.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert!(queue.receive(wait(2)).await.expect("receive").is_empty());
    // Acking twice is harmless (the trait: ack of a gone message succeeds).
    queue.ack(&got[0].receipt).await.expect("second ack");
}

// Pub/Sub: an unacked message is redelivered once its ack deadline passes (Subscription
// reference, ackDeadlineSeconds); the adapter's lease loop stops extending after the lease.
#[tokio::test(flavor = "multi_thread")]
async fn expired_lease_redelivers_and_supersedes_the_receipt() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let queue = queue(&clients, "expiry", 10, None).await;
    let id = queue
        .send(Payload::Text("again".into()))
        .await
        .expect("send");
    let first = queue.receive(wait(5)).await.expect("receive");
    assert_eq!(first.len(), 1);
    let started = Instant::now();
    let mut again = Vec::new();
    while again.is_empty() && started.elapsed() < Duration::from_secs(40) {
        again = queue.receive(wait(5)).await.expect("receive");
    }
    let elapsed = started.elapsed();
    eprintln!(
        "redelivered after {:.1} s (lease 10 s)",
        elapsed.as_secs_f64()
    );
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, id);
    assert!(elapsed >= Duration::from_secs(9), "too early: {elapsed:?}");
    assert_ne!(again[0].receipt, first[0].receipt);
    // published-3.3.49.md §4.5: the superseded receipt is stale.
    let stale = queue.ack(&first[0].receipt).await.expect_err("stale ack");
    assert_eq!(stale.kind, ErrorKind::StaleReceipt);
    queue.ack(&again[0].receipt).await.expect("ack");
}

// upstream-cloud-semantics.md §4.1: nack = ModifyAckDeadline 0, redelivered at once.
#[tokio::test(flavor = "multi_thread")]
async fn nack_redelivers_immediately() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let queue = queue(&clients, "nack", 60, None).await;
    let id = queue
        .send(Payload::Text("retry".into()))
        .await
        .expect("send");
    let first = queue.receive(wait(5)).await.expect("receive");
    assert_eq!(first.len(), 1);
    queue.nack(&first[0].receipt).await.expect("nack");
    let started = Instant::now();
    let again = queue.receive(wait(10)).await.expect("receive");
    eprintln!(
        "nacked message back after {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, id);
    assert!(started.elapsed() < Duration::from_secs(10));
    queue.ack(&again[0].receipt).await.expect("ack");
}

// Pub/Sub dead-letter topics page: after maxDeliveryAttempts the message goes to the
// dead-letter topic, and deliveryAttempt counts deliveries when a policy is set.
#[tokio::test(flavor = "multi_thread")]
async fn dead_letter_policy_moves_the_message_and_counts_attempts() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let queue = queue(&clients, "dlq", 10, Some(5)).await;
    let id = queue
        .send(Payload::Text("poison".into()))
        .await
        .expect("send");
    let mut attempts = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let batch = queue.receive(wait(3)).await.expect("receive");
        if batch.is_empty() && attempts.len() >= 5 {
            break;
        }
        for message in batch {
            assert_eq!(message.id, id);
            attempts.push(message.attempt);
            queue.nack(&message.receipt).await.expect("nack");
        }
    }
    eprintln!("deliveryAttempt seen: {attempts:?}");
    assert_eq!(attempts, [1, 2, 3, 4, 5]);
    let dead = queue.dead_letters().await.expect("dead letters");
    eprintln!(
        "dead letter attributes: {:?}",
        dead.first().map(|m| &m.attributes)
    );
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].payload, Payload::Text("poison".into()));
}

// Pub/Sub Seek reference: seeking to a time acks every message published before it.
#[tokio::test(flavor = "multi_thread")]
async fn purge_seeks_to_now() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let queue = queue(&clients, "purge", 10, None).await;
    for n in 0..3 {
        queue.send(Payload::Json(json!(n))).await.expect("send");
    }
    queue.purge().await.expect("purge");
    assert!(queue.receive(wait(3)).await.expect("receive").is_empty());
    let id = queue
        .send(Payload::Json(json!("after")))
        .await
        .expect("send");
    let started = Instant::now();
    let mut after = Vec::new();
    while after.is_empty() && started.elapsed() < Duration::from_secs(30) {
        after = queue.receive(wait(5)).await.expect("receive");
    }
    eprintln!(
        "message sent after the purge received after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(after.iter().map(|m| &m.id).collect::<Vec<_>>(), [&id]);
}

// A receive that times out on an empty queue must not strand what comes next: the
// crate's stream is not cancel-safe while it opens, and a dropped half-open stream keeps
// its messages leased for the ack deadline (10 s here), longer than the 5 s wait below.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_receive_strands_nothing() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let queue = queue(&clients, "empty-first", 10, None).await;
    for _ in 0..3 {
        assert!(
            queue
                .receive(ReceiveOptions::new(1))
                .await
                .expect("receive")
                .is_empty()
        );
    }
    let id = queue
        .send(Payload::Json(json!("next")))
        .await
        .expect("send");
    let got = queue.receive(wait(5)).await.expect("receive");
    assert_eq!(got.iter().map(|m| &m.id).collect::<Vec<_>>(), [&id]);
}

// upstream-cloud-semantics.md §4.1: the binding caps messages at 64 KiB, the service at 10 MB.
#[tokio::test(flavor = "multi_thread")]
async fn binding_cap_and_service_limit() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let queue = queue(&clients, "size", 10, None).await;
    let big = Payload::Text("x".repeat(65_537));
    let err = queue.send(big.clone()).await.expect_err("over 64 KiB");
    assert_eq!(
        err.kind,
        ErrorKind::PayloadTooLarge {
            size: 65_537,
            limit: 65_536
        }
    );
    let service = queue.clone().service_api();
    service
        .send(big)
        .await
        .expect("the service takes 64 KiB + 1");
    // The real service refuses a publish request over 10 MB (Pub/Sub quotas page, mapped
    // by map_gcp_error's unit tests); emulator 0.8.20 accepts it, which this records.
    let huge = service
        .send(Payload::Text("y".repeat(10 * 1024 * 1024 + 1)))
        .await;
    eprintln!("10 MiB + 1 through the emulator: {huge:?}");
    assert!(
        huge.is_ok(),
        "the emulator started enforcing 10 MB: {huge:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_operations_say_so() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let queue = queue(&clients, "unsupported", 10, None).await;
    assert_eq!(
        queue.attributes().await.expect_err("no counts").kind,
        ErrorKind::Unsupported
    );
    let receipt = alien_providers::ReceiptHandle::new("x#1");
    assert_eq!(
        queue
            .change_visibility(&receipt, Duration::from_secs(30))
            .await
            .expect_err("no per-message modack")
            .kind,
        ErrorKind::Unsupported
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_a_queue_twice_is_already_exists() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let spec = PubSubQueueSpec::upstream(&unique("twice"));
    clients.create_queue(&spec).await.expect("first");
    let err = clients.create_queue(&spec).await.expect_err("second");
    assert_eq!(err.kind, ErrorKind::AlreadyExists, "{err}");
}

// upstream-cloud-semantics.md §4.2/§13: a push subscription without retry policy to a
// receiver that always fails; peers-2026.md: the emulator pushes about once a second,
// without deliveryAttempt and without push backoff.
#[tokio::test(flavor = "multi_thread")]
async fn push_to_a_failing_receiver_retries_about_once_a_second() {
    let Some(url) = emulator() else { return };
    let clients = clients(&url).await;
    let queue = queue(&clients, "push", 10, None).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&receiver)
        .await;
    let name = unique("push-worker");
    let endpoint = format!("{}/", receiver.uri());
    clients
        .create_push_subscription(&queue, &name, &endpoint, Duration::from_secs(10))
        .await
        .expect("push subscription");
    let started = Instant::now();
    queue
        .send(Payload::Json(json!({"push": true})))
        .await
        .expect("send");
    let mut arrivals: Vec<Duration> = Vec::new();
    let mut bodies = Vec::new();
    while started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let requests = receiver.received_requests().await.unwrap_or_default();
        if requests.len() > arrivals.len() {
            for request in &requests[arrivals.len()..] {
                arrivals.push(started.elapsed());
                bodies.push(serde_json::from_slice::<serde_json::Value>(&request.body).ok());
            }
        }
    }
    let gaps: Vec<f64> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    eprintln!(
        "push arrivals (s after publish, ±50 ms): {:?}",
        arrivals
            .iter()
            .map(|d| (d.as_secs_f64() * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );
    eprintln!(
        "push intervals (s): {:?}",
        gaps.iter()
            .map(|g| (g * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );
    eprintln!(
        "first push body: {}",
        bodies.first().cloned().flatten().unwrap_or_default()
    );
    assert!(
        arrivals.len() >= 5,
        "only {} pushes in 20 s",
        arrivals.len()
    );
    let message = &bodies[0].as_ref().expect("JSON push body")["message"];
    assert_eq!(
        message["data"].as_str(),
        Some("eyJwdXNoIjp0cnVlfQ=="),
        "base64 of the body"
    );
    assert!(
        bodies
            .iter()
            .flatten()
            .all(|b| b.get("deliveryAttempt").is_none()),
        "no dead-letter policy, no deliveryAttempt"
    );
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    assert!((0.5..3.0).contains(&mean), "mean interval {mean} s");
}
