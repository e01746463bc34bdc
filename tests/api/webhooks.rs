//! Webhooks end to end: a real HTTP receiver on a random port records what
//! arrives and answers as a test scripts it; every signature is checked with
//! an HMAC computed here, from the secret the API showed once.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, spawn_app_with_config};

/// Receivers on loopback over http, and retries a second apart.
const CONFIG: &str = "[webhooks]\nallow_private_networks = true\nallow_http = true\n\
                      retry_schedule = \"1s,1s,1s\"\n";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Value,
    raw: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    fn event_type(&self) -> String {
        self.body["type"].as_str().unwrap_or_default().to_owned()
    }
}

/// A receiver: answers the scripted statuses in turn, then `fallback`.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    fallback: Arc<Mutex<u16>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let fallback = Arc::new(Mutex::new(200));
        let (sink, statuses, default) = (received.clone(), script.clone(), fallback.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => continue,
                });
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = header.trim_end().split_once(':') {
                        headers.push((k.trim().to_owned(), v.trim().to_owned()));
                    }
                }
                let length = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut raw = vec![0u8; length];
                if reader.read_exact(&mut raw).is_err() {
                    continue;
                }
                let status = statuses
                    .lock()
                    .ok()
                    .and_then(|mut s| s.pop_front())
                    .unwrap_or_else(|| default.lock().map(|d| *d).unwrap_or(200));
                if let Ok(mut all) = sink.lock() {
                    all.push(Received {
                        headers,
                        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
                        raw,
                    });
                }
                let answer = format!(
                    "HTTP/1.1 {status} Scripted\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            received,
            script,
            fallback,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits (failing after 30 s) until `done` holds for what arrived.
    fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within 30 s; received {:?}",
                received
                    .iter()
                    .map(Received::event_type)
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads `path` until `done` holds for the answer (failing after 30 s): the
/// worker records an attempt only after the receiver has answered it.
fn settled(app: &TestApp, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = app.get(path).expect(200).clone();
        if done(&answer) {
            return answer;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: not within 30 s: {answer}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks a delivery's Standard Webhooks signature against `secret`.
fn signed_with(received: &Received, secret: &str) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap_or_else(|e| panic!("{e}"));
    mac.update(received.header("webhook-id").as_bytes());
    mac.update(b".");
    mac.update(received.header("webhook-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&received.raw);
    let expected = format!("v1,{}", engine.encode(mac.finalize().into_bytes()));
    received
        .header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

fn subscribe(app: &TestApp, body: Value) -> (i64, String) {
    let created = app.post("/api/v1/webhooks", body).expect(201).clone();
    let secret = created["secret"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    (created["id"].as_i64().unwrap_or_default(), secret)
}

#[test]
fn events_reach_matching_subscriptions_signed_and_filtered_by_type_and_model() {
    let app = spawn_app_with_config(CONFIG);
    let everything = Receiver::start();
    let filtered = Receiver::start();
    let (all_id, all_secret) = subscribe(&app, json!({"url": everything.url, "events": ["*"]}));
    let (_, filtered_secret) = subscribe(
        &app,
        json!({"url": filtered.url, "events": ["version.*"], "model": "churn"}),
    );
    // the secret is shown once: never in a read
    let listed = app.get("/api/v1/webhooks").expect(200).clone();
    assert!(!listed.to_string().contains("whsec_"), "{listed}");
    assert!(
        !app.get(&format!("/api/v1/webhooks/{all_id}"))
            .text
            .contains("whsec_")
    );

    app.create_model("churn");
    app.create_model("fraud");
    app.create_version("churn");
    app.create_version("fraud");
    app.transition("churn", 1, "Staging", false).expect(200);
    app.put(
        "/api/v1/models/churn/versions/1/tags/k",
        json!({"value": "v"}),
    )
    .expect(200);
    app.put(
        "/api/v1/models/churn/aliases/candidate",
        json!({"version": 1}),
    )
    .expect(200);
    let carol = app.user_token("carol", "contributor");
    app.call_as(
        Some(&carol),
        "POST",
        "/api/v1/models/churn/versions/1/transition-requests",
        Some(json!({"stage": "Production"})),
    )
    .expect(201);

    // its own creation first, then the filtered one's
    let expected = [
        "webhook.created",
        "webhook.created",
        "model.created",
        "model.created",
        "version.created",
        "version.created",
        "version.stage_changed",
        "version.tag_set",
        "alias.set",
        "user.created",
        "request.created",
    ];
    let all = everything.wait_until("every event", |r| r.len() >= expected.len());
    let types: Vec<String> = all.iter().map(Received::event_type).collect();
    assert_eq!(types, expected, "every type, in event order");
    for delivery in &all {
        assert!(signed_with(delivery, &all_secret), "{delivery:?}");
        assert!(delivery.header("webhook-id").starts_with("msg_"));
        let timestamp: i64 = delivery.header("webhook-timestamp").parse().unwrap_or(0);
        assert!(timestamp > 1_700_000_000, "seconds since the epoch");
        assert_eq!(delivery.header("content-type"), "application/json");
    }
    let moved = &all[6].body;
    assert_eq!(moved["data"]["model"], "churn");
    assert_eq!(moved["data"]["version"], 1);
    assert_eq!(moved["data"]["from_stage"], "None");
    assert_eq!(moved["data"]["to_stage"], "Staging");
    assert_eq!(moved["data"]["actor"], "admin");
    assert!(
        moved["data"]["event_hash"]
            .as_str()
            .is_some_and(|h| h.len() == 64)
    );
    assert!(all[10].body["data"]["request_id"].as_i64().is_some());

    let only = filtered.wait_until("churn's version events", |r| r.len() >= 3);
    let types: Vec<String> = only.iter().map(Received::event_type).collect();
    assert_eq!(
        types,
        [
            "version.created",
            "version.stage_changed",
            "version.tag_set"
        ]
    );
    assert!(only.iter().all(|d| d.body["data"]["model"] == "churn"));
    assert!(only.iter().all(|d| signed_with(d, &filtered_secret)));
    assert!(!only.iter().any(|d| signed_with(d, &all_secret)));

    // the deliveries are on record
    let deliveries = settled(
        &app,
        &format!("/api/v1/webhooks/{all_id}/deliveries?max_results=100"),
        |d| {
            d["deliveries"]
                .as_array()
                .is_some_and(|rows| rows.iter().all(|r| r["state"] != "pending"))
        },
    );
    let rows = deliveries["deliveries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), expected.len(), "{deliveries}");
    assert!(
        rows.iter()
            .all(|d| d["state"] == "delivered" && d["attempts"] == 1 && d["last_status"] == 200)
    );
}

#[test]
fn failures_are_retried_in_event_order_and_410_disables_the_subscription() {
    let app = spawn_app_with_config(CONFIG);
    let receiver = Receiver::start();
    if let Ok(mut script) = receiver.script.lock() {
        script.extend([500, 503]);
    }
    let (id, secret) = subscribe(
        &app,
        json!({"url": receiver.url, "events": ["version.created"]}),
    );
    app.create_model("churn");
    for _ in 0..3 {
        app.create_version("churn");
    }
    let arrived = receiver.wait_until("three versions after two failures", |r| r.len() >= 5);
    let versions: Vec<i64> = arrived
        .iter()
        .map(|d| d.body["data"]["version"].as_i64().unwrap_or_default())
        .collect();
    // the first is tried until accepted; the others wait their turn
    assert_eq!(versions, [1, 1, 1, 2, 3]);
    assert_eq!(
        arrived[0].header("webhook-id"),
        arrived[2].header("webhook-id")
    );
    assert!(arrived.iter().all(|d| signed_with(d, &secret)));
    let deliveries = settled(&app, &format!("/api/v1/webhooks/{id}/deliveries"), |d| {
        d["deliveries"]
            .as_array()
            .is_some_and(|rows| rows.iter().all(|r| r["state"] != "pending"))
    });
    let first = deliveries["deliveries"]
        .as_array()
        .and_then(|d| d.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(first["attempts"], 3, "{deliveries}");
    assert_eq!(first["state"], "delivered");

    // a redelivery goes out again with the same webhook-id
    let delivery_id = first["id"].as_i64().unwrap_or_default();
    let again = app
        .post(
            &format!("/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver"),
            json!({}),
        )
        .expect(200)
        .clone();
    assert_eq!(again["state"], "pending");
    let arrived = receiver.wait_until("the redelivery", |r| r.len() >= 6);
    assert_eq!(
        arrived[5].header("webhook-id"),
        arrived[0].header("webhook-id")
    );

    // 410: the subscription is disabled, and nothing more is sent
    if let Ok(mut fallback) = receiver.fallback.lock() {
        *fallback = 410;
    }
    app.create_version("churn");
    receiver.wait_until("the 410", |r| r.len() >= 7);
    let disabled = settled(&app, &format!("/api/v1/webhooks/{id}"), |w| {
        w["enabled"] == false
    });
    assert_eq!(disabled["enabled"], false, "{disabled}");
    assert!(
        disabled["disabled_reason"]
            .as_str()
            .is_some_and(|r| r.contains("410")),
        "{disabled}"
    );
    app.create_version("churn");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(receiver.received().len(), 7, "nothing after the 410");
}

#[test]
fn a_rotated_secret_signs_beside_the_old_one_and_a_test_delivery_answers() {
    let app = spawn_app_with_config(CONFIG);
    let receiver = Receiver::start();
    let (id, old) = subscribe(&app, json!({"url": receiver.url, "events": ["model.*"]}));
    let rotated = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"rotate_secret": true}),
        )
        .expect(200)
        .clone();
    let new = rotated["secret"].as_str().unwrap_or_default().to_owned();
    assert!(new.starts_with("whsec_") && new != old, "{rotated}");
    assert!(rotated["previous_secret_until"].as_i64().is_some());
    app.create_model("m");
    let arrived = receiver.wait_until("the model event", |r| !r.is_empty());
    assert!(signed_with(&arrived[0], &new));
    assert!(
        signed_with(&arrived[0], &old),
        "both sign during the overlap"
    );
    assert_eq!(arrived[0].header("webhook-signature").split(' ').count(), 2);

    let tested = app
        .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .expect(200)
        .clone();
    assert_eq!(tested["status"], 200, "{tested}");
    assert_eq!(tested["delivered"], true);
    assert_eq!(tested["body"], "ok");
    let arrived = receiver.wait_until("the test delivery", |r| r.len() >= 2);
    assert_eq!(arrived[1].event_type(), "webhook.test");
    assert!(signed_with(&arrived[1], &new));
}

#[test]
fn receivers_must_be_public_https_unless_allowed_and_only_admins_subscribe() {
    let strict = crate::helpers::spawn_app();
    let before = strict.snapshot();
    for url in [
        "http://hooks.example.com/in",
        "https://127.0.0.1:9000/in",
        "https://localhost/in",
        "https://169.254.169.254/latest",
        "https://10.0.0.8/in",
        "https://user:pw@hooks.example.com/in",
    ] {
        strict
            .post("/api/v1/webhooks", json!({"url": url, "events": ["*"]}))
            .expect_error(400, "INVALID_PARAMETER_VALUE");
    }
    for events in [json!([]), json!(["Version.Created"]), json!(["a b"])] {
        strict
            .post(
                "/api/v1/webhooks",
                json!({"url": "https://hooks.example.com/in", "events": events}),
            )
            .expect_error(400, "INVALID_PARAMETER_VALUE");
    }
    let carol = strict.user_token("carol", "contributor");
    let before_carol = strict.snapshot();
    strict
        .call_as(
            Some(&carol),
            "POST",
            "/api/v1/webhooks",
            Some(json!({"url": "https://hooks.example.com/in", "events": ["*"]})),
        )
        .expect_error(403, "PERMISSION_DENIED");
    strict
        .call_as(Some(&carol), "GET", "/api/v1/webhooks", None)
        .expect_error(403, "PERMISSION_DENIED");
    assert_eq!(strict.snapshot(), before_carol);
    assert_ne!(strict.snapshot(), before, "only the user was added");

    // a public name is accepted; what it resolves to is checked when sending
    let (id, _) = subscribe(
        &strict,
        json!({"url": "https://hooks.example.com/in", "events": ["*"]}),
    );
    // a name that resolves to loopback (this machine's own name) passes the
    // check of the URL, and is refused at the connection
    let host = std::process::Command::new("hostname")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    use std::net::ToSocketAddrs;
    let resolved: Vec<std::net::SocketAddr> = (host.as_str(), 443)
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    assert!(
        !resolved.is_empty()
            && resolved
                .iter()
                .all(|a| !modelgate::domain::webhooks::is_public(a.ip())),
        "this machine's name '{host}' should resolve to a private address: {resolved:?}"
    );
    strict
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            json!({"url": format!("https://{host}/in")}),
        )
        .expect(200);
    let tested = strict
        .post(&format!("/api/v1/webhooks/{id}/test"), json!({}))
        .expect(200)
        .clone();
    assert_eq!(tested["delivered"], false, "{tested}");
    assert!(
        tested["error"]
            .as_str()
            .is_some_and(|e| e.contains("loopback, private")),
        "{tested}"
    );
    // webhook events are for admins' eyes
    let feed = strict
        .call_as(Some(&carol), "GET", "/api/v1/events", None)
        .expect(200)
        .clone();
    assert!(!feed.to_string().contains("webhook."), "{feed}");
}

/// The nice value of every thread of this process named as the delivery
/// worker is (its senders inherit the name), from `/proc/self/task`.
fn worker_niceness() -> Vec<i64> {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap_or_else(|e| panic!("{e}"));
    tasks
        .filter_map(|task| {
            let path = task.ok()?.path();
            let comm = std::fs::read_to_string(path.join("comm")).ok()?;
            // the kernel keeps 15 bytes of a thread's name
            (comm.trim() == "modelgate-webho").then_some(())?;
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // field 19 is the nice value; the fields after "(comm)" start at 3
            stat.rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(16)?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn the_delivery_worker_yields_the_cpu_to_requests() {
    let app = spawn_app_with_config(CONFIG);
    let receiver = Receiver::start();
    subscribe(
        &app,
        json!({"url": receiver.url, "events": ["model.created"]}),
    );
    app.post("/api/v1/models", json!({"name": "nice"}))
        .expect(201);
    receiver.wait_until("the model.created delivery", |r| r.len() == 1);
    let niceness = worker_niceness();
    assert!(!niceness.is_empty(), "no delivery worker thread found");
    assert!(niceness.iter().all(|&n| n == 19), "{niceness:?}");
}
