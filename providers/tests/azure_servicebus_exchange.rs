#![cfg(feature = "azure")]
//! `ServiceBusQueue` receive, settle and describe exchanges against a wiremock server on 127.0.0.1 answering
//! with recorded Service Bus REST responses (no Service Bus emulator runs without Docker).
//!
//! Response shapes, per Microsoft Learn's Service Bus REST reference: "Create Entity" (PUT,
//! Atom entry, 201 / 409) and "Get Entity" (Atom entry with `QueueDescription` and
//! `CountDetails`); "Send Message" (201; 401, 403 quota exceeded or message too large, 410);
//! "Peek-Lock Message (Non-Destructive Read)" (201 with `BrokerProperties` and `Location`,
//! 204 when empty; its example `BrokerProperties` is the one used here); "Unlock Message",
//! "Delete Message", "Renew-Lock for a Message" (200; 404 no message with that LockToken,
//! 410 no such queue); error bodies `<Error><Code>…</Code><Detail>…</Detail></Error>`
//! ("Service Bus messaging exceptions" / "Resource Manager exceptions").

use std::time::Duration;

use alien_providers::{ErrorKind, Payload, QueueProvider, ReceiptHandle, ReceiveOptions};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[allow(dead_code)] // shared fixtures; each test file uses a subset
#[path = "fixtures/azure/servicebus.rs"]
mod fixtures;
use fixtures::*;

// Create Entity: upstream sends every QueueDescription property unset

// Peek-Lock: attempt = BrokerProperties.DeliveryCount, receipt = Location.
#[tokio::test]
async fn peek_lock_reads_broker_properties() {
    let server = MockServer::start().await;
    let lock = "7da9cfd5-40d5-4bb1-8d64-ec5a52e1c547";
    Mock::given(method("POST"))
        .and(path("/jobs/messages/head"))
        .and(query_param("timeout", "5"))
        .respond_with(locked(&server, r#"{"job":1}"#, 3, lock))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/jobs/messages/head"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let messages = queue(&server)
        .receive(ReceiveOptions::new(10).with_wait(Duration::from_millis(4500)))
        .await
        .expect("receive");
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.attempt, 3);
    assert_eq!(message.id.as_str(), "31907572164743c38741631acd554d6f");
    assert_eq!(message.payload, Payload::Json(json!({"job": 1})));
    assert_eq!(
        message.receipt.as_str(),
        format!("{}/jobs/messages/2/{lock}", server.uri())
    );
    assert_eq!(
        message.enqueued_at.to_rfc3339(),
        "2014-07-02T01:32:27+00:00"
    );
    assert_eq!(
        message.attributes.get("SequenceNumber").map(String::as_str),
        Some("2")
    );
}

// A receipt that is not a lock URI of this queue never leaves the process (it would carry

// Renew-Lock grants the queue's LockDuration only; receive leases likewise.
#[tokio::test]
async fn renew_only_for_the_lock_duration() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/jobs/messages/2/abc"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let q = queue(&server);
    let receipt = ReceiptHandle::new(format!("{}/jobs/messages/2/abc", server.uri()));
    q.change_visibility(&receipt, Duration::from_secs(60))
        .await
        .expect("renew");
    let err = q
        .change_visibility(&receipt, Duration::from_secs(30))
        .await
        .expect_err("other duration");
    assert_eq!(err.kind, ErrorKind::Unsupported);
    let err = q
        .receive(ReceiveOptions::new(1).with_lease(Duration::from_secs(10)))
        .await
        .expect_err("lease");
    assert_eq!(err.kind, ErrorKind::Unsupported);
}

// Full exchange as the broker sees it: send → peek-lock (DeliveryCount 1) → abandon (PUT)

// → peek-lock (DeliveryCount 2) → complete (DELETE).
#[tokio::test]
async fn send_lock_abandon_lock_complete_exchange() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/jobs/messages"))
        .and(header("content-type", "text/plain;charset=utf-8"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/jobs/messages/head"))
        .respond_with(locked(&server, "hello", 1, "lock-1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/jobs/messages/head"))
        .respond_with(locked(&server, "hello", 2, "lock-2"))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/jobs/messages/2/lock-1"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/jobs/messages/2/lock-2"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;

    let q = queue(&server);
    let id = q.send(Payload::Text("hello".into())).await.expect("send");
    let first = q.receive(ReceiveOptions::new(1)).await.expect("receive 1");
    assert_eq!(first[0].attempt, 1);
    q.nack(&first[0].receipt).await.expect("abandon");
    let second = q.receive(ReceiveOptions::new(1)).await.expect("receive 2");
    assert_eq!(second[0].attempt, 2);
    assert_eq!(second[0].payload, Payload::Text("hello".into()));
    q.ack(&second[0].receipt).await.expect("complete");

    let requests = server.received_requests().await.expect("recorded");
    let seen: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        seen,
        [
            "POST /jobs/messages",
            "POST /jobs/messages/head",
            "PUT /jobs/messages/2/lock-1",
            "POST /jobs/messages/head",
            "DELETE /jobs/messages/2/lock-2",
        ]
    );
    let props = requests[0]
        .headers
        .get("brokerproperties")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(props, json!({"MessageId": id.as_str()}).to_string());
    assert_eq!(requests[0].body, b"hello");
    assert!(
        requests
            .iter()
            .all(|r| auth(r).starts_with("SharedAccessSignature "))
    );
}

// Get Entity CountDetails → attributes; every Service Bus queue has a dead-letter sub-queue.
#[tokio::test]
async fn attributes_come_from_the_queue_description() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jobs"))
        .and(query_param("api-version", "2017-04"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(description("PT1M", 4, 2), "application/atom+xml"),
        )
        .mount(&server)
        .await;
    let attributes = queue(&server).attributes().await.expect("attributes");
    assert_eq!(attributes.approximate_visible, 4);
    assert_eq!(attributes.approximate_delayed, 1);
    assert_eq!(attributes.dead_letter_count, Some(2));
    assert_eq!(attributes.visibility_timeout, Duration::from_secs(60));
    assert_eq!(attributes.retention, Some(Duration::from_secs(14 * 86_400)));
    assert_eq!(attributes.max_message_bytes, 256 * 1024);
}

// Dead letters are read from `{queue}/$DeadLetterQueue` and unlocked again afterwards.
#[tokio::test]
async fn dead_letters_are_peek_locked_then_released() {
    let server = MockServer::start().await;
    let props = json!({
        "DeliveryCount": 10, "LockToken": "dl-1", "SequenceNumber": 9,
        "MessageId": "m9", "LockedUntilUtc": "Wed, 02 Jul 2014 01:33:27 GMT"
    });
    then_empty(
        &server,
        "POST",
        "/jobs/$DeadLetterQueue/messages/head",
        ResponseTemplate::new(201)
            .insert_header("BrokerProperties", props.to_string().as_str())
            .set_body_raw("poison", "text/plain"),
        1,
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/jobs/$DeadLetterQueue/messages/9/dl-1"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let dead = queue(&server).dead_letters().await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempt, 10);
    assert_eq!(dead[0].payload, Payload::Text("poison".into()));
}

// Purge = Receive and Delete Message (DELETE …/messages/head) until 204.
#[tokio::test]
async fn purge_deletes_until_empty() {
    let server = MockServer::start().await;
    then_empty(
        &server,
        "DELETE",
        "/jobs/messages/head",
        ResponseTemplate::new(200).set_body_raw("m", "text/plain"),
        2,
    )
    .await;
    queue(&server).purge().await.expect("purge");
    assert_eq!(server.received_requests().await.expect("recorded").len(), 3);
}
