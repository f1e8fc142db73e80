//! Simulated time / wall time for "one simulated day, a 1-minute cron, 10 000 messages of which
//! 10% fail twice", on every platform. Run: `cargo bench --bench simulate`. Prints a markdown
//! table for BENCHMARKS.md.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use alien_emulator::Platform;
use alien_emulator::engine::{Event, HandlerCtx, Kind, Reply, SendVia, Sim, SimConfig};
use alien_emulator::profile::Profile;
use alien_emulator::stack::parse_stack_json;
use alien_providers::Payload;
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;

const MESSAGES: usize = 10_000;
const DAY: Duration = Duration::from_secs(86_400);

fn main() {
    let doc = json!({"id": "bench", "resources": {
        "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []},
        "processor": {"config": {"type": "worker", "id": "processor", "links": [], "permissions": "execution",
            "code": {"type": "image", "image": "x:1"}, "timeoutSeconds": 60, "memoryMb": 1024,
            "publicEndpoints": [{"name": "api"}],
            "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "jobs"}}, {"type": "schedule", "cron": "* * * * *"}]},
            "lifecycle": "live", "dependencies": []}}});
    let stack = parse_stack_json(&doc.to_string(), Path::new("bench.json")).expect("bench stack");
    println!(
        "| platform | simulated | wall (ms) | simulated/wall | messages acked | cron fires | trace events |"
    );
    println!("|---|---|---|---|---|---|---|");
    for platform in Platform::EMULATED {
        // Kubernetes wires no trigger: nothing to deliver, so it is not a meaningful row.
        if platform == Platform::Kubernetes {
            continue;
        }
        let profile = Profile::new(
            platform,
            NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
        )
        .expect("profile");
        let wall = Instant::now();
        let mut sim = Sim::new(
            &stack,
            profile,
            SimConfig::new(42, Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap()),
        );
        let mut attempts: HashMap<String, u32> = HashMap::new();
        let handler = move |event: &Event, ctx: &mut HandlerCtx| {
            let n = attempts.entry(ctx.key.to_string()).or_insert(0);
            *n += 1;
            let fails_twice =
                matches!(event, Event::Queue(m) if m.payload.to_body().len() % 10 == 0);
            if fails_twice && *n <= 2 {
                Reply::err("bench failure", Duration::from_millis(200))
            } else {
                Reply::ok(Duration::from_millis(200))
            }
        };
        sim.set_handler("processor", Box::new(handler))
            .expect("worker");
        // 10 000 messages spread over the day; one in ten has a body length divisible by 10.
        let step = DAY / MESSAGES as u32;
        for i in 0..MESSAGES {
            let body = if i % 10 == 0 {
                "x".repeat(10)
            } else {
                "x".repeat(11)
            };
            sim.send("jobs", Payload::Text(body), SendVia::Binding)
                .expect("send");
            sim.advance(step).expect("advance");
        }
        let elapsed = wall.elapsed();
        let acked = sim.trace().count(Kind::Acked, Some("jobs"));
        let fires = sim.trace().count(Kind::CronFired, None);
        let ratio = DAY.as_secs_f64() / elapsed.as_secs_f64();
        println!(
            "| {platform} | 1 day | {:.1} | {:.0}× | {acked} | {fires} | {} |",
            elapsed.as_secs_f64() * 1000.0,
            ratio,
            sim.trace().events().len()
        );
    }
}
