//! Facebook campaigns: name, buyer, category and buying lane per Facebook campaign id. Its
//! rows carry no date: they describe the campaign as of the fetch.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "facebook_campaigns",
    platform: "facebook",
    path: "/api/facebook/campaigns",
    params: &[ORG, RSOC],
    dates: DateParams::Range,
    pagination: Pagination::Cursor,
    critical: false,
    sessions: false,
    contract: Contract::json(
        &["/data"],
        &[
            Field::key("id", K::Text, C::PlatformCampaignId),
            Field::required("name", K::Text, C::CampaignName),
            Field::optional("account_id", K::Text, C::AccountId),
            Field::optional("buyer", K::Text, C::Buyer),
            Field::optional("lane", K::Text, C::Lane),
            Field::optional("category", K::Text, C::Category),
        ],
    ),
};
