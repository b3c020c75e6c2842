//! The ingest run: plan the (endpoint, date) fetches, run them concurrently through the
//! connector, bracket the run with run-started / run-finished events, and project the dates
//! it touched. The `ingest` command (and the demo) drive it; it prints nothing.
//!
//! Order of writes: run-started first, then every attempt as it happens, run-finished last.
//! A run killed midway leaves its started event and every completed attempt; the projector
//! calls such a run `interrupted`, and the next run simply proceeds. Every time it records
//! comes from its [`Clock`]: the system clock in production.

use std::collections::BTreeMap;
use std::sync::Arc;

use adlake_raw::store::EventFilter;
use adlake_raw::{Envelope, Lake, RunPhase};
use adlake_replay::body::{self, NextPage, Probe};
use adlake_replay::registry::EndpointSpec;
use adlake_replay::ENDPOINTS;
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::clock::Clock;
use crate::config::Settings;
use crate::connector::auth::Auth;
use crate::connector::{
    http_client, parse_base, FetchOutcome, FetchStatus, Fetcher, UpstreamError,
};
use crate::output;
use crate::secrets::Credentials;
use crate::{AppError, Outcome};

pub const JOB: &str = "ingest";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateSelection {
    /// Today and each endpoint's lookback window before it.
    Incremental {
        today: NaiveDate,
    },
    Range {
        from: NaiveDate,
        to: NaiveDate,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub endpoint: String,
    pub date: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub status: String,
    pub started_at: String,
    pub finished_at: String,
    pub fetches: Vec<FetchOutcome>,
    pub skipped: Vec<Skipped>,
    pub events_written: u64,
    pub bytes_new: u64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projection: Option<super::project::ProjectionSummary>,
    /// The alert rules' verdicts at the end of the run (when rules are configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts: Option<crate::alerts::CheckReport>,
    /// Why the alert evaluation could not run; the run itself is unaffected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerts_error: Option<String>,
    /// The Parquet export of the projected dates (`--export`, `[export] url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<crate::export::ExportSummary>,
    /// Why the reader copy or the export failed: the lake and the database are complete, and
    /// the run exits 1 so that a scheduler notices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_error: Option<String>,
}

impl RunReport {
    /// Failures when any fetch FAILED, or publishing (export, reader copy) failed.
    pub fn outcome(&self) -> Outcome {
        if self.fetches.iter().any(|f| f.status == FetchStatus::Failed)
            || self.publish_error.is_some()
        {
            Outcome::Failures
        } else {
            Outcome::Clean
        }
    }

    pub fn dates(&self) -> Vec<NaiveDate> {
        let mut d: Vec<NaiveDate> = self.fetches.iter().map(|f| f.date).collect();
        d.sort();
        d.dedup();
        d
    }
}

pub struct Upstream {
    pub url: String,
    pub auth_url: String,
    pub credentials: Credentials,
}

/// The (endpoint, date) pairs a run should fetch, in registry then date order.
pub fn plan(
    selection: &DateSelection,
    endpoints: &[&'static EndpointSpec],
    settings: &Settings,
) -> Vec<(&'static EndpointSpec, NaiveDate)> {
    let mut out = Vec::new();
    for spec in ENDPOINTS.iter().filter(|s| endpoints.iter().any(|e| e.key == s.key)) {
        let (from, to) = match selection {
            DateSelection::Range { from, to } => (*from, *to),
            DateSelection::Incremental { today } => {
                let lookback = settings.upstream.endpoint(spec.key).lookback_days;
                (*today - chrono::Days::new(u64::from(lookback)), *today)
            }
        };
        let mut d = from;
        while d <= to {
            out.push((spec, d));
            d = match d.succ_opt() {
                Some(n) => n,
                None => break,
            };
        }
    }
    out
}

/// Incremental runs leave out dates whose final data the lake already holds: at least
/// `skip_final_after_days` old, with a fetch whose every page parsed and that had rows.
async fn skip_final(
    lake: &Lake,
    selection: &DateSelection,
    planned: Vec<(&'static EndpointSpec, NaiveDate)>,
    settings: &Settings,
) -> Result<(Vec<(&'static EndpointSpec, NaiveDate)>, Vec<Skipped>), AppError> {
    let DateSelection::Incremental { today } = selection else { return Ok((planned, Vec::new())) };
    let mut keep = Vec::new();
    let mut skipped = Vec::new();
    for (spec, date) in planned {
        let final_after = settings.upstream.endpoint(spec.key).skip_final_after_days;
        let old_enough = final_after.is_some_and(|n| (*today - date).num_days() >= i64::from(n));
        if old_enough
            && has_complete_nonempty_fetch(lake, spec, date, settings.upstream.page_limit).await?
        {
            skipped.push(Skipped {
                endpoint: spec.key.into(),
                date,
                reason: "final data already in the lake".into(),
            });
        } else {
            keep.push((spec, date));
        }
    }
    Ok((keep, skipped))
}

async fn has_complete_nonempty_fetch(
    lake: &Lake,
    spec: &EndpointSpec,
    date: NaiveDate,
    limit: u32,
) -> Result<bool, AppError> {
    let events = lake
        .list_events(&EventFilter {
            from: Some(date),
            to: Some(date),
            source: Some(spec.key.into()),
        })
        .await?;
    // fetch_id -> page -> (rows, last page?) for pages that parsed as data
    let mut fetches: BTreeMap<String, BTreeMap<u32, (usize, bool)>> = BTreeMap::new();
    for e in events {
        let (Some(http), Some(body)) = (&e.envelope.http, e.envelope.body) else { continue };
        let Some(status) = http.status else { continue };
        let bytes = lake.get_body(&body.sha256).await?;
        if let Probe::Data { items, next, .. } =
            body::read(spec, status, &bytes, http.page, limit, false).probe
        {
            fetches
                .entry(http.fetch_id.clone())
                .or_default()
                .insert(http.page, (items, next == NextPage::Done));
        }
    }
    Ok(fetches.values().any(|pages| {
        let contiguous = pages.keys().copied().eq(1..=pages.len() as u32);
        let ends = pages.values().last().is_some_and(|(_, last)| *last);
        contiguous && ends && pages.values().map(|(rows, _)| rows).sum::<usize>() > 0
    }))
}

pub fn new_run_id(now: DateTime<Utc>) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(now.timestamp_nanos_opt().unwrap_or_default() as u128);
    h.write_u32(std::process::id());
    format!("{}-{:06x}", now.format("%Y%m%dT%H%M%SZ"), h.finish() & 0xff_ffff)
}

/// Projects the dates a run touched (the database is opened only now, for the write).
pub async fn project_touched(
    settings: &Settings,
    lake: &Lake,
    report: &mut RunReport,
) -> Result<(), AppError> {
    let dates = report.dates();
    if let (Some(from), Some(to)) = (dates.first(), dates.last()) {
        let window = adlake_replay::project::DateWindow { from: *from, to: *to };
        report.projection = Some(super::project::project_into(settings, lake, Some(window)).await?);
    }
    Ok(())
}

/// Publishes what the run projected to readers that must not wait for the database's lock:
/// refreshes the reader copy (`[db] reader_copy`) and exports the projected dates as Parquet
/// to `export_url` (else `[export] url`). A failure is recorded in `report`, never raised:
/// the lake and the database already hold the run, and the next run publishes again.
pub async fn publish(settings: &Settings, report: &mut RunReport, export_url: Option<&str>) {
    let Some(projection) = &report.projection else { return };
    let window =
        projection.window.map(|(from, to)| adlake_replay::project::DateWindow { from, to });
    let outcome = async {
        if let Some(copy) = settings.reader_copy.clone() {
            let (db, wait) = (settings.db.clone(), settings.lock_wait);
            tokio::task::spawn_blocking(move || {
                crate::store::reader_copy::refresh(&db, &copy, wait)
            })
            .await
            .map_err(|e| AppError::Usage(format!("reader copy task failed: {e}")))??;
        }
        let Some(into) = export_url.map(str::to_owned).or_else(|| settings.export_url.clone())
        else {
            return Ok(None);
        };
        let tables = crate::export::resolve_tables(&settings.export_tables)?;
        let request = crate::export::ExportRequest { into, window, tables };
        Ok::<_, AppError>(Some(crate::export::export(settings, &request).await?))
    }
    .await;
    match outcome {
        Ok(export) => report.export = export,
        Err(e) => {
            let text = format!("{:#}", anyhow::Error::new(e));
            tracing::warn!("publishing the projected dates failed: {text}");
            report.publish_error = Some(text);
        }
    }
}

/// Evaluates the alert rules over what the run projected, records and delivers their
/// verdicts. Never fails the run: a failure (or a delivery that did not go through) is
/// reported in `report` and logged, and the next run retries what was not delivered.
pub async fn evaluate_alerts(
    settings: &Settings,
    lake: &Lake,
    report: &mut RunReport,
    clock: &dyn Clock,
) {
    if settings.alerts.rules.is_empty() {
        return;
    }
    let outcome = async {
        let webhooks = crate::secrets::alert_webhooks(
            &crate::config::process_env,
            settings.upstream.secrets_file.as_deref(),
        )?;
        crate::alerts::check(settings, lake, &report.run_id, None, clock, &webhooks).await
    }
    .await;
    match outcome {
        Ok(alerts) => report.alerts = Some(alerts),
        Err(e) => {
            let text = format!("{:#}", anyhow::Error::new(e));
            tracing::warn!("alert evaluation failed (the run is unaffected): {text}");
            report.alerts_error = Some(text);
        }
    }
}

/// One ingest run. Upstream trouble shows in the report; `Err` means the run could not
/// proceed at all (the lake is not writable, or the login failed).
pub async fn ingest(
    settings: &Settings,
    upstream: &Upstream,
    lake: &Lake,
    selection: &DateSelection,
    endpoints: &[&'static EndpointSpec],
    progress: bool,
    clock: Arc<dyn Clock>,
) -> Result<RunReport, AppError> {
    let (base, auth_base) = (parse_base(&upstream.url)?, parse_base(&upstream.auth_url)?);
    let started_at = clock.now();
    let run_id = new_run_id(started_at);
    let planned = plan(selection, endpoints, settings);
    let (planned, skipped) = skip_final(lake, selection, planned, settings).await?;
    let (date_from, date_to) =
        (planned.iter().map(|p| p.1).min(), planned.iter().map(|p| p.1).max());
    let keys: Vec<&str> = endpoints.iter().map(|e| e.key).collect();
    let start_detail = serde_json::json!({
        "date_from": date_from, "date_to": date_to, "endpoints": keys,
        "incremental": matches!(selection, DateSelection::Incremental { .. }),
        "planned": planned.iter().map(|(s, d)| serde_json::json!([s.key, d])).collect::<Vec<_>>(),
    });
    let run_date = started_at.date_naive();
    let (_, start_stats) = lake
        .put_exchange(
            Envelope::run(JOB, run_date, &run_id, started_at, RunPhase::Started, start_detail),
            None,
        )
        .await?;

    let client = http_client(&settings.upstream)?;
    let auth = Arc::new(Auth::new(client.clone(), &auth_base, upstream.credentials.clone()));
    let mut report = RunReport {
        run_id: run_id.clone(),
        status: "failed".into(),
        started_at: adlake_raw::envelope::millis::format(&started_at),
        finished_at: String::new(),
        fetches: Vec::new(),
        skipped,
        events_written: 1,
        bytes_new: start_stats.envelope_new_bytes,
        message: String::new(),
        projection: None,
        alerts: None,
        alerts_error: None,
        export: None,
        publish_error: None,
    };

    let fetched = match auth.token().await {
        Err(e) => Err(e),
        Ok(_) => {
            let fetcher = Arc::new(Fetcher::new(
                &settings.upstream,
                &base,
                auth.clone(),
                client,
                lake.clone(),
                &run_id,
                clock.clone(),
            ));
            run_fetches(fetcher, planned, settings, progress).await
        }
    };
    let login_error = match fetched {
        Ok(outcomes) => {
            report.fetches = outcomes;
            None
        }
        Err(UpstreamError::Lake(e)) => return Err(e.into()),
        Err(e) => {
            report.message = e.to_string();
            Some(e)
        }
    };
    report.events_written += report.fetches.iter().map(|f| u64::from(f.events)).sum::<u64>();
    report.bytes_new += report.fetches.iter().map(|f| f.new_bytes).sum::<u64>();
    let failed: Vec<&FetchOutcome> =
        report.fetches.iter().filter(|f| f.status == FetchStatus::Failed).collect();
    report.status = if login_error.is_some() || failed.iter().any(|f| f.critical) {
        "failed"
    } else if !failed.is_empty() {
        "partial"
    } else {
        "success"
    }
    .into();
    if report.message.is_empty() && !failed.is_empty() {
        let names: Vec<String> =
            failed.iter().map(|f| format!("{} {}", f.endpoint, f.date)).collect();
        report.message = format!("{} fetch(es) failed: {}", failed.len(), names.join(", "));
    }
    let finished_at = clock.now();
    report.finished_at = adlake_raw::envelope::millis::format(&finished_at);
    report.events_written += 1;
    let finish_detail = serde_json::json!({
        "status": report.status, "message": report.message, "date_from": date_from, "date_to": date_to,
        "endpoints": keys, "events_written": report.events_written, "bytes_new": report.bytes_new,
        "fetches": report.fetches, "skipped": report.skipped,
    });
    let (_, finish_stats) = lake
        .put_exchange(
            Envelope::run(JOB, run_date, &run_id, finished_at, RunPhase::Finished, finish_detail),
            None,
        )
        .await?;
    report.bytes_new += finish_stats.envelope_new_bytes;
    match login_error {
        Some(e) => Err(e.into()),
        None => Ok(report),
    }
}

async fn run_fetches(
    fetcher: Arc<Fetcher>,
    planned: Vec<(&'static EndpointSpec, NaiveDate)>,
    settings: &Settings,
    progress: bool,
) -> Result<Vec<FetchOutcome>, UpstreamError> {
    let per_endpoint = settings.upstream.per_endpoint_concurrency;
    let multi = output::multi(progress);
    let mut gates: BTreeMap<&'static str, (Arc<Semaphore>, indicatif::ProgressBar)> =
        BTreeMap::new();
    for (spec, _) in &planned {
        if !gates.contains_key(spec.key) {
            let count = planned.iter().filter(|(s, _)| s.key == spec.key).count() as u64;
            gates.insert(
                spec.key,
                (Arc::new(Semaphore::new(per_endpoint)), output::bar(&multi, count, spec.key)),
            );
        }
    }
    let total = gates.len().max(1) * per_endpoint;
    let order: BTreeMap<(usize, NaiveDate), usize> = planned
        .iter()
        .enumerate()
        .map(|(i, (s, d))| ((ENDPOINTS.iter().position(|e| e.key == s.key).unwrap_or(0), *d), i))
        .collect();
    let results: Vec<Result<FetchOutcome, UpstreamError>> = futures::stream::iter(planned)
        .map(|(spec, date)| {
            let fetcher = fetcher.clone();
            let gate = gates.get(spec.key).cloned();
            async move {
                let permit = match &gate {
                    Some((g, _)) => g.clone().acquire_owned().await.ok(),
                    None => None,
                };
                let outcome = fetcher.fetch(spec, date).await;
                drop(permit);
                if let Some((_, bar)) = &gate {
                    bar.inc(1);
                    if matches!(&outcome, Ok(o) if o.status == FetchStatus::Failed) {
                        bar.set_message(format!("{date} FAILED"));
                    }
                }
                outcome
            }
        })
        .buffer_unordered(total)
        .collect()
        .await;
    for (_, bar) in gates.values() {
        bar.finish();
    }
    let mut outcomes = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    outcomes.sort_by_key(|o| {
        order
            .get(&(ENDPOINTS.iter().position(|e| e.key == o.endpoint).unwrap_or(0), o.date))
            .copied()
    });
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn incremental_plan_uses_each_endpoints_lookback() {
        let settings = crate::config::load(&Default::default(), &|_| None).unwrap();
        let endpoints =
            ["s1_reconciled", "taboola_report"].map(|k| adlake_replay::endpoint(k).unwrap());
        let p = plan(&DateSelection::Incremental { today: d("2025-11-23") }, &endpoints, &settings);
        let reconciled: Vec<_> =
            p.iter().filter(|(s, _)| s.key == "s1_reconciled").map(|(_, d)| *d).collect();
        let taboola: Vec<_> =
            p.iter().filter(|(s, _)| s.key == "taboola_report").map(|(_, d)| *d).collect();
        assert_eq!(reconciled.first(), Some(&d("2025-11-18")));
        assert_eq!(reconciled.len(), 6);
        assert_eq!(
            taboola,
            vec![d("2025-11-20"), d("2025-11-21"), d("2025-11-22"), d("2025-11-23")]
        );
    }
}
