//! The lake a reprojection is measured on: N days × M campaigns of the fake upstream's
//! universe (seed 7), every endpoint, one page per (endpoint, date), as ingest would have
//! stored them; and beside it the same bodies as plain files, one directory per endpoint, for
//! the baseline that reads them with DuckDB.
//!
//! Invariants: the lake is a pure function of (days, campaigns): its dates end on a fixed
//! [`LAST_DATE`] and its envelopes carry a fixed fetch time, so a lake generated on any day is
//! the same lake. It is generated into `<name>.partial` and renamed to its name only once
//! complete, so a directory with that name is always a whole lake and is reused as it is;
//! an interrupted generation is discarded and redone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use adlake::fake::bodies;
use adlake::fake::universe::Universe;
use adlake_raw::{BodyHash, Envelope, HttpExchange, Lake};
use adlake_replay::contract::Format;
use adlake_replay::registry::EndpointSpec;
use adlake_replay::ENDPOINTS;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use futures::{StreamExt, TryStreamExt};

use super::BenchError;

/// The seed of the campaign universe the bodies come from.
pub const SEED: u64 = 7;

/// The last date of every generated lake.
pub const LAST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2025, 11, 30) {
    Some(date) => date,
    None => panic!("a valid date"),
};

/// A generated lake, ready to read.
pub struct Generated {
    pub lake: Lake,
    /// The same bodies as files: `<endpoint key>/<date>.json` (`.csv` for CSV endpoints).
    pub bodies_dir: PathBuf,
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// The lake of `days` × `campaigns` under `root`, generated first unless a complete one is
/// there.
pub async fn open_or_generate(
    root: &Path,
    days: u32,
    campaigns: usize,
) -> Result<Generated, BenchError> {
    let first = LAST_DATE - chrono::Days::new(u64::from(days.max(1) - 1));
    let dir = root.join(format!("lake-{days}d-{campaigns}c-seed{SEED}-to-{LAST_DATE}"));
    let what = format!(
        "{days} days x {campaigns} campaigns x {} endpoints into {}",
        ENDPOINTS.len(),
        dir.display()
    );
    once(&dir, &what, |partial| generate(partial, first, campaigns)).await?;
    let lake = Lake::open_existing(&dir.join("lake").to_string_lossy())?;
    Ok(Generated { lake, bodies_dir: dir.join("bodies"), first, last: LAST_DATE })
}

/// Generates the lake at `dir` unless a complete one is there: into `<dir>.partial` (an
/// unfinished one from an interrupted run is removed first), renamed to `dir` once complete.
pub async fn once<F, Fut>(dir: &Path, what: &str, generate: F) -> Result<(), BenchError>
where
    F: FnOnce(PathBuf) -> Fut,
    Fut: std::future::Future<Output = Result<(), BenchError>>,
{
    if dir.exists() {
        return Ok(());
    }
    let partial = dir.with_extension("partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .map_err(BenchError::io("removing an unfinished lake", &partial))?;
    }
    eprintln!("generating {what}");
    generate(partial.clone()).await?;
    std::fs::rename(&partial, dir).map_err(BenchError::io("renaming", &partial))
}

/// The fake's body for one page of `spec` on `date` as answered at `now` (every row on it),
/// and the envelope ingest would have stored it with.
pub fn exchange(
    universe: &Universe,
    spec: &EndpointSpec,
    date: NaiveDate,
    now: DateTime<Utc>,
    run: &str,
    fetch_id: String,
) -> (Envelope, Vec<u8>) {
    let query: BTreeMap<String, String> = [("page", "1"), ("limit", "1000000"), ("dateStart", "")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let request = bodies::Request {
        key: spec.key,
        date,
        query: &query,
        epoch: 0,
        now,
        base_url: "http://bench",
        path: spec.path,
        facebook_page_size: 1_000_000,
        smartnews_page_size: 1_000_000,
    };
    let body = bodies::render(universe, &request).map(|r| r.body).unwrap_or_default();
    let envelope = Envelope::http(
        spec.key,
        date,
        run,
        now,
        HttpExchange {
            fetch_id,
            attempt: 1,
            page: 1,
            cursor: None,
            method: "GET".into(),
            url: format!("http://bench{}?dateStart={date}&page=1&limit=1000000", spec.path),
            status: Some(200),
            error: None,
            headers: Default::default(),
            duration_ms: 0,
        },
    );
    (envelope, body)
}

async fn generate(dir: PathBuf, first: NaiveDate, campaigns: usize) -> Result<(), BenchError> {
    let lake_dir = dir.join("lake");
    std::fs::create_dir_all(&lake_dir).map_err(BenchError::io("creating", &lake_dir))?;
    let lake = Lake::open(&lake_dir.to_string_lossy())?;
    let universe = Universe::new(SEED, campaigns, LAST_DATE);
    let fetched_at =
        Utc.from_utc_datetime(&(LAST_DATE + chrono::Days::new(1)).and_time(chrono::NaiveTime::MIN));
    let mut jobs = Vec::new();
    for date in first.iter_days().take_while(|d| *d <= LAST_DATE) {
        for spec in ENDPOINTS.iter() {
            jobs.push((spec, date));
        }
    }
    let (lake, universe, dir) = (&lake, &universe, &dir);
    futures::stream::iter(jobs)
        .map(|(spec, date)| async move {
            let fetch_id = format!("bench.{}.{date}", spec.key);
            let (envelope, body) = exchange(universe, spec, date, fetched_at, "bench", fetch_id);
            lake.put_exchange(envelope, Some(&body)).await?;
            let files = dir.join("bodies").join(spec.key);
            std::fs::create_dir_all(&files).map_err(BenchError::io("creating", &files))?;
            let ext = if spec.contract.format == Format::Csv { "csv" } else { "json" };
            let file = files.join(format!("{date}.{ext}"));
            std::fs::write(&file, &body).map_err(BenchError::io("writing", &file))?;
            Ok::<(), BenchError>(())
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// Every body of the lake, compressed as stored, with the format its endpoint declares: the
/// input of baseline (a), read before anything is measured.
pub async fn compressed_bodies(lake: &Lake) -> Result<Vec<(BodyHash, Format, Bytes)>, BenchError> {
    let events = lake.list_events(&Default::default()).await?;
    let formats: BTreeMap<BodyHash, Format> = events
        .iter()
        .filter_map(|e| {
            Some((
                e.envelope.body?.sha256,
                adlake_replay::endpoint(&e.envelope.source)?.contract.format,
            ))
        })
        .collect();
    let mut bodies = Vec::with_capacity(formats.len());
    for (hash, format) in formats {
        bodies.push((hash, format, lake.get_body_compressed(&hash).await?));
    }
    Ok(bodies)
}
