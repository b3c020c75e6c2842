//! Block 5, ROAS heatmaps: the top campaigns (by spend so far) × hour of today, and hour of day
//! × weekday over the last fortnight. A cell is ROAS so far of the day at that snapshot hour
//! (cumulative, as the curve); the weekday grid's cell is the mean over the fortnight's dates of
//! that weekday with a snapshot at that hour. Hours without a snapshot are empty cells.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use duckdb::Connection;
use serde::Serialize;

use super::leaderboard::Leaderboard;
use super::sql::{self, ratio, ReportError};
use super::{Frame, FORTNIGHT};

/// Campaigns in the campaign heatmap.
pub const TOP_CAMPAIGNS: usize = 20;

pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Rows × 24 hours of ROAS.
#[derive(Debug, Clone, Serialize)]
pub struct Grid {
    pub rows: Vec<String>,
    pub cells: Vec<[Option<f64>; 24]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Heatmaps {
    pub campaigns: Grid,
    pub weekdays: Grid,
    pub weekdays_from: NaiveDate,
}

pub fn read(
    conn: &Connection,
    frame: &Frame,
    leaderboard: &Leaderboard,
) -> Result<Heatmaps, ReportError> {
    let top: Vec<&str> = leaderboard
        .rows
        .iter()
        .filter(|r| r.spend.is_some())
        .take(TOP_CAMPAIGNS)
        .map(|r| r.campaign_id.as_str())
        .collect();
    let mut campaigns = Grid {
        rows: top.iter().map(|s| (*s).to_owned()).collect(),
        cells: vec![[None; 24]; top.len()],
    };
    if !top.is_empty() {
        let place: BTreeMap<&str, usize> = top.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let ids = top.iter().map(|id| format!("'{}'", id.replace('\'', "''"))).collect::<Vec<_>>();
        let rows = sql::rows(
            conn,
            &format!(
                "SELECT campaign_id, CAST(hour(as_of_hour) AS INTEGER), roas FROM campaign_intraday
                 WHERE date = {} AND campaign_id IN ({}) ORDER BY 1, 2",
                sql::date(frame.date),
                ids.join(", ")
            ),
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i32>(1)?, r.get::<_, Option<f64>>(2)?)),
        )?;
        for (id, hour, roas) in rows {
            if let (Some(&i), Ok(h)) = (place.get(id.as_str()), usize::try_from(hour)) {
                if let Some(cell) = campaigns.cells[i].get_mut(h) {
                    *cell = roas;
                }
            }
        }
    }
    let from = frame.days_before(FORTNIGHT - 1);
    let rows = sql::rows(
        conn,
        &format!(
            "SELECT CAST(date AS VARCHAR), CAST(hour(as_of_hour) AS INTEGER),
                    CAST(sum(spend_usd) AS DOUBLE), CAST(sum(revenue_usd) AS DOUBLE)
             FROM campaign_intraday WHERE date BETWEEN {} AND {}
             GROUP BY date, as_of_hour ORDER BY 1, 2",
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
    let mut sums: BTreeMap<(usize, usize), Vec<f64>> = BTreeMap::new();
    for (d, hour, spend, revenue) in rows {
        let weekday = sql::parse_date(&d)?.weekday().num_days_from_monday() as usize;
        if let (Some(roas), Ok(h)) = (ratio(revenue, spend), usize::try_from(hour)) {
            sums.entry((weekday, h)).or_default().push(roas);
        }
    }
    let mut cells = vec![[None; 24]; 7];
    for ((weekday, hour), values) in sums {
        if let Some(cell) = cells.get_mut(weekday).and_then(|row| row.get_mut(hour)) {
            *cell = Some(values.iter().sum::<f64>() / values.len() as f64);
        }
    }
    let weekdays = Grid { rows: WEEKDAYS.iter().map(|s| (*s).to_owned()).collect(), cells };
    Ok(Heatmaps { campaigns, weekdays, weekdays_from: from })
}
