//! `export parquet`: every projected table, and the `lineage` view, as Parquet files that any
//! engine (Athena, Trino, Spark, BigQuery, DuckDB, pyarrow) reads while DuckDB's file stays
//! the writer's. A dated table is Hive-partitioned by date,
//! `<table>/date=YYYY-MM-DD/part-0.parquet` (the date is in the path, not in the file); a
//! table without a date (the runs, alert deliveries) is one file, `<table>/part-0.parquet`,
//! written whole by every export.
//!
//! Invariants:
//! - deterministic: rows in key order (the table's key columns, then every other column),
//!   written by DuckDB on one thread, so an unchanged date gives byte-identical files, and
//!   file names depend on nothing but the table and the date;
//! - a partition is replaced whole, never seen half-written (see [`dest`]): a killed export
//!   leaves each partition as the old file or the new one;
//! - an export of a window touches only that window's partitions: a date whose rows are gone
//!   loses its partition; dates outside the window are left alone. An export without a window
//!   makes the destination equal the tables.
//! - the database is only read (opened read-only).

pub mod dest;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use adlake_replay::project::DateWindow;
use chrono::NaiveDate;
use duckdb::Connection;
use serde::Serialize;

use crate::config::Settings;
use crate::store::db::{Access, DbError};
use dest::Dest;

/// The file of each partition (and of an undated table).
pub const PART: &str = "part-0.parquet";

/// Views exported beside the tables: one row per (row, column, source) of the lineage.
pub const VIEWS: &[&str] = &["lineage"];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("export destination `{url}` is not a path, file:// or s3://bucket/prefix URL")]
    BadUrl { url: String },
    #[error("unknown table `{name}` to export; known: {known}")]
    UnknownTable { name: String, known: String },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("export: `{}` failed", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("export: object `{key}` failed")]
    Store {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("export task failed: {0}")]
    Task(String),
}

/// Every table and view an export can write, in the order it writes them.
pub fn exportable() -> impl Iterator<Item = &'static str> {
    crate::store::write::TABLES.iter().chain(VIEWS).copied()
}

/// Checks table names against [`exportable`]; none given means all of them.
pub fn resolve_tables(names: &[String]) -> Result<Vec<&'static str>, ExportError> {
    if names.is_empty() {
        return Ok(exportable().collect());
    }
    let mut out = Vec::new();
    for name in names {
        let name = name.trim();
        let table = exportable().find(|t| *t == name).ok_or_else(|| ExportError::UnknownTable {
            name: name.to_owned(),
            known: exportable().collect::<Vec<_>>().join(", "),
        })?;
        if !out.contains(&table) {
            out.push(table);
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Destination: a path, `file://` or `s3://bucket/prefix`.
    pub into: String,
    /// Only these dates' partitions (undated tables are written whole anyway).
    pub window: Option<DateWindow>,
    pub tables: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ExportSummary {
    pub into: String,
    pub window: Option<(NaiveDate, NaiveDate)>,
    pub tables: Vec<TableExport>,
    pub files_written: usize,
    pub partitions_removed: usize,
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TableExport {
    pub table: String,
    pub files_written: usize,
    pub partitions_removed: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
}

/// Exports `request.tables` of the database at `settings.db` (opened read-only, waiting for a
/// writer's lock up to `settings.lock_wait`).
pub async fn export(
    settings: &Settings,
    request: &ExportRequest,
) -> Result<ExportSummary, ExportError> {
    let dest = Arc::new(Dest::open(&request.into)?);
    let (path, wait) = (settings.db.clone(), settings.lock_wait);
    let request = request.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || -> Result<ExportSummary, ExportError> {
        let conn = crate::store::db::open(&path, Access::ReadOnly, wait)?;
        // One thread: DuckDB's Parquet bytes then depend on the rows alone.
        conn.execute_batch("SET threads = 1").map_err(DbError::query("SET threads = 1"))?;
        let mut summary = ExportSummary {
            into: dest.display(),
            window: request.window.map(|w| (w.from, w.to)),
            ..Default::default()
        };
        for table in &request.tables {
            let t = export_table(&conn, &dest, &handle, table, request.window)?;
            summary.files_written += t.files_written;
            summary.partitions_removed += t.partitions_removed.len();
            summary.rows += t.rows;
            summary.bytes += t.bytes;
            summary.tables.push(t);
        }
        Ok(summary)
    })
    .await
    .map_err(|e| ExportError::Task(e.to_string()))?
}

fn export_table(
    conn: &Connection,
    dest: &Dest,
    handle: &tokio::runtime::Handle,
    table: &str,
    window: Option<DateWindow>,
) -> Result<TableExport, ExportError> {
    let columns = columns(conn, table)?;
    let dated = columns.iter().any(|c| c == "date");
    let mut out = TableExport { table: table.to_owned(), ..Default::default() };
    if !dated {
        let order = order_by(table, &columns);
        let select = format!("SELECT * FROM \"{table}\" ORDER BY {order}");
        let rel = format!("{table}/{PART}");
        let (rows, bytes) = write_file(conn, dest, handle, &select, &rel)?;
        out.files_written = 1;
        (out.rows, out.bytes) = (rows, bytes);
        return Ok(out);
    }
    let filter = match window {
        Some(w) => format!(" WHERE date BETWEEN DATE '{}' AND DATE '{}'", w.from, w.to),
        None => String::new(),
    };
    let dates: Vec<String> = {
        let sql = format!(
            "SELECT DISTINCT strftime(date, '%Y-%m-%d') AS d FROM \"{table}\"{filter} ORDER BY d"
        );
        let mut stmt = conn.prepare(&sql).map_err(DbError::query(sql.clone()))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(DbError::query(&sql))?;
        rows.collect::<Result<_, _>>().map_err(DbError::query(&sql))?
    };
    let existing = handle.block_on(dest.partitions(table))?;
    let rest: Vec<String> = columns.into_iter().filter(|c| c != "date").collect();
    let order = order_by(table, &rest);
    let mut written = BTreeSet::new();
    for date in dates {
        let partition = format!("date={date}");
        let select = format!(
            "SELECT * EXCLUDE (date) FROM \"{table}\" WHERE date = DATE '{date}' ORDER BY {order}"
        );
        let rel = format!("{table}/{partition}/{PART}");
        let (rows, bytes) = write_file(conn, dest, handle, &select, &rel)?;
        out.files_written += 1;
        out.rows += rows;
        out.bytes += bytes;
        written.insert(partition);
    }
    // Dates in scope whose rows are gone: their old partition would be read as current.
    for partition in existing.difference(&written) {
        let in_scope = match (window, partition.strip_prefix("date=").map(str::parse)) {
            (None, _) => true,
            (Some(w), Some(Ok(d))) => w.contains(d),
            (Some(_), _) => false,
        };
        if in_scope {
            handle.block_on(dest.remove_partition(&format!("{table}/{partition}")))?;
            out.partitions_removed.push(partition.clone());
        }
    }
    Ok(out)
}

/// Writes `select` as one Parquet file staged locally, then installs it as `rel`.
fn write_file(
    conn: &Connection,
    dest: &Dest,
    handle: &tokio::runtime::Handle,
    select: &str,
    rel: &str,
) -> Result<(u64, u64), ExportError> {
    let staged = dest.staging_file(rel);
    let literal = staged.to_string_lossy().replace('\'', "''");
    let sql = format!("COPY ({select}) TO '{literal}' (FORMAT parquet, COMPRESSION snappy)");
    let rows = match conn.execute(&sql, []) {
        Ok(rows) => rows as u64,
        Err(source) => {
            let _ = std::fs::remove_file(&staged);
            return Err(DbError::Query { context: format!("export {rel}"), source }.into());
        }
    };
    let bytes = handle.block_on(dest.install(rel, &staged));
    if bytes.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    Ok((rows, bytes?))
}

/// The table's columns, in their declared order.
fn columns(conn: &Connection, table: &str) -> Result<Vec<String>, DbError> {
    let sql = "SELECT column_name FROM information_schema.columns \
               WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position";
    let mut stmt = conn.prepare(sql).map_err(DbError::query(sql))?;
    let rows = stmt.query_map([table], |r| r.get::<_, String>(0)).map_err(DbError::query(sql))?;
    rows.collect::<Result<_, _>>().map_err(DbError::query(sql))
}

/// A total order over a table's rows: its key columns
/// ([`crate::pipeline::diff::KEYS`]), then every other column in declared order.
fn order_by(table: &str, columns: &[String]) -> String {
    let keys = crate::pipeline::diff::KEYS
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, keys)| *keys)
        .unwrap_or(&[]);
    let mut order: Vec<&str> =
        keys.iter().copied().filter(|k| columns.iter().any(|c| c == k)).collect();
    for c in columns {
        if !order.contains(&c.as_str()) {
            order.push(c);
        }
    }
    order.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_puts_the_keys_first_then_every_other_column() {
        let cols: Vec<String> =
            ["a", "date", "endpoint", "z"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            order_by("endpoint_completeness", &cols),
            "\"date\", \"endpoint\", \"a\", \"z\""
        );
        assert_eq!(order_by("raw_events", &cols), "\"a\", \"date\", \"endpoint\", \"z\"");
    }

    #[test]
    fn unknown_tables_are_refused_with_the_known_ones() {
        let err = resolve_tables(&["campaign_idx".into()]).unwrap_err().to_string();
        assert!(err.contains("campaign_idx") && err.contains("lineage"), "{err}");
        assert_eq!(resolve_tables(&[]).map(|t| t.len()).ok(), Some(exportable().count()));
    }
}
