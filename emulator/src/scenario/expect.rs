//! Checking a scenario's expectations against a finished simulation. Each expectation becomes
//! one [`Check`]: what was expected, whether it held, what was seen, and the trace position
//! that explains it (for the excerpt printed on failure).

use serde::Serialize;

use super::format::{Expectations, TraceMatcher};
use super::parse::Scenario;
use super::run::StepRecord;
use crate::engine::duration_serde::{format_duration, parse_duration};
use crate::engine::{Kind, Sim, TraceEvent, render_line};
use crate::platform::Platform;

/// One expectation and its result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// `expect.aws.count.jobs.delivered = 3`.
    pub expectation: String,
    pub passed: bool,
    /// What was seen.
    pub detail: String,
    /// Trace position that explains the result, if one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// Checks every expectation that applies on `platform`.
pub fn evaluate(
    scenario: &Scenario,
    platform: Platform,
    sim: &mut Sim,
    steps: &[StepRecord],
) -> Vec<Check> {
    let mut checks = Vec::new();
    for (key, e) in scenario.expectations_for(platform) {
        let mut ctx = Ctx {
            prefix: format!("expect.{key}"),
            stack: &scenario.stack,
            sim: &mut *sim,
            steps,
            checks: &mut checks,
        };
        ctx.all(e);
    }
    checks.extend(evaluate_invariants(scenario, sim, steps));
    checks
}

/// Checks the scenario's `[invariants]` table (what must hold on every platform and under
/// every fault plan).
pub fn evaluate_invariants(scenario: &Scenario, sim: &mut Sim, steps: &[StepRecord]) -> Vec<Check> {
    let mut checks = Vec::new();
    if let Some(e) = &scenario.spec.invariants {
        let mut ctx = Ctx {
            prefix: "invariants".into(),
            stack: &scenario.stack,
            sim,
            steps,
            checks: &mut checks,
        };
        ctx.all(e);
    }
    checks
}

mod library;

struct Ctx<'a> {
    prefix: String,
    stack: &'a crate::stack::Stack,
    sim: &'a mut Sim,
    steps: &'a [StepRecord],
    checks: &'a mut Vec<Check>,
}

impl Ctx<'_> {
    fn push(&mut self, what: String, passed: bool, detail: String, seq: Option<u64>) {
        self.checks.push(Check {
            expectation: format!("{}.{what}", self.prefix),
            passed,
            detail,
            seq,
        });
    }

    fn step(&self, label: &str) -> Option<&StepRecord> {
        self.steps
            .iter()
            .find(|s| s.label.as_deref() == Some(label))
    }

    fn events(&self) -> &[TraceEvent] {
        self.sim.trace().events()
    }

    fn all(&mut self, e: &Expectations) {
        self.counts(e);
        self.deliveries(e);
        self.dead_letters(e);
        self.http(e);
        self.commands(e);
        self.daemons(e);
        self.step_outcomes(e);
        self.queues(e);
        self.trace_matchers(e);
        self.kv(e);
        self.library(e);
    }

    fn counts(&mut self, e: &Expectations) {
        for (table, counts, exact) in [("count", &e.count, true), ("at_least", &e.at_least, false)]
        {
            for (resource, kinds) in counts {
                for (name, &expected) in kinds {
                    let Some(kind) = Kind::from_name(name) else {
                        continue;
                    };
                    let matching: Vec<&TraceEvent> = self
                        .events()
                        .iter()
                        .filter(|ev| {
                            ev.kind == kind && (resource == "*" || &ev.resource == resource)
                        })
                        .collect();
                    let got = matching.len();
                    let passed = if exact {
                        got == expected
                    } else {
                        got >= expected
                    };
                    // The first event past the expected count, else the last one seen.
                    let seq = matching.get(expected).or(matching.last()).map(|ev| ev.seq);
                    let op = if exact { "=" } else { ">=" };
                    self.push(
                        format!("{table}.{resource}.{name} {op} {expected}"),
                        passed,
                        format!("got {got}"),
                        seq,
                    );
                }
            }
        }
    }

    fn deliveries(&mut self, e: &Expectations) {
        for (label, offsets) in &e.deliveries {
            let Some(step) = self.step(label).cloned() else {
                continue;
            };
            let expected: Vec<i64> = offsets
                .iter()
                .filter_map(|o| parse_duration(o).ok())
                .map(|d| d.as_millis() as i64)
                .collect();
            let seen: Vec<&TraceEvent> = self
                .events()
                .iter()
                .filter(|ev| {
                    ev.kind == Kind::Delivered
                        && ev.subject.as_ref().is_some_and(|s| step.ids.contains(s))
                })
                .collect();
            let got: Vec<i64> = seen.iter().map(|ev| ev.t_ms).collect();
            let first_diff = expected
                .iter()
                .zip(&got)
                .position(|(a, b)| a != b)
                .unwrap_or(expected.len().min(got.len()));
            let seq = seen.get(first_diff).or(seen.last()).map(|ev| ev.seq);
            let show = |ms: &[i64]| {
                ms.iter()
                    .map(|m| format_duration(std::time::Duration::from_millis(*m as u64)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            self.push(
                format!("deliveries.{label} = [{}]", offsets.join(", ")),
                got == expected,
                format!("delivered at [{}]", show(&got)),
                seq,
            );
        }
    }

    fn dead_letters(&mut self, e: &Expectations) {
        for (queue, dl) in &e.dead_letters {
            let expected: Vec<String> = dl
                .messages
                .iter()
                .filter_map(|l| self.step(l))
                .flat_map(|s| s.ids.clone())
                .collect();
            let letters = self
                .sim
                .dead_letters(queue)
                .map(<[_]>::to_vec)
                .unwrap_or_default();
            let got: Vec<String> = letters.iter().map(|d| d.id.clone()).collect();
            let counts: Vec<String> = letters
                .iter()
                .map(|d| d.receive_count.to_string())
                .collect();
            let counts_ok = dl
                .deliveries
                .is_none_or(|n| letters.iter().all(|d| d.receive_count == n));
            let seq = self.last_event(Kind::DeadLettered, queue);
            let what = match dl.deliveries {
                Some(n) => format!(
                    "dead_letters.{queue} = [{}] after {n} deliveries",
                    dl.messages.join(", ")
                ),
                None => format!("dead_letters.{queue} = [{}]", dl.messages.join(", ")),
            };
            let detail = format!(
                "dead letters [{}] with receive counts [{}]",
                got.join(", "),
                counts.join(", ")
            );
            self.push(what, got == expected && counts_ok, detail, seq);
        }
    }

    fn http(&mut self, e: &Expectations) {
        for (label, &expected) in &e.http {
            let Some(id) = self.step(label).and_then(|s| s.ids.first()).cloned() else {
                self.push(
                    format!("http.{label} = {expected}"),
                    false,
                    "the request was not sent".into(),
                    None,
                );
                continue;
            };
            let result = self.sim.http_result(&id).cloned();
            let seq = self
                .events()
                .iter()
                .rev()
                .find(|ev| ev.kind == Kind::HttpResponse && ev.subject.as_deref() == Some(&id))
                .map(|ev| ev.seq);
            let (passed, detail) = match result {
                Some(r) => (
                    r.status == expected,
                    format!("status {} ({})", r.status, r.reason),
                ),
                None => (false, "no response yet".into()),
            };
            self.push(format!("http.{label} = {expected}"), passed, detail, seq);
        }
    }

    fn commands(&mut self, e: &Expectations) {
        for (label, expected) in &e.commands {
            let status = self
                .step(label)
                .and_then(|s| s.ids.first())
                .and_then(|id| self.sim.command_status(id));
            let what = format!("commands.{label}.state = {}", expected.state);
            let Some(status) = status else {
                self.push(what, false, "the command was not created".into(), None);
                continue;
            };
            let state = enum_name(&status.state);
            let passed = state == expected.state
                && expected.attempt.is_none_or(|a| a == status.attempt)
                && expected
                    .error_code
                    .as_ref()
                    .is_none_or(|c| Some(c) == status.error_code.as_ref());
            let seq = self
                .events()
                .iter()
                .rev()
                .find(|ev| ev.subject.as_deref() == Some(&status.command_id))
                .map(|ev| ev.seq);
            let detail = format!(
                "state {state}, attempt {}, error code {}",
                status.attempt,
                status.error_code.as_deref().unwrap_or("none")
            );
            let mut what = what;
            if let Some(a) = expected.attempt {
                what.push_str(&format!(", attempt {a}"));
            }
            if let Some(c) = &expected.error_code {
                what.push_str(&format!(", error code {c}"));
            }
            self.push(what, passed, detail, seq);
        }
    }

    fn daemons(&mut self, e: &Expectations) {
        for (daemon, expected) in &e.daemons {
            let Ok(status) = self.sim.daemon_status(daemon) else {
                continue;
            };
            let state = enum_name(&status.state);
            let seq = self
                .events()
                .iter()
                .rev()
                .find(|ev| &ev.resource == daemon)
                .map(|ev| ev.seq);
            let detail = format!(
                "state {state}, running {}, restarts {}",
                status.running, status.restarts
            );
            if let Some(s) = &expected.state {
                self.push(
                    format!("daemons.{daemon}.state = {s}"),
                    &state == s,
                    detail.clone(),
                    seq,
                );
            }
            if let Some(r) = expected.running {
                self.push(
                    format!("daemons.{daemon}.running = {r}"),
                    status.running == r,
                    detail.clone(),
                    seq,
                );
            }
            if let Some(n) = expected.restarts {
                self.push(
                    format!("daemons.{daemon}.restarts = {n}"),
                    status.restarts == n,
                    detail.clone(),
                    seq,
                );
            }
        }
    }

    fn step_outcomes(&mut self, e: &Expectations) {
        for (label, expected) in &e.steps {
            let Some(step) = self.step(label).cloned() else {
                continue;
            };
            let detail = match &step.error {
                Some(err) => format!("{} ({err})", step.outcome),
                None => step.outcome.clone(),
            };
            let seq = self
                .events()
                .iter()
                .rfind(|ev| ev.t_ms <= step.t_ms)
                .map(|ev| ev.seq);
            self.push(
                format!("steps.{label} = {expected}"),
                &step.outcome == expected,
                detail,
                seq,
            );
        }
    }

    fn queues(&mut self, e: &Expectations) {
        for (queue, expected) in &e.queues {
            let Ok(stats) = self.sim.queue_stats(queue) else {
                continue;
            };
            let detail = format!(
                "visible {}, in flight {}, dead-lettered {}",
                stats.visible, stats.in_flight, stats.dead_lettered
            );
            for (name, want, got) in [
                ("visible", expected.visible, stats.visible),
                ("in_flight", expected.in_flight, stats.in_flight),
                ("dead_lettered", expected.dead_lettered, stats.dead_lettered),
            ] {
                if let Some(want) = want {
                    self.push(
                        format!("queues.{queue}.{name} = {want}"),
                        want == got,
                        detail.clone(),
                        None,
                    );
                }
            }
        }
    }

    fn trace_matchers(&mut self, e: &Expectations) {
        for (name, list, want) in [
            ("trace_contains", &e.trace_contains, true),
            ("trace_not_contains", &e.trace_not_contains, false),
        ] {
            for matcher in list {
                let found = self
                    .events()
                    .iter()
                    .find(|ev| matches(matcher, ev))
                    .map(|ev| (ev.seq, render_line(ev)));
                let detail = match &found {
                    Some((_, line)) => format!("found: {line}"),
                    None => "no such event".into(),
                };
                let seq = found.as_ref().map(|(s, _)| *s);
                self.push(
                    format!("{name} {}", describe(matcher)),
                    found.is_some() == want,
                    detail,
                    seq,
                );
            }
        }
    }

    fn kv(&mut self, e: &Expectations) {
        for (store, keys) in &e.kv {
            for (key, expected) in keys {
                let got = self
                    .sim
                    .kv_get(store, key)
                    .ok()
                    .flatten()
                    .map(|v| String::from_utf8_lossy(&v.value).into_owned());
                let detail = got.clone().unwrap_or_else(|| "absent".into());
                self.push(
                    format!("kv.{store}.{key} = {expected:?}"),
                    got.as_ref() == Some(expected),
                    detail,
                    None,
                );
            }
        }
        for (store, keys) in &e.kv_absent {
            for key in keys {
                let got = self
                    .sim
                    .kv_get(store, key)
                    .ok()
                    .flatten()
                    .map(|v| String::from_utf8_lossy(&v.value).into_owned());
                let detail = got
                    .clone()
                    .map_or_else(|| "absent".into(), |v| format!("present: {v:?}"));
                self.push(
                    format!("kv_absent.{store}.{key}"),
                    got.is_none(),
                    detail,
                    None,
                );
            }
        }
    }

    fn last_event(&self, kind: Kind, resource: &str) -> Option<u64> {
        self.events()
            .iter()
            .rev()
            .find(|ev| ev.kind == kind && ev.resource == resource)
            .map(|ev| ev.seq)
    }
}

fn matches(matcher: &TraceMatcher, ev: &TraceEvent) -> bool {
    match matcher {
        TraceMatcher::Text(text) => render_line(ev).contains(text.as_str()),
        TraceMatcher::Event(m) => {
            Kind::from_name(&m.kind) == Some(ev.kind)
                && m.resource.as_ref().is_none_or(|r| r == &ev.resource)
                && m.contains
                    .as_ref()
                    .is_none_or(|c| render_line(ev).contains(c.as_str()))
        }
    }
}

fn describe(matcher: &TraceMatcher) -> String {
    match matcher {
        TraceMatcher::Text(text) => format!("{text:?}"),
        TraceMatcher::Event(m) => {
            let mut out = m.kind.clone();
            if let Some(r) = &m.resource {
                out.push_str(&format!(" on {r}"));
            }
            if let Some(c) = &m.contains {
                out.push_str(&format!(" containing {c:?}"));
            }
            out
        }
    }
}

/// The serde name of a unit enum value (`EXPIRED`, `gave_up`).
fn enum_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
