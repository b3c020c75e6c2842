//! Secret removal for everything that reaches an envelope. Query parameters and headers are
//! judged by name: a parameter that looks like a credential is dropped, and only allow-listed
//! response headers are kept, so `Authorization` and cookies can never be stored.

use std::collections::BTreeMap;

const SECRET_WORDS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "auth",
    "key",
    "signature",
    "session",
    "jwt",
    "credential",
];

/// Response headers worth keeping as evidence (content shape, throttling hints, server time).
pub const KEPT_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-length",
    "date",
    "retry-after",
    "rate-limit-msec-left",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "last-modified",
    "etag",
];

pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// Drops user-info and secret-looking query parameters. Unparseable input is reduced to its
/// part before `?`, which cannot carry parameters.
pub fn url(raw: &str) -> String {
    let (base, query) = match raw.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (raw, None),
    };
    let base = strip_userinfo(base);
    let Some(query) = query else { return base };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split_once('=').map_or(*pair, |(n, _)| n);
            !pair.is_empty() && !is_secret_name(name)
        })
        .collect();
    if kept.is_empty() {
        base
    } else {
        format!("{base}?{}", kept.join("&"))
    }
}

fn strip_userinfo(base: &str) -> String {
    if let Some((scheme, rest)) = base.split_once("://") {
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if path.is_empty() && !rest.contains('/') {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}/{path}")
        }
    } else {
        base.to_owned()
    }
}

pub fn headers(input: BTreeMap<String, String>) -> BTreeMap<String, String> {
    input
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .filter(|(k, _)| KEPT_HEADERS.contains(&k.as_str()))
        .collect()
}

/// Free text (error messages) may quote a URL; every URL-looking word is redacted, and a
/// `Bearer <x>` is cut.
pub fn text(input: &str) -> String {
    let mut out = Vec::new();
    let mut skip_next = false;
    for word in input.split(' ') {
        if skip_next {
            out.push("[redacted]".to_string());
            skip_next = false;
            continue;
        }
        if word.eq_ignore_ascii_case("bearer") {
            skip_next = true;
            out.push(word.to_string());
        } else if word.contains("://") || word.contains('?') {
            out.push(url(word));
        } else {
            out.push(word.to_string());
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_secret_parameters_and_userinfo() {
        assert_eq!(
            url("https://u:pw@h.example/api/x?dateStart=2025-11-23&access_token=T0K&apiKey=k&page=2"),
            "https://h.example/api/x?dateStart=2025-11-23&page=2"
        );
        assert_eq!(url("http://h/p?password=x"), "http://h/p");
        assert_eq!(url("http://h"), "http://h");
    }

    #[test]
    fn keeps_only_allow_listed_headers() {
        let h = headers(
            [("Authorization", "Bearer x"), ("Retry-After", "3"), ("set-cookie", "a")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        );
        assert_eq!(h.len(), 1);
        assert_eq!(h["retry-after"], "3");
    }

    #[test]
    fn text_cuts_bearer_tokens_and_url_secrets() {
        let t = text("error sending request for url (http://h/x?token=SECRET1) Bearer SECRET2");
        assert!(!t.contains("SECRET1") && !t.contains("SECRET2"), "{t}");
    }
}
