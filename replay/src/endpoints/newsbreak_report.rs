//! NewsBreak: money in cents. `costDecimal` (cents, with sub-cent precision) when present,
//! else `cost`; divided by 100 into USD. In-body `code` 4034 is a throttle, any other
//! non-zero code an error.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "newsbreak_report",
    platform: "newsbreak",
    path: "/api/newsbreak/report",
    params: &[ORG, RSOC, ("dimensions", "date-strategisCampaignId")],
    dates: DateParams::Range,
    pagination: Pagination::None,
    critical: false,
    sessions: false,
    contract: Contract::json(
        &["/data/rows"],
        &[
            Field::key("date", K::Date, C::Date),
            Field::key("campaignId", K::Text, C::PlatformCampaignId),
            Field::optional("strategisCampaignId", K::Text, C::StrategisId),
            Field::optional("campaign", K::Text, C::CampaignName),
            Field::optional("costDecimal", K::MoneyCents, C::Spend),
            Field::required("cost", K::MoneyCents, C::Spend),
            Field::optional("impression", K::Count, C::Impressions),
            Field::optional("click", K::Count, C::Clicks),
            Field::optional("conversion", K::Count, C::Conversions),
        ],
    ),
};
