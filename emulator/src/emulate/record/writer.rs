//! The recorded scenario as TOML text: a header comment (what the file is, how handlers are
//! scripted, what could not be recorded), the top-level fields `crate::scenario::ScenarioFile`
//! reads, the `faults` table, then one `[[steps]]` table per step. Values go through
//! `toml::Value`, so strings and keys are quoted as TOML wants.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use chrono::SecondsFormat;
use toml::Value;

use super::Session;
use super::steps::{Action, Plan, Step};
use crate::engine::duration_serde::format_duration;

/// Instances a gap lists before it only counts the rest.
const LISTED: usize = 10;

/// Longest header comment line.
const WIDTH: usize = 92;

/// The scenario text for `session`, written to `file`, timeline `plan`.
pub(super) fn render(session: &Session, file: &Path, plan: &Plan) -> String {
    let mut out = String::new();
    header(&mut out, session, plan);
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recorded".into());
    let stack = match relative_path(&session.stack_file, file.parent().unwrap_or(Path::new("/"))) {
        Some(relative) => relative,
        None => session.stack_file.clone(),
    };
    let text = |s: &str| Value::String(s.to_string());
    let fields = [
        ("name", text(&name)),
        (
            "description",
            text(&format!(
                "Inputs of an `alien emulate` session of stack '{}' on {}.",
                session.stack_id,
                session.platform.as_str()
            )),
        ),
        ("stack", text(&stack.to_string_lossy())),
        (
            "platforms",
            Value::Array(vec![text(session.platform.as_str())]),
        ),
        (
            "seed",
            Value::Integer(i64::try_from(session.seed).unwrap_or(i64::MAX)),
        ),
        (
            "start",
            text(&session.start.to_rfc3339_opts(SecondsFormat::Millis, true)),
        ),
        (
            "profile_date",
            text(&session.profile_date.format("%Y-%m-%d").to_string()),
        ),
    ];
    for (key, value) in fields {
        line(&mut out, key, &value);
    }
    if session.cold_start.is_some_and(|d| d.is_zero()) {
        line(&mut out, "cold_starts", &Value::Boolean(false));
    }
    faults(&mut out, plan);
    for step in &plan.steps {
        out.push('\n');
        steps_entry(&mut out, step);
    }
    if !plan.tail.is_zero() {
        let tail = format_duration(plan.tail);
        let _ = writeln!(
            out,
            "\n# The session went on for {tail} after its last input.\n[[steps]]"
        );
        line(&mut out, "advance", &Value::String(tail));
    }
    out
}

fn header(out: &mut String, session: &Session, plan: &Plan) {
    let _ = writeln!(
        out,
        "# Recorded by `alien emulate --record` (stack '{}', platform {}, time scale {}×):\n\
         # the session's external inputs at the virtual offsets the engine applied them,\n\
         # counted from `start`. `alien simulate <this file>` replays them; `alien chaos`\n\
         # sweeps faults over them.\n\
         #\n\
         # Handlers are scripted and succeed by default: a worker without a\n\
         # [handlers.<worker>] table succeeds at once. Script one, for example:",
        session.stack_id,
        session.platform.as_str(),
        session.time_scale
    );
    let worker = session.workers.first().map_or("<worker>", String::as_str);
    let _ = writeln!(
        out,
        "#   [handlers.{worker}]\n#   mode = {{ kind = \"fail_first\", times = 2 }}"
    );
    if !plan.gaps.is_empty() {
        out.push_str("#\n# Not replayed as it happened (the scenario format cannot say it):\n");
        for (gap, instances) in &plan.gaps {
            wrapped(out, "# - ", "#   ", gap.explain());
            for instance in instances.iter().take(LISTED) {
                let _ = writeln!(out, "#     {instance}");
            }
            if instances.len() > LISTED {
                let _ = writeln!(out, "#     … and {} more", instances.len() - LISTED);
            }
        }
    }
    out.push('\n');
}

fn faults(out: &mut String, plan: &Plan) {
    if plan.fault_changes.is_empty() {
        return;
    }
    out.push_str(
        "\n# Fault rates as the session set them (the table is not timed: the last rates\n\
         # set apply from the start):\n",
    );
    for change in &plan.fault_changes {
        let _ = writeln!(out, "#   {change}");
    }
    out.push_str("[faults]\n");
    for (kind, p) in &plan.faults {
        line(out, kind.as_str(), &Value::Float(*p));
    }
}

fn steps_entry(out: &mut String, step: &Step) {
    out.push_str("[[steps]]\n");
    if let Some(label) = &step.label {
        line(out, "label", &Value::String(label.clone()));
    }
    line(out, "at", &Value::String(format_duration(step.at)));
    match &step.value {
        Action::Plain(value) => line(out, step.action, value),
        Action::Fields(fields) => {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let _ = writeln!(out, "{} = {{ {} }}", step.action, fields.join(", "));
        }
    }
}

/// `text` as comment lines of at most [`WIDTH`] characters, the first after `first`, the
/// others after `rest`.
fn wrapped(out: &mut String, first: &str, rest: &str, text: &str) {
    let mut current = first.to_string();
    for word in text.split_whitespace() {
        if current.len() > rest.len() && current.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{current}");
            current = rest.to_string();
        } else if current.len() > rest.len() {
            current.push(' ');
        }
        current.push_str(word);
    }
    let _ = writeln!(out, "{current}");
}

fn line(out: &mut String, key: &str, value: &Value) {
    let _ = writeln!(out, "{key} = {value}");
}

/// `target` relative to the directory `base` (both absolute), unless they share nothing but
/// the root: then None, and the absolute path is clearer.
pub(super) fn relative_path(target: &Path, base: &Path) -> Option<PathBuf> {
    let target: Vec<Component> = target.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = target.iter().zip(&base).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return None;
    }
    let mut relative = PathBuf::new();
    for _ in common..base.len() {
        relative.push("..");
    }
    for part in &target[common..] {
        relative.push(part.as_os_str());
    }
    Some(relative)
}
