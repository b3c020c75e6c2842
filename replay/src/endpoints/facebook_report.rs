//! Facebook insights at campaign level: keyed by the Facebook campaign id, all metrics strings;
//! pixel purchases are in `actions`.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let rows = rows_at(v, &["/data"])?;
    Ok(each_row(rows, "/data", |r| {
        let purchases = match r.get("actions").and_then(Json::as_array) {
            Some(actions) => actions
                .iter()
                .find(|a| {
                    a.get("action_type").and_then(Json::as_str)
                        == Some("offsite_conversion.fb_pixel_purchase")
                })
                .map(|a| count(a, "value"))
                .transpose()?
                .flatten(),
            None => None,
        };
        Ok(SourceRow {
            date: date(r, "date_start")?,
            platform_campaign_id: text(r, "campaign_id"),
            campaign_name: text(r, "campaign_name"),
            account_id: text(r, "account_id"),
            spend: decimal(r, "spend")?,
            clicks: count(r, "clicks")?,
            impressions: count(r, "impressions")?,
            conversions: purchases,
            ..Default::default()
        })
    }))
}
