//! An upstream that misbehaves: redirects to another origin, pagination that goes round in a
//! circle, report columns renamed by a release, an endpoint that fails and the fallback that
//! takes its place; and a `--db` that is no database. What the run says, what the lake keeps
//! and what the tables show, through the real binary against the fake over loopback.

use crate::util::*;

#[test]
fn a_database_path_that_is_no_duckdb_database_is_refused_before_any_work() {
    let fake = Fake::start(Fake::config(5));
    let d = days_ago(1).to_string();
    let cases: [(&str, Option<&[u8]>); 7] = [
        ("report.csv", None),
        ("report.json", None),
        ("report.parquet", None),
        ("export.csv", Some(b"campaign_id,spend_usd\nsi538x06gc,12.5\n")),
        ("export.json", Some(b"[{\"campaign_id\": \"si538x06gc\"}]\n")),
        ("export.parquet", Some(b"PAR1 not really parquet PAR1")),
        ("notes.txt", Some(b"remember to check taboola\n")),
    ];
    for (name, content) in cases {
        for command in ["ingest", "init"] {
            let s = Scratch::new();
            let path = s.path().join(name);
            if let Some(bytes) = content {
                std::fs::write(&path, bytes).expect("write");
            }
            let base = s.adlake_with(s.lake(), &path);
            let mut cmd = if command == "ingest" {
                let mut cmd = fake.ingest_with(base);
                cmd.args(["--date", &d, "--endpoints", "taboola_report"]);
                cmd
            } else {
                let mut cmd = base;
                cmd.arg("init");
                cmd
            };
            let out = run(&mut cmd);
            expect_code(&out, 2);
            assert!(
                out.stderr.contains(name) && out.stderr.contains("--db"),
                "{command} --db {name}: the error names neither the path nor what to do:\n{}",
                out.stderr
            );
            assert!(!s.lake().exists(), "{command} --db {name} wrote to the lake");
            match content {
                None => assert!(!path.exists(), "{command} --db {name} created it"),
                Some(bytes) => {
                    assert_eq!(std::fs::read(&path).expect("read"), bytes, "{name} changed")
                }
            }
            let mut wal = path.clone().into_os_string();
            wal.push(".wal");
            assert!(!std::path::Path::new(&wal).exists());
        }
    }
    let reports = fake.fake.requests().iter().filter(|r| r.endpoint.is_some()).count();
    assert_eq!(reports, 0, "nothing was fetched");
}
