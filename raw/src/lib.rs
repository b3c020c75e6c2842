//! `adlake-raw`: the raw-response lake.
//!
//! The lake is an append-only set of immutable objects behind `object_store`:
//! - **bodies**, the exact bytes an upstream sent, zstd-compressed and named by the sha256 of
//!   the *uncompressed* bytes (`bodies/ab/<sha256>.zst`), so identical bodies are stored once;
//! - **envelopes**, one JSON document per event (one HTTP attempt, or a run marker), named by
//!   the sha256 of their canonical bytes and filed by logical date and source
//!   (`events/<YYYY-MM-DD>/<source>/<event-id>.json`), so a date range lists without the rest.
//!
//! Invariants: every put is create-if-absent and atomic (no reader sees a partial object);
//! a body is written before any envelope that names it; identity never depends on compression.
//! Nothing read is handed out unchecked: a body hashes to its name, an envelope to its id, or
//! the read fails. Transient storage failures are retried a bounded number of times (`retry`);
//! what still fails is an error naming the operation and key, never dropped.
//! This crate knows nothing about campaigns or endpoints beyond their names.
//!
//! [`faulty::FaultyStore`] wraps any backend and injects the faults a flaky one shows (errors,
//! timeouts, corrupted reads): the tests of the lake and of what reads through it use it.

pub mod codec;
pub mod conformance;
pub mod envelope;
pub mod error;
pub mod faulty;
#[cfg(test)]
mod flaky_tests;
pub mod id;
pub mod redact;
pub mod retry;
pub mod store;
pub mod verify;

pub use envelope::{BodyRef, Envelope, EventKind, HttpExchange, RunMarker, RunPhase};
pub use error::{RawError, Result};
pub use id::{BodyHash, EventId};
pub use retry::{Op, RetryPolicy};
pub use store::{Lake, PutOutcome, StoredEvent};
pub use verify::{VerifyProblem, VerifyReport};
