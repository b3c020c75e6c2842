//! S1 Hourly V3: double-wrapped (`{"data": {"data": [...]}}`), values are strings; `hour`
//! 0..27, where 24-27 are next-day clicks attributed late to this day. Feeds
//! `session_hourly_metrics`; most of a lake's bytes are this endpoint's.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, CH, ORG, RSOC, UTC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "s1_hourly_v3",
    platform: "all",
    path: "/api/s1/report/hourly-v3",
    params: &[ORG, RSOC, UTC, CH, ("dimensions", "date-hour-strategisCampaignId")],
    dates: DateParams::Range,
    pagination: Pagination::PageLimit,
    critical: true,
    sessions: true,
    contract: Contract::json(
        &["/data/data", "/data", ""],
        &[
            Field::key("date", K::Date, C::Date),
            Field::key("hour", K::Hour, C::Hour),
            Field::key("strategisCampaignId", K::Text, C::StrategisId),
            Field::optional("networkId", K::Text, C::NetworkId),
            Field::required("searches", K::Count, C::Sessions),
            Field::optional("clicks", K::Count, C::S1Clicks),
            Field::required("estimated_revenue", K::Money, C::Revenue),
        ],
    ),
};
