//! Which paths are a DuckDB database: DuckDB itself opens an existing CSV, JSON or Parquet
//! file as a view in an in-memory database, where every write is lost without an error, and
//! reads `name:path` as "open `path` with extension `name`". [`check_path`] refuses such
//! paths before anything is written anywhere.
//!
//! Invariants: reads at most the first 12 bytes of an existing file and never writes; a path
//! that does not exist yet and does not look like a report file is accepted.

use std::path::Path;

use super::DbError;

/// File formats DuckDB opens as a read-only view in an in-memory database instead of as a
/// database file, when a file of that name exists and is not a DuckDB file (DuckDB's
/// `DBPathAndType::CheckMagicBytes`). Also with `.gz` or `.zst` after them.
const FILE_FORMATS: [&str; 6] = ["parquet", "csv", "tsv", "json", "jsonl", "ndjson"];

/// The bytes at offset 8 of every DuckDB database file.
const DUCKDB_MAGIC: &[u8; 4] = b"DUCK";

/// Refuses a path that DuckDB would not open as a database file, before anything is written
/// anywhere: the in-memory database (`:memory:`, an empty path), a `name:` prefix (DuckDB
/// loads extension `name` to open the rest), a name ending in a file format DuckDB opens as a
/// view (`.csv`, `.json`, `.parquet`...: whether it exists or not, it is a report, not the
/// database), a directory, and an existing file that is not a DuckDB database. A path that
/// does not exist yet is fine: DuckDB creates the database there.
pub fn check_path(path: &Path) -> Result<(), DbError> {
    let refuse = |reason: String| Err(DbError::NotADatabase { path: path.to_owned(), reason });
    let text = path.to_string_lossy();
    if text.is_empty() || text.starts_with(":memory:") {
        return refuse(
            "it names DuckDB's in-memory database, which loses every write when the command ends"
                .into(),
        );
    }
    if let Some(prefix) = extension_prefix(&text) {
        return refuse(format!(
            "DuckDB reads `{prefix}:` as an extension to open the rest of the path with (write ./{text} for a file of that name)"
        ));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase());
    let name = name.unwrap_or_default();
    let uncompressed = name.strip_suffix(".gz").or_else(|| name.strip_suffix(".zst"));
    let uncompressed = uncompressed.unwrap_or(&name);
    if let Some(format) = FILE_FORMATS.iter().find(|f| {
        uncompressed.strip_suffix(**f).is_some_and(|stem| stem.ends_with('.') && stem.len() > 1)
    }) {
        return refuse(format!(
            "`.{format}` names a {} file, which DuckDB opens as a read-only view in memory where every write is lost",
            format.to_ascii_uppercase()
        ));
    }
    let mut head = [0u8; 12];
    let read = std::fs::File::open(path).and_then(|mut f| {
        use std::io::Read;
        let mut filled = 0;
        while filled < head.len() {
            match f.read(&mut head[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(filled)
    });
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // A directory, or a file we may not read: DuckDB's own error says it better, except
        // for a directory, which it may report as a missing database.
        Err(_) if path.is_dir() => refuse("it is a directory".into()),
        Err(_) => Ok(()),
        Ok(_) if path.is_dir() => refuse("it is a directory".into()),
        Ok(0) => refuse("it is an empty file".into()),
        Ok(n) if n == head.len() && &head[8..12] == DUCKDB_MAGIC => Ok(()),
        Ok(_) => refuse("the file exists and holds something else".into()),
    }
}

/// DuckDB's reading of `name:rest` as "open `rest` with extension `name`" (its
/// `ExtractExtensionPrefixFromPath`): two or more letters, digits or `_` before the first
/// `:`, which does not start `://`.
fn extension_prefix(path: &str) -> Option<&str> {
    let (prefix, rest) = path.split_once(':')?;
    let named = prefix.len() >= 2 && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (named && !rest.starts_with("//")).then_some(prefix)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::db::{open, Access};

    #[test]
    fn only_a_duckdb_file_or_a_new_path_is_a_database() {
        let dir = tempfile::tempdir().unwrap();
        let refused = |name: &str| {
            matches!(check_path(&dir.path().join(name)), Err(DbError::NotADatabase { .. }))
        };
        let existing = dir.path().join("m.duckdb");
        drop(open(&existing, Access::ReadWrite, Duration::ZERO).unwrap());
        assert!(check_path(&existing).is_ok());
        assert!(check_path(&dir.path().join("new.duckdb")).is_ok());
        assert!(check_path(&dir.path().join("monitoring")).is_ok());
        for name in [
            "report.csv",
            "r.CSV",
            "r.tsv",
            "r.json",
            "r.jsonl",
            "r.ndjson",
            "r.parquet",
            "r.csv.gz",
            "r.json.zst",
        ] {
            assert!(refused(name), "{name}");
        }
        for (name, bytes) in [
            ("notes.txt", &b"remember the milk"[..]),
            ("empty.duckdb", b""),
            ("sqlite.db", b"SQLite format 3\0 and more bytes"),
            ("short.duckdb", b"DUCK"),
        ] {
            std::fs::write(dir.path().join(name), bytes).unwrap();
            assert!(refused(name), "{name}");
        }
        std::fs::create_dir(dir.path().join("folder")).unwrap();
        assert!(refused("folder"));
        for path in [":memory:", "", "md:monitoring", "data:x.duckdb"] {
            assert!(check_path(Path::new(path)).is_err(), "{path}");
        }
        assert!(check_path(Path::new("./data:x.duckdb")).is_ok());
        assert!(check_path(Path::new("/tmp/a:b/x.duckdb")).is_ok());
        // Refused before DuckDB sees it: the file is left as it was.
        let csv = dir.path().join("export.csv");
        std::fs::write(&csv, "a,b\n1,2\n").unwrap();
        assert!(open(&csv, Access::ReadWrite, Duration::ZERO).is_err());
        assert_eq!(std::fs::read(&csv).unwrap(), b"a,b\n1,2\n");
    }
}
