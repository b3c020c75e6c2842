//! The DuckDB file: opening it (waiting a bounded time if another process holds it) and
//! applying the embedded migrations.
//!
//! Only a DuckDB file is opened ([`check_path`]): DuckDB itself opens an existing CSV, JSON or
//! Parquet file as a view in an in-memory database, where every write is lost without an
//! error, and reads `name:path` as an extension to open `path` with.
//!
//! Migrations are `migrations/NNNN_name.sql`, compiled into the binary, applied in order, each
//! in its own transaction together with its `schema_migrations` row (version, name, sha256).
//! An applied migration whose text changed is an error, never a silent re-run.
//!
//! A full projection does not rewrite the database in place: it builds a fresh file beside it
//! and renames that over it once complete and closed ([`Target`]), holding the database's own
//! lock throughout. A process killed at any instant leaves the previous file untouched, whatever
//! DuckDB's recovery of an interrupted transaction would make of it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, ExponentialBuilder};
use duckdb::{params, Connection};
use sha2::{Digest, Sha256};

mod path;
pub use path::check_path;

pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub static MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_lineage_entries",
        sql: include_str!("../../migrations/0002_lineage_entries.sql"),
    },
    Migration {
        version: 3,
        name: "0003_session_lineage_runs",
        sql: include_str!("../../migrations/0003_session_lineage_runs.sql"),
    },
    Migration {
        version: 4,
        name: "0004_lineage_event_index",
        sql: include_str!("../../migrations/0004_lineage_event_index.sql"),
    },
    Migration {
        version: 5,
        name: "0005_lineage_shared_by_snapshots",
        sql: include_str!("../../migrations/0005_lineage_shared_by_snapshots.sql"),
    },
    Migration {
        version: 6,
        name: "0006_quarantine_rows",
        sql: include_str!("../../migrations/0006_quarantine_rows.sql"),
    },
    Migration {
        version: 7,
        name: "0007_intraday",
        sql: include_str!("../../migrations/0007_intraday.sql"),
    },
    Migration {
        version: 8,
        name: "0008_alerts",
        sql: include_str!("../../migrations/0008_alerts.sql"),
    },
];

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("`{}` is no DuckDB database: {reason}. Pass --db a DuckDB file (a new path such as ./data/monitoring.duckdb is created); nothing was changed", path.display())]
    NotADatabase { path: PathBuf, reason: String },

    #[error("database `{}` is locked by another process ({holder}); waited {waited_ms} ms. Retry when it finishes, or raise --lock-wait-ms", path.display())]
    Locked { path: PathBuf, holder: String, waited_ms: u64 },

    #[error("cannot open database `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: duckdb::Error,
    },

    #[error("cannot create the database directory `{}`", path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("migration {name} was changed after it was applied to `{}` (recorded sha256 {recorded}, now {current}); restore the file or start a new database", path.display())]
    MigrationChanged { path: PathBuf, name: String, recorded: String, current: String },

    #[error("database `{}` has migration {version}, which this adlake does not know; use a newer adlake", path.display())]
    MigrationUnknown { path: PathBuf, version: i32 },

    #[error("applying migration {name} failed")]
    Migrate {
        name: String,
        #[source]
        source: duckdb::Error,
    },

    #[error("cannot replace `{}` with its rebuilt copy `{}`; the previous database is unchanged", path.display(), fresh.display())]
    Install {
        path: PathBuf,
        fresh: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("value cannot be stored: {0}")]
    Value(String),

    #[error("database query failed: {context}")]
    Query {
        context: String,
        #[source]
        source: duckdb::Error,
    },
}

impl DbError {
    pub fn query(context: impl Into<String>) -> impl FnOnce(duckdb::Error) -> DbError {
        let context = context.into();
        move |source| DbError::Query { context, source }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// Opens `path`, retrying while another process holds its lock, for at most `lock_wait`:
/// after 25 ms, then twice as long each time up to 500 ms, the last wait cut to what is
/// left. Refuses what [`check_path`] refuses.
pub fn open(path: &Path, access: Access, lock_wait: Duration) -> Result<Connection, DbError> {
    check_path(path)?;
    if access == Access::ReadWrite {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Err(e) = std::fs::create_dir_all(parent) {
                return Err(DbError::Dir { path: parent.to_owned(), source: e });
            }
        }
    }
    let connect = || {
        let config = duckdb::Config::default().access_mode(match access {
            Access::ReadOnly => duckdb::AccessMode::ReadOnly,
            Access::ReadWrite => duckdb::AccessMode::ReadWrite,
        })?;
        Connection::open_with_flags(path, config)
    };
    let start = Instant::now();
    let schedule = ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(25))
        .with_max_delay(Duration::from_millis(500))
        .without_max_times();
    let opened = connect
        .retry(schedule)
        .sleep(move |wait: Duration| {
            std::thread::sleep(wait.min(lock_wait.saturating_sub(start.elapsed())))
        })
        .when(|e| is_lock_error(e) && start.elapsed() < lock_wait)
        .call();
    match opened {
        Ok(conn) => Ok(conn),
        Err(e) if is_lock_error(&e) => Err(DbError::Locked {
            path: path.to_owned(),
            holder: lock_holder(&e.to_string()),
            waited_ms: start.elapsed().as_millis() as u64,
        }),
        Err(source) => Err(DbError::Open { path: path.to_owned(), source }),
    }
}

fn is_lock_error(e: &duckdb::Error) -> bool {
    let text = e.to_string();
    text.contains("Could not set lock") || text.contains("Conflicting lock")
}

/// DuckDB says `Conflicting lock is held in /path/to/prog (PID 1234)`; keep the program and PID.
fn lock_holder(message: &str) -> String {
    message
        .split_once("Conflicting lock is held in ")
        .map(|(_, rest)| rest.split(". ").next().unwrap_or(rest).trim().to_owned())
        .unwrap_or_else(|| "unknown process".to_owned())
}

/// Where a projection writes. A window projection replaces its dates in the database itself,
/// in one transaction. A full projection writes a fresh file (`<db>.rebuild`) and
/// [`Target::install`]s it over the database, unless the database holds objects adlake does not
/// create (a user's views or tables), which only an in-place rebuild keeps.
pub enum Target {
    InPlace(Connection),
    /// Fields drop in this order: the fresh file is closed and removed before the lock goes.
    Fresh {
        fresh: Connection,
        fresh_path: Unfinished,
        /// The database, open read-write for its lock and not written to: no other process
        /// opens it (or the fresh file, which only its lock holder builds) until installed.
        old: Connection,
        path: PathBuf,
    },
}

/// A rebuild's file until it is installed: a rebuild dropped unfinished (an error part way)
/// removes it and its log rather than leave a second database's worth of disk behind.
pub struct Unfinished(Option<PathBuf>);

impl Unfinished {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(wal_path(&path));
            let _ = std::fs::remove_file(&path);
        }
    }
}

impl Target {
    /// The target of a full projection into `conn`, the migrated database at `path`.
    pub fn full(conn: Connection, path: &Path) -> Result<Target, DbError> {
        let foreign = foreign_objects(&conn)?;
        if !foreign.is_empty() {
            tracing::info!(objects = %foreign.join(", "), "the database holds objects adlake does not create: rebuilding in place to keep them");
            return Ok(Target::InPlace(conn));
        }
        // A write-ahead log beside the database would be replayed against the fresh file.
        conn.execute_batch("CHECKPOINT").map_err(DbError::query("checkpoint before a rebuild"))?;
        let fresh_path = rebuild_path(path);
        let install_error =
            |source| DbError::Install { path: path.to_owned(), fresh: fresh_path.clone(), source };
        // Left by a rebuild that was killed: nobody else can be writing it, as we hold the lock.
        for stale in [fresh_path.clone(), wal_path(&fresh_path)] {
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(install_error(e)),
                _ => {}
            }
        }
        let unfinished = Unfinished(Some(fresh_path.clone()));
        let mut fresh = open(&fresh_path, Access::ReadWrite, Duration::ZERO)?;
        migrate(&mut fresh, &fresh_path)?;
        Ok(Target::Fresh { fresh, fresh_path: unfinished, old: conn, path: path.to_owned() })
    }

    /// The connection rows are written through.
    pub fn connection(&mut self) -> &mut Connection {
        match self {
            Target::InPlace(conn) => conn,
            Target::Fresh { fresh, .. } => fresh,
        }
    }

    /// Puts a completed projection in place: for a fresh file, closes it (checkpointed, so it
    /// needs no log), syncs it and renames it over the database, then lets the database go.
    pub fn install(self) -> Result<(), DbError> {
        let Target::Fresh { fresh, fresh_path: mut unfinished, old, path } = self else {
            return Ok(());
        };
        let fresh_path = unfinished.path().to_owned();
        let install_error =
            |source| DbError::Install { path: path.clone(), fresh: fresh_path.clone(), source };
        fresh.close().map_err(|(_, source)| DbError::Query {
            context: format!("close `{}`", fresh_path.display()),
            source,
        })?;
        for log in [wal_path(&fresh_path), wal_path(&path)] {
            if log.exists() {
                let message = format!(
                    "`{}` exists: a write-ahead log must not outlive the rename",
                    log.display()
                );
                return Err(install_error(std::io::Error::other(message)));
            }
        }
        std::fs::File::open(&fresh_path).and_then(|f| f.sync_all()).map_err(install_error)?;
        std::fs::rename(&fresh_path, &path).map_err(install_error)?;
        unfinished.0 = None;
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(install_error)?;
        drop(old);
        Ok(())
    }
}

/// `<db>.rebuild`, beside the database so that the rename stays on one filesystem.
pub fn rebuild_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".rebuild");
    PathBuf::from(name)
}

fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".wal");
    PathBuf::from(name)
}

/// The main database's tables, views, macros, sequences, indexes and types, as "kind name".
fn objects(conn: &Connection) -> Result<BTreeSet<String>, DbError> {
    let sql = "SELECT 'table ' || table_name FROM duckdb_tables() WHERE database_name = current_database()
               UNION ALL SELECT 'view ' || view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database()
               UNION ALL SELECT 'macro ' || function_name FROM duckdb_functions() WHERE NOT internal AND database_name = current_database()
               UNION ALL SELECT 'sequence ' || sequence_name FROM duckdb_sequences() WHERE database_name = current_database()
               UNION ALL SELECT 'index ' || index_name FROM duckdb_indexes() WHERE database_name = current_database()
               UNION ALL SELECT 'type ' || type_name FROM duckdb_types() WHERE NOT internal AND database_name = current_database()";
    let mut stmt = conn.prepare(sql).map_err(DbError::query("list database objects"))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(DbError::query("list database objects"))?;
    rows.collect::<Result<_, _>>().map_err(DbError::query("list database objects"))
}

/// Objects in `conn` that the migrations do not create, sorted.
pub fn foreign_objects(conn: &Connection) -> Result<Vec<String>, DbError> {
    let mut reference =
        Connection::open_in_memory().map_err(DbError::query("open an in-memory database"))?;
    migrate(&mut reference, Path::new(":memory:"))?;
    let ours = objects(&reference)?;
    Ok(objects(conn)?.difference(&ours).cloned().collect())
}

pub fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Applies every pending migration; returns how many were applied.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<usize, DbError> {
    migrate_with(conn, path, MIGRATIONS)
}

pub fn migrate_with(
    conn: &mut Connection,
    path: &Path,
    migrations: &[Migration],
) -> Result<usize, DbError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)",
    )
    .map_err(DbError::query("create schema_migrations"))?;
    let applied: Vec<(i32, String, String)> = {
        let mut stmt = conn
            .prepare("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
            .map_err(DbError::query("read schema_migrations"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(DbError::query("read schema_migrations"))?;
        rows.collect::<Result<_, _>>().map_err(DbError::query("read schema_migrations"))?
    };
    for (version, name, recorded) in &applied {
        let Some(m) = migrations.iter().find(|m| m.version == *version) else {
            return Err(DbError::MigrationUnknown { path: path.to_owned(), version: *version });
        };
        let current = checksum(m.sql);
        if &current != recorded {
            return Err(DbError::MigrationChanged {
                path: path.to_owned(),
                name: name.clone(),
                recorded: recorded.clone(),
                current,
            });
        }
    }
    let mut count = 0;
    for m in migrations.iter().filter(|m| !applied.iter().any(|(v, _, _)| *v == m.version)) {
        let tx = conn
            .transaction()
            .map_err(|source| DbError::Migrate { name: m.name.into(), source })?;
        tx.execute_batch(m.sql)
            .map_err(|source| DbError::Migrate { name: m.name.into(), source })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
            params![m.version, m.name, checksum(m.sql)],
        )
        .map_err(|source| DbError::Migrate { name: m.name.into(), source })?;
        tx.commit().map_err(|source| DbError::Migrate { name: m.name.into(), source })?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_detect_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.duckdb");
        let mut conn = open(&path, Access::ReadWrite, Duration::ZERO).unwrap();
        assert_eq!(migrate(&mut conn, &path).unwrap(), MIGRATIONS.len());
        assert_eq!(migrate(&mut conn, &path).unwrap(), 0);
        let n: i64 =
            conn.query_row("SELECT count(*) FROM campaign_index", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 0);
        let edited = [Migration { version: 1, name: "0001_init", sql: "CREATE TABLE x (a INT);" }];
        let err = migrate_with(&mut conn, &path, &edited).unwrap_err();
        assert!(matches!(err, DbError::MigrationChanged { .. }), "{err}");
    }

    #[test]
    fn a_failing_migration_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.duckdb");
        let mut conn = open(&path, Access::ReadWrite, Duration::ZERO).unwrap();
        let bad = [Migration {
            version: 1,
            name: "0001_bad",
            sql: "CREATE TABLE ok (a INT); CREATE TABLE broken (",
        }];
        assert!(migrate_with(&mut conn, &path, &bad).is_err());
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 'ok'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }

    #[test]
    fn migration_4_keeps_lineage_pointing_at_its_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.duckdb");
        let mut conn = open(&path, Access::ReadWrite, Duration::ZERO).unwrap();
        migrate_with(&mut conn, &path, &MIGRATIONS[..3]).unwrap();
        // Three events of one date, inserted out of id order, and one of another date.
        let ids = [
            adlake_raw::EventId::from_bytes([0xff; 32]),
            adlake_raw::EventId::of(b"one"),
            adlake_raw::EventId::from_bytes([0x01; 32]),
        ];
        let other_day = adlake_raw::EventId::of(b"other day");
        for (id, date) in
            ids.iter().map(|id| (id, "2025-11-23")).chain([(&other_day, "2025-11-24")])
        {
            let hex = id.to_hex();
            conn.execute_batch(&format!(
                "INSERT INTO raw_events (event_id, kind, source, date, run_id, fetched_at, body_sha256) VALUES ('{hex}', 'http', 's1_daily_v3', DATE '{date}', 'r', TIMESTAMP '2025-11-25 00:00:00', 'b{hex}');
                 INSERT INTO lineage_entries VALUES (DATE '{date}', 7, 'row-{hex}', '{hex}', '/data/0', NULL);
                 INSERT INTO session_lineage VALUES (DATE '{date}', 8, 'c-{hex}', 3, 4, '{hex}', '/data', 10);"
            ))
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO lineage_sources VALUES (7, 'campaign_index', 'campaign', 'revenue_usd', 's1_daily_v3', true), (8, 'session_hourly_metrics', 'session', 'sessions', 's1_hourly_v3', true)",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn, &path).unwrap(), MIGRATIONS.len() - 3);
        let mut by_id = ids;
        by_id.sort();
        for (place, id) in by_id.iter().enumerate() {
            let hex = id.to_hex();
            let index: i32 = conn
                .query_row(
                    "SELECT event_index FROM lineage_entries WHERE row_key = ?",
                    [format!("row-{hex}")],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(
                index as usize, place,
                "the place among the date's events by id, as the projector numbers them"
            );
        }
        for id in ids.iter().chain([&other_day]) {
            let hex = id.to_hex();
            let rows: i64 = conn
                .query_row(
                    "SELECT count(*) FROM lineage WHERE event_id = ? AND body_sha256 = ?",
                    [hex.clone(), format!("b{hex}")],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(rows, 3, "one campaign entry and two session hours name {hex}");
        }
    }

    /// A migrated database whose `projection_meta` records `version`, in a directory of its own.
    fn database_with_version(version: &str) -> (tempfile::TempDir, PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.duckdb");
        let mut conn = open(&path, Access::ReadWrite, Duration::ZERO).unwrap();
        migrate(&mut conn, &path).unwrap();
        conn.execute("INSERT INTO projection_meta VALUES ('projector_version', ?)", [version])
            .unwrap();
        (dir, path, conn)
    }

    fn version_in(path: &Path) -> String {
        let conn = open(path, Access::ReadOnly, Duration::ZERO).unwrap();
        conn.query_row("SELECT value FROM projection_meta", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_fresh_target_clears_what_a_killed_rebuild_left_and_replaces_the_file_on_install() {
        let (_dir, path, conn) = database_with_version("old");
        let stale = rebuild_path(&path);
        std::fs::write(&stale, b"half a database").unwrap();
        std::fs::write(wal_path(&stale), b"its log").unwrap();

        // Opening "half a database", or replaying its log, would fail.
        let mut target = Target::full(conn, &path).unwrap();
        assert_ne!(std::fs::read(wal_path(&stale)).unwrap_or_default(), b"its log");
        let rows: i64 = target
            .connection()
            .query_row("SELECT count(*) FROM projection_meta", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 0, "the fresh file starts empty");
        target
            .connection()
            .execute_batch("INSERT INTO projection_meta VALUES ('projector_version', 'new')")
            .unwrap();
        target.install().unwrap();

        assert!(!stale.exists());
        assert!(!wal_path(&path).exists());
        assert_eq!(version_in(&path), "new");
    }

    #[test]
    fn a_rebuild_dropped_unfinished_removes_its_file_and_leaves_the_database() {
        let (_dir, path, conn) = database_with_version("old");
        let mut target = Target::full(conn, &path).unwrap();
        target
            .connection()
            .execute_batch("INSERT INTO projection_meta VALUES ('projector_version', 'new')")
            .unwrap();
        assert!(rebuild_path(&path).exists());
        drop(target);
        assert!(!rebuild_path(&path).exists());
        assert!(!wal_path(&rebuild_path(&path)).exists());
        assert_eq!(version_in(&path), "old");
    }

    #[test]
    fn objects_the_migrations_do_not_create_are_foreign_and_keep_the_rebuild_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.duckdb");
        let mut conn = open(&path, Access::ReadWrite, Duration::ZERO).unwrap();
        migrate(&mut conn, &path).unwrap();
        assert_eq!(foreign_objects(&conn).unwrap(), Vec::<String>::new());
        conn.execute_batch("CREATE TABLE notes (a INT); CREATE VIEW roas_by_owner AS SELECT owner FROM campaign_index; CREATE TYPE mood AS ENUM ('up', 'down')").unwrap();
        assert_eq!(
            foreign_objects(&conn).unwrap(),
            vec![
                "table notes".to_string(),
                "type mood".to_string(),
                "view roas_by_owner".to_string()
            ]
        );
        let target = Target::full(conn, &path).unwrap();
        assert!(matches!(target, Target::InPlace(_)));
        assert!(!rebuild_path(&path).exists());
    }

    #[test]
    fn parses_the_lock_holder() {
        let msg = "IO Error: Could not set lock on file \"/x.duckdb\": Conflicting lock is held in /usr/bin/adlake (PID 4242). See also https://duckdb.org/docs";
        assert_eq!(lock_holder(msg), "/usr/bin/adlake (PID 4242)");
    }
}
