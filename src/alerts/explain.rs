//! `alerts explain ID`: from a verdict down to the bytes, as `audit` does for a projected
//! value: the rule (name, hash, and whether the configured rule is still that text), the
//! evaluation (instant, clock, projection fingerprint), the input values, and for each input
//! the fetch and raw events it was read from (fetch time, redacted request, status, body
//! sha256); with `--raw`, the campaign's row in each body, byte for byte (or, for a subject
//! without a row, the start of the body). Then what became of its messages.

use adlake_raw::Lake;
use duckdb::{params, Connection};
use serde::Serialize;

use super::rules::Rule;
use super::AlertError;
use crate::store::db::DbError;

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub event_id: String,
    pub fetched_at: Option<String>,
    pub request: Option<String>,
    pub http_status: Option<i32>,
    pub page: Option<i32>,
    pub body_sha256: Option<String>,
    pub body_len: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fragment: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Input {
    pub input: String,
    pub endpoint: String,
    pub date: String,
    pub fetch_id: Option<String>,
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    pub event_id: String,
    pub outcome: String,
    pub rule: String,
    pub rule_hash: String,
    /// The configured rule's text when it still hashes the same; else why not.
    pub rule_now: String,
    pub condition: String,
    pub subject: String,
    pub date: String,
    pub as_of_hour: String,
    pub evaluated_at: String,
    pub message: String,
    pub suppressed_by: Option<String>,
    pub projection_fingerprint: String,
    pub inputs: serde_json::Value,
    pub evidence: Vec<Input>,
    pub deliveries: Vec<serde_json::Value>,
}

fn q(context: &'static str) -> impl Fn(duckdb::Error) -> DbError {
    move |source| DbError::Query { context: context.into(), source }
}

/// The verdict `id` (an event id, or a prefix of at least 8 of its characters).
pub fn explain(conn: &Connection, id: &str, rules: &[Rule]) -> Result<Explained, AlertError> {
    let id = id.trim().to_ascii_lowercase();
    let mut stmt = conn
        .prepare(
            "SELECT event_id, outcome, rule_name, rule_hash, condition, subject, CAST(date AS VARCHAR),
                    strftime(as_of_hour, '%Y-%m-%dT%H:%M:%SZ'), strftime(evaluated_at, '%Y-%m-%dT%H:%M:%S.%gZ'),
                    message, suppressed_by, projection_fingerprint, inputs, evidence
             FROM alert_events WHERE event_id = ? OR (length(?) >= 8 AND starts_with(event_id, ?))
             ORDER BY event_id LIMIT 2",
        )
        .map_err(q("read alert_events"))?;
    type Found = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        Option<String>,
        String,
        String,
        String,
    );
    let found: Vec<Found> = stmt
        .query_map(params![id, id, id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
                r.get(11)?,
                r.get(12)?,
                r.get(13)?,
            ))
        })
        .map_err(q("read alert_events"))?
        .collect::<Result<_, _>>()
        .map_err(q("read alert_events"))?;
    let row = match found.len() {
        1 => found.into_iter().next().ok_or_else(|| AlertError::Task("lost a row".into()))?,
        0 => {
            return Err(AlertError::NotFound {
                id,
                hint: "; `adlake alerts check` lists the verdicts it records, and alert_events holds them all".into(),
            })
        }
        _ => {
            return Err(AlertError::NotFound {
                id,
                hint: ": that prefix names more than one; give more of the id".into(),
            })
        }
    };
    let (
        event_id,
        outcome,
        rule,
        rule_hash,
        condition,
        subject,
        date,
        as_of_hour,
        evaluated_at,
        message,
        suppressed_by,
        projection_fingerprint,
        inputs,
        evidence,
    ) = row;
    let rule_now = match rules.iter().find(|r| r.name == rule) {
        Some(r) if r.hash == rule_hash => r.text.clone(),
        Some(r) => format!("changed since: the configured rule `{rule}` now hashes {}", r.hash),
        None => format!("no rule `{rule}` is configured now"),
    };
    let recorded: Vec<adlake_replay::project::alerts::Evidence> =
        serde_json::from_str(&evidence).unwrap_or_default();
    let mut shown = Vec::new();
    let mut stmt = conn
        .prepare(
            "SELECT event_id, strftime(fetched_at, '%Y-%m-%dT%H:%M:%S.%gZ'), url, http_status, page, body_sha256, body_len
             FROM raw_events WHERE event_id = ? LIMIT 1",
        )
        .map_err(q("read raw_events"))?;
    for e in recorded {
        let mut events = Vec::new();
        for id in &e.event_ids {
            let mut rows = stmt
                .query_map(params![id], |r| {
                    Ok(Event {
                        event_id: r.get(0)?,
                        fetched_at: r.get(1)?,
                        request: r.get(2)?,
                        http_status: r.get(3)?,
                        page: r.get(4)?,
                        body_sha256: r.get(5)?,
                        body_len: r.get(6)?,
                        fragment: None,
                    })
                })
                .map_err(q("read raw_events"))?;
            match rows.next() {
                Some(found) => events.push(found.map_err(q("read raw_events"))?),
                None => events.push(Event {
                    event_id: id.clone(),
                    fetched_at: None,
                    request: None,
                    http_status: None,
                    page: None,
                    body_sha256: None,
                    body_len: None,
                    fragment: None,
                }),
            }
        }
        shown.push(Input {
            input: e.input,
            endpoint: e.endpoint,
            date: e.date.to_string(),
            fetch_id: e.fetch_id,
            events,
        });
    }
    let mut stmt = conn
        .prepare(
            "SELECT channel, delivered, attempts, http_status, error, strftime(recorded_at, '%Y-%m-%dT%H:%M:%SZ'), event_id
             FROM alert_deliveries WHERE alert_event_id = ? ORDER BY recorded_at, event_id",
        )
        .map_err(q("read alert_deliveries"))?;
    let deliveries = stmt
        .query_map(params![event_id], |r| {
            Ok(serde_json::json!({
                "channel": r.get::<_, String>(0)?, "delivered": r.get::<_, bool>(1)?,
                "attempts": r.get::<_, i32>(2)?, "http_status": r.get::<_, Option<i32>>(3)?,
                "error": r.get::<_, Option<String>>(4)?, "recorded_at": r.get::<_, String>(5)?,
                "event_id": r.get::<_, String>(6)?,
            }))
        })
        .map_err(q("read alert_deliveries"))?
        .collect::<Result<_, _>>()
        .map_err(q("read alert_deliveries"))?;
    Ok(Explained {
        event_id,
        outcome,
        rule,
        rule_hash,
        rule_now,
        condition,
        subject,
        date,
        as_of_hour,
        evaluated_at,
        message,
        suppressed_by,
        projection_fingerprint,
        inputs: serde_json::from_str(&inputs).unwrap_or_default(),
        evidence: shown,
        deliveries,
    })
}

/// The campaign's row in each input body (`--raw`), exactly as stored.
pub async fn add_fragments(lake: &Lake, explained: &mut Explained) -> Result<(), AlertError> {
    let campaign = explained
        .subject
        .strip_prefix("campaign ")
        .and_then(|s| s.split(' ').next())
        .map(str::to_owned);
    for input in &mut explained.evidence {
        let Some(spec) = adlake_replay::endpoint(&input.endpoint) else { continue };
        for e in &mut input.events {
            let Some(sha) =
                e.body_sha256.as_ref().and_then(|s| s.parse::<adlake_raw::BodyHash>().ok())
            else {
                continue;
            };
            let body = lake.get_body(&sha).await?;
            let status = e.http_status.and_then(|s| u16::try_from(s).ok()).unwrap_or(200);
            let page = e.page.and_then(|p| u32::try_from(p).ok()).unwrap_or(1);
            let located = campaign.as_deref().and_then(|id| {
                let read = adlake_replay::body::read(spec, status, &body, page, u32::MAX, true);
                let rows = read.rows?;
                let row = rows.rows.iter().find(|r| {
                    r.strategis_id.as_deref() == Some(id)
                        || r.campaign_name
                            .as_deref()
                            .is_some_and(|n| n.starts_with(&format!("{id}_")))
                })?;
                let locator = row.locator.to_string();
                adlake_replay::fragment::extract(&body, &locator)
                    .map(|f| format!("{locator}: {}", String::from_utf8_lossy(f)))
            });
            e.fragment = Some(located.unwrap_or_else(|| {
                let head = &body[..body.len().min(300)];
                format!(
                    "(first {} of {} bytes) {}",
                    head.len(),
                    body.len(),
                    String::from_utf8_lossy(head)
                )
            }));
        }
    }
    Ok(())
}

pub fn render(x: &Explained) -> String {
    let mut out = format!(
        "alert {}\n  {} {} on {} ({})\n  {}\n",
        x.event_id, x.rule, x.outcome, x.subject, x.condition, x.message
    );
    if let Some(s) = &x.suppressed_by {
        out.push_str(&format!("  suppressed by: {s}\n"));
    }
    out.push_str(&format!(
        "\nevaluated for {} with the rows as known at the end of {} (clock {})\n  projection fingerprint {}\n",
        x.date, x.as_of_hour, x.evaluated_at, x.projection_fingerprint
    ));
    out.push_str(&format!("\nrule {} (sha256 {})\n", x.rule, x.rule_hash));
    for line in x.rule_now.lines() {
        out.push_str(&format!("  | {line}\n"));
    }
    out.push_str("\ninputs\n");
    if let Some(map) = x.inputs.as_object() {
        for (k, v) in map {
            out.push_str(&format!("  {k} = {}\n", v.as_str().map_or(v.to_string(), str::to_owned)));
        }
    }
    for i in &x.evidence {
        out.push_str(&format!(
            "\n{} from {} {} (fetch {})\n",
            i.input,
            i.endpoint,
            i.date,
            i.fetch_id.as_deref().unwrap_or("-")
        ));
        if i.events.is_empty() {
            out.push_str("  (no event: nothing was fetched)\n");
        }
        for e in &i.events {
            out.push_str(&format!(
                "  event {}  fetched {}  HTTP {}  page {}\n    body {} ({} bytes)\n",
                e.event_id,
                e.fetched_at.as_deref().unwrap_or("?"),
                e.http_status.map_or("-".into(), |s| s.to_string()),
                e.page.map_or("-".into(), |p| p.to_string()),
                e.body_sha256.as_deref().unwrap_or("-"),
                e.body_len.map_or("-".into(), |l| l.to_string()),
            ));
            if let Some(r) = &e.request {
                out.push_str(&format!("    GET {r}\n"));
            }
            if let Some(f) = &e.fragment {
                out.push_str(&format!("    | {}\n", f.replace('\n', "\n    | ")));
            }
        }
    }
    out.push_str("\ndeliveries\n");
    if x.deliveries.is_empty() {
        out.push_str("  none\n");
    }
    for d in &x.deliveries {
        out.push_str(&format!(
            "  {} {} after {} attempt(s) at {}{}\n",
            d["channel"].as_str().unwrap_or("?"),
            if d["delivered"].as_bool() == Some(true) { "delivered" } else { "NOT delivered" },
            d["attempts"],
            d["recorded_at"].as_str().unwrap_or("?"),
            d["error"].as_str().map_or(String::new(), |e| format!(": {e}"))
        ));
    }
    out
}
