//! daemon-restart-policy. Source: upstream-cloud-semantics.md §7 (Local: restart at the next
//! 5 s Ready tick, an exit within 50 ms is a failed start; Kubernetes restartPolicy Always)
//! and upstream-runtime-and-bindings.md §4.2 (MAX_RETRIES 10, delay 2^attempt s); kubelet
//! CrashLoopBackOff (10 s doubling to 5 min, reset after 10 min running).

use super::{Line, assert_none, run, trace};
use crate::engine::{Kind, TraceEvent};
use crate::platform::Platform;

/// One event of daemon `agent`: offset, kind, detail.
type AgentLine<'a> = (&'a str, Kind, &'a [(&'a str, &'a str)]);

/// A trace of daemon `agent`.
fn agent(lines: &[AgentLine<'_>]) -> Vec<TraceEvent> {
    let lines: Vec<Line<'_>> = lines
        .iter()
        .map(|&(at, kind, detail)| (at, kind, "agent", None, detail))
        .collect();
    trace(&lines)
}

const NAME: &str = "daemon-restart-policy";

const SCENARIOS: [&str; 5] = [
    "daemon-crash-restart",
    "daemon-failed-starts",
    "daemon-preempted",
    "daemon-stop-clean",
    "daemon-stop-kill-after-grace",
];

#[test]
fn restarts_follow_the_local_and_kubernetes_policies() {
    for name in SCENARIOS {
        for platform in [Platform::Local, Platform::Kubernetes] {
            let run = run(name, platform, 1);
            assert!(run.count(Kind::DaemonExited) > 0, "{name} on {platform}");
            assert_none(&run.findings(NAME, true), &format!("{name} on {platform}"));
        }
    }
    // daemon-failed-starts.toml: Local gives up after 10 retries; Kubernetes reaches its cap.
    let local = run("daemon-failed-starts", Platform::Local, 1);
    assert_eq!(local.count(Kind::DaemonGaveUp), 1);
    let k8s = run("daemon-failed-starts", Platform::Kubernetes, 1);
    assert!(k8s.trace.iter().any(|e| e.get("in") == Some("5m")));
}

#[test]
fn a_wrong_back_off_is_a_violation() {
    let run = run("daemon-failed-starts", Platform::Local, 1).with_trace(agent(&[
        ("0s", Kind::DaemonStarted, &[("restarts", "0")]),
        (
            "10ms",
            Kind::DaemonExited,
            &[("code", "1"), ("ran", "10ms")],
        ),
        ("10ms", Kind::DaemonRestartScheduled, &[("in", "2s")]),
        ("2010ms", Kind::DaemonStarted, &[("restarts", "1")]),
        (
            "2020ms",
            Kind::DaemonExited,
            &[("code", "1"), ("ran", "10ms")],
        ),
        ("2020ms", Kind::DaemonRestartScheduled, &[("in", "2s")]),
    ]));
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].at_ms, 2020);
    assert!(
        findings[0].detail.starts_with(
            "exited at +00:00:02.020 (code=1 ran=10ms) after 1 consecutive failure(s); a \
             restart was scheduled in 2s at +00:00:02.020, but the local policy gives a \
             restart in 4 s"
        ),
        "{}",
        findings[0].detail
    );
}

#[test]
fn a_start_after_giving_up_is_a_violation() {
    // daemon-failed-starts.toml on Local gives up at +00:34:06.110; then a start appears.
    let real = run("daemon-failed-starts", Platform::Local, 1);
    let mut events = real.trace.clone();
    let mut start = agent(&[("1h", Kind::DaemonStarted, &[("restarts", "11")])]);
    start[0].seq = events.len() as u64;
    events.append(&mut start);
    let run = real.with_trace(events);
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        findings[0].detail,
        "started again at +01:00:00.000 after giving up at +00:34:06.110 (failed_starts=10): \
         the platform restarts nothing once it gave up"
    );
}

#[test]
fn a_restart_after_a_stop_is_a_violation() {
    let run = run("daemon-stop-clean", Platform::Kubernetes, 1).with_trace(agent(&[
        ("0s", Kind::DaemonStarted, &[("restarts", "0")]),
        (
            "1m",
            Kind::DaemonSigterm,
            &[("why", "stop"), ("grace", "30s")],
        ),
        (
            "62s",
            Kind::DaemonExited,
            &[("code", "143"), ("ran", "1m2s")],
        ),
        ("62s", Kind::DaemonRestartScheduled, &[("in", "10s")]),
    ]));
    let findings = run.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0]
            .detail
            .contains("but the kubernetes policy gives no restart")
    );
}

#[test]
fn crash_loop_back_off_resets_after_ten_minutes_running() {
    let lines = |second_delay: &'static str| {
        agent(&[
            ("0s", Kind::DaemonStarted, &[("restarts", "0")]),
            ("1m", Kind::DaemonExited, &[("code", "137"), ("ran", "1m")]),
            ("1m", Kind::DaemonRestartScheduled, &[("in", "10s")]),
            ("70s", Kind::DaemonStarted, &[("restarts", "1")]),
            (
                "1h",
                Kind::DaemonExited,
                &[("code", "137"), ("ran", "58m50s")],
            ),
            ("1h", Kind::DaemonRestartScheduled, &[("in", second_delay)]),
        ])
    };
    let ok = run("daemon-crash-restart", Platform::Kubernetes, 1).with_trace(lines("10s"));
    assert_none(&ok.findings(NAME, false), "reset after 10 min");
    let wrong = ok.with_trace(lines("20s"));
    let findings = wrong.findings(NAME, false);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0]
            .detail
            .contains("the kubernetes policy gives a restart in 10 s")
    );
}
