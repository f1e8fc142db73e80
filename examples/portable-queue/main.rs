//! One small program written only against the provider traits (`QueueProvider`), run against
//! `alien emulate`, moto or LocalStack through the AWS adapter, or Google's Pub/Sub emulator
//! through the GCP adapter: the target is configuration alone.
//!
//! ```sh
//! # against alien emulate (its SQS endpoint is the control URL it prints)
//! cargo run --release -- emulate examples/portable-queue --platform aws &
//! QUEUE_TARGET=sqs:http://127.0.0.1:PORT cargo run --example portable-queue --features aws,gcp
//! # against Google's Pub/Sub emulator
//! QUEUE_TARGET=pubsub:$(bash scripts/peers/pubsub.sh start) \
//!   cargo run --example portable-queue --features aws,gcp
//! ```
//!
//! It sends three jobs to a queue of its own, then receives and acks until all three are
//! done, and prints one line per job. Exit 1 with the error on any failure, 2 on a bad
//! `QUEUE_TARGET`.

use std::process::ExitCode;
use std::time::Duration;

use alien_providers::aws::{AwsClients, AwsConfig, QueueSpec};
use alien_providers::gcp::{GcpClients, GcpConfig, PubSubQueueSpec};
use alien_providers::{Payload, QueueProvider, ReceiveOptions, Result};
use serde_json::json;

/// Jobs sent and expected back.
const JOBS: u64 = 3;

/// The portable part: nothing here knows which cloud it talks to.
async fn process_jobs<Q: QueueProvider>(queue: &Q) -> Result<Vec<String>> {
    for job in 1..=JOBS {
        queue.send(Payload::Json(json!({ "job": job }))).await?;
    }
    let mut done = Vec::new();
    for _ in 0..30 {
        let wait = ReceiveOptions::new(10).with_wait(Duration::from_secs(1));
        for message in queue.receive(wait).await? {
            done.push(format!(
                "done {} (message {}, attempt {})",
                message.payload.to_body(),
                message.id,
                message.attempt
            ));
            queue.ack(&message.receipt).await?;
        }
        if done.len() as u64 >= JOBS {
            break;
        }
    }
    Ok(done)
}

/// Where the queue lives, from `QUEUE_TARGET`.
enum Target {
    /// An SQS endpoint: `alien emulate`, moto, LocalStack.
    Sqs(String),
    /// Google's Pub/Sub emulator.
    PubSub(String),
}

fn target() -> std::result::Result<Target, String> {
    let value = std::env::var("QUEUE_TARGET")
        .map_err(|_| "set QUEUE_TARGET to sqs:URL or pubsub:URL".to_string())?;
    match value.split_once(':') {
        Some(("sqs", url)) => Ok(Target::Sqs(url.to_string())),
        Some(("pubsub", url)) => Ok(Target::PubSub(url.to_string())),
        _ => Err(format!(
            "QUEUE_TARGET={value}: expected sqs:URL or pubsub:URL"
        )),
    }
}

async fn run(target: Target, name: &str) -> Result<Vec<String>> {
    match target {
        Target::Sqs(url) => {
            let clients = AwsClients::new(&AwsConfig::for_endpoint(&url)).await;
            let queue = clients
                .create_queue(&QueueSpec::for_workers(name, &[]))
                .await?;
            process_jobs(&queue).await
        }
        Target::PubSub(url) => {
            let config = GcpConfig::for_emulators("portable-queue", Some(&url), None);
            let clients = GcpClients::new(&config).await?;
            let queue = clients
                .create_queue(&PubSubQueueSpec::upstream(name))
                .await?;
            process_jobs(&queue).await
        }
    }
}

fn main() -> ExitCode {
    let target = match target() {
        Ok(target) => target,
        Err(message) => {
            eprintln!("portable-queue: {message}");
            return ExitCode::from(2);
        }
    };
    let name = format!("portable-{}", std::process::id());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("portable-queue: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(target, &name)) {
        Ok(done) if done.len() as u64 == JOBS => {
            for line in done {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Ok(done) => {
            eprintln!(
                "portable-queue: only {} of {JOBS} jobs came back",
                done.len()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("portable-queue: {e}");
            ExitCode::FAILURE
        }
    }
}
