//! `alien simulate --html FILE`: writes the runs' timeline report (the web console's lanes)
//! as one self-contained HTML file, by temp file and rename so a reader never sees half.

use std::io::Write as _;
use std::path::Path;

use alien_emulator::console::report::{ReportRun, render_report};
use alien_emulator::scenario::report::failure_details;
use alien_emulator::scenario::{Outcome, Scenario};

/// Writes the report of `runs` to `path`; `shared_axis` (`--diff-platforms`) lines each
/// scenario's platforms up on one time axis.
pub(super) fn write(
    path: &Path,
    runs: &[(&Scenario, Outcome)],
    shared_axis: bool,
) -> std::io::Result<()> {
    let report_runs: Vec<ReportRun<'_>> = runs
        .iter()
        .map(|(_, outcome)| ReportRun {
            scenario: &outcome.scenario,
            platform: outcome.platform.to_string(),
            seed: outcome.seed,
            passed: outcome.passed,
            failures: failure_details(outcome)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            end_ms: outcome.end_ms,
            events: outcome.trace.events(),
        })
        .collect();
    let failed = runs.iter().filter(|(_, o)| !o.passed).count();
    let subtitle = format!(
        "{} runs, {} passed, {failed} failed{}",
        runs.len(),
        runs.len() - failed,
        if shared_axis {
            " · platforms on one time axis"
        } else {
            ""
        }
    );
    let page = render_report("alien simulate", &subtitle, &report_runs, shared_axis);
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(".tmp");
    let temp = Path::new(&temp_name);
    let mut file = std::fs::File::create(temp)?;
    file.write_all(page.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(temp, path)
}
