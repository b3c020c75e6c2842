//! Command implementations: each opens what it needs (lake, database, upstream), calls the
//! libraries, and prints. Shared opening helpers live here so every command validates inputs
//! the same way.

pub mod audit;
pub mod demo;
pub mod diff;
pub mod fake;
pub mod ingest;
pub mod project;
pub mod raw;
pub mod status;

use adlake_raw::Lake;
use duckdb::Connection;

use crate::cli::{Command, Global};
use crate::config::Settings;
use crate::AppError;

pub struct Context {
    pub global: Global,
    pub settings: Settings,
}

pub async fn dispatch(ctx: Context, command: Command) -> Result<u8, AppError> {
    match command {
        Command::Init => init(&ctx).await,
        Command::Raw(cmd) => raw::run(&ctx, cmd).await,
        Command::Ingest(args) => ingest::command(&ctx, args).await,
        Command::Reproject(args) => reproject(&ctx, args).await,
        Command::Restatements { from, to, endpoint } => {
            diff::restatements(&ctx, from, to, endpoint).await
        }
        Command::Status { days } => status::run(&ctx, days).await,
        Command::Audit(args) => audit::run(&ctx, args).await,
        Command::FakeUpstream(args) => fake::run(args).await,
        Command::Demo(args) => demo::run(&ctx, args).await,
    }
}

/// Opens the lake and checks that it answers, so a bad URL fails before any work.
pub async fn open_lake(settings: &Settings) -> Result<Lake, AppError> {
    let lake = Lake::open(&settings.lake)?;
    lake.probe().await?;
    Ok(lake)
}

/// [`open_lake`] for commands that only read it: the lake must exist, and may be read-only.
pub async fn open_lake_to_read(settings: &Settings) -> Result<Lake, AppError> {
    let lake = Lake::open_existing(&settings.lake)?;
    lake.probe().await?;
    Ok(lake)
}

/// Opens the database read-write (waiting for a lock holder up to the configured time) and
/// applies pending migrations. Runs on a blocking thread: DuckDB calls are synchronous.
pub async fn open_db(settings: &Settings) -> Result<Connection, AppError> {
    let path = settings.db.clone();
    let wait = settings.lock_wait;
    tokio::task::spawn_blocking(move || -> Result<Connection, AppError> {
        let mut conn = adlake_replay::db::open(&path, adlake_replay::db::Access::ReadWrite, wait)?;
        adlake_replay::db::migrate(&mut conn, &path)?;
        Ok(conn)
    })
    .await
    .map_err(|e| AppError::Usage(format!("database task failed: {e}")))?
}

async fn init(ctx: &Context) -> Result<u8, AppError> {
    let lake = open_lake(&ctx.settings).await?;
    let conn = open_db(&ctx.settings).await?;
    drop(conn);
    if ctx.global.json {
        crate::output::print_json(
            &serde_json::json!({"lake": lake.display(), "db": ctx.settings.db}),
        )?;
    } else {
        crate::output::print(&format!(
            "lake: {}\ndatabase: {}\n",
            lake.display(),
            ctx.settings.db.display()
        ))?;
    }
    Ok(crate::EXIT_OK)
}

async fn reproject(ctx: &Context, args: crate::cli::ReprojectArgs) -> Result<u8, AppError> {
    let window = match (args.from, args.to) {
        (Some(from), Some(to)) if from > to => {
            return Err(AppError::Usage(format!("--from {from} is after --to {to}")))
        }
        (Some(from), Some(to)) => Some(adlake_replay::project::DateWindow { from, to }),
        _ => None,
    };
    let lake = open_lake_to_read(&ctx.settings).await?;
    if let Some(w) = window {
        // Every fetch leaves an event, so dates without one were never fetched into this lake:
        // a mistyped date or --lake. Projecting them would only empty them in the database.
        let keys = lake
            .event_keys(&adlake_raw::store::EventFilter {
                from: Some(w.from),
                to: Some(w.to),
                source: None,
            })
            .await?;
        if !keys
            .iter()
            .filter_map(Lake::event_key_date_and_source)
            .any(|(_, source)| source != ingest::JOB)
        {
            return Err(AppError::Usage(format!(
                "the lake at `{}` holds no fetched reports for {}..{}, so reprojecting those dates would only empty them; check --from/--to and --lake (nothing was changed)",
                lake.display(),
                w.from,
                w.to
            )));
        }
    }
    if args.dry_run || args.diff {
        return diff::run(ctx, &lake, window, args.diff).await;
    }
    let mut settings = ctx.settings.clone();
    if let (Some(as_of), Some(into)) = (args.as_of, &args.into) {
        if into == &ctx.settings.db {
            return Err(AppError::Usage(format!(
                "--into `{}` is the main database; name another file",
                into.display()
            )));
        }
        settings.db = into.clone();
        settings.as_of = Some(as_of);
    }
    let bar = crate::output::dates_bar(
        crate::output::progress_enabled(ctx.global.json, ctx.global.quiet),
        "reprojecting",
    );
    let summary =
        project::project_into_with_progress(&settings, &lake, window, Some(bar.clone())).await?;
    bar.finish_and_clear();
    print_projection(&summary, ctx.global.json)?;
    Ok(crate::EXIT_OK)
}

pub fn print_projection(summary: &project::ProjectionSummary, json: bool) -> Result<(), AppError> {
    if json {
        crate::output::print_json(summary)?;
    } else {
        let scope = summary.window.map_or("every date".to_string(), |(f, t)| format!("{f}..{t}"));
        crate::output::print(&format!(
            "projected {scope} from {} events ({} body bytes): {} campaign_index rows, {} session rows, {} completeness rows, {} runs; {} quarantined, {} unmapped campaigns{}\n",
            summary.events,
            summary.body_bytes,
            summary.campaign_rows,
            summary.session_rows,
            summary.completeness_rows,
            summary.runs,
            summary.quarantined,
            summary.unmapped_campaigns,
            if summary.unmapped_network_ids.is_empty() { String::new() } else { format!(", unmapped network ids {}", summary.unmapped_network_ids.join(",")) }
        ))?;
    }
    Ok(())
}
