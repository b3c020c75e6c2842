//! Where an ingest gets the time it records (`fetched_at`, a run's start and finish): a
//! [`Clock`]. Production uses [`SystemClock`]; the demo replays a day at simulated hours with
//! a clock of its own. Projections never read a clock: their times come from envelopes.

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
