//! Queue attributes set on the service (SQS `VisibilityTimeout`, `MaximumMessageSize`, a
//! redrive policy's `maxReceiveCount`) over the profile's, in virtual time.

use std::path::Path;
use std::time::Duration;

use alien_emulator::Platform;
use alien_emulator::engine::{QueueSettings, SendVia, Sim, SimConfig};
use alien_emulator::profile::Profile;
use alien_emulator::stack::parse_stack_json;
use alien_providers::{ErrorKind, Payload};
use chrono::{NaiveDate, TimeZone, Utc};

fn sim(settings: QueueSettings) -> Sim {
    let stack = parse_stack_json(
        r#"{"id":"s","resources":{"q":{"config":{"type":"queue","id":"q"},"lifecycle":"frozen","dependencies":[]}}}"#,
        Path::new("s.json"),
    )
    .unwrap();
    let profile = Profile::new(
        Platform::Aws,
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
    )
    .unwrap();
    let mut sim = Sim::new(
        &stack,
        profile,
        SimConfig::new(1, Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()),
    );
    sim.set_queue_settings("q", settings).unwrap();
    sim
}

/// SQS SetQueueAttributes: `MaximumMessageSize` is enforced, within the 1 MiB service limit
/// (upstream-cloud-semantics.md; SQS quotas: 1,048,576 bytes since 2025).
#[test]
fn maximum_message_size_is_enforced() {
    let mut s = sim(QueueSettings {
        max_message_bytes: Some(1024),
        ..QueueSettings::default()
    });
    assert!(
        s.send("q", Payload::Text("x".repeat(1024)), SendVia::Service)
            .is_ok()
    );
    let err = s
        .send("q", Payload::Text("x".repeat(1025)), SendVia::Service)
        .unwrap_err();
    assert!(err.to_string().contains("1024"), "{err}");
    let mut s = sim(QueueSettings::default());
    assert!(
        s.send("q", Payload::Text("x".repeat(1_048_576)), SendVia::Service)
            .is_ok()
    );
    let err = alien_providers::ProviderError::from(
        s.send("q", Payload::Text("x".repeat(1_048_577)), SendVia::Service)
            .unwrap_err(),
    );
    assert_eq!(
        err.kind.name(),
        ErrorKind::PayloadTooLarge { size: 0, limit: 0 }.name()
    );
}

/// SQS dead-letter queues: a message received `maxReceiveCount` times without being deleted
/// moves to the DLQ, keeping its receive count; `VisibilityTimeout` sets the lease.
#[test]
fn redrive_moves_the_message_with_its_receive_count() {
    let mut s = sim(QueueSettings {
        visibility_timeout: Some(Duration::from_secs(1)),
        max_receive_count: Some(2),
        ..QueueSettings::default()
    });
    s.send("q", Payload::Text("m".into()), SendVia::Service)
        .unwrap();
    for attempt in 1..=2 {
        let got = s.receive("q", 1, None).unwrap();
        assert_eq!(got[0].attempt, attempt);
        assert!(s.receive("q", 1, None).unwrap().is_empty(), "leased");
        s.advance(Duration::from_millis(1_100)).unwrap();
    }
    assert!(s.receive("q", 1, None).unwrap().is_empty());
    let dead = s.dead_letters("q").unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].receive_count, 2);
}
