//! Evaluating one rule at one instant over the loaded tables ([`super::data::Tables`]): every
//! subject the rule can judge then (a campaign, a closed campaign-day, an endpoint's report of
//! the date) and its [`Judgement`]: it fires, it would fire but an input it reads is FAILED,
//! PARTIAL, missing or late (suppressed), or it is clear.
//!
//! An instant is an hour of a UTC date: the rules read each date's latest intraday rows at or
//! before it (as known at the end of that hour). Its clock, for deadlines and lateness, is the
//! newest fetch known then, and at least the hour's start: a time from the data, never the
//! machine's. Windows of "the last N hours" stay inside the UTC day.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::data::{day_start, instant, Closed, Curve, Millis, Tables, HOUR_MS};
use super::rules::{Baseline, Condition, Endpoints, Rule};

/// Where an input of a finding was read from, resolved to raw events when it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The snapshot an endpoint's intraday rows took at an hour of a date.
    Snapshot { endpoint: String, date: NaiveDate, hour: Millis },
    /// The newest fetch of an endpoint's report of a date finished by an instant.
    NewestFetch { endpoint: String, date: NaiveDate, until: Millis },
    /// What supplied `revenue_usd` of a `campaign_index` row (its lineage).
    Lineage { row_key: String, date: NaiveDate },
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputRef {
    pub input: String,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub message: String,
    pub inputs: BTreeMap<String, Value>,
    pub refs: Vec<InputRef>,
    /// Why it did not fire (empty: it fires).
    pub suppressed_by: Vec<String>,
    /// The campaign and date it is about, for scoring (campaign rules only).
    pub campaign: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    Fire(Finding),
    Suppress(Finding),
    Clear,
}

/// An evaluation instant: `hour` of `date`, the rows read (`rows_hour`, the date's latest
/// intraday hour at or before it) and the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub date: NaiveDate,
    pub hour: Millis,
    pub rows_hour: Option<Millis>,
    pub clock: Millis,
}

impl At {
    pub fn new(tables: &Tables, hour: Millis) -> At {
        let date = instant(hour).date_naive();
        let rows_hour = tables.hour_at(date, hour);
        let newest = rows_hour
            .map(|h| tables.inputs_at(date, h).iter().map(|i| i.newest_fetched_at).max())
            .unwrap_or_default();
        At { date, hour, rows_hour, clock: newest.map_or(hour, |n| n.max(hour)) }
    }
}

pub struct Context<'t> {
    pub tables: &'t Tables,
    /// Media source → the endpoints whose spend counts, first first.
    pub spend_precedence: &'t BTreeMap<String, Vec<&'static str>>,
}

pub fn usd(micros: i64) -> String {
    format!("${}", Decimal::new(micros, 6).round_dp(2))
}

fn usd_value(micros: i64) -> Value {
    json!(Decimal::new(micros, 6).normalize().to_string())
}

fn hhmm(ms: Millis) -> String {
    instant(ms).format("%H:%M UTC").to_string()
}

/// Every subject `rule` judges at `at`, in a stable order.
pub fn evaluate(ctx: &Context<'_>, rule: &Rule, at: &At) -> Vec<(String, Judgement)> {
    match &rule.condition {
        Condition::RoasBelow { .. } | Condition::SpendWithoutRevenue { .. } => {
            window(ctx, rule, at)
        }
        Condition::RevenueDrop { pct, against, min_revenue_usd } => {
            drop_against(ctx, rule, at, *pct, *against, *min_revenue_usd)
        }
        Condition::Restatement { pct, days } => restated(ctx, rule, at, *pct, *days),
        _ => freshness(ctx, rule, at),
    }
}

/// The campaigns of `at`'s date in the rule's scope, with their latest point.
fn campaigns<'t>(
    ctx: &Context<'t>,
    rule: &Rule,
    at: &At,
) -> impl Iterator<Item = (&'t String, &'t Curve)> + 't {
    let (scope, hour) = (rule.scope.clone(), at.hour);
    ctx.tables.curves.get(&at.date).into_iter().flatten().filter(move |(id, c)| {
        c.at(hour).is_some()
            && scope.matches(
                id,
                c.name.as_deref(),
                c.media_source.as_deref(),
                c.owner.as_deref(),
                c.lane.as_deref(),
            )
    })
}

/// Why the inputs `endpoints` of `at`'s date cannot be trusted at `at`, if they cannot.
fn gate(ctx: &Context<'_>, rule: &Rule, at: &At, endpoints: &[&str]) -> Vec<String> {
    let Some(hour) = at.rows_hour else {
        return endpoints.iter().map(|e| format!("{e} not fetched")).collect();
    };
    let inputs = ctx.tables.inputs_at(at.date, hour);
    let oldest_ok = at.clock - rule.max_input_age.num_milliseconds();
    endpoints
        .iter()
        .filter_map(|e| match inputs.iter().find(|i| i.endpoint == *e) {
            None => Some(format!("{e} not fetched")),
            Some(i) if i.status != "OK" => Some(format!("{e} {}", i.status)),
            Some(i) if i.newest_fetched_at < oldest_ok => {
                Some(format!("{e} late (newest fetch {})", hhmm(i.newest_fetched_at)))
            }
            Some(_) => None,
        })
        .collect()
}

/// The endpoints a campaign's numbers come from: the revenue report and its spend report(s).
fn campaign_inputs<'c>(
    ctx: &Context<'c>,
    curve: &'c Curve,
    spend_source: Option<&'c str>,
) -> Vec<&'c str> {
    let mut out = vec!["s1_daily_v3"];
    let primary = curve
        .media_source
        .as_deref()
        .and_then(|m| ctx.spend_precedence.get(m))
        .and_then(|order| order.first().copied());
    for e in primary.into_iter().chain(spend_source.filter(|s| *s != "strategis_metrics")) {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out
}

fn judged(finding: Finding) -> Judgement {
    if finding.suppressed_by.is_empty() {
        Judgement::Fire(finding)
    } else {
        Judgement::Suppress(finding)
    }
}

fn window(ctx: &Context<'_>, rule: &Rule, at: &At) -> Vec<(String, Judgement)> {
    let (hours, min_spend, roas_floor) = match &rule.condition {
        Condition::RoasBelow { roas, min_spend_usd, hours } => {
            (*hours, *min_spend_usd, Some(*roas))
        }
        Condition::SpendWithoutRevenue { min_spend_usd, hours } => (*hours, *min_spend_usd, None),
        _ => return Vec::new(),
    };
    let min_spend = (min_spend * Decimal::from(1_000_000)).round().try_into().unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for (id, curve) in campaigns(ctx, rule, at) {
        let Some(now) = curve.at(at.hour) else { continue };
        let base = hours.and_then(|h| curve.at(at.hour - i64::from(h) * HOUR_MS));
        let spend = now.spend.unwrap_or(0) - base.and_then(|b| b.spend).unwrap_or(0);
        let revenue = now.revenue.unwrap_or(0) - base.and_then(|b| b.revenue).unwrap_or(0);
        let span = hours.map_or("today so far".to_string(), |h| format!("in the last {h}h"));
        let roas = (spend > 0).then(|| revenue as f64 / spend as f64);
        let fires = spend > min_spend
            && match roas_floor {
                Some(floor) => roas.is_some_and(|r| r < floor),
                None => revenue <= 0,
            };
        let subject = format!("campaign {id}");
        if !fires {
            out.push((subject, Judgement::Clear));
            continue;
        }
        let message = match roas_floor {
            Some(floor) => format!(
                "{id}: ROAS {:.2} {span} (revenue {} on spend {}) is under {floor}",
                roas.unwrap_or_default(),
                usd(revenue),
                usd(spend)
            ),
            None => format!("{id}: spent {} {span} with no revenue", usd(spend)),
        };
        let mut inputs = BTreeMap::from([
            ("spend_usd".to_string(), usd_value(spend)),
            ("revenue_usd".to_string(), usd_value(revenue)),
            ("spend_usd_now".to_string(), now.spend.map_or(Value::Null, usd_value)),
            ("revenue_usd_now".to_string(), now.revenue.map_or(Value::Null, usd_value)),
            ("as_of_hour".to_string(), json!(instant(now.hour).to_rfc3339())),
        ]);
        if let Some(r) = roas {
            inputs.insert("roas".into(), json!(r));
        }
        let mut refs = Vec::new();
        let spend_endpoint = now.spend_source.clone();
        for (label, point) in [("now", Some(now)), ("window start", base)] {
            let Some(p) = point else { continue };
            if label == "window start" {
                inputs.insert("spend_usd_at_start".into(), p.spend.map_or(Value::Null, usd_value));
                inputs.insert(
                    "revenue_usd_at_start".into(),
                    p.revenue.map_or(Value::Null, usd_value),
                );
                inputs.insert("window_start_hour".into(), json!(instant(p.hour).to_rfc3339()));
            }
            for (column, endpoint) in
                [("spend_usd", p.spend_source.as_deref()), ("revenue_usd", Some("s1_daily_v3"))]
            {
                if let Some(endpoint) = endpoint {
                    refs.push(InputRef {
                        input: format!("{column} {label}"),
                        source: Source::Snapshot {
                            endpoint: endpoint.to_owned(),
                            date: at.date,
                            hour: p.hour,
                        },
                    });
                }
            }
        }
        let endpoints = campaign_inputs(ctx, curve, spend_endpoint.as_deref());
        let suppressed_by = gate(ctx, rule, at, &endpoints);
        out.push((
            subject,
            judged(Finding { message, inputs, refs, suppressed_by, campaign: Some(id.clone()) }),
        ));
    }
    out
}

fn drop_against(
    ctx: &Context<'_>,
    rule: &Rule,
    at: &At,
    pct: f64,
    against: Baseline,
    min_revenue: Decimal,
) -> Vec<(String, Judgement)> {
    let offset = at.hour - day_start(at.date);
    let dates: Vec<NaiveDate> = match against {
        Baseline::Yesterday => vec![at.date - chrono::Days::new(1)],
        Baseline::Weekdays => (1..=4).map(|w| at.date - chrono::Days::new(7 * w)).collect(),
    };
    let min_revenue: i64 =
        (min_revenue * Decimal::from(1_000_000)).round().try_into().unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for (id, curve) in campaigns(ctx, rule, at) {
        let Some(now) = curve.at(at.hour) else { continue };
        let base: Vec<(NaiveDate, &super::data::Point)> = dates
            .iter()
            .filter_map(|d| {
                let c = ctx.tables.curves.get(d)?.get(id)?;
                Some((*d, c.at(day_start(*d) + offset)?))
            })
            .filter(|(_, p)| p.revenue.is_some())
            .collect();
        if base.is_empty() {
            continue;
        }
        let mean =
            base.iter().map(|(_, p)| p.revenue.unwrap_or(0)).sum::<i64>() / base.len() as i64;
        let revenue = now.revenue.unwrap_or(0);
        let drop = if mean > 0 { (mean - revenue) as f64 * 100.0 / mean as f64 } else { 0.0 };
        let subject = format!("campaign {id}");
        if mean <= 0 || mean < min_revenue || drop <= pct {
            out.push((subject, Judgement::Clear));
            continue;
        }
        let what = match against {
            Baseline::Yesterday => "the same hour yesterday".to_string(),
            Baseline::Weekdays => format!("the same hour of the last {} same weekdays", base.len()),
        };
        let message = format!(
            "{id}: revenue so far {} is {drop:.0} % below {} at {what}",
            usd(revenue),
            usd(mean)
        );
        let mut inputs = BTreeMap::from([
            ("revenue_usd_now".to_string(), usd_value(revenue)),
            ("revenue_usd_baseline".to_string(), usd_value(mean)),
            ("drop_pct".to_string(), json!(drop)),
        ]);
        let mut refs = vec![InputRef {
            input: "revenue_usd now".into(),
            source: Source::Snapshot {
                endpoint: "s1_daily_v3".into(),
                date: at.date,
                hour: now.hour,
            },
        }];
        for (d, p) in &base {
            inputs.insert(format!("revenue_usd_{d}"), p.revenue.map_or(Value::Null, usd_value));
            refs.push(InputRef {
                input: format!("revenue_usd {d}"),
                source: Source::Snapshot { endpoint: "s1_daily_v3".into(), date: *d, hour: p.hour },
            });
        }
        let suppressed_by = gate(ctx, rule, at, &["s1_daily_v3"]);
        out.push((
            subject,
            judged(Finding { message, inputs, refs, suppressed_by, campaign: Some(id.clone()) }),
        ));
    }
    out
}

fn restated(
    ctx: &Context<'_>,
    rule: &Rule,
    at: &At,
    pct: f64,
    days: u32,
) -> Vec<(String, Judgement)> {
    let first = at.date - chrono::Days::new(u64::from(days));
    let in_scope = |c: &Closed| {
        rule.scope.matches(
            &c.campaign_id,
            c.name.as_deref(),
            c.media_source.as_deref(),
            c.owner.as_deref(),
            c.lane.as_deref(),
        )
    };
    let mut out = Vec::new();
    for c in ctx.tables.closed.iter().filter(|c| c.date >= first && c.date < at.date) {
        let (Some(daily), Some(reconciled), Some(known)) =
            (c.daily_revenue, c.reconciled_revenue, c.reconciled_at)
        else {
            continue;
        };
        if known > at.clock || daily <= 0 || !in_scope(c) {
            continue;
        }
        let change = (reconciled - daily) as f64 * 100.0 / daily as f64;
        let subject = format!("campaign {} {}", c.campaign_id, c.date);
        if change.abs() <= pct {
            out.push((subject, Judgement::Clear));
            continue;
        }
        let message = format!(
            "{} {}: revenue restated from {} (daily estimate) to {} (reconciled), {change:+.1} %",
            c.campaign_id,
            c.date,
            usd(daily),
            usd(reconciled)
        );
        let inputs = BTreeMap::from([
            ("revenue_usd_daily".to_string(), usd_value(daily)),
            ("revenue_usd_reconciled".to_string(), usd_value(reconciled)),
            ("change_pct".to_string(), json!(change)),
        ]);
        let key = |snapshot: &str| format!("{}|{}|campaign|{snapshot}|", c.campaign_id, c.date);
        let refs = ["daily", "reconciled"]
            .iter()
            .map(|s| InputRef {
                input: format!("revenue_usd {s}"),
                source: Source::Lineage { row_key: key(s), date: c.date },
            })
            .collect();
        let suppressed_by: Vec<String> = ["s1_daily_v3", "s1_reconciled"]
            .iter()
            .filter_map(|e| {
                let status = ctx.tables.completeness.get(&(c.date, e.to_string()));
                match status.map(String::as_str) {
                    Some("OK") => None,
                    Some(s) => Some(format!("{e} {s} on {}", c.date)),
                    None => Some(format!("{e} not fetched for {}", c.date)),
                }
            })
            .collect();
        out.push((
            subject,
            judged(Finding {
                message,
                inputs,
                refs,
                suppressed_by,
                campaign: Some(c.campaign_id.clone()),
            }),
        ));
    }
    out
}

fn watched(endpoints: Endpoints) -> Vec<&'static str> {
    adlake_replay::ENDPOINTS
        .iter()
        .map(|s| s.key)
        // S1 Reconciled lags two days: an empty answer for today is its normal state.
        .filter(|k| endpoints.includes(k) && (endpoints != Endpoints::All || *k != "s1_reconciled"))
        .collect()
}

fn freshness(ctx: &Context<'_>, rule: &Rule, at: &At) -> Vec<(String, Judgement)> {
    let inputs = at.rows_hour.map_or(&[][..], |h| ctx.tables.inputs_at(at.date, h));
    let endpoints = match &rule.condition {
        Condition::ReportLate { endpoints, .. }
        | Condition::RowsBelowExpected { endpoints, .. }
        | Condition::FetchStatus { endpoints, .. } => *endpoints,
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for key in watched(endpoints) {
        let input = inputs.iter().find(|i| i.endpoint == key);
        let subject = format!("endpoint {key} {}", at.date);
        let newest = |i: &super::data::Input| {
            format!("newest fetch {} {}", hhmm(i.newest_fetched_at), i.status)
        };
        let (message, mut values) = match (&rule.condition, input) {
            (Condition::ReportLate { by, timezone, .. }, _) => {
                let local = at.date.and_time(*by);
                let deadline = timezone
                    .from_local_datetime(&local)
                    .earliest()
                    // A local time that does not exist (skipped by a DST change): an hour on.
                    .or_else(|| {
                        timezone
                            .from_local_datetime(&(local + chrono::Duration::hours(1)))
                            .earliest()
                    })
                    .map_or(i64::MAX, |t| t.timestamp_millis());
                let delivered = input.is_some_and(|i| {
                    i.snapshot_fetch_id.is_some() && i.snapshot_rows.unwrap_or(0) > 0
                });
                if at.clock < deadline || delivered {
                    out.push((subject, Judgement::Clear));
                    continue;
                }
                let seen = input.map_or("never fetched".to_string(), newest);
                (
                    format!(
                        "{key} has not delivered {} by {} {timezone} ({seen})",
                        at.date,
                        by.format("%H:%M")
                    ),
                    BTreeMap::from([(
                        "deadline".to_string(),
                        json!(instant(deadline).to_rfc3339()),
                    )]),
                )
            }
            (Condition::RowsBelowExpected { min_ratio, .. }, Some(i)) => {
                let (Some(rows), Some(expected)) =
                    (i.snapshot_rows, ctx.tables.expected.get(&(at.date, key.to_string())))
                else {
                    continue;
                };
                if rows as f64 >= min_ratio * expected {
                    out.push((subject, Judgement::Clear));
                    continue;
                }
                (
                    format!(
                        "{key} {}: {rows} rows, under {min_ratio} x the {expected:.0} expected",
                        at.date
                    ),
                    BTreeMap::from([
                        ("rows".to_string(), json!(rows)),
                        ("expected_min_rows".to_string(), json!(expected)),
                    ]),
                )
            }
            (Condition::FetchStatus { statuses, .. }, Some(i)) => {
                if !statuses.contains(&i.status) {
                    out.push((subject, Judgement::Clear));
                    continue;
                }
                (format!("{key} {}: {}", at.date, newest(i)), BTreeMap::new())
            }
            _ => continue,
        };
        if let Some(i) = input {
            values.insert("status".into(), json!(i.status));
            values.insert(
                "newest_fetched_at".into(),
                json!(instant(i.newest_fetched_at).to_rfc3339()),
            );
        }
        values.insert("clock".into(), json!(instant(at.clock).to_rfc3339()));
        let refs = vec![InputRef {
            input: format!("{key} newest fetch"),
            source: Source::NewestFetch {
                endpoint: key.to_owned(),
                date: at.date,
                until: at.clock,
            },
        }];
        out.push((
            subject,
            Judgement::Fire(Finding {
                message,
                inputs: values,
                refs,
                suppressed_by: Vec::new(),
                campaign: None,
            }),
        ));
    }
    out
}
