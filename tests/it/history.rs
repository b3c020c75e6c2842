//! Change review and history: `reproject --dry-run/--diff`, `--as-of`, `restatements`, and
//! snapshot tests of the audit and diff output over a small fixed lake.

use std::collections::BTreeSet;

use adlake_raw::{Envelope, HttpExchange, Lake};
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};

use crate::util::*;

fn tables_export(db: &std::path::Path) -> String {
    let conn = duckdb::Connection::open(db).expect("open db");
    let mut out = String::new();
    for t in adlake::store::write::TABLES {
        let sql = format!("SELECT CAST(t AS VARCHAR) AS line FROM {t} AS t ORDER BY line");
        let mut stmt = conn.prepare(&sql).expect("prepare");
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        out.push_str(&format!("## {t}\n{}\n", lines.join("\n")));
    }
    out
}

#[test]
fn dry_run_reports_exactly_the_rows_a_spend_precedence_change_rewrites() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(30));
    expect_code(
        &run(fake.ingest(&s).args([
            "--from",
            &days_ago(4).to_string(),
            "--to",
            &days_ago(3).to_string(),
        ])),
        0,
    );
    let before = tables_export(&s.db());
    let expected: BTreeSet<String> = {
        let conn = duckdb::Connection::open(s.db()).expect("db");
        let mut stmt = conn
            .prepare("SELECT campaign_id || '|' || CAST(date AS VARCHAR) || '|' || level || '|' || snapshot_source || '|' FROM campaign_index WHERE spend_source = 'facebook_report'")
            .expect("prepare");
        stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
    };
    assert!(expected.len() > 5);
    let config = s.path().join("adsets-first.toml");
    std::fs::write(
        &config,
        "[projector.spend_precedence]\nfacebook = [\"facebook_adsets\", \"facebook_report\"]\n",
    )
    .expect("config");
    let out =
        run(s.adlake().arg("--config").arg(&config).args(["--json", "reproject", "--dry-run"]));
    expect_code(&out, 0);
    let report = out.json();
    let tables = report["tables"].as_array().expect("tables");
    let ci = tables.iter().find(|t| t["table"] == "campaign_index").expect("campaign_index diff");
    let changed: BTreeSet<String> = ci["changed"]
        .as_array()
        .expect("changed")
        .iter()
        .map(|r| r["key"].as_str().unwrap_or_default().to_string())
        .collect();
    // What the new rules really rewrite: build their tables elsewhere and compare.
    let other = s.path().join("adsets-first.duckdb");
    let built = run(s
        .adlake()
        .arg("--config")
        .arg(&config)
        .args(["reproject", "--as-of", &Utc::now().to_rfc3339(), "--into"])
        .arg(&other));
    expect_code(&built, 0);
    let conn = duckdb::Connection::open_in_memory().expect("db");
    conn.execute_batch(&format!(
        "ATTACH '{}' AS cur (READ_ONLY); ATTACH '{}' AS new (READ_ONLY);",
        s.db().display(),
        other.display()
    ))
    .expect("attach");
    let keys = |sql: &str| -> BTreeSet<String> {
        let mut stmt = conn.prepare(sql).expect("prepare");
        stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("rows")
    };
    let key = |t: &str| {
        format!("{t}.campaign_id || '|' || CAST({t}.date AS VARCHAR) || '|' || {t}.level || '|' || {t}.snapshot_source || '|' || coalesce({t}.adset_id, '')")
    };
    let spend_differs = keys(&format!(
        "SELECT {} FROM cur.main.campaign_index o JOIN new.main.campaign_index n ON {} = {} WHERE o.spend_source IS DISTINCT FROM n.spend_source",
        key("o"),
        key("o"),
        key("n")
    ));
    assert!(
        spend_differs.len() > 5 && spend_differs.is_subset(&expected),
        "the new precedence moves Facebook report rows to adsets: {spend_differs:?}"
    );
    // Rows present on both sides that differ in any column (set operations compare NULLs as equal).
    let differs = keys(&format!(
        "SELECT k FROM (SELECT {k}, * FROM cur.main.campaign_index t EXCEPT SELECT {k}, * FROM new.main.campaign_index t) AS d(k)
         WHERE k IN (SELECT {k} FROM new.main.campaign_index t)",
        k = key("t")
    ));
    assert!(spend_differs.is_subset(&differs));
    // The database must be free for the `--diff` below.
    drop(conn);
    assert_eq!(
        changed,
        differs,
        "exactly the rows the new rules rewrite; reported but not differing: {:?}; differing but not reported: {:?}",
        changed.difference(&differs).collect::<Vec<_>>(),
        differs.difference(&changed).collect::<Vec<_>>()
    );
    // Campaign rows change their spend source; an adset row changes only what it copies from
    // its campaign's daily row, whose metadata comes from the platform report the spend names,
    // and with it `updated_at`, the newest fetch behind what the row shows.
    const COPIED: &[&str] = &[
        "campaign_name",
        "owner",
        "lane",
        "category",
        "media_source",
        "network_id",
        "account_id",
        "rsoc_site",
        "platform_campaign_id",
        "updated_at",
    ];
    for row in ci["changed"].as_array().expect("changed") {
        let key = row["key"].as_str().expect("key");
        let parts: Vec<&str> = key.split('|').collect();
        let changes = row["changes"].as_array().expect("changes");
        if parts[2] == "adset" {
            let parent = format!("{}|{}|campaign|daily|", parts[0], parts[1]);
            assert!(
                spend_differs.contains(&parent),
                "{key} changed but its campaign's spend source did not"
            );
            assert!(
                changes.iter().all(|c| COPIED.contains(&c["column"].as_str().unwrap_or_default())),
                "{key}: {changes:?}"
            );
        } else {
            let spend = changes
                .iter()
                .find(|c| c["column"] == "spend_source")
                .expect("spend_source changed");
            assert_eq!(
                (spend["old"].as_str(), spend["new"].as_str()),
                (Some("facebook_report"), Some("facebook_adsets"))
            );
        }
        assert!(
            !row["events"].as_array().expect("events").is_empty(),
            "each change names its events"
        );
    }
    assert!(
        ci["added"].as_array().is_some_and(Vec::is_empty)
            && ci["removed"].as_array().is_some_and(Vec::is_empty)
    );
    for t in tables.iter().filter(|t| t["table"] != "campaign_index") {
        assert!(
            t["changed"].as_array().is_some_and(Vec::is_empty)
                && t["added"].as_array().is_some_and(Vec::is_empty),
            "{t}"
        );
    }
    assert_eq!(tables_export(&s.db()), before, "a dry run changes nothing");

    let applied =
        run(s.adlake().arg("--config").arg(&config).args(["--json", "reproject", "--diff"]));
    expect_code(&applied, 0);
    assert_ne!(tables_export(&s.db()), before, "--diff applies");
    let again =
        run(s.adlake().arg("--config").arg(&config).args(["--json", "reproject", "--dry-run"]));
    let nothing = again.json()["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .all(|t| t["changed"].as_array().is_some_and(Vec::is_empty));
    assert!(nothing, "after applying, the same rules change nothing");
}

#[test]
fn as_of_sees_only_what_was_fetched_before_the_instant() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(15));
    let d = days_ago(1).to_string();
    expect_code(&run(fake.ingest(&s).args(["--date", &d])), 0);
    let first = tables_export(&s.db());
    std::thread::sleep(std::time::Duration::from_millis(20));
    let between = Utc::now();
    std::thread::sleep(std::time::Duration::from_millis(20));
    fake.fake.restate();
    expect_code(&run(fake.ingest(&s).args(["--date", &d])), 0);
    let second = tables_export(&s.db());
    assert_ne!(first, second, "the restatement changed the numbers");

    let monday = s.path().join("monday.duckdb");
    let out = run(s
        .adlake()
        .args(["reproject", "--as-of", &between.to_rfc3339(), "--into"])
        .arg(&monday));
    expect_code(&out, 0);
    assert_eq!(
        tables_export(&monday),
        first,
        "as of between the fetches: the first fetch's tables"
    );
    let now = s.path().join("now.duckdb");
    expect_code(
        &run(s
            .adlake()
            .args(["reproject", "--as-of", &Utc::now().to_rfc3339(), "--into"])
            .arg(&now)),
        0,
    );
    assert_eq!(tables_export(&now), second);
    assert_eq!(tables_export(&s.db()), second, "the main database is untouched");
}

#[test]
fn restatements_list_the_drifted_days_and_not_the_stable_ones() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(20));
    let range = [
        "--from".to_string(),
        days_ago(6).to_string(),
        "--to".into(),
        days_ago(1).to_string(),
        "--no-project".into(),
    ];
    expect_code(&run(fake.ingest(&s).args(&range)), 0);
    fake.fake.restate();
    expect_code(&run(fake.ingest(&s).args(&range)), 0);
    let out = run(s.adlake().args(["--json", "restatements"]));
    expect_code(&out, 0);
    let found = out.json();
    let days: BTreeSet<String> = found
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["date"].as_str().unwrap_or_default().to_string())
        .collect();
    let drifting: BTreeSet<String> =
        [days_ago(1), days_ago(2)].iter().map(|d| d.to_string()).collect();
    assert_eq!(days, drifting, "only days inside the restatement window changed");
    let first = &found[0];
    let largest = first["deltas"][0]["change"]
        .as_str()
        .unwrap_or("0")
        .trim_start_matches('-')
        .parse::<f64>()
        .unwrap_or(0.0);
    for r in found.as_array().expect("list") {
        for delta in r["deltas"].as_array().expect("deltas") {
            let v = delta["change"]
                .as_str()
                .unwrap_or("0")
                .trim_start_matches('-')
                .parse::<f64>()
                .unwrap_or(0.0);
            assert!(v <= largest + 1e-9, "largest first");
        }
    }
    let text = run(s.adlake().args(["restatements", "--endpoint", "s1_daily_v3"]));
    expect_code(&text, 0);
    assert!(
        text.stdout_text().contains("s1_daily_v3")
            && !text.stdout_text().contains("taboola_report")
    );
}

/// A small lake with fixed times and bodies, so ids and output are stable.
fn fixed_lake(s: &Scratch) {
    let day = NaiveDate::from_ymd_opt(2025, 11, 23).expect("date");
    let at = |min: i64| Utc.timestamp_opt(1_763_942_400 + min * 60, 0).single().expect("time");
    let put = |source: &str, min: i64, body: Value| {
        let env = Envelope::http(
            source,
            day,
            "20251124T000000Z-fixed",
            at(min),
            HttpExchange {
                fetch_id: format!("20251124T000000Z-fixed.{source}.20251123.{min}"),
                attempt: 1,
                page: 1,
                cursor: None,
                method: "GET".into(),
                url: format!("https://strategis.example/api/{source}?dateStart=2025-11-23&dateEnd=2025-11-23"),
                status: Some(200),
                error: None,
                headers: [("content-type".to_string(), "application/json".to_string())].into(),
                duration_ms: 12,
            },
        );
        (env, serde_json::to_vec_pretty(&body).expect("json"))
    };
    let events = vec![
        put(
            "s1_daily_v3",
            1,
            json!({"data": [{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "networkId": "112", "networkCampaignId": "120231668335880424",
            "networkCampaignName": "sire1f06al_20241208_facebook", "buyer": "John", "category": "Finance", "searches": "1000", "clicks": "220", "estimated_revenue": "200.00"}], "page": 1, "limit": 500, "total": 1}),
        ),
        put(
            "facebook_report",
            2,
            json!({"data": [{"account_id": "1234567890", "campaign_id": "120231668335880424", "campaign_name": "sire1f06al_20241208_facebook",
            "spend": "100.00", "clicks": "500", "impressions": "58210", "date_start": "2025-11-23", "date_stop": "2025-11-23"}], "paging": {"cursors": {"after": "MjQZD"}}}),
        ),
        put(
            "facebook_adsets",
            3,
            json!({"data": [{"adset_id": "120231668335881111", "adset_name": "LAL_1 | US | 25-54", "campaign_id": "120231668335880424", "spend": "60.00", "clicks": "300", "impressions": "29001", "date_start": "2025-11-23"},
            {"adset_id": "120231668335882222", "adset_name": "Broad", "campaign_id": "120231668335880424", "spend": "40.00", "clicks": "200", "impressions": "29209", "date_start": "2025-11-23"}], "paging": {"cursors": {}}}),
        ),
        put(
            "facebook_campaigns",
            4,
            json!({"data": [{"id": "120231668335880424", "name": "Campaign ABC", "buyer": "John", "lane": "LAL_1", "category": "Finance"}], "paging": {"cursors": {}}}),
        ),
    ];
    let lake = Lake::open(s.lake().to_str().expect("utf8")).expect("lake");
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("rt");
    for (env, body) in events {
        rt.block_on(lake.put_exchange(env, Some(&body))).expect("put");
    }
}

#[test]
fn audit_and_diff_output_snapshots() {
    let s = Scratch::new();
    fixed_lake(&s);
    expect_code(&run(s.adlake().arg("reproject")), 0);
    let audit = run(s.adlake().args([
        "audit",
        "--campaign",
        "sire1f06al",
        "--date",
        "2025-11-23",
        "--raw",
    ]));
    expect_code(&audit, 0);
    insta::assert_snapshot!("audit_fixed_lake", audit.stdout_text());
    let config = s.path().join("adsets-first.toml");
    std::fs::write(
        &config,
        "[projector.spend_precedence]\nfacebook = [\"facebook_adsets\", \"facebook_report\"]\n",
    )
    .expect("config");
    let diff = run(s.adlake().arg("--config").arg(&config).args(["reproject", "--dry-run"]));
    expect_code(&diff, 0);
    insta::assert_snapshot!("dry_run_fixed_lake", diff.stdout_text());
}
