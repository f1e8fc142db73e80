//! Each cron slot fires once: twice only when the double-fire fault struck at that slot, or
//! once per running replica where the platform fires in every replica (a warning: legal, but
//! a handler that is not idempotent runs twice). A slot is skipped only while the host is
//! down, where the platform rejects the expression, or where a per-replica platform has no
//! replica running.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Finding, Invariant, RunView, Severity, duration_of, when};
use crate::engine::{FaultKind, Kind, TraceEvent};

pub(super) const INVARIANT: Invariant = Invariant {
    name: "cron-slot-once",
    summary: "each cron slot fires once, and is skipped only while the host is down",
    source: "upstream-cloud-semantics.md §6 Guarantee row (EventBridge, Cloud Scheduler and \
             Local fire once per slot, Local catches up once after downtime; Dapr cron fires \
             per replica, nothing while scaled to 0) and §13 item 6",
    check,
};

/// The `cron_skipped` reasons a platform gives legitimately (besides host downtime).
const REJECTED: &str = "the platform rejects this expression";
const RESTARTED: &str = "missed while the emulator was down";
const SCALED_TO_ZERO: &str = "no running replica (scaled to zero)";
const HOST_DOWN: &str = "host down";

fn check(view: &RunView<'_>) -> Vec<Finding> {
    let mut findings = double_fires(view);
    findings.extend(skips(view));
    findings
}

/// (worker, schedule name, slot).
type SlotKey<'a> = (&'a str, &'a str, DateTime<Utc>);

fn double_fires(view: &RunView<'_>) -> Vec<Finding> {
    let mut fires: BTreeMap<SlotKey<'_>, Vec<&TraceEvent>> = BTreeMap::new();
    let mut doubled: BTreeMap<SlotKey<'_>, usize> = BTreeMap::new();
    for e in view.trace {
        let Some(name) = e.subject.as_deref() else {
            continue;
        };
        let key = (e.resource.as_str(), name);
        match e.kind {
            // A manual fire (`alien ctl cron fire`) is the user's, not the schedule's.
            Kind::CronFired if e.get("why") != Some("manual") => {
                if let Some(slot) = e.get("slot").and_then(|s| s.parse().ok()) {
                    fires.entry((key.0, key.1, slot)).or_default().push(e);
                }
            }
            Kind::Fault if e.get("fault") == Some(FaultKind::CronDoubleFire.as_str()) => {
                *doubled.entry((key.0, key.1, e.at)).or_default() += 1;
            }
            _ => {}
        }
    }
    let per_replica = &view.profile.cron.per_replica;
    let mut findings = Vec::new();
    for (key, fired) in fires {
        let allowed = 1 + doubled.get(&key).copied().unwrap_or(0);
        if fired.len() <= allowed {
            continue;
        }
        let (worker, name, slot) = key;
        let extra = fired[allowed];
        let (severity, why) = if per_replica.value {
            (
                Severity::Warning,
                format!(
                    "{} fires the schedule in every running replica ({}): the handler runs \
                     once per replica, so it must be idempotent",
                    view.profile.platform, per_replica.source
                ),
            )
        } else {
            let faults = match allowed - 1 {
                0 => "no cron_double_fire fault struck it".to_string(),
                n => format!("only {n} cron_double_fire fault(s) struck it"),
            };
            (Severity::Violation, format!("{faults}: a slot fires once"))
        };
        findings.push(INVARIANT.finding(
            severity,
            format!("{worker}@{}", slot.format("%Y-%m-%dT%H:%M:%SZ")),
            format!(
                "schedule '{name}' fired {} times for its slot {} (the extra one at {}); {why}",
                fired.len(),
                slot.format("%Y-%m-%dT%H:%M:%SZ"),
                when(extra),
            ),
            extra.t_ms,
        ));
    }
    findings
}

fn skips(view: &RunView<'_>) -> Vec<Finding> {
    let downtimes: Vec<(DateTime<Utc>, DateTime<Utc>)> = view
        .trace
        .iter()
        .filter(|e| e.kind == Kind::Fault && e.get("fault") == Some("downtime"))
        .filter_map(|e| {
            let length = chrono::Duration::from_std(duration_of(e, "for")?).ok()?;
            Some((e.at, e.at + length))
        })
        .collect();
    let per_replica = view.profile.cron.per_replica.value;
    let mut findings = Vec::new();
    for e in view.trace.iter().filter(|e| e.kind == Kind::CronSkipped) {
        let reason = e.get("reason").unwrap_or("");
        let legitimate = match reason {
            HOST_DOWN => downtimes
                .iter()
                .any(|(from, until)| *from <= e.at && e.at < *until),
            SCALED_TO_ZERO => per_replica,
            REJECTED | RESTARTED => true,
            _ => false,
        };
        if legitimate {
            continue;
        }
        let why = match reason {
            HOST_DOWN => "but no downtime covers that time".to_string(),
            SCALED_TO_ZERO => format!(
                "but {} fires schedules once, not per replica",
                view.profile.platform
            ),
            other => format!("an unknown reason '{other}'"),
        };
        findings.push(INVARIANT.finding(
            Severity::Violation,
            format!("{}@{}", e.resource, e.at.format("%Y-%m-%dT%H:%M:%SZ")),
            format!(
                "schedule '{}' skipped its slot at {} ({reason}), {why}",
                e.subject.as_deref().unwrap_or("?"),
                when(e),
            ),
            e.t_ms,
        ));
    }
    findings
}
