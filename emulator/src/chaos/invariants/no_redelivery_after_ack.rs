//! An ack deletes the message: a copy is not delivered again to its subscription after it
//! was acked, unless a duplicate-delivery or lost-ack fault could strike.

use super::copies::copies;
use super::{Finding, Invariant, RunView, Severity, when};
use crate::engine::{FaultKind, Kind};

pub(super) const INVARIANT: Invariant = Invariant {
    name: "no-redelivery-after-ack",
    summary: "an acked message is not delivered again on its subscription",
    source: "upstream-cloud-semantics.md §4.2 Success row (the event source mapping deletes \
             the message, 200 acks the push, Dapr completes it, Local acks the receipt); \
             seed 001 Guarantees (at-least-once: duplicates come from faults, not from acks)",
    check,
};

fn check(view: &RunView<'_>) -> Vec<Finding> {
    if view.fault_on(FaultKind::DuplicateDelivery) || view.fault_on(FaultKind::LostAck) {
        return Vec::new();
    }
    let mut findings = Vec::new();
    for copy in copies(view) {
        let Some(acked) = copy.events.iter().find(|e| e.kind == Kind::Acked) else {
            continue;
        };
        let again = copy.deliveries.iter().find(|d| d.seq > acked.seq).copied();
        if let Some(again) = again {
            findings.push(INVARIANT.finding(
                Severity::Violation,
                copy.subject(),
                format!(
                    "acked by {} at {}{}, then delivered again to {} at {} (attempt {}) \
                     with no duplicate-delivery or lost-ack fault in play: an ack deletes \
                     the message",
                    acked.get("by").unwrap_or("?"),
                    when(acked),
                    copy.holder_words(),
                    again.get("to").unwrap_or("?"),
                    when(again),
                    again.get("attempt").unwrap_or("?"),
                ),
                again.t_ms,
            ));
        }
    }
    findings
}
