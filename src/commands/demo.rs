//! `adlake demo`: the whole pipeline on a fresh machine with nothing configured. Starts the
//! fake upstream in-process on a free loopback port (with the seed's known fault: Taboola
//! answering 502 for yesterday), ingests the last N days into `--dir`, and says what to look
//! at next.

use std::time::Duration;

use adlake_replay::ENDPOINTS;
use chrono::Utc;

use super::{open_db, open_lake, Context};
use crate::cli::DemoArgs;
use crate::fake::{faults, FakeConfig, FakeUpstream};
use crate::pipeline::ingest::{self, DateSelection};
use crate::{output, AppError, Outcome};

pub async fn run(ctx: &Context, args: DemoArgs) -> Result<Outcome, AppError> {
    if args.days == 0 {
        return Err(AppError::Usage("--days must be at least 1".into()));
    }
    let today = Utc::now().date_naive();
    let yesterday = today - chrono::Days::new(1);
    let mut config = FakeConfig::new(7, args.campaigns, today);
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
    let mut report = ingest::ingest(
        &settings,
        &upstream,
        &lake,
        &DateSelection::Range { from, to: today },
        &endpoints,
        progress,
        std::sync::Arc::new(crate::clock::SystemClock),
    )
    .await?;
    ingest::project_touched(&settings, &lake, &mut report).await?;
    crate::output::run_report(&report, ctx.global.json)?;
    if !ctx.global.json {
        let dir = args.dir.display();
        output::print(&format!(
            "\nThe demo fake answered taboola_report {yesterday} with 502 on every attempt: that is the FAILED row above.\n\
             Look next:\n  \
             adlake --lake {dir}/lake --db {dir}/monitoring.duckdb status\n  \
             duckdb {dir}/monitoring.duckdb \"SELECT campaign_id, media_source, spend_usd, revenue_usd, roas FROM campaign_index WHERE date = DATE '{yesterday}' AND level = 'campaign' AND snapshot_source = 'daily' ORDER BY revenue_usd DESC NULLS LAST LIMIT 10\"\n  \
             adlake --lake {dir}/lake raw ls --endpoint taboola_report --from {yesterday} --to {yesterday}\n  \
             adlake --lake {dir}/lake raw show <event_id>      # the envelope: request, status, headers\n  \
             adlake --lake {dir}/lake raw cat <event_id>       # the exact bytes the upstream sent\n  \
             adlake --lake {dir}/lake raw verify\n  \
             adlake --lake {dir}/lake --db {dir}/monitoring.duckdb reproject   # rebuild every table from the lake alone\n"
        ))?;
    }
    Ok(Outcome::Clean)
}
