//! Events built by hand, for the tests of the kernel and of the engine: an attempt of one
//! page with its status and body ([`Fixture::http`]), a run marker, and a small corpus of
//! five days across several endpoints with restatements, failures and an intraday curve.
//! Bodies are in each platform's shape. Not used by the product.

use std::sync::Arc;

use adlake_raw::{BodyHash, BodyRef, Envelope, EventId, HttpExchange, RunPhase};
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::json;

use crate::project::{project, Event, Projection, ProjectorConfig};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap_or_default()
}

#[derive(Default)]
pub struct Fixture {
    pub events: Vec<Event>,
    pub n: u64,
}

impl Fixture {
    /// One attempt of one page. `at` is minutes after 2025-11-24T00:00Z.
    #[allow(clippy::too_many_arguments)] // one argument per envelope field a test varies
    pub fn http(
        &mut self,
        endpoint: &str,
        date: &str,
        run: &str,
        at: i64,
        page: u32,
        attempt: u32,
        status: u16,
        body: &str,
    ) -> EventId {
        self.n += 1;
        let id = EventId::of(format!("event-{}", self.n).as_bytes());
        let mut env = Envelope::http(
            endpoint,
            d(date),
            run,
            Utc.timestamp_opt(1_763_942_400 + at * 60, 0).single().unwrap_or_default(),
            HttpExchange {
                fetch_id: format!("{run}.{endpoint}.{date}"),
                attempt,
                page,
                cursor: None,
                method: "GET".into(),
                url: format!("http://up/x?dateStart={date}&page={page}&limit=500"),
                status: Some(status),
                error: None,
                headers: Default::default(),
                duration_ms: 1,
            },
        );
        env.body = Some(BodyRef { sha256: BodyHash::of(body.as_bytes()), len: body.len() as u64 });
        self.events.push(Event { id, envelope: env, body: Some(Arc::from(body.as_bytes())) });
        id
    }

    pub fn ok(
        &mut self,
        endpoint: &str,
        date: &str,
        run: &str,
        at: i64,
        body: serde_json::Value,
    ) -> EventId {
        self.http(endpoint, date, run, at, 1, 1, 200, &body.to_string())
    }

    pub fn run_marker(&mut self, run: &str, at: i64, phase: RunPhase, detail: serde_json::Value) {
        self.n += 1;
        let env = Envelope::run(
            "ingest",
            d("2025-11-24"),
            run,
            Utc.timestamp_opt(1_763_942_400 + at * 60, 0).single().unwrap_or_default(),
            phase,
            detail,
        );
        self.events.push(Event {
            id: EventId::of(format!("run-{}", self.n).as_bytes()),
            envelope: env,
            body: None,
        });
    }

    pub fn project(&self) -> Projection {
        project(&self.events, None, &ProjectorConfig::default())
    }
}

pub const FB_ID: &str = "120231668335880424";

/// An `s1_daily_v3` page of `rows`. The contract requires `estimated_revenue` in every row:
/// a row that leaves it out here gets it as an explicit `null` (no revenue).
pub fn s1_daily(mut rows: serde_json::Value) -> serde_json::Value {
    for row in rows.as_array_mut().into_iter().flatten() {
        if let Some(fields) = row.as_object_mut() {
            fields.entry("estimated_revenue").or_insert(serde_json::Value::Null);
        }
    }
    let n = rows.as_array().map_or(0, Vec::len);
    json!({"data": rows, "page": 1, "limit": 500, "total": n})
}

pub fn corpus() -> Fixture {
    let mut f = Fixture::default();
    for (i, day) in
        ["2025-11-19", "2025-11-20", "2025-11-21", "2025-11-22", "2025-11-23"].iter().enumerate()
    {
        let at = i as i64 * 100;
        for run in 0..2 {
            let rev = format!("{}.{}", 100 + i, run);
            f.ok("s1_daily_v3", day, &format!("r{run}"), at + run * 10, s1_daily(json!([
                {"date": day, "strategisCampaignId": "sicorp0001", "networkId": "112", "networkCampaignId": FB_ID, "buyer": "TJ", "searches": "10", "estimated_revenue": rev},
                {"date": day, "strategisCampaignId": "sicorp0002", "networkId": "107", "buyer": "Ana", "searches": "20", "estimated_revenue": "7"}])));
        }
        f.ok("facebook_report", day, "r0", at + 1, json!({"data": [{"campaign_id": FB_ID, "campaign_name": "LAL", "spend": "50", "clicks": "9", "date_start": day}], "paging": {}}));
        if i % 2 == 0 {
            f.http("taboola_report", day, "r0", at + 2, 1, 1, 502, "<html/>");
        } else {
            f.ok("taboola_report", day, "r0", at + 2, json!({"results": [{"date": day, "campaign": "7", "strategisCampaignId": "sicorp0002", "spent": 3.25, "clicks": 1}]}));
        }
        f.ok("s1_hourly_v3", day, "r0", at + 3, json!({"data": {"data": [{"date": day, "hour": "3", "strategisCampaignId": "sicorp0001", "searches": "2", "estimated_revenue": "1.5"}]}}));
    }
    // A day fetched during itself: an intraday curve of two hours.
    let today = "2025-11-24";
    for (run, at, rev, spent) in [("r8", 500, "40", 2.0), ("r10", 620, "55.5", 4.5)] {
        f.ok("s1_daily_v3", today, run, at, s1_daily(json!([{"date": today, "strategisCampaignId": "sicorp0002", "networkId": "107", "searches": "5", "estimated_revenue": rev}])));
        f.ok("taboola_report", today, run, at + 1, json!({"results": [{"date": today, "campaign": "7", "strategisCampaignId": "sicorp0002", "spent": spent, "clicks": 1}]}));
    }
    f
}
