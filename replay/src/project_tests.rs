//! One test per rule of projection-rules.md, plus the seed's golden examples and the
//! determinism properties. Events are built by hand: bodies in each platform's shape.

use std::sync::Arc;

use adlake_raw::{BodyHash, BodyRef, Envelope, EventId, HttpExchange, RunPhase};
use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::decode::split_locator;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dec(s: &str) -> Option<Decimal> {
    Some(s.parse().unwrap())
}

#[derive(Default)]
struct Fixture {
    events: Vec<Event>,
    n: u64,
}

impl Fixture {
    /// One attempt of one page. `at` is minutes after 2025-11-24T00:00Z.
    fn http(
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
            Utc.timestamp_opt(1_763_942_400 + at * 60, 0).unwrap(),
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

    fn ok(
        &mut self,
        endpoint: &str,
        date: &str,
        run: &str,
        at: i64,
        body: serde_json::Value,
    ) -> EventId {
        self.http(endpoint, date, run, at, 1, 1, 200, &body.to_string())
    }

    fn run_marker(&mut self, run: &str, at: i64, phase: RunPhase, detail: serde_json::Value) {
        self.n += 1;
        let env = Envelope::run(
            "ingest",
            d("2025-11-24"),
            run,
            Utc.timestamp_opt(1_763_942_400 + at * 60, 0).unwrap(),
            phase,
            detail,
        );
        self.events.push(Event {
            id: EventId::of(format!("run-{}", self.n).as_bytes()),
            envelope: env,
            body: None,
        });
    }

    fn project(&self) -> Projection {
        project(&self.events, None, &ProjectorConfig::default())
    }
}

fn row<'a>(p: &'a Projection, campaign: &str, date: &str, snapshot: &str) -> &'a CampaignRow {
    p.campaign_index
        .iter()
        .find(|r| {
            r.campaign_id == campaign
                && r.date == d(date)
                && r.level == "campaign"
                && r.snapshot_source == snapshot
        })
        .unwrap_or_else(|| {
            panic!(
                "no {snapshot} row for {campaign} {date}; rows: {:#?}",
                p.campaign_index.iter().map(|r| r.key()).collect::<Vec<_>>()
            )
        })
}

fn completeness<'a>(p: &'a Projection, endpoint: &str, date: &str) -> &'a CompletenessRow {
    p.completeness
        .iter()
        .find(|c| c.endpoint == endpoint && c.date == d(date))
        .expect("completeness row")
}

const FB_ID: &str = "120231668335880424";

/// An `s1_daily_v3` page of `rows`. The contract requires `estimated_revenue` in every row:
/// a row that leaves it out here gets it as an explicit `null` (no revenue).
fn s1_daily(mut rows: serde_json::Value) -> serde_json::Value {
    for row in rows.as_array_mut().into_iter().flatten() {
        if let Some(fields) = row.as_object_mut() {
            fields.entry("estimated_revenue").or_insert(serde_json::Value::Null);
        }
    }
    let n = rows.as_array().map_or(0, Vec::len);
    json!({"data": rows, "page": 1, "limit": 500, "total": n})
}

fn facebook_example(f: &mut Fixture) {
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "networkId": "112",
        "networkCampaignId": FB_ID, "networkCampaignName": "sire1f06al_20241208_facebook", "buyer": "John", "category": "Finance",
        "impressions": "9026", "clicks": "220", "searches": "1000", "estimated_revenue": "200.00"}])));
    f.ok("facebook_report", "2025-11-23", "r1", 11, json!({"data": [{"account_id": "1234567890", "campaign_id": FB_ID, "campaign_name": "sire1f06al_20241208_facebook",
        "spend": "100.00", "clicks": "500", "impressions": "58210", "actions": [{"action_type": "offsite_conversion.fb_pixel_purchase", "value": "12"}],
        "date_start": "2025-11-23", "date_stop": "2025-11-23"}], "paging": {"cursors": {"before": "a", "after": "b"}}}));
    f.ok("facebook_campaigns", "2025-11-23", "r1", 12, json!({"data": [{"id": FB_ID, "name": "Campaign ABC", "status": "ACTIVE",
        "buyer": "John", "lane": "LAL_1", "category": "Finance"}], "paging": {"cursors": {"after": "c"}}}));
}

#[test]
fn golden_facebook_example_from_the_seed() {
    let mut f = Fixture::default();
    facebook_example(&mut f);
    let p = f.project();
    let r = row(&p, "sire1f06al", "2025-11-23", "daily");
    assert_eq!(r.campaign_name.as_deref(), Some("Campaign ABC"));
    assert_eq!(
        (r.owner.as_deref(), r.category.as_deref(), r.media_source.as_deref()),
        (Some("John"), Some("Finance"), Some("facebook"))
    );
    assert_eq!((r.spend_usd, r.revenue_usd), (dec("100"), dec("200")));
    assert_eq!((r.sessions, r.clicks, r.roas), (Some(1000), Some(500), Some(2.0)));
    assert_eq!(r.spend_source.as_deref(), Some("facebook_report"));
    assert_eq!(
        r.updated_at,
        Some(Utc.timestamp_opt(1_763_942_400 + 12 * 60, 0).unwrap()),
        "updated_at is the newest contributing fetch"
    );
}

#[test]
fn golden_taboola_example_from_the_seed() {
    let mut f = Fixture::default();
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([{"date": "2025-11-23", "strategisCampaignId": "sitab67890", "networkId": "107",
        "buyer": "Jane", "category": "Healthcare", "searches": "800", "clicks": "300", "estimated_revenue": "150"}])));
    for attempt in 1..=3 {
        f.http(
            "taboola_report",
            "2025-11-23",
            "r1",
            10 + i64::from(attempt),
            1,
            attempt,
            502,
            "<html><head><title>502 Bad Gateway</title></head></html>",
        );
    }
    let p = f.project();
    let r = row(&p, "sitab67890", "2025-11-23", "daily");
    assert_eq!((r.spend_usd, r.roas, r.revenue_usd), (None, None, dec("150")));
    assert_eq!(
        (r.sessions, r.media_source.as_deref(), r.owner.as_deref()),
        (Some(800), Some("taboola"), Some("Jane"))
    );
    let c = completeness(&p, "taboola_report", "2025-11-23");
    assert_eq!((c.status, c.retry_count, c.http_status), ("FAILED", 2, Some(502)));
    assert_eq!(c.error_message.as_deref(), Some("HTTP 502"));
}

#[test]
fn never_sums_across_sources() {
    let mut f = Fixture::default();
    facebook_example(&mut f);
    f.ok("s1_reconciled", "2025-11-23", "r1", 13, json!([{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "searches": 990, "clicks": 210, "revenue": 190.5}]));
    f.ok("strategis_metrics", "2025-11-23", "r1", 14, json!({"data": [{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "impressions": "9000", "spend": "98.00", "revenue": "210.00"}], "page": 1, "limit": 500}));
    f.ok("facebook_adsets", "2025-11-23", "r1", 15, json!({"data": [
        {"adset_id": "a1", "adset_name": "LAL", "campaign_id": FB_ID, "spend": "60.00", "clicks": "300", "impressions": "1", "date_start": "2025-11-23"},
        {"adset_id": "a2", "adset_name": "Broad", "campaign_id": FB_ID, "spend": "40.00", "clicks": "200", "impressions": "1", "date_start": "2025-11-23"}], "paging": {"cursors": {}}}));
    let p = f.project();
    let daily = row(&p, "sire1f06al", "2025-11-23", "daily");
    assert_eq!(
        (daily.revenue_usd, daily.spend_usd),
        (dec("200"), dec("100")),
        "revenue and spend each from one source"
    );
    assert_eq!(daily.impressions, Some(9000), "impressions: strategis first");
    let reconciled = row(&p, "sire1f06al", "2025-11-23", "reconciled");
    assert_eq!(
        (reconciled.revenue_usd, reconciled.sessions, reconciled.spend_usd),
        (dec("190.5"), Some(990), dec("100"))
    );
    assert_eq!(reconciled.roas, Some(1.905));
    let spend_lineage: Vec<_> = p
        .lineage
        .iter()
        .filter(|l| *l.row_key == *daily.key() && l.columns.contains("spend_usd"))
        .collect();
    let chosen: Vec<_> = spend_lineage.iter().filter(|l| l.chosen).collect();
    assert_eq!(chosen.len(), 1);
    assert_eq!(chosen[0].endpoint, "facebook_report");
    let lost: Vec<_> = spend_lineage
        .iter()
        .filter(|l| !l.chosen)
        .map(|l| (l.endpoint, l.value_of("spend_usd").map(str::to_owned)))
        .collect();
    assert_eq!(lost.len(), 3, "two adset rows and strategis: {lost:?}");
    assert!(lost.contains(&("strategis_metrics", Some("98.00".into()))));
    assert!(
        lost.contains(&("facebook_adsets", Some("100.00".into()))),
        "the losing adset sum is named with its value: {lost:?}"
    );
}

#[test]
fn rows_of_one_source_are_summed_within_it() {
    let mut f = Fixture::default();
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([
        {"date": "2025-11-23", "strategisCampaignId": "sisum00001", "networkId": "109", "searches": "10", "clicks": "1", "estimated_revenue": "1,000.10"},
        {"date": "2025-11-23", "strategisCampaignId": "sisum00001", "networkId": "109", "searches": "5", "clicks": "2", "estimated_revenue": "0.05"}])));
    let p = f.project();
    let r = row(&p, "sisum00001", "2025-11-23", "daily");
    assert_eq!((r.revenue_usd, r.sessions), (dec("1000.15"), Some(15)));
}

#[test]
fn zero_is_not_null() {
    let mut f = Fixture::default();
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([
        {"date": "2025-11-23", "strategisCampaignId": "sizero0001", "networkId": "113", "searches": "0", "clicks": "0", "estimated_revenue": "0"},
        {"date": "2025-11-23", "strategisCampaignId": "sinull0001", "networkId": "113"}])));
    f.ok("mediago_report", "2025-11-23", "r1", 11, json!({"results": [{"date": "2025-11-23", "id": "1", "strategisCampaignId": "sizero0001", "spend": 50, "click": 0}]}));
    let p = f.project();
    let zero = row(&p, "sizero0001", "2025-11-23", "daily");
    assert_eq!(
        (zero.revenue_usd, zero.sessions, zero.clicks, zero.roas),
        (Some(Decimal::ZERO), Some(0), Some(0), Some(0.0))
    );
    let null = row(&p, "sinull0001", "2025-11-23", "daily");
    assert_eq!(
        (null.revenue_usd, null.sessions, null.spend_usd, null.roas),
        (None, None, None, None)
    );
}

#[test]
fn lane_is_never_the_buyer() {
    let mut f = Fixture::default();
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([{"date": "2025-11-23", "strategisCampaignId": "silane0001", "networkId": "112", "networkCampaignId": FB_ID, "buyer": "TJ"}])));
    f.ok(
        "facebook_campaigns",
        "2025-11-23",
        "r1",
        11,
        json!({"data": [{"id": FB_ID, "name": "x", "buyer": "TJ"}], "paging": {}}),
    );
    let p = f.project();
    let r = row(&p, "silane0001", "2025-11-23", "daily");
    assert_eq!((r.owner.as_deref(), r.lane.as_deref()), (Some("TJ"), None));
}

#[test]
fn an_unknown_network_id_leaves_media_source_null() {
    let mut f = Fixture::default();
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([{"date": "2025-11-23", "strategisCampaignId": "sinet00001", "networkId": "999", "searches": "3"}])));
    let p = f.project();
    let r = row(&p, "sinet00001", "2025-11-23", "daily");
    assert_eq!((r.media_source.as_deref(), r.network_id.as_deref()), (None, Some("999")));
    assert!(p.unmapped_network_ids.contains("999"));
    assert!(p.campaign_index.iter().all(|r| r.media_source.as_deref() != Some("rsoc")));
}

#[test]
fn facebook_ids_map_by_s1_pairs_then_name_prefix_then_stay_unmapped() {
    let mut f = Fixture::default();
    // 1: the pair was seen in an earlier day's S1 response.
    f.ok("s1_daily_v3", "2025-11-20", "r0", 1, s1_daily(json!([{"date": "2025-11-20", "strategisCampaignId": "sipair0001", "networkId": "112", "networkCampaignId": "120000000000000001"}])));
    f.ok("facebook_report", "2025-11-23", "r1", 10, json!({"data": [
        {"campaign_id": "120000000000000001", "campaign_name": "LAL Finance 3", "spend": "10.00", "date_start": "2025-11-23"},
        {"campaign_id": "120000000000000002", "campaign_name": "siname0002_Auto_facebook", "spend": "20.00", "date_start": "2025-11-23"},
        {"campaign_id": "120000000000000003", "campaign_name": "123456789_digits_only", "spend": "30.00", "date_start": "2025-11-23"}], "paging": {}}));
    let p = f.project();
    assert_eq!(row(&p, "sipair0001", "2025-11-23", "daily").spend_usd, dec("10"));
    assert_eq!(row(&p, "siname0002", "2025-11-23", "daily").spend_usd, dec("20"));
    let unmapped = row(&p, "120000000000000003", "2025-11-23", "daily");
    assert!(unmapped.unmapped);
    assert_eq!(
        (unmapped.media_source.as_deref(), unmapped.spend_usd),
        (Some("facebook"), dec("30"))
    );
    assert!(p.unmapped_campaigns.contains(&(d("2025-11-23"), "120000000000000003".to_string())));
    // A pair seen only on a later date does not apply backwards.
    let mut later = Fixture::default();
    later.ok("facebook_report", "2025-11-19", "r1", 1, json!({"data": [{"campaign_id": "120000000000000001", "campaign_name": "LAL", "spend": "1", "date_start": "2025-11-19"}], "paging": {}}));
    later.ok("s1_daily_v3", "2025-11-20", "r1", 2, s1_daily(json!([{"date": "2025-11-20", "strategisCampaignId": "sipair0001", "networkId": "112", "networkCampaignId": "120000000000000001"}])));
    assert!(row(&later.project(), "120000000000000001", "2025-11-19", "daily").unmapped);
}

#[test]
fn adset_rows_carry_their_own_numbers_and_the_campaigns_metadata() {
    let mut f = Fixture::default();
    facebook_example(&mut f);
    f.ok("facebook_adsets", "2025-11-23", "r1", 15, json!({"data": [
        {"adset_id": "a1", "adset_name": "LAL", "campaign_id": FB_ID, "spend": "60.00", "clicks": "300", "impressions": "7", "date_start": "2025-11-23"},
        {"adset_id": "a2", "adset_name": "Broad", "campaign_id": FB_ID, "spend": "40.00", "clicks": "200", "impressions": "8", "date_start": "2025-11-23"}], "paging": {}}));
    let p = f.project();
    let adsets: Vec<_> = p.campaign_index.iter().filter(|r| r.level == "adset").collect();
    assert_eq!(adsets.len(), 2);
    let a1 = adsets.iter().find(|r| r.adset_id.as_deref() == Some("a1")).unwrap();
    assert_eq!(
        (a1.campaign_id.as_str(), a1.snapshot_source, a1.spend_usd, a1.clicks),
        ("sire1f06al", "daily", dec("60"), Some(300))
    );
    assert_eq!(
        (a1.lane.as_deref(), a1.owner.as_deref(), a1.revenue_usd),
        (Some("LAL_1"), Some("John"), None)
    );
}

#[test]
fn an_adset_rows_updated_at_counts_only_its_own_rows_and_what_it_copies() {
    let mut f = Fixture::default();
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "networkId": "112",
        "networkCampaignId": FB_ID, "networkAccountId": "1234567890", "networkCampaignName": "sire1f06al_20241208_facebook", "buyer": "John",
        "category": "Finance", "estimated_revenue": "200.00"}])));
    f.ok("facebook_campaigns", "2025-11-23", "r1", 12, json!({"data": [{"id": FB_ID, "name": "Campaign ABC", "status": "ACTIVE", "buyer": "John", "lane": "LAL_1"}], "paging": {}}));
    f.ok("facebook_adsets", "2025-11-23", "r1", 15, json!({"data": [
        {"adset_id": "a1", "adset_name": "LAL", "campaign_id": FB_ID, "spend": "60.00", "clicks": "300", "impressions": "7", "date_start": "2025-11-23"}], "paging": {}}));
    // The campaign's spend comes from a report fetched last; the adset row shows nothing of it.
    f.ok("facebook_report", "2025-11-23", "r1", 20, json!({"data": [{"account_id": "1234567890", "campaign_id": FB_ID, "campaign_name": "sire1f06al_20241208_facebook",
        "spend": "100.00", "clicks": "500", "impressions": "58210", "date_start": "2025-11-23", "date_stop": "2025-11-23"}], "paging": {}}));
    let p = f.project();
    let at = |minute: i64| Some(Utc.timestamp_opt(1_763_942_400 + minute * 60, 0).unwrap());
    let campaign = row(&p, "sire1f06al", "2025-11-23", "daily");
    assert_eq!(
        (campaign.spend_source.as_deref(), campaign.updated_at),
        (Some("facebook_report"), at(20))
    );
    let adset = p.campaign_index.iter().find(|r| r.level == "adset").unwrap();
    assert_eq!(
        (adset.account_id.as_deref(), adset.lane.as_deref(), adset.updated_at),
        (Some("1234567890"), Some("LAL_1"), at(15))
    );
}

#[test]
fn the_latest_successful_fetch_wins_and_a_later_failure_keeps_it() {
    let mut f = Fixture::default();
    let body = |rev: &str| {
        s1_daily(
            json!([{"date": "2025-11-23", "strategisCampaignId": "silate0001", "networkId": "109", "estimated_revenue": rev}]),
        )
    };
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, body("100"));
    f.ok("s1_daily_v3", "2025-11-23", "r2", 70, body("120"));
    assert_eq!(row(&f.project(), "silate0001", "2025-11-23", "daily").revenue_usd, dec("120"));
    for attempt in 1..=4 {
        f.http(
            "s1_daily_v3",
            "2025-11-23",
            "r3",
            130 + i64::from(attempt),
            1,
            attempt,
            503,
            "<html>503</html>",
        );
    }
    let p = f.project();
    assert_eq!(row(&p, "silate0001", "2025-11-23", "daily").revenue_usd, dec("120"));
    let c = completeness(&p, "s1_daily_v3", "2025-11-23");
    assert_eq!((c.status, c.retry_count, c.run_id.as_str()), ("FAILED", 3, "r3"));
    assert_eq!(c.last_success_at, Some(Utc.timestamp_opt(1_763_942_400 + 70 * 60, 0).unwrap()));
}

#[test]
fn click_hours_24_to_27_are_kept_on_their_day() {
    let mut f = Fixture::default();
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([{"date": "2025-11-23", "strategisCampaignId": "sihour0001", "networkId": "107", "buyer": "Ana"}])));
    f.ok("s1_hourly_v3", "2025-11-23", "r1", 11, json!({"data": {"data": [
        {"date": "2025-11-23", "hour": "14", "strategisCampaignId": "sihour0001", "searches": "96", "clicks": "41", "estimated_revenue": "19.87"},
        {"date": "2025-11-23", "hour": "25", "strategisCampaignId": "sihour0001", "searches": "4", "clicks": "1", "estimated_revenue": "0.40"},
        {"date": "2025-11-23", "hour": "25", "strategisCampaignId": "sihour0001", "searches": "6", "clicks": "1", "estimated_revenue": "0.60"},
        {"date": "2025-11-23", "hour": "27", "strategisCampaignId": "sihour0001", "searches": "0", "clicks": "0", "estimated_revenue": "0"}], "page": 1, "limit": 500}}));
    let p = f.project();
    let hours: Vec<(u8, Option<i64>)> =
        p.session_hourly.iter().map(|h| (h.click_hour, h.sessions)).collect();
    assert_eq!(hours, vec![(14, Some(96)), (25, Some(10)), (27, Some(0))]);
    let h25 = &p.session_hourly[1];
    assert_eq!(
        (h25.revenue, h25.rpc, h25.owner(), h25.media_source()),
        (dec("1.00"), dec("0.1"), Some("Ana"), Some("taboola"))
    );
    assert_eq!(p.session_hourly[2].rpc, None, "rpc is NULL when sessions = 0");
}

#[test]
fn values_beyond_what_the_tables_store_are_bad_rows_and_never_overflow_a_sum() {
    let mut f = Fixture::default();
    let huge_money = "79228162514264337593543950335";
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([
        {"date": "2025-11-23", "strategisCampaignId": "sibig0001", "networkId": "107", "estimated_revenue": huge_money, "searches": "5"},
        {"date": "2025-11-23", "strategisCampaignId": "sibig0001", "networkId": "107", "estimated_revenue": huge_money, "searches": "5"},
        {"date": "2025-11-23", "strategisCampaignId": "sibig0001", "networkId": "107", "estimated_revenue": "2.50", "searches": "5"}])));
    let huge_count = i64::MAX.to_string();
    f.ok("s1_hourly_v3", "2025-11-23", "r1", 11, json!({"data": {"data": [
        {"date": "2025-11-23", "hour": "3", "strategisCampaignId": "sibig0001", "searches": huge_count, "estimated_revenue": "1"},
        {"date": "2025-11-23", "hour": "3", "strategisCampaignId": "sibig0001", "searches": huge_count, "estimated_revenue": "1"},
        {"date": "2025-11-23", "hour": "3", "strategisCampaignId": "sibig0001", "searches": "7", "estimated_revenue": "1"}], "page": 1, "limit": 500}}));
    let p = f.project();
    let daily = p.campaign_index.iter().find(|r| r.snapshot_source == "daily").unwrap();
    assert_eq!(
        (daily.revenue_usd, daily.sessions),
        (dec("2.50"), Some(5)),
        "only the storable row counts"
    );
    assert_eq!(
        p.session_hourly.iter().map(|h| (h.click_hour, h.sessions)).collect::<Vec<_>>(),
        vec![(3, Some(7))]
    );
    assert_eq!(completeness(&p, "s1_daily_v3", "2025-11-23").status, "PARTIAL");
    assert_eq!(completeness(&p, "s1_hourly_v3", "2025-11-23").status, "PARTIAL");
}

#[test]
fn reconciled_lag_is_ok_but_an_old_empty_day_is_partial() {
    let mut f = Fixture::default();
    // Fetched 2025-11-24: the 23rd is inside the 2-day lag, the 17th is not.
    f.ok("s1_reconciled", "2025-11-23", "r1", 10, json!([]));
    f.ok("s1_reconciled", "2025-11-17", "r1", 11, json!([]));
    f.ok("facebook_pixel", "2025-11-17", "r1", 12, json!([]));
    let p = f.project();
    assert_eq!(completeness(&p, "s1_reconciled", "2025-11-23").status, "OK");
    assert_eq!(completeness(&p, "s1_reconciled", "2025-11-17").status, "PARTIAL");
    assert_eq!(
        completeness(&p, "facebook_pixel", "2025-11-17").status,
        "OK",
        "non-critical with 0 rows is OK"
    );
}

#[test]
fn failed_and_interrupted_runs_have_run_rows() {
    let mut f = Fixture::default();
    let start = json!({"date_from": "2025-11-22", "date_to": "2025-11-23", "endpoints": ["s1_daily_v3", "s1_hourly_v3"]});
    f.run_marker("run-a", 1, RunPhase::Started, start.clone());
    f.run_marker("run-a", 2, RunPhase::Finished, json!({"status": "failed", "message": "s1_daily_v3 2025-11-23 failed", "date_from": "2025-11-22", "date_to": "2025-11-23",
        "endpoints": ["s1_daily_v3", "s1_hourly_v3"], "events_written": 9, "bytes_new": 1234, "fetches": [{"endpoint": "s1_daily_v3", "rows": 0}, {"endpoint": "s1_hourly_v3", "rows": 28}]}));
    f.run_marker("run-b", 3, RunPhase::Started, start);
    let p = f.project();
    let statuses: Vec<(&str, &str)> =
        p.campaign_runs.iter().map(|r| (r.run_id.as_str(), r.status.as_str())).collect();
    assert_eq!(statuses, vec![("run-a", "failed"), ("run-b", "interrupted")]);
    assert_eq!((p.campaign_runs[0].events_written, p.campaign_runs[0].bytes_new), (9, 1234));
    assert_eq!(p.session_runs.len(), 2);
    assert_eq!(p.session_runs[0].row_count, 28);
}

#[test]
fn retry_count_counts_the_attempts_of_the_newest_fetch() {
    let mut f = Fixture::default();
    f.http("taboola_report", "2025-11-23", "r1", 1, 1, 1, 429, "{}");
    f.http("taboola_report", "2025-11-23", "r1", 2, 1, 2, 502, "<html/>");
    f.ok("taboola_report", "2025-11-23", "r1", 3, json!({"results": [{"date": "2025-11-23 00:00:00.0", "campaign": "1", "strategisCampaignId": "siretr0001", "spent": 5.5, "clicks": 3}]}));
    let p = f.project();
    let c = completeness(&p, "taboola_report", "2025-11-23");
    assert_eq!((c.status, c.retry_count, c.row_count, c.has_spend), ("OK", 2, Some(1), Some(true)));
}

#[test]
fn an_undecodable_body_is_quarantined_not_fatal() {
    let mut f = Fixture::default();
    let bad = f.http(
        "newsbreak_report",
        "2025-11-23",
        "r1",
        1,
        1,
        1,
        200,
        "{\"code\": 0, \"data\": {\"ro",
    );
    f.ok("newsbreak_report", "2025-11-22", "r1", 2, json!({"code": 0, "data": {"rows": [{"date": "2025-11-22", "campaignId": "1892700000000000001", "strategisCampaignId": "sinews0001", "cost": 41237, "costDecimal": 41237.42}]}}));
    let p = f.project();
    assert_eq!(p.quarantine.len(), 1);
    assert_eq!(p.quarantine[0].event_id, bad.to_hex());
    assert_eq!(completeness(&p, "newsbreak_report", "2025-11-23").status, "FAILED");
    assert_eq!(
        row(&p, "sinews0001", "2025-11-22", "daily").spend_usd,
        dec("412.3742"),
        "costDecimal cents / 100, exact"
    );
}

#[test]
fn every_value_has_lineage_to_an_event() {
    let mut f = Fixture::default();
    facebook_example(&mut f);
    let p = f.project();
    let r = row(&p, "sire1f06al", "2025-11-23", "daily");
    for column in [
        "revenue_usd",
        "sessions",
        "spend_usd",
        "clicks",
        "owner",
        "lane",
        "category",
        "campaign_name",
        "network_id",
    ] {
        let l = p
            .lineage
            .iter()
            .find(|l| *l.row_key == *r.key() && l.chosen && l.columns.contains(column))
            .unwrap_or_else(|| panic!("no lineage for {column}"));
        assert!(f.events.iter().any(|e| e.id == l.event_id), "{column} points at an unknown event");
        assert!(l.locator.to_string().starts_with('/'), "{column}: {}", l.locator);
    }
}

#[test]
fn a_reconciled_row_shares_the_daily_rows_lineage_for_what_both_take_alike() {
    let mut f = Fixture::default();
    facebook_example(&mut f);
    // Without a reconciled row, nothing is shared.
    let alone = f.project();
    assert!(alone.campaign_index.iter().all(|r| r.snapshot_source == "daily"));
    assert!(!alone.lineage.is_empty() && alone.lineage.iter().all(|l| !l.both_snapshots));
    // Fetched before the daily reports, so the newest source of the reconciled row is a shared one.
    f.ok("s1_reconciled", "2025-11-23", "r1", 5, json!([{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "searches": 990, "clicks": 210, "revenue": 190.5}]));
    let p = f.project();
    let (daily, reconciled) = (
        row(&p, "sire1f06al", "2025-11-23", "daily"),
        row(&p, "sire1f06al", "2025-11-23", "reconciled"),
    );
    let own = ["revenue_usd", "sessions", "s1_clicks"];
    // The reconciled row's entries are only its own columns, from its own report.
    let under_reconciled: Vec<_> =
        p.lineage.iter().filter(|l| *l.row_key == *reconciled.key()).collect();
    assert!(!under_reconciled.is_empty());
    for l in &under_reconciled {
        assert_eq!(l.endpoint, "s1_reconciled", "{l:?}");
        assert!(l.columns.iter().all(|c| own.contains(&c)), "{l:?}");
        assert!(!l.both_snapshots);
    }
    // Every other value of the reconciled row is named once, by an entry of the daily row
    // marked as both rows'; the daily row's own columns are never shared.
    for column in
        ["spend_usd", "clicks", "owner", "lane", "category", "campaign_name", "network_id"]
    {
        let shared: Vec<_> = p
            .lineage
            .iter()
            .filter(|l| *l.row_key == *daily.key() && l.chosen && l.columns.contains(column))
            .collect();
        assert_eq!(shared.len(), 1, "{column}: {shared:?}");
        assert!(shared[0].both_snapshots, "{column}");
    }
    for l in p
        .lineage
        .iter()
        .filter(|l| *l.row_key == *daily.key() && l.columns.iter().any(|c| own.contains(&c)))
    {
        assert!(!l.both_snapshots && l.columns.iter().all(|c| own.contains(&c)), "{l:?}");
    }
    let fetched_at =
        |id: EventId| f.events.iter().find(|e| e.id == id).map(|e| e.envelope.fetched_at);
    let newest = p
        .lineage
        .iter()
        .filter(|l| {
            l.chosen
                && (*l.row_key == *reconciled.key()
                    || (*l.row_key == *daily.key() && l.both_snapshots))
        })
        .filter_map(|l| fetched_at(l.event_id))
        .max();
    assert_eq!(reconciled.updated_at, newest, "updated_at counts the shared sources");
    assert!(
        newest
            > p.lineage
                .iter()
                .filter(|l| *l.row_key == *reconciled.key())
                .filter_map(|l| fetched_at(l.event_id))
                .max(),
        "a shared source is the newest here"
    );
}

/// Several days, several endpoints, restatements and failures: the determinism corpus.
fn corpus() -> Fixture {
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
    f
}

fn normalized(p: &Projection) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        p.campaign_index,
        p.session_hourly,
        p.completeness,
        p.lineage,
        p.session_lineage,
        p.quarantine
    )
}

proptest! {
    #[test]
    fn campaign_keys_write_dates_as_display_does(days in -5_000_000i32..5_000_000, campaign in "[a-z0-9|]{0,12}", adset in proptest::option::of("[0-9]{1,6}")) {
        let date = NaiveDate::from_num_days_from_ce_opt(days).unwrap();
        let row = CampaignRow { campaign_id: campaign.clone(), date, level: "adset", snapshot_source: "daily", adset_id: adset.clone(), ..CampaignRow::default() };
        prop_assert_eq!(row.key(), format!("{}|{}|adset|daily|{}", campaign, date, adset.as_deref().unwrap_or("")));
    }

    #[test]
    fn ranked_hour_order_is_a_stable_sort_by_campaign_and_hour(rows in proptest::collection::vec((0..6usize, 0u8..28), 0..200)) {
        let ids = ["b7", "a", "b", "sibre10", "sibre9", ""];
        let input: Vec<(&str, u8, usize, ())> = rows.iter().enumerate().map(|(i, &(c, h))| (ids[c], h, i, ())).collect();
        let mut expected = input.clone();
        expected.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let ordered = in_campaign_hour_order(input);
        let mut distinct: Vec<&str> = ordered.iter().map(|r| r.1).collect();
        distinct.dedup();
        prop_assert_eq!(ordered.iter().map(|r| (r.1, r.2, r.3)).collect::<Vec<_>>(), expected.iter().map(|r| (r.0, r.1, r.2)).collect::<Vec<_>>());
        prop_assert!(ordered.iter().all(|r| distinct.get(r.0 as usize) == Some(&r.1)), "rank is the campaign's place among the date's campaigns");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn revenue_per_session_equals_decimal_division_rounded(mantissa in -10_000_000_000_000i64..10_000_000_000_000, scale in 0u32..9, sessions in prop_oneof![1i64..50, 1i64..2_000_000_000]) {
        let revenue = Decimal::new(mantissa, scale);
        let got = revenue_per_session(revenue, sessions);
        prop_assert_eq!(got, (revenue / Decimal::from(sessions)).round_dp(6), "{} / {}", revenue, sessions);
        prop_assert!(got.scale() <= 6);
    }
}

#[test]
fn revenue_per_session_rounds_ties_to_even_in_both_directions() {
    for (revenue, sessions, expected) in [
        ("0.000005", 2, "0.000002"),
        ("0.000015", 2, "0.000008"),
        ("-0.000005", 2, "-0.000002"),
        ("-0.000015", 2, "-0.000008"),
        ("10", 3, "3.333333"),
        ("20", 3, "6.666667"),
    ] {
        let revenue: Decimal = revenue.parse().unwrap();
        assert_eq!(
            revenue_per_session(revenue, sessions),
            expected.parse::<Decimal>().unwrap(),
            "{revenue} / {sessions}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn any_event_order_projects_the_same(seed in any::<u64>()) {
        let f = corpus();
        let expected = normalized(&f.project());
        let mut shuffled = f.events.clone();
        // Fisher-Yates with a splitmix sequence from the seed.
        let mut x = seed;
        for i in (1..shuffled.len()).rev() {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let j = ((z ^ (z >> 31)) % (i as u64 + 1)) as usize;
            shuffled.swap(i, j);
        }
        prop_assert_eq!(normalized(&project(&shuffled, None, &ProjectorConfig::default())), expected);
    }
}

#[test]
fn date_partitioned_increments_equal_one_full_rebuild() {
    let f = corpus();
    let full = f.project();
    let mut rows = Vec::new();
    let mut hours = Vec::new();
    let mut comp = Vec::new();
    let mut lineage = Vec::new();
    let mut session_lineage = Vec::new();
    for day in ["2025-11-19", "2025-11-20", "2025-11-21", "2025-11-22", "2025-11-23"] {
        let w = DateWindow { from: d(day), to: d(day) };
        let part = project(&f.events, Some(w), &ProjectorConfig::default());
        assert!(part.campaign_index.iter().all(|r| r.date == d(day)));
        rows.extend(part.campaign_index);
        hours.extend(part.session_hourly);
        comp.extend(part.completeness);
        lineage.extend(part.lineage);
        session_lineage.extend(part.session_lineage);
    }
    rows.sort_by_key(|r| r.key());
    session_lineage.sort();
    assert_eq!(rows, full.campaign_index);
    assert_eq!(hours, full.session_hourly);
    assert_eq!(comp, full.completeness);
    assert_eq!(lineage, full.lineage);
    assert_eq!(session_lineage, full.session_lineage);
}

#[test]
fn a_carry_from_earlier_dates_replaces_reading_them() {
    let f = corpus();
    let full = f.project();
    let config = ProjectorConfig::default();
    let split = d("2025-11-21");
    let (markers, dates) = by_date(&f.events);
    let mut earlier = Projector::new(&config, None, Carry::default());
    for (date, events) in dates.range(..split) {
        earlier.day(*date, events);
    }
    let carry = earlier.carry().clone();
    assert!(
        !carry.identity.is_empty() && !carry.ok_counts.is_empty() && !carry.daily_meta.is_empty(),
        "the corpus exercises every part of the carry"
    );
    let later: Vec<Event> = dates
        .range(split..)
        .flat_map(|(_, events)| events.iter().cloned())
        .chain(markers)
        .collect();
    let window = DateWindow { from: split, to: d("2025-11-23") };
    let part = project_from(&later, Some(window), &config, carry);
    let in_window = |date: NaiveDate| window.contains(date);
    assert_eq!(
        part.campaign_index,
        full.campaign_index.iter().filter(|r| in_window(r.date)).cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        part.session_hourly,
        full.session_hourly.iter().filter(|r| in_window(r.date)).cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        part.completeness,
        full.completeness.iter().filter(|r| in_window(r.date)).cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        part.lineage,
        full.lineage.iter().filter(|r| in_window(r.date)).cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        part.session_lineage,
        full.session_lineage.iter().filter(|r| in_window(r.date)).cloned().collect::<Vec<_>>()
    );
    // Without the carry the same events project differently: the carry is not decoration.
    let cold = project_from(&later, Some(window), &config, Carry::default());
    assert_ne!(normalized(&cold), normalized(&part));
}

/// The rows `read` makes of `sql`'s result, in a new database after `write_with` wrote to it.
fn written<T>(
    write_with: impl FnOnce(&mut duckdb::Connection),
    sql: &str,
    read: impl FnMut(&duckdb::Row<'_>) -> duckdb::Result<T>,
) -> Vec<T> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.duckdb");
    let mut conn =
        crate::db::open(&path, crate::db::Access::ReadWrite, std::time::Duration::from_secs(1))
            .unwrap();
    crate::db::migrate(&mut conn, &path).unwrap();
    write_with(&mut conn);
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], read).unwrap().collect::<Result<_, _>>().unwrap()
}

/// projection_meta of a database written by `write_with`.
fn written_meta(write_with: impl FnOnce(&mut duckdb::Connection)) -> Vec<(String, String)> {
    written(
        write_with,
        "SELECT key, value FROM projection_meta WHERE key LIKE 'fingerprint.%' ORDER BY key",
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

#[test]
fn streaming_and_whole_writes_give_the_same_fingerprints() {
    let f = corpus();
    let config = ProjectorConfig::default();
    let whole = written_meta(|conn| crate::write::write(conn, &f.project()).unwrap());
    let streamed = written_meta(|conn| {
        let (markers, dates) = by_date(&f.events);
        let mut projector = Projector::new(&config, None, Carry::default());
        let mut writer = crate::write::Writer::begin(conn, None).unwrap();
        // Dates in ascending order, each date's events in reverse: order must not matter.
        for (date, events) in &dates {
            let reversed: Vec<Event> = events.iter().rev().cloned().collect();
            writer.day(projector.day(*date, &reversed)).unwrap();
        }
        let (campaign_runs, session_runs, marker_rows) = projector.runs(&markers);
        writer
            .finish(&campaign_runs, &session_runs, &marker_rows, &projector.events_applied())
            .unwrap();
    });
    let filled = whole.iter().filter(|(_, v)| v.len() == 64).count();
    assert!(filled >= 4, "campaign, session, completeness and lineage fingerprints: {whole:?}");
    assert_eq!(streamed, whole);
    // One connection writing again replaces what it wrote.
    let twice = written_meta(|conn| {
        crate::write::write(conn, &f.project()).unwrap();
        crate::write::write(conn, &f.project()).unwrap();
    });
    assert_eq!(twice, whole);
    // And the fingerprints see content: a different projection differs.
    let mut other = f.project();
    other.campaign_index.pop();
    let changed = written_meta(|conn| crate::write::write(conn, &other).unwrap());
    assert_ne!(changed, whole);
    // Down to one value of one row, with every row count the same: only its table differs.
    let mut one_value = f.project();
    let row = &mut one_value.session_hourly[0];
    row.sessions = Some(row.sessions.unwrap_or(0) + 1);
    let nudged = written_meta(|conn| crate::write::write(conn, &one_value).unwrap());
    let differing: Vec<&str> =
        whole.iter().zip(&nudged).filter(|(a, b)| a != b).map(|(a, _)| a.0.as_str()).collect();
    assert_eq!(differing, ["fingerprint.session_hourly_metrics"]);
}

#[test]
fn batches_of_any_size_write_what_one_date_at_a_time_writes() {
    let p = corpus().project();
    let dates: BTreeSet<NaiveDate> = p.session_hourly.iter().map(|r| r.date).collect();
    assert!(dates.len() >= 3, "several dates to gather: {dates:?}");
    let in_batches_of = |batch_rows: usize| {
        let fingerprints = written(
            |conn| crate::write::write_in_batches(conn, &p, batch_rows).unwrap(),
            "SELECT table_name, CAST(date AS VARCHAR), row_count, fingerprint FROM projection_fingerprints ORDER BY rowid",
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?)),
        );
        let sessions = written(
            |conn| crate::write::write_in_batches(conn, &p, batch_rows).unwrap(),
            "SELECT campaign_id, CAST(date AS VARCHAR), click_hour, sessions FROM session_hourly_metrics ORDER BY rowid",
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i32>(2)?, r.get::<_, Option<i64>>(3)?)),
        );
        (fingerprints, sessions)
    };
    let one_date_at_a_time = in_batches_of(1);
    let session_dates =
        one_date_at_a_time.0.iter().filter(|f| f.0 == "session_hourly_metrics").count();
    assert_eq!(session_dates, dates.len(), "a fingerprint per date: {:?}", one_date_at_a_time.0);
    assert_eq!(one_date_at_a_time.1.len(), p.session_hourly.len());
    for batch_rows in [2, 50, 1_000_000] {
        assert_eq!(in_batches_of(batch_rows), one_date_at_a_time, "batches of {batch_rows} rows");
    }
}

/// The `lineage_sources` rows after `write_with`, in source order.
fn written_sources(
    write_with: impl FnOnce(&mut duckdb::Connection),
) -> Vec<(i64, String, String, String, String, bool)> {
    written(write_with, "SELECT source_id, table_name, kind, columns, endpoint, chosen FROM lineage_sources ORDER BY ALL", |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
    })
}

#[test]
fn window_projections_add_only_the_lineage_sources_not_yet_written() {
    let f = corpus();
    let config = ProjectorConfig::default();
    let full = written_sources(|conn| crate::write::write(conn, &f.project()).unwrap());
    let kinds: BTreeSet<&str> = full.iter().map(|s| s.2.as_str()).collect();
    assert!(
        kinds.contains("campaign") && kinds.contains("session") && full.len() > kinds.len(),
        "the corpus names several sources of each table: {full:?}"
    );
    let days = ["2025-11-19", "2025-11-20", "2025-11-21", "2025-11-22", "2025-11-23"];
    let window =
        |day: &str| project(&f.events, Some(DateWindow { from: d(day), to: d(day) }), &config);
    // Every date again over the full projection: each source stays written once.
    let rewritten = written_sources(|conn| {
        crate::write::write(conn, &f.project()).unwrap();
        for day in days {
            crate::write::write(conn, &window(day)).unwrap();
        }
    });
    assert_eq!(rewritten, full);
    // Date by date into an empty database: each adds what the dates before it lacked.
    let incremental = written_sources(|conn| {
        for day in days {
            crate::write::write(conn, &window(day)).unwrap();
        }
    });
    assert_eq!(incremental, full);
}

#[test]
fn a_losing_entry_names_each_columns_value() {
    let entry = LineageRow {
        table_name: "campaign_index",
        date: d("2025-11-23"),
        row_key: Arc::from("k"),
        kind: "campaign",
        columns: crate::column!("campaign_name").with(crate::column!("account_id")),
        endpoint: "facebook_report",
        event_id: EventId::of(b"e"),
        event_index: 0,
        locator: "/data/0".into(),
        chosen: false,
        both_snapshots: false,
        value: Some(format!("123{LOST_VALUE_SEPARATOR}Campaign, ABC")),
    };
    assert_eq!(entry.value_of("account_id"), Some("123"));
    assert_eq!(entry.value_of("campaign_name"), Some("Campaign, ABC"));
    assert_eq!(entry.value_of("spend_usd"), None);
    let single = LineageRow {
        columns: crate::column!("campaign_name"),
        value: Some("a\u{1f}b".into()),
        ..entry
    };
    assert_eq!(
        single.value_of("campaign_name"),
        Some("a\u{1f}b"),
        "a lone column's value is taken whole"
    );
}

#[test]
fn session_lineage_runs_stand_for_exactly_the_rows_each_hour_came_from() {
    let mut f = Fixture::default();
    let day = "2025-11-23";
    let hour = |sid: &str, h: u32, searches: &str, revenue: serde_json::Value| json!({"date": day, "hour": h.to_string(), "strategisCampaignId": sid, "searches": searches, "estimated_revenue": revenue});
    let page1 = f.ok(
        "s1_hourly_v3",
        day,
        "r1",
        10,
        json!({"data": {"data": [
        hour("siruns0001", 0, "1", json!("0.1")),
        hour("siruns0001", 1, "2", json!("0.2")),
        hour("siruns0001", 2, "3", json!("0.3")),
        // Hour 3 twice (summed within the source), then an undecodable row, then a row with
        // sessions only: each breaks the run.
        hour("siruns0001", 3, "4", json!("0.4")),
        hour("siruns0001", 3, "5", json!("0.5")),
        json!({"date": day, "hour": "x", "strategisCampaignId": "siruns0001"}),
        hour("siruns0001", 4, "6", json!("0.6")),
        hour("siruns0001", 5, "7", json!(null)),
        hour("siruns0002", 7, "1", json!("1")),
        hour("siruns0002", 9, "1", json!("1")),
        // Out of order in the body: hour 8 after hour 9.
        hour("siruns0002", 8, "1", json!("1")),
        hour("siruns0002", 10, "1", json!("1")),
    ], "page": 1, "limit": 500}}),
    );
    let p = f.project();

    // What each row's lineage must be, straight from the body: every body row of its hour.
    let spec = crate::endpoint("s1_hourly_v3").unwrap();
    let body = f.events.iter().find(|e| e.id == page1).unwrap().body.clone().unwrap();
    let mut expected: Vec<(String, Columns, String)> = Vec::new();
    for h in &p.session_hourly {
        let names = [("sessions", h.sessions.is_some()), ("revenue", h.revenue.is_some())]
            .into_iter()
            .filter(|c| c.1)
            .map(|c| c.0);
        let columns = Columns::from_names(names).unwrap();
        let read = crate::body::read(spec, 200, &body, 1, 500, true).rows.unwrap();
        for r in read.rows.iter().filter(|r| {
            r.strategis_id.as_deref() == Some(&*h.campaign_id) && r.hour == Some(h.click_hour)
        }) {
            expected.push((h.key(), columns, r.locator.to_string()));
        }
    }
    let mut expanded: Vec<(String, Columns, String)> = p
        .session_lineage
        .iter()
        .flat_map(|run| run.entries())
        .map(|l| {
            assert_eq!(
                (l.event_id, l.endpoint, l.kind, l.chosen),
                (page1, "s1_hourly_v3", "session", true)
            );
            (l.row_key.to_string(), l.columns, l.locator.to_string())
        })
        .collect();
    expected.sort();
    expanded.sort();
    assert_eq!(expanded, expected);
    assert_eq!(expected.len(), 12 - 1, "every decodable body row is named once");

    let runs: Vec<(&str, u8, u8, Option<u32>)> = p
        .session_lineage
        .iter()
        .map(|r| (r.campaign_id.as_str(), r.hour_from, r.hour_to, r.index_from))
        .collect();
    assert_eq!(
        runs,
        vec![
            ("siruns0001", 0, 2, Some(0)),
            ("siruns0001", 3, 3, Some(3)),
            ("siruns0001", 3, 3, Some(4)),
            ("siruns0001", 4, 4, Some(6)),
            ("siruns0001", 5, 5, Some(7)),
            ("siruns0002", 7, 7, Some(8)),
            ("siruns0002", 8, 8, Some(10)),
            ("siruns0002", 9, 9, Some(9)),
            ("siruns0002", 10, 10, Some(11)),
        ]
    );
    // A campaign's hours listed in order, one row each, make one run.
    let mut ordered = Fixture::default();
    ordered.ok("s1_hourly_v3", day, "r1", 10, json!({"data": {"data": (0..28).map(|h| hour("siruns0003", h, "1", json!("1"))).collect::<Vec<_>>()}}));
    let runs: Vec<(u8, u8, Option<u32>)> = ordered
        .project()
        .session_lineage
        .iter()
        .map(|r| (r.hour_from, r.hour_to, r.index_from))
        .collect();
    assert_eq!(runs, vec![(0, 27, Some(0))]);
    // The next campaign's first hour may follow the last one's, from the next body row: it
    // still starts a run of its own.
    let mut adjacent = Fixture::default();
    let rows: Vec<_> = (0..4)
        .map(|h| hour("siruns0005", h, "1", json!("1")))
        .chain((4..6).map(|h| hour("siruns0006", h, "1", json!("1"))))
        .collect();
    adjacent.ok("s1_hourly_v3", day, "r1", 10, json!({"data": {"data": rows}}));
    let p = adjacent.project();
    let runs: Vec<(&str, u8, u8, Option<u32>)> = p
        .session_lineage
        .iter()
        .map(|r| (r.campaign_id.as_str(), r.hour_from, r.hour_to, r.index_from))
        .collect();
    assert_eq!(runs, vec![("siruns0005", 0, 3, Some(0)), ("siruns0006", 4, 5, Some(4))]);
}

#[test]
fn locators_split_into_prefix_and_index_only_when_they_round_trip() {
    assert_eq!(split_locator("/data/data/17"), ("/data/data", Some(17)));
    assert_eq!(split_locator("/0"), ("", Some(0)));
    assert_eq!(split_locator("/data/017"), ("/data/017", None));
    assert_eq!(split_locator("line 4"), ("line 4", None));
    assert_eq!(split_locator("/data/x"), ("/data/x", None));
    assert_eq!(split_locator("/data/99999999999"), ("/data/99999999999", None));
}

// ---------------------------------------------------------------------------------------
// Fetches that must not count: pagination that did not end, bodies that break their
// contract. Regression tests, named after what they pin.

impl Fixture {
    /// Page `page` of a fetch of `run` (attempt 1), asked for with `cursor` and `limit`.
    #[allow(clippy::too_many_arguments)]
    fn page(
        &mut self,
        endpoint: &str,
        date: &str,
        run: &str,
        at: i64,
        page: u32,
        cursor: Option<&str>,
        limit: u32,
        body: &str,
    ) -> EventId {
        let id = self.http(endpoint, date, run, at, page, 1, 200, body);
        if let Some(e) = self.events.iter_mut().find(|e| e.id == id) {
            if let Some(h) = e.envelope.http.as_mut() {
                h.cursor = cursor.map(str::to_owned);
                h.url = format!("http://up/x?dateStart={date}&page={page}&limit={limit}");
            }
        }
        id
    }
}

fn fb_report_page(spend: &str, after: &str, next: bool) -> String {
    let mut paging = json!({"cursors": {"after": after}});
    if next {
        paging["next"] = json!(format!("http://up/api/facebook/report?after={after}"));
    }
    json!({"data": [{"campaign_id": FB_ID, "campaign_name": "sire1f06al_20241208_facebook", "spend": spend, "date_start": "2025-11-23"}], "paging": paging}).to_string()
}

#[test]
fn a_cursor_that_points_back_is_a_pagination_loop_and_its_rows_are_not_used() {
    let mut f = Fixture::default();
    f.page(
        "facebook_report",
        "2025-11-23",
        "r1",
        10,
        1,
        None,
        500,
        &fb_report_page("100.00", "A", false),
    );
    // The next run's cursor goes round: page 2 asks for A, and says the next is A again.
    f.page(
        "facebook_report",
        "2025-11-23",
        "r2",
        20,
        1,
        None,
        500,
        &fb_report_page("60.00", "A", true),
    );
    f.page(
        "facebook_report",
        "2025-11-23",
        "r2",
        21,
        2,
        Some("A"),
        500,
        &fb_report_page("60.00", "A", true),
    );
    f.page(
        "facebook_report",
        "2025-11-23",
        "r2",
        22,
        3,
        Some("A"),
        500,
        &fb_report_page("60.00", "A", true),
    );
    let p = f.project();
    let c = completeness(&p, "facebook_report", "2025-11-23");
    assert_eq!(c.status, "FAILED");
    assert!(c.error_message.as_deref().is_some_and(|m| m.starts_with("pagination loop")), "{c:?}");
    assert_eq!(
        c.last_success_at.map(|t| t.timestamp()),
        Some(1_763_942_400 + 600),
        "the earlier fetch is the last success"
    );
    assert_eq!(
        row(&p, "sire1f06al", "2025-11-23", "daily").spend_usd,
        dec("100.00"),
        "the earlier fetch keeps serving"
    );

    // Stopped at the first repeat (as ingest now does): the last page points back at A.
    let mut f = Fixture::default();
    f.page(
        "facebook_report",
        "2025-11-23",
        "r2",
        20,
        1,
        None,
        500,
        &fb_report_page("60.00", "A", true),
    );
    f.page(
        "facebook_report",
        "2025-11-23",
        "r2",
        21,
        2,
        Some("A"),
        500,
        &fb_report_page("61.00", "A", true),
    );
    let p = f.project();
    let c = completeness(&p, "facebook_report", "2025-11-23");
    assert_eq!((c.status, c.row_count), ("FAILED", None));
    assert!(
        c.error_message.as_deref().is_some_and(|m| m.contains("points back at cursor `A`")),
        "{c:?}"
    );
    assert!(
        p.campaign_index.iter().all(|r| r.spend_usd.is_none()),
        "no spend from a loop: {:?}",
        p.campaign_index
    );
}

#[test]
fn a_page_served_twice_is_a_pagination_loop() {
    let rows = |revenue: &str| {
        s1_daily(json!([{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "estimated_revenue": revenue}])).to_string()
    };
    let mut f = Fixture::default();
    f.page("s1_daily_v3", "2025-11-23", "r2", 20, 1, None, 1, &rows("50"));
    f.page("s1_daily_v3", "2025-11-23", "r2", 21, 2, None, 1, &rows("50"));
    f.page("s1_daily_v3", "2025-11-23", "r2", 22, 3, None, 1, &s1_daily(json!([])).to_string());
    let p = f.project();
    let c = completeness(&p, "s1_daily_v3", "2025-11-23");
    assert_eq!(c.status, "FAILED");
    assert!(
        c.error_message
            .as_deref()
            .is_some_and(|m| m.contains("page 2 served the same rows as page 1")),
        "{c:?}"
    );
    assert!(
        p.campaign_index.is_empty(),
        "revenue counted twice is no revenue: {:?}",
        p.campaign_index
    );
}

#[test]
fn a_fetch_stopped_at_the_page_limit_is_partial_and_its_rows_are_not_used() {
    let rows = |revenue: &str| {
        s1_daily(json!([{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "estimated_revenue": revenue}])).to_string()
    };
    let mut f = Fixture::default();
    f.page("s1_daily_v3", "2025-11-23", "r1", 10, 1, None, 500, &rows("200"));
    // A full page of one row, and no page 2: the fetch stopped with more to come.
    f.page("s1_daily_v3", "2025-11-23", "r2", 20, 1, None, 1, &rows("7"));
    let p = f.project();
    let c = completeness(&p, "s1_daily_v3", "2025-11-23");
    assert_eq!((c.status, c.row_count), ("PARTIAL", None), "{c:?}");
    assert!(c.error_message.as_deref().is_some_and(|m| m.contains("page limit")), "{c:?}");
    assert_eq!(row(&p, "sire1f06al", "2025-11-23", "daily").revenue_usd, dec("200"));
}

#[test]
fn a_renamed_csv_column_fails_the_fetch_naming_it_and_the_previous_fetch_keeps_serving() {
    let header =
        "Day,Campaign Id,Campaign,Strategis Campaign Id,Total Spend,Impressions,Clicks,Conversions";
    let good =
        format!("{header}\n2025-11-23,1234,US Finance Native,sizm2k1p9d,412.37,58210,913,12\n");
    let renamed = good.replace("Total Spend", "Spend");
    let mut f = Fixture::default();
    f.http("zemanta_report", "2025-11-23", "r1", 10, 1, 1, 200, &good);
    f.http("zemanta_report", "2025-11-23", "r2", 20, 1, 1, 200, &renamed);
    let p = f.project();
    let c = completeness(&p, "zemanta_report", "2025-11-23");
    assert_eq!(c.status, "FAILED");
    let message = c.error_message.clone().unwrap_or_default();
    for part in ["zemanta_report", "2025-11-23", "Total Spend"] {
        assert!(message.contains(part), "the error names {part}: {message}");
    }
    assert_eq!(row(&p, "sizm2k1p9d", "2025-11-23", "daily").spend_usd, dec("412.37"));
    assert_eq!(p.quarantine.len(), 1, "the broken body is kept as evidence and listed");
    assert_eq!(p.quarantine[0].locator, None);

    // Without an earlier good fetch, nothing quiet: no spend, and the endpoint FAILED.
    let mut f = Fixture::default();
    f.http("zemanta_report", "2025-11-23", "r2", 20, 1, 1, 200, &renamed);
    let p = f.project();
    assert_eq!(completeness(&p, "zemanta_report", "2025-11-23").status, "FAILED");
    assert!(p.campaign_index.is_empty(), "{:?}", p.campaign_index);
}

#[test]
fn single_bad_rows_are_quarantined_where_they_are_and_the_fetch_is_partial() {
    let mut f = Fixture::default();
    f.ok("taboola_report", "2025-11-23", "r1", 10, json!({"results": [
        {"date": "2025-11-23 00:00:00.0", "campaign": "1", "strategisCampaignId": "sia000001", "spent": 5.5},
        {"date": "2025-11-23 00:00:00.0", "campaign": "2", "strategisCampaignId": "sia000002", "spent": "lots"},
    ]}));
    let p = f.project();
    let c = completeness(&p, "taboola_report", "2025-11-23");
    assert_eq!((c.status, c.row_count), ("PARTIAL", Some(1)));
    assert_eq!(row(&p, "sia000001", "2025-11-23", "daily").spend_usd, dec("5.5"));
    let q: Vec<(Option<&str>, &str)> =
        p.quarantine.iter().map(|q| (q.locator.as_deref(), q.error.as_str())).collect();
    assert_eq!(q, vec![(Some("/results/1"), "`spent`: \"lots\" is not a number")]);
}

#[test]
fn clicks_come_from_strategis_metrics_when_it_supplies_the_spend() {
    let mut f = Fixture::default();
    f.ok("s1_daily_v3", "2025-11-23", "r1", 10, s1_daily(json!([{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "networkId": "112", "estimated_revenue": "30"}])));
    f.ok("strategis_metrics", "2025-11-23", "r1", 11, json!({"data": [{"date": "2025-11-23", "strategisCampaignId": "sire1f06al",
        "impressions": "900", "clicks": "77", "spend": "12.00", "revenue": "29"}], "page": 1, "limit": 500}));
    let p = f.project();
    let r = row(&p, "sire1f06al", "2025-11-23", "daily");
    assert_eq!(r.spend_source.as_deref(), Some("strategis_metrics"));
    assert_eq!((r.spend_usd, r.clicks, r.impressions), (dec("12.00"), Some(77), Some(900)));
}
