//! The report in headless Chromium (Debian's `chromium`) with networking disabled: it loads
//! with no console message, its script runs to the end, every block is there and the tiles
//! show the database's numbers; a screenshot is left for people to look at.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::fixture::{month, today};
use super::{attr, four, one_f64, totals};

/// `chromium` on PATH, or `None` (the caller skips, except under CI=true).
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("chromium")).find(|p| p.is_file())
}

/// Where tests leave files for people to look at: $ADLAKE_TEST_ARTIFACTS, or the target
/// directory's tmp/test-artifacts.
fn artifacts() -> PathBuf {
    let dir = std::env::var_os("ADLAKE_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-artifacts"));
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// Runs headless Chromium with networking disabled on `page`, with `extra` arguments; gives up
/// after two minutes.
fn headless(chromium: &Path, page: &Path, extra: &[String]) -> (String, String) {
    let profile = tempfile::tempdir().expect("profile");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start chromium");
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = std::io::Read::read_to_string(o, &mut s);
        }
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut s);
        }
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (out.join().unwrap_or_default(), err.join().unwrap_or_default())
}

#[test]
fn the_page_loads_offline_in_headless_chromium_with_every_block_and_no_console_error() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not on PATH (.ci/run installs it)"
        );
        eprintln!("skipped: chromium is not on PATH (apt-get install chromium)");
        return;
    };
    let f = month();
    let page = f.scratch.path().join("chromium.html");
    f.report(&page, &[]);
    let html = std::fs::read_to_string(&page).expect("page");
    for external in ["http://", "https://", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(external), "the page refers to something outside it: {external}");
    }
    let (dom, stderr) = headless(&chromium, &page, &["--dump-dom".to_owned()]);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages:\n{}", console.join("\n"));
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script did not run to its end:\n{stderr}"
    );
    for block in
        ["trust", "kpis", "curve", "leaderboard", "heatmaps", "trends", "haircut", "health"]
    {
        assert!(dom.contains(&format!("<section id=\"{block}\"")), "block {block} missing");
    }
    let conn = f.conn();
    let d = today();
    let now = totals(&conn, d, &format!("TIMESTAMP '{d} 23:59:59'"));
    assert_eq!(attr(&dom, "id=\"kpi-spend\"", "data-v"), Some(four(now[0])), "spend in the DOM");
    assert_eq!(attr(&dom, "id=\"kpi-revenue\"", "data-v"), Some(four(now[1])));
    let spend = one_f64(&conn, &format!("SELECT CAST(sum(spend_usd) AS DOUBLE) FROM campaign_intraday WHERE date = DATE '{d}' AND as_of_hour = TIMESTAMP '{d} 14:00:00'"));
    assert!(
        dom.contains(&adlake::report::fmt::usd2(spend)),
        "the spend tile does not print {}",
        adlake::report::fmt::usd2(spend)
    );
    let shot = artifacts().join("report.png");
    let _ = std::fs::remove_file(&shot);
    let (_, stderr) = headless(
        &chromium,
        &page,
        &[format!("--screenshot={}", shot.display()), "--window-size=1400,4000".to_owned()],
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot ({e}):\n{stderr}"));
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot {} bytes", png.len());
    eprintln!("screenshot: {}", shot.display());
}
