//! Alerts a buyer can trust: rules as code ([`rules`]), evaluated over the projected tables
//! as known at an instant ([`data`], [`eval`]), gated on the completeness of what they read,
//! run through a state machine with cooldown, renotification and recovery ([`state`]),
//! recorded as evidence in the lake and the database ([`record`]), delivered ([`deliver`]);
//! explained down to the bytes ([`explain`]), replayed over the past ([`backtest`]) and
//! summed up per day for the report ([`summary`]).
//!
//! [`check`] is one live evaluation: `adlake alerts check` and the end of every `ingest`.
//! Invariants: the evaluation reads only projected tables and their times (never the machine's
//! clock; only delivery records carry wall time); every verdict is an event in the lake before
//! it is a row in the database, and the row is the one a projection of that event gives; a
//! delivery failure is an outcome, reported and retried by later runs, never an error.

pub mod backtest;
pub mod data;
pub mod deliver;
pub mod eval;
pub mod explain;
pub mod record;
pub mod rules;
pub mod state;
pub mod summary;

use std::collections::BTreeMap;
use std::path::PathBuf;

use adlake_raw::{Lake, RawError};
use adlake_replay::project::alerts::{AlertDeliveryRow, AlertEventRow, Verdict};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::Settings;
use crate::secrets::{AlertWebhooks, SecretError};
use crate::store::db::DbError;
use data::{instant, millis, Millis, Tables, HOUR_MS};
use eval::{At, Context, Finding, Judgement};
use rules::{Baseline, Condition, Rule};
use state::{Outcome, Past, State};

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Lake(#[from] RawError),
    #[error(transparent)]
    Delivery(#[from] deliver::DeliveryError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("no database at `{}`: run `adlake ingest` or `adlake reproject` first", path.display())]
    NoDatabase { path: PathBuf },
    #[error("no alert event {id} in the database{hint}")]
    NotFound { id: String, hint: String },
    #[error("alert task failed: {0}")]
    Task(String),
}

/// One outcome of one rule for one subject at one instant.
#[derive(Debug, Clone)]
pub struct Step {
    pub rule: usize,
    pub subject: String,
    pub outcome: Outcome,
    pub finding: Option<Finding>,
    pub at: At,
}

/// Every outcome of `rules` at `at`, moving `state`.
pub fn judge(ctx: &Context<'_>, rules: &[Rule], state: &mut State, at: &At) -> Vec<Step> {
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        for (subject, judgement) in eval::evaluate(ctx, rule, at) {
            if let Some(outcome) = state.step(rule, &subject, &judgement, at.clock, at.date) {
                let finding = match judgement {
                    Judgement::Fire(f) | Judgement::Suppress(f) => Some(f),
                    Judgement::Clear => None,
                };
                out.push(Step { rule: i, subject, outcome, finding, at: *at });
            }
        }
    }
    out
}

/// Days of curves before an evaluated date the rules compare with, and of closed days.
pub fn lookback(rules: &[Rule]) -> (u64, u64) {
    let mut curves = 0;
    let mut closed = 0;
    for r in rules {
        match &r.condition {
            Condition::RevenueDrop { against: Baseline::Yesterday, .. } => curves = curves.max(1),
            Condition::RevenueDrop { against: Baseline::Weekdays, .. } => curves = curves.max(28),
            Condition::Restatement { days, .. } => closed = closed.max(u64::from(*days)),
            _ => {}
        }
    }
    (curves, closed)
}

/// Loads what `rules` read to evaluate dates `from..=to`.
pub fn load(
    conn: &duckdb::Connection,
    rules: &[Rule],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Tables, DbError> {
    let (curves, closed) = lookback(rules);
    data::load(conn, from - chrono::Days::new(curves), to, from - chrono::Days::new(closed))
}

/// A verdict as reported on stdout.
#[derive(Debug, Clone, Serialize)]
pub struct Reported {
    pub event_id: String,
    pub outcome: String,
    pub rule: String,
    pub subject: String,
    pub date: NaiveDate,
    pub evaluated_at: String,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Delivered {
    pub alert_event_id: String,
    pub channel: String,
    pub delivered: bool,
    pub attempts: u32,
    pub retry_of_earlier_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one live evaluation did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckReport {
    /// The date and hour evaluated and the evaluation's clock.
    pub date: Option<NaiveDate>,
    pub as_of_hour: Option<String>,
    pub clock: Option<String>,
    pub rules: usize,
    pub verdicts: Vec<Reported>,
    pub deliveries: Vec<Delivered>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl CheckReport {
    pub fn failed_deliveries(&self) -> usize {
        self.deliveries.iter().filter(|d| !d.delivered).count()
    }
}

/// A check's verdicts and deliveries as text.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    if let Some(note) = &report.note {
        out.push_str(&format!("alerts: {note}\n"));
        return out;
    }
    for v in &report.verdicts {
        let why = if v.suppressed_by.is_empty() {
            String::new()
        } else {
            format!(" (suppressed: {})", v.suppressed_by.join("; "))
        };
        out.push_str(&format!(
            "alert {} {}: {}{why}  [{}]\n",
            v.rule,
            v.outcome,
            v.message,
            &v.event_id[..v.event_id.len().min(16)]
        ));
    }
    for d in report.deliveries.iter().filter(|d| !d.delivered) {
        out.push_str(&format!(
            "alert delivery to {} failed after {} attempt(s): {}; the next run tries again\n",
            d.channel,
            d.attempts,
            d.error.as_deref().unwrap_or("?")
        ));
    }
    out.push_str(&format!(
        "alerts: {} rule(s) evaluated for {} as of {} (clock {}): {} verdict(s), {} of {} deliveries failed\n",
        report.rules,
        report.date.map_or("-".into(), |d| d.to_string()),
        report.as_of_hour.as_deref().unwrap_or("-"),
        report.clock.as_deref().unwrap_or("-"),
        report.verdicts.len(),
        report.failed_deliveries(),
        report.deliveries.len()
    ));
    out
}

fn verdict_of(
    rule: &Rule,
    step: &Step,
    fingerprint: &str,
    evidence: Vec<adlake_replay::project::alerts::Evidence>,
) -> Verdict {
    let (message, inputs, suppressed_by) = match &step.finding {
        Some(f) => (f.message.clone(), f.inputs.clone(), f.suppressed_by.clone()),
        None => (
            format!("{}: {} ({}) no longer holds", step.subject, rule.name, rule.condition.kind()),
            BTreeMap::new(),
            Vec::new(),
        ),
    };
    Verdict {
        outcome: step.outcome.as_str().into(),
        rule: rule.name.clone(),
        rule_hash: rule.hash.clone(),
        condition: rule.condition.kind().into(),
        subject: step.subject.clone(),
        date: step.at.date,
        as_of_hour: instant(step.at.rows_hour.unwrap_or(step.at.hour)),
        evaluated_at: instant(step.at.clock),
        message,
        projection_fingerprint: fingerprint.to_owned(),
        inputs,
        evidence,
        suppressed_by,
    }
}

fn message_of(row: &AlertEventRow) -> deliver::Message {
    deliver::Message {
        alert_event_id: row.event_id.clone(),
        outcome: row.outcome.clone(),
        rule: row.rule_name.clone(),
        rule_hash: row.rule_hash.clone(),
        condition: row.condition.clone(),
        subject: row.subject.clone(),
        date: row.date.to_string(),
        evaluated_at: row.evaluated_at.to_rfc3339(),
        message: row.message.clone(),
        inputs: serde_json::from_str(&row.inputs).unwrap_or_default(),
    }
}

fn past(rows: &[AlertEventRow], until: Millis) -> Vec<Past> {
    rows.iter()
        .filter(|r| millis(r.evaluated_at) <= until)
        .filter_map(|r| {
            Some(Past {
                rule: r.rule_name.clone(),
                subject: r.subject.clone(),
                outcome: Outcome::parse(&r.outcome)?,
                at: millis(r.evaluated_at),
                date: r.date,
                suppressed_by: r.suppressed_by.clone(),
            })
        })
        .collect()
}

/// What the database side of a check found: verdicts to record, earlier messages to retry.
struct Evaluated {
    report: CheckReport,
    verdicts: Vec<Verdict>,
    retries: Vec<deliver::Message>,
}

fn evaluate_in_db(
    settings: &Settings,
    at: Option<DateTime<Utc>>,
    today: NaiveDate,
    channels: &[&'static str],
) -> Result<Evaluated, AlertError> {
    let rules = &settings.alerts.rules;
    let path = &settings.db;
    if !path.exists() {
        return Err(AlertError::NoDatabase { path: path.clone() });
    }
    let mut conn =
        crate::store::db::open(path, crate::store::db::Access::ReadWrite, settings.lock_wait)?;
    crate::store::db::migrate(&mut conn, path)?;
    let mut report = CheckReport { rules: rules.len(), ..Default::default() };
    let hour = match at {
        Some(t) => Some(millis(t) - millis(t).rem_euclid(HOUR_MS)),
        None => data::newest_hour(&conn, today)?,
    };
    let Some(hour) = hour else {
        report.note = Some(format!(
            "no intraday rows for {today}: nothing evaluated (pass --at to evaluate another instant)"
        ));
        return Ok(Evaluated { report, verdicts: Vec::new(), retries: Vec::new() });
    };
    let date = instant(hour).date_naive();
    let tables = load(&conn, rules, date, date)?;
    let at = At::new(&tables, hour);
    report.date = Some(date);
    report.as_of_hour = Some(instant(at.rows_hour.unwrap_or(hour)).to_rfc3339());
    report.clock = Some(instant(at.clock).to_rfc3339());
    let history = record::history(&conn)?;
    let mut state = State::from_history(&past(&history, at.clock));
    let ctx = Context { tables: &tables, spend_precedence: &settings.projector.spend_precedence };
    let steps = judge(&ctx, rules, &mut state, &at);
    let mut verdicts = Vec::new();
    for step in &steps {
        let rule = &rules[step.rule];
        let refs = step.finding.as_ref().map_or(&[][..], |f| &f.refs[..]);
        let evidence = record::evidence(&conn, &tables, refs)?;
        verdicts.push(verdict_of(rule, step, &tables.fingerprint, evidence));
    }
    // Messages of earlier runs that a channel failed to take, not too old to matter.
    let deliveries = record::delivery_state(&conn)?;
    let oldest = at.clock - settings.alerts.retry_for.num_milliseconds();
    let mut retries = Vec::new();
    for row in history.iter().filter(|r| {
        let at_ms = millis(r.evaluated_at);
        at_ms >= oldest && at_ms <= at.clock
    }) {
        let Some(outcome) = Outcome::parse(&row.outcome) else { continue };
        let notifies =
            rules.iter().find(|r| r.name == row.rule_name).is_none_or(|r| r.notify_recovery);
        if !outcome.is_delivered(notifies) {
            continue;
        }
        let pending = channels.iter().any(|c| {
            deliveries
                .get(&(row.event_id.clone(), c.to_string()))
                .is_some_and(|(delivered, tries)| !delivered && *tries > 0)
        });
        if pending {
            retries.push(message_of(row));
        }
    }
    Ok(Evaluated { report, verdicts, retries })
}

/// One live evaluation: `rules` at `at` (default: the newest intraday hour of `today`),
/// recorded in the lake and the database, delivered, and earlier failed deliveries retried.
pub async fn check(
    settings: &Settings,
    lake: &Lake,
    run_id: &str,
    at: Option<DateTime<Utc>>,
    clock: &dyn Clock,
    webhooks: &AlertWebhooks,
) -> Result<CheckReport, AlertError> {
    let channels = deliver::channels(webhooks)?;
    let names: Vec<&'static str> = channels.iter().map(|c| c.name).collect();
    let today = clock.now().date_naive();
    let owned = settings.clone();
    let evaluated = tokio::task::spawn_blocking(move || evaluate_in_db(&owned, at, today, &names))
        .await
        .map_err(|e| AlertError::Task(e.to_string()))??;
    let Evaluated { mut report, verdicts, retries } = evaluated;

    // The lake first: a verdict is evidence before it is a row.
    let mut rows: Vec<AlertEventRow> = Vec::new();
    for v in verdicts {
        let suppressed_by = v.suppressed_by.clone();
        let written = record::put_verdict(lake, run_id, v).await?;
        report.verdicts.push(Reported {
            event_id: written.row.event_id.clone(),
            outcome: written.row.outcome.clone(),
            rule: written.row.rule_name.clone(),
            subject: written.row.subject.clone(),
            date: written.row.date,
            evaluated_at: written.row.evaluated_at.to_rfc3339(),
            message: written.row.message.clone(),
            suppressed_by,
        });
        rows.push(written.row);
    }
    insert(settings, rows.clone(), Vec::new()).await?;

    // Then the messages: new verdicts to every channel, earlier failures to where they failed.
    let mut sent: Vec<AlertDeliveryRow> = Vec::new();
    if !channels.is_empty() {
        let client = deliver::client(&settings.alerts)?;
        let mut jobs: Vec<(deliver::Message, bool)> = Vec::new();
        for row in &rows {
            let notifies = settings
                .alerts
                .rules
                .iter()
                .find(|r| r.name == row.rule_name)
                .is_none_or(|r| r.notify_recovery);
            if Outcome::parse(&row.outcome).is_some_and(|o| o.is_delivered(notifies)) {
                jobs.push((message_of(row), false));
            }
        }
        jobs.extend(retries.into_iter().map(|m| (m, true)));
        for (message, retry) in jobs {
            for channel in &channels {
                let delivery = deliver::send(&client, &settings.alerts, channel, &message).await;
                if !delivery.delivered {
                    tracing::warn!(
                        channel = channel.name,
                        alert = %message.alert_event_id,
                        error = delivery.error.as_deref().unwrap_or(""),
                        "alert not delivered; the next run tries again"
                    );
                }
                report.deliveries.push(Delivered {
                    alert_event_id: message.alert_event_id.clone(),
                    channel: channel.name.into(),
                    delivered: delivery.delivered,
                    attempts: delivery.attempts,
                    retry_of_earlier_run: retry,
                    error: delivery.error.clone(),
                });
                let date = message.date.parse().unwrap_or(today);
                let written =
                    record::put_delivery(lake, run_id, date, clock.now(), delivery).await?;
                sent.push(written.row);
            }
        }
    }
    if !sent.is_empty() {
        insert(settings, Vec::new(), sent).await?;
    }
    Ok(report)
}

async fn insert(
    settings: &Settings,
    events: Vec<AlertEventRow>,
    deliveries: Vec<AlertDeliveryRow>,
) -> Result<(), AlertError> {
    if events.is_empty() && deliveries.is_empty() {
        return Ok(());
    }
    let (path, wait) = (settings.db.clone(), settings.lock_wait);
    tokio::task::spawn_blocking(move || -> Result<(), AlertError> {
        let mut conn = crate::store::db::open(&path, crate::store::db::Access::ReadWrite, wait)?;
        crate::store::write::append_alert_rows(&mut conn, events, deliveries)?;
        Ok(())
    })
    .await
    .map_err(|e| AlertError::Task(e.to_string()))?
}
