//! The report's access to the database: one helper that runs a query and maps its rows, SQL
//! literals for dates and date lists, and the report's error type. Queries are built only from
//! dates and numbers the report computed, never from input text, so literals are safe.

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::Connection;

use crate::store::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the database holds no projected dates yet: run `adlake ingest` or `adlake reproject` first")]
    Empty,
    #[error("the database holds no campaign rows for {date}: pick a projected date (`adlake status` lists them)")]
    NoSuchDate { date: NaiveDate },
    #[error("the database returned a date adlake cannot read: `{text}`")]
    BadDate { text: String },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("rendering the report template failed")]
    Template(#[source] minijinja::Error),
    #[error("cannot write the report to `{}`: {source}; check --out names a writable directory", path.display())]
    Write { path: std::path::PathBuf, source: std::io::Error },
}

/// Runs `sql` and maps each row with `map`; errors name the query.
pub fn rows<T>(
    conn: &Connection,
    sql: &str,
    map: impl FnMut(&duckdb::Row<'_>) -> duckdb::Result<T>,
) -> Result<Vec<T>, ReportError> {
    let mut stmt = conn.prepare(sql).map_err(DbError::query(sql.to_owned()))?;
    let mapped = stmt.query_map([], map).map_err(DbError::query(sql.to_owned()))?;
    Ok(mapped.collect::<Result<Vec<_>, _>>().map_err(DbError::query(sql.to_owned()))?)
}

/// `DATE 'YYYY-MM-DD'`.
pub fn date(d: NaiveDate) -> String {
    format!("DATE '{}'", d.format("%Y-%m-%d"))
}

/// `(DATE '..', DATE '..')` for an `IN` list; `(NULL)` when empty, which matches nothing.
pub fn dates(ds: &[NaiveDate]) -> String {
    if ds.is_empty() {
        return "(NULL)".into();
    }
    format!("({})", ds.iter().map(|d| date(*d)).collect::<Vec<_>>().join(", "))
}

/// `TIMESTAMP 'YYYY-MM-DD HH:MM:SS'`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S"))
}

pub fn parse_date(text: &str) -> Result<NaiveDate, ReportError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| ReportError::BadDate { text: text.to_owned() })
}

/// A timestamp read as `epoch(..)` seconds.
pub fn instant(seconds: Option<i64>) -> Option<DateTime<Utc>> {
    seconds.and_then(|s| DateTime::from_timestamp(s, 0))
}

/// `revenue / spend` when spend is positive (the ROAS rule of `campaign_index`).
pub fn ratio(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
        _ => None,
    }
}
