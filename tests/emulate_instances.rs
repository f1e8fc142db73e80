//! Acceptance: worker instances as real processes, through the CLI, on the AWS profile
//! (stack tests/fixtures/stacks/instances, the fixture app on the published alien-sdk 3.3.49):
//!
//! - events that overlap run on separate instances, each a process of its own, and the trace
//!   names the instance of every attempt; a counter kept in memory is per instance while the
//!   KV counter is right: the stateless-execution bug of seed 001 made visible;
//! - at the worker's reserved concurrency (`concurrencyLimit` 1) Lambda's event source mapping
//!   throttles the next message, which comes back after its visibility timeout;
//! - an instance that allocates past its `memoryMb` (128) is killed as Lambda reports it,
//!   `Runtime exited with error: signal: killed`, and the message is retried after its
//!   visibility timeout.
//!
//! Time moves by `POST /clock/advance`; real time only bounds the polling.

mod common;

use std::path::Path;

use common::{
    Emulate, advance, build_fixture, client, detail, events, on, send_to, start_stack_logged,
    wait_trace,
};
use serde_json::{Value, json};

const STACK: &str = "tests/fixtures/stacks/instances";

fn start(state: &Path) -> Emulate {
    build_fixture(&[]);
    start_stack_logged(
        STACK,
        "aws",
        state,
        &["--max-instances", "2", "--cold-start", "off"],
    )
}

/// The instance each delivery of message `id` went to.
fn instances_of(t: &[Value], id: &str) -> Vec<String> {
    events(t, "delivered", id)
        .iter()
        .filter_map(|e| detail(e, "instance").map(str::to_string))
        .collect()
}

/// The values the in-memory counter printed (`event counter value=N pid=P`), per log prefix.
fn counter_lines(e: &Emulate, prefix: &str) -> Vec<(u64, u32)> {
    let logs = e.logs.lock().unwrap();
    logs.iter()
        .filter_map(|line| line.strip_prefix(prefix)?.strip_prefix(" event counter "))
        .filter_map(|rest| {
            let value = rest.split("value=").nth(1)?.split_whitespace().next()?;
            let pid = rest.split("pid=").nth(1)?.trim();
            Some((value.parse().ok()?, pid.parse().ok()?))
        })
        .collect()
}

/// seed 001 ("stateless execution": do not keep state in memory between invocations);
/// upstream-cloud-semantics.md §3.1 (Lambda: one event per execution environment). A slow
/// message holds instance 1; three more run one after another on instance 2 (the cap is 2).
/// Each process counts only what it saw (1 and 3), while the KV total counts all four.
#[test]
fn two_instances_keep_their_own_counters_while_the_kv_total_is_right() {
    let state = tempfile::tempdir().unwrap();
    let e = start(state.path());
    let counting = json!({ "count": true, "count_kv": "total" });
    let mut slow = counting.clone();
    slow["sleep_ms"] = json!(4000);
    let first = send_to(&e, "jobs", slow);
    wait_trace(&e, "the slow message on instance 1", |t| {
        !instances_of(t, &first).is_empty()
    });
    let rest: Vec<String> = (0..3)
        .map(|_| send_to(&e, "jobs", counting.clone()))
        .collect();
    let t = wait_trace(&e, "all four acked", |t| {
        std::iter::once(&first)
            .chain(&rest)
            .all(|id| events(t, "acked", id).len() == 1)
    });
    assert_eq!(instances_of(&t, &first), ["1"]);
    for id in &rest {
        assert_eq!(instances_of(&t, id), ["2"], "{id}");
    }
    let second_process = on(&t, "process_started", "app")
        .into_iter()
        .find(|x| detail(x, "instance") == Some("2"))
        .expect("instance 2's process started");
    println!("instance 2: {second_process}");

    let one = counter_lines(&e, "[app]");
    let two = counter_lines(&e, "[app#2]");
    println!("in-memory counters: instance 1 {one:?}, instance 2 {two:?}");
    assert_eq!(one.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [1]);
    assert_eq!(two.iter().map(|(v, _)| *v).collect::<Vec<_>>(), [1, 2, 3]);
    assert_ne!(one[0].1, two[0].1, "two processes");

    let total = client()
        .get(format!("{}/kv/total", e.gateway("app")))
        .send()
        .unwrap()
        .text()
        .unwrap();
    println!("KV total: {total}");
    assert!(total.contains('4'), "{total}");
}

/// upstream-cloud-semantics.md §4.2 ("Throttling under reserved concurrency also returns
/// messages"); AWS re:Post "lambda-sqs-scaling" (event source mappings do not account for
/// reserved concurrency). `single` has `concurrencyLimit` 1 and timeout 10 s, so its queue's
/// visibility timeout is max(30, 6 × 10) = 60 s: while the first message runs, the second is
/// received and throttled, then delivered again after 60 s of the engine's clock.
#[test]
fn reserved_concurrency_throttles_and_the_message_returns_after_visibility() {
    let state = tempfile::tempdir().unwrap();
    let e = start(state.path());
    let busy = send_to(&e, "limited", json!({ "sleep_ms": 1500 }));
    wait_trace(&e, "the first message running", |t| {
        !events(t, "delivered", &busy).is_empty()
    });
    let next = send_to(&e, "limited", json!({ "n": 2 }));
    let t = wait_trace(&e, "the second throttled, the first acked", |t| {
        !events(t, "throttled", &next).is_empty() && events(t, "acked", &busy).len() == 1
    });
    let throttled = events(&t, "throttled", &next)[0];
    println!("{throttled}");
    assert_eq!(
        detail(throttled, "cause"),
        Some("concurrency limit 1 reached: received but not invoked; visible again after 1m")
    );
    assert!(events(&t, "delivered", &next).is_empty());

    advance(&e, "61s");
    let t = wait_trace(&e, "the throttled message delivered and acked", |t| {
        events(t, "acked", &next).len() == 1
    });
    let expired = events(&t, "lease_expired", &next);
    assert_eq!(expired.len(), 1);
    let cause = detail(expired[0], "cause").unwrap();
    assert!(
        cause.starts_with("visibility timeout: 60 s = 6 × timeoutSeconds 10"),
        "{cause}"
    );
    let delivered = events(&t, "delivered", &next);
    assert_eq!(
        detail(delivered[0], "attempt"),
        Some("2"),
        "the throttled receive counted"
    );
}

/// Lambda docs ("Runtime exited with error: signal: killed", `Runtime.ExitError`, when a
/// function runs out of memory); upstream-cloud-semantics.md §3.1 (memoryMb → MemorySize).
/// `single` has `memoryMb` 128: a handler allocating 300 MB is killed by the kernel inside the
/// instance's memory limit, the attempt fails with Lambda's words, the trace says
/// `out_of_memory`, and SQS delivers the message again after the visibility timeout (60 s).
#[test]
fn an_instance_past_its_memory_is_killed_as_lambda_reports_it_and_retried() {
    let state = tempfile::tempdir().unwrap();
    let e = start(state.path());
    let id = send_to(&e, "limited", json!({ "alloc_mb": 300 }));
    let t = wait_trace(&e, "the attempt failed", |t| {
        !events(t, "failed", &id).is_empty()
    });
    let failed = events(&t, "failed", &id)[0];
    println!("{failed}");
    assert_eq!(
        detail(failed, "error"),
        Some("Runtime.ExitError: Runtime exited with error: signal: killed")
    );
    let t = wait_trace(&e, "the out-of-memory kill in the trace", |t| {
        !on(t, "out_of_memory", "single").is_empty()
    });
    println!("{}", on(&t, "out_of_memory", "single")[0]);

    advance(&e, "61s");
    let t = wait_trace(&e, "the retry, killed again", |t| {
        events(t, "failed", &id).len() == 2
    });
    let delivered = events(&t, "delivered", &id);
    assert_eq!(detail(delivered[1], "attempt"), Some("2"));
    let cause = detail(events(&t, "lease_expired", &id)[0], "cause").unwrap();
    assert!(cause.starts_with("visibility timeout: 60 s"), "{cause}");
}
