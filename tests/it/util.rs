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
        self.adlake_with(lake, self.db())
    }

    /// `adlake --lake <lake> --db <db>`, with the clean environment of `adlake()`.
    pub fn adlake_with(
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

    pub fn config(campaigns: usize) -> FakeConfig {
        FakeConfig::new(7, campaigns, today())
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
