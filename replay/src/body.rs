//! Reading one response body of an endpoint: what it says about itself (data, an in-body
//! throttle or error, a body that breaks its contract), where the next page is, and its rows.
//! Ingest and the projector both read bodies only through [`read`], so they cannot disagree
//! about a body: ingest to decide whether to retry and when a fetch is done, the projector to
//! take its rows.
//!
//! Invariants: the verdict depends on the status, the page asked for and the bytes alone;
//! reading never panics on any input; rows are read against the endpoint's [`Contract`].

use crate::contract::{BodyError, Contract, Format, RowError, Seen};
use crate::decode::{Decoded, Locator, RowCollector};
use crate::registry::{EndpointSpec, Pagination};
use crate::stream;

/// What a body says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Data: `items` items in its row array, `bad_rows` of its rows unreadable, and where the
    /// next page is.
    Data { items: usize, bad_rows: usize, next: NextPage },
    /// A throttle expressed inside a body (NewsBreak `code` 4034, Facebook error codes
    /// 17/4/613/80000). Retry like a 429.
    Throttled { detail: String },
    /// An error object in the body, or a status that is no success: give up.
    Rejected { detail: String },
    /// The body breaks the endpoint's contract (or is no JSON or CSV at all).
    Broken { error: BodyError },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextPage {
    Done,
    Page(u32),
    Cursor(String),
}

/// A body, read: its verdict and, when asked for and it is data, its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<'b> {
    pub probe: Probe,
    pub rows: Option<Decoded<'b>>,
}

/// The top-level members of a JSON body a verdict reads, each the last of its key.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Envelope {
    pub error: Option<serde_json::Value>,
    pub code: Option<serde_json::Value>,
    pub err_msg: Option<serde_json::Value>,
    pub paging: Option<serde_json::Value>,
    pub pagination: Option<serde_json::Value>,
}

const FACEBOOK_THROTTLE_CODES: [i64; 4] = [17, 4, 613, 80000];

/// Reads one page of `spec` (page number `page`, `limit` rows asked for) that answered
/// `status`. Rows are kept only when `keep_rows`: ingest only counts them.
pub fn read<'b>(
    spec: &EndpointSpec,
    status: u16,
    body: &'b [u8],
    page: u32,
    limit: u32,
    keep_rows: bool,
) -> Page<'b> {
    let contract = &spec.contract;
    if contract.format == Format::Csv {
        if !(200..300).contains(&status) {
            return Page {
                probe: Probe::Rejected { detail: format!("HTTP {status}") },
                rows: None,
            };
        }
        return match read_csv(contract, body, keep_rows) {
            Ok((rows, good)) => {
                let probe = Probe::Data {
                    items: good + rows.bad_rows.len(),
                    bad_rows: rows.bad_rows.len(),
                    next: NextPage::Done,
                };
                Page { probe, rows: keep_rows.then_some(rows) }
            }
            Err(error) => Page { probe: Probe::Broken { error }, rows: None },
        };
    }
    let document = match stream::read(&spec.contract, body, keep_rows) {
        Ok(document) => document,
        Err(detail) => {
            return Page {
                probe: Probe::Broken { error: BodyError::NotJson { detail } },
                rows: None,
            }
        }
    };
    if let Some(probe) = in_body_error(status, &document.envelope) {
        return Page { probe, rows: None };
    }
    match document.found {
        None => Page {
            probe: Probe::Broken {
                error: BodyError::NoRowArray { pointers: pointers(&spec.contract) },
            },
            rows: None,
        },
        Some(found) => verdict(
            spec,
            status,
            &document.envelope,
            page,
            limit,
            found.items,
            found.rows,
            found.seen,
            keep_rows,
        ),
    }
}

fn pointers(contract: &Contract) -> String {
    let shown: Vec<String> = contract
        .rows
        .iter()
        .map(|p| if p.is_empty() { "the document".to_owned() } else { format!("`{p}`") })
        .collect();
    shown.join(" or ")
}

/// An error object or in-body throttle, or a status that is no success.
fn in_body_error(status: u16, envelope: &Envelope) -> Option<Probe> {
    if let Some(err) = envelope.error.as_ref().filter(|e| e.is_object()) {
        let code = err.get("code").and_then(serde_json::Value::as_i64).unwrap_or_default();
        let message = err.get("message").and_then(serde_json::Value::as_str).unwrap_or_default();
        let detail = format!("error code {code}: {message}");
        return Some(if FACEBOOK_THROTTLE_CODES.contains(&code) {
            Probe::Throttled { detail }
        } else {
            Probe::Rejected { detail }
        });
    }
    if !(200..300).contains(&status) {
        return Some(Probe::Rejected { detail: format!("HTTP {status}") });
    }
    match envelope.code.as_ref().and_then(serde_json::Value::as_i64) {
        Some(4034) => Some(Probe::Throttled { detail: "code 4034 rate limit".into() }),
        Some(code) if code != 0 => {
            let msg =
                envelope.err_msg.as_ref().and_then(serde_json::Value::as_str).unwrap_or_default();
            Some(Probe::Rejected { detail: format!("code {code}: {msg}") })
        }
        _ => None,
    }
}

/// The verdict on a body whose row array held `items` items, read into `rows`.
#[allow(clippy::too_many_arguments)]
fn verdict<'b>(
    spec: &EndpointSpec,
    status: u16,
    envelope: &Envelope,
    page: u32,
    limit: u32,
    items: usize,
    rows: RowCollector<'b>,
    seen: Seen,
    keep: bool,
) -> Page<'b> {
    if let Some(probe) = in_body_error(status, envelope) {
        return Page { probe, rows: None };
    }
    let (rows, good) = rows.finish();
    if let Err(error) = whole(&spec.contract, good, &rows, seen) {
        return Page { probe: Probe::Broken { error }, rows: None };
    }
    let next = match next_page(spec, envelope, page, limit, items) {
        Ok(next) => next,
        Err(error) => return Page { probe: Probe::Broken { error }, rows: None },
    };
    Page {
        probe: Probe::Data { items, bad_rows: rows.bad_rows.len(), next },
        rows: keep.then_some(rows),
    }
}

/// Whether a body's rows, as a whole, keep the contract: every required field carried by
/// some row, and some row readable.
fn whole(
    contract: &Contract,
    good: usize,
    rows: &Decoded<'_>,
    seen: Seen,
) -> Result<(), BodyError> {
    if good == 0 && rows.bad_rows.is_empty() {
        return Ok(());
    }
    if let Some(field) = contract.missing(seen).next() {
        return Err(BodyError::MissingField { field });
    }
    match rows.bad_rows.first() {
        Some(first) if good == 0 => Err(BodyError::EveryRowBad {
            rows: rows.bad_rows.len(),
            locator: first.locator.clone(),
            error: first.error.clone(),
        }),
        _ => Ok(()),
    }
}

fn next_page(
    spec: &EndpointSpec,
    envelope: &Envelope,
    page: u32,
    limit: u32,
    items: usize,
) -> Result<NextPage, BodyError> {
    Ok(match spec.pagination {
        Pagination::None => NextPage::Done,
        Pagination::PageLimit => {
            if limit > 0 && items as u64 >= u64::from(limit) {
                NextPage::Page(page.saturating_add(1))
            } else {
                NextPage::Done
            }
        }
        Pagination::Cursor => {
            let paging = envelope.paging.as_ref();
            let has_next = paging.and_then(|p| p.get("next")).is_some_and(|n| !n.is_null());
            let after = paging
                .and_then(|p| p.pointer("/cursors/after"))
                .and_then(serde_json::Value::as_str);
            match (has_next, after) {
                (true, Some(after)) => NextPage::Cursor(after.to_owned()),
                (true, None) => {
                    return Err(BodyError::NoRowArray {
                        pointers: "paging.cursors.after (paging.next is set)".into(),
                    })
                }
                _ => NextPage::Done,
            }
        }
        Pagination::TotalPages => {
            let total = envelope
                .pagination
                .as_ref()
                .and_then(|p| p.pointer("/total_pages"))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(1);
            if u64::from(page) < total {
                NextPage::Page(page.saturating_add(1))
            } else {
                NextPage::Done
            }
        }
    })
}

/// A CSV body: a header naming the columns, then records. A header that names none of the
/// contract's columns is no report at all (an HTML error page, garbage); one that lacks a
/// required column is a report whose columns were renamed.
fn read_csv(
    contract: &Contract,
    body: &[u8],
    keep: bool,
) -> Result<(Decoded<'static>, usize), BodyError> {
    if std::str::from_utf8(body).is_err() {
        return Err(BodyError::NotCsv { detail: "not UTF-8".into() });
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(body);
    let header = reader.headers().map_err(|e| BodyError::NotCsv { detail: e.to_string() })?.clone();
    if !contract.fields.iter().any(|f| header.iter().any(|h| h.trim() == f.key)) {
        return Err(BodyError::NotCsv {
            detail: "its header names none of the report's columns".into(),
        });
    }
    let columns = contract.csv_columns(&header)?;
    let mut rows = if keep { RowCollector::new("", 0) } else { RowCollector::counting("") };
    let mut seen = Seen::default();
    let mut record = csv::StringRecord::new();
    // Locators name physical lines (`line N`, counting `\n`s from the header's line 1), as
    // the audit finds them again; the csv crate's own line count differs for `\r\n`.
    let mut lines = LineCounter::default();
    loop {
        let before = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let start = record.position().map_or(before, |p| p.byte());
                let line = lines.line_at(body, start);
                let row = contract.read_csv(&columns, &record).map(|r| r.into_owned());
                rows.push_at(Locator::text(&format!("line {line}")), row);
                for (i, at) in columns.iter().enumerate() {
                    if at.is_some() {
                        seen.add(i);
                    }
                }
            }
            Err(e) => {
                let line = lines.line_at(body, before);
                rows.push_at(
                    Locator::text(&format!("line {line}")),
                    Err(RowError::Csv { detail: e.to_string() }),
                );
                if reader.position().byte() == before {
                    break;
                }
            }
        }
    }
    let (rows, good) = rows.finish();
    whole(contract, good, &rows, seen)?;
    Ok((rows, good))
}

#[cfg(test)]
#[path = "body_tests.rs"]
mod tests;

/// The line of a byte offset, counted forward from the last offset asked for.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: usize,
}

impl LineCounter {
    /// The 1-based line holding byte `offset` of `body` (offsets asked in ascending order).
    fn line_at(&mut self, body: &[u8], offset: u64) -> usize {
        let mut offset = usize::try_from(offset).unwrap_or(usize::MAX).min(body.len());
        // A record after a `\r\n` may be placed at its `\n`: the record starts after it.
        while matches!(body.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        if offset > self.offset {
            self.newlines += body[self.offset..offset].iter().filter(|b| **b == b'\n').count();
            self.offset = offset;
        }
        self.newlines + 1
    }
}
