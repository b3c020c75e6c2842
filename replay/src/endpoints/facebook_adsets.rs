//! Facebook adsets per day: spend, clicks and impressions of each adset of a Facebook
//! campaign, keyed by the Facebook campaign id.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "facebook_adsets",
    platform: "facebook",
    path: "/api/facebook/adsets/day",
    params: &[ORG, RSOC],
    dates: DateParams::Range,
    pagination: Pagination::Cursor,
    critical: false,
    sessions: false,
    contract: Contract::json(
        &["/data"],
        &[
            Field::key("date_start", K::Date, C::Date),
            Field::key("adset_id", K::Text, C::AdsetId),
            Field::optional("adset_name", K::Text, C::AdsetName),
            Field::key("campaign_id", K::Text, C::PlatformCampaignId),
            Field::required("spend", K::Money, C::Spend),
            Field::optional("clicks", K::Count, C::Clicks),
            Field::optional("impressions", K::Count, C::Impressions),
        ],
    ),
};
