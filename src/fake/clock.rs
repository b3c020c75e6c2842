//! A clock set to a simulated instant that then runs at the wall clock's pace: the demo
//! replays a day at simulated hours with it, the fake upstream answering "the day so far" at
//! the same instants, and the events of one run keep the order in which they happened. It
//! lives with the fake and is never given to a production command; projected values never
//! read any clock.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::clock::Clock;

#[derive(Debug)]
pub struct SimulatedClock(Mutex<(DateTime<Utc>, Instant)>);

impl SimulatedClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        SimulatedClock(Mutex::new((now, Instant::now())))
    }

    /// From now on the clock reads `now` plus the wall time elapsed since this call.
    pub fn set(&self, now: DateTime<Utc>) {
        let mut t = match self.0.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        *t = (now, Instant::now());
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        // A poisoned lock still holds the last instant set.
        let (at, since) = match self.0.lock() {
            Ok(t) => *t,
            Err(poisoned) => *poisoned.into_inner(),
        };
        let elapsed = chrono::Duration::from_std(since.elapsed()).unwrap_or_default();
        at + elapsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn it_reads_the_instant_it_was_last_set_to_plus_the_time_since() {
        let a = Utc.with_ymd_and_hms(2025, 11, 23, 6, 0, 0).unwrap();
        let clock = SimulatedClock::new(a);
        let first = clock.now();
        assert!(first >= a && first < a + chrono::Duration::minutes(1), "{first}");
        assert!(clock.now() >= first, "it never runs backwards");
        let b = a + chrono::Duration::hours(3);
        clock.set(b);
        let later = clock.now();
        assert!(later >= b && later < b + chrono::Duration::minutes(1), "{later}");
    }
}
