//! Zemanta reconciled report: CSV with a header line; columns found by name.

use std::borrow::Cow;

use crate::decode::*;

pub fn decode(body: &[u8]) -> Result<Decoded<'static>, DecodeError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(body);
    let headers = reader.headers().map_err(|e| DecodeError(format!("CSV header: {e}")))?.clone();
    if headers.get(0) != Some("Day") {
        return Err(DecodeError("CSV without its `Day,...` header".into()));
    }
    let mut out = Decoded::default();
    for (i, record) in reader.records().enumerate() {
        let locator = format!("line {}", i + 2);
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.bad_rows.push((locator, e.to_string()));
                continue;
            }
        };
        let r = Json::Object(
            headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (Cow::Borrowed(h), Json::String(Cow::Borrowed(v))))
                .collect(),
        );
        let row = (|| -> Result<SourceRow<'_>, String> {
            Ok(SourceRow {
                locator: locator.as_str().into(),
                date: date(&r, "Day")?,
                platform_campaign_id: text(&r, "Campaign Id"),
                campaign_name: text(&r, "Campaign"),
                strategis_id: text(&r, "Strategis Campaign Id"),
                spend: decimal(&r, "Total Spend")?,
                impressions: count(&r, "Impressions")?,
                clicks: count(&r, "Clicks")?,
                conversions: count(&r, "Conversions")?,
                ..Default::default()
            })
        })();
        match row {
            Ok(row) => out.rows.push(row.into_owned()),
            Err(e) => out.bad_rows.push((locator, e)),
        }
    }
    Ok(out)
}
