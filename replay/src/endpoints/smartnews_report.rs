//! SmartNews insights v3: one object per campaign; the day's numbers are the
//! `metrics_breakdown` entry whose `period` is that day (one row per breakdown entry).

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let campaigns = rows_at(v, &["/data"])?;
    let mut out = Decoded::default();
    for (ci, c) in campaigns.iter().enumerate() {
        let meta = c.get("metadata").unwrap_or(&Json::Null);
        let breakdown =
            c.get("metrics_breakdown").and_then(Json::as_array).map_or(&[][..], Vec::as_slice);
        for (bi, b) in breakdown.iter().enumerate() {
            let locator = format!("/data/{ci}/metrics_breakdown/{bi}");
            let row = (|| -> Result<SourceRow, String> {
                Ok(SourceRow {
                    locator: locator.as_str().into(),
                    date: date(b, "period")?,
                    platform_campaign_id: text(c, "id"),
                    campaign_name: text(meta, "name"),
                    strategis_id: text(meta, "strategis_campaign_id"),
                    spend: decimal(b, "budget_spent")?,
                    clicks: count(b, "click")?,
                    impressions: count(b, "viewable_impression")?,
                    conversions: count(b, "count_purchase")?,
                    ..Default::default()
                })
            })();
            match row {
                Ok(r) => out.rows.push(r),
                Err(e) => out.bad_rows.push((locator, e)),
            }
        }
    }
    Ok(out)
}
