//! `FaultyStore`: an `ObjectStore` that wraps another and fails the way a flaky backend does,
//! so tests can show the lake (and what reads through it) neither loses nor invents data.
//!
//! On each call it may inject, at the rates in [`Faults`]:
//! - an **error**: `object_store::Error::Generic` wrapping an io error, as a network blip
//!   looks. A write (`put`, `copy`, `rename`) fails either before it reaches the store or,
//!   half the time, *after* the store has written the object: the caller sees an error for a
//!   write that happened, as when a connection drops before the answer arrives;
//! - a **timeout**: the call hangs for [`Faults::timeout`], then fails with a timed-out io
//!   error without reaching the store (a caller with a shorter deadline gives up first);
//! - for reads (`get`, `get_opts`, `get_range`, `get_ranges`), a **corrupted result**: the
//!   stored bytes come back with one byte flipped. The stored object is never changed.
//!
//! Invariants: the wrapper never writes anything the caller did not ask for, never writes part
//! of an object, and never changes a stored object. Its faults are deterministic: whether call
//! number `n` of an operation on a key faults is a function of the seed, the operation, the key
//! and `n` only, so the same seed gives the same faults for the same calls, whatever order
//! concurrent callers interleave in. Every injected fault is counted ([`FaultyStore::counts`]).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// Which faults to inject, and how often: each rate is the chance (0.0..=1.0) that one call
/// gets that fault. A call gets at most one fault: a timeout first, then an error, then (reads
/// only) a corrupted result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    pub error_rate: f64,
    pub timeout_rate: f64,
    pub corrupt_rate: f64,
    /// How long a timed-out call hangs before it fails.
    pub timeout: Duration,
    pub seed: u64,
}

impl Faults {
    /// No faults: the wrapper passes every call through.
    pub fn none() -> Faults {
        Faults { error_rate: 0.0, timeout_rate: 0.0, corrupt_rate: 0.0, ..Faults::default() }
    }

    /// Faults a retry cures: errors and corrupted reads, both at `rate`.
    pub fn retryable(rate: f64, seed: u64) -> Faults {
        Faults { error_rate: rate, corrupt_rate: rate, seed, ..Faults::none() }
    }
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            error_rate: 0.0,
            timeout_rate: 0.0,
            corrupt_rate: 0.0,
            timeout: Duration::from_secs(30),
            seed: 0,
        }
    }
}

/// One fault, for [`FaultyStore::script`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fails before the call reaches the store.
    Error,
    /// A write reaches the store and succeeds there, then the caller gets an error.
    ErrorAfterWrite,
    Timeout,
    /// A read returns the stored bytes with one byte flipped.
    Corrupt,
}

/// What the wrapper has injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub calls: u64,
    /// Errors, including those after a write.
    pub errors: u64,
    pub errors_after_write: u64,
    pub timeouts: u64,
    pub corruptions: u64,
}

impl FaultCounts {
    pub fn injected(&self) -> u64 {
        self.errors + self.timeouts + self.corruptions
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Other,
}

pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    faults: Mutex<Faults>,
    /// Calls so far per (operation, key): the `n` of the fault decision.
    calls: Mutex<HashMap<(&'static str, String), u64>>,
    /// Faults for the next calls, taken before any random draw.
    script: Mutex<VecDeque<Option<Fault>>>,
    counts: Counters,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    errors: AtomicU64,
    errors_after_write: AtomicU64,
    timeouts: AtomicU64,
    corruptions: AtomicU64,
}

/// The fault decided for one call, with the draw that places it (which byte to flip, where
/// a listing fails).
#[derive(Debug, Clone, Copy)]
struct Decision {
    fault: Option<Fault>,
    draw: u64,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>, faults: Faults) -> FaultyStore {
        FaultyStore {
            inner,
            faults: Mutex::new(faults),
            calls: Mutex::new(HashMap::new()),
            script: Mutex::new(VecDeque::new()),
            counts: Counters::default(),
        }
    }

    /// The store this one wraps, for checking what was really stored.
    pub fn inner(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.inner)
    }

    /// Changes the faults for the calls from now on (e.g. none while a test sets up).
    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults;
    }

    pub fn faults(&self) -> Faults {
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next calls get exactly these faults (`None`: that call passes), in order, before
    /// the rates apply again. A fault that does not apply to a call (a corrupted `head`, an
    /// error after a write for a read) lets that call pass.
    pub fn script(&self, faults: impl IntoIterator<Item = Option<Fault>>) {
        self.script.lock().unwrap_or_else(PoisonError::into_inner).extend(faults);
    }

    pub fn counts(&self) -> FaultCounts {
        let c = &self.counts;
        FaultCounts {
            calls: c.calls.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            errors_after_write: c.errors_after_write.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
            corruptions: c.corruptions.load(Ordering::Relaxed),
        }
    }

    fn decide(&self, op: &'static str, key: &str, kind: Kind) -> Decision {
        self.counts.calls.fetch_add(1, Ordering::Relaxed);
        let n = {
            let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
            let n = calls.entry((op, key.to_owned())).or_insert(0);
            *n += 1;
            *n
        };
        let faults = self.faults();
        let mut draws = Draws(mix(&[faults.seed, fnv1a(op.as_bytes()), fnv1a(key.as_bytes()), n]));
        let scripted = self.script.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
        let fault = match scripted {
            Some(fault) => fault,
            None => {
                let (timeout, error, corrupt, after) =
                    (draws.chance(), draws.chance(), draws.chance(), draws.chance());
                if timeout < faults.timeout_rate {
                    Some(Fault::Timeout)
                } else if error < faults.error_rate {
                    Some(if kind == Kind::Write && after < 0.5 {
                        Fault::ErrorAfterWrite
                    } else {
                        Fault::Error
                    })
                } else if corrupt < faults.corrupt_rate {
                    Some(Fault::Corrupt)
                } else {
                    None
                }
            }
        };
        let fault = match (fault, kind) {
            (Some(Fault::Corrupt), Kind::Read) => Some(Fault::Corrupt),
            (Some(Fault::Corrupt), _) => None,
            (Some(Fault::ErrorAfterWrite), Kind::Write) => Some(Fault::ErrorAfterWrite),
            (Some(Fault::ErrorAfterWrite), _) => Some(Fault::Error),
            (other, _) => other,
        };
        Decision { fault, draw: draws.next() }
    }

    /// Applies a decision's timeout or error that comes before the store is reached.
    async fn before(&self, op: &'static str, key: &str, d: Decision) -> object_store::Result<()> {
        match d.fault {
            Some(Fault::Timeout) => {
                // Counted when it starts: a caller that gives up first drops this call.
                self.counts.timeouts.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.faults().timeout).await;
                Err(injected(std::io::ErrorKind::TimedOut, op, key))
            }
            Some(Fault::Error) => {
                self.counts.errors.fetch_add(1, Ordering::Relaxed);
                Err(injected(std::io::ErrorKind::ConnectionReset, op, key))
            }
            _ => Ok(()),
        }
    }

    /// A write's result, failed after the fact when the decision says so.
    fn after_write<T>(
        &self,
        op: &'static str,
        key: &str,
        d: Decision,
        result: object_store::Result<T>,
    ) -> object_store::Result<T> {
        if d.fault != Some(Fault::ErrorAfterWrite) {
            return result;
        }
        self.counts.errors.fetch_add(1, Ordering::Relaxed);
        self.counts.errors_after_write.fetch_add(1, Ordering::Relaxed);
        Err(injected(std::io::ErrorKind::ConnectionReset, op, key))
    }

    /// Flips one byte of `bytes` when the decision says so (an empty result has none).
    fn maybe_corrupt(&self, d: Decision, bytes: Bytes) -> Bytes {
        if d.fault != Some(Fault::Corrupt) || bytes.is_empty() {
            return bytes;
        }
        self.counts.corruptions.fetch_add(1, Ordering::Relaxed);
        let mut v = bytes.to_vec();
        let at = (d.draw % v.len() as u64) as usize;
        v[at] ^= ((d.draw >> 40) as u8) | 1;
        Bytes::from(v)
    }

    async fn write<T, F>(&self, op: &'static str, key: &Path, call: F) -> object_store::Result<T>
    where
        F: std::future::Future<Output = object_store::Result<T>>,
    {
        let d = self.decide(op, key.as_ref(), Kind::Write);
        self.before(op, key.as_ref(), d).await?;
        let result = call.await;
        self.after_write(op, key.as_ref(), d, result)
    }

    fn faulty_listing(
        &self,
        op: &'static str,
        prefix: Option<&Path>,
        listing: BoxStream<'static, object_store::Result<ObjectMeta>>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let key = prefix.map(|p| p.to_string()).unwrap_or_default();
        let d = self.decide(op, &key, Kind::Other);
        match d.fault {
            Some(Fault::Timeout) => {
                let wait = self.faults().timeout;
                self.counts.timeouts.fetch_add(1, Ordering::Relaxed);
                futures::stream::once(async move {
                    tokio::time::sleep(wait).await;
                    Err(injected(std::io::ErrorKind::TimedOut, op, &key))
                })
                .boxed()
            }
            Some(_) => {
                // A listing that breaks off part-way, as a failed next page does.
                self.counts.errors.fetch_add(1, Ordering::Relaxed);
                let err = injected(std::io::ErrorKind::ConnectionReset, op, &key);
                listing
                    .take((d.draw % 4) as usize)
                    .chain(futures::stream::once(async move { Err(err) }))
                    .boxed()
            }
            None => listing,
        }
    }
}

fn injected(kind: std::io::ErrorKind, op: &str, key: &str) -> object_store::Error {
    object_store::Error::Generic {
        store: "faulty",
        source: Box::new(std::io::Error::new(kind, format!("injected fault: {op} `{key}`"))),
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

impl fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyStore")
            .field("inner", &self.inner)
            .field("faults", &self.faults())
            .field("counts", &self.counts())
            .finish()
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put(&self, location: &Path, payload: PutPayload) -> object_store::Result<PutResult> {
        self.write("put", location, self.inner.put(location, payload)).await
    }

    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.write("put", location, self.inner.put_opts(location, payload, opts)).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        // The upload is written by its parts and `complete`, not here: only fail the start.
        let d = self.decide("put_multipart", location.as_ref(), Kind::Other);
        self.before("put_multipart", location.as_ref(), d).await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get(&self, location: &Path) -> object_store::Result<GetResult> {
        self.get_opts(location, GetOptions::default()).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let d = self.decide("get", location.as_ref(), Kind::Read);
        self.before("get", location.as_ref(), d).await?;
        let result = self.inner.get_opts(location, options).await?;
        if d.fault != Some(Fault::Corrupt) {
            return Ok(result);
        }
        let (meta, range, attributes) =
            (result.meta.clone(), result.range.clone(), result.attributes.clone());
        let bytes = self.maybe_corrupt(d, result.bytes().await?);
        Ok(GetResult {
            payload: GetResultPayload::Stream(
                futures::stream::once(async move { Ok(bytes) }).boxed(),
            ),
            meta,
            range,
            attributes,
        })
    }

    async fn get_range(&self, location: &Path, range: Range<u64>) -> object_store::Result<Bytes> {
        let d = self.decide("get_range", location.as_ref(), Kind::Read);
        self.before("get_range", location.as_ref(), d).await?;
        let bytes = self.inner.get_range(location, range).await?;
        Ok(self.maybe_corrupt(d, bytes))
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let d = self.decide("get_ranges", location.as_ref(), Kind::Read);
        self.before("get_ranges", location.as_ref(), d).await?;
        let mut parts = self.inner.get_ranges(location, ranges).await?;
        if let Some(part) = parts.iter_mut().find(|p| !p.is_empty()) {
            *part = self.maybe_corrupt(d, std::mem::take(part));
        }
        Ok(parts)
    }

    async fn head(&self, location: &Path) -> object_store::Result<ObjectMeta> {
        let d = self.decide("head", location.as_ref(), Kind::Other);
        self.before("head", location.as_ref(), d).await?;
        self.inner.head(location).await
    }

    async fn delete(&self, location: &Path) -> object_store::Result<()> {
        self.write("delete", location, self.inner.delete(location)).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.faulty_listing("list", prefix, self.inner.list(prefix))
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.faulty_listing("list", prefix, self.inner.list_with_offset(prefix, offset))
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let key = prefix.map(|p| p.to_string()).unwrap_or_default();
        let d = self.decide("list_with_delimiter", &key, Kind::Other);
        self.before("list_with_delimiter", &key, d).await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.write("copy", to, self.inner.copy(from, to)).await
    }

    async fn rename(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.write("rename", to, self.inner.rename(from, to)).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.write("copy", to, self.inner.copy_if_not_exists(from, to)).await
    }

    async fn rename_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.write("rename", to, self.inner.rename_if_not_exists(from, to)).await
    }
}

/// A stream of pseudo-random numbers (splitmix64) from one starting state.
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn chance(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn mix(parts: &[u64]) -> u64 {
    parts.iter().fold(0x243f_6a88_85a3_08d3, |acc, &p| Draws(acc ^ p).next())
}

/// FNV-1a: a hash that is the same on every platform and Rust version (std's is not promised).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use object_store::memory::InMemory;

    fn faulty(faults: Faults) -> (Arc<dyn ObjectStore>, FaultyStore) {
        let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        (Arc::clone(&inner), FaultyStore::new(inner, faults))
    }

    async fn outcomes(store: &FaultyStore, calls: u32) -> Vec<bool> {
        let mut out = Vec::new();
        for i in 0..calls {
            let key = Path::from(format!("k/{}", i % 7));
            out.push(store.put(&key, PutPayload::from_static(b"x")).await.is_ok());
            out.push(store.get(&key).await.is_ok());
        }
        out
    }

    #[tokio::test]
    async fn the_same_seed_gives_the_same_faults_and_another_seed_others() {
        let faults = Faults { error_rate: 0.3, ..Faults::none() };
        let a = outcomes(&faulty(Faults { seed: 1, ..faults }).1, 200).await;
        let b = outcomes(&faulty(Faults { seed: 1, ..faults }).1, 200).await;
        let c = outcomes(&faulty(Faults { seed: 2, ..faults }).1, 200).await;
        assert_eq!(a, b);
        assert_ne!(a, c);
        let failed = a.iter().filter(|ok| !**ok).count();
        assert!((60..=180).contains(&failed), "{failed} of 400 calls failed at a rate of 0.3");
    }

    #[tokio::test]
    async fn a_corrupted_read_flips_one_byte_and_leaves_the_stored_object_alone() {
        let (inner, store) = faulty(Faults { corrupt_rate: 1.0, ..Faults::none() });
        let key = Path::from("a/b");
        let data: Vec<u8> = (0..=255).collect();
        store.put(&key, PutPayload::from(data.clone())).await.expect("put");
        let read = store.get(&key).await.expect("get").bytes().await.expect("bytes");
        assert_eq!(read.len(), data.len());
        assert_eq!(read.iter().zip(&data).filter(|(a, b)| a != b).count(), 1);
        let range = store.get_range(&key, 10..20).await.expect("range");
        assert_eq!(range.iter().zip(&data[10..20]).filter(|(a, b)| a != b).count(), 1);
        assert_eq!(&inner.get(&key).await.expect("get").bytes().await.expect("bytes")[..], &data);
        assert_eq!(store.counts().corruptions, 2);
    }

    #[tokio::test]
    async fn an_error_after_a_write_leaves_the_object_written() {
        let (inner, store) = faulty(Faults::none());
        store.script([Some(Fault::ErrorAfterWrite), Some(Fault::Error)]);
        let (written, not_written) = (Path::from("written"), Path::from("not"));
        assert!(store.put(&written, PutPayload::from_static(b"w")).await.is_err());
        assert!(store.put(&not_written, PutPayload::from_static(b"n")).await.is_err());
        assert!(inner.head(&written).await.is_ok());
        assert!(matches!(
            inner.head(&not_written).await,
            Err(object_store::Error::NotFound { .. })
        ));
        let counts = store.counts();
        assert_eq!((counts.errors, counts.errors_after_write), (2, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_hangs_for_its_delay_then_fails_without_reaching_the_store() {
        let timeout = Duration::from_secs(30);
        let (inner, store) = faulty(Faults { timeout_rate: 1.0, timeout, ..Faults::none() });
        let started = tokio::time::Instant::now();
        let err = store.put(&Path::from("t"), PutPayload::from_static(b"t")).await.unwrap_err();
        assert!(started.elapsed() >= timeout);
        assert!(err.to_string().contains("injected fault"), "{err}");
        assert!(inner.head(&Path::from("t")).await.is_err());
        assert_eq!(store.counts().timeouts, 1);
    }

    #[tokio::test]
    async fn a_faulty_listing_fails_instead_of_ending_short() {
        let (inner, store) = faulty(Faults { error_rate: 1.0, ..Faults::none() });
        for i in 0..10 {
            inner.put(&Path::from(format!("p/{i}")), PutPayload::from_static(b"x")).await.unwrap();
        }
        let listed: object_store::Result<Vec<ObjectMeta>> =
            store.list(Some(&Path::from("p"))).try_collect().await;
        assert!(listed.is_err());
        assert!(store.list_with_delimiter(None).await.is_err());
        store.set_faults(Faults::none());
        let listed: Vec<ObjectMeta> =
            store.list(Some(&Path::from("p"))).try_collect().await.expect("list");
        assert_eq!(listed.len(), 10);
    }
}
