//! Lineage: every value traced to the body rows that supplied it, or lost.

use super::*;

#[test]
fn every_value_has_lineage_to_an_event() {
    let mut f = Fixture::default();
    facebook_example(&mut f);
    let p = f.project();
    let r = row(&p, "sire1f06al", "2025-11-23", "daily");
    for column in [
        "revenue_usd",
        "sessions",
        "spend_usd",
        "clicks",
        "owner",
        "lane",
        "category",
        "campaign_name",
        "network_id",
    ] {
        let l = p
            .tables
            .lineage
            .iter()
            .find(|l| *l.row_key == *r.key() && l.chosen && l.columns.contains(column))
            .unwrap_or_else(|| panic!("no lineage for {column}"));
        assert!(f.events.iter().any(|e| e.id == l.event_id), "{column} points at an unknown event");
        assert!(l.locator.to_string().starts_with('/'), "{column}: {}", l.locator);
    }
}

#[test]
fn a_reconciled_row_shares_the_daily_rows_lineage_for_what_both_take_alike() {
    let mut f = Fixture::default();
    facebook_example(&mut f);
    // Without a reconciled row, nothing is shared.
    let alone = f.project();
    assert!(alone.tables.campaign_index.iter().all(|r| r.snapshot_source == "daily"));
    assert!(
        !alone.tables.lineage.is_empty() && alone.tables.lineage.iter().all(|l| !l.both_snapshots)
    );
    // Fetched before the daily reports, so the newest source of the reconciled row is a shared one.
    f.ok("s1_reconciled", "2025-11-23", "r1", 5, json!([{"date": "2025-11-23", "strategisCampaignId": "sire1f06al", "searches": 990, "clicks": 210, "revenue": 190.5}]));
    let p = f.project();
    let (daily, reconciled) = (
        row(&p, "sire1f06al", "2025-11-23", "daily"),
        row(&p, "sire1f06al", "2025-11-23", "reconciled"),
    );
    let own = ["revenue_usd", "sessions", "s1_clicks"];
    // The reconciled row's entries are only its own columns, from its own report.
    let under_reconciled: Vec<_> =
        p.tables.lineage.iter().filter(|l| *l.row_key == *reconciled.key()).collect();
    assert!(!under_reconciled.is_empty());
    for l in &under_reconciled {
        assert_eq!(l.endpoint, "s1_reconciled", "{l:?}");
        assert!(l.columns.iter().all(|c| own.contains(&c)), "{l:?}");
        assert!(!l.both_snapshots);
    }
    // Every other value of the reconciled row is named once, by an entry of the daily row
    // marked as both rows'; the daily row's own columns are never shared.
    for column in
        ["spend_usd", "clicks", "owner", "lane", "category", "campaign_name", "network_id"]
    {
        let shared: Vec<_> = p
            .tables
            .lineage
            .iter()
            .filter(|l| *l.row_key == *daily.key() && l.chosen && l.columns.contains(column))
            .collect();
        assert_eq!(shared.len(), 1, "{column}: {shared:?}");
        assert!(shared[0].both_snapshots, "{column}");
    }
    for l in p
        .tables
        .lineage
        .iter()
        .filter(|l| *l.row_key == *daily.key() && l.columns.iter().any(|c| own.contains(&c)))
    {
        assert!(!l.both_snapshots && l.columns.iter().all(|c| own.contains(&c)), "{l:?}");
    }
    let fetched_at =
        |id: EventId| f.events.iter().find(|e| e.id == id).map(|e| e.envelope.fetched_at);
    let newest = p
        .tables
        .lineage
        .iter()
        .filter(|l| {
            l.chosen
                && (*l.row_key == *reconciled.key()
                    || (*l.row_key == *daily.key() && l.both_snapshots))
        })
        .filter_map(|l| fetched_at(l.event_id))
        .max();
    assert_eq!(reconciled.updated_at, newest, "updated_at counts the shared sources");
    assert!(
        newest
            > p.tables
                .lineage
                .iter()
                .filter(|l| *l.row_key == *reconciled.key())
                .filter_map(|l| fetched_at(l.event_id))
                .max(),
        "a shared source is the newest here"
    );
}

/// Several days, several endpoints, restatements and failures: the determinism corpus.

#[test]
fn a_losing_entry_names_each_columns_value() {
    let entry = LineageRow {
        table_name: "campaign_index",
        date: d("2025-11-23"),
        row_key: Arc::from("k"),
        kind: "campaign",
        columns: crate::column!("campaign_name").with(crate::column!("account_id")),
        endpoint: "facebook_report",
        event_id: EventId::of(b"e"),
        event_index: 0,
        locator: "/data/0".into(),
        chosen: false,
        both_snapshots: false,
        value: Some(format!("123{LOST_VALUE_SEPARATOR}Campaign, ABC")),
    };
    assert_eq!(entry.value_of("account_id"), Some("123"));
    assert_eq!(entry.value_of("campaign_name"), Some("Campaign, ABC"));
    assert_eq!(entry.value_of("spend_usd"), None);
    let single = LineageRow {
        columns: crate::column!("campaign_name"),
        value: Some("a\u{1f}b".into()),
        ..entry
    };
    assert_eq!(
        single.value_of("campaign_name"),
        Some("a\u{1f}b"),
        "a lone column's value is taken whole"
    );
}

#[test]
fn session_lineage_runs_stand_for_exactly_the_rows_each_hour_came_from() {
    let mut f = Fixture::default();
    let day = "2025-11-23";
    let hour = |sid: &str, h: u32, searches: &str, revenue: serde_json::Value| json!({"date": day, "hour": h.to_string(), "strategisCampaignId": sid, "searches": searches, "estimated_revenue": revenue});
    let page1 = f.ok(
        "s1_hourly_v3",
        day,
        "r1",
        10,
        json!({"data": {"data": [
        hour("siruns0001", 0, "1", json!("0.1")),
        hour("siruns0001", 1, "2", json!("0.2")),
        hour("siruns0001", 2, "3", json!("0.3")),
        // Hour 3 twice (summed within the source), then an undecodable row, then a row with
        // sessions only: each breaks the run.
        hour("siruns0001", 3, "4", json!("0.4")),
        hour("siruns0001", 3, "5", json!("0.5")),
        json!({"date": day, "hour": "x", "strategisCampaignId": "siruns0001"}),
        hour("siruns0001", 4, "6", json!("0.6")),
        hour("siruns0001", 5, "7", json!(null)),
        hour("siruns0002", 7, "1", json!("1")),
        hour("siruns0002", 9, "1", json!("1")),
        // Out of order in the body: hour 8 after hour 9.
        hour("siruns0002", 8, "1", json!("1")),
        hour("siruns0002", 10, "1", json!("1")),
    ], "page": 1, "limit": 500}}),
    );
    let p = f.project();

    // What each row's lineage must be, straight from the body: every body row of its hour.
    let spec = crate::endpoint("s1_hourly_v3").unwrap();
    let body = f.events.iter().find(|e| e.id == page1).unwrap().body.clone().unwrap();
    let mut expected: Vec<(String, Columns, String)> = Vec::new();
    for h in &p.tables.session_hourly {
        let names = [("sessions", h.sessions.is_some()), ("revenue", h.revenue.is_some())]
            .into_iter()
            .filter(|c| c.1)
            .map(|c| c.0);
        let columns = Columns::from_names(names).unwrap();
        let read = crate::body::read(spec, 200, &body, 1, 500, true).rows.unwrap();
        for r in read.rows.iter().filter(|r| {
            r.strategis_id.as_deref() == Some(&*h.campaign_id) && r.hour == Some(h.click_hour)
        }) {
            expected.push((h.key(), columns, r.locator.to_string()));
        }
    }
    let mut expanded: Vec<(String, Columns, String)> = p
        .tables
        .session_lineage
        .iter()
        .flat_map(|run| run.entries())
        .map(|l| {
            assert_eq!(
                (l.event_id, l.endpoint, l.kind, l.chosen),
                (page1, "s1_hourly_v3", "session", true)
            );
            (l.row_key.to_string(), l.columns, l.locator.to_string())
        })
        .collect();
    expected.sort();
    expanded.sort();
    assert_eq!(expanded, expected);
    assert_eq!(expected.len(), 12 - 1, "every decodable body row is named once");

    let runs: Vec<(&str, u8, u8, Option<u32>)> = p
        .tables
        .session_lineage
        .iter()
        .map(|r| (r.campaign_id.as_str(), r.hour_from, r.hour_to, r.index_from))
        .collect();
    assert_eq!(
        runs,
        vec![
            ("siruns0001", 0, 2, Some(0)),
            ("siruns0001", 3, 3, Some(3)),
            ("siruns0001", 3, 3, Some(4)),
            ("siruns0001", 4, 4, Some(6)),
            ("siruns0001", 5, 5, Some(7)),
            ("siruns0002", 7, 7, Some(8)),
            ("siruns0002", 8, 8, Some(10)),
            ("siruns0002", 9, 9, Some(9)),
            ("siruns0002", 10, 10, Some(11)),
        ]
    );
    // A campaign's hours listed in order, one row each, make one run.
    let mut ordered = Fixture::default();
    ordered.ok("s1_hourly_v3", day, "r1", 10, json!({"data": {"data": (0..28).map(|h| hour("siruns0003", h, "1", json!("1"))).collect::<Vec<_>>()}}));
    let runs: Vec<(u8, u8, Option<u32>)> = ordered
        .project()
        .tables
        .session_lineage
        .iter()
        .map(|r| (r.hour_from, r.hour_to, r.index_from))
        .collect();
    assert_eq!(runs, vec![(0, 27, Some(0))]);
    // The next campaign's first hour may follow the last one's, from the next body row: it
    // still starts a run of its own.
    let mut adjacent = Fixture::default();
    let rows: Vec<_> = (0..4)
        .map(|h| hour("siruns0005", h, "1", json!("1")))
        .chain((4..6).map(|h| hour("siruns0006", h, "1", json!("1"))))
        .collect();
    adjacent.ok("s1_hourly_v3", day, "r1", 10, json!({"data": {"data": rows}}));
    let p = adjacent.project();
    let runs: Vec<(&str, u8, u8, Option<u32>)> = p
        .tables
        .session_lineage
        .iter()
        .map(|r| (r.campaign_id.as_str(), r.hour_from, r.hour_to, r.index_from))
        .collect();
    assert_eq!(runs, vec![("siruns0005", 0, 3, Some(0)), ("siruns0006", 4, 5, Some(4))]);
}

#[test]
fn locators_split_into_prefix_and_index_only_when_they_round_trip() {
    assert_eq!(split_locator("/data/data/17"), ("/data/data", Some(17)));
    assert_eq!(split_locator("/0"), ("", Some(0)));
    assert_eq!(split_locator("/data/017"), ("/data/017", None));
    assert_eq!(split_locator("line 4"), ("line 4", None));
    assert_eq!(split_locator("/data/x"), ("/data/x", None));
    assert_eq!(split_locator("/data/99999999999"), ("/data/99999999999", None));
}
