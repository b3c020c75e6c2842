//! Facebook campaigns: names, buyer, category and buying lane per Facebook campaign id.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let rows = rows_at(v, &["/data"])?;
    Ok(each_row(rows, "/data", |r| {
        Ok(SourceRow {
            platform_campaign_id: text(r, "id"),
            campaign_name: text(r, "name"),
            account_id: text(r, "account_id"),
            buyer: text(r, "buyer"),
            lane: text(r, "lane"),
            category: text(r, "category"),
            ..Default::default()
        })
    }))
}
