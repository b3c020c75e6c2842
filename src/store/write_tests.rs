//! What the writer stores: streaming and whole writes, batches of any size, lineage sources
//! written once.

use std::collections::BTreeSet;

use adlake_replay::project::{
    by_date, project, Carry, DateWindow, Event, Projector, ProjectorConfig,
};
use adlake_replay::testing::corpus;
use chrono::NaiveDate;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// The rows `read` makes of `sql`'s result, in a new database after `write_with` wrote to it.
fn written<T>(
    write_with: impl FnOnce(&mut duckdb::Connection),
    sql: &str,
    read: impl FnMut(&duckdb::Row<'_>) -> duckdb::Result<T>,
) -> Vec<T> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.duckdb");
    let mut conn = crate::store::db::open(
        &path,
        crate::store::db::Access::ReadWrite,
        std::time::Duration::from_secs(1),
    )
    .unwrap();
    crate::store::db::migrate(&mut conn, &path).unwrap();
    write_with(&mut conn);
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], read).unwrap().collect::<Result<_, _>>().unwrap()
}

/// projection_meta of a database written by `write_with`.
fn written_meta(write_with: impl FnOnce(&mut duckdb::Connection)) -> Vec<(String, String)> {
    written(
        write_with,
        "SELECT key, value FROM projection_meta WHERE key LIKE 'fingerprint.%' ORDER BY key",
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

#[test]
fn streaming_and_whole_writes_give_the_same_fingerprints() {
    let f = corpus();
    let config = ProjectorConfig::default();
    let whole = written_meta(|conn| crate::store::write::write(conn, &f.project()).unwrap());
    let streamed = written_meta(|conn| {
        let (markers, dates) = by_date(&f.events);
        let mut projector = Projector::new(&config, None, Carry::default());
        let mut writer = crate::store::write::Writer::begin(conn, None).unwrap();
        // Dates in ascending order, each date's events in reverse: order must not matter.
        for (date, events) in &dates {
            let reversed: Vec<Event> = events.iter().rev().cloned().collect();
            writer.day(projector.day(*date, &reversed)).unwrap();
        }
        let (campaign_runs, session_runs, marker_rows) = projector.runs(&markers);
        writer
            .finish(&campaign_runs, &session_runs, &marker_rows, &projector.events_applied())
            .unwrap();
    });
    let filled = whole.iter().filter(|(_, v)| v.len() == 64).count();
    assert!(filled >= 4, "campaign, session, completeness and lineage fingerprints: {whole:?}");
    assert_eq!(streamed, whole);
    // One connection writing again replaces what it wrote.
    let twice = written_meta(|conn| {
        crate::store::write::write(conn, &f.project()).unwrap();
        crate::store::write::write(conn, &f.project()).unwrap();
    });
    assert_eq!(twice, whole);
    // And the fingerprints see content: a different projection differs.
    let mut other = f.project();
    other.tables.campaign_index.pop();
    let changed = written_meta(|conn| crate::store::write::write(conn, &other).unwrap());
    assert_ne!(changed, whole);
    // Down to one value of one row, with every row count the same: only its table differs.
    let mut one_value = f.project();
    let row = &mut one_value.tables.session_hourly[0];
    row.sessions = Some(row.sessions.unwrap_or(0) + 1);
    let nudged = written_meta(|conn| crate::store::write::write(conn, &one_value).unwrap());
    let differing: Vec<&str> =
        whole.iter().zip(&nudged).filter(|(a, b)| a != b).map(|(a, _)| a.0.as_str()).collect();
    assert_eq!(differing, ["fingerprint.session_hourly_metrics"]);
}

#[test]
fn batches_of_any_size_write_what_one_date_at_a_time_writes() {
    let p = corpus().project();
    let dates: BTreeSet<NaiveDate> = p.tables.session_hourly.iter().map(|r| r.date).collect();
    assert!(dates.len() >= 3, "several dates to gather: {dates:?}");
    let in_batches_of = |batch_rows: usize| {
        let fingerprints = written(
            |conn| crate::store::write::write_in_batches(conn, &p, batch_rows).unwrap(),
            "SELECT table_name, CAST(date AS VARCHAR), row_count, fingerprint FROM projection_fingerprints ORDER BY rowid",
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?)),
        );
        let sessions = written(
            |conn| crate::store::write::write_in_batches(conn, &p, batch_rows).unwrap(),
            "SELECT campaign_id, CAST(date AS VARCHAR), click_hour, sessions FROM session_hourly_metrics ORDER BY rowid",
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i32>(2)?, r.get::<_, Option<i64>>(3)?)),
        );
        (fingerprints, sessions)
    };
    let one_date_at_a_time = in_batches_of(1);
    let session_dates =
        one_date_at_a_time.0.iter().filter(|f| f.0 == "session_hourly_metrics").count();
    assert_eq!(session_dates, dates.len(), "a fingerprint per date: {:?}", one_date_at_a_time.0);
    assert_eq!(one_date_at_a_time.1.len(), p.tables.session_hourly.len());
    for batch_rows in [2, 50, 1_000_000] {
        assert_eq!(in_batches_of(batch_rows), one_date_at_a_time, "batches of {batch_rows} rows");
    }
}

/// The `lineage_sources` rows after `write_with`, in source order.
fn written_sources(
    write_with: impl FnOnce(&mut duckdb::Connection),
) -> Vec<(i64, String, String, String, String, bool)> {
    written(write_with, "SELECT source_id, table_name, kind, columns, endpoint, chosen FROM lineage_sources ORDER BY ALL", |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
    })
}

#[test]
fn window_projections_add_only_the_lineage_sources_not_yet_written() {
    let f = corpus();
    let config = ProjectorConfig::default();
    let full = written_sources(|conn| crate::store::write::write(conn, &f.project()).unwrap());
    let kinds: BTreeSet<&str> = full.iter().map(|s| s.2.as_str()).collect();
    assert!(
        kinds.contains("campaign") && kinds.contains("session") && full.len() > kinds.len(),
        "the corpus names several sources of each table: {full:?}"
    );
    let days = ["2025-11-19", "2025-11-20", "2025-11-21", "2025-11-22", "2025-11-23", "2025-11-24"];
    let window =
        |day: &str| project(&f.events, Some(DateWindow { from: d(day), to: d(day) }), &config);
    // Every date again over the full projection: each source stays written once.
    let rewritten = written_sources(|conn| {
        crate::store::write::write(conn, &f.project()).unwrap();
        for day in days {
            crate::store::write::write(conn, &window(day)).unwrap();
        }
    });
    assert_eq!(rewritten, full);
    // Date by date into an empty database: each adds what the dates before it lacked.
    let incremental = written_sources(|conn| {
        for day in days {
            crate::store::write::write(conn, &window(day)).unwrap();
        }
    });
    assert_eq!(incremental, full);
}

#[test]
fn a_writer_dropped_unfinished_leaves_nothing_of_its_projection() {
    let (_, dates) = by_date(&corpus().events);
    let left: Vec<i64> = written(
        |conn| {
            let mut writer = crate::store::write::Writer::begin(conn, None).unwrap();
            writer.batch_rows = 1;
            let config = ProjectorConfig::default();
            let mut projector = Projector::new(&config, None, Carry::default());
            for (date, events) in &dates {
                writer.day(projector.day(*date, events)).unwrap();
            }
            // Dropped unfinished, as when a projection fails midway.
        },
        "SELECT count(*) FROM campaign_index",
        |r| r.get(0),
    );
    assert_eq!(left, vec![0], "one transaction: nothing of an unfinished projection stays");
}
