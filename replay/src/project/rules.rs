//! The rules of `projection-rules.md` that are data or arithmetic: spend precedence per
//! media source, what an adset row copies, the lineage rules written beside the tables, ROAS
//! and revenue per session.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::column;
use crate::columns::Columns;

/// Campaign metadata an adset row copies from its campaign row.
pub(super) const ADSET_COPIED: Columns = column!("campaign_name")
    .with(column!("owner"))
    .with(column!("lane"))
    .with(column!("category"))
    .with(column!("network_id"))
    .with(column!("account_id"))
    .with(column!("rsoc_site"))
    .with(column!("platform_campaign_id"));

pub(super) const SPEND_BY_PLATFORM: &[(&str, &[&str])] = &[
    ("facebook", &["facebook_report", "facebook_adsets"]),
    ("taboola", &["taboola_report"]),
    ("outbrain", &["outbrain_report"]),
    ("newsbreak", &["newsbreak_report"]),
    ("mediago", &["mediago_report"]),
    ("zemanta", &["zemanta_report"]),
    ("smartnews", &["smartnews_report"]),
];

/// How each kind of lineage entry's columns got their values. Written beside the lineage so
/// that rules are stated once, not once per value.
pub const LINEAGE_RULES: &[(&str, &str, &str)] = &[
    ("campaign", "network_id", "s1_daily_v3 networkId as received"),
    ("campaign", "spend_usd", "the first endpoint with a value in the media source's spend precedence, then strategis_metrics; never a sum across endpoints"),
    ("campaign", "clicks", "ad-platform clicks from the endpoint that supplied spend_usd"),
    ("campaign", "impressions", "strategis_metrics, then the endpoint that supplied spend_usd"),
    ("campaign", "conversions", "facebook: facebook_pixel, then facebook_report; others: the endpoint that supplied spend_usd"),
    ("campaign", "avg_rpc_3d", "s1_rpc_average rpc for the date"),
    ("campaign", "owner", "first of s1_daily_v3, s1_reconciled, facebook_campaigns buyer"),
    ("campaign", "lane", "facebook_campaigns lane (never the buyer)"),
    ("campaign", "category", "first of s1_daily_v3, s1_reconciled, facebook_campaigns"),
    ("campaign", "campaign_name", "first of facebook_campaigns, s1_daily_v3, the platform's reports"),
    ("campaign", "account_id", "first of s1_daily_v3, the platform's reports"),
    ("campaign", "rsoc_site", "s1_daily_v3 rsocSite"),
    ("campaign", "platform_campaign_id", "first of s1_daily_v3, the platform's reports"),
    ("campaign", "revenue_usd", "the row's snapshot: daily from s1_daily_v3, reconciled from s1_reconciled; summed within it"),
    ("campaign", "sessions", "the row's snapshot: daily from s1_daily_v3, reconciled from s1_reconciled; summed within it"),
    ("campaign", "s1_clicks", "the row's snapshot: daily from s1_daily_v3, reconciled from s1_reconciled; summed within it"),
    ("adset_own", "spend_usd", "adset row: that adset's own numbers from facebook_adsets"),
    ("adset_own", "clicks", "adset row: that adset's own numbers from facebook_adsets"),
    ("adset_own", "impressions", "adset row: that adset's own numbers from facebook_adsets"),
    ("adset_copied", "*", "copied from the adset's daily campaign row"),
    ("session", "sessions", "latest successful s1_hourly_v3 fetch, searches summed per campaign and hour"),
    ("session", "revenue", "latest successful s1_hourly_v3 fetch, estimated_revenue summed per campaign and hour"),
];

/// `revenue / sessions` rounded half to even at 6 places, as `(revenue / sessions).round_dp(6)`
/// gives it. Decimal division costs about as much as the rest of an hourly row, so a revenue of
/// at most 6 places over fewer than 10^9 sessions, for a rate below 10^4, is divided in
/// integers. Both then round the same way: the exact quotient is either a tie or at least
/// 10^-6 / (2 * sessions) > 5 * 10^-16 from one, far above the 10^-24 error of Decimal's
/// 28-digit quotient of a rate that small.
pub(super) fn revenue_per_session(revenue: Decimal, sessions: i64) -> Decimal {
    const PLACES: u32 = 6;
    if revenue.scale() <= PLACES && (1..1_000_000_000).contains(&sessions) {
        let scaled = revenue.mantissa() * 10i128.pow(PLACES - revenue.scale());
        let divisor = i128::from(sessions);
        let (quotient, remainder) = (scaled.abs() / divisor, scaled.abs() % divisor);
        let rounded = match (2 * remainder).cmp(&divisor) {
            std::cmp::Ordering::Greater => quotient + 1,
            std::cmp::Ordering::Equal => quotient + (quotient & 1),
            std::cmp::Ordering::Less => quotient,
        };
        if rounded < 10_000_000_000 {
            return Decimal::from_i128_with_scale(
                if scaled < 0 { -rounded } else { rounded },
                PLACES,
            );
        }
    }
    (revenue / Decimal::from(sessions)).round_dp(PLACES)
}

pub(super) fn roas(revenue: Option<Decimal>, spend: Option<Decimal>) -> Option<f64> {
    match (revenue, spend) {
        (Some(r), Some(s)) if s > Decimal::ZERO => (r / s).to_f64(),
        _ => None,
    }
}
