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

use std::collections::{btree_map, BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use adlake_raw::{Envelope, EventId, RunPhase};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::body::{self, NextPage, Probe};
use crate::column;
use crate::columns::Columns;
use crate::decode::{Decoded, Locator, SourceRow};
use crate::endpoint_id;
use crate::registry::{EndpointId, EndpointSpec, Pagination, ENDPOINTS};

/// Bumped whenever a rule changes what a projection produces, or how its fingerprints are
/// taken (a database projected by another version is rebuilt whole by its next projection).
pub const PROJECTOR_VERSION: &str = "adlake-projector/7";
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

#[derive(Debug, Clone, Default, PartialEq)]
/// A row of `campaign_index`. Its text values are shared (`Arc<str>`): a campaign's daily and
/// reconciled rows, and its adset rows, carry the same metadata.
pub struct CampaignRow {
    pub campaign_id: String,
    pub date: NaiveDate,
    pub level: &'static str,
    pub snapshot_source: &'static str,
    pub adset_id: Option<String>,
    pub adset_name: Option<String>,
    pub campaign_name: Option<Arc<str>>,
    pub owner: Option<Arc<str>>,
    pub lane: Option<Arc<str>>,
    pub category: Option<Arc<str>>,
    pub media_source: Option<Arc<str>>,
    pub network_id: Option<Arc<str>>,
    pub account_id: Option<Arc<str>>,
    pub rsoc_site: Option<Arc<str>>,
    pub platform_campaign_id: Option<Arc<str>>,
    pub spend_usd: Option<Decimal>,
    pub spend_source: Option<String>,
    pub revenue_usd: Option<Decimal>,
    pub sessions: Option<i64>,
    pub s1_clicks: Option<i64>,
    pub clicks: Option<i64>,
    pub impressions: Option<i64>,
    pub conversions: Option<i64>,
    pub roas: Option<f64>,
    pub avg_rpc_3d: Option<Decimal>,
    pub unmapped: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

impl CampaignRow {
    /// `campaign_id|date|level|snapshot_source|adset_id`: the row's identity, and its order.
    pub fn key(&self) -> String {
        let adset_id = self.adset_id.as_deref().unwrap_or("");
        let mut key = String::with_capacity(
            self.campaign_id.len()
                + self.level.len()
                + self.snapshot_source.len()
                + adset_id.len()
                + 14,
        );
        key.push_str(&self.campaign_id);
        key.push('|');
        push_date(&mut key, self.date);
        for part in [self.level, self.snapshot_source, adset_id] {
            key.push('|');
            key.push_str(part);
        }
        key
    }
}

/// Appends `date` as its `Display` writes it (`2025-11-23`). Keys carry their date, and a
/// reproject builds a key per row and per sort step; the formatting machinery cost more
/// than the rest of the key.
fn push_date(out: &mut String, date: NaiveDate) {
    use chrono::Datelike;
    let year = date.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&date.to_string());
        return;
    }
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    let year = year as u32;
    for n in [year / 1000, year / 100, year / 10, year] {
        out.push(digit(n));
    }
    out.push('-');
    out.extend([digit(date.month() / 10), digit(date.month())]);
    out.push('-');
    out.extend([digit(date.day() / 10), digit(date.day())]);
}

#[derive(Debug, Clone, PartialEq)]
pub struct HourRow {
    /// Shared by a campaign's hours, like the metadata below: a date has tens of thousands of
    /// session rows and few distinct strings.
    pub campaign_id: Arc<str>,
    pub date: NaiveDate,
    pub click_hour: u8,
    pub sessions: Option<i64>,
    pub revenue: Option<Decimal>,
    pub rpc: Option<Decimal>,
    /// owner, lane, category and media_source: the campaign's, one record shared by all
    /// its hours (`None`: the campaign has no daily row to copy them from).
    pub meta: Option<Arc<CampaignMeta>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl HourRow {
    pub fn key(&self) -> String {
        format!("{}|{}|{}", self.campaign_id, self.date, self.click_hour)
    }

    pub fn owner(&self) -> Option<&str> {
        self.meta.as_ref()?.owner.as_deref()
    }

    pub fn lane(&self) -> Option<&str> {
        self.meta.as_ref()?.lane.as_deref()
    }

    pub fn category(&self) -> Option<&str> {
        self.meta.as_ref()?.category.as_deref()
    }

    pub fn media_source(&self) -> Option<&str> {
        self.meta.as_ref()?.media_source.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompletenessRow {
    pub date: NaiveDate,
    pub endpoint: &'static str,
    pub platform: &'static str,
    pub critical: bool,
    pub status: &'static str,
    pub row_count: Option<i64>,
    pub has_revenue: Option<bool>,
    pub has_spend: Option<bool>,
    pub error_message: Option<String>,
    pub retry_count: i32,
    pub http_status: Option<i32>,
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub expected_min_rows: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub run_id: String,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    pub endpoints: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    pub row_count: i64,
    pub events_written: i64,
    pub bytes_new: i64,
    pub message: Option<String>,
    /// Session runs only.
    pub max_click_hour: Option<i32>,
    pub session_count: Option<i64>,
    pub campaign_count: Option<i64>,
}

/// One source of one row: the columns that body row supplied (chosen), or the columns it had
/// values for but lost to a higher-precedence source (with those values).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineageRow {
    pub table_name: &'static str,
    pub date: NaiveDate,
    /// Shared by every entry of one row.
    pub row_key: Arc<str>,
    /// Which rule of [`LINEAGE_RULES`] applies: campaign, adset_own, adset_copied, session.
    pub kind: &'static str,
    pub columns: Columns,
    pub endpoint: &'static str,
    pub event_id: EventId,
    /// How the lineage tables name the event: its place among its date's events ordered by
    /// id (`raw_events.event_index`).
    pub event_index: u32,
    pub locator: Locator,
    /// `false` for a source that had a value but lost to a higher-precedence one.
    pub chosen: bool,
    /// An entry of a campaign's daily row that is also its reconciled row's: both rows take
    /// every column but revenue_usd, sessions and s1_clicks from the same picks, so those
    /// entries are stored once (the `lineage` view lists them under both rows).
    pub both_snapshots: bool,
    /// The losing source's values, one per column (see [`LineageRow::value_of`]); `None` for
    /// chosen sources (their value is the row's).
    pub value: Option<String>,
}

/// The lineage of consecutive click hours of one campaign's session rows, stored as one entry:
/// hour `hour_from + k` came from body row `index_from + k` of one event (locator
/// `{locator_prefix}/{index_from + k}`). Session rows are most of a projection's rows, and an
/// hourly report lists a campaign's hours in order, so a date's runs number about one per
/// campaign and page rather than one per row. [`SessionLineage::entries`] gives the per-row
/// [`LineageRow`]s they stand for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionLineage {
    pub date: NaiveDate,
    pub campaign_id: String,
    pub hour_from: u8,
    pub hour_to: u8,
    pub columns: Columns,
    pub event_id: EventId,
    /// As [`LineageRow::event_index`].
    pub event_index: u32,
    pub locator_prefix: Arc<str>,
    /// `None`: the locator has no row index, and `locator_prefix` is all of it (one hour only).
    pub index_from: Option<u32>,
}

impl SessionLineage {
    /// Whether `hour` of this run's campaign, from body row `locator` of `event_id`, continues
    /// this run. The caller knows whether the campaign is the run's, without comparing ids.
    fn continues(&self, hour: u8, columns: Columns, event_id: EventId, locator: &Locator) -> bool {
        let Some(from) = self.index_from else { return false };
        let (prefix, index) = locator.split();
        Some(hour) == self.hour_to.checked_add(1)
            && index.is_some()
            && index == from.checked_add(u32::from(hour - self.hour_from))
            && self.event_id == event_id
            && self.columns == columns
            && (Arc::ptr_eq(locator.prefix(), &self.locator_prefix)
                || prefix == &*self.locator_prefix)
    }

    /// The per-row entries this run stands for, in hour order.
    pub fn entries(&self) -> impl Iterator<Item = LineageRow> + '_ {
        (self.hour_from..=self.hour_to).map(move |hour| LineageRow {
            table_name: "session_hourly_metrics",
            date: self.date,
            row_key: Arc::from(format!("{}|{}|{}", self.campaign_id, self.date, hour)),
            kind: "session",
            columns: self.columns,
            endpoint: "s1_hourly_v3",
            event_id: self.event_id,
            event_index: self.event_index,
            locator: match self.index_from {
                Some(from) => Locator::indexed(
                    &self.locator_prefix,
                    (from + u32::from(hour - self.hour_from)) as usize,
                ),
                None => Locator::text(&self.locator_prefix),
            },
            chosen: true,
            both_snapshots: false,
            value: None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QuarantineRow {
    pub event_id: String,
    pub endpoint: String,
    pub date: NaiveDate,
    pub body_sha256: Option<String>,
    /// The row that could not be read; `None` when the whole body is quarantined.
    pub locator: Option<String>,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawEventRow {
    pub event_id: String,
    /// How lineage names this event: its place among its date's events ordered by id. `None`
    /// for run markers.
    pub event_index: Option<u32>,
    pub kind: &'static str,
    pub source: String,
    pub date: NaiveDate,
    pub run_id: String,
    pub fetched_at: DateTime<Utc>,
    pub fetch_id: Option<String>,
    pub attempt: Option<i32>,
    pub page: Option<i32>,
    pub http_status: Option<i32>,
    pub error: Option<String>,
    pub url: Option<String>,
    pub body_sha256: Option<String>,
    pub body_len: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub window: Option<DateWindow>,
    pub campaign_index: Vec<CampaignRow>,
    pub session_hourly: Vec<HourRow>,
    pub completeness: Vec<CompletenessRow>,
    pub campaign_runs: Vec<RunRow>,
    pub session_runs: Vec<RunRow>,
    /// Lineage of campaign_index values.
    pub lineage: Vec<LineageRow>,
    /// Lineage of session_hourly_metrics values, as runs of hours.
    pub session_lineage: Vec<SessionLineage>,
    pub quarantine: Vec<QuarantineRow>,
    pub raw_events: Vec<RawEventRow>,
    /// Campaign ids that kept a platform id, per date.
    pub unmapped_campaigns: BTreeSet<(NaiveDate, String)>,
    pub unmapped_network_ids: BTreeSet<String>,
    /// Every event id the projection read, sorted.
    pub events_applied: Vec<EventId>,
}

// ---------------------------------------------------------------------------------------
// Fetches and snapshots

/// Where a row came from: index into the day's sorted events, and the row inside that body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RowRef {
    event: usize,
    row: usize,
}

/// One event's body, read once: what it says about itself, and its rows when it is data.
#[derive(Debug, PartialEq)]
struct Parsed<'e> {
    probe: Probe,
    /// Only for a 2xx data page.
    decoded: Option<Decoded<'e>>,
}

/// The http events of one date, sorted, each parsed once.
struct DayData<'e> {
    date: NaiveDate,
    events: Vec<&'e Event>,
    /// Per event, its place among the date's events ordered by id: how lineage names it
    /// (`raw_events.event_index`). A date is always projected whole, so the same events give
    /// the same places in every projection.
    event_index: Vec<u32>,
    parsed: Vec<Parsed<'e>>,
}

impl<'e> DayData<'e> {
    fn new(date: NaiveDate, events: impl IntoIterator<Item = &'e Event>) -> Self {
        let events = sorted_events(events);
        let event_index = index_by_id(&events);
        let parsed = events.iter().map(|e| parse_event(e)).collect();
        DayData { date, events, event_index, parsed }
    }

    fn source_row(&self, r: RowRef) -> Option<&SourceRow<'_>> {
        self.parsed[r.event].decoded.as_ref()?.rows.get(r.row)
    }

    fn locator(&self, r: RowRef) -> Locator {
        self.source_row(r).map(|row| row.locator.clone()).unwrap_or_default()
    }

    fn fetched_at(&self, r: RowRef) -> DateTime<Utc> {
        self.events[r.event].envelope.fetched_at
    }
}

/// Per event, its place among `events` ordered by id.
fn index_by_id(events: &[&Event]) -> Vec<u32> {
    let mut by_id: Vec<usize> = (0..events.len()).collect();
    by_id.sort_by_key(|&i| events[i].id);
    let mut index = vec![0u32; events.len()];
    for (place, i) in by_id.into_iter().enumerate() {
        index[i] = place as u32;
    }
    index
}

fn parse_event(e: &Event) -> Parsed<'_> {
    let (Some(h), Some(spec)) = (&e.envelope.http, crate::endpoint(&e.envelope.source)) else {
        let detail = "not an http event of a known endpoint".to_owned();
        return Parsed { probe: Probe::Rejected { detail }, decoded: None };
    };
    let status = h.status.unwrap_or(0);
    if e.envelope.body.is_some() && e.body.is_none() {
        // The lake could not give its bytes back as they were stored (a failed hash check).
        let detail = "its bytes failed their hash check, or it is missing".to_owned();
        return Parsed {
            probe: Probe::Broken { error: crate::contract::BodyError::Unreadable { detail } },
            decoded: None,
        };
    }
    let body = e.body.as_deref().unwrap_or_default();
    let page = body::read(spec, status, body, h.page, limit_of(&h.url), true);
    Parsed { probe: page.probe, decoded: page.rows }
}

struct Fetch<'d> {
    endpoint: &'static EndpointSpec,
    run_id: String,
    events: Vec<usize>,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    newest_event: EventId,
    attempts: usize,
    pages: u32,
    /// Every page answered with data, in order, and the last said it was the last: its rows
    /// are the snapshot of the (endpoint, date).
    success: bool,
    /// It stopped with more pages to come (the page limit): PARTIAL, its rows unused.
    page_limit_hit: bool,
    bad_rows: usize,
    rows: Vec<(RowRef, &'d SourceRow<'d>)>,
    error: Option<String>,
    http_status: Option<u16>,
}

/// The `limit` a page request asked for (500 when it names none).
fn limit_of(url: &str) -> u32 {
    url.split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("limit=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

/// Builds the fetch made of events `idx` (one fetch id) of `spec` on `day`, adding to
/// `quarantine` every 2xx body that breaks its contract and every row that cannot be read.
fn build_fetch<'d>(
    spec: &'static EndpointSpec,
    day: &'d DayData<'_>,
    idx: Vec<usize>,
    quarantine: &mut Vec<QuarantineRow>,
) -> Fetch<'d> {
    let events = &day.events;
    let first = &events[idx[0]].envelope;
    let last = events[*idx.last().unwrap_or(&idx[0])];
    let mut fetch = Fetch {
        endpoint: spec,
        run_id: first.run_id.clone(),
        started_at: first.fetched_at,
        finished_at: last.envelope.fetched_at,
        newest_event: last.id,
        attempts: idx.len(),
        pages: 0,
        success: false,
        page_limit_hit: false,
        bad_rows: 0,
        rows: Vec::new(),
        error: None,
        http_status: last.envelope.http.as_ref().and_then(|h| h.status),
        events: idx.clone(),
    };
    // The last attempt of each page decides that page.
    let mut last_attempt: BTreeMap<u32, usize> = BTreeMap::new();
    for &i in &idx {
        let e = events[i];
        let Some(h) = &e.envelope.http else { continue };
        last_attempt.insert(h.page, i);
        if h.status.is_none_or(|s| !(200..300).contains(&s)) || h.error.is_some() {
            fetch.error = Some(match (&h.error, h.status) {
                (Some(e), _) => e.clone(),
                (None, Some(s)) => format!("HTTP {s}"),
                (None, None) => "no response".into(),
            });
        }
        let Some(b) = e.envelope.body else { continue };
        if !h.status.is_some_and(|s| (200..300).contains(&s)) {
            continue;
        }
        let quarantined = |locator: Option<String>, error: String| QuarantineRow {
            event_id: e.id.to_hex(),
            endpoint: spec.key.into(),
            date: day.date,
            body_sha256: Some(b.sha256.to_hex()),
            locator,
            error,
        };
        match (&day.parsed[i].probe, &day.parsed[i].decoded) {
            (Probe::Broken { error }, _) => {
                fetch.error = Some(format!("{} {}: {error}", spec.key, day.date));
                quarantine.push(quarantined(None, error.to_string()));
            }
            (Probe::Data { .. }, Some(decoded)) => {
                for bad in &decoded.bad_rows {
                    quarantine.push(quarantined(Some(bad.locator.clone()), bad.error.to_string()));
                }
            }
            _ => {}
        }
    }
    fetch.pages = last_attempt.keys().max().copied().unwrap_or(0);
    let contiguous = last_attempt.keys().copied().eq(1..=fetch.pages);
    let mut ok = contiguous && fetch.pages > 0;
    let mut rows = Vec::new();
    for (&page, &i) in &last_attempt {
        match (&day.parsed[i].probe, &day.parsed[i].decoded) {
            (Probe::Data { next, .. }, Some(decoded)) => {
                if page == fetch.pages && *next != NextPage::Done {
                    fetch.page_limit_hit = true;
                }
                fetch.bad_rows += decoded.bad_rows.len();
                rows.extend(
                    decoded.rows.iter().enumerate().map(|(row, r)| (RowRef { event: i, row }, r)),
                );
            }
            _ => {
                ok = false;
                break;
            }
        }
    }
    if ok {
        if let Some(problem) = pagination_loop(spec, day, &last_attempt) {
            fetch.error = Some(format!("pagination loop: {problem}"));
            fetch.page_limit_hit = false;
            ok = false;
        } else if fetch.page_limit_hit {
            fetch.error = Some(format!(
                "stopped at the page limit ({} pages) with more to come",
                fetch.pages
            ));
            ok = false;
        }
    }
    fetch.success = ok;
    if ok {
        fetch.rows = rows;
        if fetch.bad_rows == 0 {
            fetch.error = None;
        } else {
            fetch.error = Some(format!("{} rows could not be read", fetch.bad_rows));
        }
    }
    fetch
}

/// Whether a fetch's pages went round in a circle: a cursor asked for twice, a last page
/// pointing back at a cursor already asked for, or two pages with rows served the same
/// body. Such a fetch served some rows more than once.
fn pagination_loop(
    spec: &EndpointSpec,
    day: &DayData<'_>,
    pages: &BTreeMap<u32, usize>,
) -> Option<String> {
    let mut cursors: BTreeSet<&str> = BTreeSet::new();
    let mut bodies: BTreeMap<adlake_raw::BodyHash, u32> = BTreeMap::new();
    for (&page, &i) in pages {
        let envelope = &day.events[i].envelope;
        if let Some(cursor) = envelope.http.as_ref().and_then(|h| h.cursor.as_deref()) {
            if !cursors.insert(cursor) {
                return Some(format!("page {page} asked again for cursor `{cursor}`"));
            }
        }
        let has_rows = matches!(day.parsed[i].probe, Probe::Data { items, .. } if items > 0);
        if let (Some(b), true) = (envelope.body, has_rows) {
            if let Some(earlier) = bodies.insert(b.sha256, page) {
                return Some(format!("page {page} served the same rows as page {earlier}"));
            }
        }
    }
    let last = pages.values().next_back()?;
    match &day.parsed[*last].probe {
        Probe::Data { next: NextPage::Cursor(c), .. }
            if spec.pagination == Pagination::Cursor && cursors.contains(c.as_str()) =>
        {
            Some(format!("the last page points back at cursor `{c}`"))
        }
        _ => None,
    }
}

type Fetches<'d> = BTreeMap<&'static str, Vec<Fetch<'d>>>;

/// The latest successful fetch of `key`: the snapshot the day's rows come from.
fn snapshot<'f, 'd>(fetches: &'f Fetches<'d>, key: &str) -> Option<&'f Fetch<'d>> {
    fetches.get(key)?.iter().rev().find(|f| f.success)
}

/// Every fetch of the day per endpoint, oldest first by (finished_at, newest event), and the
/// quarantined bodies and rows met on the way.
fn collect_fetches<'d>(day: &'d DayData<'_>) -> (Fetches<'d>, Vec<QuarantineRow>) {
    let mut by_fetch: BTreeMap<(&'static str, &str), Vec<usize>> = BTreeMap::new();
    for (i, e) in day.events.iter().enumerate() {
        if let (Some(h), Some(spec)) = (&e.envelope.http, crate::endpoint(&e.envelope.source)) {
            by_fetch.entry((spec.key, h.fetch_id.as_str())).or_default().push(i);
        }
    }
    let mut quarantine = Vec::new();
    let mut fetches: Fetches<'d> = BTreeMap::new();
    for ((key, _), idx) in by_fetch {
        let Some(spec) = crate::endpoint(key) else { continue };
        let f = build_fetch(spec, day, idx, &mut quarantine);
        fetches.entry(key).or_default().push(f);
    }
    for list in fetches.values_mut() {
        list.sort_by(|a, b| (a.finished_at, a.newest_event).cmp(&(b.finished_at, b.newest_event)));
    }
    quarantine.sort();
    quarantine.dedup();
    (fetches, quarantine)
}

// ---------------------------------------------------------------------------------------
// Merging

/// The rows of one source for one key. A source row is hundreds of bytes and most keys have
/// one row per source, so the first is borrowed and only a second makes an owned, merged row;
/// an `Agg` itself stays small, cheap to build and to move within a map.
struct Agg<'d> {
    first: &'d SourceRow<'d>,
    /// From the second row on: the rows merged. Only the fields `add` sums or keeps are read.
    merged: Option<Box<SourceRow<'d>>>,
    refs: Refs,
}

/// The body rows merged into an [`Agg`]: nearly always one, held without allocating.
enum Refs {
    One(RowRef),
    Many(Vec<RowRef>),
}

impl Refs {
    fn as_slice(&self) -> &[RowRef] {
        match self {
            Refs::One(r) => std::slice::from_ref(r),
            Refs::Many(v) => v,
        }
    }

    fn push(&mut self, at: RowRef) {
        match self {
            Refs::One(r) => *self = Refs::Many(vec![*r, at]),
            Refs::Many(v) => v.push(at),
        }
    }
}

impl<'d> Agg<'d> {
    fn new(r: &'d SourceRow<'d>, at: RowRef) -> Self {
        Agg { first: r, merged: None, refs: Refs::One(at) }
    }

    fn refs(&self) -> &[RowRef] {
        self.refs.as_slice()
    }

    /// The merged row: the first one itself while it is alone.
    fn row(&self) -> &SourceRow<'d> {
        self.merged.as_deref().unwrap_or(self.first)
    }

    /// Adds `r` to the rows of the key at `entry`.
    fn add_to<K: Ord>(entry: btree_map::Entry<'_, K, Agg<'d>>, r: &'d SourceRow<'d>, at: RowRef) {
        match entry {
            btree_map::Entry::Vacant(v) => {
                v.insert(Agg::new(r, at));
            }
            btree_map::Entry::Occupied(mut o) => o.get_mut().add(r, at),
        }
    }

    fn add(&mut self, r: &'d SourceRow<'d>, at: RowRef) {
        use crate::decode::sum_opt;
        let s = self.merged.get_or_insert_with(|| Box::new(self.first.clone()));
        s.revenue = sum_opt(s.revenue, r.revenue);
        s.sessions = sum_opt(s.sessions, r.sessions);
        s.s1_clicks = sum_opt(s.s1_clicks, r.s1_clicks);
        s.spend = sum_opt(s.spend, r.spend);
        s.clicks = sum_opt(s.clicks, r.clicks);
        s.impressions = sum_opt(s.impressions, r.impressions);
        s.conversions = sum_opt(s.conversions, r.conversions);
        macro_rules! keep_first {
            ($($f:ident),*) => { $( if s.$f.is_none() { s.$f = r.$f.clone(); } )* };
        }
        keep_first!(
            date,
            strategis_id,
            platform_campaign_id,
            campaign_name,
            network_id,
            account_id,
            rsoc_site,
            buyer,
            category,
            lane,
            adset_name
        );
        self.refs.push(at);
    }
}

/// One campaign key's sources on a date: per endpoint, the aggregated rows of that endpoint's
/// snapshot. An array indexed by [`EndpointId`], because every value of a row looks up
/// several endpoints and a date has thousands of rows.
#[derive(Default)]
struct KeySources<'d> {
    by_endpoint: [Option<Agg<'d>>; EndpointId::COUNT],
    /// The platform of the first platform report (not an "all" endpoint) naming the key.
    platform: Option<&'static str>,
    /// Some row of the key named it by a platform id that did not resolve to a Strategis id.
    unmapped: bool,
    /// The key has `facebook_adsets` rows, which copy its daily row.
    has_adsets: bool,
}

impl<'d> KeySources<'d> {
    fn get(&self, endpoint: EndpointId) -> Option<&Agg<'d>> {
        self.by_endpoint[endpoint.index()].as_ref()
    }

    fn add(&mut self, endpoint: EndpointId, r: &'d SourceRow<'d>, at: RowRef) {
        match &mut self.by_endpoint[endpoint.index()] {
            Some(agg) => agg.add(r, at),
            empty => *empty = Some(Agg::new(r, at)),
        }
    }
}

/// The campaign metadata a session row copies: owner, lane, category, media_source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignMeta {
    pub owner: Option<Arc<str>>,
    pub lane: Option<Arc<str>>,
    pub category: Option<Arc<str>>,
    pub media_source: Option<Arc<str>>,
}

/// Platform campaign id → date of the `s1_daily_v3` response → Strategis ids it paired.
pub type Identity = BTreeMap<String, BTreeMap<NaiveDate, BTreeSet<String>>>;

/// What the dates before a projection's first date contribute to it: campaign identity
/// pairs, OK row counts (for `expected_min_rows`) and campaign metadata (for session rows).
/// A projection that starts from an empty `Carry` and sees every earlier date builds the same
/// one itself; an incremental projection may start from one read back from the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carry {
    /// The campaign identity pairs of every date seen.
    pub identity: Identity,
    /// (endpoint, date) → row count of that pair's newest fetch, when it was OK.
    pub ok_counts: BTreeMap<(String, NaiveDate), i64>,
    /// (date, campaign id) → metadata of that date's daily campaign row.
    pub daily_meta: BTreeMap<(NaiveDate, String), CampaignMeta>,
}

/// The Strategis id of a platform campaign id on `date`: the newest pairing up to it, else the
/// prefix of the campaign's name.
fn resolve<'a>(
    identity: &'a Identity,
    platform_id: &str,
    name: Option<&'a str>,
    date: NaiveDate,
) -> Option<&'a str> {
    if let Some(by_date) = identity.get(platform_id) {
        if let Some((_, sids)) = by_date.range(..=date).next_back() {
            if let Some(sid) = sids.iter().next() {
                return Some(sid);
            }
        }
    }
    name.and_then(name_prefix)
}

impl Carry {
    /// Drops what no date after `date` can look back to.
    fn forget_before(&mut self, date: NaiveDate) {
        let horizon = date - chrono::Days::new(CONTEXT_DAYS);
        self.ok_counts.retain(|(_, d), _| *d >= horizon);
        self.daily_meta = self.daily_meta.split_off(&(horizon, String::new()));
    }
}

/// The Strategis id at the start of a campaign name: 6-14 of `[a-z0-9]`, not all digits.
pub fn name_prefix(name: &str) -> Option<&str> {
    let prefix = name.split('_').next()?;
    let ok = (6..=14).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && !prefix.bytes().all(|b| b.is_ascii_digit())
        && name.contains('_');
    ok.then_some(prefix)
}

/// The one shared copy of `name` in `names`, made on first use.
fn shared_name(names: &mut BTreeMap<String, Arc<str>>, name: &str) -> Arc<str> {
    match names.get(name) {
        Some(shared) => shared.clone(),
        None => names.entry(name.to_owned()).or_insert_with(|| Arc::from(name)).clone(),
    }
}

/// Campaign metadata an adset row copies from its campaign row.
const ADSET_COPIED: Columns = column!("campaign_name")
    .with(column!("owner"))
    .with(column!("lane"))
    .with(column!("category"))
    .with(column!("network_id"))
    .with(column!("account_id"))
    .with(column!("rsoc_site"))
    .with(column!("platform_campaign_id"));

const SPEND_BY_PLATFORM: &[(&str, &[&str])] = &[
    ("facebook", &["facebook_report", "facebook_adsets"]),
    ("taboola", &["taboola_report"]),
    ("outbrain", &["outbrain_report"]),
    ("newsbreak", &["newsbreak_report"]),
    ("mediago", &["mediago_report"]),
    ("zemanta", &["zemanta_report"]),
    ("smartnews", &["smartnews_report"]),
];

/// How each kind of lineage entry's columns got their values. Written beside the lineage so
/// that rules are stated once, not once per value.
pub const LINEAGE_RULES: &[(&str, &str, &str)] = &[
    ("campaign", "network_id", "s1_daily_v3 networkId as received"),
    ("campaign", "spend_usd", "the first endpoint with a value in the media source's spend precedence, then strategis_metrics; never a sum across endpoints"),
    ("campaign", "clicks", "ad-platform clicks from the endpoint that supplied spend_usd"),
    ("campaign", "impressions", "strategis_metrics, then the endpoint that supplied spend_usd"),
    ("campaign", "conversions", "facebook: facebook_pixel, then facebook_report; others: the endpoint that supplied spend_usd"),
    ("campaign", "avg_rpc_3d", "s1_rpc_average rpc for the date"),
    ("campaign", "owner", "first of s1_daily_v3, s1_reconciled, facebook_campaigns buyer"),
    ("campaign", "lane", "facebook_campaigns lane (never the buyer)"),
    ("campaign", "category", "first of s1_daily_v3, s1_reconciled, facebook_campaigns"),
    ("campaign", "campaign_name", "first of facebook_campaigns, s1_daily_v3, the platform's reports"),
    ("campaign", "account_id", "first of s1_daily_v3, the platform's reports"),
    ("campaign", "rsoc_site", "s1_daily_v3 rsocSite"),
    ("campaign", "platform_campaign_id", "first of s1_daily_v3, the platform's reports"),
    ("campaign", "revenue_usd", "the row's snapshot: daily from s1_daily_v3, reconciled from s1_reconciled; summed within it"),
    ("campaign", "sessions", "the row's snapshot: daily from s1_daily_v3, reconciled from s1_reconciled; summed within it"),
    ("campaign", "s1_clicks", "the row's snapshot: daily from s1_daily_v3, reconciled from s1_reconciled; summed within it"),
    ("adset_own", "spend_usd", "adset row: that adset's own numbers from facebook_adsets"),
    ("adset_own", "clicks", "adset row: that adset's own numbers from facebook_adsets"),
    ("adset_own", "impressions", "adset row: that adset's own numbers from facebook_adsets"),
    ("adset_copied", "*", "copied from the adset's daily campaign row"),
    ("session", "sessions", "latest successful s1_hourly_v3 fetch, searches summed per campaign and hour"),
    ("session", "revenue", "latest successful s1_hourly_v3 fetch, estimated_revenue summed per campaign and hour"),
];

struct Pick<'s, T> {
    value: Option<T>,
    endpoint: Option<EndpointId>,
    refs: &'s [RowRef],
    /// Sources later in the order that also had a value: (endpoint, rows, value).
    losers: Vec<(EndpointId, &'s [RowRef], LostValue<'s>)>,
}

/// A losing source's value, as read: printed only into its lineage entry, once per body row
/// rather than once per pick.
#[derive(Debug, Clone, Copy)]
enum LostValue<'s> {
    Text(&'s str),
    Money(Decimal),
    Count(i64),
}

impl std::fmt::Display for LostValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LostValue::Text(t) => f.write_str(t),
            LostValue::Money(d) => std::fmt::Display::fmt(d, f),
            LostValue::Count(n) => std::fmt::Display::fmt(n, f),
        }
    }
}

impl LostValue<'_> {
    fn contains_separator(&self) -> bool {
        matches!(self, LostValue::Text(t) if t.contains(LOST_VALUE_SEPARATOR))
    }
}

/// A value a source row can lose with.
trait Losable<'s>: Copy {
    fn lost(self) -> LostValue<'s>;
}

impl<'s> Losable<'s> for &'s str {
    fn lost(self) -> LostValue<'s> {
        LostValue::Text(self)
    }
}

impl Losable<'_> for Decimal {
    fn lost(self) -> LostValue<'static> {
        LostValue::Money(self)
    }
}

impl Losable<'_> for i64 {
    fn lost(self) -> LostValue<'static> {
        LostValue::Count(self)
    }
}

/// The value of the first source in `order` that has one. `get` may return a reference into
/// the source row: only the winner's value is copied out, by the caller.
fn pick<'s, T: Losable<'s>>(
    sources: &'s KeySources<'_>,
    order: &[EndpointId],
    get: impl Fn(&'s SourceRow) -> Option<T>,
) -> Pick<'s, T> {
    for (i, &endpoint) in order.iter().enumerate() {
        if let Some(agg) = sources.get(endpoint) {
            if let Some(v) = get(agg.row()) {
                let losers = order[i + 1..]
                    .iter()
                    .filter_map(|&e| {
                        sources.get(e).and_then(|a| get(a.row()).map(|lv| (e, a.refs(), lv.lost())))
                    })
                    .collect();
                return Pick { value: Some(v), endpoint: Some(endpoint), refs: agg.refs(), losers };
            }
        }
    }
    Pick { value: None, endpoint: None, refs: &[], losers: Vec::new() }
}

/// Collects a row's lineage: chosen sources grouped per (endpoint, body row), so one entry
/// names every column that row supplied; losing sources one entry per column with their value.
#[derive(Default, Clone)]
struct RowBuilder<'s> {
    /// (endpoint, body row, column): grouped per body row when the row is finished.
    chosen: Vec<(EndpointId, RowRef, Columns)>,
    lost: Vec<(EndpointId, RowRef, Columns, LostValue<'s>)>,
    newest: Option<DateTime<Utc>>,
}

impl<'s> RowBuilder<'s> {
    /// Empty again, keeping its vectors: one builder serves every row of a date.
    fn clear(&mut self) {
        self.chosen.clear();
        self.lost.clear();
        self.newest = None;
    }

    fn take<T>(&mut self, day: &DayData<'_>, column: Columns, p: Pick<'s, T>) -> Option<T> {
        if let (Some(_), Some(endpoint)) = (&p.value, p.endpoint) {
            for &r in p.refs {
                self.newest = self.newest.max(Some(day.fetched_at(r)));
                self.chosen.push((endpoint, r, column));
            }
            for (loser, refs, value) in p.losers {
                for &r in refs {
                    self.lost.push((loser, r, column, value));
                }
            }
        }
        p.value
    }

    fn finish(
        &mut self,
        day: &DayData<'_>,
        table: &'static str,
        kind: &'static str,
        row_key: &Arc<str>,
        out: &mut Vec<LineageRow>,
    ) {
        self.chosen.sort_unstable();
        for group in self.chosen.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let columns = group.iter().fold(Columns::EMPTY, |set, c| set.with(c.2));
            out.push(LineageRow::new(
                day,
                table,
                kind,
                row_key,
                columns,
                group[0].0.key(),
                group[0].1,
                true,
                None,
            ));
        }
        // A losing body row gets one entry for all the columns it lost, values joined by
        // LOST_VALUE_SEPARATOR in column order (one entry per column if a value contains it).
        // Sorted by (body row, column): each body row's values in column order. A body row
        // has one value per column (its source's), so equal (row, column) are one loss.
        self.lost.sort_unstable_by_key(|&(endpoint, r, column, _)| (endpoint, r, column));
        self.lost.dedup_by_key(|&mut (endpoint, r, column, _)| (endpoint, r, column));
        for values in self.lost.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (endpoint, r) = (values[0].0.key(), values[0].1);
            if values.iter().any(|(.., v)| v.contains_separator()) {
                for &(.., column, value) in values {
                    out.push(LineageRow::new(
                        day,
                        table,
                        kind,
                        row_key,
                        column,
                        endpoint,
                        r,
                        false,
                        Some(value.to_string()),
                    ));
                }
            } else {
                let columns = values.iter().fold(Columns::EMPTY, |set, (_, _, c, _)| set.with(*c));
                let mut joined = String::new();
                for (i, (.., value)) in values.iter().enumerate() {
                    if i > 0 {
                        joined.push(LOST_VALUE_SEPARATOR);
                    }
                    // Writing into a String cannot fail.
                    let _ = write!(joined, "{value}");
                }
                out.push(LineageRow::new(
                    day,
                    table,
                    kind,
                    row_key,
                    columns,
                    endpoint,
                    r,
                    false,
                    Some(joined),
                ));
            }
        }
    }
}

/// Between the values of a losing entry with several columns (ASCII unit separator).
pub const LOST_VALUE_SEPARATOR: char = '\u{1f}';

impl LineageRow {
    /// The value this (losing) entry had for `column`.
    pub fn value_of(&self, column: &str) -> Option<&str> {
        let at = self.columns.position(column)?;
        let value = self.value.as_deref()?;
        if self.columns.len() == 1 {
            Some(value)
        } else {
            value.split(LOST_VALUE_SEPARATOR).nth(at)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        day: &DayData<'_>,
        table: &'static str,
        kind: &'static str,
        row_key: &Arc<str>,
        columns: Columns,
        endpoint: &'static str,
        r: RowRef,
        chosen: bool,
        value: Option<String>,
    ) -> Self {
        LineageRow {
            table_name: table,
            date: day.date,
            row_key: row_key.clone(),
            kind,
            columns,
            endpoint,
            event_id: day.events[r.event].id,
            event_index: day.event_index[r.event],
            locator: day.locator(r),
            chosen,
            both_snapshots: false,
            value,
        }
    }
}

/// `revenue / sessions` rounded half to even at 6 places, as `(revenue / sessions).round_dp(6)`
/// gives it. Decimal division costs about as much as the rest of an hourly row, so a revenue of
/// at most 6 places over fewer than 10^9 sessions, for a rate below 10^4, is divided in
/// integers. Both then round the same way: the exact quotient is either a tie or at least
/// 10^-6 / (2 * sessions) > 5 * 10^-16 from one, far above the 10^-24 error of Decimal's
/// 28-digit quotient of a rate that small.
fn revenue_per_session(revenue: Decimal, sessions: i64) -> Decimal {
    const PLACES: u32 = 6;
    if revenue.scale() <= PLACES && (1..1_000_000_000).contains(&sessions) {
        let scaled = revenue.mantissa() * 10i128.pow(PLACES - revenue.scale());
        let divisor = i128::from(sessions);
        let (quotient, remainder) = (scaled.abs() / divisor, scaled.abs() % divisor);
        let rounded = match (2 * remainder).cmp(&divisor) {
            std::cmp::Ordering::Greater => quotient + 1,
            std::cmp::Ordering::Equal => quotient + (quotient & 1),
            std::cmp::Ordering::Less => quotient,
        };
        if rounded < 10_000_000_000 {
            return Decimal::from_i128_with_scale(
                if scaled < 0 { -rounded } else { rounded },
                PLACES,
            );
        }
    }
    (revenue / Decimal::from(sessions)).round_dp(PLACES)
}

/// Hourly rows in (campaign, hour, body order) order, each with its campaign's rank among the
/// date's campaigns. Comparing campaign ids in a sort costs a string comparison per step, for
/// tens of thousands of rows a date, while a date has only a few thousand campaigns. So each
/// campaign is ranked once (its hours are adjacent in a body, so finding a row's rank is
/// usually one comparison with the row before), and the rows are sorted by (rank, hour,
/// position) packed into one integer: the order a stable sort by (campaign, hour) gives.
fn in_campaign_hour_order<'s, A: Copy, B: Copy>(
    rows: Vec<(&'s str, u8, A, B)>,
) -> Vec<(u32, &'s str, u8, A, B)> {
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

fn roas(revenue: Option<Decimal>, spend: Option<Decimal>) -> Option<f64> {
    match (revenue, spend) {
        (Some(r), Some(s)) if s > Decimal::ZERO => (r / s).to_f64(),
        _ => None,
    }
}

/// Events in (fetched_at, id) order, each once: the order every projection walks.
fn sorted_events<'e>(events: impl IntoIterator<Item = &'e Event>) -> Vec<&'e Event> {
    let mut sorted: Vec<&Event> = events.into_iter().collect();
    sorted.sort_by(|a, b| (a.envelope.fetched_at, a.id).cmp(&(b.envelope.fetched_at, b.id)));
    sorted.dedup_by(|a, b| a.id == b.id);
    sorted
}

/// Everything one date contributes to the tables.
#[derive(Debug, Clone, Default)]
pub struct DayProjection {
    pub date: Option<NaiveDate>,
    pub campaign_index: Vec<CampaignRow>,
    pub session_hourly: Vec<HourRow>,
    pub completeness: Vec<CompletenessRow>,
    pub lineage: Vec<LineageRow>,
    pub session_lineage: Vec<SessionLineage>,
    pub quarantine: Vec<QuarantineRow>,
    pub raw_events: Vec<RawEventRow>,
    pub unmapped_campaigns: BTreeSet<(NaiveDate, String)>,
    pub unmapped_network_ids: BTreeSet<String>,
}

/// Per-run figures gathered from the session fetches as dates stream by.
#[derive(Debug, Clone, Default)]
struct SessionRunStats {
    max_hour: Option<i32>,
    sessions: i64,
    campaigns: BTreeSet<String>,
}

/// The projection as a fold over dates in ascending order: each date's events go in once, its
/// rows come out, and only [`Carry`] (bounded: identity pairs and seven days of context) is
/// kept between dates. Memory is one date's bodies and rows, whatever the size of the lake.
pub struct Projector<'c> {
    config: &'c ProjectorConfig,
    window: Option<DateWindow>,
    carry: Carry,
    last_date: Option<NaiveDate>,
    run_stats: BTreeMap<String, SessionRunStats>,
    events_applied: Vec<EventId>,
    /// Media source → its spend precedence, `strategis_metrics` last: the configuration's,
    /// read once.
    spend_orders: BTreeMap<String, Vec<EndpointId>>,
    /// One shared copy of each media source's name, for the rows that carry it.
    media_sources: BTreeMap<String, Arc<str>>,
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

    fn in_window(&self, d: NaiveDate) -> bool {
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
        for (key, list) in &fetches {
            let Some(newest) = list.last() else { continue };
            let spec = newest.endpoint;
            let rows = newest.rows.len() as i64;
            let within_lag =
                *key == "s1_reconciled" && (newest.finished_at.date_naive() - date).num_days() < 2;
            // A fetch stopped at the page limit is PARTIAL, though its rows are not used.
            let status = if newest.page_limit_hit {
                "PARTIAL"
            } else if !newest.success {
                "FAILED"
            } else if newest.bad_rows > 0 || (rows == 0 && spec.critical && !within_lag) {
                "PARTIAL"
            } else {
                "OK"
            };
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
                out.completeness.push(row);
            }
        }

        self.campaign_rows(&day, &fetches, &mut out);

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
            out.quarantine = quarantine;
            out.raw_events = day
                .events
                .iter()
                .zip(&day.event_index)
                .map(|(e, &i)| RawEventRow { event_index: Some(i), ..raw_event_row(e) })
                .collect();
        } else {
            out.campaign_index.clear();
            out.lineage.clear();
            out.session_lineage.clear();
            out.unmapped_campaigns.clear();
            out.unmapped_network_ids.clear();
        }
        self.carry.forget_before(date);
        // Each table's rows of a date in key order (session rows are built in it; lineage keeps
        // its build order): the order Projection::sort gives them, so a date's batch (and its
        // fingerprint) is the same whichever way it was projected.
        out.campaign_index.sort_by_cached_key(|r| r.key());
        out.session_lineage.sort_unstable();
        out.raw_events.sort_by(|a, b| (&a.source, &a.event_id).cmp(&(&b.source, &b.event_id)));
        out
    }

    fn campaign_rows<'d>(
        &mut self,
        day: &DayData<'_>,
        fetches: &Fetches<'d>,
        out: &mut DayProjection,
    ) {
        let date = day.date;
        let config = self.config;
        let (s1_daily, s1_reconciled, strategis, fb_campaigns) = (
            endpoint_id!("s1_daily_v3"),
            endpoint_id!("s1_reconciled"),
            endpoint_id!("strategis_metrics"),
            endpoint_id!("facebook_campaigns"),
        );
        let Carry { identity, daily_meta, .. } = &mut self.carry;
        let identity = &*identity;
        // Campaign key → its place in `sources`. Keys borrow the body's Strategis id, the
        // carry's pairing or a campaign name's prefix; nothing is copied to group rows.
        let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
        let mut sources: Vec<KeySources<'d>> = Vec::new();
        let mut adsets: Vec<(&str, RowRef, &SourceRow)> = Vec::new();
        // Adset rows carry no campaign name: the name-prefix rule uses their campaign's name.
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        for key in ["facebook_campaigns", "facebook_report"] {
            if let Some(f) = snapshot(fetches, key) {
                for &(_, r) in &f.rows {
                    if let (Some(pid), Some(name)) =
                        (r.platform_campaign_id.as_deref(), r.campaign_name.as_deref())
                    {
                        names.entry(pid).or_insert(name);
                    }
                }
            }
        }
        for spec in ENDPOINTS.iter().filter(|s| !s.sessions) {
            let Some(f) = snapshot(fetches, spec.key) else { continue };
            let Some(endpoint) = EndpointId::of(spec.key) else { continue };
            let any_date = endpoint == endpoint_id!("s1_rpc_average") || endpoint == fb_campaigns;
            for &(at, row) in &f.rows {
                if row.date.is_some_and(|d| d != date) && !any_date {
                    continue;
                }
                let (key, unmapped) =
                    match (row.strategis_id.as_deref(), row.platform_campaign_id.as_deref()) {
                        (Some(sid), _) => (sid, false),
                        (None, Some(pid)) => match resolve(
                            identity,
                            pid,
                            row.campaign_name.as_deref().or_else(|| names.get(pid).copied()),
                            date,
                        ) {
                            Some(sid) => (sid, false),
                            None => (pid, true),
                        },
                        (None, None) => continue,
                    };
                let at_key = *keys.entry(key).or_insert_with(|| {
                    sources.push(KeySources::default());
                    sources.len() - 1
                });
                let key_sources = &mut sources[at_key];
                key_sources.unmapped |= unmapped;
                if endpoint == endpoint_id!("facebook_adsets") {
                    adsets.push((key, at, row));
                    key_sources.has_adsets = true;
                }
                if spec.platform != "all" && key_sources.platform.is_none() {
                    key_sources.platform = Some(spec.platform);
                }
                key_sources.add(endpoint, row, at);
            }
        }
        // Each source row gets one or two entries (chosen or lost; the revenue reports one for
        // their own snapshot's columns, one for the shared ones); reserving that up front
        // spares copying a date's entries as the vector grows.
        let source_rows: usize = sources
            .iter()
            .flat_map(|s| s.by_endpoint.iter().flatten())
            .map(|a| a.refs().len())
            .sum();
        out.lineage.reserve(2 * source_rows + 2 * adsets.len());
        // Daily campaign rows (and their lineage) of the campaigns that have adset rows, which
        // copy them below.
        let mut parents: BTreeMap<&str, (CampaignRow, RowBuilder)> = BTreeMap::new();
        // Reused from key to key: a date has thousands.
        let (mut b, mut rb) = (RowBuilder::default(), RowBuilder::default());
        let (mut platform_reports, mut name_order, mut meta_order): (
            Vec<EndpointId>,
            Vec<EndpointId>,
            Vec<EndpointId>,
        ) = Default::default();
        let only_strategis = [strategis];
        for (&key, &at_key) in &keys {
            let src = &sources[at_key];
            let unmapped = src.unmapped;
            if unmapped {
                out.unmapped_campaigns.insert((date, key.to_owned()));
            }
            b.clear();
            let network_id: Option<Arc<str>> = b
                .take(
                    day,
                    column!("network_id"),
                    pick(src, &[s1_daily], |r| r.network_id.as_deref()),
                )
                .map(Arc::from);
            let media_source = match &network_id {
                Some(id) => {
                    let m = config
                        .network_map
                        .get(&**id)
                        .map(|m| shared_name(&mut self.media_sources, m));
                    if m.is_none() {
                        out.unmapped_network_ids.insert(id.to_string());
                    }
                    m
                }
                None => src.platform.map(|p| shared_name(&mut self.media_sources, p)),
            };
            let spend_order: &[EndpointId] = media_source
                .as_deref()
                .and_then(|m| self.spend_orders.get(m))
                .map_or(&only_strategis, Vec::as_slice);
            let spend = pick(src, spend_order, |r| r.spend);
            let spend_source = spend.endpoint;
            let spend_usd = b.take(day, column!("spend_usd"), spend);
            let same: &[EndpointId] = spend_source.as_slice();
            let clicks = b.take(day, column!("clicks"), pick(src, same, |r| r.clicks));
            // strategis_metrics, then the spend endpoint if there is one.
            let strategis_then_same = [strategis, spend_source.unwrap_or(strategis)];
            let impressions = b.take(
                day,
                column!("impressions"),
                pick(src, &strategis_then_same[..1 + same.len()], |r| r.impressions),
            );
            let conversion_order: &[EndpointId] = if media_source.as_deref() == Some("facebook") {
                &[endpoint_id!("facebook_pixel"), endpoint_id!("facebook_report")]
            } else {
                same
            };
            let conversions =
                b.take(day, column!("conversions"), pick(src, conversion_order, |r| r.conversions));
            let avg_rpc_3d = b.take(
                day,
                column!("avg_rpc_3d"),
                pick(src, &[endpoint_id!("s1_rpc_average")], |r| r.rpc),
            );
            let buyer_order = [s1_daily, s1_reconciled, fb_campaigns];
            let owner = b
                .take(day, column!("owner"), pick(src, &buyer_order, |r| r.buyer.as_deref()))
                .map(Arc::from);
            let lane = b
                .take(day, column!("lane"), pick(src, &[fb_campaigns], |r| r.lane.as_deref()))
                .map(Arc::from);
            let category = b
                .take(day, column!("category"), pick(src, &buyer_order, |r| r.category.as_deref()))
                .map(Arc::from);
            // "The platform report": the spend endpoint first, then the platform's other reports.
            platform_reports.clear();
            for &e in same.iter().chain(spend_order.iter().filter(|e| **e != strategis)) {
                if !platform_reports.contains(&e) {
                    platform_reports.push(e);
                }
            }
            name_order.clear();
            name_order.extend([fb_campaigns, s1_daily]);
            name_order.extend(platform_reports.iter().copied().filter(|e| *e != fb_campaigns));
            let campaign_name = b
                .take(
                    day,
                    column!("campaign_name"),
                    pick(src, &name_order, |r| r.campaign_name.as_deref()),
                )
                .map(Arc::from);
            meta_order.clear();
            meta_order.push(s1_daily);
            meta_order.extend(platform_reports.iter().copied());
            let account_id = b
                .take(
                    day,
                    column!("account_id"),
                    pick(src, &meta_order, |r| r.account_id.as_deref()),
                )
                .map(Arc::from);
            let rsoc_site = b
                .take(day, column!("rsoc_site"), pick(src, &[s1_daily], |r| r.rsoc_site.as_deref()))
                .map(Arc::from);
            let platform_campaign_id = b
                .take(
                    day,
                    column!("platform_campaign_id"),
                    pick(src, &meta_order, |r| r.platform_campaign_id.as_deref()),
                )
                .map(Arc::from);
            daily_meta.insert(
                (date, key.to_owned()),
                CampaignMeta {
                    owner: owner.clone(),
                    lane: lane.clone(),
                    category: category.clone(),
                    media_source: media_source.clone(),
                },
            );

            let has_reconciled = src.get(s1_reconciled).is_some();
            for snapshot_source in ["daily", "reconciled"] {
                let revenue_endpoint =
                    if snapshot_source == "daily" { s1_daily } else { s1_reconciled };
                if snapshot_source == "reconciled" && !has_reconciled {
                    continue;
                }
                rb.clear();
                let revenue_usd = rb.take(
                    day,
                    column!("revenue_usd"),
                    pick(src, &[revenue_endpoint], |r| r.revenue),
                );
                let sessions = rb.take(
                    day,
                    column!("sessions"),
                    pick(src, &[revenue_endpoint], |r| r.sessions),
                );
                let s1_clicks = rb.take(
                    day,
                    column!("s1_clicks"),
                    pick(src, &[revenue_endpoint], |r| r.s1_clicks),
                );
                let row = CampaignRow {
                    campaign_id: key.to_owned(),
                    date,
                    level: "campaign",
                    snapshot_source,
                    adset_id: None,
                    adset_name: None,
                    campaign_name: campaign_name.clone(),
                    owner: owner.clone(),
                    lane: lane.clone(),
                    category: category.clone(),
                    media_source: media_source.clone(),
                    network_id: network_id.clone(),
                    account_id: account_id.clone(),
                    rsoc_site: rsoc_site.clone(),
                    platform_campaign_id: platform_campaign_id.clone(),
                    spend_usd,
                    spend_source: spend_usd.and(spend_source).map(|e| e.key().to_owned()),
                    revenue_usd,
                    sessions,
                    s1_clicks,
                    clicks,
                    impressions,
                    conversions,
                    roas: roas(revenue_usd, spend_usd),
                    avg_rpc_3d,
                    unmapped,
                    updated_at: rb.newest.max(b.newest),
                };
                let row_key: Arc<str> = Arc::from(row.key());
                rb.finish(day, "campaign_index", "campaign", &row_key, &mut out.lineage);
                if snapshot_source == "daily" {
                    // Every other column comes from the same picks in both rows: its lineage
                    // is written once, with the daily row, and marked as the reconciled row's
                    // too (the `lineage` view lists it under both).
                    let shared = out.lineage.len();
                    b.finish(day, "campaign_index", "campaign", &row_key, &mut out.lineage);
                    for entry in &mut out.lineage[shared..] {
                        entry.both_snapshots = has_reconciled;
                    }
                    if src.has_adsets {
                        parents.insert(key, (row.clone(), b.clone()));
                    }
                }
                out.campaign_index.push(row);
            }
        }

        // Adset rows: campaign metadata copied from the daily campaign row.
        let mut per_adset: BTreeMap<(&str, &str), Agg<'_>> = BTreeMap::new();
        for (key, at, row) in adsets {
            let Some(adset_id) = row.adset_id.as_deref() else { continue };
            Agg::add_to(per_adset.entry((key, adset_id)), row, at);
        }
        for ((key, adset_id), agg) in per_adset {
            let parent = parents.get(key);
            let p = parent.map(|(row, _)| row);
            // The parent's sources of what the row copies; its other sources (its spend,
            // revenue) contribute nothing to an adset row.
            rb.clear();
            if let Some((_, lineage)) = parent {
                rb.chosen.extend(
                    lineage
                        .chosen
                        .iter()
                        .copied()
                        .filter(|(_, _, column)| column.intersects(ADSET_COPIED)),
                );
            }
            let newest = agg
                .refs()
                .iter()
                .chain(rb.chosen.iter().map(|(_, r, _)| r))
                .map(|r| day.fetched_at(*r))
                .max();
            let row = CampaignRow {
                campaign_id: key.to_owned(),
                date,
                level: "adset",
                snapshot_source: "daily",
                adset_id: Some(adset_id.to_owned()),
                adset_name: agg.row().adset_name.as_deref().map(str::to_owned),
                campaign_name: p.and_then(|p| p.campaign_name.clone()),
                owner: p.and_then(|p| p.owner.clone()),
                lane: p.and_then(|p| p.lane.clone()),
                category: p.and_then(|p| p.category.clone()),
                media_source: p.and_then(|p| p.media_source.clone()),
                network_id: p.and_then(|p| p.network_id.clone()),
                account_id: p.and_then(|p| p.account_id.clone()),
                rsoc_site: p.and_then(|p| p.rsoc_site.clone()),
                platform_campaign_id: p
                    .and_then(|p| p.platform_campaign_id.clone())
                    .or_else(|| agg.row().platform_campaign_id.as_deref().map(Arc::from)),
                spend_usd: agg.row().spend,
                spend_source: agg.row().spend.map(|_| "facebook_adsets".to_owned()),
                revenue_usd: None,
                sessions: None,
                s1_clicks: None,
                clicks: agg.row().clicks,
                impressions: agg.row().impressions,
                conversions: None,
                roas: None,
                avg_rpc_3d: None,
                unmapped: p.is_none_or(|p| p.unmapped),
                updated_at: newest,
            };
            let row_key: Arc<str> = Arc::from(row.key());
            if parent.is_some() {
                rb.finish(day, "campaign_index", "adset_copied", &row_key, &mut out.lineage);
            }
            let own = [
                (column!("spend_usd"), row.spend_usd.is_some()),
                (column!("clicks"), row.clicks.is_some()),
                (column!("impressions"), row.impressions.is_some()),
            ]
            .into_iter()
            .filter(|(_, present)| *present)
            .fold(Columns::EMPTY, |set, (c, _)| set.with(c));
            if !own.is_empty() {
                for &r in agg.refs() {
                    out.lineage.push(LineageRow::new(
                        day,
                        "campaign_index",
                        "adset_own",
                        &row_key,
                        own,
                        "facebook_adsets",
                        r,
                        true,
                        None,
                    ));
                }
            }
            out.campaign_index.push(row);
        }
    }

    fn session_rows(
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
        out.session_hourly.reserve(rows.len());
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
                let runs = &mut out.session_lineage;
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
            out.session_hourly.push(row);
        }
    }

    /// The run tables, from every run marker, and the markers' raw_events rows. Call after the
    /// last date: session runs count the session fetches seen on the way.
    pub fn runs(&mut self, markers: &[Event]) -> (Vec<RunRow>, Vec<RunRow>, Vec<RawEventRow>) {
        let markers = sorted_events(markers);
        let mut runs: BTreeMap<&str, (Option<&Event>, Option<&Event>)> = BTreeMap::new();
        let mut raw = Vec::new();
        for e in markers.iter().copied() {
            let Some(marker) = &e.envelope.run else { continue };
            self.events_applied.push(e.id);
            raw.push(raw_event_row(e));
            let slot = runs.entry(e.envelope.run_id.as_str()).or_default();
            match marker.phase {
                RunPhase::Started => slot.0 = Some(e),
                RunPhase::Finished => slot.1 = Some(e),
            }
        }
        let (mut campaign_runs, mut session_runs) = (Vec::new(), Vec::new());
        for (run_id, (started, finished)) in runs {
            let detail = |e: Option<&Event>| {
                e.and_then(|e| e.envelope.run.as_ref().map(|r| r.detail.clone()))
            };
            let start = detail(started).unwrap_or_default();
            let finish = detail(finished);
            let src = finish.as_ref().unwrap_or(&start);
            let date_of =
                |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<NaiveDate>().ok());
            let date_from = date_of(&src["date_from"]);
            let date_to = date_of(&src["date_to"]);
            if let Some(w) = self.window {
                // Incremental projections only rewrite runs wholly inside the window.
                if !(date_from.is_some_and(|d| w.contains(d))
                    && date_to.is_some_and(|d| w.contains(d)))
                {
                    continue;
                }
            }
            let endpoints: Vec<String> = src["endpoints"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let fetch_rows = |session: bool| -> i64 {
                finish
                    .as_ref()
                    .and_then(|f| f["fetches"].as_array())
                    .map(|fs| {
                        fs.iter()
                            .filter(|f| (f["endpoint"].as_str() == Some("s1_hourly_v3")) == session)
                            .filter_map(|f| f["rows"].as_i64())
                            .fold(0, i64::saturating_add)
                    })
                    .unwrap_or(0)
            };
            let status = match &finish {
                Some(f) => f["status"].as_str().unwrap_or("failed").to_owned(),
                None => "interrupted".to_owned(),
            };
            let base = RunRow {
                run_id: run_id.to_owned(),
                date_from,
                date_to,
                endpoints: endpoints.join(","),
                started_at: started.map(|e| e.envelope.fetched_at),
                finished_at: finished.map(|e| e.envelope.fetched_at),
                status,
                row_count: fetch_rows(false),
                events_written: finish
                    .as_ref()
                    .and_then(|f| f["events_written"].as_i64())
                    .unwrap_or(0),
                bytes_new: finish.as_ref().and_then(|f| f["bytes_new"].as_i64()).unwrap_or(0),
                message: finish
                    .as_ref()
                    .and_then(|f| f["message"].as_str())
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned),
                max_click_hour: None,
                session_count: None,
                campaign_count: None,
            };
            if endpoints.iter().any(|e| e == "s1_hourly_v3") {
                let stats = self.run_stats.get(run_id).cloned().unwrap_or_default();
                let mut session = base.clone();
                session.row_count = fetch_rows(true);
                session.max_click_hour = stats.max_hour;
                session.session_count = Some(stats.sessions);
                session.campaign_count = Some(stats.campaigns.len() as i64);
                session_runs.push(session);
            }
            campaign_runs.push(base);
        }
        (campaign_runs, session_runs, raw)
    }

    /// Every event id read so far, sorted.
    pub fn events_applied(&self) -> Vec<EventId> {
        let mut ids = self.events_applied.clone();
        ids.sort();
        ids.dedup();
        ids
    }
}

fn raw_event_row(e: &Event) -> RawEventRow {
    let env = &e.envelope;
    RawEventRow {
        event_id: e.id.to_hex(),
        event_index: None,
        kind: if env.http.is_some() { "http" } else { "run" },
        source: env.source.clone(),
        date: env.date,
        run_id: env.run_id.clone(),
        fetched_at: env.fetched_at,
        fetch_id: env.http.as_ref().map(|h| h.fetch_id.clone()),
        attempt: env.http.as_ref().map(|h| h.attempt as i32),
        page: env.http.as_ref().map(|h| h.page as i32),
        http_status: env.http.as_ref().and_then(|h| h.status.map(i32::from)),
        error: env.http.as_ref().and_then(|h| h.error.clone()),
        url: env.http.as_ref().map(|h| h.url.clone()),
        body_sha256: env.body.map(|b| b.sha256.to_hex()),
        body_len: env.body.map(|b| b.len as i64),
    }
}

impl Projection {
    /// Adds one date's rows.
    pub fn absorb(&mut self, day: DayProjection) {
        self.campaign_index.extend(day.campaign_index);
        self.session_hourly.extend(day.session_hourly);
        self.completeness.extend(day.completeness);
        self.lineage.extend(day.lineage);
        self.session_lineage.extend(day.session_lineage);
        self.quarantine.extend(day.quarantine);
        self.raw_events.extend(day.raw_events);
        self.unmapped_campaigns.extend(day.unmapped_campaigns);
        self.unmapped_network_ids.extend(day.unmapped_network_ids);
    }

    /// Every table in its key order.
    fn sort(&mut self) {
        self.campaign_index.sort_by_cached_key(|r| r.key());
        self.session_hourly.sort_by(|a, b| {
            (&a.campaign_id, a.date, a.click_hour).cmp(&(&b.campaign_id, b.date, b.click_hour))
        });
        self.completeness.sort_by(|a, b| (a.date, a.endpoint).cmp(&(b.date, b.endpoint)));
        self.session_lineage.sort();
        self.quarantine.sort();
        self.raw_events.sort_by(|a, b| {
            (a.date, &a.source, &a.event_id).cmp(&(b.date, &b.source, &b.event_id))
        });
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
        out.absorb(day);
    }
    let (campaign_runs, session_runs, raw) = projector.runs(&markers);
    out.campaign_runs = campaign_runs;
    out.session_runs = session_runs;
    out.raw_events.extend(raw);
    out.events_applied = projector.events_applied();
    out.sort();
    out
}

/// One metric of one campaign that changed between two successful fetches of a day.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Delta {
    pub campaign: String,
    pub metric: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
    /// `after - before` (a missing side counts as 0 here only).
    pub change: Decimal,
}

/// A day of one endpoint whose payload changed from one successful fetch to the next.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Restatement {
    pub endpoint: &'static str,
    pub date: NaiveDate,
    pub before_fetched_at: DateTime<Utc>,
    pub after_fetched_at: DateTime<Utc>,
    pub before_events: Vec<String>,
    pub after_events: Vec<String>,
    pub deltas: Vec<Delta>,
}

impl Restatement {
    pub fn largest_change(&self) -> Decimal {
        self.deltas.iter().map(|d| d.change.abs()).max().unwrap_or_default()
    }
}

/// Restatements in `events`: consecutive successful fetches of the same (endpoint, date)
/// whose decoded numbers differ. Identical re-fetches are not restatements. Largest first.
pub fn restatements(events: &[Event]) -> Vec<Restatement> {
    let (_, dates) = by_date(events);
    let mut out = Vec::new();
    for (date, day_events) in &dates {
        let day = DayData::new(*date, day_events);
        let (mut fetches, _) = collect_fetches(&day);
        for list in fetches.values_mut() {
            list.retain(|f| f.success);
        }
        for list in fetches.values() {
            for pair in list.windows(2) {
                if let Some(r) = restatement(&day, &pair[0], &pair[1]) {
                    out.push(r);
                }
            }
        }
    }
    out.sort_by(|p, q| {
        q.largest_change().cmp(&p.largest_change()).then_with(|| {
            (p.date, p.endpoint, p.after_fetched_at).cmp(&(q.date, q.endpoint, q.after_fetched_at))
        })
    });
    out
}

/// What changed from fetch `a` to fetch `b` of the same (endpoint, date), if anything.
fn restatement(day: &DayData<'_>, a: &Fetch<'_>, b: &Fetch<'_>) -> Option<Restatement> {
    let hashes = |f: &Fetch| -> Vec<Option<adlake_raw::BodyHash>> {
        f.events.iter().map(|&i| day.events[i].envelope.body.map(|b| b.sha256)).collect()
    };
    if hashes(a) == hashes(b) {
        return None;
    }
    let totals = |f: &Fetch| -> BTreeMap<(String, &'static str), Decimal> {
        let mut t = BTreeMap::new();
        for (_, r) in &f.rows {
            let Some(key) = r.strategis_id.clone().or_else(|| r.platform_campaign_id.clone())
            else {
                continue;
            };
            let key = match (r.hour, &r.adset_id) {
                (Some(h), _) => format!("{key} hour {h}"),
                (None, Some(a)) => format!("{key} adset {a}"),
                _ => key.into_owned(),
            };
            let metrics: [(&'static str, Option<Decimal>); 7] = [
                ("revenue", r.revenue),
                ("spend", r.spend),
                ("sessions", r.sessions.map(Decimal::from)),
                ("s1_clicks", r.s1_clicks.map(Decimal::from)),
                ("clicks", r.clicks.map(Decimal::from)),
                ("impressions", r.impressions.map(Decimal::from)),
                ("conversions", r.conversions.map(Decimal::from)),
            ];
            for (m, v) in metrics {
                if let Some(v) = v {
                    *t.entry((key.clone(), m)).or_insert(Decimal::ZERO) += v;
                }
            }
        }
        t
    };
    let (ta, tb) = (totals(a), totals(b));
    let keys: BTreeSet<&(String, &'static str)> = ta.keys().chain(tb.keys()).collect();
    let mut deltas: Vec<Delta> = keys
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (ta.get(k), tb.get(k));
            (x != y).then(|| Delta {
                campaign: k.0.clone(),
                metric: k.1,
                before: x.map(|v| v.to_string()),
                after: y.map(|v| v.to_string()),
                change: y.copied().unwrap_or_default() - x.copied().unwrap_or_default(),
            })
        })
        .collect();
    if deltas.is_empty() {
        return None;
    }
    deltas.sort_by(|p, q| {
        q.change
            .abs()
            .cmp(&p.change.abs())
            .then_with(|| (&p.campaign, p.metric).cmp(&(&q.campaign, q.metric)))
    });
    Some(Restatement {
        endpoint: a.endpoint.key,
        date: day.date,
        before_fetched_at: a.finished_at,
        after_fetched_at: b.finished_at,
        before_events: a.events.iter().map(|&i| day.events[i].id.to_hex()).collect(),
        after_events: b.events.iter().map(|&i| day.events[i].id.to_hex()).collect(),
        deltas,
    })
}

#[cfg(test)]
#[path = "project_tests.rs"]
mod tests;
