//! The `adlake` application: CLI dispatch, configuration, connectors, the fake upstream and
//! the commands. `main.rs` only parses arguments and maps [`AppError`] to an exit code;
//! everything else lives here so integration tests can call it.

pub mod alerts;
pub mod allocator;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connector;
pub mod export;
pub mod fake;
pub mod logging;
pub mod output;
pub mod pipeline;
pub mod report;
pub mod secrets;
pub mod store;

use crate::store::db::DbError;
use adlake_raw::RawError;

/// How a command that ran to its end went. `main.rs` turns it, and an [`AppError`], into the
/// process's exit code (documented in the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything it did succeeded.
    Clean,
    /// It finished, and found failures it reported: a FAILED fetch, a lake that does not
    /// verify, an alert that could not be delivered.
    Failures,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Usage(String),
    /// The thing asked for is not there (a campaign, a date): exit 1.
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
    #[error(transparent)]
    Lake(#[from] RawError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Upstream(#[from] connector::UpstreamError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error(transparent)]
    Alerts(#[from] alerts::AlertError),
    #[error(transparent)]
    Export(#[from] export::ExportError),
    #[error("writing output failed")]
    Output(#[from] std::io::Error),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// A failure of adlake itself, not of its input: a task that panicked or a stage that
    /// stopped without saying why. Nothing was committed; the log and this message belong in
    /// a bug report.
    #[error("internal error: {what} (nothing was committed; please report this with the log)")]
    Internal {
        what: String,
        #[source]
        source: Option<tokio::task::JoinError>,
    },
}

impl AppError {
    /// The error for a blocking or async task that did not finish (it panicked or was
    /// cancelled): `what` names the task.
    pub fn task(what: &'static str) -> impl FnOnce(tokio::task::JoinError) -> AppError {
        move |source| AppError::Internal {
            what: format!("the {what} task failed"),
            source: Some(source),
        }
    }
}

/// Threads for blocking work: a projection's three long-lived stages plus the lake's file
/// reads and body decoding. Not tokio's default of 512: mimalloc gives every thread a heap of
/// its own, and a reproject spawning a short-lived thread per body decode left pages spread
/// over 66 heaps, 1.5 GiB committed on the 90-day benchmark lake against 0.54 GiB with 8.
/// Each newly committed page is zeroed by the kernel: 2.2 against 0.9 system CPU-seconds.
const BLOCKING_THREADS: usize = 8;

/// The runtime every command runs on (the benchmarks too, so they measure the same thing).
pub fn runtime() -> Result<tokio::runtime::Runtime, AppError> {
    tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(BLOCKING_THREADS)
        .enable_all()
        .build()
        .map_err(AppError::Runtime)
}

/// Runs one command to its [`Outcome`].
pub fn run(cli: cli::Cli) -> Result<Outcome, AppError> {
    let settings = config::load(&cli.global, &config::process_env)?;
    let runtime = runtime()?;
    let ctx = commands::Context { global: cli.global, settings };
    runtime.block_on(commands::dispatch(ctx, cli.command))
}
