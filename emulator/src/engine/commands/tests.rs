//! Commands in the engine: leases, releases, responses and deadlines in virtual time.
use std::path::Path;

use chrono::{NaiveDate, TimeZone};
use serde_json::json;

use super::*;
use crate::Platform;
use crate::engine::SimConfig;
use crate::profile::Profile;

/// A command-enabled daemon run by a real process (no scripted polls), a command-enabled
/// worker run by a real process, and a daemon without commands (also the commands API's
/// test stack).
pub(crate) fn commands_stack() -> crate::stack::Stack {
    crate::stack::parse_stack_json(
        r#"{"id":"s","resources":{
          "agent":{"config":{"type":"daemon","id":"agent","links":[],"permissions":"p",
            "code":{"type":"image","image":"x"},"commandsEnabled":true},"lifecycle":"live","dependencies":[]},
          "quiet":{"config":{"type":"daemon","id":"quiet","links":[],"permissions":"p",
            "code":{"type":"image","image":"x"}},"lifecycle":"live","dependencies":[]},
          "api":{"config":{"type":"worker","id":"api","links":[],"permissions":"p",
            "code":{"type":"image","image":"x"},"triggers":[],"commandsEnabled":true},"lifecycle":"live","dependencies":[]}}}"#,
        Path::new("s.json"),
    )
    .unwrap()
}

/// [`commands_stack`] on the Local profile from 2026-01-05, `agent` and `api` external; the
/// engine never moves unless a test advances it.
pub(crate) fn commands_sim(stack: &crate::stack::Stack) -> Sim {
    let profile = Profile::new(
        Platform::Local,
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
    )
    .unwrap();
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
    let mut sim = Sim::new(stack, profile, SimConfig::new(1, start));
    sim.set_daemon_external("agent").unwrap();
    sim.set_external("api").unwrap();
    sim
}

fn sim() -> Sim {
    commands_sim(&commands_stack())
}

fn create(sim: &mut Sim, name: &str, deadline: Option<Duration>) -> String {
    sim.create_command("agent", name, json!({"n": name}), deadline)
        .unwrap()
}

fn state(sim: &Sim, id: &str) -> (CommandState, u32) {
    let status = sim.command_status(id).unwrap();
    (status.state, status.attempt)
}

/// §5.2/§5.5: a lease takes PENDING commands of the target oldest first, up to maxLeases,
/// marks them DISPATCHED and carries what the envelope needs.
#[test]
fn lease_takes_the_oldest_pending_commands() {
    let mut sim = sim();
    let first = create(&mut sim, "one", Some(Duration::from_secs(600)));
    let second = create(&mut sim, "two", None);
    let third = create(&mut sim, "three", None);
    let grants = sim.lease_commands("agent", 2, 60).unwrap();
    let ids: Vec<&str> = grants.iter().map(|g| g.command_id.as_str()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    let g = &grants[0];
    assert_eq!(g.attempt, 1);
    assert_eq!(g.name, "one");
    assert_eq!(g.params, json!({"n": "one"}));
    assert_eq!(g.deadline, Some(sim.now() + TimeDelta::seconds(600)));
    assert_eq!(g.lease_expires_at, sim.now() + TimeDelta::seconds(60));
    assert_eq!(
        g.target,
        CommandTarget {
            resource_id: "agent".into(),
            resource_type: "daemon"
        }
    );
    assert_ne!(grants[0].lease_id, grants[1].lease_id);
    assert_eq!(state(&sim, &first), (CommandState::Dispatched, 1));
    assert_eq!(state(&sim, &third), (CommandState::Pending, 1));
    let next = sim.lease_commands("agent", 5, 60).unwrap();
    assert_eq!(next.len(), 1, "only the third is still PENDING");
    assert_eq!(next[0].command_id, third);
}

/// §5.2: a lease that runs out without a response frees the command, and the next lease
/// carries attempt 2 (at-least-once redelivery, §5.5).
#[test]
fn a_lease_that_runs_out_comes_back_with_attempt_2() {
    let mut sim = sim();
    let id = create(&mut sim, "sync", None);
    sim.lease_commands("agent", 1, 30).unwrap();
    sim.advance(Duration::from_secs(29)).unwrap();
    assert_eq!(state(&sim, &id), (CommandState::Dispatched, 1));
    sim.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(state(&sim, &id), (CommandState::Pending, 2));
    assert_eq!(
        sim.trace().count(Kind::CommandLeaseExpired, Some("agent")),
        1
    );
    let again = sim.lease_commands("agent", 1, 30).unwrap();
    assert_eq!(
        (again[0].command_id.as_str(), again[0].attempt),
        (id.as_str(), 2)
    );
}

/// §5.2 (deadline-passed commands become EXPIRED) and §5.4 (a late response to a terminal
/// command is refused; receivers count 409/410 as success).
#[test]
fn a_deadline_passing_while_leased_expires_and_a_late_submit_is_refused() {
    let mut sim = sim();
    let id = create(&mut sim, "slow", Some(Duration::from_secs(10)));
    sim.lease_commands("agent", 1, 60).unwrap();
    sim.advance(Duration::from_secs(10)).unwrap();
    assert_eq!(state(&sim, &id), (CommandState::Expired, 1));
    let err = sim
        .submit_command_success(&id, b"late".to_vec())
        .unwrap_err();
    assert_eq!(
        err,
        CommandError::Finished {
            id: id.clone(),
            state: CommandState::Expired
        }
    );
    assert_eq!(err.code(), "COMMAND_EXPIRED");
    assert_eq!(sim.command_status(&id).unwrap().response, None);
}

/// §5.2: a lease whose deadline passed between two engine steps is expired by the lease
/// and by the status read, not handed out.
#[test]
fn lease_and_status_expire_deadline_passed_commands() {
    let mut sim = sim();
    let now = sim.now();
    let leased = sim
        .create_command_request(Some("agent"), "a", json!({}), Some(now), None)
        .unwrap();
    let polled = sim
        .create_command_request(Some("api"), "b", json!({}), Some(now), None)
        .unwrap();
    assert!(sim.lease_commands("agent", 1, 60).unwrap().is_empty());
    assert_eq!(state(&sim, &leased.command_id).0, CommandState::Expired);
    assert_eq!(state(&sim, &polled.command_id).0, CommandState::Dispatched);
    let status = sim.refresh_command_status(&polled.command_id).unwrap();
    assert_eq!(status.state, CommandState::Expired);
    assert_eq!(status.error_code.as_deref(), Some("COMMAND_EXPIRED"));
}

/// §5.2: release returns the command to PENDING and increments the attempt; the released
/// lease is over (a second release or its expiry does nothing more).
#[test]
fn release_returns_the_command_with_the_next_attempt() {
    let mut sim = sim();
    let id = create(&mut sim, "sync", None);
    let lease = sim
        .lease_commands("agent", 1, 60)
        .unwrap()
        .remove(0)
        .lease_id;
    let status = sim.release_lease(&lease).unwrap();
    assert_eq!((status.state, status.attempt), (CommandState::Pending, 2));
    assert_eq!(
        sim.trace().count(Kind::CommandLeaseReleased, Some("agent")),
        1
    );
    let again = sim.release_lease(&lease).unwrap_err();
    assert_eq!(again.code(), "CONFLICT");
    sim.advance(Duration::from_secs(120)).unwrap();
    assert_eq!(state(&sim, &id), (CommandState::Pending, 2));
    assert_eq!(sim.trace().count(Kind::CommandLeaseExpired, None), 0);
    for unknown in ["lease-999", "nope"] {
        assert_eq!(
            sim.release_lease(unknown).unwrap_err(),
            CommandError::UnknownLease(unknown.into())
        );
    }
}

/// §5.1: a success response makes a DISPATCHED command SUCCEEDED and is kept for status;
/// a second response is a conflict and the lease is over.
#[test]
fn submit_success_is_stored_and_a_second_submit_conflicts() {
    let mut sim = sim();
    let id = create(&mut sim, "sync", None);
    let lease = sim
        .lease_commands("agent", 1, 60)
        .unwrap()
        .remove(0)
        .lease_id;
    let status = sim
        .submit_command_success(&id, b"{\"ok\":true}".to_vec())
        .unwrap();
    assert_eq!(status.state, CommandState::Succeeded);
    assert_eq!(status.response, Some(Ok(b"{\"ok\":true}".to_vec())));
    let again = sim.submit_command_success(&id, Vec::new()).unwrap_err();
    assert_eq!(again.code(), "CONFLICT");
    assert_eq!(sim.release_lease(&lease).unwrap_err().code(), "CONFLICT");
    assert_eq!(
        sim.submit_command_success("cmd-404", Vec::new())
            .unwrap_err(),
        CommandError::UnknownCommand("cmd-404".into())
    );
}

/// §5.1: an error response makes the command FAILED with the receiver's code, message
/// and details.
#[test]
fn submit_error_fails_the_command() {
    let mut sim = sim();
    let id = create(&mut sim, "sync", None);
    sim.lease_commands("agent", 1, 60).unwrap();
    let status = sim
        .submit_command_error(&id, "UNKNOWN_COMMAND", "no handler", Some(json!({"a": 1})))
        .unwrap();
    assert_eq!(status.state, CommandState::Failed);
    assert_eq!(status.error_code.as_deref(), Some("UNKNOWN_COMMAND"));
    assert_eq!(
        status.response,
        Some(Err(CommandFailure {
            code: "UNKNOWN_COMMAND".into(),
            message: "no handler".into(),
            details: Some(json!({"a": 1})),
        }))
    );
    assert_eq!(sim.trace().count(Kind::CommandFailed, Some("agent")), 1);
}

/// §5.1 state machine: PENDING → SUCCEEDED is not a transition (e.g. a response after the
/// lease ran out).
#[test]
fn a_pending_command_refuses_a_response() {
    let mut sim = sim();
    let id = create(&mut sim, "sync", None);
    let err = sim.submit_command_success(&id, Vec::new()).unwrap_err();
    assert_eq!(err.code(), "INVALID_STATE_TRANSITION");
    assert_eq!(state(&sim, &id), (CommandState::Pending, 1));
}

/// §5.3: commands to workers are pushed, not leased; leases need a command-enabled target.
#[test]
fn lease_needs_a_command_enabled_daemon() {
    let mut sim = sim();
    let codes: Vec<&str> = ["api", "quiet", "ghost"]
        .iter()
        .map(|t| sim.lease_commands(t, 1, 60).unwrap_err().code())
        .collect();
    assert_eq!(
        codes,
        ["INVALID_COMMAND", "INVALID_COMMAND", "TARGET_NOT_FOUND"]
    );
    assert_eq!(
        sim.lease_commands("quiet", 1, 60).unwrap_err().to_string(),
        "daemon 'quiet' does not have commandsEnabled"
    );
}

/// §5.4: the app's `TaskSuccess{response_data}` becomes the stored success response.
#[test]
fn a_pushed_commands_response_carries_the_apps_bytes() {
    let mut sim = sim();
    let id = sim
        .create_command("api", "add", json!({"a": 1}), None)
        .unwrap();
    sim.advance(Duration::ZERO).unwrap();
    let dispatch = sim.take_dispatches().remove(0);
    sim.set_command_response_data(&id, b"{\"sum\":3}".to_vec())
        .unwrap();
    sim.complete(
        dispatch.invocation,
        HandlerResult::Ok {
            status: 200,
            body_bytes: 9,
        },
    );
    let status = sim.command_status(&id).unwrap();
    assert_eq!(status.state, CommandState::Succeeded);
    assert_eq!(status.response, Some(Ok(b"{\"sum\":3}".to_vec())));
    assert_eq!(status.target.resource_type, "worker");
    assert!(
        sim.set_command_response_data("cmd-404", Vec::new())
            .is_err()
    );
}

/// §5.4: the app's `TaskError{code, message}` arrives as `"CODE: message"` and keeps the
/// app's code (Rust SDK `COMMAND_ERROR`, TS SDK `ERROR`).
#[test]
fn a_pushed_commands_error_keeps_the_apps_code() {
    let mut sim = sim();
    let id = sim.create_command("api", "x", json!({}), None).unwrap();
    sim.advance(Duration::ZERO).unwrap();
    let dispatch = sim.take_dispatches().remove(0);
    sim.complete(
        dispatch.invocation,
        HandlerResult::Err("COMMAND_ERROR: No handler for command: x".into()),
    );
    assert_eq!(
        sim.command_status(&id).unwrap().response,
        Some(Err(CommandFailure::new(
            "COMMAND_ERROR",
            "No handler for command: x"
        )))
    );
    let cases = [
        ("ERROR: boom", "ERROR", "boom"),
        ("E2E_1: a: b", "E2E_1", "a: b"),
        ("boom", "COMMAND_ERROR", "boom"),
        ("note: lower case", "COMMAND_ERROR", "note: lower case"),
        (
            "_X: leading underscore",
            "COMMAND_ERROR",
            "_X: leading underscore",
        ),
    ];
    for (text, code, message) in cases {
        assert_eq!(
            CommandFailure::from_task_error(text),
            CommandFailure::new(code, message),
            "{text}"
        );
    }
}

/// §5.2: an idempotency key maps to its command for 24 h, per target and command name.
#[test]
fn an_idempotency_key_returns_the_existing_command_for_24_hours() {
    let mut sim = sim();
    let create = |sim: &mut Sim, name: &str| {
        sim.create_command_request(Some("agent"), name, json!({}), None, Some("k1"))
            .unwrap()
    };
    let first = create(&mut sim, "sync");
    assert!(first.created);
    let twin = create(&mut sim, "sync");
    assert_eq!(
        (twin.command_id.as_str(), twin.created),
        (first.command_id.as_str(), false)
    );
    assert_eq!(twin.state, CommandState::Pending);
    assert!(create(&mut sim, "other").created, "another command name");
    sim.advance(Duration::from_secs(24 * 3600)).unwrap();
    let later = create(&mut sim, "sync");
    assert!(later.created);
    assert_ne!(later.command_id, first.command_id);
}

/// §5.2: without `targetResourceId` the command goes to the single command-enabled
/// resource; with several there is no default.
#[test]
fn the_default_target_needs_exactly_one_command_enabled_resource() {
    let mut sim = sim();
    let err = sim
        .create_command_request(None, "sync", json!({}), None, None)
        .unwrap_err();
    assert_eq!(err, CommandError::NoDefaultTarget(2));
    let stack = crate::stack::parse_stack_json(
        r#"{"id":"s","resources":{"agent":{"config":{"type":"daemon","id":"agent","links":[],
          "permissions":"p","code":{"type":"image","image":"x"},"commandsEnabled":true},
          "lifecycle":"live","dependencies":[]}}}"#,
        Path::new("s.json"),
    )
    .unwrap();
    let mut single = Sim::new(&stack, sim.profile().clone(), SimConfig::new(1, sim.now()));
    let created = single
        .create_command_request(None, "sync", json!({}), None, None)
        .unwrap();
    let status = single.command_status(&created.command_id).unwrap();
    assert_eq!(status.target.resource_id, "agent");
}
