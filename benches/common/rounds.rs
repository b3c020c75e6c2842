//! Rounds of measurements and what is reported from them. A round holds one [`Sample`] per
//! side (ours, and each baseline), measured back to back, so the load of a shared machine
//! moves both sides of a round together: a comparison's headline is the median over rounds of
//! its per-round (paired) ratio. Beside it, the ratio of the two sides' median rounds and of
//! their best rounds: load only ever adds time, so each side's fastest round is its least
//! disturbed one, a cross-check for a round whose two sides straddled a change of load.
//!
//! The median of an even count is the mean of the middle two; values that are not finite
//! (a stretch too short for the CPU clock) are left out, and a figure with none left is
//! missing (null), never a guess.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::cpu::Sample;

/// One round: a sample per side, by the side's key.
pub type Round = BTreeMap<String, Sample>;

/// The median of the finite values, if any.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The smallest finite value, if any.
pub fn best(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    values.into_iter().filter(|x| x.is_finite()).min_by(f64::total_cmp)
}

/// The two sides of an A/B comparison in pair `pair` of an ABBA sequence: A then B in even
/// pairs, B then A in odd ones, so a load that drifts steadily over the run costs both alike.
pub fn abba<T: Copy>(pair: usize, a: T, b: T) -> [T; 2] {
    if pair.is_multiple_of(2) {
        [a, b]
    } else {
        [b, a]
    }
}

/// How two samples compare.
#[derive(Debug, Clone, Copy)]
pub enum Measure {
    /// Ours' MB per CPU-second over the baseline's (above 1: ours does more per CPU-second).
    MbPerCpuSecond,
    /// Ours' MB per wall second over the baseline's.
    MbPerSecond,
    /// Ours' CPU seconds over the baseline's.
    CpuShare,
    /// Ours' wall seconds over the baseline's.
    WallShare,
}

impl Measure {
    pub fn of(self, ours: &Sample, baseline: &Sample) -> f64 {
        let ratio = |a: f64, b: f64| if b > 0.0 && a.is_finite() { a / b } else { f64::NAN };
        match self {
            Measure::MbPerCpuSecond => ratio(ours.mb_per_cpu_s(), baseline.mb_per_cpu_s()),
            Measure::MbPerSecond => ratio(ours.mb_per_s(), baseline.mb_per_s()),
            Measure::CpuShare => ratio(ours.cpu_s, baseline.cpu_s),
            Measure::WallShare => ratio(ours.wall_s, baseline.wall_s),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Measure::MbPerCpuSecond => "MB per CPU-second, ours / baseline",
            Measure::MbPerSecond => "MB per wall second, ours / baseline",
            Measure::CpuShare => "CPU seconds, ours / baseline",
            Measure::WallShare => "wall seconds, ours / baseline",
        }
    }
}

/// A side to report: its key in the rounds and JSON, and its label in the table.
pub struct Side<'a> {
    pub key: &'a str,
    pub label: &'a str,
}

/// A comparison to report between two sides.
pub struct Comparison<'a> {
    pub key: &'a str,
    pub label: &'a str,
    pub ours: &'a str,
    pub baseline: &'a str,
    pub measure: Measure,
}

/// A side's median and best over the rounds that measured it.
struct Figures {
    rounds: usize,
    median: Sample,
    best: Sample,
}

fn figures(rounds: &[Round], key: &str) -> Option<Figures> {
    let samples: Vec<&Sample> = rounds.iter().filter_map(|r| r.get(key)).collect();
    let mb = median(samples.iter().map(|s| s.mb))?;
    let walls = || samples.iter().map(|s| s.wall_s);
    let cpus = || samples.iter().map(|s| s.cpu_s);
    let or_nan = |x: Option<f64>| x.unwrap_or(f64::NAN);
    Some(Figures {
        rounds: samples.len(),
        median: Sample { mb, wall_s: or_nan(median(walls())), cpu_s: or_nan(median(cpus())) },
        best: Sample { mb, wall_s: or_nan(best(walls())), cpu_s: or_nan(best(cpus())) },
    })
}

/// A number for the table: `-` for a missing one.
pub fn cell(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "-".into()
    }
}

fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

fn sample_json(s: &Sample) -> Value {
    json!({"wall_s": number(s.wall_s), "cpu_s": number(s.cpu_s), "mb_s": number(s.mb_per_s()),
           "mb_per_cpu_s": number(s.mb_per_cpu_s())})
}

/// The tables (sides, then comparisons) and the JSON of `rounds`: `{"sides", "comparisons",
/// "per_round"}`. A side no round measured is left out, and so is a comparison missing a side.
pub fn report(
    rounds: &[Round],
    sides: &[Side<'_>],
    comparisons: &[Comparison<'_>],
) -> (String, Value) {
    let mut side_rows = Vec::new();
    let mut side_json = serde_json::Map::new();
    for side in sides {
        let Some(f) = figures(rounds, side.key) else { continue };
        side_rows.push(vec![
            side.label.to_string(),
            cell(f.median.mb, 2),
            cell(f.median.wall_s, 3),
            cell(f.median.mb_per_s(), 1),
            cell(f.median.cpu_s, 2),
            cell(f.median.mb_per_cpu_s(), 1),
            cell(f.best.cpu_s, 2),
            cell(f.best.mb_per_cpu_s(), 1),
        ]);
        side_json.insert(
            side.key.to_string(),
            json!({"label": side.label, "rounds": f.rounds, "mb": number(f.median.mb),
                   "median": sample_json(&f.median), "best": sample_json(&f.best)}),
        );
    }
    let mut comparison_rows = Vec::new();
    let mut comparison_json = serde_json::Map::new();
    for c in comparisons {
        let (Some(ours), Some(base)) = (figures(rounds, c.ours), figures(rounds, c.baseline))
        else {
            continue;
        };
        let paired = median(
            rounds.iter().filter_map(|r| Some(c.measure.of(r.get(c.ours)?, r.get(c.baseline)?))),
        )
        .unwrap_or(f64::NAN);
        let of_medians = c.measure.of(&ours.median, &base.median);
        let of_bests = c.measure.of(&ours.best, &base.best);
        comparison_rows.push(vec![
            c.label.to_string(),
            c.measure.name().to_string(),
            cell(paired, 3),
            cell(of_medians, 3),
            cell(of_bests, 3),
        ]);
        comparison_json.insert(
            c.key.to_string(),
            json!({"label": c.label, "ours": c.ours, "baseline": c.baseline,
                   "measure": c.measure.name(), "median_of_rounds": number(paired),
                   "of_medians": number(of_medians), "of_bests": number(of_bests)}),
        );
    }
    let per_round: Vec<Value> = rounds
        .iter()
        .map(|r| {
            Value::Object(
                r.iter()
                    .map(|(k, s)| {
                        (k.clone(), json!({"mb": number(s.mb), "wall_s": number(s.wall_s), "cpu_s": number(s.cpu_s)}))
                    })
                    .collect(),
            )
        })
        .collect();
    let mut text = adlake::output::table(
        &["side", "MB", "wall_s", "MB/s", "cpu_s", "MB/cpu_s", "best_cpu_s", "best_MB/cpu_s"],
        &side_rows,
    );
    text.push_str(&format!(
        "(medians over {} round{}; best: each side's fastest round)\n\n",
        rounds.len(),
        if rounds.len() == 1 { "" } else { "s" }
    ));
    if !comparison_rows.is_empty() {
        text.push_str(&adlake::output::table(
            &["comparison", "measure", "median_of_rounds", "of_medians", "of_bests"],
            &comparison_rows,
        ));
    }
    let json = json!({"sides": side_json, "comparisons": comparison_json, "per_round": per_round});
    (text, json)
}
