//! S1 Daily V3: estimated same-day revenue, sessions (`searches`) and S1 clicks per Strategis
//! campaign, with the traffic source's `networkId` and platform campaign id. All values are
//! strings; the envelope is `{"data": [...], "page", "limit", "total"}`.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, CH, ORG, RSOC, UTC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "s1_daily_v3",
    platform: "all",
    path: "/api/s1/report/daily-v3",
    params: &[ORG, RSOC, UTC, CH, ("dimensions", "date-strategisCampaignId-buyer")],
    dates: DateParams::Range,
    pagination: Pagination::PageLimit,
    critical: true,
    sessions: false,
    contract: Contract::json(
        &["/data", "/data/data", ""],
        &[
            Field::key("date", K::Date, C::Date),
            Field::key("strategisCampaignId", K::Text, C::StrategisId),
            Field::optional("networkId", K::Text, C::NetworkId),
            Field::optional("networkCampaignId", K::Text, C::PlatformCampaignId),
            Field::optional("networkCampaignName", K::Text, C::CampaignName),
            Field::optional("networkAccountId", K::Text, C::AccountId),
            Field::optional("buyer", K::Text, C::Buyer),
            Field::optional("category", K::Text, C::Category),
            Field::optional("rsocSite", K::Text, C::RsocSite),
            Field::optional("impressions", K::Count, C::Impressions),
            Field::optional("clicks", K::Count, C::S1Clicks),
            Field::optional("searches", K::Count, C::Sessions),
            Field::required("estimated_revenue", K::Money, C::Revenue),
        ],
    ),
};
