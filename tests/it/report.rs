//! `adlake report`: the page of a database built from the fake upstream's bodies, fetched at
//! chosen hours (events put straight into a lake with their `fetched_at`, then `adlake
//! reproject`), so that today and the days before have intraday curves. Checks the page against
//! SQL over the same database, its bytes (snapshot, determinism, size), and that it loads
//! offline in headless Chromium with no console error.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::NaiveDate;

use crate::util::*;
use fixture::{at, month, small, today, Fetch, Fixture};

mod chromium;
mod fixture;

/// The value of attribute `name` of the first element after `marker` in `html`.
pub(super) fn attr(html: &str, marker: &str, name: &str) -> Option<String> {
    let rest = &html[html.find(marker)?..];
    let rest = &rest[rest.find(&format!("{name}=\""))? + name.len() + 2..];
    Some(rest[..rest.find('"')?].to_owned())
}

pub(super) fn one_f64(conn: &duckdb::Connection, sql: &str) -> Option<f64> {
    conn.query_row(sql, [], |r| r.get::<_, Option<f64>>(0)).expect(sql)
}

/// Today's totals at its newest snapshot hour and yesterday's at its newest snapshot of the same
/// hour of day or earlier, computed here independently of the report's code.
pub(super) fn totals(conn: &duckdb::Connection, date: NaiveDate, cut: &str) -> [Option<f64>; 3] {
    let pick = format!(
        "(SELECT max(as_of_hour) FROM campaign_intraday WHERE date = DATE '{date}' AND as_of_hour <= {cut})"
    );
    ["spend_usd", "revenue_usd", "sessions"].map(|col| {
        one_f64(
            conn,
            &format!(
                "SELECT CAST(sum({col}) AS DOUBLE) FROM campaign_intraday WHERE date = DATE '{date}' AND as_of_hour = {pick}"
            ),
        )
    })
}

pub(super) fn four(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.4}"))
}

#[test]
fn report_of_a_fixed_database_matches_its_snapshot() {
    let f = small();
    let out = f.scratch.path().join("snapshot.html");
    let printed = f.report(&out, &[]);
    assert_eq!(printed.stdout_text().trim(), out.display().to_string());
    let html = std::fs::read_to_string(&out).expect("page");
    insta::assert_snapshot!("report_small_fixed_database", html);
}

#[test]
fn a_second_report_of_the_same_database_is_byte_identical() {
    let f = month();
    let (a, b) = (f.scratch.path().join("a.html"), f.scratch.path().join("b.html"));
    f.report(&a, &[]);
    f.report(&b, &["--date", &today().to_string()]);
    let (a, b) = (std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b"));
    assert!(a == b, "two reports of the same database differ ({} and {} bytes)", a.len(), b.len());
}

#[test]
fn kpi_tiles_and_json_equal_sql_over_the_same_database() {
    let f = month();
    let page = f.scratch.path().join("kpi.html");
    let json = f.report(&page, &["--json"]).json();
    let html = std::fs::read_to_string(&page).expect("page");
    let conn = f.conn();
    let d = today();
    assert_eq!(json["frame"]["as_of_hour"], format!("{d}T14:00:00Z"), "as-of hour");
    let now = totals(&conn, d, &format!("TIMESTAMP '{d} 23:59:59'"));
    let hour = |date: NaiveDate| format!("TIMESTAMP '{date} 14:00:00'");
    let yesterday = totals(&conn, d - chrono::Days::new(1), &hour(d - chrono::Days::new(1)));
    let ratio = |n: Option<f64>, m: Option<f64>| Some(n? / m?);
    let expected = [
        ("spend", now[0], yesterday[0]),
        ("revenue", now[1], yesterday[1]),
        (
            "profit",
            now[1].zip(now[0]).map(|(r, s)| r - s),
            yesterday[1].zip(yesterday[0]).map(|(r, s)| r - s),
        ),
        ("roas", ratio(now[1], now[0]), ratio(yesterday[1], yesterday[0])),
        ("sessions", now[2], yesterday[2]),
        ("rpc", ratio(now[1], now[2]), ratio(yesterday[1], yesterday[2])),
    ];
    let tiles = json["kpis"]["tiles"].as_array().expect("tiles");
    for (i, (key, today_value, yesterday_value)) in expected.into_iter().enumerate() {
        assert!(today_value.is_some_and(|v| v > 0.0), "{key}: no value today");
        assert_eq!(
            attr(&html, &format!("id=\"kpi-{key}\""), "data-v"),
            Some(four(today_value)),
            "{key} tile"
        );
        assert_eq!(tiles[i]["key"], key);
        assert_eq!(four(tiles[i]["today"].as_f64()), four(today_value), "{key} today in --json");
        assert_eq!(four(tiles[i]["yesterday"].as_f64()), four(yesterday_value), "{key} yesterday");
    }
    // The mean of the last four same weekdays at 14:00, spend: each has a 14:20 snapshot.
    let weeks: Vec<f64> = (1..=4)
        .filter_map(|w| {
            let date = d - chrono::Days::new(7 * w);
            totals(&conn, date, &hour(date))[0]
        })
        .collect();
    assert_eq!(weeks.len(), 4, "the fixture has four weeks of 14:00 snapshots");
    let mean = weeks.iter().sum::<f64>() / 4.0;
    assert_eq!(four(tiles[0]["weekdays"].as_f64()), four(Some(mean)), "spend vs last 4 weekdays");

    // Every campaign of the last three days is a row, and no other.
    let campaigns: BTreeSet<String> = {
        let mut stmt = conn
            .prepare(&format!(
                "SELECT DISTINCT campaign_id FROM campaign_index WHERE level = 'campaign' AND snapshot_source = 'daily' AND date BETWEEN DATE '{}' AND DATE '{d}'
                 UNION SELECT DISTINCT campaign_id FROM campaign_intraday WHERE date = DATE '{d}' AND as_of_hour = TIMESTAMP '{d} 14:00:00'",
                d - chrono::Days::new(2)
            ))
            .expect("prepare");
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).expect("query");
        rows.map(|r| r.expect("row")).collect()
    };
    let rows = json["leaderboard"]["rows"].as_array().expect("rows");
    let listed: BTreeSet<String> =
        rows.iter().filter_map(|r| r["campaign_id"].as_str().map(str::to_owned)).collect();
    assert_eq!(listed, campaigns, "leaderboard campaigns");
    // Each campaign with a snapshot in the last 24 hours has a sparkline.
    let with_spark = rows
        .iter()
        .filter(|r| r["spark"].as_array().is_some_and(|s| s.iter().any(|v| !v.is_null())))
        .count();
    assert!(with_spark > 0, "no sparkline data");
    let board = html
        .find("<section id=\"leaderboard\"")
        .and_then(|a| html.find("<section id=\"heatmaps\"").map(|b| &html[a..b]))
        .expect("leaderboard block");
    assert_eq!(
        board.matches("<svg class=\"sp s24\"><path d=\"M").count(),
        with_spark,
        "sparklines"
    );
    for id in &campaigns {
        assert!(
            html.contains(&format!("<code>adlake audit --campaign {id} --date {d}</code>")),
            "no audit command for {id}"
        );
    }
}

/// Campaigns whose spend or revenue of the last three dates went down between consecutive
/// snapshots (intraday in hour order, then the date's campaign_index row), computed in Rust.
fn restated_here(conn: &duckdb::Connection) -> BTreeSet<String> {
    let d = today();
    let from = d - chrono::Days::new(2);
    let mut series: BTreeMap<(String, String), Vec<(i64, Option<f64>, Option<f64>)>> =
        BTreeMap::new();
    let sql = format!(
        "SELECT campaign_id, CAST(date AS VARCHAR), CAST(epoch(as_of_hour) AS BIGINT), CAST(spend_usd AS DOUBLE), CAST(revenue_usd AS DOUBLE)
         FROM campaign_intraday WHERE date BETWEEN DATE '{from}' AND DATE '{d}'
         UNION ALL
         SELECT campaign_id, CAST(date AS VARCHAR), 9223372036854775807, CAST(spend_usd AS DOUBLE), CAST(revenue_usd AS DOUBLE)
         FROM campaign_index WHERE level = 'campaign' AND snapshot_source = 'daily' AND date BETWEEN DATE '{from}' AND DATE '{d}'"
    );
    let mut stmt = conn.prepare(&sql).expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query");
    for row in rows {
        let (id, date, t, spend, revenue) = row.expect("row");
        series.entry((id, date)).or_default().push((t, spend, revenue));
    }
    let mut out = BTreeSet::new();
    for ((id, _), mut points) in series {
        points.sort_by_key(|p| p.0);
        let down = |a: Option<f64>, b: Option<f64>| matches!((a, b), (Some(a), Some(b)) if b < a);
        if points.windows(2).any(|w| down(w[0].1, w[1].1) || down(w[0].2, w[1].2)) {
            out.insert(id);
        }
    }
    out
}

#[test]
fn restated_flags_are_the_campaigns_whose_numbers_went_down() {
    let f = month();
    let page = f.scratch.path().join("flags.html");
    let json = f.report(&page, &["--json"]).json();
    let expected = restated_here(&f.conn());
    let rows = json["leaderboard"]["rows"].as_array().expect("rows");
    assert!(
        !expected.is_empty() && expected.len() < rows.len(),
        "the fixture restates some campaigns and not others: {expected:?}"
    );
    let flagged: BTreeSet<String> = rows
        .iter()
        .filter(|r| r["restated"] == true)
        .filter_map(|r| r["campaign_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(flagged, expected);
    let html = std::fs::read_to_string(&page).expect("page");
    assert_eq!(html.matches("<i class=\"fl fr\">restated</i>").count(), expected.len());
}

#[test]
fn a_report_for_a_date_without_rows_says_so_and_writes_nothing() {
    let f = small();
    let page = f.scratch.path().join("nothing.html");
    let out = run(f.scratch.adlake().args(["report", "--date", "2020-01-01", "--out"]).arg(&page));
    expect_code(&out, 1);
    assert!(out.stderr.contains("no campaign rows for 2020-01-01"), "{}", out.stderr);
    assert!(!page.exists());
}

#[test]
fn a_page_for_two_thousand_campaigns_stays_under_one_megabyte() {
    let d = today();
    let y = d - chrono::Days::new(1);
    // Hourly ingests: every hour of the sparkline's 24 has a snapshot, its longest form.
    let mut fetches: Vec<Fetch> = (14..24)
        .map(|h| Fetch { date: y, when: at(y, h, 20), upstream_today: y, epoch: 0, failing: &[] })
        .collect();
    fetches.push(Fetch { date: y, when: at(d, 0, 5), upstream_today: d, epoch: 0, failing: &[] });
    fetches.extend((0..14).map(|h| Fetch {
        date: d,
        when: at(d, h, 20),
        upstream_today: d,
        epoch: 0,
        failing: &[],
    }));
    let f = Fixture::build(Scratch::new(), 2000, &fetches);
    let page = f.scratch.path().join("big.html");
    let started = Instant::now();
    let json = f.report(&page, &["--json"]).json();
    let took = started.elapsed();
    let rows = json["leaderboard"]["rows"].as_array().map_or(0, Vec::len);
    assert!(rows > 1500, "only {rows} campaigns in the leaderboard");
    let full = json["leaderboard"]["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["spark"].as_array().is_some_and(|s| s.iter().all(|v| !v.is_null())))
        .count();
    assert!(full > 1500, "only {full} campaigns have a snapshot at each of the 24 hours");
    let bytes = std::fs::metadata(&page).expect("page").len();
    eprintln!("report of {rows} campaigns: {bytes} bytes in {took:?} (dev build)");
    assert!(bytes < 1_000_000, "{bytes} bytes for {rows} campaigns");
}

#[test]
fn a_failed_spend_report_flags_its_campaigns_and_the_trust_strip() {
    let f = month();
    let page = f.scratch.path().join("failed.html");
    let json = f.report(&page, &["--json"]).json();
    let endpoints = json["trust"]["endpoints"].as_array().expect("endpoints");
    let state =
        |key: &str| endpoints.iter().find(|e| e["endpoint"] == key).map(|e| e["status"].clone());
    assert_eq!(state("taboola_report"), Some("FAILED".into()));
    assert_eq!(state("outbrain_report"), Some("OK".into()));
    let rows = json["leaderboard"]["rows"].as_array().expect("rows");
    let mut taboola = 0;
    for r in rows {
        let failed = r["failed"].as_array().expect("failed");
        let on_taboola = r["media_source"] == "taboola";
        taboola += usize::from(on_taboola);
        assert_eq!(
            failed.iter().any(|k| k == "taboola_report"),
            on_taboola,
            "campaign {} ({}) flags {failed:?}",
            r["campaign_id"],
            r["media_source"]
        );
    }
    assert!(taboola > 0, "the fixture has Taboola campaigns");
    let html = std::fs::read_to_string(&page).expect("page");
    assert_eq!(html.matches("<i class=\"fl ff\">FAILED taboola_report</i>").count(), taboola);
    assert!(html.contains("<li class=\"st-FAILED\" data-endpoint=\"taboola_report\""));
}

#[test]
fn status_prints_today_so_far_against_yesterday_at_this_hour() {
    let f = month();
    let out = run(f.scratch.adlake().arg("status"));
    expect_code(&out, 0);
    let conn = f.conn();
    let d = today();
    let now = totals(&conn, d, &format!("TIMESTAMP '{d} 23:59:59'"));
    let line = out.stdout_text().lines().next().unwrap_or_default().to_owned();
    let usd = adlake::report::fmt::usd;
    let expected = format!(
        "today so far ({d}, as of 15:00 UTC): spend {}, revenue {}, ROAS {} vs yesterday at this hour:",
        usd(now[0]),
        usd(now[1]),
        adlake::report::fmt::ratio(now[1].zip(now[0]).map(|(r, s)| r / s))
    );
    assert!(line.starts_with(&expected), "{line}\nexpected it to start with\n{expected}");
    let json = run(f.scratch.adlake().args(["--json", "status"])).json();
    assert_eq!(
        json["today_so_far"]["today"]["spend"].as_f64().map(|v| format!("{v:.4}")),
        now[0].map(|v| format!("{v:.4}"))
    );
}

#[test]
fn a_date_without_intraday_snapshots_is_compared_as_whole_days() {
    // Every date fetched only after it closed: no snapshot hour of its own.
    let d = today();
    let fetches: Vec<Fetch> = (1..=3)
        .map(|back| Fetch {
            date: d - chrono::Days::new(back),
            when: at(d, 0, 40),
            upstream_today: d,
            epoch: 0,
            failing: &[],
        })
        .collect();
    let f = Fixture::build(Scratch::new(), 5, &fetches);
    let page = f.scratch.path().join("days.html");
    let json = f.report(&page, &["--json"]).json();
    let yesterday = d - chrono::Days::new(1);
    assert_eq!(json["frame"]["date"], yesterday.to_string(), "the newest projected date");
    assert!(json["frame"]["as_of_hour"].is_null());
    assert_eq!(json["trust"]["basis"], "day");
    let conn = f.conn();
    let day_spend = |date: NaiveDate| {
        one_f64(
            &conn,
            &format!(
                "SELECT CAST(sum(spend_usd) AS DOUBLE) FROM campaign_index
                 WHERE level = 'campaign' AND snapshot_source = 'daily' AND date = DATE '{date}'"
            ),
        )
    };
    let tile = &json["kpis"]["tiles"][0];
    assert_eq!(tile["key"], "spend");
    assert_eq!(four(tile["today"].as_f64()), four(day_spend(yesterday)));
    assert_eq!(four(tile["yesterday"].as_f64()), four(day_spend(d - chrono::Days::new(2))));
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(html.contains("<small>the day's newest numbers</small>"));
}

/// `adlake demo` replays yesterday and today at simulated hours and ends by writing the
/// report: both days have an intraday curve of several hours, and stdout names the page.
#[test]
fn the_demo_ends_with_the_report_of_a_day_that_grew_through_simulated_hours() {
    let s = Scratch::new();
    let dir = s.path().join("demo");
    let out = run(s.adlake().args(["demo", "--days", "2", "--campaigns", "8", "--dir"]).arg(&dir));
    expect_code(&out, 0);
    let page = dir.join("report.html");
    let stdout = out.stdout_text();
    assert!(stdout.contains(&page.display().to_string()), "{stdout}");
    let html = std::fs::read_to_string(&page).expect("the demo wrote its report");
    assert!(html.contains("<svg") && html.contains("Team view"), "not the report");

    let conn = duckdb::Connection::open(dir.join("monitoring.duckdb")).expect("open");
    let hours = |date: NaiveDate| -> i64 {
        conn.query_row(
            "SELECT count(DISTINCT as_of_hour) FROM campaign_intraday WHERE date = ?",
            [date.to_string()],
            |r| r.get(0),
        )
        .expect("query")
    };
    let (today, yesterday) = (crate::util::today(), days_ago(1));
    assert_eq!((hours(yesterday), hours(today)), (4, 4), "four simulated ingests of each day");
    // The day grew: today's newest snapshot has more spend than its first.
    let (first, last): (f64, f64) = conn
        .query_row(
            "SELECT arg_min(s, h)::DOUBLE, arg_max(s, h)::DOUBLE FROM (SELECT as_of_hour h, \
             sum(spend_usd) s FROM campaign_intraday WHERE date = ? GROUP BY ALL)",
            [today.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("query");
    assert!(last > first, "spend so far rose through the day: {first} -> {last}");
}
