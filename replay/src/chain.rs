//! Incremental projection: deciding which dates a window projection must rewrite so that the
//! database ends equal to one full projection of the lake. Pure: the engine lists the lake,
//! reads the chains the database recorded and the carry of earlier dates, and asks here.
//!
//! A projected date depends on every earlier date (campaign identity) and on the seven before
//! it (`expected_min_rows`, session metadata); [`Carry`] is exactly that dependency. Each
//! projection records, per date it wrote, a chain fingerprint: sha256 over the projector
//! version, the projector configuration and the event keys of every date up to and including
//! that one. A date whose recorded chain equals the chain the lake has now was projected from
//! the events the lake still holds for it and for every date before it, by this projector.
//!
//! - Back ([`start_date`]): when every date before the window is current, its carry can be read
//!   back (the engine's `store::carry`) instead of recomputed. Otherwise (a fresh database, a late event for
//!   an old date, a new projector or config) the window widens back to the first stale date.
//! - Forward ([`end_date`]): the dates after the window look back at it, so when any of them is
//!   not current (chains are cumulative: a change in the window changes every later chain) the
//!   window widens forward to the last date the lake or the database holds. Only "every later
//!   date is current" lets a window stop at its own end.
//!
//! Invariant: after a window projection through these two (other than a view of the past,
//! which records no chains), every date of the lake it listed is recorded with the lake's
//! chain, and its rows equal those of a full projection of that lake: a projection that
//! starts from a database carry writes the same rows as one that recomputes it from the lake
//! (tested through the binary, and in `tests/it/incremental_sequences.rs` as a property of
//! random sequences of ingests and window projections).
//!
//! Cost: a backfill or restatement of an old date re-projects every date after it, up to the
//! lake's last; an hourly run (today and its lookback, nothing after it) widens neither way.
//! A date the database records but the lake does not hold (a database built from another
//! lake) counts as stale too, so the widened window deletes its rows, as a full rebuild would.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::project::{ProjectorConfig, PROJECTOR_VERSION};

/// Chain fingerprint per date, from event keys (`events/<date>/<source>/<id>.json`) grouped
/// by their date, in any order.
pub fn chains(
    keys_by_date: &BTreeMap<NaiveDate, Vec<String>>,
    config: &ProjectorConfig,
) -> BTreeMap<NaiveDate, String> {
    let mut chain = {
        let mut h = Sha256::new();
        h.update(PROJECTOR_VERSION.as_bytes());
        h.update(format!("{config:?}").as_bytes());
        h.finalize()
    };
    let mut out = BTreeMap::new();
    for (date, keys) in keys_by_date {
        let mut sorted: Vec<&String> = keys.iter().collect();
        sorted.sort();
        let mut h = Sha256::new();
        h.update(chain);
        h.update(date.to_string().as_bytes());
        for k in sorted {
            h.update(k.as_bytes());
            h.update([0]);
        }
        chain = h.finalize();
        out.insert(*date, hex::encode(chain));
    }
    out
}

/// Dates at which the lake and the database disagree: a chain that differs, or a date only
/// one of them holds. Ascending.
fn stale<'a>(
    lake: &'a BTreeMap<NaiveDate, String>,
    recorded: &'a BTreeMap<NaiveDate, String>,
) -> impl Iterator<Item = NaiveDate> + 'a {
    let dates: std::collections::BTreeSet<NaiveDate> =
        lake.keys().chain(recorded.keys()).copied().collect();
    dates.into_iter().filter(|d| lake.get(d) != recorded.get(d))
}

/// Where a projection of `[from, ..]` must start so that everything before it can come from
/// the database: `from` itself when the chains agree up to it, else the first date at which
/// the lake and the database disagree.
pub fn start_date(
    from: NaiveDate,
    lake: &BTreeMap<NaiveDate, String>,
    recorded: &BTreeMap<NaiveDate, String>,
) -> NaiveDate {
    stale(lake, recorded).next().map_or(from, |d| d.min(from))
}

/// Where a projection of `[.., to]` must end so that every date after it in the database is
/// what the lake gives: `to` itself when the chains agree after it, else the last date the
/// lake or the database holds.
pub fn end_date(
    to: NaiveDate,
    lake: &BTreeMap<NaiveDate, String>,
    recorded: &BTreeMap<NaiveDate, String>,
) -> NaiveDate {
    if stale(lake, recorded).any(|d| d > to) {
        let last = lake.keys().chain(recorded.keys()).copied().max();
        last.map_or(to, |d| d.max(to))
    } else {
        to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_changed_date_changes_its_chain_and_every_later_one() {
        let config = ProjectorConfig::default();
        let mut keys: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
        for day in ["2025-11-20", "2025-11-21", "2025-11-22"] {
            keys.insert(d(day), vec![format!("events/{day}/s1_daily_v3/a.json")]);
        }
        let before = chains(&keys, &config);
        keys.get_mut(&d("2025-11-21"))
            .unwrap()
            .push("events/2025-11-21/s1_daily_v3/late.json".into());
        let after = chains(&keys, &config);
        assert_eq!(before[&d("2025-11-20")], after[&d("2025-11-20")]);
        assert_ne!(before[&d("2025-11-21")], after[&d("2025-11-21")]);
        assert_ne!(
            before[&d("2025-11-22")],
            after[&d("2025-11-22")],
            "later dates depend on earlier ones"
        );
        assert_eq!(
            start_date(d("2025-11-22"), &after, &before),
            d("2025-11-21"),
            "widened back to the first stale date"
        );
        assert_eq!(start_date(d("2025-11-22"), &after, &after), d("2025-11-22"));
        assert_eq!(
            start_date(d("2025-11-22"), &after, &BTreeMap::new()),
            d("2025-11-20"),
            "an empty database starts at the beginning"
        );
        assert_eq!(
            end_date(d("2025-11-20"), &after, &before),
            d("2025-11-22"),
            "a change at the window's date reaches every later one"
        );
        assert_eq!(end_date(d("2025-11-20"), &after, &after), d("2025-11-20"));
        let mut other = ProjectorConfig::default();
        other.network_map.insert("999".into(), "x".into());
        assert_ne!(
            chains(&keys, &other)[&d("2025-11-20")],
            after[&d("2025-11-20")],
            "a config change invalidates every date"
        );
    }

    #[test]
    fn a_window_widens_forward_only_when_a_later_date_is_stale() {
        let config = ProjectorConfig::default();
        let mut keys: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
        for day in ["2025-11-20", "2025-11-21", "2025-11-23"] {
            keys.insert(d(day), vec![format!("events/{day}/s1_daily_v3/a.json")]);
        }
        let recorded = chains(&keys, &config);
        // The usual hourly run: its dates change, nothing after them exists.
        let mut hourly = keys.clone();
        hourly
            .get_mut(&d("2025-11-23"))
            .unwrap()
            .push("events/2025-11-23/s1_daily_v3/b.json".into());
        let lake = chains(&hourly, &config);
        assert_eq!(end_date(d("2025-11-23"), &lake, &recorded), d("2025-11-23"));
        assert_eq!(start_date(d("2025-11-23"), &lake, &recorded), d("2025-11-23"));

        // A backfill of a date before the others: every later date is stale.
        let mut backfill = keys.clone();
        backfill.insert(d("2025-11-19"), vec!["events/2025-11-19/s1_daily_v3/c.json".into()]);
        let lake = chains(&backfill, &config);
        assert_eq!(end_date(d("2025-11-19"), &lake, &recorded), d("2025-11-23"));
        assert_eq!(start_date(d("2025-11-19"), &lake, &recorded), d("2025-11-19"));

        // A later date the database never recorded (projected before it existed) is stale too.
        let mut unrecorded = recorded.clone();
        unrecorded.remove(&d("2025-11-23"));
        let lake = chains(&keys, &config);
        assert_eq!(end_date(d("2025-11-21"), &lake, &unrecorded), d("2025-11-23"));

        // A date only the database holds (built from another lake) is rewritten, i.e. emptied.
        let mut foreign = recorded.clone();
        foreign.insert(d("2025-11-10"), "elsewhere".into());
        foreign.insert(d("2025-11-30"), "elsewhere".into());
        assert_eq!(start_date(d("2025-11-21"), &lake, &foreign), d("2025-11-10"));
        assert_eq!(end_date(d("2025-11-21"), &lake, &foreign), d("2025-11-30"));
    }
}
