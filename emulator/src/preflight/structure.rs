//! Checks on the shape of the stack: platforms, resource types, lifecycles, references,
//! cycles, permission profiles (upstream-stack-and-limits.md §3.2).

use std::collections::{HashMap, HashSet};

use super::{Ctx, Diagnostic};
use crate::stack::{Lifecycle, Resource};

const CHECKS: &str = "upstream-stack-and-limits.md §3.2";

/// `Stack::supports_platform` (§1.1): None means all platforms.
pub fn supported_platform(ctx: &Ctx) -> Vec<Diagnostic> {
    let platform = ctx.profile.platform;
    if ctx.stack.supports_platform(platform) {
        return vec![];
    }
    let listed: Vec<String> = ctx
        .stack
        .supported_platforms
        .iter()
        .flatten()
        .map(|p| p.to_string())
        .collect();
    vec![Diagnostic::error(
        "PLATFORM_NOT_SUPPORTED",
        "SupportedPlatforms",
        None,
        format!(
            "Stack '{}' does not support platform '{}' (supportedPlatforms: {})",
            ctx.stack.id,
            platform,
            listed.join(", ")
        ),
        "upstream-stack-and-limits.md §1.1 (supportedPlatforms)",
    )]
}

/// `AllowedUserResourcesCheck`, plus a note for every allowed type the emulator does not run.
pub fn allowed_resources(ctx: &Ctx) -> Vec<Diagnostic> {
    const ALLOWED: [&str; 17] = [
        "worker",
        "daemon",
        "storage",
        "artifact-registry",
        "build",
        "queue",
        "kv",
        "vault",
        "key",
        "container",
        "service-account",
        "compute-cluster",
        "postgres",
        "ai",
        "email",
        "sandbox",
        "experimental/aws-opensearch",
    ];
    let mut out = Vec::new();
    for (id, entry) in &ctx.stack.resources {
        let ty = entry.config.type_name();
        if !ALLOWED.contains(&ty) {
            out.push(Diagnostic::error(
                "RESOURCE_TYPE_NOT_ALLOWED",
                "AllowedUserResourcesCheck",
                Some(id),
                format!(
                    "Resource '{id}' has type '{ty}' which is not allowed. User-defined resources must be one of: {}",
                    ALLOWED.join(", ")
                ),
                CHECKS,
            ));
        } else if !entry.config.is_emulated() {
            out.push(Diagnostic::warning(
                "NOT_EMULATED",
                "EmulatedResources",
                Some(id),
                format!("Resource '{id}' of type '{ty}' is kept in the stack but not emulated"),
                "issue 2 (other resource types are kept and reported, not rejected)",
            ));
        }
    }
    out
}

/// `FrozenResourceLifecycleCheck` and `PublicWorkerLifecycleCheck` (§1.4, §3.2).
pub fn lifecycles(ctx: &Ctx) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (id, entry) in &ctx.stack.resources {
        let ty = entry.config.type_name();
        let allowed: &[Lifecycle] = match ty {
            "worker" | "daemon" | "container" => &[Lifecycle::Live],
            "compute-cluster"
            | "sandbox"
            | "artifact-registry"
            | "key"
            | "build"
            | "network"
            | "service-account"
            | "email"
            | "remote-stack-management"
            | "resource-access"
            | "experimental/aws-opensearch" => &[Lifecycle::Frozen],
            _ => &[Lifecycle::Frozen, Lifecycle::Live],
        };
        if allowed.contains(&entry.lifecycle) {
            continue;
        }
        let message = if ty == "worker" {
            format!(
                "Worker '{id}' has lifecycle {:?}, but workers must be Live. Workers are Alien-owned resources and require provision permissions.",
                entry.lifecycle
            )
        } else {
            let allowed_text = match allowed {
                [Lifecycle::Live] => "Live",
                [Lifecycle::Frozen] => "Frozen",
                _ => "Frozen or Live",
            };
            format!(
                "Resource '{id}' of type '{ty}' has lifecycle {:?}, but allowed lifecycles are {allowed_text}",
                entry.lifecycle
            )
        };
        let check = if ty == "worker" {
            "PublicWorkerLifecycleCheck"
        } else {
            "FrozenResourceLifecycleCheck"
        };
        out.push(Diagnostic::error(
            "INVALID_LIFECYCLE",
            check,
            Some(id),
            message,
            CHECKS,
        ));
    }
    out
}

/// `ResourceReferencesExistCheck`: explicit dependencies and implicit references (links,
/// trigger targets, encryption key) must name resources of the stack (by id only).
pub fn references_exist(ctx: &Ctx) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (id, entry) in &ctx.stack.resources {
        for dep in &entry.dependencies {
            if !ctx.stack.resources.contains_key(&dep.id) {
                out.push(Diagnostic::error(
                    "RESOURCE_REFERENCE_MISSING",
                    "ResourceReferencesExistCheck",
                    Some(id),
                    format!(
                        "Resource '{id}' depends on '{}' which does not exist in the stack",
                        dep.id
                    ),
                    CHECKS,
                ));
            }
        }
        for reference in entry.config.references() {
            if reference.resource_type != "compute-cluster"
                && !ctx.stack.resources.contains_key(&reference.id)
            {
                out.push(Diagnostic::error(
                    "RESOURCE_REFERENCE_MISSING",
                    "ResourceReferencesExistCheck",
                    Some(id),
                    format!(
                        "Resource '{id}' references '{}' which does not exist in the stack",
                        reference.id
                    ),
                    CHECKS,
                ));
            }
        }
    }
    out
}

/// `ValidResourceDependenciesCheck`: depth-first search; only the first cycle is reported.
pub fn no_cycles(ctx: &Ctx) -> Vec<Diagnostic> {
    let edges: HashMap<&str, Vec<&str>> = ctx
        .stack
        .resources
        .iter()
        .map(|(id, entry)| {
            let mut targets: Vec<&str> = entry.dependencies.iter().map(|d| d.id.as_str()).collect();
            targets.extend(entry.config.references().into_iter().map(|r| r.id.as_str()));
            (id.as_str(), targets)
        })
        .collect();
    let mut done: HashSet<&str> = HashSet::new();
    for start in ctx.stack.resources.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = find_cycle(start, &edges, &mut path, &mut done) {
            return vec![Diagnostic::error(
                "CIRCULAR_DEPENDENCY",
                "ValidResourceDependenciesCheck",
                Some(start),
                format!("Circular dependency detected: {}", cycle.join(" -> ")),
                CHECKS,
            )];
        }
    }
    vec![]
}

fn find_cycle<'a>(
    node: &'a str,
    edges: &HashMap<&'a str, Vec<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut HashSet<&'a str>,
) -> Option<Vec<&'a str>> {
    if let Some(pos) = path.iter().position(|n| *n == node) {
        let mut cycle = path[pos..].to_vec();
        cycle.push(node);
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node);
    for next in edges.get(node).into_iter().flatten() {
        if let Some(cycle) = find_cycle(next, edges, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(node);
    None
}

/// `PermissionProfilesExistCheck` for workers (upstream does not check daemons; we warn).
pub fn permission_profiles(ctx: &Ctx) -> Vec<Diagnostic> {
    let profiles: Vec<&String> = ctx
        .stack
        .permissions
        .as_ref()
        .map(|p| p.profiles.keys().collect())
        .unwrap_or_default();
    let available = if profiles.is_empty() {
        "(none defined)".to_string()
    } else {
        profiles
            .iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    for (id, entry) in &ctx.stack.resources {
        let (kind, profile) = match &entry.config {
            Resource::Worker(w) => ("Worker", &w.permissions),
            Resource::Daemon(d) => ("Daemon", &d.permissions),
            _ => continue,
        };
        if profiles.contains(&profile) {
            continue;
        }
        let message = format!(
            "{kind} '{id}' references permission profile '{profile}' which does not exist. Available profiles: {available}"
        );
        out.push(if kind == "Worker" {
            Diagnostic::error("PERMISSION_PROFILE_MISSING", "PermissionProfilesExistCheck", Some(id), message, CHECKS)
        } else {
            Diagnostic::warning(
                "PERMISSION_PROFILE_MISSING",
                "PermissionProfilesExistCheck",
                Some(id),
                format!("{message} (upstream preflight does not check daemons; its bindings would get no grants)"),
                "upstream-stack-and-limits.md §3.6 item 4",
            )
        });
    }
    out
}

/// Platforms that cannot provision some infrastructure need external bindings for it
/// (`EXTERNAL_BINDING_REQUIRED`, §2.2: storage, queue and kv on Kubernetes); the emulator
/// stands in for them, so this is a warning here.
pub fn external_bindings(ctx: &Ctx) -> Vec<Diagnostic> {
    let required = &ctx.profile.external_binding_types;
    let platform = ctx.profile.platform;
    ctx.stack
        .resources
        .iter()
        .filter(|(_, e)| required.value.contains(&e.config.type_name()))
        .map(|(id, e)| {
            Diagnostic::warning(
                "EXTERNAL_BINDING_REQUIRED",
                "ExternalBindingsRequiredCheck",
                Some(id),
                format!(
                    "Platform '{platform}' requires an external binding for infrastructure resource '{id}' of type '{}'. The emulator provides one; a real deployment needs it configured.",
                    e.config.type_name()
                ),
                required.source,
            )
        })
        .collect()
}
