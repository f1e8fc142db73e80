//! `crontab_to_eventbridge`: how upstream's AWS controller and emitters rewrite a stack cron
//! string before it reaches EventBridge (upstream-stack-and-limits.md §4.2,
//! upstream-cloud-semantics.md §6.1). Re-implemented from the documented algorithm,
//! including its quirks: names are only checked case-insensitively, a field containing `#`
//! or ending in `W` skips range checks, `*/1` becomes the invalid plural `rate(1 minutes)`,
//! and both explicit day fields are kept.

use super::error::CronError;

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One crontab field as upstream validates it (§4.2 step 2 table).
struct FieldSpec {
    label: &'static str,
    min: i64,
    max: i64,
    names: &'static [&'static str],
}

const MINUTE: FieldSpec = FieldSpec {
    label: "minute",
    min: 0,
    max: 59,
    names: &[],
};
const HOUR: FieldSpec = FieldSpec {
    label: "hour",
    min: 0,
    max: 23,
    names: &[],
};
const DOM: FieldSpec = FieldSpec {
    label: "day of month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTH: FieldSpec = FieldSpec {
    label: "month",
    min: 1,
    max: 12,
    names: &MONTH_NAMES,
};
const DOW: FieldSpec = FieldSpec {
    label: "day of week",
    min: 0,
    max: 7,
    names: &DAY_NAMES,
};
const YEAR: FieldSpec = FieldSpec {
    label: "year",
    min: 1970,
    max: 2099,
    names: &[],
};

fn invalid(value: &str, label: &str) -> String {
    format!("Invalid value {value} in {label} field of crontab expression")
}

fn is_name(value: &str, names: &[&str]) -> bool {
    let upper = value.to_uppercase();
    names.contains(&upper.as_str())
}

/// A single value: a name of the field, `L`, anything ending in `W`, or an integer in range.
fn check_value(value: &str, label: &str, min: i64, max: i64, names: &[&str]) -> Result<(), String> {
    if is_name(value, names) || value == "L" || value.ends_with('W') {
        return Ok(());
    }
    match value.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(()),
        _ => Err(invalid(value, label)),
    }
}

/// `a` or `a-b` (only the first `-` splits, as upstream).
fn check_value_or_range(part: &str, spec: &FieldSpec) -> Result<(), String> {
    match part.split_once('-') {
        Some((lo, hi)) => {
            check_value(lo, spec.label, spec.min, spec.max, spec.names)?;
            check_value(hi, spec.label, spec.min, spec.max, spec.names)
        }
        None => check_value(part, spec.label, spec.min, spec.max, spec.names),
    }
}

/// §4.2 step 2: range validation of one whole field.
fn check_field(field: &str, spec: &FieldSpec) -> Result<(), String> {
    if matches!(field, "*" | "?" | "L") || field.ends_with('W') || field.contains('#') {
        return Ok(());
    }
    for item in field.split(',') {
        match item.split_once('/') {
            Some((base, step)) => {
                if !matches!(base, "*" | "?" | "L") && !base.ends_with('W') {
                    check_value_or_range(base, spec)?;
                }
                let step_label = format!("{} step", spec.label);
                check_value(step, &step_label, 1, spec.max, &[])?;
            }
            None => check_value_or_range(item, spec)?,
        }
    }
    Ok(())
}

/// §4.2 step 3: `d#n` needs a valid day and n in 1..=5.
fn check_nth_weekdays(dow: &str) -> Result<(), String> {
    for item in dow.split(',') {
        if let Some((day, nth)) = item.split_once('#') {
            check_value(day, DOW.label, DOW.min, DOW.max, DOW.names)?;
            match nth.parse::<i64>() {
                Ok(n) if (1..=5).contains(&n) => {}
                _ => return Err(invalid(item, DOW.label)),
            }
        }
    }
    Ok(())
}

/// §4.2 step 4: the rate shortcuts, checked before any cron formatting. The year is ignored.
fn rate_shortcut(min: &str, hour: &str, dom: &str, month: &str, dow: &str) -> Option<String> {
    if month != "*" || dow != "*" {
        return None;
    }
    match (min, hour, dom) {
        ("*", "*", "*") => Some("rate(1 minute)".into()),
        ("0", "*", "*") => Some("rate(1 hour)".into()),
        ("0", "0", "*") => Some("rate(1 day)".into()),
        (m, "*", "*") if m.starts_with("*/") => Some(format!("rate({} minutes)", &m[2..])),
        ("0", h, "*") if h.starts_with("*/") => Some(format!("rate({} hours)", &h[2..])),
        ("0", "0", d) if d.starts_with("*/") => Some(format!("rate({} days)", &d[2..])),
        _ => None,
    }
}

/// §4.2 step 6: the whitelist every output field passes through.
fn whitelist(value: &str, label: &str) -> Result<String, String> {
    let passes = matches!(value, "*" | "?" | "L")
        || value.ends_with('W')
        || value.contains(['#', '/', '-', ','])
        || value.chars().all(|c| c.is_ascii_digit())
        || (label == MONTH.label && is_name(value, &MONTH_NAMES))
        || (label == DOW.label && is_name(value, &DAY_NAMES));
    if passes {
        Ok(value.to_string())
    } else {
        Err(invalid(value, label))
    }
}

fn convert(expr: &str) -> Result<String, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let [min, hour, dom, month, dow, rest @ ..] = fields.as_slice() else {
        return Err("Invalid crontab expression".into());
    };
    let year = match rest {
        [] => "*",
        [year] => year,
        _ => return Err("Invalid crontab expression".into()),
    };

    check_field(min, &MINUTE)?;
    check_field(hour, &HOUR)?;
    check_field(dom, &DOM)?;
    check_field(month, &MONTH)?;
    check_field(dow, &DOW)?;
    if year != "*" {
        check_field(year, &YEAR)?;
    }
    if dom.contains('L') && dom.contains('W') {
        return Err(invalid(dom, DOM.label));
    }
    check_nth_weekdays(dow)?;
    if month.parse::<i64>() == Ok(2) && matches!(*dom, "30" | "31") {
        return Err("Invalid date: February does not have 30 or 31 days".into());
    }

    if let Some(rate) = rate_shortcut(min, hour, dom, month, dow) {
        return Ok(rate);
    }

    // §4.2 step 5: EventBridge wants exactly one of the day fields to be `?`.
    let (eb_dom, mut eb_dow) = match (*dom, *dow) {
        ("*", "*") => ("*", "?"),
        ("*", other) => ("?", other),
        (other, "*") => (other, "?"),
        (d, w) => (d, w),
    };
    if eb_dom == "?" && eb_dow == "?" {
        eb_dow = "*";
    }

    let min = whitelist(min, MINUTE.label)?;
    let hour = whitelist(hour, HOUR.label)?;
    let month = whitelist(month, MONTH.label)?;
    let eb_dom = whitelist(eb_dom, DOM.label)?;
    let eb_dow = whitelist(eb_dow, DOW.label)?;
    let year = whitelist(year, YEAR.label)?;
    Ok(format!(
        "cron({min} {hour} {eb_dom} {month} {eb_dow} {year})"
    ))
}

/// Converts a stack cron string (`min hour dom month dow [year]`) to the EventBridge
/// `rate(...)` or `cron(...)` expression upstream's AWS deployment sends to PutRule
/// (upstream-stack-and-limits.md §4.2). Errors carry upstream's exact text as `message`.
pub fn crontab_to_eventbridge(expr: &str) -> Result<String, CronError> {
    convert(expr.trim()).map_err(|message| CronError::new(expr, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(expr: &str) -> String {
        crontab_to_eventbridge(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }

    fn err(expr: &str) -> String {
        crontab_to_eventbridge(expr).expect_err(expr).message
    }

    /// upstream-stack-and-limits.md §4.2 "Examples asserted by tests".
    #[test]
    fn reference_examples_section_4_2() {
        assert_eq!(ok("0 12 * * *"), "cron(0 12 * * ? *)");
        assert_eq!(ok("0 18 * * 5"), "cron(0 18 ? * 5 *)");
        assert_eq!(ok("0 6 15 * *"), "cron(0 6 15 * ? *)");
        assert_eq!(ok("0 0 * * MON"), "cron(0 0 ? * MON *)");
        assert_eq!(ok("0 0 L * *"), "cron(0 0 L * ? *)");
        assert_eq!(ok("0 0 * * 2#1"), "cron(0 0 ? * 2#1 *)");
        assert_eq!(ok("0 0 1 1 ? 1970"), "cron(0 0 1 1 ? 1970)");
        assert_eq!(
            err("60 * * * *"),
            "Invalid value 60 in minute field of crontab expression"
        );
        assert_eq!(
            err("0 0 * * 8"),
            "Invalid value 8 in day of week field of crontab expression"
        );
        assert_eq!(
            err("0 0 * * * !"),
            "Invalid value ! in year field of crontab expression"
        );
    }

    /// §4.2 step 1: 5 or 6 fields, else "Invalid crontab expression".
    #[test]
    fn field_count_section_4_2_step_1() {
        for bad in [
            "",
            "   ",
            "invalid expression",
            "0 0 * *",
            "0 0 * * * * extra",
        ] {
            assert_eq!(err(bad), "Invalid crontab expression", "{bad:?}");
        }
        assert_eq!(ok("  0 12 * * *  "), "cron(0 12 * * ? *)");
        let e = crontab_to_eventbridge("0 0 * *").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid cron expression '0 0 * *': Invalid crontab expression"
        );
    }

    /// §4.2 step 2: per-field ranges and the field names used in messages.
    #[test]
    fn range_validation_section_4_2_step_2() {
        assert_eq!(
            err("0 24 * * *"),
            "Invalid value 24 in hour field of crontab expression"
        );
        assert_eq!(
            err("0 0 32 * *"),
            "Invalid value 32 in day of month field of crontab expression"
        );
        assert_eq!(
            err("0 0 0 * *"),
            "Invalid value 0 in day of month field of crontab expression"
        );
        assert_eq!(
            err("0 0 * 13 *"),
            "Invalid value 13 in month field of crontab expression"
        );
        assert_eq!(
            err("0 0 a * *"),
            "Invalid value a in day of month field of crontab expression"
        );
        assert_eq!(
            err("0 0 1 1 ? 2200"),
            "Invalid value 2200 in year field of crontab expression"
        );
        assert_eq!(
            err("0 0 1 1 ? 1969"),
            "Invalid value 1969 in year field of crontab expression"
        );
        // Range ends are both checked; the failing end is named.
        assert_eq!(
            err("0 0 * * 1-8"),
            "Invalid value 8 in day of week field of crontab expression"
        );
        // A `*` inside a list is not accepted (only a whole-field `*` is).
        assert_eq!(
            err("*,5 * * * *"),
            "Invalid value * in minute field of crontab expression"
        );
        // Names are case-insensitive for validation, but only in their own field.
        assert_eq!(ok("0 0 * jan *"), "cron(0 0 * jan ? *)");
        assert_eq!(
            err("0 0 * MON *"),
            "Invalid value MON in month field of crontab expression"
        );
        // Boundaries.
        assert_eq!(ok("59 0 * * *"), "cron(59 0 * * ? *)");
        assert_eq!(ok("0 23 * * *"), "cron(0 23 * * ? *)");
        assert_eq!(ok("0 0 31 * *"), "cron(0 0 31 * ? *)");
        assert_eq!(ok("0 0 * 12 *"), "cron(0 0 * 12 ? *)");
        assert_eq!(ok("0 0 * * 7"), "cron(0 0 ? * 7 *)");
        assert_eq!(ok("0 0 * * 0"), "cron(0 0 ? * 0 *)");
    }

    /// §4.2 step 2: steps must be 1..=field max, reported as "{field} step".
    #[test]
    fn step_validation_section_4_2_step_2() {
        assert_eq!(
            err("*/0 * * * *"),
            "Invalid value 0 in minute step field of crontab expression"
        );
        assert_eq!(
            err("*/60 * * * *"),
            "Invalid value 60 in minute step field of crontab expression"
        );
        assert_eq!(
            err("0 1-5/24 * * *"),
            "Invalid value 24 in hour step field of crontab expression"
        );
        assert_eq!(ok("10-20/5 8-16/2 * * *"), "cron(10-20/5 8-16/2 * * ? *)");
        assert_eq!(
            ok("0/5 0/2 1/3 1/4 1/5 2025/2"),
            "cron(0/5 0/2 1/3 1/4 1/5 2025/2)"
        );
        assert_eq!(
            ok("0/15 0/2 1-30/3 1-12/2 0-7/2"),
            "cron(0/15 0/2 1-30/3 1-12/2 0-7/2 *)"
        );
        assert_eq!(
            ok("0/10,20,30 1,2,3-5/2 1,15,30 * 1-5"),
            "cron(0/10,20,30 1,2,3-5/2 1,15,30 * 1-5 *)"
        );
        assert_eq!(
            ok("0-30/10,15-45/15 * * * *"),
            "cron(0-30/10,15-45/15 * * * ? *)"
        );
        assert_eq!(
            ok("*/15 1-5/2 1,15 * MON-FRI"),
            "cron(*/15 1-5/2 1,15 * MON-FRI *)"
        );
    }

    /// §4.2 step 2: a field with `#` or ending in `W` skips validation entirely.
    #[test]
    fn hash_and_w_skip_validation_section_4_2_step_2() {
        assert_eq!(ok("0 0 99W * *"), "cron(0 0 99W * ? *)");
        assert_eq!(ok("0 0 15W * *"), "cron(0 0 15W * ? *)");
    }

    /// §4.2 step 3: L together with W, `d#n` bounds, February 30/31.
    #[test]
    fn extra_checks_section_4_2_step_3() {
        assert_eq!(
            err("0 0 L-W * *"),
            "Invalid value L-W in day of month field of crontab expression"
        );
        assert!(crontab_to_eventbridge("0 0 L-W * 2#1").is_err());
        assert_eq!(
            err("0 0 * * 2#8"),
            "Invalid value 2#8 in day of week field of crontab expression"
        );
        assert_eq!(
            err("0 0 * * 2#0"),
            "Invalid value 2#0 in day of week field of crontab expression"
        );
        assert_eq!(
            err("0 0 * * 9#1"),
            "Invalid value 9 in day of week field of crontab expression"
        );
        let feb = "Invalid date: February does not have 30 or 31 days";
        assert_eq!(err("0 0 30 2 *"), feb);
        assert_eq!(err("0 0 31 2 *"), feb);
        // Not caught: FEB by name, or a range.
        assert_eq!(ok("0 0 30 FEB *"), "cron(0 0 30 FEB ? *)");
        assert_eq!(ok("0 0 30-31 2 *"), "cron(0 0 30-31 2 ? *)");
        assert_eq!(ok("0 0 29 2 *"), "cron(0 0 29 2 ? *)");
    }

    /// §4.2 step 4: rate shortcuts, including the invalid plural for 1 and the ignored year.
    #[test]
    fn rate_shortcuts_section_4_2_step_4() {
        assert_eq!(ok("* * * * *"), "rate(1 minute)");
        assert_eq!(ok("0 * * * *"), "rate(1 hour)");
        assert_eq!(ok("0 0 * * *"), "rate(1 day)");
        assert_eq!(ok("*/5 * * * *"), "rate(5 minutes)");
        assert_eq!(ok("0 */2 * * *"), "rate(2 hours)");
        assert_eq!(ok("0 0 */3 * *"), "rate(3 days)");
        assert_eq!(ok("*/1 * * * *"), "rate(1 minutes)");
        assert_eq!(ok("0 */1 * * *"), "rate(1 hours)");
        assert_eq!(ok("0 0 */1 * *"), "rate(1 days)");
        assert_eq!(ok("* * * * * 2030"), "rate(1 minute)");
        // Only the exact shapes: a restricted month or weekday stays cron.
        assert_eq!(ok("*/5 * * 1 *"), "cron(*/5 * * 1 ? *)");
        assert_eq!(ok("0 0 * * 1"), "cron(0 0 ? * 1 *)");
    }

    /// §4.2 step 5: the `?` rule; both explicit day fields are kept.
    #[test]
    fn question_mark_rule_section_4_2_step_5() {
        assert_eq!(ok("0 9 * 7 *"), "cron(0 9 * 7 ? *)");
        assert_eq!(ok("0 0 * FEB MON"), "cron(0 0 ? FEB MON *)");
        assert_eq!(ok("0 0 1 1 * 2025"), "cron(0 0 1 1 ? 2025)");
        assert_eq!(ok("0 0 1 1 1 2025"), "cron(0 0 1 1 1 2025)");
        assert_eq!(ok("0 0 1-10 * 2-6"), "cron(0 0 1-10 * 2-6 *)");
        // Both `?` → dow reset to `*`.
        assert_eq!(ok("0 0 ? * ?"), "cron(0 0 ? * * *)");
    }

    /// §4.2 step 6: the whitelist of characters and names.
    #[test]
    fn whitelist_section_4_2_step_6() {
        assert_eq!(
            err("+5 * * * *"),
            "Invalid value +5 in minute field of crontab expression"
        );
        assert_eq!(ok("0 0 * * mon"), "cron(0 0 ? * mon *)");
        assert_eq!(ok("0 12 * * 1-5,7"), "cron(0 12 ? * 1-5,7 *)");
        assert_eq!(ok("0 0 1,15,20-25/5 * *"), "cron(0 0 1,15,20-25/5 * ? *)");
    }
}
