//! Facebook adsets per day: spend, clicks and impressions per adset of a Facebook campaign.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let rows = rows_at(v, &["/data"])?;
    Ok(each_row(rows, "/data", |r| {
        Ok(SourceRow {
            date: date(r, "date_start")?,
            adset_id: text(r, "adset_id"),
            adset_name: text(r, "adset_name"),
            platform_campaign_id: text(r, "campaign_id"),
            spend: decimal(r, "spend")?,
            clicks: count(r, "clicks")?,
            impressions: count(r, "impressions")?,
            ..Default::default()
        })
    }))
}
