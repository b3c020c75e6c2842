//! The pages of one fetch, as they arrive: whether the upstream's pagination has gone round in
//! a circle. A loop is a next cursor this fetch already asked for, or a page with rows whose
//! body (by sha256) an earlier page of the fetch already served. Either means every further
//! page would serve rows again, multiplying what the fetch reports; the fetch stops at once.
//!
//! Invariants: pure (no I/O, no clock); a fetch whose pages are all distinct and whose cursors
//! never repeat is never called a loop, however many pages it has (the page limit is not
//! this module's business).

use std::collections::{BTreeMap, BTreeSet};

use adlake_raw::BodyHash;
use adlake_replay::body::NextPage;

/// What one fetch has asked for and been served so far.
#[derive(Debug, Default)]
pub struct PageTrail {
    cursors: BTreeSet<String>,
    bodies: BTreeMap<BodyHash, u32>,
}

impl PageTrail {
    /// Records that a page is asked for with `cursor`.
    pub fn asking(&mut self, cursor: Option<&str>) {
        if let Some(c) = cursor {
            self.cursors.insert(c.to_owned());
        }
    }

    /// Records page `page`, served as `body` with `rows` rows and pointing at `next`; says
    /// how the pagination went round in a circle, if it did.
    pub fn served(
        &mut self,
        page: u32,
        body: Option<BodyHash>,
        rows: usize,
        next: &NextPage,
    ) -> Option<String> {
        if let (Some(body), true) = (body, rows > 0) {
            if let Some(earlier) = self.bodies.insert(body, page) {
                return Some(format!("page {page} served the same body as page {earlier}"));
            }
        }
        match next {
            NextPage::Cursor(c) if self.cursors.contains(c) => Some(format!(
                "page {page} points back at cursor `{c}`, which this fetch already asked for"
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Option<BodyHash> {
        Some(BodyHash::of(text.as_bytes()))
    }

    #[test]
    fn a_cursor_already_asked_for_is_a_loop() {
        let mut trail = PageTrail::default();
        trail.asking(None);
        assert_eq!(trail.served(1, body("p1"), 2, &NextPage::Cursor("A".into())), None);
        trail.asking(Some("A"));
        assert_eq!(trail.served(2, body("p2"), 2, &NextPage::Cursor("B".into())), None);
        trail.asking(Some("B"));
        let problem = trail.served(3, body("p3"), 2, &NextPage::Cursor("A".into()));
        assert!(problem.is_some_and(|p| p.contains("page 3") && p.contains("`A`")));
    }

    #[test]
    fn a_body_with_rows_served_twice_is_a_loop_and_an_empty_one_is_not() {
        let mut trail = PageTrail::default();
        assert_eq!(trail.served(1, body("rows"), 500, &NextPage::Page(2)), None);
        let problem = trail.served(2, body("rows"), 500, &NextPage::Page(3));
        assert_eq!(problem.as_deref(), Some("page 2 served the same body as page 1"));

        let mut trail = PageTrail::default();
        assert_eq!(trail.served(1, body("[]"), 0, &NextPage::Page(2)), None);
        assert_eq!(trail.served(2, body("[]"), 0, &NextPage::Done), None);
    }

    #[test]
    fn distinct_pages_are_no_loop_however_many() {
        let mut trail = PageTrail::default();
        for page in 1..=200u32 {
            let cursor = (page > 1).then(|| format!("c{page}"));
            trail.asking(cursor.as_deref());
            let next = NextPage::Cursor(format!("c{}", page + 1));
            assert_eq!(trail.served(page, body(&format!("page {page}")), 10, &next), None);
        }
    }
}
