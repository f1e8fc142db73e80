//! `alien simulate` through the binary: exit codes 0 / 1 / 2, the failure report, JSON and
//! the diff table.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn alien(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alien"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run alien")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

const STACK: &str = r#"
[stack]
id = "s"
[stack.resources.jobs]
lifecycle = "frozen"
dependencies = []
config = { id = "jobs", type = "queue" }
[stack.resources.processor]
lifecycle = "live"
dependencies = []
config = { id = "processor", type = "worker", code = { type = "image", image = "x:1" }, links = [], permissions = "execution", triggers = [{ type = "queue", queue = { id = "jobs", type = "queue" } }] }
"#;

#[test]
fn passing_scenario_exits_0() {
    let out = alien(&["simulate", "scenarios/commands-push-worker.toml"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("PASS  commands-push-worker"), "{text}");
    assert!(text.contains("5 runs, 5 passed, 0 failed"), "{text}");
}

#[test]
fn platform_filter_intersects() {
    let out = alien(&[
        "simulate",
        "scenarios/daemon-stop-clean.toml",
        "--platform",
        "aws,local",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout(&out).contains("1 runs, 1 passed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn unmet_expectation_exits_1_with_seed_and_trace() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wrong.toml");
    let text = format!(
        "name = \"wrong\"\nplatforms = [\"aws\"]\ncold_starts = false\n{STACK}\n[[steps]]\nlabel = \"job\"\nsend = {{ queue = \"jobs\", text = \"x\" }}\n[[steps]]\nadvance = \"1m\"\n[expect.aws]\ncount.jobs = {{ acked = 2 }}\n"
    );
    std::fs::write(&file, text).unwrap();
    let out = alien(&["simulate", file.to_str().unwrap(), "--seed", "42"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.contains("FAIL  wrong"), "{text}");
    assert!(
        text.contains("expectation failed: expect.aws.count.jobs.acked = 2"),
        "{text}"
    );
    assert!(text.contains("seed: 42"), "{text}");
    assert!(text.contains(">> +00:00:00.000 acked"), "{text}");
}

#[test]
fn malformed_scenario_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(
        &file,
        format!("name = \"broken\"\nplatforms = \"all\"\nseeed = 3\n{STACK}"),
    )
    .unwrap();
    let out = alien(&["simulate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("broken.toml:3:1:"), "{err}");
    assert!(err.contains("seeed"), "{err}");
}

#[test]
fn missing_file_and_bad_platform_exit_2() {
    assert_eq!(
        alien(&["simulate", "scenarios/nope.toml"]).status.code(),
        Some(2)
    );
    assert_eq!(
        alien(&[
            "simulate",
            "scenarios/commands-push-worker.toml",
            "--platform",
            "mars"
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn json_report_and_diff_table() {
    let out = alien(&["simulate", "scenarios/http-payload-413.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["runs"].as_array().unwrap().len(), 5);
    assert_eq!(json["runs"][0]["platform"], "aws");
    let out = alien(&[
        "simulate",
        "scenarios/http-payload-413.toml",
        "--diff-platforms",
    ]);
    let text = stdout(&out);
    assert!(text.contains("http seven_mb"), "{text}");
    assert!(text.contains("413"), "{text}");
}
