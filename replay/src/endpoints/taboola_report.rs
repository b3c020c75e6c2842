//! Taboola campaign summary: numbers are numbers, `date` carries a time.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let rows = rows_at(v, &["/results"])?;
    Ok(each_row(rows, "/results", |r| {
        Ok(SourceRow {
            date: date(r, "date")?,
            platform_campaign_id: text(r, "campaign"),
            campaign_name: text(r, "campaign_name"),
            strategis_id: text(r, "strategisCampaignId"),
            spend: decimal(r, "spent")?,
            clicks: count(r, "clicks")?,
            impressions: count(r, "impressions")?,
            conversions: count(r, "cpa_actions_num")?,
            ..Default::default()
        })
    }))
}
