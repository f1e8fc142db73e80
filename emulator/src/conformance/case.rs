//! What a conformance case is: its facts, each with its source, and what every platform is
//! expected to show. A case is written once against the provider traits; the facts it checks
//! differ per platform where the clouds differ (that difference is the point of the suite).

use crate::Platform;

/// Every platform the suite knows, in table order.
pub const PLATFORMS: [Platform; 5] = Platform::EMULATED;

/// One observed fact: what is observed, the value every platform shows unless `on` says
/// otherwise, and the platform-specific values with their sources.
#[derive(Debug)]
pub struct Fact {
    pub what: &'static str,
    pub value: &'static str,
    /// `(platform, value, source)`; a value of [`NOT_CHECKED`] drops the fact there.
    pub on: &'static [(Platform, &'static str, &'static str)],
}

/// A platform-specific value that means "this fact is not compared on this platform" (its
/// source says why).
pub const NOT_CHECKED: &str = "";

/// A conformance case.
#[derive(Debug)]
pub struct Case {
    pub name: &'static str,
    /// Where the facts come from (a file in `../shared/reference/` or the cloud's docs).
    pub source: &'static str,
    /// The platforms whose resources the case exercises.
    pub platforms: &'static [Platform],
    /// Why the case does not apply on the other platforms.
    pub elsewhere: &'static str,
    pub facts: &'static [Fact],
}

impl Case {
    /// `(what, value)` a target of `platform` must observe, or `None` when the case does not
    /// apply there.
    pub fn expected(&self, platform: Platform) -> Option<Vec<(&'static str, &'static str)>> {
        if !self.platforms.contains(&platform) {
            return None;
        }
        Some(
            self.facts
                .iter()
                .filter_map(|f| {
                    let value =
                        f.on.iter()
                            .find(|(p, _, _)| *p == platform)
                            .map_or(f.value, |(_, v, _)| v);
                    (value != NOT_CHECKED).then_some((f.what, value))
                })
                .collect(),
        )
    }
}

/// Shorthand for a fact that every platform shares.
pub const fn same(what: &'static str, value: &'static str) -> Fact {
    Fact {
        what,
        value,
        on: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASE: Case = Case {
        name: "c",
        source: "s",
        platforms: &[Platform::Aws, Platform::Gcp],
        elsewhere: "queues only",
        facts: &[
            same("a", "1"),
            Fact {
                what: "b",
                value: "2",
                on: &[
                    (Platform::Gcp, "3", "gcp doc"),
                    (Platform::Aws, NOT_CHECKED, "aws doc"),
                ],
            },
        ],
    };

    #[test]
    fn platform_values_override_the_shared_one_and_can_drop_a_fact() {
        assert_eq!(CASE.expected(Platform::Aws), Some(vec![("a", "1")]));
        assert_eq!(
            CASE.expected(Platform::Gcp),
            Some(vec![("a", "1"), ("b", "3")])
        );
        assert_eq!(CASE.expected(Platform::Local), None);
    }
}
