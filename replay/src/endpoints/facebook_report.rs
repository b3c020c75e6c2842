//! Facebook insights at campaign level: keyed by the Facebook campaign id (no Strategis id),
//! every metric a string; pixel purchases are in `actions`. Days with no delivery have no row.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "facebook_report",
    platform: "facebook",
    path: "/api/facebook/report",
    params: &[
        ORG,
        RSOC,
        ("networkName", "facebook"),
        ("level", "campaign"),
        ("dimensions", "campaignId"),
        ("cached", "1"),
    ],
    dates: DateParams::Range,
    pagination: Pagination::Cursor,
    critical: false,
    sessions: false,
    contract: Contract::json(
        &["/data"],
        &[
            Field::key("date_start", K::Date, C::Date),
            Field::key("campaign_id", K::Text, C::PlatformCampaignId),
            Field::optional("campaign_name", K::Text, C::CampaignName),
            Field::optional("account_id", K::Text, C::AccountId),
            Field::required("spend", K::Money, C::Spend),
            Field::optional("clicks", K::Count, C::Clicks),
            Field::optional("impressions", K::Count, C::Impressions),
            Field::optional(
                "actions",
                K::Action("offsite_conversion.fb_pixel_purchase"),
                C::Conversions,
            ),
        ],
    ),
};
