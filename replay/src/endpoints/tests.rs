//! Every endpoint's contract against its fixture bodies (`tests/fixtures/<endpoint>/`), by
//! name: `ok-*` reads with no bad row, `partial-*` with some bad rows and some good,
//! `broken-*` breaks the contract for good (asking again would not help), `garbage-*` is no
//! body of that format at all (a passing fault), `throttled*` an in-body throttle. What each
//! body reads as is pinned by a snapshot per endpoint.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::body::{read, NextPage, Probe};
use crate::ENDPOINTS;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The fixture files of `endpoint`, sorted by name.
fn files(endpoint: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fixtures().join(endpoint);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).expect("a UTF-8 name").to_owned();
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_endpoint_has_valid_and_broken_fixtures() {
    for spec in &ENDPOINTS {
        let names: Vec<String> = files(spec.key).into_iter().map(|(n, _)| n).collect();
        let has = |prefix: &str| names.iter().any(|n| n.starts_with(prefix));
        assert!(has("ok-"), "{}: no valid body", spec.key);
        assert!(has("partial-"), "{}: no body with a bad row", spec.key);
        assert!(
            has("broken-renamed-field") || has("broken-renamed-column"),
            "{}: no renamed field",
            spec.key
        );
        assert!(has("broken-wrong-type"), "{}: no wrong type", spec.key);
        if spec.contract.format == crate::contract::Format::Json {
            assert!(has("broken-renamed-rows"), "{}: no renamed row array", spec.key);
        }
    }
}

#[test]
fn every_fixture_reads_as_its_name_says_and_as_its_snapshot_pins() {
    for spec in &ENDPOINTS {
        let mut shown = String::new();
        for (name, bytes) in files(spec.key) {
            let page = read(spec, 200, &bytes, 1, 500, true);
            let counted = read(spec, 200, &bytes, 1, 500, false);
            assert_eq!(
                page.probe, counted.probe,
                "{}/{name}: counting and keeping rows agree",
                spec.key
            );
            match (&page.probe, name.split('-').next().unwrap_or_default()) {
                (Probe::Data { bad_rows: 0, .. }, "ok") => {}
                (Probe::Data { bad_rows, .. }, "partial")
                    if *bad_rows > 0 && page.rows.as_ref().is_some_and(|r| !r.rows.is_empty()) => {}
                (Probe::Broken { error }, "broken") if !error.is_transient() => {}
                (Probe::Broken { error }, "garbage") if error.is_transient() => {}
                (Probe::Throttled { .. }, "throttled.json") => {}
                (probe, _) => panic!("{}/{name} reads as {probe:?}", spec.key),
            }
            let _ = writeln!(shown, "## {name}\n{}", describe(&page.probe));
            if let Some(rows) = &page.rows {
                for row in &rows.rows {
                    let _ = writeln!(shown, "{row:?}");
                }
                for bad in &rows.bad_rows {
                    let _ = writeln!(shown, "bad {}: {}", bad.locator, bad.error);
                }
            }
        }
        insta::assert_snapshot!(spec.key, shown);
    }
}

fn describe(probe: &Probe) -> String {
    match probe {
        Probe::Data { items, bad_rows, next } => {
            let next = match next {
                NextPage::Done => "last page".to_owned(),
                NextPage::Page(n) => format!("next page {n}"),
                NextPage::Cursor(c) => format!("next cursor {c}"),
            };
            format!("data: {items} items, {bad_rows} bad, {next}")
        }
        Probe::Throttled { detail } => format!("throttled: {detail}"),
        Probe::Rejected { detail } => format!("rejected: {detail}"),
        Probe::Broken { error } => format!("broken: {error}"),
    }
}
