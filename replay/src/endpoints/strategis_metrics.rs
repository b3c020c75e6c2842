//! Strategis' own tracked view: impressions (its source of truth); its spend, clicks and
//! revenue are fallbacks only (clicks count when its spend is the one taken).

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC, UTC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "strategis_metrics",
    platform: "facebook",
    path: "/api/strategis-report",
    params: &[
        ORG,
        RSOC,
        ("networkName", "facebook"),
        ("dimensions", "date-strategisCampaignId"),
        UTC,
    ],
    dates: DateParams::Range,
    pagination: Pagination::PageLimit,
    critical: false,
    sessions: false,
    contract: Contract::json(
        &["/data"],
        &[
            Field::key("date", K::Date, C::Date),
            Field::key("strategisCampaignId", K::Text, C::StrategisId),
            Field::required("impressions", K::Count, C::Impressions),
            Field::optional("clicks", K::Count, C::Clicks),
            Field::optional("spend", K::Money, C::Spend),
            Field::optional("revenue", K::Money, C::Revenue),
        ],
    ),
};
