//! The projector's tests, by topic. Events are built by hand ([`Fixture`]): bodies in each
//! platform's shape.

use std::sync::Arc;

use adlake_raw::{EventId, RunPhase};
use chrono::{NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;

use super::rules::revenue_per_session;
use super::session::in_campaign_hour_order;
use super::*;
use crate::columns::Columns;
use crate::decode::split_locator;
pub(super) use crate::testing::{corpus, s1_daily, Fixture, FB_ID};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dec(s: &str) -> Option<Decimal> {
    Some(s.parse().unwrap())
}

fn row<'a>(p: &'a Projection, campaign: &str, date: &str, snapshot: &str) -> &'a CampaignRow {
    p.tables
        .campaign_index
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
                p.tables.campaign_index.iter().map(|r| r.key()).collect::<Vec<_>>()
            )
        })
}

fn completeness<'a>(p: &'a Projection, endpoint: &str, date: &str) -> &'a CompletenessRow {
    p.tables
        .completeness
        .iter()
        .find(|c| c.endpoint == endpoint && c.date == d(date))
        .expect("completeness row")
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

fn normalized(p: &Projection) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        p.tables.campaign_index,
        p.tables.session_hourly,
        p.tables.completeness,
        p.tables.lineage,
        p.tables.session_lineage,
        p.tables.quarantine,
        p.tables.intraday,
        p.tables.intraday_inputs,
        p.tables.campaign_hourly
    )
}

mod arithmetic;
mod determinism;
mod fetches;
mod intraday;
mod lineage;
mod rules;
