//! Inputs to steps, gaps and the file: rendered, read back with `parse_scenario` and replayed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alien_providers::Payload;
use serde_json::json;

use super::{Dirs, actions, at, mins, parse, session, start};
use crate::Platform;
use crate::emulate::record::writer::relative_path;
use crate::emulate::record::{Input, Recorder};
use crate::engine::{FaultKind, SendVia};
use crate::scenario::run_scenario;

#[test]
fn every_input_becomes_a_step_or_a_listed_gap() {
    let dirs = Dirs::new();
    let recorder = Recorder::new(dirs.scenario_file(), session(&dirs));
    let inputs = [
        (
            Duration::ZERO,
            Input::Send {
                queue: "jobs".into(),
                payload: Payload::Json(json!({"n": 1})),
                via: SendVia::Binding,
            },
        ),
        (
            Duration::from_millis(250),
            Input::Put {
                bucket: "files".into(),
                key: "a/b.txt".into(),
                size: 5,
                content_type: "text/plain".into(),
            },
        ),
        (mins(1), Input::Advance(mins(60))),
        (
            mins(61),
            Input::Faults {
                rates: Some(vec![(FaultKind::LostAck, 0.25)]),
                seed: Some(9),
                recycle: None,
            },
        ),
        (
            mins(61),
            Input::FireCron {
                worker: "processor".into(),
                index: 0,
            },
        ),
        (
            mins(62),
            Input::Send {
                queue: "jobs".into(),
                payload: Payload::Text("hi".into()),
                via: SendVia::Service,
            },
        ),
        (
            mins(63),
            Input::Inject {
                fault: FaultKind::DuplicateDelivery,
                daemon: None,
            },
        ),
        (
            mins(63),
            Input::Inject {
                fault: FaultKind::DaemonCrash,
                daemon: Some("agent".into()),
            },
        ),
        (mins(64), Input::StopDaemon("agent".into())),
        (mins(64), Input::StartDaemon("agent".into())),
        (
            mins(65),
            Input::Http {
                worker: "api".into(),
                method: "POST".into(),
                path: "/orders".into(),
                bytes: Some(12),
            },
        ),
        (
            mins(66),
            Input::Delete {
                bucket: "files".into(),
                key: "a/b.txt".into(),
            },
        ),
    ];
    for (offset, input) in inputs {
        recorder.note(at(offset), input);
    }
    let text = recorder.render(at(mins(90)));
    let scenario = parse(&dirs, &text);
    assert_eq!(
        actions(&scenario),
        [
            ("0s", "send"),
            ("250ms", "put"),
            ("1m", "advance"),
            ("1h2m", "send"),
            ("1h3m", "inject"),
            ("1h3m", "preempt"),
            ("1h4m", "stop_daemon"),
            ("1h5m", "http"),
            ("1h6m", "delete"),
            ("-", "advance"),
        ]
        .map(|(a, b)| (a.to_string(), b))
    );
    let spec = &scenario.spec;
    assert_eq!(spec.steps[9].advance, Some(mins(24)), "runs on to the stop");
    assert_eq!(spec.steps[0].label.as_deref(), Some("send-1"));
    assert_eq!(spec.steps[3].label.as_deref(), Some("send-2"));
    assert_eq!(spec.steps[3].send.as_ref().unwrap().via, SendVia::Service);
    assert_eq!(
        spec.steps[3].send.as_ref().unwrap().text.as_deref(),
        Some("hi")
    );
    let put = spec.steps[1].put.as_ref().unwrap();
    assert_eq!((put.size, put.content_type.as_str()), (5, "text/plain"));
    let http = spec.steps[7].http.as_ref().unwrap();
    assert_eq!(
        (http.method.as_str(), http.path.as_str(), http.bytes),
        ("POST", "/orders", 12)
    );
    assert_eq!(spec.faults.get(&FaultKind::LostAck), Some(&0.25));
    assert_eq!((spec.seed, scenario.start), (Some(7), start()));
    assert_eq!(scenario.platforms, [Platform::Aws]);
    assert!(
        matches!(&spec.stack, crate::scenario::StackSpec::Path(p) if p == "../stacks/demo.json")
    );
    for listed in [
        "# - object contents",
        "#     at 250ms: files/a/b.txt (5 bytes)",
        "# - cron fires by hand",
        "#     at 1h1m: processor #0",
        "# - daemon starts by hand",
        "#     at 1h4m: agent",
        "# - fault stream reseeds",
        "#     at 1h1m: seed 9",
        "#     at 1h5m: POST /orders",
        "#   at 1h1m: lost_ack = 0.25",
        "succeed by default",
    ] {
        assert!(text.contains(listed), "{listed:?} in:\n{text}");
    }
}

#[test]
fn a_replay_sends_at_the_recorded_offsets() {
    let dirs = Dirs::new();
    let recorder = Recorder::new(dirs.scenario_file(), session(&dirs));
    let send = |n: u64| Input::Send {
        queue: "jobs".into(),
        payload: Payload::Json(json!({ "n": n })),
        via: SendVia::Binding,
    };
    recorder.note(at(Duration::from_millis(1500)), send(1));
    recorder.note(at(mins(2)), Input::Advance(mins(60)));
    recorder.note(at(mins(62) + Duration::from_millis(7)), send(2));
    let scenario = parse(&dirs, &recorder.render(at(mins(120))));
    let outcome = run_scenario(&scenario, Platform::Aws, 7).unwrap();
    let sends: Vec<(i64, usize)> = outcome
        .steps
        .iter()
        .filter(|s| s.action == "send")
        .map(|s| (s.t_ms, s.ids.len()))
        .collect();
    assert_eq!(sends, [(1500, 1), (3_720_007, 1)]);
    assert_eq!(
        outcome.end_ms, 7_200_000,
        "the replay ends where the session did"
    );
    let sent_at: Vec<i64> = outcome
        .trace
        .events()
        .iter()
        .filter(|e| e.kind.as_str() == "sent")
        .map(|e| e.t_ms)
        .collect();
    assert_eq!(sent_at, [1500, 3_720_007]);
}

#[test]
fn json_toml_cannot_hold_is_sent_as_its_text() {
    let dirs = Dirs::new();
    let recorder = Recorder::new(dirs.scenario_file(), session(&dirs));
    let body = json!({"a": null});
    recorder.note(
        start(),
        Input::Send {
            queue: "jobs".into(),
            payload: Payload::Json(body.clone()),
            via: SendVia::Binding,
        },
    );
    let text = recorder.render(start());
    let scenario = parse(&dirs, &text);
    let send = scenario.spec.steps[0].send.as_ref().unwrap();
    assert_eq!(send.text.as_deref(), Some(body.to_string().as_str()));
    assert!(
        text.contains("# - JSON message bodies TOML cannot hold"),
        "{text}"
    );
}

#[test]
fn inputs_during_an_advance_run_at_its_end() {
    let dirs = Dirs::new();
    let recorder = Recorder::new(dirs.scenario_file(), session(&dirs));
    recorder.note(start(), Input::Advance(mins(60)));
    recorder.note(
        at(mins(30)),
        Input::Delete {
            bucket: "files".into(),
            key: "k".into(),
        },
    );
    let text = recorder.render(at(mins(60)));
    let scenario = parse(&dirs, &text);
    assert_eq!(
        actions(&scenario),
        [("0s".to_string(), "advance"), ("1h".to_string(), "delete")]
    );
    assert!(text.contains("#     at 30m: delete files/k"), "{text}");
    run_scenario(&scenario, Platform::Aws, 1).expect("the replay never goes back in time");
}

#[test]
fn the_stack_path_is_relative_when_the_files_share_a_directory() {
    assert_eq!(
        relative_path(Path::new("/w/app/alien.json"), Path::new("/w/rec")),
        Some(PathBuf::from("../app/alien.json"))
    );
    assert_eq!(
        relative_path(Path::new("/w/app/alien.json"), Path::new("/w/app")),
        Some(PathBuf::from("alien.json"))
    );
    assert_eq!(
        relative_path(Path::new("/w/app/alien.json"), Path::new("/tmp/x")),
        None
    );
}

#[tokio::test]
async fn save_writes_the_file_whole_and_names_it_on_failure() {
    let dirs = Dirs::new();
    let recorder = Recorder::new(dirs.scenario_file(), session(&dirs));
    recorder.note(start(), Input::Advance(mins(5)));
    let written = recorder.save(at(mins(5))).await.unwrap();
    assert_eq!(written, dirs.scenario_file());
    let text = std::fs::read_to_string(&written).unwrap();
    assert_eq!(text, recorder.render(at(mins(5))));
    let names: Vec<String> = std::fs::read_dir(dirs.root.path().join("recorded"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["session.toml"], "no temporary file is left");

    let missing = dirs.root.path().join("gone/session.toml");
    let err = Recorder::new(missing.clone(), session(&dirs))
        .save(start())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
}
