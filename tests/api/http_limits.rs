//! What the HTTP parser answers before any of modelgate's code runs: a head
//! too large gets 431, a request line too long 400, each with an empty body
//! and the connection closed (documented in the README, since no
//! application code can give them the JSON error body).

use std::io::{Read, Write};

use crate::helpers::spawn_app;

fn raw_exchange(port: u16, request: &[u8]) -> String {
    slow_exchange(port, request, b"")
}

/// Asserts an answer's status line and that it carries each header line
/// (compared in lowercase).
fn assert_answer(answer: &str, status_line: &str, headers: &[&str]) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status_line}\r\n")),
        "{answer}"
    );
    let lowercase = answer.to_ascii_lowercase();
    for header in headers {
        assert!(
            lowercase.contains(&format!("{header}\r\n")),
            "{header}: {answer}"
        );
    }
}

#[test]
fn an_oversized_head_or_request_line_gets_an_empty_answer_from_the_parser() {
    let app = spawn_app();
    let mut huge_header = b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    huge_header.extend(std::iter::repeat_n(b'a', 1_000_000));
    huge_header.extend(b"\r\n\r\n");
    let answer = raw_exchange(app.port, &huge_header);
    assert_answer(
        &answer,
        "431 Request Header Fields Too Large",
        &["content-length: 0", "connection: close"],
    );

    let mut long_uri = b"GET /api/v1/models?".to_vec();
    long_uri.extend(std::iter::repeat_n(b'a', 70_000));
    long_uri.extend(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = raw_exchange(app.port, &long_uri);
    assert_answer(&answer, "400 Bad Request", &["content-length: 0"]);

    // and the server goes on answering normally
    app.get("/api/v1/models").expect(200);
}

/// Sends `head`, then trickles `trickle` one byte every 100 ms from another
/// thread (as a slow or hostile client would) while reading the answer until
/// the server closes the connection (or 20 s pass: then the answer is
/// whatever came, and the assertions say what is missing).
fn slow_exchange(port: u16, head: &[u8], trickle: &'static [u8]) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap_or_else(|e| panic!("{e}"));
    // the server may answer and close before it has read everything
    let _ = stream.write_all(head);
    let mut writer = stream.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let trickler = std::thread::spawn(move || {
        for byte in trickle {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    });
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = trickler.join();
    String::from_utf8_lossy(&answer).into_owned()
}

const SLOW: &str = "[server]\nhead_read_timeout_seconds = 1\nbody_read_timeout_seconds = 1\n";

/// 400 bytes: 40 s at the trickle's pace, far past both deadlines.
const TRICKLE: &[u8] = &[b'a'; 400];

#[test]
fn a_body_trickled_past_its_deadline_gets_408_and_the_connection_closed() {
    let app = crate::helpers::spawn_app_with_config(SLOW);
    let before = app.snapshot();
    let head = b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n\
                 Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"username\": \"";
    let answer = slow_exchange(app.port, head, TRICKLE);
    assert_answer(&answer, "408 Request Timeout", &["connection: close"]);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(body["error_code"], "REQUEST_TIMEOUT", "{answer}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("server.body_read_timeout_seconds")),
        "{answer}"
    );
    // the same for an authenticated caller of the MLflow API (an anonymous
    // one is refused before its body is read), and a body that arrives in
    // time is served
    let head = format!(
        "POST /api/2.0/mlflow/registered-models/create HTTP/1.1\r\nHost: x\r\n\
         Authorization: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 5000\r\n\r\n{{",
        app.admin_header()
    );
    let answer = slow_exchange(app.port, head.as_bytes(), TRICKLE);
    assert_answer(&answer, "408 Request Timeout", &[]);
    assert_eq!(app.snapshot(), before, "a cut-off request changed nothing");
    app.create_model("served");
}

#[test]
fn a_head_trickled_past_its_deadline_gets_the_connection_closed() {
    let app = crate::helpers::spawn_app_with_config(SLOW);
    let answer = slow_exchange(
        app.port,
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        TRICKLE,
    );
    assert_answer(&answer, "408 Request Timeout", &["content-length: 0"]);
    app.get("/api/v1/models").expect(200);

    // a longer deadline is honoured: a head sent over 7 s (past the HTTP
    // server's own default of 5 s) is served
    let app = crate::helpers::spawn_app_with_config("[server]\nhead_read_timeout_seconds = 30\n");
    let rest: &'static [u8] =
        b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nConnection: close\r\n\r\n";
    let answer = slow_exchange(
        app.port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        rest,
    );
    assert_answer(&answer, "200 OK", &[]);
}
