//! Fetches that must not count: pagination that did not end, bodies that break their
//! contract. Regression tests, named after what they pin.

use super::*;

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
        p.tables.campaign_index.iter().all(|r| r.spend_usd.is_none()),
        "no spend from a loop: {:?}",
        p.tables.campaign_index
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
        p.tables.campaign_index.is_empty(),
        "revenue counted twice is no revenue: {:?}",
        p.tables.campaign_index
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
    assert_eq!(p.tables.quarantine.len(), 1, "the broken body is kept as evidence and listed");
    assert_eq!(p.tables.quarantine[0].locator, None);

    // Without an earlier good fetch, nothing quiet: no spend, and the endpoint FAILED.
    let mut f = Fixture::default();
    f.http("zemanta_report", "2025-11-23", "r2", 20, 1, 1, 200, &renamed);
    let p = f.project();
    assert_eq!(completeness(&p, "zemanta_report", "2025-11-23").status, "FAILED");
    assert!(p.tables.campaign_index.is_empty(), "{:?}", p.tables.campaign_index);
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
        p.tables.quarantine.iter().map(|q| (q.locator.as_deref(), q.error.as_str())).collect();
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
