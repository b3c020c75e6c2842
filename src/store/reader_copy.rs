//! The reader copy (`[db] reader_copy`): a second DuckDB file that BI tools open read-only
//! while `ingest` holds the database for writing. DuckDB lets one process write a file and
//! no other open it meanwhile, so a reader of the database itself waits for every ingest;
//! a reader of the copy never does.
//!
//! Invariants: the copy is replaced by a rename, so a reader opening it sees one complete,
//! checkpointed database (the one before or the one after an ingest), never a partial file;
//! it is taken while holding the database's write lock after a checkpoint, so it is a
//! consistent state with no write-ahead log to miss. A reader that has the old copy open
//! keeps reading it until it reopens.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::store::db::{self, Access, DbError};

/// Replaces `copy` with the current contents of the database at `path`.
pub fn refresh(path: &Path, copy: &Path, lock_wait: Duration) -> Result<u64, DbError> {
    let conn = db::open(path, Access::ReadWrite, lock_wait)?;
    conn.execute_batch("CHECKPOINT")
        .map_err(DbError::query("checkpoint before the reader copy"))?;
    let fail = |source| DbError::Install { path: copy.to_owned(), fresh: staged(copy), source };
    let tmp = staged(copy);
    if let Some(dir) = copy.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let copied = std::fs::copy(path, &tmp).map_err(fail)?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(fail)?;
    std::fs::rename(&tmp, copy).map_err(fail)?;
    let dir = copy.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
    drop(conn);
    Ok(copied)
}

/// `<copy>.tmp`: beside the copy, so the rename stays on one filesystem.
fn staged(copy: &Path) -> PathBuf {
    let mut name = copy.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}
