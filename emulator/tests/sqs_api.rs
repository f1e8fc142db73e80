//! The SQS-compatible endpoint of the control API, driven by the same code that targets real
//! AWS: `alien_providers::aws` (aws-sdk-rust) through [`QueueProvider`]. Time moves by
//! advancing the simulation's virtual clock, never by waiting on the wall clock.
#![cfg(feature = "aws")]

use std::path::Path;
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::emulate::control::{ControlServer, ControlState};
use alien_emulator::engine::{SendVia, SharedSim, Sim, SimConfig, shared};
use alien_emulator::profile::Profile;
use alien_emulator::stack::{Stack, parse_stack_json};
use alien_providers::aws::{AwsClients, AwsConfig, AwsQueue, QueueSpec};
use alien_providers::{ErrorKind, Payload, QueueProvider, ReceiveOptions, SendOutcome};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

fn stack() -> Stack {
    let doc = json!({"id": "demo", "resources": {
        "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []}
    }});
    parse_stack_json(&doc.to_string(), Path::new("demo.json")).unwrap()
}

fn new_sim(stack: &Stack) -> Sim {
    let profile =
        Profile::new(Platform::Aws, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
    Sim::new(stack, profile, SimConfig::new(7, start()))
}

struct Fixture {
    server: ControlServer,
    sim: SharedSim,
    stack: Stack,
    clients: AwsClients,
}

impl Fixture {
    async fn new() -> Fixture {
        let stack = stack();
        let sim = shared(new_sim(&stack));
        let state = ControlState::new(sim.clone(), &stack);
        let server = ControlServer::bind("127.0.0.1:0".parse().unwrap(), state)
            .await
            .unwrap();
        let clients = AwsClients::new(&AwsConfig::for_endpoint(&server.url())).await;
        Fixture {
            server,
            sim,
            stack,
            clients,
        }
    }

    /// The stack's `jobs` queue as upstream provisions it (visibility 30 s), reached as the
    /// SQS API is (the service's size limit, not the binding's).
    async fn jobs(&self) -> AwsQueue {
        self.clients
            .create_queue(&QueueSpec::for_workers("jobs", &[]))
            .await
            .expect("create jobs")
            .service_api()
    }

    fn advance(&self, by: Duration) {
        self.sim.lock().unwrap().advance(by).unwrap();
    }

    async fn receive_one(&self, queue: &AwsQueue) -> alien_providers::QueueMessage {
        let mut got = queue.receive(ReceiveOptions::new(1)).await.unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        got.remove(0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_receive_ack_roundtrip_with_attempts() {
    let f = Fixture::new().await;
    let jobs = f.jobs().await;
    assert!(jobs.url().ends_with("/000000000000/jobs"), "{}", jobs.url());

    let id = jobs.send(Payload::Json(json!({"job": 1}))).await.unwrap();
    let got = f.receive_one(&jobs).await;
    assert_eq!(got.id, id);
    assert_eq!(got.payload, Payload::Json(json!({"job": 1})));
    assert_eq!(got.attempt, 1);
    assert_eq!(got.enqueued_at, start());

    // Leased: nothing visible until the ack.
    assert!(
        jobs.receive(ReceiveOptions::new(10))
            .await
            .unwrap()
            .is_empty()
    );
    jobs.ack(&got.receipt).await.unwrap();
    let attributes = jobs.attributes().await.unwrap();
    assert_eq!(attributes.approximate_visible, 0);
    assert_eq!(attributes.approximate_in_flight, 0);
    assert_eq!(attributes.visibility_timeout, Duration::from_secs(30));
    assert_eq!(
        f.sim.lock().unwrap().queue_stats("jobs").unwrap().visible,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visibility_expiry_on_the_virtual_clock_redelivers() {
    let f = Fixture::new().await;
    let jobs = f.jobs().await;
    jobs.send(Payload::Text("once".into())).await.unwrap();
    let first = f.receive_one(&jobs).await;
    assert_eq!(first.attempt, 1);

    f.advance(Duration::from_secs(29));
    assert!(
        jobs.receive(ReceiveOptions::new(1))
            .await
            .unwrap()
            .is_empty()
    );
    f.advance(Duration::from_secs(2));
    let second = f.receive_one(&jobs).await;
    assert_eq!((second.id.clone(), second.attempt), (first.id, 2));
    assert_eq!(second.payload, Payload::Text("once".into()));

    // SQS API reference, DeleteMessage: with a superseded receipt "the request succeeds, but
    // the message will not be deleted".
    jobs.ack(&first.receipt).await.unwrap();
    assert_eq!(jobs.attributes().await.unwrap().approximate_in_flight, 1);
    jobs.ack(&second.receipt).await.unwrap();
    assert_eq!(jobs.attributes().await.unwrap().approximate_in_flight, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nack_and_change_visibility() {
    let f = Fixture::new().await;
    let jobs = f.jobs().await;
    jobs.send(Payload::Text("retry me".into())).await.unwrap();
    let first = f.receive_one(&jobs).await;
    jobs.nack(&first.receipt).await.unwrap();
    let second = f.receive_one(&jobs).await;
    assert_eq!(second.attempt, 2);

    // Renewed to 120 s: still hidden after the queue's 30 s.
    jobs.change_visibility(&second.receipt, Duration::from_secs(120))
        .await
        .unwrap();
    f.advance(Duration::from_secs(60));
    assert!(
        jobs.receive(ReceiveOptions::new(1))
            .await
            .unwrap()
            .is_empty()
    );
    f.advance(Duration::from_secs(61));
    assert_eq!(f.receive_one(&jobs).await.attempt, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_service_limit_is_payload_too_large() {
    let f = Fixture::new().await;
    let jobs = f.jobs().await;
    let limit = 1024 * 1024;
    let err = jobs
        .send(Payload::Text("x".repeat(limit + 1)))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind,
        ErrorKind::PayloadTooLarge {
            size: limit as u64 + 1,
            limit: limit as u64
        },
        "{err}"
    );
    jobs.send(Payload::Text("x".repeat(limit))).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_send_reports_each_entry() {
    let f = Fixture::new().await;
    let small = f
        .clients
        .create_queue(&QueueSpec {
            max_message_bytes: Some(1024),
            ..QueueSpec::for_workers("small", &[])
        })
        .await
        .unwrap()
        .service_api();
    let outcomes = small
        .send_batch(vec![
            Payload::Text("a".into()),
            Payload::Text("b".repeat(2000)),
            Payload::Json(json!({"c": 3})),
        ])
        .await
        .unwrap();
    assert!(matches!(outcomes[0], SendOutcome::Sent(_)), "{outcomes:?}");
    match &outcomes[1] {
        SendOutcome::Rejected(err) => assert_eq!(
            err.kind,
            ErrorKind::PayloadTooLarge {
                size: 2000,
                limit: 1024
            },
            "{err}"
        ),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(matches!(outcomes[2], SendOutcome::Sent(_)), "{outcomes:?}");
    let got = small.receive(ReceiveOptions::new(10)).await.unwrap();
    let payloads: Vec<_> = got.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(
        payloads,
        vec![Payload::Text("a".into()), Payload::Json(json!({"c": 3}))]
    );
    assert_eq!(f.sim.lock().unwrap().queue_names(), vec!["jobs", "small"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_queue_is_not_found() {
    let f = Fixture::new().await;
    let extra = f
        .clients
        .create_queue(&QueueSpec::for_workers("extra", &[]))
        .await
        .unwrap();
    // A restarted emulator rebuilds only the stack's queues.
    *f.sim.lock().unwrap() = new_sim(&f.stack);
    let err = extra.send(Payload::Text("lost".into())).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    assert!(
        err.message
            .contains("AWS.SimpleQueueService.NonExistentQueue"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_empties_the_queue() {
    let f = Fixture::new().await;
    let jobs = f.jobs().await;
    for n in 0..3 {
        jobs.send(Payload::Json(json!(n))).await.unwrap();
    }
    jobs.purge().await.unwrap();
    assert_eq!(jobs.attributes().await.unwrap().approximate_visible, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_queue_configures_the_stack_queue() {
    let f = Fixture::new().await;
    let jobs = f
        .clients
        .create_queue(&QueueSpec::for_workers("jobs", &[15]))
        .await
        .unwrap();
    assert_eq!(
        jobs.attributes().await.unwrap().visibility_timeout,
        Duration::from_secs(90)
    );
}

/// SQS dead-letter queues (developer guide, "Using dead-letter queues"; API reference,
/// ReceiveMessage `ApproximateReceiveCount`): after `maxReceiveCount` receives the message
/// moves to the queue named by `deadLetterTargetArn`, keeping its MessageId, and its receive
/// count goes on counting there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_policy_moves_the_message_to_its_dead_letter_queue() {
    let f = Fixture::new().await;
    let queue = f
        .clients
        .create_queue(&QueueSpec {
            max_receive_count: Some(2),
            ..QueueSpec::for_workers("redriven", &[])
        })
        .await
        .unwrap()
        .service_api();
    let id = queue.send(Payload::Text("poison".into())).await.unwrap();
    for attempt in 1..=2 {
        let got = queue.receive(ReceiveOptions::new(1)).await.unwrap();
        assert_eq!(got[0].attempt, attempt);
        queue.nack(&got[0].receipt).await.unwrap();
    }
    assert!(
        queue
            .receive(ReceiveOptions::new(1))
            .await
            .unwrap()
            .is_empty()
    );
    let dead = queue.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id.as_str(), dead[0].attempt), (id.as_str(), 3));
    assert_eq!(queue.attributes().await.unwrap().dead_letter_count, Some(1));
}

/// A RedrivePolicy naming no existing queue is refused (SQS: InvalidParameterValue, "Dead
/// letter target does not exist").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_policy_to_a_missing_queue_is_refused() {
    let f = Fixture::new().await;
    let body = json!({"QueueName": "orphan", "Attributes": {"RedrivePolicy":
        json!({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:nowhere", "maxReceiveCount": 3}).to_string()}});
    let response = raw(&f, "AmazonSQS.CreateQueue", &body.to_string()).await;
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("Dead letter target does not exist"), "{text}");
}

// ReceiveMessage WaitTimeSeconds: a long poll returns as soon as a message arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_returns_when_a_message_arrives() {
    let f = Fixture::new().await;
    let jobs = f.jobs().await;
    let sim = f.sim.clone();
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sim.lock()
            .unwrap()
            .send("jobs", Payload::Text("late".into()), SendVia::Service)
            .unwrap();
    });
    let started = std::time::Instant::now();
    let got = jobs
        .receive(ReceiveOptions::new(1).with_wait(Duration::from_secs(10)))
        .await
        .unwrap();
    sender.await.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].payload, Payload::Text("late".into()));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// One raw SQS JSON call.
async fn raw(f: &Fixture, target: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/", f.server.url()))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", target)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

// SQS developer guide, JSON API error responses: status, x-amzn-query-error, __type, message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_errors_have_the_sqs_json_shape() {
    let f = Fixture::new().await;
    let resp = raw(
        &f,
        "AmazonSQS.SendMessage",
        r#"{"QueueUrl": "http://x/000000000000/nope", "MessageBody": "hi"}"#,
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
    let headers = resp.headers().clone();
    assert_eq!(
        headers["x-amzn-query-error"],
        "AWS.SimpleQueueService.NonExistentQueue;Sender"
    );
    assert_eq!(headers["content-type"], "application/x-amz-json-1.0");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
    assert_eq!(
        body["message"],
        "The specified queue does not exist: 'nope' (queues: jobs)"
    );

    let resp = raw(&f, "AmazonSQS.FlyToTheMoon", "{}").await;
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(resp.headers()["x-amzn-query-error"], "InvalidAction;Sender");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["__type"],
        "com.amazonaws.sqs#UnknownOperationException"
    );
    assert!(body["message"].as_str().unwrap().contains("FlyToTheMoon"));

    let resp = raw(&f, "AmazonSQS.SendMessage", "{not json").await;
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("malformed JSON body"),
        "{body}"
    );

    let resp = raw(
        &f,
        "AmazonSQS.DeleteMessage",
        r#"{"QueueUrl": "jobs", "ReceiptHandle": "forged"}"#,
    )
    .await;
    assert_eq!(
        resp.headers()["x-amzn-query-error"],
        "ReceiptHandleIsInvalid;Sender"
    );

    // Without an SQS target, `POST /` is still the control API's 404.
    let resp = reqwest::Client::new()
        .post(format!("{}/", f.server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "no route for POST /");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_send_and_receive_carry_the_body_md5() {
    let f = Fixture::new().await;
    let resp = raw(
        &f,
        "AmazonSQS.SendMessage",
        r#"{"QueueUrl": "http://127.0.0.1/000000000000/jobs", "MessageBody": "hello"}"#,
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let sent: Value = resp.json().await.unwrap();
    assert_eq!(sent["MD5OfMessageBody"], "5d41402abc4b2a76b9719d911017c592");

    let resp = raw(
        &f,
        "AmazonSQS.ReceiveMessage",
        r#"{"QueueUrl": "jobs", "MaxNumberOfMessages": 10, "MessageSystemAttributeNames": ["All"]}"#,
    )
    .await;
    let got: Value = resp.json().await.unwrap();
    let message = &got["Messages"][0];
    assert_eq!(message["MessageId"], sent["MessageId"]);
    assert_eq!(message["Body"], "hello");
    assert_eq!(message["MD5OfBody"], "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(message["Attributes"]["ApproximateReceiveCount"], "1");
    assert_eq!(
        message["Attributes"]["SentTimestamp"],
        start().timestamp_millis().to_string()
    );

    // Empty: `Messages` left out, as SQS does.
    let resp = raw(&f, "AmazonSQS.ReceiveMessage", r#"{"QueueUrl": "jobs"}"#).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), json!({}));

    let resp = raw(&f, "AmazonSQS.ListQueues", "{}").await;
    let listed: Value = resp.json().await.unwrap();
    let host = f.server.local_addr();
    assert_eq!(
        listed,
        json!({"QueueUrls": [format!("http://{host}/000000000000/jobs")]})
    );
}
