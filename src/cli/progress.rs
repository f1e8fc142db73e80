//! Progress on stderr for a person at a terminal (issue 12 item 4): a spinner per worker
//! build of `alien emulate`, a bar over the runs of `alien simulate`, a bar of virtual time
//! for `alien ctl advance`. Off a terminal (and under `--json`) nothing is drawn: build lines
//! are printed as they come, exactly as before. The library never draws; it reports lines
//! and answers, and this module turns them into bars.

use std::io::IsTerminal;
use std::time::Duration;

use alien_emulator::emulate::control::ControlClient;
use alien_emulator::engine::duration_serde::{format_duration, parse_duration};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a spinner turns while nothing is reported.
const TICK: Duration = Duration::from_millis(120);
/// How often `alien ctl advance` asks the emulator where its clock is.
const CLOCK_POLL: Duration = Duration::from_millis(200);

/// Whether bars can be drawn: stderr is a terminal.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Where a bar draws: stderr on a terminal, nowhere otherwise.
fn target(draw: bool) -> ProgressDrawTarget {
    if draw {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// What `alien emulate` reports while it starts (`Emulator::start`'s progress lines).
/// `building <worker>…` opens a build and `  [<worker> build] <line>` carries cargo's
/// output (emulator/src/emulate/run/prepare.rs). On a terminal cargo's status lines
/// (`Compiling …`, right-aligned in 12 columns) drive a spinner that counts the crates
/// compiled so far (piped, cargo announces no total); every other line (warnings, errors,
/// notes) is printed above it, and `Finished` is printed with the count. Off a terminal
/// every line is printed as it comes.
pub struct StartProgress {
    draw: bool,
    build: Option<Build>,
}

/// The build in progress: its worker, and its spinner once cargo spoke.
struct Build {
    worker: String,
    draw: bool,
    prefix: String,
    spinner: Option<ProgressBar>,
    compiled: u64,
}

impl StartProgress {
    /// `draw`: stderr is a terminal.
    pub fn new(draw: bool) -> StartProgress {
        StartProgress { draw, build: None }
    }

    /// One progress line of the start.
    pub fn line(&mut self, line: &str) {
        if !self.draw {
            eprintln!("{line}");
            return;
        }
        if let Some(worker) = line
            .strip_prefix("building ")
            .and_then(|rest| rest.strip_suffix('…'))
        {
            self.finish();
            eprintln!("{line}");
            self.build = Some(Build::new(worker, self.draw));
            return;
        }
        if let Some(build) = &mut self.build
            && let Some(output) = line.strip_prefix(build.prefix.as_str())
        {
            if let Some(done) = build.output(output) {
                self.build = None;
                eprintln!("{done}");
            }
            return;
        }
        self.finish();
        eprintln!("{line}");
    }

    /// Clears the spinner of a build still open (the start ended or failed).
    pub fn finish(&mut self) {
        if let Some(spinner) = self.build.take().and_then(|b| b.spinner) {
            spinner.finish_and_clear();
        }
    }
}

impl Build {
    fn new(worker: &str, draw: bool) -> Build {
        Build {
            worker: worker.to_string(),
            draw,
            prefix: format!("  [{worker} build] "),
            spinner: None,
            compiled: 0,
        }
    }

    /// Takes a line of cargo's output; returns the line to print once the build finished.
    fn output(&mut self, output: &str) -> Option<String> {
        let spinner = self.spinner.get_or_insert_with(|| {
            let spinner = ProgressBar::with_draw_target(None, target(self.draw))
                .with_style(style("{spinner} {prefix} {wide_msg} {elapsed}"))
                .with_prefix(format!("[{} build]", self.worker));
            spinner.enable_steady_tick(TICK);
            spinner
        });
        let Some((verb, status)) = cargo_status(output) else {
            spinner.println(format!("{}{output}", self.prefix));
            return None;
        };
        if verb == "Compiling" {
            self.compiled += 1;
        }
        if verb == "Finished" {
            spinner.finish_and_clear();
            self.spinner = None;
            let count = match self.compiled {
                0 => String::new(),
                1 => " (1 crate compiled)".to_string(),
                n => format!(" ({n} crates compiled)"),
            };
            return Some(format!("{}{output}{count}", self.prefix));
        }
        spinner.set_message(match self.compiled {
            0 => status.to_string(),
            n => format!("{status} · crate {n}"),
        });
        None
    }
}

/// Cargo's status lines put a capitalised verb right-aligned in 12 columns, then the
/// message (`   Compiling serde v1.0.219`); returns the verb and the trimmed line.
fn cargo_status(line: &str) -> Option<(&str, &str)> {
    let (column, rest) = (line.get(..12)?, line.get(12..)?);
    let verb = column.trim_start();
    let is_verb = !verb.is_empty()
        && verb.chars().all(|c| c.is_ascii_alphabetic())
        && verb.starts_with(|c: char| c.is_ascii_uppercase());
    (is_verb && rest.starts_with(' ')).then(|| (verb, line.trim()))
}

/// A bar over `alien simulate`'s runs, drawn when `draw` and there is more than one run;
/// cleared when finished or dropped.
pub fn runs(total: usize, draw: bool) -> ProgressBar {
    ProgressBar::with_draw_target(Some(total as u64), target(draw && total > 1))
        .with_style(style("[{bar:30}] {pos}/{len} runs {elapsed} {wide_msg}"))
}

/// `alien ctl advance <by>`: the control API answers one `POST /clock/advance` when the
/// jump is over, and its clock can be read meanwhile (`GET /status`), so on a terminal a bar
/// shows the virtual time travelled so far.
pub async fn advance(
    client: &ControlClient,
    by: &str,
    draw: bool,
) -> anyhow::Result<DateTime<Utc>> {
    // A duration the CLI cannot read is left to the control API, which names the field.
    let span = match parse_duration(by) {
        Ok(span) if draw && !span.is_zero() => span,
        _ => return Ok(client.advance(by).await?),
    };
    let from = virtual_now(client).await?;
    let bar = ProgressBar::with_draw_target(Some(span.as_millis() as u64), target(true))
        .with_style(style(
            "{spinner} advancing [{bar:24}] {msg} · real {elapsed}",
        ))
        .with_message(travelled(Duration::ZERO, span));
    bar.enable_steady_tick(TICK);
    let follower = tokio::spawn(follow_clock(client.clone(), bar.clone(), from, span));
    let reached = client.advance(by).await;
    follower.abort();
    bar.finish_and_clear();
    Ok(reached?)
}

/// Moves `bar` to the virtual time travelled since `from`, as the emulator reports it.
async fn follow_clock(
    client: ControlClient,
    bar: ProgressBar,
    from: DateTime<Utc>,
    span: Duration,
) {
    loop {
        tokio::time::sleep(CLOCK_POLL).await;
        if let Ok(now) = virtual_now(&client).await {
            let done = (now - from).to_std().unwrap_or_default().min(span);
            bar.set_position(done.as_millis() as u64);
            bar.set_message(travelled(done, span));
        }
    }
}

/// `+1h5m of 2d`: virtual time travelled, to the second.
fn travelled(done: Duration, span: Duration) -> String {
    let done = Duration::from_secs(done.as_secs());
    format!("+{} of {}", format_duration(done), format_duration(span))
}

/// The emulator's virtual now (`GET /status`).
async fn virtual_now(client: &ControlClient) -> anyhow::Result<DateTime<Utc>> {
    let status = client.status().await?;
    let now = status["now"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("GET /status answered no \"now\": {status}"))?;
    Ok(now.parse()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_status_lines_are_told_from_diagnostics() {
        // cargo's shell right-aligns the status verb in 12 columns (cargo/src/cargo/core/shell.rs).
        assert_eq!(
            cargo_status("   Compiling serde v1.0.219"),
            Some(("Compiling", "Compiling serde v1.0.219"))
        );
        assert_eq!(
            cargo_status("    Blocking waiting for file lock on artifact directory"),
            Some((
                "Blocking",
                "Blocking waiting for file lock on artifact directory"
            ))
        );
        for diagnostic in [
            "warning: unused variable: `x`",
            "error[E0425]: cannot find value `y` in this scope",
            "   --> src/main.rs:3:9",
            "    |",
            "12  |     let x = 1;",
            "   = note: `#[warn(unused_variables)]` on by default",
        ] {
            assert_eq!(cargo_status(diagnostic), None, "{diagnostic}");
        }
    }

    #[test]
    fn a_build_counts_compiled_crates_and_reports_finished_with_the_count() {
        let mut build = Build::new("app", false);
        assert_eq!(build.output("    Blocking waiting for file lock"), None);
        assert_eq!(
            build.spinner.as_ref().unwrap().message(),
            "Blocking waiting for file lock"
        );
        assert_eq!(build.output("   Compiling serde v1.0.219"), None);
        assert_eq!(build.output("warning: unused variable: `x`"), None);
        assert_eq!(build.output("   Compiling worker-app v0.1.0"), None);
        assert_eq!(
            build.spinner.as_ref().unwrap().message(),
            "Compiling worker-app v0.1.0 · crate 2"
        );
        assert_eq!(
            build.output("    Finished `dev` profile in 3.2s"),
            Some("  [app build]     Finished `dev` profile in 3.2s (2 crates compiled)".into())
        );
        assert!(build.spinner.is_none());
    }

    #[test]
    fn advance_shows_virtual_time_travelled_to_the_second() {
        assert_eq!(
            travelled(
                Duration::from_millis(171_546_602),
                Duration::from_secs(172_800)
            ),
            "+1d23h39m6s of 2d"
        );
        assert_eq!(
            travelled(Duration::ZERO, Duration::from_secs(90)),
            "+0s of 1m30s"
        );
    }

    #[test]
    fn runs_bar_counts_runs_and_is_hidden_off_a_terminal() {
        let bar = runs(10, false);
        assert!(bar.is_hidden());
        assert_eq!(bar.length(), Some(10));
    }
}
