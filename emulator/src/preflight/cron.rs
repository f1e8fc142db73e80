//! Schedule triggers: valid in the platform's dialect, plus portability warnings.

use chrono::{TimeZone, Utc};

use super::{Ctx, Diagnostic};
use crate::stack::WorkerTrigger;

pub fn schedules(ctx: &Ctx) -> Vec<Diagnostic> {
    let cron = &ctx.profile.cron;
    let anchor = Utc.from_utc_datetime(
        &ctx.profile
            .as_of
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists"),
    );
    let mut out = Vec::new();
    for (id, worker) in ctx.stack.workers() {
        for trigger in &worker.triggers {
            let WorkerTrigger::Schedule { cron: expr } = trigger else {
                continue;
            };
            if let Err(err) = crate::cron::compile(expr, cron.dialect.value, anchor) {
                out.push(Diagnostic::error(
                    cron.invalid_code.value,
                    "ScheduleTriggerCheck",
                    Some(id),
                    format!("Worker '{id}': {err}"),
                    cron.dialect.source,
                ));
            }
            for warning in crate::cron::portability_warnings(expr) {
                out.push(Diagnostic::warning(
                    warning.code,
                    "CronPortabilityCheck",
                    Some(id),
                    format!("Worker '{id}': schedule '{expr}': {}", warning.message),
                    "upstream-stack-and-limits.md §4.2-§4.3",
                ));
            }
        }
    }
    out
}
