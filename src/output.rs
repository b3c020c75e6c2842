//! Human and machine output on stdout: aligned text tables, JSON, and progress bars that show
//! only on a terminal (stderr), never when output is piped or `--json`/`--quiet` is given.

use std::io::{IsTerminal, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Renders rows as an aligned table with a header line.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> =
            cells.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

pub fn print(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

pub fn print_json(value: &impl serde::Serialize) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    print(&format!("{text}\n"))
}

pub fn progress_enabled(json: bool, quiet: bool) -> bool {
    !json && !quiet && std::io::stderr().is_terminal()
}

pub fn multi(enabled: bool) -> MultiProgress {
    if enabled {
        MultiProgress::with_draw_target(ProgressDrawTarget::stderr())
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    }
}

pub fn bar(multi: &MultiProgress, len: u64, label: &str) -> ProgressBar {
    let bar = multi.add(ProgressBar::new(len));
    let style = ProgressStyle::with_template("{prefix:>20} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(label.to_owned());
    bar
}

/// A bar counting dates; its length is set once the dates are known.
pub fn dates_bar(enabled: bool, label: &str) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0).with_message(label.to_owned());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} dates, {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub fn spinner(enabled: bool, message: &str) -> ProgressBar {
    let bar = if enabled { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A projection's summary, as a line of text or as JSON.
pub fn projection(
    summary: &crate::pipeline::project::ProjectionSummary,
    json: bool,
) -> Result<(), crate::AppError> {
    if json {
        print_json(summary)?;
    } else {
        let scope = summary.window.map_or("every date".to_string(), |(f, t)| format!("{f}..{t}"));
        print(&format!(
            "projected {scope} from {} events ({} body bytes): {} campaign_index rows, {} session rows, {} completeness rows, {} runs; {} quarantined, {} unmapped campaigns{}\n",
            summary.events,
            summary.body_bytes,
            summary.campaign_rows,
            summary.session_rows,
            summary.completeness_rows,
            summary.runs,
            summary.quarantined,
            summary.unmapped_campaigns,
            if summary.unmapped_network_ids.is_empty() { String::new() } else { format!(", unmapped network ids {}", summary.unmapped_network_ids.join(",")) }
        ))?;
    }
    Ok(())
}

/// An ingest run's summary: a table of its fetches, or JSON.
pub fn run_report(
    report: &crate::pipeline::ingest::RunReport,
    json: bool,
) -> Result<(), crate::AppError> {
    if json {
        print_json(report)?;
        return Ok(());
    }
    let rows: Vec<Vec<String>> = report
        .fetches
        .iter()
        .map(|f| {
            vec![
                f.endpoint.clone(),
                f.date.to_string(),
                f.status.to_string(),
                f.attempts.to_string(),
                f.pages.to_string(),
                f.rows.to_string(),
                f.new_bytes.to_string(),
                f.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut text = table(
        &["endpoint", "date", "status", "attempts", "pages", "rows", "new_bytes", "last_error"],
        &rows,
    );
    for s in &report.skipped {
        text.push_str(&format!("skipped {} {}: {}\n", s.endpoint, s.date, s.reason));
    }
    text.push_str(&format!(
        "run {}: {} — {} fetches, {} events, {} new bytes{}\n",
        report.run_id,
        report.status,
        report.fetches.len(),
        report.events_written,
        report.bytes_new,
        if report.message.is_empty() { String::new() } else { format!("; {}", report.message) }
    ));
    print(&text)?;
    if let Some(p) = &report.projection {
        projection(p, false)?;
    }
    if let Some(a) = &report.alerts {
        print(&crate::alerts::render(a))?;
    }
    if let Some(e) = &report.alerts_error {
        print(&format!("alerts: not evaluated: {e}\n"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn aligns_columns() {
        let t = super::table(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "a    bb\nxxx  y\n");
    }
}
