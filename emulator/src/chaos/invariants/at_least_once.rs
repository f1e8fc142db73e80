//! At-least-once: every sent message ends acked, dead-lettered or expired by retention.
//! Checked only on a drained run, where a message still held is not merely in flight.

use super::copies::{Holder, MessageCopy, copies, triggered_workers};
use super::{Finding, Invariant, RunView, Severity, when};
use crate::profile::TriggerWiring;

pub(super) const INVARIANT: Invariant = Invariant {
    name: "at-least-once",
    summary: "every sent message ends acked, dead-lettered or expired by retention",
    source: "upstream-cloud-semantics.md §4.2 (success acks; a failure is redelivered until \
             retention or the dead-letter queue) and §13 items 1-2; seed 001 Guarantees \
             (at-least-once invocation)",
    check,
};

fn check(view: &RunView<'_>) -> Vec<Finding> {
    if !view.drained {
        return Vec::new();
    }
    copies(view)
        .iter()
        .filter(|c| c.sent.is_some() && c.end.is_none() && consumed(view, c))
        .map(|c| finding(view, c))
        .collect()
}

/// Whether someone consumes the copy: a triggered worker (the stack says so, whether or not
/// the platform wires it), or app code that received it through its binding.
fn consumed(view: &RunView<'_>, copy: &MessageCopy<'_>) -> bool {
    match copy.holder {
        Holder::Push(_) => true,
        Holder::Queue => {
            !copy.deliveries.is_empty() || !triggered_workers(view, copy.queue).is_empty()
        }
        Holder::Pull => !copy.deliveries.is_empty(),
    }
}

fn finding(view: &RunView<'_>, copy: &MessageCopy<'_>) -> Finding {
    let last = copy.events.last().expect("a sent copy has its sent event");
    let history = match copy.deliveries.as_slice() {
        [] => {
            let wiring = &view.profile.worker.triggers.queue;
            let why = match wiring.value {
                TriggerWiring::NotWired => format!(
                    ": {} does not wire queue triggers ({})",
                    view.profile.platform, wiring.source
                ),
                TriggerWiring::Wired => String::new(),
            };
            format!("never delivered{why}")
        }
        deliveries => {
            let d = deliveries.last().expect("not empty");
            format!(
                "delivered {} time(s), last to {} at {}; last event {} at {}{}",
                deliveries.len(),
                d.get("to").unwrap_or("?"),
                when(d),
                last.kind.as_str(),
                when(last),
                last.get("reason")
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
            )
        }
    };
    INVARIANT.finding(
        Severity::Violation,
        copy.subject(),
        format!(
            "sent at {}{}, {history}; the drained run ended with it neither acked, \
             dead-lettered nor expired",
            when(copy.sent.expect("filtered on sent")),
            copy.holder_words(),
        ),
        last.t_ms,
    )
}
