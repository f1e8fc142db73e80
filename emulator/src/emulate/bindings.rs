//! The binding environment a workload gets: one `ALIEN_<NAME>_BINDING` JSON per linked
//! resource, using upstream's local services (published-3.3.49.md §2-§3, §12): queues through
//! `local-queue-http` (the emulator owns the queue), storage as a `local-storage` directory
//! the emulator watches, KV as a `local-kv` directory the app opens itself.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::stack::{Resource, ResourceRef, Stack};

/// `ALIEN_` + upper(name with `-` → `_`) + `_BINDING` (upstream-stack-and-limits.md §1.5).
pub fn binding_env_var(name: &str) -> String {
    format!("ALIEN_{}_BINDING", name.to_uppercase().replace('-', "_"))
}

/// Where the emulator keeps a resource's local data.
pub fn resource_dir(state_dir: &Path, kind: &str, id: &str) -> std::path::PathBuf {
    state_dir.join(kind).join(id)
}

/// Binding env vars for `links`. `queue_binding` gives the `local-queue-http` JSON of a queue.
pub fn link_env(
    stack: &Stack,
    links: &[ResourceRef],
    state_dir: &Path,
    queue_binding: &dyn Fn(&str) -> Option<Value>,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for link in links {
        let Some(entry) = stack.resource(&link.id) else {
            continue;
        };
        let value = match &entry.config {
            Resource::Queue(_) => queue_binding(&link.id),
            Resource::Storage(_) => Some(json!({
                "service": "local-storage",
                "storagePath": resource_dir(state_dir, "storage", &link.id).display().to_string(),
            })),
            Resource::Kv(_) => Some(json!({
                "service": "local-kv",
                "dataDir": resource_dir(state_dir, "kv", &link.id).display().to_string(),
            })),
            Resource::Other(o) if o.resource_type == "vault" => Some(json!({
                "service": "local-vault",
                "vaultName": link.id,
                "dataDir": resource_dir(state_dir, "vault", &link.id).display().to_string(),
            })),
            _ => None,
        };
        if let Some(value) = value {
            env.insert(binding_env_var(&link.id), value.to_string());
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names_follow_upstream() {
        assert_eq!(binding_env_var("my-files"), "ALIEN_MY_FILES_BINDING");
        assert_eq!(binding_env_var("cache"), "ALIEN_CACHE_BINDING");
    }

    #[test]
    fn storage_and_kv_bindings_point_into_the_state_dir() {
        let stack = crate::stack::parse_stack_json(
            r#"{"id":"s","resources":{
                "files":{"config":{"type":"storage","id":"files"},"lifecycle":"frozen","dependencies":[]},
                "cache":{"config":{"type":"kv","id":"cache"},"lifecycle":"frozen","dependencies":[]},
                "jobs":{"config":{"type":"queue","id":"jobs"},"lifecycle":"frozen","dependencies":[]}}}"#,
            Path::new("s.json"),
        )
        .unwrap();
        let links: Vec<ResourceRef> = ["files", "cache", "jobs"]
            .iter()
            .map(|id| ResourceRef {
                resource_type: "x".into(),
                id: (*id).into(),
            })
            .collect();
        let env = link_env(&stack, &links, Path::new("/state"), &|q| {
            Some(
                json!({"service": "local-queue-http", "endpoint": format!("http://127.0.0.1:1/queues/{q}"), "token": "t"}),
            )
        });
        let files: Value = serde_json::from_str(&env["ALIEN_FILES_BINDING"]).unwrap();
        assert_eq!(
            files,
            json!({"service": "local-storage", "storagePath": "/state/storage/files"})
        );
        let cache: Value = serde_json::from_str(&env["ALIEN_CACHE_BINDING"]).unwrap();
        assert_eq!(cache["service"], "local-kv");
        assert!(env["ALIEN_JOBS_BINDING"].contains("local-queue-http"));
    }
}
