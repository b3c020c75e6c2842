//! The 15 upstream endpoints of `upstream-contract.md`: key, platform, path, fixed query
//! parameters, pagination style and criticality. The connectors build requests from this
//! table, the fake upstream serves it, and the projector decodes it: one table, no copies.
//!
//! Also here, because both ingest and the projector need the same answer: [`probe`], a cheap
//! structural look at a body that says whether it is data, an in-body throttle, or unparseable,
//! and where the next page is. It reads no values.

use crate::decode::{DecodeError, Decoded, StreamedRows};
use crate::json::Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pagination {
    None,
    /// `page=1&limit=N`, until a page has fewer than `limit` rows.
    PageLimit,
    /// `paging.next` present means another page; request it with `after=<paging.cursors.after>`.
    Cursor,
    /// `page=1..pagination.total_pages`.
    TotalPages,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateParams {
    /// `dateStart=D&dateEnd=D`.
    Range,
    /// `date=D` only (S1 RPC average).
    Single,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Json,
    Csv,
}

#[derive(Debug)]
pub struct EndpointSpec {
    pub key: &'static str,
    pub platform: &'static str,
    pub path: &'static str,
    pub params: &'static [(&'static str, &'static str)],
    pub dates: DateParams,
    pub pagination: Pagination,
    pub format: BodyFormat,
    /// A revenue source: its failure fails the run.
    pub critical: bool,
    /// Feeds `session_hourly_metrics` rather than `campaign_index`.
    pub sessions: bool,
    /// The body decoder, in `endpoints/<key>.rs`.
    pub decoder: BodyDecoder,
}

/// An endpoint's decoder: JSON decoders take the parsed document, so that a body is parsed
/// once for both [`probe_value`] and decoding.
#[derive(Debug, Clone, Copy)]
pub enum BodyDecoder {
    Json(for<'b> fn(&Json<'b>) -> Result<Decoded<'b>, DecodeError>),
    Csv(fn(&[u8]) -> Result<Decoded<'_>, DecodeError>),
}

impl EndpointSpec {
    /// The row array the projector streams out of the parser, for endpoints whose bodies are
    /// most of a lake's bytes.
    pub fn streamed_rows(&self) -> Option<StreamedRows> {
        match self.key {
            "s1_hourly_v3" => Some(crate::endpoints::s1_hourly_v3::STREAMED),
            _ => None,
        }
    }

    /// Decodes one body of this endpoint.
    pub fn decode<'b>(&self, body: &'b [u8]) -> Result<Decoded<'b>, DecodeError> {
        match self.decoder {
            BodyDecoder::Json(decode) => decode(&crate::decode::parse_json(body)?),
            BodyDecoder::Csv(decode) => decode(body),
        }
    }
}

const ORG: (&str, &str) = ("organization", "Interlincx");
const RSOC: (&str, &str) = ("adSource", "rsoc");
const UTC: (&str, &str) = ("timezone", "UTC");
const CH: (&str, &str) = ("dbSource", "ch");

macro_rules! spec {
    ($key:ident, $platform:literal, $path:literal, [$($p:expr),*], $dates:ident, $pag:ident, $fmt:ident, $critical:literal, $sessions:literal) => {
        EndpointSpec {
            key: stringify!($key), decoder: BodyDecoder::$fmt(crate::endpoints::$key::decode), platform: $platform, path: $path, params: &[ORG, RSOC, $($p),*],
            dates: DateParams::$dates, pagination: Pagination::$pag, format: BodyFormat::$fmt,
            critical: $critical, sessions: $sessions,
        }
    };
}

pub static ENDPOINTS: [EndpointSpec; 15] = [
    spec!(
        s1_daily_v3,
        "all",
        "/api/s1/report/daily-v3",
        [UTC, CH, ("dimensions", "date-strategisCampaignId-buyer")],
        Range,
        PageLimit,
        Json,
        true,
        false
    ),
    spec!(
        s1_reconciled,
        "all",
        "/api/s1/high-level-report",
        [UTC, CH, ("dimensions", "date-strategisCampaignId")],
        Range,
        None,
        Json,
        true,
        false
    ),
    spec!(
        s1_rpc_average,
        "all",
        "/api/s1/rpc-average",
        [("days", "3"), UTC, ("dimensions", "strategisCampaignId")],
        Single,
        None,
        Json,
        false,
        false
    ),
    spec!(
        s1_hourly_v3,
        "all",
        "/api/s1/report/hourly-v3",
        [UTC, CH, ("dimensions", "date-hour-strategisCampaignId")],
        Range,
        PageLimit,
        Json,
        true,
        true
    ),
    spec!(
        facebook_report,
        "facebook",
        "/api/facebook/report",
        [
            ("networkName", "facebook"),
            ("level", "campaign"),
            ("dimensions", "campaignId"),
            ("cached", "1")
        ],
        Range,
        Cursor,
        Json,
        false,
        false
    ),
    spec!(
        facebook_campaigns,
        "facebook",
        "/api/facebook/campaigns",
        [],
        Range,
        Cursor,
        Json,
        false,
        false
    ),
    spec!(
        facebook_adsets,
        "facebook",
        "/api/facebook/adsets/day",
        [],
        Range,
        Cursor,
        Json,
        false,
        false
    ),
    spec!(
        facebook_pixel,
        "facebook",
        "/api/facebook-pixel-report",
        [("networkName", "facebook"), ("dimensions", "date-strategisCampaignId"), UTC],
        Range,
        None,
        Json,
        false,
        false
    ),
    spec!(
        strategis_metrics,
        "facebook",
        "/api/strategis-report",
        [("networkName", "facebook"), ("dimensions", "date-strategisCampaignId"), UTC],
        Range,
        PageLimit,
        Json,
        false,
        false
    ),
    spec!(
        taboola_report,
        "taboola",
        "/api/taboola/campaign-summary-report",
        [("cached", "1")],
        Range,
        None,
        Json,
        false,
        false
    ),
    spec!(
        outbrain_report,
        "outbrain",
        "/api/outbrain-hourly-report",
        [],
        Range,
        None,
        Json,
        false,
        false
    ),
    spec!(
        newsbreak_report,
        "newsbreak",
        "/api/newsbreak/report",
        [("dimensions", "date-strategisCampaignId")],
        Range,
        None,
        Json,
        false,
        false
    ),
    spec!(
        mediago_report,
        "mediago",
        "/api/mediago/report",
        [UTC, ("dimensions", "date-strategisCampaignId")],
        Range,
        None,
        Json,
        false,
        false
    ),
    spec!(
        zemanta_report,
        "zemanta",
        "/api/zemanta/reconciled-report",
        [("dimensions", "date-strategisCampaignId"), ("dbSource", "level")],
        Range,
        None,
        Csv,
        false,
        false
    ),
    spec!(
        smartnews_report,
        "smartnews",
        "/api/smartnews/report",
        [("dimensions", "date-strategisCampaignId")],
        Range,
        TotalPages,
        Json,
        false,
        false
    ),
];

/// An endpoint as a small number: its key's place in alphabetical order, so that ids compare
/// and sort exactly as their keys do without comparing text. The projector keys its per-source
/// maps and lineage sorts by it. Build one with [`endpoint_id!`](crate::endpoint_id) (checked
/// when compiling) or [`EndpointId::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EndpointId(u8);

impl EndpointId {
    /// Every endpoint key, alphabetical: the ids' numbering. Sorted from [`ENDPOINTS`] when
    /// compiling, so the registry stays the one list of endpoints.
    const KEYS: [&'static str; ENDPOINTS.len()] = {
        let mut keys = [""; ENDPOINTS.len()];
        let mut i = 0;
        while i < keys.len() {
            keys[i] = ENDPOINTS[i].key;
            i += 1;
        }
        // Insertion sort: const code has no `sort`, and there are fifteen.
        let mut i = 1;
        while i < keys.len() {
            let mut j = i;
            while j > 0 && crate::columns::const_str_lt(keys[j], keys[j - 1]) {
                let earlier = keys[j - 1];
                keys[j - 1] = keys[j];
                keys[j] = earlier;
                j -= 1;
            }
            i += 1;
        }
        keys
    };

    /// How many ids there are: one per endpoint.
    pub const COUNT: usize = Self::KEYS.len();

    /// The id of `key`; `None` for a key that is no endpoint's.
    pub const fn of(key: &str) -> Option<EndpointId> {
        let mut i = 0;
        while i < Self::KEYS.len() {
            if crate::columns::const_str_eq(Self::KEYS[i], key) {
                return Some(EndpointId(i as u8));
            }
            i += 1;
        }
        None
    }

    /// The id of a key known when compiling; an unknown key fails the build in
    /// [`endpoint_id!`](crate::endpoint_id).
    pub const fn named(key: &str) -> EndpointId {
        match Self::of(key) {
            Some(id) => id,
            None => panic!("not an endpoint key"),
        }
    }

    pub fn key(self) -> &'static str {
        Self::KEYS[usize::from(self.0)]
    }

    /// The id's place in `0..COUNT`, for arrays indexed by endpoint.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The [`EndpointId`] of a literal endpoint key, checked when compiling.
#[macro_export]
macro_rules! endpoint_id {
    ($key:literal) => {
        const { $crate::registry::EndpointId::named($key) }
    };
}

pub fn endpoint(key: &str) -> Option<&'static EndpointSpec> {
    ENDPOINTS.iter().find(|e| e.key == key)
}

pub fn keys() -> impl Iterator<Item = &'static str> {
    ENDPOINTS.iter().map(|e| e.key)
}

/// What a body says about itself, structurally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Data: `rows` rows on this page, and where the next page is.
    Data { rows: usize, next: NextPage },
    /// A throttle expressed inside a body (NewsBreak `code` 4034, Facebook error codes
    /// 17/4/613/80000). Retry like a 429.
    Throttled { detail: String },
    /// An error object in the body that is not a throttle: give up.
    Rejected { detail: String },
    /// Truncated or otherwise not what this endpoint sends.
    Unparseable { detail: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextPage {
    Done,
    Page(u32),
    Cursor(String),
}

const FACEBOOK_THROTTLE_CODES: [i64; 4] = [17, 4, 613, 80000];

/// Looks at one page of `spec` (page number `page`, requested `limit`).
pub fn probe(spec: &EndpointSpec, status: u16, body: &[u8], page: u32, limit: u32) -> Probe {
    if spec.format == BodyFormat::Csv {
        return probe_csv(body);
    }
    match Json::parse(body) {
        Ok(value) => probe_value(spec, status, &value, page, limit),
        Err(e) => Probe::Unparseable { detail: format!("not JSON: {e}") },
    }
}

/// [`probe`] of a JSON body already parsed.
pub fn probe_value(
    spec: &EndpointSpec,
    status: u16,
    value: &Json<'_>,
    page: u32,
    limit: u32,
) -> Probe {
    probe_document(spec, status, value, page, limit, None)
}

/// [`probe_value`] of a document whose row array was streamed out of it
/// ([`EndpointSpec::streamed_rows`]): `rows` items were in the array it left empty.
pub fn probe_streamed(
    spec: &EndpointSpec,
    status: u16,
    value: &Json<'_>,
    page: u32,
    limit: u32,
    rows: usize,
) -> Probe {
    probe_document(spec, status, value, page, limit, Some(rows))
}

fn probe_document(
    spec: &EndpointSpec,
    status: u16,
    value: &Json<'_>,
    page: u32,
    limit: u32,
    streamed_rows: Option<usize>,
) -> Probe {
    if let Some(err) = value.get("error").filter(|e| e.is_object()) {
        let code = err.get("code").and_then(Json::as_i64).unwrap_or_default();
        let message = err.get("message").and_then(Json::as_str).unwrap_or_default();
        let detail = format!("error code {code}: {message}");
        return if FACEBOOK_THROTTLE_CODES.contains(&code) {
            Probe::Throttled { detail }
        } else {
            Probe::Rejected { detail }
        };
    }
    if !(200..300).contains(&status) {
        return Probe::Rejected { detail: format!("HTTP {status}") };
    }
    if let Some(code) = value.get("code").and_then(Json::as_i64) {
        if code == 4034 {
            return Probe::Throttled { detail: "code 4034 rate limit".into() };
        }
        if code != 0 {
            let msg = value.get("errMsg").and_then(Json::as_str).unwrap_or_default();
            return Probe::Rejected { detail: format!("code {code}: {msg}") };
        }
    }
    let Some(rows) = row_array(spec, value) else {
        return Probe::Unparseable { detail: format!("no row array where {} puts it", spec.key) };
    };
    let n = streamed_rows.unwrap_or(rows.len());
    let next = match spec.pagination {
        Pagination::None => NextPage::Done,
        Pagination::PageLimit => {
            if n as u64 >= u64::from(limit) && limit > 0 {
                NextPage::Page(page + 1)
            } else {
                NextPage::Done
            }
        }
        Pagination::Cursor => {
            let paging = value.get("paging");
            let has_next = paging.and_then(|p| p.get("next")).is_some_and(|n| !n.is_null());
            let after = paging.and_then(|p| p.pointer("/cursors/after")).and_then(Json::as_str);
            match (has_next, after) {
                (true, Some(after)) => NextPage::Cursor(after.to_owned()),
                (true, None) => {
                    return Probe::Unparseable {
                        detail: "paging.next without paging.cursors.after".into(),
                    }
                }
                _ => NextPage::Done,
            }
        }
        Pagination::TotalPages => {
            let total =
                value.pointer("/pagination/total_pages").and_then(Json::as_u64).unwrap_or(1);
            if u64::from(page) < total {
                NextPage::Page(page + 1)
            } else {
                NextPage::Done
            }
        }
    };
    Probe::Data { rows: n, next }
}

/// The array of rows of an endpoint's body, whichever envelope variant it came in.
pub fn row_array<'a, 'b>(spec: &EndpointSpec, value: &'a Json<'b>) -> Option<&'a Vec<Json<'b>>> {
    let candidates: &[&str] = match spec.key {
        "s1_hourly_v3" => &["/data/data", "/data"],
        "s1_rpc_average" => &["/rows", "/data", ""],
        "taboola_report" | "mediago_report" => &["/results"],
        "outbrain_report" => &["/campaignResults"],
        "newsbreak_report" => &["/data/rows", "/rows"],
        _ => &["/data", "/rows", "/data/data", ""],
    };
    candidates.iter().find_map(|p| value.pointer(p).and_then(Json::as_array))
}

pub fn probe_csv(body: &[u8]) -> Probe {
    let Ok(text) = std::str::from_utf8(body) else {
        return Probe::Unparseable { detail: "CSV is not UTF-8".into() };
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    match lines.next() {
        Some(header) if header.starts_with("Day,") => {
            let columns = header.split(',').count();
            let mut rows = 0;
            for line in lines {
                if line.split(',').count() < columns {
                    return Probe::Unparseable {
                        detail: format!("CSV row {} has too few fields", rows + 1),
                    };
                }
                rows += 1;
            }
            Probe::Data { rows, next: NextPage::Done }
        }
        _ => Probe::Unparseable { detail: "CSV without its `Day,...` header".into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_ids_number_every_key_in_alphabetical_order() {
        let mut keys: Vec<_> = keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, EndpointId::KEYS);
        for (i, key) in keys.iter().enumerate() {
            let id = EndpointId::of(key).map(EndpointId::index);
            assert_eq!(id, Some(i), "{key}");
            assert_eq!(EndpointId::KEYS[i], *key);
        }
        assert_eq!(EndpointId::of("no_such_endpoint"), None);
        assert!(endpoint_id!("facebook_report") < endpoint_id!("s1_daily_v3"));
    }

    #[test]
    fn registry_has_fifteen_unique_keys() {
        let mut keys: Vec<_> = keys().collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 15);
    }

    #[test]
    fn probes_pagination_styles() {
        let fb = endpoint("facebook_report").unwrap();
        let body = br#"{"data":[{}],"paging":{"cursors":{"after":"MjQZD"},"next":"http://x"}}"#;
        assert_eq!(
            probe(fb, 200, body, 1, 500),
            Probe::Data { rows: 1, next: NextPage::Cursor("MjQZD".into()) }
        );
        let last = br#"{"data":[{}],"paging":{"cursors":{"after":"MjQZD"}}}"#;
        assert_eq!(probe(fb, 200, last, 2, 500), Probe::Data { rows: 1, next: NextPage::Done });
        let s1 = endpoint("s1_daily_v3").unwrap();
        assert_eq!(
            probe(s1, 200, br#"{"data":[{},{}],"page":1}"#, 1, 2),
            Probe::Data { rows: 2, next: NextPage::Page(2) }
        );
        assert_eq!(
            probe(s1, 200, br#"{"data":[{}],"page":2}"#, 2, 2),
            Probe::Data { rows: 1, next: NextPage::Done }
        );
        let hourly = endpoint("s1_hourly_v3").unwrap();
        assert_eq!(
            probe(hourly, 200, br#"{"data":{"data":[{}]}}"#, 1, 500),
            Probe::Data { rows: 1, next: NextPage::Done }
        );
        let sn = endpoint("smartnews_report").unwrap();
        assert_eq!(
            probe(sn, 200, br#"{"data":[],"pagination":{"total_pages":3}}"#, 1, 0),
            Probe::Data { rows: 0, next: NextPage::Page(2) }
        );
    }

    #[test]
    fn recognises_in_body_throttles_and_garbage() {
        let nb = endpoint("newsbreak_report").unwrap();
        assert!(matches!(
            probe(nb, 200, br#"{"code":4034,"errMsg":"rate limit","data":null}"#, 1, 0),
            Probe::Throttled { .. }
        ));
        let fb = endpoint("facebook_adsets").unwrap();
        assert!(matches!(
            probe(fb, 400, br#"{"error":{"message":"x","code":17}}"#, 1, 0),
            Probe::Throttled { .. }
        ));
        assert!(matches!(
            probe(fb, 400, br#"{"error":{"message":"x","code":100}}"#, 1, 0),
            Probe::Rejected { .. }
        ));
        assert!(matches!(
            probe(nb, 200, br#"{"code":0,"data":{"ro"#, 1, 0),
            Probe::Unparseable { .. }
        ));
        let z = endpoint("zemanta_report").unwrap();
        assert_eq!(
            probe(z, 200, b"Day,Campaign Id\n2025-11-23,1\n", 1, 0),
            Probe::Data { rows: 1, next: NextPage::Done }
        );
        assert!(matches!(probe(z, 200, b"<html>", 1, 0), Probe::Unparseable { .. }));
    }
}
