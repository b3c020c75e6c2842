//! S1 Reconciled: final revenue, lagging two days. A bare array (some deployments wrap it in
//! `data`); numbers are numbers.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let prefix = if v.is_array() { "" } else { "/data" };
    let rows = rows_at(v, &["", "/data"])?;
    Ok(each_row(rows, prefix, |r| {
        Ok(SourceRow {
            date: date(r, "date")?,
            strategis_id: text(r, "strategisCampaignId"),
            buyer: text(r, "buyer"),
            category: text(r, "category"),
            sessions: count(r, "searches")?,
            s1_clicks: count(r, "clicks")?,
            revenue: decimal(r, "revenue")?,
            ..Default::default()
        })
    }))
}
