//! dead-letter-threshold. Source: upstream-cloud-semantics.md §0 item 3 and §4.1 DLQ row
//! (Service Bus MaxDeliveryCount 10, then $DeadLetterQueue; no DLQ on SQS, Pub/Sub or Local
//! unless a redrive policy is set), SQS redrive policy (maxReceiveCount).

use super::{Line, assert_none, run, trace};
use crate::engine::Kind;
use crate::platform::Platform;

const NAME: &str = "dead-letter-threshold";

#[test]
fn service_bus_dead_letters_at_the_tenth_delivery_and_others_never() {
    // queue-fail-always.toml: Azure dead-letters at delivery 10; AWS, GCP and Local redeliver.
    for &platform in &super::scenario("queue-fail-always").platforms {
        let run = run("queue-fail-always", platform, 1);
        let dead = usize::from(platform == Platform::Azure);
        assert_eq!(run.count(Kind::DeadLettered), dead, "{platform}");
        assert_none(&run.findings(NAME, true), &platform.to_string());
    }
}

/// `n` deliveries of m-1 on `jobs`, each failing, then `end`.
fn failing(n: usize, end: Option<Line<'static>>) -> Vec<crate::engine::TraceEvent> {
    let mut lines: Vec<Line<'_>> = vec![("0s", Kind::Sent, "jobs", Some("m-1"), &[("bytes", "6")])];
    for _ in 0..n {
        lines.push((
            "5s",
            Kind::Delivered,
            "jobs",
            Some("m-1"),
            &[("to", "processor"), ("attempt", "1"), ("lease", "1m")],
        ));
        lines.push((
            "5s",
            Kind::Failed,
            "processor",
            Some("m-1"),
            &[("took", "5s"), ("error", "x")],
        ));
    }
    lines.extend(end);
    trace(&lines)
}

#[test]
fn service_bus_dead_lettering_before_the_tenth_delivery_is_a_violation() {
    let dead: Line<'static> = (
        "50s",
        Kind::DeadLettered,
        "jobs",
        Some("m-1"),
        &[("deliveries", "9")],
    );
    let run = run("queue-fail-always", Platform::Azure, 1).with_trace(failing(9, Some(dead)));
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0].detail.starts_with(
            "dead-lettered at +00:00:50.000 after 9 deliveries, before the threshold of 10 \
             set by the azure profile's max deliveries 10"
        ),
        "{}",
        findings[0].detail
    );
}

#[test]
fn an_eleventh_service_bus_delivery_is_a_violation() {
    let dead: Line<'static> = (
        "55s",
        Kind::DeadLettered,
        "jobs",
        Some("m-1"),
        &[("deliveries", "11")],
    );
    let run = run("queue-fail-always", Platform::Azure, 1).with_trace(failing(11, Some(dead)));
    let findings = run.findings(NAME, false);
    // One finding per copy: the delivery past the threshold (the late dead letter follows).
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].at_ms, 5_000);
    assert!(
        findings[0]
            .detail
            .starts_with("delivered 11 times, the 11th to processor at +00:00:05.000"),
        "{}",
        findings[0].detail
    );
}

#[test]
fn a_redrive_policy_dead_letters_every_message_at_one_count() {
    // SQS has no threshold of its own; a redrive policy's maxReceiveCount applies to all.
    let run = run("queue-fail-always", Platform::Aws, 1).with_trace(trace(&[
        ("0s", Kind::Sent, "jobs", Some("m-1"), &[("bytes", "6")]),
        ("0s", Kind::Sent, "jobs", Some("m-2"), &[("bytes", "6")]),
        (
            "1m",
            Kind::DeadLettered,
            "jobs",
            Some("m-1"),
            &[("deliveries", "3"), ("to", "dlq")],
        ),
        (
            "2m",
            Kind::DeadLettered,
            "jobs",
            Some("m-2"),
            &[("deliveries", "5"), ("to", "dlq")],
        ),
    ]));
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].subject, "jobs/m-2");
    assert!(
        findings[0]
            .detail
            .contains("after 5 deliveries, after the threshold of 3")
    );
}
