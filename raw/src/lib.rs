//! `adlake-raw`: the raw-response lake.
//!
//! The lake is an append-only set of immutable objects behind `object_store`:
//! - **bodies**, the exact bytes an upstream sent, zstd-compressed and named by the sha256 of
//!   the *uncompressed* bytes (`bodies/ab/<sha256>.zst`), so identical bodies are stored once;
//! - **envelopes**, one JSON document per event (one HTTP attempt, a run marker, or an alert
//!   verdict or delivery), named by the sha256 of their canonical bytes and filed by logical
//!   date and source (`events/<YYYY-MM-DD>/<source>/<event-id>.json`), so a date range lists
//!   without the rest.
//!
//! Invariants: every put is create-if-absent and atomic (no reader sees a partial object);
//! a body is written before any envelope that names it; identity never depends on compression.
//! Nothing read is handed out unchecked: a body hashes to its name, an envelope to its id, or
//! the read fails. Transient storage failures are retried a bounded number of times (`retry`);
//! what still fails is an error naming the operation and key, never dropped.
//! This crate knows nothing about campaigns or endpoints beyond their names.
//!
//! Without its default feature `store` it is only the lake's vocabulary (ids, envelopes,
//! body codec, redaction), with no I/O: what the kernel depends on.
//!
//! [`faulty::FaultyStore`] wraps any backend and injects the faults a flaky one shows (errors,
//! timeouts, corrupted reads): the tests of the lake and of what reads through it use it.

pub mod codec;
#[cfg(feature = "store")]
pub mod conformance;
pub mod envelope;
pub mod error;
#[cfg(feature = "store")]
pub mod faulty;
#[cfg(all(test, feature = "store"))]
mod flaky_tests;
pub mod id;
pub mod redact;
#[cfg(feature = "store")]
pub mod retry;
#[cfg(feature = "store")]
pub mod store;
#[cfg(feature = "store")]
pub mod verify;

pub use envelope::{AlertNote, BodyRef, Envelope, EventKind, HttpExchange, RunMarker, RunPhase};
pub use error::{RawError, Result};
pub use id::{BodyHash, EventId};
#[cfg(feature = "store")]
pub use retry::{Op, RetryPolicy};
#[cfg(feature = "store")]
pub use store::{Lake, PutOutcome, StoredEvent};
#[cfg(feature = "store")]
pub use verify::{VerifyProblem, VerifyReport};
