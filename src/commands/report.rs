//! `adlake report`: opens the database read-only, reads the figures of one date
//! ([`crate::report::build`]), writes the HTML page atomically (a temporary file beside it,
//! renamed over it: a reader never sees half a page) and prints its path, or with `--json` the
//! same figures. Reads no clock: the same database gives the same bytes.

use std::io::Write;
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

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".report-")
        .suffix(".html.tmp")
        .tempfile_in(dir)
        .map_err(|e| AppError::Usage(format!("cannot write into `{}`: {e}", dir.display())))?;
    file.write_all(bytes)?;
    // A page to open and share, not a secret: readable like any file the user writes.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| {
        AppError::Usage(format!("cannot write the report to `{}`: {}", path.display(), e.error))
    })?;
    Ok(())
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
    write_atomically(&args.out, html.as_bytes())?;
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
