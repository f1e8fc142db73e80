//! The recorder against the scenario format it writes (emulator/src/scenario/format.rs, read
//! back with `parse_scenario`) and the replay `alien simulate` runs (issue 13 item 4: "writes
//! the session's external inputs … with their virtual times as a scenario").

mod plan;
mod routes;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::Session;
use crate::Platform;
use crate::emulate::run::EmulateOptions;
use crate::engine::{Sim, SimConfig};
use crate::profile::Profile;
use crate::scenario::{Scenario, parse_scenario};
use crate::stack::{LoadedStack, Stack, parse_stack_json};

const STACK: &str = r#"{"id": "demo", "resources": {
  "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []},
  "files": {"config": {"type": "storage", "id": "files"}, "lifecycle": "frozen",
    "dependencies": []},
  "processor": {"config": {"type": "worker", "id": "processor", "links": [],
    "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "jobs"}},
                 {"type": "schedule", "cron": "0 * * * *"}],
    "permissions": "execution", "code": {"type": "image", "image": "x:1"}},
    "lifecycle": "live", "dependencies": []},
  "api": {"config": {"type": "worker", "id": "api", "links": [], "triggers": [],
    "permissions": "execution", "code": {"type": "image", "image": "x:1"},
    "publicEndpoints": [{"name": "default"}]}, "lifecycle": "live", "dependencies": []},
  "agent": {"config": {"type": "daemon", "id": "agent", "links": [], "permissions": "execution",
    "code": {"type": "image", "image": "x:1"}}, "lifecycle": "live", "dependencies": []}
}}"#;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

fn at(offset: Duration) -> DateTime<Utc> {
    start() + chrono::Duration::from_std(offset).unwrap()
}

fn mins(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

/// A directory holding `stacks/demo.json` and `recorded/` (where the scenario goes).
struct Dirs {
    root: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("stacks")).unwrap();
        std::fs::create_dir_all(root.path().join("recorded")).unwrap();
        std::fs::write(root.path().join("stacks/demo.json"), STACK).unwrap();
        Dirs { root }
    }

    fn stack_file(&self) -> PathBuf {
        self.root.path().join("stacks/demo.json")
    }

    fn scenario_file(&self) -> PathBuf {
        self.root.path().join("recorded/session.toml")
    }

    fn loaded(&self) -> LoadedStack {
        LoadedStack {
            stack: stack(&self.stack_file()),
            source: self.stack_file(),
            root: self.root.path().join("stacks"),
        }
    }
}

fn stack(file: &Path) -> Stack {
    parse_stack_json(STACK, file).unwrap()
}

fn profile() -> Profile {
    Profile::new(Platform::Aws, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap()
}

fn session(dirs: &Dirs) -> Session {
    let sim = Sim::new(
        &stack(&dirs.stack_file()),
        profile(),
        SimConfig::new(7, start()),
    );
    let mut options = EmulateOptions::new(dirs.loaded(), profile());
    options.seed = 7;
    Session::of(&options, &sim, None)
}

fn parse(dirs: &Dirs, text: &str) -> Scenario {
    parse_scenario(text, &dirs.scenario_file())
        .unwrap_or_else(|e| panic!("the recorded scenario parses: {e}\n{text}"))
}

fn actions(scenario: &Scenario) -> Vec<(String, &'static str)> {
    scenario
        .spec
        .steps
        .iter()
        .map(|s| {
            let at = s.at.map(crate::engine::duration_serde::format_duration);
            (at.unwrap_or_else(|| "-".into()), action_of(s))
        })
        .collect()
}

/// The one action a recorded step holds (the kinds the recorder writes).
fn action_of(step: &crate::scenario::Step) -> &'static str {
    [
        ("send", step.send.is_some()),
        ("put", step.put.is_some()),
        ("delete", step.delete.is_some()),
        ("http", step.http.is_some()),
        ("advance", step.advance.is_some()),
        ("inject", step.inject.is_some()),
        ("preempt", step.preempt.is_some()),
        ("stop_daemon", step.stop_daemon.is_some()),
    ]
    .into_iter()
    .find_map(|(name, set)| set.then_some(name))
    .unwrap_or("other")
}
