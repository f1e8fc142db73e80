//! Phase 1 and 2 of a start: what was asked (the state directory, `alien-emulate.toml`), the
//! platform preflight, then the worker builds. Nothing is built, started or written to the
//! state file before the preflight passed. Builds and file reads run off the async runtime;
//! build output reaches `progress` line by line as it comes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{EmulateError, EmulateOptions};
use crate::emulate::config::{self, CONFIG_FILE, EmulateConfig};
use crate::emulate::host::ProcessSpec;
use crate::preflight;
use crate::profile::Profile;
use crate::stack::Stack;

/// What a start works from, once checked.
pub(super) struct Plan {
    pub stack: Stack,
    pub root: PathBuf,
    pub profile: Profile,
    pub state_dir: PathBuf,
    pub config: EmulateConfig,
    pub config_path: PathBuf,
    pub options: EmulateOptions,
    /// The preflight's warnings (errors stop the start), for the start-up notes.
    pub warnings: Option<String>,
}

/// Reads the configuration, creates the state directory and runs the platform preflight.
pub(super) async fn plan(options: EmulateOptions) -> Result<Plan, EmulateError> {
    run_blocking(move || {
        let stack = options.stack.stack.clone();
        let root = options.stack.root.clone();
        let report = preflight::run(&stack, &options.profile);
        if !report.ok {
            return Err(EmulateError::Preflight(report.render_text()));
        }
        let warnings = (!report.diagnostics.is_empty()).then(|| report.render_text());
        let state_dir = options
            .state_dir
            .clone()
            .unwrap_or_else(|| root.join(".alien-emulator"));
        std::fs::create_dir_all(&state_dir).map_err(super::io)?;
        let explicit = options.config.is_some();
        let config_path = options
            .config
            .clone()
            .unwrap_or_else(|| root.join(CONFIG_FILE));
        let config = EmulateConfig::load(&config_path, explicit)?;
        Ok(Plan {
            profile: options.profile.clone(),
            stack,
            root,
            state_dir,
            config,
            config_path,
            options,
            warnings,
        })
    })
    .await
}

/// Builds or locates every worker (`cargo build`, or the `alien-emulate.toml` mapping), on a
/// blocking thread; its output goes to `progress` as it comes: `building <worker>…`, then
/// each of cargo's lines as `  [<worker> build] <line>` (the CLI's build spinner reads this
/// shape: src/cli/progress.rs).
pub(super) async fn build_workers(
    plan: &Plan,
    progress: &mut dyn FnMut(&str),
) -> Result<BTreeMap<String, ProcessSpec>, EmulateError> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let workers: Vec<(String, crate::stack::Code)> = plan
        .stack
        .workers()
        .map(|(id, w)| (id.to_string(), w.code.clone()))
        .collect();
    let (root, config, config_path) = (
        plan.root.clone(),
        plan.config.clone(),
        plan.config_path.clone(),
    );
    let builds = tokio::task::spawn_blocking(move || {
        let mut built = BTreeMap::new();
        for (id, code) in workers {
            let _ = tx.send(format!("building {id}…"));
            let mut line = |l: &str| {
                let _ = tx.send(format!("  [{id} build] {l}"));
            };
            let spec = config::resolve(&id, &code, &root, &config, &config_path, &mut line)?;
            built.insert(id, spec);
        }
        Ok::<_, EmulateError>(built)
    });
    while let Some(line) = rx.recv().await {
        progress(&line);
    }
    builds.await.map_err(super::io)?
}

/// Runs `work` on the blocking pool.
pub(super) async fn run_blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, EmulateError> + Send + 'static,
) -> Result<T, EmulateError> {
    tokio::task::spawn_blocking(work).await.map_err(super::io)?
}
