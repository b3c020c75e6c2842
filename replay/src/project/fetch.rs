//! Which responses count: a date's http events grouped into fetches (one request for one
//! (endpoint, date), all its pages and retries), each judged, and the snapshot of each
//! (endpoint, date): its latest successful fetch (`projection-rules.md` §1).
//!
//! Invariants: every body is read once, through the endpoint's contract; a fetch succeeds only
//! when each page's last attempt is data and the pagination ended normally (not at the page
//! limit, not in a loop); every 2xx body that breaks its contract, and every row that cannot
//! be read, is quarantined.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::rows::QuarantineRow;
use super::Event;
use crate::body::{self, NextPage, Probe};
use crate::decode::{Decoded, Locator, SourceRow};
use crate::registry::{EndpointSpec, Pagination};
use adlake_raw::EventId;

/// Where a row came from: index into the day's sorted events, and the row inside that body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct RowRef {
    pub(super) event: usize,
    pub(super) row: usize,
}

/// One event's body, read once: what it says about itself, and its rows when it is data.
#[derive(Debug, PartialEq)]
pub(super) struct Parsed<'e> {
    pub(super) probe: Probe,
    /// Only for a 2xx data page.
    pub(super) decoded: Option<Decoded<'e>>,
}

/// The http events of one date, sorted, each parsed once.
pub(super) struct DayData<'e> {
    pub(super) date: NaiveDate,
    pub(super) events: Vec<&'e Event>,
    /// Per event, its place among the date's events ordered by id: how lineage names it
    /// (`raw_events.event_index`). A date is always projected whole, so the same events give
    /// the same places in every projection.
    pub(super) event_index: Vec<u32>,
    pub(super) parsed: Vec<Parsed<'e>>,
}

impl<'e> DayData<'e> {
    pub(super) fn new(date: NaiveDate, events: impl IntoIterator<Item = &'e Event>) -> Self {
        let events = sorted_events(events);
        let event_index = index_by_id(&events);
        let parsed = events.iter().map(|e| parse_event(e)).collect();
        DayData { date, events, event_index, parsed }
    }

    pub(super) fn source_row(&self, r: RowRef) -> Option<&SourceRow<'_>> {
        self.parsed[r.event].decoded.as_ref()?.rows.get(r.row)
    }

    pub(super) fn locator(&self, r: RowRef) -> Locator {
        self.source_row(r).map(|row| row.locator.clone()).unwrap_or_default()
    }

    pub(super) fn fetched_at(&self, r: RowRef) -> DateTime<Utc> {
        self.events[r.event].envelope.fetched_at
    }
}

/// Per event, its place among `events` ordered by id.
pub(super) fn index_by_id(events: &[&Event]) -> Vec<u32> {
    let mut by_id: Vec<usize> = (0..events.len()).collect();
    by_id.sort_by_key(|&i| events[i].id);
    let mut index = vec![0u32; events.len()];
    for (place, i) in by_id.into_iter().enumerate() {
        index[i] = place as u32;
    }
    index
}

/// Events in (fetched_at, id) order, each once: the order every projection walks.
pub(super) fn sorted_events<'e>(events: impl IntoIterator<Item = &'e Event>) -> Vec<&'e Event> {
    let mut sorted: Vec<&Event> = events.into_iter().collect();
    sorted.sort_by_key(|a| (a.envelope.fetched_at, a.id));
    sorted.dedup_by(|a, b| a.id == b.id);
    sorted
}

pub(super) fn parse_event(e: &Event) -> Parsed<'_> {
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

pub(super) struct Fetch<'d> {
    pub(super) endpoint: &'static EndpointSpec,
    pub(super) run_id: String,
    pub(super) events: Vec<usize>,
    pub(super) started_at: DateTime<Utc>,
    pub(super) finished_at: DateTime<Utc>,
    pub(super) newest_event: EventId,
    pub(super) attempts: usize,
    pub(super) pages: u32,
    /// Every page answered with data, in order, and the last said it was the last: its rows
    /// are the snapshot of the (endpoint, date).
    pub(super) success: bool,
    /// It stopped with more pages to come (the page limit): PARTIAL, its rows unused.
    pub(super) page_limit_hit: bool,
    pub(super) bad_rows: usize,
    pub(super) rows: Vec<(RowRef, &'d SourceRow<'d>)>,
    pub(super) error: Option<String>,
    pub(super) http_status: Option<u16>,
}

/// The `limit` a page request asked for (500 when it names none).
pub(super) fn limit_of(url: &str) -> u32 {
    url.split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("limit=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

/// Builds the fetch made of events `idx` (one fetch id) of `spec` on `day`, adding to
/// `quarantine` every 2xx body that breaks its contract and every row that cannot be read.
pub(super) fn build_fetch<'d>(
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
pub(super) fn pagination_loop(
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

pub(super) type Fetches<'d> = BTreeMap<&'static str, Vec<Fetch<'d>>>;

/// Each endpoint's snapshot: its latest successful fetch, or with `until` the latest
/// successful one that finished before that instant (what was known then).
pub(super) type Snapshots<'f, 'd> = BTreeMap<&'static str, &'f Fetch<'d>>;

pub(super) fn snapshots<'f, 'd>(
    fetches: &'f Fetches<'d>,
    until: Option<DateTime<Utc>>,
) -> Snapshots<'f, 'd> {
    fetches
        .iter()
        .filter_map(|(key, list)| {
            let known = |f: &&Fetch<'d>| f.success && until.is_none_or(|u| f.finished_at < u);
            list.iter().rev().find(known).map(|f| (*key, f))
        })
        .collect()
}

/// What `endpoint_completeness` says of a fetch of `date`: OK, PARTIAL or FAILED.
pub(super) fn status(f: &Fetch<'_>, date: NaiveDate) -> &'static str {
    let within_lag =
        f.endpoint.key == "s1_reconciled" && (f.finished_at.date_naive() - date).num_days() < 2;
    // A fetch stopped at the page limit is PARTIAL, though its rows are not used.
    if f.page_limit_hit {
        "PARTIAL"
    } else if !f.success {
        "FAILED"
    } else if f.bad_rows > 0 || (f.rows.is_empty() && f.endpoint.critical && !within_lag) {
        "PARTIAL"
    } else {
        "OK"
    }
}

impl Fetch<'_> {
    /// The fetch id its events share (`raw_events.fetch_id`).
    pub(super) fn fetch_id<'a>(&self, day: &'a DayData<'_>) -> &'a str {
        let first = self.events.first().and_then(|&i| day.events[i].envelope.http.as_ref());
        first.map_or("", |h| h.fetch_id.as_str())
    }
}

/// The latest successful fetch of `key`: the snapshot the day's rows come from.
pub(super) fn snapshot<'f, 'd>(fetches: &'f Fetches<'d>, key: &str) -> Option<&'f Fetch<'d>> {
    fetches.get(key)?.iter().rev().find(|f| f.success)
}

/// Every fetch of the day per endpoint, oldest first by (finished_at, newest event), and the
/// quarantined bodies and rows met on the way.
pub(super) fn collect_fetches<'d>(day: &'d DayData<'_>) -> (Fetches<'d>, Vec<QuarantineRow>) {
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
        list.sort_by_key(|a| (a.finished_at, a.newest_event));
    }
    quarantine.sort();
    quarantine.dedup();
    (fetches, quarantine)
}
