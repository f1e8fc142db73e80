//! Daemon checks: platform support (seed 004) and code type (seed 003).

use super::{Ctx, Diagnostic};
use crate::stack::Code;

/// Seed 004: "Daemon is currently supported on Local and Kubernetes. AWS, GCP, and Azure fail
/// during preflight before any provider calls." Seed 003: image code only today.
pub fn support(ctx: &Ctx) -> Vec<Diagnostic> {
    let profile = &ctx.profile.daemon;
    let platform = ctx.profile.platform;
    let mut out = Vec::new();
    for (id, daemon) in ctx.stack.daemons() {
        if !profile.supported.value {
            out.push(Diagnostic::error(
                "DAEMON_PLATFORM_UNSUPPORTED",
                "DaemonPlatformCheck",
                Some(id),
                format!(
                    "Daemon '{id}' is not supported on platform '{platform}'. Daemons are currently supported on local and kubernetes."
                ),
                profile.supported.source,
            ));
        }
        if matches!(daemon.code, Code::Source { .. }) && !profile.source_code_supported.value {
            out.push(Diagnostic::error(
                "DAEMON_SOURCE_UNSUPPORTED",
                "DaemonCodeCheck",
                Some(id),
                format!(
                    "Daemon '{id}' uses code type 'source', which the Local and Kubernetes daemon controllers do not build; use code type 'image'"
                ),
                profile.source_code_supported.source,
            ));
        }
        if let Some(grace) = daemon
            .stop_grace_period_seconds
            .filter(|g| !(1..=86_400).contains(g))
        {
            out.push(Diagnostic::error(
                "DAEMON_CONFIG_INVALID",
                "DaemonCodeCheck",
                Some(id),
                format!(
                    "Daemon '{id}': stopGracePeriodSeconds {grace} must be between 1 and 86400"
                ),
                "upstream-stack-and-limits.md §1.10 (schema 1–86400)",
            ));
        }
    }
    out
}
