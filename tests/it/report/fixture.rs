//! The report tests' databases: the fake upstream's bodies for chosen dates, fetched at chosen
//! hours, put straight into a lake with their `fetched_at` (so today and the days before have
//! intraday curves), then `adlake reproject`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use adlake::fake::bodies;
use adlake::fake::universe::Universe;
use adlake_raw::{Envelope, HttpExchange, Lake};
use adlake_replay::ENDPOINTS;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::util::*;

/// The fixtures' today: a fixed date, so the pages are the same on every run.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 11, 23).unwrap_or_default()
}

pub fn at(date: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&date.and_hms_opt(hour, minute, 0).unwrap_or_default())
}

/// One fetch of every endpoint for `date` at `when` (one page each), its bodies rendered by a
/// universe whose today is `upstream_today` at `when` (the upstream's view: a day still running
/// is the day so far), with restatement epoch `epoch`.
pub struct Fetch {
    pub date: NaiveDate,
    pub when: DateTime<Utc>,
    pub upstream_today: NaiveDate,
    pub epoch: u64,
    /// Endpoints that answer a gateway 502 instead.
    pub failing: &'static [&'static str],
}

/// A database built from `fetches` of a `campaigns`-campaign universe (seed 7).
pub struct Fixture {
    pub scratch: Scratch,
}

/// A scratch directory for a fixture shared by the tests of this run (a static, never
/// dropped): under the target directory, named by this process, and removed by the next run
/// once this process is gone.
pub fn shared_scratch(name: &str) -> Scratch {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-fixtures");
    std::fs::create_dir_all(&base).expect("fixtures dir");
    let me = std::process::id();
    for entry in std::fs::read_dir(&base).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| p != me && !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = tempfile::Builder::new()
        .prefix(&format!("{me}-{name}-"))
        .tempdir_in(&base)
        .expect("fixture dir");
    Scratch { dir }
}

impl Fixture {
    pub fn build(scratch: Scratch, campaigns: usize, fetches: &[Fetch]) -> Fixture {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            let lake = Lake::open(scratch.lake().to_str().expect("utf8")).expect("lake");
            for (n, f) in fetches.iter().enumerate() {
                put(&lake, campaigns, n, f).await;
            }
        });
        let out = run(scratch.adlake().arg("reproject"));
        expect_code(&out, 0);
        Fixture { scratch }
    }

    pub fn report(&self, out: &Path, extra: &[&str]) -> Output {
        let out = run(self.scratch.adlake().arg("report").arg("--out").arg(out).args(extra));
        expect_code(&out, 0);
        out
    }

    pub fn conn(&self) -> duckdb::Connection {
        let config = duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .expect("read-only config");
        duckdb::Connection::open_with_flags(self.scratch.db(), config).expect("open db")
    }
}

async fn put(lake: &Lake, campaigns: usize, n: usize, f: &Fetch) {
    let universe = Universe::new(7, campaigns, f.upstream_today);
    let run_id = format!("run-{n}");
    let query: BTreeMap<String, String> =
        [("page", "1"), ("limit", "1000000")].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
    for (i, spec) in ENDPOINTS.iter().enumerate() {
        let request = bodies::Request {
            key: spec.key,
            date: f.date,
            query: &query,
            epoch: f.epoch,
            now: f.when,
            base_url: "http://fake",
            path: spec.path,
            facebook_page_size: 1_000_000,
            smartnews_page_size: 1_000_000,
        };
        let (status, body) = if f.failing.contains(&spec.key) {
            (502, b"<html><head><title>502 Bad Gateway</title></head></html>".to_vec())
        } else {
            (200, bodies::render(&universe, &request).expect("a body for every endpoint").body)
        };
        let date = f.date;
        let envelope = Envelope::http(
            spec.key,
            date,
            &run_id,
            f.when + chrono::Duration::seconds(i as i64),
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
    }
}

/// Hourly-ish fetches of each of the `days` dates up to today at `hours` (today: those before
/// 14:05), each closed day fetched once more after midnight. Today is fetched at 13:58 and
/// again at 14:01 at the next restatement epoch, so some campaigns' numbers go down
/// (restated) and the as-of hour is 14:00; at 14:01 Taboola answers 502.
pub fn fetches(days: u32, hours: &[u32]) -> Vec<Fetch> {
    let mut out = Vec::new();
    for back in (0..days).rev() {
        let date = today() - chrono::Days::new(u64::from(back));
        for &hour in hours {
            if back == 0 && hour >= 14 {
                continue;
            }
            out.push(Fetch {
                date,
                when: at(date, hour, 20),
                upstream_today: date,
                epoch: 0,
                failing: &[],
            });
        }
        if back == 0 {
            out.push(Fetch {
                date,
                when: at(date, 13, 58),
                upstream_today: date,
                epoch: 0,
                failing: &[],
            });
            out.push(Fetch {
                date,
                when: at(date, 14, 1),
                upstream_today: date,
                epoch: 1,
                failing: &["taboola_report"],
            });
        } else {
            let next = date + chrono::Days::new(1);
            out.push(Fetch {
                date,
                when: at(next, 0, 40),
                upstream_today: today(),
                epoch: 0,
                failing: &[],
            });
        }
    }
    out
}

/// 4 campaigns, 8 days, snapshots at 08:20 and 20:20: the snapshot's database.
pub fn small() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::build(shared_scratch("small"), 4, &fetches(8, &[8, 20])))
}

/// 24 campaigns over 29 days (four weeks back), snapshots at 06:20, 10:20, 14:20 and 20:20.
pub fn month() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::build(shared_scratch("month"), 24, &fetches(29, &[6, 10, 14, 20])))
}
