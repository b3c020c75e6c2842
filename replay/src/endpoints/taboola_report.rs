//! Taboola campaign summary: numbers are numbers, `date` carries a time, and Strategis adds
//! `strategisCampaignId` where it can join it. Known to answer 502 for days at a time.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "taboola_report",
    platform: "taboola",
    path: "/api/taboola/campaign-summary-report",
    params: &[ORG, RSOC, ("cached", "1")],
    dates: DateParams::Range,
    pagination: Pagination::None,
    critical: false,
    sessions: false,
    contract: Contract::json(
        &["/results"],
        &[
            Field::key("date", K::Date, C::Date),
            Field::key("campaign", K::Text, C::PlatformCampaignId),
            Field::optional("campaign_name", K::Text, C::CampaignName),
            Field::optional("strategisCampaignId", K::Text, C::StrategisId),
            Field::required("spent", K::Money, C::Spend),
            Field::optional("clicks", K::Count, C::Clicks),
            Field::optional("impressions", K::Count, C::Impressions),
            Field::optional("cpa_actions_num", K::Count, C::Conversions),
        ],
    ),
};
