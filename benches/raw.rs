//! `cargo bench --bench raw -- [--bodies N] [--total-mb M] [--dir D] [--rounds R] [--json]`:
//! the lake's put and get on local disk, in the release build, against the work they cannot
//! avoid, measured in the same round over the same bytes: zstd-3 + sha256 for a put,
//! unzstd + sha256 for a get. A put with two writers at once (as ingest writes) is set
//! against the one-thread baseline.
//!
//! Bodies are generated once: JSON rows like S1's, log-uniform sizes from 1 KB to 2 MB, scaled
//! to about `--total-mb`, each different. Each round writes a fresh lake in a directory of its
//! own under `--dir` and removes it afterwards.

// A bench fails with the product's whole error, once, on its way out: its size costs nothing.
#![allow(clippy::result_large_err)]

mod common;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use adlake::fake::universe::mix;
use adlake_raw::{BodyHash, Lake};
use clap::Parser;
use common::cpu::{mb, Stopwatch};
use common::rounds::{self, Comparison, Measure, Round, Side};
use common::BenchError;
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

#[derive(Debug, Parser)]
#[command(name = "raw", about = "Lake put/get against zstd-3 + sha256 alone, over the same bytes")]
struct Args {
    /// Bodies to generate
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    bodies: u64,
    /// Total megabytes of bodies to generate (sizes 1 KB .. 2 MB, skewed small)
    #[arg(long, default_value_t = 64)]
    total_mb: u64,
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

/// Realistic report bodies: JSON rows like S1's, log-uniform sizes from 1 KB to 2 MB, scaled
/// so the total is about `total_mb`. Each body differs (its own row offset and numbers).
fn generate_bodies(count: u64, total_mb: u64) -> Vec<Vec<u8>> {
    let (smallest, largest) = (1024f64, 2.0f64 * 1024.0 * 1024.0);
    let mut sizes: Vec<f64> = (0..count)
        .map(|i| {
            let u = (mix(i) % 1_000_000) as f64 / 1_000_000.0;
            (smallest.ln() + u * (largest.ln() - smallest.ln())).exp()
        })
        .collect();
    let sum: f64 = sizes.iter().sum();
    let scale = ((total_mb as f64 * 1024.0 * 1024.0) / sum).min(1.0);
    for s in &mut sizes {
        *s = (*s * scale).max(smallest);
    }
    sizes
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let mut body = String::with_capacity(*size as usize + 512);
            body.push_str("{\"data\": [");
            let mut n = 0u64;
            while body.len() < *size as usize {
                let h = mix((i as u64) << 32 | n);
                if n > 0 {
                    body.push_str(", ");
                }
                body.push_str(&format!(
                    "{{\"date\": \"2025-11-{:02}\", \"strategisCampaignId\": \"si{:08x}\", \"networkId\": \"11{}\", \"networkCampaignId\": \"1202316{:011}\", \"buyer\": \"TJ\", \"category\": \"Finance\", \"rsocSite\": \"secretprice.com\", \"impressions\": \"{}\", \"clicks\": \"{}\", \"searches\": \"{}\", \"estimated_revenue\": \"{}.{:02}\"}}",
                    1 + h % 28, h & 0xffff_ffff, h % 8, h % 100_000_000_000, h % 90_000, h % 3_000, h % 6_000, h % 2_000, h % 100
                ));
                n += 1;
            }
            body.push_str(&format!("], \"page\": 1, \"limit\": 500, \"total\": {n}}}"));
            body.into_bytes()
        })
        .collect()
}

const SIDES: &[Side<'static>] = &[
    Side { key: "zstd_sha", label: "baseline: zstd-3 + sha256" },
    Side { key: "put", label: "lake put (hash+zstd+atomic write)" },
    Side { key: "put_two", label: "lake put, two writers" },
    Side { key: "unzstd_sha", label: "baseline: unzstd + sha256" },
    Side { key: "get", label: "lake get (read+unzstd+verify)" },
];

const COMPARISONS: &[Comparison<'static>] = &[
    Comparison {
        key: "put_vs_baseline",
        label: "put vs zstd-3 + sha256",
        ours: "put",
        baseline: "zstd_sha",
        measure: Measure::MbPerCpuSecond,
    },
    Comparison {
        key: "put_vs_baseline_wall",
        label: "put vs zstd-3 + sha256",
        ours: "put",
        baseline: "zstd_sha",
        measure: Measure::MbPerSecond,
    },
    Comparison {
        key: "put_two_vs_baseline",
        label: "put, two writers vs zstd-3 + sha256",
        ours: "put_two",
        baseline: "zstd_sha",
        measure: Measure::MbPerCpuSecond,
    },
    Comparison {
        key: "put_two_vs_baseline_wall",
        label: "put, two writers vs zstd-3 + sha256",
        ours: "put_two",
        baseline: "zstd_sha",
        measure: Measure::MbPerSecond,
    },
    Comparison {
        key: "get_vs_baseline",
        label: "get vs unzstd + sha256",
        ours: "get",
        baseline: "unzstd_sha",
        measure: Measure::MbPerCpuSecond,
    },
    Comparison {
        key: "get_vs_baseline_wall",
        label: "get vs unzstd + sha256",
        ours: "get",
        baseline: "unzstd_sha",
        measure: Measure::MbPerSecond,
    },
];

async fn run(args: Args) -> Result<(), BenchError> {
    let bodies = generate_bodies(args.bodies, args.total_mb);
    let total: u64 = bodies.iter().map(|b| b.len() as u64).sum();
    let scratch = args
        .dir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("adlake-bench-raw-{}", std::process::id()));
    let mut all = Vec::new();
    for n in 1..=args.common.rounds {
        eprintln!("round {n} of {}", args.common.rounds);
        all.push(round(&bodies, total, &scratch).await?);
    }
    let (table, report) = rounds::report(&all, SIDES, COMPARISONS);
    let text = format!(
        "raw lake on local disk, {}: {} bodies, {:.1} MB uncompressed\n\n{table}",
        common::build(),
        bodies.len(),
        mb(total)
    );
    let mut json = json!({"bench": "raw", "build": common::build(), "bodies": bodies.len(), "mb": mb(total),
                          "rounds": args.common.rounds});
    if let (Some(obj), serde_json::Value::Object(extra)) = (json.as_object_mut(), report) {
        obj.extend(extra);
    }
    common::emit(args.common.json, &text, &json)
}

/// One round: each baseline, then the lake doing the same over the same bodies.
async fn round(bodies: &[Vec<u8>], total: u64, scratch: &Path) -> Result<Round, BenchError> {
    let mut round = Round::new();
    let watch = Stopwatch::start();
    let mut compressed = Vec::with_capacity(bodies.len());
    for body in bodies {
        let hash = BodyHash::of(body);
        let packed = zstd::bulk::compress(body, adlake_raw::codec::ZSTD_LEVEL)
            .map_err(BenchError::io("compressing a body", "memory"))?;
        compressed.push((hash, packed));
    }
    round.insert("zstd_sha".into(), watch.stop(mb(total)));
    let watch = Stopwatch::start();
    for (hash, packed) in &compressed {
        // Decompress and check the hash, as a get does.
        adlake_raw::codec::decode_body(hash, packed)?;
    }
    round.insert("unzstd_sha".into(), watch.stop(mb(total)));
    drop(compressed);

    let lake = fresh_lake(scratch)?;
    let watch = Stopwatch::start();
    let mut hashes = Vec::with_capacity(bodies.len());
    for body in bodies {
        hashes.push(lake.put_body(body).await?.0);
    }
    round.insert("put".into(), watch.stop(mb(total)));
    let watch = Stopwatch::start();
    let mut read = 0u64;
    for hash in &hashes {
        read += lake.get_body(hash).await?.len() as u64;
    }
    round.insert("get".into(), watch.stop(mb(read)));
    if read != total {
        return Err(BenchError::Check(format!("the lake gave back {read} bytes of {total}")));
    }

    // Ingest writes from several tasks at once: two writers overlap compression with I/O.
    let lake = fresh_lake(scratch)?;
    let watch = Stopwatch::start();
    futures::stream::iter(bodies.iter())
        .map(|b| lake.put_body(b))
        .buffer_unordered(2)
        .try_collect::<Vec<_>>()
        .await?;
    round.insert("put_two".into(), watch.stop(mb(total)));
    remove(scratch)?;
    Ok(round)
}

/// An empty lake at `dir` (removing what an earlier round left there).
fn fresh_lake(dir: &Path) -> Result<Lake, BenchError> {
    remove(dir)?;
    Ok(Lake::open(&dir.to_string_lossy())?)
}

fn remove(dir: &Path) -> Result<(), BenchError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(BenchError::io("removing the bench lake", dir)(e))
        }
        _ => Ok(()),
    }
}
