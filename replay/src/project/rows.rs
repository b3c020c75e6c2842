//! The rows of the projected tables, and [`Tables`], the one list of them that a date's
//! projection and a whole projection both fill. Rows are plain data: how they are built is
//! elsewhere, how they are stored is the engine's.

use std::collections::BTreeSet;
use std::sync::Arc;

use adlake_raw::EventId;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::carry::CampaignMeta;
use super::DateWindow;
use crate::columns::Columns;
use crate::decode::Locator;

#[derive(Debug, Clone, Default, PartialEq)]
/// A row of `campaign_index`. Its text values are shared (`Arc<str>`): a campaign's daily and
/// reconciled rows, and its adset rows, carry the same metadata.
pub struct CampaignRow {
    pub campaign_id: String,
    pub date: NaiveDate,
    pub level: &'static str,
    pub snapshot_source: &'static str,
    pub adset_id: Option<String>,
    pub adset_name: Option<String>,
    pub campaign_name: Option<Arc<str>>,
    pub owner: Option<Arc<str>>,
    pub lane: Option<Arc<str>>,
    pub category: Option<Arc<str>>,
    pub media_source: Option<Arc<str>>,
    pub network_id: Option<Arc<str>>,
    pub account_id: Option<Arc<str>>,
    pub rsoc_site: Option<Arc<str>>,
    pub platform_campaign_id: Option<Arc<str>>,
    pub spend_usd: Option<Decimal>,
    pub spend_source: Option<String>,
    pub revenue_usd: Option<Decimal>,
    pub sessions: Option<i64>,
    pub s1_clicks: Option<i64>,
    pub clicks: Option<i64>,
    pub impressions: Option<i64>,
    pub conversions: Option<i64>,
    pub roas: Option<f64>,
    pub avg_rpc_3d: Option<Decimal>,
    pub unmapped: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

impl CampaignRow {
    /// `campaign_id|date|level|snapshot_source|adset_id`: the row's identity, and its order.
    pub fn key(&self) -> String {
        let adset_id = self.adset_id.as_deref().unwrap_or("");
        let mut key = String::with_capacity(
            self.campaign_id.len()
                + self.level.len()
                + self.snapshot_source.len()
                + adset_id.len()
                + 14,
        );
        key.push_str(&self.campaign_id);
        key.push('|');
        push_date(&mut key, self.date);
        for part in [self.level, self.snapshot_source, adset_id] {
            key.push('|');
            key.push_str(part);
        }
        key
    }
}

/// Appends `date` as its `Display` writes it (`2025-11-23`). Keys carry their date, and a
/// reproject builds a key per row and per sort step; the formatting machinery cost more
/// than the rest of the key.
pub(super) fn push_date(out: &mut String, date: NaiveDate) {
    use chrono::Datelike;
    let year = date.year();
    if !(0..=9999).contains(&year) {
        out.push_str(&date.to_string());
        return;
    }
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    let year = year as u32;
    for n in [year / 1000, year / 100, year / 10, year] {
        out.push(digit(n));
    }
    out.push('-');
    out.extend([digit(date.month() / 10), digit(date.month())]);
    out.push('-');
    out.extend([digit(date.day() / 10), digit(date.day())]);
}

#[derive(Debug, Clone, PartialEq)]
pub struct HourRow {
    /// Shared by a campaign's hours, like the metadata below: a date has tens of thousands of
    /// session rows and few distinct strings.
    pub campaign_id: Arc<str>,
    pub date: NaiveDate,
    pub click_hour: u8,
    pub sessions: Option<i64>,
    pub revenue: Option<Decimal>,
    pub rpc: Option<Decimal>,
    /// owner, lane, category and media_source: the campaign's, one record shared by all
    /// its hours (`None`: the campaign has no daily row to copy them from).
    pub meta: Option<Arc<CampaignMeta>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl HourRow {
    pub fn key(&self) -> String {
        format!("{}|{}|{}", self.campaign_id, self.date, self.click_hour)
    }

    pub fn owner(&self) -> Option<&str> {
        self.meta.as_ref()?.owner.as_deref()
    }

    pub fn lane(&self) -> Option<&str> {
        self.meta.as_ref()?.lane.as_deref()
    }

    pub fn category(&self) -> Option<&str> {
        self.meta.as_ref()?.category.as_deref()
    }

    pub fn media_source(&self) -> Option<&str> {
        self.meta.as_ref()?.media_source.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompletenessRow {
    pub date: NaiveDate,
    pub endpoint: &'static str,
    pub platform: &'static str,
    pub critical: bool,
    pub status: &'static str,
    pub row_count: Option<i64>,
    pub has_revenue: Option<bool>,
    pub has_spend: Option<bool>,
    pub error_message: Option<String>,
    pub retry_count: i32,
    pub http_status: Option<i32>,
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub expected_min_rows: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub run_id: String,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    pub endpoints: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    pub row_count: i64,
    pub events_written: i64,
    pub bytes_new: i64,
    pub message: Option<String>,
    /// Session runs only.
    pub max_click_hour: Option<i32>,
    pub session_count: Option<i64>,
    pub campaign_count: Option<i64>,
}

/// One source of one row: the columns that body row supplied (chosen), or the columns it had
/// values for but lost to a higher-precedence source (with those values).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineageRow {
    pub table_name: &'static str,
    pub date: NaiveDate,
    /// Shared by every entry of one row.
    pub row_key: Arc<str>,
    /// Which rule of [`LINEAGE_RULES`] applies: campaign, adset_own, adset_copied, session.
    pub kind: &'static str,
    pub columns: Columns,
    pub endpoint: &'static str,
    pub event_id: EventId,
    /// How the lineage tables name the event: its place among its date's events ordered by
    /// id (`raw_events.event_index`).
    pub event_index: u32,
    pub locator: Locator,
    /// `false` for a source that had a value but lost to a higher-precedence one.
    pub chosen: bool,
    /// An entry of a campaign's daily row that is also its reconciled row's: both rows take
    /// every column but revenue_usd, sessions and s1_clicks from the same picks, so those
    /// entries are stored once (the `lineage` view lists them under both rows).
    pub both_snapshots: bool,
    /// The losing source's values, one per column (see [`LineageRow::value_of`]); `None` for
    /// chosen sources (their value is the row's).
    pub value: Option<String>,
}

impl LineageRow {
    /// The value this (losing) entry had for `column`.
    pub fn value_of(&self, column: &str) -> Option<&str> {
        let at = self.columns.position(column)?;
        let value = self.value.as_deref()?;
        if self.columns.len() == 1 {
            Some(value)
        } else {
            value.split(LOST_VALUE_SEPARATOR).nth(at)
        }
    }
}

/// Between the values of a losing entry with several columns (ASCII unit separator).
pub const LOST_VALUE_SEPARATOR: char = '\u{1f}';

/// The lineage of consecutive click hours of one campaign's session rows, stored as one entry:
/// hour `hour_from + k` came from body row `index_from + k` of one event (locator
/// `{locator_prefix}/{index_from + k}`). Session rows are most of a projection's rows, and an
/// hourly report lists a campaign's hours in order, so a date's runs number about one per
/// campaign and page rather than one per row. [`SessionLineage::entries`] gives the per-row
/// [`LineageRow`]s they stand for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionLineage {
    pub date: NaiveDate,
    pub campaign_id: String,
    pub hour_from: u8,
    pub hour_to: u8,
    pub columns: Columns,
    pub event_id: EventId,
    /// As [`LineageRow::event_index`].
    pub event_index: u32,
    pub locator_prefix: Arc<str>,
    /// `None`: the locator has no row index, and `locator_prefix` is all of it (one hour only).
    pub index_from: Option<u32>,
}

impl SessionLineage {
    /// Whether `hour` of this run's campaign, from body row `locator` of `event_id`, continues
    /// this run. The caller knows whether the campaign is the run's, without comparing ids.
    pub(super) fn continues(
        &self,
        hour: u8,
        columns: Columns,
        event_id: EventId,
        locator: &Locator,
    ) -> bool {
        let Some(from) = self.index_from else { return false };
        let (prefix, index) = locator.split();
        Some(hour) == self.hour_to.checked_add(1)
            && index.is_some()
            && index == from.checked_add(u32::from(hour - self.hour_from))
            && self.event_id == event_id
            && self.columns == columns
            && (Arc::ptr_eq(locator.prefix(), &self.locator_prefix)
                || prefix == &*self.locator_prefix)
    }

    /// The per-row entries this run stands for, in hour order.
    pub fn entries(&self) -> impl Iterator<Item = LineageRow> + '_ {
        (self.hour_from..=self.hour_to).map(move |hour| LineageRow {
            table_name: "session_hourly_metrics",
            date: self.date,
            row_key: Arc::from(format!("{}|{}|{}", self.campaign_id, self.date, hour)),
            kind: "session",
            columns: self.columns,
            endpoint: "s1_hourly_v3",
            event_id: self.event_id,
            event_index: self.event_index,
            locator: match self.index_from {
                Some(from) => Locator::indexed(
                    &self.locator_prefix,
                    (from + u32::from(hour - self.hour_from)) as usize,
                ),
                None => Locator::text(&self.locator_prefix),
            },
            chosen: true,
            both_snapshots: false,
            value: None,
        })
    }
}

/// A row of `campaign_intraday`: a campaign's numbers of `date` as known at the end of the
/// UTC hour starting `as_of_hour` (a daily snapshot: revenue and sessions estimated by S1).
#[derive(Debug, Clone, PartialEq)]
pub struct IntradayRow {
    pub campaign_id: String,
    pub date: NaiveDate,
    pub as_of_hour: DateTime<Utc>,
    pub media_source: Option<Arc<str>>,
    pub spend_usd: Option<Decimal>,
    pub spend_source: Option<&'static str>,
    pub revenue_usd: Option<Decimal>,
    pub sessions: Option<i64>,
    pub clicks: Option<i64>,
    pub roas: Option<f64>,
    /// When the oldest snapshot the row's values came from was fetched.
    pub oldest_input_at: Option<DateTime<Utc>>,
    /// Minutes from that fetch to the end of the hour.
    pub input_age_minutes: Option<i64>,
    /// Every critical endpoint fetched by then answered OK in its newest fetch, and the
    /// revenue report had a snapshot.
    pub critical_ok: bool,
}

/// A row of `intraday_inputs`: what one endpoint of `date` looked like at the end of the hour
/// starting `as_of_hour`: its newest fetch's status, and the snapshot the intraday rows took.
#[derive(Debug, Clone, PartialEq)]
pub struct IntradayInputRow {
    pub date: NaiveDate,
    pub as_of_hour: DateTime<Utc>,
    pub endpoint: &'static str,
    pub critical: bool,
    pub status: &'static str,
    pub newest_fetched_at: DateTime<Utc>,
    pub snapshot_fetch_id: Option<String>,
    pub snapshot_fetched_at: Option<DateTime<Utc>>,
    pub snapshot_rows: Option<i64>,
}

/// A row of `campaign_hourly`: one campaign's spend in one UTC hour of `date`, from a report
/// with hourly rows (Outbrain's), its latest successful fetch.
#[derive(Debug, Clone, PartialEq)]
pub struct HourlySpendRow {
    pub campaign_id: String,
    pub date: NaiveDate,
    pub hour: u8,
    pub endpoint: &'static str,
    pub spend_usd: Option<Decimal>,
    pub clicks: Option<i64>,
    pub impressions: Option<i64>,
    pub conversions: Option<i64>,
    pub fetch_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QuarantineRow {
    pub event_id: String,
    pub endpoint: String,
    pub date: NaiveDate,
    pub body_sha256: Option<String>,
    /// The row that could not be read; `None` when the whole body is quarantined.
    pub locator: Option<String>,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawEventRow {
    pub event_id: String,
    /// How lineage names this event: its place among its date's events ordered by id. `None`
    /// for run markers.
    pub event_index: Option<u32>,
    pub kind: &'static str,
    pub source: String,
    pub date: NaiveDate,
    pub run_id: String,
    pub fetched_at: DateTime<Utc>,
    pub fetch_id: Option<String>,
    pub attempt: Option<i32>,
    pub page: Option<i32>,
    pub http_status: Option<i32>,
    pub error: Option<String>,
    pub url: Option<String>,
    pub body_sha256: Option<String>,
    pub body_len: Option<i64>,
}

/// The rows of the projected tables: the one list of tables, for a date and for a whole
/// projection alike (run rows aside: they are projected once, after the last date).
#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub campaign_index: Vec<CampaignRow>,
    pub session_hourly: Vec<HourRow>,
    pub completeness: Vec<CompletenessRow>,
    /// Lineage of campaign_index values.
    pub lineage: Vec<LineageRow>,
    /// Lineage of session_hourly_metrics values, as runs of hours.
    pub session_lineage: Vec<SessionLineage>,
    pub quarantine: Vec<QuarantineRow>,
    pub raw_events: Vec<RawEventRow>,
    /// Campaign ids that kept a platform id, per date.
    pub unmapped_campaigns: BTreeSet<(NaiveDate, String)>,
    pub unmapped_network_ids: BTreeSet<String>,
    pub intraday: Vec<IntradayRow>,
    pub intraday_inputs: Vec<IntradayInputRow>,
    pub campaign_hourly: Vec<HourlySpendRow>,
}

impl Tables {
    /// Adds another date's rows.
    pub fn absorb(&mut self, other: Tables) {
        self.campaign_index.extend(other.campaign_index);
        self.session_hourly.extend(other.session_hourly);
        self.completeness.extend(other.completeness);
        self.lineage.extend(other.lineage);
        self.session_lineage.extend(other.session_lineage);
        self.quarantine.extend(other.quarantine);
        self.raw_events.extend(other.raw_events);
        self.unmapped_campaigns.extend(other.unmapped_campaigns);
        self.unmapped_network_ids.extend(other.unmapped_network_ids);
        self.intraday.extend(other.intraday);
        self.intraday_inputs.extend(other.intraday_inputs);
        self.campaign_hourly.extend(other.campaign_hourly);
    }

    /// Every table in its key order (lineage keeps its build order, a function of the
    /// events alone).
    pub fn sort(&mut self) {
        self.campaign_index.sort_by_cached_key(|r| r.key());
        self.session_hourly.sort_by(|a, b| {
            (&a.campaign_id, a.date, a.click_hour).cmp(&(&b.campaign_id, b.date, b.click_hour))
        });
        self.completeness.sort_by(|a, b| (a.date, a.endpoint).cmp(&(b.date, b.endpoint)));
        self.session_lineage.sort();
        self.quarantine.sort();
        self.raw_events.sort_by(|a, b| {
            (a.date, &a.source, &a.event_id).cmp(&(b.date, &b.source, &b.event_id))
        });
        self.intraday.sort_by(|a, b| {
            (&a.campaign_id, a.date, a.as_of_hour).cmp(&(&b.campaign_id, b.date, b.as_of_hour))
        });
        self.intraday_inputs.sort_by(|a, b| {
            (a.date, a.as_of_hour, a.endpoint).cmp(&(b.date, b.as_of_hour, b.endpoint))
        });
        self.campaign_hourly.sort_by(|a, b| {
            (&a.campaign_id, a.date, a.hour, a.endpoint).cmp(&(
                &b.campaign_id,
                b.date,
                b.hour,
                b.endpoint,
            ))
        });
    }
}

/// Everything one date contributes to the tables.
#[derive(Debug, Clone, Default)]
pub struct DayProjection {
    pub date: Option<NaiveDate>,
    pub tables: Tables,
}

/// A whole projection, in memory.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub window: Option<DateWindow>,
    pub tables: Tables,
    pub campaign_runs: Vec<RunRow>,
    pub session_runs: Vec<RunRow>,
    /// Every event id the projection read, sorted.
    pub events_applied: Vec<EventId>,
}
