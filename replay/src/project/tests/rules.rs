//! One test per rule of projection-rules.md, and the seed's golden examples.

use super::*;

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
        .tables
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
    assert!(p.tables.unmapped_network_ids.contains("999"));
    assert!(p.tables.campaign_index.iter().all(|r| r.media_source.as_deref() != Some("rsoc")));
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
    assert!(p
        .tables
        .unmapped_campaigns
        .contains(&(d("2025-11-23"), "120000000000000003".to_string())));
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
    let adsets: Vec<_> = p.tables.campaign_index.iter().filter(|r| r.level == "adset").collect();
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
    let adset = p.tables.campaign_index.iter().find(|r| r.level == "adset").unwrap();
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
        p.tables.session_hourly.iter().map(|h| (h.click_hour, h.sessions)).collect();
    assert_eq!(hours, vec![(14, Some(96)), (25, Some(10)), (27, Some(0))]);
    let h25 = &p.tables.session_hourly[1];
    assert_eq!(
        (h25.revenue, h25.rpc, h25.owner(), h25.media_source()),
        (dec("1.00"), dec("0.1"), Some("Ana"), Some("taboola"))
    );
    assert_eq!(p.tables.session_hourly[2].rpc, None, "rpc is NULL when sessions = 0");
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
    let daily = p.tables.campaign_index.iter().find(|r| r.snapshot_source == "daily").unwrap();
    assert_eq!(
        (daily.revenue_usd, daily.sessions),
        (dec("2.50"), Some(5)),
        "only the storable row counts"
    );
    assert_eq!(
        p.tables.session_hourly.iter().map(|h| (h.click_hour, h.sessions)).collect::<Vec<_>>(),
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
    assert_eq!(p.tables.quarantine.len(), 1);
    assert_eq!(p.tables.quarantine[0].event_id, bad.to_hex());
    assert_eq!(completeness(&p, "newsbreak_report", "2025-11-23").status, "FAILED");
    assert_eq!(
        row(&p, "sinews0001", "2025-11-22", "daily").spend_usd,
        dec("412.3742"),
        "costDecimal cents / 100, exact"
    );
}
