//! The web UI over HTTP, as a browser without JavaScript uses it: sign-in
//! and its cookies, the pages, the forms and their CSRF tokens, and the
//! server refusing what a page would not offer. (The real-browser scenarios
//! run in `.ci/ui`.)

use std::collections::BTreeMap;

use serde_json::json;

use crate::helpers::{TestApp, spawn_app, spawn_app_with_config};

/// What a page answered.
#[derive(Debug)]
struct Page {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first CSRF token of the page's forms.
    fn csrf(&self) -> String {
        self.body
            .split(r#"name="csrf" value=""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no CSRF token on the page: {}", self.body))
            .to_owned()
    }

    #[track_caller]
    fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    #[track_caller]
    fn redirects_to(&self, location: &str) {
        assert_eq!(self.status, 303, "{}", self.body);
        assert_eq!(self.header("location"), Some(location));
    }
}

/// A browser: a cookie jar, no redirects followed, optional extra headers.
struct Browser<'a> {
    app: &'a TestApp,
    jar: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser {
            app,
            jar: BTreeMap::new(),
        }
    }

    fn send(&mut self, method: &str, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        self.send_with(method, path, form, &[])
    }

    fn send_with(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build()
            .into();
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.app.address));
        if !self.jar.is_empty() {
            let cookie: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            request = request.header("Cookie", cookie.join("; "));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let result = match form {
            Some(fields) => {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{}={}", crate::helpers::enc(k), crate::helpers::enc(v)))
                    .collect();
                agent.run(
                    request
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .body(body.join("&"))
                        .unwrap_or_else(|e| panic!("{e}")),
                )
            }
            None => agent.run(request.body(()).unwrap_or_else(|e| panic!("{e}"))),
        };
        let mut response = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let page = Page {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: response.body_mut().read_to_string().unwrap_or_default(),
        };
        for cookie in page.cookies() {
            let pair = cookie.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || cookie.contains("Max-Age=0") {
                    self.jar.remove(name);
                } else {
                    self.jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        page
    }

    fn get(&mut self, path: &str) -> Page {
        self.send("GET", path, None)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send("POST", path, Some(form))
    }

    /// Signs in through the form; answers the redirect.
    fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/ui/signin");
        form.expect(200);
        let csrf = form.csrf();
        self.post(
            "/ui/signin",
            &[
                ("username", username),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/ui/requests"),
            ],
        )
    }

    /// A signed-in browser of a new user with this role.
    fn user(app: &'a TestApp, username: &str, role: &str) -> Self {
        app.user_token(username, role);
        let mut browser = Browser::new(app);
        browser
            .sign_in(username, &format!("password-{username}"))
            .redirects_to("/ui/requests");
        browser
    }
}

#[test]
fn signing_in_sets_a_strict_http_only_session_and_signing_out_ends_it() {
    let app = spawn_app();
    app.user_token("vera", "viewer");
    let mut browser = Browser::new(&app);

    // not signed in: to the sign-in page, and back afterwards
    browser
        .get("/ui/models?filter=x")
        .redirects_to("/ui/signin?next=%2Fui%2Fmodels%3Ffilter%3Dx");
    let form = browser.get("/ui/signin?next=/ui/models");
    form.expect(200);
    let csp = form.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(form.header("x-frame-options"), Some("DENY"));
    let signin_cookie = form.cookies().join(" | ");
    assert!(
        signin_cookie.contains("modelgate_signin="),
        "{signin_cookie}"
    );
    assert!(signin_cookie.contains("HttpOnly"), "{signin_cookie}");
    assert!(signin_cookie.contains("SameSite=Strict"), "{signin_cookie}");
    assert!(
        !signin_cookie.contains("Secure"),
        "plain http: {signin_cookie}"
    );
    let csrf = form.csrf();

    // a wrong password, or no token: no session
    let wrong = browser.post(
        "/ui/signin",
        &[
            ("username", "vera"),
            ("password", "wrong-password"),
            ("csrf", &csrf),
        ],
    );
    wrong.expect(401);
    assert!(
        wrong.body.contains("invalid username or password"),
        "{}",
        wrong.body
    );
    let csrf = wrong.csrf();
    let mut stranger = Browser::new(&app);
    stranger
        .post(
            "/ui/signin",
            &[
                ("username", "vera"),
                ("password", "password-vera"),
                ("csrf", &csrf),
            ],
        )
        .expect(403);
    assert_eq!(app.count("ui_sessions"), 0);

    let signed_in = browser.post(
        "/ui/signin",
        &[
            ("username", "vera"),
            ("password", "password-vera"),
            ("csrf", &csrf),
            ("next", "/ui/models"),
        ],
    );
    signed_in.redirects_to("/ui/models");
    let session = signed_in
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("modelgate_session="))
        .unwrap_or_else(|| panic!("no session cookie: {signed_in:?}"))
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("password"), "{session}");
    assert_eq!(app.count("ui_sessions"), 1);
    let models = browser.get("/ui/models");
    models.expect(200);
    assert!(models.body.contains("vera"), "{}", models.body);

    // signing out needs the page's token, and then the session is over
    let csrf = models.csrf();
    browser
        .post("/ui/signout", &[("csrf", "forged")])
        .expect(403);
    browser.get("/ui/models").expect(200);
    let jar = browser.jar.clone();
    browser
        .post("/ui/signout", &[("csrf", &csrf)])
        .redirects_to("/ui/signin");
    assert_eq!(app.count("ui_sessions"), 0);
    // a copy of the old cookie opens nothing
    let mut copy = Browser::new(&app);
    copy.jar = jar;
    copy.get("/ui/models")
        .redirects_to("/ui/signin?next=%2Fui%2Fmodels");
}

#[test]
fn a_session_ends_when_the_password_changes_or_the_user_is_disabled() {
    let app = spawn_app();
    let mut carol = Browser::user(&app, "carol", "contributor");
    carol.get("/ui/models").expect(200);
    app.patch(
        "/api/v1/users/carol",
        json!({"password": "another-password"}),
    )
    .expect(200);
    carol
        .get("/ui/models")
        .redirects_to("/ui/signin?next=%2Fui%2Fmodels");
    carol
        .sign_in("carol", "another-password")
        .redirects_to("/ui/requests");
    carol.get("/ui/models").expect(200);
    app.patch("/api/v1/users/carol", json!({"disabled": true}))
        .expect(200);
    carol
        .get("/ui/requests")
        .redirects_to("/ui/signin?next=%2Fui%2Frequests");
    let refused = carol.sign_in("carol", "another-password");
    refused.expect(401);
}

#[test]
fn a_contributor_requests_and_an_approver_approves_from_the_pages() {
    let app = spawn_app();
    app.create_model("churn");
    app.create_version("churn");
    app.transition("churn", 1, "Staging", false).expect(200);
    let mut carol = Browser::user(&app, "carol", "contributor");
    let mut april = Browser::user(&app, "april", "approver");

    // the version page offers the moves the policy has from Staging
    let page = carol.get("/ui/models/churn/versions/1");
    page.expect(200);
    assert!(page.body.contains("Request the move"), "{}", page.body);
    assert!(
        page.body.contains("<option>Production</option>"),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    // without the token: refused, nothing opened
    let before = app.snapshot();
    carol
        .post(
            "/ui/models/churn/versions/1/requests",
            &[("stage", "Production"), ("csrf", "wrong")],
        )
        .expect(403);
    let missing = carol.post(
        "/ui/models/churn/versions/1/requests",
        &[("stage", "Production")],
    );
    missing.expect(403);
    assert!(
        missing.body.contains("CSRF token is missing or wrong"),
        "{}",
        missing.body
    );
    assert_eq!(app.snapshot(), before);
    let opened = carol.post(
        "/ui/models/churn/versions/1/requests",
        &[
            ("stage", "Production"),
            ("comment", "AUC 0.91 on holdout"),
            ("csrf", &csrf),
        ],
    );
    opened.redirects_to("/ui/requests/1");

    // the requester sees no approve button, and a forged approval is refused
    let own = carol.get("/ui/requests/1");
    own.expect(200);
    assert!(!own.body.contains("Approve</button>"), "{}", own.body);
    assert!(own.body.contains("Cancel the request"), "{}", own.body);
    let csrf = own.csrf();
    let before = app.snapshot();
    let forged = carol.post("/ui/requests/1/approve", &[("csrf", &csrf)]);
    forged.expect(403);
    assert!(
        forged.body.contains("needs role approver"),
        "{}",
        forged.body
    );
    assert_eq!(app.snapshot(), before);

    // the approver finds it in the inbox and approves it
    let inbox = april.get("/ui/requests");
    inbox.expect(200);
    assert!(
        inbox.body.contains("Waiting for your approval"),
        "{}",
        inbox.body
    );
    assert!(
        inbox.body.contains(r#"href="/ui/requests/1""#),
        "{}",
        inbox.body
    );
    let request = april.get("/ui/requests/1");
    assert!(
        request.body.contains("Approve</button>"),
        "{}",
        request.body
    );
    assert!(
        request.body.contains("AUC 0.91 on holdout"),
        "{}",
        request.body
    );
    let csrf = request.csrf();
    april
        .post(
            "/ui/requests/1/approve",
            &[("csrf", &csrf), ("comment", "looks right")],
        )
        .redirects_to("/ui/requests/1");
    assert_eq!(app.stage("churn", 1), "Production");
    let decided = april.get("/ui/requests/1");
    assert!(decided.body.contains("status-applied"), "{}", decided.body);
    assert!(
        !decided.body.contains("Approve</button>"),
        "{}",
        decided.body
    );
    // nothing waits for april any more
    let inbox = april.get("/ui/requests");
    assert!(
        inbox.body.contains("Nothing waits for you."),
        "{}",
        inbox.body
    );

    // the version page shows the stage and both in the trail
    let version = carol.get("/ui/models/churn/versions/1");
    assert!(
        version
            .body
            .contains(r#"<span class="stage stage-production">Production</span></h1>"#),
        "{}",
        version.body
    );
    for line in [
        "Requested Staging → Production</strong> by carol",
        "Approved the request</strong> by april",
        "Moved Staging → Production</strong> by april",
    ] {
        assert!(version.body.contains(line), "{line}: {}", version.body);
    }
    app.assert_audit_intact();
}

#[test]
fn a_viewer_sees_no_write_control_and_the_server_refuses_a_forged_form() {
    let app = spawn_app();
    app.create_model("churn");
    app.create_version("churn");
    app.transition("churn", 1, "Staging", false).expect(200);
    let carol = app.user_token("carol", "contributor");
    let request = app
        .call_as(
            Some(&carol),
            "POST",
            "/api/v1/models/churn/versions/1/transition-requests",
            Some(json!({"stage": "Production"})),
        )
        .expect(201)["id"]
        .clone();
    let mut vic = Browser::user(&app, "vic", "viewer");
    let version = vic.get("/ui/models/churn/versions/1");
    version.expect(200);
    assert!(
        !version.body.contains("Request the move"),
        "{}",
        version.body
    );
    let page = vic.get(&format!("/ui/requests/{request}"));
    page.expect(200);
    for control in ["Approve</button>", "Reject</button>", "Cancel the request"] {
        assert!(!page.body.contains(control), "{control}: {}", page.body);
    }
    assert!(page.body.contains("needs role approver"), "{}", page.body);
    // the only form is signing out; its token is the session's
    let csrf = page.csrf();
    let before = app.snapshot();
    for (path, form) in [
        (
            "/ui/models/churn/versions/1/requests".to_owned(),
            vec![("stage", "Production"), ("csrf", csrf.as_str())],
        ),
        (
            format!("/ui/requests/{request}/approve"),
            vec![("csrf", csrf.as_str())],
        ),
        (
            format!("/ui/requests/{request}/cancel"),
            vec![("csrf", csrf.as_str())],
        ),
    ] {
        let refused = vic.post(&path, &form);
        refused.expect(403);
        assert_eq!(
            refused.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
    }
    assert_eq!(app.snapshot(), before);
}

#[test]
fn pages_answer_html_errors_and_the_root_leads_to_the_ui() {
    let app = spawn_app();
    let mut browser = Browser::user(&app, "vera", "viewer");
    browser.get("/").redirects_to("/ui/");
    let missing = browser.get("/ui/models/ghost");
    missing.expect(404);
    assert!(
        missing
            .body
            .contains("registered model &#39;ghost&#39; does not exist"),
        "{}",
        missing.body
    );
    assert_eq!(
        missing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    browser.get("/ui/nothing-here").expect(404);
    browser.get("/ui/models/churn/versions/x").expect(400);
    let bad_filter = browser.get("/ui/models?filter=name%20%3D");
    bad_filter.expect(400);
    let style = browser.get("/ui/static/style.css");
    style.expect(200);
    assert_eq!(
        style.header("content-type"),
        Some("text/css; charset=utf-8")
    );
    let script = browser.get("/ui/static/htmx-2.0.4.min.js");
    script.expect(200);
    assert!(script.body.starts_with("var htmx="), "the vendored htmx");
    browser.get("/ui/static/../Cargo.toml").expect(404);
    // an address outside the UI is never where sign-in leads
    let mut other = Browser::new(&app);
    let form = other.get("/ui/signin?next=https://evil.example/");
    let csrf = form.csrf();
    other
        .post(
            "/ui/signin",
            &[
                ("username", "vera"),
                ("password", "password-vera"),
                ("csrf", &csrf),
                ("next", "https://evil.example/"),
            ],
        )
        .redirects_to("/ui/");
}

#[test]
fn the_session_cookie_is_secure_behind_a_trusted_proxy_that_says_https() {
    let app = spawn_app_with_config("[server]\ntrusted_proxies = \"127.0.0.1\"\n");
    app.user_token("vera", "viewer");
    let mut browser = Browser::new(&app);
    let form = browser.send_with("GET", "/ui/signin", None, &[("X-Forwarded-Proto", "https")]);
    assert!(form.cookies().join(" ").contains("Secure"), "{form:?}");
    let csrf = form.csrf();
    let signed_in = browser.send_with(
        "POST",
        "/ui/signin",
        Some(&[
            ("username", "vera"),
            ("password", "password-vera"),
            ("csrf", &csrf),
        ]),
        &[("Forwarded", "for=198.51.100.4;proto=https")],
    );
    signed_in.redirects_to("/ui/");
    assert!(
        signed_in.cookies().join(" ").contains("Secure"),
        "{signed_in:?}"
    );

    // from a peer that is not a trusted proxy the header means nothing
    let direct = spawn_app();
    let mut browser = Browser::new(&direct);
    let form = browser.send_with("GET", "/ui/signin", None, &[("X-Forwarded-Proto", "https")]);
    assert!(!form.cookies().join(" ").contains("Secure"), "{form:?}");
}

#[test]
fn the_policy_page_draws_the_rules_and_the_audit_page_filters_the_feed() {
    let app = spawn_app();
    app.create_model("churn");
    app.create_model("fraud");
    app.create_version("churn");
    app.transition("churn", 1, "Staging", false).expect(200);
    let mut vera = Browser::user(&app, "vera", "viewer");

    let policy = vera.get("/ui/policy");
    policy.expect(200);
    assert_eq!(policy.body.matches("<line ").count(), 9, "{}", policy.body);
    assert!(policy.body.contains(r#"role="img""#), "{}", policy.body);
    // the guarded stage says so inside its box, on a line of its own
    assert!(
        policy.body.contains(">Production</text>") && policy.body.contains(">guarded</text>"),
        "{}",
        policy.body
    );
    assert_eq!(policy.body.matches("gate into a guarded stage").count(), 1);

    let all = vera.get("/ui/audit");
    all.expect(200);
    assert!(all.body.contains("model.created"), "{}", all.body);
    // identity events are for admins
    assert!(!all.body.contains("user.created"), "{}", all.body);
    assert!(!all.body.contains("Verify every link"), "{}", all.body);
    let churn = vera.get("/ui/audit?model=churn&type=version.stage_changed");
    churn.expect(200);
    assert!(
        churn.body.contains("version.stage_changed"),
        "{}",
        churn.body
    );
    assert!(!churn.body.contains("model.created"), "{}", churn.body);
    let later = vera.get("/ui/audit?since=2999-01-01T00:00");
    assert!(later.body.contains("No events match."), "{}", later.body);
    let earlier = vera.get("/ui/audit?until=2000-01-01T00:00");
    assert!(
        earlier.body.contains("No events match."),
        "{}",
        earlier.body
    );
    vera.get("/ui/audit?since=yesterday").expect(400);
    // asking to verify as a viewer runs nothing
    let asked = vera.get("/ui/audit?verify=1");
    assert!(!asked.body.contains("link up"), "{}", asked.body);

    let mut admin = Browser::new(&app);
    admin
        .sign_in("admin", crate::helpers::ADMIN_PASSWORD)
        .redirects_to("/ui/requests");
    let verified = admin.get("/ui/audit?verify=1");
    assert!(
        verified
            .body
            .contains("events link up: the chain is intact"),
        "{}",
        verified.body
    );
    assert!(verified.body.contains("user.created"), "{}", verified.body);
}

#[test]
fn compare_shows_two_versions_side_by_side() {
    let app = spawn_app();
    app.create_model("churn");
    app.create_version("churn");
    app.create_version("churn");
    app.put(
        "/api/v1/models/churn/versions/2/tags/auc",
        json!({"value": "0.91"}),
    )
    .expect(200);
    app.transition("churn", 2, "Staging", false).expect(200);
    app.put(
        "/api/v1/models/churn/aliases/candidate",
        json!({"version": 2}),
    )
    .expect(200);
    app.put(
        "/api/v1/models/churn/aliases/candidate",
        json!({"version": 1}),
    )
    .expect(200);
    let mut vera = Browser::user(&app, "vera", "viewer");
    // every kind of step reads as words, none as its stored name
    let version = vera.get("/ui/models/churn/versions/2");
    version.expect(200);
    assert!(
        version.body.contains("Alias set on this version")
            && version.body.contains("Alias taken off this version"),
        "{}",
        version.body
    );
    assert!(!version.body.contains("<strong>ALIAS_"), "{}", version.body);
    let page = vera.get("/ui/compare?model=churn&a=1&b=2");
    page.expect(200);
    assert!(
        page.body.contains(r#"<tr class="differs">"#),
        "{}",
        page.body
    );
    assert!(page.body.contains("Tag auc"), "{}", page.body);
    assert!(page.body.contains("Moved None → Staging"), "{}", page.body);
    vera.get("/ui/compare?model=churn&a=1&b=9").expect(404);
    vera.get("/ui/compare?model=churn&a=1").expect(400);
}

#[test]
fn admins_manage_users_and_tokens_and_no_one_else_may() {
    let app = spawn_app();
    let mut carol = Browser::user(&app, "carol", "contributor");
    carol.get("/ui/admin/users").expect(403);
    let csrf = carol.get("/ui/models").csrf();
    let before = app.snapshot();
    carol
        .post(
            "/ui/admin/users",
            &[
                ("csrf", &csrf),
                ("username", "mallory"),
                ("password", "long-enough"),
                ("role", "admin"),
            ],
        )
        .expect(403);
    assert_eq!(app.snapshot(), before);

    let mut admin = Browser::new(&app);
    admin
        .sign_in("admin", crate::helpers::ADMIN_PASSWORD)
        .redirects_to("/ui/requests");
    let users = admin.get("/ui/admin/users");
    users.expect(200);
    assert!(users.body.contains(">carol</th>"), "{}", users.body);
    let csrf = users.csrf();
    admin
        .post(
            "/ui/admin/users",
            &[
                ("csrf", &csrf),
                ("username", "dana"),
                ("password", "dana-password"),
                ("role", "approver"),
            ],
        )
        .redirects_to("/ui/admin/users");
    assert_eq!(
        app.get("/api/v1/users/dana").expect(200)["role"],
        "approver"
    );
    admin
        .post(
            "/ui/admin/users/dana",
            &[("csrf", &csrf), ("role", "viewer")],
        )
        .redirects_to("/ui/admin/users");
    assert_eq!(app.get("/api/v1/users/dana").expect(200)["role"], "viewer");
    // disabling carol ends her session at once
    admin
        .post(
            "/ui/admin/users/carol",
            &[("csrf", &csrf), ("disabled", "true")],
        )
        .redirects_to("/ui/admin/users");
    assert_eq!(app.get("/api/v1/users/carol").expect(200)["disabled"], true);
    carol
        .get("/ui/models")
        .redirects_to("/ui/signin?next=%2Fui%2Fmodels");
    admin
        .post("/ui/admin/users/dana", &[("csrf", &csrf)])
        .expect(400);

    // a token is shown once, on the answer to the form, and can be revoked
    let created = admin.post(
        "/ui/admin/tokens",
        &[
            ("csrf", &csrf),
            ("name", "nightly"),
            ("username", "dana"),
            ("days", "30"),
        ],
    );
    created.expect(200);
    let token = created
        .body
        .split(r#"readonly>"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("no token on the page: {}", created.body))
        .to_owned();
    assert_eq!(created.header("cache-control"), Some("no-store"));
    assert_eq!(
        app.call_as(Some(&token), "GET", "/api/v1/me", None)
            .expect(200)["username"],
        "dana"
    );
    let listed = admin.get("/ui/admin/tokens");
    assert!(!listed.body.contains(&token), "never shown again");
    assert!(listed.body.contains("Revoke nightly"), "{}", listed.body);
    admin
        .post("/ui/admin/tokens/1/revoke", &[("csrf", &csrf)])
        .redirects_to("/ui/admin/tokens");
    app.call_as(Some(&token), "GET", "/api/v1/me", None)
        .expect_error(401, "UNAUTHENTICATED");
    admin
        .post(
            "/ui/admin/tokens",
            &[
                ("csrf", &csrf),
                ("name", "x"),
                ("username", "dana"),
                ("days", "many"),
            ],
        )
        .expect(400);
}
