//! Block 1, the trust strip: how far the figures can be trusted. The as-of instant, each
//! endpoint's state at that instant (its newest fetch's status, and late when that fetch is
//! older than [`LATE_MINUTES`] at the as-of instant or there is none), and the data age (the
//! oldest snapshot any figure comes from).
//!
//! With intraday snapshots the states are `intraday_inputs` at the as-of hour; without them,
//! `endpoint_completeness` of the date, with ages measured from the date's newest fetch.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use duckdb::Connection;
use serde::Serialize;

use super::sql::{self, ReportError};
use super::Frame;

/// An endpoint whose newest fetch is older than this at the as-of instant is late: hourly
/// ingests have missed it at least once.
pub const LATE_MINUTES: i64 = 120;

#[derive(Debug, Clone, Serialize)]
pub struct EndpointState {
    pub endpoint: &'static str,
    pub critical: bool,
    /// `OK`, `PARTIAL`, `FAILED`, or `NONE` when the date has no fetch of it by then.
    pub status: String,
    pub late: bool,
    pub newest_fetched_at: Option<DateTime<Utc>>,
    /// Minutes from its newest fetch to the as-of instant.
    pub age_minutes: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trust {
    /// The end of the as-of hour, or the date's newest fetch when it has no snapshot hours.
    pub as_of: Option<DateTime<Utc>>,
    /// `intraday` (today so far) or `day` (the date's newest numbers, whole days compared).
    pub basis: &'static str,
    pub endpoints: Vec<EndpointState>,
    /// Minutes from the oldest snapshot any figure comes from to the as-of instant.
    pub data_age_minutes: Option<i64>,
    /// Every critical revenue report OK at the as-of hour.
    pub critical_ok: bool,
}

impl Trust {
    /// Endpoints whose newest fetch FAILED.
    pub fn failed(&self) -> impl Iterator<Item = &EndpointState> {
        self.endpoints.iter().filter(|e| e.status == "FAILED")
    }
}

pub fn read(conn: &Connection, frame: &Frame) -> Result<Trust, ReportError> {
    let d = sql::date(frame.date);
    let (rows, as_of, basis, data_age) = match frame.as_of_hour {
        Some(hour) => {
            let rows = sql::rows(
                conn,
                &format!(
                    "SELECT endpoint, status, CAST(epoch(newest_fetched_at) AS BIGINT)
                     FROM intraday_inputs WHERE date = {d} AND as_of_hour = {}
                     ORDER BY endpoint",
                    sql::timestamp(hour)
                ),
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                },
            )?;
            let age = sql::rows(
                conn,
                &format!(
                    "SELECT max(input_age_minutes) FROM campaign_intraday WHERE date = {d} AND as_of_hour = {}",
                    sql::timestamp(hour)
                ),
                |r| r.get::<_, Option<i64>>(0),
            )?;
            (rows, frame.as_of(), "intraday", age.into_iter().flatten().next())
        }
        None => {
            let rows = sql::rows(
                conn,
                &format!(
                    "SELECT endpoint, status, CAST(epoch(coalesce(finished_at, started_at)) AS BIGINT)
                     FROM endpoint_completeness WHERE date = {d} ORDER BY endpoint"
                ),
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<i64>>(2)?)),
            )?;
            let newest = rows.iter().filter_map(|r| r.2).max();
            (rows, sql::instant(newest), "day", None)
        }
    };
    let by_key: BTreeMap<&str, &(String, String, Option<i64>)> =
        rows.iter().map(|r| (r.0.as_str(), r)).collect();
    let mut endpoints = Vec::new();
    let mut critical_ok = true;
    for spec in adlake_replay::ENDPOINTS.iter() {
        let row = by_key.get(spec.key);
        let fetched = row.and_then(|r| sql::instant(r.2));
        let age = match (as_of, fetched) {
            (Some(a), Some(f)) => Some((a - f).num_minutes()),
            _ => None,
        };
        let status = row.map_or_else(|| "NONE".to_owned(), |r| r.1.clone());
        if spec.critical && !spec.sessions && status != "OK" {
            critical_ok = false;
        }
        endpoints.push(EndpointState {
            endpoint: spec.key,
            critical: spec.critical,
            status,
            late: age.is_none_or(|a| a > LATE_MINUTES),
            newest_fetched_at: fetched,
            age_minutes: age,
        });
    }
    let data_age_minutes = data_age.or_else(|| {
        endpoints.iter().filter(|e| e.status != "NONE").filter_map(|e| e.age_minutes).max()
    });
    Ok(Trust { as_of, basis, endpoints, data_age_minutes, critical_ok })
}
