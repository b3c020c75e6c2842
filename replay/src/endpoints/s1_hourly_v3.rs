//! S1 Hourly V3: double-wrapped (`{data: {data: [...]}}`), strings; `hour` 0..27 where 24-27
//! are next-day clicks attributed late to this day.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let (rows, prefix) = match v.pointer("/data/data").and_then(|d| d.as_array()) {
        Some(r) => (r, "/data/data"),
        None => (rows_at(v, &["/data", ""])?, if v.is_array() { "" } else { "/data" }),
    };
    Ok(each_row(rows, prefix, row))
}

/// The rows of the usual envelope, `{data: {data: [...]}}`: what [`decode`] reads first. The
/// projector streams them out of the parser (most of a lake's bytes are this endpoint's).
pub const STREAMED: StreamedRows = StreamedRows { path: &["data", "data"], fill };

pub fn row<'b>(r: &Json<'b>) -> Result<SourceRow<'b>, String> {
    let mut row = SourceRow::default();
    fill(r, &mut row)?;
    Ok(row)
}

/// [`row`], written into a default row where it will stay.
fn fill<'b>(r: &Json<'b>, row: &mut SourceRow<'b>) -> Result<(), String> {
    let hour = count(r, "hour")?.ok_or("hour: missing")?;
    if !(0..=27).contains(&hour) {
        return Err(format!("hour: {hour} is outside 0..27"));
    }
    row.date = date(r, "date")?;
    row.hour = Some(hour as u8);
    row.strategis_id = text(r, "strategisCampaignId");
    row.network_id = text(r, "networkId");
    row.sessions = count(r, "searches")?;
    row.s1_clicks = count(r, "clicks")?;
    row.revenue = decimal(r, "estimated_revenue")?;
    Ok(())
}
