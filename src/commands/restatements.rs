//! `adlake restatements`: what the upstream changed, (endpoint, date) by (endpoint, date),
//! between consecutive successful fetches; largest change first.

use chrono::NaiveDate;

use super::{open_lake_to_read, Context};
use crate::{output, AppError, Outcome};

pub async fn run(
    ctx: &Context,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    endpoint: Option<String>,
) -> Result<Outcome, AppError> {
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(AppError::Usage(format!("--from {f} is after --to {t}")));
        }
    }
    if let Some(e) = &endpoint {
        crate::config::check_endpoint(e, "--endpoint")?;
    }
    let lake = open_lake_to_read(&ctx.settings).await?;
    let filter = adlake_raw::store::EventFilter { from, to, source: endpoint };
    let stored = lake.list_events(&filter).await?;
    let mut events = Vec::with_capacity(stored.len());
    for e in stored.into_iter().filter(|e| e.envelope.http.is_some()) {
        let body = match e.envelope.body {
            Some(b) => Some(std::sync::Arc::<[u8]>::from(lake.get_body(&b.sha256).await?)),
            None => None,
        };
        events.push(adlake_replay::project::Event { id: e.id, envelope: e.envelope, body });
    }
    let found = tokio::task::spawn_blocking(move || adlake_replay::project::restatements(&events))
        .await
        .map_err(AppError::task("restatement"))?;
    if ctx.global.json {
        output::print_json(&found)?;
        return Ok(Outcome::Clean);
    }
    let mut text =
        format!("{} restated (endpoint, date) pairs, largest change first\n", found.len());
    for r in &found {
        text.push_str(&format!(
            "\n{} {}: fetched {} then {} ({} values changed)\n",
            r.endpoint,
            r.date,
            adlake_raw::envelope::millis::format(&r.before_fetched_at),
            adlake_raw::envelope::millis::format(&r.after_fetched_at),
            r.deltas.len()
        ));
        for d in r.deltas.iter().take(10) {
            text.push_str(&format!(
                "  {:<24} {:<11} {} -> {} ({:+})\n",
                d.campaign,
                d.metric,
                d.before.as_deref().unwrap_or("NULL"),
                d.after.as_deref().unwrap_or("NULL"),
                d.change
            ));
        }
        if r.deltas.len() > 10 {
            text.push_str(&format!("  ... {} more\n", r.deltas.len() - 10));
        }
    }
    output::print(&text)?;
    Ok(Outcome::Clean)
}
