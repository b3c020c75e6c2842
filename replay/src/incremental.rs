//! Incremental projection: deciding which earlier dates a window projection may take from the
//! database instead of re-reading them from the lake.
//!
//! A projected date depends on every earlier date (campaign identity) and on the seven before
//! it (`expected_min_rows`, session metadata); [`Carry`] is exactly that dependency. Each
//! projection records, per date it wrote, a chain fingerprint: sha256 over the projector
//! version, the projector configuration and the event keys of every date up to and including
//! that one. When the chain recorded for the last lake date before a window equals the chain
//! the lake has now, every earlier date in the database was projected from the events the
//! lake still holds, by this projector, and its carry can be read back instead of recomputed.
//! When it differs (a fresh database, a late event for an old date, a new projector or
//! config), the window is widened back to the first date whose chain differs.
//!
//! Invariant: a projection that starts from a database carry writes the same rows as one that
//! recomputes it from the lake (tested through the binary).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use duckdb::Connection;
use sha2::{Digest, Sha256};

use crate::db::DbError;
use crate::project::{CampaignMeta, Carry, ProjectorConfig, CONTEXT_DAYS, PROJECTOR_VERSION};

/// Chain fingerprint per date, from event keys (`events/<date>/<source>/<id>.json`) grouped
/// by their date, in any order.
pub fn chains(
    keys_by_date: &BTreeMap<NaiveDate, Vec<String>>,
    config: &ProjectorConfig,
) -> BTreeMap<NaiveDate, String> {
    let mut chain = {
        let mut h = Sha256::new();
        h.update(PROJECTOR_VERSION.as_bytes());
        h.update(format!("{config:?}").as_bytes());
        h.finalize()
    };
    let mut out = BTreeMap::new();
    for (date, keys) in keys_by_date {
        let mut sorted: Vec<&String> = keys.iter().collect();
        sorted.sort();
        let mut h = Sha256::new();
        h.update(chain);
        h.update(date.to_string().as_bytes());
        for k in sorted {
            h.update(k.as_bytes());
            h.update([0]);
        }
        chain = h.finalize();
        out.insert(*date, hex::encode(chain));
    }
    out
}

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

/// Where a projection of `[from, ..]` must start so that everything before it can come from
/// the database: `from` itself when the chains agree up to it, else the first date at which
/// the lake and the database disagree.
pub fn start_date(
    from: NaiveDate,
    lake: &BTreeMap<NaiveDate, String>,
    recorded: &BTreeMap<NaiveDate, String>,
) -> NaiveDate {
    lake.iter()
        .take_while(|(d, _)| **d < from)
        .find(|(d, chain)| recorded.get(*d) != Some(*chain))
        .map_or(from, |(d, _)| *d)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_changed_date_changes_its_chain_and_every_later_one() {
        let config = ProjectorConfig::default();
        let mut keys: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
        for day in ["2025-11-20", "2025-11-21", "2025-11-22"] {
            keys.insert(d(day), vec![format!("events/{day}/s1_daily_v3/a.json")]);
        }
        let before = chains(&keys, &config);
        keys.get_mut(&d("2025-11-21"))
            .unwrap()
            .push("events/2025-11-21/s1_daily_v3/late.json".into());
        let after = chains(&keys, &config);
        assert_eq!(before[&d("2025-11-20")], after[&d("2025-11-20")]);
        assert_ne!(before[&d("2025-11-21")], after[&d("2025-11-21")]);
        assert_ne!(
            before[&d("2025-11-22")],
            after[&d("2025-11-22")],
            "later dates depend on earlier ones"
        );
        assert_eq!(
            start_date(d("2025-11-22"), &after, &before),
            d("2025-11-21"),
            "widened back to the first stale date"
        );
        assert_eq!(start_date(d("2025-11-22"), &after, &after), d("2025-11-22"));
        assert_eq!(
            start_date(d("2025-11-22"), &after, &BTreeMap::new()),
            d("2025-11-20"),
            "an empty database starts at the beginning"
        );
        let mut other = ProjectorConfig::default();
        other.network_map.insert("999".into(), "x".into());
        assert_ne!(
            chains(&keys, &other)[&d("2025-11-20")],
            after[&d("2025-11-20")],
            "a config change invalidates every date"
        );
    }
}
