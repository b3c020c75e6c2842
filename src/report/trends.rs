//! Block 6: daily spend, revenue and ROAS by media source and by owner over the last
//! [`MONTH`] days, from `campaign_index`'s daily campaign rows (today: its newest numbers).
//! Groups are ordered by spend over the period, largest first; a missing media source or owner
//! is its own group, `(none)`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use duckdb::Connection;
use serde::Serialize;

use super::sql::{self, ratio, ReportError};
use super::{Frame, MONTH};

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DayFigures {
    pub spend: Option<f64>,
    pub revenue: Option<f64>,
    pub roas: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub name: String,
    pub spend: f64,
    pub revenue: f64,
    pub roas: Option<f64>,
    /// One per date of the period, oldest first.
    pub daily: Vec<DayFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trends {
    pub dates: Vec<NaiveDate>,
    pub by_media_source: Vec<Series>,
    pub by_owner: Vec<Series>,
}

pub const NONE: &str = "(none)";

fn grouped(conn: &Connection, frame: &Frame, column: &str) -> Result<Vec<Series>, ReportError> {
    let from = frame.days_before(MONTH - 1);
    let rows = sql::rows(
        conn,
        &format!(
            "SELECT coalesce({column}, '{NONE}'), CAST(date - {} AS INTEGER),
                    CAST(sum(spend_usd) AS DOUBLE), CAST(sum(revenue_usd) AS DOUBLE)
             FROM campaign_index
             WHERE level = 'campaign' AND snapshot_source = 'daily' AND date BETWEEN {} AND {}
             GROUP BY 1, 2 ORDER BY 1, 2",
            sql::date(from),
            sql::date(from),
            sql::date(frame.date)
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
    let mut groups: BTreeMap<String, Series> = BTreeMap::new();
    for (name, day, spend, revenue) in rows {
        let series = groups.entry(name.clone()).or_insert_with(|| Series {
            name,
            spend: 0.0,
            revenue: 0.0,
            roas: None,
            daily: vec![DayFigures::default(); MONTH as usize],
        });
        series.spend += spend.unwrap_or(0.0);
        series.revenue += revenue.unwrap_or(0.0);
        if let Some(slot) = usize::try_from(day).ok().and_then(|d| series.daily.get_mut(d)) {
            *slot = DayFigures { spend, revenue, roas: ratio(revenue, spend) };
        }
    }
    let mut out: Vec<Series> = groups
        .into_values()
        .map(|mut s| {
            s.roas = ratio(Some(s.revenue), Some(s.spend));
            s
        })
        .collect();
    out.sort_by(|a, b| b.spend.total_cmp(&a.spend).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

pub fn read(conn: &Connection, frame: &Frame) -> Result<Trends, ReportError> {
    let from = frame.days_before(MONTH - 1);
    Ok(Trends {
        dates: (0..MONTH).map(|i| from + chrono::Days::new(u64::from(i))).collect(),
        by_media_source: grouped(conn, frame, "media_source")?,
        by_owner: grouped(conn, frame, "owner")?,
    })
}
