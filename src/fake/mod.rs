//! `adlake fake-upstream`: a real HTTP/1.1 server on a TCP socket that implements the whole
//! upstream contract (login with JWTs, the 15 report paths, pagination, every failure shape),
//! serving a deterministic campaign universe. It is hand-rolled on tokio so that faults such as
//! a connection reset or a truncated body can be produced exactly. Used by `demo`, the
//! integration tests and the ingest benchmark. Its request log records what was asked and
//! whether the credentials were accepted, never the credentials.

pub mod bodies;
pub mod clock;
pub mod faults;
pub mod universe;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use faults::{FaultKind, FaultRule};
use universe::Universe;

#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub seed: u64,
    pub campaigns: usize,
    pub today: NaiveDate,
    pub faults: Vec<FaultRule>,
    pub latency: Duration,
    pub email: String,
    pub password: String,
    pub token_ttl: Duration,
    /// Wrap the login answer as `{"data": {"authToken": ...}}`.
    pub wrap_login: bool,
    pub facebook_page_size: usize,
    pub smartnews_page_size: usize,
    /// How long a `timeout` fault holds the connection before closing it.
    pub hang: Duration,
    /// The fake's own clock, for the demo and tests: today's numbers are the day so far at
    /// this instant (`None`: the wall clock). Nothing of adlake itself reads it.
    pub now: Option<DateTime<Utc>>,
}

impl FakeConfig {
    pub fn new(seed: u64, campaigns: usize, today: NaiveDate) -> Self {
        FakeConfig {
            seed,
            campaigns,
            today,
            faults: Vec::new(),
            latency: Duration::ZERO,
            email: "demo@adlake.test".into(),
            password: "demo-password".into(),
            token_ttl: Duration::from_secs(3600),
            wrap_login: false,
            facebook_page_size: 10,
            smartnews_page_size: 10,
            hang: Duration::from_secs(30),
            now: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub endpoint: Option<String>,
    pub date: Option<NaiveDate>,
    /// Login attempts: whether the credentials matched. Reports: whether the bearer token did.
    pub credentials_accepted: bool,
    /// What the fake did: an HTTP status, or `reset` / `timeout`.
    pub outcome: String,
}

struct State {
    config: FakeConfig,
    universe: Universe,
    faults: Mutex<Vec<FaultRule>>,
    log: Mutex<Vec<LoggedRequest>>,
    tokens: Mutex<BTreeSet<String>>,
    epoch: AtomicU64,
    issued: AtomicU64,
    base_url: String,
    now: Mutex<Option<DateTime<Utc>>>,
}

impl State {
    fn now(&self) -> DateTime<Utc> {
        self.now.lock().ok().and_then(|n| *n).unwrap_or_else(Utc::now)
    }
}

pub struct FakeUpstream {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeUpstream {
    pub async fn start(config: FakeConfig, bind: &str) -> std::io::Result<FakeUpstream> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let config_now = config.now;
        let state = Arc::new(State {
            universe: Universe::new(config.seed, config.campaigns, config.today),
            faults: Mutex::new(config.faults.clone()),
            config,
            log: Mutex::new(Vec::new()),
            tokens: Mutex::new(BTreeSet::new()),
            epoch: AtomicU64::new(0),
            issued: AtomicU64::new(0),
            base_url: format!("http://{addr}"),
            now: Mutex::new(config_now),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = serving.clone();
                tokio::spawn(async move {
                    let _ = handle(state, stream).await;
                });
            }
        });
        Ok(FakeUpstream { addr, state, task })
    }

    pub fn url(&self) -> String {
        self.state.base_url.clone()
    }

    /// Where ingest finds this fake: its URL for reports and for login, and the credentials it
    /// was started with.
    pub fn upstream(&self) -> crate::pipeline::ingest::Upstream {
        let config = &self.state.config;
        crate::pipeline::ingest::Upstream {
            url: self.url(),
            auth_url: self.url(),
            credentials: crate::secrets::Credentials::Login {
                email: crate::secrets::Secret::new(config.email.clone()),
                password: crate::secrets::Secret::new(config.password.clone()),
            },
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.state.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Sets the fake's clock: what today's reports say from now on is the day so far at `now`.
    pub fn set_now(&self, now: DateTime<Utc>) {
        if let Ok(mut slot) = self.state.now.lock() {
            *slot = Some(now);
        }
    }

    /// Moves to the next restatement: recent days' numbers drift.
    pub fn restate(&self) {
        self.state.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub fn add_fault(&self, rule: FaultRule) {
        if let Ok(mut f) = self.state.faults.lock() {
            f.push(rule);
        }
    }

    pub fn clear_faults(&self) {
        if let Ok(mut f) = self.state.faults.lock() {
            f.clear();
        }
    }

    pub fn universe(&self) -> &Universe {
        &self.state.universe
    }
}

struct HttpRequest {
    method: String,
    path: String,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

async fn read_request(stream: &mut TcpStream) -> Option<HttpRequest> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = request_target(&target)?;
    Some(HttpRequest { method, path, query, headers, body })
}

/// The path and the decoded query parameters (the last of a repeated name) of a request
/// target such as `/api/x?page=2&after=abc`.
fn request_target(target: &str) -> Option<(String, BTreeMap<String, String>)> {
    let url = url::Url::parse("http://fake.invalid/").ok()?.join(target).ok()?;
    Some((url.path().to_owned(), url.query_pairs().into_owned().collect()))
}

struct Reply {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, value: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            headers: vec![],
            body: serde_json::to_vec(&value).unwrap_or_default(),
        }
    }
}

enum Action {
    Reply(Reply),
    Reset,
    Hang,
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

async fn handle(state: Arc<State>, mut stream: TcpStream) -> std::io::Result<()> {
    let Some(request) = read_request(&mut stream).await else { return Ok(()) };
    let (action, logged) = respond(&state, &request).await;
    if let Ok(mut log) = state.log.lock() {
        log.push(logged);
    }
    match action {
        Action::Reply(reply) => {
            let mut head = format!(
                "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nDate: {}\r\n",
                reply.status,
                reason(reply.status),
                reply.content_type,
                reply.body.len(),
                Utc::now().format("%a, %d %b %Y %H:%M:%S GMT")
            );
            for (k, v) in &reply.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&reply.body).await?;
            stream.shutdown().await?;
        }
        Action::Reset => {
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        Action::Hang => {
            tokio::time::sleep(state.config.hang).await;
        }
    }
    Ok(())
}

fn issue_token(state: &State) -> String {
    let n = state.issued.fetch_add(1, Ordering::SeqCst);
    let exp = Utc::now().timestamp() + state.config.token_ttl.as_secs() as i64;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(v).unwrap_or_default())
    };
    let header = b64(&serde_json::json!({"alg": "HS256", "typ": "JWT"}));
    let payload = b64(&serde_json::json!({"sub": state.config.email, "exp": exp, "jti": n}));
    let signature = universe::hash_str(state.config.seed ^ n, &payload);
    format!("{header}.{payload}.{signature:016x}")
}

fn token_valid(state: &State, token: &str) -> bool {
    if !state.tokens.lock().map(|t| t.contains(token)).unwrap_or(false) {
        return false;
    }
    crate::connector::auth::jwt_exp(token).is_some_and(|exp| Utc::now().timestamp() < exp)
}

async fn respond(state: &State, req: &HttpRequest) -> (Action, LoggedRequest) {
    let mut logged = LoggedRequest {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        endpoint: None,
        date: None,
        credentials_accepted: false,
        outcome: String::new(),
    };
    let action = route(state, req, &mut logged).await;
    logged.outcome = match &action {
        Action::Reply(r) => r.status.to_string(),
        Action::Reset => "reset".into(),
        Action::Hang => "timeout".into(),
    };
    (action, logged)
}

async fn route(state: &State, req: &HttpRequest, logged: &mut LoggedRequest) -> Action {
    if req.method == "POST" && req.path == "/auth/login" {
        let fault = take_fault(state, |r| r.matches_login());
        if let Some(FaultKind::Redirect { status, origin }) = fault {
            // Whatever came with the request (the credentials) is not looked at: the fake
            // answers as a login that has moved would.
            return Action::Reply(redirect(status, &origin, req));
        }
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let ok = body.get("email").and_then(|v| v.as_str()) == Some(state.config.email.as_str())
            && body.get("password").and_then(|v| v.as_str())
                == Some(state.config.password.as_str());
        logged.credentials_accepted = ok;
        if !ok {
            return Action::Reply(Reply::json(
                401,
                serde_json::json!({"error": "invalid email or password"}),
            ));
        }
        let token = issue_token(state);
        if let Ok(mut t) = state.tokens.lock() {
            t.insert(token.clone());
        }
        let answer = if state.config.wrap_login {
            serde_json::json!({"data": {"authToken": token}})
        } else {
            serde_json::json!({"authToken": token})
        };
        return Action::Reply(Reply::json(200, answer));
    }
    let Some(spec) = adlake_replay::ENDPOINTS.iter().find(|e| e.path == req.path) else {
        return Action::Reply(Reply::json(404, serde_json::json!({"error": "not found"})));
    };
    logged.endpoint = Some(spec.key.to_owned());
    let date = req
        .query
        .get("dateStart")
        .or_else(|| req.query.get("date"))
        .and_then(|d| d.parse::<NaiveDate>().ok());
    logged.date = date;
    let token = req
        .headers
        .get("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    logged.credentials_accepted = token_valid(state, token);
    if !logged.credentials_accepted {
        return Action::Reply(Reply::json(
            401,
            serde_json::json!({"error": "invalid or expired token"}),
        ));
    }
    let Some(date) = date else {
        return Action::Reply(Reply::json(
            400,
            serde_json::json!({"error": "dateStart (or date) is required"}),
        ));
    };
    if !state.config.latency.is_zero() {
        tokio::time::sleep(state.config.latency).await;
    }
    let fault = take_fault(state, |r| r.matches(spec.key, date));
    let render_query = |query: &BTreeMap<String, String>| {
        let request = bodies::Request {
            key: spec.key,
            date,
            query,
            epoch: state.epoch.load(Ordering::SeqCst),
            now: state.now(),
            base_url: &state.base_url,
            path: &req.path,
            facebook_page_size: state.config.facebook_page_size,
            smartnews_page_size: state.config.smartnews_page_size,
        };
        bodies::render(&state.universe, &request)
    };
    let render = || render_query(&req.query);
    let normal = |rendered: Option<bodies::Rendered>| match rendered {
        Some(r) => Action::Reply(Reply {
            status: 200,
            content_type: r.content_type,
            headers: vec![],
            body: r.body,
        }),
        None => Action::Reply(Reply::json(404, serde_json::json!({"error": "not found"}))),
    };
    match fault {
        None => normal(render()),
        Some(FaultKind::Gateway(code)) => Action::Reply(Reply {
            status: code,
            content_type: "text/html",
            headers: vec![],
            body: format!("<html><head><title>{code} {}</title></head><body><center><h1>{code} {}</h1></center><hr><center>nginx</center></body></html>", reason(code), reason(code)).into_bytes(),
        }),
        Some(FaultKind::NotFound) => Action::Reply(Reply::json(404, serde_json::json!({"error": "not found"}))),
        Some(FaultKind::TooManyRequests) => Action::Reply(Reply {
            status: 429,
            content_type: "application/json",
            headers: vec![("Retry-After", "1".into())],
            body: br#"{"message":"Too Many Requests"}"#.to_vec(),
        }),
        Some(FaultKind::Throttle) => Action::Reply(match spec.platform {
            "outbrain" => Reply {
                status: 429,
                content_type: "application/json",
                headers: vec![("rate-limit-msec-left", "1500".into())],
                body: br#"{"message":"rate limit exceeded"}"#.to_vec(),
            },
            "newsbreak" => Reply::json(200, serde_json::json!({"code": 4034, "errMsg": "rate limit", "data": null})),
            "facebook" => Reply::json(400, serde_json::json!({"error": {"message": "(#17) User request limit reached", "type": "OAuthException", "code": 17, "error_subcode": 2_446_079, "fbtrace_id": "AqZ3xYb1c2D"}})),
            _ => Reply { status: 429, content_type: "application/json", headers: vec![("Retry-After", "1".into())], body: br#"{"message":"Too Many Requests"}"#.to_vec() },
        }),
        Some(FaultKind::Timeout) => Action::Hang,
        Some(FaultKind::Reset) => Action::Reset,
        Some(FaultKind::Truncated) => match render() {
            Some(r) => {
                let cut = r.body.len() / 2;
                Action::Reply(Reply { status: 200, content_type: r.content_type, headers: vec![], body: r.body[..cut].to_vec() })
            }
            None => normal(None),
        },
        Some(FaultKind::Garbage) => Action::Reply(Reply {
            status: 200,
            content_type: if spec.key == "zemanta_report" { "text/csv" } else { "application/json" },
            headers: vec![],
            body: b"\x00\x01<<garbage>>\xff".to_vec(),
        }),
        Some(FaultKind::UnauthorizedOnce) => {
            logged.credentials_accepted = false;
            Action::Reply(Reply::json(401, serde_json::json!({"error": "token revoked"})))
        }
        Some(FaultKind::Slow(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            normal(render())
        }
        Some(FaultKind::Redirect { status, origin }) => Action::Reply(redirect(status, &origin, req)),
        Some(FaultKind::CursorLoop) => {
            let rendered = render();
            if !req.query.contains_key("after") {
                return normal(rendered);
            }
            let mut first = req.query.clone();
            first.remove("after");
            let first = render_query(&first);
            normal(rendered.map(|r| bodies::with_paging_of(r, first.as_ref())))
        }
        Some(FaultKind::IgnorePage) => {
            let mut first = req.query.clone();
            first.remove("page");
            first.remove("after");
            normal(render_query(&first))
        }
        Some(FaultKind::Huge(mb)) => normal(render().map(|r| bodies::grown(r, spec, mb * 1_048_576))),
        Some(FaultKind::RenamedColumn) => {
            let mut rendered = render();
            if let Some(r) = rendered.as_mut() {
                r.body = bodies::rename_csv_column(&r.body, faults::ZEMANTA_SPEND_COLUMN, faults::ZEMANTA_SPEND_RENAMED);
            }
            normal(rendered)
        }
    }
}

/// The first rule `applies` to, its count taken down by one.
fn take_fault(state: &State, applies: impl Fn(&FaultRule) -> bool) -> Option<FaultKind> {
    let mut rules = state.faults.lock().ok()?;
    let rule = rules.iter_mut().find(|r| applies(r))?;
    if let Some(n) = rule.remaining.as_mut() {
        *n -= 1;
    }
    Some(rule.kind.clone())
}

/// A `status` redirect to the request's own path and query at `origin`.
fn redirect(status: u16, origin: &str, req: &HttpRequest) -> Reply {
    let location = match url::Url::parse(origin) {
        Ok(mut to) => {
            to.set_path(&req.path);
            if !req.query.is_empty() {
                to.query_pairs_mut().extend_pairs(&req.query);
            }
            to.to_string()
        }
        Err(_) => origin.to_owned(),
    };
    let title = format!("{status} {}", reason(status));
    Reply {
        status,
        content_type: "text/html",
        headers: vec![("Location", location)],
        body: format!("<html><head><title>{title}</title></head><body>{title}</body></html>")
            .into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_values() {
        let (path, query) = request_target("/api/x?d=a%2Cb+c&p=100%&p=2&flag").unwrap();
        assert_eq!(path, "/api/x");
        let q = |k: &str| query.get(k).map(String::as_str);
        assert_eq!((q("d"), q("p"), q("flag")), (Some("a,b c"), Some("2"), Some("")));
    }
}
