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

/// Drops user-info, the fragment and secret-looking query parameters, each judged by its
/// decoded name (`%74oken` is `token`; a repeated name is judged every time). The parameters
/// kept are written back form-encoded, so `a%20b` reads back as `a+b`. Input that is no
/// absolute URL is reduced to its part before `?` or `#`, which cannot carry parameters.
pub fn url(raw: &str) -> String {
    let Ok(mut url) = url::Url::parse(raw) else {
        return raw.find(['?', '#']).map_or(raw, |end| &raw[..end]).to_owned();
    };
    // Both fail only for URLs that cannot have user-info (`mailto:`, `data:`).
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !name.is_empty() && !is_secret_name(name))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let root_added = url.path() == "/" && !names_a_path(raw);
    let mut out = String::from(url);
    if root_added {
        // The parser gives every http(s) URL a path; `http://h` stays `http://h`.
        if let Some(slash) = out.find("/?").or_else(|| out.ends_with('/').then(|| out.len() - 1)) {
            out.remove(slash);
        }
    }
    out
}

/// Whether `raw` (a URL that parsed) writes a path after its host, as `http://h/` does and
/// `http://h` and `http://h?x=1` do not.
fn names_a_path(raw: &str) -> bool {
    let after_scheme = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    after_scheme.find(['/', '?', '#']).is_some_and(|i| after_scheme[i..].starts_with('/'))
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

/// Free text (error messages) may quote a URL; every URL-looking word is redacted (brackets
/// and punctuation around it kept), and a `Bearer <x>` is cut.
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
            let core = word.trim_start_matches(['(', '<', '[', '"', '\'']);
            let lead = &word[..word.len() - core.len()];
            let core = core.trim_end_matches([')', '>', ']', '"', '\'', ',', '.', ';', ':']);
            let trail = &word[lead.len() + core.len()..];
            out.push(format!("{lead}{}{trail}", url(core)));
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
    fn judges_decoded_names_and_drops_fragments_and_user_info() {
        // Encoded: the name is judged decoded, the value kept is written back form-encoded.
        assert_eq!(url("http://h/p?q=a%20b&%74oken=x&page=2"), "http://h/p?q=a+b&page=2");
        assert_eq!(url("http://h/p?q=a+b"), "http://h/p?q=a+b");
        // Repeated keys: each one judged, order kept.
        assert_eq!(
            url("http://h/p?id=1&access_token=a&id=2&access_token=b"),
            "http://h/p?id=1&id=2"
        );
        // A fragment can carry a token (`#access_token=`): it is not part of the request.
        assert_eq!(url("http://h/p?page=1#access_token=abc"), "http://h/p?page=1");
        assert_eq!(url("http://h/p#frag"), "http://h/p");
        // User-info in every form.
        assert_eq!(url("https://user:pass@h.example:8443/x?y=1"), "https://h.example:8443/x?y=1");
        assert_eq!(url("https://user@h.example/x"), "https://h.example/x");
        assert_eq!(url("https://:pass@h.example"), "https://h.example");
        assert_eq!(url("http://h?page=1"), "http://h?page=1");
        assert_eq!(url("http://h/"), "http://h/");
        // No absolute URL: cut before the query or fragment.
        assert_eq!(url("/api/x?token=T"), "/api/x");
        assert_eq!(url("not a url#token=T"), "not a url");
    }

    #[test]
    fn text_cuts_bearer_tokens_and_url_secrets() {
        let t = text("error sending request for url (http://h/x?token=SECRET1) Bearer SECRET2");
        assert!(!t.contains("SECRET1") && !t.contains("SECRET2"), "{t}");
        assert_eq!(
            text("for url (http://u:pw@h:81/x?page=2&token=S#f), then"),
            "for url (http://h:81/x?page=2), then"
        );
    }
}
