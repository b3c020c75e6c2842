//! What a logic change would change (`reproject --dry-run | --diff`): a dry run projects into
//! a shadow database (a temporary file), attaches the current database read-only and compares
//! the tables by key in SQL; the current database is never opened for writing.

use std::collections::BTreeMap;

use crate::store::db::DbError;
use adlake_raw::Lake;
use adlake_replay::project::DateWindow;
use duckdb::Connection;
use serde::Serialize;

use crate::config::Settings;
use crate::AppError;

/// Tables compared by a diff and their key columns.
pub const KEYS: &[(&str, &[&str])] = &[
    ("campaign_index", &["campaign_id", "date", "level", "snapshot_source", "adset_id"]),
    ("session_hourly_metrics", &["campaign_id", "date", "click_hour"]),
    ("endpoint_completeness", &["date", "endpoint"]),
    ("campaign_index_runs", &["run_id"]),
    ("session_ingest_runs", &["run_id"]),
];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColumnChange {
    pub column: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RowChange {
    pub key: String,
    pub changes: Vec<ColumnChange>,
    /// Events behind the new values of the changed columns.
    pub events: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct TableDiff {
    pub table: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<RowChange>,
    /// Changed rows per column.
    pub columns: BTreeMap<String, usize>,
}

fn q(context: &str) -> impl FnOnce(duckdb::Error) -> DbError + '_ {
    move |source| DbError::Query { context: context.to_owned(), source }
}

fn strings(conn: &Connection, sql: &str) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare(sql).map_err(q(sql))?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(q(sql))?;
    rows.collect::<Result<_, _>>().map_err(q(sql))
}

fn key_expr(alias: &str, keys: &[&str]) -> String {
    let parts: Vec<String> =
        keys.iter().map(|k| format!("coalesce(CAST({alias}.{k} AS VARCHAR), '')")).collect();
    parts.join(" || '|' || ")
}

/// Compares `new.<table>` (the shadow) with `cur.<table>` within `window`.
pub fn diff_tables(
    conn: &Connection,
    window: Option<DateWindow>,
) -> Result<Vec<TableDiff>, DbError> {
    let mut out = Vec::new();
    for (table, keys) in KEYS {
        let has_date = keys.contains(&"date");
        let filter = match (window, has_date) {
            (Some(w), true) => format!("WHERE date BETWEEN DATE '{}' AND DATE '{}'", w.from, w.to),
            (Some(_), false) => {
                "WHERE run_id IN (SELECT run_id FROM new_db.main.".to_string() + table + ")"
            }
            (None, _) => String::new(),
        };
        conn.execute_batch(&format!(
            "CREATE OR REPLACE TEMP TABLE o AS SELECT * FROM cur.main.{table} {filter};
             CREATE OR REPLACE TEMP TABLE n AS SELECT * FROM new_db.main.{table};"
        ))
        .map_err(q("stage diff"))?;
        let kn = key_expr("n", keys);
        let ko = key_expr("o", keys);
        let added = strings(
            conn,
            &format!("SELECT {kn} AS k FROM n EXCEPT SELECT {ko} FROM o ORDER BY k"),
        )?;
        let removed = strings(
            conn,
            &format!("SELECT {ko} AS k FROM o EXCEPT SELECT {kn} FROM n ORDER BY k"),
        )?;
        let columns = strings(conn, &format!("SELECT column_name FROM information_schema.columns WHERE table_name = '{table}' AND table_schema = 'main' AND table_catalog = 'new_db' ORDER BY ordinal_position"))?;
        let mut changed: BTreeMap<String, RowChange> = BTreeMap::new();
        let mut per_column = BTreeMap::new();
        for column in columns.iter().filter(|c| !keys.contains(&c.as_str())) {
            let sql = format!(
                "SELECT {kn} AS k, CAST(o.{column} AS VARCHAR), CAST(n.{column} AS VARCHAR) FROM n JOIN o ON {kn} = {ko} WHERE n.{column} IS DISTINCT FROM o.{column} ORDER BY k"
            );
            let mut stmt = conn.prepare(&sql).map_err(q("diff column"))?;
            let rows: Vec<(String, Option<String>, Option<String>)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(q("diff column"))?
                .collect::<Result<_, _>>()
                .map_err(q("diff column"))?;
            if !rows.is_empty() {
                per_column.insert(column.clone(), rows.len());
            }
            for (key, old, new) in rows {
                changed
                    .entry(key.clone())
                    .or_insert_with(|| RowChange { key, changes: Vec::new(), events: Vec::new() })
                    .changes
                    .push(ColumnChange { column: column.clone(), old, new });
            }
        }
        if *table == "campaign_index" {
            for row in changed.values_mut() {
                // Derived columns are tagged with the events of the columns they derive from.
                let cols: Vec<String> = row
                    .changes
                    .iter()
                    .flat_map(|c| match c.column.as_str() {
                        "spend_source" => vec!["spend_usd"],
                        "roas" => vec!["spend_usd", "revenue_usd"],
                        "media_source" => vec!["network_id"],
                        other => vec![other],
                    })
                    .map(|c| format!("'{}'", c.replace('\'', "''")))
                    .collect();
                let sql = format!(
                    "SELECT DISTINCT event_id FROM new_db.main.lineage WHERE table_name = 'campaign_index' AND chosen AND row_key = '{}' AND column_name IN ({}) ORDER BY event_id",
                    row.key.replace('\'', "''"),
                    cols.join(",")
                );
                row.events = strings(conn, &sql)?;
            }
        }
        out.push(TableDiff {
            table: table.to_string(),
            added,
            removed,
            changed: changed.into_values().collect(),
            columns: per_column,
        });
    }
    Ok(out)
}

/// The rows a projection of `window` (everything when `None`) would change in the database
/// at `settings.db`; with `apply`, the projection is then made there too.
pub async fn shadow_diff(
    settings: &Settings,
    lake: &Lake,
    window: Option<DateWindow>,
    apply: bool,
) -> Result<Vec<TableDiff>, AppError> {
    let scratch =
        tempfile::Builder::new().prefix("adlake-shadow-").tempdir().map_err(AppError::Output)?;
    let shadow = scratch.path().join("shadow.duckdb");
    let mut shadow_settings = settings.clone();
    shadow_settings.db = shadow.clone();
    // The shadow is a fresh database: a window widens back to the lake's first date there and
    // forward to its last, as it does in the current database when the projector or its
    // configuration changed. The comparison covers that whole span, so what is shown is what
    // applying would rewrite.
    let projected = crate::pipeline::project::project_into(&shadow_settings, lake, window).await?;
    let compared = projected.window.map(|(from, to)| DateWindow { from, to });
    let current = settings.db.clone();
    let wait = settings.lock_wait;
    let diffs = tokio::task::spawn_blocking(move || -> Result<Vec<TableDiff>, AppError> {
        let conn = Connection::open_in_memory().map_err(q("open diff workspace"))?;
        conn.execute_batch(&format!(
            "ATTACH '{}' AS new_db (READ_ONLY)",
            shadow.display().to_string().replace('\'', "''")
        ))
        .map_err(q("attach shadow"))?;
        let current = if current.exists() {
            // Held by another writer? Wait like every other command, then attach read-only.
            drop(crate::store::db::open(&current, crate::store::db::Access::ReadOnly, wait)?);
            current
        } else {
            // No database yet: compare against empty tables.
            let empty = shadow.with_file_name("empty.duckdb");
            let mut e = crate::store::db::open(&empty, crate::store::db::Access::ReadWrite, wait)?;
            crate::store::db::migrate(&mut e, &empty)?;
            empty
        };
        conn.execute_batch(&format!(
            "ATTACH '{}' AS cur (READ_ONLY)",
            current.display().to_string().replace('\'', "''")
        ))
        .map_err(q("attach current database"))?;
        Ok(diff_tables(&conn, compared)?)
    })
    .await
    .map_err(AppError::task("diff"))??;
    if apply {
        crate::pipeline::project::project_into(settings, lake, window).await?;
    }
    Ok(diffs)
}

pub fn render(diffs: &[TableDiff], applied: bool) -> String {
    let mut out = format!(
        "{}\n",
        if applied { "applied; changes:" } else { "dry run; nothing was changed. Would change:" }
    );
    let rows: Vec<Vec<String>> = diffs
        .iter()
        .map(|d| {
            let cols: Vec<String> = d.columns.iter().map(|(c, n)| format!("{c}:{n}")).collect();
            vec![
                d.table.clone(),
                d.added.len().to_string(),
                d.removed.len().to_string(),
                d.changed.len().to_string(),
                cols.join(" "),
            ]
        })
        .collect();
    out.push_str(&crate::output::table(
        &["table", "added", "removed", "changed", "changed columns"],
        &rows,
    ));
    for d in diffs {
        for k in &d.added {
            out.push_str(&format!("\n+ {} {k}", d.table));
        }
        for k in &d.removed {
            out.push_str(&format!("\n- {} {k}", d.table));
        }
        for row in &d.changed {
            out.push_str(&format!("\n~ {} {}", d.table, row.key));
            for c in &row.changes {
                out.push_str(&format!(
                    "\n    {}: {} -> {}",
                    c.column,
                    c.old.as_deref().unwrap_or("NULL"),
                    c.new.as_deref().unwrap_or("NULL")
                ));
            }
            if !row.events.is_empty() {
                out.push_str(&format!("\n    events: {}", row.events.join(", ")));
            }
        }
    }
    out.push('\n');
    out
}
