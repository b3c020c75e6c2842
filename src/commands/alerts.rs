//! `adlake alerts`: `check` (one live evaluation: recorded, delivered, printed), `explain ID`
//! (a verdict down to the bytes) and `backtest` (the rules over the past as it was known
//! then, scored against each day's reconciled outcome). The work is `crate::alerts`'.

use chrono::{DateTime, NaiveDate, Utc};

use super::{open_lake, open_lake_to_read, Context};
use crate::alerts::{self, AlertError};
use crate::clock::{Clock, SystemClock};
use crate::config::process_env;
use crate::{output, AppError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum AlertsCommand {
    /// Evaluate the rules now (the newest intraday hour of today), record and deliver
    Check {
        /// Evaluate this hour instead (RFC 3339; the rows as known at the end of its hour)
        #[arg(long)]
        at: Option<DateTime<Utc>>,
    },
    /// A verdict's rule, inputs and the raw events behind them, and its deliveries
    Explain {
        /// The verdict's event id (or its first 8+ characters)
        id: String,
        /// Print each input's row as stored in its body
        #[arg(long)]
        raw: bool,
    },
    /// What the rules would have fired over past dates, as known then, and how that scored
    Backtest {
        /// First date (UTC day)
        #[arg(long)]
        from: NaiveDate,
        /// Last date (inclusive)
        #[arg(long)]
        to: NaiveDate,
        /// Step between instants, whole hours (`1h`, `3h`)
        #[arg(long, default_value = "1h")]
        every: String,
    },
}

pub async fn run(ctx: &Context, command: AlertsCommand) -> Result<Outcome, AppError> {
    match command {
        AlertsCommand::Check { at } => check(ctx, at).await,
        AlertsCommand::Explain { id, raw } => explain(ctx, id, raw).await,
        AlertsCommand::Backtest { from, to, every } => backtest(ctx, from, to, every).await,
    }
}

async fn check(ctx: &Context, at: Option<DateTime<Utc>>) -> Result<Outcome, AppError> {
    let webhooks = crate::secrets::alert_webhooks(
        &process_env,
        ctx.settings.upstream.secrets_file.as_deref(),
    )?;
    crate::alerts::deliver::channels(&webhooks).map_err(AlertError::from)?;
    let lake = open_lake(&ctx.settings).await?;
    let clock = SystemClock;
    let run_id = crate::pipeline::ingest::new_run_id(clock.now());
    let report = alerts::check(&ctx.settings, &lake, &run_id, at, &clock, &webhooks).await?;
    if ctx.global.json {
        output::print_json(&report)?;
    } else {
        output::print(&alerts::render(&report))?;
    }
    Ok(if report.failed_deliveries() > 0 { Outcome::Failures } else { Outcome::Clean })
}

async fn explain(ctx: &Context, id: String, raw: bool) -> Result<Outcome, AppError> {
    let (path, wait) = (ctx.settings.db.clone(), ctx.settings.lock_wait);
    if !path.exists() {
        return Err(AlertError::NoDatabase { path }.into());
    }
    let rules = ctx.settings.alerts.rules.clone();
    let mut explained = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let conn = crate::store::db::open(&path, crate::store::db::Access::ReadOnly, wait)?;
        Ok(alerts::explain::explain(&conn, &id, &rules)?)
    })
    .await
    .map_err(AppError::task("database"))??;
    if raw {
        let lake = open_lake_to_read(&ctx.settings).await?;
        alerts::explain::add_fragments(&lake, &mut explained).await?;
    }
    if ctx.global.json {
        output::print_json(&explained)?;
    } else {
        output::print(&alerts::explain::render(&explained))?;
    }
    Ok(Outcome::Clean)
}

async fn backtest(
    ctx: &Context,
    from: NaiveDate,
    to: NaiveDate,
    every: String,
) -> Result<Outcome, AppError> {
    if from > to {
        return Err(AppError::Usage(format!("--from {from} is after --to {to}")));
    }
    let every_hours = alerts::rules::parse_duration(&every)
        .map(|d| d.num_minutes())
        .filter(|m| *m >= 60 && m % 60 == 0)
        .map(|m| (m / 60) as u32)
        .ok_or_else(|| {
            AppError::Usage(format!("--every {every}: give whole hours, such as 1h or 3h"))
        })?;
    let (path, wait) = (ctx.settings.db.clone(), ctx.settings.lock_wait);
    if !path.exists() {
        return Err(AlertError::NoDatabase { path }.into());
    }
    let settings = ctx.settings.clone();
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let conn = crate::store::db::open(&path, crate::store::db::Access::ReadOnly, wait)?;
        Ok(alerts::backtest::backtest(
            &conn,
            &settings.alerts.rules,
            &settings.projector.spend_precedence,
            from,
            to,
            every_hours,
        )?)
    })
    .await
    .map_err(AppError::task("database"))??;
    tracing::info!(
        elapsed_s = started.elapsed().as_secs_f64(),
        instants = result.instants,
        "backtest done"
    );
    if ctx.global.json {
        output::print_json(&result)?;
    } else {
        output::print(&alerts::backtest::render(&result))?;
    }
    Ok(Outcome::Clean)
}
