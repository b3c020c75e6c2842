//! One module per upstream endpoint: its body decoder (and its doc of the body's shape). The
//! registry line that names the endpoint's path, parameters and pagination is in `registry`.

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
