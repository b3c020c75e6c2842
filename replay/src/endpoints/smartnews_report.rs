//! SmartNews insights v3: one object per campaign; each of its `metrics_breakdown` entries
//! is a row, dated by its `period`. Money is a decimal string, ids are numbers.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "smartnews_report",
    platform: "smartnews",
    path: "/api/smartnews/report",
    params: &[ORG, RSOC, ("dimensions", "date-strategisCampaignId")],
    dates: DateParams::Range,
    pagination: Pagination::TotalPages,
    critical: false,
    sessions: false,
    contract: Contract::nested(
        &["/data"],
        "metrics_breakdown",
        &[
            Field::key("id", K::Text, C::PlatformCampaignId).of_parent(),
            Field::optional("metadata/name", K::Text, C::CampaignName).of_parent(),
            Field::optional("metadata/strategis_campaign_id", K::Text, C::StrategisId).of_parent(),
            Field::key("period", K::Date, C::Date),
            Field::required("budget_spent", K::Money, C::Spend),
            Field::optional("click", K::Count, C::Clicks),
            Field::optional("viewable_impression", K::Count, C::Impressions),
            Field::optional("count_purchase", K::Count, C::Conversions),
        ],
    ),
};
