//! An upstream that misbehaves: redirects to another origin, pagination that goes round in a
//! circle, report columns renamed by a release, an endpoint that fails and the fallback that
//! takes its place; and a `--db` that is no database. What the run says, what the lake keeps
//! and what the tables show, through the real binary against the fake over loopback.

use std::collections::BTreeMap;

use adlake::fake::faults;
use adlake_raw::store::EventFilter;
use adlake_raw::Lake;
use chrono::NaiveDate;
use serde_json::Value;

use crate::util::*;

fn lake_events(s: &Scratch, endpoint: &str, date: NaiveDate) -> Vec<adlake_raw::StoredEvent> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let lake = Lake::open(s.lake().to_str().expect("utf8")).expect("open");
        let filter =
            EventFilter { from: Some(date), to: Some(date), source: Some(endpoint.into()) };
        lake.list_events(&filter).await.expect("list")
    })
}

fn fetch<'a>(report: &'a Value, endpoint: &str, date: NaiveDate) -> &'a Value {
    report["fetches"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["endpoint"] == endpoint && f["date"] == date.to_string()))
        .unwrap_or_else(|| panic!("no fetch {endpoint} {date} in {report}"))
}

fn fault(rule: &str) -> faults::FaultRule {
    faults::parse(rule).unwrap_or_else(|e| panic!("{e}"))
}

/// Rows of `sql` (every column cast to text by the query), NULL as `None`.
fn query(s: &Scratch, sql: &str) -> Vec<Vec<Option<String>>> {
    let conn = duckdb::Connection::open(s.db()).expect("open db");
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let columns = stmt.column_count();
    let rows = stmt
        .query_map([], |r| (0..columns).map(|i| r.get::<_, Option<String>>(i)).collect())
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

/// The daily campaign rows of `media` on `date`: campaign_id -> (spend_usd, spend_source).
fn spends(
    s: &Scratch,
    date: NaiveDate,
    media: &str,
) -> BTreeMap<String, (Option<String>, Option<String>)> {
    query(
        s,
        &format!(
            "SELECT campaign_id, CAST(spend_usd AS VARCHAR), spend_source FROM campaign_index
             WHERE date = DATE '{date}' AND level = 'campaign' AND snapshot_source = 'daily'
               AND media_source = '{media}'"
        ),
    )
    .into_iter()
    .map(|r| (r[0].clone().unwrap_or_default(), (r[1].clone(), r[2].clone())))
    .collect()
}

/// `endpoint_completeness` of (`endpoint`, `date`): status and error message.
fn completeness(s: &Scratch, endpoint: &str, date: NaiveDate) -> (String, String) {
    let rows = query(
        s,
        &format!(
            "SELECT status, error_message FROM endpoint_completeness
             WHERE endpoint = '{endpoint}' AND date = DATE '{date}'"
        ),
    );
    let row = rows.first().unwrap_or_else(|| panic!("no completeness row {endpoint} {date}"));
    (row[0].clone().unwrap_or_default(), row[1].clone().unwrap_or_default())
}

/// How many campaigns of `media` deliver on `date` in the fake's universe.
fn delivering(fake: &Fake, media: &str, date: NaiveDate) -> usize {
    let u = fake.fake.universe();
    u.of_media(media).filter(|c| u.metrics(c, date, 0, noon_today()).is_some()).count()
}

#[track_caller]
fn assert_no_credentials(s: &Scratch, outputs: &[&Output]) {
    let secrets = [PASSWORD, EMAIL, "eyJhbGciOi"];
    for (path, bytes) in lake_bytes(s.path()) {
        assert_absent(&path.display().to_string(), &bytes, &secrets);
    }
    assert_absent("the database's tables", &database_text(&s.db()), &secrets);
    for out in outputs {
        assert_absent("stdout", &out.stdout, &secrets);
        assert_absent("stderr", out.stderr.as_bytes(), &secrets);
    }
}

#[track_caller]
fn assert_nothing_reached(other: &OtherOrigin, what: &str) {
    let connections = other.connections();
    assert!(
        connections.is_empty(),
        "{what}: {} connection(s) reached the other origin, sending:\n{}",
        connections.len(),
        connections
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
}

#[test]
fn a_login_redirect_to_another_origin_is_not_followed() {
    let other = OtherOrigin::start();
    let fake = Fake::start(Fake::config(5));
    let d = days_ago(1).to_string();
    for status in [307, 308, 301, 302, 303] {
        let s = Scratch::new();
        fake.fake.clear_faults();
        fake.fake.add_fault(fault(&format!("login=redirect-{status}={}", other.url())));
        let out = run(fake.ingest(&s).args(["-v", "--date", &d, "--endpoints", "taboola_report"]));
        expect_code(&out, 1);
        assert_nothing_reached(&other, &format!("a login answered {status}"));
        assert!(
            out.stderr.contains(&other.host()),
            "HTTP {status}: the error does not name the redirect's host:\n{}",
            out.stderr
        );
        assert!(
            !out.stderr.contains(&format!("{}/", other.url())),
            "HTTP {status}: the error quotes the redirect's URL:\n{}",
            out.stderr
        );
        assert_no_credentials(&s, &[&out]);
    }
    let reports = fake.fake.requests().iter().filter(|r| r.endpoint.is_some()).count();
    assert_eq!(reports, 0, "no report is asked for without a login");
}

#[test]
fn a_report_redirect_to_another_origin_is_kept_as_evidence_and_fails_the_fetch() {
    let other = OtherOrigin::start();
    let d = days_ago(2);
    let mut config = Fake::config(20);
    config.faults.push(fault(&format!("taboola_report@{d}=redirect={}", other.url())));
    let fake = Fake::start(config);
    let s = Scratch::new();
    let endpoints = "taboola_report,mediago_report";
    let out = run(fake.ingest(&s).args([
        "-vv",
        "--json",
        "--date",
        &d.to_string(),
        "--endpoints",
        endpoints,
    ]));
    expect_code(&out, 1);
    assert_nothing_reached(&other, "a report answered 307");
    let report = out.json();
    let taboola = fetch(&report, "taboola_report", d);
    assert_eq!(
        (taboola["status"].as_str(), taboola["attempts"].as_u64()),
        (Some("FAILED"), Some(1)),
        "refused, not retried: {taboola}"
    );
    let error = taboola["error"].as_str().unwrap_or_default();
    assert!(error.contains(&other.host()), "the error does not name the host: {error}");
    assert!(!error.contains("dateStart"), "the error quotes the redirect's query: {error}");
    assert_eq!(fetch(&report, "mediago_report", d)["status"], "OK");

    // The 3xx attempt is evidence: status, allow-listed headers, body.
    let events = lake_events(&s, "taboola_report", d);
    assert_eq!(events.len(), 1, "one attempt, one event");
    let h = events[0].envelope.http.clone().expect("http");
    assert_eq!(h.status, Some(307));
    assert!(events[0].envelope.body.is_some(), "the redirect's body is kept");
    assert!(
        h.headers.keys().all(|k| adlake_raw::redact::KEPT_HEADERS.contains(&k.as_str())),
        "{:?}",
        h.headers
    );
    assert_eq!(
        h.headers.get("location").map(String::as_str),
        Some(format!("{}/api/taboola/campaign-summary-report", other.url()).as_str()),
        "where it pointed, without its query"
    );
    let (status, message) = completeness(&s, "taboola_report", d);
    assert_eq!(status, "FAILED");
    assert!(message.contains(&other.host()), "{message}");
    assert_no_credentials(&s, &[&out]);
}

#[test]
fn a_report_redirect_within_its_origin_is_followed() {
    let d = days_ago(2);
    let fake = Fake::start(Fake::config(20));
    fake.fake.add_fault(fault(&format!("taboola_report@{d}=redirect={}*1", fake.fake.url())));
    let s = Scratch::new();
    let out = run(fake.ingest(&s).args([
        "--json",
        "--date",
        &d.to_string(),
        "--endpoints",
        "taboola_report",
    ]));
    expect_code(&out, 0);
    let taboola = fetch(&out.json(), "taboola_report", d).clone();
    assert_eq!((taboola["status"].as_str(), taboola["attempts"].as_u64()), (Some("OK"), Some(1)));
    let asked: Vec<String> = fake
        .fake
        .requests()
        .iter()
        .filter(|r| r.endpoint.as_deref() == Some("taboola_report"))
        .map(|r| r.outcome.clone())
        .collect();
    assert_eq!(asked, ["307", "200"], "the redirect was followed to the same origin");
}

#[test]
fn a_cursor_pointing_back_at_an_earlier_page_fails_the_fetch_at_once() {
    let (d, fresh) = (days_ago(2), days_ago(3));
    let mut config = Fake::config(40);
    config.facebook_page_size = 2;
    let fake = Fake::start(config);
    for date in [d, fresh] {
        assert!(delivering(&fake, "facebook", date) > 2, "facebook_report pages on {date}");
    }
    let s = Scratch::new();
    // With s1_daily_v3, whose networkCampaignId pairs name every campaign the same way in
    // both runs.
    let good_run = run(fake.ingest(&s).args([
        "--json",
        "--date",
        &d.to_string(),
        "--endpoints",
        "facebook_report,s1_daily_v3",
    ]));
    expect_code(&good_run, 0);
    let good = spends(&s, d, "facebook");
    assert!(
        !good.is_empty()
            && good
                .values()
                .all(|(spend, source)| spend.is_some()
                    && source.as_deref() == Some("facebook_report")),
        "{good:?}"
    );

    for date in [d, fresh] {
        fake.fake.add_fault(fault(&format!("facebook_report@{date}=cursor-loop")));
    }
    let looped = run(fake.ingest(&s).args([
        "--json",
        "--from",
        &fresh.to_string(),
        "--to",
        &d.to_string(),
        "--endpoints",
        "facebook_report,s1_daily_v3",
    ]));
    expect_code(&looped, 1);
    let report = looped.json();
    for date in [d, fresh] {
        let f = fetch(&report, "facebook_report", date);
        assert_eq!(f["status"], "FAILED", "{f}");
        let error = f["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("pagination loop"), "{error}");
        assert_eq!(f["pages"], 2, "stops at the page that points back: {f}");
        let (status, message) = completeness(&s, "facebook_report", date);
        assert_eq!(status, "FAILED");
        assert!(message.starts_with("pagination loop"), "{message}");
    }
    // Both pages of the looping fetch are evidence.
    let run_id = report["run_id"].as_str().expect("run id").to_owned();
    let kept = lake_events(&s, "facebook_report", d)
        .into_iter()
        .filter(|e| e.envelope.http.as_ref().is_some_and(|h| h.fetch_id.starts_with(&run_id)))
        .count();
    assert_eq!(kept, 2);
    assert_eq!(spends(&s, d, "facebook"), good, "the earlier good fetch keeps serving");
    let without_good_fetch = spends(&s, fresh, "facebook");
    assert!(
        !without_good_fetch.is_empty()
            && without_good_fetch.values().all(|(spend, _)| spend.is_none()),
        "{without_good_fetch:?}"
    );
}

#[test]
fn pages_that_ignore_the_page_asked_for_fail_the_fetch_as_a_pagination_loop() {
    let d = days_ago(2);
    let mut config = Fake::config(40);
    config.smartnews_page_size = 1;
    let fake = Fake::start(config);
    assert!(delivering(&fake, "smartnews", d) > 1, "smartnews_report pages on {d}");
    let s = Scratch::new();
    let ingest = |s: &Scratch| {
        let mut cmd = fake.ingest(s);
        cmd.env("ADLAKE_PAGE_LIMIT", "2").args([
            "--json",
            "--date",
            &d.to_string(),
            "--endpoints",
            "s1_daily_v3,smartnews_report",
        ]);
        run(&mut cmd)
    };
    let good_run = ingest(&s);
    expect_code(&good_run, 0);
    let good = spends(&s, d, "smartnews");
    assert!(!good.is_empty() && good.values().all(|(spend, _)| spend.is_some()), "{good:?}");
    let revenue = "SELECT campaign_id, CAST(revenue_usd AS VARCHAR) FROM campaign_index WHERE snapshot_source = 'daily' AND level = 'campaign' ORDER BY ALL";
    let good_revenue = query(&s, revenue);

    fake.fake.add_fault(fault(&format!("smartnews_report@{d}=ignore-page")));
    fake.fake.add_fault(fault(&format!("s1_daily_v3@{d}=ignore-page")));
    let looped = ingest(&s);
    expect_code(&looped, 1);
    let report = looped.json();
    assert_eq!(report["status"], "failed", "s1_daily_v3 is critical");
    for key in ["smartnews_report", "s1_daily_v3"] {
        let f = fetch(&report, key, d);
        assert_eq!(f["status"], "FAILED", "{f}");
        assert!(f["error"].as_str().unwrap_or_default().starts_with("pagination loop"), "{f}");
        assert_eq!(f["pages"], 2, "stops at the first page served twice: {f}");
        let (status, message) = completeness(&s, key, d);
        assert_eq!(status, "FAILED");
        assert!(message.starts_with("pagination loop"), "{message}");
    }
    assert_eq!(spends(&s, d, "smartnews"), good, "spend is not multiplied");
    assert_eq!(query(&s, revenue), good_revenue, "revenue is not multiplied");
}

#[test]
fn a_fetch_stopped_at_the_page_limit_stays_partial() {
    let d = days_ago(2);
    let fake = Fake::start(Fake::config(20));
    let s = Scratch::new();
    let config = s.path().join("adlake.toml");
    std::fs::write(&config, "[upstream]\nmax_pages = 2\npage_limit = 1\n").expect("config");
    let out = run(fake.ingest(&s).arg("--config").arg(&config).args([
        "--json",
        "--date",
        &d.to_string(),
        "--endpoints",
        "s1_daily_v3",
    ]));
    expect_code(&out, 0);
    let f = fetch(&out.json(), "s1_daily_v3", d).clone();
    assert_eq!((f["status"].as_str(), f["pages"].as_u64()), (Some("PARTIAL"), Some(2)), "{f}");
    assert!(f["error"].as_str().unwrap_or_default().contains("page limit"), "{f}");
}

#[test]
fn a_database_path_that_is_no_duckdb_database_is_refused_before_any_work() {
    let fake = Fake::start(Fake::config(5));
    let d = days_ago(1).to_string();
    let cases: [(&str, Option<&[u8]>); 7] = [
        ("report.csv", None),
        ("report.json", None),
        ("report.parquet", None),
        ("export.csv", Some(b"campaign_id,spend_usd\nsi538x06gc,12.5\n")),
        ("export.json", Some(b"[{\"campaign_id\": \"si538x06gc\"}]\n")),
        ("export.parquet", Some(b"PAR1 not really parquet PAR1")),
        ("notes.txt", Some(b"remember to check taboola\n")),
    ];
    for (name, content) in cases {
        for command in ["ingest", "init"] {
            let s = Scratch::new();
            let path = s.path().join(name);
            if let Some(bytes) = content {
                std::fs::write(&path, bytes).expect("write");
            }
            let base = s.adlake_at(s.lake(), &path);
            let mut cmd = if command == "ingest" {
                let mut cmd = fake.ingest_with(base);
                cmd.args(["--date", &d, "--endpoints", "taboola_report"]);
                cmd
            } else {
                let mut cmd = base;
                cmd.arg("init");
                cmd
            };
            let out = run(&mut cmd);
            expect_code(&out, 2);
            assert!(
                out.stderr.contains(name) && out.stderr.contains("--db"),
                "{command} --db {name}: the error names neither the path nor what to do:\n{}",
                out.stderr
            );
            assert!(!s.lake().exists(), "{command} --db {name} wrote to the lake");
            match content {
                None => assert!(!path.exists(), "{command} --db {name} created it"),
                Some(bytes) => {
                    assert_eq!(std::fs::read(&path).expect("read"), bytes, "{name} changed")
                }
            }
            let mut wal = path.clone().into_os_string();
            wal.push(".wal");
            assert!(!std::path::Path::new(&wal).exists());
        }
    }
    let reports = fake.fake.requests().iter().filter(|r| r.endpoint.is_some()).count();
    assert_eq!(reports, 0, "nothing was fetched");
}

#[test]
fn a_renamed_zemanta_spend_column_fails_the_fetch_and_the_previous_fetch_keeps_serving() {
    let (d, fresh) = (days_ago(2), days_ago(3));
    let fake = Fake::start(Fake::config(40));
    for date in [d, fresh] {
        assert!(delivering(&fake, "zemanta", date) > 0, "zemanta delivers on {date}");
    }
    let s = Scratch::new();
    let zemanta = |date: NaiveDate, json: bool| {
        let mut cmd = fake.ingest(&s);
        cmd.args(["--date", &date.to_string(), "--endpoints", "zemanta_report"]);
        if json {
            cmd.arg("--json");
        }
        run(&mut cmd)
    };
    let good_run = zemanta(d, true);
    expect_code(&good_run, 0);
    let good = spends(&s, d, "zemanta");
    assert!(
        !good.is_empty()
            && good
                .values()
                .all(|(spend, source)| spend.is_some()
                    && source.as_deref() == Some("zemanta_report")),
        "{good:?}"
    );

    for date in [d, fresh] {
        fake.fake.add_fault(fault(&format!("zemanta_report@{date}=renamed-column")));
    }
    let renamed = zemanta(d, false);
    expect_code(&renamed, 1);
    let summary = renamed.stdout_text();
    let line = summary.lines().find(|l| l.starts_with("zemanta_report"));
    let named =
        |l: &&str| [d.to_string().as_str(), "FAILED", "Total Spend"].iter().all(|n| l.contains(n));
    assert!(line.is_some_and(|l| named(&l)), "the summary does not say why:\n{summary}");
    let (status, message) = completeness(&s, "zemanta_report", d);
    assert_eq!(status, "FAILED");
    for needle in ["zemanta_report", &d.to_string(), "Total Spend"] {
        assert!(message.contains(needle), "completeness does not name {needle}: {message}");
    }
    assert_eq!(spends(&s, d, "zemanta"), good, "the earlier good fetch keeps serving");

    // `status` lists the renamed body, and the lake hands it back as it came.
    let status = run(s.adlake().args(["status", "--json"]));
    expect_code(&status, 0);
    let quarantine = status.json()["quarantine"].clone();
    let listed = quarantine.as_array().and_then(|q| {
        q.iter().find(|e| e["endpoint"] == "zemanta_report" && e["date"] == d.to_string())
    });
    let event = listed.and_then(|e| e["event_id"].as_str()).unwrap_or_else(|| {
        panic!("status does not list the renamed body:\n{}", status.stdout_text())
    });
    let body = run(s.adlake().args(["raw", "cat", event]));
    expect_code(&body, 0);
    assert!(body.stdout.starts_with(b"Day,Campaign Id,Campaign,Strategis Campaign Id,Spend,"));

    // Without an earlier good fetch of the date: no spend at all.
    let first_ever = zemanta(fresh, true);
    expect_code(&first_ever, 1);
    assert_eq!(fetch(&first_ever.json(), "zemanta_report", fresh)["status"], "FAILED");
    assert_eq!(completeness(&s, "zemanta_report", fresh).0, "FAILED");
    let spent = spends(&s, fresh, "zemanta");
    assert!(spent.values().all(|(spend, _)| spend.is_none()), "{spent:?}");
}

#[test]
fn clicks_come_from_strategis_metrics_when_it_supplies_the_spend() {
    let d = days_ago(2);
    let mut config = Fake::config(40);
    config.faults.push(fault(&format!("facebook_report@{d}=404")));
    config.faults.push(fault(&format!("facebook_adsets@{d}=404")));
    let fake = Fake::start(config);
    let s = Scratch::new();
    let endpoints = "s1_daily_v3,facebook_report,facebook_adsets,strategis_metrics";
    let out =
        run(fake.ingest(&s).args(["--json", "--date", &d.to_string(), "--endpoints", endpoints]));
    expect_code(&out, 1);

    // The clicks of each strategis_metrics row, as the lake holds the body.
    let mut served: BTreeMap<String, String> = BTreeMap::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let lake = Lake::open(s.lake().to_str().expect("utf8")).expect("open");
    for e in lake_events(&s, "strategis_metrics", d) {
        let body =
            rt.block_on(lake.get_body(&e.envelope.body.expect("body").sha256)).expect("body");
        let page: Value = serde_json::from_slice(&body).expect("json");
        for row in page["data"].as_array().into_iter().flatten() {
            let (Some(id), Some(clicks)) =
                (row["strategisCampaignId"].as_str(), row["clicks"].as_str())
            else {
                panic!("a strategis_metrics row without id or clicks: {row}");
            };
            served.insert(id.to_owned(), clicks.to_owned());
        }
    }
    assert!(!served.is_empty());
    let rows = query(
        &s,
        &format!(
            "SELECT campaign_id, CAST(clicks AS VARCHAR), spend_source FROM campaign_index
             WHERE date = DATE '{d}' AND level = 'campaign' AND snapshot_source = 'daily'
               AND media_source = 'facebook' ORDER BY campaign_id"
        ),
    );
    assert_eq!(rows.len(), served.len(), "{rows:?}");
    for row in rows {
        let id = row[0].clone().unwrap_or_default();
        assert_eq!(row[2].as_deref(), Some("strategis_metrics"), "{id}: {row:?}");
        assert_eq!(row[1].as_deref(), served.get(&id).map(String::as_str), "{id}: clicks");
    }
}
