//! `cargo bench --bench backtest -- [--days N] [--campaigns M] [--every H] [--rounds R]
//! [--dir D] [--json]`: `alerts backtest` of N days (default 14) hourly over a generated lake
//! of M campaigns (default 2,000) whose every day was fetched at every hour
//! (`common/hourly.rs`), projected once into a database under `--dir`, in the release build.
//!
//! Each round times, back to back on the same read-only connection: the backtest of every
//! condition type (ROAS below, spend without revenue, revenue drop against yesterday and
//! against the last four weekdays, restatement, and the three freshness rules), and as its
//! baseline reading the tables it reads (`alerts::load`) alone: the ratio is what evaluating
//! every instant costs beyond loading its inputs.

// A bench fails with the product's whole error, once, on its way out: its size costs nothing.
#![allow(clippy::result_large_err)]

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use adlake::alerts;
use adlake::pipeline::project::project_into;
use adlake::store::db::{self, Access};
use clap::Parser;
use common::cpu::Stopwatch;
use common::rounds::median;
use common::BenchError;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(name = "backtest", about = "alerts backtest over a lake fetched every hour")]
struct Args {
    /// Days of hourly fetches, all backtested
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u32).range(2..))]
    days: u32,
    /// Campaigns in the generated lake
    #[arg(long, default_value_t = 2000)]
    campaigns: usize,
    /// Hours between evaluated instants
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=24))]
    every: u32,
    /// Where the generated lake and its database are kept and reused
    /// [default: adlake-bench-backtest in the temporary directory]
    #[arg(long)]
    dir: Option<PathBuf>,
    #[command(flatten)]
    common: common::CommonArgs,
}

const RULES: &str = r#"
[[alerts]]
name = "roas-floor"
condition = { type = "roas_below", roas = 0.9, min_spend_usd = 50, hours = 3 }
[[alerts]]
name = "spend-no-revenue"
condition = { type = "spend_without_revenue", min_spend_usd = 20, hours = 2 }
[[alerts]]
name = "drop-vs-yesterday"
condition = { type = "revenue_drop", pct = 40, against = "yesterday", min_revenue_usd = 100 }
[[alerts]]
name = "drop-vs-weekdays"
condition = { type = "revenue_drop", pct = 40, against = "weekdays", min_revenue_usd = 100 }
[[alerts]]
name = "restated"
condition = { type = "restatement", pct = 15, days = 3 }
[[alerts]]
name = "taboola-by-10"
condition = { type = "report_late", endpoint = "taboola_report", by = "10:00", timezone = "America/New_York" }
[[alerts]]
name = "short-reports"
condition = { type = "rows_below_expected", endpoint = "*", min_ratio = 0.5 }
[[alerts]]
name = "s1-failed"
condition = { type = "fetch_status", endpoint = "s1_daily_v3", status = ["FAILED", "PARTIAL"] }
"#;

fn main() -> ExitCode {
    let args = Args::parse();
    common::exit(common::start().and_then(|runtime| runtime.block_on(run(args))))
}

async fn run(args: Args) -> Result<(), BenchError> {
    let root =
        args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join("adlake-bench-backtest"));
    let (lake, first) = common::hourly::open_or_generate(&root, args.days, args.campaigns).await?;
    let last = first + chrono::Days::new(u64::from(args.days - 1));
    let mut settings = common::settings()?;
    settings.lake = lake.display().to_string();
    settings.db = root.join(format!("backtest-{}d-{}c.duckdb", args.days, args.campaigns));
    if !settings.db.exists() {
        eprintln!("projecting the lake into {}", settings.db.display());
        project_into(&settings, &lake, None).await?;
    }
    let entries: toml::Table = RULES.parse().map_err(|e| BenchError::Check(format!("{e}")))?;
    let tables: Vec<toml::Table> = entries
        .get("alerts")
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_table().cloned()).collect())
        .unwrap_or_default();
    let rules = alerts::rules::load(&tables).map_err(|e| BenchError::Check(format!("{e}")))?;
    let precedence = settings.projector.spend_precedence.clone();
    let conn = db::open(&settings.db, Access::ReadOnly, settings.lock_wait)
        .map_err(|e| BenchError::App(e.into()))?;
    let intraday_rows: i64 = conn
        .query_row(
            "SELECT count(*) FROM campaign_intraday WHERE date BETWEEN ? AND ?",
            [first.to_string(), last.to_string()],
            |r| r.get(0),
        )
        .map_err(|e| BenchError::Check(format!("counting campaign_intraday: {e}")))?;

    let (mut ours, mut load) = (Vec::new(), Vec::new());
    let mut outcome = None;
    for round in 1..=args.common.rounds {
        eprintln!("round {round} of {}", args.common.rounds);
        let watch = Stopwatch::start();
        let loaded =
            alerts::load(&conn, &rules, first, last).map_err(|e| BenchError::App(e.into()))?;
        load.push(watch.stop(f64::NAN));
        drop(loaded);
        let watch = Stopwatch::start();
        let result =
            alerts::backtest::backtest(&conn, &rules, &precedence, first, last, args.every)
                .map_err(|e| BenchError::App(e.into()))?;
        ours.push(watch.stop(f64::NAN));
        outcome = Some(result);
    }
    let outcome = outcome.ok_or_else(|| BenchError::Check("no round ran".into()))?;
    let med = |v: &[common::cpu::Sample], f: fn(&common::cpu::Sample) -> f64| {
        median(v.iter().map(f)).unwrap_or(f64::NAN)
    };
    let (wall, cpu) = (med(&ours, |s| s.wall_s), med(&ours, |s| s.cpu_s));
    let (load_wall, load_cpu) = (med(&load, |s| s.wall_s), med(&load, |s| s.cpu_s));
    let ratio = median(ours.iter().zip(&load).map(|(o, l)| o.cpu_s / l.cpu_s)).unwrap_or(f64::NAN);
    let text = format!(
        "alerts backtest, {}: {} .. {} every {}h ({} instants), {} campaigns, {} rules, {} campaign_intraday rows\n\n\
         side                       wall_s  cpu_s   M intraday rows per cpu_s\n\
         backtest                   {wall:<7.2} {cpu:<7.2} {:.2}\n\
         (baseline) loading alone   {load_wall:<7.2} {load_cpu:<7.2} {:.2}\n\
         (medians over {} rounds)\n\n\
         backtest / loading alone, CPU seconds (median of per-round ratios): {ratio:.2}\n\
         firings {}, suppressions {}, recoveries {}, false stops {}, true stops {}, missed losses {}\n",
        common::build(),
        first,
        last,
        args.every,
        outcome.instants,
        args.campaigns,
        rules.len(),
        intraday_rows,
        intraday_rows as f64 / 1e6 / cpu,
        intraday_rows as f64 / 1e6 / load_cpu,
        args.common.rounds,
        outcome.firings.len(),
        outcome.suppressions,
        outcome.recoveries,
        outcome.false_stops,
        outcome.true_stops,
        outcome.missed_losses.len(),
    );
    let json = json!({
        "bench": "backtest", "build": common::build(), "from": first, "to": last,
        "every_hours": args.every, "instants": outcome.instants, "campaigns": args.campaigns,
        "rules": rules.len(), "intraday_rows": intraday_rows, "rounds": args.common.rounds,
        "backtest": {"wall_s": wall, "cpu_s": cpu}, "load_alone": {"wall_s": load_wall, "cpu_s": load_cpu},
        "cpu_ratio_vs_load": ratio, "firings": outcome.firings.len(),
    });
    common::emit(args.common.json, &text, &json)
}
