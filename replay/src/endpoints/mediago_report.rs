//! MediaGo report: `{"results": [...]}`, numbers are numbers.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC, UTC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "mediago_report",
    platform: "mediago",
    path: "/api/mediago/report",
    params: &[ORG, RSOC, UTC, ("dimensions", "date-strategisCampaignId")],
    dates: DateParams::Range,
    pagination: Pagination::None,
    critical: false,
    sessions: false,
    contract: Contract::json(
        &["/results"],
        &[
            Field::key("date", K::Date, C::Date),
            Field::key("id", K::Text, C::PlatformCampaignId),
            Field::optional("name", K::Text, C::CampaignName),
            Field::optional("strategisCampaignId", K::Text, C::StrategisId),
            Field::required("spend", K::Money, C::Spend),
            Field::optional("click", K::Count, C::Clicks),
            Field::optional("impression", K::Count, C::Impressions),
            Field::optional("conversion", K::Count, C::Conversions),
        ],
    ),
};
