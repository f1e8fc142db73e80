//! Naming checks: resource ids, per-platform id lengths and public endpoint labels
//! (upstream-stack-and-limits.md §1.6, §3.3.3, §3.3.4).

use std::collections::HashSet;

use super::{Ctx, Diagnostic};
use crate::profile::IdLimit;
use crate::stack::Resource;

/// `ResourceIdPatternCheck`: `[a-z0-9]([a-z0-9-]*[a-z0-9])?` without `--`; the first failing
/// rule gives the reason.
pub fn id_pattern(ctx: &Ctx) -> Vec<Diagnostic> {
    ctx.stack
        .resources
        .keys()
        .filter_map(|id| {
            id_pattern_violation(id).map(|reason| {
                Diagnostic::error(
                    "RESOURCE_ID_INVALID",
                    "ResourceIdPatternCheck",
                    Some(id),
                    format!("Resource '{id}': {reason}"),
                    "upstream-stack-and-limits.md §3.3.3",
                )
            })
        })
        .collect()
}

/// The reason an id fails the pattern, in upstream's rule order.
pub fn id_pattern_violation(id: &str) -> Option<&'static str> {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let first = id.chars().next()?;
    if !ok(first) {
        return Some("must start with a lowercase letter or digit");
    }
    if !id.chars().last().is_some_and(ok) {
        return Some("must end with a lowercase letter or digit");
    }
    if !id.chars().all(|c| ok(c) || c == '-') {
        return Some("must only contain lowercase letters, digits, and hyphens");
    }
    if id.contains("--") {
        return Some("must not contain consecutive hyphens");
    }
    None
}

/// `ResourceNameLengthCheck` with the platform's limits.
pub fn id_length(ctx: &Ctx) -> Vec<Diagnostic> {
    let names = &ctx.profile.names;
    let mut out = Vec::new();
    for (id, entry) in &ctx.stack.resources {
        let limit: Option<IdLimit> = match entry.config.type_name() {
            "worker" => names.worker_id_max.value,
            "storage" => names.storage_id_max.value,
            "vault" => names.vault_id_max.value,
            "service-account" => names.service_account_id_max.value,
            _ => None,
        };
        if let Some(limit) = limit.filter(|l| id.len() > l.max) {
            out.push(Diagnostic::error(
                "RESOURCE_ID_TOO_LONG",
                "ResourceNameLengthCheck",
                Some(id),
                format!(
                    "Resource '{id}' (type: {}) has ID length {} which exceeds the maximum of {} for {} (cloud limit: {}, naming pattern: {}).",
                    entry.config.type_name(),
                    id.len(),
                    limit.max,
                    limit.cloud_resource,
                    limit.cloud_limit,
                    limit.pattern
                ),
                "upstream-stack-and-limits.md §3.3.4",
            ));
        }
    }
    out
}

/// `SingleExposedPortCheck` for worker public endpoints: DNS label names, host labels, one
/// apex, no wildcard on the apex, no duplicate names.
pub fn public_endpoints(ctx: &Ctx) -> Vec<Diagnostic> {
    const LABEL_REASON: &str = "public endpoint name must be a single lowercase DNS label: letters, numbers, hyphens, no dots, and no leading or trailing hyphen";
    let mut out = Vec::new();
    for (id, entry) in &ctx.stack.resources {
        let Resource::Worker(worker) = &entry.config else {
            continue;
        };
        let mut seen = HashSet::new();
        let mut apex: Option<&str> = None;
        let mut push = |message: String| {
            out.push(Diagnostic::error(
                "INVALID_PUBLIC_ENDPOINT",
                "SingleExposedPortCheck",
                Some(id),
                message,
                "upstream-stack-and-limits.md §1.6 (WorkerPublicEndpoint validation)",
            ))
        };
        for endpoint in &worker.public_endpoints {
            if !is_dns_label(&endpoint.name) {
                push(format!(
                    "Worker '{id}': {LABEL_REASON} (got '{}')",
                    endpoint.name
                ));
            }
            if !seen.insert(endpoint.name.as_str()) {
                push(format!(
                    "Worker '{id}': duplicate public endpoint name '{}'",
                    endpoint.name
                ));
            }
            match endpoint.host_label.as_deref() {
                Some("@") => {
                    if endpoint.wildcard_subdomains {
                        push(format!(
                            "Worker '{id}': an apex public endpoint cannot also route wildcard subdomains"
                        ));
                    }
                    if let Some(first) = apex {
                        push(format!(
                            "Worker '{id}': only one apex public endpoint is allowed per resource; '{first}' already uses hostLabel '@'"
                        ));
                    }
                    apex.get_or_insert(endpoint.name.as_str());
                }
                Some(label) if !is_dns_label(label) => push(format!(
                    "Worker '{id}': hostLabel '{label}' must be '@' or a single lowercase DNS label"
                )),
                _ => {}
            }
        }
    }
    out
}

/// A single lowercase DNS label of at most 63 characters.
fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
