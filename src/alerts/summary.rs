//! A day's alerts for the report: what fired (and renotified), what recovered, and what was
//! suppressed and why, with whether each message reached its channels. Reads `alert_events`
//! and `alert_deliveries` only; [`day_summary`] is the one call `adlake report` needs.

use chrono::NaiveDate;
use duckdb::{params, Connection};
use serde::Serialize;

use crate::store::db::DbError;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    pub event_id: String,
    pub outcome: String,
    pub rule: String,
    pub subject: String,
    pub evaluated_at: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<String>,
    /// Channels that took the message, and those that have not (yet).
    pub delivered_to: Vec<String>,
    pub undelivered: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DaySummary {
    pub date: Option<NaiveDate>,
    /// fired and renotified, in evaluation order.
    pub firings: Vec<Line>,
    pub recoveries: Vec<Line>,
    pub suppressions: Vec<Line>,
}

/// The alerts about `date`'s data.
pub fn day_summary(conn: &Connection, date: NaiveDate) -> Result<DaySummary, DbError> {
    let q = |source| DbError::Query { context: "read alert_events".into(), source };
    let mut stmt = conn
        .prepare(
            "SELECT e.event_id, e.outcome, e.rule_name, e.subject, strftime(e.evaluated_at, '%Y-%m-%dT%H:%M:%SZ'),
                    e.message, e.suppressed_by,
                    coalesce(string_agg(DISTINCT d.channel, ',' ORDER BY d.channel) FILTER (WHERE d.delivered), ''),
                    coalesce(string_agg(DISTINCT d.channel, ',' ORDER BY d.channel) FILTER (WHERE NOT d.delivered), '')
             FROM alert_events e LEFT JOIN alert_deliveries d ON d.alert_event_id = e.event_id
             WHERE e.date = CAST(? AS DATE)
             GROUP BY ALL ORDER BY 5, 3, 4, 1",
        )
        .map_err(q)?;
    let rows = stmt
        .query_map(params![date.to_string()], |r| {
            let list = |s: String| -> Vec<String> {
                s.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect()
            };
            let delivered = list(r.get(7)?);
            let failed: Vec<String> =
                list(r.get(8)?).into_iter().filter(|c| !delivered.contains(c)).collect();
            Ok(Line {
                event_id: r.get(0)?,
                outcome: r.get(1)?,
                rule: r.get(2)?,
                subject: r.get(3)?,
                evaluated_at: r.get(4)?,
                message: r.get(5)?,
                suppressed_by: r.get(6)?,
                delivered_to: delivered,
                undelivered: failed,
            })
        })
        .map_err(q)?;
    let mut out = DaySummary { date: Some(date), ..Default::default() };
    for line in rows {
        let line = line.map_err(q)?;
        match line.outcome.as_str() {
            "fired" | "renotified" => out.firings.push(line),
            "recovered" => out.recoveries.push(line),
            _ => out.suppressions.push(line),
        }
    }
    Ok(out)
}
