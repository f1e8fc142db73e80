//! The Local platform's scheduler: the Rust `cron` crate 0.17 (upstream lockfile), fed a
//! 5-field string with `"0 "` prepended and any other field count as is
//! (upstream-stack-and-limits.md §4.3 Local row; upstream-cloud-semantics.md §6).
//!
//! Facts about `cron` 0.17 pinned by the tests below: day of week is 1–7 with Sunday = 1
//! (names SUN–SAT), weekday 0 is a parse error, day-of-month and day-of-week must both match
//! (AND, even when both are restricted), and a 7th field is the year.

use std::str::FromStr;

/// The exact string the Local scheduler hands to the crate.
pub(crate) fn crate_source(expr: &str) -> String {
    if expr.split_whitespace().count() == 5 {
        format!("0 {expr}")
    } else {
        expr.to_string()
    }
}

/// Parses like `LocalTriggerService`; the error is the crate's own text (upstream wraps it
/// as "Invalid cron expression '{expr}': {reason}").
pub(crate) fn parse(expr: &str) -> Result<(String, cron::Schedule), String> {
    let source = crate_source(expr);
    let schedule = cron::Schedule::from_str(&source).map_err(|e| e.to_string())?;
    Ok((source, schedule))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn next(expr: &str, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        parse(expr).unwrap().1.after(&t).next()
    }

    /// §4.3: five fields get "0 " (seconds) prepended; six are passed through seconds-first.
    #[test]
    fn field_count_handling() {
        assert_eq!(crate_source("30 2 * * *"), "0 30 2 * * *");
        assert_eq!(crate_source("0 30 2 * * *"), "0 30 2 * * *");
        let t = at(2024, 1, 1, 0, 0, 0);
        assert_eq!(next("30 2 * * *", t), Some(at(2024, 1, 1, 2, 30, 0)));
        assert_eq!(next("30 2 * * * *", t), Some(at(2024, 1, 1, 0, 2, 30)));
        // Seven fields: the crate reads the last one as the year.
        assert_eq!(next("0 0 0 1 1 * 2030", t), Some(at(2030, 1, 1, 0, 0, 0)));
        assert!(parse("0 0 * *").is_err());
    }

    /// §4.3 "numbers days of week 1–7 with Sunday = 1 … weekday 0 is a parse error. Verify
    /// for 0.17." Verified: 0.17 behaves so.
    #[test]
    fn cron_crate_0_17_weekday_numbering() {
        let sat = at(2024, 1, 6, 12, 0, 0);
        assert_eq!(next("0 18 * * 5", sat), Some(at(2024, 1, 11, 18, 0, 0))); // Thursday
        assert_eq!(next("0 0 * * 1", sat), Some(at(2024, 1, 7, 0, 0, 0))); // Sunday
        assert_eq!(next("0 0 * * 7", sat), Some(at(2024, 1, 13, 0, 0, 0))); // Saturday
        assert_eq!(next("0 0 * * Fri", sat), Some(at(2024, 1, 12, 0, 0, 0)));
        let zero = parse("0 0 * * 0").unwrap_err();
        assert!(
            zero.contains("Days of Week must be greater than or equal to 1"),
            "{zero}"
        );
        assert!(parse("0 0 * * 8").is_err());
    }

    /// Pinned: the crate ANDs day-of-month and day-of-week even when both are restricted.
    #[test]
    fn cron_crate_0_17_day_fields_and() {
        // The 1st that is a Monday (crate 2 = MON): 2024-04-01.
        assert_eq!(
            next("0 0 1 * 2", at(2024, 1, 2, 0, 0, 0)),
            Some(at(2024, 4, 1, 0, 0, 0))
        );
    }

    /// Pinned: the crate accepts `?` in the day fields, but not `L`/`W`/`#`.
    #[test]
    fn cron_crate_0_17_special_characters() {
        assert_eq!(
            next("0 0 1 * ?", at(2024, 1, 2, 0, 0, 0)),
            Some(at(2024, 2, 1, 0, 0, 0))
        );
        for bad in ["0 0 L * ?", "0 0 15W * ?", "0 0 ? * 2#1"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
