//! Blocks 2 and 3: the KPI tiles (spend, revenue, profit, ROAS, sessions, RPC so far today,
//! each against yesterday at the same hour and against the mean of the last four same weekdays
//! at that hour) and the today-so-far curve against yesterday's. Also the one line `status`
//! prints.
//!
//! "At hour H" of a date is its newest intraday snapshot whose hour is H or earlier: the same
//! cut as today's. A date with no such snapshot has no value there (never a guess). Without an
//! intraday snapshot of the report's date, whole days are compared (`campaign_index`).
//! RPC is revenue per session, as in `session_hourly_metrics`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::Connection;
use serde::Serialize;

use super::sql::{self, ratio, ReportError};
use super::Frame;

/// Campaign totals of a date at a cut.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Totals {
    pub spend: Option<f64>,
    pub revenue: Option<f64>,
    pub sessions: Option<f64>,
    /// The snapshot hour they come from (start of the hour); `None` for a whole day.
    pub as_of_hour: Option<DateTime<Utc>>,
}

impl Totals {
    pub fn profit(&self) -> Option<f64> {
        Some(self.revenue? - self.spend?)
    }
    pub fn roas(&self) -> Option<f64> {
        ratio(self.revenue, self.spend)
    }
    pub fn rpc(&self) -> Option<f64> {
        ratio(self.revenue, self.sessions)
    }
    /// The tile metrics, in page order.
    pub fn metric(&self, key: &str) -> Option<f64> {
        match key {
            "spend" => self.spend,
            "revenue" => self.revenue,
            "profit" => self.profit(),
            "roas" => self.roas(),
            "sessions" => self.sessions,
            "rpc" => self.rpc(),
            _ => None,
        }
    }
}

/// Totals of `dates` at hour-of-day `hour` (intraday snapshots), or whole days (`None`).
pub fn totals_at(
    conn: &Connection,
    dates: &[NaiveDate],
    hour: Option<u32>,
) -> Result<BTreeMap<NaiveDate, Totals>, ReportError> {
    let list = sql::dates(dates);
    let query = match hour {
        Some(h) => format!(
            "WITH pick AS (
                SELECT date, max(as_of_hour) AS h FROM campaign_intraday
                WHERE date IN {list} AND hour(as_of_hour) <= {h} GROUP BY date)
             SELECT CAST(i.date AS VARCHAR), CAST(sum(i.spend_usd) AS DOUBLE),
                    CAST(sum(i.revenue_usd) AS DOUBLE), CAST(sum(i.sessions) AS DOUBLE),
                    CAST(epoch(p.h) AS BIGINT)
             FROM campaign_intraday i JOIN pick p ON i.date = p.date AND i.as_of_hour = p.h
             GROUP BY i.date, p.h ORDER BY 1"
        ),
        None => format!(
            "SELECT CAST(date AS VARCHAR), CAST(sum(spend_usd) AS DOUBLE),
                    CAST(sum(revenue_usd) AS DOUBLE), CAST(sum(sessions) AS DOUBLE), NULL::BIGINT
             FROM campaign_index
             WHERE level = 'campaign' AND snapshot_source = 'daily' AND date IN {list}
             GROUP BY date ORDER BY 1"
        ),
    };
    let rows = sql::rows(conn, &query, |r| {
        Ok((
            r.get::<_, String>(0)?,
            Totals {
                spend: r.get(1)?,
                revenue: r.get(2)?,
                sessions: r.get(3)?,
                as_of_hour: sql::instant(r.get(4)?),
            },
        ))
    })?;
    rows.into_iter().map(|(d, t)| Ok((sql::parse_date(&d)?, t))).collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Kpi {
    pub key: &'static str,
    pub label: &'static str,
    /// `usd`, `ratio` or `count`: how the page prints it.
    pub unit: &'static str,
    pub today: Option<f64>,
    pub yesterday: Option<f64>,
    /// Mean over those of the last four same weekdays that have a value at the hour.
    pub weekdays: Option<f64>,
    /// `today / yesterday - 1`.
    pub vs_yesterday: Option<f64>,
    pub vs_weekdays: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kpis {
    pub today: Totals,
    pub yesterday_date: NaiveDate,
    pub yesterday: Option<Totals>,
    /// The last four same weekdays, newest first, and which of them had a value at the hour.
    pub weekday_dates: Vec<NaiveDate>,
    pub weekdays_found: Vec<NaiveDate>,
    pub tiles: Vec<Kpi>,
}

pub const TILES: [(&str, &str, &str); 6] = [
    ("spend", "Spend", "usd"),
    ("revenue", "Revenue", "usd"),
    ("profit", "Profit", "usd"),
    ("roas", "ROAS", "ratio"),
    ("sessions", "Sessions", "count"),
    ("rpc", "RPC (revenue per session)", "usd"),
];

fn change(now: Option<f64>, then: Option<f64>) -> Option<f64> {
    match (now, then) {
        (Some(n), Some(t)) if t.abs() > f64::EPSILON => Some(n / t - 1.0),
        _ => None,
    }
}

pub fn kpis(conn: &Connection, frame: &Frame) -> Result<Kpis, ReportError> {
    let yesterday_date = frame.days_before(1);
    let weekday_dates: Vec<NaiveDate> = (1..=4).map(|w| frame.days_before(7 * w)).collect();
    let mut dates = vec![frame.date, yesterday_date];
    dates.extend(&weekday_dates);
    let totals = totals_at(conn, &dates, frame.hour())?;
    let today = totals.get(&frame.date).copied().unwrap_or_default();
    let yesterday = totals.get(&yesterday_date).copied();
    let weekdays: Vec<&Totals> = weekday_dates.iter().filter_map(|d| totals.get(d)).collect();
    let tiles = TILES
        .iter()
        .map(|(key, label, unit)| {
            let values: Vec<f64> = weekdays.iter().filter_map(|t| t.metric(key)).collect();
            let mean =
                (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
            let now = today.metric(key);
            let then = yesterday.and_then(|t| t.metric(key));
            Kpi {
                key,
                label,
                unit,
                today: now,
                yesterday: then,
                weekdays: mean,
                vs_yesterday: change(now, then),
                vs_weekdays: change(now, mean),
            }
        })
        .collect();
    let weekdays_found = weekday_dates.iter().filter(|d| totals.contains_key(d)).copied().collect();
    Ok(Kpis { today, yesterday_date, yesterday, weekday_dates, weekdays_found, tiles })
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct CurvePoint {
    /// The end of the snapshot's hour, 1..24: the curve's x.
    pub hour_end: u32,
    pub spend: Option<f64>,
    pub revenue: Option<f64>,
    pub roas: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Curve {
    pub today: Vec<CurvePoint>,
    pub yesterday: Vec<CurvePoint>,
}

/// Cumulative totals at each snapshot hour of `dates`.
pub fn points(
    conn: &Connection,
    dates: &[NaiveDate],
) -> Result<BTreeMap<NaiveDate, Vec<CurvePoint>>, ReportError> {
    let rows = sql::rows(
        conn,
        &format!(
            "SELECT CAST(date AS VARCHAR), CAST(hour(as_of_hour) AS INTEGER),
                    CAST(sum(spend_usd) AS DOUBLE), CAST(sum(revenue_usd) AS DOUBLE)
             FROM campaign_intraday WHERE date IN {}
             GROUP BY date, as_of_hour ORDER BY 1, 2",
            sql::dates(dates)
        ),
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i32>(1)?,
                r.get::<_, Option<f64>>(2)?,
                r.get::<_, Option<f64>>(3)?,
            ))
        },
    )?;
    let mut out: BTreeMap<NaiveDate, Vec<CurvePoint>> = BTreeMap::new();
    for (d, hour, spend, revenue) in rows {
        out.entry(sql::parse_date(&d)?).or_default().push(CurvePoint {
            hour_end: hour.clamp(0, 23) as u32 + 1,
            spend,
            revenue,
            roas: ratio(revenue, spend),
        });
    }
    Ok(out)
}

pub fn curve(conn: &Connection, frame: &Frame) -> Result<Curve, ReportError> {
    let yesterday = frame.days_before(1);
    let mut by_date = points(conn, &[frame.date, yesterday])?;
    Ok(Curve {
        today: by_date.remove(&frame.date).unwrap_or_default(),
        yesterday: by_date.remove(&yesterday).unwrap_or_default(),
    })
}

/// `status`'s line: today so far against yesterday at this hour.
#[derive(Debug, Clone, Serialize)]
pub struct SoFar {
    pub date: NaiveDate,
    pub as_of: Option<DateTime<Utc>>,
    pub today: Totals,
    pub yesterday: Option<Totals>,
}

pub fn today_so_far(conn: &Connection) -> Result<Option<SoFar>, ReportError> {
    let frame = match super::frame(conn, None) {
        Ok(f) => f,
        Err(ReportError::Empty) => return Ok(None),
        Err(e) => return Err(e),
    };
    let yesterday = frame.days_before(1);
    let totals = totals_at(conn, &[frame.date, yesterday], frame.hour())?;
    Ok(Some(SoFar {
        date: frame.date,
        as_of: frame.as_of(),
        today: totals.get(&frame.date).copied().unwrap_or_default(),
        yesterday: totals.get(&yesterday).copied(),
    }))
}
