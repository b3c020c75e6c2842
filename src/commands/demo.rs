//! `adlake demo`: the whole pipeline on a fresh machine with nothing configured. Starts the
//! fake upstream in-process on a free loopback port (with the seed's known fault: Taboola
//! answering 502 for yesterday), then replays yesterday and today at four simulated hours
//! three hours apart: the first run backfills the last N days, each later one is the hourly
//! cron job's incremental ingest. The fake answers "the day so far" at each simulated hour, so the
//! report the demo ends by writing (`<dir>/report.html`) shows a real intraday curve. The
//! simulated clock is the fake's ([`crate::fake::clock`]), handed to these ingests only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adlake_replay::ENDPOINTS;
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use serde::Serialize;

use super::{open_db, open_lake, Context};
use crate::cli::DemoArgs;
use crate::fake::clock::SimulatedClock;
use crate::fake::{faults, FakeConfig, FakeUpstream};
use crate::pipeline::ingest::{self, DateSelection, RunReport};
use crate::store::db::{self, Access};
use crate::{output, AppError, Outcome};

/// Simulated ingests of today, three hours apart.
const RUNS: u32 = 4;
const STEP_HOURS: u32 = 3;

#[derive(Serialize)]
struct Demo {
    runs: Vec<RunReport>,
    report: PathBuf,
}

/// The simulated hours of today: the last one the wall clock's hour, or noon when the UTC day
/// is younger than that (a curve needs a few hours behind it).
fn simulated_hours(wall_hour: u32) -> Vec<u32> {
    let last = wall_hour.max((RUNS - 1) * STEP_HOURS + 3);
    (0..RUNS).rev().map(|k| last - k * STEP_HOURS).collect()
}

fn at(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    date.and_time(chrono::NaiveTime::MIN).and_utc() + chrono::Duration::hours(i64::from(hour))
}

pub async fn run(ctx: &Context, args: DemoArgs) -> Result<Outcome, AppError> {
    if args.days == 0 {
        return Err(AppError::Usage("--days must be at least 1".into()));
    }
    let wall = Utc::now();
    let today = wall.date_naive();
    let yesterday = today - chrono::Days::new(1);
    let hours = simulated_hours(wall.hour());
    let first = at(today, hours[0]);
    let mut config = FakeConfig::new(7, args.campaigns, today);
    config.now = Some(first);
    config
        .faults
        .push(faults::parse(&format!("taboola_report@{yesterday}=502")).map_err(AppError::Usage)?);
    let fake = FakeUpstream::start(config, "127.0.0.1:0")
        .await
        .map_err(|e| AppError::Usage(format!("cannot start the fake upstream on loopback: {e}")))?;

    let mut settings = ctx.settings.clone();
    settings.lake = args.dir.join("lake").to_string_lossy().into_owned();
    settings.db = args.dir.join("monitoring.duckdb");
    settings.upstream.retry_base = Duration::from_millis(50);
    settings.upstream.max_wait = Duration::from_millis(500);
    settings.upstream.requests_per_second = 500.0;
    let upstream = fake.upstream();
    let lake = open_lake(&settings).await?;
    drop(open_db(&settings).await?);

    let from = today - chrono::Days::new(u64::from(args.days - 1));
    let endpoints: Vec<_> = ENDPOINTS.iter().collect();
    let progress = output::progress_enabled(ctx.global.json, ctx.global.quiet);
    let clock = Arc::new(SimulatedClock::new(first));
    // Yesterday at the same hours first (so today has a yesterday-at-this-hour to compare
    // with), then today. The first run backfills; the others are the hourly incremental job.
    let days: Vec<NaiveDate> = [yesterday, today].into_iter().filter(|d| *d >= from).collect();
    let mut runs = Vec::new();
    for day in &days {
        for hour in &hours {
            let now = at(*day, *hour);
            fake.set_now(now);
            clock.set(now);
            let selection = match runs.len() {
                0 => DateSelection::Range { from, to: *day },
                _ => DateSelection::Incremental { today: *day },
            };
            let mut report = ingest::ingest(
                &settings,
                &upstream,
                &lake,
                &selection,
                &endpoints,
                progress,
                clock.clone(),
            )
            .await?;
            ingest::project_touched(&settings, &lake, &mut report).await?;
            if !ctx.global.json {
                if runs.is_empty() {
                    output::run_report(&report, false)?;
                }
                output::print(&format!("{}\n", run_line(now, &report)))?;
            }
            runs.push(report);
        }
    }

    let out = args.dir.join("report.html");
    let (path, wait) = (settings.db.clone(), settings.lock_wait);
    let html = tokio::task::spawn_blocking(move || -> Result<String, AppError> {
        let conn = db::open(&path, Access::ReadOnly, wait)?;
        let report = crate::report::build(&conn, None)?;
        Ok(crate::report::html::render(&report)?)
    })
    .await
    .map_err(AppError::task("report"))??;
    crate::report::write(&out, &html)?;

    if ctx.global.json {
        output::print_json(&Demo { runs, report: out })?;
        return Ok(Outcome::Clean);
    }
    let dir = args.dir.display();
    output::print(&format!(
        "\nThe demo fake answered taboola_report {yesterday} with 502 on every attempt: that is the FAILED row above.\n\
         The report, as of {last:02}:00 UTC (simulated): {page}\n\
         Look next:\n  \
         adlake --lake {dir}/lake --db {dir}/monitoring.duckdb status\n  \
         duckdb {dir}/monitoring.duckdb \"SELECT campaign_id, media_source, spend_usd, revenue_usd, roas FROM campaign_index WHERE date = DATE '{yesterday}' AND level = 'campaign' AND snapshot_source = 'daily' ORDER BY revenue_usd DESC NULLS LAST LIMIT 10\"\n  \
         adlake --lake {dir}/lake raw ls --endpoint taboola_report --from {yesterday} --to {yesterday}\n  \
         adlake --lake {dir}/lake raw show <event_id>      # the envelope: request, status, headers\n  \
         adlake --lake {dir}/lake raw cat <event_id>       # the exact bytes the upstream sent\n  \
         adlake --lake {dir}/lake raw verify\n  \
         adlake --lake {dir}/lake --db {dir}/monitoring.duckdb reproject   # rebuild every table from the lake alone\n",
        last = hours[hours.len() - 1],
        page = out.display(),
    ))?;
    Ok(Outcome::Clean)
}

/// One line per simulated run: when, what it fetched, what failed.
fn run_line(now: DateTime<Utc>, report: &RunReport) -> String {
    use crate::connector::FetchStatus;
    let count = |s: FetchStatus| report.fetches.iter().filter(|f| f.status == s).count();
    format!(
        "{} UTC (simulated) ingest: {} fetches, {} OK, {} PARTIAL, {} FAILED; {} new events",
        now.format("%Y-%m-%d %H:%M"),
        report.fetches.len(),
        count(FetchStatus::Ok),
        count(FetchStatus::Partial),
        count(FetchStatus::Failed),
        report.events_written,
    )
}

#[cfg(test)]
mod tests {
    use super::simulated_hours;

    #[test]
    fn the_simulated_hours_end_at_the_wall_clock_hour_or_at_noon() {
        assert_eq!(simulated_hours(23), vec![14, 17, 20, 23]);
        assert_eq!(simulated_hours(15), vec![6, 9, 12, 15]);
        assert_eq!(simulated_hours(2), vec![3, 6, 9, 12]);
    }
}
