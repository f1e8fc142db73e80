//! Every scenario in `scenarios/` on every platform it applies to; determinism of seeded runs;
//! snapshots of a diff table and a text trace; input errors that name file and field.

use std::path::{Path, PathBuf};

use alien_emulator::Platform;
use alien_emulator::scenario::report::{diff_table, failure_details, summary_line};
use alien_emulator::scenario::{
    ScenarioError, load_scenario, parse_scenario, run_scenario, scenario_files,
};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn scenario(name: &str) -> alien_emulator::scenario::Scenario {
    load_scenario(&scenarios_dir().join(format!("{name}.toml"))).expect("scenario loads")
}

#[test]
fn every_scenario_meets_its_expectations() {
    let files = scenario_files(&scenarios_dir()).expect("scenarios directory");
    assert!(
        files.len() >= 30,
        "expected at least 30 scenarios, found {}",
        files.len()
    );
    let mut failures = String::new();
    let mut runs = 0;
    for file in files {
        let scenario = load_scenario(&file).unwrap_or_else(|e| panic!("{e}"));
        for &platform in &scenario.platforms {
            let outcome = run_scenario(&scenario, platform, scenario.seed(None))
                .unwrap_or_else(|e| panic!("{e}"));
            runs += 1;
            if !outcome.passed {
                failures.push_str(&summary_line(&outcome));
                failures.push('\n');
                failures.push_str(&failure_details(&outcome));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{runs} runs; failed expectations:\n{failures}"
    );
}

#[test]
fn every_scenario_applies_to_a_platform_and_cites_sources() {
    for file in scenario_files(&scenarios_dir()).unwrap() {
        let s = load_scenario(&file).unwrap();
        assert!(!s.platforms.is_empty(), "{}", file.display());
        assert!(
            !s.spec.sources.is_empty(),
            "{} cites no source",
            file.display()
        );
        assert!(
            !s.spec.expect.is_empty(),
            "{} states no expected outcome",
            file.display()
        );
    }
}

#[test]
fn same_seed_same_trace() {
    let s = scenario("seeded-faults-at-least-once");
    for platform in [
        Platform::Aws,
        Platform::Gcp,
        Platform::Azure,
        Platform::Local,
    ] {
        let a = run_scenario(&s, platform, 7).unwrap();
        let b = run_scenario(&s, platform, 7).unwrap();
        assert_eq!(a.trace.render_text(), b.trace.render_text(), "{platform}");
        assert_eq!(a.trace.render_json(), b.trace.render_json(), "{platform}");
    }
}

#[test]
fn seed_changes_the_faults() {
    let s = scenario("seeded-faults-at-least-once");
    let a = run_scenario(&s, Platform::Aws, 7).unwrap();
    let b = run_scenario(&s, Platform::Aws, 8).unwrap();
    assert_ne!(a.trace.render_text(), b.trace.render_text());
}

#[test]
fn diff_table_snapshot() {
    let s = scenario("queue-handler-fails-twice");
    let outcomes: Vec<_> = s
        .platforms
        .iter()
        .map(|p| run_scenario(&s, *p, 1).unwrap())
        .collect();
    let refs: Vec<_> = outcomes.iter().collect();
    insta::assert_snapshot!(
        "diff_queue_handler_fails_twice",
        diff_table(s.name(), &refs)
    );
}

#[test]
fn text_trace_snapshot() {
    let s = scenario("queue-handler-fails-twice");
    let outcome = run_scenario(&s, Platform::Aws, 1).unwrap();
    insta::assert_snapshot!(
        "trace_queue_handler_fails_twice_aws",
        outcome.trace.render_text()
    );
}

const MINIMAL: &str = r#"
name = "minimal"
platforms = ["local"]
[stack]
id = "s"
[stack.resources.jobs]
lifecycle = "frozen"
dependencies = []
config = { id = "jobs", type = "queue" }
"#;

fn parse_err(extra: &str) -> String {
    let text = format!("{MINIMAL}{extra}");
    parse_scenario(&text, Path::new("bad.toml"))
        .expect_err("should not parse")
        .to_string()
}

#[test]
fn minimal_scenario_parses() {
    let s = parse_scenario(MINIMAL, Path::new("ok.toml")).unwrap();
    assert_eq!(s.platforms, vec![Platform::Local]);
    assert_eq!(s.seed(None), 1);
    assert_eq!(s.seed(Some(9)), 9);
    assert_eq!(s.start.to_rfc3339(), "2026-01-05T00:00:00+00:00");
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let err = parse_err("[[steps]]\nsned = { queue = \"jobs\", text = \"x\" }\n");
    assert!(err.starts_with("bad.toml:11:"), "{err}");
    assert!(err.contains("sned"), "{err}");
}

#[test]
fn bad_duration_is_an_error() {
    let err = parse_err("[[steps]]\nadvance = \"5x\"\n");
    assert!(err.starts_with("bad.toml:11:"), "{err}");
    assert!(err.contains("unknown unit 'x'"), "{err}");
}

#[test]
fn unknown_resource_names_the_field() {
    let err = parse_err("[[steps]]\nsend = { queue = \"nope\", text = \"x\" }\n");
    assert_eq!(
        err,
        "bad.toml: steps[0].send.queue: no queue named 'nope' in the stack"
    );
}

#[test]
fn unknown_label_and_kind_are_errors() {
    let err = parse_err("[expect.local]\nhttp = { missing = 200 }\n");
    assert_eq!(
        err,
        "bad.toml: expect.local.http.missing: no step is labelled 'missing'"
    );
    let err = parse_err("[expect.local]\ncount.jobs = { deliverd = 1 }\n");
    assert!(
        err.contains("expect.local.count.jobs.deliverd: unknown trace kind 'deliverd'"),
        "{err}"
    );
}

#[test]
fn missing_stack_file_is_an_error() {
    let text = "name = \"x\"\nplatforms = \"all\"\nstack = \"stacks/none.json\"\n";
    let err = parse_scenario(text, Path::new("dir/x.toml")).unwrap_err();
    assert!(matches!(err, ScenarioError::Stack { .. }), "{err}");
    assert!(err.to_string().contains("dir/stacks/none.json"), "{err}");
}

#[test]
fn failed_expectation_is_a_result_not_an_error() {
    let text = format!(
        "{MINIMAL}[[steps]]\nsend = {{ queue = \"jobs\", text = \"x\" }}\n[expect.local]\ncount.jobs = {{ sent = 2 }}\n"
    );
    let s = parse_scenario(&text, Path::new("f.toml")).unwrap();
    let outcome = run_scenario(&s, Platform::Local, 1).unwrap();
    assert!(!outcome.passed);
    let details = failure_details(&outcome);
    assert!(
        details.contains("expect.local.count.jobs.sent = 2"),
        "{details}"
    );
    assert!(details.contains("seen: got 1"), "{details}");
    assert!(details.contains(">> +00:00:00.000 sent"), "{details}");
}
