//! SQS over its JSON protocol: the emulator's SQS endpoint and moto answer the same calls.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{Value, json};

use super::{Result, on_threads};

/// Threads that fill a queue to its depth.
const FILLERS: usize = 8;

/// A blocking client with a 120 s timeout and one idle connection per host.
pub fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(1)
        .build()
        .expect("client")
}

/// The headers of an SQS JSON-protocol call. moto reads the region and account from a
/// SigV4-shaped `authorization` header; it checks no signature.
pub fn sqs_headers(operation: &str) -> [(&'static str, String); 3] {
    [
        ("x-amz-target", format!("AmazonSQS.{operation}")),
        ("content-type", "application/x-amz-json-1.0".to_string()),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, \
             SignedHeaders=host, Signature=0"
                .to_string(),
        ),
    ]
}

/// One SQS queue behind an endpoint.
pub struct Sqs {
    pub endpoint: String,
    pub queue_url: String,
}

impl Sqs {
    /// Creates the queue `name` on `endpoint` (moto, or any SQS JSON endpoint).
    pub fn create(endpoint: &str, name: &str) -> Result<Sqs> {
        let probe = Sqs {
            endpoint: endpoint.to_string(),
            queue_url: String::new(),
        };
        let reply = probe.call(&http(), "CreateQueue", json!({"QueueName": name}))?;
        let queue_url = reply["QueueUrl"]
            .as_str()
            .ok_or_else(|| format!("CreateQueue answered {reply}"))?
            .to_string();
        Ok(Sqs {
            endpoint: endpoint.to_string(),
            queue_url,
        })
    }

    /// One call; the queue URL is added to the body unless it has one or creates the queue.
    pub fn call(&self, http: &Client, operation: &str, mut body: Value) -> Result<Value> {
        if body.get("QueueUrl").is_none() && operation != "CreateQueue" {
            body["QueueUrl"] = json!(self.queue_url);
        }
        let mut request = http.post(format!("{}/", self.endpoint)).json(&body);
        for (name, value) in sqs_headers(operation) {
            request = request.header(name, value);
        }
        let response = request.send().map_err(|e| format!("{operation}: {e}"))?;
        let status = response.status();
        let text = response.text().map_err(|e| format!("{operation}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{operation}: {status}: {text}"));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("{operation}: {e}: {text}"))
    }

    /// Messages visible in the queue.
    pub fn depth(&self, http: &Client) -> Result<usize> {
        let reply = self.call(
            http,
            "GetQueueAttributes",
            json!({"AttributeNames": ["ApproximateNumberOfMessages"]}),
        )?;
        reply["Attributes"]["ApproximateNumberOfMessages"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("GetQueueAttributes answered {reply}"))
    }

    /// Brings the queue to `target` messages (within 10 % above it), purging first when it
    /// holds more. Returns the depth it holds now.
    pub fn set_depth(&self, target: usize) -> Result<usize> {
        let http = http();
        let mut depth = self.depth(&http)?;
        if depth > target + target / 10 {
            self.call(&http, "PurgeQueue", json!({}))?;
            depth = self.depth(&http)?;
            if depth != 0 {
                return Err(format!("PurgeQueue left {depth} messages"));
            }
        }
        if depth < target {
            self.fill(target - depth)?;
            depth = self.depth(&http)?;
        }
        if depth < target {
            return Err(format!("filled to {depth}, short of {target}"));
        }
        Ok(depth)
    }

    /// Adds `n` small messages with `SendMessageBatch` (10 per call) from [`FILLERS`] threads.
    pub fn fill(&self, n: usize) -> Result<()> {
        let batches = n.div_ceil(10);
        let next = AtomicUsize::new(0);
        on_threads(FILLERS, || {
            let http = http();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    return Ok(());
                }
                let entries: Vec<Value> = (b * 10..((b + 1) * 10).min(n))
                    .map(|i| json!({"Id": format!("m{i}"), "MessageBody": format!("fill-{i}")}))
                    .collect();
                let reply = self.call(&http, "SendMessageBatch", json!({"Entries": entries}))?;
                if reply["Failed"].as_array().is_some_and(|f| !f.is_empty()) {
                    return Err(format!("SendMessageBatch failed entries: {reply}"));
                }
            }
        })
    }
}
