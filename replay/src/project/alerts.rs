//! `alert_events` and `alert_deliveries`, from the lake's `alerts` events: what the alert
//! rules said at each evaluation (fired, renotified, recovered, suppressed), with the inputs
//! they read and the raw events behind them, and what became of each message sent.
//!
//! The records' shapes ([`AlertRecord`]) are defined here, the one vocabulary of the engine
//! that writes them and the projection that reads them back, so a database rebuilt from the
//! lake holds every firing it held before.
//!
//! Invariants: rows depend only on the events (never on their order: they are sorted by
//! their key); every time in them comes from the records or their envelopes; an event whose
//! payload does not read as a record is left out and named in [`AlertTables::unreadable`],
//! never fatal to a projection.

use std::collections::BTreeMap;

use adlake_raw::{Envelope, EventId, EventKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::Event;

/// The lake source alert events are filed under.
pub const ALERTS_SOURCE: &str = "alerts";

/// What one alert event records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertRecord {
    Verdict(Verdict),
    Delivery(Delivery),
}

/// One rule's verdict on one subject at one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// `fired`, `renotified`, `recovered` or `suppressed`.
    pub outcome: String,
    pub rule: String,
    /// sha256 of the rule's text as loaded: which version of the rule said this.
    pub rule_hash: String,
    /// The condition's type (`roas_below`, `report_late`, ...).
    pub condition: String,
    /// What the verdict is about: `campaign <id>`, `endpoint <key> <date>`...
    pub subject: String,
    /// The data date the evaluation read.
    pub date: NaiveDate,
    /// The intraday hour whose rows were read (as known at its end).
    pub as_of_hour: DateTime<Utc>,
    /// The evaluation's clock: the newest fetch known then, at least the hour's start.
    pub evaluated_at: DateTime<Utc>,
    pub message: String,
    /// Fingerprint of the projected tables the evaluation read.
    pub projection_fingerprint: String,
    /// The input values, by name.
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// The raw events behind each input.
    pub evidence: Vec<Evidence>,
    /// For `suppressed`: why (`taboola_report FAILED`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed_by: Vec<String>,
}

/// The fetch (and its events) an input of a verdict was read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Evidence {
    /// Which input: `spend_usd now`, `revenue_usd 3h ago`...
    pub input: String,
    pub endpoint: String,
    pub date: NaiveDate,
    pub fetch_id: Option<String>,
    pub event_ids: Vec<String>,
}

/// One delivery of one verdict's message to one channel, after its retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The verdict's event id.
    pub alert_event_id: String,
    /// `webhook` or `slack`; never the URL.
    pub channel: String,
    pub delivered: bool,
    pub attempts: u32,
    pub http_status: Option<u16>,
    /// Why it failed, with no URL in it.
    pub error: Option<String>,
}

/// A row of `alert_events`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEventRow {
    pub event_id: String,
    pub date: NaiveDate,
    pub run_id: String,
    pub outcome: String,
    pub rule_name: String,
    pub rule_hash: String,
    pub condition: String,
    pub subject: String,
    pub as_of_hour: DateTime<Utc>,
    pub evaluated_at: DateTime<Utc>,
    pub message: String,
    pub projection_fingerprint: String,
    /// The input values as JSON text (keys sorted).
    pub inputs: String,
    /// The evidence as JSON text.
    pub evidence: String,
    pub suppressed_by: Option<String>,
}

/// A row of `alert_deliveries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertDeliveryRow {
    pub event_id: String,
    pub alert_event_id: String,
    pub recorded_at: DateTime<Utc>,
    pub run_id: String,
    pub channel: String,
    pub delivered: bool,
    pub attempts: i32,
    pub http_status: Option<i32>,
    pub error: Option<String>,
}

/// Both tables' rows, sorted, and the events that could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertTables {
    pub events: Vec<AlertEventRow>,
    pub deliveries: Vec<AlertDeliveryRow>,
    /// Event id and why.
    pub unreadable: Vec<(String, String)>,
}

/// One row of either table, from one event.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertRow {
    Event(AlertEventRow),
    Delivery(AlertDeliveryRow),
}

/// The row one alert event gives, or why it gives none.
pub fn alert_row(id: &EventId, envelope: &Envelope) -> Result<AlertRow, String> {
    if envelope.kind != EventKind::Alert {
        return Err("not an alert event".into());
    }
    let note = envelope.alert.as_ref().ok_or("no alert payload")?;
    let record: AlertRecord = serde_json::from_value(note.detail.clone())
        .map_err(|e| format!("not an alert record: {e}"))?;
    let event_id = id.to_hex();
    Ok(match record {
        AlertRecord::Verdict(v) => AlertRow::Event(AlertEventRow {
            event_id,
            date: v.date,
            run_id: envelope.run_id.clone(),
            outcome: v.outcome,
            rule_name: v.rule,
            rule_hash: v.rule_hash,
            condition: v.condition,
            subject: v.subject,
            as_of_hour: v.as_of_hour,
            evaluated_at: v.evaluated_at,
            message: v.message,
            projection_fingerprint: v.projection_fingerprint,
            inputs: serde_json::to_string(&v.inputs).unwrap_or_default(),
            evidence: serde_json::to_string(&v.evidence).unwrap_or_default(),
            suppressed_by: (!v.suppressed_by.is_empty()).then(|| v.suppressed_by.join("; ")),
        }),
        AlertRecord::Delivery(d) => AlertRow::Delivery(AlertDeliveryRow {
            event_id,
            alert_event_id: d.alert_event_id,
            recorded_at: envelope.fetched_at,
            run_id: envelope.run_id.clone(),
            channel: d.channel,
            delivered: d.delivered,
            attempts: i32::try_from(d.attempts).unwrap_or(i32::MAX),
            http_status: d.http_status.map(i32::from),
            error: d.error,
        }),
    })
}

/// The rows of every alert event in `events` (others are ignored), sorted by key.
pub fn alert_tables(events: &[Event]) -> AlertTables {
    let mut out = AlertTables::default();
    for e in events.iter().filter(|e| e.envelope.kind == EventKind::Alert) {
        match alert_row(&e.id, &e.envelope) {
            Ok(AlertRow::Event(r)) => out.events.push(r),
            Ok(AlertRow::Delivery(r)) => out.deliveries.push(r),
            Err(why) => out.unreadable.push((e.id.to_hex(), why)),
        }
    }
    out.events.sort_by(|a, b| {
        (a.evaluated_at, &a.rule_name, &a.subject, &a.event_id).cmp(&(
            b.evaluated_at,
            &b.rule_name,
            &b.subject,
            &b.event_id,
        ))
    });
    out.deliveries.sort_by(|a, b| (a.recorded_at, &a.event_id).cmp(&(b.recorded_at, &b.event_id)));
    out.unreadable.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 11, 23, h, 0, 0).unwrap()
    }

    fn verdict(rule: &str, hour: u32) -> Verdict {
        Verdict {
            outcome: "fired".into(),
            rule: rule.into(),
            rule_hash: "h".into(),
            condition: "roas_below".into(),
            subject: "campaign sire1f06al".into(),
            date: at(0).date_naive(),
            as_of_hour: at(hour),
            evaluated_at: at(hour),
            message: "ROAS 0.50 < 0.9".into(),
            projection_fingerprint: "fp".into(),
            inputs: [("roas".to_string(), serde_json::json!(0.5))].into(),
            evidence: vec![Evidence {
                input: "spend_usd now".into(),
                endpoint: "taboola_report".into(),
                date: at(0).date_naive(),
                fetch_id: Some("f1".into()),
                event_ids: vec!["e1".into()],
            }],
            suppressed_by: vec![],
        }
    }

    fn event(record: &AlertRecord, n: u8) -> Event {
        let envelope = Envelope::alert(
            ALERTS_SOURCE,
            at(0).date_naive(),
            "run-1",
            at(1),
            serde_json::to_value(record).unwrap(),
        );
        Event { id: EventId::from_bytes([n; 32]), envelope, body: None }
    }

    #[test]
    fn rows_are_the_same_whatever_order_the_events_come_in() {
        let events = vec![
            event(&AlertRecord::Verdict(verdict("b", 9)), 1),
            event(&AlertRecord::Verdict(verdict("a", 9)), 2),
            event(&AlertRecord::Verdict(verdict("a", 8)), 3),
            event(
                &AlertRecord::Delivery(Delivery {
                    alert_event_id: "x".into(),
                    channel: "webhook".into(),
                    delivered: false,
                    attempts: 3,
                    http_status: Some(503),
                    error: Some("HTTP 503".into()),
                }),
                4,
            ),
        ];
        let mut reversed = events.clone();
        reversed.reverse();
        let (a, b) = (alert_tables(&events), alert_tables(&reversed));
        assert_eq!(a, b);
        let order: Vec<(&str, DateTime<Utc>)> =
            a.events.iter().map(|r| (r.rule_name.as_str(), r.as_of_hour)).collect();
        assert_eq!(order, vec![("a", at(8)), ("a", at(9)), ("b", at(9))]);
        assert_eq!(a.deliveries.len(), 1);
        assert!(
            a.events[0].evidence.contains("\"event_ids\":[\"e1\"]"),
            "{}",
            a.events[0].evidence
        );
    }

    #[test]
    fn an_unreadable_payload_is_named_not_fatal() {
        let mut e = event(&AlertRecord::Verdict(verdict("a", 9)), 1);
        e.envelope.alert = Some(adlake_raw::AlertNote { detail: serde_json::json!({"type": "?"}) });
        let t = alert_tables(&[e]);
        assert!(t.events.is_empty());
        assert_eq!(t.unreadable.len(), 1);
    }
}
