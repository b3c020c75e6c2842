//! `adlake status`: what the monitoring team checks first. A date × endpoint matrix of
//! `endpoint_completeness`, the last runs, quarantined events, unmapped campaigns and network
//! ids, and one line of today so far against yesterday at this hour (the report's KPIs). Opens
//! the database read-only, so BI tools can keep reading.

use duckdb::Connection;
use serde::Serialize;
use serde_json::{json, Value};

use super::Context;
use crate::{output, AppError, Outcome};

fn rows(
    conn: &Connection,
    sql: &str,
    columns: usize,
) -> Result<Vec<Vec<Option<String>>>, AppError> {
    let mut stmt = conn.prepare(sql).map_err(crate::store::db::DbError::query(sql.to_owned()))?;
    let mapped = stmt
        .query_map([], |r| {
            (0..columns).map(|i| r.get::<_, Option<String>>(i)).collect::<Result<Vec<_>, _>>()
        })
        .map_err(crate::store::db::DbError::query(sql.to_owned()))?;
    Ok(mapped
        .collect::<Result<Vec<_>, _>>()
        .map_err(crate::store::db::DbError::query(sql.to_owned()))?)
}

#[derive(Serialize)]
struct Status {
    completeness: Vec<Value>,
    runs: Vec<Value>,
    quarantine: Vec<Value>,
    unmapped_campaigns: Vec<Value>,
    unmapped_network_ids: Vec<Value>,
    today_so_far: Option<crate::report::kpi::SoFar>,
}

pub async fn run(ctx: &Context, days: u32) -> Result<Outcome, AppError> {
    if days == 0 {
        return Err(AppError::Usage("--days must be at least 1".into()));
    }
    let path = ctx.settings.db.clone();
    if !path.exists() {
        return Err(AppError::Usage(format!(
            "no database at `{}`: run `adlake ingest` or `adlake reproject` first",
            path.display()
        )));
    }
    let wait = ctx.settings.lock_wait;
    let status = tokio::task::spawn_blocking(move || -> Result<Status, AppError> {
        let conn = crate::store::db::open(&path, crate::store::db::Access::ReadOnly, wait)?;
        let completeness = rows(
            &conn,
            &format!(
                "SELECT CAST(date AS VARCHAR), endpoint, status, CAST(row_count AS VARCHAR), CAST(retry_count AS VARCHAR), error_message, CAST(critical AS VARCHAR)
                 FROM endpoint_completeness
                 WHERE date > (SELECT max(date) FROM endpoint_completeness) - INTERVAL {days} DAY
                 ORDER BY date, endpoint"
            ),
            7,
        )?
        .into_iter()
        .map(|r| json!({"date": r[0], "endpoint": r[1], "status": r[2], "row_count": r[3].as_ref().and_then(|v| v.parse::<i64>().ok()), "retry_count": r[4].as_ref().and_then(|v| v.parse::<i64>().ok()), "error_message": r[5], "critical": r[6].as_deref() == Some("true")}))
        .collect();
        let runs = rows(
            &conn,
            "SELECT run_id, status, CAST(started_at AS VARCHAR), CAST(finished_at AS VARCHAR), CAST(date_from AS VARCHAR), CAST(date_to AS VARCHAR), CAST(events_written AS VARCHAR), message
             FROM campaign_index_runs ORDER BY started_at DESC NULLS LAST, run_id DESC LIMIT 10",
            8,
        )?
        .into_iter()
        .map(|r| json!({"run_id": r[0], "status": r[1], "started_at": r[2], "finished_at": r[3], "date_from": r[4], "date_to": r[5], "events_written": r[6].as_ref().and_then(|v| v.parse::<i64>().ok()), "message": r[7]}))
        .collect();
        let quarantine = rows(&conn, "SELECT event_id, endpoint, CAST(date AS VARCHAR), error FROM quarantine ORDER BY date, endpoint, event_id", 4)?
            .into_iter()
            .map(|r| json!({"event_id": r[0], "endpoint": r[1], "date": r[2], "error": r[3]}))
            .collect();
        let unmapped_campaigns = rows(
            &conn,
            "SELECT campaign_id, media_source, CAST(count(DISTINCT date) AS VARCHAR) FROM campaign_index WHERE unmapped AND level = 'campaign' GROUP BY ALL ORDER BY campaign_id",
            3,
        )?
        .into_iter()
        .map(|r| json!({"campaign_id": r[0], "media_source": r[1], "dates": r[2].as_ref().and_then(|v| v.parse::<i64>().ok())}))
        .collect();
        let unmapped_network_ids = rows(
            &conn,
            "SELECT network_id, CAST(count(DISTINCT campaign_id) AS VARCHAR) FROM campaign_index WHERE network_id IS NOT NULL AND media_source IS NULL GROUP BY ALL ORDER BY network_id",
            2,
        )?
        .into_iter()
        .map(|r| json!({"network_id": r[0], "campaigns": r[1].as_ref().and_then(|v| v.parse::<i64>().ok())}))
        .collect();
        // A database from before the intraday tables still shows the rest.
        let today_so_far = crate::report::kpi::today_so_far(&conn).unwrap_or_else(|e| {
            tracing::warn!("today so far: {e:#}");
            None
        });
        Ok(Status {
            completeness,
            runs,
            quarantine,
            unmapped_campaigns,
            unmapped_network_ids,
            today_so_far,
        })
    })
    .await
    .map_err(AppError::task("database"))??;

    if ctx.global.json {
        output::print_json(&status)?;
        return Ok(Outcome::Clean);
    }
    output::print(&render(&status))?;
    Ok(Outcome::Clean)
}

/// `today so far (2025-11-23, as of 14:00 UTC): spend $1,234, revenue $1,500, ROAS 1.22 vs
/// yesterday at this hour: spend +4.0%, revenue -2.1%, ROAS 1.30`.
fn so_far_line(s: Option<&crate::report::kpi::SoFar>) -> String {
    use crate::report::fmt;
    let Some(s) = s else { return "today so far: no projected date yet\n".into() };
    let at = match s.as_of {
        Some(t) => format!("as of {}", t.format("%H:%M UTC")),
        None => "whole day, no intraday snapshot".into(),
    };
    let change = |now: Option<f64>, then: Option<f64>| match (now, then) {
        (Some(n), Some(t)) if t.abs() > f64::EPSILON => fmt::pct(Some(n / t - 1.0)),
        _ => fmt::MISSING.to_owned(),
    };
    let t = &s.today;
    let yesterday = match &s.yesterday {
        Some(y) => format!(
            "spend {}, revenue {}, ROAS {}",
            change(t.spend, y.spend),
            change(t.revenue, y.revenue),
            fmt::ratio(y.roas())
        ),
        None => "no snapshot".into(),
    };
    format!(
        "today so far ({}, {at}): spend {}, revenue {}, ROAS {} vs yesterday at this hour: {yesterday}\n",
        s.date,
        fmt::usd(t.spend),
        fmt::usd(t.revenue),
        fmt::ratio(t.roas()),
    )
}

fn render(s: &Status) -> String {
    let mut dates: Vec<String> =
        s.completeness.iter().filter_map(|c| c["date"].as_str().map(str::to_owned)).collect();
    dates.sort();
    dates.dedup();
    let mut header = vec!["endpoint".to_string()];
    header.extend(dates.iter().map(|d| d[5..].to_string()));
    let mut table = Vec::new();
    for spec in adlake_replay::ENDPOINTS.iter() {
        let mut row = vec![format!("{}{}", spec.key, if spec.critical { " *" } else { "" })];
        for d in &dates {
            let cell = s
                .completeness
                .iter()
                .find(|c| c["endpoint"] == spec.key && c["date"].as_str() == Some(d.as_str()));
            row.push(match cell {
                None => "-".into(),
                Some(c) => {
                    let status = c["status"].as_str().unwrap_or("?");
                    let rows = c["row_count"].as_i64().map_or(String::new(), |n| format!(" {n}"));
                    let retries = c["retry_count"]
                        .as_i64()
                        .filter(|n| *n > 0)
                        .map_or(String::new(), |n| format!(" r{n}"));
                    format!("{status}{rows}{retries}")
                }
            });
        }
        table.push(row);
    }
    let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut out = so_far_line(s.today_so_far.as_ref());
    out.push_str(&format!(
        "endpoint completeness (status rows rRETRIES; * = critical)\n{}",
        output::table(&header_refs, &table)
    ));
    out.push_str("\nlast runs\n");
    let runs: Vec<Vec<String>> = s
        .runs
        .iter()
        .map(|r| {
            ["run_id", "status", "started_at", "date_from", "date_to", "message"]
                .iter()
                .map(|k| r[*k].as_str().unwrap_or("").to_string())
                .collect()
        })
        .collect();
    out.push_str(&output::table(
        &["run_id", "status", "started_at", "from", "to", "message"],
        &runs,
    ));
    out.push_str(&format!("\nquarantined events: {}\n", s.quarantine.len()));
    for q in &s.quarantine {
        out.push_str(&format!(
            "  {} {} {}: {}\n",
            q["date"].as_str().unwrap_or(""),
            q["endpoint"].as_str().unwrap_or(""),
            q["event_id"].as_str().unwrap_or(""),
            q["error"].as_str().unwrap_or("")
        ));
    }
    out.push_str(&format!("unmapped campaigns: {}\n", s.unmapped_campaigns.len()));
    for c in s.unmapped_campaigns.iter().take(20) {
        out.push_str(&format!(
            "  {} ({})\n",
            c["campaign_id"].as_str().unwrap_or(""),
            c["media_source"].as_str().unwrap_or("no media source")
        ));
    }
    out.push_str(&format!("unmapped network ids: {}\n", s.unmapped_network_ids.len()));
    for n in &s.unmapped_network_ids {
        out.push_str(&format!(
            "  networkId {} ({} campaigns)\n",
            n["network_id"].as_str().unwrap_or(""),
            n["campaigns"]
        ));
    }
    out
}
