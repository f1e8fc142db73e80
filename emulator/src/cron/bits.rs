//! Bit sets of small ordinals (0..=63): the compiled form of one cron field.

/// Every `step`-th value from `lo` to `hi` inclusive. `step` must be ≥ 1 and `hi` ≤ 63.
pub(crate) fn stepped(lo: u32, hi: u32, step: u32) -> u64 {
    (lo..=hi)
        .step_by(step as usize)
        .fold(0, |acc, v| acc | 1 << v)
}

/// The smallest member ≥ `from`.
pub(crate) fn next_at_or_after(set: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = set >> from;
    (rest != 0).then(|| from + rest.trailing_zeros())
}

/// The smallest member.
pub(crate) fn first(set: u64) -> Option<u32> {
    next_at_or_after(set, 0)
}

pub(crate) fn contains(set: u64, v: u32) -> bool {
    v < 64 && set & (1 << v) != 0
}

/// A field's bounds and names, for the unix-cron and EventBridge parsers.
pub(crate) struct Bounds {
    pub label: &'static str,
    pub min: u32,
    pub max: u32,
    /// Upper-case three-letter names and their values.
    pub names: &'static [(&'static str, u32)],
}

impl Bounds {
    fn value(&self, token: &str) -> Result<u32, String> {
        let upper = token.to_ascii_uppercase();
        let named = self
            .names
            .iter()
            .find(|(n, _)| *n == upper)
            .map(|&(_, v)| v);
        let v = match named {
            Some(v) => v,
            None if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) => {
                token.parse().map_err(|_| self.invalid(token))?
            }
            None => return Err(self.invalid(token)),
        };
        if (self.min..=self.max).contains(&v) {
            Ok(v)
        } else {
            Err(self.invalid(token))
        }
    }

    fn invalid(&self, token: &str) -> String {
        format!("invalid value '{token}' in {} field", self.label)
    }

    fn step(&self, token: &str) -> Result<u32, String> {
        match token.parse::<u32>() {
            Ok(n) if n >= 1 && token.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(format!("invalid step '{token}' in {} field", self.label)),
        }
    }

    /// One list element: `*`, `*/n`, `v`, `a-b`, `a-b/n` or `a/n` (= `a-max/n`).
    fn element(&self, item: &str) -> Result<u64, String> {
        let (base, step) = match item.split_once('/') {
            Some((base, step)) => (base, Some(self.step(step)?)),
            None => (item, None),
        };
        let (lo, hi) = if base == "*" {
            (self.min, self.max)
        } else if let Some((a, b)) = base.split_once('-') {
            let (a, b) = (self.value(a)?, self.value(b)?);
            if a > b {
                return Err(format!("invalid range '{base}' in {} field", self.label));
            }
            (a, b)
        } else {
            let v = self.value(base)?;
            (v, if step.is_some() { self.max } else { v })
        };
        Ok(stepped(lo, hi, step.unwrap_or(1)))
    }

    /// A comma-separated list of elements.
    pub(crate) fn list(&self, field: &str) -> Result<u64, String> {
        field
            .split(',')
            .try_fold(0, |acc, item| Ok(acc | self.element(item)?))
    }
}

pub(crate) const MONTH_NAMES: [(&str, u32); 12] = [
    ("JAN", 1),
    ("FEB", 2),
    ("MAR", 3),
    ("APR", 4),
    ("MAY", 5),
    ("JUN", 6),
    ("JUL", 7),
    ("AUG", 8),
    ("SEP", 9),
    ("OCT", 10),
    ("NOV", 11),
    ("DEC", 12),
];

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Bounds = Bounds {
        label: "minute",
        min: 0,
        max: 59,
        names: &[],
    };

    #[test]
    fn stepped_and_lookup() {
        let s = stepped(0, 59, 7);
        assert_eq!(next_at_or_after(s, 0), Some(0));
        assert_eq!(next_at_or_after(s, 1), Some(7));
        assert_eq!(next_at_or_after(s, 57), None);
        assert_eq!(next_at_or_after(s, 64), None);
        assert_eq!(first(stepped(5, 5, 1)), Some(5));
        assert!(contains(s, 56) && !contains(s, 55) && !contains(s, 70));
    }

    #[test]
    fn list_elements() {
        assert_eq!(MIN.list("*/15"), Ok(stepped(0, 59, 15)));
        assert_eq!(MIN.list("10-20/5,59"), Ok(stepped(10, 20, 5) | 1 << 59));
        assert_eq!(MIN.list("50/5"), Ok(stepped(50, 59, 5)));
        assert!(MIN.list("60").is_err());
        assert!(MIN.list("5-1").is_err());
        assert!(MIN.list("*/0").is_err());
        assert!(MIN.list("1,,2").is_err());
        assert!(MIN.list("+1").is_err());
    }
}
