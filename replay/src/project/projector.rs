//! The fold over dates ([`Projector`]): each date's events in, its rows out; between dates only
//! the carry. Dates must come in ascending order; a date outside the window only feeds the
//! carry. Memory is one date's bodies and rows, whatever the size of the lake.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use adlake_raw::EventId;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::carry::Carry;
use super::fetch::{collect_fetches, snapshot, snapshots, status, DayData};
use super::rows::{CompletenessRow, DayProjection, RawEventRow};
use super::runs::raw_event_row;
use super::{DateWindow, Event, ProjectorConfig, CONTEXT_DAYS};
use crate::endpoint_id;
use crate::registry::EndpointId;

/// Per-run figures gathered from the session fetches as dates stream by.
#[derive(Debug, Clone, Default)]
pub(super) struct SessionRunStats {
    pub(super) max_hour: Option<i32>,
    pub(super) sessions: i64,
    pub(super) campaigns: BTreeSet<String>,
}

/// The projection as a fold over dates in ascending order: each date's events go in once, its
/// rows come out, and only [`Carry`] (bounded: identity pairs and seven days of context) is
/// kept between dates. Memory is one date's bodies and rows, whatever the size of the lake.
pub struct Projector<'c> {
    pub(super) config: &'c ProjectorConfig,
    pub(super) window: Option<DateWindow>,
    pub(super) carry: Carry,
    pub(super) last_date: Option<NaiveDate>,
    pub(super) run_stats: BTreeMap<String, SessionRunStats>,
    pub(super) events_applied: Vec<EventId>,
    /// Media source → its spend precedence, `strategis_metrics` last: the configuration's,
    /// read once.
    pub(super) spend_orders: BTreeMap<String, Vec<EndpointId>>,
    /// One shared copy of each media source's name, for the rows that carry it.
    pub(super) media_sources: BTreeMap<String, Arc<str>>,
}

impl<'c> Projector<'c> {
    pub fn new(config: &'c ProjectorConfig, window: Option<DateWindow>, carry: Carry) -> Self {
        let strategis = endpoint_id!("strategis_metrics");
        let spend_orders = config
            .spend_precedence
            .iter()
            .map(|(media, order)| {
                (
                    media.clone(),
                    order
                        .iter()
                        .filter_map(|e| EndpointId::of(e))
                        .filter(|e| *e != strategis)
                        .chain([strategis])
                        .collect(),
                )
            })
            .collect();
        Projector {
            config,
            window,
            carry,
            last_date: None,
            run_stats: BTreeMap::new(),
            events_applied: Vec::new(),
            spend_orders,
            media_sources: BTreeMap::new(),
        }
    }

    pub(super) fn in_window(&self, d: NaiveDate) -> bool {
        self.window.is_none_or(|w| w.contains(d))
    }

    /// What the dates so far leave for the next ones.
    pub fn carry(&self) -> &Carry {
        &self.carry
    }

    /// [`Projector::carry`], for a projector that is done: without copying the identity
    /// pairs of every date seen.
    pub fn into_carry(self) -> Carry {
        self.carry
    }

    /// Projects `date` from its http events (any order; run markers are ignored here).
    /// Dates must come in ascending order; a date outside the window only feeds the carry.
    pub fn day(&mut self, date: NaiveDate, events: &[Event]) -> DayProjection {
        debug_assert!(self.last_date.is_none_or(|d| d < date), "dates must ascend");
        self.last_date = Some(date);
        let day = DayData::new(
            date,
            events.iter().filter(|e| e.envelope.http.is_some() && e.envelope.date == date),
        );
        self.events_applied.extend(day.events.iter().map(|e| e.id));
        let in_window = self.in_window(date);
        let mut out = DayProjection { date: Some(date), ..Default::default() };
        let (fetches, quarantine) = collect_fetches(&day);

        // Identity pairs from every decodable s1_daily_v3 body of this date.
        for f in fetches.get("s1_daily_v3").into_iter().flatten() {
            for &i in &f.events {
                if let Some(decoded) = &day.parsed[i].decoded {
                    for r in &decoded.rows {
                        if let (Some(pid), Some(sid)) =
                            (r.platform_campaign_id.as_deref(), r.strategis_id.as_deref())
                        {
                            // Most pairs are known from earlier dates' responses: copy text only
                            // for what is new.
                            let identity = &mut self.carry.identity;
                            if !identity.contains_key(pid) {
                                identity.insert(pid.to_owned(), BTreeMap::new());
                            }
                            if let Some(sids) = identity
                                .get_mut(pid)
                                .map(|by_date| by_date.entry(date).or_default())
                            {
                                if !sids.contains(sid) {
                                    sids.insert(sid.to_owned());
                                }
                            }
                        }
                    }
                }
            }
        }

        // Completeness for every endpoint fetched this date.
        for list in fetches.values() {
            let Some(newest) = list.last() else { continue };
            let spec = newest.endpoint;
            let rows = newest.rows.len() as i64;
            let status = status(newest, date);
            let prior: Vec<i64> = (1..=CONTEXT_DAYS)
                .filter_map(|n| {
                    self.carry
                        .ok_counts
                        .get(&(spec.key.to_owned(), date - chrono::Days::new(n)))
                        .copied()
                })
                .collect();
            let row = CompletenessRow {
                date,
                endpoint: spec.key,
                platform: spec.platform,
                critical: spec.critical,
                status,
                row_count: newest.success.then_some(rows),
                has_revenue: newest.success.then(|| {
                    newest.rows.iter().any(|(_, r)| r.revenue.is_some_and(|v| v > Decimal::ZERO))
                }),
                has_spend: newest.success.then(|| {
                    newest.rows.iter().any(|(_, r)| r.spend.is_some_and(|v| v > Decimal::ZERO))
                }),
                error_message: newest.error.clone(),
                retry_count: (newest.attempts as i32 - newest.pages.max(1) as i32).max(0),
                http_status: newest.http_status.map(i32::from),
                run_id: newest.run_id.clone(),
                started_at: newest.started_at,
                finished_at: newest.finished_at,
                last_success_at: list.iter().rev().find(|f| f.success).map(|f| f.finished_at),
                expected_min_rows: (!prior.is_empty())
                    .then(|| prior.iter().sum::<i64>() as f64 / prior.len() as f64),
            };
            if status == "OK" {
                self.carry.ok_counts.insert((spec.key.to_owned(), date), rows);
            }
            if in_window {
                out.tables.completeness.push(row);
            }
        }

        self.campaign_rows(&day, &snapshots(&fetches, None), &mut out, true);
        if in_window {
            self.intraday_rows(&day, &fetches, &mut out);
            self.hourly_spend_rows(&day, &fetches, &mut out);
        }

        // Session runs: figures from every successful session fetch, per run.
        for f in fetches.get("s1_hourly_v3").into_iter().flatten().filter(|f| f.success) {
            let stats = self.run_stats.entry(f.run_id.clone()).or_default();
            let mut previous: Option<&str> = None;
            for (_, r) in &f.rows {
                stats.max_hour = stats.max_hour.max(r.hour.map(i32::from));
                stats.sessions = stats.sessions.saturating_add(r.sessions.unwrap_or(0));
                // A campaign's hours are usually adjacent: look each campaign up once.
                if let Some(s) = r.strategis_id.as_deref().filter(|s| previous != Some(*s)) {
                    if !stats.campaigns.contains(s) {
                        stats.campaigns.insert(s.to_owned());
                    }
                    previous = Some(s);
                }
            }
        }

        if in_window {
            self.session_rows(&day, snapshot(&fetches, "s1_hourly_v3"), &mut out);
            out.tables.quarantine = quarantine;
            out.tables.raw_events = day
                .events
                .iter()
                .zip(&day.event_index)
                .map(|(e, &i)| RawEventRow { event_index: Some(i), ..raw_event_row(e) })
                .collect();
        } else {
            out.tables.campaign_index.clear();
            out.tables.lineage.clear();
            out.tables.session_lineage.clear();
            out.tables.unmapped_campaigns.clear();
            out.tables.unmapped_network_ids.clear();
        }
        self.carry.forget_before(date);
        // Each table's rows of a date in key order (session rows are built in it; lineage keeps
        // its build order): the order Projection::sort gives them, so a date's batch (and its
        // fingerprint) is the same whichever way it was projected.
        out.tables.campaign_index.sort_by_cached_key(|r| r.key());
        out.tables.session_lineage.sort_unstable();
        out.tables
            .intraday
            .sort_by(|a, b| (&a.campaign_id, a.as_of_hour).cmp(&(&b.campaign_id, b.as_of_hour)));
        out.tables
            .raw_events
            .sort_by(|a, b| (&a.source, &a.event_id).cmp(&(&b.source, &b.event_id)));
        out
    }

    /// Every event id read so far, sorted.
    pub fn events_applied(&self) -> Vec<EventId> {
        let mut ids = self.events_applied.clone();
        ids.sort();
        ids.dedup();
        ids
    }
}
