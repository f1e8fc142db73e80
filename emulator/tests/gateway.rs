//! The public-endpoint gateway in front of a worker's HTTP server: it proxies requests and
//! applies the platform's limits from the profile (seed 001 Limits; upstream-cloud-semantics.md
//! §3.2; upstream-runtime-and-bindings.md §2.4-§2.5). Every test runs against a small axum
//! app on loopback and is bounded by client timeouts.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use alien_emulator::Platform;
use alien_emulator::emulate::gateway::{
    ConcurrencyPolicy, EventSink, Gateway, GatewayEvent, GatewayLimits, Outcome, ProbePolicy,
    UpstreamPort, probe,
};
use alien_emulator::profile::Profile;
use alien_emulator::stack::{Worker, parse_stack_json};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use chrono::NaiveDate;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::UnboundedReceiver;

const MIB: usize = 1024 * 1024;

fn profile(platform: Platform) -> Profile {
    Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap()
}

/// A public worker `api` with the given `timeoutSeconds` and `concurrencyLimit`.
fn worker(timeout_seconds: u32, concurrency_limit: Option<u32>) -> Worker {
    let mut config = json!({"type": "worker", "id": "api", "links": [], "triggers": [],
        "permissions": "execution", "code": {"type": "image", "image": "x:1"},
        "timeoutSeconds": timeout_seconds,
        "publicEndpoints": [{"name": "default"}]});
    if let Some(limit) = concurrency_limit {
        config["concurrencyLimit"] = json!(limit);
    }
    let doc = json!({"id": "demo", "resources": {
        "api": {"config": config, "lifecycle": "live", "dependencies": []}
    }});
    let stack = parse_stack_json(&doc.to_string(), Path::new("demo.json")).unwrap();
    let (_, w) = stack.workers().find(|(id, _)| *id == "api").unwrap();
    w.clone()
}

/// The in-test app: `/echo` reflects the request, `/slow?ms=N` answers after N ms,
/// `/big?bytes=N` answers N bytes, `/flaky` fails its first two calls, `/status/500` fails.
struct App {
    port: u16,
    calls: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct AppState {
    calls: Arc<AtomicUsize>,
    flaky: Arc<AtomicUsize>,
}

async fn echo(
    State(s): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    s.calls.fetch_add(1, Ordering::SeqCst);
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    (
        StatusCode::CREATED,
        [
            ("x-echo-method", method.to_string()),
            ("x-echo-path", uri.path().to_string()),
            ("x-echo-query", uri.query().unwrap_or("").to_string()),
            ("x-echo-test", header("x-test")),
            ("x-echo-forwarded-for", header("x-forwarded-for")),
        ],
        body,
    )
}

async fn slow(
    State(s): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, u64>>,
) -> &'static str {
    s.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(q.get("ms").copied().unwrap_or(3000))).await;
    "done"
}

async fn big(
    State(s): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, usize>>,
) -> Vec<u8> {
    s.calls.fetch_add(1, Ordering::SeqCst);
    vec![b'x'; q.get("bytes").copied().unwrap_or(0)]
}

async fn flaky(State(s): State<AppState>) -> StatusCode {
    s.calls.fetch_add(1, Ordering::SeqCst);
    if s.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn failing(State(s): State<AppState>) -> StatusCode {
    s.calls.fetch_add(1, Ordering::SeqCst);
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn start_app() -> App {
    let calls = Arc::new(AtomicUsize::new(0));
    let state = AppState {
        calls: calls.clone(),
        flaky: Arc::new(AtomicUsize::new(0)),
    };
    let router = Router::new()
        .route("/echo", any(echo))
        .route("/slow", get(slow))
        .route("/big", get(big))
        .route("/flaky", get(flaky))
        .route("/status/500", get(failing))
        .layer(DefaultBodyLimit::disable())
        .with_state(state);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    App { port, calls }
}

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn gateway(
    limits: GatewayLimits,
    port: Option<u16>,
) -> (Gateway, UpstreamPort, UnboundedReceiver<GatewayEvent>) {
    let upstream = UpstreamPort::new();
    if let Some(port) = port {
        upstream.set(port);
    }
    let (sink, events) = EventSink::channel();
    let gw = Gateway::bind("api", any_port(), limits, upstream.clone(), sink)
        .await
        .unwrap();
    (gw, upstream, events)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn next_event(events: &mut UnboundedReceiver<GatewayEvent>) -> GatewayEvent {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("the gateway reports its decision")
        .expect("event channel open")
}

#[test]
fn limits_come_from_the_profile() {
    // AWS: 6 MiB both ways, API Gateway's 30 s capped by a shorter Lambda timeout,
    // reserved concurrency throttles only when concurrencyLimit is set.
    let aws = GatewayLimits::from_profile(&profile(Platform::Aws), &worker(10, Some(5)));
    assert_eq!(aws.request_max_bytes, Some(6 * MIB as u64));
    assert_eq!(aws.response_max_bytes, Some(6 * MIB as u64));
    assert_eq!(aws.timeout, Duration::from_secs(10));
    assert_eq!(aws.concurrency, ConcurrencyPolicy::Throttle { limit: 5 });
    let aws_long = GatewayLimits::from_profile(&profile(Platform::Aws), &worker(900, None));
    assert_eq!(aws_long.timeout, Duration::from_secs(30));
    assert_eq!(aws_long.concurrency, ConcurrencyPolicy::Unlimited);

    // GCP: 32 MiB, the request timeout is the worker's, max instances × 1000 requests queue.
    let gcp = GatewayLimits::from_profile(&profile(Platform::Gcp), &worker(7, Some(3)));
    assert_eq!(gcp.request_max_bytes, Some(32 * MIB as u64));
    assert_eq!(gcp.timeout, Duration::from_secs(7));
    assert_eq!(gcp.concurrency, ConcurrencyPolicy::Queue { limit: 3000 });

    // Azure: ingress fixed ~240 s whatever the worker says; max replicas queue.
    let azure = GatewayLimits::from_profile(&profile(Platform::Azure), &worker(900, Some(2)));
    assert_eq!(azure.request_max_bytes, None);
    assert_eq!(azure.timeout, Duration::from_secs(240));
    assert_eq!(azure.concurrency, ConcurrencyPolicy::Queue { limit: 2 });

    // Kubernetes ignores concurrencyLimit.
    let k8s = GatewayLimits::from_profile(&profile(Platform::Kubernetes), &worker(60, Some(2)));
    assert_eq!(k8s.concurrency, ConcurrencyPolicy::Unlimited);
    assert_eq!(k8s.timeout, Duration::from_secs(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_method_path_query_headers_and_body() {
    let app = start_app().await;
    let limits = GatewayLimits::from_profile(&profile(Platform::Aws), &worker(30, None));
    let (gw, _upstream, mut events) = gateway(limits, Some(app.port)).await;

    let resp = client()
        .put(format!("{}/echo?a=1&b=two", gw.url()))
        .header("x-test", "hello")
        .body("payload bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let h = |name: &str| resp.headers()[name].to_str().unwrap().to_string();
    assert_eq!(h("x-echo-method"), "PUT");
    assert_eq!(h("x-echo-path"), "/echo");
    assert_eq!(h("x-echo-query"), "a=1&b=two");
    assert_eq!(h("x-echo-test"), "hello");
    assert_eq!(h("x-echo-forwarded-for"), "127.0.0.1");
    assert_eq!(resp.text().await.unwrap(), "payload bytes");
    assert_eq!(app.calls.load(Ordering::SeqCst), 1);

    let event = next_event(&mut events).await;
    assert_eq!(event.worker, "api");
    assert_eq!(event.method, "PUT");
    assert_eq!(event.path, "/echo");
    assert_eq!(event.status, 201);
    assert_eq!(event.outcome, Outcome::Proxied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_over_the_lambda_limit_is_413_without_calling_the_app() {
    let app = start_app().await;
    let limits = GatewayLimits::from_profile(&profile(Platform::Aws), &worker(30, None));
    let (gw, _upstream, mut events) = gateway(limits, Some(app.port)).await;

    // Declared by Content-Length.
    let resp = client()
        .post(format!("{}/echo", gw.url()))
        .body(vec![b'a'; 6 * MIB + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("6291456"),
        "{body}"
    );
    let event = next_event(&mut events).await;
    assert_eq!(
        (event.status, event.outcome),
        (413, Outcome::RequestTooLarge)
    );

    // Chunked, no Content-Length: the limit is enforced while reading.
    let mut stream = TcpStream::connect(gw.local_addr()).await.unwrap();
    let head = "POST /echo HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..7 {
        let chunk = vec![b'b'; MIB];
        let _ = stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await;
        let _ = stream.write_all(&chunk).await;
        let _ = stream.write_all(b"\r\n").await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut reply = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut reply))
        .await
        .unwrap()
        .unwrap();
    let status_line = String::from_utf8_lossy(&reply[..n]).to_string();
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");
    assert_eq!(
        app.calls.load(Ordering::SeqCst),
        0,
        "the app was never called"
    );

    // Exactly at the limit passes.
    let resp = client()
        .post(format!("{}/echo", gw.url()))
        .body(vec![b'c'; 6 * MIB])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.bytes().await.unwrap().len(), 6 * MIB);
    assert_eq!(app.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_over_the_limit_is_502() {
    let app = start_app().await;
    let limits = GatewayLimits::from_profile(&profile(Platform::Aws), &worker(30, None));
    let (gw, _upstream, mut events) = gateway(limits, Some(app.port)).await;

    let resp = client()
        .get(format!("{}/big?bytes={}", gw.url(), 6 * MIB + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let body: serde_json::Value = resp.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("Response payload size"), "{message}");
    let event = next_event(&mut events).await;
    assert_eq!(
        (event.status, event.outcome),
        (502, Outcome::ResponseTooLarge)
    );

    let ok = client()
        .get(format!("{}/big?bytes={}", gw.url(), 6 * MIB))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.bytes().await.unwrap().len(), 6 * MIB);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_app_is_504_at_the_gcp_worker_timeout() {
    let app = start_app().await;
    let limits = GatewayLimits::from_profile(&profile(Platform::Gcp), &worker(1, None));
    assert_eq!(limits.timeout, Duration::from_secs(1));
    let (gw, _upstream, mut events) = gateway(limits, Some(app.port)).await;

    let started = Instant::now();
    let resp = client()
        .get(format!("{}/slow?ms=5000", gw.url()))
        .send()
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 504);
    assert!(
        elapsed >= Duration::from_millis(950) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    let event = next_event(&mut events).await;
    assert_eq!((event.status, event.outcome), (504, Outcome::Timeout));
    assert!(event.duration >= Duration::from_millis(950));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_concurrency_of_one_throttles_the_second_request() {
    let app = start_app().await;
    let limits = GatewayLimits::from_profile(&profile(Platform::Aws), &worker(30, Some(1)));
    let (gw, _upstream, mut events) = gateway(limits, Some(app.port)).await;

    let url = format!("{}/slow?ms=1500", gw.url());
    let first = tokio::spawn(client().get(url.clone()).send());
    // Wait until the first request is inside the app.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "first request never arrived");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = client().get(url).send().await.unwrap();
    assert_eq!(second.status(), 429);
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(app.calls.load(Ordering::SeqCst), 1);

    let mut seen = vec![next_event(&mut events).await, next_event(&mut events).await];
    seen.sort_by_key(|e| e.status);
    assert_eq!(
        (seen[0].status, seen[0].outcome),
        (200, Outcome::Proxied),
        "{seen:?}"
    );
    assert_eq!((seen[1].status, seen[1].outcome), (429, Outcome::Throttled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_replicas_queue_requests_instead_of_throttling() {
    let app = start_app().await;
    let limits = GatewayLimits::from_profile(&profile(Platform::Azure), &worker(30, Some(1)));
    assert_eq!(limits.concurrency, ConcurrencyPolicy::Queue { limit: 1 });
    let (gw, _upstream, _events) = gateway(limits, Some(app.port)).await;

    let url = format!("{}/slow?ms=600", gw.url());
    let started = Instant::now();
    let (a, b) = tokio::join!(client().get(&url).send(), client().get(&url).send());
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "the second request waited for the first: {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_registered_port_is_503_with_retry_after_then_follows_the_port() {
    let app = start_app().await;
    let limits = GatewayLimits::from_profile(&profile(Platform::Gcp), &worker(30, None));
    let (gw, upstream, mut events) = gateway(limits, None).await;

    let resp = client()
        .get(format!("{}/echo", gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let event = next_event(&mut events).await;
    assert_eq!((event.status, event.outcome), (503, Outcome::NotRegistered));

    upstream.set(app.port);
    let resp = client()
        .get(format!("{}/echo", gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    // After a restart on another port the gateway follows.
    let restarted = start_app().await;
    upstream.set(restarted.port);
    let resp = client()
        .get(format!("{}/echo", gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(app.calls.load(Ordering::SeqCst), 1);
    assert_eq!(restarted.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_502_failed_to_forward() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let limits = GatewayLimits::from_profile(&profile(Platform::Local), &worker(30, None));
    let (gw, _upstream, mut events) = gateway(limits, Some(port)).await;

    let resp = client()
        .get(format!("{}/anything", gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Failed to forward request"),
        "{body}"
    );
    let event = next_event(&mut events).await;
    assert_eq!(
        (event.status, event.outcome),
        (502, Outcome::UpstreamUnreachable)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_probe_polls_until_2xx_or_gives_up() {
    let app = start_app().await;
    let limits = GatewayLimits::from_profile(&profile(Platform::Aws), &worker(30, None));
    let (gw, _upstream, _events) = gateway(limits, Some(app.port)).await;
    let fast = ProbePolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..ProbePolicy::default()
    };

    let ready = probe(gw.local_addr(), Method::GET, "/flaky", &fast).await;
    assert!(ready.ready, "{ready:?}");
    assert_eq!(ready.attempts, 3);
    assert_eq!(ready.last_status, Some(204));

    let calls_before = app.calls.load(Ordering::SeqCst);
    let not_ready = probe(gw.local_addr(), Method::GET, "/status/500", &fast).await;
    assert!(!not_ready.ready);
    assert_eq!(
        not_ready.attempts, 10,
        "upstream READINESS_PROBE_MAX_ATTEMPTS"
    );
    assert_eq!(not_ready.last_status, Some(500));
    assert_eq!(app.calls.load(Ordering::SeqCst) - calls_before, 10);

    // The total time is bounded even when every attempt hangs.
    let bounded = ProbePolicy {
        request_timeout: Duration::from_millis(200),
        total: Duration::from_millis(700),
        ..fast
    };
    let started = Instant::now();
    let hung = probe(gw.local_addr(), Method::GET, "/slow?ms=5000", &bounded).await;
    assert!(!hung.ready);
    assert!(hung.attempts < 10);
    assert!(started.elapsed() < Duration::from_secs(2), "{hung:?}");

    // The default policy through the gateway handle.
    let default = gw.probe(Method::GET, "/echo").await;
    assert!(default.ready);
    assert_eq!(default.attempts, 1);
}
