//! Projection through the binary: ingest projects, `reproject` rebuilds byte-identical
//! tables from the lake alone, a killed reproject changes nothing, the seed's queries work.

use std::time::Duration;

use adlake::fake::faults;

use crate::util::*;

fn fingerprints(s: &Scratch) -> Vec<(String, String)> {
    let conn = duckdb::Connection::open(s.db()).expect("open db");
    let mut out = Vec::new();
    for t in adlake::store::write::TABLES {
        out.push((
            t.to_string(),
            adlake::store::write::table_fingerprint(&conn, t).expect("fingerprint"),
        ));
    }
    out
}

/// Sorted CSV-ish export of every projected table: what "byte-identical contents" means.
fn export(s: &Scratch) -> String {
    let conn = duckdb::Connection::open(s.db()).expect("open db");
    let mut out = String::new();
    for t in adlake::store::write::TABLES {
        let sql = format!("SELECT CAST(t AS VARCHAR) AS line FROM {t} AS t ORDER BY line");
        let mut stmt = conn.prepare(&sql).expect("prepare");
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        out.push_str(&format!("## {t} ({} rows)\n{}\n", lines.len(), lines.join("\n")));
    }
    out
}

fn scalar(s: &Scratch, sql: &str) -> i64 {
    let conn = duckdb::Connection::open(s.db()).expect("open db");
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// An ingest with faults, retries and a restatement between two runs.
fn messy_lake(s: &Scratch) -> Fake {
    let mut config = Fake::config(25);
    config
        .faults
        .push(faults::parse(&format!("taboola_report@{}=502", days_ago(2))).expect("fault"));
    config
        .faults
        .push(faults::parse(&format!("outbrain_report@{}=429", days_ago(1))).expect("fault"));
    config.faults.push(
        faults::parse(&format!("newsbreak_report@{}=garbage*1", days_ago(1))).expect("fault"),
    );
    config.faults.push(
        faults::parse(&format!("mediago_report@{}=truncated*1", days_ago(3))).expect("fault"),
    );
    let fake = Fake::start(config);
    let range =
        ["--from".to_string(), days_ago(4).to_string(), "--to".into(), days_ago(1).to_string()];
    expect_code(&run(fake.ingest(s).args(&range)), 1);
    fake.fake.restate();
    fake.fake.clear_faults();
    expect_code(&run(fake.ingest(s).args(&range)), 0);
    fake
}

#[test]
fn reproject_from_the_lake_alone_reproduces_identical_tables() {
    let s = Scratch::new();
    let _fake = messy_lake(&s);
    let after_ingest = export(&s);
    assert!(scalar(&s, "SELECT count(*) FROM campaign_index") > 50);
    // The incremental projections of ingest equal one full rebuild...
    let rebuilt = run(s.adlake().args(["--json", "reproject"]));
    expect_code(&rebuilt, 0);
    assert_eq!(export(&s), after_ingest, "full rebuild differs from the incremental projections");
    // ...and a deleted database comes back byte-identical, with no network and no credentials.
    let before = fingerprints(&s);
    std::fs::remove_file(s.db()).expect("rm db");
    let _ = std::fs::remove_file(s.db().with_extension("duckdb.wal"));
    let out = run(s
        .adlake()
        .args(["--json", "reproject"])
        .env("ADLAKE_UPSTREAM_URL", "http://127.0.0.1:9"));
    expect_code(&out, 0);
    assert_eq!(fingerprints(&s), before);
    assert_eq!(export(&s), after_ingest);
    let meta = scalar(&s, "SELECT count(*) FROM projection_meta WHERE key LIKE 'fingerprint.%'");
    assert!(meta >= 6);
}

#[test]
fn ingest_projects_the_dates_it_touched_and_status_shows_them() {
    let s = Scratch::new();
    let d = days_ago(2);
    let mut config = Fake::config(20);
    config.faults.push(faults::parse(&format!("taboola_report@{d}=502")).expect("fault"));
    config.faults.push(faults::parse(&format!("zemanta_report@{d}=garbage")).expect("fault"));
    let fake = Fake::start(config);
    let out = run(fake.ingest(&s).args(["--json", "--date", &d.to_string()]));
    expect_code(&out, 1);
    assert!(out.json()["projection"]["campaign_rows"].as_u64().unwrap_or(0) > 10);
    let failed = scalar(&s, &format!("SELECT count(*) FROM endpoint_completeness WHERE date = DATE '{d}' AND status = 'FAILED'"));
    assert_eq!(failed, 2);
    let quarantined =
        scalar(&s, "SELECT count(*) FROM quarantine WHERE endpoint = 'zemanta_report'");
    assert_eq!(quarantined, 3, "every garbage attempt is kept and quarantined");
    let runs = scalar(&s, "SELECT count(*) FROM campaign_index_runs WHERE status = 'partial'");
    assert_eq!(runs, 1);

    let status = run(s.adlake().arg("status"));
    expect_code(&status, 0);
    let text = status.stdout_text();
    let taboola = text.lines().find(|l| l.starts_with("taboola_report")).unwrap_or_default();
    assert!(taboola.contains("FAILED r2"), "{text}");
    assert!(text.contains("quarantined events: 3"), "{text}");
    let json = run(s.adlake().args(["--json", "status"]));
    expect_code(&json, 0);
    assert_eq!(json.json()["quarantine"].as_array().map(Vec::len), Some(3));
}

#[test]
fn the_seed_queries_run_against_the_database() {
    let s = Scratch::new();
    let d = days_ago(3);
    let mut config = Fake::config(30);
    config.faults.push(faults::parse(&format!("taboola_report@{d}=502")).expect("fault"));
    let fake = Fake::start(config);
    expect_code(
        &run(fake.ingest(&s).args(["--from", &days_ago(5).to_string(), "--to", &d.to_string()])),
        1,
    );
    let conn = duckdb::Connection::open(s.db()).expect("open");
    let first = format!(
        "SELECT \n  campaign_id,\n  campaign_name,\n  owner,\n  category,\n  media_source,\n  spend_usd,\n  revenue_usd,\n  sessions,\n  clicks,\n  roas\nFROM campaign_index\nWHERE date = '{d}'\nORDER BY revenue_usd DESC;"
    );
    let rows: Vec<(String, Option<String>, Option<f64>, Option<f64>)> = conn
        .prepare(&first)
        .expect("seed query 1")
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(4)?, r.get::<_, Option<f64>>(5)?, r.get::<_, Option<f64>>(9)?))
        })
        .expect("run")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(rows.len() > 20);
    let taboola: Vec<_> = rows.iter().filter(|r| r.1.as_deref() == Some("taboola")).collect();
    assert!(
        !taboola.is_empty() && taboola.iter().all(|r| r.2.is_none() && r.3.is_none()),
        "taboola failed that day: spend and roas NULL"
    );
    assert!(rows.iter().any(|r| r.1.as_deref() == Some("facebook") && r.3.is_some()));
    let second = format!(
        "SELECT \n  c.campaign_id,\n  c.campaign_name,\n  c.media_source,\n  c.revenue_usd as daily_revenue,\n  SUM(s.revenue) as hourly_revenue_total,\n  SUM(s.sessions) as hourly_sessions_total\nFROM campaign_index c\nLEFT JOIN session_hourly_metrics s\n  ON c.campaign_id = s.campaign_id\n  AND c.date = s.date\nWHERE c.date = '{d}'\nGROUP BY c.campaign_id, c.campaign_name, c.media_source, c.revenue_usd;"
    );
    let joined: i64 = conn
        .query_row(&format!("SELECT count(*) FROM ({})", second.trim_end_matches(';')), [], |r| {
            r.get(0)
        })
        .expect("seed query 2");
    assert!(joined > 20);
    let sessions_match: i64 = conn
        .query_row(
            &format!(
                "SELECT count(*) FROM ({}) WHERE hourly_sessions_total IS NOT NULL AND hourly_sessions_total > 0",
                second.trim_end_matches(';')
            ),
            [],
            |r| r.get(0),
        )
        .expect("seed query 2 rows");
    assert!(sessions_match > 10);
    let health = format!(
        "SELECT date, endpoint, platform, status, row_count, has_revenue, has_spend, error_message\nFROM endpoint_completeness\nWHERE date >= DATE '{d}' - INTERVAL 7 DAY\nORDER BY date DESC, endpoint"
    );
    let failed: Vec<(String, String)> = conn
        .prepare(&health)
        .expect("health query")
        .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, String>(3)?)))
        .expect("run")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows")
        .into_iter()
        .filter(|(_, status)| status == "FAILED")
        .collect();
    assert_eq!(failed, vec![("taboola_report".to_string(), "FAILED".to_string())]);
}

#[test]
fn a_killed_reproject_leaves_the_previous_tables_intact() {
    let s = Scratch::new();
    let _fake = messy_lake(&s);
    let before = export(&s);
    for delay_ms in [5u64, 40, 120, 300] {
        let mut child = s
            .adlake()
            .arg("reproject")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        assert_eq!(export(&s), before, "tables changed after a reproject killed at {delay_ms} ms");
    }
    // What a killed rebuild left beside the database is cleared by the next one.
    expect_code(&run(s.adlake().arg("reproject")), 0);
    assert_eq!(export(&s), before);
    let rebuild = adlake::store::db::rebuild_path(&s.db());
    assert!(!rebuild.exists(), "{} left behind", rebuild.display());
}

#[test]
fn a_full_reproject_replaces_the_file_unless_it_holds_objects_adlake_does_not_create() {
    use std::os::unix::fs::MetadataExt;
    let s = Scratch::new();
    let _fake = messy_lake(&s);
    let before = export(&s);
    let inode = || std::fs::metadata(s.db()).expect("db").ino();
    let first = inode();
    expect_code(&run(s.adlake().arg("reproject")), 0);
    assert_ne!(inode(), first, "a full reproject installs a fresh file");
    assert_eq!(export(&s), before);

    // A user's view lives only in this file: the rebuild happens in place and keeps it.
    let conn = duckdb::Connection::open(s.db()).expect("open db");
    conn.execute_batch("CREATE VIEW buyer_roas AS SELECT owner, sum(revenue_usd) / sum(spend_usd) AS roas FROM campaign_index GROUP BY owner").expect("view");
    drop(conn);
    let kept = inode();
    let out = run(s.adlake().args(["-v", "reproject"]));
    expect_code(&out, 0);
    assert!(
        out.stderr.contains("view buyer_roas"),
        "says which objects made it rebuild in place: {}",
        out.stderr
    );
    assert_eq!(inode(), kept);
    assert_eq!(export(&s), before);
    let groups = scalar(&s, "SELECT count(DISTINCT owner) + (count(*) FILTER (WHERE owner IS NULL) > 0)::INTEGER FROM campaign_index");
    assert!(groups > 0);
    assert_eq!(
        scalar(&s, "SELECT count(*) FROM buyer_roas"),
        groups,
        "the view still reads the rebuilt table"
    );
}

#[test]
fn a_window_projection_reads_earlier_dates_from_the_database_only_while_they_are_current() {
    let s = Scratch::new();
    let (old, first, last) = (days_ago(5), days_ago(3), days_ago(1));
    let fake = Fake::start(Fake::config(20));
    expect_code(
        &run(fake.ingest(&s).args(["--from", &first.to_string(), "--to", &last.to_string()])),
        0,
    );

    // Current database: a one-day projection keeps to its day and changes nothing.
    let before = export(&s);
    let out = run(s.adlake().args([
        "--json",
        "reproject",
        "--from",
        &last.to_string(),
        "--to",
        &last.to_string(),
    ]));
    expect_code(&out, 0);
    assert_eq!(
        out.json()["window"],
        serde_json::json!([last, last]),
        "a current database is not re-read"
    );
    assert_eq!(export(&s), before);

    // An older date arrives late. The dates after it look back at its row counts
    // (expected_min_rows), so its ingest projects them again with it, up to the lake's last
    // date (today's, which holds the runs' markers).
    let out = run(fake.ingest(&s).args(["--json", "--date", &old.to_string()]));
    expect_code(&out, 0);
    assert_eq!(
        out.json()["projection"]["window"],
        serde_json::json!([old, today()]),
        "widened forward over the dates that look back at the late one"
    );
    let looked_back = scalar(&s, &format!("SELECT count(*) FROM endpoint_completeness WHERE date = DATE '{first}' AND expected_min_rows IS NOT NULL"));
    assert!(looked_back > 0, "the first date now looks back at the late one");
    let projected = export(&s);
    expect_code(&run(s.adlake().args(["reproject"])), 0);
    assert_eq!(projected, export(&s), "the widened window equals a full rebuild");

    // Events that reach the lake unprojected (`--no-project`) leave the database stale: the
    // next window projection widens back to them, and forward over the dates after them.
    let older = days_ago(7);
    expect_code(&run(fake.ingest(&s).args(["--no-project", "--date", &older.to_string()])), 0);
    let out = run(s.adlake().args([
        "--json",
        "reproject",
        "--from",
        &last.to_string(),
        "--to",
        &last.to_string(),
    ]));
    expect_code(&out, 0);
    assert_eq!(
        out.json()["window"],
        serde_json::json!([older, today()]),
        "widened back to the first stale date and forward to the last"
    );
    let widened = export(&s);
    expect_code(&run(s.adlake().args(["reproject"])), 0);
    assert_eq!(widened, export(&s), "the widened window equals a full rebuild");
}

#[test]
fn a_reproject_of_dates_the_lake_never_fetched_is_refused_and_changes_nothing() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(10));
    expect_code(&run(fake.ingest(&s).args(["--date", &days_ago(1).to_string()])), 0);
    let rows = scalar(&s, "SELECT count(*) FROM campaign_index");
    assert!(rows > 0);
    // A path with no lake at all, and an empty directory.
    let wrong = s.path().join("typo-lake");
    let out = run(s.adlake_with_lake(&wrong).arg("reproject"));
    expect_code(&out, 2);
    assert!(
        out.stderr.contains("no lake at") && out.stderr.contains("typo-lake"),
        "{}",
        out.stderr
    );
    assert!(!wrong.exists(), "reproject created a lake directory");
    std::fs::create_dir(&wrong).expect("mkdir");
    let out = run(s.adlake_with_lake(&wrong).arg("reproject"));
    expect_code(&out, 2);
    assert!(
        out.stderr.contains("holds no events") && out.stderr.contains("typo-lake"),
        "{}",
        out.stderr
    );
    assert_eq!(
        scalar(&s, "SELECT count(*) FROM campaign_index"),
        rows,
        "the database is untouched"
    );

    // A window with no fetched report (here a mistyped date; the lake's only events there
    // would be run markers) is refused the same way, also as a dry run.
    let fetched = days_ago(1).to_string();
    let typo = "2020-01-01";
    for extra in [None, Some("--dry-run")] {
        let out = run(s.adlake().arg("reproject").args(extra).args(["--from", typo, "--to", typo]));
        expect_code(&out, 2);
        assert!(
            out.stderr.contains(&format!("no fetched reports for {typo}..{typo}")),
            "{}",
            out.stderr
        );
    }
    let wrong_lake =
        run(s.adlake_with_lake(&wrong).args(["reproject", "--from", &fetched, "--to", &fetched]));
    expect_code(&wrong_lake, 2);
    assert!(wrong_lake.stderr.contains("typo-lake"), "{}", wrong_lake.stderr);
    assert_eq!(
        scalar(&s, "SELECT count(*) FROM campaign_index"),
        rows,
        "the database is untouched"
    );
    expect_code(&run(s.adlake().args(["reproject", "--from", &fetched, "--to", &fetched])), 0);
    assert_eq!(
        scalar(&s, "SELECT count(*) FROM campaign_index"),
        rows,
        "a window with reports projects as before"
    );

    // Reprojecting only reads the lake (it may be a read-only copy): not even a write probe
    // touches its directory.
    let lake_modified =
        || std::fs::metadata(s.lake()).and_then(|m| m.modified()).expect("lake mtime");
    let before = lake_modified();
    expect_code(&run(s.adlake().arg("reproject")), 0);
    assert_eq!(lake_modified(), before, "reproject wrote into the lake");
}
