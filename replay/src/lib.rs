//! `adlake-replay`: the kernel. Pure and synchronous: it is fed events and their bodies, and
//! returns rows and lineage. The endpoint registry and one module per endpoint (request and
//! body contract), the body readers, and the projector (snapshots, identity, merge, lineage,
//! the fold over dates) live here; storing rows is the engine's (`adlake`'s `store`).
//!
//! It depends on neither DuckDB nor tokio nor the filesystem, and reads no clock: everything
//! time-like it outputs comes from event envelopes.

pub mod body;
pub mod chain;
pub mod columns;
pub mod contract;
pub mod decode;
pub mod endpoints;
pub mod fragment;
pub mod project;
pub mod registry;
pub mod stream;
pub mod testing;

pub use registry::{endpoint, EndpointSpec, ENDPOINTS};
