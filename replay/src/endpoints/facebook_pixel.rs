//! Facebook pixel report: purchases per Strategis campaign. A bare array.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC, UTC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "facebook_pixel",
    platform: "facebook",
    path: "/api/facebook-pixel-report",
    params: &[
        ORG,
        RSOC,
        ("networkName", "facebook"),
        ("dimensions", "date-strategisCampaignId"),
        UTC,
    ],
    dates: DateParams::Range,
    pagination: Pagination::None,
    critical: false,
    sessions: false,
    contract: Contract::json(
        &["", "/data"],
        &[
            Field::key("date", K::Date, C::Date),
            Field::key("strategisCampaignId", K::Text, C::StrategisId),
            Field::required("purchases", K::Count, C::Conversions),
        ],
    ),
};
