//! Portability warnings: where one stack cron string behaves differently on AWS, GCP, Azure
//! and Local. Every message is computed by compiling the string (or a probe built from it)
//! in each dialect and comparing fires, so it names the actual days and times.
//! Sources: upstream-stack-and-limits.md §4.2 (a)–(f) and §4.3; upstream-cloud-semantics.md
//! §6 and §13 item 9.

use chrono::{DateTime, Datelike, TimeZone, Utc, Weekday};

use super::calendar::Combine;
use super::schedule::{CronDialect, Schedule, compile};
use super::to_eventbridge::crontab_to_eventbridge;

/// One portability problem. `code` is stable; `message` is for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronWarning {
    pub code: &'static str,
    pub message: String,
}

/// The order platforms are named in messages: the unix-like ones first.
const ORDER: [CronDialect; 4] = [
    CronDialect::UnixCron,
    CronDialect::Dapr,
    CronDialect::EventBridge,
    CronDialect::CronCrate,
];

/// A Sunday midnight: the start of the probe week and of six-field comparisons.
fn probe_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 7, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A sample deploy time for `rate()` comparisons (a Monday in a 31-day month).
fn sample_deploy() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 10, 3, 17)
        .single()
        .unwrap_or_default()
}

/// The cron crate's errors echo the input with a caret line; keep only the explanation.
fn reason(message: &str) -> String {
    message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message)
        .trim()
        .to_string()
}

fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn platforms(ds: &[CronDialect]) -> String {
    join(
        &ds.iter()
            .map(|d| d.platform_label().to_string())
            .collect::<Vec<_>>(),
    )
}

/// Up to `n` fires strictly after `t`.
fn fires(s: &Schedule, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    std::iter::successors(s.next_after(t), |x| s.next_after(*x))
        .take(n)
        .collect()
}

/// Groups dialects by an outcome, keeping `ORDER`.
fn group<T: PartialEq>(outcomes: Vec<(CronDialect, T)>) -> Vec<(T, Vec<CronDialect>)> {
    let mut groups: Vec<(T, Vec<CronDialect>)> = Vec::new();
    for (d, o) in outcomes {
        match groups.iter_mut().find(|(g, _)| *g == o) {
            Some((_, ds)) => ds.push(d),
            None => groups.push((o, vec![d])),
        }
    }
    groups
}

/// Weekdays a day-of-week field selects in each dialect, from the probe `0 0 * * {dow}`
/// fired over one week. `Err` carries the dialect's rejection.
fn weekdays_per_dialect(dow: &str) -> Vec<(CronDialect, Result<Vec<Weekday>, String>)> {
    let probe = format!("0 0 * * {dow}");
    let start = probe_start() - chrono::TimeDelta::seconds(1);
    ORDER
        .iter()
        .map(|&d| {
            let days = compile(&probe, d, start).map(|s| {
                let week_end = start + chrono::TimeDelta::days(7);
                fires(&s, start, 8)
                    .into_iter()
                    .filter(|t| *t < week_end)
                    .map(|t| t.weekday())
                    .collect()
            });
            (d, days.map_err(|e| reason(&e.message)))
        })
        .collect()
}

fn day_names(days: &[Weekday]) -> String {
    const NAMES: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    if days.len() == 7 {
        return "every day".into();
    }
    join(
        &days
            .iter()
            .map(|d| NAMES[d.num_days_from_monday() as usize].to_string())
            .collect::<Vec<_>>(),
    )
}

fn numeric_weekday(dow: &str) -> Option<CronWarning> {
    if !dow.contains(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let groups = group(weekdays_per_dialect(dow));
    if groups.iter().filter(|(o, _)| o.is_ok()).count() < 2 {
        return None;
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(o, ds)| match o {
            Ok(days) => format!("{} on {}", day_names(days), platforms(ds)),
            Err(_) => format!("rejected on {}", platforms(ds)),
        })
        .collect();
    Some(CronWarning {
        code: "numeric-weekday",
        message: format!(
            "day-of-week '{dow}' fires on different days per platform: {}. Unix-cron and Dapr count 0 = Sunday, \
             EventBridge and the cron crate count 1 = Sunday, and Alien does not renumber; use day names (SUN-SAT)",
            parts.join("; ")
        ),
    })
}

fn weekday_zero(dow: &str) -> Option<CronWarning> {
    let has_zero = dow.split(',').any(|item| {
        let base = item.split(['/', '#']).next().unwrap_or("");
        base.split('-').any(|tok| tok.parse::<u32>() == Ok(0))
    });
    if !has_zero {
        return None;
    }
    let outcomes = weekdays_per_dialect(dow);
    let rejected: Vec<String> = outcomes
        .iter()
        .filter_map(|(d, o)| {
            o.as_ref()
                .err()
                .map(|e| format!("{} ({e})", d.platform_label()))
        })
        .collect();
    let sunday: Vec<CronDialect> = outcomes
        .iter()
        .filter(|(_, o)| o.as_ref().is_ok_and(|days| days.contains(&Weekday::Sun)))
        .map(|(d, _)| *d)
        .collect();
    if rejected.is_empty() {
        return None;
    }
    Some(CronWarning {
        code: "weekday-zero",
        message: format!(
            "day-of-week 0 is Sunday on {}, but is rejected by {}; write SUN",
            platforms(&sunday),
            join(&rejected)
        ),
    })
}

/// A unit's natural clock window and how to print a fire in it.
fn rate_window(unit: &str) -> (chrono::TimeDelta, &'static str) {
    match unit.trim_end_matches('s') {
        "minute" => (chrono::TimeDelta::hours(1), ":%M"),
        "hour" => (chrono::TimeDelta::days(1), "%H:%M"),
        _ => (chrono::TimeDelta::days(31), "day %-d"),
    }
}

fn abbreviate(marks: &[String]) -> String {
    match marks {
        [a, b, .., y, z] if marks.len() > 5 => format!("{a}, {b}, …, {y}, {z}"),
        _ => marks.join(", "),
    }
}

fn rate_drift(expr: &str, rate: &str) -> Option<CronWarning> {
    let deploy = sample_deploy();
    let aws = compile(expr, CronDialect::EventBridge, deploy).ok()?;
    let unix = compile(expr, CronDialect::UnixCron, deploy).ok()?;
    let inner = rate.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.split_once(' ')?;
    let fmt = |ts: Vec<DateTime<Utc>>, f: &str| {
        ts.iter()
            .map(|t| t.format(f).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let full = "%b %-d %H:%M:%S";
    let mut message = format!(
        "AWS turns '{expr}' into {rate}, which counts from when the EventBridge rule is created (deploy time), \
         not from clock boundaries: deployed at {} UTC, AWS fires at {}, …, while GCP, Azure and Local fire at {}, … UTC",
        deploy.format(full),
        fmt(fires(&aws, deploy, 3), full),
        fmt(fires(&unix, deploy, 3), full),
    );
    // Elsewhere the step restarts every hour / day / month; say so when that is uneven.
    let (window, mark) = rate_window(unit);
    let w0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single()?;
    let before = w0 - chrono::TimeDelta::seconds(1);
    let in_window: Vec<DateTime<Utc>> =
        std::iter::successors(unix.next_after(before), |x| unix.next_after(*x))
            .take_while(|t| *t < w0 + window)
            .collect();
    let last = *in_window.last()?;
    let wrap = unix.next_after(last)?;
    let step = aws.next_after(deploy)? - deploy;
    if wrap - last != step {
        let marks: Vec<String> = in_window
            .iter()
            .map(|t| t.format(mark).to_string())
            .collect();
        message.push_str(&format!(
            ". Elsewhere the step restarts each {}: {}, then {} again (a gap of {}), while AWS keeps a uniform {n}-{} spacing",
            match mark {
                ":%M" => "hour",
                "%H:%M" => "day",
                _ => "month",
            },
            abbreviate(&marks),
            wrap.format(mark),
            human(wrap - last),
            unit.trim_end_matches('s'),
        ));
    }
    Some(CronWarning {
        code: "rate-drift",
        message,
    })
}

fn human(d: chrono::TimeDelta) -> String {
    let (v, unit) = if d.num_days() > 0 {
        (d.num_days(), "day")
    } else if d.num_hours() > 0 {
        (d.num_hours(), "hour")
    } else {
        (d.num_minutes(), "minute")
    };
    format!("{v} {unit}{}", if v == 1 { "" } else { "s" })
}

fn rate_invalid_plural(expr: &str, rate: &str) -> CronWarning {
    let fixed = expr.replace("*/1", "*");
    CronWarning {
        code: "rate-invalid-plural",
        message: format!(
            "AWS turns '{expr}' into '{rate}', which EventBridge rejects (a value of 1 needs the singular unit), \
             so the AWS deploy fails; GCP, Azure and Local accept it. Write '{fixed}' instead"
        ),
    }
}

fn dom_and_dow(expr: &str, dom: &str, dow: &str) -> CronWarning {
    let anchor = probe_start();
    let parts: Vec<String> = ORDER
        .iter()
        .map(|&d| {
            let outcome = match compile(expr, d, anchor) {
                Ok(s) => match s.day_combine() {
                    Some(Combine::Or) => "fires when either matches (OR)".to_string(),
                    _ => "fires only when both match (AND)".to_string(),
                },
                Err(e) => format!("rejects it ({})", reason(&e.message)),
            };
            format!("{} {outcome}", d.platform_label())
        })
        .collect();
    CronWarning {
        code: "dom-and-dow",
        message: format!(
            "day-of-month '{dom}' and day-of-week '{dow}' are both restricted: {}",
            parts.join("; ")
        ),
    }
}

fn six_fields(expr: &str) -> CronWarning {
    let start = probe_start();
    let parts: Vec<String> = ORDER
        .iter()
        .map(|&d| match compile(expr, d, start) {
            Ok(s) => match s.next_after(start) {
                Some(t) => format!(
                    "{} next fires at {}",
                    d.platform_label(),
                    t.format("%Y-%m-%dT%H:%M:%SZ")
                ),
                None => format!("{} never fires", d.platform_label()),
            },
            Err(e) => format!("{} rejects it ({})", d.platform_label(), reason(&e.message)),
        })
        .collect();
    CronWarning {
        code: "six-fields",
        message: format!(
            "'{expr}' has 6 fields: AWS reads the 6th as the year, Azure (Dapr) and Local (cron crate) read the 1st as \
             seconds, and GCP unix-cron allows only 5. After {}: {}",
            start.format("%Y-%m-%dT%H:%M:%SZ"),
            parts.join("; ")
        ),
    }
}

/// Warnings for a stack cron string whose meaning differs across platforms. Portable
/// expressions (e.g. `30 2 * * *`) give none.
pub fn portability_warnings(expr: &str) -> Vec<CronWarning> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    match fields.as_slice() {
        [_, _, _, _, _, _] => vec![six_fields(expr)],
        [_, _, dom, _, dow] => {
            let mut out = Vec::new();
            if let Ok(rate) = crontab_to_eventbridge(expr).map(|s| s.trim().to_string()) {
                if rate.starts_with("rate(1 ") && rate.ends_with("s)") {
                    out.push(rate_invalid_plural(expr, &rate));
                } else if rate.starts_with("rate(") && rate != "rate(1 minute)" {
                    out.extend(rate_drift(expr, &rate));
                }
            }
            let restricted = |f: &str| !matches!(f, "*" | "?");
            if restricted(dom) && restricted(dow) {
                out.push(dom_and_dow(expr, dom, dow));
            }
            if restricted(dow) {
                out.extend(numeric_weekday(dow));
                out.extend(weekday_zero(dow));
            }
            out
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(expr: &str) -> Vec<&'static str> {
        portability_warnings(expr).iter().map(|w| w.code).collect()
    }

    fn message(expr: &str, code: &str) -> String {
        portability_warnings(expr)
            .into_iter()
            .find(|w| w.code == code)
            .unwrap_or_else(|| panic!("no {code} for {expr}"))
            .message
    }

    #[test]
    fn portable_expressions_are_quiet() {
        for expr in [
            "30 2 * * *",
            "15 10 1 * *",
            "0 9 * * MON-FRI",
            "* * * * *",
            "0 12 * JAN *",
            "0 0 * * */1",
        ] {
            assert_eq!(
                codes(expr),
                Vec::<&str>::new(),
                "{expr}: {:?}",
                portability_warnings(expr)
            );
        }
    }

    /// §4.2 (a): `0 18 * * 5` is Friday on GCP/Azure, Thursday on AWS/Local.
    #[test]
    fn numeric_weekday() {
        let m = message("0 18 * * 5", "numeric-weekday");
        assert!(
            m.contains("Friday on GCP (Cloud Scheduler) and Azure (Dapr)"),
            "{m}"
        );
        assert!(
            m.contains("Thursday on AWS (EventBridge) and Local (cron crate)"),
            "{m}"
        );
        let seven = message("0 0 * * 7", "numeric-weekday");
        assert!(seven.contains("Sunday on GCP (Cloud Scheduler)"), "{seven}");
        assert!(seven.contains("rejected on Azure (Dapr)"), "{seven}");
        assert!(
            seven.contains("Saturday on AWS (EventBridge) and Local (cron crate)"),
            "{seven}"
        );
        let range = message("0 9 * * 1-5", "numeric-weekday");
        assert!(
            range.contains("Monday, Tuesday, Wednesday, Thursday and Friday on GCP"),
            "{range}"
        );
        assert!(
            range.contains("Sunday, Monday, Tuesday, Wednesday and Thursday on AWS"),
            "{range}"
        );
    }

    /// §4.2 (a), §4.3: weekday 0 is rejected by EventBridge and the cron crate.
    #[test]
    fn weekday_zero() {
        let m = message("0 0 * * 0", "weekday-zero");
        assert!(
            m.contains("Sunday on GCP (Cloud Scheduler) and Azure (Dapr)"),
            "{m}"
        );
        assert!(m.contains("AWS (EventBridge) (invalid value 0"), "{m}");
        assert!(
            m.contains("Local (cron crate) (Days of Week must be greater than or equal to 1"),
            "{m}"
        );
        assert_eq!(codes("0 0 * * 0"), ["weekday-zero"]);
        assert!(codes("0 0 * * 0-3").contains(&"weekday-zero"));
        assert!(!codes("0 0 * * 1-3").contains(&"weekday-zero"));
    }

    /// §4.2 (b): rate() conversions drift from clock boundaries.
    #[test]
    fn rate_drift() {
        let m = message("*/7 * * * *", "rate-drift");
        assert!(m.contains("rate(7 minutes)"), "{m}");
        assert!(
            m.contains(
                "deployed at Jan 1 10:03:17 UTC, AWS fires at Jan 1 10:10:17, Jan 1 10:17:17"
            ),
            "{m}"
        );
        assert!(
            m.contains("GCP, Azure and Local fire at Jan 1 10:07:00, Jan 1 10:14:00"),
            "{m}"
        );
        assert!(
            m.contains(":00, :07, …, :49, :56, then :00 again (a gap of 4 minutes)"),
            "{m}"
        );
        assert!(m.contains("uniform 7-minute spacing"), "{m}");
        let daily = message("0 0 * * *", "rate-drift");
        assert!(
            daily.contains("rate(1 day)")
                && daily.contains("Jan 2 10:03:17")
                && daily.contains("Jan 2 00:00:00"),
            "{daily}"
        );
        assert!(!daily.contains("restarts"), "{daily}");
        let six = message("0 */6 * * *", "rate-drift");
        assert!(
            six.contains("rate(6 hours)") && !six.contains("restarts"),
            "{six}"
        );
        let days = message("0 0 */3 * *", "rate-drift");
        assert!(
            days.contains("day 1, day 4, …, day 28, day 31, then day 1 again (a gap of 1 day)"),
            "{days}"
        );
        assert_eq!(codes("* * * * *"), Vec::<&str>::new());
    }

    /// §4.2 (c): `*/1` becomes an invalid `rate(1 minutes)`.
    #[test]
    fn rate_invalid_plural() {
        for (expr, rate, fixed) in [
            ("*/1 * * * *", "rate(1 minutes)", "* * * * *"),
            ("0 */1 * * *", "rate(1 hours)", "0 * * * *"),
            ("0 0 */1 * *", "rate(1 days)", "0 0 * * *"),
        ] {
            assert_eq!(codes(expr), ["rate-invalid-plural"], "{expr}");
            let m = message(expr, "rate-invalid-plural");
            assert!(
                m.contains(rate) && m.contains(&format!("Write '{fixed}'")),
                "{m}"
            );
        }
    }

    /// §4.2 step 5 + platform rules: both day fields restricted.
    #[test]
    fn dom_and_dow() {
        let m = message("0 0 1 * MON", "dom-and-dow");
        assert!(
            m.contains("GCP (Cloud Scheduler) fires when either matches (OR)"),
            "{m}"
        );
        assert!(
            m.contains("Azure (Dapr) fires when either matches (OR)"),
            "{m}"
        );
        assert!(m.contains("AWS (EventBridge) rejects it (EventBridge requires '?' in day-of-month or day-of-week)"), "{m}");
        assert!(
            m.contains("Local (cron crate) fires only when both match (AND)"),
            "{m}"
        );
        // `*/2` starts with `*`: AND on GCP (Vixie), but not a star for robfig: OR on Azure.
        let split = message("0 0 */2 * MON", "dom-and-dow");
        assert!(
            split.contains("GCP (Cloud Scheduler) fires only when both match (AND)"),
            "{split}"
        );
        assert!(
            split.contains("Azure (Dapr) fires when either matches (OR)"),
            "{split}"
        );
    }

    /// §4.2 (f): a 6th field is the year on AWS, seconds on Azure/Local, invalid on GCP.
    #[test]
    fn six_fields() {
        let m = message("0 12 * * * 2030", "six-fields");
        assert!(m.contains("GCP (Cloud Scheduler) rejects it"), "{m}");
        assert!(
            m.contains("AWS (EventBridge) next fires at 2030-01-01T12:00:00Z"),
            "{m}"
        );
        assert!(
            m.contains("Azure (Dapr) rejects it (end of range (2030) above maximum (6)"),
            "{m}"
        );
        assert!(m.contains("Local (cron crate) rejects it"), "{m}");
        let secs = message("30 0 12 * * *", "six-fields");
        assert!(
            secs.contains("Azure (Dapr) next fires at 2024-01-07T12:00:30Z"),
            "{secs}"
        );
        assert!(
            secs.contains("Local (cron crate) next fires at 2024-01-07T12:00:30Z"),
            "{secs}"
        );
        assert_eq!(codes("30 0 12 * * *"), ["six-fields"]);
    }
}
