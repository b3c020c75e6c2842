//! The one place that decides what an attempt's result means: accept it, retry it (and after
//! how long), re-login, or give up. Pure: it sees the status, headers and body, never a clock.

use std::time::Duration;

use adlake_replay::body::{self, NextPage, Probe};
use adlake_replay::registry::EndpointSpec;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_wait: Duration,
}

impl RetryPolicy {
    /// Exponential backoff: base, 2·base, 4·base... capped at `max_wait`. `attempt` is 1-based.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base.saturating_mul(factor).min(self.max_wait)
    }

    fn capped(&self, wait: Duration) -> Duration {
        wait.min(self.max_wait)
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
    Retry {
        wait: Duration,
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
    attempt: u32,
    policy: &RetryPolicy,
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
            Decision::Retry {
                wait: hinted.map_or_else(|| policy.backoff(attempt), |w| policy.capped(w)),
                reason: "HTTP 429: throttled".into(),
            }
        }
        500..=599 => {
            Decision::Retry { wait: policy.backoff(attempt), reason: format!("HTTP {status}") }
        }
        _ => match body::read(spec, status, body, page, limit, false).probe {
            Probe::Data { items, bad_rows, next } => {
                Decision::Accept { rows: items, bad_rows, next }
            }
            Probe::Throttled { detail } => Decision::Retry {
                wait: policy.backoff(attempt),
                reason: format!("throttled: {detail}"),
            },
            Probe::Rejected { detail } => Decision::GiveUp { reason: detail },
            // A truncated or garbled body may be a passing fault; a body of the wrong shape
            // is what the upstream now sends, and asking again changes nothing.
            Probe::Broken { error } if (200..300).contains(&status) && error.is_transient() => {
                Decision::Retry {
                    wait: policy.backoff(attempt),
                    reason: format!("unparseable body: {error}"),
                }
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

    #[test]
    fn backoff_doubles_and_caps() {
        let waits: Vec<u64> = (1..=6).map(|a| POLICY.backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, vec![1000, 2000, 4000, 8000, 10_000, 10_000]);
    }

    #[test]
    fn follows_the_failure_table() {
        let tb = endpoint("taboola_report").unwrap();
        let html = b"<html><head><title>502 Bad Gateway</title></head></html>";
        assert!(
            matches!(classify(tb, 502, no_headers, html, 1, 500, 2, &POLICY), Decision::Retry { wait, .. } if wait == Duration::from_secs(2))
        );
        assert!(matches!(
            classify(tb, 404, no_headers, b"", 1, 500, 1, &POLICY),
            Decision::GiveUp { .. }
        ));
        assert_eq!(
            classify(tb, 401, no_headers, b"", 1, 500, 1, &POLICY),
            Decision::Reauthenticate
        );
        let retry_after = |h: &str| (h == "retry-after").then(|| "3".to_string());
        assert!(
            matches!(classify(tb, 429, retry_after, b"", 1, 500, 1, &POLICY), Decision::Retry { wait, .. } if wait == Duration::from_secs(3))
        );
        let long = |h: &str| (h == "retry-after").then(|| "3600".to_string());
        assert!(
            matches!(classify(tb, 429, long, b"", 1, 500, 1, &POLICY), Decision::Retry { wait, .. } if wait == POLICY.max_wait)
        );
        let ob = endpoint("outbrain_report").unwrap();
        let msec = |h: &str| (h == "rate-limit-msec-left").then(|| "1500".to_string());
        assert!(
            matches!(classify(ob, 429, msec, b"", 1, 500, 1, &POLICY), Decision::Retry { wait, .. } if wait == Duration::from_millis(1500))
        );
        let fb = endpoint("facebook_report").unwrap();
        let throttle = br#"{"error":{"message":"(#17) User request limit reached","type":"OAuthException","code":17}}"#;
        assert!(matches!(
            classify(fb, 400, no_headers, throttle, 1, 500, 1, &POLICY),
            Decision::Retry { .. }
        ));
        let other =
            br#"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100}}"#;
        assert!(matches!(
            classify(fb, 400, no_headers, other, 1, 500, 1, &POLICY),
            Decision::GiveUp { .. }
        ));
        let moved =
            |h: &str| (h == "location").then(|| "http://u:pw@localhost:4567/x?token=T".to_string());
        match classify(tb, 307, moved, b"<html></html>", 1, 500, 1, &POLICY) {
            Decision::GiveUp { reason } => {
                assert!(reason.contains("`localhost:4567`"), "{reason}");
                assert!(!reason.contains("token") && !reason.contains("pw"), "{reason}");
            }
            other => panic!("a redirect to another origin is given up: {other:?}"),
        }
        let truncated = br#"{"results": [{"date": "2025-11"#;
        assert!(matches!(
            classify(tb, 200, no_headers, truncated, 1, 500, 1, &POLICY),
            Decision::Retry { .. }
        ));
    }
}
