//! The projection: `tables = project(events, config)`, a pure function.
//!
//! Invariants (see `projection-rules.md`):
//! - Output depends only on the set of events, never on their order: events are sorted by
//!   (fetched_at, id) first, every map is a `BTreeMap`, every output is sorted by its key.
//! - Per (endpoint, date) the latest *successful* fetch is the snapshot; a later failure
//!   never erases it. A body that cannot be decoded is quarantined, never fatal.
//! - Values are taken from the first source in precedence order that has them, never summed
//!   across sources; rows of one source for one key are summed within that source.
//! - Every projected value has lineage: event id, body sha256, row locator, and the rule.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use adlake_raw::{Envelope, EventId, RunPhase};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::decode::{Decoded, SourceRow};
use crate::registry::{probe, EndpointSpec, NextPage, Probe, ENDPOINTS};

/// Bumped whenever a rule changes what a projection produces.
pub const PROJECTOR_VERSION: &str = "adlake-projector/1";
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
            ("107", "taboola"), ("108", "gemini"), ("109", "outbrain"), ("110", "facebook"), ("111", "tiktok"), ("112", "facebook"),
            ("113", "mediago"), ("114", "googleads"), ("115", "zemanta"), ("116", "newsbreak"), ("117", "smartnews"),
        ];
        ProjectorConfig {
            network_map: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            spend_precedence: SPEND_BY_PLATFORM.iter().map(|(p, e)| (p.to_string(), e.to_vec())).collect(),
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

#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub campaign_id: String,
    pub date: NaiveDate,
    pub level: &'static str,
    pub snapshot_source: &'static str,
    pub adset_id: Option<String>,
    pub adset_name: Option<String>,
    pub campaign_name: Option<String>,
    pub owner: Option<String>,
    pub lane: Option<String>,
    pub category: Option<String>,
    pub media_source: Option<String>,
    pub network_id: Option<String>,
    pub account_id: Option<String>,
    pub rsoc_site: Option<String>,
    pub platform_campaign_id: Option<String>,
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
    pub fn key(&self) -> String {
        format!("{}|{}|{}|{}|{}", self.campaign_id, self.date, self.level, self.snapshot_source, self.adset_id.as_deref().unwrap_or(""))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HourRow {
    pub campaign_id: String,
    pub date: NaiveDate,
    pub click_hour: u8,
    pub sessions: Option<i64>,
    pub revenue: Option<Decimal>,
    pub rpc: Option<Decimal>,
    pub owner: Option<String>,
    pub lane: Option<String>,
    pub category: Option<String>,
    pub media_source: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl HourRow {
    pub fn key(&self) -> String {
        format!("{}|{}|{}", self.campaign_id, self.date, self.click_hour)
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

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineageRow {
    pub table_name: &'static str,
    pub date: NaiveDate,
    pub row_key: String,
    pub column_name: &'static str,
    pub endpoint: &'static str,
    pub event_id: String,
    pub body_sha256: Option<String>,
    pub locator: String,
    pub rule: String,
    /// `false` for a source that had a value but lost to a higher-precedence one.
    pub chosen: bool,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QuarantineRow {
    pub event_id: String,
    pub endpoint: String,
    pub date: NaiveDate,
    pub body_sha256: Option<String>,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawEventRow {
    pub event_id: String,
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
    pub lineage: Vec<LineageRow>,
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

/// Where a row came from: index into the sorted events, and the locator inside the body.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowRef {
    event: usize,
    locator: String,
}

struct Fetch {
    endpoint: &'static EndpointSpec,
    run_id: String,
    events: Vec<usize>,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    newest_event: EventId,
    attempts: usize,
    pages: u32,
    success: bool,
    page_limit_hit: bool,
    bad_rows: usize,
    rows: Vec<(RowRef, SourceRow)>,
    error: Option<String>,
    http_status: Option<u16>,
}

fn limit_of(url: &str) -> u32 {
    url.split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("limit=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

struct Decoder<'a> {
    events: &'a [Event],
    cache: BTreeMap<(&'static str, adlake_raw::BodyHash), Arc<Result<Decoded, String>>>,
}

impl<'a> Decoder<'a> {
    fn decode(&mut self, spec: &'static EndpointSpec, i: usize) -> Option<Arc<Result<Decoded, String>>> {
        let e = &self.events[i];
        let body_ref = e.envelope.body?;
        let body = e.body.as_ref()?;
        let key = (spec.key, body_ref.sha256);
        if let Some(hit) = self.cache.get(&key) {
            return Some(hit.clone());
        }
        let decoded = Arc::new((spec.decode)(body).map_err(|e| e.0));
        self.cache.insert(key, decoded.clone());
        Some(decoded)
    }
}

fn build_fetch(spec: &'static EndpointSpec, date: NaiveDate, idx: Vec<usize>, events: &[Event], dec: &mut Decoder<'_>, quarantine: &mut BTreeSet<QuarantineRow>) -> Fetch {
    let first = &events[idx[0]].envelope;
    let last = &events[*idx.last().unwrap_or(&idx[0])];
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
        if let Some(h) = &events[i].envelope.http {
            last_attempt.insert(h.page, i);
            if h.status.is_none_or(|s| !(200..300).contains(&s)) || h.error.is_some() {
                fetch.error = Some(match (&h.error, h.status) {
                    (Some(e), _) => e.clone(),
                    (None, Some(s)) => format!("HTTP {s}"),
                    (None, None) => "no response".into(),
                });
            }
        }
        // Quarantine every 2xx body that does not decode.
        let e = &events[i];
        if let (Some(h), Some(b)) = (&e.envelope.http, e.envelope.body) {
            if h.status.is_some_and(|s| (200..300).contains(&s)) {
                let body = e.body.as_deref().unwrap_or_default();
                let probed = probe(spec, h.status.unwrap_or(200), body, h.page, limit_of(&h.url));
                let failure = match probed {
                    Probe::Unparseable { detail } => Some(detail),
                    Probe::Data { .. } => match dec.decode(spec, i).as_deref() {
                        Some(Err(d)) => Some(d.clone()),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(error) = failure {
                    fetch.error = Some(format!("unparseable body: {error}"));
                    quarantine.insert(QuarantineRow { event_id: e.id.to_hex(), endpoint: spec.key.into(), date, body_sha256: Some(b.sha256.to_hex()), error });
                }
            }
        }
    }
    fetch.pages = last_attempt.keys().max().copied().unwrap_or(0);
    let contiguous = last_attempt.keys().copied().eq(1..=fetch.pages);
    let mut ok = contiguous && fetch.pages > 0;
    let mut rows = Vec::new();
    for (&page, &i) in &last_attempt {
        let e = &events[i];
        let Some(h) = &e.envelope.http else { ok = false; break };
        let status = h.status.unwrap_or(0);
        let body = e.body.as_deref().unwrap_or_default();
        match probe(spec, status, body, page, limit_of(&h.url)) {
            Probe::Data { next, .. } if (200..300).contains(&status) => {
                if page == fetch.pages && next != NextPage::Done {
                    fetch.page_limit_hit = true;
                }
            }
            _ => {
                ok = false;
                break;
            }
        }
        match dec.decode(spec, i).as_deref() {
            Some(Ok(decoded)) => {
                fetch.bad_rows += decoded.bad_rows.len();
                rows.extend(decoded.rows.iter().map(|r| (RowRef { event: i, locator: r.locator.clone() }, r.clone())));
            }
            _ => {
                ok = false;
                break;
            }
        }
    }
    fetch.success = ok;
    if ok {
        fetch.rows = rows;
        if !fetch.page_limit_hit && fetch.bad_rows == 0 {
            fetch.error = None;
        }
    }
    fetch
}

// ---------------------------------------------------------------------------------------
// Merging

#[derive(Default, Clone)]
struct Agg {
    row: SourceRow,
    refs: Vec<RowRef>,
}

impl Agg {
    fn add(&mut self, r: &SourceRow, at: RowRef) {
        use crate::decode::sum_opt;
        let first = self.refs.is_empty();
        let s = &mut self.row;
        s.revenue = sum_opt(s.revenue, r.revenue);
        s.sessions = sum_opt(s.sessions, r.sessions);
        s.s1_clicks = sum_opt(s.s1_clicks, r.s1_clicks);
        s.spend = sum_opt(s.spend, r.spend);
        s.clicks = sum_opt(s.clicks, r.clicks);
        s.impressions = sum_opt(s.impressions, r.impressions);
        s.conversions = sum_opt(s.conversions, r.conversions);
        if first {
            s.rpc = r.rpc;
        }
        macro_rules! keep_first {
            ($($f:ident),*) => { $( if s.$f.is_none() { s.$f = r.$f.clone(); } )* };
        }
        keep_first!(date, strategis_id, platform_campaign_id, campaign_name, network_id, account_id, rsoc_site, buyer, category, lane, adset_name);
        self.refs.push(at);
    }
}

/// Per date: campaign key → endpoint → aggregated rows of that endpoint's snapshot.
type DaySources = BTreeMap<String, BTreeMap<&'static str, Agg>>;

struct Identity {
    /// platform id → date first seen → strategis ids seen that date
    pairs: BTreeMap<String, BTreeMap<NaiveDate, BTreeSet<String>>>,
}

impl Identity {
    fn resolve(&self, platform_id: &str, name: Option<&str>, date: NaiveDate) -> Option<(String, &'static str)> {
        if let Some(by_date) = self.pairs.get(platform_id) {
            if let Some((_, sids)) = by_date.range(..=date).next_back() {
                if let Some(sid) = sids.iter().next() {
                    return Some((sid.clone(), "networkCampaignId seen in s1_daily_v3"));
                }
            }
        }
        name.and_then(name_prefix).map(|p| (p, "campaign name prefix"))
    }
}

/// The Strategis id at the start of a campaign name: 6-14 of `[a-z0-9]`, not all digits.
pub fn name_prefix(name: &str) -> Option<String> {
    let prefix = name.split('_').next()?;
    let ok = (6..=14).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && !prefix.bytes().all(|b| b.is_ascii_digit())
        && name.contains('_');
    ok.then(|| prefix.to_owned())
}

/// Campaign metadata an adset row copies from its campaign row.
const ADSET_COPIED: &[&str] = &["campaign_name", "owner", "lane", "category", "network_id", "account_id", "rsoc_site", "platform_campaign_id"];

const SPEND_BY_PLATFORM: &[(&str, &[&str])] = &[
    ("facebook", &["facebook_report", "facebook_adsets"]),
    ("taboola", &["taboola_report"]),
    ("outbrain", &["outbrain_report"]),
    ("newsbreak", &["newsbreak_report"]),
    ("mediago", &["mediago_report"]),
    ("zemanta", &["zemanta_report"]),
    ("smartnews", &["smartnews_report"]),
];

struct Pick<T> {
    value: Option<T>,
    endpoint: Option<&'static str>,
    refs: Vec<RowRef>,
    rule: String,
    /// Sources later in the order that also had a value: (endpoint, rows, value).
    losers: Vec<(&'static str, Vec<RowRef>, String)>,
}

fn pick<T: Clone + std::fmt::Display>(sources: &BTreeMap<&'static str, Agg>, order: &[&'static str], rule: &str, get: impl Fn(&SourceRow) -> Option<T>) -> Pick<T> {
    for (i, &endpoint) in order.iter().enumerate() {
        if let Some(agg) = sources.get(endpoint) {
            if let Some(v) = get(&agg.row) {
                let losers: Vec<(&'static str, Vec<RowRef>, String)> = order[i + 1..]
                    .iter()
                    .filter_map(|e| sources.get(e).and_then(|a| get(&a.row).map(|lv| (*e, a.refs.clone(), lv.to_string()))))
                    .collect();
                let mut rule = format!("{rule}: first of [{}] with a value", order.join(", "));
                if !losers.is_empty() {
                    let named: Vec<String> = losers.iter().map(|(e, _, v)| format!("{e} had {v}")).collect();
                    rule.push_str(&format!("; not used: {}", named.join(", ")));
                }
                return Pick { value: Some(v), endpoint: Some(endpoint), refs: agg.refs.clone(), rule, losers };
            }
        }
    }
    Pick { value: None, endpoint: None, refs: Vec::new(), rule: String::new(), losers: Vec::new() }
}

struct RowBuilder<'a> {
    events: &'a [Event],
    date: NaiveDate,
    lineage: Vec<LineageRow>,
    newest: Option<DateTime<Utc>>,
}

impl RowBuilder<'_> {
    fn take<T: std::fmt::Display>(&mut self, column: &'static str, p: Pick<T>) -> Option<T> {
        if let (Some(value), Some(endpoint)) = (&p.value, p.endpoint) {
            let value = value.to_string();
            let chosen = std::iter::once((endpoint, &p.refs, value, true));
            let lost = p.losers.iter().map(|(e, refs, v)| (*e, refs, v.clone(), false));
            for (endpoint, refs, value, chosen) in chosen.chain(lost) {
                for r in refs {
                    let e = &self.events[r.event];
                    if chosen {
                        self.newest = self.newest.max(Some(e.envelope.fetched_at));
                    }
                    self.lineage.push(LineageRow {
                        table_name: "campaign_index",
                        date: self.date,
                        row_key: String::new(),
                        column_name: column,
                        endpoint,
                        event_id: e.id.to_hex(),
                        body_sha256: e.envelope.body.map(|b| b.sha256.to_hex()),
                        locator: r.locator.clone(),
                        rule: p.rule.clone(),
                        chosen,
                        value: Some(value.clone()),
                    });
                }
            }
        }
        p.value
    }

    fn finish(&mut self, key: &str) -> Vec<LineageRow> {
        let mut out = std::mem::take(&mut self.lineage);
        for l in &mut out {
            l.row_key = key.to_owned();
        }
        out
    }
}

/// Lineage of a value taken whole from one source (no precedence involved).
struct SourceLineage<'a> {
    events: &'a [Event],
    table: &'static str,
    date: NaiveDate,
    row_key: &'a str,
    endpoint: &'static str,
    rule: &'static str,
}

impl SourceLineage<'_> {
    fn push(&self, out: &mut Vec<LineageRow>, column: &'static str, value: Option<String>, refs: &[RowRef]) {
        if value.is_none() {
            return;
        }
        for r in refs {
            let e = &self.events[r.event];
            out.push(LineageRow {
                table_name: self.table,
                date: self.date,
                row_key: self.row_key.to_owned(),
                column_name: column,
                endpoint: self.endpoint,
                event_id: e.id.to_hex(),
                body_sha256: e.envelope.body.map(|b| b.sha256.to_hex()),
                locator: r.locator.clone(),
                rule: self.rule.to_owned(),
                chosen: true,
                value: value.clone(),
            });
        }
    }
}

fn roas(revenue: Option<Decimal>, spend: Option<Decimal>) -> Option<f64> {
    match (revenue, spend) {
        (Some(r), Some(s)) if s > Decimal::ZERO => (r / s).to_f64(),
        _ => None,
    }
}

/// Events in (fetched_at, id) order, each once: the order every projection walks.
fn sorted_events(events: &[Event]) -> Vec<Event> {
    let mut sorted = events.to_vec();
    sorted.sort_by(|a, b| (a.envelope.fetched_at, a.id).cmp(&(b.envelope.fetched_at, b.id)));
    sorted.dedup_by(|a, b| a.id == b.id);
    sorted
}

/// Every fetch per (endpoint, date), oldest first by (finished_at, newest event), and the
/// quarantined bodies met on the way.
fn collect_fetches(events: &[Event], decoder: &mut Decoder<'_>) -> (BTreeMap<(&'static str, NaiveDate), Vec<Fetch>>, BTreeSet<QuarantineRow>) {
    let mut by_fetch: BTreeMap<(&'static str, NaiveDate, String), Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if let (Some(h), Some(spec)) = (&e.envelope.http, crate::endpoint(&e.envelope.source)) {
            by_fetch.entry((spec.key, e.envelope.date, h.fetch_id.clone())).or_default().push(i);
        }
    }
    let mut quarantine = BTreeSet::new();
    let mut fetches: BTreeMap<(&'static str, NaiveDate), Vec<Fetch>> = BTreeMap::new();
    for ((key, date, _), idx) in by_fetch {
        let Some(spec) = crate::endpoint(key) else { continue };
        let f = build_fetch(spec, date, idx, events, decoder, &mut quarantine);
        fetches.entry((key, date)).or_default().push(f);
    }
    for list in fetches.values_mut() {
        list.sort_by(|a, b| (a.finished_at, a.newest_event).cmp(&(b.finished_at, b.newest_event)));
    }
    (fetches, quarantine)
}

pub fn project(events: &[Event], window: Option<DateWindow>, config: &ProjectorConfig) -> Projection {
    // Order-independence starts here: everything below walks this sorted order.
    let sorted = sorted_events(events);
    let events = &sorted[..];
    let in_window = |d: NaiveDate| window.is_none_or(|w| w.contains(d));

    let mut out = Projection { window, ..Default::default() };
    out.events_applied = {
        let mut ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
        ids.sort();
        ids
    };

    // raw_events and run markers
    let mut runs: BTreeMap<String, (Option<usize>, Option<usize>)> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let env = &e.envelope;
        if in_window(env.date) || env.run.is_some() {
            out.raw_events.push(RawEventRow {
                event_id: e.id.to_hex(),
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
            });
        }
        if let Some(marker) = &env.run {
            let slot = runs.entry(env.run_id.clone()).or_default();
            match marker.phase {
                RunPhase::Started => slot.0 = Some(i),
                RunPhase::Finished => slot.1 = Some(i),
            }
        }
    }

    let mut decoder = Decoder { events, cache: BTreeMap::new() };
    let (fetches, quarantine) = collect_fetches(events, &mut decoder);
    out.quarantine = quarantine.into_iter().filter(|q| in_window(q.date)).collect();
    let snapshot = |key: &str, date: NaiveDate| -> Option<&Fetch> { fetches.get(&(crate::endpoint(key)?.key, date))?.iter().rev().find(|f| f.success) };

    // Identity pairs from every decodable s1_daily_v3 body, by the date of its rows.
    let mut identity = Identity { pairs: BTreeMap::new() };
    for ((key, date), list) in &fetches {
        if *key != "s1_daily_v3" {
            continue;
        }
        for f in list {
            for &i in &f.events {
                if let Some(Ok(decoded)) = decoder.decode(f.endpoint, i).as_deref() {
                    for r in &decoded.rows {
                        if let (Some(pid), Some(sid)) = (&r.platform_campaign_id, &r.strategis_id) {
                            identity.pairs.entry(pid.clone()).or_default().entry(r.date.unwrap_or(*date)).or_default().insert(sid.clone());
                        }
                    }
                }
            }
        }
    }

    // Completeness for every (date, endpoint) seen.
    let mut completeness_all: BTreeMap<(NaiveDate, &'static str), CompletenessRow> = BTreeMap::new();
    for ((key, date), list) in &fetches {
        let Some(newest) = list.last() else { continue };
        let spec = newest.endpoint;
        let rows = newest.rows.len() as i64;
        let within_lag = *key == "s1_reconciled" && (newest.finished_at.date_naive() - *date).num_days() < 2;
        let status = if !newest.success {
            "FAILED"
        } else if newest.page_limit_hit || newest.bad_rows > 0 || (rows == 0 && spec.critical && !within_lag) {
            "PARTIAL"
        } else {
            "OK"
        };
        let last_success = list.iter().rev().find(|f| f.success).map(|f| f.finished_at);
        completeness_all.insert(
            (*date, spec.key),
            CompletenessRow {
                date: *date,
                endpoint: spec.key,
                platform: spec.platform,
                critical: spec.critical,
                status,
                row_count: newest.success.then_some(rows),
                has_revenue: newest.success.then(|| newest.rows.iter().any(|(_, r)| r.revenue.is_some_and(|v| v > Decimal::ZERO))),
                has_spend: newest.success.then(|| newest.rows.iter().any(|(_, r)| r.spend.is_some_and(|v| v > Decimal::ZERO))),
                error_message: newest.error.clone(),
                retry_count: (newest.attempts as i32 - newest.pages.max(1) as i32).max(0),
                http_status: newest.http_status.map(i32::from),
                run_id: newest.run_id.clone(),
                started_at: newest.started_at,
                finished_at: newest.finished_at,
                last_success_at: last_success,
                expected_min_rows: None,
            },
        );
    }
    let ok_counts: BTreeMap<(&'static str, NaiveDate), i64> = completeness_all
        .values()
        .filter(|c| c.status == "OK")
        .map(|c| ((c.endpoint, c.date), c.row_count.unwrap_or(0)))
        .collect();
    for c in completeness_all.values_mut() {
        let prior: Vec<i64> = (1..=CONTEXT_DAYS).filter_map(|n| ok_counts.get(&(c.endpoint, c.date - chrono::Days::new(n))).copied()).collect();
        if !prior.is_empty() {
            c.expected_min_rows = Some(prior.iter().sum::<i64>() as f64 / prior.len() as f64);
        }
    }
    out.completeness = completeness_all.into_values().filter(|c| in_window(c.date)).collect();

    // Campaign rows per date.
    let dates: BTreeSet<NaiveDate> = fetches.keys().map(|(_, d)| *d).collect();
    let mut daily_meta: BTreeMap<(NaiveDate, String), (Option<String>, Option<String>, Option<String>, Option<String>)> = BTreeMap::new();
    for &date in &dates {
        let mut sources: DaySources = BTreeMap::new();
        let mut adsets: Vec<(String, RowRef, SourceRow)> = Vec::new();
        let mut unmapped_keys: BTreeSet<String> = BTreeSet::new();
        let mut seen_platform: BTreeMap<String, &'static str> = BTreeMap::new();
        // Adset rows carry no campaign name: the name-prefix rule uses their campaign's name.
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for key in ["facebook_campaigns", "facebook_report"] {
            if let Some(f) = snapshot(key, date) {
                for (_, r) in &f.rows {
                    if let (Some(pid), Some(name)) = (&r.platform_campaign_id, &r.campaign_name) {
                        names.entry(pid.clone()).or_insert_with(|| name.clone());
                    }
                }
            }
        }
        for spec in ENDPOINTS.iter().filter(|s| !s.sessions) {
            let Some(f) = snapshot(spec.key, date) else { continue };
            for (at, row) in &f.rows {
                if row.date.is_some_and(|d| d != date) && spec.key != "s1_rpc_average" && spec.key != "facebook_campaigns" {
                    continue;
                }
                let key = match (&row.strategis_id, &row.platform_campaign_id) {
                    (Some(sid), _) => sid.clone(),
                    (None, Some(pid)) => match identity.resolve(pid, row.campaign_name.as_deref().or(names.get(pid).map(String::as_str)), date) {
                        Some((sid, _)) => sid,
                        None => {
                            unmapped_keys.insert(pid.clone());
                            pid.clone()
                        }
                    },
                    (None, None) => continue,
                };
                if spec.platform != "all" {
                    seen_platform.entry(key.clone()).or_insert(spec.platform);
                }
                if spec.key == "facebook_adsets" {
                    adsets.push((key.clone(), at.clone(), row.clone()));
                }
                sources.entry(key).or_default().entry(spec.key).or_default().add(row, at.clone());
            }
        }
        // Context dates are merged too (session rows look back at them) and dropped below.
        let (rows_start, lineage_start) = (out.campaign_index.len(), out.lineage.len());
        for (key, src) in &sources {
            let unmapped = unmapped_keys.contains(key);
            if unmapped {
                out.unmapped_campaigns.insert((date, key.clone()));
            }
            let mut b = RowBuilder { events, date, lineage: Vec::new(), newest: None };
            let network_id = b.take("network_id", pick(src, &["s1_daily_v3"], "network_id", |r| r.network_id.clone()));
            let media_source = match &network_id {
                Some(id) => {
                    let m = config.network_map.get(id).cloned();
                    if m.is_none() {
                        out.unmapped_network_ids.insert(id.clone());
                    }
                    m
                }
                None => seen_platform.get(key).map(|p| p.to_string()),
            };
            let spend_order: Vec<&'static str> = media_source
                .as_deref()
                .and_then(|m| config.spend_precedence.get(m))
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|e| *e != "strategis_metrics")
                .chain(["strategis_metrics"])
                .collect();
            let spend = pick(src, &spend_order, "spend_usd by media_source", |r| r.spend);
            let spend_source = spend.endpoint;
            let spend_usd = b.take("spend_usd", spend);
            let same = |e: Option<&'static str>| e.map(|e| vec![e]).unwrap_or_default();
            let clicks = b.take("clicks", pick(src, &same(spend_source), "clicks from the spend endpoint", |r| r.clicks));
            let impressions = b.take("impressions", pick(src, &[&["strategis_metrics"][..], &same(spend_source)].concat(), "impressions", |r| r.impressions));
            let conversion_order: Vec<&'static str> = if media_source.as_deref() == Some("facebook") {
                vec!["facebook_pixel", "facebook_report"]
            } else {
                same(spend_source)
            };
            let conversions = b.take("conversions", pick(src, &conversion_order, "conversions", |r| r.conversions));
            let avg_rpc_3d = b.take("avg_rpc_3d", pick(src, &["s1_rpc_average"], "avg_rpc_3d", |r| r.rpc));
            let owner = b.take("owner", pick(src, &["s1_daily_v3", "s1_reconciled", "facebook_campaigns"], "owner", |r| r.buyer.clone()));
            let lane = b.take("lane", pick(src, &["facebook_campaigns"], "lane (never the buyer)", |r| r.lane.clone()));
            let category = b.take("category", pick(src, &["s1_daily_v3", "s1_reconciled", "facebook_campaigns"], "category", |r| r.category.clone()));
            // "The platform report": the spend endpoint first, then the platform's other reports.
            let platform_reports: Vec<&'static str> = same(spend_source)
                .into_iter()
                .chain(spend_order.iter().copied().filter(|e| *e != "strategis_metrics"))
                .fold(Vec::new(), |mut v, e| {
                    if !v.contains(&e) {
                        v.push(e);
                    }
                    v
                });
            let mut name_order = vec!["facebook_campaigns", "s1_daily_v3"];
            name_order.extend(platform_reports.iter().copied().filter(|e| *e != "facebook_campaigns"));
            let campaign_name = b.take("campaign_name", pick(src, &name_order, "campaign_name", |r| r.campaign_name.clone()));
            let mut meta_order = vec!["s1_daily_v3"];
            meta_order.extend(platform_reports.iter().copied());
            let account_id = b.take("account_id", pick(src, &meta_order, "account_id", |r| r.account_id.clone()));
            let rsoc_site = b.take("rsoc_site", pick(src, &["s1_daily_v3"], "rsoc_site", |r| r.rsoc_site.clone()));
            let platform_campaign_id = b.take("platform_campaign_id", pick(src, &meta_order, "platform_campaign_id", |r| r.platform_campaign_id.clone()));
            let shared_lineage = b.finish("");
            let shared_newest = b.newest;
            daily_meta.insert((date, key.clone()), (owner.clone(), lane.clone(), category.clone(), media_source.clone()));

            for snapshot_source in ["daily", "reconciled"] {
                let revenue_endpoint = if snapshot_source == "daily" { "s1_daily_v3" } else { "s1_reconciled" };
                if snapshot_source == "reconciled" && !src.contains_key("s1_reconciled") {
                    continue;
                }
                let mut b = RowBuilder { events, date, lineage: Vec::new(), newest: shared_newest };
                let rule = format!("{snapshot_source} snapshot: revenue from {revenue_endpoint}");
                let revenue_usd = b.take("revenue_usd", pick(src, &[revenue_endpoint], &rule, |r| r.revenue));
                let sessions = b.take("sessions", pick(src, &[revenue_endpoint], &rule, |r| r.sessions));
                let s1_clicks = b.take("s1_clicks", pick(src, &[revenue_endpoint], &rule, |r| r.s1_clicks));
                let row = CampaignRow {
                    campaign_id: key.clone(),
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
                    spend_source: spend_usd.and(spend_source).map(str::to_owned),
                    revenue_usd,
                    sessions,
                    s1_clicks,
                    clicks,
                    impressions,
                    conversions,
                    roas: roas(revenue_usd, spend_usd),
                    avg_rpc_3d,
                    unmapped,
                    updated_at: b.newest,
                };
                let row_key = row.key();
                let mut lineage = b.finish(&row_key);
                lineage.extend(shared_lineage.iter().cloned().map(|mut l| {
                    l.row_key = row_key.clone();
                    l
                }));
                out.lineage.extend(lineage);
                out.campaign_index.push(row);
            }
        }
        // Adset rows: campaign metadata copied from the daily campaign row.
        let campaign_rows: BTreeMap<String, CampaignRow> = out.campaign_index[rows_start..]
            .iter()
            .filter(|r| r.level == "campaign" && r.snapshot_source == "daily")
            .map(|r| (r.campaign_id.clone(), r.clone()))
            .collect();
        let mut copied_lineage: BTreeMap<String, Vec<LineageRow>> = BTreeMap::new();
        if !adsets.is_empty() {
            for l in out.lineage[lineage_start..].iter().filter(|l| l.chosen && ADSET_COPIED.contains(&l.column_name)) {
                copied_lineage.entry(l.row_key.clone()).or_default().push(l.clone());
            }
        }
        let mut adset_lineage = Vec::new();
        let mut per_adset: BTreeMap<(String, String), Agg> = BTreeMap::new();
        for (key, at, row) in adsets {
            let Some(adset_id) = row.adset_id.clone() else { continue };
            per_adset.entry((key, adset_id)).or_default().add(&row, at);
        }
        for ((key, adset_id), agg) in per_adset {
            let parent = campaign_rows.get(&key);
            let newest = agg.refs.iter().map(|r| events[r.event].envelope.fetched_at).max();
            let row = CampaignRow {
                campaign_id: key.clone(),
                date,
                level: "adset",
                snapshot_source: "daily",
                adset_id: Some(adset_id),
                adset_name: agg.row.adset_name.clone(),
                campaign_name: parent.and_then(|p| p.campaign_name.clone()),
                owner: parent.and_then(|p| p.owner.clone()),
                lane: parent.and_then(|p| p.lane.clone()),
                category: parent.and_then(|p| p.category.clone()),
                media_source: parent.and_then(|p| p.media_source.clone()),
                network_id: parent.and_then(|p| p.network_id.clone()),
                account_id: parent.and_then(|p| p.account_id.clone()),
                rsoc_site: parent.and_then(|p| p.rsoc_site.clone()),
                platform_campaign_id: parent.and_then(|p| p.platform_campaign_id.clone()).or(agg.row.platform_campaign_id.clone()),
                spend_usd: agg.row.spend,
                spend_source: agg.row.spend.map(|_| "facebook_adsets".to_owned()),
                revenue_usd: None,
                sessions: None,
                s1_clicks: None,
                clicks: agg.row.clicks,
                impressions: agg.row.impressions,
                conversions: None,
                roas: None,
                avg_rpc_3d: None,
                unmapped: parent.is_none_or(|p| p.unmapped),
                updated_at: newest.max(parent.and_then(|p| p.updated_at)),
            };
            let row_key = row.key();
            if let Some(copied) = parent.and_then(|p| copied_lineage.get(p.key().as_str())) {
                adset_lineage.extend(
                    copied.iter().map(|l| LineageRow { row_key: row_key.clone(), rule: format!("copied from the campaign row; there: {}", l.rule), ..l.clone() }),
                );
            }
            let own = [("spend_usd", row.spend_usd.map(|v| v.to_string())), ("clicks", row.clicks.map(|v| v.to_string())), ("impressions", row.impressions.map(|v| v.to_string()))];
            let source = SourceLineage { events, table: "campaign_index", date, row_key: &row_key, endpoint: "facebook_adsets", rule: "adset row: that adset's own numbers" };
            for (column, value) in own {
                source.push(&mut out.lineage, column, value, &agg.refs);
            }
            out.campaign_index.push(row);
        }
        out.lineage.extend(adset_lineage);
    }

    // Session hourly.
    for &date in dates.iter().filter(|d| in_window(**d)) {
        let Some(f) = snapshot("s1_hourly_v3", date) else { continue };
        let mut hours: BTreeMap<(String, u8), Agg> = BTreeMap::new();
        for (at, row) in &f.rows {
            let (Some(sid), Some(hour)) = (&row.strategis_id, row.hour) else { continue };
            if row.date.is_some_and(|d| d != date) {
                continue;
            }
            hours.entry((sid.clone(), hour)).or_default().add(row, at.clone());
        }
        for ((sid, hour), agg) in hours {
            let meta = (0..=CONTEXT_DAYS).find_map(|n| daily_meta.get(&(date - chrono::Days::new(n), sid.clone())));
            let rpc = match (agg.row.revenue, agg.row.sessions) {
                (Some(r), Some(s)) if s > 0 => Some((r / Decimal::from(s)).round_dp(6)),
                _ => None,
            };
            let row = HourRow {
                campaign_id: sid.clone(),
                date,
                click_hour: hour,
                sessions: agg.row.sessions,
                revenue: agg.row.revenue,
                rpc,
                owner: meta.and_then(|m| m.0.clone()),
                lane: meta.and_then(|m| m.1.clone()),
                category: meta.and_then(|m| m.2.clone()),
                media_source: meta.and_then(|m| m.3.clone()),
                updated_at: agg.refs.iter().map(|r| events[r.event].envelope.fetched_at).max(),
            };
            let row_key = row.key();
            let source = SourceLineage {
                events,
                table: "session_hourly_metrics",
                date,
                row_key: &row_key,
                endpoint: "s1_hourly_v3",
                rule: "latest successful s1_hourly_v3 fetch, summed per campaign and hour",
            };
            source.push(&mut out.lineage, "sessions", row.sessions.map(|v| v.to_string()), &agg.refs);
            source.push(&mut out.lineage, "revenue", row.revenue.map(|v| v.to_string()), &agg.refs);
            out.session_hourly.push(row);
        }
    }

    // Runs.
    for (run_id, (started, finished)) in &runs {
        let detail = |i: &Option<usize>| i.and_then(|i| events[i].envelope.run.as_ref().map(|r| r.detail.clone()));
        let start = detail(started).unwrap_or_default();
        let finish = detail(finished);
        let src = finish.as_ref().unwrap_or(&start);
        let date_of = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<NaiveDate>().ok());
        let date_from = date_of(&src["date_from"]);
        let date_to = date_of(&src["date_to"]);
        if let Some(w) = window {
            // Incremental projections only rewrite runs wholly inside the window.
            if !(date_from.is_some_and(|d| w.contains(d)) && date_to.is_some_and(|d| w.contains(d))) {
                continue;
            }
        }
        let endpoints: Vec<String> = src["endpoints"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default();
        let fetch_rows = |session: bool| -> i64 {
            finish
                .as_ref()
                .and_then(|f| f["fetches"].as_array())
                .map(|fs| {
                    fs.iter()
                        .filter(|f| (f["endpoint"].as_str() == Some("s1_hourly_v3")) == session)
                        .filter_map(|f| f["rows"].as_i64())
                        .sum()
                })
                .unwrap_or(0)
        };
        let status = match &finish {
            Some(f) => f["status"].as_str().unwrap_or("failed").to_owned(),
            None => "interrupted".to_owned(),
        };
        let base = RunRow {
            run_id: run_id.clone(),
            date_from,
            date_to,
            endpoints: endpoints.join(","),
            started_at: started.map(|i| events[i].envelope.fetched_at),
            finished_at: finished.map(|i| events[i].envelope.fetched_at),
            status,
            row_count: fetch_rows(false),
            events_written: finish.as_ref().and_then(|f| f["events_written"].as_i64()).unwrap_or(0),
            bytes_new: finish.as_ref().and_then(|f| f["bytes_new"].as_i64()).unwrap_or(0),
            message: finish.as_ref().and_then(|f| f["message"].as_str()).filter(|m| !m.is_empty()).map(str::to_owned),
            max_click_hour: None,
            session_count: None,
            campaign_count: None,
        };
        if endpoints.iter().any(|e| e == "s1_hourly_v3") {
            let mut session = base.clone();
            session.row_count = fetch_rows(true);
            let mut max_hour: Option<i32> = None;
            let mut sessions = 0i64;
            let mut campaigns = BTreeSet::new();
            for ((key, _), list) in &fetches {
                if *key != "s1_hourly_v3" {
                    continue;
                }
                for f in list.iter().filter(|f| &f.run_id == run_id && f.success) {
                    for (_, r) in &f.rows {
                        max_hour = max_hour.max(r.hour.map(i32::from));
                        sessions += r.sessions.unwrap_or(0);
                        if let Some(s) = &r.strategis_id {
                            campaigns.insert(s.clone());
                        }
                    }
                }
            }
            session.max_click_hour = max_hour;
            session.session_count = Some(sessions);
            session.campaign_count = Some(campaigns.len() as i64);
            out.session_runs.push(session);
        }
        out.campaign_runs.push(base);
    }

    out.campaign_index.retain(|r| in_window(r.date));
    out.lineage.retain(|l| in_window(l.date));
    out.unmapped_campaigns.retain(|(d, _)| in_window(*d));
    out.campaign_index.sort_by_key(|r| r.key());
    out.session_hourly.sort_by(|a, b| (&a.campaign_id, a.date, a.click_hour).cmp(&(&b.campaign_id, b.date, b.click_hour)));
    out.lineage.sort();
    out.lineage.dedup();
    out.raw_events.sort_by(|a, b| (a.date, &a.source, &a.event_id).cmp(&(b.date, &b.source, &b.event_id)));
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
    let sorted = sorted_events(events);
    let events = &sorted[..];
    let mut decoder = Decoder { events, cache: BTreeMap::new() };
    let (mut fetches, _) = collect_fetches(events, &mut decoder);
    for list in fetches.values_mut() {
        list.retain(|f| f.success);
    }
    let totals = |f: &Fetch| -> BTreeMap<(String, &'static str), Decimal> {
        let mut t = BTreeMap::new();
        for (_, r) in &f.rows {
            let Some(key) = r.strategis_id.clone().or_else(|| r.platform_campaign_id.clone()) else { continue };
            let key = match (r.hour, &r.adset_id) {
                (Some(h), _) => format!("{key} hour {h}"),
                (None, Some(a)) => format!("{key} adset {a}"),
                _ => key,
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
    let mut out = Vec::new();
    for ((_, date), list) in fetches {
        for pair in list.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let hashes = |f: &Fetch| -> Vec<Option<adlake_raw::BodyHash>> { f.events.iter().map(|&i| events[i].envelope.body.map(|b| b.sha256)).collect() };
            if hashes(a) == hashes(b) {
                continue;
            }
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
                continue;
            }
            deltas.sort_by(|p, q| q.change.abs().cmp(&p.change.abs()).then_with(|| (&p.campaign, p.metric).cmp(&(&q.campaign, q.metric))));
            out.push(Restatement {
                endpoint: a.endpoint.key,
                date,
                before_fetched_at: a.finished_at,
                after_fetched_at: b.finished_at,
                before_events: a.events.iter().map(|&i| events[i].id.to_hex()).collect(),
                after_events: b.events.iter().map(|&i| events[i].id.to_hex()).collect(),
                deltas,
            });
        }
    }
    out.sort_by(|p, q| q.largest_change().cmp(&p.largest_change()).then_with(|| (p.date, p.endpoint, p.after_fetched_at).cmp(&(q.date, q.endpoint, q.after_fetched_at))));
    out
}

#[cfg(test)]
#[path = "project_tests.rs"]
mod tests;
