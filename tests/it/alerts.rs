//! Alerts through the binary: lakes whose intraday curves the test controls (events written
//! straight into a lake with chosen fetch times, then `reproject`), `alerts check --at`,
//! `explain`, `backtest`, a webhook receiver on loopback, and the end of an ingest against
//! the fake upstream.

use std::path::PathBuf;

use adlake_raw::{Envelope, EventId, HttpExchange, Lake};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde_json::{json, Value};

use crate::util::*;

/// The evaluated date: a Thursday.
fn d0() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 11, 20).unwrap_or_default()
}

fn at(date: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(h, m, 0).unwrap_or_default())
}

/// `--at` for hour `h` of the evaluated date.
fn hour(h: u32) -> String {
    at(d0(), h, 0).to_rfc3339()
}

/// A lake the test writes events into, one fetch per call.
struct Builder {
    lake: Lake,
    rt: tokio::runtime::Runtime,
    n: u32,
}

impl Builder {
    fn new(s: &Scratch) -> Builder {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        let lake = Lake::open(s.lake().to_str().expect("utf8")).expect("lake");
        Builder { lake, rt, n: 0 }
    }

    fn put(
        &mut self,
        endpoint: &str,
        date: NaiveDate,
        when: DateTime<Utc>,
        status: u16,
        body: &str,
    ) -> EventId {
        self.n += 1;
        let spec = adlake_replay::endpoint(endpoint).expect("endpoint");
        let envelope = Envelope::http(
            endpoint,
            date,
            "run-test",
            when,
            HttpExchange {
                fetch_id: format!("f{}.{endpoint}.{date}", self.n),
                attempt: 1,
                page: 1,
                cursor: None,
                method: "GET".into(),
                url: format!(
                    "http://fake{}?dateStart={date}&dateEnd={date}&page=1&limit=500",
                    spec.path
                ),
                status: Some(status),
                error: None,
                headers: Default::default(),
                duration_ms: 1,
            },
        );
        self.rt.block_on(self.lake.put_exchange(envelope, Some(body.as_bytes()))).expect("put").0
    }

    /// S1 daily revenue per campaign (all taboola, network 107).
    fn s1(&mut self, date: NaiveDate, when: DateTime<Utc>, rows: &[(&str, f64)]) -> EventId {
        let data: Vec<Value> = rows
            .iter()
            .map(|(id, revenue)| {
                json!({"date": date, "strategisCampaignId": id, "networkId": "107",
                       "networkCampaignId": format!("tb-{id}"), "networkCampaignName": format!("{id}_US"),
                       "buyer": "TJ", "category": "Finance", "impressions": "100", "clicks": "10",
                       "searches": "20", "estimated_revenue": format!("{revenue:.2}")})
            })
            .collect();
        let body = json!({"data": data, "page": 1, "limit": 500, "total": rows.len()}).to_string();
        self.put("s1_daily_v3", date, when, 200, &body)
    }

    /// Taboola spend per campaign.
    fn taboola(&mut self, date: NaiveDate, when: DateTime<Utc>, rows: &[(&str, f64)]) -> EventId {
        let results: Vec<Value> = rows
            .iter()
            .map(|(id, spend)| {
                json!({"date": format!("{date} 00:00:00.0"), "campaign": format!("tb-{id}"),
                       "campaign_name": format!("{id}_US"), "strategisCampaignId": id, "clicks": 10,
                       "impressions": 100, "spent": spend, "currency": "USD"})
            })
            .collect();
        let body = json!({"results": results, "recordCount": rows.len(), "metadata": {"total": rows.len()}})
            .to_string();
        self.put("taboola_report", date, when, 200, &body)
    }

    fn reconciled(
        &mut self,
        date: NaiveDate,
        when: DateTime<Utc>,
        rows: &[(&str, f64)],
    ) -> EventId {
        let rows: Vec<Value> = rows
            .iter()
            .map(|(id, revenue)| {
                json!({"date": date, "strategisCampaignId": id, "buyer": "TJ", "category": "Finance",
                       "searches": 20, "clicks": 10, "revenue": revenue})
            })
            .collect();
        self.put("s1_reconciled", date, when, 200, &Value::Array(rows).to_string())
    }

    fn failed(&mut self, endpoint: &str, date: NaiveDate, when: DateTime<Utc>) -> EventId {
        self.put(
            endpoint,
            date,
            when,
            502,
            "<html><head><title>502 Bad Gateway</title></head></html>",
        )
    }
}

/// The events of [`standard`] that a test names.
struct Standard {
    /// (hour, s1 event, taboola event) of the evaluated date.
    fetches: Vec<(u32, EventId, EventId)>,
}

/// Four taboola campaigns over the evaluated date, fetched at 08:10 .. 12:10, cumulative:
/// `sialpha01` ROAS 0.5 (reconciles at 0.5), `sibravo02` 2.0, `sicharl03` 0.8 but reconciles at
/// 1.3, `sidelta04` 1.5 but reconciles at 0.6. The day before and three days before as well.
fn standard(b: &mut Builder) -> Standard {
    let mut fetches = Vec::new();
    for h in 8..=12u32 {
        let k = f64::from(h - 7);
        let t = at(d0(), h, 10);
        let s1 = b.s1(
            d0(),
            t,
            &[
                ("sialpha01", 10.0 * k),
                ("sibravo02", 20.0 * k),
                ("sicharl03", 16.0 * k),
                ("sidelta04", 15.0 * k),
            ],
        );
        let tb = b.taboola(
            d0(),
            t,
            &[
                ("sialpha01", 20.0 * k),
                ("sibravo02", 10.0 * k),
                ("sicharl03", 20.0 * k),
                ("sidelta04", 10.0 * k),
            ],
        );
        fetches.push((h, s1, tb));
    }
    // Reconciled three days later: spend as last fetched (100, 50, 100, 50).
    b.reconciled(
        d0(),
        at(d0() + chrono::Days::new(3), 6, 0),
        &[("sialpha01", 50.0), ("sibravo02", 100.0), ("sicharl03", 130.0), ("sidelta04", 30.0)],
    );
    // Yesterday: the same shape, twice the revenue of sialpha01.
    let yesterday = d0() - chrono::Days::new(1);
    for h in [9u32, 12] {
        let k = f64::from(h - 7);
        b.s1(
            yesterday,
            at(yesterday, h, 10),
            &[
                ("sialpha01", 20.0 * k),
                ("sibravo02", 20.0 * k),
                ("sicharl03", 16.0 * k),
                ("sidelta04", 15.0 * k),
            ],
        );
        b.taboola(
            yesterday,
            at(yesterday, h, 10),
            &[
                ("sialpha01", 20.0 * k),
                ("sibravo02", 10.0 * k),
                ("sicharl03", 20.0 * k),
                ("sidelta04", 10.0 * k),
            ],
        );
    }
    // Three days before: sialpha01's revenue is restated from 100 to 70.
    let closed = d0() - chrono::Days::new(3);
    b.s1(
        closed,
        at(closed, 23, 0),
        &[("sialpha01", 100.0), ("sibravo02", 50.0), ("sicharl03", 50.0), ("sidelta04", 50.0)],
    );
    b.taboola(
        closed,
        at(closed, 23, 0),
        &[("sialpha01", 100.0), ("sibravo02", 50.0), ("sicharl03", 50.0), ("sidelta04", 50.0)],
    );
    b.reconciled(
        closed,
        at(d0(), 7, 0),
        &[("sialpha01", 70.0), ("sibravo02", 50.0), ("sicharl03", 51.0), ("sidelta04", 50.0)],
    );
    Standard { fetches }
}

fn config(s: &Scratch, rules: &str) -> PathBuf {
    let path = s.path().join("alerts.toml");
    let text = format!(
        "[alerts_delivery]\nretry_base_ms = 10\ntimeout_ms = 2000\nattempts = 3\n\n{rules}"
    );
    std::fs::write(&path, text).expect("config");
    path
}

fn reproject(s: &Scratch) {
    expect_code(&run(s.adlake().arg("reproject")), 0);
}

/// `alerts check --at <hour>` with `config`, as JSON.
fn check(s: &Scratch, config: &PathBuf, h: u32) -> Value {
    let out = run(s.adlake().arg("--config").arg(config).args([
        "--json",
        "alerts",
        "check",
        "--at",
        &hour(h),
    ]));
    expect_code(&out, 0);
    out.json()
}

/// (outcome, rule, subject) of a check's verdicts.
fn verdicts(report: &Value) -> Vec<(String, String, String)> {
    report["verdicts"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|v| {
                    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                    (s("outcome"), s("rule"), s("subject"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn triple(outcome: &str, rule: &str, subject: &str) -> (String, String, String) {
    (outcome.into(), rule.into(), subject.into())
}

fn standard_scratch() -> (Scratch, Standard) {
    let s = Scratch::new();
    let mut b = Builder::new(&s);
    let events = standard(&mut b);
    reproject(&s);
    (s, events)
}

const ROAS_RULE: &str = "[[alerts]]\nname = \"roas-floor\"\nscope = { media_source = \"taboola\" }\ncondition = { type = \"roas_below\", roas = 0.9, min_spend_usd = 30, hours = 3 }\n";

#[test]
fn roas_below_fires_for_the_losing_campaign_only() {
    let (s, _) = standard_scratch();
    let c = config(&s, ROAS_RULE);
    let report = check(&s, &c, 12);
    assert_eq!(
        sorted(verdicts(&report)),
        vec![
            triple("fired", "roas-floor", "campaign sialpha01"),
            triple("fired", "roas-floor", "campaign sicharl03"),
        ],
        "ROAS 0.5 and 0.8 over the last 3 hours; sibravo02 (2.0) and sidelta04 (1.5) are fine"
    );
    let message = report["verdicts"][0]["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("ROAS"), "{message}");
}

fn sorted(mut v: Vec<(String, String, String)>) -> Vec<(String, String, String)> {
    v.sort();
    v
}

#[test]
fn spend_without_revenue_fires_for_a_campaign_s1_does_not_know() {
    let s = Scratch::new();
    let mut b = Builder::new(&s);
    for h in [9u32, 10] {
        let t = at(d0(), h, 10);
        b.s1(d0(), t, &[("sialpha01", 10.0)]);
        b.taboola(d0(), t, &[("sialpha01", 20.0), ("siecho005", 40.0 * f64::from(h - 8))]);
    }
    reproject(&s);
    let c = config(
        &s,
        "[[alerts]]\nname = \"no-revenue\"\ncondition = { type = \"spend_without_revenue\", min_spend_usd = 50 }\n",
    );
    assert_eq!(verdicts(&check(&s, &c, 9)), vec![], "$40 is under the $50 floor");
    assert_eq!(
        verdicts(&check(&s, &c, 10)),
        vec![triple("fired", "no-revenue", "campaign siecho005")]
    );
}

#[test]
fn revenue_drop_against_the_same_hour_yesterday() {
    let (s, _) = standard_scratch();
    let c = config(
        &s,
        "[[alerts]]\nname = \"drop\"\ncondition = { type = \"revenue_drop\", pct = 40, against = \"yesterday\" }\n",
    );
    // sialpha01 made 100 by 12:00 yesterday and 50 today; the others as much as yesterday.
    assert_eq!(verdicts(&check(&s, &c, 12)), vec![triple("fired", "drop", "campaign sialpha01")]);
}

#[test]
fn a_restatement_above_the_threshold_fires_once_the_reconciled_figure_is_known() {
    let (s, _) = standard_scratch();
    let c = config(&s, "[[alerts]]\nname = \"restated\"\ncondition = { type = \"restatement\", pct = 15, days = 4 }\n");
    let closed = d0() - chrono::Days::new(3);
    assert_eq!(
        verdicts(&check(&s, &c, 8)),
        vec![triple("fired", "restated", &format!("campaign sialpha01 {closed}"))],
        "sicharl03 moved 2 %, under the threshold"
    );
}

#[test]
fn freshness_rules_report_late_rows_below_expected_and_failed_fetches() {
    let s = Scratch::new();
    let mut b = Builder::new(&s);
    standard(&mut b);
    b.failed("taboola_report", d0(), at(d0(), 12, 40));
    reproject(&s);
    let c = config(
        &s,
        "[[alerts]]\nname = \"mediago-by-9-paris\"\ncondition = { type = \"report_late\", endpoint = \"mediago_report\", by = \"09:00\", timezone = \"Europe/Paris\" }\n\
         [[alerts]]\nname = \"s1-rows\"\ncondition = { type = \"rows_below_expected\", endpoint = \"s1_daily_v3\", min_ratio = 1.5 }\n\
         [[alerts]]\nname = \"taboola-failed\"\ncondition = { type = \"fetch_status\", endpoint = \"taboola_report\", status = [\"FAILED\"] }\n",
    );
    // 07:00 UTC is 08:00 in Paris: not due yet.
    assert_eq!(verdicts(&check(&s, &c, 7)), vec![]);
    let at8 = sorted(verdicts(&check(&s, &c, 8)));
    assert_eq!(
        at8,
        vec![
            triple("fired", "mediago-by-9-paris", &format!("endpoint mediago_report {}", d0())),
            triple("fired", "s1-rows", &format!("endpoint s1_daily_v3 {}", d0())),
        ],
        "09:00 Paris is 08:00 UTC; 4 rows are under 1.5 x the 4 expected"
    );
    assert_eq!(
        verdicts(&check(&s, &c, 12)),
        vec![triple("fired", "taboola-failed", &format!("endpoint taboola_report {}", d0()))]
    );
}

#[test]
fn a_metric_rule_is_suppressed_while_an_input_it_reads_is_failed() {
    let s = Scratch::new();
    let mut b = Builder::new(&s);
    standard(&mut b);
    b.failed("taboola_report", d0(), at(d0(), 12, 40));
    reproject(&s);
    let c = config(&s, ROAS_RULE);
    let report = check(&s, &c, 12);
    assert_eq!(
        sorted(verdicts(&report)),
        vec![
            triple("suppressed", "roas-floor", "campaign sialpha01"),
            triple("suppressed", "roas-floor", "campaign sicharl03"),
        ]
    );
    assert_eq!(report["verdicts"][0]["suppressed_by"], json!(["taboola_report FAILED"]));
    // The same suppression is not reported twice.
    assert_eq!(verdicts(&check(&s, &c, 12)), vec![]);
}

#[test]
fn a_late_input_suppresses_too() {
    let s = Scratch::new();
    let mut b = Builder::new(&s);
    standard(&mut b);
    // S1 is fetched once more at 16:10; Taboola's newest is 12:10, four hours before.
    b.s1(
        d0(),
        at(d0(), 16, 10),
        &[("sialpha01", 50.0), ("sibravo02", 100.0), ("sicharl03", 80.0), ("sidelta04", 75.0)],
    );
    reproject(&s);
    let c = config(
        &s,
        "[[alerts]]\nname = \"roas-today\"\ncondition = { type = \"roas_below\", roas = 0.9, min_spend_usd = 30 }\n",
    );
    let report = check(&s, &c, 16);
    let first = &report["verdicts"][0];
    assert_eq!(first["outcome"], "suppressed", "{report}");
    assert!(
        first["suppressed_by"][0].as_str().unwrap_or_default().starts_with("taboola_report late"),
        "{report}"
    );
}

#[test]
fn cooldown_and_recovery_follow_the_curve_and_survive_a_rebuild() {
    let s = Scratch::new();
    let mut b = Builder::new(&s);
    // Cumulative (spend, revenue) per hour: bad, bad, good in its last hour, bad, bad.
    for (h, spend, revenue) in [
        (9u32, 40.0, 10.0),
        (10, 80.0, 20.0),
        (11, 100.0, 120.0),
        (12, 140.0, 125.0),
        (13, 180.0, 130.0),
    ] {
        let t = at(d0(), h, 10);
        b.s1(d0(), t, &[("sialpha01", revenue)]);
        b.taboola(d0(), t, &[("sialpha01", spend)]);
    }
    reproject(&s);
    let c = config(
        &s,
        "[[alerts]]\nname = \"hourly-roas\"\ncondition = { type = \"roas_below\", roas = 0.9, min_spend_usd = 10, hours = 1 }\ncooldown = \"4h\"\n",
    );
    let subject = "campaign sialpha01";
    let steps: Vec<Vec<(String, String, String)>> =
        (9..=13).map(|h| verdicts(&check(&s, &c, h))).collect();
    assert_eq!(
        steps,
        vec![
            vec![triple("fired", "hourly-roas", subject)],
            vec![],
            vec![triple("recovered", "hourly-roas", subject)],
            vec![],
            vec![triple("fired", "hourly-roas", subject)],
        ],
        "fired at 9, still firing at 10, recovered at 11, quiet inside the cooldown at 12, fired again at 13"
    );
    let count = |db: &std::path::Path| -> i64 {
        let conn = duckdb::Connection::open(db).expect("db");
        conn.query_row("SELECT count(*) FROM alert_events", [], |r| r.get(0)).expect("count")
    };
    assert_eq!(count(&s.db()), 3);
    reproject(&s);
    assert_eq!(count(&s.db()), 3, "the lake keeps the verdicts: a rebuild projects them again");
    let fresh = s.path().join("fresh.duckdb");
    expect_code(&run(s.adlake_at(s.lake(), &fresh).arg("reproject")), 0);
    assert_eq!(
        crate::incremental::table_fingerprints(&fresh)["alert_events"],
        crate::incremental::table_fingerprints(&s.db())["alert_events"]
    );
}

#[test]
fn a_malformed_rule_is_refused_at_load_with_its_name_and_the_problem() {
    let s = Scratch::new();
    let c = config(
        &s,
        "[[alerts]]\nname = \"taboola-by-10\"\ncondition = { type = \"report_late\", endpoint = \"taboola_report\", by = \"10:00\", timezone = \"Europe/Pariss\" }\n",
    );
    let out = run(s.adlake().arg("--config").arg(&c).args(["alerts", "check"]));
    expect_code(&out, 2);
    assert!(
        out.stderr.contains("taboola-by-10") && out.stderr.contains("Europe/Pariss"),
        "{}",
        out.stderr
    );
    let c = config(&s, "[[alerts]]\nname = \"roas\"\ncondition = { type = \"roas_below\", roas = 0.9, min_spend_usd = 5, window = 3 }\n");
    let out = run(s.adlake().arg("--config").arg(&c).arg("status"));
    expect_code(&out, 2);
    assert!(out.stderr.contains("`roas`") && out.stderr.contains("window"), "{}", out.stderr);
}

#[test]
fn explain_names_the_events_each_input_was_read_from() {
    let (s, events) = standard_scratch();
    let c = config(&s, ROAS_RULE);
    let report = check(&s, &c, 12);
    let fired = report["verdicts"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["subject"] == "campaign sialpha01"))
        .cloned()
        .expect("sialpha01 fired");
    let id = fired["event_id"].as_str().unwrap_or_default().to_string();
    let out = run(s.adlake().arg("--config").arg(&c).args([
        "--json",
        "alerts",
        "explain",
        &id[..12],
        "--raw",
    ]));
    expect_code(&out, 0);
    let x = out.json();
    let named = |input: &str| -> Vec<String> {
        x["evidence"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["input"] == input))
            .map(|e| {
                e["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| e["event_id"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let of = |h: u32| events.fetches.iter().find(|f| f.0 == h).expect("fetch");
    assert_eq!(named("spend_usd now"), vec![of(12).2.to_hex()]);
    assert_eq!(named("revenue_usd now"), vec![of(12).1.to_hex()]);
    // The window's start: the rows as known at the end of 09:00.
    assert_eq!(named("spend_usd window start"), vec![of(9).2.to_hex()]);
    assert_eq!(named("revenue_usd window start"), vec![of(9).1.to_hex()]);
    let fragment =
        x["evidence"][0]["events"][0]["fragment"].as_str().unwrap_or_default().to_string();
    assert!(fragment.contains("sialpha01"), "the campaign's own row, as stored: {fragment}");
    assert_eq!(x["rule_hash"].as_str().map(str::len), Some(64));
    assert!(x["rule_now"].as_str().unwrap_or_default().contains("roas_below"), "{x}");
}

#[test]
fn the_backtest_counts_false_stops_and_missed_losses_against_the_reconciled_day() {
    let (s, _) = standard_scratch();
    let c = config(&s, ROAS_RULE);
    let out = run(s.adlake().arg("--config").arg(&c).args([
        "--json",
        "alerts",
        "backtest",
        "--from",
        &d0().to_string(),
        "--to",
        &d0().to_string(),
        "--every",
        "1h",
    ]));
    expect_code(&out, 0);
    let b = out.json();
    assert_eq!(b["instants"], 24);
    // sialpha01 fires and reconciles at 0.5: a true stop. sicharl03 fires at 0.8 and
    // reconciles at 1.3: a false stop. sidelta04 looked fine at 1.5 and reconciled at 0.6:
    // a missed loss.
    assert_eq!((b["true_stops"].as_u64(), b["false_stops"].as_u64()), (Some(1), Some(1)), "{b}");
    let missed: Vec<&str> = b["missed_losses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["campaign_id"].as_str())
        .collect();
    assert_eq!(missed, vec!["sidelta04"], "{b}");
    let first = &b["firings"][0];
    assert!(
        first["at"].as_str().unwrap_or_default().starts_with(&format!("{}T09:10", d0())),
        "fires at the first fetch with more than $30 spent: {b}"
    );
    // A backtest records nothing.
    let conn = duckdb::Connection::open(s.db()).expect("db");
    let n: i64 =
        conn.query_row("SELECT count(*) FROM alert_events", [], |r| r.get(0)).expect("count");
    assert_eq!(n, 0);
}

const HOOK_PATH: &str = "/hooks/T0/B0/s3cr3t-Zx9q";

fn assert_no_secret(s: &Scratch, outputs: &[&Output]) {
    for (path, bytes) in lake_bytes(&s.lake()) {
        assert_absent(&path.display().to_string(), &bytes, &["s3cr3t-Zx9q"]);
    }
    assert_absent("database", &database_text(&s.db()), &["s3cr3t-Zx9q"]);
    for out in outputs {
        assert_absent("stdout", &out.stdout, &["s3cr3t-Zx9q"]);
        assert_absent("stderr", out.stderr.as_bytes(), &["s3cr3t-Zx9q"]);
    }
}

#[test]
fn a_webhook_that_fails_twice_gets_the_message_on_the_third_try() {
    let (s, _) = standard_scratch();
    let c = config(&s, ROAS_RULE);
    let hook = Receiver::start(vec![503, 503]);
    let slack = Receiver::start(vec![]);
    let out = run(s
        .adlake()
        .arg("--config")
        .arg(&c)
        .env("ADLAKE_ALERT_WEBHOOK_URL", hook.url(HOOK_PATH))
        .env("ADLAKE_SLACK_WEBHOOK_URL", slack.url(HOOK_PATH))
        .args(["-vv", "--json", "alerts", "check", "--at", &hour(12)]));
    expect_code(&out, 0);
    let report = out.json();
    let to_hook: Vec<&Value> = report["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["channel"] == "webhook")
        .collect();
    assert_eq!(to_hook.len(), 2, "one message per firing: {report}");
    assert!(to_hook.iter().all(|d| d["delivered"] == true), "{report}");
    assert_eq!(to_hook[0]["attempts"], 3, "503, 503, then 200: {report}");
    assert_eq!(hook.bodies().len(), 4);
    let posted: Value = serde_json::from_str(&hook.bodies()[3]).expect("JSON body");
    assert_eq!(posted["rule"], "roas-floor");
    let slack_text: Value = serde_json::from_str(&slack.bodies()[0]).expect("JSON body");
    assert!(slack_text["text"].as_str().unwrap_or_default().contains("roas-floor"), "{slack_text}");
    assert_no_secret(&s, &[&out]);
}

#[test]
fn a_receiver_that_is_down_fails_the_check_and_the_next_run_delivers() {
    let (s, _) = standard_scratch();
    let c = config(&s, ROAS_RULE);
    let down = Receiver::start(vec![]);
    let port = down.port();
    let url = down.url(HOOK_PATH);
    drop(down);
    let first = run(s
        .adlake()
        .arg("--config")
        .arg(&c)
        .env("ADLAKE_ALERT_WEBHOOK_URL", &url)
        .args(["-vv", "--json", "alerts", "check", "--at", &hour(11)]));
    expect_code(&first, 1);
    let report = first.json();
    let failed = &report["deliveries"][0];
    assert_eq!(
        (failed["delivered"].as_bool(), failed["attempts"].as_u64()),
        (Some(false), Some(3)),
        "{report}"
    );
    // Back up: the next run has nothing new to say (still firing) but retries what failed.
    let up = Receiver::start_on(port, vec![]);
    let second = run(s
        .adlake()
        .arg("--config")
        .arg(&c)
        .env("ADLAKE_ALERT_WEBHOOK_URL", &url)
        .args(["-vv", "--json", "alerts", "check", "--at", &hour(12)]));
    expect_code(&second, 0);
    let report = second.json();
    assert!(verdicts(&report).is_empty(), "{report}");
    let retried: Vec<&Value> = report["deliveries"].as_array().into_iter().flatten().collect();
    assert!(
        !retried.is_empty()
            && retried.iter().all(|d| d["delivered"] == true && d["retry_of_earlier_run"] == true),
        "{report}"
    );
    assert_eq!(up.bodies().len(), retried.len());
    // A third run has nothing left to deliver.
    let third = run(s
        .adlake()
        .arg("--config")
        .arg(&c)
        .env("ADLAKE_ALERT_WEBHOOK_URL", &url)
        .args(["--json", "alerts", "check", "--at", &hour(12)]));
    expect_code(&third, 0);
    assert_eq!(third.json()["deliveries"], json!([]));
    assert_no_secret(&s, &[&first, &second, &third]);
}

#[test]
fn an_ingest_evaluates_the_rules_at_its_end_and_a_delivery_failure_does_not_fail_it() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(12));
    let c = config(
        &s,
        "[[alerts]]\nname = \"any-spend\"\ncondition = { type = \"roas_below\", roas = 1000, min_spend_usd = 0 }\nrenotify_after = \"1h\"\n",
    );
    let down = Receiver::start(vec![]);
    let url = down.url(HOOK_PATH);
    drop(down);
    let out = run(fake
        .ingest_with(s.adlake())
        .arg("--date")
        .arg(today().to_string())
        .arg("--endpoints")
        .arg("s1_daily_v3,taboola_report,outbrain_report,mediago_report")
        .env("ADLAKE_ALERT_WEBHOOK_URL", &url)
        .arg("--config")
        .arg(&c)
        .arg("--json"));
    expect_code(&out, 0);
    let report = out.json();
    let alerts = &report["alerts"];
    let fired = verdicts(alerts);
    assert!(!fired.is_empty() && fired.iter().all(|v| v.0 == "fired"), "{report}");
    assert!(
        alerts["deliveries"].as_array().is_some_and(|d| d.iter().all(|d| d["delivered"] == false)),
        "{report}"
    );
    assert_eq!(alerts["verdicts"][0]["event_id"].as_str().map(str::len), Some(64));
    let summary = {
        let conn = duckdb::Connection::open(s.db()).expect("db");
        adlake::alerts::summary::day_summary(&conn, today()).expect("summary")
    };
    assert_eq!(summary.firings.len(), fired.len());
    assert!(
        summary.firings.iter().all(|l| l.undelivered == vec!["webhook".to_string()]),
        "{summary:?}"
    );
    assert_no_secret(&s, &[&out]);
}

/// The report of the date lists the day's firings and suppressions, with their reasons.
#[test]
fn the_report_lists_the_days_firings_and_suppressions() {
    let s = Scratch::new();
    let mut b = Builder::new(&s);
    standard(&mut b);
    b.failed("taboola_report", d0(), at(d0(), 12, 40));
    reproject(&s);
    let rules = format!(
        "{ROAS_RULE}[[alerts]]\nname = \"taboola-failed\"\ncondition = {{ type = \"fetch_status\", endpoint = \"taboola_report\", status = [\"FAILED\"] }}\n"
    );
    let c = config(&s, &rules);
    let verdicts = sorted(verdicts(&check(&s, &c, 12)));
    assert!(verdicts.contains(&triple("suppressed", "roas-floor", "campaign sialpha01")));
    assert!(verdicts.iter().any(|(o, r, _)| o == "fired" && r == "taboola-failed"), "{verdicts:?}");

    let out = run(s
        .adlake()
        .args(["--json", "report", "--date", &d0().to_string(), "--out"])
        .arg(s.path().join("page.html")));
    expect_code(&out, 0);
    let alerts = &out.json()["alerts"];
    let rules_of = |list: &str| -> Vec<String> {
        alerts[list]
            .as_array()
            .map(|v| v.iter().map(|l| l["rule"].as_str().unwrap_or_default().to_string()).collect())
            .unwrap_or_default()
    };
    assert_eq!(rules_of("firings"), vec!["taboola-failed"], "{alerts}");
    assert_eq!(rules_of("suppressions"), vec!["roas-floor", "roas-floor"], "{alerts}");
    let html = std::fs::read_to_string(s.path().join("page.html")).expect("page");
    let block = &html[html.find("id=\"alerts\"").expect("an alerts block")..];
    let block = &block[..block.find("</section>").unwrap_or(block.len())];
    assert!(block.contains("taboola-failed") && block.contains("roas-floor"), "{block}");
    assert!(block.contains("suppressed: taboola_report FAILED"), "{block}");
}
