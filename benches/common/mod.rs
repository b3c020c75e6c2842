//! What the benchmarks (`cargo bench --bench reproject | raw | ingest | backtest`) share: the
//! product's allocator and runtime, CPU seconds from /proc ([`cpu`]), the median and best of
//! rounds and the ratios against a baseline ([`rounds`]), the generated lakes ([`lake`],
//! [`hourly`]), the
//! Python baselines ([`python`]), the flags every bench takes and how results are printed.
//!
//! Invariants: a bench measures the release build of the product's own code paths (the same
//! allocator settings and runtime as `main.rs`); every ratio it prints is against a baseline
//! measured in the same process run, over the same bytes; `--json` makes stdout exactly one
//! JSON object (the readable table then goes to stderr). Benchmarks are never run by
//! `cargo test`, and nothing here is a timed assertion.

// Each bench target compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod cpu;
pub mod hourly;
pub mod lake;
pub mod python;
pub mod rounds;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

// The product's allocator, installed as `main.rs` installs it: a benchmark of the projector
// under another allocator would measure another program.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Why a benchmark could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    App(#[from] adlake::AppError),
    #[error(transparent)]
    Lake(#[from] adlake_raw::RawError),
    #[error("{what} `{}`", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("baseline (a): body {hash} is not JSON")]
    NotJson {
        hash: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Check(String),
}

impl BenchError {
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| BenchError::Io { what, path, source }
    }
}

/// Flags every bench takes (after `--`: `cargo bench --bench raw -- --rounds 5 --json`).
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Measure this many rounds (each: ours and its baselines back to back) and report medians
    /// and each side's best round: on a shared machine one round can be off by a fifth
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub rounds: u32,
    /// One JSON object on stdout for scripts; the table goes to stderr
    #[arg(long)]
    pub json: bool,
    /// Passed by `cargo bench` itself; ignored
    #[arg(long, hide = true)]
    pub bench: bool,
}

/// Sets up what `main.rs` sets up (allocator options, logging to stderr) and the product's
/// runtime.
pub fn start() -> Result<tokio::runtime::Runtime, BenchError> {
    adlake::allocator::keep_freed_memory();
    adlake::logging::init(0, false);
    Ok(adlake::runtime()?)
}

/// Which build is measuring, for every report's title: only a release build is what users run.
pub fn build() -> &'static str {
    if cfg!(debug_assertions) {
        "a debug build (not what users run: use `cargo bench`)"
    } else {
        "release build"
    }
}

/// Settings as the product resolves them from the environment (`ADLAKE_*`), for the bench to
/// point at its own lake and database.
pub fn settings() -> Result<adlake::config::Settings, BenchError> {
    adlake::config::load(&adlake::cli::Global::default(), &adlake::config::process_env)
        .map_err(|e| BenchError::App(e.into()))
}

/// Prints a bench's result: the table on stdout, or with `--json` the table on stderr and
/// `json` alone on stdout.
pub fn emit(json_output: bool, table: &str, json: &serde_json::Value) -> Result<(), BenchError> {
    let stdout = std::path::Path::new("stdout");
    if json_output {
        eprint!("{table}");
        let text = serde_json::to_string_pretty(json).map_err(std::io::Error::other);
        adlake::output::print(&format!("{}\n", text.map_err(BenchError::io("writing", stdout))?))
            .map_err(BenchError::io("writing", stdout))
    } else {
        adlake::output::print(table).map_err(BenchError::io("writing", stdout))
    }
}

/// The exit status of a bench's `main`: the error chain on stderr, 1 on failure.
pub fn exit(result: Result<(), BenchError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {:#}", anyhow::Error::new(err));
            ExitCode::FAILURE
        }
    }
}
