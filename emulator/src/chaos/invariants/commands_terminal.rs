//! Commands end: every created command reaches SUCCEEDED, FAILED or EXPIRED by the end of a
//! drained run, and a terminal state is final.

use std::collections::BTreeMap;

use super::{Finding, Invariant, RunView, Severity, when};
use crate::engine::{Kind, TraceEvent};

pub(super) const INVARIANT: Invariant = Invariant {
    name: "commands-terminal",
    summary: "every command reaches one terminal state: succeeded, failed or expired",
    source: "upstream-runtime-and-bindings.md §5.1 (CommandState PENDING → DISPATCHED → \
             SUCCEEDED | FAILED | EXPIRED; terminal states are final) and §5.2 (a passed \
             deadline makes a command EXPIRED)",
    check,
};

fn is_terminal(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::CommandSucceeded | Kind::CommandFailed | Kind::CommandExpired
    )
}

fn is_command_event(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::CommandCreated
            | Kind::CommandDispatched
            | Kind::CommandLeaseExpired
            | Kind::CommandLeaseReleased
    ) || is_terminal(kind)
}

fn check(view: &RunView<'_>) -> Vec<Finding> {
    // Command id → its events, in order (ids are unique across targets).
    let mut commands: BTreeMap<&str, Vec<&TraceEvent>> = BTreeMap::new();
    for e in view.trace.iter().filter(|e| is_command_event(e.kind)) {
        if let Some(id) = e.subject.as_deref() {
            commands.entry(id).or_default().push(e);
        }
    }
    let mut findings = Vec::new();
    for (id, events) in commands {
        let subject = format!("{}/{id}", events[0].resource);
        let ends: Vec<&TraceEvent> = events
            .iter()
            .copied()
            .filter(|e| is_terminal(e.kind))
            .collect();
        if let [first, second, ..] = ends.as_slice() {
            findings.push(INVARIANT.finding(
                Severity::Violation,
                subject.clone(),
                format!(
                    "reached {} at {} and then {} at {}: a terminal state is final",
                    first.kind.as_str(),
                    when(first),
                    second.kind.as_str(),
                    when(second),
                ),
                second.t_ms,
            ));
        }
        let created = events.iter().find(|e| e.kind == Kind::CommandCreated);
        if let (true, Some(created), []) = (view.drained, created, ends.as_slice()) {
            let last = events.last().expect("not empty");
            findings.push(INVARIANT.finding(
                Severity::Violation,
                subject,
                format!(
                    "created at {}, last event {} at {}: the drained run ended with it \
                     neither succeeded, failed nor expired",
                    when(created),
                    last.kind.as_str(),
                    when(last),
                ),
                last.t_ms,
            ));
        }
    }
    findings
}
