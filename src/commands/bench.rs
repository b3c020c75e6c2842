//! `adlake bench raw | ingest`: throughput figures printed beside a baseline measured in the
//! same run over the same bytes, so the ratio means something on a shared machine. Never run
//! by the test suite as a timed assertion.

use std::time::{Duration, Instant};

use adlake_raw::{BodyHash, Lake};
use adlake_replay::ENDPOINTS;
use chrono::Utc;
use futures::StreamExt;
use serde_json::json;

use super::ingest::{self, DateSelection};
use super::Context;
use crate::cli::BenchCommand;
use crate::fake::universe::mix;
use crate::fake::{FakeConfig, FakeUpstream};
use crate::{output, AppError};

pub async fn run(ctx: &Context, cmd: BenchCommand) -> Result<u8, AppError> {
    match cmd {
        BenchCommand::Raw { bodies, total_mb, dir } => bench_raw(ctx, bodies, total_mb, dir).await,
        BenchCommand::Ingest { days, campaigns, latency_ms } => {
            bench_ingest(ctx, days, campaigns, latency_ms).await
        }
        BenchCommand::Reproject { days, campaigns, dir, rounds } => {
            super::bench_reproject::run(ctx, days, campaigns, dir, rounds).await
        }
    }
}

/// Realistic report bodies: JSON rows like S1's, log-uniform sizes from 1 KB to 2 MB, scaled
/// so the total is about `total_mb`. Each body differs (its own row offset and numbers).
pub fn generate_bodies(count: usize, total_mb: usize) -> Vec<Vec<u8>> {
    let mut sizes: Vec<f64> = (0..count)
        .map(|i| {
            let u = (mix(i as u64) % 1_000_000) as f64 / 1_000_000.0;
            (1024f64.ln() + u * ((2.0 * 1024.0 * 1024.0f64).ln() - 1024f64.ln())).exp()
        })
        .collect();
    let sum: f64 = sizes.iter().sum();
    let scale = ((total_mb as f64 * 1024.0 * 1024.0) / sum).min(1.0);
    for s in &mut sizes {
        *s = (*s * scale).max(1024.0);
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

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1_048_576.0 / elapsed.as_secs_f64().max(1e-9)
}

async fn bench_raw(
    ctx: &Context,
    count: usize,
    total_mb: usize,
    dir: Option<std::path::PathBuf>,
) -> Result<u8, AppError> {
    let bodies = generate_bodies(count, total_mb);
    let total: u64 = bodies.iter().map(|b| b.len() as u64).sum();
    eprintln!("{} bodies, {:.1} MB uncompressed", bodies.len(), total as f64 / 1_048_576.0);

    let t = Instant::now();
    let mut compressed = Vec::with_capacity(bodies.len());
    for body in &bodies {
        let _ = BodyHash::of(body);
        compressed.push(
            zstd::bulk::compress(body, adlake_raw::store::ZSTD_LEVEL).map_err(AppError::Output)?,
        );
    }
    let baseline_put = t.elapsed();
    let t = Instant::now();
    for c in &compressed {
        let plain = adlake_raw::store::decompress(c).map_err(AppError::Output)?;
        let _ = BodyHash::of(&plain);
    }
    let baseline_get = t.elapsed();
    drop(compressed);

    let scratch = match dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("adlake-bench-raw-{}", std::process::id())),
    };
    let lake = Lake::open(&scratch.to_string_lossy())?;
    let t = Instant::now();
    let mut hashes = Vec::with_capacity(bodies.len());
    for body in &bodies {
        hashes.push(lake.put_body(body).await?.0);
    }
    let put = t.elapsed();
    let t = Instant::now();
    let mut read = 0u64;
    for h in &hashes {
        read += lake.get_body(h).await?.len() as u64;
    }
    let get = t.elapsed();
    let _ = std::fs::remove_dir_all(&scratch);
    // Ingest writes from several tasks at once: two writers overlap compression with I/O.
    let lake = Lake::open(&scratch.to_string_lossy())?;
    let t = Instant::now();
    let puts: Vec<Result<_, _>> = futures::stream::iter(bodies.iter())
        .map(|b| lake.put_body(b))
        .buffer_unordered(2)
        .collect()
        .await;
    for p in puts {
        p?;
    }
    let put_two = t.elapsed();
    let _ = std::fs::remove_dir_all(&scratch);
    if read != total {
        return Err(AppError::Usage(format!("bench read back {read} bytes of {total}")));
    }

    let figures = json!({
        "bodies": bodies.len(), "mb": total as f64 / 1_048_576.0,
        "baseline_zstd3_sha256_mb_s": mb_per_s(total, baseline_put),
        "baseline_unzstd_sha256_mb_s": mb_per_s(total, baseline_get),
        "put_mb_s": mb_per_s(total, put), "get_mb_s": mb_per_s(total, get), "put_two_writers_mb_s": mb_per_s(total, put_two),
        "put_vs_baseline": baseline_put.as_secs_f64() / put.as_secs_f64(),
        "get_vs_compress_baseline": baseline_put.as_secs_f64() / get.as_secs_f64(),
        "get_vs_decompress_baseline": baseline_get.as_secs_f64() / get.as_secs_f64(),
    });
    if ctx.global.json {
        output::print_json(&figures)?;
    } else {
        output::print(&format!(
            "raw lake on local disk, {} bodies, {:.1} MB, one writer/reader\n\
             baseline zstd-3 + sha256:     {:>8.1} MB/s\n\
             put (hash+zstd+atomic write): {:>8.1} MB/s  = {:.0}% of baseline\n\
             baseline unzstd + sha256:     {:>8.1} MB/s\n\
             get (read+unzstd+verify):     {:>8.1} MB/s  = {:.0}% of the zstd-3 + sha256 baseline, {:.0}% of the unzstd one\n\
             put, two writers:             {:>8.1} MB/s  = {:.0}% of the (one-thread) baseline\n",
            bodies.len(),
            total as f64 / 1_048_576.0,
            mb_per_s(total, baseline_put),
            mb_per_s(total, put),
            100.0 * baseline_put.as_secs_f64() / put.as_secs_f64(),
            mb_per_s(total, baseline_get),
            mb_per_s(total, get),
            100.0 * baseline_put.as_secs_f64() / get.as_secs_f64(),
            100.0 * baseline_get.as_secs_f64() / get.as_secs_f64(),
            mb_per_s(total, put_two),
            100.0 * baseline_put.as_secs_f64() / put_two.as_secs_f64(),
        ))?;
    }
    Ok(crate::EXIT_OK)
}

async fn bench_ingest(
    ctx: &Context,
    days: u32,
    campaigns: usize,
    latencies: Vec<u64>,
) -> Result<u8, AppError> {
    let today = Utc::now().date_naive();
    let from = today - chrono::Days::new(u64::from(days.max(1) - 1));
    let mut results = Vec::new();
    for latency in latencies {
        let mut config = FakeConfig::new(7, campaigns, today);
        config.latency = Duration::from_millis(latency);
        let fake =
            FakeUpstream::start(config.clone(), "127.0.0.1:0").await.map_err(AppError::Output)?;
        let scratch = std::env::temp_dir()
            .join(format!("adlake-bench-ingest-{}-{latency}", std::process::id()));
        let mut settings = ctx.settings.clone();
        settings.lake = scratch.to_string_lossy().into_owned();
        settings.upstream.requests_per_second = 1_000_000.0;
        settings.upstream.retry_base = Duration::from_millis(10);
        let upstream = fake.upstream();
        let lake = Lake::open(&settings.lake)?;
        let endpoints: Vec<_> = ENDPOINTS.iter().collect();
        let t = Instant::now();
        let report = ingest::ingest(
            &settings,
            &upstream,
            &lake,
            &DateSelection::Range { from, to: today },
            &endpoints,
            false,
        )
        .await?;
        let wall = t.elapsed();
        let _ = std::fs::remove_dir_all(&scratch);
        let log = fake.requests();
        let requests = log.iter().filter(|r| r.endpoint.is_some()).count();
        let concurrency = endpoints.len() * settings.upstream.per_endpoint_concurrency;
        let ideal = Duration::from_millis(latency) * requests as u32 / concurrency as u32;
        // Pages of a fetch are sequential and each endpoint has its own cap, so the busiest
        // endpoint bounds the run from below as well.
        let per_endpoint = settings.upstream.per_endpoint_concurrency as u32;
        let busiest = endpoints
            .iter()
            .map(|e| log.iter().filter(|r| r.endpoint.as_deref() == Some(e.key)).count() as u32)
            .max()
            .unwrap_or(0);
        let critical_path = Duration::from_millis(latency) * busiest.div_ceil(per_endpoint);
        results.push(json!({
            "latency_ms": latency, "fetches": report.fetches.len(), "requests": requests,
            "wall_s": wall.as_secs_f64(), "requests_per_s": requests as f64 / wall.as_secs_f64(),
            "concurrency_limit": concurrency, "ideal_s": ideal.as_secs_f64(), "busiest_endpoint_bound_s": critical_path.as_secs_f64(),
            "wall_vs_ideal": if ideal.is_zero() { serde_json::Value::Null } else { json!(wall.as_secs_f64() / ideal.as_secs_f64()) },
            "status": report.status,
        }));
    }
    if ctx.global.json {
        output::print_json(&results)?;
    } else {
        let rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| {
                vec![
                    r["latency_ms"].to_string(),
                    r["requests"].to_string(),
                    format!("{:.2}", r["wall_s"].as_f64().unwrap_or_default()),
                    format!("{:.0}", r["requests_per_s"].as_f64().unwrap_or_default()),
                    format!("{:.2}", r["ideal_s"].as_f64().unwrap_or_default()),
                    format!("{:.2}", r["busiest_endpoint_bound_s"].as_f64().unwrap_or_default()),
                    r["wall_vs_ideal"].as_f64().map_or("-".into(), |x| format!("{x:.2}x")),
                    r["status"].as_str().unwrap_or_default().to_string(),
                ]
            })
            .collect();
        output::print(&format!(
            "ingest {days} days x 15 endpoints from the fake, concurrency limit = 15 endpoints x per-endpoint limit\n{}",
            output::table(&["latency_ms", "requests", "wall_s", "req/s", "ideal_s", "busiest_bound_s", "wall/ideal", "status"], &rows)
        ))?;
    }
    Ok(crate::EXIT_OK)
}
