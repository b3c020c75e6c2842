//! The lake conformance suite: one set of checks every backend must pass (memory, local disk,
//! S3, and each of them through a `FaultyStore`). Backend tests call [`run_all`] with a fresh,
//! empty lake; [`run_all_flaky`] for a backend that may lose the answer to a write.

use chrono::{NaiveDate, TimeZone, Utc};

use crate::envelope::{Envelope, HttpExchange};
use crate::store::{EventFilter, Lake, PutOutcome};

/// A small envelope for `source` on `date`, distinct per `n`.
pub fn sample_envelope(source: &str, date: NaiveDate, n: u32) -> Envelope {
    Envelope::http(
        source,
        date,
        "conformance",
        Utc.timestamp_millis_opt(1_700_000_000_000 + i64::from(n)).single().unwrap_or_default(),
        HttpExchange {
            fetch_id: format!("fetch-{n}"),
            attempt: 1,
            page: 1,
            cursor: None,
            method: "GET".into(),
            url: format!("http://upstream.test/api/{source}?dateStart={date}"),
            status: Some(200),
            error: None,
            headers: Default::default(),
            duration_ms: 1,
        },
    )
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 11, d).unwrap_or_default()
}

/// Whether the backend answers every write it performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Each put learns whether it created its object.
    Always,
    /// A write may land and its answer be lost: the retried put then finds the object and
    /// reports `AlreadyPresent`. What is stored is checked, not whether a put says `Created`.
    MayBeLost,
}

/// Runs every check, panicking with a description on the first failure.
pub async fn run_all(lake: &Lake) {
    run_all_answering(lake, Answers::Always).await;
}

/// [`run_all`] for a backend that may lose the answer to a write (a flaky one).
pub async fn run_all_flaky(lake: &Lake) {
    run_all_answering(lake, Answers::MayBeLost).await;
}

async fn run_all_answering(lake: &Lake, answers: Answers) {
    round_trip_is_byte_exact(lake, answers).await;
    duplicate_puts_are_noops(lake, answers).await;
    listing_by_date_range_is_exact(lake).await;
    concurrent_writers_leave_one_copy(lake).await;
}

pub async fn round_trip_is_byte_exact(lake: &Lake, answers: Answers) {
    let mut body: Vec<u8> = br#"{"data":[{"spend":"412.37"}],"#.to_vec();
    body.extend((0..=255u8).collect::<Vec<_>>()); // not even UTF-8: bytes are bytes
    let (id, stats) =
        lake.put_exchange(sample_envelope("rt", day(1), 1), Some(&body)).await.expect("put");
    if answers == Answers::Always {
        assert!(stats.event_created && stats.body_new_bytes > 0);
    }
    let env = lake.get_event(&id).await.expect("get event");
    let body_ref = env.body.expect("body ref");
    assert_eq!(body_ref.len, body.len() as u64);
    assert_eq!(
        lake.get_body(&body_ref.sha256).await.expect("get body"),
        body,
        "round trip changed bytes"
    );
    let empty: &[u8] = b"";
    let (hash, _) = lake.put_body(empty).await.expect("empty body");
    assert_eq!(lake.get_body(&hash).await.expect("get empty"), empty);
}

pub async fn duplicate_puts_are_noops(lake: &Lake, answers: Answers) {
    let body = b"{\"same\": true}";
    let env = sample_envelope("dup", day(2), 2);
    let (a, first) = lake.put_exchange(env.clone(), Some(body)).await.expect("first put");
    let (b, second) = lake.put_exchange(env, Some(body)).await.expect("second put");
    assert_eq!(a, b);
    assert!(first.event_created || answers == Answers::MayBeLost);
    assert!(!second.event_created, "second put created a new envelope");
    assert_eq!(second.body_new_bytes, 0, "second put wrote body bytes");
    assert_eq!(lake.put_body(body).await.expect("body again").1, PutOutcome::AlreadyPresent);
    let listed = lake
        .list_events(&EventFilter { source: Some("dup".into()), ..Default::default() })
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
}

pub async fn listing_by_date_range_is_exact(lake: &Lake) {
    for d in 10..=16 {
        for source in ["range_a", "range_b"] {
            lake.put_exchange(sample_envelope(source, day(d), d), Some(format!("{d}").as_bytes()))
                .await
                .expect("put");
        }
    }
    let filter =
        EventFilter { from: Some(day(12)), to: Some(day(14)), source: Some("range_a".into()) };
    let listed = lake.list_events(&filter).await.expect("list");
    let dates: Vec<_> = listed.iter().map(|e| e.envelope.date).collect();
    assert_eq!(dates, vec![day(12), day(13), day(14)]);
    assert!(listed.iter().all(|e| e.envelope.source == "range_a"));
    let both = lake
        .list_events(&EventFilter { from: Some(day(16)), to: Some(day(16)), source: None })
        .await
        .expect("list");
    let sources: Vec<_> = both
        .iter()
        .map(|e| e.envelope.source.as_str())
        .filter(|s| s.starts_with("range"))
        .collect();
    assert_eq!(sources, vec!["range_a", "range_b"]);
}

pub async fn concurrent_writers_leave_one_copy(lake: &Lake) {
    let body = vec![b'x'; 256 * 1024];
    let env = sample_envelope("race", day(20), 20);
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (lake, env, body) = (lake.clone(), env.clone(), body.clone());
            tokio::spawn(async move { lake.put_exchange(env, Some(&body)).await })
        })
        .collect();
    let mut ids = Vec::new();
    for w in writers {
        ids.push(w.await.expect("join").expect("every concurrent writer succeeds").0);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    let listed = lake
        .list_events(&EventFilter { source: Some("race".into()), ..Default::default() })
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "concurrent writers left {} copies", listed.len());
    let hash = listed[0].envelope.body.expect("body").sha256;
    assert_eq!(lake.get_body(&hash).await.expect("body"), body);
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use object_store::local::LocalFileSystem;
    use object_store::memory::InMemory;
    use object_store::ObjectStore;

    use crate::faulty::{Faults, FaultyStore};
    use crate::RetryPolicy;

    /// Retries without the production waits, and enough of them that a call failing at 20 %
    /// (36 % for a read that may also be corrupted) fails every try about once in ten million.
    pub(crate) fn quick() -> RetryPolicy {
        RetryPolicy {
            attempts: 16,
            first_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(20),
            ..RetryPolicy::default()
        }
    }

    #[tokio::test]
    async fn memory_backend_conforms() {
        super::run_all(&crate::Lake::memory()).await;
    }

    #[tokio::test]
    async fn local_backend_conforms() {
        let dir = tempfile::tempdir().expect("tempdir");
        let lake = crate::Lake::open(dir.path().to_str().expect("utf8")).expect("open");
        super::run_all(&lake).await;
    }

    /// The suite through a [`FaultyStore`] that fails and corrupts a fifth of the calls.
    async fn conforms_through_retryable_faults(inner: Arc<dyn ObjectStore>, seed: u64) {
        let store = Arc::new(FaultyStore::new(inner, Faults::retryable(0.2, seed)));
        let lake = crate::Lake::from_store(store.clone(), "faulty://").with_retry(quick());
        super::run_all_flaky(&lake).await;
        let counts = store.counts();
        assert!(counts.errors > 0 && counts.corruptions > 0, "too few faults: {counts:?}");
    }

    #[tokio::test]
    async fn memory_backend_conforms_through_retryable_faults() {
        conforms_through_retryable_faults(Arc::new(InMemory::new()), 11).await;
    }

    #[tokio::test]
    async fn local_backend_conforms_through_retryable_faults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let local = LocalFileSystem::new_with_prefix(dir.path()).expect("local store");
        conforms_through_retryable_faults(Arc::new(local), 12).await;
    }
}
