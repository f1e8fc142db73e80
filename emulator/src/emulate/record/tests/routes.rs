//! The routes that feed the recorder, over HTTP on loopback.

use std::sync::Arc;

use serde_json::json;

use super::{Dirs, actions, parse, profile, stack, start};
use crate::emulate::chaos_api;
use crate::emulate::control::{self, ControlState};
use crate::emulate::gateway::{EventSink, Gateway, GatewayLimits, UpstreamPort};
use crate::emulate::record::{Recorder, Session};
use crate::emulate::run::EmulateOptions;
use crate::engine::{FaultKind, SendVia, Sim, SimConfig, shared};

/// The routes of the control API, the SQS endpoint, the chaos API and a public worker's
/// gateway each hand what they accepted to the recorder, at the engine's instant.
#[tokio::test]
async fn the_routes_hand_their_inputs_to_the_recorder() {
    let dirs = Dirs::new();
    let stack = stack(&dirs.stack_file());
    let sim = shared(Sim::new(&stack, profile(), SimConfig::new(7, start())));
    let recorder = Recorder::new(dirs.scenario_file(), {
        let mut options = EmulateOptions::new(dirs.loaded(), profile());
        options.seed = 7;
        Session::of(&options, &sim.lock().unwrap(), None)
    });
    let state = ControlState::new(sim.clone(), &stack).with_recorder(recorder.clone());
    let app = control::router(state).merge(chaos_api::router(
        sim.clone(),
        Arc::new(|| {}),
        Some(recorder.clone()),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let api = stack
        .workers()
        .find(|(id, _)| *id == "api")
        .unwrap()
        .1
        .clone();
    let gateway = Gateway::bind(
        "api",
        "127.0.0.1:0".parse().unwrap(),
        GatewayLimits::from_profile(&profile(), &api),
        UpstreamPort::new(),
        EventSink::discard(),
    )
    .await
    .unwrap();
    assert!(gateway.observe_arrivals(recorder.gateway_observer(sim.clone())));

    let http = reqwest::Client::new();
    let ok = |r: reqwest::Response| {
        assert!(r.status().is_success(), "{} {}", r.url(), r.status());
    };
    let send = json!({"json": {"n": 1}});
    ok(http
        .post(format!("{base}/queues/jobs/messages"))
        .json(&send)
        .send()
        .await
        .unwrap());
    ok(http
        .post(format!("{base}/"))
        .header("x-amz-target", "AmazonSQS.SendMessage")
        .header("content-type", "application/x-amz-json-1.0")
        .body(
            json!({"QueueUrl": format!("{base}/000000000000/jobs"), "MessageBody": "{\"n\":2}"})
                .to_string(),
        )
        .send()
        .await
        .unwrap());
    ok(http
        .put(format!("{base}/storage/files/objects/a.txt"))
        .body("hello")
        .send()
        .await
        .unwrap());
    ok(http
        .post(format!("{base}/clock/advance"))
        .json(&json!({"by": "1h"}))
        .send()
        .await
        .unwrap());
    ok(http
        .delete(format!("{base}/storage/files/objects/a.txt"))
        .send()
        .await
        .unwrap());
    ok(http
        .post(format!("{base}/crons/processor/0/fire"))
        .send()
        .await
        .unwrap());
    let rates = json!({"rates": {"lost_ack": 0.5}});
    ok(http
        .post(format!("{base}/faults"))
        .json(&rates)
        .send()
        .await
        .unwrap());
    let inject = json!({"fault": "duplicate_delivery"});
    ok(http
        .post(format!("{base}/faults/inject"))
        .json(&inject)
        .send()
        .await
        .unwrap());
    let refused = http
        .get(format!("{}/orders?x=1", gateway.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503, "no app registered: still an input");
    let chunked = raw_request(
        gateway.local_addr(),
        "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .await;
    assert!(chunked.starts_with("HTTP/1.1 503"), "{chunked}");

    let end = sim.lock().unwrap().now();
    let text = recorder.render(end);
    let scenario = parse(&dirs, &text);
    assert_eq!(
        actions(&scenario),
        [
            ("0s", "send"),
            ("0s", "send"),
            ("0s", "put"),
            ("0s", "advance"),
            ("1h", "delete"),
            ("1h", "inject"),
            ("1h", "http"),
            ("1h", "http"),
        ]
        .map(|(a, b)| (a.to_string(), b))
    );
    let steps = &scenario.spec.steps;
    assert_eq!(steps[1].send.as_ref().unwrap().via, SendVia::Service);
    assert_eq!(
        steps[1].send.as_ref().unwrap().json,
        Some(toml::Value::try_from(json!({"n": 2})).unwrap()),
        "the SQS body is JSON, as the engine holds it"
    );
    assert_eq!(steps[2].put.as_ref().unwrap().size, 5);
    // RFC 9112 §6.3: a request with neither Content-Length nor Transfer-Encoding has a body
    // of length zero; a chunked one announces no length.
    let http = |i: usize| steps[i].http.as_ref().unwrap();
    assert_eq!((http(6).path.as_str(), http(6).bytes), ("/orders", 0));
    assert_eq!((http(7).path.as_str(), http(7).bytes), ("/upload", 0));
    assert!(
        text.contains(concat!(
            "chunked gateway requests (no `Content-Length`): recorded as `bytes = 0`\n",
            "#     at 1h: POST /upload\n\n"
        )),
        "only the chunked request is listed: {text}"
    );
    assert_eq!(scenario.spec.faults.get(&FaultKind::LostAck), Some(&0.5));
    assert!(text.contains("#     at 1h: processor #0"), "{text}");
}

/// Writes `request` to `addr` as it is and reads the answer until the server closes.
async fn raw_request(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}
