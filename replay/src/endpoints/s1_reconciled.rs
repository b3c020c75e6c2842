//! S1 Reconciled: final revenue, lagging two days. A bare array (some deployments wrap it in
//! `data`); numbers are numbers.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, CH, ORG, RSOC, UTC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "s1_reconciled",
    platform: "all",
    path: "/api/s1/high-level-report",
    params: &[ORG, RSOC, UTC, CH, ("dimensions", "date-strategisCampaignId")],
    dates: DateParams::Range,
    pagination: Pagination::None,
    critical: true,
    sessions: false,
    contract: Contract::json(
        &["", "/data"],
        &[
            Field::key("date", K::Date, C::Date),
            Field::key("strategisCampaignId", K::Text, C::StrategisId),
            Field::optional("buyer", K::Text, C::Buyer),
            Field::optional("category", K::Text, C::Category),
            Field::optional("searches", K::Count, C::Sessions),
            Field::optional("clicks", K::Count, C::S1Clicks),
            Field::required("revenue", K::Money, C::Revenue),
        ],
    ),
};
