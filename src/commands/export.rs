//! `adlake export parquet`: writes the tables as Parquet for other engines
//! (`crate::export`), from the database alone (read-only), and prints what it wrote.

use super::{check_db_path, Context};
use crate::cli::{ExportArgs, ExportCommand};
use crate::export::{export, resolve_tables, ExportRequest, ExportSummary};
use crate::{AppError, Outcome};

pub async fn run(ctx: &Context, command: ExportCommand) -> Result<Outcome, AppError> {
    let ExportCommand::Parquet(args) = command;
    let request = request(ctx, &args)?;
    check_db_path(&ctx.settings)?;
    if !ctx.settings.db.exists() {
        return Err(AppError::Usage(format!(
            "no database at `{}` to export: run `adlake reproject` (or `ingest`) first",
            ctx.settings.db.display()
        )));
    }
    let summary = export(&ctx.settings, &request).await?;
    if ctx.global.json {
        crate::output::print_json(&summary)?;
    } else {
        crate::output::print(&render(&summary))?;
    }
    Ok(Outcome::Clean)
}

fn request(ctx: &Context, args: &ExportArgs) -> Result<ExportRequest, AppError> {
    let into = args.into.clone().or_else(|| ctx.settings.export_url.clone()).ok_or_else(|| {
        AppError::Usage(
            "no destination: give --into (a directory or s3://bucket/prefix), ADLAKE_EXPORT_URL or `[export] url`"
                .into(),
        )
    })?;
    let window = match (args.from, args.to) {
        (Some(from), Some(to)) if from > to => {
            return Err(AppError::Usage(format!("--from {from} is after --to {to}")))
        }
        (Some(from), Some(to)) => Some(adlake_replay::project::DateWindow { from, to }),
        _ => None,
    };
    let names = if args.tables.is_empty() { &ctx.settings.export_tables } else { &args.tables };
    Ok(ExportRequest { into, window, tables: resolve_tables(names)? })
}

pub fn render(summary: &ExportSummary) -> String {
    let rows: Vec<Vec<String>> = summary
        .tables
        .iter()
        .map(|t| {
            vec![
                t.table.clone(),
                t.files_written.to_string(),
                t.rows.to_string(),
                format!("{:.2}", t.bytes as f64 / 1e6),
                t.partitions_removed.len().to_string(),
            ]
        })
        .collect();
    let window = match summary.window {
        Some((from, to)) => format!("{from}..{to}"),
        None => "every date".into(),
    };
    format!(
        "exported {window} to {}: {} files, {} rows, {:.2} MB\n{}",
        summary.into,
        summary.files_written,
        summary.rows,
        summary.bytes as f64 / 1e6,
        crate::output::table(&["table", "files", "rows", "MB", "removed"], &rows)
    )
}
