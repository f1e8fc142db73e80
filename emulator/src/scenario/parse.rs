//! Reading a scenario file: TOML syntax and fields (with line and column), the stack it names,
//! and a check that every step and expectation refers to something that exists.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use super::error::ScenarioError;
use super::format::{Expectations, PlatformsSpec, ScenarioFile, StackSpec, Step, TraceMatcher};
use crate::engine::Kind;
use crate::platform::Platform;
use crate::stack::{Resource, Stack, load_stack, parse_stack_json};

/// The virtual start instant when a scenario names none: a Monday, never the wall clock.
pub const DEFAULT_START: &str = "2026-01-05T00:00:00Z";

/// A parsed, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it was read from.
    pub file: PathBuf,
    pub spec: ScenarioFile,
    pub stack: Stack,
    /// Platforms it applies to, in display order.
    pub platforms: Vec<Platform>,
    pub start: DateTime<Utc>,
    /// Day whose limits the profiles use.
    pub profile_date: NaiveDate,
}

impl Scenario {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The seed of a run: `--seed` when given, else the file's, else 1.
    pub fn seed(&self, cli_seed: Option<u64>) -> u64 {
        cli_seed.or(self.spec.seed).unwrap_or(1)
    }

    /// The expectations that apply on `platform` (`all` first, then the platform's own).
    pub fn expectations_for(&self, platform: Platform) -> Vec<(&str, &Expectations)> {
        ["all", platform.as_str()]
            .into_iter()
            .filter_map(|key| {
                self.spec
                    .expect
                    .get_key_value(key)
                    .map(|(k, v)| (k.as_str(), v))
            })
            .collect()
    }
}

/// Reads and validates the scenario at `path`.
pub fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    parse_scenario(&text, path)
}

/// Parses scenario text; `file` is where it came from (for errors and relative stack paths).
pub fn parse_scenario(text: &str, file: &Path) -> Result<Scenario, ScenarioError> {
    let spec: ScenarioFile = toml::from_str(text).map_err(|e| syntax_error(&e, text, file))?;
    let invalid = |field: &str, message: String| ScenarioError::Invalid {
        file: file.to_path_buf(),
        field: field.to_string(),
        message,
    };
    let stack = load_stack_spec(&spec.stack, file)?;
    let platforms = parse_platforms(&spec.platforms).map_err(|m| invalid("platforms", m))?;
    let start_text = spec.start.as_deref().unwrap_or(DEFAULT_START);
    let start = DateTime::parse_from_rfc3339(start_text)
        .map_err(|e| {
            invalid(
                "start",
                format!("'{start_text}' is not an RFC 3339 instant: {e}"),
            )
        })?
        .with_timezone(&Utc);
    let profile_date = match &spec.profile_date {
        Some(text) => parse_day(text).ok_or_else(|| {
            invalid(
                "profile_date",
                format!("'{text}' is not YYYY-MM or YYYY-MM-DD"),
            )
        })?,
        None => start.date_naive(),
    };
    let scenario = Scenario {
        file: file.to_path_buf(),
        spec,
        stack,
        platforms,
        start,
        profile_date,
    };
    validate(&scenario).map_err(|(field, message)| invalid(&field, message))?;
    Ok(scenario)
}

/// `file:line:column: message`, from the span toml reports.
fn syntax_error(error: &toml::de::Error, text: &str, file: &Path) -> ScenarioError {
    let (line, column) = match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (line, column)
        }
        None => (1, 1),
    };
    ScenarioError::Syntax {
        file: file.to_path_buf(),
        line,
        column,
        message: error.message().to_string(),
    }
}

fn load_stack_spec(spec: &StackSpec, file: &Path) -> Result<Stack, ScenarioError> {
    match spec {
        StackSpec::Path(relative) => {
            let path = file.parent().unwrap_or(Path::new(".")).join(relative);
            let loaded = load_stack(&path).map_err(|source| ScenarioError::Stack {
                file: file.to_path_buf(),
                source: Box::new(source),
            })?;
            Ok(loaded.stack)
        }
        StackSpec::Inline(table) => {
            let json = serde_json::to_string(table).map_err(|e| ScenarioError::Invalid {
                file: file.to_path_buf(),
                field: "stack".into(),
                message: e.to_string(),
            })?;
            let origin = PathBuf::from(format!("{} [stack]", file.display()));
            parse_stack_json(&json, &origin).map_err(|source| ScenarioError::Stack {
                file: file.to_path_buf(),
                source: Box::new(source),
            })
        }
    }
}

fn parse_platforms(spec: &PlatformsSpec) -> Result<Vec<Platform>, String> {
    let names: Vec<&str> = match spec {
        PlatformsSpec::All(text) if text.eq_ignore_ascii_case("all") => {
            return Ok(Platform::EMULATED.to_vec());
        }
        PlatformsSpec::All(text) => vec![text.as_str()],
        PlatformsSpec::List(list) => list.iter().map(String::as_str).collect(),
    };
    let mut platforms = Vec::new();
    for name in names {
        let platform: Platform = name
            .parse()
            .map_err(|e: crate::platform::InvalidPlatform| e.to_string())?;
        if !Platform::EMULATED.contains(&platform) {
            return Err(format!(
                "platform '{platform}' is not emulated; expected aws, gcp, azure, kubernetes or local"
            ));
        }
        platforms.push(platform);
    }
    platforms.sort();
    platforms.dedup();
    Ok(platforms)
}

fn parse_day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d"))
        .ok()
}

type Invalid = (String, String);

/// Every name a step or expectation uses must exist in the stack (or be a label).
fn validate(s: &Scenario) -> Result<(), Invalid> {
    let has = |id: &str, pred: fn(&Resource) -> bool| {
        s.stack.resource(id).is_some_and(|e| pred(&e.config))
    };
    let need = |field: String, id: &str, kind: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err((field, format!("no {kind} named '{id}' in the stack")))
        }
    };
    for name in s.spec.handlers.keys() {
        let ok = has(name, |r| {
            matches!(r, Resource::Worker(_) | Resource::Daemon(_))
        });
        need(format!("handlers.{name}"), name, "worker or daemon", ok)?;
    }
    for name in s.spec.daemons.keys() {
        need(
            format!("daemons.{name}"),
            name,
            "daemon",
            has(name, |r| matches!(r, Resource::Daemon(_))),
        )?;
    }
    for platform in s.spec.expect.keys() {
        if platform != "all" && !s.platforms.iter().any(|p| p.as_str() == platform) {
            return Err((
                format!("expect.{platform}"),
                format!("'{platform}' is not one of the scenario's platforms"),
            ));
        }
    }
    let mut labels: Vec<(&str, &'static str)> = Vec::new();
    for (i, step) in s.spec.steps.iter().enumerate() {
        let field = |name: &str| format!("steps[{i}].{name}");
        let action = step_action(step).map_err(|m| (format!("steps[{i}]"), m))?;
        if let Some(label) = &step.label {
            if labels.iter().any(|(l, _)| l == label) {
                return Err((field("label"), format!("label '{label}' is used twice")));
            }
            labels.push((label, action));
        }
        if let Some(send) = &step.send {
            need(
                field("send.queue"),
                &send.queue,
                "queue",
                has(&send.queue, |r| matches!(r, Resource::Queue(_))),
            )?;
            let bodies = [
                send.json.is_some(),
                send.text.is_some(),
                send.bytes.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if bodies != 1 {
                return Err((
                    field("send"),
                    "give exactly one of json, text or bytes".into(),
                ));
            }
        }
        for (name, bucket) in [
            ("put.bucket", step.put.as_ref().map(|p| &p.bucket)),
            ("delete.bucket", step.delete.as_ref().map(|p| &p.bucket)),
        ] {
            if let Some(bucket) = bucket {
                need(
                    field(name),
                    bucket,
                    "storage",
                    has(bucket, |r| matches!(r, Resource::Storage(_))),
                )?;
            }
        }
        if let Some(http) = &step.http {
            need(
                field("http.worker"),
                &http.worker,
                "worker",
                has(&http.worker, |r| matches!(r, Resource::Worker(_))),
            )?;
        }
        if let Some(command) = &step.command {
            let ok = has(&command.target, |r| {
                matches!(r, Resource::Worker(_) | Resource::Daemon(_))
            });
            need(
                field("command.target"),
                &command.target,
                "worker or daemon",
                ok,
            )?;
        }
        for (name, daemon) in [
            (
                "crash_daemon",
                step.crash_daemon.as_ref().map(|d| d.daemon()),
            ),
            ("stop_daemon", step.stop_daemon.as_ref().map(|d| d.daemon())),
            (
                "preempt.daemon",
                step.preempt.as_ref().map(|p| p.daemon.as_str()),
            ),
        ] {
            if let Some(daemon) = daemon {
                need(
                    field(name),
                    daemon,
                    "daemon",
                    has(daemon, |r| matches!(r, Resource::Daemon(_))),
                )?;
            }
        }
        let stores = [
            ("kv_put.store", step.kv_put.as_ref().map(|k| &k.store)),
            ("kv_get.store", step.kv_get.as_ref().map(|k| &k.store)),
            ("kv_delete.store", step.kv_delete.as_ref().map(|k| &k.store)),
        ];
        for (name, store) in stores {
            if let Some(store) = store {
                need(
                    field(name),
                    store,
                    "kv",
                    has(store, |r| matches!(r, Resource::Kv(_))),
                )?;
            }
        }
        if let Some(kv) = &step.kv_put
            && kv.value.is_some() == kv.bytes.is_some()
        {
            return Err((field("kv_put"), "give exactly one of value or bytes".into()));
        }
    }
    for (platform, e) in &s.spec.expect {
        validate_expectations(s, &format!("expect.{platform}"), e, &labels)?;
    }
    if let Some(e) = &s.spec.invariants {
        validate_expectations(s, "invariants", e, &labels)?;
    }
    Ok(())
}

/// Checks the expectations table at `table` (`expect.aws`, `invariants`).
fn validate_expectations(
    s: &Scenario,
    table: &str,
    e: &Expectations,
    labels: &[(&str, &str)],
) -> Result<(), Invalid> {
    let at = |name: &str| format!("{table}.{name}");
    for (field, names) in [("holds", &e.holds), ("violates", &e.violates)] {
        if let Some(name) = names
            .iter()
            .find(|n| crate::chaos::invariants::by_name(n).is_none())
        {
            let known: Vec<&str> = crate::chaos::invariants::LIBRARY
                .iter()
                .map(|i| i.name)
                .collect();
            return Err((
                at(field),
                format!(
                    "unknown invariant '{name}': expected one of {}",
                    known.join(", ")
                ),
            ));
        }
    }
    let label_of =
        |field: String, label: &str, action: &str| match labels.iter().find(|(l, _)| *l == label) {
            Some((_, a)) if *a == action || action.is_empty() => Ok(()),
            Some((_, a)) => Err((field, format!("step '{label}' is a {a} step, not {action}"))),
            None => Err((field, format!("no step is labelled '{label}'"))),
        };
    for (table, counts) in [("count", &e.count), ("at_least", &e.at_least)] {
        for (resource, kinds) in counts {
            if resource != "*" && s.stack.resource(resource).is_none() && resource != "host" {
                return Err((
                    at(&format!("{table}.{resource}")),
                    format!("no resource named '{resource}' in the stack"),
                ));
            }
            for kind in kinds.keys() {
                check_kind(kind).map_err(|m| (at(&format!("{table}.{resource}.{kind}")), m))?;
            }
        }
    }
    for (label, offsets) in &e.deliveries {
        label_of(at(&format!("deliveries.{label}")), label, "send")?;
        for offset in offsets {
            crate::engine::duration_serde::parse_duration(offset)
                .map_err(|m| (at(&format!("deliveries.{label}")), m))?;
        }
    }
    for (queue, dl) in &e.dead_letters {
        if s.stack.resource(queue).is_none() {
            return Err((
                at(&format!("dead_letters.{queue}")),
                format!("no queue named '{queue}' in the stack"),
            ));
        }
        for label in &dl.messages {
            label_of(at(&format!("dead_letters.{queue}.messages")), label, "send")?;
        }
    }
    for label in e.http.keys() {
        label_of(at(&format!("http.{label}")), label, "http")?;
    }
    for label in e.commands.keys() {
        label_of(at(&format!("commands.{label}")), label, "command")?;
    }
    for label in e.steps.keys() {
        label_of(at(&format!("steps.{label}")), label, "")?;
    }
    for daemon in e.daemons.keys() {
        if s.stack.resource(daemon).is_none() {
            return Err((
                at(&format!("daemons.{daemon}")),
                format!("no daemon named '{daemon}' in the stack"),
            ));
        }
    }
    for store in e.kv.keys().chain(e.kv_absent.keys()) {
        if s.stack.resource(store).is_none() {
            return Err((
                at(&format!("kv.{store}")),
                format!("no kv named '{store}' in the stack"),
            ));
        }
    }
    for queue in e.queues.keys() {
        if s.stack.resource(queue).is_none() {
            return Err((
                at(&format!("queues.{queue}")),
                format!("no queue named '{queue}' in the stack"),
            ));
        }
    }
    for (name, list) in [
        ("trace_contains", &e.trace_contains),
        ("trace_not_contains", &e.trace_not_contains),
    ] {
        for matcher in list {
            if let TraceMatcher::Event(m) = matcher {
                check_kind(&m.kind).map_err(|msg| (at(name), msg))?;
            }
        }
    }
    Ok(())
}

fn check_kind(kind: &str) -> Result<(), String> {
    match Kind::from_name(kind) {
        Some(_) => Ok(()),
        None => {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            Err(format!(
                "unknown trace kind '{kind}'; expected one of {}",
                names.join(", ")
            ))
        }
    }
}

/// The name of the one action a step holds.
pub(crate) fn step_action(step: &Step) -> Result<&'static str, String> {
    let present: Vec<&'static str> = [
        ("send", step.send.is_some()),
        ("put", step.put.is_some()),
        ("delete", step.delete.is_some()),
        ("http", step.http.is_some()),
        ("command", step.command.is_some()),
        ("advance", step.advance.is_some()),
        ("crash_daemon", step.crash_daemon.is_some()),
        ("stop_daemon", step.stop_daemon.is_some()),
        ("preempt", step.preempt.is_some()),
        ("downtime", step.downtime.is_some()),
        ("inject", step.inject.is_some()),
        ("kv_put", step.kv_put.is_some()),
        ("kv_get", step.kv_get.is_some()),
        ("kv_delete", step.kv_delete.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match present.as_slice() {
        [one] => Ok(one),
        [] => Err("a step needs one action (send, put, delete, http, command, advance, crash_daemon, stop_daemon, preempt, downtime, inject, kv_put, kv_get or kv_delete)".into()),
        many => Err(format!("a step holds exactly one action, found {}", many.join(", "))),
    }
}
