//! The lake's one public error type. Every variant names the input it is about (URL, key,
//! id, and for storage failures the operation) so a caller can print it as-is; no variant
//! ever carries request secrets, because the lake never sees them (see `redact`).

use std::path::PathBuf;

#[cfg(feature = "store")]
pub use crate::retry::Op;

pub type Result<T, E = RawError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum RawError {
    #[error("unsupported lake URL `{url}`: use a path, file://, s3://bucket/prefix or memory://")]
    UnsupportedUrl { url: String },

    #[error("cannot open lake `{url}`")]
    Open {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    #[error("no lake at `{}`: check --lake, or create one with `adlake init` or `adlake ingest`", path.display())]
    NoLocalLake { path: PathBuf },

    #[error("lake directory `{}` is not usable", path.display())]
    LocalDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`{input}` is not a valid {what}: expected 64 lowercase hex characters")]
    BadId { what: &'static str, input: String },

    #[error("no {what} `{id}` in the lake")]
    NotFound { what: &'static str, id: String },

    /// The backend failed an operation, on every try when a retry could help (see `retry`).
    #[cfg(feature = "store")]
    #[error("lake storage failed: {op} `{key}` (after {attempts} attempt(s))")]
    Storage {
        op: Op,
        key: String,
        attempts: u32,
        #[source]
        source: object_store::Error,
    },

    #[cfg(feature = "store")]
    #[error("lake storage did not answer: {op} `{key}` (no answer within {} ms, {attempts} attempt(s))", limit.as_millis())]
    TimedOut { op: Op, key: String, attempts: u32, limit: std::time::Duration },

    /// A body whose stored bytes do not decompress, or do not hash to its name, on every read.
    /// Callers that can go on without it quarantine what names it.
    #[error("stored body `{hash}` is corrupt: {detail}")]
    CorruptBody { hash: String, detail: String },

    /// An envelope whose stored bytes do not hash to the id in its name, on every read.
    #[error("stored envelope `{key}` is corrupt: {detail}")]
    CorruptEnvelope { key: String, detail: String },

    #[error("decoding body `{hash}` did not finish: {detail}")]
    DecodeTask { hash: String, detail: String },

    #[error("envelope `{key}` does not parse")]
    BadEnvelope {
        key: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("envelope rejected: {reason}")]
    InvalidEnvelope { reason: String },

    #[error("compression failed")]
    Compression(#[source] std::io::Error),
}
