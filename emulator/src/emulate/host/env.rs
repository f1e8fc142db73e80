//! The environment contract between the host and a worker app.
//!
//! What the runtime injects (upstream-runtime-and-bindings.md §1.1, §2.1, §2.2 step 5;
//! published-3.3.49.md §9, §12 item 2): `ALIEN_WORKER_GRPC_ADDRESS` and its legacy twin
//! `ALIEN_BINDINGS_GRPC_ADDRESS` (`host:port`), `ALIEN_TRANSPORT`, `ALIEN_DEPLOYMENT_TYPE`,
//! `ALIEN_CURRENT_WORKER_BINDING_NAME`, `ALIEN_WORKER_TIMEOUT_SECONDS` and
//! `ALIEN_RUNTIME_SEND_OTLP`. The caller adds the `ALIEN_<NAME>_BINDING` JSON values and the
//! worker's own `environment`. Every `ALIEN_*_BINDING` is parsed by `AlienContext::from_env`
//! and a non-JSON one aborts the app (published-3.3.49.md §2), so such values are refused here.

use std::{collections::BTreeMap, net::SocketAddr};

pub const ALIEN_WORKER_GRPC_ADDRESS: &str = "ALIEN_WORKER_GRPC_ADDRESS";
pub const ALIEN_BINDINGS_GRPC_ADDRESS: &str = "ALIEN_BINDINGS_GRPC_ADDRESS";
pub const ALIEN_TRANSPORT: &str = "ALIEN_TRANSPORT";
pub const ALIEN_DEPLOYMENT_TYPE: &str = "ALIEN_DEPLOYMENT_TYPE";
pub const ALIEN_CURRENT_WORKER_BINDING_NAME: &str = "ALIEN_CURRENT_WORKER_BINDING_NAME";
pub const ALIEN_WORKER_TIMEOUT_SECONDS: &str = "ALIEN_WORKER_TIMEOUT_SECONDS";
pub const ALIEN_RUNTIME_SEND_OTLP: &str = "ALIEN_RUNTIME_SEND_OTLP";
/// Legacy marker that switches old SDKs to bindings-over-gRPC; the runtime strips it
/// (upstream-runtime-and-bindings.md §1.1).
pub const ALIEN_BINDINGS_MODE: &str = "ALIEN_BINDINGS_MODE";

/// Names only the host sets; caller-supplied env may not override them.
pub const HOST_OWNED: [&str; 8] = [
    ALIEN_WORKER_GRPC_ADDRESS,
    ALIEN_BINDINGS_GRPC_ADDRESS,
    ALIEN_TRANSPORT,
    ALIEN_DEPLOYMENT_TYPE,
    ALIEN_CURRENT_WORKER_BINDING_NAME,
    ALIEN_WORKER_TIMEOUT_SECONDS,
    ALIEN_RUNTIME_SEND_OTLP,
    ALIEN_BINDINGS_MODE,
];

/// Whether `name` is a binding variable (`ALIEN_<NAME>_BINDING`, published-3.3.49.md §2).
pub fn is_binding_var(name: &str) -> bool {
    name.starts_with("ALIEN_")
        && name.ends_with("_BINDING")
        && name.len() > "ALIEN_".len() + "_BINDING".len()
}

/// Why caller-supplied env was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("`{0}` is set by the worker host and may not be supplied by the caller")]
    HostOwned(String),
    #[error(
        "`{name}` must be a JSON object (AlienContext::from_env rejects it otherwise): {reason}"
    )]
    BindingNotJson { name: String, reason: String },
}

/// Checks caller-supplied env against the contract.
pub fn validate(extra: &BTreeMap<String, String>) -> Result<(), EnvError> {
    for (name, value) in extra {
        if HOST_OWNED.contains(&name.as_str()) {
            return Err(EnvError::HostOwned(name.clone()));
        }
        if is_binding_var(name) {
            match serde_json::from_str::<serde_json::Value>(value) {
                Ok(serde_json::Value::Object(_)) => {}
                Ok(other) => {
                    return Err(EnvError::BindingNotJson {
                        name: name.clone(),
                        reason: format!("found a JSON {}", json_kind(&other)),
                    });
                }
                Err(error) => {
                    return Err(EnvError::BindingNotJson {
                        name: name.clone(),
                        reason: error.to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// What the host knows when it starts one app process.
#[derive(Debug, Clone)]
pub struct Contract<'a> {
    pub worker: &'a str,
    pub grpc_address: SocketAddr,
    pub transport: &'a str,
    pub timeout_seconds: u32,
}

/// The app's `ALIEN_*`/caller env: caller-supplied values first, then the contract (applied
/// last, as the runtime does, upstream-runtime-and-bindings.md §2.2 step 5).
pub fn child_env(
    contract: &Contract<'_>,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut env = extra.clone();
    let address = contract.grpc_address.to_string();
    for (name, value) in [
        (ALIEN_WORKER_GRPC_ADDRESS, address.clone()),
        (ALIEN_BINDINGS_GRPC_ADDRESS, address),
        (ALIEN_TRANSPORT, contract.transport.to_string()),
        (ALIEN_DEPLOYMENT_TYPE, "local".to_string()),
        (
            ALIEN_CURRENT_WORKER_BINDING_NAME,
            contract.worker.to_string(),
        ),
        (
            ALIEN_WORKER_TIMEOUT_SECONDS,
            contract.timeout_seconds.to_string(),
        ),
        // The emulator exports no OTLP; the real plan sets `true` (published-3.3.49.md §9).
        (ALIEN_RUNTIME_SEND_OTLP, "false".to_string()),
    ] {
        env.insert(name.to_string(), value);
    }
    env
}

/// Inherited variables to remove from the app's environment: every `ALIEN_*` of the host
/// process, so a stale or non-JSON `ALIEN_X_BINDING` in the user's shell cannot reach the app.
pub fn inherited_to_remove() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with("ALIEN_"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Contract<'static> {
        Contract {
            worker: "processor",
            grpc_address: "127.0.0.1:4321".parse().unwrap(),
            transport: "local",
            timeout_seconds: 60,
        }
    }

    #[test]
    fn contract_vars_are_set_and_win() {
        let extra = BTreeMap::from([
            ("LOG_LEVEL".to_string(), "info".to_string()),
            (
                "ALIEN_CACHE_BINDING".to_string(),
                r#"{"service":"local-kv","dataDir":"/tmp/kv"}"#.to_string(),
            ),
        ]);
        let env = child_env(&contract(), &extra);
        let get = |k: &str| env.get(k).map(String::as_str);
        assert_eq!(get(ALIEN_WORKER_GRPC_ADDRESS), Some("127.0.0.1:4321"));
        assert_eq!(get(ALIEN_BINDINGS_GRPC_ADDRESS), Some("127.0.0.1:4321"));
        assert_eq!(get(ALIEN_TRANSPORT), Some("local"));
        assert_eq!(get(ALIEN_DEPLOYMENT_TYPE), Some("local"));
        assert_eq!(get(ALIEN_CURRENT_WORKER_BINDING_NAME), Some("processor"));
        assert_eq!(get(ALIEN_WORKER_TIMEOUT_SECONDS), Some("60"));
        assert_eq!(get(ALIEN_RUNTIME_SEND_OTLP), Some("false"));
        assert_eq!(get("LOG_LEVEL"), Some("info"));
        assert!(get("ALIEN_CACHE_BINDING").is_some());
    }

    #[test]
    fn host_owned_names_are_refused() {
        for name in HOST_OWNED {
            let extra = BTreeMap::from([(name.to_string(), "x".to_string())]);
            assert_eq!(validate(&extra), Err(EnvError::HostOwned(name.to_string())));
        }
    }

    #[test]
    fn bindings_must_be_json_objects() {
        let ok = BTreeMap::from([(
            "ALIEN_UPLOADS_BINDING".to_string(),
            r#"{"service":"local-storage","storagePath":"/tmp/s"}"#.to_string(),
        )]);
        assert_eq!(validate(&ok), Ok(()));
        for bad in ["local-storage", "\"text\"", "[1]", ""] {
            let extra = BTreeMap::from([("ALIEN_UPLOADS_BINDING".to_string(), bad.to_string())]);
            assert!(
                matches!(validate(&extra), Err(EnvError::BindingNotJson { .. })),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn binding_var_names() {
        assert!(is_binding_var("ALIEN_CACHE_BINDING"));
        assert!(is_binding_var("ALIEN_MY_QUEUE_BINDING"));
        assert!(!is_binding_var("ALIEN_BINDING"));
        assert!(!is_binding_var("ALIEN__BINDING"));
        assert!(!is_binding_var("ALIEN_BINDING_DATABASE_PASSWORD"));
        assert!(!is_binding_var("MY_CACHE_BINDING"));
    }
}
