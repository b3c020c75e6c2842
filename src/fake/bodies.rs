//! Response bodies of the fake upstream, one function per endpoint, in each platform's own
//! shape as `upstream-contract.md` describes it. Pagination follows the request (`page`,
//! `limit`, `after`); everything else is a pure function of the universe.

use std::collections::BTreeMap;

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::universe::{money, money_grouped, money_number, Campaign, DayMetrics, Universe};

pub struct Request<'a> {
    pub key: &'a str,
    pub date: NaiveDate,
    pub query: &'a BTreeMap<String, String>,
    pub epoch: u64,
    /// The upstream's now: today's numbers are the day so far.
    pub now: DateTime<Utc>,
    /// Base URL the fake is reachable at (for Facebook's `paging.next`).
    pub base_url: &'a str,
    pub path: &'a str,
    pub facebook_page_size: usize,
    pub smartnews_page_size: usize,
}

pub struct Rendered {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

fn json_body(v: Value) -> Rendered {
    Rendered { content_type: "application/json", body: serde_json::to_vec(&v).unwrap_or_default() }
}

impl Request<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    fn page(&self) -> usize {
        self.param("page").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(1)
    }

    fn limit(&self) -> usize {
        self.param("limit").and_then(|p| p.parse().ok()).filter(|p| *p >= 1).unwrap_or(500)
    }
}

fn delivering<'a>(
    u: &'a Universe,
    r: &Request<'_>,
    media: Option<&'a str>,
) -> Vec<(&'a Campaign, DayMetrics)> {
    u.campaigns
        .iter()
        .filter(|c| media.is_none_or(|m| c.media == m))
        .filter_map(|c| u.metrics(c, r.date, r.epoch, r.now).map(|m| (c, m)))
        .collect()
}

fn page_slice<T: Clone>(rows: &[T], page: usize, size: usize) -> Vec<T> {
    rows.iter().skip((page - 1) * size).take(size).cloned().collect()
}

pub fn render(u: &Universe, r: &Request<'_>) -> Option<Rendered> {
    let day = r.date.format("%Y-%m-%d").to_string();
    Some(match r.key {
        "s1_daily_v3" => {
            let rows: Vec<Value> = delivering(u, r, None)
                .into_iter()
                .map(|(c, m)| {
                    let mut row = json!({
                        "date": day, "strategisCampaignId": c.sid, "networkId": c.network_id,
                        "networkCampaignName": c.name, "networkAccountId": format!("act_{}", c.account_id),
                        "buyer": c.buyer, "category": c.category, "rsocSite": c.site,
                        "impressions": m.impressions.to_string(), "clicks": m.s1_clicks.to_string(),
                        "searches": m.sessions.to_string(), "estimated_revenue": money_grouped(m.revenue_cents),
                    });
                    if c.s1_knows_platform_id {
                        row["networkCampaignId"] = json!(c.platform_id);
                    }
                    row
                })
                .collect();
            let (page, limit) = (r.page(), r.limit());
            json_body(
                json!({"data": page_slice(&rows, page, limit), "page": page, "limit": limit, "total": rows.len()}),
            )
        }
        "s1_reconciled" => {
            if (u.today - r.date).num_days() < 2 {
                json_body(json!([]))
            } else {
                let rows: Vec<Value> = delivering(u, r, None)
                    .into_iter()
                    .map(|(c, m)| json!({
                        "date": day, "strategisCampaignId": c.sid, "buyer": c.buyer, "category": c.category,
                        "searches": m.sessions, "clicks": m.s1_clicks, "revenue": money_number(m.reconciled_revenue_cents),
                    }))
                    .collect();
                json_body(Value::Array(rows))
            }
        }
        "s1_rpc_average" => {
            let rows: Vec<Value> = delivering(u, r, None)
                .into_iter()
                .map(|(c, m)| {
                    let rpc = if m.s1_clicks == 0 {
                        0.0
                    } else {
                        m.revenue_cents as f64 / 100.0 / m.s1_clicks as f64
                    };
                    json!({"strategisCampaignId": c.sid, "rpc": format!("{rpc:.4}"), "days": 3})
                })
                .collect();
            json_body(json!({ "rows": rows }))
        }
        "s1_hourly_v3" => {
            let mut rows = Vec::new();
            // Today's report lists the hours so far; a closed day's, its 28.
            let hours = u.so_far(r.date, r.now).map_or(28, |(hour, _)| hour as usize + 1);
            for (c, m) in delivering(u, r, None) {
                let sessions = u.hourly_split(c, r.date, m.sessions as i64, r.now);
                let clicks = u.hourly_split(c, r.date, m.s1_clicks as i64, r.now);
                let revenue = u.hourly_split(c, r.date, m.revenue_cents, r.now);
                for hour in 0..hours {
                    rows.push(json!({
                        "date": day, "hour": hour.to_string(), "strategisCampaignId": c.sid, "networkId": c.network_id,
                        "searches": sessions[hour].to_string(), "clicks": clicks[hour].to_string(),
                        "estimated_revenue": money(revenue[hour]),
                    }));
                }
            }
            let (page, limit) = (r.page(), r.limit());
            json_body(
                json!({"data": {"data": page_slice(&rows, page, limit), "page": page, "limit": limit}}),
            )
        }
        "facebook_report" => {
            let rows: Vec<Value> = delivering(u, r, Some("facebook"))
                .into_iter()
                .map(|(c, m)| json!({
                    "account_id": c.account_id, "campaign_id": c.platform_id, "campaign_name": c.name,
                    "spend": money(m.spend_cents), "clicks": m.clicks.to_string(), "impressions": (m.impressions * 6).to_string(),
                    "actions": [
                        {"action_type": "link_click", "value": (m.clicks * 9 / 10).to_string()},
                        {"action_type": "offsite_conversion.fb_pixel_purchase", "value": m.conversions.to_string()},
                    ],
                    "date_start": day, "date_stop": day,
                }))
                .collect();
            facebook_page(r, rows)
        }
        "facebook_campaigns" => {
            let rows: Vec<Value> = u
                .of_media("facebook")
                .map(|c| {
                    let mut row = json!({
                        "id": c.platform_id, "name": c.name, "status": "ACTIVE", "objective": "OUTCOME_SALES",
                        "daily_budget": ((c.index as u64 % 9 + 1) * 5000).to_string(), "account_id": c.account_id,
                        "buyer": c.buyer, "category": c.category,
                    });
                    if let Some(lane) = c.lane {
                        row["lane"] = json!(lane);
                    }
                    row
                })
                .collect();
            facebook_page(r, rows)
        }
        "facebook_adsets" => {
            let mut rows = Vec::new();
            for (c, m) in delivering(u, r, Some("facebook")) {
                let first = m.spend_cents * 6 / 10;
                let split = [
                    (1, "LAL_1 | US | 25-54", first, m.clicks * 6 / 10, m.impressions * 3),
                    (
                        2,
                        "Broad | US | 18+",
                        m.spend_cents - first,
                        m.clicks - m.clicks * 6 / 10,
                        m.impressions * 3,
                    ),
                ];
                for (n, name, spend, clicks, impressions) in split {
                    rows.push(json!({
                        "adset_id": format!("{}{n:02}", &c.platform_id[..16]), "adset_name": name, "campaign_id": c.platform_id,
                        "spend": money(spend), "clicks": clicks.to_string(), "impressions": impressions.to_string(), "date_start": day,
                    }));
                }
            }
            facebook_page(r, rows)
        }
        "facebook_pixel" => {
            let rows: Vec<Value> = delivering(u, r, Some("facebook"))
                .into_iter()
                .map(|(c, m)| json!({"date": day, "strategisCampaignId": c.sid, "purchases": m.conversions, "clicks": m.clicks * 9 / 10}))
                .collect();
            json_body(Value::Array(rows))
        }
        "strategis_metrics" => {
            let rows: Vec<Value> = delivering(u, r, Some("facebook"))
                .into_iter()
                .map(|(c, m)| json!({
                    "date": day, "strategisCampaignId": c.sid, "networkName": "facebook",
                    "impressions": m.impressions.to_string(), "sessions": m.sessions.to_string(), "clicks": m.s1_clicks.to_string(),
                    "spend": money(m.spend_cents - m.spend_cents / 50), "revenue": money(m.revenue_cents - m.revenue_cents / 100),
                }))
                .collect();
            let (page, limit) = (r.page(), r.limit());
            json_body(json!({"data": page_slice(&rows, page, limit), "page": page, "limit": limit}))
        }
        "taboola_report" => {
            let rows: Vec<Value> = delivering(u, r, Some("taboola"))
                .into_iter()
                .map(|(c, m)| json!({
                    "date": format!("{day} 00:00:00.0"), "campaign": c.platform_id, "campaign_name": c.name,
                    "strategisCampaignId": c.sid, "clicks": m.clicks, "impressions": m.impressions * 5,
                    "visible_impressions": m.impressions * 3, "spent": money_number(m.spend_cents), "currency": "USD",
                    "cpa_actions_num": m.conversions,
                }))
                .collect();
            let n = rows.len();
            json_body(json!({
                "last-used-rawdata-update-time": format!("{day} 05:00:00.0"), "timezone": "UTC",
                "results": rows, "recordCount": n, "metadata": {"total": n, "count": n},
            }))
        }
        "outbrain_report" => {
            let mut results = Vec::new();
            for (c, m) in delivering(u, r, Some("outbrain")) {
                let spend = u.hourly_split(c, r.date, m.spend_cents, r.now);
                let clicks = u.hourly_split(c, r.date, m.clicks as i64, r.now);
                let impressions = u.hourly_split(c, r.date, m.impressions as i64, r.now);
                // Newest first, like the real report; the day's 24 hours only (today's so far).
                let last = u.so_far(r.date, r.now).map_or(23, |(hour, _)| hour.min(23) as usize);
                let hours: Vec<Value> = (0..=last)
                    .rev()
                    .map(|h| {
                        let extra = if h == 23 { spend[24..].iter().sum::<i64>() } else { 0 };
                        let extra_clicks = if h == 23 { clicks[24..].iter().sum::<i64>() } else { 0 };
                        let extra_impr = if h == 23 { impressions[24..].iter().sum::<i64>() } else { 0 };
                        let from = format!("{day} {h:02}:00:00");
                        let to = if h == 23 { format!("{} 00:00:00", r.date.succ_opt().unwrap_or(r.date)) } else { format!("{day} {:02}:00:00", h + 1) };
                        json!({
                            "metadata": {"id": from, "fromDate": from, "toDate": to},
                            "metrics": {"impressions": ((impressions[h] + extra_impr) as f64), "clicks": clicks[h] + extra_clicks,
                                        "spend": money_number(spend[h] + extra), "conversions": if h == 12 { m.conversions } else { 0 }},
                        })
                    })
                    .collect();
                results.push(json!({"campaignId": c.platform_id, "strategisCampaignId": c.sid, "results": hours, "totalResults": 24}));
            }
            let n = results.len();
            json_body(json!({"campaignResults": results, "totalCampaigns": n}))
        }
        "newsbreak_report" => {
            let rows: Vec<Value> = delivering(u, r, Some("newsbreak"))
                .into_iter()
                .map(|(c, m)| {
                    // Sub-cent precision arrives only in costDecimal.
                    let fraction = (c.index % 100) as f64 / 100.0;
                    json!({
                        "date": day, "campaignId": c.platform_id, "strategisCampaignId": c.sid, "campaign": c.name,
                        "cost": m.spend_cents, "costDecimal": m.spend_cents as f64 + fraction,
                        "impression": m.impressions, "click": m.clicks, "conversion": m.conversions,
                    })
                })
                .collect();
            json_body(json!({"code": 0, "errMsg": "", "data": {"rows": rows, "aggregateData": []}}))
        }
        "mediago_report" => {
            let rows: Vec<Value> = delivering(u, r, Some("mediago"))
                .into_iter()
                .map(|(c, m)| json!({
                    "date": day, "id": c.platform_id, "name": c.name, "strategisCampaignId": c.sid,
                    "impression": m.impressions, "click": m.clicks, "spend": money_number(m.spend_cents), "conversion": m.conversions,
                }))
                .collect();
            json_body(json!({ "results": rows }))
        }
        "zemanta_report" => {
            let mut csv = String::from("Day,Campaign Id,Campaign,Strategis Campaign Id,Total Spend,Impressions,Clicks,Conversions\n");
            for (c, m) in delivering(u, r, Some("zemanta")) {
                csv.push_str(&format!(
                    "{day},{},{},{},{},{},{},{}\n",
                    c.platform_id,
                    c.name.replace(',', " "),
                    c.sid,
                    money(m.spend_cents),
                    m.impressions,
                    m.clicks,
                    m.conversions
                ));
            }
            Rendered { content_type: "text/csv", body: csv.into_bytes() }
        }
        "smartnews_report" => {
            let rows: Vec<Value> = delivering(u, r, Some("smartnews"))
                .into_iter()
                .map(|(c, m)| {
                    let metrics = json!({"viewable_impression": m.impressions, "click": m.clicks, "budget_spent": money(m.spend_cents), "count_purchase": m.conversions});
                    let mut breakdown = metrics.clone();
                    breakdown["period"] = json!(day);
                    json!({
                        "type": "CAMPAIGN", "id": c.platform_id.parse::<u64>().unwrap_or_default(),
                        "metadata": {"name": c.name, "strategis_campaign_id": c.sid},
                        "metrics": metrics, "metrics_breakdown": [breakdown],
                    })
                })
                .collect();
            let size = r.smartnews_page_size.max(1);
            let total_pages = rows.len().div_ceil(size).max(1);
            let page = r.page();
            json_body(json!({
                "data": page_slice(&rows, page, size),
                "pagination": {"page": page, "page_size": size, "total_pages": total_pages, "total_objects": rows.len()},
            }))
        }
        _ => return None,
    })
}

fn cursor_for(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn offset_of(cursor: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("offset:")?.parse().ok()
}

fn facebook_page(r: &Request<'_>, rows: Vec<Value>) -> Rendered {
    let size = r.facebook_page_size.max(1);
    let start = r.param("after").and_then(offset_of).unwrap_or(0);
    let end = (start + size).min(rows.len());
    let page: Vec<Value> = rows.get(start..end).map(<[Value]>::to_vec).unwrap_or_default();
    let mut paging = json!({"cursors": {"before": cursor_for(start), "after": cursor_for(end)}});
    if end < rows.len() {
        let next =
            url::Url::parse(r.base_url).and_then(|base| base.join(r.path)).map(|mut next| {
                next.query_pairs_mut()
                    .extend_pairs(r.query.iter().filter(|(k, _)| k.as_str() != "after"))
                    .append_pair("after", &cursor_for(end));
                String::from(next)
            });
        // Clients page by `after`; `next` only has to say that another page exists.
        paging["next"] = json!(next.unwrap_or_else(|_| cursor_for(end)));
    }
    json_body(json!({"data": page, "paging": paging}))
}

/// `page` with the `paging` member of `first` (another page of the same report): a later
/// page that points back at the cursor the first one handed out.
pub fn with_paging_of(page: Rendered, first: Option<&Rendered>) -> Rendered {
    let parse = |r: &Rendered| serde_json::from_slice::<Value>(&r.body).ok();
    let (Some(mut body), Some(paging)) =
        (parse(&page), first.and_then(parse).and_then(|f| f.get("paging").cloned()))
    else {
        return page;
    };
    body["paging"] = paging;
    json_body(body)
}

/// A CSV body whose header calls column `from` `to`.
pub fn rename_csv_column(body: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let (header, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let header: Vec<&str> = header.split(',').map(|h| if h == from { to } else { h }).collect();
    format!("{}\n{rest}", header.join(",")).into_bytes()
}

/// `rendered` grown to `bytes` or more: the first row of its row array repeated (each copy a
/// row of the report, as a huge but valid answer of the endpoint would be). A body with no
/// row array, or no row, is returned as it is.
pub fn grown(rendered: Rendered, spec: &adlake_replay::EndpointSpec, bytes: u64) -> Rendered {
    let Ok(mut body) = serde_json::from_slice::<Value>(&rendered.body) else { return rendered };
    let Some(pointer) =
        spec.contract.rows.iter().find(|p| body.pointer(p).is_some_and(Value::is_array))
    else {
        return rendered;
    };
    let Some(Value::Array(rows)) = body.pointer_mut(pointer) else { return rendered };
    let Some(first) = rows.first().cloned() else { return rendered };
    let row_bytes = serde_json::to_vec(&first).map_or(1, |b| b.len() as u64 + 1);
    let copies = (bytes / row_bytes.max(1)) as usize + 1;
    rows.extend(std::iter::repeat_n(first, copies));
    Rendered {
        content_type: rendered.content_type,
        body: serde_json::to_vec(&body).unwrap_or(rendered.body),
    }
}
