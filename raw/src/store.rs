//! `Lake`: the lake over any `object_store` backend.
//!
//! Guarantees, for every backend:
//! - `put_*` is create-if-absent; finding the object already there is success
//!   (`PutOutcome::AlreadyPresent`), because an object's name is the hash of its content.
//! - Each object appears atomically: a reader sees all of it or nothing.
//! - `put_exchange` writes the body before the envelope, so no envelope names a missing body
//!   whatever instant the process dies at, and whichever put fails.
//! - Listing results are sorted by key, never in backend order.
//! - A lake opened to read ([`Lake::open_existing`]) is never written, not even probed.
//!
//! Under a flaky backend (see `retry` for which failures count as transient):
//! - Every operation (put, get, head, list) retries transient failures with backoff, a bounded
//!   number of times ([`RetryPolicy`]); what still fails is an error naming the operation and
//!   the key. Nothing is dropped silently: a listing that breaks off is listed again whole.
//! - A put retried after an error that came after the object was in fact written finds it
//!   there and reports `AlreadyPresent`: such a write is never counted as new bytes.
//! - Nothing read is believed unchecked: a body is handed out only after it decompressed and
//!   hashed to its name, an envelope only after its bytes hashed to the id in its key. Bytes
//!   that do not are read again; still wrong after the last try, the read fails with
//!   [`RawError::CorruptBody`] (naming the hash) or [`RawError::CorruptEnvelope`].

use std::collections::BTreeSet;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, PutMode, PutOptions, PutPayload};

pub use crate::codec::{decode_body, decode_body_shared, decompress, ZSTD_LEVEL};
use crate::envelope::{BodyRef, Envelope};
use crate::error::{RawError, Result};
use crate::id::{BodyHash, EventId};
pub use crate::retry::RetryPolicy;
use crate::retry::{Op, TryError};

const PARALLEL_READS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written now; `stored_bytes` is the size of the object as stored.
    Created { stored_bytes: u64 },
    /// The object was there already: written before, by another writer, or by an earlier try
    /// of this put whose answer was lost.
    AlreadyPresent,
}

impl PutOutcome {
    pub fn new_bytes(&self) -> u64 {
        match self {
            PutOutcome::Created { stored_bytes } => *stored_bytes,
            PutOutcome::AlreadyPresent => 0,
        }
    }
}

/// An envelope as listed from the lake.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: EventId,
    pub envelope: Envelope,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub body_new_bytes: u64,
    pub envelope_new_bytes: u64,
    pub event_created: bool,
}

/// The lake over one backend. Its async methods need a Tokio runtime with time enabled: a
/// retry waits, and a call has a deadline ([`RetryPolicy`]).
#[derive(Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    display: String,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lake({})", self.display)
    }
}

/// What a command does with a lake it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Filter for listing events. `None` means unbounded.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub source: Option<String>,
}

impl Lake {
    /// Opens a lake from a URL: a plain path or `file://` (created if missing), `s3://bucket/prefix`
    /// (endpoint, keys, region and allow-http from the `AWS_*` environment), or `memory://`.
    pub fn open(url: &str) -> Result<Lake> {
        Lake::open_as(url, Access::Write)
    }

    /// Opens a lake to read only: as [`Lake::open`], except that a local lake must exist
    /// already and is neither created nor checked for writability. Commands that only read
    /// (reproject, audit, raw ls/show/cat/verify) work from a read-only copy or mount, and a
    /// mistyped path is an error instead of a new, empty lake.
    pub fn open_existing(url: &str) -> Result<Lake> {
        Lake::open_as(url, Access::Read)
    }

    fn open_as(url: &str, access: Access) -> Result<Lake> {
        if url == "memory://" || url.starts_with("memory://") {
            return Ok(Lake::memory());
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(RawError::UnsupportedUrl { url: url.to_owned() });
            }
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| RawError::Open { url: url.to_owned(), source: Box::new(e) })?;
            let store: Arc<dyn ObjectStore> = Arc::new(s3);
            let store = prefixed(store, prefix);
            return Ok(Lake::from_store(store, url));
        }
        let path = if let Some(p) = url.strip_prefix("file://") {
            p
        } else if url.contains("://") {
            return Err(RawError::UnsupportedUrl { url: url.to_owned() });
        } else {
            url
        };
        Lake::local(FsPath::new(path), url, access)
    }

    fn local(path: &FsPath, display: &str, access: Access) -> Result<Lake> {
        match access {
            Access::Write => {
                std::fs::create_dir_all(path)
                    .map_err(|source| RawError::LocalDir { path: path.to_owned(), source })?;
                // Probe writability now, so a read-only lake fails before any work starts.
                // Each probe is a file of its own: writers opening the lake at once (two
                // ingests started together) must not remove each other's.
                static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let probe = path.join(format!(".adlake-write-probe.{}.{n}", std::process::id()));
                std::fs::write(&probe, b"")
                    .and_then(|_| std::fs::remove_file(&probe))
                    .map_err(|source| RawError::LocalDir { path: path.to_owned(), source })?;
            }
            Access::Read if !path.is_dir() => {
                return Err(RawError::NoLocalLake { path: path.to_owned() })
            }
            Access::Read => {}
        }
        let fs = object_store::local::LocalFileSystem::new_with_prefix(path)
            .map_err(|e| RawError::Open { url: display.to_owned(), source: Box::new(e) })?;
        Ok(Lake::from_store(Arc::new(fs), display))
    }

    pub fn memory() -> Lake {
        Lake::from_store(Arc::new(InMemory::new()), "memory://")
    }

    /// A lake over any backend, with the default [`RetryPolicy`].
    pub fn from_store(store: Arc<dyn ObjectStore>, display: &str) -> Lake {
        Lake { store, display: display.to_owned(), retry: RetryPolicy::default() }
    }

    /// This lake with another retry policy (tests shorten the waits).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Lake {
        self.retry = retry;
        self
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// Checks the backend answers (a listing of the top level).
    pub async fn probe(&self) -> Result<()> {
        self.retry
            .run(Op::List, "", || async {
                self.store.list_with_delimiter(None).await.map(|_| ()).map_err(TryError::from)
            })
            .await
            .map_err(|e| RawError::Open { url: self.display.clone(), source: Box::new(e) })
    }

    pub fn body_key(hash: &BodyHash) -> Path {
        let hex = hash.to_hex();
        Path::from(format!("bodies/{}/{hex}.zst", &hex[..2]))
    }

    pub fn event_key(env: &Envelope, id: &EventId) -> Path {
        Path::from(format!("events/{}/{}/{id}.json", env.date.format("%Y-%m-%d"), env.source))
    }

    /// The date and source an event's key files it under (see [`Lake::event_key`]); `None`
    /// for a key of another shape.
    pub fn event_key_date_and_source(key: &Path) -> Option<(NaiveDate, String)> {
        let mut parts = key.parts();
        if parts.next()?.as_ref() != "events" {
            return None;
        }
        let date = parts.next()?.as_ref().parse::<NaiveDate>().ok()?;
        let source = parts.next()?.as_ref().to_owned();
        Some((date, source))
    }

    /// Stores a body under the sha256 of its uncompressed bytes.
    pub async fn put_body(&self, bytes: &[u8]) -> Result<(BodyHash, PutOutcome)> {
        let hash = BodyHash::of(bytes);
        let key = Self::body_key(&hash);
        let compressed = zstd::bulk::compress(bytes, ZSTD_LEVEL).map_err(RawError::Compression)?;
        let outcome = self.put_once(&key, Bytes::from(compressed)).await?;
        Ok((hash, outcome))
    }

    /// Stores one event: its body first (if any), then its envelope.
    pub async fn put_exchange(
        &self,
        mut envelope: Envelope,
        body: Option<&[u8]>,
    ) -> Result<(EventId, WriteStats)> {
        let mut stats = WriteStats::default();
        if let Some(bytes) = body {
            let (sha256, outcome) = self.put_body(bytes).await?;
            stats.body_new_bytes = outcome.new_bytes();
            envelope.body = Some(BodyRef { sha256, len: bytes.len() as u64 });
        } else {
            envelope.body = None;
        }
        let (id, outcome) = self.put_envelope_after_body(envelope).await?;
        stats.envelope_new_bytes = outcome.new_bytes();
        stats.event_created = matches!(outcome, PutOutcome::Created { .. });
        Ok((id, stats))
    }

    /// Stores an envelope whose body (if it names one) must already be in the lake.
    pub async fn put_envelope(&self, envelope: Envelope) -> Result<(EventId, PutOutcome)> {
        if let Some(body) = &envelope.body {
            let key = Self::body_key(&body.sha256);
            let key = &key;
            self.retry
                .run(Op::Head, key.as_ref(), move || async move {
                    self.store.head(key).await.map(|_| ()).map_err(|e| match e {
                        object_store::Error::NotFound { .. } => {
                            TryError::Final(RawError::NotFound {
                                what: "body",
                                id: body.sha256.to_hex(),
                            })
                        }
                        other => TryError::Store(other),
                    })
                })
                .await?;
        }
        self.put_envelope_after_body(envelope).await
    }

    async fn put_envelope_after_body(
        &self,
        mut envelope: Envelope,
    ) -> Result<(EventId, PutOutcome)> {
        let bytes = envelope.canonicalize()?;
        let id = Envelope::id_of_canonical(&bytes);
        let key = Self::event_key(&envelope, &id);
        let outcome = self.put_once(&key, Bytes::from(bytes)).await?;
        Ok((id, outcome))
    }

    /// One create-if-absent put, retried whole: a try after one whose write landed although
    /// its answer was lost finds the object there (`AlreadyPresent`).
    async fn put_once(&self, key: &Path, bytes: Bytes) -> Result<PutOutcome> {
        let bytes = &bytes;
        self.retry.run(Op::Put, key.as_ref(), move || self.try_put(key, bytes.clone())).await
    }

    async fn try_put(&self, key: &Path, bytes: Bytes) -> Result<PutOutcome, TryError> {
        let stored_bytes = bytes.len() as u64;
        let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
        match self.store.put_opts(key, PutPayload::from(bytes.clone()), opts).await {
            Ok(_) => Ok(PutOutcome::Created { stored_bytes }),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(PutOutcome::AlreadyPresent),
            // Some S3-compatible servers lack conditional puts. Content addressing makes a
            // check-then-overwrite safe there: a racing writer can only write the same bytes.
            Err(object_store::Error::NotImplemented)
            | Err(object_store::Error::NotSupported { .. }) => match self.store.head(key).await {
                Ok(_) => Ok(PutOutcome::AlreadyPresent),
                Err(object_store::Error::NotFound { .. }) => {
                    self.store.put(key, PutPayload::from(bytes)).await?;
                    Ok(PutOutcome::Created { stored_bytes })
                }
                Err(e) => Err(TryError::Store(e)),
            },
            Err(e) => Err(TryError::Store(e)),
        }
    }

    /// The exact original bytes of a body, checked against its hash: read again while they
    /// do not check out, then [`RawError::CorruptBody`].
    pub async fn get_body(&self, hash: &BodyHash) -> Result<Vec<u8>> {
        self.read_body(hash, decode_body).await
    }

    /// [`Lake::get_body`] into a shared buffer, decompressed and checked on a blocking thread.
    pub async fn get_body_shared(&self, hash: &BodyHash) -> Result<Arc<[u8]>> {
        self.read_body(hash, decode_body_shared).await
    }

    /// A body as stored (compressed), **not** checked against its hash: for callers that
    /// decode it themselves (benchmarks). Storage failures are retried.
    pub async fn get_body_compressed(&self, hash: &BodyHash) -> Result<Bytes> {
        let key = Self::body_key(hash);
        let (key, id) = (&key, &hash.to_hex());
        self.retry.run(Op::Get, key.as_ref(), move || self.try_get(key, "body", id)).await
    }

    /// Reads the body named `hash` and decodes it with `decode` (which checks the hash) on a
    /// blocking thread, reading it again while it does not check out.
    async fn read_body<T: Send + 'static>(
        &self,
        hash: &BodyHash,
        decode: fn(&BodyHash, &[u8]) -> Result<T>,
    ) -> Result<T> {
        let key = Self::body_key(hash);
        let (key, id) = (&key, &hash.to_hex());
        let hash = *hash;
        self.retry
            .run(Op::Get, key.as_ref(), move || async move {
                let compressed = self.try_get(key, "body", id).await?;
                tokio::task::spawn_blocking(move || decode(&hash, &compressed))
                    .await
                    .map_err(|e| {
                        TryError::Final(RawError::DecodeTask {
                            hash: hash.to_hex(),
                            detail: e.to_string(),
                        })
                    })?
                    .map_err(TryError::Corrupt)
            })
            .await
    }

    async fn try_get(&self, key: &Path, what: &'static str, id: &str) -> Result<Bytes, TryError> {
        let got = self.store.get(key).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => {
                TryError::Final(RawError::NotFound { what, id: id.to_owned() })
            }
            other => TryError::Store(other),
        })?;
        Ok(got.bytes().await?)
    }

    /// Finds an event by id. Ids are not date-ordered, so this walks the envelope listing
    /// (keys only, no reads) until it finds `<id>.json`.
    pub async fn get_event(&self, id: &EventId) -> Result<Envelope> {
        let suffix = &format!("{id}.json");
        let prefix = &Path::from("events");
        let found = self
            .retry
            .run_listing(prefix.as_ref(), move || async move {
                let mut listing = self.store.list(Some(prefix));
                while let Some(meta) = self.retry.next_listed(&mut listing).await? {
                    if meta.location.filename() == Some(suffix.as_str()) {
                        return Ok(Some(meta.location));
                    }
                }
                Ok(None)
            })
            .await?;
        match found {
            Some(key) => self.read_envelope(&key).await,
            None => Err(RawError::NotFound { what: "event", id: id.to_hex() }),
        }
    }

    /// The envelope at `key`, once its bytes hash to the id its key names: read again while
    /// they do not, then [`RawError::CorruptEnvelope`].
    pub(crate) async fn read_envelope(&self, key: &Path) -> Result<Envelope> {
        let id = id_from_key(key)?;
        self.retry
            .run(Op::Get, key.as_ref(), move || async move {
                let bytes = self.try_get(key, "event", key.as_ref()).await?;
                let actual = Envelope::id_of_canonical(&bytes);
                if actual != id {
                    return Err(TryError::Corrupt(RawError::CorruptEnvelope {
                        key: key.to_string(),
                        detail: format!("content hashes to {actual}"),
                    }));
                }
                serde_json::from_slice(&bytes).map_err(|source| {
                    TryError::Final(RawError::BadEnvelope { key: key.to_string(), source })
                })
            })
            .await
    }

    /// Every object under `prefix`, in backend order; listed again whole after a failure.
    async fn list_all(&self, prefix: &Path) -> Result<Vec<ObjectMeta>> {
        self.retry
            .run_listing(prefix.as_ref(), move || async move {
                let mut listing = self.store.list(Some(prefix));
                let mut metas = Vec::new();
                while let Some(meta) = self.retry.next_listed(&mut listing).await? {
                    metas.push(meta);
                }
                Ok(metas)
            })
            .await
    }

    /// The dates that have events, ascending.
    pub async fn dates(&self) -> Result<Vec<NaiveDate>> {
        let prefix = &Path::from("events");
        let listing = self
            .retry
            .run(Op::List, prefix.as_ref(), move || async move {
                Ok(self.store.list_with_delimiter(Some(prefix)).await?)
            })
            .await?;
        let mut dates: Vec<NaiveDate> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| {
                p.filename().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            })
            .collect();
        dates.sort();
        Ok(dates)
    }

    /// Keys of the envelopes matching `filter`, sorted. Only the matching date folders are listed.
    pub async fn event_keys(&self, filter: &EventFilter) -> Result<Vec<Path>> {
        let dates: Vec<NaiveDate> = self
            .dates()
            .await?
            .into_iter()
            .filter(|d| filter.from.is_none_or(|f| *d >= f) && filter.to.is_none_or(|t| *d <= t))
            .collect();
        // Date folders are listed concurrently: one after the other, a lake of a quarter took
        // ninety round trips (a request each on S3, a directory walk each on disk) before
        // any work could start. The sort makes the order the listings finish in irrelevant.
        let listings: Vec<Vec<Path>> = futures::stream::iter(dates)
            .map(|date| async move {
                let prefix = match &filter.source {
                    Some(s) => Path::from(format!("events/{}/{s}", date.format("%Y-%m-%d"))),
                    None => Path::from(format!("events/{}", date.format("%Y-%m-%d"))),
                };
                let metas = self.list_all(&prefix).await?;
                Ok::<_, RawError>(
                    metas
                        .into_iter()
                        .map(|m| m.location)
                        .filter(|p| p.extension() == Some("json"))
                        .collect(),
                )
            })
            .buffered(PARALLEL_READS)
            .try_collect()
            .await?;
        let mut keys: Vec<Path> = listings.into_iter().flatten().collect();
        keys.sort();
        Ok(keys)
    }

    /// Envelopes matching `filter`, sorted by key (date, source, id).
    pub async fn list_events(&self, filter: &EventFilter) -> Result<Vec<StoredEvent>> {
        let keys = self.event_keys(filter).await?;
        self.read_events(keys).await
    }

    /// The envelopes at `keys` (as [`Lake::event_keys`] returns them), sorted like
    /// [`Lake::list_events`]: for callers that already listed the keys.
    pub async fn read_events(&self, keys: Vec<Path>) -> Result<Vec<StoredEvent>> {
        let mut events: Vec<StoredEvent> = futures::stream::iter(keys)
            .map(|key| async move {
                let envelope = self.read_envelope(&key).await?;
                let id = id_from_key(&key)?;
                Ok::<_, RawError>(StoredEvent { id, envelope })
            })
            .buffered(PARALLEL_READS)
            .try_collect()
            .await?;
        events.sort_by(|a, b| {
            (a.envelope.date, &a.envelope.source, a.id).cmp(&(
                b.envelope.date,
                &b.envelope.source,
                b.id,
            ))
        });
        Ok(events)
    }

    /// Every body hash in the lake, sorted.
    pub async fn body_hashes(&self) -> Result<BTreeSet<BodyHash>> {
        let metas = self.list_all(&Path::from("bodies")).await?;
        Ok(metas
            .iter()
            .filter_map(|m| m.location.filename()?.strip_suffix(".zst")?.parse().ok())
            .collect())
    }
}

pub(crate) fn id_from_key(key: &Path) -> Result<EventId> {
    let name = key.filename().unwrap_or_default();
    name.strip_suffix(".json").unwrap_or(name).parse()
}

fn prefixed(store: Arc<dyn ObjectStore>, prefix: &str) -> Arc<dyn ObjectStore> {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        store
    } else {
        Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_key_gives_back_its_date_and_source() {
        let env = Envelope::run(
            "ingest",
            NaiveDate::from_ymd_opt(2025, 11, 23).unwrap(),
            "r",
            chrono::Utc::now(),
            crate::RunPhase::Started,
            serde_json::Value::Null,
        );
        let key = Lake::event_key(&env, &EventId::of(b"e"));
        assert_eq!(
            Lake::event_key_date_and_source(&key),
            Some((NaiveDate::from_ymd_opt(2025, 11, 23).unwrap(), "ingest".to_owned()))
        );
        assert_eq!(Lake::event_key_date_and_source(&Lake::body_key(&BodyHash::of(b"b"))), None);
    }

    #[test]
    fn a_lake_opened_to_read_must_exist_and_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = Lake::open_existing(missing.to_str().unwrap()).unwrap_err();
        assert!(matches!(err, RawError::NoLocalLake { .. }), "{err}");
        assert!(!missing.exists(), "opening to read created the directory");
        let lake_dir = dir.path().join("lake");
        Lake::open(lake_dir.to_str().unwrap()).unwrap();
        // Directory times come from a coarse clock (a few ms): a write in the same tick as
        // the last one would not show.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let modified = || std::fs::metadata(&lake_dir).and_then(|m| m.modified()).unwrap();
        let before = modified();
        Lake::open_existing(lake_dir.to_str().unwrap()).unwrap();
        assert_eq!(modified(), before, "opening to read wrote into the lake");
        Lake::open(lake_dir.to_str().unwrap()).unwrap();
        assert_ne!(
            modified(),
            before,
            "opening to write probes the directory (the check above can fail)"
        );
    }

    #[test]
    fn a_lake_opened_by_two_writers_at_once_failed_the_write_probe_of_one() {
        // Two ingests started together open one lake: each probe must be its own file, or
        // one writer removes the other's probe and the other's removal finds nothing.
        let dir = tempfile::tempdir().unwrap();
        let lake_dir = dir.path().join("lake");
        let url = lake_dir.to_str().unwrap().to_owned();
        let failures: Vec<String> = std::thread::scope(|scope| {
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..300)
                            .filter_map(|_| Lake::open(&url).err())
                            .map(|e| match std::error::Error::source(&e) {
                                Some(cause) => format!("{e}: {cause}"),
                                None => e.to_string(),
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            openers.into_iter().flat_map(|o| o.join().unwrap()).collect()
        });
        assert_eq!(
            (failures.len(), failures.first()),
            (0, None),
            "opens of 1200 that failed, and the first failure"
        );
        let left: Vec<_> =
            std::fs::read_dir(&lake_dir).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(left, Vec::<std::path::PathBuf>::new(), "probes left behind");
    }
}
