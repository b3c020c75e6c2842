//! Exact source fragments: the bytes of one row inside a stored body, as the upstream sent
//! them (whitespace and number spelling included), located by the projector's row locators:
//! a JSON pointer (`/data/3`) or `line N` for CSV. `serde_json`'s `RawValue` borrows each
//! step from the body, so nothing is re-serialised.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

/// The bytes at `locator` in `body`, or `None` if the locator does not resolve.
pub fn extract<'a>(body: &'a [u8], locator: &str) -> Option<&'a [u8]> {
    if let Some(n) = locator.strip_prefix("line ") {
        let n: usize = n.parse().ok()?;
        let line = body.split(|b| *b == b'\n').nth(n.checked_sub(1)?)?;
        return Some(line.strip_suffix(b"\r").unwrap_or(line));
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut current: &'a RawValue = serde_json::from_str(text).ok()?;
    if !locator.is_empty() {
        for segment in locator.strip_prefix('/')?.split('/') {
            let segment = segment.replace("~1", "/").replace("~0", "~");
            let inner: &'a str = current.get();
            current = if inner.starts_with('[') {
                let items: Vec<&'a RawValue> = serde_json::from_str(inner).ok()?;
                items.get(segment.parse::<usize>().ok()?).copied()?
            } else {
                let fields: BTreeMap<String, &'a RawValue> = serde_json::from_str(inner).ok()?;
                fields.get(&segment).copied()?
            };
        }
    }
    let raw = current.get();
    let start = raw.as_ptr() as usize - text.as_ptr() as usize;
    body.get(start..start + raw.len())
}

#[cfg(test)]
mod tests {
    use super::extract;

    #[test]
    fn finds_rows_byte_exact() {
        let body = br#"{"data": [ {"a": "x,}]\"y"},  {"spend": 412.370, "b": [1, {"c": 2}]} ], "page": 1}"#;
        assert_eq!(extract(body, "/data/1").unwrap(), br#"{"spend": 412.370, "b": [1, {"c": 2}]}"#);
        assert_eq!(extract(body, "/data/0").unwrap(), br#"{"a": "x,}]\"y"}"#);
        assert_eq!(extract(body, "/data/1/spend").unwrap(), b"412.370");
        assert_eq!(extract(body, "/page").unwrap(), b"1");
        assert_eq!(extract(body, "/data/2"), None);
        assert_eq!(extract(b"[{\"x\":1}]", "/0").unwrap(), b"{\"x\":1}");
        assert_eq!(extract(b"Day,Id\r\n2025-11-23,5\r\n", "line 2").unwrap(), b"2025-11-23,5");
    }
}
