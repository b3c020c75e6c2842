//! Wall and CPU time of a measured stretch of this process. CPU seconds are user + system time
//! of the whole process (every thread) from `/proc/self/stat`, in the kernel's clock ticks
//! (USER_HZ, 100 on Linux): a stretch shorter than a few ticks reads as 0 CPU seconds, and
//! its per-CPU-second figures are then missing, not infinite. Child processes (the Python
//! baselines) are not counted here: they measure their own.

use std::time::Instant;

use serde::Serialize;

/// Kernel clock ticks per second as `/proc` reports times (USER_HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds (user + system, every thread) of this process so far; 0 where `/proc` cannot
/// be read.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // The command name (field 2) may hold spaces: fields are counted after its `)`.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}

/// One side's measurement in one round: the megabytes it processed (MiB of uncompressed
/// input) and what that cost.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    pub mb: f64,
    pub wall_s: f64,
    pub cpu_s: f64,
}

impl Sample {
    pub fn mb_per_s(&self) -> f64 {
        per(self.mb, self.wall_s)
    }

    pub fn mb_per_cpu_s(&self) -> f64 {
        per(self.mb, self.cpu_s)
    }
}

/// `a / b`, or NaN (printed as missing, serialised as null) when `b` is not positive.
pub fn per(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

/// Megabytes (MiB) in `bytes`.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

/// Started before the measured stretch, stopped right after it.
pub struct Stopwatch {
    wall: Instant,
    cpu: f64,
}

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch { cpu: cpu_seconds(), wall: Instant::now() }
    }

    /// The stretch since [`Stopwatch::start`], as the cost of processing `mb` megabytes.
    pub fn stop(self, mb: f64) -> Sample {
        let wall_s = self.wall.elapsed().as_secs_f64();
        Sample { mb, wall_s, cpu_s: cpu_seconds() - self.cpu }
    }
}
