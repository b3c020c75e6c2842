//! `campaign_index_runs` and `session_ingest_runs` (`projection-rules.md` §6): one row per
//! ingest run, failed and interrupted ones included, from the run's own start and finish
//! events; and the `raw_events` rows of the events read.

use std::collections::BTreeMap;

use adlake_raw::RunPhase;
use chrono::NaiveDate;

use super::fetch::sorted_events;
use super::projector::Projector;
use super::rows::{RawEventRow, RunRow};
use super::Event;

impl Projector<'_> {
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
                // A window projection sees every fetch of a run, and so rewrites its row, only
                // when the dates it fetched (its finish marker's fetches, else what its start
                // planned) all fall inside the window; a run that fetched nothing (a failed
                // login) has nothing outside it. Dates outside a run's own fetches do not
                // change its row, so this equals a full projection's row.
                let fetched: Vec<NaiveDate> = match &finish {
                    Some(f) => f["fetches"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| date_of(&x["date"]))
                        .collect(),
                    None => start["planned"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|x| date_of(&x[1]))
                        .collect(),
                };
                if !fetched.iter().all(|d| w.contains(*d)) {
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
}

pub(super) fn raw_event_row(e: &Event) -> RawEventRow {
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
