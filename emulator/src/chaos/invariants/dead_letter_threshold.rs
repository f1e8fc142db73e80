//! The dead-letter threshold: where the profile caps deliveries (Service Bus MaxDeliveryCount
//! 10) a message is dead-lettered exactly at that count; where a queue's own redrive or
//! dead-letter policy caps them, its dead letters all go at one count. Either way no copy is
//! delivered more times than the threshold.

use std::collections::BTreeMap;

use super::copies::{MessageCopy, copies};
use super::{Finding, Invariant, RunView, Severity, when};
use crate::engine::{Kind, TraceEvent};

pub(super) const INVARIANT: Invariant = Invariant {
    name: "dead-letter-threshold",
    summary: "messages are dead-lettered exactly at the max-deliveries threshold, never \
              delivered past it",
    source: "upstream-cloud-semantics.md §0 item 3 and §4.1 DLQ row (Service Bus \
             MaxDeliveryCount 10, then $DeadLetterQueue; no DLQ on SQS, Pub/Sub or Local \
             unless a redrive policy is set); SQS redrive policy maxReceiveCount",
    check,
};

/// The threshold in force on one queue and where it comes from.
struct Threshold {
    max: usize,
    from: String,
    /// The profile's own value: a dead letter must come exactly at it.
    exact: bool,
}

fn check(view: &RunView<'_>) -> Vec<Finding> {
    let copies = copies(view);
    let mut by_queue: BTreeMap<&str, Vec<&MessageCopy<'_>>> = BTreeMap::new();
    for copy in &copies {
        by_queue.entry(copy.queue).or_default().push(copy);
    }
    let mut findings = Vec::new();
    for (queue, copies) in by_queue {
        let dead: Vec<&TraceEvent> = copies
            .iter()
            .filter_map(|c| c.end.filter(|e| e.kind == Kind::DeadLettered))
            .collect();
        let Some(threshold) = threshold(view, queue, &dead) else {
            continue;
        };
        for copy in copies {
            findings.extend(check_copy(copy, &threshold));
        }
    }
    findings
}

/// The profile's max deliveries, else the count the queue's own policy dead-letters at (the
/// fewest deliveries any of its dead letters had); `None` when nothing caps deliveries.
fn threshold(view: &RunView<'_>, queue: &str, dead: &[&TraceEvent]) -> Option<Threshold> {
    let profile = &view.profile.queue.max_deliveries;
    if let Some(max) = profile.value {
        return Some(Threshold {
            max: max as usize,
            from: format!(
                "the {} profile's max deliveries {max} ({})",
                view.profile.platform, profile.source
            ),
            exact: true,
        });
    }
    let max = dead.iter().filter_map(|e| deliveries(e)).min()?;
    Some(Threshold {
        max,
        from: format!(
            "the redrive policy of queue '{queue}' (its dead letters went after {max} \
             deliveries at the fewest)"
        ),
        exact: false,
    })
}

fn deliveries(e: &TraceEvent) -> Option<usize> {
    e.get("deliveries")?.parse().ok()
}

/// At most one finding per copy: a delivery past the threshold, else a dead letter at the
/// wrong count.
fn check_copy(copy: &MessageCopy<'_>, threshold: &Threshold) -> Option<Finding> {
    if let Some(past) = copy.deliveries.get(threshold.max) {
        return Some(INVARIANT.finding(
            Severity::Violation,
            copy.subject(),
            format!(
                "delivered {} times{}, the {}th to {} at {}: past the threshold of {} set by {}",
                copy.deliveries.len(),
                copy.holder_words(),
                threshold.max + 1,
                past.get("to").unwrap_or("?"),
                when(past),
                threshold.max,
                threshold.from,
            ),
            past.t_ms,
        ));
    }
    let dead = copy.end.filter(|e| e.kind == Kind::DeadLettered)?;
    let count = deliveries(dead)?;
    let side = match count.cmp(&threshold.max) {
        std::cmp::Ordering::Less if threshold.exact => "before",
        std::cmp::Ordering::Greater => "after",
        _ => return None,
    };
    Some(INVARIANT.finding(
        Severity::Violation,
        copy.subject(),
        format!(
            "dead-lettered at {} after {count} deliveries{}, {side} the threshold of {} set by \
             {}",
            when(dead),
            copy.holder_words(),
            threshold.max,
            threshold.from,
        ),
        dead.t_ms,
    ))
}
