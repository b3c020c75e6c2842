//! Fault injection rules for the fake upstream: `ENDPOINT[@DATE]=KIND[*COUNT]`.
//! `ENDPOINT` may be `*`. Without `*COUNT`, outages (5xx, 404, garbage, truncated, slow) last
//! for every request and one-off events (429, throttle, timeout, reset, 401-once) happen once.

use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub endpoint: Option<String>,
    pub date: Option<NaiveDate>,
    pub kind: FaultKind,
    /// `None`: every matching request.
    pub remaining: Option<u32>,
}

impl FaultRule {
    pub fn matches(&self, endpoint: &str, date: NaiveDate) -> bool {
        self.remaining != Some(0)
            && self.endpoint.as_deref().is_none_or(|e| e == endpoint)
            && self.date.is_none_or(|d| d == date)
    }
}

pub fn parse(spec: &str) -> Result<FaultRule, String> {
    let bad = |why: &str| format!("fault `{spec}`: {why} (expected ENDPOINT[@DATE]=KIND[*COUNT])");
    let (target, kind) = spec.split_once('=').ok_or_else(|| bad("missing `=`"))?;
    let (endpoint, date) = match target.split_once('@') {
        Some((e, d)) => (e, Some(d.parse::<NaiveDate>().map_err(|_| bad("bad date"))?)),
        None => (target, None),
    };
    let endpoint = match endpoint {
        "*" => None,
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
        other => match other.strip_prefix("slow=") {
            Some(ms) => FaultKind::Slow(ms.parse().map_err(|_| bad("bad slow=MS"))?),
            None => return Err(bad("unknown kind")),
        },
    };
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
}
