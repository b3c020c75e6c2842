//! Credentials for the upstream. They live only in memory, inside [`Secret`], whose `Debug`
//! and `Display` print nothing of the value, so no log line, error or envelope can carry one.
//! Sources: `STRATEGIS_AUTH_TOKEN`, or `STRATEGIS_EMAIL` + `STRATEGIS_PASSWORD`, or the TOML
//! secrets file the config names (`email`, `password`, `token`). The alert webhooks' URLs
//! are secrets too (a Slack incoming webhook's path is its credential): from
//! `ADLAKE_ALERT_WEBHOOK_URL` / `ADLAKE_SLACK_WEBHOOK_URL` or the same file
//! (`alert_webhook_url`, `slack_webhook_url`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::config::Env;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Clone, Debug)]
pub enum Credentials {
    /// A pre-issued token: no login.
    Token(Secret),
    Login {
        email: Secret,
        password: Secret,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no upstream credentials: set STRATEGIS_AUTH_TOKEN, or STRATEGIS_EMAIL and STRATEGIS_PASSWORD, or name a secrets file in the config")]
    Missing,
    #[error(
        "STRATEGIS_EMAIL is set but STRATEGIS_PASSWORD is not (or the other way round); set both"
    )]
    Incomplete,
    #[error("cannot read secrets file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    // The TOML error text can quote the offending line, i.e. a secret: never include it.
    #[error("secrets file `{}` is not valid TOML with `email`/`password` or `token` (line {line})", path.display())]
    Parse { path: PathBuf, line: usize },
}

#[derive(Deserialize)]
struct SecretsFile {
    email: Option<String>,
    password: Option<String>,
    token: Option<String>,
    alert_webhook_url: Option<String>,
    slack_webhook_url: Option<String>,
}

/// Where alert messages go, if anywhere.
#[derive(Clone, Debug, Default)]
pub struct AlertWebhooks {
    /// A generic webhook: the verdict as JSON.
    pub webhook: Option<Secret>,
    /// A Slack-compatible incoming webhook: `{"text": ...}`.
    pub slack: Option<Secret>,
}

fn read_file(path: &Path) -> Result<SecretsFile, SecretError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| SecretError::Read { path: path.to_owned(), source })?;
    toml::from_str(&text).map_err(|e| SecretError::Parse {
        path: path.to_owned(),
        line: e.span().map_or(0, |s| text[..s.start.min(text.len())].lines().count().max(1)),
    })
}

/// The alert webhooks: each from its environment variable, else from the secrets file.
pub fn alert_webhooks(
    env: Env<'_>,
    secrets_file: Option<&Path>,
) -> Result<AlertWebhooks, SecretError> {
    let (mut webhook, mut slack) =
        (env("ADLAKE_ALERT_WEBHOOK_URL"), env("ADLAKE_SLACK_WEBHOOK_URL"));
    if let Some(path) = secrets_file.filter(|_| webhook.is_none() || slack.is_none()) {
        let file = read_file(path)?;
        webhook = webhook.or(file.alert_webhook_url);
        slack = slack.or(file.slack_webhook_url);
    }
    let secret = |v: Option<String>| v.filter(|v| !v.trim().is_empty()).map(Secret);
    Ok(AlertWebhooks { webhook: secret(webhook), slack: secret(slack) })
}

pub fn load(env: Env<'_>, secrets_file: Option<&Path>) -> Result<Credentials, SecretError> {
    if let Some(token) = env("STRATEGIS_AUTH_TOKEN") {
        return Ok(Credentials::Token(Secret(token)));
    }
    match (env("STRATEGIS_EMAIL"), env("STRATEGIS_PASSWORD")) {
        (Some(email), Some(password)) => {
            return Ok(Credentials::Login { email: Secret(email), password: Secret(password) })
        }
        (Some(_), None) | (None, Some(_)) => return Err(SecretError::Incomplete),
        (None, None) => {}
    }
    let Some(path) = secrets_file else { return Err(SecretError::Missing) };
    let file = read_file(path)?;
    match (file.token, file.email, file.password) {
        (Some(token), _, _) => Ok(Credentials::Token(Secret(token))),
        (None, Some(email), Some(password)) => {
            Ok(Credentials::Login { email: Secret(email), password: Secret(password) })
        }
        (None, Some(_), None) | (None, None, Some(_)) => Err(SecretError::Incomplete),
        (None, None, None) => Err(SecretError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let c = Credentials::Login { email: Secret::new("a@b"), password: Secret::new("hunter2") };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("a@b"), "{shown}");
    }

    #[test]
    fn token_wins_then_login_then_file() {
        let env = |k: &str| match k {
            "STRATEGIS_EMAIL" => Some("e".to_string()),
            "STRATEGIS_PASSWORD" => Some("p".to_string()),
            _ => None,
        };
        assert!(matches!(load(&env, None).unwrap(), Credentials::Login { .. }));
        let half = |k: &str| (k == "STRATEGIS_EMAIL").then(|| "e".to_string());
        assert!(matches!(load(&half, None), Err(SecretError::Incomplete)));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "token = \"tok\"\n").unwrap();
        let none = |_: &str| None;
        assert!(matches!(load(&none, Some(&path)).unwrap(), Credentials::Token(_)));
        std::fs::write(&path, "password = hunter2 oops\n").unwrap();
        let err = load(&none, Some(&path)).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn webhooks_come_from_env_first_then_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "alert_webhook_url = \"http://file/hook\"\nslack_webhook_url = \"http://file/slack\"\n",
        )
        .unwrap();
        let env =
            |k: &str| (k == "ADLAKE_ALERT_WEBHOOK_URL").then(|| "http://env/hook".to_string());
        let hooks = alert_webhooks(&env, Some(&path)).unwrap();
        assert_eq!(hooks.webhook.unwrap().expose(), "http://env/hook");
        assert_eq!(hooks.slack.unwrap().expose(), "http://file/slack");
        let none = |_: &str| None;
        assert!(alert_webhooks(&none, None).unwrap().webhook.is_none());
        assert!(!format!("{:?}", alert_webhooks(&env, None).unwrap()).contains("env/hook"));
    }
}
