//! The conformance cases against the emulator's AWS profile: every fact they cite holds.

use alien_emulator::conformance::{CASES, Cell, EmulatorTarget, judge, run};
use chrono::NaiveDate;

#[tokio::test]
async fn the_emulator_meets_every_case() {
    let target = EmulatorTarget::new(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap());
    let results = run(&target, "t", &[]).await;
    assert_eq!(results.len(), CASES.len());
    for (case, observed) in &results {
        let cell = judge("emulator", case, observed);
        assert_eq!(cell, Cell::Pass, "{}: {observed:?}", case.name);
    }
}
