//! S1 RPC average: trailing 3-day revenue per S1 click, per campaign, as of the request's
//! `date` (its rows carry no date of their own): `{"rows": [...]}`.

use crate::contract::{Column as C, Contract, Field, Kind as K};
use crate::registry::{DateParams, EndpointSpec, Pagination, ORG, RSOC, UTC};

pub const SPEC: EndpointSpec = EndpointSpec {
    key: "s1_rpc_average",
    platform: "all",
    path: "/api/s1/rpc-average",
    params: &[ORG, RSOC, ("days", "3"), UTC, ("dimensions", "strategisCampaignId")],
    dates: DateParams::Single,
    pagination: Pagination::None,
    critical: false,
    sessions: false,
    contract: Contract::json(
        &["/rows", "/data", ""],
        &[
            Field::key("strategisCampaignId", K::Text, C::StrategisId),
            Field::required("rpc", K::Money, C::Rpc),
        ],
    ),
};
