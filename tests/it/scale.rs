//! Beyond one machine: the whole pipeline with the lake on S3 (moto), and several `ingest`
//! workers sharing one S3 lake, each from its own directory and database.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::*;

/// The projected tables, as `adlake_replay` defines them for every store.
const TABLES: &[&str] = &[
    "campaign_index",
    "session_hourly_metrics",
    "endpoint_completeness",
    "campaign_index_runs",
    "session_ingest_runs",
    "raw_events",
    "lineage_entries",
    "session_lineage",
    "quarantine",
    "campaign_intraday",
    "intraday_inputs",
    "campaign_hourly",
];

/// What a fetch found, without when it ran: two runs of the same reports compare equal.
const REPORT_TABLES: &[&str] =
    &["campaign_index", "session_hourly_metrics", "endpoint_completeness"];
const WHEN: &[&str] =
    &["updated_at", "started_at", "finished_at", "last_success_at", "run_id", "fetched_at"];

fn json_of(out: &Output) -> serde_json::Value {
    expect_code(out, 0);
    out.json()
}

/// (source, date, body sha256) of every fetched event in the lake `cmd` names.
fn bodies_by_report(mut cmd: Command) -> BTreeSet<(String, String, String)> {
    let events = json_of(&run(cmd.args(["--json", "raw", "ls"])));
    events
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["source"] != "ingest")
        .map(|e| {
            let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (text("source"), text("date"), text("body_sha256"))
        })
        .collect()
}

#[test]
fn the_whole_pipeline_on_s3_gives_the_tables_of_the_same_lake_on_local_disk() {
    let Some(s3) = S3::bucket("the_whole_pipeline_on_s3") else { return };
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(12));
    let lake = s3.url("lake");
    let on_s3 = |db: &Path| {
        let mut cmd = s.adlake_at(&lake, db);
        s3.env(&mut cmd);
        cmd
    };
    let s3_db = s.path().join("s3.duckdb");
    let (from, to) = (days_ago(3).to_string(), today().to_string());
    let ingest = run(fake.ingest_with(on_s3(&s3_db)).args(["--from", &from, "--to", &to]));
    expect_code(&ingest, 0);
    // Again for today: a second snapshot of the same date, exported as it is projected.
    let by_ingest = s3.url("by-ingest");
    let again = run(fake
        .ingest_with(on_s3(&s3_db))
        .args(["--json", "--date", &to, "--export", &by_ingest]));
    let exported = json_of(&again)["export"].clone();
    assert_eq!(exported["window"], serde_json::json!([to, to]), "{exported}");
    assert!(exported["files_written"].as_u64().unwrap_or(0) >= 10, "{exported}");
    expect_code(&run(on_s3(&s3_db).arg("reproject")), 0);
    let verify = json_of(&run(on_s3(&s3_db).args(["--json", "raw", "verify"])));
    assert!(verify["problems"].as_array().is_some_and(|p| p.is_empty()), "{verify}");

    // The same objects on local disk, through the same commands.
    let local_lake = s.path().join("lake");
    let objects = s3.download("lake", &local_lake);
    assert!(objects > 100, "only {objects} objects in the S3 lake");
    let local_db = s.path().join("local.duckdb");
    expect_code(&run(s.adlake_at(&local_lake, &local_db).arg("reproject")), 0);
    let verify =
        json_of(&run(s.adlake_at(&local_lake, &local_db).args(["--json", "raw", "verify"])));
    assert!(verify["problems"].as_array().is_some_and(|p| p.is_empty()), "{verify}");

    let (a, b) = (tables_text(&s3_db, TABLES, &[]), tables_text(&local_db, TABLES, &[]));
    assert!(a.len() > 500, "only {} rows", a.len());
    assert!(a == b, "tables differ: first difference {:?}", a.iter().zip(&b).find(|(x, y)| x != y));

    // The export to S3 is the export to local disk, byte for byte.
    expect_code(&run(on_s3(&s3_db).args(["export", "parquet", "--into", &s3.url("export")])), 0);
    let local_export = s.path().join("export");
    let mut export = s.adlake_at(&local_lake, &local_db);
    expect_code(&run(export.args(["export", "parquet", "--into"]).arg(&local_export)), 0);
    let downloaded = s.path().join("export-from-s3");
    assert!(s3.download("export", &downloaded) > 20);
    let files = |dir: &Path| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        lake_bytes(dir)
            .into_iter()
            .filter(|(p, _)| !p.starts_with(dir.join("_adlake_staging")))
            .map(|(p, b)| (p.strip_prefix(dir).expect("under dir").to_owned(), b))
            .collect()
    };
    assert!(files(&downloaded) == files(&local_export), "the S3 export differs from the local one");
    assert!(s3.download("by-ingest", &s.path().join("by-ingest")) >= 10);

    let conn = duckdb::Connection::open(&local_db).expect("db");
    let campaign: String = conn
        .query_row(
            "SELECT campaign_id FROM campaign_index WHERE date = CAST(? AS DATE) AND spend_usd > 0 \
             AND revenue_usd > 0 ORDER BY campaign_id LIMIT 1",
            [&to],
            |r| r.get(0),
        )
        .expect("a campaign with spend and revenue");
    drop(conn);
    let audit = |mut cmd: Command| {
        let args = ["--json", "audit", "--campaign", &campaign, "--date", &to];
        json_of(&run(cmd.args(args).args(["--field", "spend_usd", "--raw"])))
    };
    let (on_s3_audit, local_audit) =
        (audit(on_s3(&s3_db)), audit(s.adlake_at(&local_lake, &local_db)));
    assert_eq!(on_s3_audit, local_audit);
    assert!(on_s3_audit.to_string().contains("spend_usd"), "{on_s3_audit}");
    let restated = |mut cmd: Command| {
        json_of(&run(cmd.args(["--json", "restatements", "--from", &from, "--to", &to])))
    };
    assert_eq!(restated(on_s3(&s3_db)), restated(s.adlake_at(&local_lake, &local_db)));
}

/// Three `ingest` workers at once on one S3 lake, each from a directory and database of its
/// own, split by `splits` (arguments after `ingest`); then one worker doing all of it alone,
/// on local disk, as the reference.
fn three_workers_on_one_lake(test: &str, splits: [Vec<String>; 3], all: Vec<String>) {
    let Some(s3) = S3::bucket(test) else { return };
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(10));
    let lake = s3.url("shared");
    let children: Vec<_> = splits
        .iter()
        .enumerate()
        .map(|(i, args)| {
            let dir = s.path().join(format!("worker-{i}"));
            std::fs::create_dir_all(&dir).expect("worker dir");
            let mut cmd = fake.ingest_with(s.adlake_at(&lake, "monitoring.duckdb"));
            s3.env(&mut cmd).args(["--json"]).args(args).current_dir(&dir);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn worker")
        })
        .collect();
    let mut events_written = 0;
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("worker");
        let out = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let report = json_of(&out);
        events_written += report["events_written"].as_u64().unwrap_or(0);
        assert!(s.path().join(format!("worker-{i}/monitoring.duckdb")).exists());
    }

    let shared_cmd = |db: &Path| {
        let mut cmd = s.adlake_at(&lake, db);
        s3.env(&mut cmd);
        cmd
    };
    let merged_db = s.path().join("merged.duckdb");
    let verify = json_of(&run(shared_cmd(&merged_db).args(["--json", "raw", "verify"])));
    assert!(verify["problems"].as_array().is_some_and(|p| p.is_empty()), "{verify}");

    // Each event was written by exactly one worker, and each body is one object.
    let local_copy = s.path().join("shared-copy");
    s3.download("shared", &local_copy);
    let envelopes = count_files(&local_copy.join("events"), "json") as u64;
    assert_eq!(events_written, envelopes, "events the workers wrote against envelopes stored");
    let events = bodies_by_report(shared_cmd(&merged_db));
    let referenced: BTreeSet<&String> = events.iter().map(|(_, _, sha)| sha).collect();
    assert_eq!(count_files(&local_copy.join("bodies"), "zst"), referenced.len());

    // One worker doing all of it: the same reports, the same bodies, the same tables.
    let alone = s.path().join("alone");
    std::fs::create_dir_all(&alone).expect("dir");
    let alone_lake = alone.join("lake");
    let alone_db = alone.join("monitoring.duckdb");
    let single = run(fake.ingest_with(s.adlake_at(&alone_lake, &alone_db)).args(&all));
    expect_code(&single, 0);
    assert_eq!(events, bodies_by_report(s.adlake_at(&alone_lake, &alone_db)));
    let reports: BTreeSet<(&str, &str)> =
        events.iter().map(|(e, d, _)| (e.as_str(), d.as_str())).collect();
    assert_eq!(reports.iter().map(|(e, _)| *e).collect::<BTreeSet<_>>().len(), 15, "{reports:?}");

    expect_code(&run(shared_cmd(&merged_db).arg("reproject")), 0);
    let merged = tables_text(&merged_db, REPORT_TABLES, WHEN);
    let reference = tables_text(&alone_db, REPORT_TABLES, WHEN);
    assert!(merged.len() > 100, "only {} rows", merged.len());
    assert!(
        merged == reference,
        "tables differ: first difference {:?}",
        merged.iter().zip(&reference).find(|(x, y)| x != y)
    );
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn three_workers_split_by_endpoint_groups_add_up_to_one_worker() {
    let (from, to) = (days_ago(2).to_string(), today().to_string());
    let dates = ["--from", &from, "--to", &to];
    let group = |endpoints: &str| {
        let mut a = args(&dates);
        a.extend(args(&["--endpoints", endpoints]));
        a
    };
    three_workers_on_one_lake(
        "three_workers_split_by_endpoint_groups",
        [
            group("s1_daily_v3,s1_hourly_v3,s1_reconciled,s1_rpc_average,strategis_metrics"),
            group("facebook_report,facebook_adsets,facebook_campaigns,facebook_pixel"),
            group("taboola_report,outbrain_report,newsbreak_report,mediago_report,zemanta_report,smartnews_report"),
        ],
        args(&dates),
    );
}

#[test]
fn three_workers_split_by_date_ranges_add_up_to_one_worker() {
    let d = |n: u64| days_ago(n).to_string();
    let range = |a: u64, b: u64| args(&["--from", &d(a), "--to", &d(b)]);
    three_workers_on_one_lake(
        "three_workers_split_by_date_ranges",
        [range(5, 4), range(3, 2), range(1, 0)],
        range(5, 0),
    );
}
