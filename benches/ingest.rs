//! `cargo bench --bench ingest -- [--days N] [--campaigns M] [--latency-ms 0,50] [--rounds R]
//! [--json]`: an ingest of N days × 15 endpoints from the fake upstream (in this process, on
//! loopback, answering each report after `--latency-ms`), in the release build, into a fresh
//! lake per round, for each latency.
//!
//! The baseline is the ideal wall time of the same run, from the requests the fake logged:
//! every request's latency spread over the concurrency limit (15 endpoints × the per-endpoint
//! limit), and, since pages of a fetch are sequential and each endpoint has its own cap, the
//! busiest endpoint's requests over its cap. At latency 0 there is no ideal to compare with.
//! CPU seconds are this process's, so they include the fake's own work of serving the bodies.

// A bench fails with the product's whole error, once, on its way out: its size costs nothing.
#![allow(clippy::result_large_err)]

mod common;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use adlake::fake::{FakeConfig, FakeUpstream};
use adlake::pipeline::ingest::{self, DateSelection};
use adlake_raw::Lake;
use adlake_replay::ENDPOINTS;
use chrono::Utc;
use clap::Parser;
use common::cpu::{mb, Sample, Stopwatch};
use common::rounds::{self, Comparison, Measure, Round, Side};
use common::BenchError;
use serde_json::json;

#[derive(Debug, Parser)]
#[command(name = "ingest", about = "Ingest wall time from the fake upstream against the ideal")]
struct Args {
    /// Days to ingest, ending today
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..))]
    days: u32,
    /// Campaigns in the fake upstream's universe
    #[arg(long, default_value_t = 40)]
    campaigns: usize,
    /// Fake latency per response, ms (measured once per value)
    #[arg(long, value_delimiter = ',', default_value = "0,50")]
    latency_ms: Vec<u64>,
    /// Where each round's lake is written (in a directory of its own, removed after the round)
    /// [default: the temporary directory]
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
    let mut settings = common::settings()?;
    settings.upstream.requests_per_second = 1_000_000.0;
    settings.upstream.retry_base = Duration::from_millis(10);
    let scratch_root = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let today = Utc::now().date_naive();
    let from = today - chrono::Days::new(u64::from(args.days - 1));
    let endpoints: Vec<_> = ENDPOINTS.iter().collect();
    let per_endpoint = settings.upstream.per_endpoint_concurrency;
    let concurrency = endpoints.len() * per_endpoint;

    let mut all = Vec::new();
    let mut statuses = std::collections::BTreeSet::new();
    let mut requests = std::collections::BTreeMap::new();
    for n in 1..=args.common.rounds {
        eprintln!("round {n} of {}", args.common.rounds);
        let mut round = Round::new();
        for &latency in &args.latency_ms {
            let mut config = FakeConfig::new(7, args.campaigns, today);
            config.latency = Duration::from_millis(latency);
            let fake = FakeUpstream::start(config, "127.0.0.1:0")
                .await
                .map_err(BenchError::io("starting the fake upstream on", "127.0.0.1:0"))?;
            let scratch =
                scratch_root.join(format!("adlake-bench-ingest-{}-{latency}", std::process::id()));
            let _ = std::fs::remove_dir_all(&scratch);
            settings.lake = scratch.to_string_lossy().into_owned();
            let lake = Lake::open(&settings.lake)?;

            let watch = Stopwatch::start();
            let report = ingest::ingest(
                &settings,
                &fake.upstream(),
                &lake,
                &DateSelection::Range { from, to: today },
                &endpoints,
                false,
                std::sync::Arc::new(adlake::clock::SystemClock),
            )
            .await?;
            let mut sample = watch.stop(f64::NAN);

            let bytes: u64 = lake
                .list_events(&Default::default())
                .await?
                .iter()
                .filter_map(|e| e.envelope.body.map(|b| b.len))
                .sum();
            sample.mb = mb(bytes);
            std::fs::remove_dir_all(&scratch)
                .map_err(BenchError::io("removing the bench lake", &scratch))?;
            let log = fake.requests();
            let count = log.iter().filter(|r| r.endpoint.is_some()).count();
            let latency_d = Duration::from_millis(latency);
            let ideal = latency_d * count as u32 / concurrency as u32;
            let busiest = endpoints
                .iter()
                .map(|e| log.iter().filter(|r| r.endpoint.as_deref() == Some(e.key)).count())
                .max()
                .unwrap_or(0);
            let bound = latency_d * (busiest as u32).div_ceil(per_endpoint as u32);
            let computed = |wall: Duration| Sample {
                mb: sample.mb,
                wall_s: wall.as_secs_f64(),
                cpu_s: f64::NAN,
            };
            round.insert(format!("ingest_{latency}ms"), sample);
            round.insert(format!("ideal_{latency}ms"), computed(ideal));
            round.insert(format!("busiest_{latency}ms"), computed(bound));
            statuses.insert(report.status);
            requests.insert(latency, count);
        }
        all.push(round);
    }

    // Keys and labels per latency: ours, the ideal, the busiest endpoint's bound.
    let names: Vec<[String; 5]> = args
        .latency_ms
        .iter()
        .map(|l| {
            [
                format!("ingest_{l}ms"),
                format!("ideal_{l}ms"),
                format!("busiest_{l}ms"),
                format!("latency {l} ms"),
                format!("{l} ms"),
            ]
        })
        .collect();
    let labels: Vec<[String; 5]> = names
        .iter()
        .map(|[.., latency, short]| {
            [
                format!("ingest, {latency}"),
                format!("ideal, {latency}"),
                format!("busiest endpoint bound, {latency}"),
                format!("ingest vs ideal, {short}"),
                format!("ingest vs busiest bound, {short}"),
            ]
        })
        .collect();
    let mut sides = Vec::new();
    let mut comparisons = Vec::new();
    for ([ours, ideal, busiest, ..], [l_ours, l_ideal, l_busiest, l_vs_ideal, l_vs_busiest]) in
        names.iter().zip(&labels)
    {
        sides.push(Side { key: ours, label: l_ours });
        sides.push(Side { key: ideal, label: l_ideal });
        sides.push(Side { key: busiest, label: l_busiest });
        let vs = |baseline, label| Comparison {
            key: baseline,
            label,
            ours,
            baseline,
            measure: Measure::WallShare,
        };
        comparisons.push(vs(ideal, l_vs_ideal));
        comparisons.push(vs(busiest, l_vs_busiest));
    }
    let (table, report) = rounds::report(&all, &sides, &comparisons);
    let text = format!(
        "ingest, {}: {} days x {} endpoints from the in-process fake ({} campaigns), concurrency limit {concurrency} = {} endpoints x {per_endpoint}; run status {}\n\n{table}",
        common::build(),
        args.days,
        endpoints.len(),
        args.campaigns,
        endpoints.len(),
        statuses.iter().cloned().collect::<Vec<_>>().join(", "),
    );
    let mut json = json!({"bench": "ingest", "build": common::build(), "days": args.days, "campaigns": args.campaigns,
                          "rounds": args.common.rounds, "concurrency_limit": concurrency,
                          "requests": requests, "statuses": statuses});
    if let (Some(obj), serde_json::Value::Object(extra)) = (json.as_object_mut(), report) {
        obj.extend(extra);
    }
    common::emit(args.common.json, &text, &json)
}
