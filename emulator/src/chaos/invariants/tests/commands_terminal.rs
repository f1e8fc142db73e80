//! commands-terminal. Source: upstream-runtime-and-bindings.md §5.1 (CommandState PENDING →
//! DISPATCHED → SUCCEEDED | FAILED | EXPIRED; terminal states are final) and §5.2 (a passed
//! deadline makes a command EXPIRED).

use super::{assert_none, run, trace};
use crate::engine::Kind;
use crate::platform::Platform;

const NAME: &str = "commands-terminal";

#[test]
fn pushed_expired_and_leased_commands_end() {
    for name in ["commands-push-worker", "commands-deadline-expired"] {
        for &platform in &super::scenario(name).platforms {
            let run = run(name, platform, 1);
            assert_eq!(run.count(Kind::CommandCreated), 1);
            assert_none(&run.findings(NAME, true), &format!("{name} on {platform}"));
        }
    }
    // commands-daemon-lease.toml: attempt 1 dies with the daemon, attempt 2 succeeds.
    for platform in [Platform::Local, Platform::Kubernetes] {
        let run = run("commands-daemon-lease", platform, 1);
        assert_eq!(run.count(Kind::CommandLeaseExpired), 1);
        assert_none(&run.findings(NAME, true), &platform.to_string());
    }
}

#[test]
fn a_command_without_a_terminal_state_is_a_violation_once_drained() {
    // commands-daemon-lease.toml on AWS: no daemon controller, so the command stays PENDING.
    let run = run("commands-daemon-lease", Platform::Aws, 1);
    assert_none(&run.findings(NAME, false), "not drained");
    let findings = run.findings(NAME, true);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].subject, "agent/cmd-1");
    assert_eq!(
        findings[0].detail,
        "created at +00:00:00.000, last event command_created at +00:00:00.000: the drained \
         run ended with it neither succeeded, failed nor expired"
    );
}

#[test]
fn a_second_terminal_state_is_a_violation() {
    let run = run("commands-push-worker", Platform::Local, 1).with_trace(trace(&[
        (
            "0s",
            Kind::CommandCreated,
            "runner",
            Some("cmd-1"),
            &[("name", "resize")],
        ),
        (
            "2s",
            Kind::CommandSucceeded,
            "runner",
            Some("cmd-1"),
            &[("attempt", "1")],
        ),
        ("30s", Kind::CommandExpired, "runner", Some("cmd-1"), &[]),
    ]));
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        findings[0].detail,
        "reached command_succeeded at +00:00:02.000 and then command_expired at \
         +00:00:30.000: a terminal state is final"
    );
}
