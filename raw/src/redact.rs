//! Secret removal for everything that reaches an envelope. Query parameters and headers are
//! judged by name: a parameter that looks like a credential is dropped, and only allow-listed
//! response headers are kept, so `Authorization` and cookies can never be stored. A kept
//! `Location` keeps only its origin and path.

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
    // Where a redirect pointed: its origin and path only (see `location`).
    "location",
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
        .map(|(k, v)| if k == "location" { (k, location(&v)) } else { (k, v) })
        .collect()
}

/// A `Location` header as evidence of where a redirect pointed: its origin and path, without
/// user-info, query or fragment, which may carry anything (a relative one keeps its path).
pub fn location(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(u) if u.has_host() => format!("{}{}", u.origin().ascii_serialization(), u.path()),
        Ok(_) => String::new(),
        Err(_) => url::Url::parse("http://relative.invalid/")
            .and_then(|base| base.join(value))
            .map(|u| u.path().to_owned())
            .unwrap_or_default(),
    }
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
    fn a_location_keeps_its_origin_and_path_only() {
        assert_eq!(
            location("http://u:pw@other.example:8080/login/next?token=T&x=1#frag"),
            "http://other.example:8080/login/next"
        );
        assert_eq!(location("/api/x?session=S"), "/api/x");
        assert_eq!(location("mailto:a@b"), "");
        let h = headers(
            [("Location", "https://h.example/p?code=C")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        );
        assert_eq!(h["location"], "https://h.example/p");
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
