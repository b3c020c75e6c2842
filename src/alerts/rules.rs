//! Alert rules as code: `[[alerts]]` entries of the config file (or of the file `alerts_file`
//! names), read into [`Rule`]s and checked once, at load. A malformed rule is refused with its
//! name and the problem ([`RuleError`]), so a typo never silently disables an alert.
//!
//! Invariants: a loaded rule is valid (known endpoints and zones, thresholds in range, no
//! scope on a freshness rule); its [`Rule::hash`] is the sha256 of its canonical text (keys
//! sorted), so every verdict names exactly which version of the rule spoke.

use std::str::FromStr;

use chrono::{Duration, NaiveTime};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("alert rule `{name}` is not valid: {problem}")]
    Invalid { name: String, problem: String },
    #[error("alert rule #{index} has no `name`: every rule needs one")]
    Unnamed { index: usize },
    #[error("two alert rules are named `{name}`: names must be unique")]
    Duplicate { name: String },
}

/// Which campaigns a metric rule looks at; every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub media_source: Option<String>,
    pub owner: Option<String>,
    pub lane: Option<String>,
    /// A glob (`*`, `?`) over the campaign id or its name.
    pub campaign: Option<String>,
}

impl Scope {
    pub fn matches(
        &self,
        campaign_id: &str,
        name: Option<&str>,
        media_source: Option<&str>,
        owner: Option<&str>,
        lane: Option<&str>,
    ) -> bool {
        let same = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        same(&self.media_source, media_source)
            && same(&self.owner, owner)
            && same(&self.lane, lane)
            && self
                .campaign
                .as_deref()
                .is_none_or(|p| glob(p, campaign_id) || name.is_some_and(|n| glob(p, n)))
    }

    fn is_empty(&self) -> bool {
        *self == Scope::default()
    }
}

/// `*` any run of characters, `?` one character, anything else itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What a revenue drop is measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The same hour yesterday.
    Yesterday,
    /// The mean of the same hour on the last four same weekdays.
    Weekdays,
}

/// An endpoint a freshness rule watches, or every endpoint fetched for the date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    One(&'static str),
    All,
}

impl Endpoints {
    pub fn includes(&self, key: &str) -> bool {
        match self {
            Endpoints::One(k) => *k == key,
            Endpoints::All => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// ROAS of the last `hours` (of the UTC day so far; `None`: the whole day so far) below
    /// `roas`, with more than `min_spend_usd` spent in them.
    RoasBelow { roas: f64, min_spend_usd: Decimal, hours: Option<u32> },
    /// More than `min_spend_usd` spent in the last `hours` and no revenue in them.
    SpendWithoutRevenue { min_spend_usd: Decimal, hours: Option<u32> },
    /// Revenue so far today more than `pct` % below the baseline at the same hour.
    RevenueDrop { pct: f64, against: Baseline, min_revenue_usd: Decimal },
    /// A closed day's reconciled revenue more than `pct` % away from its daily estimate, for
    /// days up to `days` before the evaluated date.
    Restatement { pct: f64, days: u32 },
    /// No successful fetch with rows by `by` local time in `timezone` on the report's date.
    ReportLate { endpoints: Endpoints, by: NaiveTime, timezone: Tz },
    /// The latest snapshot holds fewer rows than `min_ratio` × `expected_min_rows`.
    RowsBelowExpected { endpoints: Endpoints, min_ratio: f64 },
    /// The newest fetch ended in one of `statuses` (FAILED, PARTIAL).
    FetchStatus { endpoints: Endpoints, statuses: Vec<String> },
}

impl Condition {
    pub fn kind(&self) -> &'static str {
        match self {
            Condition::RoasBelow { .. } => "roas_below",
            Condition::SpendWithoutRevenue { .. } => "spend_without_revenue",
            Condition::RevenueDrop { .. } => "revenue_drop",
            Condition::Restatement { .. } => "restatement",
            Condition::ReportLate { .. } => "report_late",
            Condition::RowsBelowExpected { .. } => "rows_below_expected",
            Condition::FetchStatus { .. } => "fetch_status",
        }
    }

    /// Freshness rules watch endpoints; the others watch campaigns' numbers.
    pub fn is_freshness(&self) -> bool {
        matches!(
            self,
            Condition::ReportLate { .. }
                | Condition::RowsBelowExpected { .. }
                | Condition::FetchStatus { .. }
        )
    }

    /// Rules whose firing tells a buyer to stop a campaign today: what a backtest scores.
    pub fn is_stop(&self) -> bool {
        matches!(
            self,
            Condition::RoasBelow { .. }
                | Condition::SpendWithoutRevenue { .. }
                | Condition::RevenueDrop { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// The rule's canonical text (TOML, keys sorted) and its sha256.
    pub text: String,
    pub hash: String,
    pub scope: Scope,
    pub condition: Condition,
    /// After a notification, none for the same subject until this has passed (a condition
    /// that recovers and comes back within it stays quiet).
    pub cooldown: Duration,
    /// While the condition holds, notify again this often (`None`: once).
    pub renotify_after: Option<Duration>,
    /// Send a message when a firing condition no longer holds.
    pub notify_recovery: bool,
    /// An input whose newest fetch is older than this is late: the rule is suppressed.
    pub max_input_age: Duration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    #[allow(dead_code)]
    name: String,
    #[serde(default)]
    scope: ScopeSpec,
    condition: ConditionSpec,
    cooldown: Option<String>,
    renotify_after: Option<String>,
    notify_recovery: Option<bool>,
    max_input_age: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScopeSpec {
    media_source: Option<String>,
    owner: Option<String>,
    lane: Option<String>,
    campaign: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ConditionSpec {
    RoasBelow { roas: f64, min_spend_usd: Option<f64>, hours: Option<u32> },
    SpendWithoutRevenue { min_spend_usd: Option<f64>, hours: Option<u32> },
    RevenueDrop { pct: f64, against: Option<String>, min_revenue_usd: Option<f64> },
    Restatement { pct: f64, days: Option<u32> },
    ReportLate { endpoint: String, by: String, timezone: Option<String> },
    RowsBelowExpected { endpoint: String, min_ratio: Option<f64> },
    FetchStatus { endpoint: String, status: Option<Vec<String>> },
}

/// Reads and checks every rule; names must be unique.
pub fn load(entries: &[toml::Table]) -> Result<Vec<Rule>, RuleError> {
    let mut rules: Vec<Rule> = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let rule = parse(i + 1, entry)?;
        if rules.iter().any(|r| r.name == rule.name) {
            return Err(RuleError::Duplicate { name: rule.name });
        }
        rules.push(rule);
    }
    Ok(rules)
}

/// One `[[alerts]]` entry (number `index`, from 1) as a checked rule.
pub fn parse(index: usize, entry: &toml::Table) -> Result<Rule, RuleError> {
    let name = match entry.get("name") {
        Some(toml::Value::String(n)) if !n.trim().is_empty() => n.clone(),
        _ => return Err(RuleError::Unnamed { index }),
    };
    let bad = |problem: String| RuleError::Invalid { name: name.clone(), problem };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) || name.len() > 64 {
        return Err(bad("a name is 1-64 letters, digits, `-`, `_` or `.`".into()));
    }
    let spec: RuleSpec = toml::Value::Table(entry.clone())
        .try_into()
        .map_err(|e: toml::de::Error| bad(e.message().trim().to_owned()))?;
    let text = toml::to_string(entry).map_err(|e| bad(e.to_string()))?;
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let duration = |field: &str, value: &Option<String>, default: Option<Duration>| {
        value.as_deref().map_or(Ok(default), |v| {
            parse_duration(v)
                .map(Some)
                .ok_or_else(|| bad(format!("{field} = `{v}` is no duration such as 30m, 2h or 1d")))
        })
    };
    let cooldown = duration("cooldown", &spec.cooldown, Some(Duration::hours(1)))?
        .unwrap_or_else(|| Duration::hours(1));
    let renotify_after = duration("renotify_after", &spec.renotify_after, None)?;
    let max_input_age = duration("max_input_age", &spec.max_input_age, Some(Duration::hours(3)))?
        .unwrap_or_else(|| Duration::hours(3));
    if max_input_age <= Duration::zero() {
        return Err(bad("max_input_age must be more than 0".into()));
    }
    let scope = Scope {
        media_source: spec.scope.media_source,
        owner: spec.scope.owner,
        lane: spec.scope.lane,
        campaign: spec.scope.campaign,
    };
    let condition = condition(spec.condition).map_err(bad)?;
    if condition.is_freshness() && !scope.is_empty() {
        return Err(bad(format!(
            "a {} rule watches an endpoint, not campaigns: it takes no scope",
            condition.kind()
        )));
    }
    Ok(Rule {
        name,
        text,
        hash,
        scope,
        condition,
        cooldown,
        renotify_after,
        notify_recovery: spec.notify_recovery.unwrap_or(true),
        max_input_age,
    })
}

fn money(field: &str, v: Option<f64>) -> Result<Decimal, String> {
    let v = v.unwrap_or(0.0);
    if !v.is_finite() || v < 0.0 {
        return Err(format!("{field} = {v} must be 0 or more"));
    }
    Decimal::try_from(v).map_err(|_| format!("{field} = {v} is out of range"))
}

fn hours(v: Option<u32>) -> Result<Option<u32>, String> {
    match v {
        Some(h) if !(1..=24).contains(&h) => Err(format!("hours = {h} must be 1 to 24")),
        other => Ok(other),
    }
}

fn percent(field: &str, v: f64, max: f64) -> Result<f64, String> {
    if v.is_finite() && v > 0.0 && v <= max {
        Ok(v)
    } else {
        Err(format!("{field} = {v} must be more than 0 and at most {max}"))
    }
}

fn endpoints(key: &str) -> Result<Endpoints, String> {
    if key == "*" {
        return Ok(Endpoints::All);
    }
    crate::config::check_endpoint(key, "the rule").map(|s| Endpoints::One(s.key)).map_err(|_| {
        format!(
            "unknown endpoint `{key}`; known: {}, or `*` for every endpoint",
            adlake_replay::registry::keys().collect::<Vec<_>>().join(", ")
        )
    })
}

fn condition(spec: ConditionSpec) -> Result<Condition, String> {
    Ok(match spec {
        ConditionSpec::RoasBelow { roas, min_spend_usd, hours: h } => {
            if !roas.is_finite() || roas <= 0.0 {
                return Err(format!("roas = {roas} must be more than 0 (a ratio: 0.9 is 90 %)"));
            }
            Condition::RoasBelow {
                roas,
                min_spend_usd: money("min_spend_usd", min_spend_usd)?,
                hours: hours(h)?,
            }
        }
        ConditionSpec::SpendWithoutRevenue { min_spend_usd, hours: h } => {
            Condition::SpendWithoutRevenue {
                min_spend_usd: money("min_spend_usd", min_spend_usd)?,
                hours: hours(h)?,
            }
        }
        ConditionSpec::RevenueDrop { pct, against, min_revenue_usd } => Condition::RevenueDrop {
            pct: percent("pct", pct, 100.0)?,
            against: match against.as_deref().unwrap_or("yesterday") {
                "yesterday" => Baseline::Yesterday,
                "weekdays" => Baseline::Weekdays,
                other => {
                    return Err(format!("against = `{other}` must be `yesterday` or `weekdays`"))
                }
            },
            min_revenue_usd: money("min_revenue_usd", min_revenue_usd)?,
        },
        ConditionSpec::Restatement { pct, days } => {
            let days = days.unwrap_or(3);
            if !(1..=14).contains(&days) {
                return Err(format!("days = {days} must be 1 to 14"));
            }
            Condition::Restatement { pct: percent("pct", pct, 1000.0)?, days }
        }
        ConditionSpec::ReportLate { endpoint, by, timezone } => {
            let zone = timezone.as_deref().unwrap_or("UTC");
            Condition::ReportLate {
                endpoints: endpoints(&endpoint)?,
                by: NaiveTime::parse_from_str(&by, "%H:%M")
                    .map_err(|_| format!("by = `{by}` is no local time such as 10:00"))?,
                timezone: Tz::from_str(zone).map_err(|_| {
                    format!("timezone = `{zone}` is no IANA zone name such as America/New_York")
                })?,
            }
        }
        ConditionSpec::RowsBelowExpected { endpoint, min_ratio } => Condition::RowsBelowExpected {
            endpoints: endpoints(&endpoint)?,
            min_ratio: percent("min_ratio", min_ratio.unwrap_or(0.5), 10.0)?,
        },
        ConditionSpec::FetchStatus { endpoint, status } => {
            let statuses = status.unwrap_or_else(|| vec!["FAILED".into(), "PARTIAL".into()]);
            if statuses.is_empty() {
                return Err("status must name FAILED, PARTIAL or both".into());
            }
            if let Some(s) = statuses.iter().find(|s| *s != "FAILED" && *s != "PARTIAL") {
                return Err(format!("status `{s}` must be FAILED or PARTIAL"));
            }
            Condition::FetchStatus { endpoints: endpoints(&endpoint)?, statuses }
        }
    })
}

/// `30m`, `2h`, `1d`, `0m`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: i64 = text[..text.len() - unit.len_utf8()].parse().ok().filter(|n| *n >= 0)?;
    match unit {
        'm' => Some(Duration::minutes(n)),
        'h' => Some(Duration::hours(n)),
        'd' => Some(Duration::days(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Result<Vec<Rule>, RuleError> {
        #[derive(Deserialize)]
        struct File {
            alerts: Vec<toml::Table>,
        }
        let file: File = toml::from_str(text).unwrap();
        load(&file.alerts)
    }

    fn problem(text: &str) -> String {
        rules(text).unwrap_err().to_string()
    }

    #[test]
    fn every_condition_type_loads() {
        let loaded = rules(
            r#"
            [[alerts]]
            name = "roas"
            scope = { media_source = "taboola", owner = "TJ", lane = "LAL_1", campaign = "si*" }
            condition = { type = "roas_below", roas = 0.9, min_spend_usd = 50, hours = 3 }
            cooldown = "2h"
            renotify_after = "6h"
            [[alerts]]
            name = "no-revenue"
            condition = { type = "spend_without_revenue", min_spend_usd = 20 }
            [[alerts]]
            name = "drop"
            condition = { type = "revenue_drop", pct = 40, against = "weekdays" }
            [[alerts]]
            name = "restated"
            condition = { type = "restatement", pct = 15 }
            [[alerts]]
            name = "taboola-by-10"
            condition = { type = "report_late", endpoint = "taboola_report", by = "10:00", timezone = "America/New_York" }
            [[alerts]]
            name = "rows"
            condition = { type = "rows_below_expected", endpoint = "*", min_ratio = 0.8 }
            [[alerts]]
            name = "failed"
            condition = { type = "fetch_status", endpoint = "s1_daily_v3" }
            "#,
        )
        .unwrap();
        let kinds: Vec<&str> = loaded.iter().map(|r| r.condition.kind()).collect();
        assert_eq!(
            kinds,
            [
                "roas_below",
                "spend_without_revenue",
                "revenue_drop",
                "restatement",
                "report_late",
                "rows_below_expected",
                "fetch_status"
            ]
        );
        assert_eq!(loaded[0].cooldown, Duration::hours(2));
        assert_eq!(loaded[0].renotify_after, Some(Duration::hours(6)));
        assert_eq!(loaded[1].cooldown, Duration::hours(1), "the default");
        assert_eq!(loaded[0].hash.len(), 64);
    }

    #[test]
    fn a_rule_with_a_misspelt_field_is_refused_with_its_name() {
        let e = problem(
            "[[alerts]]\nname = \"roas\"\ncondition = { type = \"roas_below\", roas = 0.9, min_spend = 50 }\n",
        );
        assert!(e.contains("`roas`") && e.contains("min_spend"), "{e}");
    }

    #[test]
    fn malformed_rules_are_refused_with_the_problem() {
        let cases = [
            ("condition = { type = \"roas_above\", roas = 1 }", "roas_above"),
            ("condition = { type = \"roas_below\", roas = -1 }", "roas = -1"),
            ("condition = { type = \"roas_below\", roas = 1, hours = 30 }", "hours = 30"),
            ("condition = { type = \"fetch_status\", endpoint = \"tiktok_report\" }", "tiktok_report"),
            (
                "condition = { type = \"report_late\", endpoint = \"taboola_report\", by = \"25:00\" }",
                "25:00",
            ),
            (
                "condition = { type = \"report_late\", endpoint = \"taboola_report\", by = \"10:00\", timezone = \"Mars/Olympus\" }",
                "Mars/Olympus",
            ),
            (
                "scope = { owner = \"TJ\" }\ncondition = { type = \"fetch_status\", endpoint = \"*\" }",
                "takes no scope",
            ),
            ("condition = { type = \"restatement\", pct = 5 }\ncooldown = \"soon\"", "soon"),
            ("condition = { type = \"revenue_drop\", pct = 30, against = \"lastweek\" }", "lastweek"),
        ];
        for (body, needle) in cases {
            let e = problem(&format!("[[alerts]]\nname = \"bad-rule\"\n{body}\n"));
            assert!(e.contains("`bad-rule`") && e.contains(needle), "{body}: {e}");
        }
        assert!(problem("[[alerts]]\ncondition = { type = \"restatement\", pct = 5 }\n")
            .contains("#1 has no `name`"));
        let twice = "[[alerts]]\nname = \"a\"\ncondition = { type = \"restatement\", pct = 5 }\n";
        assert!(problem(&format!("{twice}{twice}")).contains("two alert rules are named `a`"));
    }

    #[test]
    fn the_hash_follows_the_rule_text_not_its_layout() {
        let a =
            rules("[[alerts]]\nname = \"a\"\ncondition = { type = \"restatement\", pct = 5 }\n")
                .unwrap();
        let b =
            rules("[[alerts]]\ncondition = { pct = 5, type = \"restatement\" }\nname = \"a\"\n")
                .unwrap();
        let c =
            rules("[[alerts]]\nname = \"a\"\ncondition = { type = \"restatement\", pct = 6 }\n")
                .unwrap();
        assert_eq!(a[0].hash, b[0].hash);
        assert_ne!(a[0].hash, c[0].hash);
    }

    #[test]
    fn scopes_match_ids_names_and_metadata() {
        let s = Scope {
            media_source: Some("taboola".into()),
            campaign: Some("si*_US".into()),
            ..Default::default()
        };
        assert!(s.matches("x", Some("si12_US"), Some("Taboola"), None, None));
        assert!(!s.matches("x", Some("si12_DE"), Some("taboola"), None, None));
        assert!(!s.matches("si1_US", None, Some("outbrain"), None, None));
        assert!(glob("si??", "si12") && !glob("si??", "si123") && glob("*", ""));
    }
}
