//! `compile`: a stack cron string, compiled the way one platform will treat it, and
//! `Schedule::next_after` over the result.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::calendar::{Calendar, Combine};
use super::error::CronError;
use super::to_eventbridge::crontab_to_eventbridge;
use super::{dapr, eventbridge, local, unix};

/// How a platform reads the stack's cron string (upstream-stack-and-limits.md §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CronDialect {
    /// GCP Cloud Scheduler: the raw string as unix-cron.
    UnixCron,
    /// AWS: `crontab_to_eventbridge`, then EventBridge rule semantics.
    EventBridge,
    /// Azure: Dapr `bindings.cron`, robfig/cron v3 with optional seconds and descriptors.
    Dapr,
    /// Local: the Rust `cron` crate 0.17, `"0 "` prepended to 5-field strings.
    CronCrate,
}

impl CronDialect {
    pub const ALL: [CronDialect; 4] = [
        CronDialect::UnixCron,
        CronDialect::EventBridge,
        CronDialect::Dapr,
        CronDialect::CronCrate,
    ];

    /// The platform and mechanism, for messages: e.g. "AWS (EventBridge)".
    pub fn platform_label(self) -> &'static str {
        match self {
            CronDialect::UnixCron => "GCP (Cloud Scheduler)",
            CronDialect::EventBridge => "AWS (EventBridge)",
            CronDialect::Dapr => "Azure (Dapr)",
            CronDialect::CronCrate => "Local (cron crate)",
        }
    }
}

#[derive(Debug)]
enum Kind {
    Calendar(Calendar),
    /// Fires at `anchor + k·period`, k ≥ 1 (EventBridge `rate()`, Dapr `@every`).
    Interval {
        anchor: DateTime<Utc>,
        period: TimeDelta,
    },
    Crate(cron::Schedule),
}

/// A compiled schedule; clones share the compiled form.
#[derive(Debug, Clone)]
pub struct Schedule {
    dialect: CronDialect,
    text: Arc<str>,
    kind: Arc<Kind>,
}

/// Compiles `expr` the way `dialect`'s platform will treat it. `anchor` is when the
/// rule / binding is created: `rate()` and `@every` count from it.
pub fn compile(
    expr: &str,
    dialect: CronDialect,
    anchor: DateTime<Utc>,
) -> Result<Schedule, CronError> {
    let err = |message: String| CronError::new(expr, message);
    let (text, kind) = match dialect {
        CronDialect::UnixCron => (
            expr.trim().to_string(),
            Kind::Calendar(unix::parse(expr).map_err(err)?),
        ),
        CronDialect::EventBridge => {
            let converted = crontab_to_eventbridge(expr)?;
            let kind = match eventbridge::parse(&converted).map_err(err)? {
                eventbridge::Expression::Cron(c) => Kind::Calendar(c),
                eventbridge::Expression::Rate(period) => Kind::Interval { anchor, period },
            };
            (converted, kind)
        }
        CronDialect::Dapr => {
            let kind = match dapr::parse(expr).map_err(err)? {
                dapr::Expression::Cron(c) => Kind::Calendar(c),
                dapr::Expression::Every(period) => Kind::Interval { anchor, period },
            };
            (expr.to_string(), kind)
        }
        CronDialect::CronCrate => {
            let (source, schedule) = local::parse(expr).map_err(err)?;
            (source, Kind::Crate(schedule))
        }
    };
    Ok(Schedule {
        dialect,
        text: text.into(),
        kind: Arc::new(kind),
    })
}

/// The first `anchor + k·period` (k ≥ 1) strictly after `t`.
fn next_interval(
    anchor: DateTime<Utc>,
    period: TimeDelta,
    t: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let period_ns =
        i128::from(period.num_seconds()) * 1_000_000_000 + i128::from(period.subsec_nanos());
    let elapsed = t.signed_duration_since(anchor);
    let elapsed_ns =
        i128::from(elapsed.num_seconds()) * 1_000_000_000 + i128::from(elapsed.subsec_nanos());
    let k = (elapsed_ns.div_euclid(period_ns) + 1).max(1);
    let offset_ns = k.checked_mul(period_ns)?;
    let secs = i64::try_from(offset_ns.div_euclid(1_000_000_000)).ok()?;
    let nanos = u32::try_from(offset_ns.rem_euclid(1_000_000_000)).ok()?;
    anchor.checked_add_signed(TimeDelta::new(secs, nanos)?)
}

impl Schedule {
    /// The first fire strictly after `t`, or `None` if the schedule never fires again (or,
    /// for Dapr, not within robfig's five-year search).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &*self.kind {
            Kind::Calendar(c) => c.next_after(t),
            Kind::Interval { anchor, period } => next_interval(*anchor, *period, t),
            Kind::Crate(s) => s.after(&t).next(),
        }
    }

    /// What the platform is given: `rate(5 minutes)` / `cron(0 12 * * ? *)` on AWS, the
    /// crate's input (`0 30 2 * * *`) on Local, the expression itself elsewhere.
    pub fn describe(&self) -> String {
        self.text.to_string()
    }

    pub fn dialect(&self) -> CronDialect {
        self.dialect
    }

    /// True for `rate()` / `@every` schedules, which count from the anchor rather than the clock.
    pub fn is_interval(&self) -> bool {
        matches!(*self.kind, Kind::Interval { .. })
    }

    /// How day-of-month and day-of-week combine, when both are in play.
    pub(crate) fn day_combine(&self) -> Option<Combine> {
        match &*self.kind {
            Kind::Calendar(c) => Some(c.combine),
            // Pinned in local.rs: the cron crate always ANDs the day fields.
            Kind::Crate(_) => Some(Combine::And),
            Kind::Interval { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    const ANCHOR: (i32, u32, u32, u32, u32, u32) = (2024, 1, 1, 10, 3, 17);

    fn anchor() -> DateTime<Utc> {
        let (y, mo, d, h, mi, s) = ANCHOR;
        at(y, mo, d, h, mi, s)
    }

    /// §4.2 (b): `rate()` fires relative to rule creation, not on clock boundaries.
    #[test]
    fn eventbridge_rate_counts_from_anchor() {
        let s = compile("*/7 * * * *", CronDialect::EventBridge, anchor()).unwrap();
        assert_eq!(s.describe(), "rate(7 minutes)");
        assert!(s.is_interval());
        assert_eq!(
            s.next_after(at(2023, 1, 1, 0, 0, 0)),
            Some(at(2024, 1, 1, 10, 10, 17))
        );
        assert_eq!(s.next_after(anchor()), Some(at(2024, 1, 1, 10, 10, 17)));
        assert_eq!(
            s.next_after(at(2024, 1, 1, 10, 10, 17)),
            Some(at(2024, 1, 1, 10, 17, 17))
        );
        assert_eq!(
            s.next_after(at(2024, 1, 1, 10, 17, 16)),
            Some(at(2024, 1, 1, 10, 17, 17))
        );
        let daily = compile("0 0 * * *", CronDialect::EventBridge, anchor()).unwrap();
        assert_eq!(daily.describe(), "rate(1 day)");
        assert_eq!(daily.next_after(anchor()), Some(at(2024, 1, 2, 10, 3, 17)));
    }

    /// §4.2 (c): the plural `rate(1 minutes)` fails to compile on AWS.
    #[test]
    fn eventbridge_plural_rate_rejected() {
        let e = compile("*/1 * * * *", CronDialect::EventBridge, anchor()).unwrap_err();
        assert_eq!(e.expr, "*/1 * * * *");
        assert!(e.message.contains("rate(1 minutes)"), "{e}");
    }

    /// §4.2: conversion errors surface with upstream's text as the message.
    #[test]
    fn eventbridge_conversion_error_text() {
        let e = compile("60 * * * *", CronDialect::EventBridge, anchor()).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid value 60 in minute field of crontab expression"
        );
        let both = compile("0 0 1 * 1", CronDialect::EventBridge, anchor()).unwrap_err();
        assert_eq!(
            both.message,
            "EventBridge requires '?' in day-of-month or day-of-week"
        );
        let zero = compile("0 0 * * 0", CronDialect::EventBridge, anchor()).unwrap_err();
        assert!(zero.message.contains("1-7"), "{zero}");
    }

    /// §4.3 Local: error text "Invalid cron expression '{expr}': {reason}".
    #[test]
    fn local_error_text_and_describe() {
        let e = compile("0 0 * * 0", CronDialect::CronCrate, anchor()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Invalid cron expression '0 0 * * 0': "),
            "{e}"
        );
        let s = compile("30 2 * * *", CronDialect::CronCrate, anchor()).unwrap();
        assert_eq!(s.describe(), "0 30 2 * * *");
        assert_eq!(s.dialect(), CronDialect::CronCrate);
        assert_eq!(s.next_after(anchor()), Some(at(2024, 1, 2, 2, 30, 0)));
    }

    /// One string, four platforms: `0 18 * * 5` is Friday on GCP/Azure, Thursday on AWS/Local.
    #[test]
    fn same_string_all_dialects() {
        let sat = at(2024, 1, 6, 0, 0, 0);
        let fire = |d| {
            compile("0 18 * * 5", d, anchor())
                .unwrap()
                .next_after(sat)
                .unwrap()
        };
        assert_eq!(fire(CronDialect::UnixCron), at(2024, 1, 12, 18, 0, 0));
        assert_eq!(fire(CronDialect::Dapr), at(2024, 1, 12, 18, 0, 0));
        assert_eq!(fire(CronDialect::EventBridge), at(2024, 1, 11, 18, 0, 0));
        assert_eq!(fire(CronDialect::CronCrate), at(2024, 1, 11, 18, 0, 0));
        let eb = compile("0 18 * * 5", CronDialect::EventBridge, anchor()).unwrap();
        assert_eq!(eb.describe(), "cron(0 18 ? * 5 *)");
        assert_eq!(
            compile(" 0 18 * * 5 ", CronDialect::UnixCron, anchor())
                .unwrap()
                .describe(),
            "0 18 * * 5"
        );
    }

    /// Profiles serialize the dialect (profile/model.rs `CronProfile`): camelCase names.
    #[test]
    fn dialect_serializes_camel_case() {
        let names: Vec<String> = CronDialect::ALL
            .iter()
            .map(|d| serde_json::to_string(d).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "\"unixCron\"",
                "\"eventBridge\"",
                "\"dapr\"",
                "\"cronCrate\""
            ]
        );
    }

    /// Dapr `@every` counts from the anchor like `rate()`.
    #[test]
    fn dapr_every_counts_from_anchor() {
        let s = compile("@every 1h30m", CronDialect::Dapr, anchor()).unwrap();
        assert_eq!(s.describe(), "@every 1h30m");
        assert_eq!(s.next_after(anchor()), Some(at(2024, 1, 1, 11, 33, 17)));
        assert_eq!(
            s.next_after(at(2024, 1, 1, 11, 33, 17)),
            Some(at(2024, 1, 1, 13, 3, 17))
        );
    }

    /// A 1-minute cron over a simulated month, and yearly schedules, stay cheap.
    #[test]
    fn month_of_minutes_is_fast_enough() {
        for d in [CronDialect::UnixCron, CronDialect::Dapr] {
            let s = compile("* * * * *", d, anchor()).unwrap();
            let (mut t, end, mut n) = (at(2024, 2, 1, 0, 0, 0), at(2024, 3, 1, 0, 0, 0), 0);
            while let Some(x) = s.next_after(t).filter(|x| *x <= end) {
                t = x;
                n += 1;
            }
            assert_eq!(n, 29 * 24 * 60, "{d:?}");
        }
        let yearly = compile("0 0 29 2 *", CronDialect::UnixCron, anchor()).unwrap();
        assert_eq!(
            yearly.next_after(at(2096, 3, 1, 0, 0, 0)),
            Some(at(2104, 2, 29, 0, 0, 0))
        );
    }
}
