//! Event envelopes: what happened, when, and which body it produced.
//!
//! An envelope's identity is the sha256 of its canonical JSON bytes (fields in declaration
//! order, maps sorted, timestamps at millisecond precision), so writing the same event twice
//! yields the same id and the second write is a no-op. Envelopes carry no secrets: URLs and
//! headers pass through `redact` before they are serialised.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{RawError, Result};
use crate::id::{BodyHash, EventId};
use crate::redact;

/// Current envelope format. Readers accept every format up to this one.
pub const FORMAT: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// One attempt at one page of one request.
    Http,
    /// A run started or finished.
    Run,
    /// An alert rule's verdict (fired, recovered, suppressed...) or a delivery attempt's
    /// outcome: what adlake itself did, kept beside what the upstream said.
    Alert,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub format: u32,
    pub kind: EventKind,
    /// Endpoint key for `http` events, job name for `run` events. `[a-z0-9_]+`.
    pub source: String,
    /// The logical (UTC) day the event is about; files the envelope.
    pub date: NaiveDate,
    pub run_id: String,
    #[serde(with = "millis")]
    pub fetched_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpExchange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunMarker>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertNote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpExchange {
    /// Groups the attempts and pages of one request for one (endpoint, date) in one run.
    pub fetch_id: String,
    /// 1-based attempt number of this page.
    pub attempt: u32,
    /// 1-based page number within the fetch.
    pub page: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub method: String,
    /// Request URL with secret-looking parameters removed.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the response was not used: a transport failure (timeout, reset, ...) when there was
    /// no HTTP status, a body that could not be read, or a redirect the client refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Allow-listed response headers, lowercase names.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    Started,
    Finished,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMarker {
    pub phase: RunPhase,
    /// What the run covered and, when finished, how it ended. Opaque to the lake.
    pub detail: serde_json::Value,
}

/// An alert event's payload. Opaque to the lake; its writer keeps secrets out of it (a
/// webhook's URL is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertNote {
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyRef {
    pub sha256: BodyHash,
    pub len: u64,
}

impl Envelope {
    pub fn http(
        source: &str,
        date: NaiveDate,
        run_id: &str,
        fetched_at: DateTime<Utc>,
        http: HttpExchange,
    ) -> Self {
        Envelope {
            format: FORMAT,
            kind: EventKind::Http,
            source: source.to_owned(),
            date,
            run_id: run_id.to_owned(),
            fetched_at,
            http: Some(http),
            run: None,
            alert: None,
            body: None,
        }
    }

    pub fn run(
        job: &str,
        date: NaiveDate,
        run_id: &str,
        at: DateTime<Utc>,
        phase: RunPhase,
        detail: serde_json::Value,
    ) -> Self {
        Envelope {
            format: FORMAT,
            kind: EventKind::Run,
            source: job.to_owned(),
            date,
            run_id: run_id.to_owned(),
            fetched_at: at,
            http: None,
            run: Some(RunMarker { phase, detail }),
            alert: None,
            body: None,
        }
    }

    /// An alert event under `source` (`alerts`), filed by the date its evidence is about.
    pub fn alert(
        source: &str,
        date: NaiveDate,
        run_id: &str,
        at: DateTime<Utc>,
        detail: serde_json::Value,
    ) -> Self {
        Envelope {
            format: FORMAT,
            kind: EventKind::Alert,
            source: source.to_owned(),
            date,
            run_id: run_id.to_owned(),
            fetched_at: at,
            http: None,
            run: None,
            alert: Some(AlertNote { detail }),
            body: None,
        }
    }

    /// Redacts, checks the fields that become storage keys, and returns the canonical bytes.
    pub fn canonicalize(&mut self) -> Result<Vec<u8>> {
        self.fetched_at = millis::truncate(self.fetched_at);
        if let Some(http) = &mut self.http {
            http.url = redact::url(&http.url);
            http.headers = redact::headers(std::mem::take(&mut http.headers));
            if let Some(e) = &http.error {
                http.error = Some(redact::text(e));
            }
        }
        check_token("source", &self.source, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
        })?;
        check_token("run_id", &self.run_id, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_')?;
        if self.format == 0 || self.format > FORMAT {
            return Err(RawError::InvalidEnvelope {
                reason: format!("unknown format {}", self.format),
            });
        }
        if (self.kind == EventKind::Http) != self.http.is_some()
            || (self.kind == EventKind::Run) != self.run.is_some()
            || (self.kind == EventKind::Alert) != self.alert.is_some()
        {
            return Err(RawError::InvalidEnvelope { reason: "kind does not match payload".into() });
        }
        serde_json::to_vec(self).map_err(|e| RawError::InvalidEnvelope { reason: e.to_string() })
    }

    /// The id of an envelope already in canonical form.
    pub fn id_of_canonical(bytes: &[u8]) -> EventId {
        EventId::of(bytes)
    }
}

fn check_token(field: &str, value: &str, ok: impl Fn(char) -> bool) -> Result<()> {
    if value.is_empty() || value.len() > 64 || !value.chars().all(ok) {
        return Err(RawError::InvalidEnvelope {
            reason: format!("{field} `{value}` is not a plain token"),
        });
    }
    Ok(())
}

pub mod millis {
    //! `fetched_at` is kept at millisecond precision as RFC 3339 with a `Z`, so canonical
    //! bytes do not depend on how precise the writer's clock was.
    use chrono::{DateTime, SubsecRound, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn truncate(t: DateTime<Utc>) -> DateTime<Utc> {
        t.trunc_subsecs(3)
    }

    pub fn format(t: &DateTime<Utc>) -> String {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> Envelope {
        Envelope::http(
            "taboola_report",
            NaiveDate::from_ymd_opt(2025, 11, 23).unwrap(),
            "run-1",
            Utc.timestamp_millis_opt(1_763_900_000_123).unwrap(),
            HttpExchange {
                fetch_id: "f".into(),
                attempt: 1,
                page: 1,
                cursor: None,
                method: "GET".into(),
                url: "http://x/api?dateStart=2025-11-23&token=abc".into(),
                status: Some(200),
                error: None,
                headers: [
                    ("Content-Type".to_string(), "application/json".to_string()),
                    ("Set-Cookie".to_string(), "s=1".to_string()),
                ]
                .into(),
                duration_ms: 5,
            },
        )
    }

    #[test]
    fn canonical_bytes_are_stable_and_redacted() {
        let mut a = sample();
        let mut b = sample();
        let ba = a.canonicalize().unwrap();
        assert_eq!(ba, b.canonicalize().unwrap());
        let text = String::from_utf8(ba.clone()).unwrap();
        assert!(!text.contains("abc"), "{text}");
        assert!(!text.to_lowercase().contains("cookie"), "{text}");
        assert!(text.contains("\"2025-11-23T12:13:20.123Z\""), "{text}");
        let back: Envelope = serde_json::from_slice(&ba).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn an_alert_event_round_trips_and_its_kind_must_match_its_payload() {
        let at = Utc.timestamp_millis_opt(1_763_900_000_000).unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 11, 23).unwrap();
        let mut e = Envelope::alert("alerts", date, "run-1", at, serde_json::json!({"k": 1}));
        let bytes = e.canonicalize().unwrap();
        let back: Envelope = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, e);
        assert!(String::from_utf8(bytes).unwrap().contains("\"kind\":\"alert\""));
        e.kind = EventKind::Run;
        assert!(e.canonicalize().is_err());
        // Events written before alerts existed keep their bytes: no `alert` member.
        let mut old = sample();
        assert!(!String::from_utf8(old.canonicalize().unwrap()).unwrap().contains("alert"));
    }

    #[test]
    fn rejects_sources_that_would_escape_the_key_space() {
        let mut e = sample();
        e.source = "../x".into();
        assert!(e.canonicalize().is_err());
    }
}
