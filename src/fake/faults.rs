//! Fault injection rules for the fake upstream: `TARGET[@DATE]=KIND[*COUNT]`.
//!
//! `TARGET` is an endpoint key, `*` (every endpoint, never the login) or `login` (the
//! `POST /auth/login`, which takes no `@DATE` and only `redirect` kinds). `KIND` is one of:
//!
//! | kind | what the fake answers |
//! |---|---|
//! | `502`, `503`, `504` | that status with the gateway's HTML body |
//! | `404` | 404, as for a path the deployment lacks |
//! | `429` | 429 with `Retry-After: 1` |
//! | `throttle` | the platform's own throttle shape (Outbrain header, NewsBreak 4034, Facebook code 17) |
//! | `timeout`, `reset` | holds the connection, or resets it |
//! | `truncated`, `garbage` | a 200 whose body is cut in half, or is not the report at all |
//! | `401-once` | 401, as for a revoked token |
//! | `slow=MS` | the normal answer, MS milliseconds late |
//! | `redirect=ORIGIN` | 307 with `Location:` the same path and query at `ORIGIN` (`http://host:port`) |
//! | `redirect-NNN=ORIGIN` | the same with status NNN (301, 302, 303, 307 or 308) |
//! | `cursor-loop` | cursor endpoints: every page after the first points back at the cursor the first page handed out |
//! | `ignore-page` | paged endpoints: `page=` (and `after=`) are ignored, every page is the first |
//! | `renamed-column` | `zemanta_report`: the CSV's `Total Spend` column is called `Spend` |
//! | `huge=MB` | JSON endpoints: the normal body with its first row repeated until it is MB megabytes (a huge, valid report) |
//!
//! Without `*COUNT`, outages (5xx, 404, garbage, truncated, slow, redirects and the body
//! faults) last for every request, and one-off events (429, throttle, timeout, reset,
//! 401-once) happen once.
//!
//! Invariants: parsing never panics; a rule that parses names a real endpoint (or `*`/`login`)
//! and a kind that makes sense for it.

use adlake_replay::registry::Pagination;
use chrono::NaiveDate;

/// The target of rules about the login rather than a report.
pub const LOGIN: &str = "login";

/// The CSV column `renamed-column` renames, and what it becomes.
pub const ZEMANTA_SPEND_COLUMN: &str = "Total Spend";
pub const ZEMANTA_SPEND_RENAMED: &str = "Spend";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// 502/503/504 with the gateway's HTML body.
    Gateway(u16),
    NotFound,
    /// 429 with `Retry-After: 1`.
    TooManyRequests,
    /// The platform's own throttle shape (Outbrain header, NewsBreak 4034, Facebook code 17).
    Throttle,
    Timeout,
    Reset,
    Truncated,
    Garbage,
    UnauthorizedOnce,
    Slow(u64),
    /// A 3xx whose `Location` is the request's path and query at `origin`.
    Redirect {
        status: u16,
        origin: String,
    },
    /// Pages after the first hand back the first page's cursor as their next one.
    CursorLoop,
    /// Every page request is answered with the first page.
    IgnorePage,
    /// Zemanta's `Total Spend` column under another name.
    RenamedColumn,
    /// The normal body, its first row repeated until the body is this many megabytes.
    Huge(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// `None`: every endpoint (never the login).
    pub endpoint: Option<String>,
    pub date: Option<NaiveDate>,
    pub kind: FaultKind,
    /// `None`: every matching request.
    pub remaining: Option<u32>,
}

impl FaultRule {
    pub fn matches(&self, endpoint: &str, date: NaiveDate) -> bool {
        self.remaining != Some(0)
            && self.endpoint.as_deref().is_none_or(|e| e == endpoint && e != LOGIN)
            && self.date.is_none_or(|d| d == date)
    }

    pub fn matches_login(&self) -> bool {
        self.remaining != Some(0) && self.endpoint.as_deref() == Some(LOGIN)
    }
}

pub fn parse(spec: &str) -> Result<FaultRule, String> {
    let bad = |why: &str| format!("fault `{spec}`: {why} (expected TARGET[@DATE]=KIND[*COUNT])");
    let (target, kind) = spec.split_once('=').ok_or_else(|| bad("missing `=`"))?;
    let (endpoint, date) = match target.split_once('@') {
        Some((e, d)) => (e, Some(d.parse::<NaiveDate>().map_err(|_| bad("bad date"))?)),
        None => (target, None),
    };
    let endpoint = match endpoint {
        "*" => None,
        LOGIN if date.is_some() => return Err(bad("the login takes no @DATE")),
        LOGIN => Some(LOGIN.to_owned()),
        key if adlake_replay::endpoint(key).is_some() => Some(key.to_owned()),
        _ => return Err(bad("unknown endpoint")),
    };
    let (kind, count) = match kind.rsplit_once('*') {
        Some((k, n)) => (k, Some(n.parse::<u32>().map_err(|_| bad("bad count"))?)),
        None => (kind, None),
    };
    let kind = match kind {
        "502" | "503" | "504" => FaultKind::Gateway(kind.parse().unwrap_or(502)),
        "404" => FaultKind::NotFound,
        "429" => FaultKind::TooManyRequests,
        "throttle" => FaultKind::Throttle,
        "timeout" => FaultKind::Timeout,
        "reset" => FaultKind::Reset,
        "truncated" => FaultKind::Truncated,
        "garbage" => FaultKind::Garbage,
        "401-once" => FaultKind::UnauthorizedOnce,
        "cursor-loop" => FaultKind::CursorLoop,
        "ignore-page" => FaultKind::IgnorePage,
        "renamed-column" => FaultKind::RenamedColumn,
        other => match other.split_once('=') {
            Some(("slow", ms)) => FaultKind::Slow(ms.parse().map_err(|_| bad("bad slow=MS"))?),
            Some(("huge", mb)) => FaultKind::Huge(
                mb.parse()
                    .ok()
                    .filter(|mb| (1..=4096).contains(mb))
                    .ok_or_else(|| bad("huge=MB takes 1 to 4096"))?,
            ),
            Some((redirect, origin)) if redirect.starts_with("redirect") => {
                let status = match redirect.strip_prefix("redirect") {
                    Some("") => 307,
                    Some(code) => code
                        .strip_prefix('-')
                        .and_then(|c| c.parse::<u16>().ok())
                        .filter(|c| matches!(c, 301 | 302 | 303 | 307 | 308))
                        .ok_or_else(|| bad("redirect-NNN takes 301, 302, 303, 307 or 308"))?,
                    None => 307,
                };
                let parsed = url::Url::parse(origin).map_err(|_| bad("bad redirect origin"))?;
                if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
                    return Err(bad("a redirect goes to an http(s) origin"));
                }
                FaultKind::Redirect { status, origin: origin.trim_end_matches('/').to_owned() }
            }
            _ => return Err(bad("unknown kind")),
        },
    };
    let applies = match (&kind, endpoint.as_deref()) {
        (FaultKind::Redirect { .. }, _) => true,
        (_, Some(LOGIN)) => false,
        (FaultKind::CursorLoop, Some(key)) => {
            adlake_replay::endpoint(key).is_some_and(|s| s.pagination == Pagination::Cursor)
        }
        (FaultKind::IgnorePage, Some(key)) => {
            adlake_replay::endpoint(key).is_some_and(|s| s.pagination != Pagination::None)
        }
        (FaultKind::RenamedColumn, key) => key == Some("zemanta_report"),
        _ => true,
    };
    if !applies {
        return Err(bad("that kind does not apply to that target"));
    }
    let one_off = matches!(
        kind,
        FaultKind::TooManyRequests
            | FaultKind::Throttle
            | FaultKind::Timeout
            | FaultKind::Reset
            | FaultKind::UnauthorizedOnce
    );
    let remaining = count.or(if one_off { Some(1) } else { None });
    Ok(FaultRule { endpoint, date, kind, remaining })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules() {
        let r = parse("taboola_report@2025-11-23=502").unwrap();
        assert_eq!(r.kind, FaultKind::Gateway(502));
        assert_eq!(r.remaining, None);
        assert!(r.matches("taboola_report", "2025-11-23".parse().unwrap()));
        assert!(!r.matches("taboola_report", "2025-11-22".parse().unwrap()));
        assert_eq!(parse("*=429*3").unwrap().remaining, Some(3));
        assert_eq!(parse("outbrain_report=throttle").unwrap().remaining, Some(1));
        assert_eq!(parse("mediago_report=slow=50").unwrap().kind, FaultKind::Slow(50));
        assert!(parse("tiktok=502").is_err());
        assert!(parse("taboola_report=teapot").is_err());
    }

    #[test]
    fn parses_redirects_loops_and_renamed_columns() {
        let login = parse("login=redirect=http://localhost:4567").unwrap();
        assert_eq!(
            login.kind,
            FaultKind::Redirect { status: 307, origin: "http://localhost:4567".into() }
        );
        assert!(login.matches_login());
        assert!(!login.matches("taboola_report", "2025-11-23".parse().unwrap()));
        assert!(!parse("*=502").unwrap().matches_login(), "`*` never breaks the login");
        let report = parse("taboola_report=redirect-302=https://other.example/*1").unwrap();
        assert_eq!(
            (report.kind, report.remaining),
            (FaultKind::Redirect { status: 302, origin: "https://other.example".into() }, Some(1))
        );
        assert!(parse("taboola_report=redirect-200=http://h").is_err());
        assert!(parse("taboola_report=redirect=ftp://h").is_err());
        assert!(parse("login@2025-11-23=redirect=http://h").is_err());
        assert!(parse("login=502").is_err());
        assert_eq!(parse("facebook_report=cursor-loop").unwrap().kind, FaultKind::CursorLoop);
        assert!(parse("s1_daily_v3=cursor-loop").is_err(), "s1_daily_v3 pages by number");
        assert_eq!(parse("smartnews_report=ignore-page").unwrap().kind, FaultKind::IgnorePage);
        assert!(parse("taboola_report=ignore-page").is_err(), "taboola does not page");
        assert_eq!(
            parse("zemanta_report@2025-11-23=renamed-column").unwrap().kind,
            FaultKind::RenamedColumn
        );
        assert!(parse("taboola_report=renamed-column").is_err());
    }
}
