//! `cargo bench --bench export -- [--days N] [--campaigns M] [--rounds R] [--dir D] [--json]`:
//! `adlake export parquet` of every table and the lineage view of a generated lake of
//! N days × M campaigns (see `common/lake.rs`, projected once, unmeasured), in the release
//! build, against DuckDB's own `COPY <table> TO <dir> (FORMAT parquet, PARTITION_BY (date))`
//! of the same tables by the same bundled DuckDB, in the same process and round:
//! - with DuckDB's default threads (every core), the cost of Parquet alone;
//! - with one thread, as the export runs (one thread is what makes its bytes deterministic).
//!
//! The export does more than either: rows in key order, a file per partition staged and
//! renamed whole. MB is the Parquet the export wrote (the same reference for every side, so
//! MB per CPU-second ratios are CPU ratios).

// A bench fails with the product's whole error, once, on its way out: its size costs nothing.
#![allow(clippy::result_large_err)]

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use adlake::export::{export, exportable, ExportRequest};
use clap::Parser;
use common::cpu::{mb, Sample, Stopwatch};
use common::lake;
use common::rounds::{self, Comparison, Measure, Round, Side};
use common::BenchError;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(name = "export", about = "export parquet against DuckDB's own partitioned COPY")]
struct Args {
    /// Days of reports in the generated lake
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    days: u32,
    /// Campaigns in the generated lake
    #[arg(long, default_value_t = 200)]
    campaigns: usize,
    /// Where generated lakes are kept and reused, and the database and exports are written
    /// [default: adlake-bench-export in the temporary directory]
    #[arg(long)]
    dir: Option<PathBuf>,
    #[command(flatten)]
    common: common::CommonArgs,
}

const SIDES: &[Side<'static>] = &[
    Side { key: "export", label: "adlake export parquet" },
    Side { key: "duckdb", label: "DuckDB COPY PARTITION_BY, all threads" },
    Side { key: "duckdb_1t", label: "DuckDB COPY PARTITION_BY, 1 thread" },
];

const COMPARISONS: &[Comparison<'static>] = &[
    Comparison {
        key: "export_vs_duckdb",
        label: "export vs DuckDB",
        ours: "export",
        baseline: "duckdb",
        measure: Measure::MbPerCpuSecond,
    },
    Comparison {
        key: "export_vs_duckdb_wall",
        label: "export vs DuckDB",
        ours: "export",
        baseline: "duckdb",
        measure: Measure::WallShare,
    },
    Comparison {
        key: "export_vs_duckdb_1t",
        label: "export vs DuckDB 1 thread",
        ours: "export",
        baseline: "duckdb_1t",
        measure: Measure::MbPerCpuSecond,
    },
];

fn main() -> ExitCode {
    let args = Args::parse();
    common::exit(common::start().and_then(|runtime| runtime.block_on(run(args))))
}

fn remove_dir(dir: &Path) -> Result<(), BenchError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(BenchError::io("removing", dir)(e))
        }
        _ => Ok(()),
    }
}

/// DuckDB's own partitioned COPY of every exported table into `out`.
fn duckdb_copy(db: &Path, out: &Path, threads: Option<u32>) -> Result<u64, BenchError> {
    let fail = |e: duckdb::Error| BenchError::Check(format!("DuckDB COPY baseline: {e}"));
    let config =
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).map_err(fail)?;
    let conn = duckdb::Connection::open_with_flags(db, config).map_err(fail)?;
    if let Some(n) = threads {
        conn.execute_batch(&format!("SET threads = {n}")).map_err(fail)?;
    }
    std::fs::create_dir_all(out).map_err(BenchError::io("creating", out))?;
    let mut rows = 0u64;
    for table in exportable() {
        let dated: bool = conn
            .query_row(
                "SELECT count(*) > 0 FROM information_schema.columns WHERE table_name = ? AND column_name = 'date'",
                [table],
                |r| r.get(0),
            )
            .map_err(fail)?;
        let target = out.join(table);
        let target = target.to_string_lossy().replace('\'', "''");
        let sql = if dated {
            format!("COPY \"{table}\" TO '{target}' (FORMAT parquet, PARTITION_BY (date), COMPRESSION snappy)")
        } else {
            std::fs::create_dir_all(out.join(table)).map_err(BenchError::io("creating", out))?;
            format!("COPY \"{table}\" TO '{target}/part-0.parquet' (FORMAT parquet, COMPRESSION snappy)")
        };
        rows += conn.execute(&sql, []).map_err(fail)? as u64;
    }
    Ok(rows)
}

async fn run(args: Args) -> Result<(), BenchError> {
    let root = args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join("adlake-bench-export"));
    let generated = lake::open_or_generate(&root, args.days, args.campaigns).await?;
    let mut settings = common::settings()?;
    settings.lake = generated.lake.display().to_string();
    settings.db = root.join(format!("export-{}d-{}c.duckdb", args.days, args.campaigns));
    if !settings.db.exists() {
        eprintln!("projecting the lake into {} (not measured)", settings.db.display());
        adlake::pipeline::project::project_into(&settings, &generated.lake, None).await?;
    }
    let (ours_dir, theirs_dir) = (root.join("export-ours"), root.join("export-duckdb"));
    let request = ExportRequest {
        into: ours_dir.to_string_lossy().into_owned(),
        window: None,
        tables: exportable().collect(),
    };
    let mut all = Vec::new();
    let mut last = None;
    for n in 1..=args.common.rounds {
        eprintln!("round {n} of {}", args.common.rounds);
        let mut round = Round::new();
        remove_dir(&ours_dir)?;
        let watch = Stopwatch::start();
        let summary = export(&settings, &request).await.map_err(adlake::AppError::from)?;
        let reference = mb(summary.bytes);
        round.insert("export".into(), watch.stop(reference));
        for (key, threads) in [("duckdb", None), ("duckdb_1t", Some(1))] {
            remove_dir(&theirs_dir)?;
            let (db, out) = (settings.db.clone(), theirs_dir.clone());
            let watch = Stopwatch::start();
            let rows = tokio::task::spawn_blocking(move || duckdb_copy(&db, &out, threads))
                .await
                .map_err(|e| BenchError::Check(format!("baseline task: {e}")))??;
            let sample: Sample = watch.stop(reference);
            if rows != summary.rows {
                return Err(BenchError::Check(format!(
                    "DuckDB copied {rows} rows where the export wrote {}",
                    summary.rows
                )));
            }
            round.insert(key.into(), sample);
        }
        all.push(round);
        last = Some(summary);
    }
    let summary = last.ok_or_else(|| BenchError::Check("no round ran".into()))?;
    let (table, report) = rounds::report(&all, SIDES, COMPARISONS);
    let mut text = format!(
        "export parquet, {}: {} days x {} campaigns ({} .. {}), {} tables, {} files, {} rows, {:.1} MB of Parquet\n\n",
        common::build(),
        args.days,
        args.campaigns,
        generated.first,
        generated.last,
        summary.tables.len(),
        summary.files_written,
        summary.rows,
        mb(summary.bytes),
    );
    text.push_str(&table);
    let mut json = json!({
        "bench": "export", "build": common::build(), "days": args.days, "campaigns": args.campaigns,
        "first_date": generated.first, "last_date": generated.last, "rounds": args.common.rounds,
        "files": summary.files_written, "rows": summary.rows, "parquet_mb": mb(summary.bytes),
    });
    if let (Some(into), serde_json::Value::Object(extra)) = (json.as_object_mut(), report) {
        into.extend(extra);
    }
    common::emit(args.common.json, &text, &json)
}
