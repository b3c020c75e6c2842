//! `export parquet` through the binary: the files read back (DuckDB, and pyarrow when
//! present) equal the tables row for row; an unchanged window re-exports byte-identical
//! files; a changed date replaces only its partition; a killed export leaves every partition
//! the old file or the new one; readers of the reader copy never wait for `ingest`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::util::*;

/// Every file under `dir` (outside the staging directory), by path relative to `dir`.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    lake_bytes(dir)
        .into_iter()
        .filter_map(|(path, bytes)| {
            let rel = path.strip_prefix(dir).ok()?.to_string_lossy().into_owned();
            (!rel.starts_with("_adlake_staging")).then_some((rel, bytes))
        })
        .collect()
}

/// A database of three days from the fake, projected by `ingest`.
fn ingested(campaigns: usize) -> (Scratch, Fake) {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(campaigns));
    let (from, to) = (days_ago(2).to_string(), today().to_string());
    expect_code(&run(fake.ingest(&s).args(["--from", &from, "--to", &to])), 0);
    (s, fake)
}

fn export(s: &Scratch, into: &Path, extra: &[&str]) -> serde_json::Value {
    let out = run(s.adlake().args(["--json", "export", "parquet", "--into"]).arg(into).args(extra));
    expect_code(&out, 0);
    out.json()
}

/// For each exported table: (rows in the table, rows in the files, rows in one and not the
/// other), read back through DuckDB's own Parquet reader.
fn compare_with_tables(db: &Path, dir: &Path, tables: &[String]) -> Vec<(String, i64, i64, i64)> {
    let conn = duckdb::Connection::open(db).expect("db");
    let mut out = Vec::new();
    for t in tables {
        let columns: Vec<String> = {
            let mut stmt = conn
                .prepare("SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position")
                .expect("columns");
            stmt.query_map([t], |r| r.get(0)).expect("columns").flatten().collect()
        };
        let list = columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let dated = columns.iter().any(|c| c == "date");
        let glob = if dated {
            format!("{}/{t}/*/*.parquet", dir.display())
        } else {
            format!("{}/{t}/*.parquet", dir.display())
        };
        let files = if glob::is_empty(&glob) {
            format!("(SELECT {list} FROM \"{t}\" WHERE false)")
        } else {
            format!("(SELECT {list} FROM read_parquet('{glob}', hive_partitioning = true))")
        };
        let table = format!("(SELECT {list} FROM \"{t}\")");
        let count = |sql: String| -> i64 { conn.query_row(&sql, [], |r| r.get(0)).expect(&sql) };
        out.push((
            t.clone(),
            count(format!("SELECT count(*) FROM {table}")),
            count(format!("SELECT count(*) FROM {files}")),
            count(format!(
                "SELECT (SELECT count(*) FROM ({table} EXCEPT ALL {files})) + (SELECT count(*) FROM ({files} EXCEPT ALL {table}))"
            )),
        ));
    }
    out
}

mod glob {
    /// Whether `pattern` (`dir/table/*/*.parquet` or `dir/table/*.parquet`) matches no file.
    pub fn is_empty(pattern: &str) -> bool {
        let (root, depth) = match pattern.strip_suffix("/*/*.parquet") {
            Some(root) => (root, 2),
            None => (pattern.strip_suffix("/*.parquet").unwrap_or(pattern), 1),
        };
        let mut dirs = vec![std::path::PathBuf::from(root)];
        for _ in 1..depth {
            dirs = dirs
                .iter()
                .filter_map(|d| std::fs::read_dir(d).ok())
                .flat_map(|e| e.flatten().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect();
        }
        !dirs.iter().filter_map(|d| std::fs::read_dir(d).ok()).any(|mut e| {
            e.any(|f| f.is_ok_and(|f| f.path().extension().is_some_and(|x| x == "parquet")))
        })
    }
}

fn exported_tables(summary: &serde_json::Value) -> Vec<String> {
    summary["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|t| t["table"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn exported_parquet_equals_the_tables_and_an_unchanged_window_rewrites_identical_bytes() {
    let (s, fake) = ingested(12);
    let dir = s.path().join("export");
    let summary = export(&s, &dir, &[]);
    let tables = exported_tables(&summary);
    assert!(tables.contains(&"lineage".to_string()) && tables.len() >= 15, "{tables:?}");
    for (table, in_db, in_files, differing) in compare_with_tables(&s.db(), &dir, &tables) {
        assert_eq!((in_db, differing), (in_files, 0), "{table}: table rows, file rows, differing");
    }
    let first = files(&dir);
    let today = today().to_string();
    assert!(first.contains_key(&format!("campaign_index/date={today}/part-0.parquet")));
    assert!(first.keys().all(|k| k.ends_with("/part-0.parquet")), "{:?}", first.keys());

    // Unchanged: the same bytes again, whole or by window.
    export(&s, &dir, &[]);
    assert!(files(&dir) == first, "a second export of unchanged tables wrote other bytes");
    let yesterday = days_ago(1).to_string();
    export(&s, &dir, &["--from", &yesterday, "--to", &yesterday]);
    assert!(files(&dir) == first, "a window export of unchanged dates wrote other bytes");

    // Today fetched again: today's partitions change, the others are not touched.
    expect_code(&run(fake.ingest(&s).args(["--date", &today])), 0);
    let before = first.clone();
    export(&s, &dir, &["--from", &today, "--to", &today]);
    let after = files(&dir);
    let changed: Vec<&String> = after.keys().filter(|k| before.get(*k) != after.get(*k)).collect();
    assert!(changed.iter().any(|k| k.starts_with("campaign_index/date=")), "{changed:?}");
    for k in &changed {
        assert!(
            k.contains(&format!("date={today}")) || !k.contains("date="),
            "{k} changed by an export of {today} alone"
        );
    }
    for (table, in_db, in_files, differing) in compare_with_tables(&s.db(), &dir, &tables) {
        assert_eq!((in_db, differing), (in_files, 0), "{table} after the second ingest");
    }
}

#[test]
fn a_second_reader_pyarrow_reads_the_export_as_the_tables() {
    let has_pyarrow = std::process::Command::new("python3")
        .args(["-c", "import pyarrow.dataset"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pyarrow {
        assert!(std::env::var("CI").is_err(), "CI must provide python3 with pyarrow (.ci/run)");
        eprintln!("SKIPPED a_second_reader_pyarrow_reads_the_export: no python3 with pyarrow");
        return;
    }
    let (s, _fake) = ingested(8);
    let dir = s.path().join("export");
    export(&s, &dir, &["--tables", "campaign_index,endpoint_completeness,campaign_index_runs"]);
    // Rows per table and the sum of spend, as pyarrow reads the Hive-partitioned files.
    let script = r#"
import sys, pyarrow.dataset as ds, pyarrow.compute as pc
root = sys.argv[1]
for t in ["campaign_index", "endpoint_completeness", "campaign_index_runs"]:
    table = ds.dataset(f"{root}/{t}", format="parquet", partitioning="hive").to_table()
    extra = ""
    if t == "campaign_index":
        extra = " " + str(pc.sum(table["spend_usd"]).as_py()) + " " + str(len(set(table["date"].to_pylist())))
    print(t, table.num_rows, extra.strip())
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&dir)
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let conn = duckdb::Connection::open(s.db()).expect("db");
    let q = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    let expected = format!(
        "campaign_index {} {} {}\nendpoint_completeness {}\ncampaign_index_runs {}\n",
        q("SELECT CAST(count(*) AS VARCHAR) FROM campaign_index"),
        q("SELECT CAST(CAST(sum(spend_usd) AS DECIMAL(18,6)) AS VARCHAR) FROM campaign_index"),
        q("SELECT CAST(count(DISTINCT date) AS VARCHAR) FROM campaign_index"),
        q("SELECT CAST(count(*) AS VARCHAR) FROM endpoint_completeness"),
        q("SELECT CAST(count(*) AS VARCHAR) FROM campaign_index_runs"),
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).replace(" \n", "\n"), expected);
}

#[test]
fn a_killed_export_leaves_every_partition_the_old_file_or_the_new_one() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(80));
    let (from, to) = (days_ago(5).to_string(), today().to_string());
    let range = ["--from", from.as_str(), "--to", to.as_str()];
    expect_code(&run(fake.ingest(&s).args(range)), 0);
    let dir = s.path().join("export");
    export(&s, &dir, &[]);
    let old = files(&dir);
    // Every date fetched again: every dated partition's rows change (`updated_at`, events).
    expect_code(&run(fake.ingest(&s).args(range)), 0);
    let reference = s.path().join("reference");
    let started = Instant::now();
    export(&s, &reference, &[]);
    let full = started.elapsed();
    let new = files(&reference);
    let changed = new.iter().filter(|(k, v)| old.get(*k) != Some(*v)).count();
    assert!(changed * 2 > new.len(), "only {changed} of {} files differ", new.len());

    let mut seen_mixed = false;
    for i in 1..=8u32 {
        let mut child = s
            .adlake()
            .args(["export", "parquet", "--into"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn export");
        std::thread::sleep(full * i / 9);
        child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on unix
        let _ = child.wait();
        let now = files(&dir);
        for (name, bytes) in &now {
            assert!(name.ends_with("/part-0.parquet"), "{name} is visible under a partition");
            assert!(
                old.get(name) == Some(bytes) || new.get(name) == Some(bytes),
                "{name} after a kill at {}/9 of an export is neither the old nor the new file",
                i
            );
        }
        let fresh = now.iter().filter(|(k, v)| new.get(*k) == Some(*v) && old.get(*k) != Some(*v));
        seen_mixed |= fresh.count() > 0
            && now.iter().any(|(k, v)| old.get(k) == Some(v) && new.get(k) != Some(v));
    }
    // Killed part way, some partitions were already new and others still old.
    assert!(seen_mixed, "no kill landed part way through an export ({full:?} for a whole one)");
    export(&s, &dir, &[]);
    assert!(files(&dir) == new, "an export after the kills is not the full export");
}

#[test]
fn a_reader_of_the_reader_copy_never_waits_for_ingest() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(6));
    let copy = s.path().join("readers").join("monitoring.duckdb");
    let config = s.path().join("adlake.toml");
    std::fs::write(&config, format!("[db]\nreader_copy = {:?}\n", copy.display().to_string()))
        .expect("config");
    let day = today().to_string();
    let mut first = fake.ingest(&s);
    expect_code(&run(first.arg("--config").arg(&config).args(["--date", &day])), 0);
    let read_only =
        || duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).expect("config");
    let runs = |conn: &duckdb::Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM campaign_index_runs", [], |r| r.get(0)).expect("runs")
    };
    // A BI tool with the copy open, for the whole of the next ingest.
    let bi = duckdb::Connection::open_with_flags(&copy, read_only()).expect("open the copy");
    assert_eq!(runs(&bi), 1);
    let mut second = fake.ingest(&s);
    let out =
        run(second.arg("--config").arg(&config).args(["--date", &day, "--lock-wait-ms", "0"]));
    expect_code(&out, 0);
    assert_eq!(runs(&bi), 1, "an open reader keeps the copy it opened");
    let reopened = duckdb::Connection::open_with_flags(&copy, read_only()).expect("reopen");
    assert_eq!(runs(&reopened), 2, "a reader opening the copy after the ingest sees it");
    assert!(!PathBuf::from(format!("{}.tmp", copy.display())).exists());
}

#[test]
fn a_partition_whose_date_has_no_rows_left_is_removed_only_by_an_export_that_covers_it() {
    let (s, _fake) = ingested(4);
    let dir = s.path().join("export");
    export(&s, &dir, &["--tables", "campaign_index"]);
    let today = today().to_string();
    // A date the tables no longer hold, as an earlier export left it.
    let gone = dir.join("campaign_index/date=2020-01-01");
    std::fs::create_dir_all(&gone).expect("dir");
    std::fs::copy(
        dir.join(format!("campaign_index/date={today}/part-0.parquet")),
        gone.join("part-0.parquet"),
    )
    .expect("copy");
    let window =
        export(&s, &dir, &["--tables", "campaign_index", "--from", &today, "--to", &today]);
    assert!(gone.join("part-0.parquet").exists(), "a window export removed a date outside it");
    assert_eq!(window["partitions_removed"], 0, "{window}");
    let full = export(&s, &dir, &["--tables", "campaign_index"]);
    assert!(!gone.exists(), "a full export kept a date the tables do not hold");
    assert_eq!(full["tables"][0]["partitions_removed"], serde_json::json!(["date=2020-01-01"]));
}
