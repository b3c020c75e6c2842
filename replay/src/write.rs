//! The DuckDB writer: replaces a projection's dates (or everything) in one transaction, then
//! records `projection_meta`. A reader, or a crash, sees the old rows or the new rows, never a
//! mix. One thread owns the connection.
//!
//! Rows go in as Arrow record batches, one per (table, date), through the Appender: DuckDB
//! copies whole columns instead of binding one value at a time. Each batch is hashed as it is
//! written; those per-date fingerprints (`projection_fingerprints`) are what the table
//! fingerprints in `projection_meta` combine, so an incremental projection re-hashes only the
//! dates it rewrote.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::arrow::array::{Array, ArrayData, ArrayRef, BooleanBuilder, Decimal128Builder, Int32Array, Int32Builder, Int64Builder, PrimitiveBuilder, StringBuilder};
use duckdb::arrow::datatypes::{ArrowPrimitiveType, Date32Type, Field, Float64Type, Int32Type, Int64Type, Schema, TimestampMicrosecondType};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::{params, Connection, Transaction};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::columns::Columns;
use crate::db::DbError;
use crate::decode::Locator;
use crate::project::{CampaignRow, Carry, CompletenessRow, DayProjection, HourRow, LineageRow, Projection, QuarantineRow, RawEventRow, RunRow, SessionLineage, LINEAGE_RULES, PROJECTOR_VERSION};

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
];

/// Tables fingerprinted per date as they are written.
const DATED: &[&str] = &["campaign_index", "session_hourly_metrics", "endpoint_completeness", "lineage_entries", "session_lineage", "quarantine"];

/// Tables small enough to fingerprint in SQL after writing.
const UNDATED: &[&str] = &["campaign_index_runs", "session_ingest_runs"];

fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// DECIMAL(18, 6) as its scaled integer: rounded half-even at 6 places (money is exact well
/// below that).
fn money(v: Option<Decimal>) -> Result<Option<i128>, DbError> {
    let Some(d) = v else { return Ok(None) };
    // Rounding is a no-op at 6 places or fewer, and most values have 2.
    let d = if d.scale() > 6 { d.round_dp(6) } else { d };
    let scaled = d.mantissa() * 10i128.pow(6 - d.scale().min(6));
    if scaled.abs() >= 10i128.pow(18) {
        return Err(DbError::Value(format!("decimal {d} does not fit DECIMAL(18,6)")));
    }
    Ok(Some(scaled))
}

/// Column builders for one batch, named as the table's columns in order.
struct Batch {
    fields: Vec<Field>,
    columns: Vec<ArrayRef>,
}

impl Batch {
    fn new() -> Self {
        Batch { fields: Vec::new(), columns: Vec::new() }
    }

    fn push(mut self, name: &str, array: ArrayRef) -> Self {
        self.fields.push(Field::new(name, array.data_type().clone(), true));
        self.columns.push(array);
        self
    }

    fn text<'a, T: 'a>(self, name: &str, rows: &[&'a T], f: impl Fn(&'a T) -> Option<&'a str>) -> Self {
        // Sized exactly: growing the value buffer copies it, and columns run to megabytes.
        let bytes = rows.iter().map(|r| f(r).map_or(0, str::len)).sum();
        let mut b = StringBuilder::with_capacity(rows.len(), bytes);
        for r in rows {
            b.append_option(f(r));
        }
        self.push(name, Arc::new(b.finish()))
    }

    /// Row locators, printed straight into the column's buffer.
    fn locators<'a, T: 'a>(self, name: &str, rows: &[&'a T], f: impl Fn(&'a T) -> &'a Locator) -> Self {
        use std::fmt::Write;
        let bytes = rows.iter().map(|r| f(r).len()).sum();
        let mut b = StringBuilder::with_capacity(rows.len(), bytes);
        for r in rows {
            // Writing to a StringBuilder cannot fail.
            let _ = write!(b, "{}", f(r));
            b.append_value("");
        }
        self.push(name, Arc::new(b.finish()))
    }

    /// A column of a primitive Arrow type, one value (or null) per row.
    fn primitive<T, P: ArrowPrimitiveType>(self, name: &str, rows: &[&T], f: impl Fn(&T) -> Option<P::Native>) -> Self {
        let mut b = PrimitiveBuilder::<P>::with_capacity(rows.len());
        for r in rows {
            b.append_option(f(r));
        }
        self.push(name, Arc::new(b.finish()))
    }

    fn date<T>(self, name: &str, rows: &[&T], f: impl Fn(&T) -> Option<NaiveDate>) -> Self {
        self.primitive::<T, Date32Type>(name, rows, |r| f(r).map(days_since_epoch))
    }

    fn ts<T>(self, name: &str, rows: &[&T], f: impl Fn(&T) -> Option<DateTime<Utc>>) -> Self {
        self.primitive::<T, TimestampMicrosecondType>(name, rows, |r| f(r).map(micros))
    }

    fn big<T>(self, name: &str, rows: &[&T], f: impl Fn(&T) -> Option<i64>) -> Self {
        self.primitive::<T, Int64Type>(name, rows, f)
    }

    fn int<T>(self, name: &str, rows: &[&T], f: impl Fn(&T) -> Option<i32>) -> Self {
        self.primitive::<T, Int32Type>(name, rows, f)
    }

    fn double<T>(self, name: &str, rows: &[&T], f: impl Fn(&T) -> Option<f64>) -> Self {
        self.primitive::<T, Float64Type>(name, rows, f)
    }

    fn boolean<T>(self, name: &str, rows: &[&T], f: impl Fn(&T) -> Option<bool>) -> Self {
        let mut b = BooleanBuilder::with_capacity(rows.len());
        for r in rows {
            b.append_option(f(r));
        }
        self.push(name, Arc::new(b.finish()))
    }

    fn money<T>(self, name: &str, rows: &[&T], f: impl Fn(&T) -> Option<Decimal>) -> Result<Self, DbError> {
        let mut b = Decimal128Builder::with_capacity(rows.len());
        for r in rows {
            b.append_option(money(f(r))?);
        }
        let array = b.finish().with_precision_and_scale(18, 6).map_err(|e| DbError::Value(format!("{name}: {e}")))?;
        Ok(self.push(name, Arc::new(array)))
    }

    fn finish(self) -> Result<RecordBatch, DbError> {
        RecordBatch::try_new(Arc::new(Schema::new(self.fields)), self.columns).map_err(|e| DbError::Value(format!("record batch: {e}")))
    }
}

fn hash_array_data(h: &mut Sha256, data: &ArrayData) {
    h.update((data.len() as u64).to_le_bytes());
    h.update((data.offset() as u64).to_le_bytes());
    if let Some(nulls) = data.nulls() {
        let flags: Vec<u8> = (0..data.len()).map(|i| u8::from(nulls.is_null(i))).collect();
        h.update(&flags);
    }
    for buffer in data.buffers() {
        h.update((buffer.len() as u64).to_le_bytes());
        h.update(buffer.as_slice());
    }
    for child in data.child_data() {
        hash_array_data(h, child);
    }
}

/// sha256 over every column of `batch`: equal for equal rows in equal order.
fn batch_fingerprint(batch: &RecordBatch) -> String {
    let mut h = Sha256::new();
    for column in batch.columns() {
        hash_array_data(&mut h, &column.to_data());
    }
    hex::encode(h.finalize())
}

fn campaign_batch(rows: &[&CampaignRow]) -> Result<RecordBatch, DbError> {
    Batch::new()
        .text("campaign_id", rows, |r| Some(&r.campaign_id))
        .date("date", rows, |r| Some(r.date))
        .text("level", rows, |r| Some(r.level))
        .text("snapshot_source", rows, |r| Some(r.snapshot_source))
        .text("adset_id", rows, |r| r.adset_id.as_deref())
        .text("adset_name", rows, |r| r.adset_name.as_deref())
        .text("campaign_name", rows, |r| r.campaign_name.as_deref())
        .text("owner", rows, |r| r.owner.as_deref())
        .text("lane", rows, |r| r.lane.as_deref())
        .text("category", rows, |r| r.category.as_deref())
        .text("media_source", rows, |r| r.media_source.as_deref())
        .text("network_id", rows, |r| r.network_id.as_deref())
        .text("account_id", rows, |r| r.account_id.as_deref())
        .text("rsoc_site", rows, |r| r.rsoc_site.as_deref())
        .text("platform_campaign_id", rows, |r| r.platform_campaign_id.as_deref())
        .money("spend_usd", rows, |r| r.spend_usd)?
        .text("spend_source", rows, |r| r.spend_source.as_deref())
        .money("revenue_usd", rows, |r| r.revenue_usd)?
        .big("sessions", rows, |r| r.sessions)
        .big("s1_clicks", rows, |r| r.s1_clicks)
        .big("clicks", rows, |r| r.clicks)
        .big("impressions", rows, |r| r.impressions)
        .big("conversions", rows, |r| r.conversions)
        .double("roas", rows, |r| r.roas)
        .money("avg_rpc_3d", rows, |r| r.avg_rpc_3d)?
        .boolean("unmapped", rows, |r| Some(r.unmapped))
        .ts("updated_at", rows, |r| r.updated_at)
        .finish()
}

fn session_batch(rows: &[&HourRow]) -> Result<RecordBatch, DbError> {
    Batch::new()
        .text("campaign_id", rows, |r| Some(r.campaign_id.as_ref()))
        .date("date", rows, |r| Some(r.date))
        .int("click_hour", rows, |r| Some(i32::from(r.click_hour)))
        .big("sessions", rows, |r| r.sessions)
        .money("revenue", rows, |r| r.revenue)?
        .money("rpc", rows, |r| r.rpc)?
        .text("owner", rows, |r| r.owner())
        .text("lane", rows, |r| r.lane())
        .text("category", rows, |r| r.category())
        .text("media_source", rows, |r| r.media_source())
        .ts("updated_at", rows, |r| r.updated_at)
        .finish()
}

fn completeness_batch(rows: &[&CompletenessRow]) -> Result<RecordBatch, DbError> {
    Batch::new()
        .date("date", rows, |r| Some(r.date))
        .text("endpoint", rows, |r| Some(r.endpoint))
        .text("platform", rows, |r| Some(r.platform))
        .boolean("critical", rows, |r| Some(r.critical))
        .text("status", rows, |r| Some(r.status))
        .big("row_count", rows, |r| r.row_count)
        .boolean("has_revenue", rows, |r| r.has_revenue)
        .boolean("has_spend", rows, |r| r.has_spend)
        .text("error_message", rows, |r| r.error_message.as_deref())
        .int("retry_count", rows, |r| Some(r.retry_count))
        .int("http_status", rows, |r| r.http_status)
        .text("run_id", rows, |r| Some(&r.run_id))
        .ts("started_at", rows, |r| Some(r.started_at))
        .ts("finished_at", rows, |r| Some(r.finished_at))
        .ts("last_success_at", rows, |r| r.last_success_at)
        .double("expected_min_rows", rows, |r| r.expected_min_rows)
        .finish()
}

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

/// An event's place in its date as the INTEGER the lineage tables and `raw_events` store.
fn sql_event_index(index: u32) -> Result<i32, DbError> {
    i32::try_from(index).map_err(|_| DbError::Value(format!("event index {index} does not fit INTEGER")))
}

/// The `source_id` and `event_index` columns of a batch of lineage entries. A date's entries
/// name few distinct sources, and neighbours mostly share one, so each source is hashed once
/// and looked up only when it changes.
fn lineage_refs(rows: impl ExactSizeIterator<Item = (LineageSource, u32)>, sources: &mut BTreeMap<i64, LineageSource>) -> Result<(ArrayRef, ArrayRef), DbError> {
    let mut events = Int32Builder::with_capacity(rows.len());
    let mut source_ids: BTreeMap<LineageSource, i64> = BTreeMap::new();
    let mut source_column = Int64Builder::with_capacity(rows.len());
    let mut last_source: Option<(LineageSource, i64)> = None;
    for (source, event_index) in rows {
        events.append_value(sql_event_index(event_index)?);
        let id = match last_source {
            Some((seen, id)) if seen == source => id,
            _ => {
                let id = *source_ids.entry(source).or_insert_with(|| {
                    let id = source_id(&source);
                    sources.insert(id, source);
                    id
                });
                last_source = Some((source, id));
                id
            }
        };
        source_column.append_value(id);
    }
    Ok((Arc::new(source_column.finish()), Arc::new(events.finish())))
}

fn lineage_batch(rows: &[&LineageRow], sources: &mut BTreeMap<i64, LineageSource>) -> Result<RecordBatch, DbError> {
    let (source_ids, event_indexes) = lineage_refs(rows.iter().map(|r| ((r.table_name, r.kind, r.columns, r.endpoint, r.chosen), r.event_index)), sources)?;
    Batch::new()
        .date("date", rows, |r| Some(r.date))
        .push("source_id", source_ids)
        .text("row_key", rows, |r| Some(&r.row_key))
        .push("event_index", event_indexes)
        .locators("locator", rows, |r| &r.locator)
        .text("value", rows, |r| r.value.as_deref())
        .finish()
}

fn session_lineage_batch(rows: &[&SessionLineage], sources: &mut BTreeMap<i64, LineageSource>) -> Result<RecordBatch, DbError> {
    let (source_ids, event_indexes) = lineage_refs(rows.iter().map(|r| (("session_hourly_metrics", "session", r.columns, "s1_hourly_v3", true), r.event_index)), sources)?;
    Batch::new()
        .date("date", rows, |r| Some(r.date))
        .push("source_id", source_ids)
        .text("campaign_id", rows, |r| Some(&r.campaign_id))
        .int("hour_from", rows, |r| Some(i32::from(r.hour_from)))
        .int("hour_to", rows, |r| Some(i32::from(r.hour_to)))
        .push("event_index", event_indexes)
        .text("locator_prefix", rows, |r| Some(&r.locator_prefix))
        .big("index_from", rows, |r| r.index_from.map(i64::from))
        .finish()
}

fn quarantine_batch(rows: &[&QuarantineRow]) -> Result<RecordBatch, DbError> {
    Batch::new()
        .text("event_id", rows, |r| Some(&r.event_id))
        .text("endpoint", rows, |r| Some(&r.endpoint))
        .date("date", rows, |r| Some(r.date))
        .text("body_sha256", rows, |r| r.body_sha256.as_deref())
        .text("error", rows, |r| Some(&r.error))
        .finish()
}

fn raw_events_batch(rows: &[&RawEventRow]) -> Result<RecordBatch, DbError> {
    let event_indexes: Vec<Option<i32>> = rows.iter().map(|r| r.event_index.map(sql_event_index).transpose()).collect::<Result<_, _>>()?;
    Batch::new()
        .text("event_id", rows, |r| Some(&r.event_id))
        .text("kind", rows, |r| Some(r.kind))
        .text("source", rows, |r| Some(&r.source))
        .date("date", rows, |r| Some(r.date))
        .text("run_id", rows, |r| Some(&r.run_id))
        .ts("fetched_at", rows, |r| Some(r.fetched_at))
        .text("fetch_id", rows, |r| r.fetch_id.as_deref())
        .int("attempt", rows, |r| r.attempt)
        .int("page", rows, |r| r.page)
        .int("http_status", rows, |r| r.http_status)
        .text("error", rows, |r| r.error.as_deref())
        .text("url", rows, |r| r.url.as_deref())
        .text("body_sha256", rows, |r| r.body_sha256.as_deref())
        .big("body_len", rows, |r| r.body_len)
        .push("event_index", Arc::new(Int32Array::from(event_indexes)))
        .finish()
}

fn runs_batch(rows: &[&RunRow], session: bool) -> Result<RecordBatch, DbError> {
    let b = Batch::new()
        .text("run_id", rows, |r| Some(&r.run_id))
        .date("date_from", rows, |r| r.date_from)
        .date("date_to", rows, |r| r.date_to)
        .text("endpoints", rows, |r| Some(&r.endpoints))
        .ts("started_at", rows, |r| r.started_at)
        .ts("finished_at", rows, |r| r.finished_at)
        .text("status", rows, |r| Some(&r.status))
        .big("row_count", rows, |r| Some(r.row_count))
        .big("events_written", rows, |r| Some(r.events_written))
        .big("bytes_new", rows, |r| Some(r.bytes_new))
        .text("message", rows, |r| r.message.as_deref());
    if session {
        b.int("max_click_hour", rows, |r| r.max_click_hour)
            .big("session_count", rows, |r| r.session_count)
            .big("campaign_count", rows, |r| r.campaign_count)
            .finish()
    } else {
        b.finish()
    }
}

/// A projection being written: begun (the window's rows deleted), fed date by date, finished
/// (runs, bookkeeping, commit). Dropped without `finish`, it rolls back.
pub struct Writer<'c> {
    tx: Transaction<'c>,
    window: Option<crate::project::DateWindow>,
    fingerprints: Vec<(&'static str, NaiveDate, usize, String)>,
    lineage_sources: BTreeMap<i64, LineageSource>,
}

impl<'c> Writer<'c> {
    pub fn begin(conn: &'c mut Connection, window: Option<crate::project::DateWindow>) -> Result<Self, DbError> {
        // Appends run on the calling thread; DuckDB's worker threads only added scheduling and
        // lock traffic here (about 8% of a reproject's CPU), competing with the projector.
        conn.execute_batch("SET threads = 1").map_err(DbError::query("set threads"))?;
        let tx = conn.transaction().map_err(DbError::query("begin projection"))?;
        match window {
            None => {
                for t in TABLES.iter().chain(&["projection_fingerprints", "campaign_identity", "projected_dates", "lineage_sources"]) {
                    tx.execute_batch(&format!("DELETE FROM {t}")).map_err(DbError::query(format!("clear {t}")))?;
                }
            }
            Some(w) => {
                let (from, to) = (w.from.to_string(), w.to.to_string());
                for t in DATED.iter().chain(&["projection_fingerprints", "campaign_identity", "projected_dates"]) {
                    tx.execute(&format!("DELETE FROM {t} WHERE date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)"), params![from, to])
                        .map_err(DbError::query(format!("replace {t}")))?;
                }
                tx.execute("DELETE FROM raw_events WHERE kind = 'run' OR date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)", params![from, to])
                    .map_err(DbError::query("replace raw_events"))?;
            }
        }
        Ok(Writer { tx, window, fingerprints: Vec::new(), lineage_sources: BTreeMap::new() })
    }

    fn append(&self, table: &str, batch: RecordBatch) -> Result<(), DbError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut a = self.tx.appender(table).map_err(DbError::query(format!("appender {table}")))?;
        a.append_record_batch(batch).map_err(DbError::query(format!("append {table}")))?;
        a.flush().map_err(DbError::query(format!("flush {table}")))
    }

    /// Appends `batch` as `table`'s rows of `date`, and remembers its fingerprint.
    fn append_dated(&mut self, table: &'static str, date: NaiveDate, batch: RecordBatch) -> Result<(), DbError> {
        if batch.num_rows() > 0 {
            self.fingerprints.push((table, date, batch.num_rows(), batch_fingerprint(&batch)));
        }
        self.append(table, batch)
    }

    /// Writes one date's rows (all of them of that date).
    pub fn day(&mut self, d: &DayProjection) -> Result<(), DbError> {
        let Some(date) = d.date else { return Ok(()) };
        self.append_dated("campaign_index", date, campaign_batch(&d.campaign_index.iter().collect::<Vec<_>>())?)?;
        self.append_dated("session_hourly_metrics", date, session_batch(&d.session_hourly.iter().collect::<Vec<_>>())?)?;
        self.append_dated("endpoint_completeness", date, completeness_batch(&d.completeness.iter().collect::<Vec<_>>())?)?;
        let lineage = lineage_batch(&d.lineage.iter().collect::<Vec<_>>(), &mut self.lineage_sources)?;
        self.append_dated("lineage_entries", date, lineage)?;
        let session_lineage = session_lineage_batch(&d.session_lineage.iter().collect::<Vec<_>>(), &mut self.lineage_sources)?;
        self.append_dated("session_lineage", date, session_lineage)?;
        self.append_dated("quarantine", date, quarantine_batch(&d.quarantine.iter().collect::<Vec<_>>())?)?;
        self.append("raw_events", raw_events_batch(&d.raw_events.iter().collect::<Vec<_>>())?)
    }

    /// Records what the window's dates leave for later projections: identity pairs first seen
    /// on them, and each date's chain fingerprint of events.
    pub fn carry(&self, carry: &Carry, chains: &BTreeMap<NaiveDate, String>) -> Result<(), DbError> {
        let in_window = |d: NaiveDate| self.window.is_none_or(|w| w.contains(d));
        let mut a = self.tx.appender("campaign_identity").map_err(DbError::query("appender campaign_identity"))?;
        for (pid, by_date) in &carry.identity {
            for (date, sids) in by_date.iter().filter(|(d, _)| in_window(**d)) {
                for sid in sids {
                    a.append_row(params![pid, date.to_string(), sid]).map_err(DbError::query("append campaign_identity"))?;
                }
            }
        }
        a.flush().map_err(DbError::query("flush campaign_identity"))?;
        drop(a);
        let mut a = self.tx.appender("projected_dates").map_err(DbError::query("appender projected_dates"))?;
        for (date, chain) in chains.iter().filter(|(d, _)| in_window(**d)) {
            a.append_row(params![date.to_string(), chain]).map_err(DbError::query("append projected_dates"))?;
        }
        a.flush().map_err(DbError::query("flush projected_dates"))
    }

    /// Writes the runs and the run markers' raw_events rows, the bookkeeping, and commits.
    pub fn finish(self, campaign_runs: &[RunRow], session_runs: &[RunRow], marker_rows: &[RawEventRow], events_applied: &[adlake_raw::EventId]) -> Result<(), DbError> {
        let tx = &self.tx;
        for run in campaign_runs.iter().chain(session_runs) {
            for t in ["campaign_index_runs", "session_ingest_runs"] {
                tx.execute(&format!("DELETE FROM {t} WHERE run_id = ?"), params![run.run_id]).map_err(DbError::query(format!("replace {t}")))?;
            }
        }
        self.append("campaign_index_runs", runs_batch(&campaign_runs.iter().collect::<Vec<_>>(), false)?)?;
        self.append("session_ingest_runs", runs_batch(&session_runs.iter().collect::<Vec<_>>(), true)?)?;
        self.append("raw_events", raw_events_batch(&marker_rows.iter().collect::<Vec<_>>())?)?;

        for (id, (table, kind, columns, endpoint, chosen)) in &self.lineage_sources {
            tx.execute(
                "INSERT INTO lineage_sources SELECT ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM lineage_sources WHERE source_id = ?)",
                params![id, table, kind, columns.to_string(), endpoint, chosen, id],
            )
            .map_err(DbError::query("write lineage_sources"))?;
        }
        tx.execute_batch("DELETE FROM lineage_rules").map_err(DbError::query("clear lineage_rules"))?;
        let mut a = tx.appender("lineage_rules").map_err(DbError::query("appender lineage_rules"))?;
        for (kind, column, rule) in LINEAGE_RULES {
            a.append_row(params![kind, column, rule]).map_err(DbError::query("append lineage_rules"))?;
        }
        a.flush().map_err(DbError::query("flush lineage_rules"))?;
        drop(a);

        let mut a = tx.appender("projection_fingerprints").map_err(DbError::query("appender projection_fingerprints"))?;
        for (table, date, rows, fingerprint) in &self.fingerprints {
            a.append_row(params![table, date.to_string(), *rows as i64, fingerprint]).map_err(DbError::query("append projection_fingerprints"))?;
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
            ("last_projection".into(), match self.window {
                None => "full".into(),
                Some(w) => format!("{}..{}", w.from, w.to),
            }),
            ("last_events_fingerprint".into(), events_fingerprint),
            ("last_events_count".into(), events_applied.len().to_string()),
        ];
        for t in DATED {
            let sql = "SELECT coalesce(sha256(string_agg(CAST(date AS VARCHAR) || ' ' || row_count || ' ' || fingerprint, chr(10) ORDER BY date)), '') FROM projection_fingerprints WHERE table_name = ?";
            let fp: String = tx.query_row(sql, params![t], |r| r.get(0)).map_err(DbError::query(format!("fingerprint {t}")))?;
            meta.push((format!("fingerprint.{t}"), fp));
        }
        for t in UNDATED {
            meta.push((format!("fingerprint.{t}"), table_fingerprint(tx, t)?));
        }
        tx.execute_batch("DELETE FROM projection_meta").map_err(DbError::query("clear projection_meta"))?;
        for (k, v) in meta {
            tx.execute("INSERT INTO projection_meta VALUES (?, ?)", params![k, v]).map_err(DbError::query("write projection_meta"))?;
        }
        self.tx.commit().map_err(DbError::query("commit projection"))
    }
}

/// Splits rows by date, keeping their order.
fn by_date<T>(rows: &[T], date: impl Fn(&T) -> NaiveDate) -> BTreeMap<NaiveDate, Vec<&T>> {
    let mut out: BTreeMap<NaiveDate, Vec<&T>> = BTreeMap::new();
    for r in rows {
        out.entry(date(r)).or_default().push(r);
    }
    out
}

/// Writes a whole in-memory projection: its window's dates are replaced (or every table, for
/// a full projection). The same rows and fingerprints as writing it date by date.
pub fn write(conn: &mut Connection, p: &Projection) -> Result<(), DbError> {
    let mut w = Writer::begin(conn, p.window)?;
    for (date, rows) in by_date(&p.campaign_index, |r| r.date) {
        w.append_dated("campaign_index", date, campaign_batch(&rows)?)?;
    }
    for (date, rows) in by_date(&p.session_hourly, |r| r.date) {
        w.append_dated("session_hourly_metrics", date, session_batch(&rows)?)?;
    }
    for (date, rows) in by_date(&p.completeness, |r| r.date) {
        w.append_dated("endpoint_completeness", date, completeness_batch(&rows)?)?;
    }
    for (date, rows) in by_date(&p.lineage, |r| r.date) {
        let lineage = lineage_batch(&rows, &mut w.lineage_sources)?;
        w.append_dated("lineage_entries", date, lineage)?;
    }
    for (date, rows) in by_date(&p.session_lineage, |r| r.date) {
        let lineage = session_lineage_batch(&rows, &mut w.lineage_sources)?;
        w.append_dated("session_lineage", date, lineage)?;
    }
    for (date, rows) in by_date(&p.quarantine, |r| r.date) {
        w.append_dated("quarantine", date, quarantine_batch(&rows)?)?;
    }
    let (markers, http): (Vec<&RawEventRow>, Vec<&RawEventRow>) = p.raw_events.iter().partition(|r| r.kind == "run");
    w.append("raw_events", raw_events_batch(&http)?)?;
    let markers: Vec<RawEventRow> = markers.into_iter().cloned().collect();
    w.finish(&p.campaign_runs, &p.session_runs, &markers, &p.events_applied)
}

/// sha256 over the table's rows as text, in a total order: equal fingerprints mean equal
/// contents, whatever order rows were written in. Reads every row: for tests and audits.
pub fn table_fingerprint(conn: &Connection, table: &str) -> Result<String, DbError> {
    let sql = format!("SELECT coalesce(sha256(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR))), '') FROM {table} AS t");
    conn.query_row(&sql, [], |r| r.get::<_, String>(0)).map_err(DbError::query(format!("fingerprint {table}")))
}
