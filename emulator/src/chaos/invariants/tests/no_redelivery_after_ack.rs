//! no-redelivery-after-ack. Source: upstream-cloud-semantics.md §4.2 Success row (the event
//! source mapping deletes the message, a 200 acks the push, Dapr completes it, Local acks the
//! receipt): an acked message is gone from its subscription.

use super::{assert_none, run, trace};
use crate::engine::{FaultKind, Kind};
use crate::platform::Platform;

const NAME: &str = "no-redelivery-after-ack";

#[test]
fn retried_then_acked_messages_are_not_delivered_again() {
    // queue-handler-fails-twice.toml: two failures, then success and the ack; and Local's
    // batch lease expiry, where the stale ack is followed by a second delivery and one ack.
    for &platform in &super::scenario("queue-handler-fails-twice").platforms {
        let run = run("queue-handler-fails-twice", platform, 1);
        // Kubernetes wires no queue trigger (upstream-cloud-semantics.md §0 item 7).
        let acks = usize::from(platform != Platform::Kubernetes);
        assert_eq!(run.count(Kind::Acked), acks, "{platform}");
        assert_none(&run.findings(NAME, true), &platform.to_string());
    }
    let run = run("local-batch-lease-expiry", Platform::Local, 1);
    assert_eq!(run.count(Kind::AckStale), 1);
    assert_none(&run.findings(NAME, true), "local batch");
}

#[test]
fn fan_out_acks_are_per_subscription() {
    // queue-fan-out.toml on GCP: audit's ack does not delete billing's copy.
    let run = run("queue-fan-out", Platform::Gcp, 1);
    assert_none(&run.findings(NAME, true), "gcp fan-out");
}

fn redelivered_after_ack() -> Vec<crate::engine::TraceEvent> {
    trace(&[
        ("0s", Kind::Sent, "jobs", Some("m-1"), &[("bytes", "4")]),
        (
            "0s",
            Kind::Delivered,
            "jobs",
            Some("m-1"),
            &[("to", "processor"), ("attempt", "1"), ("lease", "18m")],
        ),
        (
            "1s",
            Kind::Acked,
            "jobs",
            Some("m-1"),
            &[("by", "processor"), ("deliveries", "1")],
        ),
        (
            "18m",
            Kind::Delivered,
            "jobs",
            Some("m-1"),
            &[("to", "processor"), ("attempt", "2"), ("lease", "18m")],
        ),
    ])
}

#[test]
fn a_delivery_after_the_ack_is_a_violation() {
    let run =
        run("queue-handler-fails-twice", Platform::Aws, 1).with_trace(redelivered_after_ack());
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].at_ms, 18 * 60_000);
    assert_eq!(
        findings[0].detail,
        "acked by processor at +00:00:01.000, then delivered again to processor at \
         +00:18:00.000 (attempt 2) with no duplicate-delivery or lost-ack fault in play: an \
         ack deletes the message"
    );
}

#[test]
fn a_duplicate_delivery_or_lost_ack_fault_allows_it() {
    for fault in [FaultKind::DuplicateDelivery, FaultKind::LostAck] {
        let mut run =
            run("queue-handler-fails-twice", Platform::Aws, 1).with_trace(redelivered_after_ack());
        run.faults = vec![(fault, 0.1)];
        assert_none(&run.findings(NAME, false), fault.as_str());
    }
}
