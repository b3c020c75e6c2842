//! MediaGo report.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let rows = rows_at(v, &["/results"])?;
    Ok(each_row(rows, "/results", |r| {
        Ok(SourceRow {
            date: date(r, "date")?,
            platform_campaign_id: text(r, "id"),
            campaign_name: text(r, "name"),
            strategis_id: text(r, "strategisCampaignId"),
            spend: decimal(r, "spend")?,
            clicks: count(r, "click")?,
            impressions: count(r, "impression")?,
            conversions: count(r, "conversion")?,
            ..Default::default()
        })
    }))
}
