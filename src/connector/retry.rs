//! The one place that decides what an attempt's result means: accept it, retry it (with the
//! upstream's hint of how long to wait, if it gave one), re-login, or give up. Pure: it sees
//! the status, headers and body, never a clock. How long a retry waits is [`RetryPolicy`]'s:
//! the hint, capped, else the next step of an exponential schedule (backon's).

use std::time::Duration;

use adlake_replay::body::{self, NextPage, Probe};
use adlake_replay::registry::EndpointSpec;
use backon::{BackoffBuilder, ExponentialBuilder};

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// The waits of one request's attempts, one step per attempt: base, 2·base, 4·base...
    /// capped at `max_wait`. Endless: the attempt budget is the caller's.
    pub fn schedule(&self) -> impl Iterator<Item = Duration> + Send {
        // backon doubles in f32 (20 ms becomes 39.999 ms); the settings are whole
        // milliseconds, and so is every step.
        ExponentialBuilder::new()
            .with_min_delay(self.base)
            .with_max_delay(self.max_wait)
            .without_max_times()
            .build()
            .map(|step| Duration::from_millis((step.as_secs_f64() * 1000.0).round() as u64))
    }

    /// How long to wait before retrying: the upstream's `hint` when it gave one, else the
    /// schedule's step for this attempt; never more than `max_wait`.
    pub fn wait(&self, hint: Option<Duration>, scheduled: Option<Duration>) -> Duration {
        hint.or(scheduled).unwrap_or(self.max_wait).min(self.max_wait)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Data: `rows` rows in the page, `bad_rows` of them unreadable.
    Accept {
        rows: usize,
        bad_rows: usize,
        next: NextPage,
    },
    /// Ask again; `hint` is how long the upstream said to wait (`Retry-After`,
    /// `rate-limit-msec-left`), uncapped.
    Retry {
        hint: Option<Duration>,
        reason: String,
    },
    Reauthenticate,
    GiveUp {
        reason: String,
    },
}

/// What a response means. `headers` are lowercase names.
pub fn classify(
    spec: &EndpointSpec,
    status: u16,
    header: impl Fn(&str) -> Option<String>,
    body: &[u8],
    page: u32,
    limit: u32,
) -> Decision {
    match status {
        // The client follows redirects within the request's origin itself: one that comes
        // back here points elsewhere, and is never followed (nor retried).
        300..=399 => Decision::GiveUp { reason: refused_redirect(status, header("location")) },
        401 => Decision::Reauthenticate,
        404 => Decision::GiveUp { reason: "HTTP 404: the upstream has no such path".into() },
        429 => {
            let hinted = header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
                .or_else(|| {
                    header("rate-limit-msec-left")
                        .and_then(|v| v.trim().parse::<f64>().ok())
                        .map(|ms| Duration::from_millis(ms.max(0.0) as u64))
                });
            Decision::Retry { hint: hinted, reason: "HTTP 429: throttled".into() }
        }
        500..=599 => Decision::Retry { hint: None, reason: format!("HTTP {status}") },
        _ => match body::read(spec, status, body, page, limit, false).probe {
            Probe::Data { items, bad_rows, next } => {
                Decision::Accept { rows: items, bad_rows, next }
            }
            Probe::Throttled { detail } => {
                Decision::Retry { hint: None, reason: format!("throttled: {detail}") }
            }
            Probe::Rejected { detail } => Decision::GiveUp { reason: detail },
            // A truncated or garbled body may be a passing fault; a body of the wrong shape
            // is what the upstream now sends, and asking again changes nothing.
            Probe::Broken { error } if (200..300).contains(&status) && error.is_transient() => {
                Decision::Retry { hint: None, reason: format!("unparseable body: {error}") }
            }
            Probe::Broken { error } if (200..300).contains(&status) => {
                Decision::GiveUp { reason: format!("{}: {error}", spec.key) }
            }
            Probe::Broken { .. } => Decision::GiveUp { reason: format!("HTTP {status}") },
        },
    }
}

/// Why a 3xx that reached the caller is not followed, naming the host it pointed at (never
/// its whole URL: the query may carry anything).
pub fn refused_redirect(status: u16, location: Option<String>) -> String {
    let target = location.as_deref().and_then(|l| url::Url::parse(l).ok());
    match target.as_ref().and_then(|t| t.host_str().map(|h| (h, t.port()))) {
        Some((host, Some(port))) => format!(
            "HTTP {status}: redirect to another origin (`{host}:{port}`) not followed; nothing was sent there"
        ),
        Some((host, None)) => format!(
            "HTTP {status}: redirect to another origin (`{host}`) not followed; nothing was sent there"
        ),
        None => format!("HTTP {status}: a redirect without a usable Location, not followed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adlake_replay::endpoint;

    const POLICY: RetryPolicy =
        RetryPolicy { base: Duration::from_millis(1000), max_wait: Duration::from_millis(10_000) };

    fn no_headers(_: &str) -> Option<String> {
        None
    }

    fn millis(waits: impl Iterator<Item = Duration>) -> Vec<u64> {
        waits.map(|w| w.as_millis() as u64).collect()
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(millis(POLICY.schedule().take(6)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
        // A base above the cap waits the cap from the first retry on.
        let short = RetryPolicy { base: Duration::from_secs(5), max_wait: Duration::from_secs(1) };
        let waits = short.schedule().take(3).map(|step| short.wait(None, Some(step)));
        assert_eq!(millis(waits), [1000, 1000, 1000]);
        let quick =
            RetryPolicy { base: Duration::from_millis(5), max_wait: Duration::from_millis(40) };
        assert_eq!(millis(quick.schedule().take(5)), [5, 10, 20, 40, 40]);
    }

    #[test]
    fn a_hint_wins_over_the_schedule_and_is_capped() {
        let step = Some(Duration::from_secs(4));
        assert_eq!(POLICY.wait(None, step), Duration::from_secs(4));
        assert_eq!(POLICY.wait(Some(Duration::from_secs(3)), step), Duration::from_secs(3));
        assert_eq!(POLICY.wait(Some(Duration::from_secs(3600)), step), POLICY.max_wait);
    }

    #[test]
    fn follows_the_failure_table() {
        let tb = endpoint("taboola_report").unwrap();
        let html = b"<html><head><title>502 Bad Gateway</title></head></html>";
        assert!(matches!(
            classify(tb, 502, no_headers, html, 1, 500),
            Decision::Retry { hint: None, .. }
        ));
        assert!(matches!(classify(tb, 404, no_headers, b"", 1, 500), Decision::GiveUp { .. }));
        assert_eq!(classify(tb, 401, no_headers, b"", 1, 500), Decision::Reauthenticate);
        let retry_after = |h: &str| (h == "retry-after").then(|| "3".to_string());
        assert!(
            matches!(classify(tb, 429, retry_after, b"", 1, 500), Decision::Retry { hint: Some(w), .. } if w == Duration::from_secs(3))
        );
        let ob = endpoint("outbrain_report").unwrap();
        let msec = |h: &str| (h == "rate-limit-msec-left").then(|| "1500".to_string());
        assert!(
            matches!(classify(ob, 429, msec, b"", 1, 500), Decision::Retry { hint: Some(w), .. } if w == Duration::from_millis(1500))
        );
        assert!(matches!(
            classify(ob, 429, no_headers, b"", 1, 500),
            Decision::Retry { hint: None, .. }
        ));
        let fb = endpoint("facebook_report").unwrap();
        let throttle = br#"{"error":{"message":"(#17) User request limit reached","type":"OAuthException","code":17}}"#;
        assert!(matches!(classify(fb, 400, no_headers, throttle, 1, 500), Decision::Retry { .. }));
        let other =
            br#"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100}}"#;
        assert!(matches!(classify(fb, 400, no_headers, other, 1, 500), Decision::GiveUp { .. }));
        let moved =
            |h: &str| (h == "location").then(|| "http://u:pw@localhost:4567/x?token=T".to_string());
        match classify(tb, 307, moved, b"<html></html>", 1, 500) {
            Decision::GiveUp { reason } => {
                assert!(reason.contains("`localhost:4567`"), "{reason}");
                assert!(!reason.contains("token") && !reason.contains("pw"), "{reason}");
            }
            other => panic!("a redirect to another origin is given up: {other:?}"),
        }
        let truncated = br#"{"results": [{"date": "2025-11"#;
        assert!(matches!(classify(tb, 200, no_headers, truncated, 1, 500), Decision::Retry { .. }));
    }
}
