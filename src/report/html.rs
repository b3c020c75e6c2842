//! Renders a [`Report`] as one self-contained HTML page: the template
//! (`templates/report.html`), the CSS and the script are compiled into the binary and inlined,
//! the charts are inline SVG ([`super::svg`]), and nothing refers to another file or URL, so the
//! page opens offline. Text from the database is escaped by the template engine
//! (auto-escaping); SVG strings are escaped where they are built and passed as safe.

use minijinja::value::Value;
use minijinja::{context, Environment};

use super::kpi::CurvePoint;
use super::sql::ReportError;
use super::svg::{self, Line};
use super::{fmt, leaderboard, trust, Report};

const TEMPLATE: &str = include_str!("templates/report.html");
const CSS: &str = include_str!("templates/report.css");
const JS: &str = include_str!("templates/report.js");

fn environment() -> Result<Environment<'static>, ReportError> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_filter("usd", |v: Option<f64>| fmt::usd(v));
    env.add_filter("usd2", |v: Option<f64>| fmt::usd2(v));
    env.add_filter("ratio", |v: Option<f64>| fmt::ratio(v));
    env.add_filter("count", |v: Option<f64>| fmt::count(v));
    env.add_filter("pct", |v: Option<f64>| fmt::pct(v));
    env.add_filter("signed", |v: Option<f64>| fmt::signed(v));
    env.add_filter("band", |v: Option<f64>| fmt::band(v).to_owned());
    env.add_filter("exact", |v: Option<f64>, decimals: Option<usize>| {
        fmt::exact(v, decimals.unwrap_or(2))
    });
    env.add_filter("minutes", |v: Option<i64>| fmt::minutes(v));
    // An RFC 3339 instant as `YYYY-MM-DD HH:MM UTC`.
    env.add_filter("utc", |v: Option<String>| match v {
        Some(t) if t.len() >= 16 => format!("{} {} UTC", &t[..10], &t[11..16]),
        _ => fmt::MISSING.to_owned(),
    });
    env.add_template("report.html", TEMPLATE).map_err(ReportError::Template)?;
    Ok(env)
}

fn safe(text: String) -> Value {
    Value::from_safe_string(text)
}

fn points(list: &[CurvePoint], y: fn(&CurvePoint) -> Option<f64>) -> Vec<(f64, f64)> {
    list.iter().filter_map(|p| y(p).map(|v| (f64::from(p.hour_end), v))).collect()
}

/// The two charts of block 3: cumulative spend and revenue, and ROAS below, today against
/// yesterday.
fn curve_charts(report: &Report) -> (String, String) {
    let c = &report.curve;
    let money = svg::hours_chart(
        "cumulative spend and revenue, today against yesterday",
        &[
            Line {
                class: "ys",
                label: "spend yesterday",
                points: points(&c.yesterday, |p| p.spend),
                show: fmt::usd,
            },
            Line {
                class: "yr",
                label: "revenue yesterday",
                points: points(&c.yesterday, |p| p.revenue),
                show: fmt::usd,
            },
            Line {
                class: "ts",
                label: "spend today",
                points: points(&c.today, |p| p.spend),
                show: fmt::usd,
            },
            Line {
                class: "tr",
                label: "revenue today",
                points: points(&c.today, |p| p.revenue),
                show: fmt::usd,
            },
        ],
        720.0,
        240.0,
    );
    let roas = svg::hours_chart(
        "ROAS so far, today against yesterday",
        &[
            Line {
                class: "yo",
                label: "ROAS yesterday",
                points: points(&c.yesterday, |p| p.roas),
                show: fmt::ratio,
            },
            Line {
                class: "to",
                label: "ROAS today",
                points: points(&c.today, |p| p.roas),
                show: fmt::ratio,
            },
        ],
        720.0,
        140.0,
    );
    (money, roas)
}

/// The page. The same report gives the same bytes.
pub fn render(report: &Report) -> Result<String, ReportError> {
    let env = environment()?;
    let (money, roas) = curve_charts(report);
    // The leaderboard's sparklines are sized by the CSS (class s24): 2,000 rows of width and
    // height attributes would be 50 KB.
    let sparks: Vec<Value> = report
        .leaderboard
        .rows
        .iter()
        .map(|r| {
            safe(svg::spark_path(&r.spark, 2, 14).map_or(String::new(), |d| {
                format!("<svg class=\"sp s24\"><path d=\"{d}\"/></svg>")
            }))
        })
        .collect();
    let series = |list: &[super::trends::Series]| -> Vec<Value> {
        list.iter()
            .map(|s| {
                let spend: Vec<Option<f64>> = s.daily.iter().map(|d| d.spend).collect();
                let roas: Vec<Option<f64>> = s.daily.iter().map(|d| d.roas).collect();
                Value::from(vec![
                    safe(svg::bars(&spend, 120.0, 18.0)),
                    safe(svg::spark(&roas, 4, 18)),
                ])
            })
            .collect()
    };
    let heat = &report.heatmaps;
    let ctx = context! {
        r => Value::from_serialize(report),
        css => safe(CSS.to_owned()),
        js => safe(JS.to_owned()),
        curve_money => safe(money),
        curve_roas => safe(roas),
        sparks => sparks,
        source_sparks => series(&report.trends.by_media_source),
        owner_sparks => series(&report.trends.by_owner),
        heat_campaigns => safe(svg::heatmap(&heat.campaigns.rows, &heat.campaigns.cells)),
        heat_weekdays => safe(svg::heatmap(&heat.weekdays.rows, &heat.weekdays.cells)),
        weekday => report.frame.date.format("%A").to_string(),
        late_minutes => trust::LATE_MINUTES,
        restated_rule => leaderboard::RESTATED_RULE,
    };
    let template = env.get_template("report.html").map_err(ReportError::Template)?;
    template.render(ctx).map_err(ReportError::Template)
}
