#![cfg(feature = "azure")]
//! `ServiceBusQueue` and queue provisioning against a wiremock server on 127.0.0.1 answering
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

use alien_providers::azure::{AzureClients, AzureConfig, ServiceBusQueueSpec};
use alien_providers::{ErrorKind, Payload, QueueProvider, ReceiptHandle};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[allow(dead_code)] // shared fixtures; each test file uses a subset
#[path = "fixtures/azure/servicebus.rs"]
mod fixtures;
use fixtures::*;

// (upstream-cloud-semantics.md §4.1); the 201 answer carries the server defaults.
#[tokio::test]
async fn create_queue_sends_an_empty_description_with_sas() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/app-jobs"))
        .and(query_param("api-version", "2017-04"))
        .and(header("content-type", ATOM))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_raw(description("PT1M", 0, 0), "application/atom+xml"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let queue = clients(&server)
        .create_service_bus_queue(&ServiceBusQueueSpec::upstream("app", "jobs"))
        .await
        .expect("create");
    assert_eq!(queue.name(), "app-jobs");
    assert_eq!(queue.lock_duration(), Duration::from_secs(60));

    let requests = server.received_requests().await.expect("recorded");
    let body = String::from_utf8_lossy(&requests[0].body).into_owned();
    assert!(body.contains("<QueueDescription"), "{body}");
    assert!(!body.contains("LockDuration") && !body.contains("MaxDeliveryCount"));
    let auth = auth(&requests[0]);
    assert!(auth.starts_with("SharedAccessSignature sr="), "{auth}");
    assert!(auth.contains("&skn=RootManageSharedAccessKey"), "{auth}");
}

// Create Entity answers 409 for an existing queue; the adapter reads its description back.
#[tokio::test]
async fn create_existing_queue_reads_the_real_lock_duration() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/jobs"))
        .respond_with(sb_error(
            409,
            "SubCode=40900. Conflict. Entity already exists.",
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jobs"))
        .and(query_param("api-version", "2017-04"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(description("PT30S", 0, 0), "application/atom+xml"),
        )
        .mount(&server)
        .await;
    let spec = ServiceBusQueueSpec {
        lock_duration: Some(Duration::from_secs(45)),
        max_delivery_count: Some(5),
        ..ServiceBusQueueSpec::named("jobs")
    };
    let queue = clients(&server)
        .create_service_bus_queue(&spec)
        .await
        .expect("existing is fine");
    assert_eq!(queue.lock_duration(), Duration::from_secs(30));
    let requests = server.received_requests().await.expect("recorded");
    let body = String::from_utf8_lossy(&requests[0].body).into_owned();
    assert!(
        body.contains("<LockDuration>PT45S</LockDuration><MaxDeliveryCount>5</MaxDeliveryCount>")
    );
}

async fn send_error(status: u16, detail: &str) -> alien_providers::ProviderError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/jobs/messages"))
        .respond_with(sb_error(status, detail))
        .mount(&server)
        .await;
    queue(&server)
        .send(Payload::Text("hello".into()))
        .await
        .expect_err("must fail")
}

// Send Message: 401 bad SAS, 410 no queue, 403 quota exceeded, 413, 429, 503.
#[tokio::test]
async fn send_errors_map_to_kinds() {
    let err = send_error(401, "InvalidSignature: The token has an invalid signature.").await;
    assert_eq!(err.kind.name(), "PermissionDenied", "{err}");
    assert!(err.message.contains("InvalidSignature"), "{err}");
    assert_eq!(
        send_error(
            410,
            "The messaging entity 'contoso:Queue:jobs' could not be found."
        )
        .await
        .kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        send_error(
            403,
            "QuotaExceeded: The maximum entity size has been reached."
        )
        .await
        .kind,
        ErrorKind::Throttled
    );
    assert_eq!(
        send_error(413, "The request entity is too large.")
            .await
            .kind
            .name(),
        "PayloadTooLarge"
    );
    assert_eq!(
        send_error(429, "Too many requests.").await.kind,
        ErrorKind::Throttled
    );
    assert_eq!(
        send_error(503, "ServerBusy: The server is busy.")
            .await
            .kind,
        ErrorKind::Unavailable
    );
}

// Upstream's binding caps messages at 64 KiB before sending (upstream-cloud-semantics.md §4.1).
#[tokio::test]
async fn oversize_payload_is_refused_before_any_request() {
    let server = MockServer::start().await;
    let err = queue(&server)
        .send(Payload::Text("x".repeat(65_537)))
        .await
        .expect_err("too large");
    assert_eq!(err.kind.name(), "PayloadTooLarge");
    assert_nothing_sent(&server).await;
}

// Lock operations: 404 → StaleReceipt (lock lost or message settled), 410 → NotFound (queue).
#[tokio::test]
async fn lock_errors_map_to_kinds() {
    let server = MockServer::start().await;
    let lost = format!("{}/jobs/messages/2/lost", server.uri());
    let gone = format!("{}/jobs/messages/3/gone", server.uri());
    Mock::given(path("/jobs/messages/2/lost"))
        .respond_with(sb_error(404, "The lock supplied is invalid."))
        .mount(&server)
        .await;
    Mock::given(path("/jobs/messages/3/gone"))
        .respond_with(sb_error(410, "The messaging entity could not be found."))
        .mount(&server)
        .await;
    let q = queue(&server);
    let ack = q
        .ack(&ReceiptHandle::new(lost.clone()))
        .await
        .expect_err("404");
    assert_eq!(ack.kind, ErrorKind::StaleReceipt, "{ack}");
    assert_eq!(ack.code(), "QUEUE_OPERATION_FAILED");
    let nack = q.nack(&ReceiptHandle::new(lost)).await.expect_err("404");
    assert_eq!(nack.kind, ErrorKind::StaleReceipt);
    let gone = q.ack(&ReceiptHandle::new(gone)).await.expect_err("410");
    assert_eq!(gone.kind, ErrorKind::NotFound);
}

// the SAS token elsewhere).
#[tokio::test]
async fn foreign_receipt_is_invalid_argument() {
    let server = MockServer::start().await;
    let q = queue(&server);
    for receipt in ["https://evil.example/jobs/messages/1/x", "not a uri", ""] {
        let err = q
            .ack(&ReceiptHandle::new(receipt))
            .await
            .expect_err("foreign");
        assert_eq!(err.kind, ErrorKind::InvalidArgument, "{receipt}");
    }
    let other = format!("{}/other/messages/1/x", server.uri());
    let err = q
        .nack(&ReceiptHandle::new(other))
        .await
        .expect_err("other queue");
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert_nothing_sent(&server).await;
}

// Without a service_bus section there is no queue to bind.
#[tokio::test]
async fn missing_service_bus_config_is_invalid_argument() {
    let clients =
        AzureClients::new(&AzureConfig::for_azurite("http://127.0.0.1:1/a")).expect("clients");
    let err = clients
        .service_bus_queue("jobs", Duration::from_secs(60))
        .expect_err("no config");
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
}
