//! The permission sets a workload holds on each resource, as deployment computes them
//! (upstream-stack-and-limits.md §1.5; upstream `crates/alien-preflights/src/mutations/
//! resource_link_permissions.rs`):
//!
//! - a workload's `permissions` names a profile in `stack.permissions.profiles`; the profile
//!   maps a scope (`*` = every resource, or a resource id) to permission-set references (a
//!   name such as `queue/data-read`, or an inline set `{id, …}`);
//! - links and triggers are dependency edges that add **default** grants scoped to the
//!   resource — link → queue: `queue/data-read` + `queue/data-write`; link → storage:
//!   `storage/data-write`; link → kv: `kv/data-write`; link → vault: `vault/data-read` +
//!   `vault/data-write`; queue trigger: `queue/data-read`; storage trigger:
//!   `storage/data-write`; links to workers and schedules add nothing;
//! - defaults apply only when the profile has **no entry of its own** for that resource id:
//!   explicit resource grants take precedence ("Explicit resource grants take precedence
//!   over those defaults");
//! - a profile that does not exist gets no grants at all.

use std::collections::BTreeSet;

use serde_json::Value;

use super::model::{ResourceRef, Stack, WorkerTrigger};

/// The permission sets one workload holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Grants {
    /// The profile the workload names.
    pub profile: String,
    /// Whether that profile exists in the stack.
    pub profile_exists: bool,
    /// Sets granted on every resource (`*`).
    stack_wide: BTreeSet<String>,
    /// Sets granted per resource id (explicit entries, or link/trigger defaults).
    per_resource: Vec<(String, BTreeSet<String>)>,
}

impl Grants {
    /// The sets that apply to `resource`: stack-wide plus resource-scoped.
    pub fn on(&self, resource: &str) -> BTreeSet<&str> {
        let mut sets: BTreeSet<&str> = self.stack_wide.iter().map(String::as_str).collect();
        for (id, scoped) in &self.per_resource {
            if id == resource {
                sets.extend(scoped.iter().map(String::as_str));
            }
        }
        sets
    }

    /// Whether any of `wanted` applies to `resource`.
    pub fn allows_any(&self, resource: &str, wanted: &[&str]) -> bool {
        let held = self.on(resource);
        wanted.iter().any(|w| held.contains(w))
    }
}

/// Default grants a link adds, by the linked resource's type.
fn link_defaults(link: &ResourceRef) -> &'static [&'static str] {
    match link.resource_type.as_str() {
        "queue" => &["queue/data-read", "queue/data-write"],
        "storage" => &["storage/data-write"],
        "kv" => &["kv/data-write"],
        "vault" => &["vault/data-read", "vault/data-write"],
        "sandbox" => &["sandbox/execute"],
        _ => &[],
    }
}

/// The id of a permission-set reference: a string, or an inline set's `id`.
fn reference_id(reference: &Value) -> Option<String> {
    match reference {
        Value::String(name) => Some(name.clone()),
        Value::Object(set) => set.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// The grants of workload `id` (worker or daemon); `None` if there is no such workload.
pub fn grants_of(stack: &Stack, id: &str) -> Option<Grants> {
    let (profile, links, triggers): (&str, &[ResourceRef], &[WorkerTrigger]) =
        if let Some((_, w)) = stack.workers().find(|(wid, _)| *wid == id) {
            (&w.permissions, &w.links, &w.triggers)
        } else if let Some((_, d)) = stack.daemons().find(|(did, _)| *did == id) {
            (&d.permissions, &d.links, &[])
        } else {
            return None;
        };
    let entries = stack
        .permissions
        .as_ref()
        .and_then(|p| p.profiles.get(profile));
    let mut grants = Grants {
        profile: profile.to_string(),
        profile_exists: entries.is_some(),
        stack_wide: BTreeSet::new(),
        per_resource: Vec::new(),
    };
    let Some(entries) = entries else {
        return Some(grants);
    };
    for (scope, references) in entries {
        let sets: BTreeSet<String> = references.iter().filter_map(reference_id).collect();
        if scope == "*" {
            grants.stack_wide.extend(sets);
        } else {
            grants.per_resource.push((scope.clone(), sets));
        }
    }
    let mut defaults: Vec<(String, &'static [&'static str])> = links
        .iter()
        .map(|link| (link.id.clone(), link_defaults(link)))
        .collect();
    for trigger in triggers {
        match trigger {
            WorkerTrigger::Queue { queue, .. } => {
                defaults.push((queue.id.clone(), &["queue/data-read"]))
            }
            WorkerTrigger::Storage { storage, .. } => {
                defaults.push((storage.id.clone(), &["storage/data-write"]))
            }
            WorkerTrigger::Schedule { .. } => {}
        }
    }
    for (resource, sets) in defaults {
        if sets.is_empty() || entries.contains_key(&resource) {
            continue;
        }
        grants
            .per_resource
            .push((resource, sets.iter().map(|s| s.to_string()).collect()));
    }
    Some(grants)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::stack::parse_stack_json;

    fn stack(profiles: &str) -> Stack {
        parse_stack_json(
            &format!(
                r#"{{"id":"s","resources":{{
              "jobs":{{"config":{{"type":"queue","id":"jobs"}},"lifecycle":"frozen","dependencies":[]}},
              "files":{{"config":{{"type":"storage","id":"files"}},"lifecycle":"frozen","dependencies":[]}},
              "backend":{{"config":{{"type":"worker","id":"backend","links":[],"triggers":[],"permissions":"none","code":{{"type":"image","image":"x"}}}},"lifecycle":"live","dependencies":[]}},
              "w":{{"config":{{"type":"worker","id":"w","permissions":"p","code":{{"type":"image","image":"x"}},
                "links":[{{"type":"queue","id":"jobs"}},{{"type":"worker","id":"backend"}}],
                "triggers":[{{"type":"storage","storage":{{"type":"storage","id":"files"}},"events":["created"]}}]}},"lifecycle":"live","dependencies":[]}}}},
              "permissions":{{"profiles":{profiles}}}}}"#
            ),
            Path::new("s.json"),
        )
        .unwrap()
    }

    /// §1.5: link → queue adds data-read and data-write, a storage trigger data-write, and a
    /// link to a worker adds nothing (no `worker/invoke`).
    #[test]
    fn links_and_triggers_add_defaults() {
        let g = grants_of(&stack(r#"{"p":{}}"#), "w").unwrap();
        assert!(g.profile_exists);
        assert_eq!(
            g.on("jobs"),
            BTreeSet::from(["queue/data-read", "queue/data-write"])
        );
        assert_eq!(g.on("files"), BTreeSet::from(["storage/data-write"]));
        assert!(g.on("backend").is_empty());
    }

    /// resource_link_permissions.rs: "Explicit resource grants take precedence over those
    /// defaults" — a profile naming `jobs` with data-read only cannot send.
    #[test]
    fn explicit_resource_entries_replace_link_defaults() {
        let g = grants_of(&stack(r#"{"p":{"jobs":["queue/data-read"]}}"#), "w").unwrap();
        assert_eq!(g.on("jobs"), BTreeSet::from(["queue/data-read"]));
        assert!(!g.allows_any("jobs", &["queue/data-write", "queue/publish"]));
    }

    /// §1.5: `*` applies to every resource; inline sets count by their `id`.
    #[test]
    fn stack_wide_and_inline_sets() {
        let g = grants_of(
            &stack(r#"{"p":{"*":["worker/invoke",{"id":"custom/x","platforms":{}}]}}"#),
            "w",
        )
        .unwrap();
        assert!(g.allows_any("backend", &["worker/invoke"]));
        assert!(g.on("anything").contains("custom/x"));
    }

    /// The mutation skips grants for a profile that does not exist.
    #[test]
    fn missing_profile_grants_nothing() {
        let g = grants_of(&stack(r#"{"p":{}}"#), "backend").unwrap();
        assert!(!g.profile_exists);
        assert!(g.on("jobs").is_empty());
        assert!(grants_of(&stack("{}"), "nobody").is_none());
    }
}
