//! `cargo bench --bench reproject -- [--days N] [--campaigns M] [--rounds R] [--dir D]
//! [--json]`: the projector on a generated lake of N days × M campaigns (see `common/lake.rs`),
//! in the release build.
//!
//! Each round times a full reproject, then a one-date window projection twice (the first after a
//! full rebuild pays DuckDB's vacuum of the row groups the date shared with its neighbours, a
//! repeat is what hourly runs see), then, over the same bodies, back to back:
//! (a) zstd decompress + sha256 verify + `serde_json::from_slice::<IgnoredAny>` of every JSON
//!     body, one thread: the floor of any JSON consumer;
//! (b) DuckDB alone (`benches/baselines/duckdb_read_json.py`): `read_json` of every endpoint's
//!     bodies and the revenue-to-spend join, one thread;
//! and DuckDB storing our projected tables (`benches/baselines/duckdb_store.py`), the cost of
//! storage alone: with (a) it makes the ceiling, what a projector that only parsed and stored
//! could reach.

// A bench fails with the product's whole error, once, on its way out: its size costs nothing.
#![allow(clippy::result_large_err)]

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use adlake::config::Settings;
use adlake::pipeline::project::{project_into, ProjectionSummary};
use adlake_raw::BodyHash;
use adlake_replay::contract::Format;
use adlake_replay::project::DateWindow;
use bytes::Bytes;
use clap::Parser;
use common::cpu::{mb, Sample, Stopwatch};
use common::lake::{self, Generated};
use common::python;
use common::rounds::{self, Comparison, Measure, Round, Side};
use common::BenchError;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(
    name = "reproject",
    about = "Reprojection of a generated lake against baselines measured in the same run"
)]
struct Args {
    /// Days of reports in the generated lake
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    days: u32,
    /// Campaigns in the generated lake
    #[arg(long, default_value_t = 200)]
    campaigns: usize,
    /// Where generated lakes (one per size) are kept and reused, and the database is written
    /// [default: adlake-bench-reproject in the temporary directory]
    #[arg(long)]
    dir: Option<PathBuf>,
    #[command(flatten)]
    common: common::CommonArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    common::exit(common::start().and_then(|runtime| runtime.block_on(run(args))))
}

async fn run(args: Args) -> Result<(), BenchError> {
    let root =
        args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join("adlake-bench-reproject"));
    let generated = lake::open_or_generate(&root, args.days, args.campaigns).await?;
    let mut settings = common::settings()?;
    settings.lake = generated.lake.display().to_string();
    settings.db = root.join("bench.duckdb");
    against_baselines(&args, &settings, &generated, &root).await
}

/// Removes the bench database, so every full reproject starts from the same nothing.
fn remove_db(db: &Path) -> Result<(), BenchError> {
    for path in [db.to_path_buf(), db.with_extension("duckdb.wal")] {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(BenchError::io("removing", path)(e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A projection timed: its summary and its sample over the body bytes it read.
async fn timed_projection(
    settings: &Settings,
    generated: &Generated,
    window: Option<DateWindow>,
) -> Result<(ProjectionSummary, Sample), BenchError> {
    let watch = Stopwatch::start();
    let summary = project_into(settings, &generated.lake, window).await?;
    let sample = watch.stop(mb(summary.body_bytes));
    Ok((summary, sample))
}

/// Baseline (a): decompress and verify every body, and parse every JSON one into nothing
/// (`IgnoredAny` still checks the whole document). Returns the uncompressed bytes.
fn decompress_verify_parse(bodies: &[(BodyHash, Format, Bytes)]) -> Result<u64, BenchError> {
    let mut total = 0u64;
    for (hash, format, compressed) in bodies {
        let plain = adlake_raw::codec::decode_body(hash, compressed)?;
        total += plain.len() as u64;
        if *format == Format::Json {
            serde_json::from_slice::<serde::de::IgnoredAny>(&plain)
                .map_err(|source| BenchError::NotJson { hash: hash.to_hex(), source })?;
        }
    }
    Ok(total)
}

const SIDES: &[Side<'static>] = &[
    Side { key: "full", label: "reproject, every date" },
    Side { key: "one_day", label: "reproject, one date, after that" },
    Side { key: "one_day_again", label: "reproject, that date again" },
    Side { key: "a", label: "(a) unzstd+sha256+serde IgnoredAny" },
    Side { key: "b", label: "(b) DuckDB read_json+join (Python)" },
    Side { key: "store", label: "DuckDB storing our tables (Python)" },
    Side { key: "ceiling", label: "ceiling: (a) + DuckDB storing" },
];

const COMPARISONS: &[Comparison<'static>] = &[
    Comparison {
        key: "full_vs_a",
        label: "reproject vs (a)",
        ours: "full",
        baseline: "a",
        measure: Measure::MbPerCpuSecond,
    },
    Comparison {
        key: "full_vs_b",
        label: "reproject vs (b)",
        ours: "full",
        baseline: "b",
        measure: Measure::MbPerCpuSecond,
    },
    Comparison {
        key: "full_vs_ceiling",
        label: "reproject vs ceiling",
        ours: "full",
        baseline: "ceiling",
        measure: Measure::MbPerCpuSecond,
    },
    Comparison {
        key: "ceiling_vs_b",
        label: "ceiling vs (b)",
        ours: "ceiling",
        baseline: "b",
        measure: Measure::MbPerCpuSecond,
    },
    Comparison {
        key: "one_day_cpu_share",
        label: "one date / every date",
        ours: "one_day",
        baseline: "full",
        measure: Measure::CpuShare,
    },
    Comparison {
        key: "one_day_again_cpu_share",
        label: "that date again / every date",
        ours: "one_day_again",
        baseline: "full",
        measure: Measure::CpuShare,
    },
    Comparison {
        key: "one_day_again_wall_share",
        label: "that date again / every date",
        ours: "one_day_again",
        baseline: "full",
        measure: Measure::WallShare,
    },
];

/// The full reproject and the one-date projections against the baselines, `--rounds` times.
async fn against_baselines(
    args: &Args,
    settings: &Settings,
    generated: &Generated,
    root: &Path,
) -> Result<(), BenchError> {
    // Inputs of the baselines, read before anything is measured.
    let compressed = lake::compressed_bodies(&generated.lake).await?;
    let duckdb = python::duckdb_version();
    let mut notes = std::collections::BTreeSet::new();
    if let Err(why) = &duckdb {
        notes.insert(format!("baseline (b) and DuckDB storing skipped: {why}"));
    }
    let date =
        generated.last.pred_opt().filter(|d| *d >= generated.first).unwrap_or(generated.last);
    let one_day = Some(DateWindow { from: date, to: date });
    let tables = adlake::store::write::TABLES.join(",");
    let scratch = root.join("storage-copy.duckdb");

    let mut all = Vec::new();
    let mut last_summary = None;
    // What baseline (b) loaded (rows per table, errors, joined rows), from its last round.
    let mut b_detail = serde_json::Value::Null;
    for n in 1..=args.common.rounds {
        eprintln!("round {n} of {}", args.common.rounds);
        let mut round = Round::new();
        remove_db(&settings.db)?;
        let (summary, full) = timed_projection(settings, generated, None).await?;
        round.insert("full".into(), full);
        let (_, sample) = timed_projection(settings, generated, one_day).await?;
        round.insert("one_day".into(), sample);
        let (_, sample) = timed_projection(settings, generated, one_day).await?;
        round.insert("one_day_again".into(), sample);

        let watch = Stopwatch::start();
        let bytes = decompress_verify_parse(&compressed)?;
        let a = watch.stop(mb(bytes));
        round.insert("a".into(), a);

        if duckdb.is_ok() {
            let b = python::run(python::READ_JSON, &[generated.bodies_dir.as_os_str()]);
            match b.and_then(|v| Ok((python::sample(&v, None)?, v))) {
                Ok((b, detail)) => {
                    round.insert("b".into(), b);
                    b_detail = detail;
                }
                Err(why) => drop(notes.insert(format!("baseline (b): {why}"))),
            }
            let store = python::run(
                python::STORE,
                &[settings.db.as_os_str(), scratch.as_os_str(), tables.as_ref()],
            );
            match store.and_then(|v| python::sample(&v, Some(full.mb))) {
                Ok(store) => {
                    // What a projector could reach at best: parse at (a)'s cost, store at
                    // DuckDB's, nothing else.
                    let ceiling = Sample {
                        mb: full.mb,
                        wall_s: a.wall_s + store.wall_s,
                        cpu_s: a.cpu_s + store.cpu_s,
                    };
                    round.insert("store".into(), store);
                    round.insert("ceiling".into(), ceiling);
                }
                Err(why) => drop(notes.insert(format!("DuckDB storing: {why}"))),
            }
        }
        all.push(round);
        last_summary = Some(summary);
    }

    let (table, report) = rounds::report(&all, SIDES, COMPARISONS);
    let summary = last_summary.ok_or_else(|| BenchError::Check("no round ran".into()))?;
    let mut text = format!(
        "reproject, {}: {} days x {} campaigns ({} .. {}), {} events, {:.1} MB of bodies, {} campaign_index + {} session rows\n\n",
        common::build(),
        args.days,
        args.campaigns,
        generated.first,
        generated.last,
        summary.events,
        mb(summary.body_bytes),
        summary.campaign_rows,
        summary.session_rows,
    );
    text.push_str(&table);
    // A body shape DuckDB could not load makes (b) cheaper than the same work: say so.
    if let Some(errors) = b_detail.get("load_errors").and_then(|e| e.as_object()) {
        for (table, error) in errors {
            notes.insert(format!("baseline (b) did not load {table}: {error}"));
        }
    }
    for s in &notes {
        text.push_str(&format!("note: {s}\n"));
    }
    let mut json = json!({
        "bench": "reproject", "build": common::build(), "days": args.days, "campaigns": args.campaigns,
        "first_date": generated.first, "last_date": generated.last, "one_date": date,
        "rounds": args.common.rounds, "events": summary.events,
        "body_mb": mb(summary.body_bytes), "campaign_rows": summary.campaign_rows,
        "session_rows": summary.session_rows, "duckdb_python": duckdb.ok(),
        "notes": notes, "baseline_b_loaded": b_detail,
    });
    merge(&mut json, report);
    common::emit(args.common.json, &text, &json)
}

/// Adds `extra`'s fields to the object `into`.
fn merge(into: &mut serde_json::Value, extra: serde_json::Value) {
    if let (Some(into), serde_json::Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}
