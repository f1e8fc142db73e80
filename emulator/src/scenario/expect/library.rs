//! `holds` / `violates`: expectations over `alien chaos`'s invariant library, so a shrunk
//! failing run becomes a regression scenario `alien simulate` replays.

use super::Ctx;
use crate::chaos::invariants::{RunView, Severity, by_name};
use crate::scenario::format::Expectations;

impl Ctx<'_> {
    /// Each `holds` invariant has no violation, each `violates` invariant at least one; the
    /// run is judged as drained (its steps end with the drain `alien chaos` did).
    pub(super) fn library(&mut self, e: &Expectations) {
        if e.holds.is_empty() && e.violates.is_empty() {
            return;
        }
        let findings: Vec<(String, &'static str, String, u64)> = {
            let sim = &*self.sim;
            let view = RunView {
                trace: sim.trace().events(),
                profile: sim.profile(),
                stack: self.stack,
                faults: sim.fault_rates(),
                drained: true,
            };
            let trace = view.trace;
            let mut out = Vec::new();
            for name in e.holds.iter().chain(&e.violates) {
                let Some(invariant) = by_name(name) else {
                    continue;
                };
                for f in (invariant.check)(&view) {
                    if f.severity == Severity::Violation {
                        let seq = trace
                            .iter()
                            .find(|ev| ev.t_ms >= f.at_ms)
                            .map_or(0, |ev| ev.seq);
                        out.push((name.clone(), invariant.name, f.to_string(), seq));
                    }
                }
            }
            out
        };
        for (field, expect_violation) in [("holds", false), ("violates", true)] {
            let names = if expect_violation {
                &e.violates
            } else {
                &e.holds
            };
            for name in names {
                let mine: Vec<&(String, &str, String, u64)> =
                    findings.iter().filter(|(n, ..)| n == name).collect();
                let passed = mine.is_empty() != expect_violation;
                let detail = match mine.first() {
                    Some((_, _, text, _)) => format!("{} finding(s), first: {text}", mine.len()),
                    None => "no finding".to_string(),
                };
                let seq = mine.first().map(|(.., seq)| *seq);
                self.push(format!("{field}.{name}"), passed, detail, seq);
            }
        }
    }
}
