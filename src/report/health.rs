//! Block 8, the endpoint × date health grid over the last fortnight: each cell is
//! `endpoint_completeness` (status, rows against `expected_min_rows`, retries, the last error)
//! and the count of quarantined bodies and rows. Endpoints in registry order.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use duckdb::Connection;
use serde::Serialize;

use super::sql::{self, ReportError};
use super::{Frame, FORTNIGHT};

#[derive(Debug, Clone, Default, Serialize)]
pub struct Cell {
    pub status: Option<String>,
    pub row_count: Option<i64>,
    pub expected_min_rows: Option<f64>,
    pub retry_count: Option<i64>,
    pub quarantined: i64,
    pub error_message: Option<String>,
}

impl Cell {
    /// Fewer rows than the mean of the previous week's OK fetches.
    pub fn short(&self) -> bool {
        matches!((self.row_count, self.expected_min_rows), (Some(n), Some(e)) if (n as f64) < e)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub endpoint: &'static str,
    pub critical: bool,
    /// One per date, oldest first.
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub dates: Vec<NaiveDate>,
    pub rows: Vec<Row>,
}

pub fn read(conn: &Connection, frame: &Frame) -> Result<Health, ReportError> {
    let from = frame.days_before(FORTNIGHT - 1);
    let range = format!("BETWEEN {} AND {}", sql::date(from), sql::date(frame.date));
    let mut cells: BTreeMap<(String, i32), Cell> = BTreeMap::new();
    let completeness = sql::rows(
        conn,
        &format!(
            "SELECT endpoint, CAST(date - {} AS INTEGER), status, row_count, expected_min_rows,
                    CAST(retry_count AS BIGINT), error_message
             FROM endpoint_completeness WHERE date {range} ORDER BY 1, 2",
            sql::date(from)
        ),
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i32>(1)?,
                Cell {
                    status: r.get(2)?,
                    row_count: r.get(3)?,
                    expected_min_rows: r.get(4)?,
                    retry_count: r.get(5)?,
                    quarantined: 0,
                    error_message: r.get(6)?,
                },
            ))
        },
    )?;
    for (endpoint, day, cell) in completeness {
        cells.insert((endpoint, day), cell);
    }
    let quarantine = sql::rows(
        conn,
        &format!(
            "SELECT endpoint, CAST(date - {} AS INTEGER), count(*) FROM quarantine
             WHERE date {range} GROUP BY 1, 2 ORDER BY 1, 2",
            sql::date(from)
        ),
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, i32>(1)?, r.get::<_, i64>(2)?)),
    )?;
    for (endpoint, day, n) in quarantine {
        cells.entry((endpoint, day)).or_default().quarantined = n;
    }
    let rows = adlake_replay::ENDPOINTS
        .iter()
        .map(|spec| Row {
            endpoint: spec.key,
            critical: spec.critical,
            cells: (0..FORTNIGHT as i32)
                .map(|d| cells.get(&(spec.key.to_owned(), d)).cloned().unwrap_or_default())
                .collect(),
        })
        .collect();
    Ok(Health {
        dates: (0..FORTNIGHT).map(|i| from + chrono::Days::new(u64::from(i))).collect(),
        rows,
    })
}
