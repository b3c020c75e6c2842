//! `adlake-replay`: the projector. Pure and synchronous: it decodes the bodies of each
//! endpoint, selects snapshots, merges sources into rows with lineage, and writes them to
//! DuckDB. It never touches the network or reads a clock; everything time-like it outputs
//! comes from event envelopes.

pub mod body;
pub mod chunks;
pub mod columns;
pub mod contract;
pub mod db;
pub mod decode;
pub mod endpoints;
pub mod fragment;
pub mod incremental;
pub mod json;
pub mod project;
pub mod registry;
pub mod stream;
pub mod write;

pub use registry::{endpoint, EndpointSpec, ENDPOINTS};
