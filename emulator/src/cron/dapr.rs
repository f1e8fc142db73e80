//! Dapr's `bindings.cron` (Azure): robfig/cron v3 with
//! `SecondOptional | Minute | Hour | Dom | Month | Dow | Descriptor`
//! (upstream-cloud-semantics.md §6 "Expression" row; dapr/components-contrib
//! `bindings/cron/cron.go`). Parser behaviour and error texts follow robfig/cron v3
//! `parser.go` / `spec.go` [platform knowledge]:
//!
//! - 5 fields are minute-first (seconds default to 0); 6 fields are seconds-first.
//! - Day of week 0–6 (0 = Sunday); 7 is out of range. Names are three letters, any case.
//! - `*` and `?` both mean every value; `a/n` means `a-max/n`.
//! - Day rule: if either day field carries the "star" bit (`*` or `?` with step 1), both
//!   must match; otherwise either may.
//! - Descriptors `@yearly @annually @monthly @weekly @daily @midnight @hourly` and
//!   `@every <Go duration>`; `@every` fires every d (rounded down to whole seconds, at least
//!   1 s) after the binding starts.
//! - `Next` gives up after the fifth year past the search start ("yearLimit"), so a schedule
//!   with no fire in that window never fires.
//! - `CRON_TZ=`/`TZ=` prefixes are accepted only for UTC (the emulator has no time zones).

use chrono::TimeDelta;

use super::bits;
use super::calendar::{Calendar, Combine, DomRule, DowRule, Years};

/// robfig's `yearLimit`: the search stops after `start year + 5`.
const YEAR_LIMIT: i32 = 5;

pub(crate) enum Expression {
    Cron(Calendar),
    Every(TimeDelta),
}

struct Range {
    min: u32,
    max: u32,
    names: &'static [(&'static str, u32)],
}

const SECONDS: Range = Range {
    min: 0,
    max: 59,
    names: &[],
};
const MINUTES: Range = Range {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Range = Range {
    min: 0,
    max: 23,
    names: &[],
};
const DOM: Range = Range {
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: Range = Range {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Range = Range {
    min: 0,
    max: 6,
    names: &[
        ("sun", 0),
        ("mon", 1),
        ("tue", 2),
        ("wed", 3),
        ("thu", 4),
        ("fri", 5),
        ("sat", 6),
    ],
};

/// A field's value set and whether it carries robfig's star bit.
struct Field {
    set: u64,
    star: bool,
}

/// Go's `strconv.Atoi` plus robfig's "negative number" check.
fn int(token: &str) -> Result<u32, String> {
    let digits = token.strip_prefix(['+', '-']).unwrap_or(token);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "failed to parse int from {token}: strconv.Atoi: parsing \"{token}\": invalid syntax"
        ));
    }
    let n: i64 = token
        .parse()
        .map_err(|_| format!("failed to parse int from {token}: value out of range"))?;
    if n < 0 {
        return Err(format!("negative number ({n}) not allowed: {token}"));
    }
    u32::try_from(n).map_err(|_| format!("failed to parse int from {token}: value out of range"))
}

fn int_or_name(token: &str, r: &Range) -> Result<u32, String> {
    let lower = token.to_lowercase();
    match r.names.iter().find(|(n, _)| *n == lower) {
        Some(&(_, v)) => Ok(v),
        None => int(token),
    }
}

/// robfig `getRange`: one comma-separated element.
fn range(expr: &str, r: &Range) -> Result<Field, String> {
    let parts: Vec<&str> = expr.split('/').collect();
    let bounds: Vec<&str> = parts[0].split('-').collect();
    let single = bounds.len() == 1;
    let (start, mut end, mut star) = if bounds[0] == "*" || bounds[0] == "?" {
        (r.min, r.max, true)
    } else {
        let start = int_or_name(bounds[0], r)?;
        let end = match bounds.len() {
            1 => start,
            2 => int_or_name(bounds[1], r)?,
            _ => return Err(format!("too many hyphens: {expr}")),
        };
        (start, end, false)
    };
    let step = match parts.len() {
        1 => 1,
        2 => {
            let step = int(parts[1])?;
            if single {
                end = r.max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
        _ => return Err(format!("too many slashes: {expr}")),
    };
    if start < r.min {
        return Err(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            r.min
        ));
    }
    if end > r.max {
        return Err(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            r.max
        ));
    }
    if start > end {
        return Err(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return Err(format!("step of range should be a positive number: {expr}"));
    }
    Ok(Field {
        set: bits::stepped(start, end, step),
        star,
    })
}

/// robfig `getField`: comma list, empty pieces dropped (Go `strings.FieldsFunc`).
fn field(text: &str, r: &Range) -> Result<Field, String> {
    text.split(',').filter(|p| !p.is_empty()).try_fold(
        Field {
            set: 0,
            star: false,
        },
        |acc, part| {
            let f = range(part, r)?;
            Ok(Field {
                set: acc.set | f.set,
                star: acc.star || f.star,
            })
        },
    )
}

fn calendar(sec: Field, min: Field, hour: Field, dom: Field, month: Field, dow: Field) -> Calendar {
    Calendar {
        seconds: sec.set,
        minutes: min.set,
        hours: hour.set,
        months: month.set,
        combine: if dom.star || dow.star {
            Combine::And
        } else {
            Combine::Or
        },
        dom: DomRule::Days(dom.set),
        dow: DowRule::Days(dow.set),
        years: Years::Any {
            horizon: YEAR_LIMIT,
        },
    }
}

/// Every value of a field, with the star bit (robfig `all`).
fn all(r: &Range) -> Field {
    Field {
        set: bits::stepped(r.min, r.max, 1),
        star: true,
    }
}

fn at(v: u32) -> Field {
    Field {
        set: 1 << v,
        star: false,
    }
}

fn descriptor(spec: &str) -> Result<Expression, String> {
    let cal = match spec {
        "@yearly" | "@annually" => calendar(at(0), at(0), at(0), at(1), at(1), all(&DOW)),
        "@monthly" => calendar(at(0), at(0), at(0), at(1), all(&MONTHS), all(&DOW)),
        "@weekly" => calendar(at(0), at(0), at(0), all(&DOM), all(&MONTHS), at(0)),
        "@daily" | "@midnight" => calendar(at(0), at(0), at(0), all(&DOM), all(&MONTHS), all(&DOW)),
        "@hourly" => calendar(
            at(0),
            at(0),
            all(&HOURS),
            all(&DOM),
            all(&MONTHS),
            all(&DOW),
        ),
        _ => {
            let Some(text) = spec.strip_prefix("@every ") else {
                return Err(format!("unrecognized descriptor: {spec}"));
            };
            let d =
                go_duration(text).map_err(|e| format!("failed to parse duration {spec}: {e}"))?;
            let whole = TimeDelta::seconds(d.num_seconds());
            return Ok(Expression::Every(whole.max(TimeDelta::seconds(1))));
        }
    };
    Ok(Expression::Cron(cal))
}

/// Go `time.ParseDuration`: `[-+]?(\d*(\.\d*)?(ns|us|µs|μs|ms|s|m|h))+` or `0`.
fn go_duration(text: &str) -> Result<TimeDelta, String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(TimeDelta::zero());
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration \"{text}\"")),
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{text}\""
                ));
            }
        };
        total_ns += value * scale;
        rest = &rest[unit_len..];
    }
    if total_ns > i64::MAX as f64 {
        return Err(invalid());
    }
    let ns = total_ns as i64;
    Ok(TimeDelta::nanoseconds(if negative { -ns } else { ns }))
}

/// Parses what Dapr's cron binding would accept.
pub(crate) fn parse(spec: &str) -> Result<Expression, String> {
    if spec.is_empty() {
        return Err("empty spec string".into());
    }
    let spec = match spec.split_once(' ') {
        Some((tz, rest)) if tz.starts_with("TZ=") || tz.starts_with("CRON_TZ=") => {
            let zone = tz.split_once('=').map_or("", |(_, z)| z);
            if !matches!(zone, "UTC" | "Etc/UTC") {
                return Err(format!("time zone {zone} is not emulated (only UTC)"));
            }
            rest.trim()
        }
        _ => spec,
    };
    if spec.starts_with('@') {
        return descriptor(spec);
    }
    let mut fields: Vec<&str> = spec.split_whitespace().collect();
    match fields.len() {
        5 => fields.insert(0, "0"),
        6 => {}
        n => {
            return Err(format!(
                "expected 5 to 6 fields, found {n}: [{}]",
                fields.join(" ")
            ));
        }
    }
    Ok(Expression::Cron(calendar(
        field(fields[0], &SECONDS)?,
        field(fields[1], &MINUTES)?,
        field(fields[2], &HOURS)?,
        field(fields[3], &DOM)?,
        field(fields[4], &MONTHS)?,
        field(fields[5], &DOW)?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn next(expr: &str, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}")) {
            Expression::Cron(c) => c.next_after(t),
            Expression::Every(_) => panic!("{expr} is @every"),
        }
    }

    fn err(expr: &str) -> String {
        parse(expr).err().unwrap_or_else(|| panic!("{expr} parsed"))
    }

    /// robfig SecondOptional: 5 fields are minute-first, 6 fields seconds-first.
    #[test]
    fn second_optional() {
        let t = at(2024, 1, 1, 0, 0, 0);
        assert_eq!(next("30 2 * * *", t), Some(at(2024, 1, 1, 2, 30, 0)));
        assert_eq!(next("30 2 * * * *", t), Some(at(2024, 1, 1, 0, 2, 30)));
        assert_eq!(err("* * * *"), "expected 5 to 6 fields, found 4: [* * * *]");
        assert!(err("0 0 0 1 1 * 2030").starts_with("expected 5 to 6 fields, found 7"));
        assert_eq!(err(""), "empty spec string");
    }

    /// robfig dow bounds 0–6: 0 = Sunday, 7 out of range; names; `?` = `*`.
    #[test]
    fn weekdays() {
        let sat = at(2024, 1, 6, 12, 0, 0);
        assert_eq!(next("0 18 * * 5", sat), Some(at(2024, 1, 12, 18, 0, 0))); // Friday
        assert_eq!(next("0 0 * * 0", sat), Some(at(2024, 1, 7, 0, 0, 0)));
        assert_eq!(next("0 0 ? * SUN", sat), Some(at(2024, 1, 7, 0, 0, 0)));
        assert_eq!(err("0 0 * * 7"), "end of range (7) above maximum (6): 7");
        assert_eq!(
            err("0 0 * * 5-1"),
            "beginning of range (5) beyond end of range (1): 5-1"
        );
        assert_eq!(
            err("0 0 0 * *"),
            "beginning of range (0) below minimum (1): 0"
        );
        assert_eq!(
            err("*/0 * * * *"),
            "step of range should be a positive number: */0"
        );
        assert_eq!(
            err("-1 * * * *").split(':').next(),
            Some("failed to parse int from ")
        );
        assert_eq!(err("1-2-3 * * * *"), "too many hyphens: 1-2-3");
        assert_eq!(err("1/2/3 * * * *"), "too many slashes: 1/2/3");
        assert!(err("0 0 L * *").starts_with("failed to parse int from L"));
    }

    /// robfig dayMatches: a star in either day field → AND, else OR. `*/2` is not a star.
    #[test]
    fn day_rule() {
        let tue = at(2024, 1, 2, 0, 0, 0);
        // OR: the 1st or a Monday → Monday 8th.
        assert_eq!(next("0 0 1 * 1", tue), Some(at(2024, 1, 8, 0, 0, 0)));
        // `*/2` on dom has no star bit → OR with Monday: the 3rd (odd day) comes first.
        assert_eq!(next("0 0 */2 * 1", tue), Some(at(2024, 1, 3, 0, 0, 0)));
        // `*/1` keeps the star bit → AND: all days AND Monday.
        assert_eq!(next("0 0 */1 * 1", tue), Some(at(2024, 1, 8, 0, 0, 0)));
        // `?` is a star.
        assert_eq!(next("0 0 1 * ?", tue), Some(at(2024, 2, 1, 0, 0, 0)));
    }

    /// robfig descriptors.
    #[test]
    fn descriptors() {
        let t = at(2024, 1, 3, 5, 0, 0); // a Wednesday
        assert_eq!(next("@yearly", t), Some(at(2025, 1, 1, 0, 0, 0)));
        assert_eq!(next("@annually", t), Some(at(2025, 1, 1, 0, 0, 0)));
        assert_eq!(next("@monthly", t), Some(at(2024, 2, 1, 0, 0, 0)));
        assert_eq!(next("@weekly", t), Some(at(2024, 1, 7, 0, 0, 0)));
        assert_eq!(next("@daily", t), Some(at(2024, 1, 4, 0, 0, 0)));
        assert_eq!(next("@midnight", t), Some(at(2024, 1, 4, 0, 0, 0)));
        assert_eq!(next("@hourly", t), Some(at(2024, 1, 3, 6, 0, 0)));
        assert_eq!(err("@fortnightly"), "unrecognized descriptor: @fortnightly");
        assert_eq!(
            next("CRON_TZ=UTC 0 0 * * *", t),
            Some(at(2024, 1, 4, 0, 0, 0))
        );
        assert!(err("CRON_TZ=Europe/Paris 0 0 * * *").contains("not emulated"));
    }

    /// Go `time.ParseDuration` as used by `@every`.
    #[test]
    fn every_durations() {
        let d = |s: &str| match parse(s).unwrap() {
            Expression::Every(d) => d,
            Expression::Cron(_) => panic!("{s}"),
        };
        assert_eq!(d("@every 15m"), TimeDelta::minutes(15));
        assert_eq!(d("@every 1h30m"), TimeDelta::minutes(90));
        assert_eq!(d("@every 1.5h"), TimeDelta::minutes(90));
        assert_eq!(d("@every 2500ms"), TimeDelta::seconds(2));
        assert_eq!(d("@every 10us"), TimeDelta::seconds(1));
        assert_eq!(d("@every 0"), TimeDelta::seconds(1));
        assert!(err("@every 15").contains("missing unit"));
        assert!(err("@every 15x").contains("unknown unit \"x\""));
        assert!(err("@every h").contains("invalid duration"));
    }

    /// robfig `yearLimit`: no fire within start year + 5 → never.
    #[test]
    fn five_year_search_limit() {
        assert_eq!(
            next("0 0 29 2 *", at(2024, 3, 1, 0, 0, 0)),
            Some(at(2028, 2, 29, 0, 0, 0))
        );
        // 2100 is not a leap year: after 2096 the next Feb 29 is 2104, past 2096 + 5.
        assert_eq!(next("0 0 29 2 *", at(2096, 3, 1, 0, 0, 0)), None);
        assert_eq!(next("0 0 31 2 *", at(2024, 1, 1, 0, 0, 0)), None);
    }
}
