//! `adlake audit`: from one projected number to the exact bytes behind it. For each column of
//! a `campaign_index` (or `session_hourly_metrics`) row: the value, the source that supplied
//! it (endpoint, event, fetch time, redacted request, body sha256, row locator), the rule that
//! chose it, and the sources that had a value but lost. `--raw` adds the stored fragment.

use chrono::NaiveDate;
use duckdb::{params, Connection};
use serde::Serialize;

use super::{open_lake_to_read, Context};
use crate::store::db::DbError;
use crate::{output, AppError, Outcome};

#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// The row's campaign_id (a Strategis id; an unmapped campaign's platform id)
    #[arg(long)]
    pub campaign: String,
    /// The row's date (UTC day)
    #[arg(long)]
    pub date: NaiveDate,
    /// Which campaign_index snapshot
    #[arg(long, default_value = "daily", value_parser = ["daily", "reconciled"])]
    pub snapshot: String,
    /// Campaign row or adset row (adset rows need --adset)
    #[arg(long, default_value = "campaign", value_parser = ["campaign", "adset"])]
    pub level: String,
    /// With --level adset: the adset id
    #[arg(long)]
    pub adset: Option<String>,
    /// Audit a session_hourly_metrics row (click hour 0..27) instead
    #[arg(long)]
    pub hour: Option<u8>,
    /// Only this column
    #[arg(long)]
    pub field: Option<String>,
    /// Print the stored source fragment under each value
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub endpoint: String,
    pub chosen: bool,
    pub value: Option<String>,
    pub event_id: String,
    pub fetched_at: Option<String>,
    pub request: Option<String>,
    pub body_sha256: Option<String>,
    pub locator: String,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fragment: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub column: String,
    pub value: Option<String>,
    pub sources: Vec<Source>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    pub table: String,
    pub row_key: String,
    pub columns: Vec<Column>,
}

fn q(context: &str) -> impl FnOnce(duckdb::Error) -> DbError + '_ {
    move |source| DbError::Query { context: context.to_owned(), source }
}

/// A row's columns: name and value as text (NULL: none).
type Columns = Vec<(String, Option<String>)>;

/// The row's columns as text, or `None` when no such row exists.
fn read_row(
    conn: &Connection,
    table: &str,
    filter: &str,
    args: &[&dyn duckdb::ToSql],
) -> Result<Option<Columns>, DbError> {
    let sql = format!("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM {table} WHERE {filter}");
    let mut stmt = conn.prepare(&sql).map_err(q("read the audited row"))?;
    let mut rows = stmt.query(args).map_err(q("read the audited row"))?;
    let Some(row) = rows.next().map_err(q("read the audited row"))? else { return Ok(None) };
    let stmt_ref = row.as_ref();
    let names: Vec<String> = (0..stmt_ref.column_count())
        .map(|i| stmt_ref.column_name(i).map(|s| s.to_string()).unwrap_or_default())
        .collect();
    let mut out = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        out.push((name, row.get::<_, Option<String>>(i).map_err(q("read the audited row"))?));
    }
    Ok(Some(out))
}

fn suggestions(conn: &Connection, campaign: &str, date: NaiveDate) -> Result<String, DbError> {
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare("SELECT DISTINCT CAST(date AS VARCHAR) AS d FROM campaign_index WHERE campaign_id = ? ORDER BY abs(date - CAST(? AS DATE)), d LIMIT 5")
        .map_err(q("suggest dates"))?;
    let dates: Vec<String> = stmt
        .query_map(params![campaign, date.to_string()], |r| r.get(0))
        .map_err(q("suggest dates"))?
        .collect::<Result<_, _>>()
        .map_err(q("suggest dates"))?;
    if !dates.is_empty() {
        out.push(format!("{campaign} has rows on {}", dates.join(", ")));
    }
    let mut stmt = conn
        .prepare("SELECT DISTINCT campaign_id FROM campaign_index WHERE levenshtein(campaign_id, ?) <= 3 OR campaign_id LIKE ? || '%' ORDER BY levenshtein(campaign_id, ?), campaign_id LIMIT 5")
        .map_err(q("suggest campaigns"))?;
    let prefix: String = campaign.chars().take(6).collect();
    let similar: Vec<String> = stmt
        .query_map(params![campaign, prefix, campaign], |r| r.get(0))
        .map_err(q("suggest campaigns"))?
        .collect::<Result<_, _>>()
        .map_err(q("suggest campaigns"))?;
    let similar: Vec<String> = similar.into_iter().filter(|c| c != campaign).collect();
    if !similar.is_empty() {
        out.push(format!("similar campaign ids: {}", similar.join(", ")));
    }
    Ok(if out.is_empty() { "no similar campaigns in the database".into() } else { out.join("; ") })
}

/// Builds the audit from the database (and the lake for `--raw` fragments).
pub fn audit(conn: &Connection, args: &AuditArgs) -> Result<Result<Audit, String>, DbError> {
    let (table, row_key, found) = match args.hour {
        Some(hour) => {
            let key = format!("{}|{}|{}", args.campaign, args.date, hour);
            let row = read_row(
                conn,
                "session_hourly_metrics",
                "campaign_id = ? AND date = CAST(? AS DATE) AND click_hour = ?",
                &[&args.campaign, &args.date.to_string(), &i32::from(hour)],
            )?;
            ("session_hourly_metrics", key, row)
        }
        None => {
            let adset = args.adset.clone().unwrap_or_default();
            let key = format!(
                "{}|{}|{}|{}|{}",
                args.campaign, args.date, args.level, args.snapshot, adset
            );
            let row = read_row(
                conn,
                "campaign_index",
                "campaign_id = ? AND date = CAST(? AS DATE) AND level = ? AND snapshot_source = ? AND coalesce(adset_id, '') = ?",
                &[&args.campaign, &args.date.to_string(), &args.level, &args.snapshot, &adset],
            )?;
            ("campaign_index", key, row)
        }
    };
    let Some(values) = found else {
        let what = match args.hour {
            Some(h) => format!(
                "no session_hourly_metrics row for campaign {} on {} hour {h}",
                args.campaign, args.date
            ),
            None => format!(
                "no campaign_index row for campaign {} on {} ({} level, {} snapshot)",
                args.campaign, args.date, args.level, args.snapshot
            ),
        };
        return Ok(Err(format!("{what}; {}", suggestions(conn, &args.campaign, args.date)?)));
    };
    if let Some(field) = &args.field {
        if !values.iter().any(|(c, _)| c == field) {
            let names: Vec<&str> = values.iter().map(|(c, _)| c.as_str()).collect();
            return Ok(Err(format!(
                "no column `{field}` in {table}; columns: {}",
                names.join(", ")
            )));
        }
    }
    let mut stmt = conn
        .prepare(
            "SELECT l.column_name, l.endpoint, l.chosen, l.value, l.event_id, CAST(r.fetched_at AS VARCHAR), r.url, l.body_sha256, l.locator, l.rule
             FROM lineage l LEFT JOIN (SELECT DISTINCT event_id, fetched_at, url FROM raw_events) r USING (event_id)
             WHERE l.table_name = ? AND l.row_key = ? AND l.date = CAST(? AS DATE)
             ORDER BY l.column_name, l.chosen DESC, l.endpoint, r.fetched_at, l.event_id, l.locator",
        )
        .map_err(q("read lineage"))?;
    let lineage: Vec<(String, Source)> = stmt
        .query_map(params![table, row_key, args.date.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Source {
                    endpoint: r.get(1)?,
                    chosen: r.get(2)?,
                    value: r.get(3)?,
                    event_id: r.get(4)?,
                    fetched_at: r.get(5)?,
                    request: r.get(6)?,
                    body_sha256: r.get(7)?,
                    locator: r.get(8)?,
                    rule: r.get(9)?,
                    fragment: None,
                },
            ))
        })
        .map_err(q("read lineage"))?
        .collect::<Result<_, _>>()
        .map_err(q("read lineage"))?;
    let columns = values
        .into_iter()
        .filter(|(c, _)| args.field.as_ref().is_none_or(|f| f == c))
        .map(|(column, value)| {
            let sources =
                lineage.iter().filter(|(c, _)| *c == column).map(|(_, s)| s.clone()).collect();
            Column { column, value, sources }
        })
        .collect();
    Ok(Ok(Audit { table: table.into(), row_key, columns }))
}

pub async fn run(ctx: &Context, args: AuditArgs) -> Result<Outcome, AppError> {
    let path = ctx.settings.db.clone();
    if !path.exists() {
        return Err(AppError::Usage(format!(
            "no database at `{}`: run `adlake reproject` first",
            path.display()
        )));
    }
    let wait = ctx.settings.lock_wait;
    let query_args = args.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<Result<Audit, String>, AppError> {
        let conn = crate::store::db::open(&path, crate::store::db::Access::ReadOnly, wait)?;
        Ok(audit(&conn, &query_args)?)
    })
    .await
    .map_err(AppError::task("database"))??;
    let mut audit = match found {
        Ok(a) => a,
        Err(message) => return Err(AppError::NotFound(message)),
    };
    if args.raw {
        let lake = open_lake_to_read(&ctx.settings).await?;
        for column in &mut audit.columns {
            for source in &mut column.sources {
                let Some(sha) = source
                    .body_sha256
                    .as_ref()
                    .and_then(|s| s.parse::<adlake_raw::BodyHash>().ok())
                else {
                    continue;
                };
                let body = lake.get_body(&sha).await?;
                source.fragment = adlake_replay::fragment::extract(&body, &source.locator)
                    .map(|f| String::from_utf8_lossy(f).into_owned());
            }
        }
    }
    if ctx.global.json {
        output::print_json(&audit)?;
    } else {
        output::print(&render(&audit))?;
    }
    Ok(Outcome::Clean)
}

pub fn render(a: &Audit) -> String {
    let mut out = format!("{} {}\n", a.table, a.row_key);
    for c in &a.columns {
        out.push_str(&format!("\n{} = {}\n", c.column, c.value.as_deref().unwrap_or("NULL")));
        if c.sources.is_empty() {
            let why =
                if c.value.is_none() { "no source had a value" } else { "derived or key column" };
            out.push_str(&format!("  ({why})\n"));
        }
        for s in &c.sources {
            let head = if s.chosen {
                format!("from {}", s.endpoint)
            } else {
                format!("not used: {} had {}", s.endpoint, s.value.as_deref().unwrap_or("?"))
            };
            out.push_str(&format!(
                "  {head}\n    event {}  fetched {}  at {}\n    body {}\n",
                s.event_id,
                s.fetched_at.as_deref().unwrap_or("?"),
                s.locator,
                s.body_sha256.as_deref().unwrap_or("-")
            ));
            if s.chosen {
                if let Some(req) = &s.request {
                    out.push_str(&format!("    GET {req}\n"));
                }
                out.push_str(&format!("    rule: {}\n", s.rule));
            }
            if let Some(f) = &s.fragment {
                out.push_str(&format!("    | {}\n", f.replace('\n', "\n    | ")));
            }
        }
    }
    out
}
