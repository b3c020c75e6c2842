//! The hourly report a media buyer reads: "where do we stand right now compared with yesterday
//! at this hour". [`build`] reads the figures of one date from the database into plain structs
//! (one module per block of the page), [`html::render`] turns them into one self-contained HTML
//! file (inline SVG charts, embedded CSS and JS, no external URL), and the same structs are
//! the `--json` output.
//!
//! Invariants: nothing here reads the clock. "Today" is the date asked for or the newest
//! projected date; "now" is that date's newest intraday snapshot hour. Every query orders its
//! rows and sums money as DECIMAL (exact, so independent of DuckDB's parallel aggregation order)
//! before it becomes a float: the same database gives byte-identical output.

pub mod fmt;
pub mod haircut;
pub mod health;
pub mod heatmap;
pub mod html;
pub mod kpi;
pub mod leaderboard;
pub mod sql;
pub mod svg;
pub mod trends;
pub mod trust;

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::Connection;
use serde::Serialize;

pub use sql::ReportError;

/// Writes the page to `path` through a temporary file in the same directory and a rename: a
/// reader sees the previous page or this one, never half of one.
pub fn write(path: &std::path::Path, html: &str) -> Result<(), ReportError> {
    use std::io::Write;
    let failed = |source| ReportError::Write { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".report-")
        .suffix(".html.tmp")
        .tempfile_in(dir)
        .map_err(failed)?;
    file.write_all(html.as_bytes()).map_err(failed)?;
    // A page to open and share, not a secret: readable like any file the user writes.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(failed)?;
    }
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

/// Days of history behind the heatmap by weekday, the haircut and the health grid.
pub const FORTNIGHT: u32 = 14;
/// Days of history behind the trends by media source and owner.
pub const MONTH: u32 = 30;

/// Which date the report is about and the instant its figures stand at.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Frame {
    pub date: NaiveDate,
    /// The start of the newest UTC hour of `date` with an intraday snapshot: figures are as
    /// known at the end of that hour. `None`: the date has no intraday snapshot, and its
    /// figures are the day's newest (`campaign_index`), compared with whole days.
    pub as_of_hour: Option<DateTime<Utc>>,
}

impl Frame {
    /// The hour of day (0..23) the comparisons are made at, when there is one.
    pub fn hour(&self) -> Option<u32> {
        use chrono::Timelike;
        self.as_of_hour.map(|h| h.hour())
    }

    /// The end of the as-of hour: the instant the figures are "as of".
    pub fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of_hour.map(|h| h + chrono::Duration::hours(1))
    }

    pub fn days_before(&self, n: u32) -> NaiveDate {
        self.date - chrono::Days::new(u64::from(n))
    }
}

/// Every figure of the page, in page order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub frame: Frame,
    pub trust: trust::Trust,
    pub kpis: kpi::Kpis,
    pub curve: kpi::Curve,
    pub leaderboard: leaderboard::Leaderboard,
    pub heatmaps: heatmap::Heatmaps,
    pub trends: trends::Trends,
    pub haircut: haircut::Haircut,
    pub health: health::Health,
    /// The alert rules' verdicts about the date: firings, recoveries, suppressions.
    pub alerts: crate::alerts::summary::DaySummary,
}

/// Picks the report's frame: `date` or the newest projected date, and its newest snapshot hour.
pub fn frame(conn: &Connection, date: Option<NaiveDate>) -> Result<Frame, ReportError> {
    let date = match date {
        Some(d) => d,
        None => {
            let newest = sql::rows(
                conn,
                "SELECT CAST(greatest((SELECT max(date) FROM campaign_intraday),
                                      (SELECT max(date) FROM campaign_index)) AS VARCHAR)",
                |r| r.get::<_, Option<String>>(0),
            )?;
            let text = newest.into_iter().flatten().next().ok_or(ReportError::Empty)?;
            sql::parse_date(&text)?
        }
    };
    let hour = sql::rows(
        conn,
        &format!(
            "SELECT CAST(epoch(max(as_of_hour)) AS BIGINT) FROM campaign_intraday WHERE date = {}",
            sql::date(date)
        ),
        |r| r.get::<_, Option<i64>>(0),
    )?;
    let as_of_hour = hour.into_iter().flatten().next().and_then(|s| DateTime::from_timestamp(s, 0));
    Ok(Frame { date, as_of_hour })
}

/// Reads every block of the report for `date` (default: the newest projected date).
pub fn build(conn: &Connection, date: Option<NaiveDate>) -> Result<Report, ReportError> {
    let frame = frame(conn, date)?;
    let known = sql::rows(
        conn,
        &format!(
            "SELECT (SELECT count(*) FROM campaign_index WHERE date = {d}) + (SELECT count(*) FROM campaign_intraday WHERE date = {d})",
            d = sql::date(frame.date)
        ),
        |r| r.get::<_, i64>(0),
    )?;
    if known.first().copied().unwrap_or(0) == 0 {
        return Err(ReportError::NoSuchDate { date: frame.date });
    }
    let trust = trust::read(conn, &frame)?;
    let kpis = kpi::kpis(conn, &frame)?;
    let curve = kpi::curve(conn, &frame)?;
    let leaderboard = leaderboard::read(conn, &frame, &trust)?;
    let heatmaps = heatmap::read(conn, &frame, &leaderboard)?;
    let trends = trends::read(conn, &frame)?;
    let haircut = haircut::read(conn, &frame)?;
    let health = health::read(conn, &frame)?;
    let alerts = crate::alerts::summary::day_summary(conn, frame.date)?;
    Ok(Report { frame, trust, kpis, curve, leaderboard, heatmaps, trends, haircut, health, alerts })
}
