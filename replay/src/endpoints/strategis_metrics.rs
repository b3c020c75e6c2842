//! Strategis' own tracked view: impressions (its source of truth); spend and revenue here are
//! fallbacks only.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let rows = rows_at(v, &["/data"])?;
    Ok(each_row(rows, "/data", |r| {
        Ok(SourceRow {
            date: date(r, "date")?,
            strategis_id: text(r, "strategisCampaignId"),
            impressions: count(r, "impressions")?,
            spend: decimal(r, "spend")?,
            revenue: decimal(r, "revenue")?,
            ..Default::default()
        })
    }))
}
