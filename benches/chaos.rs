//! `alien chaos` sweep speed (issue 13 item 5): 1 000 seeds of a one-day scenario
//! (scenarios/seeded-faults-at-least-once.toml: 20 messages, a day of virtual time) on aws,
//! fault plans drawn from every fault kind, each seed run twice for the determinism
//! self-check, on 1 thread and on every core. Target: 1 000 seeds in ≤ 60 s wall on 2 cores.
//! Run: `cargo bench --bench chaos`. Prints a markdown table for BENCHMARKS.md.

use std::path::Path;
use std::time::Instant;

use alien_emulator::Platform;
use alien_emulator::chaos::run::Drain;
use alien_emulator::chaos::sweep::{Shard, SweepConfig, jobs, sweep};
use alien_emulator::engine::FaultKind;
use alien_emulator::scenario::load_scenario;

const SEEDS: u64 = 1000;

fn main() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/seeded-faults-at-least-once.toml");
    let scenario = load_scenario(&file).expect("the bench scenario");
    let scenarios = [scenario];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "| threads | seeds | runs (×2 determinism) | trace events per run | wall (s) | seeds/s \
         | violations | target 60 s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for threads in [1, cores] {
        let config = SweepConfig {
            seeds: 1..=SEEDS,
            faults: FaultKind::ALL.to_vec(),
            platforms: vec![Platform::Aws],
            shard: Shard::ALL,
            threads,
            drain: Drain::default(),
            determinism: true,
        };
        let todo = jobs(&scenarios, &config);
        let started = Instant::now();
        let results = sweep(&todo, &config, &|_| {}).expect("the sweep");
        let wall = started.elapsed().as_secs_f64();
        let violations: usize = results.iter().map(|r| r.violations()).sum();
        let events = results.iter().map(|r| r.events).sum::<usize>() / results.len().max(1);
        println!(
            "| {threads} | {SEEDS} | {} | {events} | {wall:.2} | {:.0} | {violations} | {:.3}× of the budget |",
            results.len() * 2,
            SEEDS as f64 / wall,
            wall / 60.0
        );
    }
}
