//! Zemanta reconciled report: CSV (`text/csv`) with a header line; columns are found by name,
//! so their order may change, but a renamed column breaks the contract.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "zemanta_report",
    platform: "zemanta",
    path: "/api/zemanta/reconciled-report",
    params: &[ORG, RSOC, ("dimensions", "date-strategisCampaignId"), ("dbSource", "level")],
    dates: DateParams::Range,
    pagination: Pagination::None,
    critical: false,
    sessions: false,
    contract: Contract::csv(&[
        Field::key("Day", K::Date, C::Date),
        Field::key("Campaign Id", K::Text, C::PlatformCampaignId),
        Field::optional("Campaign", K::Text, C::CampaignName),
        Field::optional("Strategis Campaign Id", K::Text, C::StrategisId),
        Field::required("Total Spend", K::Money, C::Spend),
        Field::optional("Impressions", K::Count, C::Impressions),
        Field::optional("Clicks", K::Count, C::Clicks),
        Field::optional("Conversions", K::Count, C::Conversions),
    ]),
};
