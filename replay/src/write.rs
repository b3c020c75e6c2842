//! The DuckDB writer: replaces a projection's dates (or everything) in one transaction, through
//! the Appender, then records `projection_meta`. A reader, or a crash, sees the old rows or
//! the new rows, never a mix. One thread owns the connection.

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::types::{TimeUnit, Value};
use duckdb::{appender_params_from_iter, params, Connection};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::db::DbError;
use crate::project::{Projection, RunRow, PROJECTOR_VERSION};

/// Tables rebuilt by a projection, in the order they are written.
pub const TABLES: &[&str] = &[
    "campaign_index",
    "session_hourly_metrics",
    "endpoint_completeness",
    "campaign_index_runs",
    "session_ingest_runs",
    "raw_events",
    "lineage",
    "quarantine",
];

fn text(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()))
}

fn date(d: NaiveDate) -> Value {
    Value::Date32((d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32)
}

fn opt_date(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, date)
}

fn ts(t: Option<DateTime<Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::Timestamp(TimeUnit::Microsecond, t.timestamp_micros()))
}

fn big(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::BigInt)
}

/// DECIMAL(18, 6): rounded half-even at 6 places (money is exact well below that).
fn money(v: Option<Decimal>) -> Result<Value, DbError> {
    let Some(d) = v else { return Ok(Value::Null) };
    let d = d.round_dp(6);
    let scaled = d.mantissa() * 10i128.pow(6 - d.scale().min(6));
    duckdb::types::Decimal::new(18, 6, scaled)
        .map(Value::Decimal)
        .map_err(|e| DbError::Value(format!("decimal {d} does not fit DECIMAL(18,6): {e}")))
}

fn bool_opt(v: Option<bool>) -> Value {
    v.map_or(Value::Null, Value::Boolean)
}

/// Writes `p`: its window's dates are replaced (or every table, for a full projection).
pub fn write(conn: &mut Connection, p: &Projection) -> Result<(), DbError> {
    let tx = conn.transaction().map_err(DbError::query("begin projection"))?;
    match p.window {
        None => {
            for t in TABLES {
                tx.execute_batch(&format!("DELETE FROM {t}")).map_err(DbError::query(format!("clear {t}")))?;
            }
        }
        Some(w) => {
            let (from, to) = (date(w.from), date(w.to));
            for t in ["campaign_index", "session_hourly_metrics", "endpoint_completeness", "lineage", "quarantine"] {
                tx.execute(&format!("DELETE FROM {t} WHERE date BETWEEN ? AND ?"), params![from, to])
                    .map_err(DbError::query(format!("replace {t}")))?;
            }
            tx.execute("DELETE FROM raw_events WHERE kind = 'run' OR date BETWEEN ? AND ?", params![from, to])
                .map_err(DbError::query("replace raw_events"))?;
            for run in p.campaign_runs.iter().chain(&p.session_runs) {
                for t in ["campaign_index_runs", "session_ingest_runs"] {
                    tx.execute(&format!("DELETE FROM {t} WHERE run_id = ?"), params![run.run_id]).map_err(DbError::query(format!("replace {t}")))?;
                }
            }
        }
    }
    {
        let mut a = tx.appender("campaign_index").map_err(DbError::query("appender campaign_index"))?;
        for r in &p.campaign_index {
            let row = vec![
                Value::Text(r.campaign_id.clone()),
                date(r.date),
                Value::Text(r.level.into()),
                Value::Text(r.snapshot_source.into()),
                text(&r.adset_id),
                text(&r.adset_name),
                text(&r.campaign_name),
                text(&r.owner),
                text(&r.lane),
                text(&r.category),
                text(&r.media_source),
                text(&r.network_id),
                text(&r.account_id),
                text(&r.rsoc_site),
                text(&r.platform_campaign_id),
                money(r.spend_usd)?,
                text(&r.spend_source),
                money(r.revenue_usd)?,
                big(r.sessions),
                big(r.s1_clicks),
                big(r.clicks),
                big(r.impressions),
                big(r.conversions),
                r.roas.map_or(Value::Null, Value::Double),
                money(r.avg_rpc_3d)?,
                Value::Boolean(r.unmapped),
                ts(r.updated_at),
            ];
            a.append_row(appender_params_from_iter(row)).map_err(DbError::query("append campaign_index"))?;
        }
        a.flush().map_err(DbError::query("flush campaign_index"))?;

        let mut a = tx.appender("session_hourly_metrics").map_err(DbError::query("appender session_hourly_metrics"))?;
        for r in &p.session_hourly {
            let row = vec![
                Value::Text(r.campaign_id.clone()),
                date(r.date),
                Value::Int(i32::from(r.click_hour)),
                big(r.sessions),
                money(r.revenue)?,
                money(r.rpc)?,
                text(&r.owner),
                text(&r.lane),
                text(&r.category),
                text(&r.media_source),
                ts(r.updated_at),
            ];
            a.append_row(appender_params_from_iter(row)).map_err(DbError::query("append session_hourly_metrics"))?;
        }
        a.flush().map_err(DbError::query("flush session_hourly_metrics"))?;

        let mut a = tx.appender("endpoint_completeness").map_err(DbError::query("appender endpoint_completeness"))?;
        for r in &p.completeness {
            let row = vec![
                date(r.date),
                Value::Text(r.endpoint.into()),
                Value::Text(r.platform.into()),
                Value::Boolean(r.critical),
                Value::Text(r.status.into()),
                big(r.row_count),
                bool_opt(r.has_revenue),
                bool_opt(r.has_spend),
                text(&r.error_message),
                Value::Int(r.retry_count),
                r.http_status.map_or(Value::Null, Value::Int),
                Value::Text(r.run_id.clone()),
                ts(Some(r.started_at)),
                ts(Some(r.finished_at)),
                ts(r.last_success_at),
                r.expected_min_rows.map_or(Value::Null, Value::Double),
            ];
            a.append_row(appender_params_from_iter(row)).map_err(DbError::query("append endpoint_completeness"))?;
        }
        a.flush().map_err(DbError::query("flush endpoint_completeness"))?;

        append_runs(&tx, "campaign_index_runs", &p.campaign_runs, false)?;
        append_runs(&tx, "session_ingest_runs", &p.session_runs, true)?;

        let mut a = tx.appender("raw_events").map_err(DbError::query("appender raw_events"))?;
        for r in &p.raw_events {
            let row = vec![
                Value::Text(r.event_id.clone()),
                Value::Text(r.kind.into()),
                Value::Text(r.source.clone()),
                date(r.date),
                Value::Text(r.run_id.clone()),
                ts(Some(r.fetched_at)),
                text(&r.fetch_id),
                r.attempt.map_or(Value::Null, Value::Int),
                r.page.map_or(Value::Null, Value::Int),
                r.http_status.map_or(Value::Null, Value::Int),
                text(&r.error),
                text(&r.url),
                text(&r.body_sha256),
                big(r.body_len),
            ];
            a.append_row(appender_params_from_iter(row)).map_err(DbError::query("append raw_events"))?;
        }
        a.flush().map_err(DbError::query("flush raw_events"))?;

        let mut a = tx.appender("lineage").map_err(DbError::query("appender lineage"))?;
        for r in &p.lineage {
            let row = vec![
                Value::Text(r.table_name.into()),
                date(r.date),
                Value::Text(r.row_key.clone()),
                Value::Text(r.column_name.into()),
                Value::Text(r.endpoint.into()),
                Value::Text(r.event_id.clone()),
                text(&r.body_sha256),
                Value::Text(r.locator.clone()),
                Value::Text(r.rule.clone()),
                Value::Boolean(r.chosen),
                text(&r.value),
            ];
            a.append_row(appender_params_from_iter(row)).map_err(DbError::query("append lineage"))?;
        }
        a.flush().map_err(DbError::query("flush lineage"))?;

        let mut a = tx.appender("quarantine").map_err(DbError::query("appender quarantine"))?;
        for r in &p.quarantine {
            let row = vec![Value::Text(r.event_id.clone()), Value::Text(r.endpoint.clone()), date(r.date), text(&r.body_sha256), Value::Text(r.error.clone())];
            a.append_row(appender_params_from_iter(row)).map_err(DbError::query("append quarantine"))?;
        }
        a.flush().map_err(DbError::query("flush quarantine"))?;
    }
    let events_fingerprint = {
        let mut h = Sha256::new();
        for id in &p.events_applied {
            h.update(id.as_bytes());
        }
        hex::encode(h.finalize())
    };
    let mut meta: Vec<(String, String)> = vec![
        ("projector_version".into(), PROJECTOR_VERSION.into()),
        ("last_projection".into(), match p.window {
            None => "full".into(),
            Some(w) => format!("{}..{}", w.from, w.to),
        }),
        ("last_events_fingerprint".into(), events_fingerprint),
        ("last_events_count".into(), p.events_applied.len().to_string()),
    ];
    for t in TABLES.iter().filter(|t| **t != "raw_events" && **t != "lineage") {
        meta.push((format!("fingerprint.{t}"), table_fingerprint(&tx, t)?));
    }
    tx.execute_batch("DELETE FROM projection_meta").map_err(DbError::query("clear projection_meta"))?;
    for (k, v) in meta {
        tx.execute("INSERT INTO projection_meta VALUES (?, ?)", params![k, v]).map_err(DbError::query("write projection_meta"))?;
    }
    tx.commit().map_err(DbError::query("commit projection"))?;
    Ok(())
}

fn append_runs(tx: &Connection, table: &str, runs: &[RunRow], session: bool) -> Result<(), DbError> {
    let mut a = tx.appender(table).map_err(DbError::query(format!("appender {table}")))?;
    for r in runs {
        let mut row = vec![
            Value::Text(r.run_id.clone()),
            opt_date(r.date_from),
            opt_date(r.date_to),
            Value::Text(r.endpoints.clone()),
            ts(r.started_at),
            ts(r.finished_at),
            Value::Text(r.status.clone()),
            Value::BigInt(r.row_count),
            Value::BigInt(r.events_written),
            Value::BigInt(r.bytes_new),
            text(&r.message),
        ];
        if session {
            row.push(r.max_click_hour.map_or(Value::Null, Value::Int));
            row.push(big(r.session_count));
            row.push(big(r.campaign_count));
        }
        a.append_row(appender_params_from_iter(row)).map_err(DbError::query(format!("append {table}")))?;
    }
    a.flush().map_err(DbError::query(format!("flush {table}")))
}

/// sha256 over the table's rows as text, in a total order: equal fingerprints mean equal
/// contents, whatever order rows were written in.
pub fn table_fingerprint(conn: &Connection, table: &str) -> Result<String, DbError> {
    let sql = format!("SELECT coalesce(sha256(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY CAST(t AS VARCHAR))), '') FROM {table} AS t");
    conn.query_row(&sql, [], |r| r.get::<_, String>(0)).map_err(DbError::query(format!("fingerprint {table}")))
}
