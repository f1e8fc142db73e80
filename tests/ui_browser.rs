//! Acceptance (issue 12 item 3): the web console in real headless Chromium. The live console
//! at `GET /ui` of `alien emulate` shows a message that fails twice on aws as one lane of three
//! attempts with the engine's redelivery cause; the `alien simulate --html --diff-platforms`
//! report shows one section per platform. The live console's expected cause and handler error
//! come from the control API's trace, not from the page.

mod browser;
mod common;

use std::process::Command;

use browser::dom::{all, attempt_outcomes, attrs, texts, wait_for, wait_ready, wait_seq};
use common::{advance, events, repo, send, start_stack, wait_trace};
use serde_json::{Value, json};

/// Detail `key` of trace event `e` (details are `[key, value]` pairs).
fn detail<'a>(e: &'a Value, key: &str) -> &'a str {
    common::detail(e, key).unwrap_or_else(|| panic!("trace event without detail `{key}`: {e}"))
}

/// The lane of message `subject` on queue `jobs`.
fn message_lane(subject: &str) -> String {
    format!(r#".lane[data-lane-kind="message"][data-resource="jobs"][data-subject="{subject}"]"#)
}

/// The lane of message `subject` on queue `jobs` in the report's `platform` section.
fn platform_lane(platform: &str, subject: &str) -> String {
    format!(
        r#"section.platform[data-platform="{platform}"] {}"#,
        message_lane(subject)
    )
}

/// Fails twice on aws (tests/fixtures/worker-app `fail_times`): SQS redelivers after the
/// visibility timeout, max(30, min(43200, 6 × timeoutSeconds 30)) = 180 s
/// (upstream-cloud-semantics.md §0 item 2), reached by clock advance.
#[test]
fn live_console_shows_a_message_failing_twice() {
    let Some(browser) = browser::start() else {
        return;
    };
    let state = tempfile::tempdir().unwrap();
    let e = start_stack("examples/hello-worker", "aws", state.path(), &[]);
    let id = send(&e, json!({"fail_times": 2}));
    wait_trace(&e, "the first failure", |t| {
        events(t, "failed", &id).len() == 1
    });
    advance(&e, "180s");
    wait_trace(&e, "the second failure", |t| {
        events(t, "failed", &id).len() == 2
    });
    advance(&e, "180s");
    let t = wait_trace(&e, "the ack", |t| events(t, "acked", &id).len() == 1);
    let causes: Vec<&str> = events(&t, "lease_expired", &id)
        .iter()
        .map(|x| detail(x, "cause"))
        .collect();
    assert_eq!(causes.len(), 2, "a lease expiry after each failure: {t:#?}");
    let first_error = detail(events(&t, "failed", &id)[0], "error");
    let last_seq = t.last().unwrap()["seq"].as_u64().unwrap();

    let c = browser.client();
    let lane = message_lane(&id);
    let (outcomes, numbers, redeliveries, details, around) = browser.block_on(async {
        c.goto(&format!("{}/ui", e.control))
            .await
            .expect("open /ui");
        wait_ready(c).await;
        wait_seq(c, last_seq).await;
        let lane_el = wait_for(c, &lane).await;
        let attempts = all(c, Some(&lane_el), ".attempt").await;
        let redeliveries = texts(&all(c, Some(&lane_el), ".redelivery").await).await;
        let first = attempts
            .first()
            .unwrap_or_else(|| panic!("no .attempt in {lane}"));
        first.click().await.expect("click the first attempt");
        wait_for(c, "#details .around li").await;
        let details = wait_for(c, "#details").await;
        let around = texts(&all(c, Some(&details), ".around li").await).await;
        (
            attrs(&attempts, "data-outcome").await,
            attrs(&attempts, "data-attempt").await,
            redeliveries,
            details.text().await.expect("#details text"),
            around,
        )
    });
    browser.screenshot("console-live");
    assert_eq!(numbers, ["1", "2", "3"], "{lane}");
    assert_eq!(outcomes, ["failed", "failed", "succeeded"], "{lane}");
    assert_eq!(redeliveries, causes, "the lease_expired causes, in order");
    assert!(
        details.contains(first_error),
        "#details shows the first attempt's error {first_error:?}: {details}"
    );
    assert!(
        around.iter().any(|li| li.contains("failed")),
        "#details .around lists the trace events around the attempt: {around:?}"
    );
}

/// queue-handler-fails-twice.toml runs on all five platforms; Kubernetes does not wire queue
/// triggers (upstream-cloud-semantics.md §0 item 7), so its m-1 lane has no attempt.
#[test]
fn html_report_diffs_the_platforms() {
    let Some(browser) = browser::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_alien"))
        .args([
            "simulate",
            "scenarios/queue-handler-fails-twice.toml",
            "--html",
        ])
        .arg(&report)
        .arg("--diff-platforms")
        .current_dir(repo())
        .output()
        .expect("run alien simulate");
    assert!(
        out.status.success(),
        "alien simulate --html: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let c = browser.client();
    let (platforms, aws, kubernetes) = browser.block_on(async {
        c.goto(&format!("file://{}", report.display()))
            .await
            .expect("open the report");
        wait_ready(c).await;
        let platforms = attrs(&all(c, None, "section.platform").await, "data-platform").await;
        let aws = attempt_outcomes(c, &platform_lane("aws", "m-1")).await;
        let kubernetes = attempt_outcomes(c, &platform_lane("kubernetes", "m-1")).await;
        (platforms, aws, kubernetes)
    });
    browser.screenshot("report-diff");
    let mut platforms = platforms;
    platforms.sort();
    assert_eq!(platforms, ["aws", "azure", "gcp", "kubernetes", "local"]);
    assert_eq!(aws, ["failed", "failed", "succeeded"], "aws m-1 attempts");
    assert_eq!(
        kubernetes,
        Vec::<String>::new(),
        "kubernetes never delivers m-1"
    );
}
