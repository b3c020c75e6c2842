//! `raw verify`: re-hash stored bodies and check every envelope.
//!
//! A body is good when it decompresses and hashes to its name. An envelope is good when it
//! parses, its bytes hash to its id, and the body it names exists. Everything is read through
//! the lake, so a read that is corrupted on the way is read again: only what is wrong as
//! stored is reported. A sample checks the bodies
//! of one rotating bucket (by hash) in full and every envelope; over `1/fraction` rotations
//! every body is checked.

use std::collections::BTreeSet;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use serde::Serialize;

use crate::error::{RawError, Result};
use crate::id::BodyHash;
use crate::store::{id_from_key, EventFilter, Lake};

const PARALLEL: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum VerifyProblem {
    CorruptBody { sha256: String, detail: String },
    MissingBody { event_id: String, sha256: String },
    BadEnvelope { key: String, detail: String },
    EnvelopeIdMismatch { key: String },
}

impl std::fmt::Display for VerifyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyProblem::CorruptBody { sha256, detail } => {
                write!(f, "body {sha256}: corrupt ({detail})")
            }
            VerifyProblem::MissingBody { event_id, sha256 } => {
                write!(f, "event {event_id}: body {sha256} is missing")
            }
            VerifyProblem::BadEnvelope { key, detail } => {
                write!(f, "envelope {key}: does not parse ({detail})")
            }
            VerifyProblem::EnvelopeIdMismatch { key } => {
                write!(f, "envelope {key}: content does not hash to its id")
            }
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub bodies_checked: u64,
    pub bodies_total: u64,
    pub envelopes_checked: u64,
    pub problems: Vec<VerifyProblem>,
}

impl VerifyReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// `sample`: `None` for everything, or `(fraction, rotation)` where `rotation` picks the bucket
/// (callers pass e.g. the day number so successive runs cover different bodies).
pub async fn verify(lake: &Lake, sample: Option<(f64, u64)>) -> Result<VerifyReport> {
    let hashes = lake.body_hashes().await?;
    let selected: Vec<BodyHash> = match sample {
        None => hashes.iter().copied().collect(),
        Some((fraction, rotation)) => {
            let buckets = (1.0 / fraction.clamp(1e-6, 1.0)).round().max(1.0) as u64;
            let pick = rotation % buckets;
            hashes
                .iter()
                .copied()
                .filter(|h| {
                    u64::from_be_bytes(h.as_bytes()[..8].try_into().unwrap_or_default()) % buckets
                        == pick
                })
                .collect()
        }
    };
    let mut report = VerifyReport { bodies_total: hashes.len() as u64, ..Default::default() };

    let body_problems: Vec<Option<VerifyProblem>> = futures::stream::iter(selected.iter().copied())
        .map(|hash| async move {
            // Read through the lake: a read corrupted on the way is read again, so only a body
            // corrupt as stored is reported.
            let problem = match lake.get_body(&hash).await {
                Ok(_) => None,
                Err(RawError::CorruptBody { hash, detail }) => {
                    Some(VerifyProblem::CorruptBody { sha256: hash, detail })
                }
                Err(RawError::NotFound { .. }) => None, // deleted since listing: reported via envelopes
                Err(e) => return Err(e),
            };
            Ok(problem)
        })
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    report.bodies_checked = selected.len() as u64;
    report.problems.extend(body_problems.into_iter().flatten());

    let keys = lake.event_keys(&EventFilter::default()).await?;
    report.envelopes_checked = keys.len() as u64;
    let envelope_problems: Vec<Option<VerifyProblem>> = futures::stream::iter(keys)
        .map(|key| check_envelope(lake, key, &hashes))
        .buffered(PARALLEL)
        .try_collect()
        .await?;
    report.problems.extend(envelope_problems.into_iter().flatten());
    Ok(report)
}

async fn check_envelope(
    lake: &Lake,
    key: Path,
    bodies: &BTreeSet<BodyHash>,
) -> Result<Option<VerifyProblem>> {
    let envelope = match lake.read_envelope(&key).await {
        Ok(envelope) => envelope,
        Err(RawError::CorruptEnvelope { .. }) => {
            return Ok(Some(VerifyProblem::EnvelopeIdMismatch { key: key.to_string() }))
        }
        Err(e @ (RawError::BadEnvelope { .. } | RawError::BadId { .. })) => {
            return Ok(Some(VerifyProblem::BadEnvelope {
                key: key.to_string(),
                detail: error_chain(&e),
            }))
        }
        Err(e) => return Err(e),
    };
    if let Some(body) = envelope.body {
        if !bodies.contains(&body.sha256) {
            return Ok(Some(VerifyProblem::MissingBody {
                event_id: id_from_key(&key)?.to_hex(),
                sha256: body.sha256.to_hex(),
            }));
        }
    }
    Ok(None)
}

/// An error and its sources, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}
