//! `adlake reproject`: rebuilds the tables (every date, or a window) from the lake alone;
//! `--dry-run`/`--diff` show or apply what a rule change would change; `--as-of ... --into`
//! projects the past as it was known then into another file.

use adlake_raw::Lake;

use super::{check_db_path, open_lake_to_read, Context};
use crate::{AppError, Outcome};

pub async fn run(ctx: &Context, args: crate::cli::ReprojectArgs) -> Result<Outcome, AppError> {
    let window = match (args.from, args.to) {
        (Some(from), Some(to)) if from > to => {
            return Err(AppError::Usage(format!("--from {from} is after --to {to}")))
        }
        (Some(from), Some(to)) => Some(adlake_replay::project::DateWindow { from, to }),
        _ => None,
    };
    check_db_path(&ctx.settings)?;
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
            .any(|(_, source)| source != crate::pipeline::ingest::JOB)
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
        let diffs =
            crate::pipeline::diff::shadow_diff(&ctx.settings, &lake, window, args.diff).await?;
        if ctx.global.json {
            crate::output::print_json(&serde_json::json!({"applied": args.diff, "tables": diffs}))?;
        } else {
            crate::output::print(&crate::pipeline::diff::render(&diffs, args.diff))?;
        }
        return Ok(Outcome::Clean);
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
    let summary = crate::pipeline::project::project_into_with_progress(
        &settings,
        &lake,
        window,
        Some(bar.clone()),
    )
    .await?;
    bar.finish_and_clear();
    if let (Some(copy), None) = (ctx.settings.reader_copy.clone(), &args.into) {
        let (db, wait) = (ctx.settings.db.clone(), ctx.settings.lock_wait);
        tokio::task::spawn_blocking(move || crate::store::reader_copy::refresh(&db, &copy, wait))
            .await
            .map_err(|e| AppError::Usage(format!("reader copy task failed: {e}")))??;
    }
    crate::output::projection(&summary, ctx.global.json)?;
    Ok(Outcome::Clean)
}
