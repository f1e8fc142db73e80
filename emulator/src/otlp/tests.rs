//! The trace → spans mapping on real scenario runs and on hand-written event sequences.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;

use super::*;
use crate::Platform;
use crate::engine::{Kind, TraceEvent, offset};
use crate::scenario::{load_scenario, run_scenario, scenario_files};

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// The spans of `scenario` (a file in scenarios/) on `platform`, and the run's start.
fn scenario_spans(scenario: &str, platform: Platform) -> (Vec<SpanData>, DateTime<Utc>) {
    spans_of_run(&scenarios_dir().join(scenario), platform)
}

fn spans_of_run(path: &Path, platform: Platform) -> (Vec<SpanData>, DateTime<Utc>) {
    let scenario = load_scenario(path).unwrap();
    let outcome = run_scenario(&scenario, platform, scenario.seed(None)).unwrap();
    let run = RunIdentity {
        stack_id: scenario.stack.id.clone(),
        platform,
        seed: outcome.seed,
        scenario: Some(outcome.scenario.clone()),
    };
    let mut builder = SpanBuilder::new(run.key());
    for event in outcome.trace.events() {
        builder.push(event);
    }
    (builder.finish(), scenario.start)
}

fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().to_string())
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn secs_after(span_time: std::time::SystemTime, start: std::time::SystemTime) -> f64 {
    span_time.duration_since(start).unwrap().as_secs_f64()
}

/// One block per span: name, kind, times from `start`, parent and links by name, status,
/// attributes, events.
fn render(spans: &[SpanData], start: DateTime<Utc>) -> String {
    let name_of = |id: SpanId| {
        spans
            .iter()
            .find(|s| s.span_context.span_id() == id)
            .map_or_else(|| format!("{id}"), |s| s.name.to_string())
    };
    let at =
        |t: std::time::SystemTime| offset((DateTime::<Utc>::from(t) - start).num_milliseconds());
    let mut out = String::new();
    for s in spans {
        let _ = writeln!(
            out,
            "{} [{:?}] {} .. {} trace={} span={}",
            s.name,
            s.span_kind,
            at(s.start_time),
            at(s.end_time),
            s.span_context.trace_id(),
            s.span_context.span_id()
        );
        if s.parent_span_id != SpanId::INVALID {
            let _ = writeln!(out, "  parent: {}", name_of(s.parent_span_id));
        }
        for link in s.links.iter() {
            let _ = writeln!(out, "  link: {}", name_of(link.span_context.span_id()));
        }
        if s.status != Status::Unset {
            let _ = writeln!(out, "  status: {:?}", s.status);
        }
        for kv in &s.attributes {
            let _ = writeln!(out, "  {} = {}", kv.key, kv.value);
        }
        for e in s.events.iter() {
            let attrs: Vec<String> = e
                .attributes
                .iter()
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect();
            let _ = writeln!(
                out,
                "  event {} {} {}",
                at(e.timestamp),
                e.name,
                attrs.join(" ")
            );
        }
    }
    out
}

/// A hand-written trace event `t` seconds into the run.
fn ev(
    seq: u64,
    t: i64,
    kind: Kind,
    resource: &str,
    subject: &str,
    detail: &[(&str, &str)],
) -> TraceEvent {
    TraceEvent {
        seq,
        at: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(t),
        t_ms: t * 1000,
        kind,
        resource: resource.to_string(),
        subject: (!subject.is_empty()).then(|| subject.to_string()),
        detail: detail
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn builder() -> SpanBuilder {
    SpanBuilder::new(ids::RunKey::new(&["test"]))
}

fn spans_of(events: &[TraceEvent]) -> Vec<SpanData> {
    let mut b = builder();
    for e in events {
        b.push(e);
    }
    b.finish()
}

/// upstream-cloud-semantics.md §0 item 2 (the scenario's source): SQS brings the failed
/// message back after the visibility timeout, 6 × 180 s = 1080 s, so the three attempts
/// start 0 s, 1080 s and 2160 s after the send; each is a child of the message span and
/// linked to it; the lease expiries are events on the message span.
#[test]
fn queue_handler_fails_twice_on_aws() {
    let (spans, start) = scenario_spans("queue-handler-fails-twice.toml", Platform::Aws);
    insta::assert_snapshot!(render(&spans, start));
    let message = named(&spans, "message jobs/m-1")[0];
    let attempts = named(&spans, "attempt jobs/m-1");
    assert_eq!(attempts.len(), 3);
    let rows: Vec<(String, String, f64)> = attempts
        .iter()
        .map(|a| {
            (
                attr(a, "alien.attempt").unwrap(),
                attr(a, "alien.outcome").unwrap(),
                secs_after(a.start_time, message.start_time),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("1".into(), "failed".into(), 0.0),
            ("2".into(), "failed".into(), 1080.0),
            ("3".into(), "succeeded".into(), 2160.0)
        ]
    );
    for a in &attempts {
        assert_eq!(a.span_context.trace_id(), message.span_context.trace_id());
        assert_eq!(a.parent_span_id, message.span_context.span_id());
        assert_eq!(a.links.len(), 1);
        assert_eq!(a.links[0].span_context, message.span_context);
        assert_eq!(a.span_kind, SpanKind::Consumer);
    }
    assert!(
        matches!(attempts[0].status, Status::Error { ref description } if description == "scripted failure 1 of 2")
    );
    assert_eq!(attempts[2].status, Status::Unset);
    let expiries: Vec<f64> = message
        .events
        .iter()
        .filter(|e| e.name == "lease_expired")
        .map(|e| secs_after(e.timestamp, message.start_time))
        .collect();
    assert_eq!(expiries, [1080.0, 2160.0]);
    assert_eq!(attr(message, "alien.outcome").as_deref(), Some("acked"));
    assert_eq!(secs_after(message.end_time, message.start_time), 2165.0);
}

/// The brief's rule: ids come from the run, so a replay exports the same ids; another seed
/// or platform gives other ids.
#[test]
fn a_replay_exports_the_same_ids() {
    let ids = |platform| {
        let (spans, _) = scenario_spans("queue-handler-fails-twice.toml", platform);
        spans
            .iter()
            .map(|s| (s.span_context.trace_id(), s.span_context.span_id()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(Platform::Aws), ids(Platform::Aws));
    assert_ne!(ids(Platform::Aws)[0], ids(Platform::Azure)[0]);
}

/// upstream-cloud-semantics.md §0 item 4 (the scenario's source): Pub/Sub gives each push
/// subscription its own copy; the message span ends at the last worker's ack, with one
/// attempt per subscription under it.
#[test]
fn a_fanned_out_message_ends_at_the_last_ack() {
    let (spans, _) = scenario_spans("queue-fan-out.toml", Platform::Gcp);
    let message = named(&spans, "message jobs/m-1")[0];
    let acks: Vec<String> = message
        .events
        .iter()
        .filter(|e| e.name == "acked")
        .map(|e| e.attributes[0].value.to_string())
        .collect();
    assert_eq!(acks, ["audit", "billing"]);
    let workers: Vec<String> = named(&spans, "attempt jobs/m-1")
        .iter()
        .map(|a| attr(a, "alien.worker").unwrap())
        .collect();
    assert_eq!(workers, ["audit", "billing"]);
}

/// fault-duplicate-delivery.toml (seed 008, at-least-once): two attempts run at once, each
/// ends at one outcome; the stale ack after the message left becomes a short span in the
/// message's trace under the message span.
#[test]
fn a_duplicate_delivery_gives_two_attempts_and_a_stale_ack_span() {
    let (spans, _) = scenario_spans("fault-duplicate-delivery.toml", Platform::Aws);
    let message = named(&spans, "message jobs/m-1")[0];
    let attempts = named(&spans, "attempt jobs/m-1");
    assert_eq!(attempts.len(), 2);
    assert!(
        attempts
            .iter()
            .all(|a| attr(a, "alien.outcome").as_deref() == Some("succeeded"))
    );
    let stale = named(&spans, "ack_stale jobs")[0];
    assert_eq!(stale.parent_span_id, message.span_context.span_id());
    assert_eq!(
        stale.span_context.trace_id(),
        message.span_context.trace_id()
    );
    assert_eq!(attr(stale, "alien.reason").as_deref(), Some("message gone"));
}

/// Events of no message: an HTTP request, its response and the invocation share a trace;
/// the invocation's span covers its `took`.
#[test]
fn events_of_one_request_share_a_trace() {
    let (spans, start) = scenario_spans("http-gateway-504.toml", Platform::Aws);
    insta::assert_snapshot!(render(&spans, start));
    let traces: Vec<_> = spans.iter().map(|s| s.span_context.trace_id()).collect();
    assert_eq!(spans.len(), 3);
    assert!(traces.iter().all(|t| *t == traces[0]));
    let invocation = named(&spans, "succeeded api")[0];
    assert_eq!(
        invocation
            .end_time
            .duration_since(invocation.start_time)
            .unwrap()
            .as_secs(),
        45
    );
}

/// A message nobody consumes (Kubernetes wires no trigger: upstream-cloud-semantics.md §0
/// item 7) is still open at the end: exported ending at the last event, outcome `open`.
#[test]
fn a_message_still_open_at_the_end_is_exported_as_open() {
    let (spans, _) = scenario_spans("queue-handler-fails-twice.toml", Platform::Kubernetes);
    let message = named(&spans, "message jobs/m-1")[0];
    assert_eq!(attr(message, "alien.outcome").as_deref(), Some("open"));
}

/// engine/queue_binding.rs: an app pulling through its binding gets `delivered
/// to=binding` and acks with `acked by=binding`; no worker outcome ends the attempt.
#[test]
fn a_pulled_delivery_ends_at_the_ack_or_lease_expiry() {
    let spans = spans_of(&[
        ev(0, 0, Kind::Sent, "jobs", "m-1", &[("bytes", "2")]),
        ev(
            1,
            1,
            Kind::Delivered,
            "jobs",
            "m-1",
            &[("to", "binding"), ("attempt", "1")],
        ),
        ev(
            2,
            31,
            Kind::LeaseExpired,
            "jobs",
            "m-1",
            &[("reason", "lease expired")],
        ),
        ev(
            3,
            40,
            Kind::Delivered,
            "jobs",
            "m-1",
            &[("to", "binding"), ("attempt", "2")],
        ),
        ev(4, 45, Kind::Acked, "jobs", "m-1", &[("by", "binding")]),
    ]);
    let outcomes: Vec<(String, Status)> = named(&spans, "attempt jobs/m-1")
        .iter()
        .map(|a| (attr(a, "alien.outcome").unwrap(), a.status.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("lease_expired".into(), Status::error("lease expired")),
            ("acked".into(), Status::Unset)
        ]
    );
    assert_eq!(
        attr(named(&spans, "message jobs/m-1")[0], "alien.outcome").as_deref(),
        Some("acked")
    );
}

/// engine/dead_letters.rs: a redrive keeps the message id in the dead-letter queue; its
/// span goes on in the same trace under the first one, which ends with status Error.
#[test]
fn a_redriven_message_goes_on_in_the_same_trace() {
    let spans = spans_of(&[
        ev(0, 0, Kind::Sent, "jobs", "m-1", &[]),
        ev(
            1,
            9,
            Kind::DeadLettered,
            "jobs",
            "m-1",
            &[("deliveries", "3"), ("to", "jobs-dlq")],
        ),
        ev(
            2,
            10,
            Kind::Delivered,
            "jobs-dlq",
            "m-1",
            &[("to", "janitor"), ("attempt", "1")],
        ),
        ev(3, 11, Kind::Succeeded, "janitor", "m-1", &[("took", "1s")]),
        ev(4, 11, Kind::Acked, "jobs-dlq", "m-1", &[("by", "janitor")]),
    ]);
    let first = named(&spans, "message jobs/m-1")[0];
    let redriven = named(&spans, "message jobs-dlq/m-1")[0];
    let attempt = named(&spans, "attempt jobs-dlq/m-1")[0];
    assert!(matches!(first.status, Status::Error { .. }));
    assert_eq!(redriven.parent_span_id, first.span_context.span_id());
    assert_eq!(
        redriven.span_context.trace_id(),
        first.span_context.trace_id()
    );
    assert_eq!(attempt.parent_span_id, redriven.span_context.span_id());
    assert_eq!(attr(redriven, "alien.outcome").as_deref(), Some("acked"));
}

/// Bounded memory: past the cap, new spans are dropped and counted; finished spans leave
/// the builder; a span keeps at most MAX_EVENTS_PER_SPAN events and counts the rest.
#[test]
fn memory_stays_bounded() {
    let mut b = SpanBuilder::with_cap(ids::RunKey::new(&["test"]), 2);
    for (seq, id) in ["m-1", "m-2", "m-3"].iter().enumerate() {
        b.push(&ev(seq as u64, 0, Kind::Sent, "jobs", id, &[]));
    }
    assert_eq!((b.open(), b.dropped()), (2, 1));
    b.push(&ev(3, 1, Kind::Acked, "jobs", "m-1", &[]));
    assert_eq!(b.take_finished().len(), 1);
    assert_eq!(b.open(), 1);
    for seq in 0..MAX_EVENTS_PER_SPAN as u64 + 5 {
        b.push(&ev(10 + seq, 2, Kind::LeaseExpired, "jobs", "m-2", &[]));
    }
    let rest = b.finish();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].events.len(), MAX_EVENTS_PER_SPAN);
    assert_eq!(rest[0].events.dropped_count, 5);
    assert_eq!(b.open(), 0);
}

/// OpenTelemetry trace API (parent and links name spans of the export): on every scenario
/// of scenarios/ and each of its platforms, span ids are unique and every parent and link
/// is an exported span of the same trace, so no span dangles under a missing parent
/// (gcp's storage notifications arrive as queue messages with no `sent`).
#[test]
fn every_parent_and_link_is_an_exported_span() {
    let mut runs = 0;
    for path in scenario_files(&scenarios_dir()).unwrap() {
        for platform in load_scenario(&path).unwrap().platforms {
            let (spans, _) = spans_of_run(&path, platform);
            let ids: HashSet<_> = spans
                .iter()
                .map(|s| (s.span_context.trace_id(), s.span_context.span_id()))
                .collect();
            let at = format!("{} on {platform}", path.display());
            assert_eq!(ids.len(), spans.len(), "duplicate span ids in {at}");
            for s in &spans {
                let trace = s.span_context.trace_id();
                if s.parent_span_id != SpanId::INVALID {
                    assert!(
                        ids.contains(&(trace, s.parent_span_id)),
                        "{} in {at}",
                        s.name
                    );
                }
                for link in s.links.iter() {
                    let target = (link.span_context.trace_id(), link.span_context.span_id());
                    assert!(ids.contains(&target), "link of {} in {at}", s.name);
                }
            }
            runs += 1;
        }
    }
    assert!(runs > 100, "{runs} runs");
}
