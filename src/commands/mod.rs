//! Command implementations: each opens what it needs (lake, database, upstream), calls the
//! libraries, and prints. Shared opening helpers live here so every command validates inputs
//! the same way.

pub mod alerts;
pub mod audit;
pub mod demo;
pub mod export;
pub mod fake;
pub mod ingest;
pub mod init;
pub mod raw;
pub mod report;
pub mod reproject;
pub mod restatements;
pub mod status;

use adlake_raw::Lake;
use duckdb::Connection;

use crate::cli::{Command, Global};
use crate::config::Settings;
use crate::{AppError, Outcome};

pub struct Context {
    pub global: Global,
    pub settings: Settings,
}

pub async fn dispatch(ctx: Context, command: Command) -> Result<Outcome, AppError> {
    match command {
        Command::Init => init::run(&ctx).await,
        Command::Raw(cmd) => raw::run(&ctx, cmd).await,
        Command::Ingest(args) => ingest::command(&ctx, args).await,
        Command::Reproject(args) => reproject::run(&ctx, args).await,
        Command::Restatements { from, to, endpoint } => {
            restatements::run(&ctx, from, to, endpoint).await
        }
        Command::Status { days } => status::run(&ctx, days).await,
        Command::Audit(args) => audit::run(&ctx, args).await,
        Command::Report(args) => report::run(&ctx, args).await,
        Command::Alerts(cmd) => alerts::run(&ctx, cmd).await,
        Command::Export(cmd) => export::run(&ctx, cmd).await,
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

/// Refuses a `--db` that is no DuckDB database (a CSV or JSON report, a text file...), for
/// commands to call before they do any work; opening such a path is refused as well.
pub fn check_db_path(settings: &Settings) -> Result<(), AppError> {
    Ok(crate::store::db::check_path(&settings.db)?)
}

/// Opens the database read-write (waiting for a lock holder up to the configured time) and
/// applies pending migrations. Runs on a blocking thread: DuckDB calls are synchronous.
/// Refuses a path that is no database ([`check_db_path`]).
pub async fn open_db(settings: &Settings) -> Result<Connection, AppError> {
    let path = settings.db.clone();
    let wait = settings.lock_wait;
    tokio::task::spawn_blocking(move || -> Result<Connection, AppError> {
        let mut conn = crate::store::db::open(&path, crate::store::db::Access::ReadWrite, wait)?;
        crate::store::db::migrate(&mut conn, &path)?;
        Ok(conn)
    })
    .await
    .map_err(AppError::task("database"))?
}
