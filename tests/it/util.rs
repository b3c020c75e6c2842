//! The harness: a scratch directory per test, a command builder for the real binary with a
//! clean environment, an in-process fake upstream, and assertions that show what went wrong.

use std::path::{Path, PathBuf};
use std::process::Command;

use adlake::fake::{FakeConfig, FakeUpstream};
use chrono::{NaiveDate, Utc};

pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().expect("tempdir") }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn lake(&self) -> PathBuf {
        self.path().join("lake")
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("monitoring.duckdb")
    }

    /// `adlake --lake <scratch>/lake --db <scratch>/db ...`, with no ADLAKE_/STRATEGIS_/AWS_
    /// variables inherited from the developer's shell.
    pub fn adlake(&self) -> Command {
        self.adlake_with_lake(self.lake())
    }

    /// Like `adlake()`, but without `--lake`, for tests that pass their own.
    pub fn adlake_with_lake(&self, lake: impl AsRef<std::ffi::OsStr>) -> Command {
        self.adlake_at(lake, self.db())
    }

    /// `adlake --lake <lake> --db <db> ...`: another database beside the scratch one (a
    /// fresh rebuild to compare with), with the same clean environment as `adlake()`.
    pub fn adlake_at(
        &self,
        lake: impl AsRef<std::ffi::OsStr>,
        db: impl AsRef<std::ffi::OsStr>,
    ) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_adlake"));
        for (k, _) in std::env::vars() {
            if k.starts_with("ADLAKE_")
                || k.starts_with("STRATEGIS_")
                || k.starts_with("AWS_")
                || k == "RUST_LOG"
            {
                cmd.env_remove(k);
            }
        }
        cmd.arg("--lake").arg(lake).arg("--db").arg(db);
        cmd
    }
}

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", self.stdout_text(), self.stderr)
        })
    }
}

pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn adlake");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[track_caller]
pub fn expect_code(out: &Output, code: i32) {
    assert_eq!(
        out.code,
        code,
        "exit code {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
        out.code,
        out.stdout_text(),
        out.stderr
    );
}

pub fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub fn noon_today() -> chrono::DateTime<Utc> {
    today().and_hms_opt(12, 0, 0).map(|t| t.and_utc()).unwrap_or_else(Utc::now)
}

pub fn days_ago(n: u64) -> NaiveDate {
    today() - chrono::Days::new(n)
}

pub const EMAIL: &str = "buyer-bot@adlake.test";
pub const PASSWORD: &str = "pw-Zq8sV1xK-never-stored";

/// A fake upstream served from its own runtime threads while the test drives the binary.
pub struct Fake {
    pub fake: FakeUpstream,
    pub rt: tokio::runtime::Runtime,
}

impl Fake {
    pub fn start(mut config: FakeConfig) -> Fake {
        config.email = EMAIL.into();
        config.password = PASSWORD.into();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let fake = rt.block_on(FakeUpstream::start(config, "127.0.0.1:0")).expect("fake upstream");
        Fake { fake, rt }
    }

    /// A fake whose clock stands at noon today: today's reports say half a day, whenever
    /// the test runs.
    pub fn config(campaigns: usize) -> FakeConfig {
        let mut config = FakeConfig::new(7, campaigns, today());
        config.now = Some(noon_today());
        config
    }

    /// `ingest` against this fake with fast retries.
    pub fn ingest(&self, scratch: &Scratch) -> Command {
        self.ingest_with(scratch.adlake())
    }

    /// `cmd ingest` against this fake with fast retries.
    pub fn ingest_with(&self, mut cmd: Command) -> Command {
        cmd.arg("ingest")
            .env("ADLAKE_UPSTREAM_URL", self.fake.url())
            .env("STRATEGIS_EMAIL", EMAIL)
            .env("STRATEGIS_PASSWORD", PASSWORD)
            .env("ADLAKE_RETRY_BASE_MS", "5")
            .env("ADLAKE_MAX_WAIT_MS", "40")
            .env("ADLAKE_HTTP_TIMEOUT_MS", "3000")
            .env("ADLAKE_RPS", "2000");
        cmd
    }
}

/// Every file under `dir`, with `.zst` files decompressed (the lake's bodies).
pub fn lake_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let bytes = if path.extension().is_some_and(|e| e == "zst") {
                    zstd::stream::decode_all(&bytes[..]).unwrap_or(bytes)
                } else {
                    bytes
                };
                out.push((path, bytes));
            }
        }
    }
    out.sort();
    out
}

#[track_caller]
pub fn assert_absent(haystack_name: &str, haystack: &[u8], secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !haystack.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "secret {secret:?} found in {haystack_name}"
        );
    }
}

/// Files under `dir` ending in `.ext` (names only: polling loops call this often).
pub fn count_files(dir: &Path, ext: &str) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                count += 1;
            }
        }
    }
    count
}

/// A second HTTP origin on loopback, `http://localhost:<port>` (the fake is on `127.0.0.1`):
/// where a redirect to another origin leads. It records every connection made to it, with
/// whatever the client sent, and answers 404.
pub struct OtherOrigin {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OtherOrigin {
    pub fn start() -> OtherOrigin {
        use std::io::{ErrorKind, Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the other origin");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen_by_thread, stop_thread) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop_thread.load(Ordering::SeqCst) {
                let mut stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => continue,
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(300)));
                let mut received = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(n) = stream.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    received.extend_from_slice(&chunk[..n]);
                }
                seen_by_thread.lock().expect("lock").push(received);
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        OtherOrigin { port, seen, stop, thread: Some(thread) }
    }

    /// `http://localhost:<port>`: another origin than the fake's `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://localhost:{}", self.port)
    }

    pub fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// Everything each connection sent, one entry per connection.
    pub fn connections(&self) -> Vec<Vec<u8>> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for OtherOrigin {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Every table of the database at `db` as text (nothing when there is no database).
pub fn database_text(db: &Path) -> Vec<u8> {
    if !db.exists() {
        return Vec::new();
    }
    let conn = duckdb::Connection::open(db).expect("open db");
    let tables: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT table_name FROM duckdb_tables() ORDER BY table_name")
            .expect("tables");
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).expect("tables");
        rows.collect::<Result<_, _>>().expect("tables")
    };
    let mut out = Vec::new();
    for t in tables {
        // A row read as its struct: `{'column': value, ...}`.
        let mut stmt =
            conn.prepare(&format!("SELECT CAST(t AS VARCHAR) FROM \"{t}\" AS t")).expect("select");
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).expect("rows");
        for row in rows.flatten() {
            out.extend_from_slice(row.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// A webhook receiver on loopback: answers its requests with the statuses of `script` in
/// turn (then 200), and keeps each request's body.
pub struct Receiver {
    port: u16,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    pub fn start(script: Vec<u16>) -> Receiver {
        Receiver::on(std::net::TcpListener::bind("127.0.0.1:0").expect("bind the receiver"), script)
    }

    /// A receiver on `port` (one that an earlier receiver, now gone, had).
    pub fn start_on(port: u16, script: Vec<u16>) -> Receiver {
        Receiver::on(std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind again"), script)
    }

    fn on(listener: std::net::TcpListener, script: Vec<u16>) -> Receiver {
        use std::io::{ErrorKind, Read, Write};
        use std::sync::atomic::Ordering;
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (seen, stopping) = (bodies.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut answered = 0usize;
            while !stopping.load(Ordering::SeqCst) {
                let mut stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => continue,
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let mut data = Vec::new();
                let mut chunk = [0u8; 4096];
                let mut wanted = None;
                while let Ok(n) = stream.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    data.extend_from_slice(&chunk[..n]);
                    if wanted.is_none() {
                        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            wanted = Some(end + 4 + length);
                        }
                    }
                    if wanted.is_some_and(|w| data.len() >= w) {
                        break;
                    }
                }
                let body = data
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .map(|end| String::from_utf8_lossy(&data[end + 4..]).into_owned())
                    .unwrap_or_default();
                seen.lock().expect("lock").push(body);
                let status = script.get(answered).copied().unwrap_or(200);
                answered += 1;
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                    .as_bytes(),
                );
            }
        });
        Receiver { port, bodies, stop, thread: Some(thread) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request's body, in order.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A bucket of its own on the S3-compatible server `ADLAKE_TEST_S3_ENDPOINT` names (`.ci/run`
/// starts moto), and the `AWS_*` variables that reach it. `None` (the test says it skipped)
/// without that variable, except under `CI=true`, where the test fails.
pub struct S3 {
    pub endpoint: String,
    pub bucket: String,
}

impl S3 {
    pub fn bucket(test: &str) -> Option<S3> {
        let Ok(endpoint) = std::env::var("ADLAKE_TEST_S3_ENDPOINT") else {
            assert!(
                std::env::var("CI").is_err(),
                "CI must provide ADLAKE_TEST_S3_ENDPOINT (see .ci/run)"
            );
            eprintln!("SKIPPED {test}: set ADLAKE_TEST_S3_ENDPOINT to an S3-compatible server (.ci/run starts moto)");
            return None;
        };
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let bucket = format!("adlake-it-{}-{n}", std::process::id());
        let created = Command::new("curl")
            .args(["-sf", "-X", "PUT", &format!("{endpoint}/{bucket}")])
            .status()
            .expect("curl");
        assert!(created.success(), "cannot create bucket {bucket} at {endpoint}");
        Some(S3 { endpoint, bucket })
    }

    /// `s3://<bucket>/<prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// `cmd` with the `AWS_*` variables for this server.
    pub fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("AWS_ENDPOINT", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
    }

    /// The bucket as an object store, under `prefix`.
    pub fn store(&self, prefix: &str) -> std::sync::Arc<dyn object_store::ObjectStore> {
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_bucket_name(&self.bucket)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .expect("s3 store");
        std::sync::Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
    }

    /// Every object under `prefix`, copied into the directory `to` under the same names.
    pub fn download(&self, prefix: &str, to: &Path) -> usize {
        use futures::TryStreamExt;
        let store = self.store(prefix);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            let metas: Vec<_> = store.list(None).try_collect().await.expect("list");
            for meta in &metas {
                let bytes =
                    store.get(&meta.location).await.expect("get").bytes().await.expect("read");
                let path = to.join(meta.location.as_ref());
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(&path, &bytes).expect("write");
            }
            metas.len()
        })
    }
}

/// The rows of `tables` in the database at `db`, each row as text, sorted; `except` columns
/// left out (those that say when something ran, not what it found).
pub fn tables_text(db: &Path, tables: &[&str], except: &[&str]) -> Vec<String> {
    let conn = duckdb::Connection::open_with_flags(
        db,
        duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly).expect("config"),
    )
    .expect("open db");
    let mut out = Vec::new();
    for t in tables {
        let exclude = {
            let mut stmt = conn
                .prepare("SELECT column_name FROM information_schema.columns WHERE table_name = ?")
                .expect("columns");
            let cols: Vec<String> =
                stmt.query_map([t], |r| r.get(0)).expect("columns").flatten().collect();
            let gone: Vec<String> = except
                .iter()
                .filter(|c| cols.iter().any(|x| x == *c))
                .map(|c| format!("\"{c}\""))
                .collect();
            if gone.is_empty() {
                String::new()
            } else {
                format!(" EXCLUDE ({})", gone.join(", "))
            }
        };
        let sql =
            format!("SELECT '{t} ' || CAST(r AS VARCHAR) FROM (SELECT *{exclude} FROM \"{t}\") AS r ORDER BY 1");
        let mut stmt = conn.prepare(&sql).expect("select");
        out.extend(stmt.query_map([], |r| r.get::<_, String>(0)).expect("rows").flatten());
    }
    out
}
