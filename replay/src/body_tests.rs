//! Reading bodies: verdicts, pagination, contracts broken as a whole or row by row.

use serde_json::json;

use super::*;
use crate::endpoint;

fn spec(key: &str) -> &'static EndpointSpec {
    endpoint(key).unwrap_or_else(|| panic!("{key} is an endpoint"))
}

fn probe(key: &str, status: u16, body: &[u8], page: u32, limit: u32) -> Probe {
    read(spec(key), status, body, page, limit, false).probe
}

fn data(items: usize, next: NextPage) -> Probe {
    Probe::Data { items, bad_rows: 0, next }
}

#[test]
fn probes_pagination_styles() {
    let fb_row = json!({"date_start": "2025-11-23", "campaign_id": "1", "spend": "1"});
    let body =
        json!({"data": [fb_row], "paging": {"cursors": {"after": "MjQZD"}, "next": "http://x"}});
    assert_eq!(
        probe("facebook_report", 200, body.to_string().as_bytes(), 1, 500),
        data(1, NextPage::Cursor("MjQZD".into()))
    );
    let last = json!({"data": [fb_row], "paging": {"cursors": {"after": "MjQZD"}}});
    assert_eq!(
        probe("facebook_report", 200, last.to_string().as_bytes(), 2, 500),
        data(1, NextPage::Done)
    );
    let s1_row =
        json!({"date": "2025-11-23", "strategisCampaignId": "sia", "estimated_revenue": "1"});
    let two = json!({"data": [s1_row, s1_row], "page": 1});
    assert_eq!(
        probe("s1_daily_v3", 200, two.to_string().as_bytes(), 1, 2),
        data(2, NextPage::Page(2))
    );
    let one = json!({"data": [s1_row], "page": 2});
    assert_eq!(
        probe("s1_daily_v3", 200, one.to_string().as_bytes(), 2, 2),
        data(1, NextPage::Done)
    );
    let hour = json!({"date": "2025-11-23", "hour": "3", "strategisCampaignId": "sia", "searches": "1", "estimated_revenue": "1"});
    let hourly = json!({"data": {"data": [hour]}});
    assert_eq!(
        probe("s1_hourly_v3", 200, hourly.to_string().as_bytes(), 1, 500),
        data(1, NextPage::Done)
    );
    let bare = json!([hour]);
    assert_eq!(
        probe("s1_hourly_v3", 200, bare.to_string().as_bytes(), 1, 500),
        data(1, NextPage::Done),
        "a bare array reads as it decodes"
    );
    let sn = br#"{"data":[],"pagination":{"total_pages":3}}"#;
    assert_eq!(probe("smartnews_report", 200, sn, 1, 0), data(0, NextPage::Page(2)));
}

#[test]
fn recognises_in_body_throttles_errors_and_garbage() {
    let nb = br#"{"code":4034,"errMsg":"rate limit","data":null}"#;
    assert!(matches!(probe("newsbreak_report", 200, nb, 1, 0), Probe::Throttled { .. }));
    let denied = br#"{"code":5001,"errMsg":"denied","data":null}"#;
    assert!(matches!(probe("newsbreak_report", 200, denied, 1, 0), Probe::Rejected { .. }));
    let throttle = br#"{"error":{"message":"x","code":17}}"#;
    assert!(matches!(probe("facebook_adsets", 400, throttle, 1, 0), Probe::Throttled { .. }));
    let other = br#"{"error":{"message":"x","code":100}}"#;
    assert!(matches!(probe("facebook_adsets", 400, other, 1, 0), Probe::Rejected { .. }));
    let truncated = probe("newsbreak_report", 200, br#"{"code":0,"data":{"ro"#, 1, 0);
    assert!(matches!(&truncated, Probe::Broken { error } if error.is_transient()), "{truncated:?}");
    let csv = b"Day,Campaign Id,Total Spend\n2025-11-23,1,4.5\n";
    assert_eq!(probe("zemanta_report", 200, csv, 1, 0), data(1, NextPage::Done));
    let html = probe("zemanta_report", 200, b"<html><body>oops</body></html>", 1, 0);
    assert!(matches!(&html, Probe::Broken { error } if error.is_transient()), "{html:?}");
}

#[test]
fn newsbreak_rows_live_under_data_rows_only() {
    let row = json!({"date": "2025-11-23", "campaignId": "9", "cost": 4123});
    let wrapped = json!({"code": 0, "data": {"rows": [row]}});
    assert_eq!(
        probe("newsbreak_report", 200, wrapped.to_string().as_bytes(), 1, 0),
        data(1, NextPage::Done)
    );
    let elsewhere = json!({"code": 0, "rows": [row]});
    let read = probe("newsbreak_report", 200, elsewhere.to_string().as_bytes(), 1, 0);
    assert!(
        matches!(read, Probe::Broken { error: BodyError::NoRowArray { .. } }),
        "ingest and projector agree: {read:?}"
    );
}

#[test]
fn a_renamed_csv_column_breaks_the_contract_naming_it() {
    let renamed = b"Day,Campaign Id,Campaign,Strategis Campaign Id,Spend (USD),Impressions\n2025-11-23,1,x,sia,4.5,10\n";
    let read = probe("zemanta_report", 200, renamed, 1, 0);
    assert_eq!(read, Probe::Broken { error: BodyError::MissingColumn { field: "Total Spend" } });
    let Probe::Broken { error } = read else { unreachable!() };
    assert!(!error.is_transient(), "asking again returns the same columns");
    assert!(error.to_string().contains("Total Spend"));
}

#[test]
fn a_renamed_json_field_or_row_array_breaks_the_contract() {
    let renamed = json!({"results": [
        {"date": "2025-11-23", "campaign": "1", "spend_usd": 5.0},
        {"date": "2025-11-23", "campaign": "2", "spend_usd": 6.0},
    ]});
    let read = probe("taboola_report", 200, renamed.to_string().as_bytes(), 1, 0);
    assert_eq!(read, Probe::Broken { error: BodyError::MissingField { field: "spent" } });
    let moved = json!({"rows": [{"date": "2025-11-23", "campaign": "1", "spent": 5.0}]});
    let read = probe("taboola_report", 200, moved.to_string().as_bytes(), 1, 0);
    assert!(matches!(read, Probe::Broken { error: BodyError::NoRowArray { .. } }), "{read:?}");
    let empty = json!({"results": []});
    assert_eq!(
        probe("taboola_report", 200, empty.to_string().as_bytes(), 1, 0),
        data(0, NextPage::Done),
        "no rows: nothing to judge"
    );
}

#[test]
fn single_bad_rows_are_set_aside_and_a_body_of_only_bad_rows_is_broken() {
    let body = json!({"results": [
        {"date": "2025-11-23", "campaign": "1", "spent": 5.0},
        {"date": "2025-11-23", "campaign": "2", "spent": {"amount": 6}},
        {"date": "2025-11-23", "campaign": "3"},
        {"date": null, "campaign": "4", "spent": 1},
    ]})
    .to_string();
    let page = read(spec("taboola_report"), 200, body.as_bytes(), 1, 0, true);
    assert_eq!(page.probe, Probe::Data { items: 4, bad_rows: 3, next: NextPage::Done });
    let rows = page.rows.unwrap();
    assert_eq!(rows.rows.len(), 1);
    assert_eq!(rows.rows[0].locator.to_string(), "/results/0");
    let errors: Vec<(String, String)> =
        rows.bad_rows.iter().map(|b| (b.locator.clone(), b.error.to_string())).collect();
    assert_eq!(
        errors,
        vec![
            ("/results/1".to_owned(), r#"`spent`: {"amount":6} is not a number"#.to_owned()),
            ("/results/2".to_owned(), "required field `spent` is missing".to_owned()),
            ("/results/3".to_owned(), "`date` has no value, and it places the row".to_owned()),
        ]
    );
    let all_bad =
        json!({"results": [{"date": "2025-11-23", "campaign": "1", "spent": "n/a"}]}).to_string();
    let read = probe("taboola_report", 200, all_bad.as_bytes(), 1, 0);
    assert!(
        matches!(read, Probe::Broken { error: BodyError::EveryRowBad { rows: 1, .. } }),
        "{read:?}"
    );
}

#[test]
fn nested_rows_take_their_parents_fields_and_name_their_place() {
    let body = json!({"campaignResults": [
        {"campaignId": "ob1", "strategisCampaignId": "sia", "results": [
            {"metadata": {"fromDate": "2025-11-23 06:00:00"}, "metrics": {"spend": 1.82, "clicks": 4.0}},
            {"metadata": {"fromDate": "2025-11-23 05:00:00"}, "metrics": {"spend": 0.5}},
        ]},
        {"campaignId": "ob2", "results": []},
        {"results": [{"metadata": {"fromDate": "2025-11-23 01:00:00"}, "metrics": {"spend": 1}}]},
    ]})
    .to_string();
    let page = read(spec("outbrain_report"), 200, body.as_bytes(), 1, 0, true);
    assert_eq!(page.probe, Probe::Data { items: 3, bad_rows: 1, next: NextPage::Done });
    let rows = page.rows.unwrap();
    type Row<'a> = (String, Option<&'a str>, Option<u8>, Option<String>, Option<i64>);
    let got: Vec<Row> = rows
        .rows
        .iter()
        .map(|r| {
            (
                r.locator.to_string(),
                r.strategis_id.as_deref(),
                r.hour,
                r.spend.map(|s| s.to_string()),
                r.clicks,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "/campaignResults/0/results/0".into(),
                Some("sia"),
                Some(6),
                Some("1.82".into()),
                Some(4)
            ),
            ("/campaignResults/0/results/1".into(), Some("sia"), Some(5), Some("0.5".into()), None),
        ]
    );
    assert_eq!(rows.bad_rows[0].locator, "/campaignResults/2/results/0");
    assert_eq!(rows.bad_rows[0].error, RowError::Missing { field: "campaignId" });
}

#[test]
fn newsbreak_takes_cost_decimal_first_and_divides_cents() {
    let body = json!({"code": 0, "data": {"rows": [
        {"date": "2025-11-23", "campaignId": "1", "cost": 41237, "costDecimal": 41237.42},
        {"date": "2025-11-23", "campaignId": "2", "cost": 500, "costDecimal": null},
    ]}})
    .to_string();
    let rows = read(spec("newsbreak_report"), 200, body.as_bytes(), 1, 0, true).rows.unwrap();
    let spend: Vec<String> =
        rows.rows.iter().filter_map(|r| r.spend.map(|s| s.to_string())).collect();
    assert_eq!(spend, vec!["412.3742", "5"]);
}

#[test]
fn strategis_metrics_carries_its_clicks() {
    let body = json!({"data": [{"date": "2025-11-23", "strategisCampaignId": "sia", "impressions": "10", "clicks": "7", "spend": "4.10"}]}).to_string();
    let rows = read(spec("strategis_metrics"), 200, body.as_bytes(), 1, 500, true).rows.unwrap();
    assert_eq!(rows.rows[0].clicks, Some(7));
}

mod arbitrary_input {
    //! No body, however hostile, makes reading panic or disagree with itself (keeping its rows
    //! or only counting them): every endpoint,
    //! over arbitrary bytes and over its fixtures mutated (bytes flipped, cut, spliced).
    use proptest::prelude::*;

    use super::*;
    use crate::ENDPOINTS;

    /// Every fixture body of every endpoint, with its endpoint's index.
    fn fixtures() -> Vec<(usize, Vec<u8>)> {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let mut out = Vec::new();
        for (i, spec) in ENDPOINTS.iter().enumerate() {
            let Ok(entries) = std::fs::read_dir(root.join(spec.key)) else { continue };
            let mut bodies: Vec<Vec<u8>> =
                entries.flatten().filter_map(|e| std::fs::read(e.path()).ok()).collect();
            bodies.sort();
            out.extend(bodies.into_iter().map(|b| (i, b)));
        }
        out
    }

    /// Reads `body` keeping its rows and only counting them, and checks the answers agree.
    fn read_every_way(spec: &EndpointSpec, body: &[u8]) -> Result<(), TestCaseError> {
        for status in [200, 400] {
            let kept = read(spec, status, body, 1, 3, true);
            let counted = read(spec, status, body, 1, 3, false);
            prop_assert_eq!(&kept.probe, &counted.probe);
            if let (Probe::Data { items, bad_rows, .. }, Some(rows)) = (&kept.probe, &kept.rows) {
                prop_assert_eq!(rows.bad_rows.len(), *bad_rows);
                prop_assert!(
                    rows.rows.len() + rows.bad_rows.len() >= *items
                        || spec.contract.nested.is_some()
                );
                prop_assert!(
                    !rows.rows.is_empty() || rows.bad_rows.is_empty(),
                    "a body of only bad rows is broken"
                );
            }
            prop_assert_eq!(kept.rows.is_some(), matches!(kept.probe, Probe::Data { .. }));
        }
        Ok(())
    }

    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(usize, u8),
        Cut(usize),
        Splice(usize, Vec<u8>),
        Remove(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let piece = proptest::sample::select(vec![
            b"\"".to_vec(),
            b",".to_vec(),
            b"{".to_vec(),
            b"]".to_vec(),
            b"null".to_vec(),
            b"-1e999".to_vec(),
            b"\"\\ud800\"".to_vec(),
            b"99999999999999999999999".to_vec(),
            b"\n".to_vec(),
            "\u{fffd}".as_bytes().to_vec(),
        ]);
        prop_oneof![
            (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
            any::<usize>().prop_map(Mutation::Cut),
            (any::<usize>(), piece).prop_map(|(at, p)| Mutation::Splice(at, p)),
            (any::<usize>(), 1usize..40).prop_map(|(at, n)| Mutation::Remove(at, n)),
        ]
    }

    fn apply(body: &mut Vec<u8>, m: &Mutation) {
        if body.is_empty() {
            return;
        }
        match m {
            Mutation::Flip(at, b) => {
                let at = at % body.len();
                body[at] ^= b | 1;
            }
            Mutation::Cut(at) => body.truncate(at % body.len()),
            Mutation::Splice(at, piece) => {
                let at = at % body.len();
                body.splice(at..at, piece.iter().copied());
            }
            Mutation::Remove(at, n) => {
                let at = at % body.len();
                let end = (at + n).min(body.len());
                body.drain(at..end);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic(endpoint in 0usize..15, body in proptest::collection::vec(any::<u8>(), 0..300)) {
            read_every_way(&ENDPOINTS[endpoint % ENDPOINTS.len()], &body)?;
        }

        #[test]
        fn mutated_fixtures_never_panic(pick in any::<usize>(), mutations in proptest::collection::vec(mutation(), 1..6)) {
            let all = fixtures();
            prop_assume!(!all.is_empty());
            let (endpoint, mut body) = all[pick % all.len()].clone();
            for m in &mutations {
                apply(&mut body, m);
            }
            read_every_way(&ENDPOINTS[endpoint], &body)?;
        }
    }
}
