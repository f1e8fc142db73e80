//! The conformance table: case × target. Each cell is `pass`, `FAIL` (the case could not run),
//! `DIFFERS` (an observation is not the fact the target's platform must show), `known gap`
//! (every difference is listed in [`KNOWN_GAPS`] on its observed value, with its reason),
//! `n/a` (the case does not apply to the platform, or the target lacks the resource) or
//! `skipped` (the target could not be brought up here, e.g. no Docker engine). Only an
//! unlisted difference or a failure fails the run; every non-pass cell is printed with its
//! reason.

use std::fmt::Write as _;

use super::gaps::{ERROR, KNOWN_GAPS};
use super::{Case, CaseError, Observation, Outcome};
use crate::Platform;
use crate::table::{self, Look};

/// One cell of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Pass,
    /// The case could not run: the error.
    Fail(String),
    /// Which observation differs, expected and seen.
    Differs(String),
    /// Listed gaps: the differences and their reasons.
    KnownGap {
        how: String,
        reason: String,
    },
    /// The case does not apply to the platform, or the target lacks the resource: why.
    NotApplicable(String),
    /// The target is not available on this machine: why (never counted as a pass).
    Skipped(String),
}

impl Cell {
    fn short(&self) -> &'static str {
        match self {
            Cell::Pass => "pass",
            Cell::Fail(_) => "FAIL",
            Cell::Differs(_) => "DIFFERS",
            Cell::KnownGap { .. } => "known gap",
            Cell::NotApplicable(_) => "n/a",
            Cell::Skipped(_) => "skipped",
        }
    }

    /// Whether this cell fails the run.
    pub fn is_failure(&self) -> bool {
        matches!(self, Cell::Fail(_) | Cell::Differs(_))
    }

    /// Whether the case ran to a verdict on the target (pass, known gap, or a difference).
    pub fn ran(&self) -> bool {
        matches!(self, Cell::Pass | Cell::KnownGap { .. } | Cell::Differs(_))
    }
}

/// A case's row: one cell per target, in target order, and what each target observed.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub case: &'static str,
    pub cells: Vec<Cell>,
    pub observed: Vec<Vec<Observation>>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub targets: Vec<String>,
    pub rows: Vec<CaseRow>,
}

/// Compares a case's outcome on `target` (judged by `platform`'s facts) with those facts.
pub fn judge(target: &str, platform: Platform, case: &Case, outcome: &Option<Outcome>) -> Cell {
    let Some(expected) = case.expected(platform) else {
        return Cell::NotApplicable(case.elsewhere.to_string());
    };
    let observed = match outcome {
        None => return Cell::NotApplicable(case.elsewhere.to_string()),
        Some(Err(CaseError::NotCovered(why))) => return Cell::NotApplicable(why.clone()),
        Some(Err(CaseError::Failed(e))) => {
            return match KNOWN_GAPS
                .iter()
                .find(|g| g.explains(target, case.name, ERROR, e))
            {
                Some(gap) => Cell::KnownGap {
                    how: format!("failed: {e}"),
                    reason: gap.reason.to_string(),
                },
                None => Cell::Fail(e.clone()),
            };
        }
        Some(Ok(observed)) => observed,
    };
    let mut hows = Vec::new();
    let mut reasons = Vec::new();
    for (what, want) in expected {
        let seen = observed
            .iter()
            .find(|o| o.what == what)
            .map_or("(not observed)", |o| o.value.as_str());
        if seen == want {
            continue;
        }
        let how = format!("{what}: expected {want}, saw {seen}");
        match KNOWN_GAPS
            .iter()
            .find(|g| g.explains(target, case.name, what, seen))
        {
            Some(gap) => {
                hows.push(how);
                reasons.push(gap.reason);
            }
            None => return Cell::Differs(how),
        }
    }
    if hows.is_empty() {
        Cell::Pass
    } else {
        reasons.dedup();
        Cell::KnownGap {
            how: hows.join("; "),
            reason: reasons.join("; "),
        }
    }
}

impl Report {
    pub fn failed(&self) -> bool {
        self.rows
            .iter()
            .flat_map(|r| &r.cells)
            .any(Cell::is_failure)
    }

    /// Cases that ran on fewer than two targets.
    pub fn thinly_covered(&self) -> Vec<&'static str> {
        self.rows
            .iter()
            .filter(|r| r.cells.iter().filter(|c| c.ran()).count() < 2)
            .map(|r| r.case)
            .collect()
    }

    /// The table, plain, one line per non-pass cell saying how, then the totals.
    pub fn render(&self) -> String {
        self.render_in(Look::Plain)
    }

    /// [`Report::render`] with the table drawn in `look`.
    pub fn render_in(&self, look: Look) -> String {
        let mut header = vec!["CASE"];
        header.extend(self.targets.iter().map(String::as_str));
        let mut out = table::render(
            look,
            &header,
            self.rows
                .iter()
                .map(|row| std::iter::once(row.case).chain(row.cells.iter().map(Cell::short))),
        );
        for row in &self.rows {
            // One line per distinct explanation, naming every target it holds for.
            let mut lines: Vec<(String, Vec<&str>)> = Vec::new();
            for (target, cell) in self.targets.iter().zip(&row.cells) {
                let line = match cell {
                    Cell::Pass => continue,
                    Cell::Fail(e) => format!("failed: {e}"),
                    Cell::Differs(how) => format!("differs: {how}"),
                    Cell::KnownGap { how, reason } => format!("known gap: {how} — {reason}"),
                    Cell::NotApplicable(reason) => format!("n/a: {reason}"),
                    Cell::Skipped(reason) => format!("skipped: {reason}"),
                };
                match lines.iter_mut().find(|(l, _)| *l == line) {
                    Some((_, targets)) => targets.push(target),
                    None => lines.push((line, vec![target])),
                }
            }
            for (line, targets) in lines {
                let _ = writeln!(out, "{} on {}: {line}", row.case, targets.join(", "));
            }
        }
        out.push_str(&self.totals());
        out
    }

    fn totals(&self) -> String {
        let cells: Vec<&Cell> = self.rows.iter().flat_map(|r| &r.cells).collect();
        let count = |short: &str| cells.iter().filter(|c| c.short() == short).count();
        let thin = self.thinly_covered();
        format!(
            "{} cases × {} targets: {} pass, {} known gap, {} differ, {} failed, {} n/a, {} skipped; {}\n",
            self.rows.len(),
            self.targets.len(),
            count("pass"),
            count("known gap"),
            count("DIFFERS"),
            count("FAIL"),
            count("n/a"),
            count("skipped"),
            if thin.is_empty() {
                "every case ran on at least two targets".to_string()
            } else {
                format!("ran on fewer than two targets: {}", thin.join(", "))
            }
        )
    }

    /// What each target observed in each case, one line per observation.
    pub fn render_observations(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            for (target, observed) in self.targets.iter().zip(&row.observed) {
                for o in observed {
                    let _ = writeln!(out, "{} on {target}: {} = {}", row.case, o.what, o.value);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::CASES;

    fn case(name: &str) -> &'static Case {
        CASES.iter().find(|c| c.name == name).unwrap()
    }

    fn seen(pairs: &[(&str, &str)]) -> Option<Outcome> {
        Some(Ok(pairs
            .iter()
            .map(|(w, v)| Observation {
                what: w.to_string(),
                value: v.to_string(),
            })
            .collect()))
    }

    #[test]
    fn a_listed_gap_matches_its_value_and_an_unlisted_difference_fails() {
        let c = case("schedule-both-day-fields");
        let accepted = seen(&[("0 12 1 * 1", "registered")]);
        assert!(matches!(
            judge("moto", Platform::Aws, c, &accepted),
            Cell::KnownGap { .. }
        ));
        // Another value in the same case on the same peer is not the listed gap.
        let other = judge(
            "moto",
            Platform::Aws,
            c,
            &seen(&[("0 12 1 * 1", "Internal")]),
        );
        assert_eq!(
            other,
            Cell::Differs("0 12 1 * 1: expected InvalidArgument, saw Internal".into())
        );
        let cell = judge("localstack", Platform::Aws, c, &accepted);
        assert!(cell.is_failure());
        assert_eq!(
            judge(
                "aws",
                Platform::Aws,
                c,
                &seen(&[("0 12 1 * 1", "InvalidArgument")])
            ),
            Cell::Pass
        );
        assert_eq!(
            judge("emulator-gcp", Platform::Gcp, c, &accepted),
            Cell::Pass,
            "unix cron takes both day fields"
        );
        assert!(
            judge(
                "aws",
                Platform::Aws,
                c,
                &Some(Err(CaseError::Failed("boom".into())))
            )
            .is_failure()
        );
    }

    #[test]
    fn a_case_outside_its_platforms_or_resources_is_not_applicable() {
        let c = case("queue-maximum-message-size");
        assert!(matches!(
            judge("emulator-gcp", Platform::Gcp, c, &None),
            Cell::NotApplicable(why) if why.contains("MaximumMessageSize is an SQS queue attribute")
        ));
        let missing = Some(Err(CaseError::NotCovered("no DynamoDB adapter".into())));
        assert_eq!(
            judge(
                "moto",
                Platform::Aws,
                case("kv-conditions-and-scan"),
                &missing
            ),
            Cell::NotApplicable("no DynamoDB adapter".into())
        );
    }

    #[test]
    fn skipped_and_not_applicable_cells_are_printed_and_do_not_fail() {
        let skipped = Cell::Skipped("no Docker engine (unix:///var/run/docker.sock: gone)".into());
        assert!(!skipped.is_failure());
        let report = Report {
            targets: vec!["emulator-aws".into(), "localstack-container".into()],
            rows: vec![CaseRow {
                case: "queue-roundtrip",
                cells: vec![Cell::Pass, skipped],
                observed: vec![Vec::new(), Vec::new()],
            }],
        };
        assert!(!report.failed());
        assert_eq!(report.thinly_covered(), vec!["queue-roundtrip"]);
        insta::assert_snapshot!(report.render());
    }
}
