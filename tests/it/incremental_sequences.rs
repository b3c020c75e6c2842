//! The incremental invariant as a property, in process: any sequence of ingests (events for a
//! few dates put into a lake, dates already projected among them: restatements), each followed
//! by the window projection of the dates it touched, leaves the database equal to one full
//! projection of the same lake into a fresh database. Bodies come from the fake upstream's
//! generator; events go straight into a lake on a temporary directory, without HTTP.

use std::collections::BTreeMap;
use std::path::Path;

use adlake::config::Settings;
use adlake::fake::bodies;
use adlake::fake::universe::Universe;
use adlake::pipeline::project::project_into;
use adlake_raw::{Envelope, HttpExchange, Lake, RunPhase};
use adlake_replay::project::DateWindow;
use adlake_replay::ENDPOINTS;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;

use crate::incremental::{meta_fingerprints, table_fingerprints};

/// Dates the sequences pick from: 2025-11-14 + 0..DAYS. The last is the universe's today, so
/// its last three days are restated whenever a later ingest fetches them again.
const DAYS: u8 = 10;
const CAMPAIGNS: usize = 6;

fn day(n: u8) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 11, 14).unwrap_or_default() + chrono::Days::new(u64::from(n))
}

/// What one endpoint answered for one date.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Rows,
    /// A 502 from the gateway: the fetch FAILED, an earlier good one keeps serving.
    Failed,
}

#[derive(Clone)]
struct Ingest {
    /// Per date, per endpoint (in registry order): what it answered, or not fetched.
    fetched: BTreeMap<u8, Vec<Option<Answer>>>,
    /// Whether the run wrote its start and finish markers (on the universe's today).
    markers: bool,
}

/// `Ingest { day 8: RRRRRRRRRRRRRRR, day 9: R.F............, markers }`: per date, one letter
/// per endpoint in registry order (R rows, F failed, . not fetched).
impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let days: Vec<String> = self
            .fetched
            .iter()
            .map(|(n, answers)| {
                let letters: String = answers
                    .iter()
                    .map(|a| match a {
                        Some(Answer::Rows) => 'R',
                        Some(Answer::Failed) => 'F',
                        None => '.',
                    })
                    .collect();
                format!("day {n}: {letters}")
            })
            .collect();
        let markers = if self.markers { ", markers" } else { "" };
        write!(f, "Ingest {{ {}{markers} }}", days.join(", "))
    }
}

impl Ingest {
    /// The window an ingest projects: its first date to its last.
    fn window(&self) -> Option<DateWindow> {
        let (first, last) = (self.fetched.keys().next()?, self.fetched.keys().next_back()?);
        Some(DateWindow { from: day(*first), to: day(*last) })
    }
}

fn ingest() -> impl Strategy<Value = Ingest> {
    let answer = prop_oneof![6 => Just(Some(Answer::Rows)), 1 => Just(Some(Answer::Failed)), 2 => Just(None)];
    (
        prop::collection::btree_map(0..DAYS, prop::collection::vec(answer, ENDPOINTS.len()), 1..=3),
        any::<bool>(),
    )
        .prop_map(|(fetched, markers)| Ingest { fetched, markers })
}

/// Puts the events of ingest number `step` into `lake`: one single-page fetch per endpoint and
/// date it fetched, rendered at restatement epoch `step`, fetched an hour after the previous
/// ingest's.
async fn put(lake: &Lake, universe: &Universe, step: usize, ingest: &Ingest) {
    let run_id = format!("run-{step}");
    let hour = Utc.with_ymd_and_hms(2025, 11, 24, 0, 0, 0).single().unwrap_or_default()
        + chrono::Duration::hours(step as i64);
    let at = |second: i64| -> DateTime<Utc> { hour + chrono::Duration::seconds(second) };
    let window = ingest.window().expect("an ingest fetches some date");
    // As ingest writes them: the start plans each (endpoint, date), the finish lists the fetches.
    let pairs: Vec<(&str, NaiveDate)> = ingest
        .fetched
        .iter()
        .flat_map(|(n, answers)| {
            ENDPOINTS
                .iter()
                .zip(answers)
                .filter(|(_, a)| a.is_some())
                .map(move |(e, _)| (e.key, day(*n)))
        })
        .collect();
    let detail = serde_json::json!({
        "date_from": window.from, "date_to": window.to, "endpoints": ENDPOINTS.iter().map(|e| e.key).collect::<Vec<_>>(),
        "status": "success", "message": "", "events_written": 0, "bytes_new": 0, "skipped": [],
        "planned": pairs.iter().map(|(e, d)| serde_json::json!([e, d])).collect::<Vec<_>>(),
        "fetches": pairs.iter().map(|(e, d)| serde_json::json!({"endpoint": e, "date": d})).collect::<Vec<_>>(),
    });
    let marker = |phase, second| {
        Envelope::run(
            adlake::pipeline::ingest::JOB,
            universe.today,
            &run_id,
            at(second),
            phase,
            detail.clone(),
        )
    };
    if ingest.markers {
        lake.put_exchange(marker(RunPhase::Started, 0), None).await.expect("put start");
    }
    let mut second = 1;
    for (n, answers) in &ingest.fetched {
        let date = day(*n);
        for (spec, answer) in ENDPOINTS.iter().zip(answers) {
            let Some(answer) = answer else { continue };
            let query: BTreeMap<String, String> = [("page", "1"), ("limit", "1000000")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into();
            let (status, body) = match answer {
                Answer::Rows => {
                    let request = bodies::Request {
                        key: spec.key,
                        date,
                        query: &query,
                        epoch: step as u64,
                        now: universe
                            .today
                            .and_hms_opt(12, 0, 0)
                            .map_or_else(chrono::Utc::now, |t| t.and_utc()),
                        base_url: "http://fake",
                        path: spec.path,
                        facebook_page_size: 1_000_000,
                        smartnews_page_size: 1_000_000,
                    };
                    let body =
                        bodies::render(universe, &request).expect("a body for every endpoint");
                    (200, body.body)
                }
                Answer::Failed => {
                    (502, b"<html><head><title>502 Bad Gateway</title></head></html>".to_vec())
                }
            };
            let envelope = Envelope::http(
                spec.key,
                date,
                &run_id,
                at(second),
                HttpExchange {
                    fetch_id: format!("{run_id}.{}.{date}", spec.key),
                    attempt: 1,
                    page: 1,
                    cursor: None,
                    method: "GET".into(),
                    url: format!(
                        "http://fake{}?dateStart={date}&dateEnd={date}&page=1&limit=1000000",
                        spec.path
                    ),
                    status: Some(status),
                    error: None,
                    headers: Default::default(),
                    duration_ms: 0,
                },
            );
            lake.put_exchange(envelope, Some(&body)).await.expect("put event");
            second += 1;
        }
    }
    if ingest.markers {
        lake.put_exchange(marker(RunPhase::Finished, 3599), None).await.expect("put finish");
    }
}

fn settings(db: &Path) -> Settings {
    let mut settings = adlake::config::load(&Default::default(), &|_| None).expect("settings");
    settings.db = db.to_owned();
    settings
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 6,
        max_shrink_time: 120_000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_sequence_of_ingests_and_window_projections_equals_one_full_projection(
        ingests in prop::collection::vec(ingest(), 1..=5)
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = Lake::open(dir.path().join("lake").to_str().expect("utf8")).expect("lake");
        let universe = Universe::new(11, CAMPAIGNS, day(DAYS - 1));
        let (incremental, full) = (dir.path().join("incremental.duckdb"), dir.path().join("full.duckdb"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            for (step, ingest) in ingests.iter().enumerate() {
                put(&lake, &universe, step, ingest).await;
                project_into(&settings(&incremental), &lake, ingest.window()).await.expect("window projection");
            }
            project_into(&settings(&full), &lake, None).await.expect("full projection");
        });
        prop_assert_eq!(meta_fingerprints(&incremental), meta_fingerprints(&full));
        prop_assert_eq!(table_fingerprints(&incremental), table_fingerprints(&full));
    }
}
