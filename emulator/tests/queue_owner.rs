//! The `local-queue-http` owner over real HTTP on loopback, driven with the raw JSON bodies
//! the published client sends (published-3.3.49.md §4). Every reply is decoded with the rules
//! the published client applies (§4.2–§4.3), written here independently of the owner's types.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::emulate::iam::Iam;
use alien_emulator::emulate::queue_owner::{QueueOwner, QueueTokens, serve};
use alien_emulator::engine::{Behaviour, Kind, Scripted, SharedSim, Sim, SimConfig, shared};
use alien_emulator::profile::Profile;
use alien_emulator::stack::parse_stack_json;
use alien_providers::Payload;
use chrono::{NaiveDate, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Whole-request bound for every call; the published client uses 30 s (§4.1).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const MIB: usize = 1024 * 1024;

/// What the published client decodes, from the documented serde rules (§4.2–§4.3). No
/// `deny_unknown_fields`: unknown keys are ignored, as upstream does.
mod client {
    use alien_providers::Payload;
    use serde::Deserialize;
    use serde_json::Value;

    /// `AlienError<ErrorData>`: `retryable` and `internal` have no serde default (§4.3).
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct AlienError {
        pub code: String,
        pub message: String,
        pub retryable: bool,
        pub internal: bool,
        #[serde(default)]
        pub context: Option<Value>,
        #[serde(default)]
        pub hint: Option<String>,
        #[serde(default)]
        pub http_status_code: Option<u16>,
        #[serde(default)]
        pub source: Option<Box<AlienError>>,
        /// Must be a valid `ErrorData` when present; the owner must omit it (§4.3).
        #[serde(default, rename = "_error_for_pattern_matching")]
        pub error_for_pattern_matching: Option<Value>,
    }

    /// `Message`: all three keys required (§4.2).
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Message {
        pub payload: Payload,
        pub receipt_handle: String,
        pub attempt: u32,
    }

    #[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
    #[serde(tag = "status", rename_all = "camelCase")]
    pub enum QueueSendResult {
        Sent,
        Rejected { code: String, message: String },
        Unknown { code: String, message: String },
    }

    #[derive(Debug, PartialEq, Eq, Deserialize)]
    #[serde(tag = "status", rename_all = "camelCase")]
    pub enum QueueAckResult {
        Acknowledged,
        Failed { code: String, message: String },
    }

    #[derive(Debug, PartialEq, Eq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Stats {
        pub total: u64,
        pub visible: u64,
        pub in_flight: u64,
        pub delayed: u64,
    }
}

/// One HTTP reply.
struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    www_authenticate: Option<String>,
    body: String,
}

impl Reply {
    /// A unit result: 2xx and exactly what serde_json decodes `()` from, the literal `null`.
    fn assert_unit(&self) {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        assert_eq!(self.body, "null");
        serde_json::from_str::<()>(&self.body).expect("the client decodes () from this body");
        assert_json_content_type(self);
    }

    /// A 2xx reply decoded as the client decodes it.
    fn ok<T: serde::de::DeserializeOwned>(&self) -> T {
        assert!(self.status.is_success(), "{} {}", self.status, self.body);
        assert_json_content_type(self);
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A non-2xx reply decoded as the client decodes it, checked against the rules every
    /// owner error must follow (§4.3): status = `httpStatusCode`, no pattern-matching data.
    fn error(&self) -> client::AlienError {
        assert!(!self.status.is_success(), "{} {}", self.status, self.body);
        assert_json_content_type(self);
        let err: client::AlienError =
            serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body));
        assert_eq!(
            err.http_status_code,
            Some(self.status.as_u16()),
            "{}",
            self.body
        );
        assert!(err.error_for_pattern_matching.is_none(), "{}", self.body);
        assert!(err.hint.is_none() && err.source.is_none(), "{}", self.body);
        let raw: Value = serde_json::from_str(&self.body).unwrap();
        assert!(
            raw.as_object().unwrap().keys().all(|k| [
                "code",
                "message",
                "retryable",
                "internal",
                "context",
                "httpStatusCode"
            ]
            .contains(&k.as_str())),
            "only camelCase AlienError keys: {}",
            self.body
        );
        err
    }
}

fn assert_json_content_type(reply: &Reply) {
    assert_eq!(
        reply.content_type.as_deref(),
        Some("application/json"),
        "{}",
        reply.body
    );
}

/// An owner serving a small stack on 127.0.0.1:0: queue `jobs` (no consumers, read by
/// bindings) and queue `orders` (triggers worker `processor`), on the Local profile.
struct Harness {
    sim: SharedSim,
    tokens: QueueTokens,
    client: reqwest::Client,
    server: JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    async fn start() -> Harness {
        Harness::start_on(Platform::Local).await
    }

    /// The same stack on `platform`, with the owner checking workload calls against the
    /// platform's IAM rules. Worker `reader` links `jobs` but its profile names `jobs` with
    /// `queue/data-read` only.
    async fn start_on(platform: Platform) -> Harness {
        let doc = json!({"id": "demo", "resources": {
            "reader": {"config": {"type": "worker", "id": "reader", "links": [{"type": "queue", "id": "jobs"}],
                "permissions": "reader", "code": {"type": "image", "image": "x:1"}, "triggers": []},
                "lifecycle": "live", "dependencies": []},
            "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []},
            "orders": {"config": {"type": "queue", "id": "orders"}, "lifecycle": "frozen", "dependencies": []},
            "processor": {"config": {"type": "worker", "id": "processor", "links": [], "permissions": "execution",
                "code": {"type": "image", "image": "x:1"}, "timeoutSeconds": 60, "memoryMb": 1024,
                "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "orders"}}]},
                "lifecycle": "live", "dependencies": []}
        }, "permissions": {"profiles": {"execution": {}, "reader": {"jobs": ["queue/data-read"]}}}});
        let stack = parse_stack_json(&doc.to_string(), Path::new("demo.json")).unwrap();
        let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
        let mut config = SimConfig::new(1, Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
        config.cold_starts = false;
        let mut sim = Sim::new(&stack, profile.clone(), config);
        sim.set_handler(
            "processor",
            Box::new(Scripted::new(Behaviour {
                duration: Duration::from_secs(1),
                ..Behaviour::default()
            })),
        )
        .unwrap();
        let sim = shared(sim);

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tokens = QueueTokens::for_stack(listener.local_addr().unwrap(), &stack).unwrap();
        let iam = Arc::new(Iam::new(&stack, &profile));
        let owner = QueueOwner::new(sim.clone(), tokens.clone())
            .unwrap()
            .with_iam(iam);
        let server = tokio::spawn(async move { serve(listener, owner).await.unwrap() });
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap();
        Harness {
            sim,
            tokens,
            client,
            server,
        }
    }

    /// `(endpoint, token)` from the binding JSON an app receives (§3).
    fn binding(&self, queue: &str) -> (String, String) {
        let binding = self
            .tokens
            .binding_json(queue)
            .expect("queue has a binding");
        (
            binding["endpoint"].as_str().unwrap().to_owned(),
            binding["token"].as_str().unwrap().to_owned(),
        )
    }

    async fn raw(&self, url: &str, authorization: Option<&str>, body: impl Into<String>) -> Reply {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body.into());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("loopback request");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let content_type = header("content-type");
        let www_authenticate = header("www-authenticate");
        let status = response.status();
        Reply {
            status,
            content_type,
            www_authenticate,
            body: response.text().await.unwrap(),
        }
    }

    /// A call exactly as the published client makes it: POST to the endpoint, bearer token.
    async fn call(&self, queue: &str, body: impl Into<String>) -> Reply {
        let (endpoint, token) = self.binding(queue);
        self.raw(&endpoint, Some(&format!("Bearer {token}")), body)
            .await
    }

    /// A call with `holder`'s own binding token.
    async fn call_as(&self, holder: &str, queue: &str, body: impl Into<String>) -> Reply {
        let binding = self.tokens.binding_json_for(queue, holder).unwrap();
        let (endpoint, token) = (
            binding["endpoint"].as_str().unwrap(),
            binding["token"].as_str().unwrap(),
        );
        self.raw(endpoint, Some(&format!("Bearer {token}")), body)
            .await
    }

    async fn send_json(&self, queue: &str, data: Value) {
        let body = json!({"operation": "send", "message": {"type": "json", "data": data}});
        self.call(queue, body.to_string()).await.assert_unit();
    }

    async fn receive(&self, queue: &str, max: u32) -> Vec<client::Message> {
        self.call(
            queue,
            format!(r#"{{"operation":"receive","maxMessages":{max}}}"#),
        )
        .await
        .ok()
    }

    async fn stats(&self, queue: &str) -> client::Stats {
        self.call(queue, r#"{"operation":"stats"}"#).await.ok()
    }
}

fn ack_body(receipt: &str) -> String {
    json!({"operation": "ack", "receipt": receipt}).to_string()
}

/// §4.2/§4.5: send → receive → ack, unit replies are the literal `null`; nack keeps the
/// attempt count, so the next receive reports attempt 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_receive_nack_ack_round_trip() {
    let h = Harness::start().await;
    h.call(
        "jobs",
        r#"{"operation":"send","message":{"type":"json","data":{"order":42,"items":["a","b"]}}}"#,
    )
    .await
    .assert_unit();
    h.call(
        "jobs",
        r#"{"operation":"send","message":{"type":"text","data":"hello"}}"#,
    )
    .await
    .assert_unit();

    let reply = h
        .call("jobs", r#"{"operation":"receive","maxMessages":1}"#)
        .await;
    let raw: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        raw[0]["payload"],
        json!({"type": "json", "data": {"order": 42, "items": ["a", "b"]}})
    );
    let first: Vec<client::Message> = reply.ok();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].attempt, 1);

    h.call(
        "jobs",
        json!({"operation": "nack", "receipt": first[0].receipt_handle}).to_string(),
    )
    .await
    .assert_unit();

    let both = h.receive("jobs", 10).await;
    assert_eq!(both.len(), 2, "FIFO by enqueue order");
    assert_eq!(
        both[0].payload,
        Payload::Json(json!({"order": 42, "items": ["a", "b"]}))
    );
    assert_eq!(both[0].attempt, 2, "nack keeps the attempt count");
    assert_eq!(both[1].payload, Payload::Text("hello".into()));
    assert_eq!(both[1].attempt, 1);
    for m in &both {
        h.call("jobs", ack_body(&m.receipt_handle))
            .await
            .assert_unit();
    }
    assert!(
        h.receive("jobs", 10).await.is_empty(),
        "empty array, not an error"
    );

    let sim = h.sim.lock().unwrap();
    let acked = sim.trace().count(Kind::Acked, Some("jobs"));
    assert_eq!(acked, 2, "{}", sim.trace().render_text());
}

/// §4.5: ack with a receipt superseded by a newer delivery → QUEUE_OPERATION_FAILED (502,
/// retryable per §4.3); the current receipt still acks, and acking a gone message is ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_receipt_is_queue_operation_failed() {
    let h = Harness::start().await;
    h.send_json("jobs", json!(1)).await;
    let old = h.receive("jobs", 1).await.remove(0).receipt_handle;
    h.call(
        "jobs",
        json!({"operation":"nack","receipt":old}).to_string(),
    )
    .await
    .assert_unit();
    let new = h.receive("jobs", 1).await.remove(0).receipt_handle;

    for op in ["ack", "nack"] {
        let reply = h
            .call("jobs", json!({"operation": op, "receipt": old}).to_string())
            .await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.body);
        let err = reply.error();
        assert_eq!(err.code, "QUEUE_OPERATION_FAILED");
        assert!(err.retryable);
        assert!(!err.internal);
        let id = old.split(':').next().unwrap();
        assert_eq!(
            err.message,
            format!(
                "Queue operation '{op}' failed: stale receipt handle for message {id}: the \
                 message was redelivered and a newer receipt supersedes this one"
            )
        );
        assert_eq!(err.context.unwrap()["operation"], op);
    }

    h.call("jobs", ack_body(&new)).await.assert_unit();
    h.call("jobs", ack_body(&new)).await.assert_unit();
    h.call("jobs", ack_body("not-a-receipt"))
        .await
        .assert_unit();
}

/// §4.5: renew takes 1..=600 s (else INVALID_INPUT, 400) and needs a live lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_validates_duration_and_lease() {
    let h = Harness::start().await;
    h.send_json("jobs", json!({"n": 1})).await;
    let receipt = h.receive("jobs", 1).await.remove(0).receipt_handle;
    let renew = |seconds: u64| {
        json!({"operation": "renew", "receipt": receipt, "durationSeconds": seconds}).to_string()
    };

    for bad in [0, 601] {
        let reply = h.call("jobs", renew(bad)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        let err = reply.error();
        assert_eq!(err.code, "INVALID_INPUT");
        assert_eq!(
            err.message,
            "renew queue lease: Invalid input - durationSeconds must be between 1 and 600"
        );
        assert!(!err.retryable && !err.internal);
    }
    h.call("jobs", renew(600)).await.assert_unit();
    h.call("jobs", renew(1)).await.assert_unit();

    // A renew with an unparseable handle is the stale-receipt error with id 0.
    let reply = h
        .call(
            "jobs",
            json!({"operation":"renew","receipt":"garbage","durationSeconds":30}).to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(
        reply
            .error()
            .message
            .contains("stale receipt handle for message 0")
    );
}

/// §4.5: maxMessages outside 1..=10 → BINDING_SETUP_FAILED (500, not retryable).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_count_is_validated() {
    let h = Harness::start().await;
    for n in [0_u64, 11, 5_000_000_000] {
        let reply = h
            .call(
                "jobs",
                format!(r#"{{"operation":"receive","maxMessages":{n}}}"#),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            reply.body
        );
        let err = reply.error();
        assert_eq!(err.code, "BINDING_SETUP_FAILED");
        assert_eq!(
            err.message,
            format!(
                "Binding setup failed for type 'queue.local': Batch size {n} is invalid. Must \
                 be between 1 and 10"
            )
        );
        assert!(!err.retryable && !err.internal);
    }
    assert!(h.receive("jobs", 10).await.is_empty());
}

/// §4.5: single send accepts 0..=65,536 bytes; more → BINDING_SETUP_FAILED with upstream's
/// "Message size N bytes exceeds limit of 65536 bytes".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_send_is_binding_setup_failed() {
    let h = Harness::start().await;
    let text = |n: usize| {
        json!({"operation": "send", "message": {"type": "text", "data": "x".repeat(n)}}).to_string()
    };
    let reply = h.call("jobs", text(65_537)).await;
    assert_eq!(
        reply.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        reply.body
    );
    let err = reply.error();
    assert_eq!(err.code, "BINDING_SETUP_FAILED");
    assert!(
        err.message
            .contains("Message size 65537 bytes exceeds limit of 65536 bytes"),
        "{}",
        err.message
    );
    assert!(!err.retryable);

    // JSON is measured serialized: a string of 65,535 bytes plus its quotes is 65,537.
    let reply = h
        .call(
            "jobs",
            json!({"operation":"send","message":{"type":"json","data":"y".repeat(65_535)}})
                .to_string(),
        )
        .await;
    assert!(
        reply
            .error()
            .message
            .contains("Message size 65537 bytes exceeds limit of 65536 bytes")
    );

    h.call("jobs", text(65_536)).await.assert_unit();
    h.call("jobs", text(0)).await.assert_unit();
    assert_eq!(
        h.stats("jobs").await,
        client::Stats {
            total: 2,
            visible: 2,
            in_flight: 0,
            delayed: 0
        }
    );
}

/// §4.4–§4.5: sendBatch answers one result per input, in order; items outside 1..=65,536
/// bytes are rejected with QUEUE_MESSAGE_SIZE_INVALID while the rest are sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_batch_rejects_per_item() {
    let h = Harness::start().await;
    let body = json!({"operation": "sendBatch", "messages": [
        {"type": "json", "data": {"a": 1}},
        {"type": "text", "data": ""},
        {"type": "text", "data": "z".repeat(65_537)},
        {"type": "text", "data": "z".repeat(65_536)},
    ]});
    let reply = h.call("jobs", body.to_string()).await;
    let raw: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(raw[0], json!({"status": "sent"}));
    assert_eq!(
        raw[1],
        json!({"status": "rejected", "code": "QUEUE_MESSAGE_SIZE_INVALID",
               "message": "Message must contain 1 to 65536 bytes; got 0"})
    );
    let results: Vec<client::QueueSendResult> = reply.ok();
    use client::QueueSendResult::{Rejected, Sent};
    assert_eq!(
        results,
        [
            Sent,
            Rejected {
                code: "QUEUE_MESSAGE_SIZE_INVALID".into(),
                message: "Message must contain 1 to 65536 bytes; got 0".into()
            },
            Rejected {
                code: "QUEUE_MESSAGE_SIZE_INVALID".into(),
                message: "Message must contain 1 to 65536 bytes; got 65537".into()
            },
            Sent,
        ]
    );
    let received = h.receive("jobs", 10).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].payload, Payload::Json(json!({"a": 1})));

    let empty: Vec<client::QueueSendResult> = h
        .call("jobs", r#"{"operation":"sendBatch","messages":[]}"#)
        .await
        .ok();
    assert!(empty.is_empty());
}

/// §4.5: ackBatch applies ack's rules per receipt: acknowledged (current, gone or
/// unparseable) or failed{code, message = "<code>: <message>"} for a stale one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_batch_reports_per_receipt() {
    let h = Harness::start().await;
    h.send_json("jobs", json!("a")).await;
    h.send_json("jobs", json!("b")).await;
    let a = h.receive("jobs", 1).await.remove(0).receipt_handle;
    h.call("jobs", json!({"operation":"nack","receipt":a}).to_string())
        .await
        .assert_unit();
    let received = h.receive("jobs", 10).await;
    assert_eq!(received.len(), 2);
    let (a2, b) = (&received[0].receipt_handle, &received[1].receipt_handle);

    let body = json!({"operation": "ackBatch", "receipts": [b, a, a2, b, "garbage"]});
    let results: Vec<client::QueueAckResult> = h.call("jobs", body.to_string()).await.ok();
    use client::QueueAckResult::{Acknowledged, Failed};
    let id = a.split(':').next().unwrap();
    assert_eq!(
        results,
        [
            Acknowledged,
            Failed {
                code: "QUEUE_OPERATION_FAILED".into(),
                message: format!(
                    "QUEUE_OPERATION_FAILED: Queue operation 'ack' failed: stale receipt handle \
                     for message {id}: the message was redelivered and a newer receipt \
                     supersedes this one"
                ),
            },
            Acknowledged,
            Acknowledged,
            Acknowledged,
        ]
    );
    assert_eq!(h.stats("jobs").await.total, 0);
}

/// §4.5: purge deletes every message, leased or not; stats is one snapshot of
/// `{total, visible, inFlight, delayed}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_purge() {
    let h = Harness::start().await;
    for n in 0..3 {
        h.send_json("jobs", json!(n)).await;
    }
    assert_eq!(h.receive("jobs", 2).await.len(), 2);
    let reply = h.call("jobs", r#"{"operation":"stats"}"#).await;
    assert_eq!(
        serde_json::from_str::<Value>(&reply.body).unwrap(),
        json!({"total": 3, "visible": 1, "inFlight": 2, "delayed": 0})
    );
    assert_eq!(
        reply.ok::<client::Stats>(),
        client::Stats {
            total: 3,
            visible: 1,
            in_flight: 2,
            delayed: 0
        }
    );

    h.call("jobs", r#"{"operation":"purge"}"#)
        .await
        .assert_unit();
    assert_eq!(
        h.stats("jobs").await,
        client::Stats {
            total: 0,
            visible: 0,
            in_flight: 0,
            delayed: 0
        }
    );
    assert!(h.receive("jobs", 10).await.is_empty());
}

/// §4.3/§4.5: a missing or invalid bearer token → 401 LOCAL_QUEUE_UNAUTHORIZED, and the
/// request has no effect. Tokens are per queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_invalid_token_is_unauthorized() {
    let h = Harness::start().await;
    let (endpoint, token) = h.binding("jobs");
    let (_, other_token) = h.binding("orders");
    assert_ne!(token, other_token);
    let send = r#"{"operation":"send","message":{"type":"text","data":"x"}}"#;
    let wrong = format!("Bearer {token}x");
    let other = format!("Bearer {other_token}");
    let basic = format!("Basic {token}");
    let empty = "Bearer ".to_owned();
    for authorization in [None, Some(&wrong), Some(&other), Some(&basic), Some(&empty)] {
        let reply = h
            .raw(&endpoint, authorization.map(String::as_str), send)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"));
        assert_eq!(
            serde_json::from_str::<Value>(&reply.body).unwrap(),
            json!({"code": "LOCAL_QUEUE_UNAUTHORIZED",
                   "message": "Local queue credential is missing or invalid",
                   "retryable": false, "internal": false, "httpStatusCode": 401})
        );
        reply.error();
    }
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let lower = format!("bearer {token}");
    h.raw(&endpoint, Some(&lower), send).await.assert_unit();
    assert_eq!(
        h.stats("jobs").await.total,
        1,
        "only the authorized send landed"
    );
}

/// A queue this owner does not serve → 404 AlienError.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_queue_is_not_found() {
    let h = Harness::start().await;
    assert!(h.tokens.binding_json("nope").is_none());
    let (endpoint, token) = h.binding("jobs");
    let url = endpoint.replace("/queues/jobs", "/queues/nope");
    let reply = h
        .raw(
            &url,
            Some(&format!("Bearer {token}")),
            r#"{"operation":"stats"}"#,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let err = reply.error();
    assert_eq!(err.code, "NOT_FOUND");
    assert_eq!(
        err.message,
        "Queue 'nope' is not served by this queue owner"
    );
    assert!(!err.retryable);
}

/// §4.2: the request enum is tagged by `operation` with `deny_unknown_fields`; anything
/// else is a 400 INVALID_INPUT naming the offending operation or field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_bad_requests() {
    let h = Harness::start().await;
    let cases = [
        (r#"{"operation":"peek"}"#, "unknown variant `peek`"),
        (
            r#"{"operation":"send","message":{"type":"text","data":"x"},"delaySeconds":5}"#,
            "unknown field `delaySeconds`",
        ),
        (
            r#"{"operation":"purge","force":true}"#,
            "unknown field `force`",
        ),
        (
            r#"{"operation":"receive","max_messages":1}"#,
            "unknown field `max_messages`",
        ),
        (r#"{"operation":"receive"}"#, "missing field `maxMessages`"),
        (
            r#"{"operation":"ack","receipt":7}"#,
            "receipt: invalid type: integer `7`, expected a string",
        ),
        (
            r#"{"operation":"send","message":{"type":"xml","data":"x"}}"#,
            "unknown variant `xml`",
        ),
        (
            r#"{"operation":"renew","receipt":"1:1","durationSeconds":-1}"#,
            "durationSeconds: invalid value: integer `-1`, expected u32",
        ),
        (
            r#"{"message":{"type":"text","data":"x"}}"#,
            "missing field `operation`",
        ),
        ("not json", "expected ident"),
        ("", "EOF"),
    ];
    for (body, needle) in cases {
        let reply = h.call("jobs", body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.body
        );
        let err = reply.error();
        assert_eq!(err.code, "INVALID_INPUT", "{body}");
        assert!(
            err.message
                .starts_with("decode local queue request: Invalid input - "),
            "{}",
            err.message
        );
        assert!(err.message.contains(needle), "{body}: {}", err.message);
    }
    assert_eq!(
        h.stats("jobs").await.total,
        0,
        "no malformed request had an effect"
    );
}

/// §4.1: bodies up to 8 MiB are accepted — ten maximum-size messages with worst-case
/// sixfold escaping fit — and a larger declared body → 413 without being read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_is_eight_mebibytes() {
    let h = Harness::start().await;
    let worst = "\u{1}".repeat(65_536);
    let messages: Vec<Value> = (0..10)
        .map(|_| json!({"type": "text", "data": worst}))
        .collect();
    let body = json!({"operation": "sendBatch", "messages": messages}).to_string();
    assert!(
        body.len() > 3 * MIB && body.len() < 8 * MIB,
        "{}",
        body.len()
    );
    let results: Vec<client::QueueSendResult> = h.call("jobs", body).await.ok();
    assert_eq!(results, vec![client::QueueSendResult::Sent; 10]);

    // Declare 8 MiB + 1 and send no body: the owner answers from the header alone.
    let (endpoint, token) = h.binding("jobs");
    let authority = endpoint
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let mut stream = TcpStream::connect(authority).await.unwrap();
    let head = format!(
        "POST /queues/jobs HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        8 * MIB + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut chunk = [0_u8; 4096];
    let text = tokio::time::timeout(CALL_TIMEOUT, async {
        loop {
            let n = stream.read(&mut chunk).await.unwrap();
            response.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&response).into_owned();
            if n == 0 || text.trim_end().ends_with('}') {
                return text;
            }
        }
    })
    .await
    .expect("413 arrives without the body being sent");
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    let json = &text[text.find("\r\n\r\n").unwrap() + 4..];
    let err: client::AlienError = serde_json::from_str(json).unwrap();
    assert_eq!(err.code, "PAYLOAD_TOO_LARGE");
    assert_eq!(err.http_status_code, Some(413));
    assert_eq!(
        err.message,
        "Request body of 8388609 bytes exceeds the local queue route limit of 8388608 bytes"
    );
}

/// The binding an app gets (§3): `local-queue-http` with this owner's loopback endpoint and
/// a per-queue token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_json_is_local_queue_http() {
    let h = Harness::start().await;
    let binding = h.tokens.binding_json("orders").unwrap();
    let object = binding.as_object().unwrap();
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["endpoint", "service", "token"]
    );
    assert_eq!(binding["service"], "local-queue-http");
    let endpoint = binding["endpoint"].as_str().unwrap();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    assert!(endpoint.ends_with("/queues/orders"), "{endpoint}");
    let token = binding["token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
}

/// A send through the owner is a binding send in the engine: on Local the queue trigger
/// delivers it to the worker, which acks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_through_owner_reaches_triggered_worker() {
    let h = Harness::start().await;
    h.send_json("orders", json!({"order": 7})).await;
    h.sim
        .lock()
        .unwrap()
        .advance(Duration::from_secs(60))
        .unwrap();
    let sim = h.sim.lock().unwrap();
    let trace = sim.trace().render_text();
    let delivered: Vec<_> = sim
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == Kind::Delivered && e.resource == "orders")
        .collect();
    assert_eq!(delivered.len(), 1, "{trace}");
    assert_eq!(delivered[0].get("to"), Some("processor"), "{trace}");
    assert_eq!(
        sim.trace().count(Kind::Succeeded, Some("processor")),
        1,
        "{trace}"
    );
    assert_eq!(sim.trace().count(Kind::Acked, Some("orders")), 1, "{trace}");
    let sent = sim
        .trace()
        .events()
        .iter()
        .find(|e| e.kind == Kind::Sent && e.resource == "orders")
        .expect("a sent event");
    assert_eq!(sent.subject, delivered[0].subject, "{trace}");
}

/// The client-side decoder used above is as strict as the published client: without the
/// required `retryable`/`internal`, or with a malformed `_error_for_pattern_matching` the
/// published client would reject (here: any value at all), decoding fails (§4.3).
#[test]
fn client_decoder_is_strict() {
    assert!(serde_json::from_str::<client::AlienError>(r#"{"code":"X","message":"m"}"#).is_err());
    assert!(
        serde_json::from_str::<client::AlienError>(
            r#"{"code":"X","message":"m","retryable":false}"#
        )
        .is_err()
    );
    let ok: client::AlienError = serde_json::from_str(
        r#"{"code":"X","message":"m","retryable":true,"internal":false,"unknownKey":1}"#,
    )
    .unwrap();
    assert!(ok.retryable && ok.error_for_pattern_matching.is_none());
    assert!(serde_json::from_str::<()>("{}").is_err(), "unit needs null");
    assert!(serde_json::from_str::<()>("").is_err(), "unit needs null");
    assert!(
        serde_json::from_str::<client::Message>(
            r#"{"payload":{"type":"text","data":"x"},"receiptHandle":"1:2"}"#
        )
        .is_err(),
        "attempt is required"
    );
}

/// upstream permission sets: `queue/data-read` grants sqs:ReceiveMessage and DeleteMessage
/// but not sqs:SendMessage, and an explicit resource entry replaces the link defaults
/// (resource_link_permissions.rs). On AWS the reader's send is refused the way the SQS
/// provider reports a cloud error; its receive works; on Local nothing is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_calls_follow_the_platforms_iam() {
    let send =
        json!({"operation": "send", "message": {"type": "json", "data": {"n": 1}}}).to_string();
    let aws = Harness::start_on(Platform::Aws).await;
    let reply = aws.call_as("reader", "jobs", send.clone()).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let err = reply.error();
    assert_eq!(err.code, "QUEUE_OPERATION_FAILED");
    assert!(!err.retryable);
    assert_eq!(
        err.message,
        "Queue operation 'send' failed: AccessDenied: 'reader' is not authorized to perform \
         sqs:SendMessage on queue 'jobs': permission profile 'reader' grants only \
         queue/data-read on 'jobs'; missing permission: queue/data-write or queue/publish \
         (add it to the profile)"
    );
    assert_eq!(aws.stats("jobs").await.total, 0, "nothing was enqueued");
    let received: Vec<client::Message> = aws
        .call_as(
            "reader",
            "jobs",
            r#"{"operation":"receive","maxMessages":1}"#,
        )
        .await
        .ok();
    assert!(received.is_empty());

    let local = Harness::start_on(Platform::Local).await;
    local.call_as("reader", "jobs", send).await.assert_unit();
    assert_eq!(local.stats("jobs").await.total, 1);
}
