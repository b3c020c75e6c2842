//! Turning outcomes into evidence: each verdict becomes an alert event in the lake (the
//! truth) and its `alert_events` row in the database, with its inputs and the raw events
//! behind each of them; each delivery likewise. Rows are made from the events exactly as a
//! projection makes them (`adlake_replay::project::alerts::alert_row`), so the database stays
//! equal to a rebuild from the lake.

use adlake_raw::{Envelope, EventId, Lake};
use adlake_replay::project::alerts::{
    alert_row, AlertDeliveryRow, AlertEventRow, AlertRecord, AlertRow, Delivery, Evidence, Verdict,
    ALERTS_SOURCE,
};
use chrono::{DateTime, Utc};
use duckdb::Connection;

use super::eval::{InputRef, Source};
use crate::store::db::DbError;

fn q(context: &'static str) -> impl Fn(duckdb::Error) -> DbError {
    move |source| DbError::Query { context: context.into(), source }
}

fn strings(
    conn: &Connection,
    sql: &str,
    args: &[&dyn duckdb::ToSql],
) -> Result<Vec<(String, String)>, DbError> {
    let mut stmt = conn.prepare(sql).map_err(q("read evidence"))?;
    let rows = stmt
        .query_map(args, |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(q("read evidence"))?;
    rows.collect::<Result<_, _>>().map_err(q("read evidence"))
}

/// The events of a fetch that answered with a success, page by page.
fn fetch_events(conn: &Connection, fetch_id: &str) -> Result<Vec<String>, DbError> {
    Ok(strings(
        conn,
        "SELECT event_id, fetch_id FROM raw_events
         WHERE fetch_id = ? AND kind = 'http' AND http_status BETWEEN 200 AND 299
         ORDER BY page, fetched_at, event_id",
        &[&fetch_id],
    )?
    .into_iter()
    .map(|(e, _)| e)
    .collect())
}

/// The fetch and raw events each input was read from.
pub fn evidence(
    conn: &Connection,
    tables: &super::data::Tables,
    refs: &[InputRef],
) -> Result<Vec<Evidence>, DbError> {
    let mut out = Vec::new();
    for r in refs {
        match &r.source {
            Source::Snapshot { endpoint, date, hour } => {
                let fetch_id = tables
                    .inputs_at(*date, *hour)
                    .iter()
                    .find(|i| i.endpoint == *endpoint)
                    .and_then(|i| i.snapshot_fetch_id.clone());
                let event_ids = match &fetch_id {
                    Some(f) => fetch_events(conn, f)?,
                    None => Vec::new(),
                };
                out.push(Evidence {
                    input: r.input.clone(),
                    endpoint: endpoint.clone(),
                    date: *date,
                    fetch_id,
                    event_ids,
                });
            }
            Source::NewestFetch { endpoint, date, until } => {
                let newest = strings(
                    conn,
                    "SELECT fetch_id, event_id FROM raw_events
                     WHERE kind = 'http' AND source = ? AND date = CAST(? AS DATE) AND epoch_ms(fetched_at) <= ?
                     ORDER BY fetched_at DESC, event_id DESC LIMIT 1",
                    &[endpoint, &date.to_string(), until],
                )?;
                let fetch_id = newest.into_iter().next().map(|(f, _)| f);
                let event_ids = match &fetch_id {
                    Some(f) => strings(
                        conn,
                        "SELECT event_id, fetch_id FROM raw_events WHERE fetch_id = ? ORDER BY page, attempt, event_id",
                        &[f],
                    )?
                    .into_iter()
                    .map(|(e, _)| e)
                    .collect(),
                    None => Vec::new(),
                };
                out.push(Evidence {
                    input: r.input.clone(),
                    endpoint: endpoint.clone(),
                    date: *date,
                    fetch_id,
                    event_ids,
                });
            }
            Source::Lineage { row_key, date } => {
                let rows = strings(
                    conn,
                    "SELECT DISTINCT endpoint, event_id FROM lineage
                     WHERE table_name = 'campaign_index' AND date = CAST(? AS DATE) AND row_key = ?
                       AND column_name = 'revenue_usd' AND chosen ORDER BY endpoint, event_id",
                    &[&date.to_string(), row_key],
                )?;
                let endpoint = rows.first().map(|(e, _)| e.clone()).unwrap_or_default();
                out.push(Evidence {
                    input: r.input.clone(),
                    endpoint,
                    date: *date,
                    fetch_id: None,
                    event_ids: rows.into_iter().map(|(_, e)| e).collect(),
                });
            }
        }
    }
    Ok(out)
}

/// An alert event as it will be stored, and the row it gives.
pub struct Written<R> {
    pub id: EventId,
    pub row: R,
}

async fn put(
    lake: &Lake,
    run_id: &str,
    date: chrono::NaiveDate,
    at: DateTime<Utc>,
    record: &AlertRecord,
) -> Result<(EventId, AlertRow), adlake_raw::RawError> {
    let detail = serde_json::to_value(record).map_err(|e| {
        adlake_raw::RawError::InvalidEnvelope { reason: format!("alert record: {e}") }
    })?;
    let envelope = Envelope::alert(ALERTS_SOURCE, date, run_id, at, detail);
    let mut canonical = envelope.clone();
    canonical.canonicalize()?;
    let (id, _) = lake.put_exchange(envelope, None).await?;
    let row = alert_row(&id, &canonical)
        .map_err(|reason| adlake_raw::RawError::InvalidEnvelope { reason })?;
    Ok((id, row))
}

/// Writes a verdict to the lake, recorded at its evaluation's clock.
pub async fn put_verdict(
    lake: &Lake,
    run_id: &str,
    verdict: Verdict,
) -> Result<Written<AlertEventRow>, adlake_raw::RawError> {
    let (date, at) = (verdict.date, verdict.evaluated_at);
    match put(lake, run_id, date, at, &AlertRecord::Verdict(verdict)).await? {
        (id, AlertRow::Event(row)) => Ok(Written { id, row }),
        _ => Err(adlake_raw::RawError::InvalidEnvelope { reason: "not a verdict row".into() }),
    }
}

/// Writes a delivery's outcome to the lake, recorded when it ended.
pub async fn put_delivery(
    lake: &Lake,
    run_id: &str,
    date: chrono::NaiveDate,
    at: DateTime<Utc>,
    delivery: Delivery,
) -> Result<Written<AlertDeliveryRow>, adlake_raw::RawError> {
    match put(lake, run_id, date, at, &AlertRecord::Delivery(delivery)).await? {
        (id, AlertRow::Delivery(row)) => Ok(Written { id, row }),
        _ => Err(adlake_raw::RawError::InvalidEnvelope { reason: "not a delivery row".into() }),
    }
}

/// Verdicts already in the database, in the order they were evaluated.
pub fn history(conn: &Connection) -> Result<Vec<AlertEventRow>, DbError> {
    let mut stmt = conn
        .prepare(
            "SELECT event_id, CAST(date AS VARCHAR), run_id, outcome, rule_name, rule_hash, condition, subject,
                    epoch_ms(as_of_hour), epoch_ms(evaluated_at), message, projection_fingerprint, inputs,
                    evidence, suppressed_by
             FROM alert_events ORDER BY evaluated_at, rule_name, subject, event_id",
        )
        .map_err(q("read alert_events"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(AlertEventRow {
                event_id: r.get(0)?,
                date: r.get::<_, String>(1)?.parse().unwrap_or_default(),
                run_id: r.get(2)?,
                outcome: r.get(3)?,
                rule_name: r.get(4)?,
                rule_hash: r.get(5)?,
                condition: r.get(6)?,
                subject: r.get(7)?,
                as_of_hour: super::data::instant(r.get(8)?),
                evaluated_at: super::data::instant(r.get(9)?),
                message: r.get(10)?,
                projection_fingerprint: r.get(11)?,
                inputs: r.get(12)?,
                evidence: r.get(13)?,
                suppressed_by: r.get(14)?,
            })
        })
        .map_err(q("read alert_events"))?;
    rows.collect::<Result<_, _>>().map_err(q("read alert_events"))
}

/// Per (verdict event id, channel): whether some delivery succeeded, and tries so far.
pub type DeliveryState = std::collections::BTreeMap<(String, String), (bool, i64)>;

/// Per verdict event id and channel: whether some delivery succeeded, and tries so far.
pub fn delivery_state(conn: &Connection) -> Result<DeliveryState, DbError> {
    let mut stmt = conn
        .prepare(
            "SELECT alert_event_id, channel, bool_or(delivered), count(*) FROM alert_deliveries GROUP BY ALL",
        )
        .map_err(q("read alert_deliveries"))?;
    let rows = stmt
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))))
        .map_err(q("read alert_deliveries"))?;
    rows.collect::<Result<_, _>>().map_err(q("read alert_deliveries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_verdicts_row_is_what_a_projection_of_its_event_gives() {
        let lake = Lake::memory();
        let at = DateTime::from_timestamp(1_763_900_000, 123_456_789).unwrap_or_default();
        let verdict = Verdict {
            outcome: "fired".into(),
            rule: "r".into(),
            rule_hash: "h".into(),
            condition: "fetch_status".into(),
            subject: "endpoint taboola_report 2025-11-23".into(),
            date: at.date_naive(),
            as_of_hour: at,
            evaluated_at: at,
            message: "m".into(),
            projection_fingerprint: "fp".into(),
            inputs: Default::default(),
            evidence: vec![],
            suppressed_by: vec![],
        };
        let written = put_verdict(&lake, "run-1", verdict).await.unwrap();
        let events = lake.list_events(&Default::default()).await.unwrap();
        let projected = adlake_replay::project::alerts::alert_tables(
            &events
                .into_iter()
                .map(|e| adlake_replay::project::Event {
                    id: e.id,
                    envelope: e.envelope,
                    body: None,
                })
                .collect::<Vec<_>>(),
        );
        assert_eq!(projected.events, vec![written.row]);
    }
}
