//! The projection engine: reads events (and their bodies) from the lake date by date, runs the
//! pure projector and the writer on blocking threads as the dates arrive, and commits once.
//! `reproject` (also `--as-of`, and the shadow of `--dry-run`/`--diff`) and the end of
//! `ingest` all come through here. A full projection writes a fresh file that replaces the
//! database once complete (`adlake_replay::db::Target`); a window one replaces its dates in place.
//!
//! Memory is bounded by a few dates of bodies and rows, not by the lake: the loader reads
//! ahead at most [`READ_AHEAD_DATES`] dates, and each date's rows are written and dropped
//! before the next. A window projection takes what earlier dates contribute from the
//! database when it is current (see `adlake_replay::incremental`), else widens the window.

use std::collections::BTreeMap;
use std::sync::Arc;

use adlake_raw::store::EventFilter;
use adlake_raw::{BodyHash, Envelope, Lake};
use adlake_replay::db::Target;
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
    super::check_db_path(settings)?;
    let started = std::time::Instant::now();
    let keys = lake
        .event_keys(&EventFilter { from: None, to: window.map(|w| w.to), source: None })
        .await?;
    if window.is_none() && keys.is_empty() {
        // A full projection replaces every table: from an empty lake (a mistyped --lake, an
        // unmounted disk) that would silently empty the database.
        return Err(AppError::Usage(format!(
            "the lake at `{}` holds no events, so a full reproject would empty every table; check --lake (nothing was changed)",
            lake.display()
        )));
    }
    let mut keys_by_date: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for key in &keys {
        if let Some((date, _)) = Lake::event_key_date_and_source(key) {
            keys_by_date.entry(date).or_default().push(key.to_string());
        }
    }
    let chains = adlake_replay::incremental::chains(&keys_by_date, &settings.projector);
    tracing::debug!(elapsed_s = started.elapsed().as_secs_f64(), keys = keys.len(), "lake listed");

    // Open the database, and decide where the projection starts and what it carries in.
    let (path, wait) = (settings.db.clone(), settings.lock_wait);
    let lake_chains = chains.clone();
    let (target, window, carry) = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let mut conn = adlake_replay::db::open(&path, adlake_replay::db::Access::ReadWrite, wait)?;
        adlake_replay::db::migrate(&mut conn, &path)?;
        let Some(w) = window else { return Ok((Target::full(conn, &path)?, None, Carry::default())) };
        if as_of.is_some() {
            let from = lake_chains.keys().next().copied().map_or(w.from, |first| first.min(w.from));
            return Ok((Target::InPlace(conn), Some(DateWindow { from, to: w.to }), Carry::default()));
        }
        let recorded = adlake_replay::incremental::recorded_chains(&conn)?;
        let from = adlake_replay::incremental::start_date(w.from, &lake_chains, &recorded);
        if from < w.from {
            tracing::info!(requested = %w.from, from = %from, "earlier dates changed since they were projected: projecting from {from}");
        }
        let carry = adlake_replay::incremental::read_carry(&conn, from)?;
        Ok((Target::InPlace(conn), Some(DateWindow { from, to: w.to }), carry))
    })
    .await
    .map_err(|e| AppError::Usage(format!("database task failed: {e}")))??;

    tracing::debug!(elapsed_s = started.elapsed().as_secs_f64(), "database opened, carry read");
    let dates: Vec<NaiveDate> =
        keys_by_date.keys().copied().filter(|d| window.is_none_or(|w| w.contains(*d))).collect();
    let markers = lake
        .list_events(&EventFilter {
            from: None,
            to: None,
            source: Some(crate::commands::ingest::JOB.into()),
        })
        .await?;
    let before_as_of = move |e: &Envelope| as_of.is_none_or(|t| e.fetched_at < t);
    let markers: Vec<Event> = markers
        .into_iter()
        .filter(|e| before_as_of(&e.envelope))
        .map(|e| Event { id: e.id, envelope: e.envelope, body: None })
        .collect();
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
        Err(AppError::Usage("projection stopped before its last date; nothing was written".into()))
    });
    let worker = tokio::task::spawn_blocking(move || -> Result<ProjectionSummary, AppError> {
        let mut target = target;
        let mut writer = adlake_replay::write::Writer::begin(target.connection(), window)?;
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
        Err(AppError::Usage("projection stopped before its last date; nothing was written".into()))
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
    let projected = projector_task
        .await
        .map_err(|e| AppError::Usage(format!("projection task failed: {e}")))?;
    let written =
        worker.await.map_err(|e| AppError::Usage(format!("database task failed: {e}")))?;
    // The first stage that failed names the cause; later stages only saw it stop.
    if let Some(e) = load_error {
        return Err(e);
    }
    projected?;
    let summary = written?;
    tracing::debug!(elapsed_s = started.elapsed().as_secs_f64(), "projection written");
    Ok(summary)
}

/// Reads the bodies of `stored` (in parallel), decompressed and verified.
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
            let compressed = lake.get_body_compressed(&hash).await?;
            let plain = tokio::task::spawn_blocking(move || {
                adlake_raw::store::decode_body_shared(&hash, &compressed)
            })
            .await
            .map_err(|e| AppError::Usage(format!("decompression task failed: {e}")))??;
            Ok::<_, AppError>((hash, plain))
        })
        .buffer_unordered(PARALLEL_READS)
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
        self.campaign_rows += day.campaign_index.len();
        self.session_rows += day.session_hourly.len();
        self.completeness_rows += day.completeness.len();
        self.quarantined += day.quarantine.len();
        self.unmapped_campaigns += day.unmapped_campaigns.len();
        for id in &day.unmapped_network_ids {
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
