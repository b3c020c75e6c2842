//! `alerts backtest`: the rules evaluated at every past instant of a date range over the
//! tables as known then (each date's intraday rows at or before the instant: exactly what a
//! live evaluation would have read), through the same state machine, started empty; each
//! firing scored against its day's reconciled outcome.
//!
//! Scoring, for the rules that tell a buyer to stop a campaign (ROAS below, spend without
//! revenue, revenue drop): a firing on a campaign whose day reconciled at a ROAS above 1.0 is a
//! false stop, at or below 1.0 a true one; a campaign-day that reconciled below 1.0 on which no
//! such rule fired is a missed loss. Days without a reconciled row are not scored.
//!
//! Everything is read once ([`super::load`]); the instants are evaluated in memory.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use duckdb::Connection;
use serde::Serialize;

use super::data::{day_start, instant, Closed, HOUR_MS};
use super::eval::{usd, At, Context};
use super::rules::Rule;
use super::state::{Outcome, State};
use crate::store::db::DbError;

#[derive(Debug, Clone, Serialize)]
pub struct Firing {
    pub rule: String,
    pub outcome: String,
    pub subject: String,
    pub date: NaiveDate,
    pub at: String,
    pub message: String,
    /// `false_stop`, `true_stop`, `unscored`; absent for rules that are no stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciled_roas: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Missed {
    pub campaign_id: String,
    pub date: NaiveDate,
    pub reconciled_roas: f64,
    pub spend_usd: String,
    pub loss_usd: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Backtest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub every_hours: u32,
    pub instants: usize,
    pub rules: usize,
    pub firings: Vec<Firing>,
    pub suppressions: usize,
    pub recoveries: usize,
    pub false_stops: usize,
    pub true_stops: usize,
    pub unscored_stops: usize,
    pub missed_losses: Vec<Missed>,
}

fn reconciled_roas(c: &Closed) -> Option<f64> {
    match (c.reconciled_revenue, c.reconciled_spend) {
        (Some(r), Some(s)) if s > 0 => Some(r as f64 / s as f64),
        _ => None,
    }
}

pub fn backtest(
    conn: &Connection,
    rules: &[Rule],
    spend_precedence: &std::collections::BTreeMap<String, Vec<&'static str>>,
    from: NaiveDate,
    to: NaiveDate,
    every_hours: u32,
) -> Result<Backtest, DbError> {
    let tables = super::load(conn, rules, from, to)?;
    let ctx = Context { tables: &tables, spend_precedence };
    let outcome = |campaign: &str, date: NaiveDate| {
        tables
            .closed
            .iter()
            .find(|c| c.campaign_id == campaign && c.date == date)
            .and_then(reconciled_roas)
    };
    let mut state = State::default();
    let mut report = Backtest {
        from,
        to,
        every_hours,
        instants: 0,
        rules: rules.len(),
        firings: Vec::new(),
        suppressions: 0,
        recoveries: 0,
        false_stops: 0,
        true_stops: 0,
        unscored_stops: 0,
        missed_losses: Vec::new(),
    };
    let mut stopped: BTreeSet<(String, NaiveDate)> = BTreeSet::new();
    let last = day_start(to) + 23 * HOUR_MS;
    let step = i64::from(every_hours.max(1)) * HOUR_MS;
    let mut hour = day_start(from);
    while hour <= last {
        report.instants += 1;
        let at = At::new(&tables, hour);
        for s in super::judge(&ctx, rules, &mut state, &at) {
            let rule = &rules[s.rule];
            match s.outcome {
                Outcome::Suppressed => report.suppressions += 1,
                Outcome::Recovered => report.recoveries += 1,
                Outcome::Fired | Outcome::Renotified => {
                    let campaign = s.finding.as_ref().and_then(|f| f.campaign.clone());
                    let stop = rule.condition.is_stop() && s.outcome == Outcome::Fired;
                    let (mut verdict, mut roas) = (None, None);
                    if let (true, Some(c)) = (stop, &campaign) {
                        roas = outcome(c, s.at.date);
                        verdict = Some(match roas {
                            Some(r) if r > 1.0 => {
                                report.false_stops += 1;
                                "false_stop"
                            }
                            Some(_) => {
                                report.true_stops += 1;
                                "true_stop"
                            }
                            None => {
                                report.unscored_stops += 1;
                                "unscored"
                            }
                        });
                        stopped.insert((c.clone(), s.at.date));
                    }
                    report.firings.push(Firing {
                        rule: rule.name.clone(),
                        outcome: s.outcome.as_str().into(),
                        subject: s.subject,
                        date: s.at.date,
                        at: instant(s.at.clock).to_rfc3339(),
                        message: s.finding.map(|f| f.message).unwrap_or_default(),
                        verdict,
                        reconciled_roas: roas,
                    });
                }
            }
        }
        hour += step;
    }
    for c in tables.closed.iter().filter(|c| c.date >= from && c.date <= to) {
        let Some(roas) = reconciled_roas(c) else { continue };
        if roas < 1.0 && !stopped.contains(&(c.campaign_id.clone(), c.date)) {
            let spend = c.reconciled_spend.unwrap_or(0);
            report.missed_losses.push(Missed {
                campaign_id: c.campaign_id.clone(),
                date: c.date,
                reconciled_roas: roas,
                spend_usd: usd(spend),
                loss_usd: usd(spend - c.reconciled_revenue.unwrap_or(0)),
            });
        }
    }
    Ok(report)
}

/// The backtest as text: its firings, then the score.
pub fn render(b: &Backtest) -> String {
    let rows: Vec<Vec<String>> = b
        .firings
        .iter()
        .map(|f| {
            vec![
                f.at.clone(),
                f.rule.clone(),
                f.outcome.clone(),
                f.subject.clone(),
                f.verdict.unwrap_or("").to_string(),
                f.reconciled_roas.map_or(String::new(), |r| format!("{r:.2}")),
                f.message.clone(),
            ]
        })
        .collect();
    let mut out = crate::output::table(
        &["at", "rule", "outcome", "subject", "verdict", "reconciled_roas", "message"],
        &rows,
    );
    for m in &b.missed_losses {
        out.push_str(&format!(
            "missed loss: {} {} reconciled ROAS {:.2} (spend {}, loss {})\n",
            m.campaign_id, m.date, m.reconciled_roas, m.spend_usd, m.loss_usd
        ));
    }
    out.push_str(&format!(
        "backtest {}..{} every {}h: {} instants, {} rules; {} firings ({} false stops, {} true stops, {} unscored), {} recoveries, {} suppressions, {} missed losses\n",
        b.from,
        b.to,
        b.every_hours,
        b.instants,
        b.rules,
        b.firings.len(),
        b.false_stops,
        b.true_stops,
        b.unscored_stops,
        b.recoveries,
        b.suppressions,
        b.missed_losses.len()
    ));
    out
}
