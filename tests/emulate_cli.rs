//! Acceptance: `alien emulate` through the CLI with a real worker built on the published
//! `alien-sdk` 3.3.49 (tests/fixtures/worker-app), on the aws and gcp profiles: HTTP through
//! the gateway, 413 over Lambda's 6 MB, a handler that fails twice redelivered at the
//! profile's times (by clock advance, not sleeping), a storage event raised by the app's own
//! binding write, KV through the binding, and a cron fire by clock advance.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{
    Emulate, advance, client, events, send, start_stack, trace, wait_http_ok, wait_trace,
};
use serde_json::json;

/// The hello-worker example; aws and gcp run the readiness probe for public workers after
/// deploy, and the status row says so.
fn start(platform: &str, state: &Path) -> Emulate {
    let e = start_stack("examples/hello-worker", platform, state, &[]);
    assert!(
        e.row("app").contains("ready (GET /health → 200)"),
        "{}",
        e.row("app")
    );
    e
}

fn common_checks(e: &Emulate) {
    let http = client();
    assert_eq!(
        http.get(format!("{}/health", e.gateway("app")))
            .send()
            .unwrap()
            .status(),
        200
    );
    let put = http
        .put(format!("{}/kv/greeting", e.gateway("app")))
        .body("hello-kv")
        .send()
        .unwrap();
    assert!(
        put.status().is_success(),
        "kv put through the binding: {}",
        put.status()
    );
    let got = http
        .get(format!("{}/kv/greeting", e.gateway("app")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(got.contains("hello-kv"), "kv get: {got}");
    // The app writes through its own local-storage binding; the emulator raises the event.
    let up = http
        .put(format!("{}/uploads/report.txt", e.gateway("app")))
        .body("data")
        .send()
        .unwrap();
    assert!(up.status().is_success(), "upload: {}", up.status());
    // The app sends through its own queue binding (local-queue-http): the message enters the
    // emulated queue and is delivered back to the app's queue trigger.
    let sent_before = trace(e).iter().filter(|x| x["kind"] == "sent").count();
    let sent = http
        .post(format!("{}/jobs", e.gateway("app")))
        .json(&json!({"from": "app"}))
        .send()
        .unwrap();
    assert_eq!(sent.status(), 202, "send through the binding");
    let t = wait_trace(e, "the app's own send", |t| {
        t.iter().filter(|x| x["kind"] == "sent").count() > sent_before
    });
    let id = t
        .iter()
        .filter(|x| x["kind"] == "sent")
        .nth(sent_before)
        .unwrap()["subject"]
        .as_str()
        .unwrap()
        .to_string();
    wait_trace(
        e,
        "the app's own message delivered back to it and acked",
        |t| events(t, "acked", &id).len() == 1,
    );
    wait_trace(e, "a storage event delivered to the app", |t| {
        t.iter()
            .any(|x| x["kind"] == "storage_event" && x["subject"] == "report.txt")
            && t.iter()
                .any(|x| x["kind"] == "succeeded" && x["subject"] == "uploads/report.txt")
    });
}

#[test]
fn aws_profile() {
    let state = tempfile::tempdir().unwrap();
    let e = start("aws", state.path());
    common_checks(&e);
    // seed 001: Lambda 6 MB synchronous payload limit.
    let big = client()
        .post(format!("{}/echo", e.gateway("app")))
        .body(vec![0u8; 7 * 1024 * 1024])
        .send()
        .unwrap();
    assert_eq!(big.status(), 413);
    // Fails twice: visibility = max(30, min(43200, 6 × 30)) = 180 s between deliveries.
    let id = send(&e, json!({"fail_times": 2}));
    wait_trace(&e, "the first failure", |t| {
        events(t, "failed", &id).len() == 1
    });
    advance(&e, "179s");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        events(&trace(&e), "delivered", &id).len(),
        1,
        "not before the visibility timeout"
    );
    advance(&e, "1s");
    wait_trace(&e, "the second failure", |t| {
        events(t, "failed", &id).len() == 2
    });
    advance(&e, "180s");
    let t = wait_trace(&e, "the ack", |t| events(t, "acked", &id).len() == 1);
    let at: Vec<i64> = events(&t, "delivered", &id)
        .iter()
        .map(|x| x["t_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(at.len(), 3);
    assert!(
        (at[1] - at[0] - 180_000).abs() < 2_000 && (at[2] - at[1] - 180_000).abs() < 2_000,
        "{at:?}"
    );
    // A cron fire by clock advance: "15 * * * *" fires within the next hour.
    advance(&e, "61m");
    wait_trace(&e, "a cron fire handled by the app", |t| {
        t.iter().any(|x| x["kind"] == "cron_fired")
            && t.iter().any(|x| {
                x["kind"] == "succeeded"
                    && x["resource"] == "app"
                    && x["subject"].as_str().is_some_and(|s| s.ends_with('Z'))
            })
    });
}

#[test]
fn gcp_profile() {
    let state = tempfile::tempdir().unwrap();
    let e = start("gcp", state.path());
    common_checks(&e);
    // Cloud Run takes 32 MB: 7 MB is proxied.
    let big = client()
        .post(format!("{}/echo", e.gateway("app")))
        .body(vec![0u8; 7 * 1024 * 1024])
        .send()
        .unwrap();
    assert_eq!(big.status(), 200);
    // Pub/Sub push with no retry policy: redelivered at once, no clock advance needed.
    let id = send(&e, json!({"fail_times": 2}));
    let t = wait_trace(&e, "the ack after two immediate redeliveries", |t| {
        events(t, "acked", &id).len() == 1
    });
    let at: Vec<i64> = events(&t, "delivered", &id)
        .iter()
        .map(|x| x["t_ms"].as_i64().unwrap())
        .collect();
    assert_eq!(at.len(), 3);
    assert!(at[2] - at[0] < 10_000, "immediate redelivery: {at:?}");
}

/// Durable state: kill -9 of the emulator mid-stream, then a restart on the same state dir:
/// nothing acked is redelivered, nothing unacked is lost, the lease resumes.
#[test]
fn kill_9_and_restart_keeps_the_queue() {
    let state = tempfile::tempdir().unwrap();
    let (acked, pending) = {
        let mut e = start("aws", state.path());
        let acked = send(&e, json!({"n": 1}));
        let pending = send(&e, json!({"fail_times": 5}));
        wait_trace(&e, "one ack and one failure", |t| {
            events(t, "acked", &acked).len() == 1 && events(t, "failed", &pending).len() == 1
        });
        // SIGKILL: no chance to save anything more.
        e.child.kill().unwrap();
        e.child.wait().unwrap();
        (acked, pending)
    };
    let e = start("aws", state.path());
    let before = trace(&e).len();
    assert!(before > 0, "the trace survived the restart");
    // The failed message is still leased (visibility 180 s); it comes back when that ends.
    advance(&e, "181s");
    let t = wait_trace(&e, "the unacked message delivered again", |t| {
        events(t, "delivered", &pending).len() >= 2
    });
    assert_eq!(
        events(&t, "delivered", &acked).len(),
        1,
        "the acked message was not redelivered"
    );
}

/// A handler slower than `timeoutSeconds` (10 s here: Pub/Sub's smallest ack deadline, so the
/// stack passes the gcp preflight) times out at the platform's limit in virtual time (the
/// clock is advanced, not waited for), and the platform's retry applies; the app keeps working
/// afterwards (a 3.3.49 app is restarted after a task timeout).
#[test]
fn handler_timeout_on_aws_and_gcp() {
    // After the timeout at 10 s, aws makes the message visible again when its visibility of
    // max(30, min(43200, 6 × 10)) = 60 s from the delivery runs out (50 s later); gcp after the
    // 100 ms push backoff that follows a failed push.
    for (platform, redelivered_after_ms) in [("aws", 50_000), ("gcp", 100)] {
        let state = tempfile::tempdir().unwrap();
        let e = start_stack(
            "tests/fixtures/stacks/emulate-timeout",
            platform,
            state.path(),
            &[],
        );
        let slow = send(&e, json!({"sleep_ms": 15000}));
        advance(&e, "10s");
        let t = wait_trace(&e, "the timeout", |t| {
            !events(t, "timed_out", &slow).is_empty()
        });
        let timed_out = events(&t, "timed_out", &slow)[0];
        assert_eq!(
            timed_out["detail"][0],
            json!(["after", "10s"]),
            "{platform}"
        );
        if redelivered_after_ms > 1_000 {
            advance(&e, "60s");
        }
        let t = wait_trace(&e, "the redelivery", |t| {
            events(t, "delivered", &slow).len() >= 2
        });
        let at: Vec<i64> = events(&t, "delivered", &slow)
            .iter()
            .map(|x| x["t_ms"].as_i64().unwrap())
            .collect();
        let after_timeout = at[1] - timed_out["t_ms"].as_i64().unwrap();
        assert!(
            (after_timeout - redelivered_after_ms).abs() < 2_000,
            "{platform}: {at:?}"
        );
        // The app still serves (it was restarted after the timed-out task).
        let health = wait_http_ok(&format!("{}/health", e.gateway("app")));
        assert_eq!(health, 200, "{platform}");
    }
}
