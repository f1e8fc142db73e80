//! Unix-cron as GCP Cloud Scheduler reads the raw stack string (upstream-stack-and-limits.md
//! §4.3: "GCP Cloud Scheduler uses unix-cron: 5 fields, dow 0–7 with 0 and 7 = Sunday"
//! [platform knowledge]).
//!
//! Grammar per field: `*`, `v`, `a-b`, `*/n`, `a-b/n`, `a/n` (= `a-max/n`), comma lists;
//! month names JAN–DEC and day names SUN–SAT, case-insensitive. No `?`, `L`, `W`, `#`.
//! Day rule (Vixie cron): when both day fields are restricted (neither starts with `*`) a
//! day fires if EITHER matches, otherwise both must match.
//!
//! Choice where sources are silent: the day-of-week range is 0–7 as in Vixie cron, so
//! `*/n` and `a/n` step over 0..=7 (only `a/n` can tell the difference, e.g. `1/2` includes 7
//! = Sunday).

use super::bits::{Bounds, MONTH_NAMES};
use super::calendar::{Calendar, Combine, DomRule, DowRule, GREGORIAN_CYCLE, Years};

const DAY_NAMES: [(&str, u32); 7] = [
    ("SUN", 0),
    ("MON", 1),
    ("TUE", 2),
    ("WED", 3),
    ("THU", 4),
    ("FRI", 5),
    ("SAT", 6),
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
    min: 0,
    max: 7,
    names: &DAY_NAMES,
};

/// The Quartz-style day syntax unix-cron lacks: `?`, `#`, and `L` / `W` used as `L`, `LW`,
/// `nL`, `nW` (not the letters inside names such as `JUL` or `WED`).
fn quartz_syntax(field: &str) -> Option<char> {
    if let Some(c) = field.chars().find(|c| matches!(c, '?' | '#')) {
        return Some(c);
    }
    field.split([',', '-', '/']).find_map(|token| {
        let upper = token.to_ascii_uppercase();
        let last = upper.chars().last()?;
        let head = upper.trim_end_matches(['L', 'W']);
        (matches!(last, 'L' | 'W') && head.bytes().all(|b| b.is_ascii_digit())).then_some(last)
    })
}

/// Parses a unix-cron expression into a calendar, or says why Cloud Scheduler would not.
pub(crate) fn parse(expr: &str) -> Result<Calendar, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let [min, hour, dom, month, dow] = fields.as_slice() else {
        return Err(format!(
            "unix-cron (GCP Cloud Scheduler) needs exactly 5 fields, found {}",
            fields.len()
        ));
    };
    for (field, label) in [(dom, DOM.label), (dow, DOW.label)] {
        if let Some(c) = quartz_syntax(field) {
            return Err(format!(
                "'{c}' in the {label} field is not unix-cron (GCP Cloud Scheduler)"
            ));
        }
    }
    let dow_set = DOW.list(dow)?;
    // 7 is Sunday, like 0.
    let dow_set = (dow_set & 0x7f) | (dow_set >> 7 & 1);
    let combine = if dom.starts_with('*') || dow.starts_with('*') {
        Combine::And
    } else {
        Combine::Or
    };
    Ok(Calendar {
        seconds: 1,
        minutes: MINUTE.list(min)?,
        hours: HOUR.list(hour)?,
        months: MONTH.list(month)?,
        dom: DomRule::Days(DOM.list(dom)?),
        dow: DowRule::Days(dow_set),
        combine,
        years: Years::Any {
            horizon: GREGORIAN_CYCLE,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn next(expr: &str, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        parse(expr).unwrap().next_after(t)
    }

    /// §4.3 [platform knowledge]: exactly 5 fields; no `?`, `L`, `W`, `#`.
    #[test]
    fn five_fields_only_and_no_quartz_syntax() {
        assert!(
            parse("0 0 * * * 2030")
                .unwrap_err()
                .contains("exactly 5 fields, found 6")
        );
        assert!(parse("0 0 * *").is_err());
        for bad in [
            "0 0 ? * 1",
            "0 0 L * *",
            "0 0 15W * *",
            "0 0 LW * *",
            "0 0 * * 2#1",
            "0 0 * * 5L",
        ] {
            assert!(
                parse(bad).unwrap_err().contains("is not unix-cron"),
                "{bad}"
            );
        }
        for bad in [
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * 32 * *",
            "* * * 13 *",
            "* * * * 8",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// §4.3 [platform knowledge]: dow 0 and 7 are both Sunday; 5 is Friday; names work in any case.
    #[test]
    fn weekday_numbers_and_names() {
        let sat = at(2024, 1, 6, 12, 0); // a Saturday
        assert_eq!(next("0 18 * * 5", sat), Some(at(2024, 1, 12, 18, 0))); // Friday
        assert_eq!(next("0 0 * * 0", sat), Some(at(2024, 1, 7, 0, 0)));
        assert_eq!(next("0 0 * * 7", sat), Some(at(2024, 1, 7, 0, 0)));
        assert_eq!(next("0 0 * * sun", sat), Some(at(2024, 1, 7, 0, 0)));
        assert_eq!(next("0 0 * * Mon-Fri", sat), Some(at(2024, 1, 8, 0, 0)));
        assert_eq!(next("0 0 1 jul *", sat), Some(at(2024, 7, 1, 0, 0)));
        // Letters inside names are not Quartz `L` / `W` (found by cron_props).
        assert_eq!(next("0 0 * * WED", sat), Some(at(2024, 1, 10, 0, 0)));
        assert_eq!(next("0 0 * JUL-AUG *", sat), Some(at(2024, 7, 1, 0, 0)));
    }

    /// Vixie rule: both day fields restricted → either matches (OR).
    #[test]
    fn both_day_fields_restricted_fire_on_either() {
        // 1st of the month OR Monday. 2024-01-02 is a Tuesday; next Monday is the 8th.
        let tue = at(2024, 1, 2, 0, 0);
        assert_eq!(next("0 0 1 * 1", tue), Some(at(2024, 1, 8, 0, 0)));
        assert_eq!(
            next("0 0 1 * 1", at(2024, 1, 29, 1, 0)),
            Some(at(2024, 2, 1, 0, 0))
        );
        // A field starting with `*` makes it AND: the 1st that is a Monday (2024-04-01).
        assert_eq!(next("0 0 */1 * 1", tue), Some(at(2024, 1, 8, 0, 0)));
        assert_eq!(next("0 0 1 * */7", tue), Some(at(2024, 9, 1, 0, 0))); // Sunday the 1st
    }

    #[test]
    fn steps_and_ranges() {
        let t = at(2024, 1, 1, 0, 0);
        assert_eq!(
            next("*/7 * * * *", at(2024, 1, 1, 0, 56)),
            Some(at(2024, 1, 1, 1, 0))
        );
        assert_eq!(next("50/5 * * * *", t), Some(at(2024, 1, 1, 0, 50)));
        assert_eq!(next("10-20/5 3 * * *", t), Some(at(2024, 1, 1, 3, 10)));
        assert_eq!(next("0 0 29 2 *", t), Some(at(2024, 2, 29, 0, 0)));
        assert_eq!(
            next("0 0 29 2 *", at(2024, 3, 1, 0, 0)),
            Some(at(2028, 2, 29, 0, 0))
        );
        assert_eq!(next("0 0 30 2 *", t), None);
    }
}
