//! Failover as a tested feature (PostgreSQL only): a primary and a
//! synchronous standby made with `initdb` and `pg_basebackup` on free ports
//! in a temporary folder, modelgate on a multi-host URL with
//! `target_session_attrs=read-write`, writers running while the primary is
//! stopped with `-m immediate` and the standby promoted (and, as the README
//! says an operator must, its inherited `synchronous_standby_names`
//! cleared). Writes resume without restarting modelgate, every acknowledged
//! write is on the new primary, no request hangs, and `/readyz` goes unready
//! and ready again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;

use crate::helpers::{PG_ENV, TestApp, start, test_settings};

/// The newest installed PostgreSQL's programs.
fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap_or_else(|e| panic!("PostgreSQL's programs in /usr/lib/postgresql: {e}"))
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("no initdb under /usr/lib/postgresql"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL program, run as the `postgres` user when we are root (the
/// server refuses to run as root).
fn pg_command(bin: &Path, program: &str) -> Command {
    let path = bin.join(program);
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

/// Runs a PostgreSQL program and asserts it succeeded.
fn pg(bin: &Path, program: &str, args: &[&str]) {
    let output = pg_command(bin, program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("a free port: {e}"))
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A primary and a synchronous standby, stopped (immediately) on drop.
struct Pair {
    bin: PathBuf,
    _dir: tempfile::TempDir,
    primary: PathBuf,
    standby: PathBuf,
    ports: (u16, u16),
}

impl Pair {
    fn start() -> Pair {
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        if is_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap_or_else(|e| panic!("chown: {e}"));
            assert!(status.success());
        }
        let (primary, standby) = (dir.path().join("primary"), dir.path().join("standby"));
        let ports = (free_port(), free_port());
        let socket = dir.path().display().to_string();
        let (p, s) = (primary.display().to_string(), standby.display().to_string());
        pg(
            &bin,
            "initdb",
            &[
                "-D",
                &p,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        );
        append(
            &primary.join("postgresql.conf"),
            &format!(
                "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{socket}'\n\
                 wal_level = replica\nmax_wal_senders = 5\nsynchronous_standby_names = 'standby1'\n\
                 fsync = off\n",
                ports.0
            ),
        );
        pg(
            &bin,
            "pg_ctl",
            &["-D", &p, "-l", &format!("{p}.log"), "-w", "start"],
        );
        let port0 = ports.0.to_string();
        pg(
            &bin,
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port0,
                "-U",
                "postgres",
                "-D",
                &s,
                "-R",
                "-X",
                "stream",
            ],
        );
        append(
            &standby.join("postgresql.auto.conf"),
            &format!(
                "port = {}\nprimary_conninfo = 'host=127.0.0.1 port={} user=postgres application_name=standby1'\n",
                ports.1, ports.0
            ),
        );
        pg(
            &bin,
            "pg_ctl",
            &["-D", &s, "-l", &format!("{s}.log"), "-w", "start"],
        );
        let mut conn = PgConnection::establish(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            ports.0
        ))
        .unwrap_or_else(|e| panic!("connect to the primary: {e}"));
        conn.batch_execute("CREATE DATABASE mg")
            .unwrap_or_else(|e| panic!("create database (the standby must confirm it): {e}"));
        Pair {
            bin,
            _dir: dir,
            primary,
            standby,
            ports,
        }
    }

    fn stop(&self, data: &Path) {
        let data = data.display().to_string();
        if data_running(&data) {
            pg(
                &self.bin,
                "pg_ctl",
                &["-D", &data, "-m", "immediate", "-w", "stop"],
            );
        }
    }
}

fn data_running(data: &str) -> bool {
    Path::new(data).join("postmaster.pid").exists()
}

impl Drop for Pair {
    fn drop(&mut self) {
        for data in [&self.primary, &self.standby] {
            let data = data.display().to_string();
            if data_running(&data) {
                let _ = pg_command(&self.bin, "pg_ctl")
                    .args(["-D", &data, "-m", "immediate", "stop"])
                    .status();
            }
        }
    }
}

#[test]
#[ignore = "needs PostgreSQL's programs (initdb, pg_basebackup): run with \
            MODELGATE_TEST_DATABASE_URL=postgres://… cargo test -- --ignored"]
fn writes_resume_on_the_promoted_standby_with_every_acknowledged_write_kept() {
    assert!(
        std::env::var(PG_ENV).is_ok_and(|u| !u.is_empty()),
        "the failover test is one of the PostgreSQL-only tests: run with {PG_ENV}=postgres://… cargo test -- --ignored"
    );
    let pair = Pair::start();
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/mg?target_session_attrs=read-write",
        pair.ports.0, pair.ports.1
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = "[database]\nstatement_timeout_ms = 2000\nlock_timeout_ms = 1000\n\
                  connect_timeout_seconds = 2\nrequest_timeout_ms = 5000\n";
    let app: TestApp = start(test_settings(dir.path(), &url, config), None, Some(dir));
    // on any exit, PostgreSQL stops first: a server whose requests still wait
    // on it could not stop
    let rig = Rig {
        app: Some(app),
        pair,
    };
    let (app, pair) = (
        rig.app.as_ref().unwrap_or_else(|| panic!("the app")),
        &rig.pair,
    );
    app.create_model("m");

    let stop = AtomicBool::new(false);
    let acknowledged = Mutex::new(BTreeSet::new());
    let refused = Mutex::new(Vec::new());
    let readiness = Mutex::new(Vec::new());
    // figures the README quotes (printed, never asserted: machines are noisy)
    let longest = Mutex::new(Duration::ZERO);
    let mut outage = (Instant::now(), Instant::now());
    std::thread::scope(|scope| {
        // the helpers stop even when this thread panics (else the scope waits forever)
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = Stop(&stop);
        for _ in 0..4 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    // the client gives up after 60 s: a hung request fails below
                    let started = Instant::now();
                    let response =
                        app.post("/api/v1/models/m/versions", json!({"source": "s3://b/m"}));
                    longest
                        .lock()
                        .map(|mut l| *l = (*l).max(started.elapsed()))
                        .ok();
                    match response.status {
                        201 => {
                            let version = response.json["version"].as_i64().unwrap_or_default();
                            acknowledged.lock().map(|mut a| a.insert(version)).ok();
                        }
                        status => {
                            refused
                                .lock()
                                .map(|mut r| r.push((status, response.text)))
                                .ok();
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            });
        }
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let status = app.get("/readyz").status;
                readiness.lock().map(|mut r| r.push(status)).ok();
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        // writes flow, then the primary dies
        wait_for(
            || acknowledged.lock().map_or(0, |a| a.len()) >= 20,
            "writes before the failover",
        );
        eprintln!("failover: stopping the primary");
        outage.0 = Instant::now();
        pair.stop(&pair.primary);
        // the probe notices before the operator promotes (with only the
        // read-only standby up, no connection can write)
        wait_for(
            || {
                readiness
                    .lock()
                    .is_ok_and(|r| r.last().is_some_and(|s| *s != 200))
            },
            "/readyz to say not ready",
        );
        let before = acknowledged.lock().map_or(0, |a| a.len());
        // the operator promotes the standby and clears what it inherited
        let standby = pair.standby.display().to_string();
        eprintln!("failover: promoting the standby");
        let promoted = Instant::now();
        pg(&pair.bin, "pg_ctl", &["-D", &standby, "-w", "promote"]);
        eprintln!("failover: promoted");
        // as an operator would, with psql (ALTER SYSTEM runs outside any transaction)
        let port = pair.ports.1.to_string();
        let status = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-X", "-q"])
            .args(["-c", "ALTER SYSTEM SET synchronous_standby_names = ''"])
            .args(["-c", "SELECT pg_reload_conf()"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("psql: {e}"));
        assert!(status.success(), "clearing synchronous_standby_names");
        eprintln!("failover: synchronous_standby_names cleared");
        // writes resume on the new primary, modelgate untouched
        wait_for(
            || acknowledged.lock().map_or(0, |a| a.len()) > before,
            "the first write after the promotion",
        );
        outage.1 = Instant::now();
        eprintln!(
            "failover: writes resumed {:?} after the promotion, {:?} after the primary stopped",
            outage.1 - promoted,
            outage.1 - outage.0
        );
        wait_for(
            || acknowledged.lock().map_or(0, |a| a.len()) >= before + 20,
            "writes after the promotion",
        );
        wait_for(
            || readiness.lock().is_ok_and(|r| r.last() == Some(&200)),
            "/readyz ready again",
        );
        stop.store(true, Ordering::Relaxed);
    });

    let acknowledged = acknowledged.into_inner().unwrap_or_default();
    let refused = refused.into_inner().unwrap_or_default();
    eprintln!(
        "failover: {} writes acknowledged, {} refused with 503, the longest request {:?}",
        acknowledged.len(),
        refused.len(),
        longest.into_inner().unwrap_or_default()
    );
    let readiness = readiness.into_inner().unwrap_or_default();
    // what the writers were refused in between: 503s, never a 500 or a hang
    for (status, text) in &refused {
        assert_eq!(*status, 503, "{text}");
    }
    // every acknowledged version is on the new primary
    let listed = app
        .get("/api/v1/models/m/versions?max_results=1000")
        .expect(200)
        .clone();
    let stored: BTreeSet<i64> = listed["versions"]
        .as_array()
        .map(|vs| vs.iter().filter_map(|v| v["version"].as_i64()).collect())
        .unwrap_or_default();
    let lost: Vec<&i64> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    // the probe went unready during the failover and ready after it
    let first_unready = readiness.iter().position(|s| *s != 200);
    assert!(
        first_unready.is_some(),
        "/readyz never said not ready: {readiness:?}"
    );
    assert!(
        readiness[first_unready.unwrap_or_default()..].contains(&200),
        "/readyz never came back: {readiness:?}"
    );
    app.assert_audit_intact();
}

struct Rig {
    app: Option<TestApp>,
    pair: Pair,
}

impl Drop for Rig {
    fn drop(&mut self) {
        for data in [&self.pair.primary, &self.pair.standby] {
            self.pair.stop(data);
        }
        self.app.take();
    }
}

/// Waits until `done` holds, failing loudly after two minutes.
fn wait_for(done: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
