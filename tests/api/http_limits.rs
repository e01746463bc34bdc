//! What the HTTP parser answers before any of modelgate's code runs: a head
//! too large gets 431, a request line too long 400, each with an empty body
//! and the connection closed (documented in the README, since no
//! application code can give them the JSON error body).

use std::io::{Read, Write};

use crate::helpers::spawn_app;

fn raw_exchange(port: u16, request: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e}"));
    // the server may answer and close before it has read everything
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn an_oversized_head_or_request_line_gets_an_empty_answer_from_the_parser() {
    let app = spawn_app();
    let mut huge_header = b"GET /api/v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    huge_header.extend(std::iter::repeat_n(b'a', 1_000_000));
    huge_header.extend(b"\r\n\r\n");
    let answer = raw_exchange(app.port, &huge_header);
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-length: 0\r\n"),
        "{answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("connection: close\r\n"),
        "{answer}"
    );

    let mut long_uri = b"GET /api/v1/models?".to_vec();
    long_uri.extend(std::iter::repeat_n(b'a', 70_000));
    long_uri.extend(b" HTTP/1.1\r\nHost: x\r\n\r\n");
    let answer = raw_exchange(app.port, &long_uri);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("content-length: 0\r\n"),
        "{answer}"
    );

    // and the server goes on answering normally
    app.get("/api/v1/models").expect(200);
}
