//! `alien check`: the per-platform preflight. Checks run in upstream's registration order
//! (upstream-stack-and-limits.md §3.1), then the rules upstream leaves to deploy time or to
//! the cloud, each judged against the selected [`Profile`].

mod cron;
mod daemon;
mod diagnostic;
mod naming;
mod structure;
mod worker;

use std::fmt::Write as _;

use serde::Serialize;

pub use diagnostic::{Diagnostic, Severity};
pub use naming::id_pattern_violation;

use crate::profile::Profile;
use crate::stack::Stack;

/// What every check sees.
pub struct Ctx<'a> {
    pub stack: &'a Stack,
    pub profile: &'a Profile,
}

type Check = fn(&Ctx) -> Vec<Diagnostic>;

const CHECKS: &[Check] = &[
    structure::supported_platform,
    structure::allowed_resources,
    structure::lifecycles,
    structure::no_cycles,
    structure::references_exist,
    worker::single_queue_trigger,
    structure::permission_profiles,
    naming::public_endpoints,
    naming::id_length,
    naming::id_pattern,
    worker::memory,
    worker::timeout,
    worker::trigger_wiring,
    worker::storage_events,
    worker::ack_deadline,
    cron::schedules,
    daemon::support,
    structure::external_bindings,
    worker::ineffective_settings,
];

/// The outcome of a preflight run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub stack: String,
    pub platform: crate::Platform,
    pub as_of: chrono::NaiveDate,
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    pub resources: Vec<ResourceSummary>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub emulated: bool,
}

/// Runs every check of `profile` on `stack`.
pub fn run(stack: &Stack, profile: &Profile) -> Report {
    let ctx = Ctx { stack, profile };
    let diagnostics: Vec<Diagnostic> = CHECKS.iter().flat_map(|check| check(&ctx)).collect();
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    Report {
        stack: stack.id.clone(),
        platform: profile.platform,
        as_of: profile.as_of,
        ok: errors == 0,
        errors,
        warnings: diagnostics.len() - errors,
        resources: stack
            .resources
            .iter()
            .map(|(id, entry)| ResourceSummary {
                id: id.clone(),
                resource_type: entry.config.type_name().to_string(),
                emulated: entry.config.is_emulated(),
            })
            .collect(),
        diagnostics,
    }
}

impl Report {
    /// The human form printed by `alien check`.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "stack '{}' on {} (limits as of {}): {} resources",
            self.stack,
            self.platform,
            self.as_of,
            self.resources.len()
        );
        for d in &self.diagnostics {
            let level = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = writeln!(out, "{level}[{}]: {}", d.code, d.message);
            let _ = writeln!(out, "  check: {} · source: {}", d.check, d.source);
        }
        let verdict = if self.ok { "ok" } else { "failed" };
        let _ = writeln!(
            out,
            "{verdict}: {} error{}, {} warning{}",
            self.errors,
            if self.errors == 1 { "" } else { "s" },
            self.warnings,
            if self.warnings == 1 { "" } else { "s" }
        );
        out
    }
}

#[cfg(test)]
mod tests;
