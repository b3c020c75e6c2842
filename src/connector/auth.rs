//! Login and token lifetime. One `Auth` is shared by every request of a run: it logs in on
//! first use, refreshes 30 s before the JWT's `exp`, and re-logs in at most when a caller
//! reports a 401 for the token it was given (so concurrent 401s cause one login, not many).

use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine;
use chrono::Utc;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::connector::UpstreamError;
use crate::secrets::{Credentials, Secret};

const REFRESH_BEFORE_EXP_S: i64 = 30;

struct Token {
    value: Secret,
    exp: Option<i64>,
}

pub struct Auth {
    client: reqwest::Client,
    login_url: String,
    credentials: Credentials,
    current: Mutex<Option<Token>>,
    logins: AtomicU32,
}

impl Auth {
    pub fn new(client: reqwest::Client, auth_base: &url::Url, credentials: Credentials) -> Self {
        let login_url = crate::connector::under(auth_base, "/auth/login").into();
        let current = match &credentials {
            Credentials::Token(t) => Some(Token { value: t.clone(), exp: jwt_exp(t.expose()) }),
            Credentials::Login { .. } => None,
        };
        Auth {
            client,
            login_url,
            credentials,
            current: Mutex::new(current),
            logins: AtomicU32::new(0),
        }
    }

    pub fn logins(&self) -> u32 {
        self.logins.load(Ordering::Relaxed)
    }

    /// A token valid for at least the next 30 s.
    pub async fn token(&self) -> Result<Secret, UpstreamError> {
        let mut current = self.current.lock().await;
        let fresh = current.as_ref().is_some_and(|t| {
            t.exp.is_none_or(|exp| Utc::now().timestamp() < exp - REFRESH_BEFORE_EXP_S)
        });
        if !fresh || current.is_none() {
            if let Credentials::Token(_) = self.credentials {
                if let Some(t) = current.as_ref() {
                    // A pre-issued token cannot be refreshed; let the upstream judge it.
                    return Ok(t.value.clone());
                }
            }
            *current = Some(self.login().await?);
        }
        current.as_ref().map(|t| t.value.clone()).ok_or(UpstreamError::NoToken)
    }

    /// Called after a 401 for `rejected`. Logs in again unless someone already did.
    pub async fn relogin(&self, rejected: &Secret) -> Result<Secret, UpstreamError> {
        let mut current = self.current.lock().await;
        if let Some(t) = current.as_ref().filter(|t| &t.value != rejected) {
            return Ok(t.value.clone());
        }
        if let Credentials::Token(_) = self.credentials {
            return Err(UpstreamError::TokenRejected);
        }
        let token = self.login().await?;
        let value = token.value.clone();
        *current = Some(token);
        Ok(value)
    }

    async fn login(&self) -> Result<Token, UpstreamError> {
        let Credentials::Login { email, password } = &self.credentials else {
            return Err(UpstreamError::TokenRejected);
        };
        self.logins.fetch_add(1, Ordering::Relaxed);
        tracing::info!(url = %self.login_url, "logging in");
        let body = serde_json::json!({ "email": email.expose(), "password": password.expose() });
        let response = self.client.post(&self.login_url).json(&body).send().await.map_err(|e| {
            UpstreamError::Unreachable {
                url: self.login_url.clone(),
                detail: crate::connector::describe(&e),
            }
        })?;
        let status = response.status();
        if status.is_redirection() {
            // The client did not follow it: it points at another origin.
            let location = response.headers().get(reqwest::header::LOCATION);
            let location = location.and_then(|l| l.to_str().ok()).map(str::to_owned);
            return Err(UpstreamError::LoginFailed {
                url: self.login_url.clone(),
                detail: crate::connector::retry::refused_redirect(status.as_u16(), location),
            });
        }
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(UpstreamError::LoginRejected {
                url: self.login_url.clone(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(UpstreamError::LoginFailed {
                url: self.login_url.clone(),
                detail: format!("HTTP {status}"),
            });
        }
        let bytes = response.bytes().await.map_err(|e| UpstreamError::Unreachable {
            url: self.login_url.clone(),
            detail: crate::connector::describe(&e),
        })?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|_| UpstreamError::LoginFailed {
                url: self.login_url.clone(),
                detail: "response is not JSON".into(),
            })?;
        let token = value
            .get("authToken")
            .or_else(|| value.pointer("/data/authToken"))
            .and_then(Value::as_str)
            .ok_or_else(|| UpstreamError::LoginFailed {
                url: self.login_url.clone(),
                detail: "no authToken in the response".into(),
            })?;
        Ok(Token { value: Secret::new(token), exp: jwt_exp(token) })
    }
}

/// The `exp` claim of a JWT, if it has one. The signature is the upstream's business.
pub fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Value>(&bytes).ok()?.get("exp")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_from_a_jwt() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"sub":"x","exp":1764000000}"#);
        assert_eq!(jwt_exp(&format!("h.{payload}.s")), Some(1_764_000_000));
        assert_eq!(jwt_exp("not-a-jwt"), None);
    }
}
