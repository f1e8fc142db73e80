//! A compiled calendar schedule (seconds, minutes, hours, day rule, months, years) and its
//! next-fire search. The search skips whole years, months and days that cannot match and
//! finds the time of day with bit operations, so a 1-minute schedule costs O(1) per fire and
//! a yearly one a few hundred day checks at most.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};

use super::bits;

/// How the day-of-month and day-of-week tests combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Combine {
    /// Both must match.
    And,
    /// Either may match.
    Or,
}

/// The day-of-month part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DomRule {
    /// Bit `d` set = day `d` (1..=31).
    Days(u64),
    /// EventBridge `L`: the last day of the month.
    Last,
    /// EventBridge `nW`: the weekday nearest day `n`, without leaving the month.
    NearestWeekday(u32),
}

/// The day-of-week part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DowRule {
    /// Bit 0 = Sunday … bit 6 = Saturday.
    Days(u64),
    /// EventBridge `nL`: the last such weekday of the month.
    Last(Weekday),
    /// EventBridge `d#n`: the n-th such weekday of the month.
    Nth(Weekday, u32),
}

/// Which years may fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Years {
    /// Any year, searching at most this many years past the start (then: no next fire).
    Any { horizon: i32 },
    /// Only these years, ascending.
    Only(Vec<i32>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Calendar {
    pub seconds: u64,
    pub minutes: u64,
    pub hours: u64,
    /// Bit `m` set = month `m` (1..=12).
    pub months: u64,
    pub dom: DomRule,
    pub dow: DowRule,
    pub combine: Combine,
    pub years: Years,
}

/// The Gregorian calendar repeats every 400 years, weekdays included: a year-free schedule
/// with no fire in 400 years never fires.
pub(crate) const GREGORIAN_CYCLE: i32 = 400;

fn days_in_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

impl DomRule {
    fn matches(&self, date: NaiveDate) -> bool {
        let day = date.day();
        match *self {
            DomRule::Days(set) => bits::contains(set, day),
            DomRule::Last => day == days_in_month(date.year(), date.month()),
            DomRule::NearestWeekday(n) => {
                let last = days_in_month(date.year(), date.month());
                let Some(target) = date.with_day(n).filter(|_| n <= last) else {
                    return false;
                };
                let nearest = match target.weekday() {
                    Weekday::Sat if n == 1 => n + 2,
                    Weekday::Sat => n - 1,
                    Weekday::Sun if n == last => n - 2,
                    Weekday::Sun => n + 1,
                    _ => n,
                };
                day == nearest
            }
        }
    }
}

impl DowRule {
    fn matches(&self, date: NaiveDate) -> bool {
        let wd = date.weekday();
        match *self {
            DowRule::Days(set) => bits::contains(set, wd.num_days_from_sunday()),
            DowRule::Last(w) => {
                wd == w && date.day() + 7 > days_in_month(date.year(), date.month())
            }
            DowRule::Nth(w, n) => wd == w && (date.day() - 1) / 7 + 1 == n,
        }
    }
}

impl Calendar {
    fn day_matches(&self, date: NaiveDate) -> bool {
        let (dom, dow) = (self.dom.matches(date), self.dow.matches(date));
        match self.combine {
            Combine::And => dom && dow,
            Combine::Or => dom || dow,
        }
    }

    /// The first (hour, minute, second) of the schedule at or after the given one.
    fn time_at_or_after(&self, h0: u32, m0: u32, s0: u32) -> Option<(u32, u32, u32)> {
        let first_second = bits::first(self.seconds)?;
        let first_minute = bits::first(self.minutes)?;
        let h = bits::next_at_or_after(self.hours, h0)?;
        if h > h0 {
            return Some((h, first_minute, first_second));
        }
        if let Some(s) = bits::contains(self.minutes, m0)
            .then(|| bits::next_at_or_after(self.seconds, s0))
            .flatten()
        {
            return Some((h, m0, s));
        }
        if let Some(m) = bits::next_at_or_after(self.minutes, m0 + 1) {
            return Some((h, m, first_second));
        }
        let h = bits::next_at_or_after(self.hours, h0 + 1)?;
        Some((h, first_minute, first_second))
    }

    /// The first fire strictly after `t`, or `None` when there is none within the years the
    /// schedule allows.
    pub(crate) fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = DateTime::from_timestamp(t.timestamp().checked_add(1)?, 0)?.naive_utc();
        let last_year = match &self.years {
            Years::Any { horizon } => start.year().checked_add(*horizon)?,
            Years::Only(list) => *list.last()?,
        };
        let mut date = start.date();
        let mut from = Some((start.hour(), start.minute(), start.second()));
        while date.year() <= last_year {
            if let Years::Only(list) = &self.years {
                let year = *list.iter().find(|&&y| y >= date.year())?;
                if year != date.year() {
                    date = NaiveDate::from_ymd_opt(year, 1, 1)?;
                    from = None;
                    continue;
                }
            }
            if !bits::contains(self.months, date.month()) {
                date = match bits::next_at_or_after(self.months, date.month() + 1) {
                    Some(m) => NaiveDate::from_ymd_opt(date.year(), m, 1)?,
                    None => NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)?,
                };
                from = None;
                continue;
            }
            if self.day_matches(date) {
                let (h0, m0, s0) = from.unwrap_or((0, 0, 0));
                if let Some((h, m, s)) = self.time_at_or_after(h0, m0, s0) {
                    return Some(date.and_hms_opt(h, m, s)?.and_utc());
                }
            }
            date = date.succ_opt()?;
            from = None;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn every_minute() -> Calendar {
        Calendar {
            seconds: 1,
            minutes: bits::stepped(0, 59, 1),
            hours: bits::stepped(0, 23, 1),
            months: bits::stepped(1, 12, 1),
            dom: DomRule::Days(bits::stepped(1, 31, 1)),
            dow: DowRule::Days(bits::stepped(0, 6, 1)),
            combine: Combine::And,
            years: Years::Any {
                horizon: GREGORIAN_CYCLE,
            },
        }
    }

    #[test]
    fn strictly_after_and_sub_second_start() {
        let c = every_minute();
        assert_eq!(
            c.next_after(at(2024, 1, 1, 0, 0, 0)),
            Some(at(2024, 1, 1, 0, 1, 0))
        );
        assert_eq!(
            c.next_after(at(2024, 1, 1, 0, 0, 59)),
            Some(at(2024, 1, 1, 0, 1, 0))
        );
        let half = at(2024, 1, 1, 0, 0, 59) + chrono::TimeDelta::milliseconds(500);
        assert_eq!(c.next_after(half), Some(at(2024, 1, 1, 0, 1, 0)));
        assert_eq!(
            c.next_after(at(2024, 12, 31, 23, 59, 30)),
            Some(at(2025, 1, 1, 0, 0, 0))
        );
    }

    #[test]
    fn last_day_nearest_weekday_last_and_nth_weekday() {
        let mut c = every_minute();
        c.minutes = 1;
        c.hours = 1;
        c.dom = DomRule::Last;
        assert_eq!(
            c.next_after(at(2024, 2, 1, 0, 0, 0)),
            Some(at(2024, 2, 29, 0, 0, 0))
        );
        // 2024-06-01 is a Saturday: 1W is Monday the 3rd; 2024-03-31 is a Sunday: 31W is Friday 29th.
        c.dom = DomRule::NearestWeekday(1);
        assert_eq!(
            c.next_after(at(2024, 5, 31, 0, 0, 0)),
            Some(at(2024, 6, 3, 0, 0, 0))
        );
        c.dom = DomRule::NearestWeekday(31);
        assert_eq!(
            c.next_after(at(2024, 3, 1, 0, 0, 0)),
            Some(at(2024, 3, 29, 0, 0, 0))
        );
        // 15W: 2024-06-15 is a Saturday → Friday the 14th.
        c.dom = DomRule::NearestWeekday(15);
        assert_eq!(
            c.next_after(at(2024, 6, 1, 0, 0, 0)),
            Some(at(2024, 6, 14, 0, 0, 0))
        );
        c.dom = DomRule::Days(bits::stepped(1, 31, 1));
        c.dow = DowRule::Last(Weekday::Fri);
        assert_eq!(
            c.next_after(at(2024, 5, 1, 0, 0, 0)),
            Some(at(2024, 5, 31, 0, 0, 0))
        );
        c.dow = DowRule::Nth(Weekday::Mon, 1);
        assert_eq!(
            c.next_after(at(2024, 1, 2, 0, 0, 0)),
            Some(at(2024, 2, 5, 0, 0, 0))
        );
    }

    #[test]
    fn year_list_and_horizon() {
        let mut c = every_minute();
        c.years = Years::Only(vec![2030, 2031]);
        assert_eq!(
            c.next_after(at(2024, 6, 1, 0, 0, 0)),
            Some(at(2030, 1, 1, 0, 0, 0))
        );
        assert_eq!(c.next_after(at(2031, 12, 31, 23, 59, 0)), None);
        // Feb 30 never exists.
        let mut never = every_minute();
        never.months = 1 << 2;
        never.dom = DomRule::Days(1 << 30);
        assert_eq!(never.next_after(at(2024, 1, 1, 0, 0, 0)), None);
    }

    /// Iterating a 1-minute schedule over a simulated year is fast (skips, not scans).
    #[test]
    fn minute_schedule_over_a_month_is_cheap() {
        let c = every_minute();
        let mut t = at(2024, 1, 1, 0, 0, 0);
        let mut n = 0;
        while let Some(next) = c.next_after(t).filter(|x| *x < at(2024, 2, 1, 0, 0, 0)) {
            t = next;
            n += 1;
        }
        assert_eq!(n, 31 * 24 * 60 - 1);
    }
}
