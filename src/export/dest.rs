//! Where an export's files go: a local directory or an `s3://bucket/prefix` (through
//! `object_store`, with the usual `AWS_*` variables). DuckDB writes each file to a local
//! staging path first; [`Dest::install`] then puts it under its final name in one step.
//!
//! Invariants: a file is visible under its final name complete or not at all. On S3 a put is
//! atomic. On local disk the staged file lives in `<root>/_adlake_staging/` (same filesystem,
//! outside every table's directory, a name Hive-style readers skip) and is synced, then
//! renamed over the final name, and the directory is synced. A killed export leaves at most
//! staged files there; a later export removes those older than [`STALE_STAGING`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload};

use super::ExportError;

/// The local staging directory's name under an export's root.
pub const STAGING_DIR: &str = "_adlake_staging";
/// Staged files older than this are left by a killed export (a live one renames its files
/// within seconds) and are removed by the next export to the same directory.
const STALE_STAGING: Duration = Duration::from_secs(3600);

pub enum Dest {
    Local {
        root: PathBuf,
        staging: PathBuf,
    },
    Remote {
        store: Arc<dyn ObjectStore>,
        url: String,
        /// Local files DuckDB writes before each is put.
        staging: tempfile::TempDir,
    },
}

static STAGED: AtomicU64 = AtomicU64::new(0);

impl Dest {
    /// Opens the destination of `url`: `s3://bucket/prefix`, `file:///path` or a plain path
    /// (created when missing).
    pub fn open(url: &str) -> Result<Dest, ExportError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(ExportError::BadUrl { url: url.to_owned() });
            }
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|source| ExportError::Store { key: url.to_owned(), source })?;
            let prefix = prefix.trim_matches('/');
            let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            };
            let staging = tempfile::Builder::new()
                .prefix("adlake-export-")
                .tempdir()
                .map_err(|source| ExportError::Io { path: std::env::temp_dir(), source })?;
            return Ok(Dest::Remote { store, url: url.to_owned(), staging });
        }
        let path = match url.strip_prefix("file://") {
            Some(p) => p,
            None if url.contains("://") || url.is_empty() => {
                return Err(ExportError::BadUrl { url: url.to_owned() })
            }
            None => url,
        };
        let root = PathBuf::from(path);
        let staging = root.join(STAGING_DIR);
        std::fs::create_dir_all(&staging)
            .map_err(|source| ExportError::Io { path: staging.clone(), source })?;
        remove_stale_staged(&staging);
        Ok(Dest::Local { root, staging })
    }

    /// A fresh local path for DuckDB to write the file that will be `rel`.
    pub fn staging_file(&self, rel: &str) -> PathBuf {
        let n = STAGED.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}.{}.{n}.tmp", rel.replace('/', "."), std::process::id());
        match self {
            Dest::Local { staging, .. } => staging.join(name),
            Dest::Remote { staging, .. } => staging.path().join(name),
        }
    }

    /// Puts the staged file under `rel` (replacing what was there) and removes it from the
    /// staging place. Returns its size.
    pub async fn install(&self, rel: &str, staged: &Path) -> Result<u64, ExportError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| ExportError::Io { path, source }
        };
        match self {
            Dest::Local { root, .. } => {
                let target = root.join(rel);
                let parent = target.parent().unwrap_or(root);
                std::fs::create_dir_all(parent).map_err(io(parent))?;
                let file = std::fs::File::open(staged).map_err(io(staged))?;
                file.sync_all().map_err(io(staged))?;
                let size = file.metadata().map_err(io(staged))?.len();
                std::fs::rename(staged, &target).map_err(io(&target))?;
                sync_dir(parent)?;
                Ok(size)
            }
            Dest::Remote { store, .. } => {
                let bytes = std::fs::read(staged).map_err(io(staged))?;
                let size = bytes.len() as u64;
                let key = StorePath::from(rel);
                store
                    .put(&key, PutPayload::from(bytes))
                    .await
                    .map_err(|source| ExportError::Store { key: rel.to_owned(), source })?;
                std::fs::remove_file(staged).map_err(io(staged))?;
                Ok(size)
            }
        }
    }

    /// The partition directories (`date=YYYY-MM-DD`) under `table`, by name.
    pub async fn partitions(&self, table: &str) -> Result<BTreeSet<String>, ExportError> {
        match self {
            Dest::Local { root, .. } => {
                let dir = root.join(table);
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Ok(BTreeSet::new())
                    }
                    Err(source) => return Err(ExportError::Io { path: dir, source }),
                };
                let mut out = BTreeSet::new();
                for entry in entries {
                    let entry =
                        entry.map_err(|source| ExportError::Io { path: dir.clone(), source })?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with("date=") && entry.path().is_dir() {
                        out.insert(name);
                    }
                }
                Ok(out)
            }
            Dest::Remote { store, .. } => {
                let prefix = StorePath::from(table);
                let listed = store
                    .list_with_delimiter(Some(&prefix))
                    .await
                    .map_err(|source| ExportError::Store { key: table.to_owned(), source })?;
                Ok(listed
                    .common_prefixes
                    .iter()
                    .filter_map(|p| p.filename().map(str::to_owned))
                    .filter(|name| name.starts_with("date="))
                    .collect())
            }
        }
    }

    /// Removes every file under the partition directory `rel` (`table/date=...`), and the
    /// directory itself on local disk.
    pub async fn remove_partition(&self, rel: &str) -> Result<(), ExportError> {
        match self {
            Dest::Local { root, .. } => {
                let dir = root.join(rel);
                match std::fs::remove_dir_all(&dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(ExportError::Io { path: dir, source: e })
                    }
                    _ => Ok(()),
                }
            }
            Dest::Remote { store, .. } => {
                let prefix = StorePath::from(rel);
                let keys: Vec<_> = store
                    .list(Some(&prefix))
                    .map_ok(|meta| meta.location)
                    .try_collect()
                    .await
                    .map_err(|source| ExportError::Store { key: rel.to_owned(), source })?;
                for key in keys {
                    store
                        .delete(&key)
                        .await
                        .map_err(|source| ExportError::Store { key: key.to_string(), source })?;
                }
                Ok(())
            }
        }
    }

    pub fn display(&self) -> String {
        match self {
            Dest::Local { root, .. } => root.display().to_string(),
            Dest::Remote { url, .. } => url.clone(),
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), ExportError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| ExportError::Io { path: dir.to_owned(), source })
}

/// Best effort: a staged file that cannot be removed now is tried again by the next export.
fn remove_stale_staged(staging: &Path) {
    let Ok(entries) = std::fs::read_dir(staging) else { return };
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_STAGING);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
