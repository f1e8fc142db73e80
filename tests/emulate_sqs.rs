//! Acceptance: the AWS adapter (aws-sdk-rust, the same code that targets real AWS, moto and
//! LocalStack) against a running `alien emulate`'s SQS endpoint. A message sent through SQS's
//! API reaches the real worker process through the stack's queue trigger and is acked, and a
//! queue made with CreateQueue round-trips through the `QueueProvider` trait.
#![cfg(feature = "aws")]

mod common;

use alien_providers::aws::{AwsClients, AwsConfig, QueueSpec};
use alien_providers::{Payload, QueueProvider, ReceiveOptions};
use common::{events, start_stack, wait_trace};
use serde_json::json;

#[test]
fn sqs_api_messages_reach_the_real_worker() {
    let state = tempfile::tempdir().unwrap();
    let e = start_stack("examples/hello-worker", "aws", state.path(), &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The trace helpers use a blocking client: only the adapter's calls run on the runtime.
    let clients = runtime.block_on(AwsClients::new(&AwsConfig::for_endpoint(&e.control)));
    let id = runtime.block_on(async {
        // Provisioned as upstream does on AWS: visibility max(30, min(43200, 6 × 30 s)) for the
        // worker's 30 s timeout (upstream-cloud-semantics.md, AWS queue row), which is what the
        // aws profile already gives the stack's queue.
        let jobs = clients
            .create_queue(&QueueSpec::for_workers("jobs", &[30]))
            .await
            .expect("CreateQueue of the stack's queue");
        let attributes = jobs.attributes().await.unwrap();
        assert_eq!(attributes.visibility_timeout.as_secs(), 180);
        jobs.send(Payload::Json(json!({"from": "sqs"})))
            .await
            .expect("SendMessage")
    });
    wait_trace(&e, "the SQS message delivered to the app and acked", |t| {
        events(t, "acked", id.as_str()).len() == 1
    });
    runtime.block_on(async {
        // A queue no worker consumes, created through the API: send, receive, delete.
        let scratch = clients
            .create_queue(&QueueSpec::for_workers("scratch", &[]))
            .await
            .expect("CreateQueue of a new queue");
        scratch
            .send(Payload::Text("hello".into()))
            .await
            .expect("SendMessage");
        let got = scratch.receive(ReceiveOptions::new(10)).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            (&got[0].payload, got[0].attempt),
            (&Payload::Text("hello".into()), 1)
        );
        scratch.ack(&got[0].receipt).await.unwrap();
        let left = scratch.attributes().await.unwrap();
        assert_eq!(
            (left.approximate_visible, left.approximate_in_flight),
            (0, 0)
        );
    });
}
