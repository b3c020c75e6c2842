//! The generic HTTP loop. It owns the network: for one (endpoint, date) it walks the pages in
//! order, retries per `retry::classify`, and records **every attempt** as a raw event in the
//! lake before deciding what to do next. Endpoint specifics (paths, parameters, pagination)
//! come from the registry in `adlake-replay`; nothing here decodes values.
//!
//! Every request, the login included, goes through [`http_client`], which follows a redirect
//! only within the request's own origin: credentials, tokens and bodies never leave the
//! configured origins.

pub mod auth;
pub mod pages;
pub mod ratelimit;
pub mod retry;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adlake_raw::{BodyHash, Envelope, HttpExchange, Lake, RawError};
use adlake_replay::body::NextPage;
use adlake_replay::registry::{DateParams, EndpointSpec, Pagination};
use chrono::NaiveDate;
use serde::Serialize;

use crate::clock::Clock;
use crate::config::UpstreamSettings;
use auth::Auth;
use pages::PageTrail;
use ratelimit::RateLimiter;
use retry::{classify, Decision, RetryPolicy};

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("upstream `{url}` is unreachable: {detail}")]
    Unreachable { url: String, detail: String },
    #[error(
        "login rejected by `{url}` (HTTP {status}): check STRATEGIS_EMAIL / STRATEGIS_PASSWORD"
    )]
    LoginRejected { url: String, status: u16 },
    #[error("login at `{url}` failed: {detail}")]
    LoginFailed { url: String, detail: String },
    #[error("the upstream rejected STRATEGIS_AUTH_TOKEN; issue a new token or use STRATEGIS_EMAIL / STRATEGIS_PASSWORD")]
    TokenRejected,
    #[error("no token available")]
    NoToken,
    #[error("upstream URL `{url}` is not a valid http(s) URL")]
    BadUrl { url: String },
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("writing to the lake failed")]
    Lake(#[from] RawError),
}

/// A reqwest error as one line, with its causes, and with URLs redacted.
pub fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    adlake_raw::redact::text(&text)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FetchStatus {
    Ok,
    Partial,
    Failed,
}

impl std::fmt::Display for FetchStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FetchStatus::Ok => "OK",
            FetchStatus::Partial => "PARTIAL",
            FetchStatus::Failed => "FAILED",
        })
    }
}

/// How one (endpoint, date) fetch ended, as the run summary reports it.
#[derive(Debug, Clone, Serialize)]
pub struct FetchOutcome {
    pub endpoint: String,
    pub date: NaiveDate,
    pub critical: bool,
    pub status: FetchStatus,
    pub attempts: u32,
    pub pages: u32,
    pub rows: u64,
    pub events: u32,
    /// Bytes new to the lake: bodies and envelopes.
    pub new_bytes: u64,
    /// Of which bodies (zero when the upstream repeated itself).
    pub new_body_bytes: u64,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

pub struct Fetcher {
    /// Times each attempt's `fetched_at`.
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    auth: Arc<Auth>,
    base: url::Url,
    settings: UpstreamSettings,
    policy: RetryPolicy,
    lake: Lake,
    limiter: RateLimiter,
    run_id: String,
}

enum PageResult {
    /// `body` is the page's sha256, for endpoints that page.
    Data {
        rows: usize,
        bad_rows: usize,
        next: NextPage,
        body: Option<BodyHash>,
    },
    Failed,
}

impl Fetcher {
    pub fn new(
        settings: &UpstreamSettings,
        base: &url::Url,
        auth: Arc<Auth>,
        client: reqwest::Client,
        lake: Lake,
        run_id: &str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Fetcher {
            clock,
            client,
            auth,
            base: base.clone(),
            policy: RetryPolicy { base: settings.retry_base, max_wait: settings.max_wait },
            limiter: RateLimiter::new(settings.requests_per_second),
            settings: settings.clone(),
            lake,
            run_id: run_id.to_owned(),
        }
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// All pages of `spec` for `date`, every attempt recorded. Errors only when the lake
    /// itself cannot be written: upstream trouble is an outcome, not an error. Pagination that
    /// goes round in a circle ([`PageTrail`]) stops the fetch at once, FAILED; the page limit
    /// stops it PARTIAL.
    pub async fn fetch(
        &self,
        spec: &'static EndpointSpec,
        date: NaiveDate,
    ) -> Result<FetchOutcome, UpstreamError> {
        let mut outcome = FetchOutcome {
            endpoint: spec.key.to_owned(),
            date,
            critical: spec.critical,
            status: FetchStatus::Ok,
            attempts: 0,
            pages: 0,
            rows: 0,
            events: 0,
            new_bytes: 0,
            new_body_bytes: 0,
            http_status: None,
            error: None,
        };
        let fetch_id = format!("{}.{}.{}", self.run_id, spec.key, date.format("%Y%m%d"));
        let mut page = 1u32;
        let mut cursor: Option<String> = None;
        let mut trail = PageTrail::default();
        loop {
            if page > self.settings.max_pages {
                outcome.status = FetchStatus::Partial;
                outcome.error =
                    Some(format!("stopped at the page limit ({})", self.settings.max_pages));
                break;
            }
            outcome.pages = page;
            trail.asking(cursor.as_deref());
            match self
                .fetch_page(spec, date, &fetch_id, page, cursor.as_deref(), &mut outcome)
                .await?
            {
                PageResult::Data { rows, bad_rows, next, body } => {
                    outcome.rows += rows as u64;
                    if bad_rows > 0 {
                        outcome.status = FetchStatus::Partial;
                        outcome.error =
                            Some(format!("{bad_rows} rows of page {page} could not be read"));
                    }
                    if let Some(problem) = trail.served(page, body, rows, &next) {
                        tracing::warn!(endpoint = spec.key, %date, %problem, "pagination loop");
                        outcome.status = FetchStatus::Failed;
                        outcome.error = Some(format!("pagination loop: {problem}"));
                        break;
                    }
                    match next {
                        NextPage::Done => break,
                        NextPage::Page(n) => page = n.max(page + 1),
                        NextPage::Cursor(c) => {
                            cursor = Some(c);
                            page += 1;
                        }
                    }
                }
                PageResult::Failed => {
                    outcome.status = FetchStatus::Failed;
                    break;
                }
            }
        }
        if outcome.status == FetchStatus::Ok {
            outcome.error = None;
        }
        Ok(outcome)
    }

    /// The request for one page: the endpoint's path under the base URL, and its query
    /// parameters in order, form-encoded.
    fn url(&self, spec: &EndpointSpec, date: NaiveDate, page: u32, cursor: Option<&str>) -> String {
        let day = date.format("%Y-%m-%d").to_string();
        let mut url = under(&self.base, spec.path);
        let mut query = url.query_pairs_mut();
        match spec.dates {
            DateParams::Range => query.append_pair("dateStart", &day).append_pair("dateEnd", &day),
            DateParams::Single => query.append_pair("date", &day),
        };
        query.extend_pairs(spec.params.iter());
        match spec.pagination {
            Pagination::None => {}
            Pagination::PageLimit => {
                query
                    .append_pair("page", &page.to_string())
                    .append_pair("limit", &self.settings.page_limit.to_string());
            }
            Pagination::TotalPages => {
                query.append_pair("page", &page.to_string());
            }
            Pagination::Cursor => {
                if let Some(c) = cursor {
                    query.append_pair("after", c);
                }
            }
        }
        drop(query);
        url.into()
    }

    async fn fetch_page(
        &self,
        spec: &'static EndpointSpec,
        date: NaiveDate,
        fetch_id: &str,
        page: u32,
        cursor: Option<&str>,
        outcome: &mut FetchOutcome,
    ) -> Result<PageResult, UpstreamError> {
        let budget = self.settings.endpoint(spec.key).attempts;
        let url = self.url(spec, date, page, cursor);
        let mut attempt = 0u32;
        let mut relogged = false;
        // The retry after a re-login does not use up the attempt budget.
        let mut free_attempts = 0u32;
        let mut schedule = self.policy.schedule();
        loop {
            attempt += 1;
            outcome.attempts += 1;
            // One step per attempt, whatever it brings: attempt k waits base·2^(k-1) (capped)
            // if it is retried without a hint from the upstream.
            let scheduled = schedule.next();
            self.limiter.acquire().await;
            let token = match self.auth.token().await {
                Ok(t) => t,
                Err(e @ (UpstreamError::Lake(_) | UpstreamError::Client(_))) => return Err(e),
                Err(e) => {
                    outcome.error = Some(e.to_string());
                    return Ok(PageResult::Failed);
                }
            };
            let fetched_at = self.clock.now();
            let started = Instant::now();
            let sent = self.client.get(&url).bearer_auth(token.expose()).send().await;
            let mut exchange = HttpExchange {
                fetch_id: fetch_id.to_owned(),
                attempt,
                page,
                cursor: cursor.map(str::to_owned),
                method: "GET".into(),
                url: url.clone(),
                status: None,
                error: None,
                headers: BTreeMap::new(),
                duration_ms: 0,
            };
            let (decision, body) = match sent {
                Err(e) => {
                    let detail = describe(&e);
                    exchange.error = Some(detail.clone());
                    (Decision::Retry { hint: None, reason: detail }, None)
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    exchange.status = Some(status);
                    exchange.headers = response
                        .headers()
                        .iter()
                        .filter_map(|(k, v)| {
                            Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))
                        })
                        .collect();
                    match response.bytes().await {
                        Ok(body) => {
                            let headers = &exchange.headers;
                            let decision = classify(
                                spec,
                                status,
                                |name| headers.get(name).cloned(),
                                &body,
                                page,
                                self.settings.page_limit,
                            );
                            if let (300..=399, Decision::GiveUp { reason }) = (status, &decision) {
                                // The lake says why this answer was not used.
                                exchange.error = Some(reason.clone());
                            }
                            (decision, Some(body))
                        }
                        Err(e) => {
                            let detail = format!("reading the body: {}", describe(&e));
                            exchange.error = Some(detail.clone());
                            (Decision::Retry { hint: None, reason: detail }, None)
                        }
                    }
                }
            };
            exchange.duration_ms = started.elapsed().as_millis() as u64;
            outcome.http_status = exchange.status;
            let envelope = Envelope::http(spec.key, date, &self.run_id, fetched_at, exchange);
            let (_, stats) = self.lake.put_exchange(envelope, body.as_deref()).await?;
            outcome.events += 1;
            outcome.new_bytes += stats.body_new_bytes + stats.envelope_new_bytes;
            outcome.new_body_bytes += stats.body_new_bytes;

            match decision {
                Decision::Accept { rows, bad_rows, next } => {
                    let body = match spec.pagination {
                        Pagination::None => None,
                        _ => body.as_deref().map(BodyHash::of),
                    };
                    return Ok(PageResult::Data { rows, bad_rows, next, body });
                }
                Decision::Reauthenticate if !relogged => {
                    relogged = true;
                    free_attempts += 1;
                    tracing::info!(endpoint = spec.key, %date, "401: logging in again");
                    if let Err(e) = self.auth.relogin(&token).await {
                        outcome.error = Some(e.to_string());
                        return Ok(PageResult::Failed);
                    }
                }
                Decision::Reauthenticate => {
                    outcome.error = Some("HTTP 401 after a fresh login".into());
                    return Ok(PageResult::Failed);
                }
                Decision::GiveUp { reason } => {
                    outcome.error = Some(reason);
                    return Ok(PageResult::Failed);
                }
                Decision::Retry { hint, reason } => {
                    outcome.error = Some(reason.clone());
                    if attempt - free_attempts >= budget {
                        return Ok(PageResult::Failed);
                    }
                    let wait = self.policy.wait(hint, scheduled);
                    tracing::info!(endpoint = spec.key, %date, attempt, wait_ms = wait.as_millis() as u64, %reason, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// A configured base URL (`ADLAKE_UPSTREAM_URL`, `ADLAKE_AUTH_URL`): absolute http(s) with a
/// host; it may carry a path prefix. Errors name it redacted.
pub fn parse_base(raw: &str) -> Result<url::Url, UpstreamError> {
    match url::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        _ => Err(UpstreamError::BadUrl { url: adlake_raw::redact::url(raw) }),
    }
}

/// `path` (absolute, such as `/auth/login`) under `base`, after the base's own path prefix:
/// `https://h/prefix` and `/api/x` give `https://h/prefix/api/x`.
pub fn under(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    url.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// Redirects one request may follow, all within its origin.
const MAX_REDIRECTS: usize = 10;

/// The client every upstream request goes through, the login included.
pub fn http_client(settings: &UpstreamSettings) -> Result<reqwest::Client, UpstreamError> {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("adlake/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect_policy())
        .build()
        .map_err(UpstreamError::Client)
}

/// Follows a redirect only within the origin (scheme, host and port) of the request that
/// received it: `127.0.0.1` and `localhost` are two origins. A redirect to another origin is
/// not followed, so no credential, token or body ever reaches it; its 3xx response comes back
/// to the caller, which records it and fails the request naming the host
/// ([`retry::refused_redirect`]).
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(|u| u.origin());
        if first.is_none_or(|origin| origin != attempt.url().origin()) {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::secrets::Credentials;

    fn fetcher(base: &str) -> Fetcher {
        let settings = crate::config::load(&Default::default(), &|_| None).expect("settings");
        let base = parse_base(base).expect("base");
        let client = reqwest::Client::new();
        let token = Credentials::Token(crate::secrets::Secret::new("t"));
        let auth = Arc::new(Auth::new(client.clone(), &base, token));
        let lake = Lake::open("memory://").expect("lake");
        Fetcher::new(
            &settings.upstream,
            &base,
            auth,
            client,
            lake,
            "run",
            Arc::new(crate::clock::SystemClock),
        )
    }

    #[test]
    fn requests_carry_their_parameters_in_order_under_the_base_path() {
        let date = NaiveDate::from_ymd_opt(2025, 11, 23).expect("date");
        let spec = |key| adlake_replay::endpoint(key).expect("endpoint");
        let f = fetcher("https://strategis.example/gw/");
        assert_eq!(
            f.url(spec("s1_daily_v3"), date, 2, None),
            "https://strategis.example/gw/api/s1/report/daily-v3?dateStart=2025-11-23&dateEnd=2025-11-23&organization=Interlincx&adSource=rsoc&timezone=UTC&dbSource=ch&dimensions=date-strategisCampaignId-buyer&page=2&limit=500"
        );
        assert_eq!(
            f.url(spec("s1_rpc_average"), date, 1, None),
            "https://strategis.example/gw/api/s1/rpc-average?date=2025-11-23&organization=Interlincx&adSource=rsoc&days=3&timezone=UTC&dimensions=strategisCampaignId"
        );
        // An opaque cursor is encoded whatever it holds.
        let next = f.url(spec("facebook_report"), date, 2, Some("QVFI+a/b=="));
        assert!(next.ends_with("&cached=1&after=QVFI%2Ba%2Fb%3D%3D"), "{next}");
        assert!(next.starts_with("https://strategis.example/gw/api/facebook/report?dateStart="));
    }

    #[test]
    fn a_base_is_an_absolute_http_url() {
        assert!(parse_base("http://127.0.0.1:8787").is_ok());
        for bad in ["ftp://h", "127.0.0.1:8787", "/api", "https://", "mailto:a@b"] {
            assert!(parse_base(bad).is_err(), "{bad}");
        }
        let base = parse_base("http://h:81/prefix").expect("base");
        assert_eq!(under(&base, "/auth/login").as_str(), "http://h:81/prefix/auth/login");
    }
}
