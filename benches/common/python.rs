//! The baselines that run in DuckDB's own Python package (`benches/baselines/*.py`, run with
//! `python3`; `pip install duckdb`). Each script measures its own CPU time around the work
//! alone and prints one JSON object as its last line of stdout. A missing `python3` or
//! `duckdb` module, or a failing script, skips that baseline with the reason: it never fails
//! the bench, and never stands in as a number.

use std::ffi::OsStr;
use std::process::Command;

use serde_json::Value;

use super::cpu::Sample;

/// Baseline (b): DuckDB's `read_json` of the same bodies, and the join.
pub const READ_JSON: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/benches/baselines/duckdb_read_json.py");
/// DuckDB storing the projection's output: the cost of storage alone.
pub const STORE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/baselines/duckdb_store.py");

/// The `duckdb` module's version, or why the Python baselines cannot run.
pub fn duckdb_version() -> Result<String, String> {
    let out = Command::new("python3")
        .args(["-c", "import duckdb; print(duckdb.__version__)"])
        .output()
        .map_err(|e| format!("`python3` cannot be run ({e})"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err("the Python module `duckdb` is missing (pip install duckdb)".into())
    }
}

/// Runs `script` with `args`; its last JSON line, or why there is none.
pub fn run(script: &str, args: &[&OsStr]) -> Result<Value, String> {
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| format!("`python3 {script}` cannot be run ({e})"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(format!("`{script}` failed: {last}"));
    }
    let last = stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_default();
    serde_json::from_str(last).map_err(|_| format!("`{script}` printed no JSON result line"))
}

/// The sample in a script's result (`mb`, `wall_s`, `cpu_s`), with `mb` given by the caller
/// when the script processes another bench's input.
pub fn sample(result: &Value, mb: Option<f64>) -> Result<Sample, String> {
    let field = |name: &str| {
        result.get(name).and_then(Value::as_f64).ok_or_else(|| format!("result has no `{name}`"))
    };
    Ok(Sample {
        mb: match mb {
            Some(mb) => mb,
            None => field("mb")?,
        },
        wall_s: field("wall_s")?,
        cpu_s: field("cpu_s")?,
    })
}
