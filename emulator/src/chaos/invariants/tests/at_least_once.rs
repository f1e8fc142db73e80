//! at-least-once. Source: seed 001 Guarantees (at-least-once invocation);
//! upstream-cloud-semantics.md §4.2 (acked on success, redelivered until retention or the
//! dead-letter queue), §13 item 1 (Pub/Sub fan-out), §0 item 7 (Kubernetes wires no trigger).

use super::{assert_none, run, trace};
use crate::engine::Kind;
use crate::platform::Platform;

const NAME: &str = "at-least-once";

#[test]
fn every_message_ends_acked_on_every_platform_for_seeds_1_to_49() {
    // seeded-faults-at-least-once.toml: 20 messages under 30 % duplicate deliveries and 20 %
    // lost acks; its one-day advance drains the queue on every platform.
    let scenario = super::scenario("seeded-faults-at-least-once");
    for seed in 1..50 {
        for &platform in &scenario.platforms {
            let run = super::run_loaded(scenario.clone(), platform, seed);
            assert_eq!(run.count(Kind::Sent), 20);
            assert_none(
                &run.findings(NAME, true),
                &format!("seed {seed} on {platform}"),
            );
        }
    }
}

#[test]
fn dead_lettered_and_expired_messages_have_ended() {
    // poison-message-retention.toml: dead-lettered on Service Bus after 10 deliveries, expired
    // by SQS (4 d) and Pub/Sub (7 d) retention, on Pub/Sub from the push subscription and
    // from the queue's own pull subscription.
    for (platform, end, count) in [
        (Platform::Azure, Kind::DeadLettered, 1),
        (Platform::Aws, Kind::Expired, 1),
        (Platform::Gcp, Kind::Expired, 2),
    ] {
        let run = run("poison-message-retention", platform, 1);
        assert_eq!(run.count(end), count, "{platform}");
        assert_none(&run.findings(NAME, true), &platform.to_string());
    }
}

#[test]
fn fan_out_copies_each_end_with_their_own_worker() {
    // queue-fan-out.toml on GCP: each of two push subscriptions acks its own copy of the four
    // messages; the untouched pull subscription's copies are nobody's to consume.
    let run = run("queue-fan-out", Platform::Gcp, 1);
    assert_eq!(run.count(Kind::Acked), 8);
    assert_none(&run.findings(NAME, true), "gcp fan-out");
}

#[test]
fn kubernetes_never_delivers_a_triggered_queue_message() {
    let run = run("kubernetes-triggers-not-wired", Platform::Kubernetes, 1);
    let findings = run.findings(NAME, true);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].subject, "jobs/m-1");
    assert!(
        findings[0]
            .detail
            .contains("never delivered: kubernetes does not wire queue triggers"),
        "{}",
        findings[0].detail
    );
    // Local wires the same trigger and acks the message.
    let local = super::run("kubernetes-triggers-not-wired", Platform::Local, 1);
    assert_none(&local.findings(NAME, true), "local");
}

#[test]
fn a_message_still_held_is_a_violation_only_once_drained() {
    let run = run("fault-lost-ack", Platform::Aws, 1).with_trace(trace(&[
        ("0s", Kind::Sent, "jobs", Some("m-1"), &[("bytes", "6")]),
        (
            "0s",
            Kind::Delivered,
            "jobs",
            Some("m-1"),
            &[("to", "processor"), ("attempt", "1"), ("lease", "18m")],
        ),
        (
            "0s",
            Kind::Succeeded,
            "processor",
            Some("m-1"),
            &[("took", "0s")],
        ),
        (
            "0s",
            Kind::Fault,
            "jobs",
            Some("m-1"),
            &[("fault", "lost_ack")],
        ),
        (
            "18m",
            Kind::LeaseExpired,
            "jobs",
            Some("m-1"),
            &[("reason", "visibility timeout"), ("deliveries", "1")],
        ),
    ]));
    assert_none(&run.findings(NAME, false), "not drained: still in flight");
    let findings = run.findings(NAME, true);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].subject, "jobs/m-1");
    assert_eq!(findings[0].at_ms, 18 * 60_000);
    assert_eq!(
        findings[0].detail,
        "sent at +00:00:00.000, delivered 1 time(s), last to processor at +00:00:00.000; \
         last event lease_expired at +00:18:00.000 (visibility timeout); the drained run \
         ended with it neither acked, dead-lettered nor expired"
    );
}

#[test]
fn a_fan_out_copy_acked_by_one_worker_only_is_a_violation() {
    let run = run("queue-fan-out", Platform::Gcp, 1).with_trace(trace(&[
        ("0s", Kind::Sent, "jobs", Some("m-1"), &[("bytes", "11")]),
        (
            "0s",
            Kind::Delivered,
            "jobs",
            Some("m-1"),
            &[("to", "audit"), ("attempt", "1"), ("lease", "3m")],
        ),
        (
            "0s",
            Kind::Delivered,
            "jobs",
            Some("m-1"),
            &[("to", "billing"), ("attempt", "1"), ("lease", "3m")],
        ),
        (
            "1s",
            Kind::Acked,
            "jobs",
            Some("m-1"),
            &[("by", "audit"), ("deliveries", "1")],
        ),
        (
            "1s",
            Kind::Failed,
            "billing",
            Some("m-1"),
            &[("took", "1s"), ("error", "x")],
        ),
    ]));
    let findings = run.findings(NAME, true);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0]
            .detail
            .contains("(the copy of worker 'billing''s push subscription jobs/billing)"),
        "{}",
        findings[0].detail
    );
}

mod sweep {
    use proptest::prelude::*;

    use super::super::{assert_none, run_loaded, scenario};
    use crate::engine::FaultKind;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any seed and any duplicate-delivery and lost-ack rates up to 50 %: after the
        /// scenario's day every message has ended (seed 001 Guarantees: at-least-once).
        #[test]
        fn holds_for_any_seed_and_fault_rates(
            seed in any::<u64>(),
            duplicate in 0.0..0.5f64,
            lost in 0.0..0.5f64,
            platform in 0..4usize,
        ) {
            let mut scenario = scenario("seeded-faults-at-least-once");
            scenario.spec.faults.insert(FaultKind::DuplicateDelivery, duplicate);
            scenario.spec.faults.insert(FaultKind::LostAck, lost);
            let platform = scenario.platforms[platform];
            let run = run_loaded(scenario, platform, seed);
            assert_none(
                &run.findings(super::NAME, true),
                &format!("seed {seed} on {platform}, duplicate {duplicate}, lost ack {lost}"),
            );
        }
    }
}
