//! `init`, migrations and the database lock, through the binary.

use std::time::Instant;

use crate::util::*;

#[test]
fn init_creates_lake_and_database_and_is_idempotent() {
    let s = Scratch::new();
    let first = run(s.adlake().arg("init"));
    expect_code(&first, 0);
    assert!(s.lake().is_dir() && s.db().is_file());
    let second = run(s.adlake().arg("init"));
    expect_code(&second, 0);
    let conn = duckdb::Connection::open(s.db()).expect("open");
    let applied: i64 =
        conn.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).expect("query");
    assert_eq!(applied as usize, adlake::store::db::MIGRATIONS.len());
    for table in [
        "campaign_index",
        "session_hourly_metrics",
        "endpoint_completeness",
        "campaign_index_runs",
        "session_ingest_runs",
        "raw_events",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                [table],
                |r| r.get(0),
            )
            .expect("query");
        assert_eq!(n, 1, "table {table} missing");
    }
}

#[test]
fn a_changed_migration_is_a_clear_error() {
    let s = Scratch::new();
    expect_code(&run(s.adlake().arg("init")), 0);
    {
        let conn = duckdb::Connection::open(s.db()).expect("open");
        conn.execute("UPDATE schema_migrations SET checksum = 'deadbeef' WHERE version = 1", [])
            .expect("tamper");
    }
    let out = run(s.adlake().arg("init"));
    expect_code(&out, 1);
    assert!(out.stderr.contains("0001_init") && out.stderr.contains("changed"), "{}", out.stderr);
}

#[test]
fn a_locked_database_waits_then_names_the_holder() {
    let s = Scratch::new();
    expect_code(&run(s.adlake().arg("init")), 0);
    let holder = duckdb::Connection::open(s.db()).expect("hold the lock");
    let started = Instant::now();
    let out = run(s.adlake().args(["--lock-wait-ms", "600", "init"]));
    expect_code(&out, 1);
    assert!(started.elapsed().as_millis() >= 600, "did not wait");
    assert!(
        out.stderr.contains("locked")
            && out.stderr.contains(&format!("PID {}", std::process::id())),
        "{}",
        out.stderr
    );
    drop(holder);
    expect_code(&run(s.adlake().arg("init")), 0);
}
