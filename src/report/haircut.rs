//! Block 7, the haircut: estimated (S1 daily) against reconciled (S1 final) revenue over the
//! last fortnight, by media source and by lane, and per date. Only campaign-days that have a
//! reconciled row count (reconciled lags two days), on both sides, so the two sums compare the
//! same campaign-days. Haircut = 1 - reconciled / estimated.

use chrono::NaiveDate;
use duckdb::Connection;
use serde::Serialize;

use super::sql::{self, ReportError};
use super::{Frame, FORTNIGHT};

#[derive(Debug, Clone, Serialize)]
pub struct Cut {
    pub name: String,
    pub estimated: Option<f64>,
    pub reconciled: Option<f64>,
    pub haircut: Option<f64>,
    pub campaign_days: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Haircut {
    pub from: NaiveDate,
    pub by_media_source: Vec<Cut>,
    pub by_lane: Vec<Cut>,
    pub by_date: Vec<Cut>,
}

fn cuts(conn: &Connection, frame: &Frame, group: &str) -> Result<Vec<Cut>, ReportError> {
    let from = frame.days_before(FORTNIGHT - 1);
    let rows = sql::rows(
        conn,
        &format!(
            "SELECT {group}, CAST(sum(d.revenue_usd) AS DOUBLE), CAST(sum(r.revenue_usd) AS DOUBLE), count(*)
             FROM campaign_index d
             JOIN campaign_index r ON r.campaign_id = d.campaign_id AND r.date = d.date
              AND r.level = 'campaign' AND r.snapshot_source = 'reconciled'
             WHERE d.level = 'campaign' AND d.snapshot_source = 'daily'
               AND d.date BETWEEN {} AND {}
             GROUP BY 1 ORDER BY 1",
            sql::date(from),
            sql::date(frame.date)
        ),
        |r| {
            let estimated: Option<f64> = r.get(1)?;
            let reconciled: Option<f64> = r.get(2)?;
            Ok(Cut {
                name: r.get(0)?,
                estimated,
                reconciled,
                haircut: match (estimated, reconciled) {
                    (Some(e), Some(r)) if e > 0.0 => Some(1.0 - r / e),
                    _ => None,
                },
                campaign_days: r.get(3)?,
            })
        },
    )?;
    Ok(rows)
}

pub fn read(conn: &Connection, frame: &Frame) -> Result<Haircut, ReportError> {
    Ok(Haircut {
        from: frame.days_before(FORTNIGHT - 1),
        by_media_source: cuts(conn, frame, "coalesce(d.media_source, '(none)')")?,
        by_lane: cuts(conn, frame, "coalesce(d.lane, '(none)')")?,
        by_date: cuts(conn, frame, "CAST(d.date AS VARCHAR)")?,
    })
}
