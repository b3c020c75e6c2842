//! Facebook pixel report: purchases per Strategis campaign. A bare array.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let prefix = if v.is_array() { "" } else { "/data" };
    let rows = rows_at(v, &["", "/data"])?;
    Ok(each_row(rows, prefix, |r| {
        Ok(SourceRow {
            date: date(r, "date")?,
            strategis_id: text(r, "strategisCampaignId"),
            conversions: count(r, "purchases")?,
            ..Default::default()
        })
    }))
}
