//! A JSON document that borrows from the body it was parsed from, and its parser: the
//! projector's parse target. `serde_json::Value` allocates a `String` for every key and string
//! and a `BTreeMap` for every object; report bodies are mostly short objects of short strings,
//! so borrowing them and keeping objects as small vectors costs a fraction of that.
//!
//! One array of a document can be streamed instead of kept ([`Json::parse_streaming`]): its
//! items go to a callback as they are parsed, so a body's rows are decoded without ever being
//! a tree.
//!
//! The parser is a strict RFC 8259 recursive descent of its own: serde_json's scanner is not
//! generic, so it is compiled at the dev profile's -O0 (it cannot be optimised on its own
//! without rebuilding DuckDB, whose build script shares it), while this one is compiled with
//! the projector. It accepts exactly what serde_json accepts (tested against it, including
//! every truncation of valid documents), nests at most 128 deep like serde_json, and never
//! panics on input.
//!
//! Semantics follow `serde_json::Value` where the decoders rely on them: a repeated key keeps
//! its last value, numbers are `serde_json::Number` (so they print the same), and JSON
//! pointers use RFC 6901 (`~1` for `/`, `~0` for `~`). Floats are correctly rounded (Rust's
//! `f64` parser); serde_json without its `float_roundtrip` feature can be one unit in the last
//! place off for long mantissas or large exponents, never for the short decimals of money.

use std::borrow::Cow;
use std::fmt;

use serde_json::Number;

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Json<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses `bytes`, borrowing every string that needs no unescaping.
    pub fn parse(bytes: &'a [u8]) -> Result<Json<'a>, ParseError> {
        Parser::document(bytes, None).map(|(document, _)| document)
    }

    /// Parses `bytes` like [`Json::parse`], except for the array at `path` (object keys from
    /// the root): each of its items goes to `on_row` (with its index) as soon as it is parsed,
    /// and the document keeps an empty array in its place. A body's row array is most of it:
    /// streamed, its rows are decoded while they are in cache and are never kept as a tree.
    ///
    /// Returns the document and how many items were streamed; that count is `None` when the
    /// streamed array is not the one [`Json::pointer`] finds at `path` (a key repeats along
    /// the path, or no array is there). Then the document lacks whatever was streamed, and the
    /// caller parses again with [`Json::parse`]. `on_row` may have seen items of a document
    /// that turns out to be invalid: only an `Ok` counts.
    pub fn parse_streaming(
        bytes: &'a [u8],
        path: &[&str],
        on_row: &mut dyn FnMut(usize, &Json<'a>),
    ) -> Result<(Json<'a>, Option<usize>), ParseError> {
        let (document, stream) =
            Parser::document(bytes, Some(Stream { path, on_row, arrays: Vec::new() }))?;
        let arrays = stream.map(|s| s.arrays).unwrap_or_default();
        let mut node = &document;
        for key in path {
            let Json::Object(entries) = node else { return Ok((document, None)) };
            let mut found = entries.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
            match (found.next(), found.next()) {
                (Some(v), None) => node = v,
                _ => return Ok((document, None)),
            }
        }
        // With every key once, only the array at `path` could have been streamed.
        let streamed = match (node, arrays.as_slice()) {
            (Json::Array(_), [rows]) => Some(*rows),
            _ => None,
        };
        Ok((document, streamed))
    }

    /// The value of `key` in an object (the last one, if the key repeats).
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// RFC 6901 pointer: `""` is the document, `/data/0` the first row of `data`.
    pub fn pointer(&self, pointer: &str) -> Option<&Json<'a>> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(self, |node, token| {
            let token = token.replace("~1", "/").replace("~0", "~");
            match node {
                Json::Object(_) => node.get(&token),
                Json::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            }
        })
    }

    pub fn as_array(&self) -> Option<&Vec<Json<'a>>> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Json::Array(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }
}

/// Compact JSON text, as `serde_json::Value` prints it.
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Number(n) => write!(f, "{n}"),
            Json::String(s) => write!(f, "{}", serde_json::Value::String(s.to_string())),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Json::Object(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{v}", serde_json::Value::String(k.to_string()))?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Why a body is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct ParseError {
    pub reason: &'static str,
    pub offset: usize,
}

/// Where the run of bytes a string keeps as they are, starting at `from`, ends: the first `"`,
/// `\` or control character (below 0x20), or the end of `bytes`.
///
/// Eight bytes at a time: strings are most of a report's bytes, and a byte-by-byte loop was a
/// fifth of parsing. In each word, a byte's high bit is set where the byte equals `"` or `\`
/// (their XOR with it is zero) or is below 0x20. A borrow of the subtraction can set it
/// wrongly, but only in bytes above a byte that is set rightly, so the lowest set bit is exact.
fn plain_run_end(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    let mut at = from;
    while let Some(word) =
        bytes.get(at..at.saturating_add(8)).and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        let v = u64::from_le_bytes(word);
        let quote = v ^ (ONES * u64::from(b'"'));
        let backslash = v ^ (ONES * u64::from(b'\\'));
        let stops = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (v.wrapping_sub(ONES * 0x20) & !v);
        let stops = stops & HIGHS;
        if stops != 0 {
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        at += 1;
    }
    at
}

/// serde_json's limit: deeper documents are refused rather than risking the stack.
const MAX_DEPTH: usize = 128;

/// What [`Json::parse_streaming`] streams, and what it saw.
struct Stream<'s, 'a> {
    path: &'s [&'s str],
    on_row: &'s mut dyn FnMut(usize, &Json<'a>),
    /// Item counts of the arrays streamed: one, unless a key of the path repeats.
    arrays: Vec<usize>,
}

struct Parser<'a, 's> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    /// Members of the objects being parsed, innermost last: each object collects its members
    /// here and moves them out in one allocation of the exact size when it closes.
    entries: Vec<(Cow<'a, str>, Json<'a>)>,
    /// The same for arrays' items.
    items: Vec<Json<'a>>,
    stream: Option<Stream<'s, 'a>>,
    /// When streaming: `Some(n)` while the value about to be parsed is the one at the first
    /// `n` keys of the stream's path (`Some(0)`: the document itself).
    value_level: Option<usize>,
    /// The same for the object or array whose opening bracket is at the cursor.
    container_level: Option<usize>,
    /// A streamed row object's emptied vector: the next object to close reuses it, so rows
    /// do not each allocate.
    spare: Vec<(Cow<'a, str>, Json<'a>)>,
    /// Set while the value about to be parsed is an item of the streamed array: an object
    /// there collects its members straight into `spare`, not through `entries`.
    streamed_item: bool,
}

impl<'a, 's> Parser<'a, 's> {
    /// The document, and the stream back with what it saw.
    fn document(
        bytes: &'a [u8],
        stream: Option<Stream<'s, 'a>>,
    ) -> Result<(Json<'a>, Option<Stream<'s, 'a>>), ParseError> {
        // One validation of the whole body: every string is then sliced from it without
        // re-checking. Outside strings JSON is ASCII, so this refuses exactly the bodies with
        // invalid UTF-8 that a string-by-string check would.
        let text = std::str::from_utf8(bytes)
            .map_err(|e| ParseError { reason: "invalid UTF-8", offset: e.valid_up_to() })?;
        let value_level = stream.as_ref().map(|_| 0);
        let mut p = Parser {
            text,
            bytes,
            at: 0,
            depth: 0,
            entries: Vec::new(),
            items: Vec::new(),
            stream,
            value_level,
            container_level: None,
            spare: Vec::new(),
            streamed_item: false,
        };
        p.skip_whitespace();
        let value = p.value()?;
        p.skip_whitespace();
        if p.at < bytes.len() {
            return Err(p.error("trailing characters after the document"));
        }
        Ok((value, p.stream))
    }

    fn error(&self, reason: &'static str) -> ParseError {
        ParseError { reason, offset: self.at }
    }

    /// The text from `start` to the cursor. Both ends sit beside ASCII bytes (or the ends of
    /// the body), so they are character boundaries of the validated text.
    fn slice(&self, start: usize) -> Result<&'a str, ParseError> {
        self.text.get(start..self.at).ok_or_else(|| self.error("invalid UTF-8"))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Result<Json<'a>, ParseError> {
        self.container_level = self.value_level.take();
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Json::Number),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn nested(
        &mut self,
        parse: fn(&mut Self) -> Result<Json<'a>, ParseError>,
    ) -> Result<Json<'a>, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let value = parse(self);
        self.depth -= 1;
        value
    }

    fn literal(&mut self, word: &'static [u8], value: Json<'a>) -> Result<Json<'a>, ParseError> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn object(&mut self) -> Result<Json<'a>, ParseError> {
        let level = self.container_level.take();
        // A streamed row's members go straight into the vector it will hand over; any other
        // object's members wait in `entries` (objects nest) and move to one allocation of their size.
        let streamed_item = std::mem::take(&mut self.streamed_item);
        self.at += 1;
        let base = self.entries.len();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(Vec::new()));
        }
        let mut direct = streamed_item.then(|| std::mem::take(&mut self.spare));
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a key string"));
            }
            let key = match self.plain_string() {
                Some(key) => Cow::Borrowed(key),
                None => self.string()?,
            };
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.error("expected `:`"));
            }
            self.at += 1;
            self.skip_whitespace();
            // Most members are strings or numbers. They are built in place: moving a parsed
            // `Json` out through `value`'s `Result` cost more than parsing the string.
            if self.peek() == Some(b'"') {
                let text = match self.plain_string() {
                    Some(text) => Cow::Borrowed(text),
                    None => self.string()?,
                };
                direct.as_mut().unwrap_or(&mut self.entries).push((key, Json::String(text)));
            } else if let Some(b'-' | b'0'..=b'9') = self.peek() {
                let number = self.number()?;
                direct.as_mut().unwrap_or(&mut self.entries).push((key, Json::Number(number)));
            } else {
                self.value_level = match (level, &self.stream) {
                    (Some(n), Some(stream)) if stream.path.get(n).is_some_and(|k| *k == key) => {
                        Some(n + 1)
                    }
                    _ => None,
                };
                let value = self.value()?;
                direct.as_mut().unwrap_or(&mut self.entries).push((key, value));
            }
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_whitespace();
                }
                Some(b'}') => {
                    self.at += 1;
                    if let Some(members) = direct {
                        return Ok(Json::Object(members));
                    }
                    let mut members = std::mem::take(&mut self.spare);
                    members.extend(self.entries.drain(base..));
                    return Ok(Json::Object(members));
                }
                None => return Err(self.error("EOF while parsing an object")),
                Some(_) => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    /// An array; the one at the stream's path hands each item to the stream instead of
    /// keeping it, and is left empty.
    fn array(&mut self) -> Result<Json<'a>, ParseError> {
        let level = self.container_level.take();
        let streamed =
            matches!((level, &self.stream), (Some(n), Some(stream)) if n == stream.path.len());
        self.at += 1;
        let base = self.items.len();
        let mut count = 0;
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                self.streamed_item = streamed;
                let item = self.value();
                self.streamed_item = false;
                let item = item?;
                match self.stream.as_mut().filter(|_| streamed) {
                    Some(stream) => {
                        (stream.on_row)(count, &item);
                        if let Json::Object(mut members) = item {
                            members.clear();
                            self.spare = members;
                        }
                    }
                    None => self.items.push(item),
                }
                count += 1;
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => {
                        self.at += 1;
                        self.skip_whitespace();
                    }
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    None => return Err(self.error("EOF while parsing a list")),
                    Some(_) => return Err(self.error("expected `,` or `]`")),
                }
            }
        }
        if let Some(stream) = self.stream.as_mut().filter(|_| streamed) {
            stream.arrays.push(count);
        }
        Ok(Json::Array(self.items.drain(base..).collect()))
    }

    /// The string at `"` when it is plain (no escape, no control character), and the cursor
    /// past it; else `None`, and the cursor where it was, for [`Parser::string`] to read it.
    /// Returned in two registers: the `Result` of `string` goes through memory, and reading
    /// it back stalled on the stores that wrote it, for most of the members of a body.
    #[inline(always)]
    fn plain_string(&mut self) -> Option<&'a str> {
        let start = self.at + 1;
        let end = plain_run_end(self.bytes, start);
        if self.bytes.get(end) != Some(&b'"') {
            return None;
        }
        let text = self.text.get(start..end)?;
        self.at = end + 1;
        Some(text)
    }

    /// A string at `"`: borrowed when it has no escapes, else unescaped into an owned one.
    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.at += 1;
        let start = self.at;
        self.at = plain_run_end(self.bytes, self.at);
        match self.peek() {
            None => return Err(self.error("EOF while parsing a string")),
            Some(b'"') => {
                let text = self.slice(start)?;
                self.at += 1;
                return Ok(Cow::Borrowed(text));
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.error("control character in a string")),
        }
        let mut owned = self.slice(start)?.to_owned();
        loop {
            let run = self.at;
            self.at = plain_run_end(self.bytes, self.at);
            owned.push_str(self.slice(run)?);
            match self.peek() {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(owned));
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped =
                        self.peek().ok_or_else(|| self.error("EOF while parsing a string"))?;
                    self.at += 1;
                    match escaped {
                        b'"' => owned.push('"'),
                        b'\\' => owned.push('\\'),
                        b'/' => owned.push('/'),
                        b'b' => owned.push('\u{8}'),
                        b'f' => owned.push('\u{c}'),
                        b'n' => owned.push('\n'),
                        b'r' => owned.push('\r'),
                        b't' => owned.push('\t'),
                        b'u' => owned.push(self.unicode_escape()?),
                        _ => return Err(self.error("invalid escape")),
                    }
                }
                Some(_) => return Err(self.error("control character in a string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("EOF while parsing a string"))?;
        let mut n = 0u32;
        for d in digits {
            let v = (*d as char).to_digit(16).ok_or_else(|| self.error("invalid \\u escape"))?;
            n = n * 16 + v;
        }
        self.at += 4;
        Ok(n)
    }

    /// After `\u`: one code point, from a surrogate pair when it takes two escapes.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.at..].starts_with(b"\\u") {
                    return Err(self.error("lone leading surrogate in a \\u escape"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("lone leading surrogate in a \\u escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in a \\u escape")),
            n => n,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
    }

    fn number(&mut self) -> Result<Number, ParseError> {
        let start = self.at;
        let digits = |p: &mut Self| -> usize {
            let from = p.at;
            while let Some(b'0'..=b'9') = p.peek() {
                p.at += 1;
            }
            p.at - from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        // Only ASCII digits, signs, `.` and exponents were consumed.
        let text = self.slice(start)?;
        if integer {
            if let Ok(n) = text.parse::<u64>() {
                return Ok(n.into());
            }
            // `-0` stays a float, as serde_json keeps it: the sign is data.
            if let Ok(n) =
                text.parse::<i64>().map_err(drop).and_then(|n| if n == 0 { Err(()) } else { Ok(n) })
            {
                return Ok(n.into());
            }
        }
        let f: f64 = text.parse().map_err(|_| self.error("invalid number"))?;
        Number::from_f64(f).ok_or(ParseError { reason: "number out of range", offset: start })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_value(j: &Json<'_>) -> serde_json::Value {
        match j {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::Value::Number(n.clone()),
            Json::String(s) => serde_json::Value::String(s.to_string()),
            Json::Array(items) => serde_json::Value::Array(items.iter().map(to_value).collect()),
            Json::Object(entries) => serde_json::Value::Object(
                entries.iter().map(|(k, v)| (k.to_string(), to_value(v))).collect(),
            ),
        }
    }

    /// Equal documents, floats within an ulp or so (see the module comment).
    fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match (a, b) {
            (V::Number(x), V::Number(y)) if x.is_f64() || y.is_f64() => {
                match (x.as_f64(), y.as_f64()) {
                    (Some(x), Some(y)) if x == 0.0 || y == 0.0 => {
                        x == y && x.is_sign_negative() == y.is_sign_negative()
                    }
                    (Some(x), Some(y)) => {
                        (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
                    }
                    _ => false,
                }
            }
            (V::Array(x), V::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (V::Object(x), V::Object(y)) => {
                x.len() == y.len()
                    && x.iter().zip(y).all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
            }
            _ => a == b,
        }
    }

    /// Same verdict as serde_json, and the same document when both accept.
    fn agrees(text: &[u8]) {
        let theirs = serde_json::from_slice::<serde_json::Value>(text);
        let ours = Json::parse(text);
        match (&ours, &theirs) {
            (Ok(o), Ok(t)) => assert!(
                same(&to_value(o), t),
                "{:?}: ours {o:?}, serde_json {t:?}",
                String::from_utf8_lossy(text)
            ),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "serde_json {:?} but ours {:?} for {:?}",
                theirs.as_ref().map(|_| ()),
                ours.as_ref().map(|_| ()),
                String::from_utf8_lossy(text)
            ),
        }
    }

    #[test]
    fn a_plain_run_ends_at_the_first_quote_backslash_or_control_byte_wherever_it_is() {
        let reference = |bytes: &[u8], from: usize| {
            (from..bytes.len())
                .find(|&i| matches!(bytes[i], b'"' | b'\\' | 0..=0x1f))
                .unwrap_or(bytes.len())
        };
        // Every stop byte at every place of a 0..20-byte run, after any start, among ASCII,
        // multibyte UTF-8 and bytes either side of each stop's value.
        let filler: Vec<u8> = "a\u{7f}\u{e9}\u{20ac}!#[]~ "
            .bytes()
            .chain([0x21, 0x23, 0x5b, 0x5d, 0x20, 0xff, 0x80])
            .collect();
        for stop in [b'"', b'\\', 0x00, 0x01, 0x1f, b'\n'] {
            for len in 0..20 {
                for shift in 0..filler.len() {
                    let mut bytes: Vec<u8> =
                        (0..len).map(|i| filler[(i + shift) % filler.len()]).collect();
                    let without = bytes.clone();
                    bytes.push(stop);
                    bytes.extend_from_slice(b"tail\"x");
                    for from in 0..=len.min(3) {
                        assert_eq!(
                            plain_run_end(&bytes, from),
                            reference(&bytes, from),
                            "{bytes:?} from {from}"
                        );
                        assert_eq!(
                            plain_run_end(&without, from),
                            without.len(),
                            "{without:?} from {from}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn reads_like_serde_json_value() {
        let text =
            br#"{"data":{"data":[{"a":"x\"y","b":1.50,"c":-3,"a/b":true,"n":null}]},"k":1,"k":2}"#;
        let ours = Json::parse(text).unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(text).unwrap();
        let row = ours.pointer("/data/data/0").unwrap();
        assert_eq!(
            row.get("a").and_then(Json::as_str),
            theirs.pointer("/data/data/0/a").and_then(|v| v.as_str())
        );
        assert!(
            matches!(row.get("a"), Some(Json::String(Cow::Owned(_)))),
            "escaped strings are unescaped into owned text"
        );
        assert!(matches!(row.get("b"), Some(Json::Number(_))));
        assert_eq!(
            row.get("b").map(|v| v.to_string()),
            Some(theirs["data"]["data"][0]["b"].to_string())
        );
        assert_eq!(row.get("c").and_then(Json::as_i64), Some(-3));
        assert_eq!(row.pointer("/a~1b"), Some(&Json::Bool(true)));
        assert!(row.get("n").is_some_and(Json::is_null));
        assert_eq!(
            ours.get("k").and_then(Json::as_i64),
            theirs["k"].as_i64(),
            "a repeated key keeps its last value"
        );
        assert_eq!(ours.pointer(""), Some(&ours));
        assert_eq!(ours.pointer("/data/data/1"), None);
        assert!(
            matches!(
                Json::parse(br#"{"plain":"text"}"#).unwrap().get("plain"),
                Some(Json::String(Cow::Borrowed("text")))
            ),
            "plain strings borrow"
        );
    }

    #[test]
    fn prints_compact_json() {
        let text = br#"{"a": [1, "two", null, {"b": false}]}"#;
        assert_eq!(Json::parse(text).unwrap().to_string(), r#"{"a":[1,"two",null,{"b":false}]}"#);
    }

    #[test]
    fn accepts_and_rejects_exactly_what_serde_json_does() {
        let cases: &[&[u8]] = &[
            b"",
            b" ",
            b"null",
            b"nul",
            b"tru",
            b"true ",
            b"[1,]",
            b"[,1]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{1:2}",
            b"01",
            b"-01",
            b"1.",
            b".5",
            b"-",
            b"1e",
            b"1e+",
            b"1E+2",
            b"-0",
            b"-0.0",
            b"0e0",
            b"1e400",
            b"-1e400",
            b"1e-400",
            b"18446744073709551615",
            b"18446744073709551616",
            b"-9223372036854775808",
            b"-9223372036854775809",
            b"123456789012345678901234567890",
            b"3.141592653589793238462643383279",
            b"\"\\x\"",
            b"\"a\x01b\"",
            b"\"tab\there\"",
            b"[1] x",
            b"[1] ",
            b"\"\\ud800\"",
            b"\"\\ud800\\u0041\"",
            b"\"\\udc00\"",
            b"\"\\ud83d\\ude00\"",
            b"\"\\u00e9\\/\\b\\f\\n\\r\\t\"",
            b"\"\\u00G0\"",
            b"\"\\u12\"",
            b"\"\xff\"",
            b"\"\xc3\xa9\"",
            b"[\"\xed\xa0\x80\"]",
            b"{\"a\":{\"b\":[true,false,null,{}]}}",
            b"[[[[[]]]]]",
            b"\x0c1",
            b"\xef\xbb\xbf1",
            b"{\"a\":1}{}",
            b"[1 2]",
            b"{\"a\":1 \"b\":2}",
            b"\"unterminated",
        ];
        for case in cases {
            agrees(case);
        }
        let deep_ok = format!("{}{}", "[".repeat(127), "]".repeat(127));
        let too_deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        agrees(deep_ok.as_bytes());
        agrees(too_deep.as_bytes());
        assert!(
            Json::parse("[".repeat(100_000).as_bytes()).is_err(),
            "deep nesting is an error, not a stack overflow"
        );
    }

    #[test]
    fn every_truncation_and_byte_flip_of_real_bodies_gets_serde_jsons_verdict() {
        let bodies: &[&[u8]] = &[
            br#"{"data":{"data":[{"date":"2025-11-23","hour":"3","strategisCampaignId":"sire1f06al","searches":"2","estimated_revenue":"1.5"}]}}"#,
            br#"{"results":[{"date":"2025-11-23 00:00:00.0","spent":1082.41,"clicks":23.0,"campaign_name":"caf\u00e9 \"x\""}],"recordCount":1}"#,
            br#"{"code":0,"data":{"rows":[{"costDecimal":12345,"cost":-1.5e2}]},"paging":{"cursors":{"after":"MjQZD"},"next":null}}"#,
        ];
        for body in bodies {
            for end in 0..=body.len() {
                agrees(&body[..end]);
            }
            for at in 0..body.len() {
                for replacement in [b'"', b'\\', b',', b'}', b' ', b'0', b'e', 0x01, 0xff] {
                    let mut flipped = body.to_vec();
                    flipped[at] = replacement;
                    agrees(&flipped);
                }
            }
        }
    }

    /// `parse_streaming` of `text` at `path`: the streamed items (as documents), the document
    /// and the count.
    fn streamed(
        text: &[u8],
        path: &[&str],
    ) -> Result<(Vec<serde_json::Value>, serde_json::Value, Option<usize>), ParseError> {
        let mut items = Vec::new();
        let mut next = 0;
        let (document, count) = Json::parse_streaming(text, path, &mut |i, item| {
            // Each streamed array counts from 0 (a repeated key streams a second one).
            assert!(i == next || i == 0, "items come in order: {i} after {next}");
            next = i + 1;
            items.push(to_value(item));
        })?;
        Ok((items, to_value(&document), count))
    }

    /// Whatever `parse_streaming` returns agrees with `parse`: the same verdict and error; when
    /// it counts its items, they are the items at `path` and the document is the rest.
    fn streams_like_parse(text: &[u8], path: &[&str]) {
        let whole = Json::parse(text);
        match (streamed(text, path), &whole) {
            (Err(s), Err(w)) => assert_eq!(&s, w, "{:?}", String::from_utf8_lossy(text)),
            (Ok((items, document, Some(n))), Ok(whole)) => {
                let pointer: String = path
                    .iter()
                    .map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1")))
                    .collect();
                let mut expected = to_value(whole);
                let array = expected
                    .pointer_mut(&pointer)
                    .and_then(serde_json::Value::as_array_mut)
                    .expect("a counted stream names an array");
                assert_eq!(items, std::mem::take(array), "{:?}", String::from_utf8_lossy(text));
                assert_eq!(n, items.len());
                assert_eq!(
                    document, expected,
                    "the document keeps an empty array in place of the rows"
                );
            }
            (Ok((_, _, None)), Ok(whole)) => {
                let pointer: String = path.iter().map(|k| format!("/{k}")).collect();
                let unique = path.iter().try_fold(whole, |node, key| match node {
                    Json::Object(entries)
                        if entries.iter().filter(|(k, _)| k == key).count() == 1 =>
                    {
                        node.get(key)
                    }
                    _ => None,
                });
                assert!(
                    !unique.is_some_and(Json::is_array),
                    "{pointer} is one array of {:?} but was not counted",
                    String::from_utf8_lossy(text)
                );
            }
            (s, w) => panic!(
                "streaming {:?} but parse {:?} for {:?}",
                s.map(|_| ()),
                w.as_ref().map(|_| ()),
                String::from_utf8_lossy(text)
            ),
        }
    }

    #[test]
    fn streaming_hands_over_the_rows_at_its_path_and_keeps_the_rest() {
        let body = br#"{"data":{"data":[{"a":"1","b":2},{"a":"x\"y"},[],3,{"c":{"d":[1]}}],"page":1},"total":5}"#;
        let (items, document, count) = streamed(body, &["data", "data"]).unwrap();
        assert_eq!(count, Some(5));
        assert_eq!(items[1], serde_json::json!({"a": "x\"y"}));
        assert_eq!(document, serde_json::json!({"data": {"data": [], "page": 1}, "total": 5}));
        streams_like_parse(body, &["data", "data"]);
        streams_like_parse(br#"[{"a":1},{"a":2}]"#, &[]);
        // Row objects collect their members apart from other objects: whatever sits in or
        // after a row, empty or nested, comes out whole.
        streams_like_parse(
            br#"{"data":{"data":[{},{"g":{"h":"i","g":[{"x":1}]},"j":"k"},[{"e":1},{"f":"
"}],7,{"l":2}],"m":{"n":{}}},"o":{"p":"q"}}"#,
            &["data", "data"],
        );
        streams_like_parse(br#"[3,{"a":{"b":1},"c":"d"},"s",{"e":[{"f":1}],"g":2}]"#, &[]);
        for ambiguous in [
            &br#"{"data":{"data":[1]},"data":{"data":[2]}}"#[..],
            br#"{"data":{"data":[1],"data":[2]}}"#,
            br#"{"data":{"data":[1]},"data":5}"#,
            br#"{"data":{"data":5}}"#,
            br#"{"data":[{"data":[1]}]}"#,
            br#"{"other":[1]}"#,
            br#"[1]"#,
        ] {
            assert_eq!(
                streamed(ambiguous, &["data", "data"]).unwrap().2,
                None,
                "{:?}",
                String::from_utf8_lossy(ambiguous)
            );
            streams_like_parse(ambiguous, &["data", "data"]);
        }
    }

    #[test]
    fn every_truncation_and_byte_flip_streams_like_it_parses() {
        let body = br#"{"data":{"data":[{"date":"2025-11-23","hour":"3","searches":"2"},{"hour":4,"k":[{"x":null}]}],"limit":2},"data2":[1]}"#;
        for end in 0..=body.len() {
            streams_like_parse(&body[..end], &["data", "data"]);
        }
        for at in 0..body.len() {
            for replacement in [b'"', b'\\', b',', b'}', b']', b'[', b' ', b'0', 0xff] {
                let mut flipped = body.to_vec();
                flipped[at] = replacement;
                streams_like_parse(&flipped, &["data", "data"]);
            }
        }
    }

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            any::<u64>().prop_map(|n| serde_json::json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| serde_json::json!(f)),
            "\\PC*".prop_map(serde_json::Value::String),
            any::<String>().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                prop::collection::vec(("\\PC{0,8}", inner), 0..8)
                    .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn parses_whatever_serde_json_writes(value in any_json(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) }.unwrap();
            let ours = Json::parse(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            prop_assert_eq!(to_value(&ours), value);
        }

        #[test]
        fn streams_whatever_serde_json_writes(rows in any_json(), siblings in any_json(), pretty in any::<bool>()) {
            let document = serde_json::json!({"data": {"data": rows, "page": siblings.clone()}, "next": siblings});
            let text = if pretty { serde_json::to_string_pretty(&document) } else { serde_json::to_string(&document) }.unwrap();
            streams_like_parse(text.as_bytes(), &["data", "data"]);
        }
    }
}
