//! `alien chaos` (issue 13): seeded fault plans swept over scenarios in virtual time, an
//! invariant library checked over every trace, shrinking of a failing run to a small
//! regression scenario, and an idempotency detector on the real app.

pub mod idempotency;
pub mod invariants;
pub mod plan;
pub mod report;
pub mod run;
pub mod shrink;
pub mod sweep;
pub mod workload;
