//! Today so far, from the lake's snapshots: every fetch of a day's reports is a snapshot of
//! spend and revenue as known then, so the history of fetches is the intraday curve.
//!
//! - `campaign_intraday`: for each UTC hour of the date at which some report of the date was
//!   fetched, each campaign's spend, revenue, sessions, clicks and ROAS as known at the end of
//!   that hour: the campaign rows rebuilt from each endpoint's latest successful fetch that
//!   finished before the hour ended (the same rules as `campaign_index`'s daily row), the age
//!   of the oldest snapshot a row's values came from, and whether every critical report was OK.
//! - `intraday_inputs`: at the same hours, each endpoint's newest fetch's status and the
//!   snapshot taken (by fetch id, which names its events in `raw_events`): the lineage of the
//!   intraday rows and the trust strip of a report.
//! - `campaign_hourly`: a report with hourly rows (Outbrain) gives true per-hour spend.
//!
//! Invariants: only fetch times from the envelopes, never the clock; hours after the date's
//! own 24 are not rows (the finished day is `campaign_index`'s); a date's rows depend on its
//! own events and the identity pairs alone, so any sequence of projections gives the same
//! rows. Snapshots whose bodies equal the previous hour's are not merged again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use adlake_raw::BodyHash;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::carry::resolve;
use super::fetch::{snapshot, snapshots, status, DayData, Fetch, Fetches, Snapshots};
use super::projector::Projector;
use super::rows::{DayProjection, HourlySpendRow, IntradayInputRow, IntradayRow};
use crate::decode::sum_opt;

/// The bodies behind each input endpoint of an hour, to tell whether the next hour changed.
type InputHashes = Vec<(&'static str, Vec<Option<BodyHash>>)>;

/// One campaign's values as of an hour, before their ages are known.
#[derive(Clone)]
struct Values {
    campaign_id: String,
    media_source: Option<Arc<str>>,
    spend_usd: Option<Decimal>,
    spend_source: Option<&'static str>,
    revenue_usd: Option<Decimal>,
    sessions: Option<i64>,
    clicks: Option<i64>,
    roas: Option<f64>,
    /// The endpoints its values came from.
    inputs: Vec<&'static str>,
}

/// The start of the UTC hour holding `t`.
fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = t.timestamp();
    DateTime::from_timestamp(seconds - seconds.rem_euclid(3600), 0).unwrap_or(t)
}

/// What the merge reads of a set of snapshots: each endpoint's bodies, by hash.
fn contents(
    day: &DayData<'_>,
    snaps: &Snapshots<'_, '_>,
) -> Vec<(&'static str, Vec<Option<BodyHash>>)> {
    snaps
        .iter()
        .map(|(key, f)| {
            (
                *key,
                f.events.iter().map(|&i| day.events[i].envelope.body.map(|b| b.sha256)).collect(),
            )
        })
        .collect()
}

impl Projector<'_> {
    pub(super) fn intraday_rows<'d>(
        &mut self,
        day: &DayData<'_>,
        fetches: &Fetches<'d>,
        out: &mut DayProjection,
    ) {
        let date = day.date;
        let Some(start) = date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()) else { return };
        let end = start + Duration::days(1);
        let hours: BTreeSet<DateTime<Utc>> = fetches
            .values()
            .flatten()
            .map(|f| hour_of(f.finished_at))
            .filter(|h| *h >= start && *h < end)
            .collect();
        let mut previous: Option<(InputHashes, Vec<Values>)> = None;
        for hour in hours {
            let until = hour + Duration::hours(1);
            let snaps = snapshots(fetches, Some(until));
            let mut critical_ok = snaps.contains_key("s1_daily_v3");
            for (key, list) in fetches {
                let Some(newest) = list.iter().rev().find(|f| f.finished_at < until) else {
                    continue;
                };
                let state = status(newest, date);
                let spec = newest.endpoint;
                if spec.critical && !spec.sessions && state != "OK" {
                    critical_ok = false;
                }
                let snap = snaps.get(key);
                out.tables.intraday_inputs.push(IntradayInputRow {
                    date,
                    as_of_hour: hour,
                    endpoint: spec.key,
                    critical: spec.critical,
                    status: state,
                    newest_fetched_at: newest.finished_at,
                    snapshot_fetch_id: snap.map(|f| f.fetch_id(day).to_owned()),
                    snapshot_fetched_at: snap.map(|f| f.finished_at),
                    snapshot_rows: snap.map(|f| f.rows.len() as i64),
                });
            }
            let seen = contents(day, &snaps);
            let values = match previous.take() {
                Some((contents, values)) if contents == seen => values,
                _ => self.values_as_of(day, &snaps),
            };
            for v in &values {
                let oldest =
                    v.inputs.iter().filter_map(|k| snaps.get(k).map(|f| f.finished_at)).min();
                out.tables.intraday.push(IntradayRow {
                    campaign_id: v.campaign_id.clone(),
                    date,
                    as_of_hour: hour,
                    media_source: v.media_source.clone(),
                    spend_usd: v.spend_usd,
                    spend_source: v.spend_source,
                    revenue_usd: v.revenue_usd,
                    sessions: v.sessions,
                    clicks: v.clicks,
                    roas: v.roas,
                    oldest_input_at: oldest,
                    input_age_minutes: oldest.map(|t| (until - t).num_minutes()),
                    critical_ok,
                });
            }
            previous = Some((seen, values));
        }
    }

    /// Each campaign's daily-row values, merged from `snaps` as `campaign_index` merges them.
    fn values_as_of(&mut self, day: &DayData<'_>, snaps: &Snapshots<'_, '_>) -> Vec<Values> {
        let mut scratch = DayProjection::default();
        self.campaign_rows(day, snaps, &mut scratch, false);
        scratch
            .tables
            .campaign_index
            .into_iter()
            .filter(|r| r.level == "campaign" && r.snapshot_source == "daily")
            .map(|r| {
                let spend_source =
                    r.spend_source.as_deref().and_then(crate::endpoint).map(|s| s.key);
                let mut inputs: Vec<&'static str> = spend_source.into_iter().collect();
                if r.revenue_usd.is_some() || r.sessions.is_some() {
                    inputs.push("s1_daily_v3");
                }
                Values {
                    campaign_id: r.campaign_id,
                    media_source: r.media_source,
                    spend_usd: r.spend_usd,
                    spend_source,
                    revenue_usd: r.revenue_usd,
                    sessions: r.sessions,
                    clicks: r.clicks,
                    roas: r.roas,
                    inputs,
                }
            })
            .collect()
    }

    /// `campaign_hourly` of a date: the hourly rows of its latest successful Outbrain fetch,
    /// summed per campaign and hour.
    pub(super) fn hourly_spend_rows(
        &self,
        day: &DayData<'_>,
        fetches: &Fetches<'_>,
        out: &mut DayProjection,
    ) {
        let Some(f) = snapshot(fetches, "outbrain_report") else { return };
        out.tables.campaign_hourly.extend(hourly(
            day.date,
            f,
            f.fetch_id(day),
            &self.carry.identity,
        ));
    }
}

/// The hourly rows of fetch `f` of `date`, per campaign and hour.
fn hourly(
    date: NaiveDate,
    f: &Fetch<'_>,
    fetch_id: &str,
    identity: &super::carry::Identity,
) -> Vec<HourlySpendRow> {
    let mut by_hour: BTreeMap<(String, u8), HourlySpendRow> = BTreeMap::new();
    for (_, row) in &f.rows {
        let (Some(hour), Some(true)) = (row.hour, row.date.map(|d| d == date)) else { continue };
        let key = match (row.strategis_id.as_deref(), row.platform_campaign_id.as_deref()) {
            (Some(sid), _) => sid,
            (None, Some(pid)) => {
                resolve(identity, pid, row.campaign_name.as_deref(), date).unwrap_or(pid)
            }
            (None, None) => continue,
        };
        let entry = by_hour.entry((key.to_owned(), hour)).or_insert_with(|| HourlySpendRow {
            campaign_id: key.to_owned(),
            date,
            hour,
            endpoint: f.endpoint.key,
            spend_usd: None,
            clicks: None,
            impressions: None,
            conversions: None,
            fetch_id: fetch_id.to_owned(),
        });
        entry.spend_usd = sum_opt(entry.spend_usd, row.spend);
        entry.clicks = sum_opt(entry.clicks, row.clicks);
        entry.impressions = sum_opt(entry.impressions, row.impressions);
        entry.conversions = sum_opt(entry.conversions, row.conversions);
    }
    by_hour.into_values().collect()
}
