//! The engine over flaky storage: ingest and reproject run in-process through a lake whose
//! backend fails and corrupts reads (`FaultyStore`), and the database equals a fault-free
//! run's; a body corrupt as stored is quarantined by a reproject through the binary, not fatal.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use adlake::cli::Global;
use adlake::config::Settings;
use adlake::pipeline::ingest::{self, DateSelection, Upstream};
use adlake::pipeline::project::project_into;
use adlake::secrets::{Credentials, Secret};
use adlake_raw::faulty::{Faults, FaultyStore};
use adlake_raw::store::EventFilter;
use adlake_raw::{Lake, RetryPolicy};

use crate::util::*;

fn settings(s: &Scratch, db: &Path) -> Settings {
    let mut settings =
        adlake::config::load(&Global::default(), &|_: &str| None).expect("default settings");
    settings.lake = s.lake().to_string_lossy().into_owned();
    settings.db = db.to_owned();
    settings.upstream.retry_base = Duration::from_millis(5);
    settings.upstream.max_wait = Duration::from_millis(40);
    settings.upstream.timeout = Duration::from_secs(3);
    settings.upstream.requests_per_second = 2000.0;
    settings
}

/// Retries without the production waits, and enough that a call failing at 20 % (36 % for a
/// read that may also be corrupted) fails every try about once in ten million.
fn quick() -> RetryPolicy {
    RetryPolicy {
        attempts: 16,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

fn fingerprints(db: &Path) -> Vec<(String, String)> {
    let conn = duckdb::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare(
            "SELECT key, value FROM projection_meta WHERE key LIKE 'fingerprint.%' ORDER BY key",
        )
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn ingest_and_reproject_through_a_flaky_lake_equal_a_fault_free_run() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(12));
    let upstream = Upstream {
        url: fake.fake.url(),
        auth_url: fake.fake.url(),
        credentials: Credentials::Login {
            email: Secret::new(EMAIL),
            password: Secret::new(PASSWORD),
        },
    };
    let (flaky_db, clean_db) = (s.path().join("flaky.duckdb"), s.path().join("clean.duckdb"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let counts = rt.block_on(async {
        std::fs::create_dir_all(s.lake()).expect("lake dir");
        let local = object_store::local::LocalFileSystem::new_with_prefix(s.lake()).expect("local");
        let store = Arc::new(FaultyStore::new(Arc::new(local), Faults::retryable(0.2, 21)));
        let lake = Lake::from_store(store.clone(), "faulty-local").with_retry(quick());

        let endpoints: Vec<_> = adlake_replay::ENDPOINTS.iter().collect();
        let range = DateSelection::Range { from: days_ago(3), to: days_ago(1) };
        let report = ingest::ingest(
            &settings(&s, &flaky_db),
            &upstream,
            &lake,
            &range,
            &endpoints,
            false,
            std::sync::Arc::new(adlake::clock::SystemClock),
        )
        .await
        .expect("ingest through a flaky lake");
        assert_eq!(report.status, "success", "{}", report.message);
        let summary = project_into(&settings(&s, &flaky_db), &lake, None)
            .await
            .expect("reproject through a flaky lake");
        assert_eq!(summary.quarantined, 0, "a flaky read was quarantined");

        let clean = Lake::open_existing(&s.lake().to_string_lossy()).expect("lake");
        project_into(&settings(&s, &clean_db), &clean, None).await.expect("fault-free reproject");

        let stored = clean.list_events(&EventFilter::default()).await.expect("list");
        let http = stored.iter().filter(|e| e.envelope.http.is_some()).count();
        let served = fake.fake.requests().iter().filter(|r| r.endpoint.is_some()).count();
        assert_eq!(http, served, "every page the fake served is one event in the lake");
        store.counts()
    });
    assert!(counts.errors > 0 && counts.corruptions > 0, "too few faults: {counts:?}");
    assert!(counts.errors_after_write > 0, "no write landed before its error: {counts:?}");

    let flaky = fingerprints(&flaky_db);
    assert!(flaky.len() >= 6, "{flaky:?}");
    assert_eq!(flaky, fingerprints(&clean_db), "the flaky lake's reproject differs");
    let verify = run(s.adlake().args(["--json", "raw", "verify"]));
    expect_code(&verify, 0);
}

#[test]
fn a_body_corrupt_as_stored_is_quarantined_not_fatal_to_reproject() {
    let s = Scratch::new();
    let fake = Fake::start(Fake::config(12));
    let d = days_ago(2);
    expect_code(&run(fake.ingest(&s).args(["--date", &d.to_string()])), 0);

    // One taboola page: a body no other event names.
    let (event_id, hash) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(async {
            let lake = Lake::open_existing(&s.lake().to_string_lossy()).expect("lake");
            let filter =
                EventFilter { from: Some(d), to: Some(d), source: Some("taboola_report".into()) };
            let events = lake.list_events(&filter).await.expect("list");
            assert_eq!(events.len(), 1, "one page, one attempt");
            let body = events[0].envelope.body.expect("a body");
            (events[0].id.to_hex(), body.sha256.to_hex())
        });
    let file = s.lake().join("bodies").join(&hash[..2]).join(format!("{hash}.zst"));
    let mut plain =
        zstd::stream::decode_all(&std::fs::read(&file).expect("read")[..]).expect("zstd");
    plain[10] ^= 0x20;
    std::fs::write(&file, zstd::bulk::compress(&plain, 3).expect("zstd")).expect("write");

    let out = run(s.adlake().args(["--json", "reproject"]));
    expect_code(&out, 0);
    assert!(out.json()["quarantined"].as_u64().unwrap_or(0) >= 1, "{}", out.stdout_text());
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains(&hash))
        .unwrap_or_else(|| panic!("no warning names the body:\n{}", out.stderr));
    assert!(warning.contains("corrupt") && warning.contains("content hashes to"), "{warning}");

    let conn = duckdb::Connection::open(s.db()).expect("db");
    let quarantined: String = conn
        .query_row("SELECT body_sha256 FROM quarantine WHERE event_id = ?", [&event_id], |r| {
            r.get(0)
        })
        .expect("the event is quarantined");
    assert_eq!(quarantined, hash);
    drop(conn);

    let status = run(s.adlake().args(["--json", "status"]));
    expect_code(&status, 0);
    let listed = status.json()["quarantine"].as_array().cloned().unwrap_or_default();
    assert!(listed.iter().any(|q| q["event_id"] == event_id.as_str()), "{listed:?}");

    let verify = run(s.adlake().args(["raw", "verify"]));
    expect_code(&verify, 1);
    let text = verify.stdout_text();
    assert!(text.lines().any(|l| l.contains(&hash) && l.contains("corrupt")), "{text}");
}
