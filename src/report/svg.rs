//! The page's charts as inline SVG strings: a line chart over the hours of a day, sparklines
//! (line and bars) and a heatmap grid. A few hundred lines of path building rather than a
//! plotting crate: the output is small (coordinates rounded to a tenth of a pixel, classes
//! instead of inline styles, styled by the page's CSS) and a pure function of the figures.
//! Tooltips are `data-t` attributes, shown by the page's script. Text is escaped here.

use std::fmt::Write;

use super::fmt;

/// Escapes text for an attribute or element content.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal: `12`, `12.5`.
fn c(v: f64) -> String {
    let v = if v.is_finite() { (v * 10.0).round() / 10.0 } else { 0.0 };
    let text = format!("{v:.1}");
    match text.strip_suffix(".0") {
        Some("-0") => "0".into(),
        Some(whole) => whole.into(),
        None => text,
    }
}

/// A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`.
pub fn nice(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|v| *v >= max).unwrap_or(10.0 * power)
}

/// One line of a chart: points (x, y), a CSS class, and how the tooltip names its values.
pub struct Line<'a> {
    pub class: &'a str,
    pub label: &'a str,
    pub points: Vec<(f64, f64)>,
    /// How a y value reads in the tooltip.
    pub show: fn(Option<f64>) -> String,
}

/// A line chart with x from 0 to 24 (hours of the day) and y from 0 to a nice bound.
pub fn hours_chart(title: &str, lines: &[Line<'_>], width: f64, height: f64) -> String {
    let (left, right, top, bottom) = (56.0, 8.0, 10.0, 22.0);
    let (w, h) = (width - left - right, height - top - bottom);
    let max = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max);
    let ymax = nice(max);
    let x = |v: f64| left + v / 24.0 * w;
    let y = |v: f64| top + h - v / ymax * h;
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">",
        c(width),
        c(height),
        esc(title)
    );
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/><text class=\"ax\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            c(left),
            c(left + w),
            c(y(v)),
            c(y(v)),
            c(left - 4.0),
            c(y(v) + 3.0),
            esc(&axis_label(v, ymax))
        );
    }
    for hour in (0..=24).step_by(3) {
        let _ = write!(
            out,
            "<text class=\"ax\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{hour:02}</text>",
            c(x(f64::from(hour))),
            c(height - 6.0)
        );
    }
    for line in lines {
        if line.points.is_empty() {
            continue;
        }
        let d: Vec<String> = line
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}{} {}", if i == 0 { 'M' } else { 'L' }, c(x(p.0)), c(y(p.1))))
            .collect();
        let _ = write!(out, "<path class=\"{}\" d=\"{}\"/>", line.class, d.join(""));
        for p in &line.points {
            let _ = write!(
                out,
                "<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"2.5\" data-t=\"{} at {:02}:00: {}\"/>",
                line.class,
                c(x(p.0)),
                c(y(p.1)),
                esc(line.label),
                p.0 as u32,
                esc(&(line.show)(Some(p.1)))
            );
        }
    }
    out.push_str("</svg>");
    out
}

fn axis_label(v: f64, max: f64) -> String {
    if max >= 10_000.0 {
        format!("{}k", fmt::number(v / 1000.0, 0))
    } else if max >= 10.0 {
        fmt::number(v, 0)
    } else {
        fmt::number(v, 1)
    }
}

/// The path of a sparkline of `values` through the known ones (an unknown one is skipped, not a
/// gap), `step` pixels apart and `height` high, y from 0 to the largest; `None` when no value
/// is known. Whole pixels and relative steps (`M0 5l2 -1 2 0 ...`) keep a leaderboard of
/// thousands of rows small; a single point is a dot (a zero-length line with round caps).
pub fn spark_path(values: &[Option<f64>], step: u32, height: u32) -> Option<String> {
    let max = values.iter().flatten().fold(0.0, |m: f64, v| m.max(*v));
    let ymax = if max > 0.0 { max } else { 1.0 };
    let span = f64::from(height.saturating_sub(2));
    let mut d = String::new();
    let mut last: Option<(i64, i64)> = None;
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v else { continue };
        let (x, y) = (
            i as i64 * i64::from(step),
            i64::from(height) - 1 - (v.max(0.0) / ymax * span).round() as i64,
        );
        let _ = match last {
            None => write!(d, "M{x} {y}l"),
            Some((px, py)) => write!(d, "{} {} ", x - px, y - py),
        };
        last = Some((x, y));
    }
    last?;
    Some(match d.strip_suffix('l') {
        Some(single) => format!("{single}h0.1"),
        None => d.trim_end().to_owned(),
    })
}

/// A sparkline (see [`spark_path`]) sized by its attributes; empty when no value is known.
pub fn spark(values: &[Option<f64>], step: u32, height: u32) -> String {
    let Some(d) = spark_path(values, step, height) else { return String::new() };
    let width = values.len().saturating_sub(1) as u32 * step;
    format!(
        "<svg class=\"sp\" width=\"{}\" height=\"{height}\"><path d=\"{d}\"/></svg>",
        width.max(1)
    )
}

/// Bars of `values` (non-negative; gaps are no bar), `width` × `height`.
pub fn bars(values: &[Option<f64>], width: f64, height: f64) -> String {
    let max = values.iter().flatten().fold(0.0, |m: f64, v| m.max(*v));
    if max <= 0.0 || values.is_empty() {
        return String::new();
    }
    let step = width / values.len() as f64;
    let mut d = String::new();
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v.filter(|v| *v > 0.0) else { continue };
        let bar = (v / max * height).max(0.5);
        let _ = write!(
            d,
            "M{} {}h{}v{}h-{}z",
            c(i as f64 * step),
            c(height),
            c(step * 0.8),
            c(-bar),
            c(step * 0.8)
        );
    }
    format!(
        "<svg class=\"bars\" width=\"{}\" height=\"{}\"><path d=\"{d}\"/></svg>",
        c(width),
        c(height)
    )
}

/// A heatmap: one row per label, 24 hour columns, each cell coloured by its ROAS band.
pub fn heatmap(labels: &[String], cells: &[[Option<f64>; 24]]) -> String {
    let (left, top, cw, ch) = (92.0, 14.0, 22.0, 16.0);
    let width = left + 24.0 * cw;
    let height = top + ch * labels.len() as f64 + 2.0;
    let mut out = format!(
        "<svg class=\"heat\" viewBox=\"0 0 {} {}\" width=\"{}\">",
        c(width),
        c(height),
        c(width)
    );
    for hour in (0..24).step_by(2) {
        let _ = write!(
            out,
            "<text class=\"ax\" x=\"{}\" y=\"10\" text-anchor=\"middle\">{hour:02}</text>",
            c(left + (f64::from(hour) + 0.5) * cw)
        );
    }
    for (r, (label, row)) in labels.iter().zip(cells).enumerate() {
        let y = top + r as f64 * ch;
        let _ = write!(
            out,
            "<text class=\"ax\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            c(left - 4.0),
            c(y + ch - 4.0),
            esc(label)
        );
        for (hour, v) in row.iter().enumerate() {
            let Some(v) = v else { continue };
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" data-t=\"{} {:02}:00 ROAS {}\"/>",
                fmt::band(Some(*v)),
                c(left + hour as f64 * cw),
                c(y),
                c(cw - 1.0),
                c(ch - 1.0),
                esc(label),
                hour,
                fmt::ratio(Some(*v))
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_are_short_and_text_is_escaped() {
        assert_eq!(c(12.04), "12");
        assert_eq!(c(12.55), "12.6");
        assert_eq!(c(-0.01), "0");
        assert_eq!(esc("<a href=\"x\">"), "&lt;a href=&quot;x&quot;&gt;");
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(340.0), 500.0);
        assert!(spark(&[None, None], 2, 12).is_empty());
        assert_eq!(spark_path(&[None, Some(1.0)], 2, 12).as_deref(), Some("M2 1h0.1"));
        assert_eq!(
            spark_path(&[Some(1.0), Some(1.0), Some(0.5)], 2, 12).as_deref(),
            Some("M0 1l2 0 2 5")
        );
        assert_eq!(
            spark(&[Some(1.0), None, Some(2.0)], 2, 12),
            "<svg class=\"sp\" width=\"4\" height=\"12\"><path d=\"M0 6l4 -5\"/></svg>"
        );
    }
}
