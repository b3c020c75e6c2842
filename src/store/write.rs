//! The DuckDB writer: replaces a projection's dates (or everything) in one transaction, then
//! records `projection_meta`. A reader, or a crash, sees the old rows or the new rows, never a
//! mix. One thread owns the connection.
//!
//! Rows go straight into DuckDB's vectors (see [`crate::store::chunks`]); each table's columns are
//! declared once below. A table's rows of consecutive dates are gathered into one statement of
//! about a row group: DuckDB plans each statement afresh, and one per (table, date) cost a
//! full rebuild of a quarter some 600 plans. Each date's rows are still hashed on their own
//! as they are written; those per-date fingerprints (`projection_fingerprints`) are what the
//! table fingerprints in `projection_meta` combine, so an incremental projection re-hashes
//! only the dates it rewrote.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use duckdb::{params, Connection};
use sha2::{Digest, Sha256};

use crate::store::chunks::{Column, Rows};
use crate::store::db::DbError;
use adlake_replay::columns::Columns;
use adlake_replay::project::alerts::{AlertDeliveryRow, AlertEventRow, AlertTables};
use adlake_replay::project::{
    CampaignRow, Carry, CompletenessRow, DayProjection, HourRow, HourlySpendRow, IntradayInputRow,
    IntradayRow, LineageRow, Projection, QuarantineRow, RawEventRow, RunRow, SessionLineage,
    LINEAGE_RULES, PROJECTOR_VERSION,
};

/// Tables rebuilt by a projection, in the order they are written.
pub const TABLES: &[&str] = &[
    "campaign_index",
    "session_hourly_metrics",
    "endpoint_completeness",
    "campaign_index_runs",
    "session_ingest_runs",
    "raw_events",
    "lineage_entries",
    "session_lineage",
    "quarantine",
    "campaign_intraday",
    "intraday_inputs",
    "campaign_hourly",
    "alert_events",
    "alert_deliveries",
];

/// Tables fingerprinted per date as they are written.
const DATED: &[&str] = &[
    "campaign_index",
    "session_hourly_metrics",
    "endpoint_completeness",
    "lineage_entries",
    "session_lineage",
    "quarantine",
    "campaign_intraday",
    "intraday_inputs",
    "campaign_hourly",
];

/// Tables small enough to fingerprint in SQL after writing.
const UNDATED: &[&str] =
    &["campaign_index_runs", "session_ingest_runs", "alert_events", "alert_deliveries"];

/// The alert tables: rewritten whole by every projection, from every alert event of the lake
/// (they are few), and added to between projections by the alert evaluation itself
/// ([`append_alert_rows`]), with the rows a projection of its events gives.
pub const ALERT_TABLES: &[&str] = &["alert_events", "alert_deliveries"];

const CAMPAIGN_INDEX: &[Column<CampaignRow>] = &[
    Column::Text("campaign_id", |r| Some(&r.campaign_id)),
    Column::Date("date", |r| Some(r.date)),
    Column::Text("level", |r| Some(r.level)),
    Column::Text("snapshot_source", |r| Some(r.snapshot_source)),
    Column::Text("adset_id", |r| r.adset_id.as_deref()),
    Column::Text("adset_name", |r| r.adset_name.as_deref()),
    Column::Text("campaign_name", |r| r.campaign_name.as_deref()),
    Column::Text("owner", |r| r.owner.as_deref()),
    Column::Text("lane", |r| r.lane.as_deref()),
    Column::Text("category", |r| r.category.as_deref()),
    Column::Text("media_source", |r| r.media_source.as_deref()),
    Column::Text("network_id", |r| r.network_id.as_deref()),
    Column::Text("account_id", |r| r.account_id.as_deref()),
    Column::Text("rsoc_site", |r| r.rsoc_site.as_deref()),
    Column::Text("platform_campaign_id", |r| r.platform_campaign_id.as_deref()),
    Column::Money("spend_usd", |r| r.spend_usd),
    Column::Text("spend_source", |r| r.spend_source.as_deref()),
    Column::Money("revenue_usd", |r| r.revenue_usd),
    Column::Big("sessions", |r| r.sessions),
    Column::Big("s1_clicks", |r| r.s1_clicks),
    Column::Big("clicks", |r| r.clicks),
    Column::Big("impressions", |r| r.impressions),
    Column::Big("conversions", |r| r.conversions),
    Column::Double("roas", |r| r.roas),
    Column::Money("avg_rpc_3d", |r| r.avg_rpc_3d),
    Column::Bool("unmapped", |r| Some(r.unmapped)),
    Column::Timestamp("updated_at", |r| r.updated_at),
];

const SESSION_HOURLY_METRICS: &[Column<HourRow>] = &[
    Column::Text("campaign_id", |r| Some(&r.campaign_id)),
    Column::Date("date", |r| Some(r.date)),
    Column::Int("click_hour", |r| Some(i32::from(r.click_hour))),
    Column::Big("sessions", |r| r.sessions),
    Column::Money("revenue", |r| r.revenue),
    Column::Money("rpc", |r| r.rpc),
    Column::Text("owner", |r| r.owner()),
    Column::Text("lane", |r| r.lane()),
    Column::Text("category", |r| r.category()),
    Column::Text("media_source", |r| r.media_source()),
    Column::Timestamp("updated_at", |r| r.updated_at),
];

const ENDPOINT_COMPLETENESS: &[Column<CompletenessRow>] = &[
    Column::Date("date", |r| Some(r.date)),
    Column::Text("endpoint", |r| Some(r.endpoint)),
    Column::Text("platform", |r| Some(r.platform)),
    Column::Bool("critical", |r| Some(r.critical)),
    Column::Text("status", |r| Some(r.status)),
    Column::Big("row_count", |r| r.row_count),
    Column::Bool("has_revenue", |r| r.has_revenue),
    Column::Bool("has_spend", |r| r.has_spend),
    Column::Text("error_message", |r| r.error_message.as_deref()),
    Column::Int("retry_count", |r| Some(r.retry_count)),
    Column::Int("http_status", |r| r.http_status),
    Column::Text("run_id", |r| Some(&r.run_id)),
    Column::Timestamp("started_at", |r| Some(r.started_at)),
    Column::Timestamp("finished_at", |r| Some(r.finished_at)),
    Column::Timestamp("last_success_at", |r| r.last_success_at),
    Column::Double("expected_min_rows", |r| r.expected_min_rows),
];

/// `source_id` is given per entry by the writer (see [`source_ids`]).
const LINEAGE_ENTRIES: &[Column<LineageRow>] = &[
    Column::Date("date", |r| Some(r.date)),
    Column::Given("source_id"),
    Column::Text("row_key", |r| Some(&r.row_key)),
    Column::Index("event_index", |r| Some(r.event_index)),
    Column::Locator("locator", |r| &r.locator),
    Column::Text("value", |r| r.value.as_deref()),
    Column::Bool("both_snapshots", |r| Some(r.both_snapshots)),
];

const SESSION_LINEAGE: &[Column<SessionLineage>] = &[
    Column::Date("date", |r| Some(r.date)),
    Column::Given("source_id"),
    Column::Text("campaign_id", |r| Some(&r.campaign_id)),
    Column::Int("hour_from", |r| Some(i32::from(r.hour_from))),
    Column::Int("hour_to", |r| Some(i32::from(r.hour_to))),
    Column::Index("event_index", |r| Some(r.event_index)),
    Column::Text("locator_prefix", |r| Some(&r.locator_prefix)),
    Column::Big("index_from", |r| r.index_from.map(i64::from)),
];

const QUARANTINE: &[Column<QuarantineRow>] = &[
    Column::Text("event_id", |r| Some(&r.event_id)),
    Column::Text("endpoint", |r| Some(&r.endpoint)),
    Column::Date("date", |r| Some(r.date)),
    Column::Text("body_sha256", |r| r.body_sha256.as_deref()),
    Column::Text("error", |r| Some(&r.error)),
    Column::Text("locator", |r| r.locator.as_deref()),
];

const CAMPAIGN_INTRADAY: &[Column<IntradayRow>] = &[
    Column::Text("campaign_id", |r| Some(&r.campaign_id)),
    Column::Date("date", |r| Some(r.date)),
    Column::Timestamp("as_of_hour", |r| Some(r.as_of_hour)),
    Column::Text("media_source", |r| r.media_source.as_deref()),
    Column::Money("spend_usd", |r| r.spend_usd),
    Column::Text("spend_source", |r| r.spend_source),
    Column::Money("revenue_usd", |r| r.revenue_usd),
    Column::Big("sessions", |r| r.sessions),
    Column::Big("clicks", |r| r.clicks),
    Column::Double("roas", |r| r.roas),
    Column::Timestamp("oldest_input_at", |r| r.oldest_input_at),
    Column::Big("input_age_minutes", |r| r.input_age_minutes),
    Column::Bool("critical_ok", |r| Some(r.critical_ok)),
];

const INTRADAY_INPUTS: &[Column<IntradayInputRow>] = &[
    Column::Date("date", |r| Some(r.date)),
    Column::Timestamp("as_of_hour", |r| Some(r.as_of_hour)),
    Column::Text("endpoint", |r| Some(r.endpoint)),
    Column::Bool("critical", |r| Some(r.critical)),
    Column::Text("status", |r| Some(r.status)),
    Column::Timestamp("newest_fetched_at", |r| Some(r.newest_fetched_at)),
    Column::Text("snapshot_fetch_id", |r| r.snapshot_fetch_id.as_deref()),
    Column::Timestamp("snapshot_fetched_at", |r| r.snapshot_fetched_at),
    Column::Big("snapshot_rows", |r| r.snapshot_rows),
];

const CAMPAIGN_HOURLY: &[Column<HourlySpendRow>] = &[
    Column::Text("campaign_id", |r| Some(&r.campaign_id)),
    Column::Date("date", |r| Some(r.date)),
    Column::Int("hour", |r| Some(i32::from(r.hour))),
    Column::Text("endpoint", |r| Some(r.endpoint)),
    Column::Money("spend_usd", |r| r.spend_usd),
    Column::Big("clicks", |r| r.clicks),
    Column::Big("impressions", |r| r.impressions),
    Column::Big("conversions", |r| r.conversions),
    Column::Text("fetch_id", |r| Some(&r.fetch_id)),
];

const RAW_EVENTS: &[Column<RawEventRow>] = &[
    Column::Text("event_id", |r| Some(&r.event_id)),
    Column::Text("kind", |r| Some(r.kind)),
    Column::Text("source", |r| Some(&r.source)),
    Column::Date("date", |r| Some(r.date)),
    Column::Text("run_id", |r| Some(&r.run_id)),
    Column::Timestamp("fetched_at", |r| Some(r.fetched_at)),
    Column::Text("fetch_id", |r| r.fetch_id.as_deref()),
    Column::Int("attempt", |r| r.attempt),
    Column::Int("page", |r| r.page),
    Column::Int("http_status", |r| r.http_status),
    Column::Text("error", |r| r.error.as_deref()),
    Column::Text("url", |r| r.url.as_deref()),
    Column::Text("body_sha256", |r| r.body_sha256.as_deref()),
    Column::Big("body_len", |r| r.body_len),
    Column::Index("event_index", |r| r.event_index),
];

const ALERT_EVENTS: &[Column<AlertEventRow>] = &[
    Column::Text("event_id", |r| Some(&r.event_id)),
    Column::Date("date", |r| Some(r.date)),
    Column::Text("run_id", |r| Some(&r.run_id)),
    Column::Text("outcome", |r| Some(&r.outcome)),
    Column::Text("rule_name", |r| Some(&r.rule_name)),
    Column::Text("rule_hash", |r| Some(&r.rule_hash)),
    Column::Text("condition", |r| Some(&r.condition)),
    Column::Text("subject", |r| Some(&r.subject)),
    Column::Timestamp("as_of_hour", |r| Some(r.as_of_hour)),
    Column::Timestamp("evaluated_at", |r| Some(r.evaluated_at)),
    Column::Text("message", |r| Some(&r.message)),
    Column::Text("projection_fingerprint", |r| Some(&r.projection_fingerprint)),
    Column::Text("inputs", |r| Some(&r.inputs)),
    Column::Text("evidence", |r| Some(&r.evidence)),
    Column::Text("suppressed_by", |r| r.suppressed_by.as_deref()),
];

const ALERT_DELIVERIES: &[Column<AlertDeliveryRow>] = &[
    Column::Text("event_id", |r| Some(&r.event_id)),
    Column::Text("alert_event_id", |r| Some(&r.alert_event_id)),
    Column::Timestamp("recorded_at", |r| Some(r.recorded_at)),
    Column::Text("run_id", |r| Some(&r.run_id)),
    Column::Text("channel", |r| Some(&r.channel)),
    Column::Bool("delivered", |r| Some(r.delivered)),
    Column::Int("attempts", |r| Some(r.attempts)),
    Column::Int("http_status", |r| r.http_status),
    Column::Text("error", |r| r.error.as_deref()),
];

/// The columns of `campaign_index_runs`, then those `session_ingest_runs` adds.
macro_rules! run_columns {
    ($($more:expr),* $(,)?) => {
        &[
            Column::Text("run_id", |r| Some(&r.run_id)),
            Column::Date("date_from", |r| r.date_from),
            Column::Date("date_to", |r| r.date_to),
            Column::Text("endpoints", |r| Some(&r.endpoints)),
            Column::Timestamp("started_at", |r| r.started_at),
            Column::Timestamp("finished_at", |r| r.finished_at),
            Column::Text("status", |r| Some(&r.status)),
            Column::Big("row_count", |r| Some(r.row_count)),
            Column::Big("events_written", |r| Some(r.events_written)),
            Column::Big("bytes_new", |r| Some(r.bytes_new)),
            Column::Text("message", |r| r.message.as_deref()),
            $($more),*
        ]
    };
}

const CAMPAIGN_INDEX_RUNS: &[Column<RunRow>] = run_columns!();

const SESSION_INGEST_RUNS: &[Column<RunRow>] = run_columns!(
    Column::Int("max_click_hour", |r| r.max_click_hour),
    Column::Big("session_count", |r| r.session_count),
    Column::Big("campaign_count", |r| r.campaign_count),
);

/// What an entry's `source_id` stands for: (table, kind, columns, endpoint, chosen).
type LineageSource = (&'static str, &'static str, Columns, &'static str, bool);

/// A stable id for a lineage source: the first 8 bytes of sha256 of its fields.
fn source_id(source: &LineageSource) -> i64 {
    let (table, kind, columns, endpoint, chosen) = source;
    let digest = Sha256::digest(format!("{table}|{kind}|{columns}|{endpoint}|{chosen}").as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(head)
}

/// The `source_id` of each of a batch of lineage entries. A date's entries name few distinct
/// sources, and neighbours mostly share one, so each source is hashed once and looked up only
/// when it changes.
fn source_ids(
    entries: impl ExactSizeIterator<Item = LineageSource>,
    sources: &mut BTreeMap<i64, LineageSource>,
) -> Vec<i64> {
    let mut ids = Vec::with_capacity(entries.len());
    let mut known: BTreeMap<LineageSource, i64> = BTreeMap::new();
    let mut last: Option<(LineageSource, i64)> = None;
    for source in entries {
        let id = match last {
            Some((seen, id)) if seen == source => id,
            _ => {
                let id = *known.entry(source).or_insert_with(|| {
                    let id = source_id(&source);
                    sources.insert(id, source);
                    id
                });
                last = Some((source, id));
                id
            }
        };
        ids.push(id);
    }
    ids
}

fn lineage_rows(
    rows: Vec<LineageRow>,
    sources: &mut BTreeMap<i64, LineageSource>,
) -> Result<Rows<LineageRow>, DbError> {
    let given = source_ids(
        rows.iter().map(|r| (r.table_name, r.kind, r.columns, r.endpoint, r.chosen)),
        sources,
    );
    Rows::with_given(rows, given, LINEAGE_ENTRIES)
}

fn session_lineage_rows(
    rows: Vec<SessionLineage>,
    sources: &mut BTreeMap<i64, LineageSource>,
) -> Result<Rows<SessionLineage>, DbError> {
    let given = source_ids(
        rows.iter().map(|r| ("session_hourly_metrics", "session", r.columns, "s1_hourly_v3", true)),
        sources,
    );
    Rows::with_given(rows, given, SESSION_LINEAGE)
}

/// Rows a table gathers before one statement writes them: DuckDB's row group. A date brings
/// a table from a few rows to fifty thousand.
const BATCH_ROWS: usize = 122_880;

/// A table's rows not written yet: one segment per date, in order.
struct Batch<R: 'static> {
    rows: Option<Rows<R>>,
    /// Per segment: its date (`None` for rows not fingerprinted per date) and row count.
    dates: Vec<(Option<NaiveDate>, usize)>,
}

/// A [`Batch`] of whichever row type its table has.
trait Pending {
    fn len(&self) -> usize;
    /// Writes the rows, and returns the date, row count and fingerprint of each dated segment.
    fn write(
        &mut self,
        conn: &Connection,
        table: &str,
    ) -> Result<Vec<(NaiveDate, usize, String)>, DbError>;
    fn as_any(&mut self) -> &mut dyn Any;
}

impl<R: Send + Sync + 'static> Pending for Batch<R> {
    fn len(&self) -> usize {
        self.rows.as_ref().map_or(0, Rows::len)
    }

    fn write(
        &mut self,
        conn: &Connection,
        table: &str,
    ) -> Result<Vec<(NaiveDate, usize, String)>, DbError> {
        let (Some(rows), dates) = (self.rows.take(), std::mem::take(&mut self.dates)) else {
            return Ok(Vec::new());
        };
        let fingerprints = crate::store::chunks::insert(conn, table, rows)?;
        if fingerprints.len() != dates.len() {
            return Err(DbError::Value(format!(
                "{} fingerprints for {} dates of {table}",
                fingerprints.len(),
                dates.len()
            )));
        }
        Ok(dates
            .into_iter()
            .zip(fingerprints)
            .filter_map(|((date, count), fingerprint)| Some((date?, count, fingerprint)))
            .collect())
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// A projection being written: begun (the window's rows deleted), fed date by date, finished
/// (runs, bookkeeping, commit). Dropped without `finish`, it rolls back.
pub struct Writer<'c> {
    /// The connection, inside a transaction of the writer's own (`BEGIN` ... `COMMIT`) until
    /// `finish`; dropped unfinished, the writer rolls back.
    conn: &'c Connection,
    open: bool,
    /// Commit each batch of written rows as it goes instead of once at the end: for a fresh
    /// file that no reader sees before it is renamed into place, so that DuckDB need not
    /// hold a whole rebuild as one transaction in memory.
    window: Option<adlake_replay::project::DateWindow>,
    /// Per table, the rows of dates fed but not yet written.
    pending: BTreeMap<&'static str, Box<dyn Pending>>,
    /// How many rows a table's batch gathers before it is written.
    batch_rows: usize,
    fingerprints: Vec<(&'static str, NaiveDate, usize, String)>,
    lineage_sources: BTreeMap<i64, LineageSource>,
}

impl<'c> Writer<'c> {
    pub fn begin(
        conn: &'c mut Connection,
        window: Option<adlake_replay::project::DateWindow>,
    ) -> Result<Self, DbError> {
        // Appends run on the calling thread; DuckDB's worker threads only added scheduling and
        // lock traffic here (about 8% of a reproject's CPU), competing with the projector.
        conn.execute_batch("SET threads = 1").map_err(DbError::query("set threads"))?;
        crate::store::chunks::register(conn)?;
        conn.execute_batch("BEGIN TRANSACTION").map_err(DbError::query("begin projection"))?;
        let tx: &Connection = conn;
        match window {
            None => {
                for t in TABLES.iter().chain(&[
                    "projection_fingerprints",
                    "campaign_identity",
                    "projected_dates",
                    "lineage_sources",
                ]) {
                    tx.execute_batch(&format!("DELETE FROM {t}"))
                        .map_err(DbError::query(format!("clear {t}")))?;
                }
            }
            Some(w) => {
                let (from, to) = (w.from.to_string(), w.to.to_string());
                for t in DATED.iter().chain(&[
                    "projection_fingerprints",
                    "campaign_identity",
                    "projected_dates",
                ]) {
                    tx.execute(&format!("DELETE FROM {t} WHERE date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)"), params![from, to])
                        .map_err(DbError::query(format!("replace {t}")))?;
                }
                tx.execute("DELETE FROM raw_events WHERE kind = 'run' OR date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)", params![from, to])
                    .map_err(DbError::query("replace raw_events"))?;
            }
        }
        Ok(Writer {
            conn: tx,
            open: true,
            window,
            pending: BTreeMap::new(),
            batch_rows: BATCH_ROWS,
            fingerprints: Vec::new(),
            lineage_sources: BTreeMap::new(),
        })
    }

    fn append<R: Send + Sync + 'static>(
        &mut self,
        table: &'static str,
        rows: Rows<R>,
    ) -> Result<(), DbError> {
        self.gather(table, None, rows)
    }

    /// Appends `rows` as `table`'s rows of `date`, whose fingerprint is remembered when they
    /// are written.
    fn append_dated<R: Send + Sync + 'static>(
        &mut self,
        table: &'static str,
        date: NaiveDate,
        rows: Rows<R>,
    ) -> Result<(), DbError> {
        self.gather(table, Some(date), rows)
    }

    /// Adds `rows` (one segment, or none) to `table`'s batch, and writes the batch once it
    /// holds a row group.
    fn gather<R: Send + Sync + 'static>(
        &mut self,
        table: &'static str,
        date: Option<NaiveDate>,
        rows: Rows<R>,
    ) -> Result<(), DbError> {
        if rows.is_empty() {
            return Ok(());
        }
        if rows.segments() != 1 {
            return Err(DbError::Value(format!(
                "{} segments of {table} for one date",
                rows.segments()
            )));
        }
        let pending = self
            .pending
            .entry(table)
            .or_insert_with(|| Box::new(Batch::<R> { rows: None, dates: Vec::new() }));
        let batch = pending
            .as_any()
            .downcast_mut::<Batch<R>>()
            .ok_or_else(|| DbError::Value(format!("rows of another type for {table}")))?;
        batch.dates.push((date, rows.len()));
        match &mut batch.rows {
            Some(all) => all.append(rows),
            none => *none = Some(rows),
        }
        if pending.len() >= self.batch_rows {
            self.write_pending(table)?;
        }
        Ok(())
    }

    fn write_pending(&mut self, table: &'static str) -> Result<(), DbError> {
        let Some(pending) = self.pending.get_mut(table) else { return Ok(()) };
        for (date, count, fingerprint) in pending.write(self.conn, table)? {
            self.fingerprints.push((table, date, count, fingerprint));
        }
        Ok(())
    }

    /// Writes one date's rows (all of them of that date).
    pub fn day(&mut self, d: DayProjection) -> Result<(), DbError> {
        let Some(date) = d.date else { return Ok(()) };
        self.append_dated(
            "campaign_index",
            date,
            Rows::new(d.tables.campaign_index, CAMPAIGN_INDEX),
        )?;
        self.append_dated(
            "session_hourly_metrics",
            date,
            Rows::new(d.tables.session_hourly, SESSION_HOURLY_METRICS),
        )?;
        self.append_dated(
            "endpoint_completeness",
            date,
            Rows::new(d.tables.completeness, ENDPOINT_COMPLETENESS),
        )?;
        let lineage = lineage_rows(d.tables.lineage, &mut self.lineage_sources)?;
        self.append_dated("lineage_entries", date, lineage)?;
        let session_lineage =
            session_lineage_rows(d.tables.session_lineage, &mut self.lineage_sources)?;
        self.append_dated("session_lineage", date, session_lineage)?;
        self.append_dated("quarantine", date, Rows::new(d.tables.quarantine, QUARANTINE))?;
        self.append_dated(
            "campaign_intraday",
            date,
            Rows::new(d.tables.intraday, CAMPAIGN_INTRADAY),
        )?;
        self.append_dated(
            "intraday_inputs",
            date,
            Rows::new(d.tables.intraday_inputs, INTRADAY_INPUTS),
        )?;
        self.append_dated(
            "campaign_hourly",
            date,
            Rows::new(d.tables.campaign_hourly, CAMPAIGN_HOURLY),
        )?;
        self.append("raw_events", Rows::new(d.tables.raw_events, RAW_EVENTS))
    }

    /// Replaces the alert tables with the rows of every alert event of the lake.
    pub fn alerts(&mut self, tables: AlertTables) -> Result<(), DbError> {
        for t in ALERT_TABLES {
            self.conn
                .execute_batch(&format!("DELETE FROM {t}"))
                .map_err(DbError::query(format!("replace {t}")))?;
        }
        self.append("alert_events", Rows::new(tables.events, ALERT_EVENTS))?;
        self.append("alert_deliveries", Rows::new(tables.deliveries, ALERT_DELIVERIES))
    }

    /// Records what the window's dates leave for later projections: identity pairs first seen
    /// on them, and each date's chain fingerprint of events.
    pub fn carry(
        &self,
        carry: &Carry,
        chains: &BTreeMap<NaiveDate, String>,
    ) -> Result<(), DbError> {
        let in_window = |d: NaiveDate| self.window.is_none_or(|w| w.contains(d));
        let mut a = self
            .conn
            .appender("campaign_identity")
            .map_err(DbError::query("appender campaign_identity"))?;
        for (pid, by_date) in &carry.identity {
            for (date, sids) in by_date.iter().filter(|(d, _)| in_window(**d)) {
                for sid in sids {
                    a.append_row(params![pid, date.to_string(), sid])
                        .map_err(DbError::query("append campaign_identity"))?;
                }
            }
        }
        a.flush().map_err(DbError::query("flush campaign_identity"))?;
        drop(a);
        let mut a = self
            .conn
            .appender("projected_dates")
            .map_err(DbError::query("appender projected_dates"))?;
        for (date, chain) in chains.iter().filter(|(d, _)| in_window(**d)) {
            a.append_row(params![date.to_string(), chain])
                .map_err(DbError::query("append projected_dates"))?;
        }
        a.flush().map_err(DbError::query("flush projected_dates"))
    }

    /// Writes the runs and the run markers' raw_events rows, the bookkeeping, and commits.
    pub fn finish(
        mut self,
        campaign_runs: &[RunRow],
        session_runs: &[RunRow],
        marker_rows: &[RawEventRow],
        events_applied: &[adlake_raw::EventId],
    ) -> Result<(), DbError> {
        for run in campaign_runs.iter().chain(session_runs) {
            for t in ["campaign_index_runs", "session_ingest_runs"] {
                self.conn
                    .execute(&format!("DELETE FROM {t} WHERE run_id = ?"), params![run.run_id])
                    .map_err(DbError::query(format!("replace {t}")))?;
            }
        }
        self.append("campaign_index_runs", Rows::new(campaign_runs.to_vec(), CAMPAIGN_INDEX_RUNS))?;
        self.append("session_ingest_runs", Rows::new(session_runs.to_vec(), SESSION_INGEST_RUNS))?;
        self.append("raw_events", Rows::new(marker_rows.to_vec(), RAW_EVENTS))?;
        let tables: Vec<&'static str> = self.pending.keys().copied().collect();
        for table in tables {
            self.write_pending(table)?;
        }
        // In the order writing one date at a time gives, wherever the batches ended.
        self.fingerprints
            .sort_by_key(|&(table, date, ..)| (date, DATED.iter().position(|t| *t == table)));
        let tx = self.conn;

        // The sources a window projection shares with dates outside it are there already. One
        // read and one appender: a statement per source cost a one-day projection a tenth of
        // its time.
        let known: BTreeSet<i64> = {
            let mut stmt = tx
                .prepare("SELECT source_id FROM lineage_sources")
                .map_err(DbError::query("read lineage_sources"))?;
            let ids = stmt
                .query_map([], |r| r.get::<_, i64>(0))
                .map_err(DbError::query("read lineage_sources"))?;
            ids.collect::<Result<_, _>>().map_err(DbError::query("read lineage_sources"))?
        };
        let mut a =
            tx.appender("lineage_sources").map_err(DbError::query("appender lineage_sources"))?;
        for (id, (table, kind, columns, endpoint, chosen)) in
            self.lineage_sources.iter().filter(|(id, _)| !known.contains(id))
        {
            a.append_row(params![id, table, kind, columns.to_string(), endpoint, chosen])
                .map_err(DbError::query("append lineage_sources"))?;
        }
        a.flush().map_err(DbError::query("flush lineage_sources"))?;
        drop(a);
        tx.execute_batch("DELETE FROM lineage_rules")
            .map_err(DbError::query("clear lineage_rules"))?;
        let mut a =
            tx.appender("lineage_rules").map_err(DbError::query("appender lineage_rules"))?;
        for (kind, column, rule) in LINEAGE_RULES {
            a.append_row(params![kind, column, rule])
                .map_err(DbError::query("append lineage_rules"))?;
        }
        a.flush().map_err(DbError::query("flush lineage_rules"))?;
        drop(a);

        let mut a = tx
            .appender("projection_fingerprints")
            .map_err(DbError::query("appender projection_fingerprints"))?;
        for (table, date, rows, fingerprint) in &self.fingerprints {
            a.append_row(params![table, date.to_string(), *rows as i64, fingerprint])
                .map_err(DbError::query("append projection_fingerprints"))?;
        }
        a.flush().map_err(DbError::query("flush projection_fingerprints"))?;
        drop(a);

        let events_fingerprint = {
            let mut h = Sha256::new();
            for id in events_applied {
                h.update(id.as_bytes());
            }
            hex::encode(h.finalize())
        };
        let mut meta: Vec<(String, String)> = vec![
            ("projector_version".into(), PROJECTOR_VERSION.into()),
            (
                "last_projection".into(),
                match self.window {
                    None => "full".into(),
                    Some(w) => format!("{}..{}", w.from, w.to),
                },
            ),
            ("last_events_fingerprint".into(), events_fingerprint),
            ("last_events_count".into(), events_applied.len().to_string()),
        ];
        for t in DATED {
            let sql = "SELECT coalesce(sha256(string_agg(CAST(date AS VARCHAR) || ' ' || row_count || ' ' || fingerprint, chr(10) ORDER BY date)), '') FROM projection_fingerprints WHERE table_name = ?";
            let fp: String = tx
                .query_row(sql, params![t], |r| r.get(0))
                .map_err(DbError::query(format!("fingerprint {t}")))?;
            meta.push((format!("fingerprint.{t}"), fp));
        }
        for t in UNDATED {
            meta.push((format!("fingerprint.{t}"), table_fingerprint(tx, t)?));
        }
        tx.execute_batch("DELETE FROM projection_meta")
            .map_err(DbError::query("clear projection_meta"))?;
        let mut a =
            tx.appender("projection_meta").map_err(DbError::query("appender projection_meta"))?;
        for (k, v) in meta {
            a.append_row(params![k, v]).map_err(DbError::query("append projection_meta"))?;
        }
        a.flush().map_err(DbError::query("flush projection_meta"))?;
        drop(a);
        self.conn.execute_batch("COMMIT").map_err(DbError::query("commit projection"))?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if self.open {
            // Unfinished: what it wrote goes. An error here leaves nothing worse: the
            // connection is being given up with the failed projection.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// Splits rows by date, keeping their order.
fn by_date<T: Clone>(rows: &[T], date: impl Fn(&T) -> NaiveDate) -> BTreeMap<NaiveDate, Vec<T>> {
    let mut out: BTreeMap<NaiveDate, Vec<T>> = BTreeMap::new();
    for r in rows {
        out.entry(date(r)).or_default().push(r.clone());
    }
    out
}

/// Writes a whole in-memory projection: its window's dates are replaced (or every table, for
/// a full projection). The same rows and fingerprints as writing it date by date.
pub fn write(conn: &mut Connection, p: &Projection) -> Result<(), DbError> {
    write_in_batches(conn, p, BATCH_ROWS)
}

/// [`write`], with a table's rows written whenever its batch holds `batch_rows` (1: each
/// date's rows on their own).
pub(crate) fn write_in_batches(
    conn: &mut Connection,
    p: &Projection,
    batch_rows: usize,
) -> Result<(), DbError> {
    let mut w = Writer::begin(conn, p.window)?;
    w.batch_rows = batch_rows;
    for (date, rows) in by_date(&p.tables.campaign_index, |r| r.date) {
        w.append_dated("campaign_index", date, Rows::new(rows, CAMPAIGN_INDEX))?;
    }
    for (date, rows) in by_date(&p.tables.session_hourly, |r| r.date) {
        w.append_dated("session_hourly_metrics", date, Rows::new(rows, SESSION_HOURLY_METRICS))?;
    }
    for (date, rows) in by_date(&p.tables.completeness, |r| r.date) {
        w.append_dated("endpoint_completeness", date, Rows::new(rows, ENDPOINT_COMPLETENESS))?;
    }
    for (date, rows) in by_date(&p.tables.lineage, |r| r.date) {
        let lineage = lineage_rows(rows, &mut w.lineage_sources)?;
        w.append_dated("lineage_entries", date, lineage)?;
    }
    for (date, rows) in by_date(&p.tables.session_lineage, |r| r.date) {
        let lineage = session_lineage_rows(rows, &mut w.lineage_sources)?;
        w.append_dated("session_lineage", date, lineage)?;
    }
    for (date, rows) in by_date(&p.tables.quarantine, |r| r.date) {
        w.append_dated("quarantine", date, Rows::new(rows, QUARANTINE))?;
    }
    for (date, rows) in by_date(&p.tables.intraday, |r| r.date) {
        w.append_dated("campaign_intraday", date, Rows::new(rows, CAMPAIGN_INTRADAY))?;
    }
    for (date, rows) in by_date(&p.tables.intraday_inputs, |r| r.date) {
        w.append_dated("intraday_inputs", date, Rows::new(rows, INTRADAY_INPUTS))?;
    }
    for (date, rows) in by_date(&p.tables.campaign_hourly, |r| r.date) {
        w.append_dated("campaign_hourly", date, Rows::new(rows, CAMPAIGN_HOURLY))?;
    }
    let (markers, http): (Vec<RawEventRow>, Vec<RawEventRow>) =
        p.tables.raw_events.iter().cloned().partition(|r| r.kind == "run");
    w.append("raw_events", Rows::new(http, RAW_EVENTS))?;
    w.finish(&p.campaign_runs, &p.session_runs, &markers, &p.events_applied)
}

/// Adds the rows of alert events just written to the lake, in one transaction, and updates
/// the alert tables' fingerprints: the database stays equal to a projection of the lake.
pub fn append_alert_rows(
    conn: &mut Connection,
    events: Vec<AlertEventRow>,
    deliveries: Vec<AlertDeliveryRow>,
) -> Result<(), DbError> {
    crate::store::chunks::register(conn)?;
    let tx = conn.transaction().map_err(DbError::query("begin alert rows"))?;
    crate::store::chunks::insert(&tx, "alert_events", Rows::new(events, ALERT_EVENTS))?;
    crate::store::chunks::insert(&tx, "alert_deliveries", Rows::new(deliveries, ALERT_DELIVERIES))?;
    for t in ALERT_TABLES {
        let key = format!("fingerprint.{t}");
        tx.execute("DELETE FROM projection_meta WHERE key = ?", params![key])
            .map_err(DbError::query("update projection_meta"))?;
        tx.execute(
            "INSERT INTO projection_meta VALUES (?, ?)",
            params![key, table_fingerprint(&tx, t)?],
        )
        .map_err(DbError::query("update projection_meta"))?;
    }
    tx.commit().map_err(DbError::query("commit alert rows"))
}

/// sha256 over the table's rows as text, in a total order: equal fingerprints mean equal
/// contents, whatever order rows were written in. Reads every row: for tests and audits.
pub fn table_fingerprint(conn: &Connection, table: &str) -> Result<String, DbError> {
    let sql = format!("SELECT coalesce(sha256(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR))), '') FROM {table} AS t");
    conn.query_row(&sql, [], |r| r.get::<_, String>(0))
        .map_err(DbError::query(format!("fingerprint {table}")))
}

#[cfg(test)]
#[path = "write_tests.rs"]
mod tests;
