//! Worker host start-up and stop paths that need no Alien app: shell scripts stand in for
//! apps that die, never connect, or print their environment.
#![cfg(unix)]

use std::time::Duration;

use alien_emulator::emulate::host::{
    HostConfig, HostError, HostEvent, LogLine, LogSink, ProcessSpec, StartupStage, TaskOutcome,
    WorkerEvent, WorkerHost,
};
use alien_emulator::engine::{CronEvent, Event};
use tokio::sync::mpsc;

const BOUND: Duration = Duration::from_secs(30);

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("/bin/sh").arg("-c").arg(script)
}

struct Observed {
    logs: mpsc::UnboundedReceiver<LogLine>,
    events: mpsc::UnboundedReceiver<WorkerEvent>,
}

fn config(worker: &str, process: ProcessSpec) -> (HostConfig, Observed) {
    let (log_tx, logs) = mpsc::unbounded_channel();
    let (event_tx, events) = mpsc::unbounded_channel();
    let mut config = HostConfig::new(worker, process);
    config.log_sink = LogSink::channel(log_tx);
    config.events = Some(event_tx);
    (config, Observed { logs, events })
}

/// Lines received so far, after waiting until one matches `until` (bounded).
async fn lines_until(
    logs: &mut mpsc::UnboundedReceiver<LogLine>,
    until: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(BOUND, async {
        while let Some(line) = logs.recv().await {
            let done = until(&line.line);
            seen.push(line.line);
            if done {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(found, Ok(true)), "no matching line; saw {seen:?}");
    seen
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<WorkerEvent>) -> HostEvent {
    let event = tokio::time::timeout(BOUND, events.recv())
        .await
        .expect("a host event in time")
        .expect("event channel open");
    event.event
}

fn cron() -> Event {
    Event::Cron(CronEvent {
        schedule_name: "*".into(),
        scheduled_time: chrono::Utc::now(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_exits_during_startup_is_reported_with_status_and_output() {
    let (config, _observed) = config(
        "processor",
        sh("echo 'panicked: Failed to create Alien context' >&2; exit 101"),
    );
    let error = tokio::time::timeout(BOUND, WorkerHost::start(config))
        .await
        .expect("start returns in time")
        .err()
        .expect("start fails");
    match &error {
        HostError::ExitedDuringStartup {
            worker,
            stage,
            status,
            last_lines,
            ..
        } => {
            assert_eq!(worker, "processor");
            assert_eq!(*stage, StartupStage::HttpServer);
            assert_eq!(status.code, Some(101));
            assert_eq!(last_lines, &["panicked: Failed to create Alien context"]);
        }
        other => panic!("unexpected error: {other}"),
    }
    let text = error.to_string();
    assert!(text.contains("worker `processor`"), "{text}");
    assert!(text.contains("exit code 101"), "{text}");
    assert!(text.contains("Failed to create Alien context"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_json_binding_is_refused_before_spawning() {
    let (config, _observed) = config(
        "processor",
        sh("exit 0").env("ALIEN_CACHE_BINDING", "local-kv"),
    );
    let error = WorkerHost::start(config).await.err().expect("refused");
    assert!(matches!(error, HostError::Env { .. }), "{error}");
    assert!(error.to_string().contains("ALIEN_CACHE_BINDING"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_program_is_a_spawn_error() {
    let (config, _observed) = config(
        "processor",
        ProcessSpec::new("/nonexistent/alien-worker-app"),
    );
    let error = WorkerHost::start(config).await.err().expect("refused");
    assert!(matches!(error, HostError::Spawn { .. }), "{error}");
    assert!(
        error.to_string().contains("/nonexistent/alien-worker-app"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_gets_the_env_contract_and_a_silent_app_is_stopped() {
    // Prints its ALIEN_* env, never connects: start-up waits time out (a warning, as
    // upstream), deliveries find no subscriber, stop ends the process group.
    let (mut config, mut observed) = config(
        "processor",
        sh("env | grep '^ALIEN_' | sort; echo done; exec sleep 60")
            .env(
                "ALIEN_CACHE_BINDING",
                r#"{"service":"local-kv","dataDir":"/tmp/x"}"#,
            )
            .env("LOG_LEVEL", "info"),
    );
    config.timeout_seconds = 60;
    config.http_register_timeout = Duration::from_millis(300);
    config.subscriber_timeout = Duration::from_millis(300);
    let host = tokio::time::timeout(BOUND, WorkerHost::start(config))
        .await
        .expect("start returns in time")
        .expect("start succeeds despite the silent app");
    let address = host.grpc_address().expect("running").to_string();
    let lines = lines_until(&mut observed.logs, |line| line == "done").await;
    for expected in [
        format!("ALIEN_WORKER_GRPC_ADDRESS={address}"),
        format!("ALIEN_BINDINGS_GRPC_ADDRESS={address}"),
        "ALIEN_TRANSPORT=local".to_string(),
        "ALIEN_DEPLOYMENT_TYPE=local".to_string(),
        "ALIEN_CURRENT_WORKER_BINDING_NAME=processor".to_string(),
        "ALIEN_WORKER_TIMEOUT_SECONDS=60".to_string(),
        "ALIEN_RUNTIME_SEND_OTLP=false".to_string(),
        r#"ALIEN_CACHE_BINDING={"service":"local-kv","dataDir":"/tmp/x"}"#.to_string(),
    ] {
        assert!(lines.contains(&expected), "missing {expected} in {lines:?}");
    }
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert_eq!(host.http_port().await, None);

    let pid = host.pid().expect("running");
    assert_eq!(
        next_event(&mut observed.events).await,
        HostEvent::Started {
            pid,
            http_port: None,
            grpc_address: address.parse().unwrap(),
        }
    );
    match host.deliver(&cron(), Duration::from_secs(1)).await {
        TaskOutcome::Error { code, message } => {
            assert_eq!(code, TaskOutcome::HOST_UNAVAILABLE);
            assert!(
                message.contains("No application task subscriber"),
                "{message}"
            );
        }
        other => panic!("unexpected outcome {other:?}"),
    }

    tokio::time::timeout(BOUND, host.stop(Duration::from_secs(5)))
        .await
        .expect("stop in time")
        .expect("stop succeeds");
    match next_event(&mut observed.events).await {
        HostEvent::Exited {
            pid: exited,
            status,
            expected,
        } => {
            assert_eq!(exited, pid);
            assert!(expected);
            assert_eq!(status.signal, Some(15), "{status}");
        }
        other => panic!("unexpected event {other:?}"),
    }
    assert_eq!(host.pid(), None);
    match host.deliver(&cron(), Duration::from_secs(1)).await {
        TaskOutcome::Error { code, message } => {
            assert_eq!(code, TaskOutcome::HOST_UNAVAILABLE);
            assert!(message.contains("stopped"), "{message}");
        }
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_escalates_to_sigkill_after_the_grace() {
    let (mut config, mut observed) = config(
        "stubborn",
        sh("trap '' TERM; echo ready; while :; do sleep 1; done"),
    );
    config.http_register_timeout = Duration::from_millis(200);
    config.subscriber_timeout = Duration::from_millis(200);
    let host = WorkerHost::start(config).await.expect("start");
    lines_until(&mut observed.logs, |line| line == "ready").await;
    let started = std::time::Instant::now();
    tokio::time::timeout(BOUND, host.stop(Duration::from_millis(500)))
        .await
        .expect("stop in time")
        .expect("stop succeeds");
    assert!(started.elapsed() >= Duration::from_millis(500));
    let exit = loop {
        if let HostEvent::Exited { status, .. } = next_event(&mut observed.events).await {
            break status;
        }
    };
    assert_eq!(exit.signal, Some(9), "{exit}");
}
