//! What a window projection reads back from the database instead of the lake: the chain
//! fingerprints recorded per projected date (`projected_dates`), and the [`Carry`] of the
//! dates before the window (identity pairs, OK row counts, campaign metadata). Whether it may
//! read them is the kernel's call (`adlake_replay::chain`): only when every earlier date is
//! current.

use std::collections::BTreeMap;
use std::sync::Arc;

use adlake_replay::project::{CampaignMeta, Carry, CONTEXT_DAYS};
use chrono::NaiveDate;
use duckdb::Connection;

use super::db::DbError;

/// The chains the database recorded, per date.
pub fn recorded_chains(conn: &Connection) -> Result<BTreeMap<NaiveDate, String>, DbError> {
    let mut stmt = conn
        .prepare("SELECT CAST(date AS VARCHAR), events_chain FROM projected_dates")
        .map_err(DbError::query("read projected_dates"))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(DbError::query("read projected_dates"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(DbError::query("read projected_dates"))?;
    Ok(rows.into_iter().filter_map(|(d, c)| d.parse().ok().map(|d| (d, c))).collect())
}

/// Every row of `sql` with `params`, mapped; errors name `table`.
fn query_rows<T>(
    conn: &Connection,
    table: &str,
    sql: &str,
    params: &[&dyn duckdb::ToSql],
    map: impl FnMut(&duckdb::Row<'_>) -> duckdb::Result<T>,
) -> Result<Vec<T>, DbError> {
    let q = || DbError::query(format!("read {table} for an incremental projection"));
    let mut stmt = conn.prepare(sql).map_err(q())?;
    let rows = stmt.query_map(params, map).map_err(q())?;
    rows.collect::<Result<Vec<_>, _>>().map_err(q())
}

/// The carry of the dates before `from`, as the database holds it.
pub fn read_carry(conn: &Connection, from: NaiveDate) -> Result<Carry, DbError> {
    let mut carry = Carry::default();
    let from_s = from.to_string();
    let horizon = (from - chrono::Days::new(CONTEXT_DAYS)).to_string();
    // Resolution takes the newest date at or before the row's date, so for dates from `from`
    // on only each platform id's newest earlier date matters.
    let pairs = query_rows(
        conn,
        "campaign_identity",
        "SELECT platform_campaign_id, CAST(date AS VARCHAR), strategis_campaign_id FROM campaign_identity WHERE date < CAST(? AS DATE)
         QUALIFY date = max(date) OVER (PARTITION BY platform_campaign_id)",
        &[&from_s],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
    )?;
    for (pid, date, sid) in pairs {
        let Ok(date) = date.parse::<NaiveDate>() else { continue };
        carry.identity.entry(pid).or_default().entry(date).or_default().insert(sid);
    }

    let counts = query_rows(
        conn,
        "endpoint_completeness",
        "SELECT endpoint, CAST(date AS VARCHAR), coalesce(row_count, 0) FROM endpoint_completeness
         WHERE status = 'OK' AND date >= CAST(? AS DATE) AND date < CAST(? AS DATE)",
        &[&horizon, &from_s],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)),
    )?;
    for (endpoint, date, rows) in counts {
        let Ok(date) = date.parse::<NaiveDate>() else { continue };
        carry.ok_counts.insert((endpoint, date), rows);
    }

    let metas = query_rows(
        conn,
        "campaign_index",
        "SELECT CAST(date AS VARCHAR), campaign_id, owner, lane, category, media_source FROM campaign_index
         WHERE level = 'campaign' AND snapshot_source = 'daily' AND date >= CAST(? AS DATE) AND date < CAST(? AS DATE)",
        &[&horizon, &from_s],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, CampaignMeta {
            owner: r.get::<_, Option<String>>(2)?.map(Arc::from),
            lane: r.get::<_, Option<String>>(3)?.map(Arc::from),
            category: r.get::<_, Option<String>>(4)?.map(Arc::from),
            media_source: r.get::<_, Option<String>>(5)?.map(Arc::from),
        })),
    )?;
    for (date, campaign, meta) in metas {
        let Ok(date) = date.parse::<NaiveDate>() else { continue };
        carry.daily_meta.insert((date, campaign), meta);
    }
    Ok(carry)
}
