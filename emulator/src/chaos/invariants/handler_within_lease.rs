//! Handler time against the lease (a warning): an attempt that runs longer than the
//! visibility timeout, ack deadline, lock or lease of its delivery lets the message become
//! visible again while the handler still works on it, so another attempt does the same work.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Finding, Invariant, RunView, Severity, duration_of, seconds, when};
use crate::engine::{Kind, TraceEvent};
use crate::profile::DeliveryModel;

pub(super) const INVARIANT: Invariant = Invariant {
    name: "handler-within-lease",
    summary: "a handler finishes within the lease of its delivery (warning)",
    source: "upstream-cloud-semantics.md §0 item 2 (SQS visibility timeout), §4.2 (a Pub/Sub \
             push handler past the ack deadline is redelivered; Dapr renews Service Bus \
             locks) and §13 item 3 (Local's 30 s lease is not linked to the handler)",
    check,
};

/// A trigger delivery whose attempt has not ended yet.
struct Open<'a> {
    delivered: &'a TraceEvent,
    lease: Duration,
}

fn check(view: &RunView<'_>) -> Vec<Finding> {
    // Dapr renews the Service Bus lock while the handler runs: the lease never runs out.
    if view.profile.queue.lease_renewed_while_running.value {
        return Vec::new();
    }
    let lease_name = match view.profile.queue.delivery.value {
        DeliveryModel::Visibility { .. } => "visibility timeout",
        DeliveryModel::AckDeadlinePerSubscription => "ack deadline",
        DeliveryModel::PeekLock { .. } => "lock",
        DeliveryModel::Lease { .. } => "lease",
    };
    // Worker → its open deliveries, oldest first.
    let mut open: BTreeMap<&str, Vec<Open<'_>>> = BTreeMap::new();
    // One warning per message: its first attempt past the lease, and how many there were.
    let mut findings: Vec<(Finding, usize)> = Vec::new();
    for e in view.trace {
        match e.kind {
            Kind::Delivered => {
                let (Some(worker), Some(lease)) = (e.get("to"), duration_of(e, "lease")) else {
                    continue;
                };
                if worker != "binding" {
                    open.entry(worker).or_default().push(Open {
                        delivered: e,
                        lease,
                    });
                }
            }
            Kind::Succeeded | Kind::Failed | Kind::Crashed | Kind::TimedOut => {
                let Some(ran) = duration_of(e, "took").or_else(|| duration_of(e, "after")) else {
                    continue;
                };
                let Some(attempts) = open.get_mut(e.resource.as_str()) else {
                    continue;
                };
                let Some(i) = attempts.iter().position(|o| same_attempt(o.delivered, e)) else {
                    continue;
                };
                let attempt = attempts.remove(i);
                if ran <= attempt.lease {
                    continue;
                }
                let warning = warning(&attempt, e, ran, lease_name);
                match findings
                    .iter_mut()
                    .find(|(f, _)| f.subject == warning.subject)
                {
                    Some((_, count)) => *count += 1,
                    None => findings.push((warning, 1)),
                }
            }
            _ => {}
        }
    }
    findings
        .into_iter()
        .map(|(mut finding, count)| {
            if count > 1 {
                finding.detail +=
                    &format!(" ({count} attempts of this message outlived their lease)");
            }
            finding
        })
        .collect()
}

/// Whether outcome `end` ends the attempt of `delivered`: the same message, or for a storage
/// event delivered through a queue, the same object key (`bucket/key`).
fn same_attempt(delivered: &TraceEvent, end: &TraceEvent) -> bool {
    let Some(subject) = end.subject.as_deref() else {
        return false;
    };
    delivered.subject.as_deref() == Some(subject)
        || delivered
            .get("key")
            .is_some_and(|key| subject.strip_suffix(key).is_some_and(|b| b.ends_with('/')))
}

fn warning(attempt: &Open<'_>, end: &TraceEvent, ran: Duration, lease_name: &str) -> Finding {
    let d = attempt.delivered;
    let verb = if end.kind == Kind::TimedOut {
        "ran until its timeout after"
    } else {
        "took"
    };
    INVARIANT.finding(
        Severity::Warning,
        format!("{}/{}", d.resource, d.subject.as_deref().unwrap_or("?")),
        format!(
            "handler {verb} {} ({} at {}), the {} {lease_name} of its delivery at {} \
             (attempt {}) ran out first: the message was visible again while it ran, \
             duplicate work",
            seconds(ran),
            end.kind.as_str(),
            when(end),
            seconds(attempt.lease),
            when(d),
            d.get("attempt").unwrap_or("?"),
        ),
        end.t_ms,
    )
}
