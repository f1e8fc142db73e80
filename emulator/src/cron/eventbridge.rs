//! EventBridge rule schedule expressions, `cron(min hour dom month dow year)` and
//! `rate(N unit)`, as AWS evaluates them [platform knowledge, AWS EventBridge "Schedule
//! expressions for rules"]; the input is what `crontab_to_eventbridge` produced
//! (upstream-stack-and-limits.md §4.2, §4.3 AWS row). All rules are UTC (§4.1).
//!
//! - Day of week is 1–7 with 1 = SUN (names SUN–SAT); 0 is rejected. Numbers are not
//!   remapped from unix-cron (§4.2 (a)).
//! - Exactly one of day-of-month / day-of-week must be `?`.
//! - Day of month: values, `?`, `L` (last day), `nW` (nearest weekday, within the month).
//! - Day of week: values, `?`, `L` (= 7, Saturday, as in Quartz), `nL` (last such weekday),
//!   `d#n` (n-th such weekday).
//! - Year 1970–2199.
//! - `rate(N unit)`: unit minute/hour/day; a value of 1 needs the singular unit and any
//!   other value the plural (§4.2 (c)). It fires every N units counted from rule creation.
//!
//! Choices where sources are silent: `L`, `W`, `#` must be the whole field (not in lists),
//! and ranges must be ascending (no wrap-around such as `FRI-MON`).

use chrono::{TimeDelta, Weekday};

use super::bits::{self, Bounds, MONTH_NAMES};
use super::calendar::{Calendar, Combine, DomRule, DowRule, Years};

const DAY_NAMES: [(&str, u32); 7] = [
    ("SUN", 1),
    ("MON", 2),
    ("TUE", 3),
    ("WED", 4),
    ("THU", 5),
    ("FRI", 6),
    ("SAT", 7),
];

const MINUTE: Bounds = Bounds {
    label: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: Bounds = Bounds {
    label: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Bounds = Bounds {
    label: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: Bounds = Bounds {
    label: "month",
    min: 1,
    max: 12,
    names: &MONTH_NAMES,
};
const DOW: Bounds = Bounds {
    label: "day-of-week",
    min: 1,
    max: 7,
    names: &DAY_NAMES,
};
/// Only used to recognise a weekday 0 and say so.
const DOW_WITH_ZERO: Bounds = Bounds {
    label: "day-of-week",
    min: 0,
    max: 7,
    names: &DAY_NAMES,
};
const YEAR_MIN: i32 = 1970;
const YEAR_MAX: i32 = 2199;

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Sun,
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
];

/// The exact error for a rule with both day fields set (or neither).
pub(crate) const DAY_FIELDS_ERROR: &str = "EventBridge requires '?' in day-of-month or day-of-week";

/// A parsed EventBridge schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expression {
    Cron(Calendar),
    Rate(TimeDelta),
}

pub(crate) fn parse(expr: &str) -> Result<Expression, String> {
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        return parse_rate(inner).map(Expression::Rate);
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        return parse_cron(inner).map(Expression::Cron);
    }
    Err(format!(
        "EventBridge expects rate(...) or cron(...), got '{expr}'"
    ))
}

fn parse_rate(inner: &str) -> Result<TimeDelta, String> {
    let bad = || format!("EventBridge rejects rate({inner})");
    let (value, unit) = inner.split_once(' ').ok_or_else(bad)?;
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = value.parse().map_err(|_| bad())?;
    let singular = unit.strip_suffix('s').unwrap_or(unit);
    let unit_delta = match singular {
        "minute" => TimeDelta::try_minutes(n),
        "hour" => TimeDelta::try_hours(n),
        "day" => TimeDelta::try_days(n),
        _ => return Err(bad()),
    };
    if n == 0 {
        return Err(bad());
    }
    let plural = unit.ends_with('s');
    if n == 1 && plural {
        return Err(format!(
            "EventBridge rejects rate(1 {unit}): a value of 1 needs the singular unit 'rate(1 {singular})'"
        ));
    }
    if n > 1 && !plural {
        return Err(format!(
            "EventBridge rejects rate({n} {unit}): a value above 1 needs the plural unit '{singular}s'"
        ));
    }
    unit_delta.ok_or_else(bad)
}

fn parse_cron(inner: &str) -> Result<Calendar, String> {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    let [min, hour, dom, month, dow, year] = fields.as_slice() else {
        return Err(format!(
            "EventBridge cron() needs 6 fields, found {}",
            fields.len()
        ));
    };
    let (dom_rule, dow_rule) = match (*dom, *dow) {
        ("?", "?") => return Err(DAY_FIELDS_ERROR.into()),
        ("?", w) => (DomRule::Days(bits::stepped(1, 31, 1)), parse_dow(w)?),
        (d, "?") => (parse_dom(d)?, DowRule::Days(bits::stepped(0, 6, 1))),
        _ => return Err(DAY_FIELDS_ERROR.into()),
    };
    Ok(Calendar {
        seconds: 1,
        minutes: MINUTE.list(min)?,
        hours: HOUR.list(hour)?,
        months: MONTH.list(month)?,
        dom: dom_rule,
        dow: dow_rule,
        combine: Combine::And,
        years: parse_years(year)?,
    })
}

fn parse_dom(field: &str) -> Result<DomRule, String> {
    if field == "L" {
        return Ok(DomRule::Last);
    }
    if let Some(day) = field.strip_suffix('W') {
        let set = DOM.list(day)?;
        return match (bits::first(set), set.count_ones()) {
            (Some(d), 1) if !day.contains(['*', '/', '-', ',']) => Ok(DomRule::NearestWeekday(d)),
            _ => Err(format!("invalid value '{field}' in day-of-month field")),
        };
    }
    Ok(DomRule::Days(DOM.list(field)?))
}

/// An EventBridge weekday number (1 = SUN … 7 = SAT) or name.
fn weekday(token: &str) -> Result<Weekday, String> {
    let set = DOW.list(token)?;
    match (bits::first(set), token.contains(['*', '/', '-', ','])) {
        (Some(v), false) => Ok(WEEKDAYS[v as usize - 1]),
        _ => Err(format!("invalid value '{token}' in day-of-week field")),
    }
}

fn parse_dow(field: &str) -> Result<DowRule, String> {
    if field == "L" {
        return Ok(DowRule::Days(1 << 6));
    }
    if let Some(day) = field.strip_suffix('L') {
        return Ok(DowRule::Last(weekday(day)?));
    }
    if let Some((day, nth)) = field.split_once('#') {
        return match nth.parse::<u32>() {
            Ok(n) if (1..=5).contains(&n) => Ok(DowRule::Nth(weekday(day)?, n)),
            _ => Err(format!("invalid value '{field}' in day-of-week field")),
        };
    }
    match DOW.list(field) {
        // EventBridge value v (1 = SUN) is bit v-1 (bit 0 = Sunday).
        Ok(set) => Ok(DowRule::Days(set >> 1)),
        Err(_) if DOW_WITH_ZERO.list(field).is_ok_and(|set| set & 1 != 0) => Err(
            "invalid value 0 in day-of-week field: EventBridge numbers days 1-7 (1 = SUN)".into(),
        ),
        Err(e) => Err(e),
    }
}

fn parse_years(field: &str) -> Result<Years, String> {
    // Years do not fit a 64-bit set: expand per element.
    let mut years = Vec::new();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => match s.parse::<usize>() {
                Ok(s) if s >= 1 => (b, s),
                _ => return Err(format!("invalid step '{s}' in year field")),
            },
            None => (item, 1),
        };
        let year = |tok: &str| match tok.parse::<i32>() {
            Ok(y)
                if (YEAR_MIN..=YEAR_MAX).contains(&y)
                    && tok.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(y)
            }
            _ => Err(format!("invalid value '{tok}' in year field")),
        };
        let (lo, hi) = match base.split_once('-') {
            _ if base == "*" => (YEAR_MIN, YEAR_MAX),
            Some((a, b)) => (year(a)?, year(b)?),
            None if item.contains('/') => (year(base)?, YEAR_MAX),
            None => (year(base)?, year(base)?),
        };
        if lo > hi {
            return Err(format!("invalid range '{base}' in year field"));
        }
        years.extend((lo..=hi).step_by(step));
    }
    years.sort_unstable();
    years.dedup();
    Ok(Years::Only(years))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn next(expr: &str, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match parse(expr).unwrap() {
            Expression::Cron(c) => c.next_after(t),
            Expression::Rate(_) => panic!("{expr} is a rate"),
        }
    }

    /// §4.2 (a): EventBridge 5 = Thursday (1 = SUN), names are safe.
    #[test]
    fn weekday_numbers_are_one_based_from_sunday() {
        let sat = at(2024, 1, 6, 12, 0);
        assert_eq!(
            next("cron(0 18 ? * 5 *)", sat),
            Some(at(2024, 1, 11, 18, 0))
        ); // Thursday
        assert_eq!(next("cron(0 0 ? * 1 *)", sat), Some(at(2024, 1, 7, 0, 0))); // Sunday
        assert_eq!(next("cron(0 0 ? * 7 *)", sat), Some(at(2024, 1, 13, 0, 0))); // Saturday
        assert_eq!(
            next("cron(0 0 ? * MON-FRI *)", sat),
            Some(at(2024, 1, 8, 0, 0))
        );
        assert_eq!(
            next("cron(0 0 ? * fri *)", sat),
            Some(at(2024, 1, 12, 0, 0))
        );
    }

    /// §4.2 (a): "An input weekday 0 is accepted by Alien and passed through; EventBridge does
    /// not accept 0."
    #[test]
    fn weekday_zero_is_rejected() {
        for expr in [
            "cron(0 0 ? * 0 *)",
            "cron(0 0 ? * 0-5 *)",
            "cron(0 0 ? * 1,0 *)",
        ] {
            assert!(
                parse(expr)
                    .unwrap_err()
                    .contains("EventBridge numbers days 1-7"),
                "{expr}"
            );
        }
        assert!(parse("cron(0 0 ? * 8 *)").is_err());
    }

    /// §4.2 step 5 note: "Both explicit (e.g. `0 0 1 * 1`) → both kept. EventBridge rejects
    /// this at PutRule [platform knowledge]".
    #[test]
    fn both_day_fields_set_is_rejected() {
        assert_eq!(parse("cron(0 0 1 1 1 2025)").unwrap_err(), DAY_FIELDS_ERROR);
        assert_eq!(parse("cron(0 0 * * * *)").unwrap_err(), DAY_FIELDS_ERROR);
        assert_eq!(parse("cron(0 0 ? * ? *)").unwrap_err(), DAY_FIELDS_ERROR);
    }

    /// §4.2 (c): a value of 1 needs the singular unit.
    #[test]
    fn rate_units() {
        assert_eq!(
            parse("rate(1 minute)"),
            Ok(Expression::Rate(TimeDelta::minutes(1)))
        );
        assert_eq!(
            parse("rate(5 minutes)"),
            Ok(Expression::Rate(TimeDelta::minutes(5)))
        );
        assert_eq!(
            parse("rate(6 hours)"),
            Ok(Expression::Rate(TimeDelta::hours(6)))
        );
        assert_eq!(
            parse("rate(1 day)"),
            Ok(Expression::Rate(TimeDelta::days(1)))
        );
        for bad in ["rate(1 minutes)", "rate(1 hours)", "rate(1 days)"] {
            assert!(
                parse(bad).unwrap_err().contains("needs the singular unit"),
                "{bad}"
            );
        }
        for bad in [
            "rate(5 minute)",
            "rate(0 minutes)",
            "rate(5 weeks)",
            "rate(x minutes)",
            "rate(5)",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// [platform knowledge] `L`, `W`, `nL`, `#` day syntax.
    #[test]
    fn quartz_day_syntax() {
        let t = at(2024, 2, 1, 0, 0);
        assert_eq!(next("cron(0 0 L * ? *)", t), Some(at(2024, 2, 29, 0, 0)));
        assert_eq!(
            next("cron(0 0 15W * ? *)", at(2024, 6, 1, 0, 0)),
            Some(at(2024, 6, 14, 0, 0))
        );
        assert_eq!(next("cron(0 0 ? * 6L *)", t), Some(at(2024, 2, 23, 0, 0))); // last Friday
        assert_eq!(next("cron(0 0 ? * 2#1 *)", t), Some(at(2024, 2, 5, 0, 0))); // first Monday
        assert_eq!(
            next("cron(0 0 ? * MON#3 *)", t),
            Some(at(2024, 2, 19, 0, 0))
        );
        assert_eq!(next("cron(0 0 ? * L *)", t), Some(at(2024, 2, 3, 0, 0))); // Saturday
        for bad in [
            "cron(0 0 1,L * ? *)",
            "cron(0 0 1-3W * ? *)",
            "cron(0 0 ? * 2#6 *)",
            "cron(0 0 ? * 1-2#1 *)",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// [platform knowledge] year field 1970–2199.
    #[test]
    fn years() {
        let t = at(2024, 6, 1, 0, 0);
        assert_eq!(next("cron(0 0 1 1 ? 2030)", t), Some(at(2030, 1, 1, 0, 0)));
        assert_eq!(
            next("cron(0 0 1 1 ? 2025/5)", t),
            Some(at(2025, 1, 1, 0, 0))
        );
        assert_eq!(
            next("cron(0 0 1 1 ? 2025/5)", at(2025, 1, 1, 0, 0)),
            Some(at(2030, 1, 1, 0, 0))
        );
        assert_eq!(next("cron(0 0 1 1 ? 2020-2023)", t), None);
        assert_eq!(next("cron(0 0 31 12 ? *)", at(2199, 12, 31, 0, 0)), None);
        assert!(parse("cron(0 0 1 1 ? 1969)").is_err());
        assert!(parse("cron(0 0 1 1 ? 2200)").is_err());
    }
}
