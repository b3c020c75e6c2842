//! `adlake audit`: every number traced to stored bytes that decode to exactly that number.

use std::collections::BTreeMap;

use adlake::commands::audit::{audit, AuditArgs};
use adlake_raw::{BodyHash, Lake};
use adlake_replay::decode::SourceRow;
use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::util::*;

/// Key and derived columns: computed from other columns, not read from a body.
const DERIVED: &[&str] = &[
    "campaign_id",
    "date",
    "level",
    "snapshot_source",
    "adset_id",
    "adset_name",
    "media_source",
    "spend_source",
    "roas",
    "unmapped",
    "updated_at",
    "click_hour",
    "rpc",
    "owner_hourly",
];

fn field(row: &SourceRow<'_>, column: &str) -> Option<String> {
    match column {
        "revenue_usd" | "revenue" => row.revenue.map(|v| v.to_string()),
        "sessions" => row.sessions.map(|v| v.to_string()),
        "s1_clicks" => row.s1_clicks.map(|v| v.to_string()),
        "spend_usd" => row.spend.map(|v| v.to_string()),
        "clicks" => row.clicks.map(|v| v.to_string()),
        "impressions" => row.impressions.map(|v| v.to_string()),
        "conversions" => row.conversions.map(|v| v.to_string()),
        "avg_rpc_3d" => row.rpc.map(|v| v.to_string()),
        "owner" => row.buyer.as_deref().map(str::to_owned),
        "lane" => row.lane.as_deref().map(str::to_owned),
        "category" => row.category.as_deref().map(str::to_owned),
        "campaign_name" => row.campaign_name.as_deref().map(str::to_owned),
        "network_id" => row.network_id.as_deref().map(str::to_owned),
        "account_id" => row.account_id.as_deref().map(str::to_owned),
        "rsoc_site" => row.rsoc_site.as_deref().map(str::to_owned),
        "platform_campaign_id" => row.platform_campaign_id.as_deref().map(str::to_owned),
        other => panic!("no source field for column {other}"),
    }
}

fn same(a: &str, b: &str) -> bool {
    match (a.parse::<Decimal>(), b.parse::<Decimal>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn every_value_of_every_row_of_a_date_decodes_from_its_named_event() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(40));
    let d = days_ago(1);
    let range = ["--from".to_string(), days_ago(2).to_string(), "--to".into(), d.to_string()];
    expect_code(&run(fake.ingest(&s).args(&range)), 0);
    fake.fake.restate();
    expect_code(&run(fake.ingest(&s).args(&range)), 0);

    let conn = duckdb::Connection::open(s.db()).expect("db");
    // Every campaign_index row of both dates: the older one has reconciled rows, whose shared
    // lineage the `lineage` view lists under the daily row's entries.
    let keys: Vec<(String, String, String, String, Option<String>)> = conn
        .prepare("SELECT CAST(date AS VARCHAR), campaign_id, level, snapshot_source, adset_id FROM campaign_index WHERE date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE) ORDER BY ALL")
        .expect("prepare")
        .query_map([days_ago(2).to_string(), d.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(keys.len() > 80, "{} rows", keys.len());
    let reconciled_rows = keys.iter().filter(|k| k.3 == "reconciled").count();
    assert!(reconciled_rows > 20, "{reconciled_rows} reconciled rows");
    let lake = Lake::open(s.lake().to_str().expect("utf8")).expect("lake");
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("rt");
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut audits = Vec::new();
    for (date, campaign, level, snapshot, adset) in keys {
        let date: NaiveDate = date.parse().expect("a date");
        let args = AuditArgs {
            campaign,
            date,
            snapshot,
            level,
            adset,
            hour: None,
            field: None,
            raw: false,
        };
        audits.push(audit(&conn, &args).expect("audit").expect("row exists"));
    }
    // Session rows: their lineage is stored as runs of hours; every hour must still name its
    // own body row.
    let session_keys: Vec<(String, i32)> = conn
        .prepare("SELECT campaign_id, click_hour FROM session_hourly_metrics WHERE date = CAST(? AS DATE) AND (click_hour % 5 = 0 OR click_hour > 23) ORDER BY ALL")
        .expect("prepare")
        .query_map([d.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(session_keys.len() > 200, "{} session rows", session_keys.len());
    for (campaign, hour) in session_keys {
        let args = AuditArgs {
            campaign,
            date: d,
            snapshot: "daily".into(),
            level: "campaign".into(),
            adset: None,
            hour: Some(hour as u8),
            field: None,
            raw: false,
        };
        audits.push(audit(&conn, &args).expect("audit").expect("row exists"));
    }
    let (mut checked, mut checked_sessions, mut checked_reconciled) = (0, 0, 0);
    for a in audits {
        for column in &a.columns {
            let Some(value) = &column.value else { continue };
            if DERIVED.contains(&column.column.as_str()) {
                continue;
            }
            // Copied from the campaign's daily row (audited above), not read from a session body.
            if a.table == "session_hourly_metrics"
                && ["owner", "lane", "category"].contains(&column.column.as_str())
            {
                continue;
            }
            let chosen: Vec<_> = column.sources.iter().filter(|s| s.chosen).collect();
            assert!(
                !chosen.is_empty(),
                "{} {}: {} = {value} names no source",
                a.row_key,
                column.column,
                column.column
            );
            let endpoint = chosen[0].endpoint.clone();
            assert!(
                chosen.iter().all(|s| s.endpoint == endpoint),
                "one column, one source endpoint"
            );
            let spec = adlake_replay::endpoint(&endpoint).expect("spec");
            let mut decoded_values = Vec::new();
            for src in &chosen {
                let sha = src.body_sha256.clone().expect("sha");
                let body = bodies.entry(sha.clone()).or_insert_with(|| {
                    rt.block_on(lake.get_body(&sha.parse::<BodyHash>().expect("hash")))
                        .expect("body")
                });
                let decoded = adlake_replay::body::read(spec, 200, body, 1, u32::MAX, true)
                    .rows
                    .expect("decodes");
                let row = decoded
                    .rows
                    .iter()
                    .find(|r| r.locator == *src.locator.as_str())
                    .unwrap_or_else(|| panic!("no row at {} in {sha}", src.locator));
                if a.table == "session_hourly_metrics" {
                    let key: Vec<&str> = a.row_key.split('|').collect();
                    assert_eq!(
                        (row.strategis_id.as_deref(), row.hour.map(|h| h.to_string())),
                        (Some(key[0]), Some(key[2].to_owned())),
                        "{} names a row of another hour",
                        a.row_key
                    );
                }
                decoded_values
                    .push(field(row, &column.column).expect("the named row has the field"));
            }
            let numbers: Option<Vec<Decimal>> =
                decoded_values.iter().map(|v| v.parse().ok()).collect();
            let expected = match numbers {
                // Rows of one source are summed within it.
                Some(numbers) if decoded_values.len() > 1 => {
                    numbers.iter().sum::<Decimal>().to_string()
                }
                _ => {
                    // One row, or rows of one source that all name the same text (a
                    // campaign's id on each of its hourly rows): the first is taken.
                    assert!(
                        decoded_values.iter().all(|v| *v == decoded_values[0]),
                        "{decoded_values:?}"
                    );
                    decoded_values[0].clone()
                }
            };
            assert!(
                same(value, &expected),
                "{} {}: table has {value}, the named bytes decode to {expected}",
                a.row_key,
                column.column
            );
            checked += 1;
            if a.table == "session_hourly_metrics" {
                checked_sessions += 1;
            }
            if a.row_key.ends_with("|reconciled|")
                && !["revenue_usd", "sessions", "s1_clicks"].contains(&column.column.as_str())
            {
                checked_reconciled += 1;
            }
        }
    }
    assert!(checked_sessions > 200, "only {checked_sessions} session values checked");
    assert!(
        checked_reconciled > 100,
        "only {checked_reconciled} shared values of reconciled rows checked"
    );
    assert!(checked > 300, "only {checked} values checked");
}

#[test]
fn audit_prints_sources_rules_losers_and_raw_fragments() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(12));
    let d = days_ago(3);
    expect_code(&run(fake.ingest(&s).args(["--date", &d.to_string()])), 0);
    let fb = fake
        .fake
        .universe()
        .campaigns
        .iter()
        .find(|c| c.media == "facebook" && c.s1_knows_platform_id)
        .expect("facebook campaign")
        .sid
        .clone();
    let out = run(s.adlake().args([
        "audit",
        "--campaign",
        &fb,
        "--date",
        &d.to_string(),
        "--field",
        "spend_usd",
        "--raw",
    ]));
    expect_code(&out, 0);
    let text = out.stdout_text();
    assert!(text.contains("spend_usd = ") && text.contains("from facebook_report"), "{text}");
    assert!(text.contains("not used: facebook_adsets had"), "{text}");
    assert!(text.contains("| {\"account_id\""), "raw fragment: {text}");
    let json = run(s.adlake().args([
        "--json",
        "audit",
        "--campaign",
        &fb,
        "--date",
        &d.to_string(),
        "--hour",
        "25",
    ]));
    expect_code(&json, 0);
    assert_eq!(json.json()["table"], "session_hourly_metrics");

    let missing = run(s.adlake().args(["audit", "--campaign", &fb, "--date", "2020-01-01"]));
    expect_code(&missing, 1);
    assert!(missing.stderr.contains(&format!("{fb} has rows on {d}")), "{}", missing.stderr);
    let typo: String = fb.chars().take(9).chain("z".chars()).collect();
    let similar = run(s.adlake().args(["audit", "--campaign", &typo, "--date", &d.to_string()]));
    expect_code(&similar, 1);
    assert!(similar.stderr.contains(&fb), "{}", similar.stderr);
}
