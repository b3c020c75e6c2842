//! The projection: `tables = project(events, config)`, a pure function, computed as a fold
//! over dates in ascending order ([`Projector`]): each date's events in, that date's rows out,
//! and between dates only a bounded [`Carry`] of what later dates look back at.
//!
//! Invariants (see `projection-rules.md`):
//! - Output depends only on the set of events, never on their order: each date's events are
//!   sorted by (fetched_at, id) first, every map is a `BTreeMap`, each date's rows are sorted
//!   by their key. Lineage entries are not sorted: they come in the order their rows are built
//!   (by campaign key, then source), which is already a function of the events alone.
//! - A projection that starts from a carry equals one that read the earlier dates itself.
//! - Per (endpoint, date) the latest *successful* fetch is the snapshot; a later failure
//!   never erases it. A body that cannot be decoded is quarantined, never fatal.
//! - Values are taken from the first source in precedence order that has them, never summed
//!   across sources; rows of one source for one key are summed within that source.
//! - Every projected value has lineage: the event and row locator of each source that
//!   supplied it (and of each that had a value but lost), under a rule of [`LINEAGE_RULES`].
//!   What a campaign's reconciled row takes exactly as its daily row does is one entry of the
//!   daily row, marked [`LineageRow::both_snapshots`].
//!
//! One job per file: [`rows`] (the tables' row types), [`fetch`] (which fetch of an
//! (endpoint, date) is its snapshot), [`merge`] (picking values across sources, with their
//! lineage), [`carry`] (what earlier dates leave later ones), [`rules`] (precedence and
//! arithmetic), [`projector`] (the fold over dates), [`campaign`], [`session`] and [`runs`]
//! (each table's rows), [`restatements`]; [`alerts`] (the alert tables, from the lake's
//! `alerts` events rather than from any date's reports).

pub mod alerts;
mod campaign;
mod carry;
mod fetch;
mod intraday;
mod merge;
mod projector;
mod restatements;
mod rows;
mod rules;
mod runs;
mod session;

use std::collections::BTreeMap;
use std::sync::Arc;

use adlake_raw::{Envelope, EventId};
use chrono::NaiveDate;

pub use carry::{name_prefix, CampaignMeta, Carry, Identity};
pub use projector::Projector;
pub use restatements::{restatements, Delta, Restatement};
pub use rows::{
    CampaignRow, CompletenessRow, DayProjection, HourRow, HourlySpendRow, IntradayInputRow,
    IntradayRow, LineageRow, Projection, QuarantineRow, RawEventRow, RunRow, SessionLineage,
    Tables, LOST_VALUE_SEPARATOR,
};
pub use rules::LINEAGE_RULES;

use rules::SPEND_BY_PLATFORM;

/// Bumped whenever a rule changes what a projection produces, or how its fingerprints are
/// taken (a database projected by another version is rebuilt whole by its next projection).
pub const PROJECTOR_VERSION: &str = "adlake-projector/8";

/// Days before a projected range that are read for `expected_min_rows` and lookups.
pub const CONTEXT_DAYS: u64 = 7;

#[derive(Debug, Clone)]
pub struct Event {
    pub id: EventId,
    pub envelope: Envelope,
    pub body: Option<Arc<[u8]>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProjectorConfig {
    /// `networkId` → media source. Configuration, not code.
    pub network_map: BTreeMap<String, String>,
    /// Media source → the endpoints whose spend counts, first with a value wins
    /// (`strategis_metrics` is always the last fallback).
    pub spend_precedence: BTreeMap<String, Vec<&'static str>>,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        let pairs = [
            ("107", "taboola"),
            ("108", "gemini"),
            ("109", "outbrain"),
            ("110", "facebook"),
            ("111", "tiktok"),
            ("112", "facebook"),
            ("113", "mediago"),
            ("114", "googleads"),
            ("115", "zemanta"),
            ("116", "newsbreak"),
            ("117", "smartnews"),
        ];
        ProjectorConfig {
            network_map: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            spend_precedence: SPEND_BY_PLATFORM
                .iter()
                .map(|(p, e)| (p.to_string(), e.to_vec()))
                .collect(),
        }
    }
}

/// Which dates get rows. Events outside it are context only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateWindow {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// Splits events into run markers and http events by date, ascending.
pub fn by_date(events: &[Event]) -> (Vec<Event>, BTreeMap<NaiveDate, Vec<Event>>) {
    let mut markers = Vec::new();
    let mut dates: BTreeMap<NaiveDate, Vec<Event>> = BTreeMap::new();
    for e in events {
        if e.envelope.run.is_some() {
            markers.push(e.clone());
        } else if e.envelope.http.is_some() {
            dates.entry(e.envelope.date).or_default().push(e.clone());
        }
    }
    (markers, dates)
}

/// The whole projection in memory: every date of `events` through one [`Projector`].
pub fn project(
    events: &[Event],
    window: Option<DateWindow>,
    config: &ProjectorConfig,
) -> Projection {
    project_from(events, window, config, Carry::default())
}

/// [`project`], starting from what earlier dates left (see [`Carry`]).
pub fn project_from(
    events: &[Event],
    window: Option<DateWindow>,
    config: &ProjectorConfig,
    carry: Carry,
) -> Projection {
    let (markers, dates) = by_date(events);
    let mut projector = Projector::new(config, window, carry);
    let mut out = Projection { window, ..Default::default() };
    for (date, day_events) in &dates {
        let day = projector.day(*date, day_events);
        out.tables.absorb(day.tables);
    }
    let (campaign_runs, session_runs, raw) = projector.runs(&markers);
    out.campaign_runs = campaign_runs;
    out.session_runs = session_runs;
    out.tables.raw_events.extend(raw);
    out.events_applied = projector.events_applied();
    out.tables.sort();
    out
}

#[cfg(test)]
mod tests;
