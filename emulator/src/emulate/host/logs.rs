//! App output: each line of an app's stdout or stderr, prefixed with its worker, goes to a
//! sink (the emulator's stderr by default), and the last lines are kept for start-up errors
//! (upstream-runtime-and-bindings.md §2.2 step 5: the runtime re-prints the app's output).

use std::{
    collections::VecDeque,
    fmt,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    sync::mpsc,
};

use super::process::RECENT_LINES;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line of app output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub worker: String,
    pub stream: LogStream,
    /// The line without its line ending (invalid UTF-8 replaced).
    pub line: String,
}

impl LogLine {
    /// `[worker] line`, the way the emulator prints app output.
    pub fn prefixed(&self) -> String {
        format!("[{}] {}", self.worker, self.line)
    }
}

/// Where app output goes. The default prints prefixed lines to the emulator's stderr.
#[derive(Clone)]
pub struct LogSink(Arc<dyn Fn(LogLine) + Send + Sync>);

impl LogSink {
    pub fn stderr() -> Self {
        Self::from_fn(|line| eprintln!("{}", line.prefixed()))
    }

    /// Sends every line to `tx`; lines are dropped once the receiver is gone.
    pub fn channel(tx: mpsc::UnboundedSender<LogLine>) -> Self {
        Self::from_fn(move |line| {
            let _ = tx.send(line);
        })
    }

    pub fn from_fn(f: impl Fn(LogLine) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    pub(super) fn emit(&self, line: LogLine) {
        (self.0)(line)
    }
}

impl Default for LogSink {
    fn default() -> Self {
        Self::stderr()
    }
}

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogSink")
    }
}

/// Reads `pipe` line by line into `sink` and the `recent` lines.
pub(super) fn pump(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    worker: &str,
    stream: LogStream,
    sink: &LogSink,
    recent: &Arc<Mutex<VecDeque<String>>>,
) -> tokio::task::JoinHandle<()> {
    let worker = worker.to_string();
    let sink = sink.clone();
    let recent = Arc::clone(recent);
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    if let Ok(mut lines) = recent.lock() {
                        if lines.len() == RECENT_LINES {
                            lines.pop_front();
                        }
                        lines.push_back(line.clone());
                    }
                    sink.emit(LogLine {
                        worker: worker.clone(),
                        stream,
                        line,
                    });
                }
            }
        }
    })
}
