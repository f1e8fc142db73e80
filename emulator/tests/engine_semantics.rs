//! Engine semantics per platform, each test naming its source. Everything runs in virtual time.

use std::path::Path;
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::engine::{Behaviour, Kind, Mode, Scripted, SendVia, Sim, SimConfig};
use alien_emulator::profile::Profile;
use alien_emulator::stack::{Stack, parse_stack_json};
use alien_providers::Payload;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::json;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

fn queue_stack(timeout: u32, workers: &[&str]) -> Stack {
    let mut resources = serde_json::Map::new();
    resources.insert("jobs".into(), json!({"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []}));
    for w in workers {
        resources.insert(
            (*w).into(),
            json!({"config": {"type": "worker", "id": w, "links": [], "permissions": "execution",
                "code": {"type": "image", "image": "x:1"}, "timeoutSeconds": timeout, "memoryMb": 1024,
                "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "jobs"}}]},
                "lifecycle": "live", "dependencies": []}),
        );
    }
    let doc = json!({"id": "demo", "resources": resources});
    parse_stack_json(&doc.to_string(), Path::new("test.json")).unwrap()
}

fn sim(stack: &Stack, platform: Platform, seed: u64) -> Sim {
    let profile = Profile::new(platform, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
    let mut config = SimConfig::new(seed, start());
    config.cold_starts = false;
    Sim::new(stack, profile, config)
}

fn behaviour(mode: Mode, duration: Duration) -> Box<Scripted> {
    Box::new(Scripted::new(Behaviour {
        mode,
        duration,
        ..Behaviour::default()
    }))
}

/// Offsets (seconds) of every delivery of `queue` to anyone.
fn deliveries(sim: &Sim, queue: &str) -> Vec<i64> {
    sim.trace()
        .events()
        .iter()
        .filter(|e| e.kind == Kind::Delivered && e.resource == queue)
        .map(|e| e.t_ms / 1000)
        .collect()
}

/// seed 001 / upstream-cloud-semantics.md §4.2: a handler that fails twice is redelivered
/// after the visibility timeout on AWS (max(30, min(43200, 6 × 60)) = 360 s), at once on GCP
/// (no retry policy) and Azure (abandon), and after the 30 s lease on Local.
#[test]
fn handler_fails_twice_per_platform() {
    let stack = queue_stack(60, &["processor"]);
    let expected: [(Platform, Vec<i64>); 4] = [
        (Platform::Aws, vec![0, 360, 720]),
        (Platform::Gcp, vec![0, 1, 2]),
        (Platform::Azure, vec![0, 1, 2]),
        (Platform::Local, vec![0, 30, 60]),
    ];
    for (platform, times) in expected {
        let mut s = sim(&stack, platform, 1);
        s.set_handler(
            "processor",
            behaviour(Mode::FailFirst { times: 2 }, Duration::from_secs(1)),
        )
        .unwrap();
        s.send("jobs", Payload::Json(json!({"n": 1})), SendVia::Binding)
            .unwrap();
        s.advance(Duration::from_secs(3600)).unwrap();
        assert_eq!(
            deliveries(&s, "jobs"),
            times,
            "{platform}\n{}",
            s.trace().render_text()
        );
        assert_eq!(s.trace().count(Kind::Acked, Some("jobs")), 1, "{platform}");
        assert_eq!(
            s.trace().count(Kind::Failed, Some("processor")),
            2,
            "{platform}"
        );
    }
}

/// upstream-stack-and-limits.md §6.2: Service Bus dead-letters after 10 deliveries; the
/// other platforms keep retrying.
#[test]
fn fail_always_dead_letters_only_on_azure() {
    let stack = queue_stack(30, &["processor"]);
    for platform in [
        Platform::Aws,
        Platform::Gcp,
        Platform::Azure,
        Platform::Local,
    ] {
        let mut s = sim(&stack, platform, 1);
        s.set_handler(
            "processor",
            behaviour(Mode::FailAlways, Duration::from_secs(1)),
        )
        .unwrap();
        s.send("jobs", Payload::Text("poison".into()), SendVia::Binding)
            .unwrap();
        s.advance(Duration::from_secs(3600)).unwrap();
        let dlq = s.dead_letters("jobs").unwrap();
        if platform == Platform::Azure {
            assert_eq!(dlq.len(), 1);
            assert_eq!(dlq[0].receive_count, 10);
            assert_eq!(deliveries(&s, "jobs").len(), 10);
        } else {
            assert!(dlq.is_empty(), "{platform}");
            assert!(deliveries(&s, "jobs").len() > 10, "{platform}");
        }
    }
}

/// upstream-cloud-semantics.md §4.2: Pub/Sub fans out to every push subscription; SQS and
/// the others have competing consumers.
#[test]
fn fan_out_on_gcp_competing_elsewhere() {
    let stack = queue_stack(60, &["a", "b"]);
    for (platform, copies) in [
        (Platform::Gcp, 2),
        (Platform::Aws, 1),
        (Platform::Azure, 1),
        (Platform::Local, 1),
    ] {
        let mut s = sim(&stack, platform, 1);
        s.send("jobs", Payload::Text("x".into()), SendVia::Binding)
            .unwrap();
        s.advance(Duration::from_secs(60)).unwrap();
        let succeeded = s.trace().count(Kind::Succeeded, Some("a"))
            + s.trace().count(Kind::Succeeded, Some("b"));
        assert_eq!(succeeded, copies, "{platform}\n{}", s.trace().render_text());
    }
}

/// SQS messages expire after the 4-day retention (upstream-stack-and-limits.md §6.2).
#[test]
fn retention_expires_failing_messages_on_aws() {
    let stack = queue_stack(900, &["processor"]);
    let mut s = sim(&stack, Platform::Aws, 1);
    s.set_handler(
        "processor",
        behaviour(Mode::FailAlways, Duration::from_secs(1)),
    )
    .unwrap();
    s.send("jobs", Payload::Text("x".into()), SendVia::Binding)
        .unwrap();
    s.advance(Duration::from_secs(5 * 86_400)).unwrap();
    let expired: Vec<_> = s
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == Kind::Expired)
        .collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].t_ms, 345_600_000);
    // visibility = min(43200, 6 × 900) = 5400 s: deliveries every 5400 s for 4 days.
    assert_eq!(deliveries(&s, "jobs").len(), 345_600 / 5400);
}

/// The binding caps messages at 64 KiB; SQS itself at 1 MiB today and 256 KiB before Aug 2025.
#[test]
fn message_size_limits() {
    let stack = queue_stack(60, &["processor"]);
    let mut s = sim(&stack, Platform::Aws, 1);
    let big = Payload::Text("x".repeat(65_537));
    let err = s.send("jobs", big.clone(), SendVia::Binding).unwrap_err();
    assert_eq!(
        err.to_string(),
        "BINDING_SETUP_FAILED: Message size 65537 bytes exceeds limit of 65536 bytes"
    );
    assert!(s.send("jobs", big, SendVia::Service).is_ok());
    let old = Profile::new(Platform::Aws, NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()).unwrap();
    let mut s = Sim::new(&stack, old, SimConfig::new(1, start()));
    assert!(
        s.send("jobs", Payload::Text("x".repeat(300_000)), SendVia::Service)
            .is_err()
    );
}

/// A handler slower than its timeout fails with a timeout and the platform's retry applies;
/// the runtime cuts event handlers at 300 s whatever the worker timeout.
#[test]
fn timeouts_and_the_event_task_cap() {
    let stack = queue_stack(600, &["processor"]);
    let mut s = sim(&stack, Platform::Aws, 1);
    s.set_handler(
        "processor",
        behaviour(Mode::Succeed, Duration::from_secs(400)),
    )
    .unwrap();
    s.send("jobs", Payload::Text("x".into()), SendVia::Binding)
        .unwrap();
    s.advance(Duration::from_secs(3601)).unwrap();
    let timed_out: Vec<i64> = s
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == Kind::TimedOut)
        .map(|e| e.t_ms / 1000)
        .collect();
    // visibility = min(43200, 3600) = 3600; each attempt is cut at 300 s.
    assert_eq!(timed_out, vec![300]);
    assert_eq!(deliveries(&s, "jobs"), vec![0, 3600]);
}

/// Same seed, same trace (determinism with faults drawing from the seeded RNG).
#[test]
fn same_seed_same_trace() {
    let stack = queue_stack(30, &["processor"]);
    let run = |seed: u64| {
        let profile =
            Profile::new(Platform::Aws, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
        let mut config = SimConfig::new(seed, start());
        config.faults = alien_emulator::engine::Faults::with_rates([
            (alien_emulator::engine::FaultKind::DuplicateDelivery, 0.2),
            (alien_emulator::engine::FaultKind::LostAck, 0.1),
        ]);
        let mut s = Sim::new(&stack, profile, config);
        s.set_handler(
            "processor",
            behaviour(Mode::FailProbability { p: 0.3 }, Duration::from_millis(500)),
        )
        .unwrap();
        for i in 0..50 {
            s.send("jobs", Payload::Json(json!({"i": i})), SendVia::Binding)
                .unwrap();
        }
        s.advance(Duration::from_secs(7200)).unwrap();
        s.trace().render_text()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

fn full_stack() -> Stack {
    let doc = json!({
        "id": "demo",
        "resources": {
            "uploads": {"config": {"type": "storage", "id": "uploads"}, "lifecycle": "frozen", "dependencies": []},
            "cache": {"config": {"type": "kv", "id": "cache"}, "lifecycle": "frozen", "dependencies": []},
            "api": {"config": {"type": "worker", "id": "api", "links": [], "permissions": "execution",
                "code": {"type": "image", "image": "x:1"}, "timeoutSeconds": 60, "memoryMb": 1024,
                "publicEndpoints": [{"name": "api"}], "concurrencyLimit": 2, "commandsEnabled": true,
                "triggers": [
                    {"type": "storage", "storage": {"type": "storage", "id": "uploads"}, "events": ["created", "deleted"]},
                    {"type": "schedule", "cron": "0 18 * * 5"}
                ]}, "lifecycle": "live", "dependencies": []},
            "agent": {"config": {"type": "daemon", "id": "agent", "links": [], "permissions": "execution",
                "code": {"type": "image", "image": "x:1"}, "commandsEnabled": true, "stopGracePeriodSeconds": 20},
                "lifecycle": "live", "dependencies": []}
        }
    });
    parse_stack_json(&doc.to_string(), Path::new("test.json")).unwrap()
}

/// upstream-stack-and-limits.md §5.5: `created` on AWS and Local, `Created` on GCP and Azure.
#[test]
fn storage_event_casing() {
    for (platform, expected) in [
        (Platform::Aws, "created"),
        (Platform::Gcp, "Created"),
        (Platform::Azure, "Created"),
        (Platform::Local, "created"),
    ] {
        let mut s = sim(&full_stack(), platform, 1);
        s.put_object("uploads", "a/b.txt", 10, "text/plain")
            .unwrap();
        s.advance(Duration::from_secs(10)).unwrap();
        let event = s
            .trace()
            .events()
            .iter()
            .find(|e| e.kind == Kind::StorageEvent)
            .expect("an event");
        assert_eq!(event.get("event"), Some(expected), "{platform}");
        assert_eq!(
            s.trace().count(Kind::Succeeded, Some("api")),
            1,
            "{platform}\n{}",
            s.trace().render_text()
        );
    }
    let mut s = sim(&full_stack(), Platform::Kubernetes, 1);
    s.put_object("uploads", "a", 1, "").unwrap();
    assert_eq!(
        s.trace().count(Kind::StorageEvent, None),
        0,
        "Kubernetes wires no trigger"
    );
}

/// Weekday 5: Friday in unix-cron (GCP, Azure), Thursday in EventBridge and the cron crate.
#[test]
fn numeric_weekday_fires_on_different_days() {
    for (platform, weekday) in [
        (Platform::Aws, "Thu"),
        (Platform::Gcp, "Fri"),
        (Platform::Local, "Thu"),
    ] {
        let mut s = sim(&full_stack(), platform, 1);
        s.advance(Duration::from_secs(8 * 86_400)).unwrap();
        let fires: Vec<_> = s
            .trace()
            .events()
            .iter()
            .filter(|e| e.kind == Kind::CronFired)
            .collect();
        assert_eq!(fires.len(), 1, "{platform}");
        assert_eq!(
            fires[0].at.format("%a %H:%M").to_string(),
            format!("{weekday} 18:00"),
            "{platform}"
        );
    }
    // Azure: the worker is public (min_replicas 1), so Dapr's cron fires in its replica.
    let mut s = sim(&full_stack(), Platform::Azure, 1);
    s.advance(Duration::from_secs(8 * 86_400)).unwrap();
    assert_eq!(s.trace().count(Kind::CronFired, None), 1);
}

/// Seed 001 Limits: Lambda 6 MB sync; reserved concurrency throttles with 429.
#[test]
fn http_limits() {
    let mut s = sim(&full_stack(), Platform::Aws, 1);
    s.set_handler("api", behaviour(Mode::Succeed, Duration::from_secs(5)))
        .unwrap();
    let big = s
        .invoke_http("api", "POST", "/upload", 7 * 1024 * 1024)
        .unwrap();
    let a = s.invoke_http("api", "GET", "/", 0).unwrap();
    let b = s.invoke_http("api", "GET", "/", 0).unwrap();
    let c = s.invoke_http("api", "GET", "/", 0).unwrap();
    s.advance(Duration::from_secs(10)).unwrap();
    let status = |id: &str| s.http_result(id).unwrap().status;
    assert_eq!(
        (status(&big), status(&a), status(&b), status(&c)),
        (413, 200, 200, 429)
    );
    let mut g = sim(&full_stack(), Platform::Gcp, 1);
    let ok = g
        .invoke_http("api", "POST", "/upload", 7 * 1024 * 1024)
        .unwrap();
    g.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(
        g.http_result(&ok).unwrap().status,
        200,
        "Cloud Run takes 32 MB"
    );
}

/// Seed 004: daemons refused on aws/gcp/azure; Local restarts after the 5 s Ready tick, and
/// failed starts back off 2^n s and give up after 10 (upstream-runtime-and-bindings.md §4.2).
#[test]
fn daemon_lifecycle() {
    let mut aws = sim(&full_stack(), Platform::Aws, 1);
    aws.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(aws.trace().count(Kind::DaemonRefused, Some("agent")), 1);

    let mut local = sim(&full_stack(), Platform::Local, 1);
    local.crash_daemon("agent", 1).unwrap();
    local.advance(Duration::from_secs(6)).unwrap();
    assert!(local.daemon_status("agent").unwrap().running);
    assert_eq!(local.daemon_status("agent").unwrap().restarts, 1);

    let mut failing = sim(&full_stack(), Platform::Local, 1);
    failing
        .set_daemon_behaviour(
            "agent",
            alien_emulator::engine::DaemonBehaviour {
                exit_after: Some(Duration::from_millis(10)),
                exit_code: 1,
                shutdown_takes: Duration::ZERO,
            },
        )
        .unwrap();
    failing.advance(Duration::from_secs(5000)).unwrap();
    let delays: Vec<String> = failing
        .trace()
        .events()
        .iter()
        .filter(|e| e.kind == Kind::DaemonRestartScheduled)
        .map(|e| e.get("in").unwrap().to_string())
        .collect();
    assert_eq!(
        delays,
        [
            "2s", "4s", "8s", "16s", "32s", "1m4s", "2m8s", "4m16s", "8m32s", "17m4s"
        ]
    );
    assert_eq!(failing.trace().count(Kind::DaemonGaveUp, Some("agent")), 1);

    let mut stopping = sim(&full_stack(), Platform::Kubernetes, 1);
    stopping
        .set_daemon_behaviour(
            "agent",
            alien_emulator::engine::DaemonBehaviour {
                exit_after: None,
                exit_code: 1,
                shutdown_takes: Duration::from_secs(60),
            },
        )
        .unwrap();
    stopping.stop_daemon("agent").unwrap();
    stopping.advance(Duration::from_secs(30)).unwrap();
    let killed = stopping
        .trace()
        .events()
        .iter()
        .find(|e| e.kind == Kind::DaemonKilled)
        .expect("killed after grace");
    assert_eq!(killed.t_ms, 20_000, "stopGracePeriodSeconds = 20");
}

/// Commands: push to a worker; lease by a daemon; deadline → EXPIRED.
#[test]
fn commands_push_lease_and_expire() {
    use alien_emulator::engine::CommandState;
    let mut s = sim(&full_stack(), Platform::Local, 1);
    let pushed = s
        .create_command("api", "add", json!({"a": 1}), None)
        .unwrap();
    let leased = s.create_command("agent", "sync", json!({}), None).unwrap();
    let by_name = |event: &alien_emulator::engine::Event,
                   _: &mut alien_emulator::engine::HandlerCtx| match event {
        alien_emulator::engine::Event::Command(c) if c.name == "slow" => {
            alien_emulator::engine::Reply::ok(Duration::from_secs(40))
        }
        _ => alien_emulator::engine::Reply::ok(Duration::from_secs(1)),
    };
    s.set_handler("agent", Box::new(by_name)).unwrap();
    // Polled at 5 s (after `sync`), runs 40 s, but its deadline is 30 s away.
    let slow = s
        .create_command("agent", "slow", json!({}), Some(Duration::from_secs(30)))
        .unwrap();
    s.advance(Duration::from_secs(300)).unwrap();
    assert_eq!(
        s.command_status(&pushed).unwrap().state,
        CommandState::Succeeded
    );
    assert_eq!(
        s.command_status(&leased).unwrap().state,
        CommandState::Succeeded,
        "{}",
        s.trace().render_text()
    );
    assert_eq!(
        s.command_status(&slow).unwrap().state,
        CommandState::Expired
    );
}

/// KV: lazy TTL expiry, conditional puts, key rules.
#[test]
fn kv_semantics() {
    use alien_providers::PutCondition;
    let mut s = sim(&full_stack(), Platform::Aws, 1);
    assert!(
        s.kv_put(
            "cache",
            "k",
            b"v".to_vec(),
            Some(Duration::from_secs(10)),
            PutCondition::Absent
        )
        .unwrap()
    );
    assert!(
        !s.kv_put("cache", "k", b"w".to_vec(), None, PutCondition::Absent)
            .unwrap()
    );
    s.advance(Duration::from_secs(11)).unwrap();
    assert!(
        s.kv_get("cache", "k").unwrap().is_none(),
        "expired keys read as absent"
    );
    assert!(
        s.kv_put("cache", "k", b"w".to_vec(), None, PutCondition::Absent)
            .unwrap()
    );
    let err = s
        .kv_put("cache", "bad key", vec![], None, PutCondition::None)
        .unwrap_err();
    assert!(
        err.to_string().contains("Key contains invalid characters"),
        "{err}"
    );
    let err = s
        .kv_put("cache", "big", vec![0; 24_577], None, PutCondition::None)
        .unwrap_err();
    assert!(
        err.to_string().contains("Value exceeds 24576 bytes"),
        "{err}"
    );
}

/// `alien emulate`: a real process answers later; the platform's timeout still applies and
/// a late answer is ignored.
#[test]
fn external_workers_answer_through_the_outbox() {
    use alien_emulator::engine::HandlerResult;
    let stack = queue_stack(60, &["processor"]);
    let mut s = sim(&stack, Platform::Aws, 1);
    s.set_external("processor").unwrap();
    s.send("jobs", Payload::Text("x".into()), SendVia::Binding)
        .unwrap();
    let first = s.take_dispatches();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].timeout, Duration::from_secs(60));
    s.complete(first[0].invocation, HandlerResult::Err("boom".into()));
    assert_eq!(s.trace().count(Kind::Failed, Some("processor")), 1);
    // AWS: visible again after the 360 s visibility timeout.
    s.advance(Duration::from_secs(359)).unwrap();
    assert!(s.take_dispatches().is_empty());
    s.advance(Duration::from_secs(1)).unwrap();
    let second = s.take_dispatches();
    assert_eq!(second.len(), 1);
    // No answer within 60 s: timed out; the late answer changes nothing.
    s.advance(Duration::from_secs(61)).unwrap();
    assert_eq!(s.trace().count(Kind::TimedOut, Some("processor")), 1);
    s.complete(
        second[0].invocation,
        HandlerResult::Ok {
            status: 200,
            body_bytes: 0,
        },
    );
    assert_eq!(s.trace().count(Kind::Acked, Some("jobs")), 0);
}

/// Durable state: after a restart nothing acked comes back, nothing unacked is lost, leases
/// resume, and Local fires one catch-up for cron slots missed while down (§4.3).
#[test]
fn state_survives_a_restart() {
    use alien_emulator::engine::{HandlerResult, SimState};
    let doc = json!({"id": "d", "resources": {
        "jobs": {"config": {"type": "queue", "id": "jobs"}, "lifecycle": "frozen", "dependencies": []},
        "w": {"config": {"type": "worker", "id": "w", "links": [], "permissions": "p", "code": {"type": "image", "image": "x"},
            "timeoutSeconds": 10, "triggers": [{"type": "queue", "queue": {"type": "queue", "id": "jobs"}}, {"type": "schedule", "cron": "0 * * * *"}]},
            "lifecycle": "live", "dependencies": []}}});
    let stack = parse_stack_json(&doc.to_string(), Path::new("d.json")).unwrap();
    let profile = || {
        Profile::new(
            Platform::Local,
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        )
        .unwrap()
    };
    let mut s = Sim::new(&stack, profile(), SimConfig::new(1, start()));
    s.set_external("w").unwrap();
    let acked = s
        .send("jobs", Payload::Text("a".into()), SendVia::Binding)
        .unwrap();
    let leased = s
        .send("jobs", Payload::Text("b".into()), SendVia::Binding)
        .unwrap();
    let waiting = s
        .send("jobs", Payload::Text("c".into()), SendVia::Binding)
        .unwrap();
    // Local claims the batch; the first is answered, the others are in the process's hands.
    let d = s.take_dispatches();
    s.complete(
        d[0].invocation,
        HandlerResult::Ok {
            status: 200,
            body_bytes: 0,
        },
    );
    s.advance(Duration::from_secs(3600)).unwrap();
    let state: SimState =
        serde_json::from_str(&serde_json::to_string(&s.export_state()).unwrap()).unwrap();
    // "kill -9": the process's answers are gone. Restart two hours later.
    let later = s.now() + chrono::Duration::hours(2);
    let mut r = Sim::restore(&stack, profile(), SimConfig::new(1, later), state);
    r.set_external("w").unwrap();
    // The catch-up reaches the worker once its process is attached.
    r.resume_deliveries();
    r.advance(Duration::from_secs(1)).unwrap();
    let pending = r.pending_message_ids("jobs").unwrap();
    assert!(!pending.contains(&acked), "nothing acked comes back");
    assert!(
        pending.contains(&leased) && pending.contains(&waiting),
        "nothing unacked is lost: {pending:?}"
    );
    let text = r.trace().render_text();
    assert_eq!(
        r.trace()
            .events()
            .iter()
            .filter(|e| e.kind == Kind::CronFired && e.get("why") == Some("catch-up"))
            .count(),
        1,
        "{text}"
    );
    assert!(
        r.trace().events().first().unwrap().kind == Kind::Sent,
        "the trace goes on from before the restart"
    );
}
