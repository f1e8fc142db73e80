//! `--otlp-endpoint URL` on `alien simulate` and `alien emulate`: the trace as OpenTelemetry
//! spans over OTLP/HTTP (`alien_emulator::otlp`). Without the `otlp` feature the flag still
//! parses, and using it exits 2.

use crate::cli::unusable;

/// The flag, for messages.
const FLAG: &str = "--otlp-endpoint";

#[cfg(feature = "otlp")]
mod imp {
    use std::process::ExitCode;

    use alien_emulator::Platform;
    use alien_emulator::emulate::control::ControlClient;
    use alien_emulator::otlp::{
        DEFAULT_OPEN_CAP, Endpoint, OtlpExporter, RunIdentity, SpanBuilder, TraceFollower,
    };
    use alien_emulator::scenario::{Outcome, Scenario};

    use super::{FLAG, unusable};

    /// The exporter for `value`; an invalid URL is reported naming the flag (exit 2).
    fn exporter(value: Option<&str>) -> Result<Option<OtlpExporter>, ExitCode> {
        let Some(value) = value else {
            return Ok(None);
        };
        let endpoint = Endpoint::parse(value).map_err(|e| unusable(format!("{FLAG} {e}")))?;
        OtlpExporter::new(&endpoint)
            .map(Some)
            .map_err(|e| unusable(format!("{FLAG}: {e}")))
    }

    /// `alien simulate --otlp-endpoint`: each run's spans, exported after the run.
    pub struct SimulateExport {
        exporter: OtlpExporter,
        runtime: tokio::runtime::Runtime,
        failed: bool,
    }

    pub fn simulate_export(value: Option<&str>) -> Result<Option<SimulateExport>, ExitCode> {
        let Some(exporter) = exporter(value)? else {
            return Ok(None);
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| unusable(format!("{FLAG}: cannot start the exporter's runtime: {e}")))?;
        Ok(Some(SimulateExport {
            exporter,
            runtime,
            failed: false,
        }))
    }

    impl SimulateExport {
        /// Exports the run's spans; after a failure, warns once and skips the later runs.
        pub fn export(&mut self, scenario: &Scenario, outcome: &Outcome) {
            if self.failed {
                return;
            }
            let run = RunIdentity {
                stack_id: scenario.stack.id.clone(),
                platform: outcome.platform,
                seed: outcome.seed,
                scenario: Some(outcome.scenario.clone()),
            };
            let mut builder = SpanBuilder::new(run.key());
            for event in outcome.trace.events() {
                builder.push(event);
            }
            let spans = builder.finish();
            if builder.dropped() > 0 {
                eprintln!(
                    "warning: {FLAG}: {} spans of {} on {} dropped (over {DEFAULT_OPEN_CAP} open at once)",
                    builder.dropped(),
                    outcome.scenario,
                    outcome.platform
                );
            }
            if let Err(err) = self.runtime.block_on(self.exporter.export(&run, spans)) {
                eprintln!("warning: {FLAG}: {err}; later runs are not exported");
                self.failed = true;
            }
        }
    }

    /// `alien emulate --otlp-endpoint`: the exporter and the run, before the emulator starts.
    pub struct EmulateExport {
        exporter: OtlpExporter,
        run: RunIdentity,
    }

    pub fn emulate_export(
        value: Option<&str>,
        stack_id: &str,
        platform: Platform,
        seed: u64,
    ) -> Result<Option<EmulateExport>, ExitCode> {
        let run = RunIdentity {
            stack_id: stack_id.to_string(),
            platform,
            seed,
            scenario: None,
        };
        Ok(exporter(value)?.map(|exporter| EmulateExport { exporter, run }))
    }

    /// The background export of a running emulator.
    pub struct Following {
        follower: TraceFollower,
        endpoint: String,
    }

    impl EmulateExport {
        /// Follows the trace of the emulator at `control_url` on the current runtime.
        pub fn start(self, control_url: &str) -> Following {
            let endpoint = self.exporter.endpoint().as_str().to_string();
            let follower = TraceFollower::spawn(
                ControlClient::new(control_url),
                self.exporter,
                self.run,
                |line| eprintln!("warning: {FLAG}: {line}"),
            );
            Following { follower, endpoint }
        }
    }

    /// Exports what is left (spans still open end at the last event) and says how it went.
    pub async fn finish(following: Option<Following>) {
        let Some(Following { follower, endpoint }) = following else {
            return;
        };
        let report = follower.finish().await;
        let mut line = format!("otlp: {} spans exported to {endpoint}", report.exported);
        if report.lost > 0 {
            line.push_str(&format!(", {} lost to failed exports", report.lost));
        }
        if report.dropped > 0 {
            line.push_str(&format!(
                ", {} dropped (over {DEFAULT_OPEN_CAP} open at once)",
                report.dropped
            ));
        }
        eprintln!("{line}");
    }
}

#[cfg(not(feature = "otlp"))]
mod imp {
    //! Without the feature the types are uninhabited: only the refusal can happen.

    use std::process::ExitCode;

    use alien_emulator::Platform;
    use alien_emulator::scenario::{Outcome, Scenario};

    use super::{FLAG, unusable};

    fn refuse<T>(value: Option<&str>) -> Result<Option<T>, ExitCode> {
        match value {
            None => Ok(None),
            Some(_) => Err(unusable(format!(
                "{FLAG}: alien was built without the `otlp` feature; rebuild with `--features otlp`"
            ))),
        }
    }

    pub enum SimulateExport {}

    pub fn simulate_export(value: Option<&str>) -> Result<Option<SimulateExport>, ExitCode> {
        refuse(value)
    }

    impl SimulateExport {
        pub fn export(&mut self, _: &Scenario, _: &Outcome) {
            match *self {}
        }
    }

    pub enum EmulateExport {}

    pub fn emulate_export(
        value: Option<&str>,
        _: &str,
        _: Platform,
        _: u64,
    ) -> Result<Option<EmulateExport>, ExitCode> {
        refuse(value)
    }

    pub enum Following {}

    impl EmulateExport {
        pub fn start(self, _: &str) -> Following {
            match self {}
        }
    }

    pub async fn finish(following: Option<Following>) {
        if let Some(following) = following {
            match following {}
        }
    }
}

pub use imp::{emulate_export, finish, simulate_export};
