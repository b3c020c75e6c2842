//! Outbrain periodic hourly: per campaign, its hours newest first, counts possibly floats
//! (`23.0`). Each hour is a row, dated by its `fromDate`; the projector sums a campaign's
//! hours of the day.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "outbrain_report",
    platform: "outbrain",
    path: "/api/outbrain-hourly-report",
    params: &[ORG, RSOC],
    dates: DateParams::Range,
    pagination: Pagination::None,
    critical: false,
    sessions: false,
    contract: Contract::nested(
        &["/campaignResults"],
        "results",
        &[
            Field::key("campaignId", K::Text, C::PlatformCampaignId).of_parent(),
            Field::optional("strategisCampaignId", K::Text, C::StrategisId).of_parent(),
            Field::key("metadata/fromDate", K::DateHour, C::Date),
            Field::required("metrics/spend", K::Money, C::Spend),
            Field::optional("metrics/clicks", K::Count, C::Clicks),
            Field::optional("metrics/impressions", K::Count, C::Impressions),
            Field::optional("metrics/conversions", K::Count, C::Conversions),
        ],
    ),
};
