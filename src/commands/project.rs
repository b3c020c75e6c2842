//! The projection engine: reads events (and their bodies) from the lake, runs the pure
//! projector on a blocking thread, and writes the result with the database open only for
//! that write. `reproject` and the end of `ingest` both come through here.

use std::collections::BTreeMap;
use std::sync::Arc;

use adlake_raw::store::EventFilter;
use adlake_raw::{BodyHash, Lake};
use adlake_replay::project::{self, DateWindow, Event, Projection, CONTEXT_DAYS};
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::config::Settings;
use crate::AppError;

const PARALLEL_READS: usize = 32;

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

/// Events needed to project `window` (everything when `None`): the window's events, the
/// context days before it, every `s1_daily_v3` event before that (campaign identity), and
/// every run marker.
pub async fn load_events(lake: &Lake, window: Option<DateWindow>) -> Result<Vec<Event>, AppError> {
    let mut stored = match window {
        None => lake.list_events(&EventFilter::default()).await?,
        Some(w) => {
            let context_from = w.from - chrono::Days::new(CONTEXT_DAYS);
            let mut all = lake.list_events(&EventFilter { from: Some(context_from), to: Some(w.to), source: None }).await?;
            let before = context_from.pred_opt();
            for source in ["s1_daily_v3", crate::commands::ingest::JOB] {
                let filter = EventFilter { from: None, to: if source == "s1_daily_v3" { before } else { None }, source: Some(source.into()) };
                if source == "s1_daily_v3" && before.is_none() {
                    continue;
                }
                all.extend(lake.list_events(&filter).await?);
            }
            all
        }
    };
    stored.sort_by_key(|e| e.id);
    stored.dedup_by_key(|e| e.id);
    let hashes: Vec<BodyHash> = {
        let mut h: Vec<BodyHash> = stored.iter().filter_map(|e| e.envelope.body.map(|b| b.sha256)).collect();
        h.sort();
        h.dedup();
        h
    };
    let bodies: BTreeMap<BodyHash, Arc<[u8]>> = futures::stream::iter(hashes)
        .map(|hash| async move {
            let compressed = lake.get_body_compressed(&hash).await?;
            let plain = tokio::task::spawn_blocking(move || adlake_raw::store::decode_body(&hash, &compressed))
                .await
                .map_err(|e| AppError::Usage(format!("decompression task failed: {e}")))??;
            Ok::<_, AppError>((hash, Arc::<[u8]>::from(plain)))
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

/// Projects `window` (or everything) from `lake` into the database at `settings.db`.
pub async fn project_into(settings: &Settings, lake: &Lake, window: Option<DateWindow>) -> Result<ProjectionSummary, AppError> {
    let (projection, body_bytes) = compute(settings, lake, window).await?;
    let summary = summarize(&projection, body_bytes);
    write_projection(settings, projection).await?;
    Ok(summary)
}

/// Loads and projects, without writing. Honours `settings.as_of` and `settings.projector`.
pub async fn compute(settings: &Settings, lake: &Lake, window: Option<DateWindow>) -> Result<(Projection, u64), AppError> {
    let mut events = load_events(lake, window).await?;
    if let Some(as_of) = settings.as_of {
        events.retain(|e| e.envelope.fetched_at < as_of);
    }
    let body_bytes: u64 = {
        let mut seen = std::collections::BTreeSet::new();
        events.iter().filter_map(|e| e.envelope.body).filter(|b| seen.insert(b.sha256)).map(|b| b.len).sum()
    };
    let config = settings.projector.clone();
    let projection = tokio::task::spawn_blocking(move || project::project(&events, window, &config))
        .await
        .map_err(|e| AppError::Usage(format!("projection task failed: {e}")))?;
    Ok((projection, body_bytes))
}

pub fn summarize(p: &Projection, body_bytes: u64) -> ProjectionSummary {
    ProjectionSummary {
        window: p.window.map(|w| (w.from, w.to)),
        events: p.events_applied.len(),
        body_bytes,
        campaign_rows: p.campaign_index.len(),
        session_rows: p.session_hourly.len(),
        completeness_rows: p.completeness.len(),
        runs: p.campaign_runs.len(),
        quarantined: p.quarantine.len(),
        unmapped_campaigns: p.unmapped_campaigns.len(),
        unmapped_network_ids: p.unmapped_network_ids.iter().cloned().collect(),
    }
}

pub async fn write_projection(settings: &Settings, projection: Projection) -> Result<(), AppError> {
    let path = settings.db.clone();
    let wait = settings.lock_wait;
    tokio::task::spawn_blocking(move || -> Result<(), AppError> {
        let mut conn = adlake_replay::db::open(&path, adlake_replay::db::Access::ReadWrite, wait)?;
        adlake_replay::db::migrate(&mut conn, &path)?;
        adlake_replay::write::write(&mut conn, &projection)?;
        Ok(())
    })
    .await
    .map_err(|e| AppError::Usage(format!("database task failed: {e}")))?
}
