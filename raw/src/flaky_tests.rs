//! The lake over a [`FaultyStore`]: storage that fails, hangs or corrupts what it returns
//! never makes the lake lose or invent data. Each operation either succeeds with exactly the
//! stored bytes or fails with an error that names it; what the backend really holds (read
//! without faults) stays consistent (`verify` is clean).

use std::sync::Arc;
use std::time::Duration;

use object_store::memory::InMemory;
use object_store::ObjectStore;
use proptest::prelude::*;

use crate::conformance::sample_envelope;
use crate::conformance::tests::quick;
use crate::faulty::{Fault, Faults, FaultyStore};
use crate::store::{EventFilter, Lake, PutOutcome};
use crate::{BodyHash, RawError};

fn day(d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2025, 11, d).expect("date")
}

fn over(inner: Arc<dyn ObjectStore>, faults: Faults) -> (Arc<FaultyStore>, Lake) {
    let store = Arc::new(FaultyStore::new(inner, faults));
    let lake = Lake::from_store(store.clone(), "faulty://").with_retry(quick());
    (store, lake)
}

fn flaky(faults: Faults) -> (Arc<FaultyStore>, Lake) {
    over(Arc::new(InMemory::new()), faults)
}

/// The same backend, read without faults: what was really stored.
fn underlying(store: &FaultyStore) -> Lake {
    Lake::from_store(store.inner(), "underlying://")
}

#[tokio::test(start_paused = true)]
async fn a_storage_blip_on_a_put_is_retried_not_reported() {
    let (store, lake) = flaky(Faults::none());
    store.script([Some(Fault::Error)]);
    let (hash, outcome) = lake.put_body(b"body").await.expect("a blip is retried");
    assert!(matches!(outcome, PutOutcome::Created { .. }), "{outcome:?}");
    assert_eq!(underlying(&store).get_body(&hash).await.expect("stored"), b"body");
    assert_eq!(store.counts().errors, 1);
}

#[tokio::test(start_paused = true)]
async fn a_put_that_errored_after_writing_is_already_there_on_retry() {
    let (store, lake) = flaky(Faults::none());
    store.script([Some(Fault::ErrorAfterWrite)]);
    let (hash, outcome) = lake.put_body(b"body").await.expect("the write landed");
    assert_eq!(outcome, PutOutcome::AlreadyPresent);
    assert_eq!(underlying(&store).get_body(&hash).await.expect("stored"), b"body");
    assert_eq!(store.counts().errors_after_write, 1);
}

#[tokio::test(start_paused = true)]
async fn a_corrupted_read_of_a_body_is_read_again() {
    let (store, lake) = flaky(Faults::none());
    let (hash, _) = lake.put_body(b"{\"spend\": \"412.37\"}").await.expect("put");
    store.script([Some(Fault::Corrupt)]);
    assert_eq!(lake.get_body(&hash).await.expect("re-read"), b"{\"spend\": \"412.37\"}");
    assert_eq!(store.counts().corruptions, 1);
}

#[tokio::test(start_paused = true)]
async fn a_body_corrupt_on_every_read_is_read_again_then_fails_naming_its_hash() {
    let (store, lake) = flaky(Faults::none());
    let (hash, _) = lake.put_body(b"{\"spend\": \"412.37\"}").await.expect("put");
    store.set_faults(Faults { corrupt_rate: 1.0, ..Faults::none() });
    match lake.get_body(&hash).await {
        Err(RawError::CorruptBody { hash: named, .. }) => assert_eq!(named, hash.to_hex()),
        other => panic!("expected a corrupt body, got {other:?}"),
    }
    assert!(store.counts().corruptions >= 2, "read once: {:?}", store.counts());
}

/// Twenty events on a few dates, written without faults; returns them as listed.
async fn twenty_events(store: &FaultyStore, lake: &Lake) -> Vec<crate::Envelope> {
    let faults = store.faults();
    store.set_faults(Faults::none());
    for n in 0..20 {
        let body = format!("{{\"n\": {n}}}");
        lake.put_exchange(sample_envelope("s1_daily_v3", day(1 + n % 4), n), Some(body.as_bytes()))
            .await
            .expect("put");
    }
    store.set_faults(faults);
    let listed = underlying(store).list_events(&EventFilter::default()).await.expect("list");
    listed.into_iter().map(|e| e.envelope).collect()
}

#[tokio::test(start_paused = true)]
async fn a_corrupted_envelope_read_is_read_again_not_believed() {
    let (store, lake) = flaky(Faults::none());
    let expected = twenty_events(&store, &lake).await;
    store.set_faults(Faults { corrupt_rate: 0.3, seed: 7, ..Faults::none() });
    let listed = lake.list_events(&EventFilter::default()).await.expect("list");
    let listed: Vec<_> = listed.into_iter().map(|e| e.envelope).collect();
    assert_eq!(listed, expected);
    assert!(store.counts().corruptions > 0, "no read was corrupted: the test proves nothing");
}

#[tokio::test(start_paused = true)]
async fn storage_blips_while_listing_and_reading_are_retried() {
    let (store, lake) = flaky(Faults::none());
    let expected = twenty_events(&store, &lake).await;
    store.set_faults(Faults { error_rate: 0.3, seed: 3, ..Faults::none() });
    let listed = lake.list_events(&EventFilter::default()).await.expect("list");
    let listed: Vec<_> = listed.into_iter().map(|e| e.envelope).collect();
    assert_eq!(listed, expected);
    let hashes = lake.body_hashes().await.expect("bodies");
    assert_eq!(hashes, underlying(&store).body_hashes().await.expect("bodies"));
    for env in &expected {
        let body = env.body.expect("body");
        assert_eq!(lake.get_body(&body.sha256).await.expect("body").len() as u64, body.len);
    }
    assert!(store.counts().errors > 0, "no call failed: the test proves nothing");
}

#[tokio::test(start_paused = true)]
async fn a_hung_call_is_abandoned_at_the_call_timeout_and_tried_again() {
    let hang = Duration::from_secs(3600);
    let (store, lake) = flaky(Faults { timeout: hang, ..Faults::none() });
    store.script([Some(Fault::Timeout)]);
    let started = tokio::time::Instant::now();
    let (hash, _) = lake.put_body(b"body").await.expect("the second try answers");
    assert!(started.elapsed() < hang, "waited out the hung call: {:?}", started.elapsed());
    assert_eq!(underlying(&store).get_body(&hash).await.expect("stored"), b"body");
    assert_eq!(store.counts().timeouts, 1);
}

/// Every lake operation fails, naming its operation and key, on a backend that always fails;
/// the backend is left consistent.
async fn every_operation_fails_and_names_itself(inner: Arc<dyn ObjectStore>) {
    let (store, lake) = over(inner, Faults::none());
    let (kept_id, _) = lake
        .put_exchange(sample_envelope("s1_daily_v3", day(1), 1), Some(b"kept"))
        .await
        .expect("put without faults");
    let kept_hash = BodyHash::of(b"kept");
    store.set_faults(Faults { error_rate: 1.0, seed: 5, ..Faults::none() });

    let named = |what: &str, err: RawError, op: &str, key: &str| {
        let text = err.to_string();
        assert!(matches!(err, RawError::Storage { .. }), "{what}: {text}");
        assert!(text.contains(op) && text.contains(key), "{what} does not name {op} {key}: {text}");
    };
    for n in 0..4 {
        let body = format!("new body {n}");
        let err = lake.put_body(body.as_bytes()).await.expect_err("put_body");
        named("put_body", err, "put", "bodies/");
        let env = sample_envelope("s1_daily_v3", day(2), 10 + n);
        let err = lake.put_exchange(env, Some(body.as_bytes())).await.expect_err("put_exchange");
        named("put_exchange", err, "put", "bodies/");
    }
    let mut env = sample_envelope("s1_daily_v3", day(3), 20);
    env.body = Some(crate::BodyRef { sha256: kept_hash, len: 4 });
    named("put_envelope", lake.put_envelope(env).await.expect_err("put_envelope"), "head", "");
    let body_key = Lake::body_key(&kept_hash).to_string();
    named("get_body", lake.get_body(&kept_hash).await.expect_err("get_body"), "get", &body_key);
    // The listing may hand out the event before it breaks off: then reading it fails.
    let err = lake.get_event(&kept_id).await.expect_err("get_event");
    let text = err.to_string();
    if text.contains("list `events`") {
        named("get_event", err, "list", "events");
    } else {
        named("get_event", err, "get", &format!("/{kept_id}.json"));
    }
    let err = lake.list_events(&EventFilter::default()).await.expect_err("list_events");
    named("list_events", err, "list", "events");
    named("body_hashes", lake.body_hashes().await.expect_err("body_hashes"), "list", "bodies");
    assert!(store.counts().errors_after_write > 0, "no write landed before its error");

    let really = underlying(&store);
    let report = crate::verify::verify(&really, None).await.expect("verify");
    assert!(report.is_clean(), "{:?}", report.problems);
    let events = really.list_events(&EventFilter::default()).await.expect("list");
    assert_eq!(events.len(), 1, "an event was written although every put failed");
}

#[tokio::test(start_paused = true)]
async fn every_operation_on_a_memory_store_that_always_fails_names_itself() {
    every_operation_fails_and_names_itself(Arc::new(InMemory::new())).await;
}

#[tokio::test]
async fn every_operation_on_a_local_store_that_always_fails_names_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let local =
        object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("local store");
    every_operation_fails_and_names_itself(Arc::new(local)).await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the faults, a put that reports success is stored byte-exact, and a put that
    /// does not reports an error; the backend stays consistent either way.
    #[test]
    fn a_put_through_faults_is_stored_byte_exact_or_reported(
        seed in any::<u64>(),
        error_rate in 0.0..1.0f64,
        timeout_rate in 0.0..0.3f64,
        bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..10),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        rt.block_on(async {
            let faults = Faults { error_rate, timeout_rate, corrupt_rate: 0.5, seed, ..Faults::none() };
            let (store, lake) = flaky(faults);
            let really = underlying(&store);
            for (n, body) in bodies.iter().enumerate() {
                let env = sample_envelope("taboola_report", day(1 + n as u32 % 3), n as u32);
                match lake.put_exchange(env, Some(body)).await {
                    Ok((id, _)) => {
                        let stored = really.get_event(&id).await.expect("reported stored: envelope");
                        let body_ref = stored.body.expect("body ref");
                        assert_eq!(body_ref.sha256, BodyHash::of(body));
                        assert_eq!(&really.get_body(&body_ref.sha256).await.expect("body"), body);
                    }
                    Err(RawError::Storage { .. }) => {}
                    Err(other) => panic!("a put failed with {other}"),
                }
            }
            let report = crate::verify::verify(&really, None).await.expect("verify");
            assert!(report.is_clean(), "{:?}", report.problems);
        });
    }
}
