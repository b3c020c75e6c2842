//! Restatements: consecutive successful fetches of the same (endpoint, date) whose decoded
//! numbers differ. Identical re-fetches are not restatements.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::fetch::{collect_fetches, DayData, Fetch};
use super::{by_date, Event};

/// One metric of one campaign that changed between two successful fetches of a day.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Delta {
    pub campaign: String,
    pub metric: &'static str,
    pub before: Option<String>,
    pub after: Option<String>,
    /// `after - before` (a missing side counts as 0 here only).
    pub change: Decimal,
}

/// A day of one endpoint whose payload changed from one successful fetch to the next.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Restatement {
    pub endpoint: &'static str,
    pub date: NaiveDate,
    pub before_fetched_at: DateTime<Utc>,
    pub after_fetched_at: DateTime<Utc>,
    pub before_events: Vec<String>,
    pub after_events: Vec<String>,
    pub deltas: Vec<Delta>,
}

impl Restatement {
    pub fn largest_change(&self) -> Decimal {
        self.deltas.iter().map(|d| d.change.abs()).max().unwrap_or_default()
    }
}

/// Restatements in `events`: consecutive successful fetches of the same (endpoint, date)
/// whose decoded numbers differ. Identical re-fetches are not restatements. Largest first.
pub fn restatements(events: &[Event]) -> Vec<Restatement> {
    let (_, dates) = by_date(events);
    let mut out = Vec::new();
    for (date, day_events) in &dates {
        let day = DayData::new(*date, day_events);
        let (mut fetches, _) = collect_fetches(&day);
        for list in fetches.values_mut() {
            list.retain(|f| f.success);
        }
        for list in fetches.values() {
            for pair in list.windows(2) {
                if let Some(r) = restatement(&day, &pair[0], &pair[1]) {
                    out.push(r);
                }
            }
        }
    }
    out.sort_by(|p, q| {
        q.largest_change().cmp(&p.largest_change()).then_with(|| {
            (p.date, p.endpoint, p.after_fetched_at).cmp(&(q.date, q.endpoint, q.after_fetched_at))
        })
    });
    out
}

/// What changed from fetch `a` to fetch `b` of the same (endpoint, date), if anything.
pub(super) fn restatement(day: &DayData<'_>, a: &Fetch<'_>, b: &Fetch<'_>) -> Option<Restatement> {
    let hashes = |f: &Fetch| -> Vec<Option<adlake_raw::BodyHash>> {
        f.events.iter().map(|&i| day.events[i].envelope.body.map(|b| b.sha256)).collect()
    };
    if hashes(a) == hashes(b) {
        return None;
    }
    let totals = |f: &Fetch| -> BTreeMap<(String, &'static str), Decimal> {
        let mut t = BTreeMap::new();
        for (_, r) in &f.rows {
            let Some(key) = r.strategis_id.clone().or_else(|| r.platform_campaign_id.clone())
            else {
                continue;
            };
            let key = match (r.hour, &r.adset_id) {
                (Some(h), _) => format!("{key} hour {h}"),
                (None, Some(a)) => format!("{key} adset {a}"),
                _ => key.into_owned(),
            };
            let metrics: [(&'static str, Option<Decimal>); 7] = [
                ("revenue", r.revenue),
                ("spend", r.spend),
                ("sessions", r.sessions.map(Decimal::from)),
                ("s1_clicks", r.s1_clicks.map(Decimal::from)),
                ("clicks", r.clicks.map(Decimal::from)),
                ("impressions", r.impressions.map(Decimal::from)),
                ("conversions", r.conversions.map(Decimal::from)),
            ];
            for (m, v) in metrics {
                if let Some(v) = v {
                    *t.entry((key.clone(), m)).or_insert(Decimal::ZERO) += v;
                }
            }
        }
        t
    };
    let (ta, tb) = (totals(a), totals(b));
    let keys: BTreeSet<&(String, &'static str)> = ta.keys().chain(tb.keys()).collect();
    let mut deltas: Vec<Delta> = keys
        .into_iter()
        .filter_map(|k| {
            let (x, y) = (ta.get(k), tb.get(k));
            (x != y).then(|| Delta {
                campaign: k.0.clone(),
                metric: k.1,
                before: x.map(|v| v.to_string()),
                after: y.map(|v| v.to_string()),
                change: y.copied().unwrap_or_default() - x.copied().unwrap_or_default(),
            })
        })
        .collect();
    if deltas.is_empty() {
        return None;
    }
    deltas.sort_by(|p, q| {
        q.change
            .abs()
            .cmp(&p.change.abs())
            .then_with(|| (&p.campaign, p.metric).cmp(&(&q.campaign, q.metric)))
    });
    Some(Restatement {
        endpoint: a.endpoint.key,
        date: day.date,
        before_fetched_at: a.finished_at,
        after_fetched_at: b.finished_at,
        before_events: a.events.iter().map(|&i| day.events[i].id.to_hex()).collect(),
        after_events: b.events.iter().map(|&i| day.events[i].id.to_hex()).collect(),
        deltas,
    })
}
