//! Fault plans: which faults strike a chaos run and how often, drawn from the run's seed so
//! a seed names its plan (the same seed, the same plan, the same trace).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::engine::FaultKind;

/// Probabilities a drawn fault gets at each opportunity.
const RATES: [f64; 5] = [0.02, 0.05, 0.1, 0.25, 0.5];

/// The fault rates of one run (kinds absent never strike).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FaultPlan {
    pub rates: Vec<(FaultKind, f64)>,
}

impl FaultPlan {
    /// The plan of `seed` over `kinds`: each kind is in with probability ½ at one of
    /// [`RATES`] (at least one kind when any is offered), on top of the scenario's own rates.
    pub fn draw(seed: u64, kinds: &[FaultKind], scenario: &[(FaultKind, f64)]) -> FaultPlan {
        // A stream of its own, so the plan does not shift the simulation's draws.
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x00C4_A05F_A017);
        let mut drawn: Vec<(FaultKind, f64)> = Vec::new();
        for kind in kinds {
            if rng.random_bool(0.5) {
                drawn.push((*kind, RATES[rng.random_range(0..RATES.len())]));
            }
        }
        if drawn.is_empty() && !kinds.is_empty() {
            let kind = kinds[rng.random_range(0..kinds.len())];
            drawn.push((kind, RATES[rng.random_range(0..RATES.len())]));
        }
        let mut rates: Vec<(FaultKind, f64)> = scenario
            .iter()
            .filter(|(k, _)| !drawn.iter().any(|(d, _)| d == k))
            .copied()
            .collect();
        rates.extend(drawn);
        rates.sort_by_key(|(k, _)| *k);
        FaultPlan { rates }
    }

    /// `lost_ack=0.1 duplicate_delivery=0.5`, or `none`.
    pub fn describe(&self) -> String {
        if self.rates.is_empty() {
            return "none".into();
        }
        self.rates
            .iter()
            .map(|(k, p)| format!("{}={p}", k.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Parses `--faults`: `all`, `none`, or comma-separated fault names.
pub fn parse_fault_list(text: &str) -> Result<Vec<FaultKind>, String> {
    match text.trim() {
        "all" => Ok(FaultKind::ALL.to_vec()),
        "none" | "" => Ok(Vec::new()),
        list => list
            .split(',')
            .map(|name| {
                let name = name.trim();
                FaultKind::ALL
                    .iter()
                    .copied()
                    .find(|k| k.as_str() == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
                        format!(
                            "--faults: unknown fault '{name}': expected all, none or some of {}",
                            known.join(", ")
                        )
                    })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A seed names its plan: drawing twice gives the same plan, only offered kinds are
        /// in, at least one when any is offered, every rate a probability.
        #[test]
        fn a_seed_names_its_plan(seed in any::<u64>(), n in 0usize..=9) {
            let kinds = &FaultKind::ALL[..n];
            let plan = FaultPlan::draw(seed, kinds, &[]);
            prop_assert_eq!(&plan, &FaultPlan::draw(seed, kinds, &[]));
            prop_assert!(plan.rates.iter().all(|(k, p)| kinds.contains(k) && (0.0..=1.0).contains(p)));
            prop_assert_eq!(plan.rates.is_empty(), kinds.is_empty());
        }
    }

    #[test]
    fn fault_lists() {
        assert_eq!(parse_fault_list("all").unwrap().len(), FaultKind::ALL.len());
        assert!(parse_fault_list("none").unwrap().is_empty());
        assert_eq!(
            parse_fault_list("lost_ack, duplicate_delivery").unwrap(),
            [FaultKind::LostAck, FaultKind::DuplicateDelivery]
        );
        let err = parse_fault_list("lost_ack,gremlins").unwrap_err();
        assert!(
            err.contains("'gremlins'") && err.contains("lost_ack"),
            "{err}"
        );
    }
}
