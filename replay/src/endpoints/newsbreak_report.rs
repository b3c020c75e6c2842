//! NewsBreak: money in cents. `costDecimal` (cents, with sub-cent precision) when present,
//! else `cost`; divided by 100 into USD.

use rust_decimal::Decimal;

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    if let Some(code) = v.get("code").and_then(|c| c.as_i64()).filter(|c| *c != 0) {
        return Err(DecodeError(format!("in-body error code {code}")));
    }
    let rows = rows_at(v, &["/data/rows"])?;
    Ok(each_row(rows, "/data/rows", |r| {
        let cents = match decimal(r, "costDecimal")? {
            Some(c) => Some(c),
            None => decimal(r, "cost")?,
        };
        Ok(SourceRow {
            date: date(r, "date")?,
            platform_campaign_id: text(r, "campaignId"),
            strategis_id: text(r, "strategisCampaignId"),
            campaign_name: text(r, "campaign"),
            spend: cents.map(|c| c / Decimal::ONE_HUNDRED),
            clicks: count(r, "click")?,
            impressions: count(r, "impression")?,
            conversions: count(r, "conversion")?,
            ..Default::default()
        })
    }))
}
