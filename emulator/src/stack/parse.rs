//! Stack JSON → [`Stack`], in three phases (reference upstream-stack-and-limits.md §1):
//!
//! 1. syntax: the text becomes a `serde_json::Value`; a syntax error carries file, line and
//!    column;
//! 2. conversion: the value becomes the typed model. Top-level keys follow alien-core's `Stack`
//!    (§1.1, unknown keys kept in [`Stack::extra`]); each entry follows `ResourceEntry` (§1.2);
//!    each config is dispatched on `type` (§1.3) into the emulated structs, which reject unknown
//!    fields, or kept as [`Resource::Other`]. Errors name the resource and the field path
//!    (found with `serde_path_to_error`);
//! 3. cross-resource rules: Storage `notifications` (published-3.3.49.md §8), once every
//!    resource has parsed.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::stack::error::StackError;
use crate::stack::model::{
    Lifecycle, MAX_WORKER_TIMEOUT_SECONDS, OtherResource, Resource, ResourceEntry, ResourceRef,
    Stack, Worker,
};
use crate::stack::notifications::check_notifications;

/// Parses a stack document. `origin` is the file the text came from and is only used in
/// error messages.
pub fn parse_stack_json(text: &str, origin: &Path) -> Result<Stack, StackError> {
    let value: Value = serde_json::from_str(text).map_err(|e| syntax_error(&e, origin))?;
    stack_from_value(value, origin)
}

/// serde_json's message without its " at line L column C" suffix, which we render ourselves.
fn syntax_error(error: &serde_json::Error, file: &Path) -> StackError {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    StackError::Syntax {
        file: file.to_path_buf(),
        line: error.line(),
        column: error.column(),
        message,
    }
}

/// Phase 2 for the whole document (§1.1).
fn stack_from_value(value: Value, file: &Path) -> Result<Stack, StackError> {
    let Value::Object(map) = value else {
        return Err(invalid_stack(
            file,
            format!("a stack must be a JSON object, found {}", kind(&value)),
        ));
    };

    let mut id = None;
    let mut resources = None;
    let mut permissions = None;
    let mut supported_platforms = None;
    let mut platforms_alias = None;
    let mut inputs = None;
    let mut extra = Map::new();
    for (key, value) in map {
        match key.as_str() {
            "id" => id = Some(value),
            "resources" => resources = Some(value),
            "permissions" => permissions = Some(value),
            "supportedPlatforms" => supported_platforms = Some(value),
            "platforms" => platforms_alias = Some(value),
            "inputs" => inputs = Some(value),
            _ => {
                extra.insert(key, value);
            }
        }
    }

    let id: String = top_level(file, "id", id.ok_or_else(|| missing(file, "id"))?)?;
    let resources = parse_resources(file, resources.ok_or_else(|| missing(file, "resources"))?)?;
    check_notifications(file, &resources)?;
    let permissions = permissions
        .map(|v| top_level(file, "permissions", v))
        .transpose()?;
    let platforms = match (supported_platforms, platforms_alias) {
        (Some(_), Some(_)) => {
            return Err(invalid_stack(
                file,
                "both `supportedPlatforms` and its alias `platforms` are set; keep one".into(),
            ));
        }
        (Some(v), None) => top_level(file, "supportedPlatforms", v)?,
        (None, Some(v)) => top_level(file, "platforms", v)?,
        (None, None) => None,
    };
    let inputs = inputs
        .map(|v| top_level(file, "inputs", v))
        .transpose()?
        .unwrap_or_default();

    Ok(Stack {
        id,
        resources,
        permissions,
        supported_platforms: platforms,
        inputs,
        extra,
    })
}

fn parse_resources(
    file: &Path,
    value: Value,
) -> Result<IndexMap<String, ResourceEntry>, StackError> {
    let Value::Object(map) = value else {
        return Err(invalid_stack(
            file,
            format!(
                "`resources` must be an object keyed by resource id, found {}",
                kind(&value)
            ),
        ));
    };
    map.into_iter()
        .map(|(id, entry)| Ok((id.clone(), parse_entry(file, &id, entry)?)))
        .collect()
}

/// `ResourceEntry` (§1.2). Like upstream, unknown entry-level keys are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    config: Value,
    lifecycle: Lifecycle,
    dependencies: Vec<ResourceRef>,
    #[serde(default)]
    remote_access: bool,
    #[serde(default)]
    enabled_when: Option<String>,
}

fn parse_entry(file: &Path, id: &str, value: Value) -> Result<ResourceEntry, StackError> {
    let declared_type = value
        .get("config")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let fail = |path: String, message: String| StackError::InvalidResource {
        file: file.to_path_buf(),
        resource: id.to_string(),
        resource_type: declared_type.clone(),
        path,
        message,
    };
    if !value.is_object() {
        return Err(fail(
            String::new(),
            format!(
                "a resource entry must be a JSON object, found {}",
                kind(&value)
            ),
        ));
    }
    let raw: RawEntry = serde_path_to_error::deserialize(value)
        .map_err(|e| fail(field_path("", e.path()), e.into_inner().to_string()))?;
    let config = parse_config(file, id, raw.config)?;
    Ok(ResourceEntry {
        config,
        lifecycle: raw.lifecycle,
        dependencies: raw.dependencies,
        remote_access: raw.remote_access,
        enabled_when: raw.enabled_when,
    })
}

/// The polymorphic config (§1.3): `type` picks the struct, the rest is its fields.
fn parse_config(file: &Path, id: &str, value: Value) -> Result<Resource, StackError> {
    let fail =
        |resource_type: Option<&str>, path: String, message: String| StackError::InvalidResource {
            file: file.to_path_buf(),
            resource: id.to_string(),
            resource_type: resource_type.map(str::to_string),
            path,
            message,
        };
    let Value::Object(map) = value else {
        return Err(fail(
            None,
            "config".into(),
            format!(
                "a resource config must be a JSON object, found {}",
                kind(&value)
            ),
        ));
    };
    let resource_type = match map.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            return Err(fail(
                None,
                "config.type".into(),
                format!("`type` must be a string, found {}", kind(other)),
            ));
        }
        None => {
            return Err(fail(
                None,
                "config".into(),
                "missing field `type` (the resource type, e.g. \"worker\" or \"queue\")".into(),
            ));
        }
    };

    let typed_fail = |(path, message): (String, String)| fail(Some(&resource_type), path, message);
    let resource = match resource_type.as_str() {
        "worker" => {
            let worker: Worker = config_struct(map).map_err(typed_fail)?;
            check_worker_timeout(file, id, &worker)?;
            Resource::Worker(worker)
        }
        "daemon" => Resource::Daemon(config_struct(map).map_err(typed_fail)?),
        "queue" => Resource::Queue(config_struct(map).map_err(typed_fail)?),
        "storage" => Resource::Storage(config_struct(map).map_err(typed_fail)?),
        "kv" => Resource::Kv(config_struct(map).map_err(typed_fail)?),
        _ => {
            // Not emulated: keep the whole config, `type` included, so it round-trips.
            let other_id = match map.get("id") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(fail(
                        Some(&resource_type),
                        "config.id".into(),
                        format!("`id` must be a string, found {}", kind(other)),
                    ));
                }
                None => {
                    return Err(fail(
                        Some(&resource_type),
                        "config".into(),
                        "missing field `id`".into(),
                    ));
                }
            };
            Resource::Other(OtherResource {
                resource_type: resource_type.clone(),
                id: other_id,
                raw: Value::Object(map),
            })
        }
    };
    Ok(resource)
}

/// Deserializes one emulated config struct from its fields (the `type` tag removed, as
/// upstream's `Resource` deserializer does); the error is `(field path, message)`.
fn config_struct<T: DeserializeOwned>(mut map: Map<String, Value>) -> Result<T, (String, String)> {
    map.shift_remove("type");
    serde_path_to_error::deserialize(Value::Object(map))
        .map_err(|e| (field_path("config", e.path()), e.into_inner().to_string()))
}

/// Upstream validates `timeoutSeconds` during deserialization (`1..=MAX_WORKER_TIMEOUT_SECONDS`,
/// §1.6), so an out-of-range value is a parse error here too.
fn check_worker_timeout(file: &Path, id: &str, worker: &Worker) -> Result<(), StackError> {
    if (1..=MAX_WORKER_TIMEOUT_SECONDS).contains(&worker.timeout_seconds) {
        Ok(())
    } else {
        Err(StackError::WorkerTimeoutInvalid {
            file: file.to_path_buf(),
            resource: id.to_string(),
            timeout_seconds: worker.timeout_seconds,
        })
    }
}

/// Deserializes one known top-level key, naming it (and the path inside it) on error.
fn top_level<T: DeserializeOwned>(file: &Path, key: &str, value: Value) -> Result<T, StackError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = field_path(key, e.path());
        invalid_stack(file, format!("{} (at {path})", e.into_inner()))
    })
}

/// `prefix.path`, where serde_path_to_error renders an empty path as ".".
fn field_path(prefix: &str, path: &serde_path_to_error::Path) -> String {
    let inner = path.to_string();
    match (prefix.is_empty(), inner == ".") {
        (_, true) => prefix.to_string(),
        (true, false) => inner,
        (false, false) if inner.starts_with('[') => format!("{prefix}{inner}"),
        (false, false) => format!("{prefix}.{inner}"),
    }
}

fn missing(file: &Path, key: &str) -> StackError {
    invalid_stack(file, format!("missing field `{key}`"))
}

fn invalid_stack(file: &Path, message: String) -> StackError {
    StackError::InvalidStack {
        file: file.to_path_buf(),
        message,
    }
}

/// JSON type names for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
