//! S1 RPC average: trailing 3-day revenue per S1 click, per campaign, as of the request date.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let (rows, prefix) = if let Some(r) = v.get("rows").and_then(|r| r.as_array()) {
        (r, "/rows")
    } else {
        (rows_at(v, &["/data", ""])?, if v.is_array() { "" } else { "/data" })
    };
    Ok(each_row(rows, prefix, |r| {
        Ok(SourceRow {
            strategis_id: text(r, "strategisCampaignId"),
            rpc: decimal(r, "rpc")?,
            ..Default::default()
        })
    }))
}
