//! The lake's one public error type. Every variant names the input it is about (URL, key,
//! id) so a caller can print it as-is; no variant ever carries request secrets, because the
//! lake never sees them (see `redact`).

use std::path::PathBuf;

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

    #[error("lake storage failed at `{key}`")]
    Storage {
        key: String,
        #[source]
        source: object_store::Error,
    },

    #[error("stored body `{hash}` is corrupt: {detail}")]
    CorruptBody { hash: String, detail: String },

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

impl RawError {
    pub(crate) fn storage(key: impl Into<String>, source: object_store::Error) -> Self {
        RawError::Storage { key: key.into(), source }
    }
}
