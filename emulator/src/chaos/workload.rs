//! `alien chaos <STACK>`: a default workload for a stack given without a scenario — 10 JSON
//! messages to each queue, then a day of virtual time (cron triggers fire on their own) —
//! on every platform the stack's preflight allows, with scripted handlers that succeed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::scenario::{Scenario, ScenarioError, parse_scenario};
use crate::stack::{Resource, load_stack};

/// Messages each queue gets.
const MESSAGES_PER_QUEUE: usize = 10;

/// The workload scenario of the stack at `path`.
pub fn for_stack(path: &Path) -> Result<Scenario, ScenarioError> {
    let loaded = load_stack(path).map_err(|e| ScenarioError::Invalid {
        file: path.to_path_buf(),
        field: "stack".into(),
        message: e.to_string(),
    })?;
    let stack = &loaded.stack;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut text = String::new();
    let _ = writeln!(text, "name = {}", quoted(&format!("{}-workload", stack.id)));
    let _ = writeln!(
        text,
        "description = \"The default chaos workload: {MESSAGES_PER_QUEUE} messages to each queue, then a day.\""
    );
    let _ = writeln!(text, "stack = {}", quoted(&absolute.display().to_string()));
    let _ = writeln!(text, "platforms = \"all\"");
    for (id, entry) in &stack.resources {
        if matches!(entry.config, Resource::Queue(_)) {
            for n in 0..MESSAGES_PER_QUEUE {
                let _ = writeln!(
                    text,
                    "\n[[steps]]\nsend = {{ queue = {}, json = {{ n = {n} }} }}",
                    quoted(id)
                );
            }
        }
    }
    let _ = writeln!(text, "\n[[steps]]\nadvance = \"1d\"");
    parse_scenario(&text, &workload_file(path))
}

/// The name the generated scenario reports as its file.
fn workload_file(stack: &Path) -> PathBuf {
    let mut name = stack.as_os_str().to_owned();
    name.push(".workload.toml");
    PathBuf::from(name)
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
