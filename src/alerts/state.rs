//! The alert state machine: per (rule, subject), whether it is firing, when it last notified,
//! and what it last recorded. A judgement at an instant becomes at most one outcome:
//!
//! - fires, not firing: `fired`, unless the last notification is less than the rule's cooldown
//!   ago (a condition that flaps stays quiet);
//! - fires, firing: `renotified` once `renotify_after` has passed since the last notification;
//! - clear, firing: `recovered`;
//! - suppressed (it would fire, but an input is not trustworthy): `suppressed`, once per
//!   reason and date; a suppressed subject neither fires nor recovers.
//!
//! Invariants: only the recorded history and the instants' clocks move it (never the
//! machine's clock), so the live evaluation, started from `alert_events`, and a backtest,
//! started empty, follow the same rules.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::data::Millis;
use super::eval::Judgement;
use super::rules::Rule;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Fired,
    Renotified,
    Recovered,
    Suppressed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Fired => "fired",
            Outcome::Renotified => "renotified",
            Outcome::Recovered => "recovered",
            Outcome::Suppressed => "suppressed",
        }
    }

    pub fn parse(text: &str) -> Option<Outcome> {
        Some(match text {
            "fired" => Outcome::Fired,
            "renotified" => Outcome::Renotified,
            "recovered" => Outcome::Recovered,
            "suppressed" => Outcome::Suppressed,
            _ => return None,
        })
    }

    /// Whether a message about it goes to the delivery channels.
    pub fn is_delivered(self, rule_notifies_recovery: bool) -> bool {
        match self {
            Outcome::Fired | Outcome::Renotified => true,
            Outcome::Recovered => rule_notifies_recovery,
            Outcome::Suppressed => false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Subject {
    firing: bool,
    last_notified: Option<Millis>,
    /// The last suppression recorded, and for which date.
    last_suppression: Option<(String, NaiveDate)>,
}

/// One recorded verdict, as the history replays it.
#[derive(Debug, Clone, PartialEq)]
pub struct Past {
    pub rule: String,
    pub subject: String,
    pub outcome: Outcome,
    pub at: Millis,
    pub date: NaiveDate,
    pub suppressed_by: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct State {
    subjects: BTreeMap<(String, String), Subject>,
}

impl State {
    /// The state a history of verdicts (in the order they were evaluated) leaves.
    pub fn from_history(history: &[Past]) -> State {
        let mut state = State::default();
        for p in history {
            let s = state.subjects.entry((p.rule.clone(), p.subject.clone())).or_default();
            match p.outcome {
                Outcome::Fired | Outcome::Renotified => {
                    s.firing = true;
                    s.last_notified = Some(p.at);
                }
                Outcome::Recovered => s.firing = false,
                Outcome::Suppressed => {
                    s.last_suppression =
                        Some((p.suppressed_by.clone().unwrap_or_default(), p.date));
                }
            }
        }
        state
    }

    pub fn is_firing(&self, rule: &str, subject: &str) -> bool {
        self.subjects.get(&(rule.to_owned(), subject.to_owned())).is_some_and(|s| s.firing)
    }

    /// What `judgement` of `subject` by `rule` at clock `now` of `date` records, if anything.
    pub fn step(
        &mut self,
        rule: &Rule,
        subject: &str,
        judgement: &Judgement,
        now: Millis,
        date: NaiveDate,
    ) -> Option<Outcome> {
        let key = (rule.name.clone(), subject.to_owned());
        if matches!(judgement, Judgement::Clear) && !self.subjects.contains_key(&key) {
            return None;
        }
        let s = self.subjects.entry(key).or_default();
        match judgement {
            Judgement::Fire(_) if s.firing => {
                let due = rule.renotify_after.is_some_and(|every| {
                    s.last_notified.is_none_or(|t| now - t >= every.num_milliseconds())
                });
                due.then(|| {
                    s.last_notified = Some(now);
                    Outcome::Renotified
                })
            }
            Judgement::Fire(_) => {
                if s.last_notified.is_some_and(|t| now - t < rule.cooldown.num_milliseconds()) {
                    return None;
                }
                s.firing = true;
                s.last_notified = Some(now);
                Some(Outcome::Fired)
            }
            Judgement::Suppress(f) => {
                let reason = f.suppressed_by.join("; ");
                if s.last_suppression.as_ref().is_some_and(|(r, d)| *r == reason && *d == date) {
                    return None;
                }
                s.last_suppression = Some((reason, date));
                Some(Outcome::Suppressed)
            }
            Judgement::Clear if s.firing => {
                s.firing = false;
                Some(Outcome::Recovered)
            }
            Judgement::Clear => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::eval::Finding;
    use crate::alerts::rules::{Condition, Scope};
    use chrono::Duration;

    const H: Millis = 3_600_000;

    fn rule(cooldown_h: i64, renotify_h: Option<i64>) -> Rule {
        Rule {
            name: "r".into(),
            text: String::new(),
            hash: String::new(),
            scope: Scope::default(),
            condition: Condition::SpendWithoutRevenue {
                min_spend_usd: Default::default(),
                hours: None,
            },
            cooldown: Duration::hours(cooldown_h),
            renotify_after: renotify_h.map(Duration::hours),
            notify_recovery: true,
            max_input_age: Duration::hours(3),
        }
    }

    fn fire() -> Judgement {
        Judgement::Fire(Finding {
            message: String::new(),
            inputs: Default::default(),
            refs: vec![],
            suppressed_by: vec![],
            campaign: None,
        })
    }

    fn suppress(why: &str) -> Judgement {
        match fire() {
            Judgement::Fire(mut f) => {
                f.suppressed_by = vec![why.into()];
                Judgement::Suppress(f)
            }
            other => other,
        }
    }

    fn run(rule: &Rule, steps: &[(i64, Judgement)]) -> Vec<Option<Outcome>> {
        let mut state = State::default();
        let date = NaiveDate::from_ymd_opt(2025, 11, 23).unwrap();
        steps.iter().map(|(h, j)| state.step(rule, "campaign x", j, h * H, date)).collect()
    }

    #[test]
    fn a_firing_condition_notifies_once_then_again_only_after_renotify_after() {
        use Outcome::*;
        let r = rule(1, Some(3));
        let got = run(&r, &[(1, fire()), (2, fire()), (3, fire()), (4, fire()), (5, fire())]);
        assert_eq!(got, vec![Some(Fired), None, None, Some(Renotified), None]);
        let once = rule(1, None);
        let got = run(&once, &[(1, fire()), (9, fire())]);
        assert_eq!(got, vec![Some(Fired), None]);
    }

    #[test]
    fn a_recovery_is_recorded_once_and_a_flap_inside_the_cooldown_stays_quiet() {
        use Outcome::*;
        let r = rule(3, None);
        let got = run(
            &r,
            &[
                (1, fire()),
                (2, Judgement::Clear),
                (3, Judgement::Clear),
                (3, fire()),
                (4, fire()),
                (5, Judgement::Clear),
                (6, Judgement::Clear),
                (7, fire()),
            ],
        );
        assert_eq!(
            got,
            vec![
                Some(Fired),
                Some(Recovered),
                None,
                None,
                Some(Fired),
                Some(Recovered),
                None,
                Some(Fired)
            ]
        );
    }

    #[test]
    fn a_suppressed_subject_is_reported_once_per_reason_and_neither_fires_nor_recovers() {
        use Outcome::*;
        let r = rule(0, None);
        let got = run(
            &r,
            &[
                (1, suppress("taboola_report FAILED")),
                (2, suppress("taboola_report FAILED")),
                (3, suppress("taboola_report late")),
                (4, fire()),
                (5, suppress("taboola_report FAILED")),
                (6, Judgement::Clear),
            ],
        );
        assert_eq!(
            got,
            vec![
                Some(Suppressed),
                None,
                Some(Suppressed),
                Some(Fired),
                Some(Suppressed),
                Some(Recovered)
            ]
        );
    }

    #[test]
    fn the_history_restores_firing_and_cooldown() {
        let date = NaiveDate::from_ymd_opt(2025, 11, 23).unwrap();
        let past = |outcome, at| Past {
            rule: "r".into(),
            subject: "campaign x".into(),
            outcome,
            at: at * H,
            date,
            suppressed_by: None,
        };
        let r = rule(2, Some(4));
        let mut s = State::from_history(&[past(Outcome::Fired, 1)]);
        assert!(s.is_firing("r", "campaign x"));
        assert_eq!(s.step(&r, "campaign x", &fire(), 3 * H, date), None);
        assert_eq!(s.step(&r, "campaign x", &fire(), 5 * H, date), Some(Outcome::Renotified));
        let mut s = State::from_history(&[past(Outcome::Fired, 1), past(Outcome::Recovered, 2)]);
        assert_eq!(s.step(&r, "campaign x", &fire(), 2 * H, date), None, "inside the cooldown");
        assert_eq!(s.step(&r, "campaign x", &fire(), 3 * H, date), Some(Outcome::Fired));
    }
}
