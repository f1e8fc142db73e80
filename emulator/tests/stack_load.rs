//! `load_stack`: file kinds, directory discovery in alien-cli's order (`alien.ts`, `alien.js`,
//! `alien.json`) and JavaScript evaluation (reference real-clients.md §1). The JS tests need
//! `node` (or `bun`) on PATH and fail with the loader's error when neither is there.

use std::path::Path;

use alien_emulator::stack::{LoadOptions, LoadedStack, StackError, load_stack, load_stack_with};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn stack_json(id: &str) -> String {
    format!(r#"{{ "id": "{id}", "resources": {{}} }}"#)
}

fn stack_js(id: &str) -> String {
    format!("export default {{ id: \"{id}\", resources: {{}} }};\n")
}

fn load(path: &Path) -> LoadedStack {
    load_stack_with(path, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn json_file_loads_with_absolute_source_and_root() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "custom.json", &stack_json("plain"));
    let loaded = load(&dir.path().join("custom.json"));
    assert_eq!(loaded.stack.id, "plain");
    assert_eq!(loaded.source, dir.path().join("custom.json"));
    assert_eq!(loaded.root, dir.path());
    assert!(loaded.root.is_absolute());
}

/// Upstream discovery order: alien.ts, then alien.js, then alien.json.
#[test]
fn directory_discovery_follows_upstream_order() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "alien.json", &stack_json("from-json"));
    assert_eq!(load(dir.path()).stack.id, "from-json");

    write(dir.path(), "alien.js", &stack_js("from-js"));
    let loaded = load(dir.path());
    assert_eq!(loaded.stack.id, "from-js");
    assert_eq!(loaded.source, dir.path().join("alien.js"));

    write(dir.path(), "alien.ts", &stack_js("from-ts"));
    assert_eq!(load(dir.path()).stack.id, "from-ts");
}

#[test]
fn empty_directory_lists_what_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_stack(dir.path()).unwrap_err();
    assert!(matches!(err, StackError::NoStackFile { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no stack file found (looked for alien.ts, alien.js, alien.json)",
            dir.path().display()
        )
    );
}

#[test]
fn missing_path_and_unsupported_extension_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    assert!(matches!(
        load_stack(&missing).unwrap_err(),
        StackError::NotFound { path } if path == missing
    ));
    write(dir.path(), "stack.yaml", "id: x");
    let err = load_stack(&dir.path().join("stack.yaml")).unwrap_err();
    assert!(matches!(err, StackError::UnsupportedFile { .. }), "{err:?}");
}

/// Errors in a loaded JSON file name the file and keep line and column.
#[test]
fn json_syntax_error_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "alien.json", "{\n  \"id\": \"x\",\n  oops\n}");
    let err = load_stack(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3:3: key must be a string",
            dir.path().join("alien.json").display()
        )
    );
}

/// A `.ts` file loads as an ES module on node without type stripping (real-clients.md §1).
#[test]
fn typescript_file_without_ts_only_syntax_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "stack.ts",
        "import { sep } from \"node:path\";\nconst id = [\"ts\", \"stack\"].join(sep === \"/\" ? \"-\" : \"_\");\nexport default { id, resources: {}, platforms: [\"local\"] };\n",
    );
    let loaded = load(&dir.path().join("stack.ts"));
    assert_eq!(loaded.stack.id, "ts-stack");
    assert_eq!(loaded.stack.supported_platforms.as_ref().unwrap().len(), 1);
}

/// The stack file's own console output must not corrupt the JSON on stdout.
#[test]
fn console_log_in_the_stack_file_does_not_break_the_output() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "alien.js",
        &format!("console.log(\"building\");\n{}", stack_js("chatty")),
    );
    assert_eq!(load(dir.path()).stack.id, "chatty");
}

/// A JS exception becomes a StackError naming the file and carrying node's stderr.
#[test]
fn javascript_exception_names_the_file_and_shows_stderr() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "alien.js",
        "throw new Error(\"boom in stack\");\n",
    );
    let err = load_stack_with(dir.path(), &LoadOptions::default()).unwrap_err();
    let StackError::JsEvaluation { file, stderr, .. } = &err else {
        panic!("unexpected error {err:?}");
    };
    assert_eq!(file, &dir.path().join("alien.js"));
    assert!(stderr.contains("boom in stack"), "{stderr}");
    assert!(err.to_string().contains("boom in stack"));
}

#[test]
fn missing_default_export_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "alien.mjs", "export const stack = {};\n");
    let err = load_stack_with(&dir.path().join("alien.mjs"), &LoadOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("the default export is missing or not JSON-serializable"),
        "{err}"
    );
}

/// What the JS prints is checked like any stack.json, with the .ts/.js file as origin.
#[test]
fn invalid_stack_from_javascript_names_the_script() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "alien.js",
        "export default { id: \"s\", resources: { q: { config: { type: \"queue\", id: \"q\", size: 1 }, lifecycle: \"live\", dependencies: [] } } };\n",
    );
    let err = load_stack_with(dir.path(), &LoadOptions::default()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{}: resource 'q' (queue): unknown field `size`",
            dir.path().join("alien.js").display()
        )),
        "{text}"
    );
}

#[test]
fn no_javascript_runtime_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty_bin = tempfile::tempdir().unwrap();
    write(dir.path(), "alien.js", &stack_js("x"));
    let options = LoadOptions {
        core_modules: None,
        runtime_path: Some(empty_bin.path().as_os_str().to_owned()),
    };
    let err = load_stack_with(dir.path(), &options).unwrap_err();
    assert!(matches!(err, StackError::NoJsRuntime { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("needs `bun` or `node` (>= 20.6) on PATH")
    );
}

/// The fallback must be a node_modules directory, since npm installs into `<prefix>/node_modules`.
#[test]
fn core_fallback_must_be_a_node_modules_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "alien.js",
        "import * as alien from \"@alienplatform/core\";\nexport default new alien.Stack(\"x\").build();\n",
    );
    let options = LoadOptions {
        core_modules: Some(cache.path().join("modules")),
        runtime_path: None,
    };
    let err = load_stack_with(dir.path(), &options).unwrap_err();
    assert!(matches!(err, StackError::CoreInstall { .. }), "{err:?}");
    assert!(
        err.to_string().contains("must be named node_modules"),
        "{err}"
    );
}

/// First use installs `@alienplatform/core@1.4.0` with npm into the fallback directory, and a
/// project without node_modules then resolves it (real-clients.md §1). Needs npm.
#[test]
fn core_is_installed_on_first_use_into_the_fallback_directory() {
    let project = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    write(
        project.path(),
        "alien.ts",
        "import * as alien from \"@alienplatform/core\";\nexport default new alien.Stack(\"installed\").add(new alien.Kv(\"cache\").build(), \"frozen\").build();\n",
    );
    let node_modules = cache.path().join("core").join("node_modules");
    let options = LoadOptions {
        core_modules: Some(node_modules.clone()),
        runtime_path: None,
    };
    let loaded = load_stack_with(project.path(), &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.stack.id, "installed");
    assert_eq!(loaded.stack.resources["cache"].config.type_name(), "kv");
    let package =
        std::fs::read_to_string(node_modules.join("@alienplatform/core/package.json")).unwrap();
    assert!(package.contains("\"version\": \"1.4.0\""));
    assert!(
        !project.path().join("node_modules").exists(),
        "the project is left alone"
    );
}
