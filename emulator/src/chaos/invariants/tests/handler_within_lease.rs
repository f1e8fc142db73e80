//! handler-within-lease. Source: upstream-cloud-semantics.md §0 item 2 (SQS visibility
//! timeout), §4.2 (a Pub/Sub push handler past the ack deadline is redelivered; Dapr renews
//! Service Bus locks) and §13 item 3 (Local's 30 s lease is not linked to the handler).

use super::{assert_none, run, trace};
use crate::chaos::invariants::Severity;
use crate::engine::Kind;
use crate::platform::Platform;

const NAME: &str = "handler-within-lease";

#[test]
fn handlers_within_their_lease_raise_nothing() {
    // queue-handler-timeout.toml: a 90 s handler, worker timeout 60 s. SQS: timed out at 60 s
    // under a 360 s visibility; Pub/Sub: timed out at the 60 s ack deadline; Service Bus:
    // Dapr renews the lock.
    for platform in [Platform::Aws, Platform::Gcp, Platform::Azure] {
        let run = run("queue-handler-timeout", platform, 1);
        assert!(run.count(Kind::Delivered) > 0, "{platform}");
        assert_none(&run.findings(NAME, true), &platform.to_string());
    }
}

#[test]
fn a_local_handler_outliving_its_30_s_lease_is_a_warning() {
    // queue-handler-timeout.toml on Local: the worker timeout is not enforced, so every 90 s
    // attempt outlives the 30 s lease; one warning for the message, counting the attempts.
    let run = run("queue-handler-timeout", Platform::Local, 1);
    let findings = run.findings(NAME, true);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Warning);
    assert_eq!(findings[0].at_ms, 90_000);
    assert_eq!(
        findings[0].detail,
        "handler took 90 s (succeeded at +00:01:30.000), the 30 s lease of its delivery at \
         +00:00:00.000 (attempt 1) ran out first: the message was visible again while it ran, \
         duplicate work (6 attempts of this message outlived their lease)"
    );
}

#[test]
fn an_sqs_handler_past_its_visibility_timeout_is_a_warning() {
    let run = run("queue-handler-timeout", Platform::Aws, 1).with_trace(trace(&[
        ("0s", Kind::Sent, "jobs", Some("m-1"), &[("bytes", "4")]),
        (
            "0s",
            Kind::Delivered,
            "jobs",
            Some("m-1"),
            &[("to", "processor"), ("attempt", "1"), ("lease", "1m")],
        ),
        (
            "95s",
            Kind::Succeeded,
            "processor",
            Some("m-1"),
            &[("took", "1m35s")],
        ),
    ]));
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Warning);
    assert_eq!(findings[0].subject, "jobs/m-1");
    assert_eq!(
        findings[0].detail,
        "handler took 95 s (succeeded at +00:01:35.000), the 60 s visibility timeout of its \
         delivery at +00:00:00.000 (attempt 1) ran out first: the message was visible again \
         while it ran, duplicate work"
    );
}
