//! Errors of the worker host. Every message names the worker.

use std::{fmt, time::Duration};

use super::{env::EnvError, process::ProcessExit};

/// The start-up step the host was waiting for (upstream-runtime-and-bindings.md §2.2 step 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartupStage {
    /// `RegisterHttpServer` from the app.
    HttpServer,
    /// The app's `WaitForTasks` stream.
    TaskSubscriber,
}

impl fmt::Display for StartupStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StartupStage::HttpServer => "registering its HTTP server (RegisterHttpServer)",
            StartupStage::TaskSubscriber => "subscribing to tasks (WaitForTasks)",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("worker `{worker}`: invalid environment: {source}")]
    Env {
        worker: String,
        #[source]
        source: EnvError,
    },
    #[error("worker `{worker}`: cannot start the worker protocol server: {reason}")]
    Server { worker: String, reason: String },
    #[error("worker `{worker}`: cannot spawn `{command}`: {source}")]
    Spawn {
        worker: String,
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "worker `{worker}` (pid {pid}) exited with {status} before {stage}{}",
        last_output(.last_lines)
    )]
    ExitedDuringStartup {
        worker: String,
        pid: u32,
        stage: StartupStage,
        status: ProcessExit,
        last_lines: Vec<String>,
    },
    #[error("worker `{worker}`: start aborted because the host is stopping")]
    StartAborted { worker: String },
    #[error("worker `{worker}`: the host is stopped")]
    Stopped { worker: String },
    #[error("worker `{worker}`: no running app after waiting {waited:?}")]
    NotReady { worker: String, waited: Duration },
    #[error("worker `{worker}` (pid {pid}) still running {waited:?} after SIGKILL")]
    StillRunning {
        worker: String,
        pid: u32,
        waited: Duration,
    },
}

fn last_output(lines: &[String]) -> String {
    if lines.is_empty() {
        " (no output)".to_string()
    } else {
        format!("; last output:\n  {}", lines.join("\n  "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_exit_names_worker_status_and_output() {
        let error = HostError::ExitedDuringStartup {
            worker: "processor".into(),
            pid: 42,
            stage: StartupStage::HttpServer,
            status: ProcessExit {
                code: Some(101),
                signal: None,
            },
            last_lines: vec!["panicked at src/main.rs".into()],
        };
        let text = error.to_string();
        assert!(text.starts_with("worker `processor` (pid 42) exited with exit code 101 before registering its HTTP server"), "{text}");
        assert!(
            text.ends_with("last output:\n  panicked at src/main.rs"),
            "{text}"
        );
    }
}
