//! S1 Daily V3: estimated same-day revenue, sessions (`searches`) and S1 clicks per Strategis
//! campaign, with the traffic source's `networkId` and platform campaign id. All strings.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let (rows, prefix) = match v.pointer("/data/data").and_then(|d| d.as_array()) {
        Some(r) => (r, "/data/data"),
        None => (rows_at(v, &["/data", ""])?, if v.is_array() { "" } else { "/data" }),
    };
    Ok(each_row(rows, prefix, |r| {
        Ok(SourceRow {
            date: date(r, "date")?,
            strategis_id: text(r, "strategisCampaignId"),
            network_id: text(r, "networkId"),
            platform_campaign_id: text(r, "networkCampaignId"),
            campaign_name: text(r, "networkCampaignName"),
            account_id: text(r, "networkAccountId"),
            buyer: text(r, "buyer"),
            category: text(r, "category"),
            rsoc_site: text(r, "rsocSite"),
            impressions: count(r, "impressions")?,
            s1_clicks: count(r, "clicks")?,
            sessions: count(r, "searches")?,
            revenue: decimal(r, "estimated_revenue")?,
            ..Default::default()
        })
    }))
}
