//! `adlake report`: opens the database read-only, reads the figures of one date
//! ([`crate::report::build`]), writes the HTML page atomically ([`crate::report::write`]) and
//! prints its path, or with `--json` the
//! same figures. Reads no clock: the same database gives the same bytes.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::Context;
use crate::cli::ReportArgs;
use crate::report::Report;
use crate::{output, AppError, Outcome};

#[derive(Serialize)]
struct Written<'a> {
    out: &'a Path,
    bytes: usize,
    #[serde(flatten)]
    report: &'a Report,
}

pub async fn run(ctx: &Context, args: ReportArgs) -> Result<Outcome, AppError> {
    let path = ctx.settings.db.clone();
    if !path.exists() {
        return Err(AppError::Usage(format!(
            "no database at `{}`: run `adlake ingest` or `adlake reproject` first",
            path.display()
        )));
    }
    let wait = ctx.settings.lock_wait;
    let started = Instant::now();
    let (report, html) = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let conn = crate::store::db::open(&path, crate::store::db::Access::ReadOnly, wait)?;
        let report = crate::report::build(&conn, args.date)?;
        let html = crate::report::html::render(&report)?;
        Ok((report, html))
    })
    .await
    .map_err(AppError::task("database"))??;
    crate::report::write(&args.out, &html)?;
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        bytes = html.len(),
        campaigns = report.leaderboard.rows.len(),
        "report written"
    );
    if ctx.global.json {
        output::print_json(&Written { out: &args.out, bytes: html.len(), report: &report })?;
    } else {
        output::print(&format!("{}\n", args.out.display()))?;
    }
    Ok(Outcome::Clean)
}
