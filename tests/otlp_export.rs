//! Acceptance: `--otlp-endpoint URL` on `alien simulate` and `alien emulate` exports the trace
//! as OpenTelemetry spans over OTLP/HTTP (protobuf `POST` of an `ExportTraceServiceRequest`,
//! <https://opentelemetry.io/docs/specs/otlp/#otlphttp>) to a real receiver run by the test on
//! 127.0.0.1.

#![cfg(feature = "otlp")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span, status};
use prost::Message;

use common::alien;

/// An OTLP/HTTP receiver on 127.0.0.1: every decoded request, kept.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    _runtime: tokio::runtime::Runtime,
}

type Store = Arc<Mutex<Vec<ExportTraceServiceRequest>>>;

async fn traces(
    State(store): State<Store>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Vec<u8>) {
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/x-protobuf")
    {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Vec::new());
    }
    match ExportTraceServiceRequest::decode(body) {
        Ok(request) => {
            store.lock().unwrap().push(request);
            (
                StatusCode::OK,
                ExportTraceServiceResponse::default().encode_to_vec(),
            )
        }
        Err(_) => (StatusCode::BAD_REQUEST, Vec::new()),
    }
}

impl Receiver {
    fn start() -> Receiver {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let requests: Store = Arc::default();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/v1/traces", post(traces))
            .with_state(requests.clone());
        runtime.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url,
            requests,
            _runtime: runtime,
        }
    }

    /// Every span received, with its resource's attributes.
    fn spans(&self) -> Vec<(Vec<KeyValue>, Span)> {
        let requests = self.requests.lock().unwrap();
        let mut out = Vec::new();
        for request in requests.iter() {
            for rs in &request.resource_spans {
                let resource = rs.resource.clone().unwrap_or_default().attributes;
                for ss in &rs.scope_spans {
                    for span in &ss.spans {
                        out.push((resource.clone(), span.clone()));
                    }
                }
            }
        }
        out
    }

    /// Waits (real time, bounded) until a span named `name` arrived.
    fn wait_for(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.spans().iter().any(|(_, s)| s.name == name) {
            assert!(
                Instant::now() < deadline,
                "no span {name}: {:#?}",
                self.spans()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| text(&kv.value))
}

fn simulate_to(receiver: &Receiver) -> Vec<(Vec<KeyValue>, Span)> {
    let out = alien(&[
        "simulate",
        "scenarios/queue-handler-fails-twice.toml",
        "-p",
        "aws",
        "--otlp-endpoint",
        &receiver.url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    receiver.spans()
}

/// upstream-cloud-semantics.md §0 item 2 (the scenario's source): SQS visibility =
/// max(30, min(43200, 6 × 180)) = 1080 s, so the three attempts of m-1 start 0 s, 1080 s and
/// 2160 s after the message span starts, at the scenario's virtual start time; each is a
/// child of the message span and carries a link to it; the lease expiries are events on it.
#[test]
fn simulate_exports_the_message_and_its_attempts() {
    let receiver = Receiver::start();
    let spans = simulate_to(&receiver);
    let (resource, message) = spans
        .iter()
        .find(|(_, s)| s.name == "message jobs/m-1")
        .expect("a message span");
    for (key, value) in [
        ("service.name", "alien-emulator"),
        ("alien.platform", "aws"),
        ("alien.stack.id", "queue-worker"),
        ("alien.scenario", "queue-handler-fails-twice"),
        ("alien.seed", "1"),
    ] {
        assert_eq!(attr(resource, key).as_deref(), Some(value), "{key}");
    }
    // Virtual time: the scenario starts at 2026-01-05T00:00:00Z (scenario::DEFAULT_START).
    let start = chrono::DateTime::parse_from_rfc3339(alien_emulator::scenario::DEFAULT_START)
        .unwrap()
        .timestamp_nanos_opt()
        .unwrap() as u64;
    assert_eq!(message.start_time_unix_nano, start);
    assert_eq!(
        attr(&message.attributes, "alien.outcome").as_deref(),
        Some("acked")
    );

    let attempts: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name == "attempt jobs/m-1")
        .collect();
    let rows: Vec<(String, String, u64, i32)> = attempts
        .iter()
        .map(|a| {
            (
                attr(&a.attributes, "alien.attempt").unwrap(),
                attr(&a.attributes, "alien.outcome").unwrap(),
                (a.start_time_unix_nano - message.start_time_unix_nano) / 1_000_000_000,
                a.status.clone().unwrap_or_default().code,
            )
        })
        .collect();
    let error = status::StatusCode::Error as i32;
    let unset = status::StatusCode::Unset as i32;
    assert_eq!(
        rows,
        [
            ("1".into(), "failed".into(), 0, error),
            ("2".into(), "failed".into(), 1080, error),
            ("3".into(), "succeeded".into(), 2160, unset),
        ]
    );
    for a in &attempts {
        assert_eq!(a.trace_id, message.trace_id);
        assert_eq!(a.parent_span_id, message.span_id);
        assert_eq!(a.links.len(), 1);
        assert_eq!(a.links[0].trace_id, message.trace_id);
        assert_eq!(a.links[0].span_id, message.span_id);
        assert_eq!(
            attr(&a.attributes, "alien.worker").as_deref(),
            Some("processor")
        );
    }
    assert_eq!(
        attr(&attempts[0].attributes, "alien.error").as_deref(),
        Some("scripted failure 1 of 2")
    );
    let expiries: Vec<(u64, String)> = message
        .events
        .iter()
        .filter(|e| e.name == "lease_expired")
        .map(|e| {
            (
                (e.time_unix_nano - message.start_time_unix_nano) / 1_000_000_000,
                attr(&e.attributes, "alien.reason").unwrap(),
            )
        })
        .collect();
    assert_eq!(
        expiries,
        [
            (1080, "visibility timeout".into()),
            (2160, "visibility timeout".into())
        ]
    );
}

/// The brief's rule: ids are derived from the run, so a replay exports the same ids.
#[test]
fn a_replay_exports_the_same_ids() {
    let ids = || {
        let receiver = Receiver::start();
        simulate_to(&receiver)
            .into_iter()
            .map(|(_, s)| (s.name, s.trace_id, s.span_id))
            .collect::<Vec<_>>()
    };
    let first = ids();
    assert!(first.len() >= 4, "{first:?}");
    assert_eq!(first, ids());
}

/// Bad input: an endpoint that is not an http(s) URL exits 2 naming the flag and the value.
#[test]
fn an_invalid_endpoint_exits_2_naming_the_flag() {
    for command in [
        vec![
            "simulate",
            "scenarios/queue-handler-fails-twice.toml",
            "-p",
            "aws",
        ],
        vec!["emulate", "scenarios/stacks/queue-worker.json", "-p", "aws"],
    ] {
        let mut args = command.clone();
        args.extend(["--otlp-endpoint", "localhost:4318"]);
        let out = alien(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(
            stderr.contains("--otlp-endpoint localhost:4318"),
            "{stderr}"
        );
    }
}

/// An endpoint nobody listens on: a warning, and the run's own result (exit 0) stands.
#[test]
fn an_unreachable_endpoint_warns_and_does_not_fail_the_run() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1/traces");
    let out = alien(&[
        "simulate",
        "scenarios/queue-handler-fails-twice.toml",
        "-p",
        "aws,azure",
        "--otlp-endpoint",
        &url,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("warning: --otlp-endpoint").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains(&url), "{stderr}");
}

/// A stack with a queue and a bucket and no worker process, in a temporary directory.
fn queue_and_bucket_stack(dir: &Path) -> PathBuf {
    let stack = serde_json::json!({
        "id": "otlp-stack",
        "permissions": {"profiles": {}},
        "resources": {
            "jobs": {"config": {"id": "jobs", "type": "queue"}, "dependencies": [], "lifecycle": "frozen"},
            "uploads": {"config": {"id": "uploads", "type": "storage"}, "dependencies": [], "lifecycle": "frozen"}
        }
    });
    let path = dir.join("stack.json");
    std::fs::write(&path, stack.to_string()).unwrap();
    path
}

/// `alien emulate --otlp-endpoint`: a background task follows the trace and exports finished
/// spans while the emulator runs (the object put arrives before any stop); on Ctrl-C the
/// message nobody consumed is exported as still open.
#[cfg(unix)]
#[test]
fn emulate_exports_while_running_and_flushes_on_stop() {
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let stack = queue_and_bucket_stack(dir.path());
    let state = dir.path().join("state");
    let child = Command::new(env!("CARGO_BIN_EXE_alien"))
        .arg("emulate")
        .arg(&stack)
        .args(["-p", "aws", "--otlp-endpoint", &receiver.url, "--state-dir"])
        .arg(&state)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url_file = state.join("control.url");
    let deadline = Instant::now() + Duration::from_secs(60);
    let control = loop {
        if let Ok(url) = std::fs::read_to_string(&url_file)
            && !url.trim().is_empty()
        {
            break url.trim().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "alien emulate wrote no control URL"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let http = reqwest::blocking::Client::new();
    let sent = http
        .post(format!("{control}/queues/jobs/messages"))
        .json(&serde_json::json!({"json": {"order": 42}}))
        .send()
        .unwrap();
    assert!(sent.status().is_success());
    let put = http
        .put(format!("{control}/storage/uploads/objects/a.txt"))
        .body("hello")
        .send()
        .unwrap();
    assert!(put.status().is_success());
    receiver.wait_for("object_put uploads");
    assert!(
        !receiver
            .spans()
            .iter()
            .any(|(_, s)| s.name == "message jobs/m-1"),
        "the message is still open: not exported before the stop"
    );

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("otlp: 2 spans exported to"), "{stderr}");
    let spans = receiver.spans();
    let (resource, message) = spans
        .iter()
        .find(|(_, s)| s.name == "message jobs/m-1")
        .expect("the open message, flushed on stop");
    assert_eq!(
        attr(&message.attributes, "alien.outcome").as_deref(),
        Some("open")
    );
    assert_eq!(
        attr(resource, "alien.stack.id").as_deref(),
        Some("otlp-stack")
    );
    assert_eq!(attr(resource, "alien.scenario"), None);
}
