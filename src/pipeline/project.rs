//! The projection engine: reads events (and their bodies) from the lake date by date, runs the
//! pure projector and the writer on blocking threads as the dates arrive, and commits once.
//! `reproject` (also `--as-of`, and the shadow of `--dry-run`/`--diff`) and the end of
//! `ingest` all come through here. A full projection writes a fresh file that replaces the
//! database once complete (`crate::store::db::Target`); a window one replaces its dates in place.
//! Every projection, window or not, rewrites the alert tables from every `alerts` event.
//!
//! Memory is bounded by a few dates of bodies and rows, not by the lake: the loader reads
//! ahead at most [`READ_AHEAD_DATES`] dates, and each date's rows are written and dropped
//! before the next. Every body reaches the projector checked against its hash (the lake reads
//! it again while it does not match); one still corrupt is handed over as missing, so its
//! event is quarantined and the projection completes, while any other lake failure stops it
//! with nothing written.
//!
//! Whatever sequence of ingests and window projections built the database, it ends equal to
//! one full projection of the lake. A window projection takes what earlier dates contribute
//! from the database when they are current, else widens back to the first stale date; and it
//! widens forward to the lake's last date whenever a later date is stale, which after a change
//! inside the window every later date is (see `adlake_replay::incremental`). The cost: a
//! backfill or restatement of an old date re-projects every date after it. An hourly ingest
//! (today and its lookback, nothing after it) projects just its own dates, as before.
//!
//! Two runs at once: a projection takes the database's lock first and lists the lake only
//! then, once, for its chains, its dates and its run markers. Every ingest has written all of
//! its events before its projection starts, and projections hold the lock from their listing
//! to their commit, so they commit in the order they listed: the one that commits last has
//! listed last, after every run that projected before it had written all it will write. Its
//! listing holds every event of those runs; whatever the lake held when an earlier projection
//! listed and has changed since shows as a stale chain, and widens the last projection over
//! it. So of overlapping ingests the last to project leaves the database equal to a full
//! projection of everything they fetched. (Listing before the lock let a projection that
//! waited for it commit rows from a listing older than the one already committed.)

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::store::db::Target;
use adlake_raw::store::EventFilter;
use adlake_raw::{BodyHash, Envelope, Lake, RawError};
use adlake_replay::project::alerts::ALERTS_SOURCE;
use adlake_replay::project::{self, Carry, DateWindow, Event};
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::config::Settings;
use crate::AppError;

const PARALLEL_READS: usize = 32;
/// Dates loaded ahead of the projector: enough to overlap reading with projecting.
const READ_AHEAD_DATES: usize = 2;

#[derive(Debug, Clone, Serialize)]
pub struct ProjectionSummary {
    pub window: Option<(NaiveDate, NaiveDate)>,
    pub events: usize,
    pub body_bytes: u64,
    pub campaign_rows: usize,
    pub session_rows: usize,
    pub completeness_rows: usize,
    pub runs: usize,
    pub quarantined: usize,
    pub unmapped_campaigns: usize,
    pub unmapped_network_ids: Vec<String>,
}

/// Projects `window` (or everything) from `lake` into the database at `settings.db`.
pub async fn project_into(
    settings: &Settings,
    lake: &Lake,
    window: Option<DateWindow>,
) -> Result<ProjectionSummary, AppError> {
    project_into_with_progress(settings, lake, window, None).await
}

/// [`project_into`], advancing `progress` by one per date projected.
pub async fn project_into_with_progress(
    settings: &Settings,
    lake: &Lake,
    window: Option<DateWindow>,
    progress: Option<ProgressBar>,
) -> Result<ProjectionSummary, AppError> {
    // A view of the past sees only events fetched before `as_of`: the database's record of
    // earlier dates describes the whole lake, so such a projection reads every earlier date
    // itself and records no chains.
    let as_of = settings.as_of;
    // Before the lake is listed; opening the database below refuses such a path as well.
    crate::store::db::check_path(&settings.db)?;
    let started = std::time::Instant::now();
    if window.is_none() && lake.dates().await?.is_empty() {
        // A full projection replaces every table: from an empty lake (a mistyped --lake, an
        // unmounted disk) that would silently empty the database.
        return Err(empty_lake(lake));
    }

    // The database's lock first, the lake's listing after it (see the module doc): of two
    // projections, the one that commits last has listed last.
    let (path, wait) = (settings.db.clone(), settings.lock_wait);
    let conn = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let mut conn = crate::store::db::open(&path, crate::store::db::Access::ReadWrite, wait)?;
        crate::store::db::migrate(&mut conn, &path)?;
        Ok(conn)
    })
    .await
    .map_err(AppError::task("database"))??;
    tracing::debug!(elapsed_s = started.elapsed().as_secs_f64(), "database opened");

    // Every date, also those after the window: they decide whether it must widen forward.
    let keys = lake.event_keys(&EventFilter::default()).await?;
    if window.is_none() && keys.is_empty() {
        return Err(empty_lake(lake));
    }
    let mut keys_by_date: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    let mut marker_keys = Vec::new();
    let mut alert_keys = Vec::new();
    for key in keys {
        if let Some((date, source)) = Lake::event_key_date_and_source(&key) {
            if source == ALERTS_SOURCE {
                // Read whole by every projection, like the run markers, but out of the dates'
                // chains: an alert evaluated after a projection changes no projected date.
                alert_keys.push(key);
                continue;
            }
            keys_by_date.entry(date).or_default().push(key.to_string());
            if source == crate::pipeline::ingest::JOB {
                marker_keys.push(key);
            }
        }
    }
    let chains = adlake_replay::chain::chains(&keys_by_date, &settings.projector);
    tracing::debug!(
        elapsed_s = started.elapsed().as_secs_f64(),
        dates = chains.len(),
        "lake listed"
    );

    // Decide where the projection starts and ends and what it carries in.
    let path = settings.db.clone();
    let lake_chains = chains.clone();
    let (target, window, carry) = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let Some(w) = window else { return Ok((Target::full(conn, &path)?, None, Carry::default())) };
        if as_of.is_some() {
            let from = lake_chains.keys().next().copied().map_or(w.from, |first| first.min(w.from));
            return Ok((Target::InPlace(conn), Some(DateWindow { from, to: w.to }), Carry::default()));
        }
        let recorded = crate::store::carry::recorded_chains(&conn)?;
        let from = adlake_replay::chain::start_date(w.from, &lake_chains, &recorded);
        if from < w.from {
            tracing::info!(requested = %w.from, from = %from, "earlier dates changed since they were projected: projecting from {from}");
        }
        let to = adlake_replay::chain::end_date(w.to, &lake_chains, &recorded);
        if to > w.to {
            tracing::info!(requested = %w.to, to = %to, "later dates look back at the window: projecting to {to}");
        }
        let carry = crate::store::carry::read_carry(&conn, from)?;
        Ok((Target::InPlace(conn), Some(DateWindow { from, to }), carry))
    })
    .await
    .map_err(AppError::task("database"))??;

    tracing::debug!(elapsed_s = started.elapsed().as_secs_f64(), "carry read");
    let dates: Vec<NaiveDate> =
        keys_by_date.keys().copied().filter(|d| window.is_none_or(|w| w.contains(*d))).collect();
    // The run markers of the same listing: a marker written since is a later run's, which the
    // next projection reads.
    let markers = lake.read_events(marker_keys).await?;
    let before_as_of = move |e: &Envelope| as_of.is_none_or(|t| e.fetched_at < t);
    let markers: Vec<Event> = markers
        .into_iter()
        .filter(|e| before_as_of(&e.envelope))
        .map(|e| Event { id: e.id, envelope: e.envelope, body: None })
        .collect();
    let alert_events: Vec<Event> = lake
        .read_events(alert_keys)
        .await?
        .into_iter()
        .filter(|e| before_as_of(&e.envelope))
        .map(|e| Event { id: e.id, envelope: e.envelope, body: None })
        .collect();
    let alerts = adlake_replay::project::alerts::alert_tables(&alert_events);
    for (id, why) in &alerts.unreadable {
        tracing::warn!(event = %id, "alert event left out of alert_events: {why}");
    }
    let chains = if as_of.is_some() { BTreeMap::new() } else { chains };
    tracing::debug!(
        elapsed_s = started.elapsed().as_secs_f64(),
        markers = markers.len(),
        "run markers read"
    );
    if let Some(bar) = &progress {
        bar.set_length(dates.len() as u64);
    }

    // Three stages, each on its own thread, bounded channels between them: the loader (below)
    // reads dates ahead, the projector folds them, the writer appends each date's rows. On two
    // cores projecting date D+1 overlaps writing date D.
    // `None` / `ToWriter::Done` say the stage before finished: without them the next stage
    // stops with an error and the transaction rolls back.
    let (sender, receiver) =
        std::sync::mpsc::sync_channel::<Option<(NaiveDate, Vec<Event>)>>(READ_AHEAD_DATES);
    let (to_writer, from_projector) = std::sync::mpsc::sync_channel::<ToWriter>(1);
    let projector_config = settings.projector.clone();
    let projector_task = tokio::task::spawn_blocking(move || -> Result<(), AppError> {
        let mut projector = project::Projector::new(&projector_config, window, carry);
        let mut bodies_seen = std::collections::BTreeSet::new();
        let (mut waiting, mut projecting) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
        let mut clock = std::time::Instant::now();
        for message in receiver {
            waiting += clock.elapsed();
            let Some((date, events)) = message else {
                let (campaign_runs, session_runs, marker_rows) = projector.runs(&markers);
                let done = ToWriter::Done {
                    campaign_runs,
                    session_runs,
                    marker_rows,
                    applied: projector.events_applied(),
                    carry: projector.into_carry(),
                };
                tracing::debug!(
                    waiting_for_lake_s = waiting.as_secs_f64(),
                    projecting_s = projecting.as_secs_f64(),
                    cpu_s = thread_cpu_seconds(),
                    "projector"
                );
                // A writer that has stopped reports its own error.
                let _ = to_writer.send(done);
                return Ok(());
            };
            clock = std::time::Instant::now();
            let body_bytes = events
                .iter()
                .filter_map(|e| e.envelope.body)
                .filter(|b| bodies_seen.insert(b.sha256))
                .map(|b| b.len)
                .sum::<u64>();
            let day = projector.day(date, &events);
            drop(events);
            projecting += clock.elapsed();
            if to_writer.send(ToWriter::Day(day, body_bytes)).is_err() {
                return Ok(());
            }
            clock = std::time::Instant::now();
        }
        Err(AppError::Internal {
            what: "the projection stopped before its last date".into(),
            source: None,
        })
    });
    let worker = tokio::task::spawn_blocking(move || -> Result<ProjectionSummary, AppError> {
        let mut target = target;
        let mut writer = crate::store::write::Writer::begin(target.connection(), window)?;
        let mut summary = ProjectionSummary::empty(window);
        let mut writing = std::time::Duration::ZERO;
        for message in from_projector {
            match message {
                ToWriter::Day(day, body_bytes) => {
                    let clock = std::time::Instant::now();
                    summary.body_bytes += body_bytes;
                    summary.add_day(&day);
                    writer.day(day)?;
                    writing += clock.elapsed();
                    if let Some(bar) = &progress {
                        bar.inc(1);
                    }
                }
                ToWriter::Done { campaign_runs, session_runs, marker_rows, applied, carry } => {
                    summary.runs = campaign_runs.len();
                    summary.events = applied.len();
                    let clock = std::time::Instant::now();
                    writer.carry(&carry, &chains)?;
                    writer.alerts(alerts)?;
                    writer.finish(&campaign_runs, &session_runs, &marker_rows, &applied)?;
                    target.install()?;
                    tracing::debug!(
                        writing_s = writing.as_secs_f64(),
                        committing_s = clock.elapsed().as_secs_f64(),
                        cpu_s = thread_cpu_seconds(),
                        "writer"
                    );
                    return Ok(summary);
                }
            }
        }
        Err(AppError::Internal {
            what: "the projection stopped before its last date".into(),
            source: None,
        })
    });

    // The loader: dates in order, each date's bodies read in parallel.
    let loaded = futures::stream::iter(dates)
        .map(|date| {
            // The keys were listed once, for the chains: read those envelopes, do not list again.
            let keys: Vec<object_store::path::Path> = keys_by_date
                .get(&date)
                .map(|k| k.iter().map(|k| object_store::path::Path::from(k.as_str())).collect())
                .unwrap_or_default();
            async move {
                let stored = lake.read_events(keys).await?;
                let stored: Vec<_> = stored
                    .into_iter()
                    .filter(|e| e.envelope.http.is_some() && before_as_of(&e.envelope))
                    .collect();
                let events = with_bodies(lake, stored).await?;
                Ok::<_, AppError>((date, events))
            }
        })
        .buffered(READ_AHEAD_DATES);
    futures::pin_mut!(loaded);
    let mut load_error = None;
    let mut last = Some(None);
    while let Some(next) = loaded.next().await {
        match next {
            Ok(day) => {
                let sender = sender.clone();
                if !tokio::task::spawn_blocking(move || sender.send(Some(day)).is_ok())
                    .await
                    .unwrap_or(false)
                {
                    // The worker stopped early: its error is the one to report.
                    last = None;
                    break;
                }
            }
            Err(e) => {
                load_error = Some(e);
                last = None;
                break;
            }
        }
    }
    if let Some(done) = last {
        let sender = sender.clone();
        let _ = tokio::task::spawn_blocking(move || sender.send(done)).await;
    }
    drop(sender);
    let projected = projector_task.await.map_err(AppError::task("projection"))?;
    let written = worker.await.map_err(AppError::task("database"))?;
    // The first stage that failed names the cause; later stages only saw it stop.
    if let Some(e) = load_error {
        return Err(e);
    }
    projected?;
    let summary = written?;
    tracing::debug!(elapsed_s = started.elapsed().as_secs_f64(), "projection written");
    Ok(summary)
}

fn empty_lake(lake: &Lake) -> AppError {
    AppError::Usage(format!(
        "the lake at `{}` holds no events, so a full reproject would empty every table; check --lake (nothing was changed)",
        lake.display()
    ))
}

/// Reads the bodies of `stored` (in parallel), decompressed and verified. A body still
/// corrupt after the lake's re-reads is left out: its events reach the projector with
/// `body: None`, which quarantines them as unreadable, and the rest of the projection goes on.
async fn with_bodies(
    lake: &Lake,
    stored: Vec<adlake_raw::store::StoredEvent>,
) -> Result<Vec<Event>, AppError> {
    let hashes: Vec<BodyHash> = {
        let mut h: Vec<BodyHash> =
            stored.iter().filter_map(|e| e.envelope.body.map(|b| b.sha256)).collect();
        h.sort();
        h.dedup();
        h
    };
    let bodies: BTreeMap<BodyHash, Arc<[u8]>> = futures::stream::iter(hashes)
        .map(|hash| async move {
            match lake.get_body_shared(&hash).await {
                Ok(plain) => Ok(Some((hash, plain))),
                Err(RawError::CorruptBody { hash, detail }) => {
                    tracing::warn!(
                        "stored body {hash} is corrupt: {detail}; its events are quarantined as unreadable (`adlake raw verify` lists every corrupt body)"
                    );
                    Ok(None)
                }
                Err(e) => Err(AppError::from(e)),
            }
        })
        .buffer_unordered(PARALLEL_READS)
        .try_filter_map(|body| async move { Ok(body) })
        .try_collect()
        .await?;
    Ok(stored
        .into_iter()
        .map(|e| {
            let body = e.envelope.body.and_then(|b| bodies.get(&b.sha256).cloned());
            Event { id: e.id, envelope: e.envelope, body }
        })
        .collect())
}

/// What the projector hands the writer.
enum ToWriter {
    Day(project::DayProjection, u64),
    Done {
        campaign_runs: Vec<project::RunRow>,
        session_runs: Vec<project::RunRow>,
        marker_rows: Vec<project::RawEventRow>,
        applied: Vec<adlake_raw::EventId>,
        carry: Carry,
    },
}

impl ProjectionSummary {
    fn empty(window: Option<DateWindow>) -> Self {
        ProjectionSummary {
            window: window.map(|w| (w.from, w.to)),
            events: 0,
            body_bytes: 0,
            campaign_rows: 0,
            session_rows: 0,
            completeness_rows: 0,
            runs: 0,
            quarantined: 0,
            unmapped_campaigns: 0,
            unmapped_network_ids: Vec::new(),
        }
    }

    fn add_day(&mut self, day: &project::DayProjection) {
        self.campaign_rows += day.tables.campaign_index.len();
        self.session_rows += day.tables.session_hourly.len();
        self.completeness_rows += day.tables.completeness.len();
        self.quarantined += day.tables.quarantine.len();
        self.unmapped_campaigns += day.tables.unmapped_campaigns.len();
        for id in &day.tables.unmapped_network_ids {
            if let Err(at) = self.unmapped_network_ids.binary_search(id) {
                self.unmapped_network_ids.insert(at, id.clone());
            }
        }
    }
}

/// CPU seconds the calling thread has used (user + system), where the OS says (Linux
/// `/proc`). Wall time per stage misleads on a busy machine; this is the steadier figure.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name, which is parenthesised and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name. /proc
    // counts them in USER_HZ, which is 100 on every architecture Linux exposes it.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}
