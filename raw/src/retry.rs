//! Retrying the lake's storage calls: which failures a retry can cure, how long to wait
//! between tries, how many tries an operation gets, how long one try may take. Every lake
//! operation (put, get, head, list) goes through [`RetryPolicy::run`] or
//! [`RetryPolicy::run_listing`]; nothing else in the crate loops.
//!
//! Invariants: a try is repeated only when a second one can answer differently: a storage
//! error of object_store's `Generic` kind (a network blip, a server error the backend's own
//! client gave up on), a try that did not answer within the call timeout, or bytes that do not
//! hash to their name (a read corrupted on the way). Everything else (not found, permission
//! denied, an unsupported operation) fails at once. What still fails after the last try is
//! returned as a [`RawError`] naming the operation and the key, never swallowed. A try is only
//! ever repeated whole: a repeated put is again create-if-absent, so repeating it is safe.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::ObjectMeta;

use crate::error::{RawError, Result};

/// The lake operation a storage call belongs to, for errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Put,
    Get,
    Head,
    List,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Put => "put",
            Op::Get => "get",
            Op::Head => "head",
            Op::List => "list",
        })
    }
}

/// How the lake retries its storage calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per operation, the first included (0 is taken as 1).
    pub attempts: u32,
    /// The wait before the second try; it doubles (with jitter) up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// A try that has not answered by then is abandoned and counts as a failed try; for a
    /// listing, the limit is per page of results. `None`: wait as long as the backend does.
    pub call_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    /// Six tries about 0.1, 0.2, 0.4, 0.8 and 1.6 s apart: a blip or a corrupted read costs a
    /// moment, a backend that stays down is reported within seconds. Two minutes per call,
    /// the upstream's own request timeout: longer than any healthy read of a body.
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 6,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            call_timeout: Some(Duration::from_secs(120)),
        }
    }
}

/// Why one try failed.
#[derive(Debug)]
pub(crate) enum TryError {
    /// The backend's own error: tried again when it is of the transient kind.
    Store(object_store::Error),
    /// No answer within the call timeout: tried again.
    TimedOut(Duration),
    /// Bytes that do not check out ([`RawError::CorruptBody`], [`RawError::CorruptEnvelope`]):
    /// read again, since a read can be corrupted on the way.
    Corrupt(RawError),
    /// Final as it is (a `NotFound` already named for the caller, an envelope that does not
    /// parse although its bytes hash to its name).
    Final(RawError),
}

impl From<object_store::Error> for TryError {
    fn from(e: object_store::Error) -> Self {
        TryError::Store(e)
    }
}

impl TryError {
    /// The one retry classifier.
    fn is_transient(&self) -> bool {
        match self {
            TryError::Store(e) => matches!(e, object_store::Error::Generic { .. }),
            TryError::TimedOut(_) | TryError::Corrupt(_) => true,
            TryError::Final(_) => false,
        }
    }

    fn into_raw(self, op: Op, key: &str, attempts: u32) -> RawError {
        match self {
            TryError::Store(source) => {
                RawError::Storage { op, key: key.to_owned(), attempts, source }
            }
            TryError::TimedOut(limit) => {
                RawError::TimedOut { op, key: key.to_owned(), attempts, limit }
            }
            TryError::Corrupt(RawError::CorruptBody { hash, detail }) => {
                RawError::CorruptBody { hash, detail: format!("{detail} (read {attempts} times)") }
            }
            TryError::Corrupt(RawError::CorruptEnvelope { key, detail }) => {
                RawError::CorruptEnvelope {
                    key,
                    detail: format!("{detail} (read {attempts} times)"),
                }
            }
            TryError::Corrupt(e) | TryError::Final(e) => e,
        }
    }
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails for good, or has had `attempts` tries, each within
    /// the call timeout. `op` and `key` name the operation in the error and in the log.
    pub(crate) async fn run<T, F, Fut>(&self, op: Op, key: &str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TryError>>,
    {
        let limit = self.call_timeout;
        self.tries(op, key, move || {
            let attempt = call();
            async move {
                match limit {
                    Some(limit) => tokio::time::timeout(limit, attempt)
                        .await
                        .unwrap_or(Err(TryError::TimedOut(limit))),
                    None => attempt.await,
                }
            }
        })
        .await
    }

    /// [`RetryPolicy::run`] for a try that pages through a listing: the call timeout applies
    /// to each page ([`RetryPolicy::next_listed`]), not to the whole listing, which may be long.
    pub(crate) async fn run_listing<T, F, Fut>(&self, key: &str, call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TryError>>,
    {
        self.tries(Op::List, key, call).await
    }

    /// The next entry of `listing`, within the call timeout.
    pub(crate) async fn next_listed(
        &self,
        listing: &mut BoxStream<'static, object_store::Result<ObjectMeta>>,
    ) -> Result<Option<ObjectMeta>, TryError> {
        let next = match self.call_timeout {
            Some(limit) => tokio::time::timeout(limit, listing.next())
                .await
                .map_err(|_| TryError::TimedOut(limit))?,
            None => listing.next().await,
        };
        next.transpose().map_err(TryError::Store)
    }

    async fn tries<T, F, Fut>(&self, op: Op, key: &str, mut call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TryError>>,
    {
        let tries = AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.attempts.saturating_sub(1) as usize)
            .with_jitter();
        let result = (|| {
            tries.fetch_add(1, Ordering::Relaxed);
            call()
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(TryError::is_transient)
        .notify(|e, wait| {
            tracing::info!(%op, key, error = ?e, wait_ms = wait.as_millis() as u64, "lake storage call failed; trying again");
        })
        .await;
        result.map_err(|e| e.into_raw(op, key, tries.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blip() -> TryError {
        TryError::Store(object_store::Error::Generic {
            store: "test",
            source: Box::new(std::io::Error::other("blip")),
        })
    }

    fn quick(attempts: u32) -> RetryPolicy {
        RetryPolicy {
            attempts,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            call_timeout: Some(Duration::from_secs(1)),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_failure_is_tried_again_up_to_the_attempts_then_named() {
        let calls = AtomicU32::new(0);
        let err = quick(4)
            .run(Op::Get, "bodies/ab/x.zst", || {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(blip()) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 4);
        assert_eq!(
            err.to_string(),
            "lake storage failed: get `bodies/ab/x.zst` (after 4 attempt(s))"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_failure_is_not_tried_again() {
        let calls = AtomicU32::new(0);
        let err = quick(4)
            .run(Op::Head, "k", || {
                calls.fetch_add(1, Ordering::Relaxed);
                async {
                    Err::<(), _>(TryError::Store(object_store::Error::NotFound {
                        path: "k".into(),
                        source: Box::new(std::io::Error::other("gone")),
                    }))
                }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert!(matches!(err, RawError::Storage { op: Op::Head, attempts: 1, .. }), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_try_that_hangs_is_abandoned_at_the_call_timeout() {
        let calls = AtomicU32::new(0);
        let answer = quick(3)
            .run(Op::Put, "k", || {
                let n = calls.fetch_add(1, Ordering::Relaxed);
                async move {
                    if n == 0 {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    Ok::<_, TryError>(n)
                }
            })
            .await
            .expect("the second try answers");
        assert_eq!(answer, 1);
        let err = quick(2)
            .run(Op::Put, "k", || async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok::<_, TryError>(())
            })
            .await
            .unwrap_err();
        assert!(matches!(err, RawError::TimedOut { attempts: 2, .. }), "{err}");
    }
}
