//! Shared decoding vocabulary: the [`SourceRow`] every endpoint decoder produces, and the
//! tolerant value readers the contract calls for (numbers as strings or numbers, thousands
//! separators, integral floats like `23.0` for counts, exact decimal money).
//!
//! A field that is absent or `null` decodes to `None`, never to zero; an explicit `0` is
//! `Some(0)`. A value that is present but unreadable is an error for that row.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;

pub use crate::contract::RowError;

/// One row of one endpoint's body, in the projector's vocabulary. Only what the body said is
/// filled in; merging decides what wins. Text borrows from the body (`'b`) unless it had to be
/// unescaped or converted: a day's bodies hold millions of short ids and names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceRow<'b> {
    /// Where in the body: a JSON pointer (`/data/3`) or `line N` for CSV.
    pub locator: Locator,
    pub date: Option<chrono::NaiveDate>,
    pub hour: Option<u8>,
    pub strategis_id: Option<Cow<'b, str>>,
    pub platform_campaign_id: Option<Cow<'b, str>>,
    pub campaign_name: Option<Cow<'b, str>>,
    pub adset_id: Option<Cow<'b, str>>,
    pub adset_name: Option<Cow<'b, str>>,
    pub network_id: Option<Cow<'b, str>>,
    pub account_id: Option<Cow<'b, str>>,
    pub rsoc_site: Option<Cow<'b, str>>,
    pub buyer: Option<Cow<'b, str>>,
    pub category: Option<Cow<'b, str>>,
    pub lane: Option<Cow<'b, str>>,
    pub revenue: Option<Decimal>,
    pub sessions: Option<i64>,
    pub s1_clicks: Option<i64>,
    pub spend: Option<Decimal>,
    pub clicks: Option<i64>,
    pub impressions: Option<i64>,
    pub conversions: Option<i64>,
    pub rpc: Option<Decimal>,
}

impl SourceRow<'_> {
    /// The same row, owning its text: for decoders whose rows outlive what they read from.
    pub fn into_owned(self) -> SourceRow<'static> {
        let own = |t: Option<Cow<'_, str>>| t.map(|t| Cow::Owned(t.into_owned()));
        SourceRow {
            locator: self.locator,
            date: self.date,
            hour: self.hour,
            strategis_id: own(self.strategis_id),
            platform_campaign_id: own(self.platform_campaign_id),
            campaign_name: own(self.campaign_name),
            adset_id: own(self.adset_id),
            adset_name: own(self.adset_name),
            network_id: own(self.network_id),
            account_id: own(self.account_id),
            rsoc_site: own(self.rsoc_site),
            buyer: own(self.buyer),
            category: own(self.category),
            lane: own(self.lane),
            revenue: self.revenue,
            sessions: self.sessions,
            s1_clicks: self.s1_clicks,
            spend: self.spend,
            clicks: self.clicks,
            impressions: self.impressions,
            conversions: self.conversions,
            rpc: self.rpc,
        }
    }
}

/// The decoded rows of one body, and the rows that could not be decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded<'b> {
    pub rows: Vec<SourceRow<'b>>,
    pub bad_rows: Vec<BadRow>,
}

/// A row of a body that could not be read, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub locator: String,
    pub error: RowError,
}

/// Collects the rows of one array as they are read, each with its locator
/// (`{prefix}/{index}`), split into rows and bad rows.
pub struct RowCollector<'b> {
    out: Decoded<'b>,
    prefix: Arc<str>,
    /// Keep the rows read, or only count them (ingest reads a body to judge it, and a body
    /// may be a hundred megabytes of rows).
    keep: bool,
    /// Rows read, kept or not.
    good: usize,
}

impl<'b> RowCollector<'b> {
    /// Rows of the array at `prefix`; `capacity` rows expected.
    pub fn new(prefix: &str, capacity: usize) -> Self {
        RowCollector {
            out: Decoded { rows: Vec::with_capacity(capacity), bad_rows: Vec::new() },
            prefix: Arc::from(prefix),
            keep: true,
            good: 0,
        }
    }

    /// A collector that counts the rows it is given and keeps only the bad ones.
    pub fn counting(prefix: &str) -> Self {
        RowCollector { keep: false, ..RowCollector::new(prefix, 0) }
    }

    /// Item `index` of the array, read.
    pub fn push(&mut self, index: usize, row: Result<SourceRow<'b>, RowError>) {
        self.push_at(Locator::indexed(&self.prefix, index), row);
    }

    /// A row read from anywhere in the body (a nested array's item), at `locator`.
    pub fn push_at(&mut self, locator: Locator, row: Result<SourceRow<'b>, RowError>) {
        match row {
            Ok(mut r) => {
                self.good += 1;
                if self.keep {
                    r.locator = locator;
                    self.out.rows.push(r);
                }
            }
            Err(error) => self.out.bad_rows.push(BadRow { locator: locator.to_string(), error }),
        }
    }

    /// Rows read so far, good and bad.
    pub fn len(&self) -> usize {
        self.good + self.out.bad_rows.len()
    }

    /// Good rows read so far, kept or only counted.
    pub fn good(&self) -> usize {
        self.good
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows (none when only counting) and the bad rows, and how many good rows there were.
    pub fn finish(self) -> (Decoded<'b>, usize) {
        (self.out, self.good)
    }
}

/// Where a row is in its body. Most rows are the items of one array, `{prefix}/{index}`: they
/// share their body's prefix and are printed only when written out, so a body's hundred
/// thousand rows do not each allocate their locator. Any other text (`line 7` of a CSV) is
/// kept whole. The form is canonical, so equal texts are equal locators: text of the form
/// `{prefix}/{index}` (index plain digits, no leading zero) is always held split.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Locator {
    prefix: Arc<str>,
    /// `None`: `prefix` is the whole locator.
    index: Option<u32>,
}

impl Locator {
    /// Item `index` of the array at `prefix`.
    pub fn indexed(prefix: &Arc<str>, index: usize) -> Self {
        match u32::try_from(index) {
            Ok(index) => Locator { prefix: prefix.clone(), index: Some(index) },
            Err(_) => Locator { prefix: Arc::from(format!("{prefix}/{index}")), index: None },
        }
    }

    pub fn text(text: &str) -> Self {
        match split_locator(text) {
            (prefix, Some(index)) => Locator { prefix: Arc::from(prefix), index: Some(index) },
            _ => Locator { prefix: Arc::from(text), index: None },
        }
    }

    /// The prefix, shared by the rows of one array; all of the locator when it has no index.
    pub fn prefix(&self) -> &Arc<str> {
        &self.prefix
    }

    /// (prefix, row index) when the locator is `{prefix}/{index}`; else (all of it, `None`).
    pub fn split(&self) -> (&str, Option<u32>) {
        (&self.prefix, self.index)
    }

    /// The length of the printed locator, in bytes.
    pub fn len(&self) -> usize {
        self.prefix.len()
            + self.index.map_or(0, |i| 1 + i.checked_ilog10().unwrap_or(0) as usize + 1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Locator {
    /// Appends the locator as [`fmt::Display`] prints it, without the formatting machinery:
    /// the writer prints one for every lineage entry.
    pub fn push_to(&self, out: &mut String) {
        out.push_str(&self.prefix);
        if let Some(index) = self.index {
            out.push('/');
            let mut digits = [0u8; 10];
            let mut at = digits.len();
            let mut n = index;
            loop {
                at -= 1;
                digits[at] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            out.extend(digits[at..].iter().map(|&d| char::from(d)));
        }
    }
}

impl fmt::Display for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}/{i}", self.prefix),
            None => f.write_str(&self.prefix),
        }
    }
}

impl fmt::Debug for Locator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl From<&str> for Locator {
    fn from(text: &str) -> Self {
        Locator::text(text)
    }
}

impl PartialEq<str> for Locator {
    fn eq(&self, other: &str) -> bool {
        *self == Locator::text(other)
    }
}

/// Splits a locator into its prefix and row index: `/data/data/17` → (`/data/data`, 17). A
/// locator whose last segment is not a plain index is all prefix.
pub fn split_locator(locator: &str) -> (&str, Option<u32>) {
    if let Some((prefix, last)) = locator.rsplit_once('/') {
        if let Some(index) = row_index(last) {
            return (prefix, Some(index));
        }
    }
    (locator, None)
}

/// A locator's last segment as a row index, if it is one written the way locators write it
/// (plain digits, no leading zero), so that the index prints back to the same text.
fn row_index(segment: &str) -> Option<u32> {
    let canonical = !segment.is_empty()
        && segment.bytes().all(|b| b.is_ascii_digit())
        && (segment == "0" || !segment.starts_with('0'));
    canonical.then(|| segment.parse().ok()).flatten()
}

/// `str::trim`, without its per-character Unicode check for the usual value that starts and
/// ends with a visible ASCII character (every id, count and amount of a report body).
fn trim(s: &str) -> &str {
    match s.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => s,
        [only] if only.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// One field's value as a body gave it: what the readers below read. Strings borrow from the
/// body unless they had to be unescaped; arrays and objects are kept as their JSON text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'b> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'b, str>),
    /// An array or an object, as JSON text.
    Composite(Cow<'b, str>),
}

impl<'b> Value<'b> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A scalar of a `serde_json` document; arrays and objects as their text.
    pub fn of_json(value: &serde_json::Value) -> Value<'static> {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.clone()),
            serde_json::Value::String(s) => Value::String(Cow::Owned(s.clone())),
            composite => Value::Composite(Cow::Owned(composite.to_string())),
        }
    }
}

impl fmt::Display for Value<'_> {
    /// As JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{}", serde_json::Value::String(s.to_string())),
            Value::Composite(text) => f.write_str(text),
        }
    }
}

/// A value as an error message shows it: its JSON text, cut short.
pub fn shown(value: &Value<'_>) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Text from a string, number or boolean; empty text (after trimming) is no value.
pub fn text<'b>(value: &Value<'b>) -> Option<Cow<'b, str>> {
    match value {
        Value::String(s) if trim(s).is_empty() => None,
        Value::String(Cow::Borrowed(s)) => Some(Cow::Borrowed(trim(s))),
        Value::String(Cow::Owned(s)) => Some(Cow::Owned(trim(s).to_owned())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// Exact decimal from a JSON number or a string, with `,` thousands separators allowed.
/// `null` and empty text are no value.
pub fn money(field: &'static str, value: &Value<'_>) -> Result<Option<Decimal>, RowError> {
    let mut float_text = ryu::Buffer::new();
    let raw = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => return bounded_money(field, Decimal::from(i)),
            // The text serde_json prints for a float (it prints with ryu too), without a
            // String and the formatting machinery.
            (None, Some(f)) if n.is_f64() && f.is_finite() => {
                Cow::Borrowed(float_text.format_finite(f))
            }
            _ => Cow::Owned(n.to_string()),
        },
        Value::String(s) if trim(s).is_empty() => return Ok(None),
        Value::String(s) if s.contains(',') => Cow::Owned(trim(s).replace(',', "")),
        Value::String(s) => Cow::Borrowed(trim(s)),
        other => {
            return Err(RowError::Invalid { field, value: shown(other), expected: "a number" })
        }
    };
    match parse_decimal(&raw) {
        Some(d) => bounded_money(field, d),
        None => Err(RowError::Invalid { field, value: shown(value), expected: "a number" }),
    }
}

/// 10^12: money is stored as DECIMAL(18,6), below that in magnitude. A row with a larger value
/// is a bad row, so that sums of good values stay far from Decimal's range.
const MONEY_LIMIT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

fn bounded_money(field: &'static str, value: Decimal) -> Result<Option<Decimal>, RowError> {
    // A mantissa below the limit is a value below it (the scale only divides): one integer
    // comparison instead of Decimal's, which rescales first.
    if value.mantissa().unsigned_abs() < MONEY_LIMIT.mantissa().unsigned_abs() {
        return Ok(Some(value));
    }
    if value.abs() >= MONEY_LIMIT {
        return Err(RowError::OutOfRange {
            field,
            value: value.to_string(),
            limit: "what DECIMAL(18,6) holds",
        });
    }
    Ok(Some(value))
}

/// Counts past 10^15 (a million billion) are garbage, not traffic: such a row is a bad row, so
/// that a sum of counts overflows only past thousands of maximal rows in one group, and
/// [`sum_opt`] saturates there instead of wrapping or panicking.
const COUNT_LIMIT: i64 = 1_000_000_000_000_000;

fn bounded_count(field: &'static str, count: i64) -> Result<Option<i64>, RowError> {
    if count.unsigned_abs() >= COUNT_LIMIT as u64 {
        return Err(RowError::OutOfRange {
            field,
            value: count.to_string(),
            limit: "any count this pipeline stores (10^15)",
        });
    }
    Ok(Some(count))
}

pub fn parse_decimal(raw: &str) -> Option<Decimal> {
    use std::str::FromStr;
    plain_decimal(raw)
        .or_else(|| Decimal::from_str(raw).ok())
        .or_else(|| Decimal::from_scientific(raw).ok())
}

/// `Decimal::from_str` of the common case, unsigned `digits[.digits]` of 18 digits at most,
/// without its general parser: the same mantissa and scale, so an equal and equally printed
/// value. `None` for anything else.
fn plain_decimal(raw: &str) -> Option<Decimal> {
    let (whole, fraction) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty()
        || whole.len() + fraction.len() > 18
        || (raw.len() > whole.len() && fraction.is_empty())
    {
        return None;
    }
    let mantissa = whole
        .bytes()
        .chain(fraction.bytes())
        .try_fold(0i64, |n, b| b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0')))?;
    Some(Decimal::new(mantissa, fraction.len() as u32))
}

/// A count: an integer, or an integral float (`23.0`), from a number or a string.
pub fn count(field: &'static str, value: &Value<'_>) -> Result<Option<i64>, RowError> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return bounded_count(field, i);
            }
            // A whole float below 2^53 (`23.0`) is exactly that integer: the decimal path below
            // would print it, parse it and truncate it to the same number.
            if let Some(f) = n
                .as_f64()
                .filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0)
            {
                return bounded_count(field, f as i64);
            }
        }
        // Most counts arrive as strings of plain digits: no need for a decimal parse.
        Value::String(s) => {
            let digits = trim(s);
            let unsigned = digits.strip_prefix('-').unwrap_or(digits);
            if (1..=18).contains(&unsigned.len()) && unsigned.bytes().all(|b| b.is_ascii_digit()) {
                let count = digits.parse().map_err(|_| RowError::OutOfRange {
                    field,
                    value: digits.to_owned(),
                    limit: "a 64-bit count",
                })?;
                return bounded_count(field, count);
            }
        }
        _ => {}
    }
    let Some(d) = money(field, value).map_err(|e| match e {
        RowError::Invalid { field, value, .. } => {
            RowError::Invalid { field, value, expected: "a whole count" }
        }
        other => other,
    })?
    else {
        return Ok(None);
    };
    if !d.fract().is_zero() {
        return Err(RowError::Invalid { field, value: shown(value), expected: "a whole count" });
    }
    use rust_decimal::prelude::ToPrimitive;
    match d.trunc().to_i64() {
        Some(n) => bounded_count(field, n),
        None => Err(RowError::OutOfRange { field, value: d.to_string(), limit: "a 64-bit count" }),
    }
}

/// A value that is not the date (or date and hour) it should be. It carries nothing: the
/// caller names the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotADate;

/// `YYYY-MM-DD`, optionally followed by a time (`2025-11-23 00:00:00.0`).
pub fn date(value: &Value<'_>) -> Result<Option<chrono::NaiveDate>, NotADate> {
    if let Some(day) = value.as_str().and_then(iso_day) {
        return Ok(Some(day));
    }
    let Some(s) = text(value) else { return Ok(None) };
    let day = s.get(..10).unwrap_or(&s);
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map(Some).map_err(|_| NotADate)
}

/// `YYYY-MM-DD HH…` (or `YYYY-MM-DDTHH…`): the date and the hour.
pub fn date_hour(value: &Value<'_>) -> Result<Option<(chrono::NaiveDate, u8)>, NotADate> {
    let Some(day) = date(value)? else { return Ok(None) };
    let s = value.as_str().map(trim).ok_or(NotADate)?;
    let hour = s.get(11..13).filter(|_| matches!(s.as_bytes().get(10), Some(b' ' | b'T')));
    match hour.and_then(|h| h.parse::<u8>().ok()).filter(|h| *h < 24) {
        Some(h) => Ok(Some((day, h))),
        None => Err(NotADate),
    }
}

/// The common case of [`date`] without a format parser: `YYYY-MM-DD`, then anything.
fn iso_day(s: &str) -> Option<chrono::NaiveDate> {
    let b = trim(s).as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// A value that sums without panicking: decoded values are bounded (see [`COUNT_LIMIT`],
/// [`MONEY_LIMIT`]), so saturation takes thousands of maximal rows in one group.
pub trait Summable: Copy {
    fn plus(self, other: Self) -> Self;
}

impl Summable for i64 {
    fn plus(self, other: Self) -> Self {
        self.saturating_add(other)
    }
}

impl Summable for Decimal {
    fn plus(self, other: Self) -> Self {
        self.saturating_add(other)
    }
}

pub fn sum_opt<T: Summable>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.plus(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
