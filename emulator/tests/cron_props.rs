//! Properties of `alien_emulator::cron` (brief item 8): for random valid expressions,
//! `next_after` is strictly increasing and equals a brute-force minute-by-minute reference.
//!
//! The reference matchers below evaluate the generated field structure directly (not the
//! string), so they share no code with the parsers under test. Rules they encode:
//! unix-cron / Vixie (upstream-stack-and-limits.md §4.3 [platform knowledge]), EventBridge
//! after `crontab_to_eventbridge` (§4.2), robfig/cron v3 for Dapr (upstream-cloud-semantics.md
//! §6), and for Local the `cron` crate's own `Schedule::includes`.

use std::str::FromStr;

use alien_emulator::cron::{CronDialect, compile, crontab_to_eventbridge};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use proptest::prelude::*;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Brute force looks this far ahead.
const HORIZON_MINUTES: i64 = 40 * 24 * 60;

#[derive(Debug, Clone)]
enum Item {
    StarStep(u32),
    Value(u32),
    Range(u32, u32),
    RangeStep(u32, u32, u32),
    ValueStep(u32, u32),
}

#[derive(Debug, Clone)]
struct Field {
    /// `None` = the whole field is `*`.
    items: Option<Vec<Item>>,
    /// Write values as names where the field has them.
    names: bool,
    lower: bool,
}

#[derive(Debug, Clone, Copy)]
struct Kind {
    lo: u32,
    hi: u32,
    /// (names, value of the first name)
    names: Option<(&'static [&'static str], u32)>,
}

const MINUTE: Kind = Kind {
    lo: 0,
    hi: 59,
    names: None,
};
const HOUR: Kind = Kind {
    lo: 0,
    hi: 23,
    names: None,
};
const DOM: Kind = Kind {
    lo: 1,
    hi: 31,
    names: None,
};
const MONTH: Kind = Kind {
    lo: 1,
    hi: 12,
    names: Some((&MONTHS, 1)),
};
/// Unix-cron: 0–7, 0 and 7 = Sunday.
const DOW_UNIX: Kind = Kind {
    lo: 0,
    hi: 7,
    names: Some((&DAYS, 0)),
};
/// robfig: 0–6.
const DOW_DAPR: Kind = Kind {
    lo: 0,
    hi: 6,
    names: Some((&DAYS, 0)),
};
/// EventBridge and the cron crate: 1–7, 1 = Sunday.
const DOW_ONE_BASED: Kind = Kind {
    lo: 1,
    hi: 7,
    names: Some((&DAYS, 1)),
};

fn item(k: Kind) -> impl Strategy<Value = Item> {
    let (lo, hi) = (k.lo, k.hi);
    let pair = (lo..=hi, lo..=hi).prop_map(|(a, b)| (a.min(b), a.max(b)));
    prop_oneof![
        1 => (1..=hi.max(1)).prop_map(Item::StarStep),
        3 => (lo..=hi).prop_map(Item::Value),
        1 => pair.clone().prop_map(|(a, b)| Item::Range(a, b)),
        1 => (pair, 1..=hi.max(1)).prop_map(|((a, b), n)| Item::RangeStep(a, b, n)),
        1 => (lo..=hi, 1..=hi.max(1)).prop_map(|(a, n)| Item::ValueStep(a, n)),
    ]
}

fn field(k: Kind, star_weight: u32) -> impl Strategy<Value = Field> {
    let items = prop_oneof![
        star_weight => Just(None),
        5 => prop::collection::vec(item(k), 1..=3).prop_map(Some),
    ];
    (items, any::<bool>(), any::<bool>()).prop_map(|(items, names, lower)| Field {
        items,
        names,
        lower,
    })
}

fn star() -> Field {
    Field {
        items: None,
        names: false,
        lower: false,
    }
}

impl Field {
    fn value_text(&self, k: Kind, v: u32) -> String {
        match k.names {
            Some((names, base))
                if self.names && v >= base && ((v - base) as usize) < names.len() =>
            {
                let n = names[(v - base) as usize];
                if self.lower {
                    n.to_lowercase()
                } else {
                    n.to_string()
                }
            }
            _ => v.to_string(),
        }
    }

    fn render(&self, k: Kind) -> String {
        let Some(items) = &self.items else {
            return "*".into();
        };
        items
            .iter()
            .map(|i| match *i {
                Item::StarStep(n) => format!("*/{n}"),
                Item::Value(v) => self.value_text(k, v),
                Item::Range(a, b) => format!("{}-{}", self.value_text(k, a), self.value_text(k, b)),
                Item::RangeStep(a, b, n) => format!("{a}-{b}/{n}"),
                Item::ValueStep(a, n) => format!("{a}/{n}"),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The selected values as a bit set, straight from the definition of each item.
    fn values(&self, k: Kind) -> u64 {
        let span =
            |a: u32, b: u32, n: u32| (a..=b).step_by(n as usize).fold(0u64, |s, v| s | 1 << v);
        let Some(items) = &self.items else {
            return span(k.lo, k.hi, 1);
        };
        items.iter().fold(0, |s, i| {
            s | match *i {
                Item::StarStep(n) => span(k.lo, k.hi, n),
                Item::Value(v) => 1 << v,
                Item::Range(a, b) => span(a, b, 1),
                Item::RangeStep(a, b, n) => span(a, b, n),
                Item::ValueStep(a, n) => span(a, k.hi, n),
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    Unix,
    EventBridge,
    Dapr,
}

#[derive(Debug, Clone)]
struct Expr {
    min: Field,
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
}

impl Expr {
    fn dow_kind(d: Dialect) -> Kind {
        match d {
            Dialect::Unix => DOW_UNIX,
            Dialect::Dapr => DOW_DAPR,
            Dialect::EventBridge => DOW_ONE_BASED,
        }
    }

    fn render(&self, d: Dialect) -> String {
        format!(
            "{} {} {} {} {}",
            self.min.render(MINUTE),
            self.hour.render(HOUR),
            self.dom.render(DOM),
            self.month.render(MONTH),
            self.dow.render(Self::dow_kind(d))
        )
    }

    /// The reference matcher: does the minute starting at `t` fire?
    fn matcher(&self, d: Dialect) -> impl Fn(NaiveDate, u32, u32) -> bool + '_ {
        let (min, hour, dom, month) = (
            self.min.values(MINUTE),
            self.hour.values(HOUR),
            self.dom.values(DOM),
            self.month.values(MONTH),
        );
        let mut dow = self.dow.values(Self::dow_kind(d));
        if d == Dialect::Unix && dow & (1 << 7) != 0 {
            dow |= 1; // 7 = Sunday
        }
        if d == Dialect::EventBridge {
            dow >>= 1; // EventBridge 1 = Sunday
        }
        let text = (self.dom.render(DOM), self.dow.render(Self::dow_kind(d)));
        let either = match d {
            // Vixie: OR only when neither field starts with `*`.
            Dialect::Unix => !text.0.starts_with('*') && !text.1.starts_with('*'),
            // robfig: OR only when neither field carries the star bit (`*`, or `*/1`).
            Dialect::Dapr => !has_star_bit(&self.dom) && !has_star_bit(&self.dow),
            Dialect::EventBridge => false,
        };
        move |date: NaiveDate, h: u32, m: u32| {
            let dom_ok = dom & (1 << date.day()) != 0;
            let dow_ok = dow & (1 << date.weekday().num_days_from_sunday()) != 0;
            let day_ok = match d {
                // `crontab_to_eventbridge` turns a `*` day field into `?`; the other decides.
                Dialect::EventBridge if text.0 == "*" => dow_ok,
                Dialect::EventBridge => dom_ok,
                _ if either => dom_ok || dow_ok,
                _ => dom_ok && dow_ok,
            };
            month & (1 << date.month()) != 0
                && day_ok
                && hour & (1 << h) != 0
                && min & (1 << m) != 0
        }
    }
}

fn has_star_bit(f: &Field) -> bool {
    match &f.items {
        None => true,
        Some(items) => items.iter().any(|i| matches!(i, Item::StarStep(1))),
    }
}

fn expr(d: Dialect) -> impl Strategy<Value = Expr> {
    let dow = field(Expr::dow_kind(d), 3);
    let fields = (
        field(MINUTE, 2),
        field(HOUR, 2),
        field(DOM, 3),
        field(MONTH, 4),
        dow,
        any::<bool>(),
    );
    fields.prop_map(move |(min, hour, dom, month, dow, dom_free)| {
        // EventBridge needs one day field to become `?`: keep one of them `*`.
        let (dom, dow) = match (d, dom_free) {
            (Dialect::EventBridge, true) => (star(), dow),
            (Dialect::EventBridge, false) => (dom, star()),
            _ => (dom, dow),
        };
        Expr {
            min,
            hour,
            dom,
            month,
            dow,
        }
    })
}

fn start_time() -> impl Strategy<Value = DateTime<Utc>> {
    let lo = Utc
        .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let hi = Utc
        .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    (lo..hi).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

/// The first minute after `t` (at second 0) that `matches`, checking every minute up to the
/// horizon; `None` if none within it.
fn brute_force(
    t: DateTime<Utc>,
    matches: impl Fn(NaiveDate, u32, u32) -> bool,
) -> Option<DateTime<Utc>> {
    let first = DateTime::from_timestamp(t.timestamp() - i64::from(t.second()) + 60, 0).unwrap();
    (0..HORIZON_MINUTES)
        .map(|i| first + TimeDelta::minutes(i))
        .find(|c| matches(c.date_naive(), c.hour(), c.minute()))
}

fn check(
    expr: &str,
    dialect: CronDialect,
    t: DateTime<Utc>,
    expected: Option<DateTime<Utc>>,
) -> Result<(), TestCaseError> {
    let schedule = compile(expr, dialect, t).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let actual = schedule.next_after(t);
    match expected {
        Some(_) => prop_assert_eq!(actual, expected, "{} after {}", expr, t),
        None => {
            let horizon = t + TimeDelta::minutes(HORIZON_MINUTES);
            prop_assert!(
                actual.is_none_or(|a| a >= horizon),
                "{} after {}: {:?}",
                expr,
                t,
                actual
            );
        }
    }
    // Iterating is strictly increasing.
    let mut prev = t;
    for _ in 0..20 {
        let Some(next) = schedule.next_after(prev) else {
            break;
        };
        prop_assert!(next > prev, "{} went from {} to {}", expr, prev, next);
        prev = next;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn unix_cron_matches_brute_force(e in expr(Dialect::Unix), t in start_time()) {
        let text = e.render(Dialect::Unix);
        check(&text, CronDialect::UnixCron, t, brute_force(t, e.matcher(Dialect::Unix)))?;
    }

    #[test]
    fn dapr_matches_brute_force(e in expr(Dialect::Dapr), t in start_time()) {
        let text = e.render(Dialect::Dapr);
        check(&text, CronDialect::Dapr, t, brute_force(t, e.matcher(Dialect::Dapr)))?;
    }

    #[test]
    fn eventbridge_cron_matches_brute_force(e in expr(Dialect::EventBridge), t in start_time()) {
        let text = e.render(Dialect::EventBridge);
        let converted = crontab_to_eventbridge(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assume!(converted.starts_with("cron("), "rate shortcut: {}", converted);
        check(&text, CronDialect::EventBridge, t, brute_force(t, e.matcher(Dialect::EventBridge)))?;
    }

    /// Local: compare with the `cron` crate's own `includes`, minute by minute.
    #[test]
    fn cron_crate_matches_its_includes(e in expr(Dialect::EventBridge), dow in field(DOW_ONE_BASED, 3), t in start_time()) {
        let e = Expr { dow, ..e };
        let text = e.render(Dialect::EventBridge);
        let reference = cron::Schedule::from_str(&format!("0 {text}")).expect("crate parses");
        let matches = |date: NaiveDate, h: u32, m: u32| {
            reference.includes(date.and_hms_opt(h, m, 0).unwrap().and_utc())
        };
        check(&text, CronDialect::CronCrate, t, brute_force(t, matches))?;
    }
}
