//! `adlake raw ls | show | cat | verify`: the lake as it is, without interpretation.

use std::io::Write;

use adlake_raw::store::EventFilter;
use adlake_raw::{BodyHash, EventId, RawError};
use serde_json::json;

use super::{open_lake_to_read, Context};
use crate::cli::RawCommand;
use crate::output;
use crate::{AppError, Outcome};

pub async fn run(ctx: &Context, cmd: RawCommand) -> Result<Outcome, AppError> {
    match cmd {
        RawCommand::Ls { from, to, endpoint } => {
            if let (Some(f), Some(t)) = (from, to) {
                if f > t {
                    return Err(AppError::Usage(format!("--from {f} is after --to {t}")));
                }
            }
            if let Some(key) = &endpoint {
                if key != "ingest" {
                    crate::config::check_endpoint(key, "--endpoint")?;
                }
            }
            let lake = open_lake_to_read(&ctx.settings).await?;
            let events = lake.list_events(&EventFilter { from, to, source: endpoint }).await?;
            if ctx.global.json {
                let rows: Vec<_> = events
                    .iter()
                    .map(|e| {
                        let env = &e.envelope;
                        json!({
                            "event_id": e.id, "date": env.date, "source": env.source, "kind": env.kind,
                            "run_id": env.run_id, "fetched_at": adlake_raw::envelope::millis::format(&env.fetched_at),
                            "attempt": env.http.as_ref().map(|h| h.attempt), "page": env.http.as_ref().map(|h| h.page),
                            "status": env.http.as_ref().and_then(|h| h.status), "error": env.http.as_ref().and_then(|h| h.error.clone()),
                            "body_sha256": env.body.map(|b| b.sha256), "body_len": env.body.map(|b| b.len),
                        })
                    })
                    .collect();
                output::print_json(&rows)?;
            } else {
                let rows: Vec<Vec<String>> = events
                    .iter()
                    .map(|e| {
                        let env = &e.envelope;
                        let (status, attempt, page) = match &env.http {
                            Some(h) => (
                                h.status.map_or_else(|| "ERR".to_string(), |s| s.to_string()),
                                h.attempt.to_string(),
                                h.page.to_string(),
                            ),
                            None => (
                                match (&env.run, &env.alert) {
                                    (Some(r), _) => format!("{:?}", r.phase).to_lowercase(),
                                    (None, Some(_)) => "alert".into(),
                                    (None, None) => "-".into(),
                                },
                                "-".into(),
                                "-".into(),
                            ),
                        };
                        vec![
                            e.id.to_string(),
                            env.date.to_string(),
                            env.source.clone(),
                            adlake_raw::envelope::millis::format(&env.fetched_at),
                            status,
                            attempt,
                            page,
                            env.body.map_or("-".into(), |b| b.sha256.short()),
                            env.body.map_or("-".into(), |b| b.len.to_string()),
                        ]
                    })
                    .collect();
                output::print(&output::table(
                    &[
                        "event_id",
                        "date",
                        "source",
                        "fetched_at",
                        "status",
                        "attempt",
                        "page",
                        "body",
                        "bytes",
                    ],
                    &rows,
                ))?;
            }
            Ok(Outcome::Clean)
        }
        RawCommand::Show { event_id } => {
            let id: EventId = event_id.parse()?;
            let lake = open_lake_to_read(&ctx.settings).await?;
            let envelope = lake.get_event(&id).await?;
            let mut value = serde_json::to_value(&envelope).map_err(std::io::Error::other)?;
            value["event_id"] = json!(id);
            output::print_json(&value)?;
            Ok(Outcome::Clean)
        }
        RawCommand::Cat { id } => {
            let hash: BodyHash = id.parse().map_err(|_| RawError::BadId {
                what: "event id or body sha256",
                input: id.chars().take(80).collect(),
            })?;
            let lake = open_lake_to_read(&ctx.settings).await?;
            let bytes = match lake.get_body(&hash).await {
                Ok(bytes) => bytes,
                Err(RawError::NotFound { .. }) => {
                    let event_id = EventId::from_bytes(*hash.as_bytes());
                    let envelope = lake.get_event(&event_id).await.map_err(|e| match e {
                        RawError::NotFound { .. } => {
                            RawError::NotFound { what: "event or body", id: id.clone() }
                        }
                        other => other,
                    })?;
                    let Some(body) = envelope.body else {
                        return Err(AppError::Usage(format!(
                            "event {id} has no body (the request failed before a response)"
                        )));
                    };
                    lake.get_body(&body.sha256).await?
                }
                Err(e) => return Err(e.into()),
            };
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(&bytes)?;
            stdout.flush()?;
            Ok(Outcome::Clean)
        }
        RawCommand::Verify { sample } => {
            if let Some(f) = sample {
                if !(f > 0.0 && f <= 1.0) {
                    return Err(AppError::Usage(format!(
                        "--sample {f}: expected a fraction in (0, 1]"
                    )));
                }
            }
            let lake = open_lake_to_read(&ctx.settings).await?;
            let rotation = (chrono::Utc::now().timestamp() / 86_400) as u64;
            let report = adlake_raw::verify::verify(&lake, sample.map(|f| (f, rotation))).await?;
            if ctx.global.json {
                output::print_json(&report)?;
            } else {
                let mut text = String::new();
                for p in &report.problems {
                    text.push_str(&format!("{p}\n"));
                }
                text.push_str(&format!(
                    "checked {} of {} bodies and {} envelopes: {}\n",
                    report.bodies_checked,
                    report.bodies_total,
                    report.envelopes_checked,
                    if report.is_clean() {
                        "clean".to_string()
                    } else {
                        format!("{} problem(s)", report.problems.len())
                    }
                ));
                output::print(&text)?;
            }
            Ok(if report.is_clean() { Outcome::Clean } else { Outcome::Failures })
        }
    }
}
