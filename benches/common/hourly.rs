//! The lake an alert backtest is measured on: N days × M campaigns of the fake upstream's
//! universe (seed 7), every endpoint fetched at half past every hour of its own day (the
//! fake's day so far at that instant) and once more the next morning (the whole day), as an
//! hourly ingest would have stored them.
//!
//! Invariants: a pure function of (days, campaigns), ending on [`super::lake::LAST_DATE`];
//! generated into `<name>.partial` and renamed once complete, so a directory with its name is
//! a whole lake and is reused.

use std::path::{Path, PathBuf};

use adlake::fake::universe::Universe;
use adlake_raw::Lake;
use adlake_replay::ENDPOINTS;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};

use super::lake::{self, LAST_DATE, SEED};
use super::BenchError;

/// The lake of `days` × `campaigns` with hourly snapshots under `root`, and its first date.
pub async fn open_or_generate(
    root: &Path,
    days: u32,
    campaigns: usize,
) -> Result<(Lake, NaiveDate), BenchError> {
    let first = LAST_DATE - chrono::Days::new(u64::from(days.max(1) - 1));
    let dir = root.join(format!("hourly-{days}d-{campaigns}c-seed{SEED}-to-{LAST_DATE}"));
    let what = format!(
        "{days} days x {campaigns} campaigns x {} endpoints x 25 fetches into {}",
        ENDPOINTS.len(),
        dir.display()
    );
    lake::once(&dir, &what, |partial| generate(partial, first, campaigns)).await?;
    Ok((Lake::open_existing(&dir.to_string_lossy())?, first))
}

fn at(date: NaiveDate, hour: i64, minute: i64) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc()
        + chrono::Duration::hours(hour)
        + chrono::Duration::minutes(minute)
}

async fn generate(dir: PathBuf, first: NaiveDate, campaigns: usize) -> Result<(), BenchError> {
    std::fs::create_dir_all(&dir).map_err(BenchError::io("creating", &dir))?;
    let lake = Lake::open(&dir.to_string_lossy())?;
    // "Today" after the last date: every date grows only through the day its fetch is in.
    let universe = Universe::new(SEED, campaigns, LAST_DATE + chrono::Days::new(1));
    let mut jobs = Vec::new();
    for date in first.iter_days().take_while(|d| *d <= LAST_DATE) {
        // Half past every hour of the day, then the next morning (the day whole).
        let instants = (0..24).map(|h| at(date, h, 30)).chain([at(date, 30, 0)]);
        for (n, now) in instants.enumerate() {
            for spec in ENDPOINTS.iter() {
                jobs.push((spec, date, n, now));
            }
        }
    }
    let (lake, universe) = (&lake, &universe);
    futures::stream::iter(jobs)
        .map(|(spec, date, n, now)| async move {
            let (run, fetch_id) =
                (format!("bench-{date}-{n:02}"), format!("bench.{}.{date}.{n:02}", spec.key));
            let (envelope, body) = lake::exchange(universe, spec, date, now, &run, fetch_id);
            lake.put_exchange(envelope, Some(&body)).await?;
            Ok::<(), BenchError>(())
        })
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}
