//! [`TraceFollower`]: `alien emulate --otlp-endpoint` follows the running emulator's trace
//! through its control API (`GET /trace?after=&wait=` long-polls) on a task of its own,
//! turns it into spans and exports them in batches: when [`MAX_BATCH`] are waiting or a
//! second after the last export. Failures are reported (once per failure streak) and the
//! spans lost; they never stop the emulator.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::builder::SpanBuilder;
use super::export::{MAX_BATCH, OtlpExporter};
use super::run::RunIdentity;
use crate::emulate::control::{ControlClient, TraceLine};
use crate::engine::{Kind, TraceEvent};

/// Longest wait of one trace long-poll.
const POLL_WAIT: Duration = Duration::from_secs(1);
/// Most time finished spans wait for a batch to fill.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Pause after the control API could not be read.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Most time spent reading the rest of the trace when asked to finish.
const DRAIN_BUDGET: Duration = Duration::from_secs(5);

/// What a follower did, for the closing line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowReport {
    pub exported: usize,
    /// Spans whose export failed.
    pub lost: usize,
    /// Spans never opened because too many were open ([`SpanBuilder::dropped`]).
    pub dropped: u64,
}

/// A running follower; [`TraceFollower::finish`] ends it.
pub struct TraceFollower {
    stop: watch::Sender<bool>,
    task: JoinHandle<FollowReport>,
}

impl TraceFollower {
    /// Starts following the emulator behind `client` on the current Tokio runtime; `warn`
    /// gets a line when exporting or reading the trace starts failing and when it recovers.
    pub fn spawn(
        client: ControlClient,
        exporter: OtlpExporter,
        run: RunIdentity,
        warn: impl Fn(String) + Send + 'static,
    ) -> TraceFollower {
        let (stop, stopped) = watch::channel(false);
        let follow = Follow {
            client,
            exporter,
            builder: SpanBuilder::new(run.key()),
            run,
            after: None,
            pending: Vec::new(),
            last_export: Instant::now(),
            report: FollowReport::default(),
            export_failing: false,
            read_failing: false,
            warn: Box::new(warn),
        };
        TraceFollower {
            stop,
            task: tokio::spawn(follow.run(stopped)),
        }
    }

    /// Reads the rest of the trace, exports every span left (those still open end at the
    /// last event) and reports.
    pub async fn finish(self) -> FollowReport {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

struct Follow {
    client: ControlClient,
    exporter: OtlpExporter,
    builder: SpanBuilder,
    run: RunIdentity,
    after: Option<u64>,
    pending: Vec<opentelemetry_sdk::trace::SpanData>,
    last_export: Instant,
    report: FollowReport,
    export_failing: bool,
    read_failing: bool,
    warn: Box<dyn Fn(String) + Send>,
}

impl Follow {
    async fn run(mut self, mut stop: watch::Receiver<bool>) -> FollowReport {
        while !*stop.borrow() {
            let polled = tokio::select! {
                polled = self.client.trace_after(self.after, POLL_WAIT) => polled,
                _ = stop.changed() => break,
            };
            match polled {
                Ok(lines) => self.feed(lines),
                Err(err) => {
                    self.read_failed(&err.to_string());
                    let _ = tokio::time::timeout(RETRY_AFTER, stop.changed()).await;
                    continue;
                }
            }
            let due = self.pending.len() >= MAX_BATCH
                || (!self.pending.is_empty() && self.last_export.elapsed() >= FLUSH_EVERY);
            if due {
                self.export().await;
            }
        }
        let deadline = Instant::now() + DRAIN_BUDGET;
        while Instant::now() < deadline {
            match self.client.trace_after(self.after, Duration::ZERO).await {
                Ok(lines) if lines.is_empty() => break,
                Ok(lines) => self.feed(lines),
                Err(err) => {
                    self.read_failed(&err.to_string());
                    break;
                }
            }
        }
        self.report.dropped = self.builder.dropped();
        let rest = self.builder.finish();
        self.pending.extend(rest);
        self.export().await;
        self.report
    }

    fn feed(&mut self, lines: Vec<TraceLine>) {
        if self.read_failing {
            self.read_failing = false;
            (self.warn)("reading the trace works again".into());
        }
        for line in lines {
            self.after = Some(line.seq);
            if let Some(event) = event_of(line) {
                self.builder.push(&event);
            }
        }
        self.pending.extend(self.builder.take_finished());
    }

    async fn export(&mut self) {
        self.last_export = Instant::now();
        let spans = std::mem::take(&mut self.pending);
        let count = spans.len();
        match self.exporter.export(&self.run, spans).await {
            Ok(()) => {
                self.report.exported += count;
                if self.export_failing {
                    self.export_failing = false;
                    let endpoint = self.exporter.endpoint().as_str();
                    (self.warn)(format!("exporting to {endpoint} works again"));
                }
            }
            Err(err) => {
                self.report.lost += count;
                if !self.export_failing {
                    self.export_failing = true;
                    (self.warn)(format!("{err} (spans are dropped until it works again)"));
                }
            }
        }
    }

    fn read_failed(&mut self, err: &str) {
        if !self.read_failing {
            self.read_failing = true;
            (self.warn)(format!("reading the trace: {err}"));
        }
    }
}

/// The engine's event a control API trace line stands for (None: a kind this build does not
/// know).
fn event_of(line: TraceLine) -> Option<TraceEvent> {
    Some(TraceEvent {
        seq: line.seq,
        at: line.at,
        t_ms: line.t_ms,
        kind: Kind::from_name(&line.kind)?,
        resource: line.resource,
        subject: line.subject,
        detail: line.detail,
    })
}
