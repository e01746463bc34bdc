//! The index as writes make it against the index as the replay makes it.

use super::*;
use crate::db::event::{Snapshot, StageChange};
use crate::db::{ConnectionManager, DbUrl, run_migrations};

/// Writes done one after another in the same millisecond, each indexed
/// as a write would: the index must equal the replay of their events,
/// including a change undone within the millisecond.
#[test]
fn writes_within_one_millisecond_index_what_the_replay_makes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = DbUrl::Sqlite(dir.path().join("h.db"));
    let mut conn = ConnectionManager::new(url, 1000)
        .establish()
        .unwrap_or_else(|e| panic!("{e}"));
    run_migrations(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    let sql = |conn: &mut DbConn, statement: &str| {
        diesel::sql_query(statement)
            .execute(conn)
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    };
    let mut events: Vec<EventRow> = Vec::new();
    // one write: its table changes, then its events indexed
    let mut write = |conn: &mut DbConn,
                     ts: i64,
                     statements: &[&str],
                     made: &[(&str, Option<i64>, EventKind)]| {
        for statement in statements {
            sql(conn, statement);
        }
        let first = i64::try_from(events.len()).unwrap_or_default();
        let rows: Vec<EventRow> = (first + 1..)
            .zip(made)
            .map(|(id, (model, version, kind))| {
                let encoded = kind.encode().unwrap_or_else(|e| panic!("{e}"));
                EventRow {
                    id,
                    event_type: encoded.kind.to_owned(),
                    model_name: Some((*model).to_owned()),
                    version: *version,
                    actor: "t".to_owned(),
                    timestamp: ts,
                    payload: encoded.payload,
                    prev_hash: String::new(),
                    hash: String::new(),
                }
            })
            .collect();
        index(conn, &rows).unwrap_or_else(|e| panic!("{e}"));
        events.extend(rows);
    };
    let moved = |from: Stage, to: Stage| {
        EventKind::VersionStageChanged(StageChange::Move {
            from_stage: from,
            to_stage: to,
            archive_existing_versions: false,
            comment: None,
            request_id: None,
        })
    };
    let created = || EventKind::ModelCreated {
        registered_model: Snapshot::of(&serde_json::json!({})).unwrap_or_else(|e| panic!("{e}")),
    };
    let registered = || EventKind::VersionCreated {
        model_version: Snapshot::of(&serde_json::json!({})).unwrap_or_else(|e| panic!("{e}")),
    };
    let alias = || EventKind::AliasSet {
        alias: "champion".to_owned(),
        version: 1,
        previous_version: None,
        request_id: None,
    };
    let stage =
        |s: &str| format!("UPDATE model_versions SET current_stage = '{s}' WHERE version = 1");
    write(
        &mut conn,
        1000,
        &[
            "INSERT INTO registered_models (id, name, creation_timestamp, last_updated_timestamp, next_version) VALUES (1, 'm', 0, 0, 2)",
            "INSERT INTO model_versions (model_id, version, source, current_stage, status, created_by, creation_timestamp, last_updated_timestamp) VALUES (1, 1, 's', 'None', 'READY', 't', 0, 0)",
        ],
        &[("m", None, created()), ("m", Some(1), registered())],
    );
    // the same millisecond: to Staging and back
    let staging = stage("Staging");
    let none = stage("None");
    let back = [("m", Some(1), moved(Stage::Staging, Stage::None))];
    let there = [("m", Some(1), moved(Stage::None, Stage::Staging))];
    write(&mut conn, 1000, &[&staging], &there);
    write(&mut conn, 1000, &[&none], &back);
    // a later millisecond: champion set and removed; then to Staging
    let set =
        "INSERT INTO registered_model_aliases (model_id, alias, version) VALUES (1, 'champion', 1)";
    write(&mut conn, 2000, &[set], &[("m", Some(1), alias())]);
    let unset = "DELETE FROM registered_model_aliases";
    write(
        &mut conn,
        2000,
        &[unset],
        &[(
            "m",
            Some(1),
            EventKind::AliasDeleted {
                alias: "champion".to_owned(),
                previous_version: 1,
            },
        )],
    );
    write(&mut conn, 2000, &[&staging], &there);
    // renamed, then moved under the new name in the same millisecond
    let rename = "UPDATE registered_models SET name = 'n'";
    let renamed = EventKind::ModelRenamed {
        from: "m".to_owned(),
        to: "n".to_owned(),
    };
    write(&mut conn, 3000, &[rename], &[("n", None, renamed)]);
    write(&mut conn, 3000, &[set], &[("n", Some(1), alias())]);
    let back = [("n", Some(1), moved(Stage::Staging, Stage::None))];
    write(&mut conn, 3000, &[&none], &back);

    let mut replay = Replay::default();
    for event in &events {
        let kind = EventKind::of(event).unwrap_or_else(|e| panic!("{e}"));
        replay.apply(event, &kind);
    }
    let (names, resolutions) = replay.finish();
    assert_eq!(stored(&mut conn).ok(), Some((names, resolutions.clone())));
    let row = |label: &str, ts: i64, version: Option<i64>, event_id: i64| Resolution {
        model_key: 1,
        kind: if label == "champion" {
            Slot::ALIAS
        } else {
            Slot::STAGE
        }
        .to_owned(),
        label: label.to_owned(),
        ts,
        version,
        event_id,
    };
    let mut expected = vec![
        // at the end of 1000 only None held version 1 (the move back was the last touch)
        row("None", 1000, Some(1), 4),
        row("None", 2000, None, 7),
        row("Staging", 2000, Some(1), 7),
        row("None", 3000, Some(1), 10),
        row("Staging", 3000, None, 10),
        row("champion", 3000, Some(1), 9),
    ];
    expected.sort();
    assert_eq!(resolutions, expected);
}
