//! `alien check` through the binary: exit codes, text and JSON reports on the example stacks.
//! Profiles are pinned to a date so the output does not depend on today.

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

#[test]
fn full_app_per_platform() {
    for platform in ["aws", "gcp", "azure", "kubernetes", "local"] {
        let spec = format!("{platform}@2026-11-01");
        let out = alien(&["check", "examples/full-app", "--platform", &spec]);
        let code = out.status.code().unwrap();
        insta::assert_snapshot!(
            format!("full_app_{platform}"),
            format!("exit {code}\n{}", stdout(&out))
        );
    }
}

#[test]
fn weekly_report_per_platform() {
    for platform in ["aws", "gcp", "azure", "kubernetes", "local"] {
        let spec = format!("{platform}@2026-11-01");
        let out = alien(&[
            "check",
            "examples/weekly-report/alien.json",
            "--platform",
            &spec,
        ]);
        let code = out.status.code().unwrap();
        insta::assert_snapshot!(
            format!("weekly_report_{platform}"),
            format!("exit {code}\n{}", stdout(&out))
        );
    }
}

/// Exit 0 = no errors (warnings allowed); 1 = preflight errors.
#[test]
fn exit_codes_follow_errors() {
    assert_eq!(
        alien(&[
            "check",
            "examples/full-app",
            "--platform",
            "local@2026-11-01"
        ])
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        alien(&[
            "check",
            "examples/weekly-report",
            "--platform",
            "aws@2026-11-01"
        ])
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        alien(&["check", "examples/weekly-report", "--platform", "all"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn json_report_is_stable_and_machine_readable() {
    let out = alien(&[
        "check",
        "examples/weekly-report",
        "--platform",
        "gcp@2026-11-01",
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["platform"], "gcp");
    assert_eq!(report["asOf"], "2026-11-01");
    assert_eq!(report["ok"], false);
    assert!(report["errors"].as_u64().unwrap() >= 1);
    insta::assert_json_snapshot!("weekly_report_gcp_json", report);
    let many = alien(&[
        "check",
        "examples/full-app",
        "--platform",
        "aws@2026-11-01,local@2026-11-01",
        "--json",
    ]);
    let reports: serde_json::Value = serde_json::from_str(&stdout(&many)).unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 2);
}

/// Exit 2 for unusable input: a parse error names file, line and column.
#[test]
fn malformed_stack_exits_2_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stack.json");
    std::fs::write(&file, "{\n  \"id\": \"x\",\n  \"resources\": {,}\n}\n").unwrap();
    let out = alien(&["check", file.to_str().unwrap(), "--platform", "aws"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("stack.json"), "{err}");
    assert!(err.contains(":3:"), "line 3 expected: {err}");
}

#[test]
fn missing_stack_and_bad_platform_exit_2() {
    let out = alien(&["check", "no/such/dir", "--platform", "aws"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no/such/dir"), "{}", stderr(&out));
    let out = alien(&["check", "examples/full-app", "--platform", "mars"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("'mars' is not a valid platform"),
        "{}",
        stderr(&out)
    );
}

/// The TypeScript example is evaluated with the real npm package.
#[test]
fn typescript_example_checks_clean() {
    let out = alien(&[
        "check",
        "examples/remote-worker",
        "--platform",
        "aws@2026-11-01",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("stack 'remote-worker' on aws"));
}

/// Each profile value carries its source; `alien profile` lists them.
#[test]
fn profile_lists_every_value_with_a_source() {
    let out = alien(&["profile", "aws@2025-06", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let tables: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let values = tables[0]["values"].as_array().unwrap();
    assert!(values.len() > 60);
    assert!(
        values
            .iter()
            .all(|v| !v["source"].as_str().unwrap().is_empty())
    );
    let async_limit = values
        .iter()
        .find(|v| v["path"] == "worker.async_request_max_bytes")
        .unwrap();
    assert_eq!(async_limit["value"], 262144);
}
