//! One module per upstream endpoint: its request (path, parameters, pagination) and its body
//! contract, as one [`EndpointSpec`](crate::registry::EndpointSpec) the registry lists.

pub mod facebook_adsets;
pub mod facebook_campaigns;
pub mod facebook_pixel;
pub mod facebook_report;
pub mod mediago_report;
pub mod newsbreak_report;
pub mod outbrain_report;
pub mod s1_daily_v3;
pub mod s1_hourly_v3;
pub mod s1_reconciled;
pub mod s1_rpc_average;
pub mod smartnews_report;
pub mod strategis_metrics;
pub mod taboola_report;
pub mod zemanta_report;

#[cfg(test)]
mod tests;
