//! The pipeline: what wires the lake, the kernel and the store together. [`ingest`] fetches
//! into the lake and projects what it touched; [`project`] reads the lake date by date through
//! the kernel's projector into the DuckDB store. Commands (`crate::commands`) call these and
//! print; they never call each other.

pub mod diff;
pub mod ingest;
pub mod project;
