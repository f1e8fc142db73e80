//! The control API of `alien emulate`: JSON over HTTP on 127.0.0.1 over a shared simulation.
//! Each route's happy path and its 4xx cases, the trace long-poll, and `ControlClient`.

use std::path::Path;
use std::time::{Duration, Instant};

use alien_emulator::Platform;
use alien_emulator::emulate::control::{ClientError, ControlClient, ControlServer, ControlState};
use alien_emulator::emulate::gateway::UpstreamPort;
use alien_emulator::engine::{SharedSim, Sim, SimConfig, shared};
use alien_emulator::profile::Profile;
use alien_emulator::stack::{Stack, parse_stack_json};
use alien_providers::Payload;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

fn stack() -> Stack {
    let doc = json!({"id": "demo", "resources": {
        "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []},
        "files": {"config": {"type": "storage", "id": "files"}, "lifecycle": "frozen", "dependencies": []},
        "processor": {"config": {"type": "worker", "id": "processor", "links": [],
            "triggers": [
                {"type": "queue", "queue": {"type": "queue", "id": "jobs"}},
                {"type": "schedule", "cron": "0 * * * *"}
            ],
            "permissions": "execution", "code": {"type": "image", "image": "x:1"}},
            "lifecycle": "live", "dependencies": []},
        "api": {"config": {"type": "worker", "id": "api", "links": [], "triggers": [],
            "permissions": "execution", "code": {"type": "image", "image": "x:1"},
            "publicEndpoints": [{"name": "default"}], "concurrencyLimit": 2},
            "lifecycle": "live", "dependencies": []}
    }});
    parse_stack_json(&doc.to_string(), Path::new("demo.json")).unwrap()
}

struct Fixture {
    server: ControlServer,
    sim: SharedSim,
    state: ControlState,
    http: reqwest::Client,
}

impl Fixture {
    async fn new() -> Fixture {
        let stack = stack();
        let profile =
            Profile::new(Platform::Aws, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
        let sim = shared(Sim::new(&stack, profile, SimConfig::new(7, start())));
        let state = ControlState::new(sim.clone(), &stack);
        let server = ControlServer::bind("127.0.0.1:0".parse().unwrap(), state.clone())
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        Fixture {
            server,
            sim,
            state,
            http,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = request.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, value)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.json(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.json(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }

    /// A raw request line, for paths an HTTP client would normalize (`..` segments).
    async fn raw(&self, method: &str, target: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.server.local_addr()).await.unwrap();
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: control\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply))
            .await
            .unwrap()
            .unwrap();
        let reply = String::from_utf8_lossy(&reply).to_string();
        let status = reply[9..12].parse().unwrap();
        let body = reply
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap();
        (status, body)
    }
}

fn error_of(value: &Value) -> &str {
    value["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error field: {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_platform_clock_queues_crons_and_workers() {
    let f = Fixture::new().await;
    let upstream = UpstreamPort::new();
    upstream.set(4321);
    assert!(
        f.state
            .attach_worker("api", upstream, Some("127.0.0.1:8088".parse().unwrap()))
    );
    assert!(!f.state.attach_worker("nope", UpstreamPort::new(), None));

    let (status, body) = f.get("/status").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["platform"], "aws");
    assert_eq!(body["stack"], "demo");
    assert_eq!(body["now"], "2026-01-05T00:00:00Z");
    assert_eq!(body["queues"][0]["name"], "jobs");
    assert_eq!(body["queues"][0]["visible"], 0);
    assert_eq!(
        body["crons"],
        json!([{"worker": "processor", "index": 0, "expr": "0 * * * *"}])
    );
    let api = body["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "api")
        .unwrap();
    assert_eq!(api["public"], true);
    assert_eq!(api["concurrency_limit"], 2);
    assert_eq!(api["port"], 4321);
    assert_eq!(api["gateway"], "http://127.0.0.1:8088");
    let processor = body["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "processor")
        .unwrap();
    assert_eq!(processor["port"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_send_peek_and_dead_letters() {
    let f = Fixture::new().await;
    let (status, sent) = f
        .post("/queues/jobs/messages", r#"{"json": {"n": 1}}"#)
        .await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["id"].as_str().unwrap().to_string();
    let (status, text) = f
        .post("/queues/jobs/messages", r#"{"text": "plain"}"#)
        .await;
    assert_eq!(status, 201, "{text}");

    let (status, peeked) = f.get("/queues/jobs/messages").await;
    assert_eq!(status, 200);
    let peeked = peeked.as_array().unwrap();
    assert_eq!(peeked.len(), 2);
    assert_eq!(peeked[0]["id"], id.as_str());
    assert_eq!(
        peeked[0]["payload"],
        json!({"type": "json", "data": {"n": 1}})
    );
    assert_eq!(
        peeked[1]["payload"],
        json!({"type": "text", "data": "plain"})
    );
    // Peeking consumes nothing.
    let (_, again) = f.get("/queues/jobs/messages").await;
    assert_eq!(again.as_array().unwrap().len(), 2);

    let (status, dead) = f.get("/queues/jobs/dead-letters").await;
    assert_eq!((status, dead), (200, json!([])));

    // 4xx cases.
    for (path, body, want, mention) in [
        ("/queues/nope/messages", r#"{"json": 1}"#, 404, "nope"),
        (
            "/queues/jobs/messages",
            r#"{"json": "#,
            400,
            "malformed JSON",
        ),
        ("/queues/jobs/messages", r#"{}"#, 400, "json"),
        (
            "/queues/jobs/messages",
            r#"{"json": 1, "text": "x"}"#,
            400,
            "only one",
        ),
        ("/queues/jobs/messages", r#"{"jsn": 1}"#, 400, "jsn"),
        ("/queues/jobs/messages", r#"{"text": 5}"#, 400, "text"),
        (
            "/queues/jobs/messages",
            r#"{"text": "x", "via": "pigeon"}"#,
            400,
            "pigeon",
        ),
        ("/queues/jobs/messages", r#"[1]"#, 400, "object"),
    ] {
        let (status, err) = f.post(path, body).await;
        assert_eq!(status, want, "{path} {body}: {err}");
        assert!(error_of(&err).contains(mention), "{body}: {err}");
    }
    // Over the 64 KiB binding cap (published-3.3.49.md; profile queue.binding_message_max_bytes).
    let big = json!({"text": "x".repeat(70 * 1024)}).to_string();
    let (status, err) = f.post("/queues/jobs/messages", &big).await;
    assert_eq!(status, 413, "{err}");
    assert!(error_of(&err).contains("65536"), "{err}");

    let (status, err) = f.get("/queues/nope/messages").await;
    assert_eq!(status, 404);
    assert!(error_of(&err).contains("'nope'"));
    let (status, err) = f.get("/queues/nope/dead-letters").await;
    assert_eq!(status, 404);
    assert!(error_of(&err).contains("'nope'"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_put_get_delete_and_key_checks() {
    let f = Fixture::new().await;
    let url = f.url("/storage/files/objects/reports/2026/jan.txt");
    let resp = f
        .http
        .put(&url)
        .header("content-type", "text/plain")
        .body("hello world")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let put: Value = resp.json().await.unwrap();
    let etag = put["etag"].as_str().unwrap().to_string();
    assert_eq!(put["size"], 11);

    let resp = f.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/plain");
    assert_eq!(resp.headers()["etag"], etag.as_str());
    assert_eq!(resp.text().await.unwrap(), "hello world");

    // Keys with characters that need escaping round-trip.
    let odd = f.url("/storage/files/objects/a%20b/c%3Fd.bin");
    let resp = f.http.put(&odd).body(vec![0u8, 1, 2]).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = f.http.get(&odd).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &[0u8, 1, 2]);
    assert!(
        f.sim
            .lock()
            .unwrap()
            .get_object("files", "a b/c?d.bin")
            .unwrap()
            .is_some()
    );

    let resp = f.http.delete(&url).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let (status, err) = f.json(f.http.get(&url)).await;
    assert_eq!(status, 404);
    assert!(error_of(&err).contains("reports/2026/jan.txt"), "{err}");

    // Unknown bucket.
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::GET,
        reqwest::Method::DELETE,
    ] {
        let (status, err) = f
            .json(
                f.http
                    .request(method.clone(), f.url("/storage/nope/objects/k")),
            )
            .await;
        assert_eq!(status, 404, "{method}");
        assert!(error_of(&err).contains("'nope'"), "{err}");
    }

    // Traversal, absolute paths and NUL, literal and percent-encoded.
    for target in [
        "/storage/files/objects/a/../b",
        "/storage/files/objects/../etc/passwd",
        "/storage/files/objects/%2e%2e/etc/passwd",
        "/storage/files/objects/a/%2E%2E/b",
        "/storage/files/objects/a/%252e%252e/b",
        "/storage/files/objects/%2Fetc%2Fpasswd",
        "/storage/files/objects//etc/passwd",
        "/storage/files/objects/a%00b",
    ] {
        for method in ["PUT", "GET", "DELETE"] {
            let (status, body) = f.raw(method, target).await;
            assert_eq!(status, 400, "{method} {target}: {body}");
            let err: Value = serde_json::from_str(&body).unwrap();
            assert!(error_of(&err).contains("key"), "{target}: {err}");
        }
    }
    let (status, body) = f.raw("GET", "/storage/files/objects/%ff").await;
    assert_eq!(status, 400, "{body}");
    // Nothing was stored outside the checked keys.
    let listed = f.sim.lock().unwrap().list_objects("files", "").unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_fire_now() {
    let f = Fixture::new().await;
    let (status, body) = f.post("/crons/processor/0/fire", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["worker"], "processor");
    let fired = f
        .sim
        .lock()
        .unwrap()
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind.as_str() == "cron_fired" && e.resource == "processor")
        .count();
    assert_eq!(fired, 1);

    let (status, err) = f.post("/crons/ghost/0/fire", "").await;
    assert_eq!(status, 404);
    assert!(error_of(&err).contains("ghost"), "{err}");
    let (status, err) = f.post("/crons/processor/3/fire", "").await;
    assert_eq!(status, 404);
    assert!(error_of(&err).contains("#3"), "{err}");
    let (status, err) = f.post("/crons/api/0/fire", "").await;
    assert_eq!(status, 404, "{err}");
    let (status, err) = f.post("/crons/processor/first/fire", "").await;
    assert_eq!(status, 400);
    assert!(error_of(&err).contains("first"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_advance() {
    let f = Fixture::new().await;
    let (status, body) = f.post("/clock/advance", r#"{"by": "1h30m"}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["now"], "2026-01-05T01:30:00Z");
    assert_eq!(
        f.sim.lock().unwrap().now(),
        Utc.with_ymd_and_hms(2026, 1, 5, 1, 30, 0).unwrap()
    );

    for (body, mention) in [
        (r#"{"by": "soon"}"#, "soon"),
        (r#"{"by": 5}"#, "by"),
        (r#"{}"#, "by"),
        (r#"{"by": "1h", "extra": 1}"#, "extra"),
        ("not json", "malformed JSON"),
    ] {
        let (status, err) = f.post("/clock/advance", body).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert!(error_of(&err).contains(mention), "{body}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_then_advance_delivers_to_the_queue_triggered_worker() {
    let f = Fixture::new().await;
    let (_, before) = f.get("/trace").await;
    let last = before
        .as_array()
        .unwrap()
        .last()
        .map(|e| e["seq"].as_u64().unwrap());

    let (status, sent) = f
        .post("/queues/jobs/messages", r#"{"json": {"job": 1}}"#)
        .await;
    assert_eq!(status, 201);
    let id = sent["id"].as_str().unwrap();
    let (status, _) = f.post("/clock/advance", r#"{"by": "1m"}"#).await;
    assert_eq!(status, 200);

    let path = match last {
        Some(seq) => format!("/trace?after={seq}"),
        None => "/trace".to_string(),
    };
    let (status, events) = f.get(&path).await;
    assert_eq!(status, 200);
    let events = events.as_array().unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["subject"] == id)
        .map(|e| (e["kind"].as_str().unwrap(), e["resource"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("sent", "jobs")), "{kinds:?}");
    assert!(kinds.contains(&("delivered", "jobs")), "{kinds:?}");
    assert!(kinds.contains(&("acked", "jobs")), "{kinds:?}");
    let delivered = events
        .iter()
        .find(|e| e["kind"] == "delivered" && e["subject"] == id)
        .unwrap();
    assert_eq!(delivered["detail"][0], json!(["to", "processor"]));
    // Sequence numbers are increasing and all after `after`.
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    if let Some(last) = last {
        assert!(seqs.iter().all(|s| *s > last));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_long_poll_returns_new_events_or_an_empty_list() {
    let f = Fixture::new().await;
    let path = match f.sim.lock().unwrap().trace().events().last() {
        Some(e) => format!("/trace?after={}&wait=10", e.seq),
        None => "/trace?wait=10".to_string(),
    };

    let started = Instant::now();
    let poll = {
        let http = f.http.clone();
        let url = f.url(&path);
        tokio::spawn(async move { http.get(url).send().await.unwrap().json::<Value>().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _) = f.post("/queues/jobs/messages", r#"{"text": "wake"}"#).await;
    assert_eq!(status, 201);
    let events = poll.await.unwrap().unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(5),
        "returned as soon as there were events: {elapsed:?}"
    );
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "sent" && e["resource"] == "jobs"),
        "{events}"
    );

    // Nothing new: an empty list once `wait` runs out.
    let end = f.sim.lock().unwrap().trace().events().last().unwrap().seq;
    let started = Instant::now();
    let (status, events) = f.get(&format!("/trace?after={end}&wait=0.4")).await;
    assert_eq!((status, events), (200, json!([])));
    assert!(started.elapsed() >= Duration::from_millis(380));

    // Events recorded by someone else (the real-time driver) wake the poll too.
    let started = Instant::now();
    let poll = {
        let http = f.http.clone();
        let url = f.url(&format!("/trace?after={end}&wait=10"));
        tokio::spawn(async move { http.get(url).send().await.unwrap().json::<Value>().await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    f.sim
        .lock()
        .unwrap()
        .send("jobs", Payload::Text("direct".into()), Default::default())
        .unwrap();
    f.state.notify_trace();
    let events = poll.await.unwrap().unwrap();
    assert!(!events.as_array().unwrap().is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));

    for (path, mention) in [
        ("/trace?after=minus", "after"),
        ("/trace?wait=-1", "wait"),
        ("/trace?wait=forever", "wait"),
        ("/trace?since=3", "since"),
    ] {
        let (status, err) = f.get(path).await;
        assert_eq!(status, 400, "{path}: {err}");
        assert!(error_of(&err).contains(mention), "{path}: {err}");
    }
}

/// `tail=<n>`: the newest `n` events, where the console starts on a long trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_tail_answers_the_newest_events() {
    let f = Fixture::new().await;
    for n in 0..5 {
        let (status, _) = f
            .post("/queues/jobs/messages", &format!(r#"{{"json": {n}}}"#))
            .await;
        assert_eq!(status, 201);
    }
    let newest = f.sim.lock().unwrap().trace().next_seq();
    let all: Vec<u64> = (0..newest).collect();
    let (status, events) = f.get("/trace?tail=3").await;
    assert_eq!(status, 200);
    let seqs: Vec<u64> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, all[all.len() - 3..]);
    let (status, err) = f.get("/trace?tail=3&after=1").await;
    assert_eq!(status, 400);
    assert!(error_of(&err).contains("tail"), "{err}");
}

/// The console is served from the binary at `/ui`, as HTML that loads nothing from elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_is_served_at_ui() {
    let f = Fixture::new().await;
    let resp = f.http.get(f.url("/ui")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let headers = resp.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("AlienTimeline"),
        "the timeline script is inlined"
    );
    assert!(!page.contains("https://"), "nothing from another origin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_json() {
    let f = Fixture::new().await;
    let (status, err) = f.get("/nothing/here").await;
    assert_eq!(status, 404);
    assert!(error_of(&err).contains("/nothing/here"));
    let (status, err) = f.json(f.http.delete(f.url("/status"))).await;
    assert_eq!(status, 405);
    assert!(error_of(&err).contains("DELETE"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_client_verbs() {
    let f = Fixture::new().await;
    let client = ControlClient::new(f.server.url());

    let status = client.status().await.unwrap();
    assert_eq!(status["platform"], "aws");

    let id = client
        .send("jobs", &Payload::Json(json!({"k": "v"})))
        .await
        .unwrap();
    let peeked = client.peek("jobs").await.unwrap();
    assert_eq!(peeked.len(), 1);
    assert_eq!(peeked[0]["id"], id.as_str());
    assert!(client.dead_letters("jobs").await.unwrap().is_empty());
    match client.send("nope", &Payload::Text("x".into())).await {
        Err(ClientError::Api {
            status: 404,
            message,
        }) => assert!(message.contains("nope")),
        other => panic!("expected a 404, got {other:?}"),
    }

    let etag = client
        .put_object("files", "dir/a b.txt", b"abc".to_vec(), "text/plain")
        .await
        .unwrap();
    let object = client
        .get_object("files", "dir/a b.txt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(object.body, b"abc");
    assert_eq!(object.content_type, "text/plain");
    assert_eq!(object.etag, etag);
    client.delete_object("files", "dir/a b.txt").await.unwrap();
    assert!(
        client
            .get_object("files", "dir/a b.txt")
            .await
            .unwrap()
            .is_none()
    );
    // Refused before it leaves the client: an HTTP client would normalize `..` away.
    assert!(matches!(
        client
            .put_object("files", "a/../b", vec![], "text/plain")
            .await,
        Err(ClientError::InvalidKey { .. })
    ));

    client.fire_cron("processor", 0).await.unwrap();
    let now = client.advance("2h").await.unwrap();
    assert_eq!(now, Utc.with_ymd_and_hms(2026, 1, 5, 2, 0, 0).unwrap());
    match client.advance("later").await {
        Err(ClientError::Api {
            status: 400,
            message,
        }) => assert!(message.contains("later")),
        other => panic!("expected a 400, got {other:?}"),
    }

    let all = client.trace_after(None, Duration::ZERO).await.unwrap();
    assert!(
        all.iter()
            .any(|e| e.kind == "cron_fired" && e.resource == "processor")
    );
    assert!(
        all.iter()
            .any(|e| e.kind == "delivered" && e.subject.as_deref() == Some(id.as_str()))
    );
    let last = all.last().unwrap().seq;
    let none = client
        .trace_after(Some(last), Duration::from_millis(100))
        .await
        .unwrap();
    assert!(none.is_empty());
}
