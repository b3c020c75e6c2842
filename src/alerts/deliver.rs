//! Delivering a verdict's message: a generic webhook (the verdict as JSON) and a
//! Slack-compatible incoming webhook (`{"text": ...}`), each POSTed with bounded retries
//! (exponential, from the configured base; a connection failure, a timeout, a 429 or a 5xx
//! is retried, any other answer is final). Stdout and `--json` are the command's.
//!
//! Invariants: a webhook URL is a secret. It lives only inside [`Secret`], is never part of a
//! record, a log line or an error (reqwest's errors name their URL: it is stripped), and a
//! channel is named by its kind alone. No redirect is followed. A failure is an outcome
//! ([`Delivery`] with `delivered: false`), never an error: it must not fail an ingest.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use adlake_replay::project::alerts::Delivery;
use backon::{ExponentialBuilder, Retryable};
use serde_json::Value;

use crate::config::AlertSettings;
use crate::secrets::{AlertWebhooks, Secret};

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    // Never the value: it is the credential.
    #[error("{variable} is not an http(s) URL")]
    BadUrl { variable: &'static str },
    #[error("cannot build the webhook client")]
    Client(#[source] reqwest::Error),
}

/// A configured destination.
#[derive(Debug, Clone)]
pub struct Channel {
    /// `webhook` or `slack`.
    pub name: &'static str,
    url: Secret,
}

/// The channels configured, each URL checked (without showing it).
pub fn channels(hooks: &AlertWebhooks) -> Result<Vec<Channel>, DeliveryError> {
    let mut out = Vec::new();
    for (name, variable, url) in [
        ("webhook", "ADLAKE_ALERT_WEBHOOK_URL", &hooks.webhook),
        ("slack", "ADLAKE_SLACK_WEBHOOK_URL", &hooks.slack),
    ] {
        let Some(url) = url else { continue };
        match url::Url::parse(url.expose()) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
                out.push(Channel { name, url: url.clone() })
            }
            _ => return Err(DeliveryError::BadUrl { variable }),
        }
    }
    Ok(out)
}

pub fn client(settings: &AlertSettings) -> Result<reqwest::Client, DeliveryError> {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(DeliveryError::Client)
}

/// What a message says, for either channel.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Message {
    pub alert_event_id: String,
    pub outcome: String,
    pub rule: String,
    pub rule_hash: String,
    pub condition: String,
    pub subject: String,
    pub date: String,
    pub evaluated_at: String,
    pub message: String,
    pub inputs: Value,
}

impl Message {
    fn slack_text(&self) -> String {
        let mark = match self.outcome.as_str() {
            "recovered" => "recovered",
            "renotified" => "still firing",
            _ => "fired",
        };
        format!(
            "[adlake] {} {mark}: {} (as of {}; `adlake alerts explain {}`)",
            self.rule, self.message, self.evaluated_at, self.alert_event_id
        )
    }
}

/// One try's failure: whether another try can help, and what to record.
struct Failed {
    retry: bool,
    status: Option<u16>,
    error: String,
}

/// An error text with no trace of `url` (reqwest names it; the path may be the credential).
fn scrub(text: &str, url: &Secret) -> String {
    adlake_raw::redact::text(&text.replace(url.expose(), "[webhook]"))
}

async fn post_once(
    client: &reqwest::Client,
    channel: &Channel,
    body: &Value,
) -> Result<u16, Failed> {
    match client.post(channel.url.expose()).json(body).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            if response.status().is_success() {
                Ok(status)
            } else {
                Err(Failed {
                    retry: status == 429 || response.status().is_server_error(),
                    status: Some(status),
                    error: format!("HTTP {status}"),
                })
            }
        }
        Err(e) => {
            let kind = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "connection failed"
            } else {
                "request failed"
            };
            let detail = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
            let error = scrub(&format!("{kind}: {}{detail}", e.without_url()), &channel.url);
            Err(Failed { retry: true, status: None, error })
        }
    }
}

/// Posts `message` to `channel`, retrying as configured; the outcome to record.
pub async fn send(
    client: &reqwest::Client,
    settings: &AlertSettings,
    channel: &Channel,
    message: &Message,
) -> Delivery {
    let body = match channel.name {
        "slack" => serde_json::json!({ "text": message.slack_text() }),
        _ => serde_json::to_value(message).unwrap_or(Value::Null),
    };
    let tries = AtomicU32::new(0);
    let schedule = ExponentialBuilder::default()
        .with_min_delay(settings.retry_base)
        .with_max_delay(settings.retry_base.saturating_mul(16).max(Duration::from_millis(1)))
        .with_max_times(settings.attempts.saturating_sub(1) as usize);
    let outcome = (|| async {
        tries.fetch_add(1, Ordering::SeqCst);
        post_once(client, channel, &body).await
    })
    .retry(schedule)
    .sleep(tokio::time::sleep)
    .when(|f: &Failed| f.retry)
    .notify(|f: &Failed, wait: Duration| {
        tracing::debug!(channel = channel.name, error = %f.error, wait_ms = wait.as_millis() as u64, "alert delivery failed; retrying");
    })
    .await;
    let attempts = tries.load(Ordering::SeqCst);
    match outcome {
        Ok(status) => Delivery {
            alert_event_id: message.alert_event_id.clone(),
            channel: channel.name.into(),
            delivered: true,
            attempts,
            http_status: Some(status),
            error: None,
        },
        Err(f) => Delivery {
            alert_event_id: message.alert_event_id.clone(),
            channel: channel.name.into(),
            delivered: false,
            attempts,
            http_status: f.status,
            error: Some(f.error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_is_refused_without_showing_it() {
        let hooks =
            AlertWebhooks { webhook: Some(Secret::new("hooks.example/T0/SECRET")), slack: None };
        let e = channels(&hooks).unwrap_err().to_string();
        assert!(e.contains("ADLAKE_ALERT_WEBHOOK_URL") && !e.contains("SECRET"), "{e}");
    }

    #[test]
    fn errors_lose_every_trace_of_the_url() {
        let url = Secret::new("https://hooks.example/services/T0/B0/SECRET");
        let t = scrub(
            "error sending request for url (https://hooks.example/services/T0/B0/SECRET)",
            &url,
        );
        assert!(!t.contains("SECRET"), "{t}");
    }
}
