//! Block 4, the campaign leaderboard: one row per campaign seen today or on the two days
//! before, with its owner, lane and media source, spend and revenue so far today, ROAS today /
//! yesterday / over three days, the change from yesterday, a 24-hour ROAS sparkline and flags.
//!
//! - Today's numbers are its intraday snapshot at the as-of hour (or the date's newest row
//!   when the date has no snapshot); yesterday's and the day before's are `campaign_index`'s
//!   daily rows. Three-day ROAS is revenue over spend summed across the days where both are
//!   known.
//! - The sparkline is the campaign's ROAS so far of its day at each snapshot hour of the 24
//!   hours up to the as-of hour (yesterday's snapshots, then today's).
//! - Flags: `failed` lists the FAILED endpoints (at the as-of hour) that report its media
//!   source, and `s1_daily_v3` (its revenue) when that one FAILED; `unmapped` is
//!   `campaign_index`'s; `restated` follows [`RESTATED_RULE`].
//!
//! Sorted by spend today, largest first, then campaign id.

use std::collections::{BTreeMap, BTreeSet};

use duckdb::Connection;
use serde::Serialize;

use super::sql::{self, ratio, ReportError};
use super::trust::Trust;
use super::Frame;

/// What the `restated` flag means; printed in the page's footnote.
pub const RESTATED_RULE: &str = "restated: on one of the last three dates, the campaign's spend or revenue went down from one snapshot to a later one (its intraday snapshots in order, then the date's newest numbers). Numbers so far only grow unless the upstream restates them; an upward restatement looks like growth and is not flagged (`adlake restatements` lists every change).";

/// Hours of the sparkline, ending with the as-of hour.
pub const SPARK_HOURS: usize = 24;

#[derive(Debug, Clone, Serialize)]
pub struct CampaignRow {
    pub campaign_id: String,
    pub owner: Option<String>,
    pub lane: Option<String>,
    pub media_source: Option<String>,
    pub spend: Option<f64>,
    pub revenue: Option<f64>,
    pub roas_today: Option<f64>,
    pub roas_yesterday: Option<f64>,
    pub roas_3d: Option<f64>,
    /// `roas_today - roas_yesterday`.
    pub change: Option<f64>,
    /// ROAS so far at each of the last [`SPARK_HOURS`] hours (oldest first), where a snapshot
    /// was taken.
    pub spark: Vec<Option<f64>>,
    pub failed: Vec<&'static str>,
    pub restated: bool,
    pub unmapped: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Leaderboard {
    pub rows: Vec<CampaignRow>,
    pub restated_rule: &'static str,
}

#[derive(Default)]
struct Day {
    spend: Option<f64>,
    revenue: Option<f64>,
}

#[derive(Default)]
struct Gathered {
    owner: Option<String>,
    lane: Option<String>,
    media_source: Option<String>,
    unmapped: bool,
    /// Index 0: today, 1: yesterday, 2: the day before.
    days: [Option<Day>; 3],
    spark: Vec<Option<f64>>,
}

pub fn read(conn: &Connection, frame: &Frame, trust: &Trust) -> Result<Leaderboard, ReportError> {
    let (from, to) = (sql::date(frame.days_before(2)), sql::date(frame.date));
    let mut campaigns: BTreeMap<String, Gathered> = BTreeMap::new();
    let index = sql::rows(
        conn,
        &format!(
            "SELECT campaign_id, CAST(({to} - date) AS INTEGER), owner, lane, media_source,
                    CAST(spend_usd AS DOUBLE), CAST(revenue_usd AS DOUBLE), unmapped
             FROM campaign_index
             WHERE level = 'campaign' AND snapshot_source = 'daily' AND date BETWEEN {from} AND {to}
             ORDER BY campaign_id, date"
        ),
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i32>(1)?,
                [r.get::<_, Option<String>>(2)?, r.get(3)?, r.get(4)?],
                Day { spend: r.get(5)?, revenue: r.get(6)? },
                r.get::<_, bool>(7)?,
            ))
        },
    )?;
    for (id, age, [owner, lane, media], day, unmapped) in index {
        let g = campaigns.entry(id).or_default();
        // Rows come oldest first: the newest date's metadata wins.
        g.owner = owner.or(g.owner.take());
        g.lane = lane.or(g.lane.take());
        g.media_source = media.or(g.media_source.take());
        g.unmapped = unmapped;
        if let Some(slot) = g.days.get_mut(age.clamp(0, 2) as usize) {
            *slot = Some(day);
        }
    }
    if let Some(hour) = frame.as_of_hour {
        let t = sql::timestamp(hour);
        let now = sql::rows(
            conn,
            &format!(
                "SELECT campaign_id, media_source, CAST(spend_usd AS DOUBLE), CAST(revenue_usd AS DOUBLE)
                 FROM campaign_intraday WHERE date = {to} AND as_of_hour = {t} ORDER BY campaign_id"
            ),
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    Day { spend: r.get(2)?, revenue: r.get(3)? },
                ))
            },
        )?;
        for g in campaigns.values_mut() {
            g.days[0] = None;
        }
        for (id, media, day) in now {
            let g = campaigns.entry(id).or_default();
            g.media_source = g.media_source.take().or(media);
            g.days[0] = Some(day);
        }
        let spark = sql::rows(
            conn,
            &format!(
                "SELECT campaign_id, CAST((epoch(as_of_hour) - epoch({t})) / 3600 AS INTEGER), roas
                 FROM campaign_intraday
                 WHERE date IN {} AND as_of_hour > {t} - INTERVAL {SPARK_HOURS} HOUR AND as_of_hour <= {t}
                 ORDER BY campaign_id, as_of_hour",
                sql::dates(&[frame.days_before(1), frame.date])
            ),
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i32>(1)?, r.get::<_, Option<f64>>(2)?)),
        )?;
        for (id, offset, roas) in spark {
            let Some(g) = campaigns.get_mut(&id) else { continue };
            let slot = (SPARK_HOURS as i32 - 1 + offset).clamp(0, SPARK_HOURS as i32 - 1) as usize;
            if g.spark.is_empty() {
                g.spark = vec![None; SPARK_HOURS];
            }
            g.spark[slot] = roas;
        }
    }
    let restated = restated(conn, frame)?;
    let failed: Vec<(&'static str, &'static str)> = trust
        .failed()
        .filter_map(|e| adlake_replay::endpoint(e.endpoint).map(|s| (s.key, s.platform)))
        .collect();
    let mut rows: Vec<CampaignRow> = campaigns
        .into_iter()
        .map(|(campaign_id, g)| {
            let day = |i: usize| g.days[i].as_ref();
            let roas = |i: usize| day(i).and_then(|d| ratio(d.revenue, d.spend));
            let (mut spend3, mut revenue3) = (0.0, 0.0);
            let mut any = false;
            for d in g.days.iter().flatten() {
                if let (Some(s), Some(r)) = (d.spend, d.revenue) {
                    spend3 += s;
                    revenue3 += r;
                    any = true;
                }
            }
            let failed_here = failed
                .iter()
                .filter(|(key, platform)| {
                    *key == "s1_daily_v3" || g.media_source.as_deref() == Some(*platform)
                })
                .map(|(key, _)| *key)
                .collect();
            CampaignRow {
                restated: restated.contains(&campaign_id),
                campaign_id,
                owner: g.owner.clone(),
                lane: g.lane.clone(),
                media_source: g.media_source.clone(),
                spend: day(0).and_then(|d| d.spend),
                revenue: day(0).and_then(|d| d.revenue),
                roas_today: roas(0),
                roas_yesterday: roas(1),
                roas_3d: if any { ratio(Some(revenue3), Some(spend3)) } else { None },
                change: match (roas(0), roas(1)) {
                    (Some(t), Some(y)) => Some(t - y),
                    _ => None,
                },
                spark: g.spark,
                failed: failed_here,
                unmapped: g.unmapped,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        let (x, y) = (a.spend.unwrap_or(f64::NEG_INFINITY), b.spend.unwrap_or(f64::NEG_INFINITY));
        y.total_cmp(&x).then_with(|| a.campaign_id.cmp(&b.campaign_id))
    });
    Ok(Leaderboard { rows, restated_rule: RESTATED_RULE })
}

/// Campaigns whose spend or revenue of one of the last three dates went down from one snapshot
/// to a later one: intraday snapshots in hour order, then the date's `campaign_index` row.
pub fn restated(conn: &Connection, frame: &Frame) -> Result<BTreeSet<String>, ReportError> {
    let (from, to) = (sql::date(frame.days_before(2)), sql::date(frame.date));
    let ids = sql::rows(
        conn,
        &format!(
            "WITH s AS (
                SELECT campaign_id, date, as_of_hour AS t, spend_usd, revenue_usd
                FROM campaign_intraday WHERE date BETWEEN {from} AND {to}
                UNION ALL
                SELECT campaign_id, date, TIMESTAMP '9999-12-31 00:00:00', spend_usd, revenue_usd
                FROM campaign_index
                WHERE level = 'campaign' AND snapshot_source = 'daily' AND date BETWEEN {from} AND {to}
             ), l AS (
                SELECT campaign_id, spend_usd, revenue_usd,
                       lag(spend_usd) OVER w AS before_spend, lag(revenue_usd) OVER w AS before_revenue
                FROM s WINDOW w AS (PARTITION BY campaign_id, date ORDER BY t)
             )
             SELECT DISTINCT campaign_id FROM l
             WHERE spend_usd < before_spend OR revenue_usd < before_revenue
             ORDER BY 1"
        ),
        |r| r.get::<_, String>(0),
    )?;
    Ok(ids.into_iter().collect())
}
