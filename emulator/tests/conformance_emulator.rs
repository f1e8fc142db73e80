//! The contract suite against the engine under every platform profile: each case meets its
//! platform's facts (cited in the case), or does not apply to that platform.

use alien_emulator::conformance::{CASES, Cell, EmulatorTarget, PLATFORMS, Target, judge, run};
use chrono::NaiveDate;

#[tokio::test]
async fn every_profile_meets_its_platform_facts() {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let mut failures = Vec::new();
    let mut ran = vec![0; CASES.len()];
    for platform in PLATFORMS {
        let target = EmulatorTarget::new(platform, as_of);
        let results = run(&target, "t", &[]).await;
        assert_eq!(results.len(), CASES.len());
        for (i, (case, outcome)) in results.iter().enumerate() {
            match judge(target.name(), platform, case, outcome) {
                Cell::Pass => ran[i] += 1,
                Cell::NotApplicable(_) => {}
                other => failures.push(format!(
                    "{} on {}: {other:?} (observed {outcome:?})",
                    case.name,
                    target.name()
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (case, n) in CASES.iter().zip(ran) {
        assert!(n >= 1, "{} ran on no profile", case.name);
    }
}
