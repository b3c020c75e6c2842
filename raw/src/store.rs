//! `Lake`: the lake over any `object_store` backend.
//!
//! Guarantees, for every backend:
//! - `put_*` is create-if-absent; finding the object already there is success
//!   (`PutOutcome::AlreadyPresent`), because an object's name is the hash of its content.
//! - Each object appears atomically: a reader sees all of it or nothing.
//! - `put_exchange` writes the body before the envelope, so no envelope names a missing body
//!   whatever instant the process dies at.
//! - Listing results are sorted by key, never in backend order.
//! - A lake opened to read ([`Lake::open_existing`]) is never written, not even probed.

use std::collections::BTreeSet;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};

use crate::envelope::{BodyRef, Envelope};
use crate::error::{RawError, Result};
use crate::id::{BodyHash, EventId};

/// zstd level for bodies: level 3 is the sweet spot of speed and ratio for JSON reports.
pub const ZSTD_LEVEL: i32 = 3;
const PARALLEL_READS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written now; `stored_bytes` is the size of the object as stored.
    Created {
        stored_bytes: u64,
    },
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

#[derive(Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    display: String,
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
            return Ok(Lake { store, display: url.to_owned() });
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
        Ok(Lake { store: Arc::new(fs), display: display.to_owned() })
    }

    pub fn memory() -> Lake {
        Lake { store: Arc::new(InMemory::new()), display: "memory://".into() }
    }

    pub fn from_store(store: Arc<dyn ObjectStore>, display: &str) -> Lake {
        Lake { store, display: display.to_owned() }
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    /// Checks the backend answers (a listing of the top level).
    pub async fn probe(&self) -> Result<()> {
        self.store
            .list_with_delimiter(None)
            .await
            .map(|_| ())
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
            self.store.head(&key).await.map_err(|e| match e {
                object_store::Error::NotFound { .. } => {
                    RawError::NotFound { what: "body", id: body.sha256.to_hex() }
                }
                other => RawError::storage(key.as_ref(), other),
            })?;
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

    async fn put_once(&self, key: &Path, bytes: Bytes) -> Result<PutOutcome> {
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
                    self.store
                        .put(key, PutPayload::from(bytes))
                        .await
                        .map_err(|e| RawError::storage(key.as_ref(), e))?;
                    Ok(PutOutcome::Created { stored_bytes })
                }
                Err(e) => Err(RawError::storage(key.as_ref(), e)),
            },
            Err(e) => Err(RawError::storage(key.as_ref(), e)),
        }
    }

    /// The exact original bytes of a body, checked against its hash.
    pub async fn get_body(&self, hash: &BodyHash) -> Result<Vec<u8>> {
        let compressed = self.get_body_compressed(hash).await?;
        decode_body(hash, &compressed)
    }

    pub async fn get_body_compressed(&self, hash: &BodyHash) -> Result<Bytes> {
        let key = Self::body_key(hash);
        self.get_raw(&key, "body", &hash.to_hex()).await
    }

    async fn get_raw(&self, key: &Path, what: &'static str, id: &str) -> Result<Bytes> {
        let got = self.store.get(key).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => RawError::NotFound { what, id: id.to_owned() },
            other => RawError::storage(key.as_ref(), other),
        })?;
        got.bytes().await.map_err(|e| RawError::storage(key.as_ref(), e))
    }

    /// Finds an event by id. Ids are not date-ordered, so this walks the envelope listing
    /// (keys only, no reads) until it finds `<id>.json`.
    pub async fn get_event(&self, id: &EventId) -> Result<Envelope> {
        let suffix = format!("{id}.json");
        let mut listing = self.store.list(Some(&Path::from("events")));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| RawError::storage("events/", e))?;
            if meta.location.filename() == Some(suffix.as_str()) {
                return self.read_envelope(&meta.location).await;
            }
        }
        Err(RawError::NotFound { what: "event", id: id.to_hex() })
    }

    async fn read_envelope(&self, key: &Path) -> Result<Envelope> {
        let bytes = self.get_raw(key, "event", key.as_ref()).await?;
        serde_json::from_slice(&bytes)
            .map_err(|source| RawError::BadEnvelope { key: key.to_string(), source })
    }

    /// The dates that have events, ascending.
    pub async fn dates(&self) -> Result<Vec<NaiveDate>> {
        let listing = self
            .store
            .list_with_delimiter(Some(&Path::from("events")))
            .await
            .map_err(|e| RawError::storage("events/", e))?;
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
                let metas: Vec<_> = self
                    .store
                    .list(Some(&prefix))
                    .try_collect()
                    .await
                    .map_err(|e| RawError::storage(prefix.as_ref(), e))?;
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
        let metas: Vec<_> = self
            .store
            .list(Some(&Path::from("bodies")))
            .try_collect()
            .await
            .map_err(|e| RawError::storage("bodies/", e))?;
        Ok(metas
            .iter()
            .filter_map(|m| m.location.filename()?.strip_suffix(".zst")?.parse().ok())
            .collect())
    }

    pub(crate) async fn read_key(&self, key: &Path) -> Result<Bytes> {
        self.get_raw(key, "object", key.as_ref()).await
    }
}

pub(crate) fn id_from_key(key: &Path) -> Result<EventId> {
    let name = key.filename().unwrap_or_default();
    name.strip_suffix(".json").unwrap_or(name).parse()
}

/// Frames whose header states a size up to this are decompressed in one call into a buffer of
/// exactly that size; larger claims (or none) go through the streaming decoder, so a forged
/// header cannot make us reserve gigabytes for a small object.
const ONE_CALL_LIMIT: u64 = 256 << 20;

/// Decompresses one zstd frame. Bodies are written by `zstd::bulk::compress`, whose frame header
/// records the uncompressed size: decompressing in one call into a buffer of that size skips
/// the streaming decoder's doubling buffer and its copies through a stack buffer.
pub fn decompress(compressed: &[u8]) -> std::io::Result<Vec<u8>> {
    match zstd::zstd_safe::get_frame_content_size(compressed) {
        // A header can understate (concatenated frames): then the streaming decoder decides.
        Ok(Some(size)) if size <= ONE_CALL_LIMIT => {
            zstd::bulk::decompress(compressed, size as usize)
                .or_else(|_| zstd::stream::decode_all(compressed))
        }
        _ => zstd::stream::decode_all(compressed),
    }
}

pub fn decode_body(hash: &BodyHash, compressed: &[u8]) -> Result<Vec<u8>> {
    let bytes = decompress(compressed).map_err(|e| zstd_error(hash, e))?;
    check_hash(hash, &bytes)?;
    Ok(bytes)
}

fn zstd_error(hash: &BodyHash, e: std::io::Error) -> RawError {
    RawError::CorruptBody { hash: hash.to_hex(), detail: format!("zstd: {e}") }
}

/// A body's bytes must hash to the name it is stored under.
fn check_hash(hash: &BodyHash, bytes: &[u8]) -> Result<()> {
    let actual = BodyHash::of(bytes);
    if actual != *hash {
        return Err(RawError::CorruptBody {
            hash: hash.to_hex(),
            detail: format!("content hashes to {actual}"),
        });
    }
    Ok(())
}

/// [`decode_body`] straight into the shared buffer readers hold: decompressing into a Vec and
/// then `Arc::from` copied every body a second time, into a second allocation of its size.
pub fn decode_body_shared(hash: &BodyHash, compressed: &[u8]) -> Result<Arc<[u8]>> {
    let shared = match zstd::zstd_safe::get_frame_content_size(compressed) {
        Ok(Some(size)) if size <= ONE_CALL_LIMIT => decompress_shared(compressed, size as usize),
        _ => None,
    };
    let body = match shared {
        Some(body) => body,
        // Concatenated frames, or no size in the header: the general path.
        None => Arc::from(decompress(compressed).map_err(|e| zstd_error(hash, e))?),
    };
    check_hash(hash, &body)?;
    Ok(body)
}

/// One frame of `size` bytes decompressed into a new `Arc<[u8]>`; `None` when the frame does
/// not hold exactly that many bytes. The buffer is not zeroed first: zeroing it was a pass
/// over every body's bytes, and its page faults, that decompression then overwrote.
fn decompress_shared(compressed: &[u8], size: usize) -> Option<Arc<[u8]>> {
    let mut slots = Arc::<[u8]>::new_uninit_slice(size);
    let mut out = Unfilled { slots: Arc::get_mut(&mut slots)?, filled: 0 };
    let written =
        zstd::bulk::Decompressor::new().ok()?.decompress_to_buffer(compressed, &mut out).ok()?;
    if written != size || out.filled != size {
        return None;
    }
    // SAFETY: zstd wrote `filled` bytes contiguously from the start (the `WriteBuf` contract),
    // and that is all `size` of them.
    Some(unsafe { slots.assume_init() })
}

/// A buffer zstd decompresses into without it being initialised first: the `Vec` spare
/// capacity idiom, for the slots of an `Arc<[u8]>`.
struct Unfilled<'a> {
    slots: &'a mut [std::mem::MaybeUninit<u8>],
    /// How many bytes from the start zstd has written.
    filled: usize,
}

// SAFETY: `as_slice` exposes only the `filled` bytes zstd reported writing, `capacity` and
// `as_mut_ptr` describe exactly the slots, and nothing here reads unwritten memory.
unsafe impl zstd::zstd_safe::WriteBuf for Unfilled<'_> {
    fn as_slice(&self) -> &[u8] {
        // SAFETY: the first `filled` slots were written by zstd (see `filled_until`).
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<u8>(), self.filled) }
    }

    fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.slots.as_mut_ptr().cast::<u8>()
    }

    unsafe fn filled_until(&mut self, n: usize) {
        self.filled = n;
    }
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

    #[test]
    fn every_frame_shape_decompresses_to_its_bytes() {
        let body: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
        let sized = zstd::bulk::compress(&body, ZSTD_LEVEL).unwrap();
        assert!(
            matches!(zstd::zstd_safe::get_frame_content_size(&sized), Ok(Some(n)) if n == body.len() as u64)
        );
        assert_eq!(decompress(&sized).unwrap(), body, "one call, sized from the header");

        let streamed = zstd::stream::encode_all(&body[..], ZSTD_LEVEL).unwrap();
        assert!(
            matches!(zstd::zstd_safe::get_frame_content_size(&streamed), Ok(None)),
            "a streamed frame states no size"
        );
        assert_eq!(decompress(&streamed).unwrap(), body);

        let mut two = sized.clone();
        two.extend_from_slice(&zstd::bulk::compress(b"tail", ZSTD_LEVEL).unwrap());
        let mut both = body.clone();
        both.extend_from_slice(b"tail");
        assert_eq!(
            decompress(&two).unwrap(),
            both,
            "a header that understates falls back to streaming"
        );

        assert!(decompress(&sized[..sized.len() / 2]).is_err());
        let hash = BodyHash::of(&body);
        assert_eq!(decode_body(&hash, &sized).unwrap(), body);
        assert!(matches!(
            decode_body(&BodyHash::of(b"other"), &sized),
            Err(RawError::CorruptBody { .. })
        ));
        assert_eq!(&*decode_body_shared(&hash, &sized).unwrap(), &body[..]);
        assert!(matches!(
            decode_body_shared(&BodyHash::of(b"other"), &sized),
            Err(RawError::CorruptBody { .. })
        ));
        assert_eq!(
            &*decode_body_shared(&hash, &streamed).unwrap(),
            &body[..],
            "no size in the header"
        );
        assert_eq!(
            &*decode_body_shared(&BodyHash::of(&both), &two).unwrap(),
            &both[..],
            "an understating header"
        );
        assert!(
            matches!(
                decode_body_shared(&hash, &sized[..sized.len() / 2]),
                Err(RawError::CorruptBody { .. })
            ),
            "a truncated frame"
        );
    }

    /// A single-segment frame of one raw block whose header states `stated` bytes.
    fn raw_frame(content: &[u8], stated: u8) -> Vec<u8> {
        let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0x20, stated];
        let block = 1 | (content.len() as u32) << 3;
        frame.extend_from_slice(&block.to_le_bytes()[..3]);
        frame.extend_from_slice(content);
        frame
    }

    #[test]
    fn a_frame_that_holds_other_than_its_stated_size_is_refused_not_read() {
        let content = b"forty bytes of body, give or take a few.";
        let hash = BodyHash::of(content);
        let valid = raw_frame(content, content.len() as u8);
        assert_eq!(
            decompress_shared(&valid, content.len()).as_deref(),
            Some(&content[..]),
            "the hand-built frame is valid"
        );
        assert_eq!(&*decode_body_shared(&hash, &valid).unwrap(), &content[..]);
        for stated in [content.len() + 8, content.len() - 8] {
            let frame = raw_frame(content, stated as u8);
            assert!(
                matches!(zstd::zstd_safe::get_frame_content_size(&frame), Ok(Some(n)) if n == stated as u64)
            );
            assert!(
                decompress_shared(&frame, stated).is_none(),
                "stated {stated}: no body from slots zstd did not fill"
            );
            assert!(
                matches!(decode_body_shared(&hash, &frame), Err(RawError::CorruptBody { .. })),
                "stated {stated}"
            );
        }
    }
}
