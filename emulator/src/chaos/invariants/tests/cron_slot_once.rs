//! cron-slot-once. Source: upstream-cloud-semantics.md §6 Guarantee row (one fire per slot;
//! Local catches up once after downtime; Dapr cron fires per replica, nothing while scaled to
//! zero) and §13 item 6.

use super::{Line, assert_none, run, trace, violations};
use crate::chaos::invariants::Severity;
use crate::engine::{FaultKind, Kind, TraceEvent};
use crate::platform::Platform;

const NAME: &str = "cron-slot-once";

#[test]
fn schedules_fire_once_per_slot_and_skip_only_while_down() {
    // cron-catch-up-after-downtime.toml skips slots under a 3 h downtime (Local catches up
    // once); cron-month-daily.toml skips on Azure while the private worker is scaled to zero.
    for name in [
        "cron-catch-up-after-downtime",
        "cron-month-daily",
        "cron-rate-drift",
    ] {
        for &platform in &super::scenario(name).platforms {
            let run = run(name, platform, 1);
            // Kubernetes wires no schedule (upstream-cloud-semantics.md §0 item 7).
            let fires = usize::from(platform != Platform::Kubernetes);
            assert!(run.count(Kind::CronFired) >= fires, "{name} on {platform}");
            assert_none(&run.findings(NAME, true), &format!("{name} on {platform}"));
        }
    }
    let downtime = run("cron-catch-up-after-downtime", Platform::Aws, 1);
    assert_eq!(downtime.count(Kind::CronSkipped), 3);
}

#[test]
fn the_double_fire_fault_explains_each_extra_fire() {
    let mut scenario = super::scenario("cron-rate-drift");
    scenario.spec.faults.insert(FaultKind::CronDoubleFire, 0.5);
    for &platform in &scenario.platforms {
        let run = super::run_loaded(scenario.clone(), platform, 3);
        let doubled = run
            .trace
            .iter()
            .filter(|e| e.get("fault") == Some("cron_double_fire"))
            .count();
        assert!(doubled > 0, "{platform}");
        assert_none(&run.findings(NAME, true), &platform.to_string());
    }
}

const SLOT: &str = "2026-01-05T01:00:00Z";

/// Fires of `name` (trigger `hourly`) for [`SLOT`] at +1 h, one per `why` (`schedule` or
/// `manual`).
fn fires(name: &str, whys: &[&str]) -> Vec<TraceEvent> {
    let details: Vec<[(&str, &str); 3]> = whys
        .iter()
        .map(|&why| [("slot", SLOT), ("to", "hourly"), ("why", why)])
        .collect();
    let lines: Vec<Line<'_>> = details
        .iter()
        .map(|detail| ("1h", Kind::CronFired, "hourly", Some(name), &detail[..]))
        .collect();
    trace(&lines)
}

#[test]
fn a_second_fire_of_a_slot_without_the_fault_is_a_violation() {
    let name = "arn:aws:events:us-east-1:000000000000:rule/hourly-hourly-cron-0";
    let run = run("cron-catch-up-after-downtime", Platform::Aws, 1)
        .with_trace(fires(name, &["schedule", "schedule"]));
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Violation);
    assert_eq!(findings[0].subject, "hourly@2026-01-05T01:00:00Z");
    assert!(
        findings[0]
            .detail
            .ends_with("no cron_double_fire fault struck it: a slot fires once"),
        "{}",
        findings[0].detail
    );
    // A manual fire at the same time is the user's, not the schedule's.
    let manual = run.with_trace(fires(name, &["schedule", "manual"]));
    assert_none(&manual.findings(NAME, false), "manual fire");
}

#[test]
fn azure_fires_once_per_replica_as_a_warning() {
    let name = "cron-hourly-hourly-0";
    let run = run("cron-catch-up-after-downtime", Platform::Azure, 1)
        .with_trace(fires(name, &["schedule", "schedule"]));
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Warning);
    assert!(
        findings[0]
            .detail
            .contains("fires the schedule in every running replica")
    );
}

#[test]
fn a_skip_without_downtime_is_a_violation() {
    let name = "hourly-hourly-cron-0";
    let run = run("cron-catch-up-after-downtime", Platform::Gcp, 1).with_trace(trace(&[
        (
            "30m",
            Kind::Fault,
            "host",
            None,
            &[("fault", "downtime"), ("for", "1h")],
        ),
        (
            "1h",
            Kind::CronSkipped,
            "hourly",
            Some(name),
            &[("reason", "host down")],
        ),
        (
            "2h",
            Kind::CronSkipped,
            "hourly",
            Some(name),
            &[("reason", "host down")],
        ),
        (
            "3h",
            Kind::CronSkipped,
            "hourly",
            Some(name),
            &[("reason", "no running replica (scaled to zero)")],
        ),
    ]));
    let findings = run.findings(NAME, false);
    assert_eq!(violations(&findings).len(), 2, "{findings:#?}");
    assert_eq!(
        findings[0].detail,
        "schedule 'hourly-hourly-cron-0' skipped its slot at +02:00:00.000 (host down), but no \
         downtime covers that time"
    );
    assert!(
        findings[1]
            .detail
            .ends_with("but gcp fires schedules once, not per replica")
    );
}
