//! Outbrain periodic hourly: per campaign, hourly rows newest first with float counts; a day's
//! hours are summed per campaign, and the day comes from each hour's `fromDate`.

use crate::decode::*;

pub fn decode<'b>(v: &Json<'b>) -> Result<Decoded<'b>, DecodeError> {
    let campaigns = rows_at(v, &["/campaignResults"])?;
    let mut out = Decoded::default();
    for (ci, c) in campaigns.iter().enumerate() {
        let locator = format!("/campaignResults/{ci}");
        let hours = c.get("results").and_then(Json::as_array).map_or(&[][..], Vec::as_slice);
        let mut row = SourceRow {
            locator: locator.as_str().into(),
            platform_campaign_id: text(c, "campaignId"),
            strategis_id: text(c, "strategisCampaignId"),
            ..Default::default()
        };
        let summed: Result<(), String> = hours.iter().try_for_each(|h| {
            let meta = h.get("metadata").unwrap_or(&Json::Null);
            let metrics = h.get("metrics").unwrap_or(&Json::Null);
            if let Some(day) = date(meta, "fromDate")? {
                row.date = row.date.or(Some(day));
            }
            row.spend = sum_opt(row.spend, decimal(metrics, "spend")?);
            row.clicks = sum_opt(row.clicks, count(metrics, "clicks")?);
            row.impressions = sum_opt(row.impressions, count(metrics, "impressions")?);
            row.conversions = sum_opt(row.conversions, count(metrics, "conversions")?);
            Ok(())
        });
        match summed {
            Ok(()) => out.rows.push(row),
            Err(e) => out.bad_rows.push((locator, e)),
        }
    }
    Ok(out)
}
