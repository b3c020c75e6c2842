//! Incremental projection through the binary: whatever order ingests arrive in (a backfill
//! after a later date, two overlapping runs at once), the database ends equal to one full
//! `reproject` of the same lake into a fresh database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use adlake::fake::faults;

use crate::util::*;

/// `projection_meta`'s per-table fingerprints (`fingerprint.<table>`) of the database at `db`.
pub fn meta_fingerprints(db: &Path) -> BTreeMap<String, String> {
    let conn = duckdb::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare("SELECT key, value FROM projection_meta WHERE key LIKE 'fingerprint.%'")
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .expect("query")
        .collect::<Result<BTreeMap<_, _>, _>>()
        .expect("rows");
    rows
}

/// Every projected table's fingerprint over its rows as stored, by name.
pub fn table_fingerprints(db: &Path) -> BTreeMap<String, String> {
    let conn = duckdb::Connection::open(db).expect("open db");
    adlake::store::write::TABLES
        .iter()
        .map(|t| {
            let fp = adlake::store::write::table_fingerprint(&conn, t).expect("fingerprint");
            (t.to_string(), fp)
        })
        .collect()
}

/// A full `reproject` of the scratch lake into a fresh database beside the scratch one.
fn full_rebuild(s: &Scratch) -> PathBuf {
    let fresh = s.path().join("rebuilt.duckdb");
    expect_code(&run(s.adlake_at(s.lake(), &fresh).arg("reproject")), 0);
    fresh
}

/// The tables (by fingerprint) in which `db` differs from `rebuilt`, empty when none does.
fn differing_tables(db: &Path, rebuilt: &Path) -> Vec<String> {
    let (ours, theirs) = (meta_fingerprints(db), meta_fingerprints(rebuilt));
    assert!(theirs.len() >= 8, "projection_meta holds every table's fingerprint: {theirs:?}");
    let mut differ: Vec<String> =
        theirs.iter().filter(|(k, v)| ours.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect();
    let (ours, theirs) = (table_fingerprints(db), table_fingerprints(rebuilt));
    differ.extend(
        theirs
            .iter()
            .filter(|(k, v)| ours.get(*k) != Some(*v))
            .map(|(k, _)| format!("rows of {k}")),
    );
    differ
}

fn rows<T: duckdb::types::FromSql>(db: &Path, sql: &str) -> Vec<(String, T)> {
    let conn = duckdb::Connection::open(db).expect("open db");
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, T>(1)?)))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    rows
}

#[test]
fn a_backfill_left_the_later_dates_expected_min_rows_and_session_metadata_null() {
    let s = Scratch::new();
    let (d1, d2, d3) = (days_ago(3), days_ago(2), days_ago(1));
    // On D3 only the session report answers: its campaigns have no campaign_index row that
    // day, so their session rows take owner, lane, category and media source from an earlier
    // date's row. Every other endpoint still gets a completeness row (FAILED).
    let mut config = Fake::config(20);
    for spec in adlake_replay::ENDPOINTS.iter().filter(|e| e.key != "s1_hourly_v3") {
        config.faults.push(faults::parse(&format!("{}@{d3}=502", spec.key)).expect("fault"));
    }
    let fake = Fake::start(config);
    expect_code(&run(fake.ingest(&s).args(["--date", &d3.to_string()])), 1);
    fake.fake.clear_faults();
    // The earlier dates arrive after D3 was projected.
    expect_code(
        &run(fake.ingest(&s).args(["--from", &d1.to_string(), "--to", &d2.to_string()])),
        0,
    );

    let rebuilt = full_rebuild(&s);
    let expected_min_rows = format!(
        "SELECT endpoint, expected_min_rows FROM endpoint_completeness WHERE date = DATE '{d3}' ORDER BY endpoint"
    );
    let want_min_rows: Vec<(String, Option<f64>)> = rows(&rebuilt, &expected_min_rows);
    assert_eq!(want_min_rows.len(), adlake_replay::ENDPOINTS.len());
    assert!(
        want_min_rows.iter().all(|(_, v)| v.is_some()),
        "D3 looks back at D1 and D2: {want_min_rows:?}"
    );
    let metadata = format!(
        "SELECT 'owner', count(owner) FROM session_hourly_metrics WHERE date = DATE '{d3}'
         UNION ALL SELECT 'category', count(category) FROM session_hourly_metrics WHERE date = DATE '{d3}'
         UNION ALL SELECT 'media_source', count(media_source) FROM session_hourly_metrics WHERE date = DATE '{d3}'
         UNION ALL SELECT 'rows', count(*) FROM session_hourly_metrics WHERE date = DATE '{d3}'
         ORDER BY 1"
    );
    let want_metadata: Vec<(String, i64)> = rows(&rebuilt, &metadata);
    assert!(
        want_metadata.iter().find(|(k, _)| k == "owner").is_some_and(|(_, n)| *n > 0),
        "D3's session rows take their owner from D2: {want_metadata:?}"
    );

    // All three at once, so that a failure shows every way the database differs.
    assert_eq!(
        (
            rows::<Option<f64>>(&s.db(), &expected_min_rows),
            rows::<i64>(&s.db(), &metadata),
            differing_tables(&s.db(), &rebuilt),
        ),
        (want_min_rows, want_metadata, Vec::<String>::new()),
        "(D3's expected_min_rows, D3's session rows with metadata, tables that differ from a full rebuild)"
    );
}

#[test]
fn two_overlapping_ingests_at_once_end_equal_to_a_full_reproject() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(20));
    // A backfill and a shorter, later range over the same lake and database, started together:
    // whichever projects second waits for the database (--lock-wait-ms) and must see both.
    let ranges = [(days_ago(9), days_ago(3)), (days_ago(4), days_ago(2))];
    let children: Vec<std::process::Child> = ranges
        .iter()
        .map(|(from, to)| {
            fake.ingest(&s)
                .args(["--lock-wait-ms", "300000", "--json", "--from"])
                .arg(from.to_string())
                .arg("--to")
                .arg(to.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn ingest")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        let out = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        expect_code(&out, 0);
    }
    let rebuilt = full_rebuild(&s);
    assert_eq!(
        differing_tables(&s.db(), &rebuilt),
        Vec::<String>::new(),
        "tables that differ from a full rebuild"
    );
}

#[test]
fn a_projection_that_waited_for_the_database_missed_events_written_while_it_waited() {
    let s = Scratch::new();
    let (d1, d2) = (days_ago(2), days_ago(1));
    let fake = Fake::start(Fake::config(20));
    expect_code(
        &run(fake.ingest(&s).args(["--from", &d1.to_string(), "--to", &d2.to_string()])),
        0,
    );

    // Another process holds the database while a projection of D2 starts and waits for it.
    let holder = duckdb::Connection::open(s.db()).expect("hold the lock");
    let waiting = s
        .adlake()
        .args(["--lock-wait-ms", "300000", "reproject", "--from"])
        .arg(d2.to_string())
        .arg("--to")
        .arg(d2.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn reproject");
    // Time for a projection that lists the lake before taking the lock to have listed it.
    // Whatever the timing, the one that lists after taking it sees the restatement below.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // Meanwhile D2 is restated into the lake (the run does not project: the database is held).
    fake.fake.restate();
    expect_code(&run(fake.ingest(&s).args(["--no-project", "--date", &d2.to_string()])), 0);
    drop(holder);
    let out = waiting.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let rebuilt = full_rebuild(&s);
    assert_eq!(
        differing_tables(&s.db(), &rebuilt),
        Vec::<String>::new(),
        "tables that differ from a full rebuild"
    );
}

#[test]
fn a_run_that_failed_at_login_kept_no_run_row_until_a_full_rebuild() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(10));
    // The login fails: the run writes its start and finish markers, fetches nothing and
    // projects nothing.
    let refused = run(fake
        .ingest(&s)
        .env("STRATEGIS_PASSWORD", "wrong")
        .args(["--date", &days_ago(5).to_string()]));
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    // A later run projects its own date only.
    expect_code(&run(fake.ingest(&s).args(["--date", &days_ago(1).to_string()])), 0);
    let rebuilt = full_rebuild(&s);
    let runs = "SELECT run_id, status FROM campaign_index_runs ORDER BY run_id";
    let want: Vec<(String, String)> = rows(&rebuilt, runs);
    assert_eq!(want.len(), 2, "both runs have a row: {want:?}");
    assert_eq!(
        (rows::<String>(&s.db(), runs), differing_tables(&s.db(), &rebuilt)),
        (want, Vec::<String>::new())
    );
}
