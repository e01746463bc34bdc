//! Only failures are throttled, and behind a trusted reverse proxy the
//! client's own address is the one counted.

use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, TestApp, spawn_app, spawn_app_with_config};

fn login_from(app: &TestApp, username: &str, password: &str, forwarded_for: &str) -> u16 {
    let body = json!({"username": username, "password": password}).to_string();
    app.raw(
        "POST",
        "/api/v1/auth/token",
        Some(body.into_bytes()),
        &[
            ("Content-Type", "application/json"),
            ("X-Forwarded-For", forwarded_for),
        ],
    )
    .status
}

#[test]
fn parallel_correct_logins_are_never_refused() {
    let app = spawn_app();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let logins: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    app.call_as(
                        None,
                        "POST",
                        "/api/v1/auth/token",
                        Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
                    )
                    .status
                })
            })
            .collect();
        logins
            .into_iter()
            .map(|login| login.join().unwrap_or_else(|_| panic!("login thread")))
            .collect()
    });
    assert_eq!(statuses, vec![200; 8]);
}

#[test]
fn behind_a_trusted_proxy_each_client_is_throttled_on_its_own() {
    let app = spawn_app_with_config("[server]\ntrusted_proxies = \"127.0.0.1, 10.0.0.0/8\"\n");
    app.user_token("vera", "viewer");
    // 20 failures (the address limit) from one client, spread over users
    // so that no user reaches its own limit
    for attempt in 0..20 {
        let user = format!("nobody-{}", attempt % 5);
        assert_eq!(
            login_from(&app, &user, "wrong-password", "203.0.113.7"),
            401
        );
    }
    assert_eq!(
        login_from(&app, "vera", "password-vera", "203.0.113.7"),
        429,
        "the guessing client is throttled"
    );
    // another client behind the same proxy is not, and a hop through another
    // trusted proxy still names the client
    assert_eq!(
        login_from(&app, "vera", "password-vera", "198.51.100.4"),
        200
    );
    assert_eq!(
        login_from(&app, "vera", "password-vera", "198.51.100.4, 10.1.2.3"),
        200
    );
    assert_eq!(
        login_from(&app, "vera", "password-vera", "203.0.113.7, 10.1.2.3"),
        429
    );
}

#[test]
fn without_trusted_proxies_a_forwarded_header_is_ignored() {
    let app = spawn_app();
    app.user_token("vera", "viewer");
    // each failure claims another client, but all come from 127.0.0.1
    for attempt in 0..20 {
        let user = format!("nobody-{}", attempt % 5);
        let claimed = format!("203.0.113.{attempt}");
        assert_eq!(login_from(&app, &user, "wrong-password", &claimed), 401);
    }
    assert_eq!(
        login_from(&app, "vera", "password-vera", "198.51.100.4"),
        429
    );
}

#[test]
fn a_correct_login_clears_the_users_earlier_failures() {
    let app = spawn_app_with_config("[auth]\nlogin_max_failures_per_user = 3\n");
    app.user_token("vera", "viewer");
    let login = |password: &str| {
        app.call_as(
            None,
            "POST",
            "/api/v1/auth/token",
            Some(json!({"username": "vera", "password": password})),
        )
        .status
    };
    // two failures, one short of the limit, then a success
    assert_eq!(login("wrong-password"), 401);
    assert_eq!(login("wrong-password"), 401);
    assert_eq!(login("password-vera"), 200);
    // the earlier failures no longer count: two more are still answered 401,
    // and the user can still sign in (with them counted, the limit of 3
    // would refuse the second and the sign-in with 429)
    assert_eq!(login("wrong-password"), 401);
    assert_eq!(login("wrong-password"), 401);
    assert_eq!(login("password-vera"), 200);
    // and the limit itself holds: three failures in a row refuse the user
    for _ in 0..3 {
        assert_eq!(login("wrong-password"), 401);
    }
    assert_eq!(login("password-vera"), 429);
}
