//! What the alert rules read, loaded once from the projected tables into memory: each
//! campaign's intraday curve per date (`campaign_intraday`, with owner, lane and name from
//! its daily `campaign_index` row), each date's `intraday_inputs`, `expected_min_rows`, and
//! the daily and reconciled revenue of closed days. A backtest evaluates hundreds of instants
//! over these without another query.
//!
//! Invariants: these tables are the "as known then" machinery: a curve's point at hour H is
//! what was known at the end of H, so reading the latest point at or before an instant never
//! sees a later fetch. Money is kept in exact micro-dollars (the tables' DECIMAL(18, 6)).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::{params, Connection};

use crate::store::db::DbError;

/// Milliseconds since the epoch, as DuckDB's `epoch_ms` gives them.
pub type Millis = i64;

pub const HOUR_MS: Millis = 3_600_000;

pub fn millis(t: DateTime<Utc>) -> Millis {
    t.timestamp_millis()
}

pub fn instant(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub fn day_start(date: NaiveDate) -> Millis {
    date.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis())
}

/// One campaign's numbers of one date as known at the end of one hour (cumulative so far).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub hour: Millis,
    pub spend: Option<i64>,
    pub revenue: Option<i64>,
    pub spend_source: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Curve {
    pub name: Option<String>,
    pub media_source: Option<String>,
    pub owner: Option<String>,
    pub lane: Option<String>,
    /// Ascending by hour.
    pub points: Vec<Point>,
}

impl Curve {
    /// The latest point at or before `at`.
    pub fn at(&self, at: Millis) -> Option<&Point> {
        let n = self.points.partition_point(|p| p.hour <= at);
        n.checked_sub(1).map(|i| &self.points[i])
    }
}

/// One endpoint of one date as known at the end of one hour.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub hour: Millis,
    pub endpoint: String,
    pub status: String,
    pub newest_fetched_at: Millis,
    pub snapshot_fetch_id: Option<String>,
    pub snapshot_rows: Option<i64>,
}

/// A closed day's revenue of one campaign: its daily estimate and its reconciled figure,
/// each with the newest fetch it came from (`updated_at`).
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub campaign_id: String,
    pub date: NaiveDate,
    pub media_source: Option<String>,
    pub owner: Option<String>,
    pub lane: Option<String>,
    pub name: Option<String>,
    pub daily_revenue: Option<i64>,
    pub daily_at: Option<Millis>,
    pub reconciled_revenue: Option<i64>,
    pub reconciled_at: Option<Millis>,
    pub reconciled_spend: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct Tables {
    /// Per date, per campaign id.
    pub curves: BTreeMap<NaiveDate, BTreeMap<String, Curve>>,
    /// Per date, ascending by (hour, endpoint).
    pub inputs: BTreeMap<NaiveDate, Vec<Input>>,
    /// (date, endpoint) → expected_min_rows.
    pub expected: BTreeMap<(NaiveDate, String), f64>,
    /// (date, endpoint) → the date's completeness status.
    pub completeness: BTreeMap<(NaiveDate, String), String>,
    pub closed: Vec<Closed>,
    /// Fingerprint of the projected tables read (from `projection_meta`).
    pub fingerprint: String,
}

impl Tables {
    /// The hour of `date`'s latest intraday rows at or before `at`.
    pub fn hour_at(&self, date: NaiveDate, at: Millis) -> Option<Millis> {
        let inputs = self.inputs.get(&date)?;
        let n = inputs.partition_point(|i| i.hour <= at);
        n.checked_sub(1).map(|i| inputs[i].hour)
    }

    /// `date`'s endpoints at exactly `hour`.
    pub fn inputs_at(&self, date: NaiveDate, hour: Millis) -> &[Input] {
        let Some(inputs) = self.inputs.get(&date) else { return &[] };
        let from = inputs.partition_point(|i| i.hour < hour);
        let to = inputs.partition_point(|i| i.hour <= hour);
        &inputs[from..to]
    }

    /// The newest intraday hour of `date`.
    pub fn newest_hour(&self, date: NaiveDate) -> Option<Millis> {
        self.inputs.get(&date).and_then(|i| i.last()).map(|i| i.hour)
    }
}

fn q(context: &'static str) -> impl Fn(duckdb::Error) -> DbError {
    move |source| DbError::Query { context: context.into(), source }
}

fn date_of(days: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(719_163 + days as i32).unwrap_or_default()
}

/// Loads curves and inputs of `[from, to]`, and closed days of `[closed_from, to]`.
pub fn load(
    conn: &Connection,
    from: NaiveDate,
    to: NaiveDate,
    closed_from: NaiveDate,
) -> Result<Tables, DbError> {
    let mut t = Tables::default();
    let (from_s, to_s, closed_s) = (from.to_string(), to.to_string(), closed_from.to_string());
    let mut stmt = conn
        .prepare(
            "SELECT i.campaign_id, date_diff('day', DATE '1970-01-01', i.date), epoch_ms(i.as_of_hour),
                    CAST(round(i.spend_usd * 1000000) AS BIGINT), i.spend_source,
                    CAST(round(i.revenue_usd * 1000000) AS BIGINT),
                    coalesce(i.media_source, c.media_source), c.campaign_name, c.owner, c.lane
             FROM campaign_intraday i
             LEFT JOIN campaign_index c ON c.campaign_id = i.campaign_id AND c.date = i.date
                  AND c.level = 'campaign' AND c.snapshot_source = 'daily'
             WHERE i.date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
             ORDER BY i.date, i.campaign_id, i.as_of_hour",
        )
        .map_err(q("read campaign_intraday"))?;
    let mut rows = stmt.query(params![from_s, to_s]).map_err(q("read campaign_intraday"))?;
    while let Some(r) = rows.next().map_err(q("read campaign_intraday"))? {
        let id: String = r.get(0).map_err(q("read campaign_intraday"))?;
        let date = date_of(r.get(1).map_err(q("read campaign_intraday"))?);
        let by_id = t.curves.entry(date).or_default();
        let curve = match by_id.get_mut(&id) {
            Some(c) => c,
            None => {
                let text = |i| r.get::<_, Option<String>>(i);
                let c = Curve {
                    media_source: text(6).map_err(q("read campaign_intraday"))?,
                    name: text(7).map_err(q("read campaign_intraday"))?,
                    owner: text(8).map_err(q("read campaign_intraday"))?,
                    lane: text(9).map_err(q("read campaign_intraday"))?,
                    points: Vec::new(),
                };
                by_id.entry(id).or_insert(c)
            }
        };
        curve.points.push(Point {
            hour: r.get(2).map_err(q("read campaign_intraday"))?,
            spend: r.get(3).map_err(q("read campaign_intraday"))?,
            spend_source: r.get(4).map_err(q("read campaign_intraday"))?,
            revenue: r.get(5).map_err(q("read campaign_intraday"))?,
        });
    }
    drop(rows);

    let mut stmt = conn
        .prepare(
            "SELECT date_diff('day', DATE '1970-01-01', date), epoch_ms(as_of_hour), endpoint, status,
                    epoch_ms(newest_fetched_at), snapshot_fetch_id, snapshot_rows
             FROM intraday_inputs WHERE date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
             ORDER BY date, as_of_hour, endpoint",
        )
        .map_err(q("read intraday_inputs"))?;
    let mut rows = stmt.query(params![from_s, to_s]).map_err(q("read intraday_inputs"))?;
    while let Some(r) = rows.next().map_err(q("read intraday_inputs"))? {
        let date = date_of(r.get(0).map_err(q("read intraday_inputs"))?);
        t.inputs.entry(date).or_default().push(Input {
            hour: r.get(1).map_err(q("read intraday_inputs"))?,
            endpoint: r.get(2).map_err(q("read intraday_inputs"))?,
            status: r.get(3).map_err(q("read intraday_inputs"))?,
            newest_fetched_at: r.get(4).map_err(q("read intraday_inputs"))?,
            snapshot_fetch_id: r.get(5).map_err(q("read intraday_inputs"))?,
            snapshot_rows: r.get(6).map_err(q("read intraday_inputs"))?,
        });
    }
    drop(rows);

    let mut stmt = conn
        .prepare(
            "SELECT date_diff('day', DATE '1970-01-01', date), endpoint, status, expected_min_rows
             FROM endpoint_completeness WHERE date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)",
        )
        .map_err(q("read endpoint_completeness"))?;
    let mut rows = stmt.query(params![closed_s, to_s]).map_err(q("read endpoint_completeness"))?;
    while let Some(r) = rows.next().map_err(q("read endpoint_completeness"))? {
        let date = date_of(r.get(0).map_err(q("read endpoint_completeness"))?);
        let endpoint: String = r.get(1).map_err(q("read endpoint_completeness"))?;
        let status: String = r.get(2).map_err(q("read endpoint_completeness"))?;
        if let Some(e) = r.get::<_, Option<f64>>(3).map_err(q("read endpoint_completeness"))? {
            t.expected.insert((date, endpoint.clone()), e);
        }
        t.completeness.insert((date, endpoint), status);
    }
    drop(rows);

    let mut stmt = conn
        .prepare(
            "SELECT d.campaign_id, date_diff('day', DATE '1970-01-01', d.date), d.media_source, d.owner, d.lane, d.campaign_name,
                    CAST(round(d.revenue_usd * 1000000) AS BIGINT), epoch_ms(d.updated_at),
                    CAST(round(r.revenue_usd * 1000000) AS BIGINT), epoch_ms(r.updated_at),
                    CAST(round(r.spend_usd * 1000000) AS BIGINT)
             FROM campaign_index d
             LEFT JOIN campaign_index r ON r.campaign_id = d.campaign_id AND r.date = d.date
                  AND r.level = 'campaign' AND r.snapshot_source = 'reconciled'
             WHERE d.level = 'campaign' AND d.snapshot_source = 'daily'
               AND d.date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
             ORDER BY d.date, d.campaign_id",
        )
        .map_err(q("read campaign_index"))?;
    let mut rows = stmt.query(params![closed_s, to_s]).map_err(q("read campaign_index"))?;
    while let Some(r) = rows.next().map_err(q("read campaign_index"))? {
        let e = q("read campaign_index");
        t.closed.push(Closed {
            campaign_id: r.get(0).map_err(&e)?,
            date: date_of(r.get(1).map_err(&e)?),
            media_source: r.get(2).map_err(&e)?,
            owner: r.get(3).map_err(&e)?,
            lane: r.get(4).map_err(&e)?,
            name: r.get(5).map_err(&e)?,
            daily_revenue: r.get(6).map_err(&e)?,
            daily_at: r.get(7).map_err(&e)?,
            reconciled_revenue: r.get(8).map_err(&e)?,
            reconciled_at: r.get(9).map_err(&e)?,
            reconciled_spend: r.get(10).map_err(&e)?,
        });
    }
    drop(rows);
    t.fingerprint = fingerprint(conn)?;
    Ok(t)
}

/// One fingerprint of the tables alert rules read: the projector version and the
/// fingerprints `projection_meta` records for them.
pub fn fingerprint(conn: &Connection) -> Result<String, DbError> {
    conn.query_row(
        "SELECT coalesce(sha256(string_agg(key || '=' || coalesce(value, ''), chr(10) ORDER BY key)), '')
         FROM projection_meta
         WHERE key IN ('projector_version', 'fingerprint.campaign_intraday', 'fingerprint.intraday_inputs',
                       'fingerprint.campaign_index', 'fingerprint.endpoint_completeness')",
        [],
        |r| r.get(0),
    )
    .map_err(q("read projection_meta"))
}

/// The newest as-of hour of `date`'s intraday rows.
pub fn newest_hour(conn: &Connection, date: NaiveDate) -> Result<Option<Millis>, DbError> {
    conn.query_row(
        "SELECT epoch_ms(max(as_of_hour)) FROM intraday_inputs WHERE date = CAST(? AS DATE)",
        params![date.to_string()],
        |r| r.get(0),
    )
    .map_err(q("read intraday_inputs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_since_the_epoch_are_dates() {
        assert_eq!(date_of(0).to_string(), "1970-01-01");
        assert_eq!(date_of(20415).to_string(), "2025-11-23");
    }

    #[test]
    fn a_curve_answers_with_its_latest_point_at_or_before_an_instant() {
        let p = |h| Point { hour: h * HOUR_MS, spend: Some(h), revenue: None, spend_source: None };
        let c = Curve { points: vec![p(2), p(5)], ..Default::default() };
        assert_eq!(c.at(HOUR_MS), None);
        assert_eq!(c.at(2 * HOUR_MS).map(|p| p.spend), Some(Some(2)));
        assert_eq!(c.at(4 * HOUR_MS).map(|p| p.spend), Some(Some(2)));
        assert_eq!(c.at(9 * HOUR_MS).map(|p| p.spend), Some(Some(5)));
    }
}
