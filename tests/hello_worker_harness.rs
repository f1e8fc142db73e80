//! examples/hello-worker tested with the harness an app's own `cargo test` uses
//! (`alien_emulator::harness`): the real worker process, virtual time, one test body over two
//! platforms stating what differs.

use alien_emulator::harness::Harness;
use serde_json::json;

/// A message whose handler fails once comes back and succeeds: on aws after the SQS
/// visibility timeout, max(30, min(43200, 6 × timeoutSeconds 30)) = 180 s
/// (upstream-cloud-semantics.md §0 item 2); on gcp right after the failed push, once the
/// Pub/Sub push backoff of 100 ms has passed (peers-2026.md, push backoff).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_message_is_retried_as_each_platform_does() {
    for (platform, cause, gap_ms) in [
        (
            "aws",
            "visibility timeout: 180 s = 6 × timeoutSeconds 30",
            180_000,
        ),
        (
            "gcp",
            "handler failed: pushed again after the push backoff of 100ms",
            100,
        ),
    ] {
        let stack = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/hello-worker/alien.json"
        );
        let app = Harness::start(stack, platform).await.expect("start");
        let id = app.send("jobs", json!({"fail_times": 1})).await.unwrap();
        app.run_until_idle().await.unwrap();

        let attempts = app.attempts("jobs", &id).await.unwrap();
        let outcomes: Vec<&str> = attempts.iter().map(|a| a.outcome.as_str()).collect();
        assert_eq!(
            outcomes,
            ["failed", "succeeded"],
            "{platform}: {attempts:#?}"
        );
        assert!(
            attempts[0]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("failing delivery 1 of 1")),
            "{platform}: {attempts:#?}"
        );
        assert_eq!(
            app.redelivery_causes("jobs", &id).await.unwrap(),
            [cause],
            "{platform}"
        );
        let gap = attempts[1].delivered_ms - attempts[0].delivered_ms;
        assert!(
            gap >= gap_ms && gap < gap_ms + 1000,
            "{platform}: redelivered after {gap} ms"
        );
        app.stop().await;
    }
}

/// Objects put through the harness are the app's `local-storage` files, and the gateway URL
/// answers the app's public endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_and_the_gateway() {
    let stack = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/hello-worker/alien.json"
    );
    let app = Harness::start(stack, "aws").await.expect("start");
    app.put("uploads", "in/a.txt", b"hello").await.unwrap();
    assert_eq!(
        app.get("uploads", "in/a.txt").await.unwrap().as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(app.get("uploads", "in/missing.txt").await.unwrap(), None);
    let gateway = app
        .gateway_url("app")
        .await
        .unwrap()
        .expect("a public endpoint");
    let status = reqwest::get(format!("{gateway}/health"))
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 200);
    app.stop().await;
}

/// upstream-runtime-and-bindings.md §5: a command to a command-enabled worker is pushed as a
/// task, and the app's answer comes back as the command's response (the fixture's `echo`;
/// its `fail` command always fails).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_round_trips_to_the_worker() {
    let stack = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/hello-worker/alien.json"
    );
    let app = Harness::start(stack, "local").await.expect("start");
    let outcome = app.command("app", "echo", json!({"n": 7})).await.unwrap();
    assert_eq!(outcome.state, "SUCCEEDED", "{outcome:?}");
    assert_eq!(outcome.attempt, 1);
    let echoed = outcome.response.expect("a response");
    assert!(echoed.to_string().contains('7'), "{echoed}");
    let failed = app.command("app", "fail", json!({})).await.unwrap();
    assert_eq!(failed.state, "FAILED", "{failed:?}");
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("always fails")),
        "{failed:?}"
    );
    app.stop().await;
}
