//! Profile values: every number or rule carries the place it comes from, and dated values
//! carry the day they took effect.

use chrono::NaiveDate;
use serde::Serialize;

/// A value with its source (a seed file or a reference section) and, when the value changed
/// over time, the date it took effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
}

impl<T> Sourced<T> {
    pub const fn new(value: T, source: &'static str) -> Self {
        Sourced {
            value,
            source,
            since: None,
        }
    }
}

impl<T: Copy> Sourced<T> {
    pub fn get(&self) -> T {
        self.value
    }
}

/// Shorthand used by the profile tables.
pub const fn src<T>(value: T, source: &'static str) -> Sourced<T> {
    Sourced::new(value, source)
}

/// One step of a value's history: in force from `since` (None = from the beginning).
pub struct Change<T> {
    pub since: Option<NaiveDate>,
    pub value: T,
    pub source: &'static str,
}

/// The value in force on `as_of`: the last change whose `since` is on or before it.
/// `history` is ordered oldest first and its first entry has `since: None`.
pub fn dated<T: Clone>(as_of: NaiveDate, history: &[Change<T>]) -> Sourced<T> {
    let change = history
        .iter()
        .rev()
        .find(|c| c.since.is_none_or(|since| since <= as_of))
        .expect("a history starts with an undated entry");
    Sourced {
        value: change.value.clone(),
        source: change.source,
        since: change.since,
    }
}

/// `NaiveDate` from a literal; the tables only hold valid dates.
pub const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date,
        None => panic!("invalid date in a profile table"),
    }
}
