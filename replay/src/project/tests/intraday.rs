//! Today so far: `campaign_intraday`, `intraday_inputs` and `campaign_hourly` from the fetch
//! history of a date. Times are minutes after 2025-11-24T00:00Z.

use super::*;

const DAY: &str = "2025-11-24";

fn revenue(f: &mut Fixture, run: &str, at: i64, revenue: &str) {
    f.ok("s1_daily_v3", DAY, run, at, s1_daily(json!([{"date": DAY, "strategisCampaignId": "siintr0001", "networkId": "107", "searches": "10", "estimated_revenue": revenue}])));
}

fn spend(f: &mut Fixture, run: &str, at: i64, spent: f64) {
    f.ok("taboola_report", DAY, run, at, json!({"results": [{"date": DAY, "campaign": "7", "strategisCampaignId": "siintr0001", "spent": spent, "clicks": 3}]}));
}

fn hour(h: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_763_942_400 + h * 3600, 0).unwrap()
}

/// (hour, revenue, spend, roas) of one intraday row.
type Point = (i64, Option<Decimal>, Option<Decimal>, Option<f64>);

/// The campaign's intraday rows.
fn curve(p: &Projection) -> Vec<Point> {
    p.tables
        .intraday
        .iter()
        .filter(|r| r.campaign_id == "siintr0001")
        .map(|r| {
            ((r.as_of_hour.timestamp() - 1_763_942_400) / 3600, r.revenue_usd, r.spend_usd, r.roas)
        })
        .collect()
}

#[test]
fn each_hour_takes_the_newest_successful_fetch_finished_by_its_end() {
    let mut f = Fixture::default();
    revenue(&mut f, "r1", 70, "10");
    spend(&mut f, "r1", 80, 5.0);
    revenue(&mut f, "r3", 185, "30");
    spend(&mut f, "r5", 350, 20.0);
    let p = f.project();
    assert_eq!(
        curve(&p),
        vec![
            (1, dec("10"), dec("5"), Some(2.0)),
            (3, dec("30"), dec("5"), Some(6.0)),
            (5, dec("30"), dec("20"), Some(1.5)),
        ]
    );
    let at3 = p.tables.intraday.iter().find(|r| r.as_of_hour == hour(3)).unwrap();
    assert_eq!(
        at3.oldest_input_at.map(|t| t.timestamp()),
        Some(1_763_942_400 + 80 * 60),
        "the spend snapshot of 01:20"
    );
    assert_eq!(at3.input_age_minutes, Some(160), "from 01:20 to the end of hour 3");
    assert_eq!(at3.spend_source, Some("taboola_report"));
    assert!(at3.critical_ok);
}

#[test]
fn a_failed_later_fetch_keeps_the_earlier_value_and_shows_as_failed() {
    let mut f = Fixture::default();
    revenue(&mut f, "r1", 70, "10");
    spend(&mut f, "r1", 80, 5.0);
    f.http("taboola_report", DAY, "r2", 130, 1, 1, 502, "<html>502 Bad Gateway</html>");
    let p = f.project();
    assert_eq!(
        curve(&p),
        vec![(1, dec("10"), dec("5"), Some(2.0)), (2, dec("10"), dec("5"), Some(2.0))]
    );
    let taboola_at2 = p
        .tables
        .intraday_inputs
        .iter()
        .find(|i| i.as_of_hour == hour(2) && i.endpoint == "taboola_report")
        .unwrap();
    assert_eq!(taboola_at2.status, "FAILED");
    assert_eq!(
        taboola_at2.snapshot_fetched_at.map(|t| t.timestamp()),
        Some(1_763_942_400 + 80 * 60)
    );
    assert_eq!(taboola_at2.snapshot_fetch_id.as_deref(), Some("r1.taboola_report.2025-11-24"));
    assert!(p.tables.intraday.iter().all(|r| r.critical_ok), "taboola is not a revenue source");
}

#[test]
fn a_restated_body_moves_the_curve_only_from_its_hour_on() {
    let mut f = Fixture::default();
    revenue(&mut f, "r1", 70, "10");
    revenue(&mut f, "r2", 130, "12");
    revenue(&mut f, "r4", 250, "9.5");
    spend(&mut f, "r1", 75, 4.0);
    let p = f.project();
    let revenues: Vec<(i64, Option<Decimal>)> =
        curve(&p).into_iter().map(|(h, r, ..)| (h, r)).collect();
    assert_eq!(revenues, vec![(1, dec("10")), (2, dec("12")), (4, dec("9.5"))]);
    // The day's own row takes the newest: the curve ends where campaign_index stands.
    assert_eq!(row(&p, "siintr0001", DAY, "daily").revenue_usd, dec("9.5"));
}

#[test]
fn a_failed_revenue_report_marks_the_hour_incomplete() {
    let mut f = Fixture::default();
    revenue(&mut f, "r1", 70, "10");
    f.http("s1_daily_v3", DAY, "r2", 130, 1, 1, 503, "<html>503</html>");
    let p = f.project();
    let ok: Vec<(i64, bool)> = p
        .tables
        .intraday
        .iter()
        .map(|r| ((r.as_of_hour.timestamp() - 1_763_942_400) / 3600, r.critical_ok))
        .collect();
    assert_eq!(ok, vec![(1, true), (2, false)]);
}

#[test]
fn fetches_after_the_day_ended_make_no_intraday_rows() {
    let mut f = Fixture::default();
    revenue(&mut f, "r1", 70, "10");
    revenue(&mut f, "r9", 24 * 60 + 30, "11");
    let p = f.project();
    assert_eq!(curve(&p).len(), 1, "the next day's refetch is campaign_index's, not the curve's");
    assert_eq!(row(&p, "siintr0001", DAY, "daily").revenue_usd, dec("11"));
}

#[test]
fn outbrain_hours_give_true_per_hour_spend() {
    let mut f = Fixture::default();
    let hour_row = |h: u32, spend: f64| json!({"metadata": {"fromDate": format!("{DAY} {h:02}:00:00")}, "metrics": {"spend": spend, "clicks": 2}});
    f.ok("outbrain_report", DAY, "r1", 300, json!({"campaignResults": [
        {"campaignId": "ob1", "strategisCampaignId": "siob000001", "results": [hour_row(4, 1.5), hour_row(3, 2.25), hour_row(3, 0.25)]},
    ]}));
    let p = f.project();
    let hours: Vec<(u8, Option<Decimal>, Option<i64>)> =
        p.tables.campaign_hourly.iter().map(|h| (h.hour, h.spend_usd, h.clicks)).collect();
    assert_eq!(hours, vec![(3, dec("2.50"), Some(4)), (4, dec("1.5"), Some(2))]);
    assert_eq!(
        row(&p, "siob000001", DAY, "daily").spend_usd,
        dec("4.00"),
        "the day is the sum of its hours"
    );
}
