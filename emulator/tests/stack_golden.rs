//! Golden stacks: `tests/fixtures/stacks/<name>/alien.ts` written against the real npm
//! `@alienplatform/core` 1.4.0 builder API, with the committed `stack.json` it produced
//! (reference real-clients.md §1: alien-cli prints `JSON.stringify(default, null, 2)`).
//!
//! The JS test needs node (or bun) and npm: it installs the package into a temporary directory
//! with `scripts/install-alien-core.sh`, unless `ALIEN_CORE_MODULES` names an installed copy.
//! Without node or npm it fails with a message saying so; it never passes silently.

use std::path::{Path, PathBuf};
use std::process::Command;

use alien_emulator::stack::{
    CORE_MODULES_ENV, LoadOptions, Resource, Stack, evaluate_stack_script, load_stack_with,
};
use serde_json::Value;

/// Fixtures written as `alien.ts`; together they cover worker, daemon, queue, storage and kv,
/// queue / storage (created, deleted) / schedule triggers, public and private workers,
/// commandsEnabled, environment, memoryMb, timeoutSeconds, concurrencyLimit and a vault.
const TS_FIXTURES: [&str; 5] = [
    "queue-worker",
    "storage-events",
    "scheduled-daemon",
    "vault-kept",
    "realclients-demo",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/stacks")
}

/// The committed golden file, parsed through the public loader.
fn load_json(name: &str) -> Stack {
    let path = fixtures().join(name).join("stack.json");
    load_stack_with(&path, &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .stack
}

/// `node_modules` holding `@alienplatform/core` 1.4.0: `$ALIEN_CORE_MODULES`, or a fresh
/// install into a temporary directory (kept alive by the returned guard).
fn core_modules() -> (Option<tempfile::TempDir>, PathBuf) {
    if let Some(dir) = std::env::var_os(CORE_MODULES_ENV).filter(|v| !v.is_empty()) {
        return (None, PathBuf::from(dir));
    }
    let temp = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/install-alien-core.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(temp.path())
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
    assert!(
        output.status.success(),
        "installing @alienplatform/core@1.4.0 failed; this test needs node and npm on PATH \
         (or {CORE_MODULES_ENV} pointing at an installed node_modules):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let node_modules = temp.path().join("node_modules");
    (Some(temp), node_modules)
}

/// (a) + (b): our loader on each `alien.ts`, with the real package, prints JSON equal (same
/// keys, same order) to the committed `stack.json`; loading the directory picks `alien.ts`
/// and yields the same model as loading the JSON.
#[test]
fn alien_ts_with_real_npm_core_matches_committed_stack_json() {
    let (_guard, node_modules) = core_modules();
    let options = LoadOptions {
        core_modules: Some(node_modules),
        runtime_path: None,
    };
    for name in TS_FIXTURES {
        let dir = fixtures().join(name);
        let printed = evaluate_stack_script(&dir.join("alien.ts"), &options)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let printed: Value = serde_json::from_str(&printed).unwrap();
        let committed: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("stack.json")).unwrap())
                .unwrap();
        assert_eq!(
            serde_json::to_string_pretty(&printed).unwrap(),
            serde_json::to_string_pretty(&committed).unwrap(),
            "{name}: alien.ts no longer produces the committed stack.json"
        );

        let loaded = load_stack_with(&dir, &options).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            loaded.source,
            std::path::absolute(dir.join("alien.ts")).unwrap()
        );
        assert_eq!(loaded.root, std::path::absolute(&dir).unwrap());
        assert_eq!(
            loaded.stack,
            load_json(name),
            "{name}: dir and json loads differ"
        );
    }
}

/// (b): the parsed model of every committed stack, recorded as a snapshot.
#[test]
fn parsed_models_match_snapshots() {
    for name in TS_FIXTURES.iter().chain(&["reference-1-12"]) {
        insta::assert_debug_snapshot!(format!("model_{name}"), load_json(name));
    }
}

/// The fixtures together exercise everything the brief lists (so a fixture edit cannot
/// silently drop coverage).
#[test]
fn fixtures_cover_every_emulated_feature() {
    let stacks: Vec<Stack> = TS_FIXTURES.iter().map(|n| load_json(n)).collect();
    let configs: Vec<&Resource> = stacks
        .iter()
        .flat_map(|s| s.resources.values().map(|e| &e.config))
        .collect();
    let types: std::collections::BTreeSet<&str> = configs.iter().map(|c| c.type_name()).collect();
    for t in ["worker", "daemon", "queue", "storage", "kv", "vault"] {
        assert!(types.contains(t), "no {t} in the fixtures");
    }
    assert!(
        configs.iter().any(|c| !c.is_emulated()),
        "a non-emulated resource is kept"
    );

    let workers: Vec<_> = stacks
        .iter()
        .flat_map(|s| s.workers().map(|(_, w)| w))
        .collect();
    assert!(workers.iter().any(|w| w.is_public()));
    assert!(workers.iter().any(|w| !w.is_public()));
    assert!(workers.iter().any(|w| w.commands_enabled));
    assert!(workers.iter().any(|w| !w.environment.is_empty()));
    assert!(workers.iter().any(|w| w.memory_mb == 1024));
    assert!(workers.iter().any(|w| w.timeout_seconds == 3600));
    assert!(workers.iter().any(|w| w.concurrency_limit == Some(5)));
    let triggers: Vec<String> = workers
        .iter()
        .flat_map(|w| &w.triggers)
        .map(|t| serde_json::to_value(t).unwrap()["type"].to_string())
        .collect();
    for t in ["\"queue\"", "\"storage\"", "\"schedule\""] {
        assert!(triggers.iter().any(|x| x == t), "no {t} trigger");
    }
    assert!(
        stacks
            .iter()
            .flat_map(|s| s.daemons())
            .any(|(_, d)| d.commands_enabled && !d.environment.is_empty())
    );
}
