//! The integration suite: one binary (each extra one would re-link DuckDB). Tests run the real
//! `adlake` binary against a real fake upstream over loopback HTTP, a real lake on disk (or a
//! real S3-compatible server) and a real DuckDB file. Modules are grouped by topic.

// Tests compare rows read back as tuples of their columns, spelled out where they are read.
#![allow(clippy::type_complexity)]

mod alerts;
mod audit;
mod cli;
mod export;
mod history;
mod incremental;
mod incremental_sequences;
mod ingest;
mod lake;
mod project;
mod report;
mod scale;
mod storage;
mod upstream;
mod util;
