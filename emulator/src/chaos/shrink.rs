//! Shrinking: a run that breaks an invariant is reduced to a small scenario that still breaks
//! it — steps dropped, faults dropped, advances and handler counts and durations halved —
//! and written as a TOML scenario that `alien simulate` replays deterministically, with the
//! invariant as its expectation (as proptest and Antithesis shrink failures).

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use toml::{Table, Value};

use super::invariants::Severity;
use super::plan::FaultPlan;
use super::run::{Drain, run_chaos};
use crate::engine::FaultKind;
use crate::engine::duration_serde::{format_duration, parse_duration};
use crate::platform::Platform;
use crate::scenario::{Scenario, parse_scenario};

/// Most candidate runs one shrink tries.
const BUDGET: usize = 300;

/// A failing run to shrink.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    pub scenario: &'a Scenario,
    pub platform: Platform,
    pub seed: u64,
    pub plan: &'a FaultPlan,
    /// The library invariant it breaks.
    pub invariant: &'static str,
}

/// The smallest scenario found, as a TOML table ready to write.
#[derive(Debug, Clone)]
pub struct Shrunk {
    pub table: Table,
    pub steps_before: usize,
    pub steps_after: usize,
    pub faults_before: usize,
    pub faults_after: usize,
    /// Candidate runs tried.
    pub tries: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("cannot read {file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file} is not a TOML table: {message}")]
    Toml { file: PathBuf, message: String },
    #[error("the failure does not reproduce from {file} (seed {seed} on {platform})")]
    NotReproduced {
        file: PathBuf,
        seed: u64,
        platform: Platform,
    },
}

/// Shrinks `failure` (re-reading its scenario file), draining each candidate as the sweep did.
pub fn shrink(failure: &Failure<'_>, drain: Drain) -> Result<Shrunk, ShrinkError> {
    let file = &failure.scenario.file;
    let text = std::fs::read_to_string(file).map_err(|source| ShrinkError::Read {
        file: file.clone(),
        source,
    })?;
    let mut table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| ShrinkError::Toml {
            file: file.clone(),
            message: e.to_string(),
        })?;
    pin_run(&mut table, failure);
    let tries = std::cell::Cell::new(0);
    let check = |candidate: &Table| {
        tries.set(tries.get() + 1);
        still_fails(candidate, failure, drain)
    };
    if !check(&table) {
        return Err(ShrinkError::NotReproduced {
            file: file.clone(),
            seed: failure.seed,
            platform: failure.platform,
        });
    }
    let steps_before = steps(&table).len();
    let faults_before = faults(&table).len();
    loop {
        let before = table.clone();
        for candidate in candidates(&table) {
            if tries.get() >= BUDGET {
                break;
            }
            if check(&candidate) {
                table = candidate;
                break;
            }
        }
        if table == before || tries.get() >= BUDGET {
            break;
        }
    }
    Ok(Shrunk {
        steps_after: steps(&table).len(),
        faults_after: faults(&table).len(),
        table,
        steps_before,
        faults_before,
        tries: tries.get(),
    })
}

/// The run as data: one platform, its seed, its plan's faults, no expectations, the stack
/// by absolute path.
fn pin_run(table: &mut Table, failure: &Failure<'_>) {
    table.insert(
        "platforms".into(),
        Value::Array(vec![Value::String(failure.platform.to_string())]),
    );
    table.insert("seed".into(), Value::Integer(failure.seed as i64));
    let faults: Table = failure
        .plan
        .rates
        .iter()
        .map(|(k, p)| (k.as_str().to_string(), Value::Float(*p)))
        .collect();
    table.insert("faults".into(), Value::Table(faults));
    table.remove("expect");
    table.remove("invariants");
    if let Some(Value::String(stack)) = table.get("stack") {
        let dir = failure.scenario.file.parent().unwrap_or(Path::new("."));
        let absolute = normalize(&dir.join(stack));
        table.insert(
            "stack".into(),
            Value::String(absolute.display().to_string()),
        );
    }
}

fn steps(table: &Table) -> Vec<Value> {
    match table.get("steps") {
        Some(Value::Array(steps)) => steps.clone(),
        _ => Vec::new(),
    }
}

fn faults(table: &Table) -> Table {
    match table.get("faults") {
        Some(Value::Table(faults)) => faults.clone(),
        _ => Table::new(),
    }
}

/// Smaller variants of `table`, the biggest cuts first.
fn candidates(table: &Table) -> Vec<Table> {
    let mut out = Vec::new();
    let steps = steps(table);
    for i in (0..steps.len()).rev() {
        let mut fewer = steps.clone();
        fewer.remove(i);
        out.push(with(table, "steps", Value::Array(fewer)));
    }
    let faults = faults(table);
    for name in faults.keys() {
        let mut fewer = faults.clone();
        fewer.remove(name);
        out.push(with(table, "faults", Value::Table(fewer)));
    }
    for (i, step) in steps.iter().enumerate() {
        for smaller in [halve_duration_field(step, "advance"), fewer_repeats(step)]
            .into_iter()
            .flatten()
        {
            let mut changed = steps.clone();
            changed[i] = smaller;
            out.push(with(table, "steps", Value::Array(changed)));
        }
    }
    if let Some(Value::Table(handlers)) = table.get("handlers") {
        for (name, behaviour) in handlers {
            for smaller in smaller_behaviours(behaviour) {
                let mut changed = handlers.clone();
                changed.insert(name.clone(), smaller);
                out.push(with(table, "handlers", Value::Table(changed)));
            }
        }
    }
    out
}

fn with(table: &Table, key: &str, value: Value) -> Table {
    let mut changed = table.clone();
    changed.insert(key.into(), value);
    changed
}

/// `value` with its duration `field` halved (to whole milliseconds, at least 1 ms).
fn halve_duration_field(value: &Value, field: &str) -> Option<Value> {
    let Value::Table(t) = value else { return None };
    let Some(Value::String(text)) = t.get(field) else {
        return None;
    };
    let d = parse_duration(text).ok()?;
    let half = Duration::from_millis((d.as_millis() / 2) as u64);
    if half.is_zero() {
        return None;
    }
    let mut changed = t.clone();
    changed.insert(field.into(), Value::String(format_duration(half)));
    Some(Value::Table(changed))
}

/// A `send` step that repeats half as often.
fn fewer_repeats(step: &Value) -> Option<Value> {
    let Value::Table(t) = step else { return None };
    let Some(Value::Table(send)) = t.get("send") else {
        return None;
    };
    let Some(Value::Integer(repeat)) = send.get("repeat") else {
        return None;
    };
    if *repeat <= 1 {
        return None;
    }
    let mut send = send.clone();
    send.insert("repeat".into(), Value::Integer(repeat / 2));
    let mut changed = t.clone();
    changed.insert("send".into(), Value::Table(send));
    Some(Value::Table(changed))
}

/// A handler behaviour with fewer scripted failures or a shorter duration.
fn smaller_behaviours(behaviour: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(shorter) = halve_duration_field(behaviour, "duration") {
        out.push(shorter);
    }
    if let Value::Table(t) = behaviour
        && let Some(Value::Table(mode)) = t.get("mode")
        && let Some(Value::Integer(times)) = mode.get("times")
        && *times > 1
    {
        let mut mode = mode.clone();
        mode.insert("times".into(), Value::Integer(times / 2));
        let mut changed = t.clone();
        changed.insert("mode".into(), Value::Table(mode));
        out.push(Value::Table(changed));
    }
    out
}

/// Whether the scenario of `table` still breaks the invariant under its own faults.
fn still_fails(table: &Table, failure: &Failure<'_>, drain: Drain) -> bool {
    let Ok(text) = toml::to_string(table) else {
        return false;
    };
    let Ok(scenario) = parse_scenario(&text, &failure.scenario.file) else {
        return false;
    };
    let plan = FaultPlan {
        rates: scenario
            .spec
            .faults
            .iter()
            .map(|(k, p)| (*k, *p))
            .collect::<Vec<(FaultKind, f64)>>(),
    };
    run_chaos(&scenario, failure.platform, failure.seed, &plan, drain).is_ok_and(|run| {
        run.findings
            .iter()
            .any(|f| f.invariant == failure.invariant && f.severity == Severity::Violation)
    })
}

/// Writes `shrunk` to `dir` as a regression scenario and returns its path: the drain the
/// sweep did becomes a last `advance` step, and `[expect.<platform>]` says the invariant
/// `holds` (failing until the cause is fixed) or, with `record`, that it is `violates`.
pub fn write_regression(
    shrunk: &Shrunk,
    failure: &Failure<'_>,
    drain: Drain,
    dir: &Path,
    record: bool,
) -> Result<PathBuf, ShrinkError> {
    let mut table = shrunk.table.clone();
    let name = format!(
        "regression-{}-{}-seed{}-{}",
        failure.scenario.name(),
        failure.platform,
        failure.seed,
        failure.invariant
    );
    table.insert("name".into(), Value::String(name.clone()));
    let source = super::invariants::by_name(failure.invariant).map_or("", |i| i.source);
    table.insert(
        "sources".into(),
        Value::Array(vec![
            Value::String(format!("{}: {source}", failure.invariant)),
            Value::String(format!(
                "found by alien chaos from {}",
                failure.scenario.file.display()
            )),
        ]),
    );
    table.insert(
        "description".into(),
        Value::String(format!(
            "Found by `alien chaos`: {} on {} with seed {} (faults {}) breaks {}. Shrunk from \
             {} steps to {} and {} faults to {}.",
            failure.scenario.file.display(),
            failure.platform,
            failure.seed,
            failure.plan.describe(),
            failure.invariant,
            shrunk.steps_before,
            shrunk.steps_after,
            shrunk.faults_before,
            shrunk.faults_after
        )),
    );
    if let Some(extra) = drained_for(&table, failure, drain) {
        let mut steps = steps(&table);
        let mut advance = Table::new();
        advance.insert("advance".into(), Value::String(format_duration(extra)));
        steps.push(Value::Table(advance));
        table.insert("steps".into(), Value::Array(steps));
    }
    if let Some(Value::String(stack)) = table.get("stack") {
        let relative = relative_to(Path::new(stack), &normalize(&absolute(dir)));
        table.insert(
            "stack".into(),
            Value::String(relative.display().to_string()),
        );
    }
    let field = if record { "violates" } else { "holds" };
    let mut expect = Table::new();
    expect.insert(
        field.into(),
        Value::Array(vec![Value::String(failure.invariant.into())]),
    );
    let mut by_platform = Table::new();
    by_platform.insert(failure.platform.to_string(), Value::Table(expect));
    table.insert("expect".into(), Value::Table(by_platform));
    let header = if record {
        "# Recorded: this run breaks the invariant today (`violates`); change it to `holds`\n\
         # once the cause is fixed.\n"
    } else {
        "# It fails until the cause is fixed; to record today's behaviour instead, change\n\
         # `holds` to `violates`.\n"
    };
    let body = toml::to_string(&table).map_err(|e| ShrinkError::Toml {
        file: dir.join(&name),
        message: e.to_string(),
    })?;
    std::fs::create_dir_all(dir).map_err(|source| ShrinkError::Read {
        file: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("{header}{body}")).map_err(|source| ShrinkError::Read {
        file: path.clone(),
        source,
    })?;
    Ok(path)
}

/// How long the sweep's drain ran after the shrunk steps (None when it added nothing).
fn drained_for(table: &Table, failure: &Failure<'_>, drain: Drain) -> Option<Duration> {
    let text = toml::to_string(table).ok()?;
    let scenario = parse_scenario(&text, &failure.scenario.file).ok()?;
    let plan = FaultPlan {
        rates: scenario.spec.faults.iter().map(|(k, p)| (*k, *p)).collect(),
    };
    let run = run_chaos(&scenario, failure.platform, failure.seed, &plan, drain).ok()?;
    (run.drained_for_ms > 0).then(|| Duration::from_millis(run.drained_for_ms as u64))
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// `path` without `.` and `..` components (lexically).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in absolute(path).components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to the directory `base` (both absolute and normalized).
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let path: Vec<Component> = path.components().collect();
    let base: Vec<Component> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for part in &path[common..] {
        out.push(part.as_os_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_to(
                Path::new("/r/scenarios/stacks/q.json"),
                Path::new("/r/scenarios/regressions")
            ),
            PathBuf::from("../stacks/q.json")
        );
        assert_eq!(
            normalize(Path::new("/r/scenarios/../x/./y")),
            PathBuf::from("/r/x/y")
        );
    }

    #[test]
    fn halving_durations_and_counts() {
        let step: Value = toml::from_str::<Table>("advance = \"2h\"")
            .map(Value::Table)
            .unwrap();
        let half = halve_duration_field(&step, "advance").unwrap();
        assert_eq!(half.get("advance").and_then(Value::as_str), Some("1h"));
        let handler: Value = toml::from_str::<Table>(
            "duration = \"5s\"\nmode = { kind = \"fail_first\", times = 4 }",
        )
        .map(Value::Table)
        .unwrap();
        let smaller = smaller_behaviours(&handler);
        assert_eq!(smaller.len(), 2);
        assert_eq!(
            smaller[1]
                .get("mode")
                .and_then(|m| m.get("times"))
                .and_then(Value::as_integer),
            Some(2)
        );
    }
}
