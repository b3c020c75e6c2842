//! `session_hourly_metrics` rows of a date (`projection-rules.md` §4): the latest successful
//! S1 hourly fetch summed per (campaign, click hour), the campaign's metadata from its daily
//! row or the newest earlier one, and lineage as runs of consecutive hours.

use std::sync::Arc;

use super::carry::CampaignMeta;
use super::fetch::{DayData, Fetch, RowRef};
use super::projector::Projector;
use super::rows::{DayProjection, HourRow, SessionLineage};
use super::rules::revenue_per_session;
use super::CONTEXT_DAYS;
use crate::column;
use crate::columns::Columns;
use crate::decode::SourceRow;

/// Hourly rows in (campaign, hour, body order) order, each with its campaign's rank among the
/// date's campaigns. Comparing campaign ids in a sort costs a string comparison per step, for
/// tens of thousands of rows a date, while a date has only a few thousand campaigns. So each
/// campaign is ranked once (its hours are adjacent in a body, so finding a row's rank is
/// usually one comparison with the row before), and the rows are sorted by (rank, hour,
/// position) packed into one integer: the order a stable sort by (campaign, hour) gives.
pub(super) fn in_campaign_hour_order<A: Copy, B: Copy>(
    rows: Vec<(&str, u8, A, B)>,
) -> Vec<(u32, &str, u8, A, B)> {
    let mut campaigns: Vec<&str> = rows.iter().map(|r| r.0).collect();
    // Adjacent repeats first (a campaign's hours), so the sort sees each campaign about once.
    campaigns.dedup();
    campaigns.sort_unstable();
    campaigns.dedup();
    let mut last: Option<(&str, u32)> = None;
    let mut ranked: Vec<(u32, &str, u8, A, B)> = Vec::with_capacity(rows.len());
    for (id, hour, a, b) in rows {
        let rank = match last {
            Some((seen, rank)) if seen == id => rank,
            _ => {
                let rank = campaigns.binary_search(&id).unwrap_or_default() as u32;
                last = Some((id, rank));
                rank
            }
        };
        ranked.push((rank, id, hour, a, b));
    }
    if campaigns.len() >= 1 << 24 || ranked.len() > u32::MAX as usize {
        ranked.sort_by_key(|r| (r.0, r.2));
        return ranked;
    }
    let mut keys: Vec<u64> = ranked
        .iter()
        .enumerate()
        .map(|(i, r)| u64::from(r.0) << 40 | u64::from(r.2) << 32 | i as u64)
        .collect();
    keys.sort_unstable();
    keys.iter().map(|k| ranked[(k & 0xffff_ffff) as usize]).collect()
}

impl Projector<'_> {
    pub(super) fn session_rows(
        &self,
        day: &DayData<'_>,
        snapshot: Option<&Fetch<'_>>,
        out: &mut DayProjection,
    ) {
        let Some(f) = snapshot else { return };
        let date = day.date;
        let rows: Vec<(&str, u8, RowRef, &SourceRow)> = f
            .rows
            .iter()
            .filter(|(_, row)| row.date.is_none_or(|d| d == date))
            .filter_map(|&(at, row)| Some((row.strategis_id.as_deref()?, row.hour?, at, row)))
            .collect();
        let rows = in_campaign_hour_order(rows);

        // A campaign's hours are adjacent: its id and metadata are looked up once and shared.
        let mut campaign: Option<(u32, Arc<str>, Option<Arc<CampaignMeta>>)> = None;
        let mut meta_key = (date, String::new());
        let mut refs: Vec<RowRef> = Vec::new();
        // The campaign (by rank) of the newest lineage run: equal ranks are equal ids.
        let mut last_run_rank: Option<u32> = None;
        out.tables.session_hourly.reserve(rows.len());
        for group in rows.chunk_by(|a, b| (a.0, a.2) == (b.0, b.2)) {
            let (rank, sid, hour) = (group[0].0, group[0].1, group[0].2);
            let (campaign_id, meta) = match &campaign {
                Some((cached, id, meta)) if *cached == rank => (id.clone(), meta.clone()),
                _ => {
                    meta_key.1.clear();
                    meta_key.1.push_str(sid);
                    let meta = (0..=CONTEXT_DAYS)
                        .find_map(|n| {
                            meta_key.0 = date - chrono::Days::new(n);
                            self.carry.daily_meta.get(&meta_key)
                        })
                        .map(|m| Arc::new(m.clone()));
                    let id: Arc<str> = Arc::from(sid);
                    campaign = Some((rank, id.clone(), meta.clone()));
                    (id, meta)
                }
            };
            let (mut sessions, mut revenue) = (None, None);
            refs.clear();
            for &(_, _, _, at, row) in group {
                sessions = crate::decode::sum_opt(sessions, row.sessions);
                revenue = crate::decode::sum_opt(revenue, row.revenue);
                refs.push(at);
            }
            let rpc = match (revenue, sessions) {
                (Some(r), Some(s)) if s > 0 => Some(revenue_per_session(r, s)),
                _ => None,
            };
            let row = HourRow {
                campaign_id,
                date,
                click_hour: hour,
                sessions,
                revenue,
                rpc,
                meta,
                updated_at: refs.iter().map(|r| day.fetched_at(*r)).max(),
            };
            let columns = match (row.sessions.is_some(), row.revenue.is_some()) {
                (true, true) => column!("revenue").with(column!("sessions")),
                (true, false) => column!("sessions"),
                (false, true) => column!("revenue"),
                (false, false) => Columns::EMPTY,
            };
            if !columns.is_empty() {
                let runs = &mut out.tables.session_lineage;
                for r in &refs {
                    let event_id = day.events[r.event].id;
                    let Some(locator) = day.source_row(*r).map(|row| &row.locator) else {
                        continue;
                    };
                    match runs.last_mut() {
                        Some(run)
                            if refs.len() == 1
                                && last_run_rank == Some(rank)
                                && run.continues(hour, columns, event_id, locator) =>
                        {
                            run.hour_to = hour
                        }
                        _ => {
                            last_run_rank = Some(rank);
                            let index = locator.split().1;
                            runs.push(SessionLineage {
                                date,
                                campaign_id: sid.to_owned(),
                                hour_from: hour,
                                hour_to: hour,
                                columns,
                                event_id,
                                event_index: day.event_index[r.event],
                                locator_prefix: locator.prefix().clone(),
                                index_from: index,
                            });
                        }
                    }
                }
            }
            out.tables.session_hourly.push(row);
        }
    }
}
