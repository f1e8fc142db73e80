//! The conformance table: case × target, each cell `pass`, `fail` (the case could not run),
//! `differs` (an observation is not the fact the case cites), `known gap` (a difference
//! listed below with its reason) or `skipped` (the target could not be brought up here, e.g.
//! no Docker engine for LocalStack in a container). Only an unlisted difference or failure
//! fails the run; a skip never passes silently: its reason is always printed.

use std::fmt::Write as _;

use super::{Case, Observation};

/// A documented difference of a peer from AWS, with its reason.
#[derive(Debug)]
pub struct KnownGap {
    pub target: &'static str,
    pub case: &'static str,
    pub reason: &'static str,
}

/// Peer gaps measured on this kind of machine (issue 6; scripts/peers/README.md).
pub const KNOWN_GAPS: &[KnownGap] = &[
    KnownGap {
        target: "moto",
        case: "schedule-both-day-fields",
        reason: "moto accepts any ScheduleExpression without validating it (issue 6: \"invalid cron accepted\")",
    },
    KnownGap {
        target: "moto",
        case: "storage-notification-to-queue",
        reason: "moto percent-encodes '/' in a notification's object key (in%2Fa.txt); LocalStack sends in/a.txt. The S3 docs say keys are URL-encoded (\"red flower.jpg\" becomes \"red+flower.jpg\") and say nothing of '/'; upstream passes the key on undecoded, so an app on moto sees in%2Fa.txt",
    },
];

/// One cell of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Pass,
    /// The case could not run: the error.
    Fail(String),
    /// Which observation differs, expected and seen.
    Differs(String),
    /// A listed gap: the difference and its reason.
    KnownGap {
        how: String,
        reason: String,
    },
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
            Cell::Skipped(_) => "skipped",
        }
    }

    /// Whether this cell fails the run.
    pub fn is_failure(&self) -> bool {
        matches!(self, Cell::Fail(_) | Cell::Differs(_))
    }
}

/// A case's row: one cell per target, in target order.
#[derive(Debug, Clone)]
pub struct CaseRow {
    pub case: &'static str,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub targets: Vec<String>,
    pub rows: Vec<CaseRow>,
}

/// Compares a case's observations with its facts.
pub fn judge(target: &str, case: &Case, observed: &Result<Vec<Observation>, String>) -> Cell {
    let how = match observed {
        Err(e) => return Cell::Fail(e.clone()),
        Ok(observed) => case.expected.iter().find_map(|(what, want)| {
            let seen = observed
                .iter()
                .find(|o| o.what == *what)
                .map_or("(not observed)", |o| o.value.as_str());
            (seen != *want).then(|| format!("{what}: expected {want}, saw {seen}"))
        }),
    };
    let Some(how) = how else {
        return Cell::Pass;
    };
    match KNOWN_GAPS
        .iter()
        .find(|g| g.target == target && g.case == case.name)
    {
        Some(gap) => Cell::KnownGap {
            how,
            reason: gap.reason.to_string(),
        },
        None => Cell::Differs(how),
    }
}

impl Report {
    pub fn failed(&self) -> bool {
        self.rows
            .iter()
            .flat_map(|r| &r.cells)
            .any(Cell::is_failure)
    }

    /// The table, then one line per non-pass cell saying how.
    pub fn render(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|r| r.case.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut header = format!("{:<width$}", "CASE");
        for t in &self.targets {
            let _ = write!(header, "  {t:<12}");
        }
        let mut out = format!("{}\n", header.trim_end());
        for row in &self.rows {
            let mut line = format!("{:<width$}", row.case);
            for cell in &row.cells {
                let _ = write!(line, "  {:<12}", cell.short());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for row in &self.rows {
            for (target, cell) in self.targets.iter().zip(&row.cells) {
                let line = match cell {
                    Cell::Pass => continue,
                    Cell::Fail(e) => format!("failed: {e}"),
                    Cell::Differs(how) => format!("differs: {how}"),
                    Cell::KnownGap { how, reason } => format!("known gap: {how} — {reason}"),
                    Cell::Skipped(reason) => format!("skipped: {reason}"),
                };
                let _ = writeln!(out, "{} on {target}: {line}", row.case);
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

    fn seen(pairs: &[(&str, &str)]) -> Result<Vec<Observation>, String> {
        Ok(pairs
            .iter()
            .map(|(w, v)| Observation {
                what: w.to_string(),
                value: v.to_string(),
            })
            .collect())
    }

    #[test]
    fn a_listed_gap_is_not_a_failure_and_an_unlisted_difference_is() {
        let c = case("schedule-both-day-fields");
        let accepted = seen(&[("0 12 1 * 1", "registered")]);
        assert!(matches!(judge("moto", c, &accepted), Cell::KnownGap { .. }));
        let cell = judge("localstack", c, &accepted);
        assert_eq!(
            cell,
            Cell::Differs("0 12 1 * 1: expected InvalidArgument, saw registered".into())
        );
        assert!(cell.is_failure());
        assert_eq!(
            judge("aws", c, &seen(&[("0 12 1 * 1", "InvalidArgument")])),
            Cell::Pass
        );
        assert!(judge("aws", c, &Err("boom".into())).is_failure());
    }

    #[test]
    fn a_skipped_cell_is_printed_with_its_reason_and_is_not_a_failure() {
        let skipped = Cell::Skipped("no Docker engine (unix:///var/run/docker.sock: gone)".into());
        assert!(!skipped.is_failure());
        let report = Report {
            targets: vec!["emulator".into(), "localstack-container".into()],
            rows: vec![CaseRow {
                case: "queue-roundtrip",
                cells: vec![Cell::Pass, skipped],
            }],
        };
        assert!(!report.failed());
        assert_eq!(
            report.render(),
            "CASE             emulator      localstack-container\n\
             queue-roundtrip  pass          skipped\n\
             queue-roundtrip on localstack-container: skipped: no Docker engine \
             (unix:///var/run/docker.sock: gone)\n"
        );
    }
}
