//! The DuckDB store: a disposable view of the lake. Opening the database file (waiting a
//! bounded time for another process's lock) and its migrations ([`db`]); writing a
//! projection's rows, straight into DuckDB's vectors, with per-table and per-date
//! fingerprints ([`write`], [`chunks`]); reading back what window projections take from it
//! ([`carry`]); the reader copy that BI tools open while a writer holds the database
//! ([`reader_copy`]). The kernel (`adlake_replay`) knows nothing of it.
//!
//! Invariants: one thread owns a connection; a projection's writes commit together or not at
//! all; a full rebuild goes to a fresh file renamed over the database once complete.

pub mod carry;
pub mod chunks;
pub mod db;
pub mod reader_copy;
pub mod write;

pub use db::DbError;
