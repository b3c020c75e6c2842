//! The registry of upstream endpoints: one line per endpoint, naming its module's
//! [`EndpointSpec`] (`endpoints/<key>.rs`: its request, its body contract). The connectors
//! build requests from it, the fake upstream serves it, and the projector reads bodies
//! through it: one table, no copies. Adding an endpoint adds its module and one line here.

use crate::contract::Contract;
use crate::endpoints;

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

/// One endpoint: what to ask for, and what its answer must look like.
#[derive(Debug)]
pub struct EndpointSpec {
    pub key: &'static str,
    /// The media source it reports on (`all` for S1).
    pub platform: &'static str,
    pub path: &'static str,
    /// Query parameters besides the date and the page: [`COMMON`] first, then its own.
    pub params: &'static [(&'static str, &'static str)],
    pub dates: DateParams,
    pub pagination: Pagination,
    /// A revenue source: its failure fails the run.
    pub critical: bool,
    /// Feeds `session_hourly_metrics` rather than `campaign_index`.
    pub sessions: bool,
    /// Where its rows are and what each carries.
    pub contract: Contract,
}

/// Parameters of every report request.
pub const ORG: (&str, &str) = ("organization", "Interlincx");
pub const RSOC: (&str, &str) = ("adSource", "rsoc");
pub const UTC: (&str, &str) = ("timezone", "UTC");
pub const CH: (&str, &str) = ("dbSource", "ch");

pub static ENDPOINTS: [EndpointSpec; 15] = [
    endpoints::s1_daily_v3::SPEC,
    endpoints::s1_reconciled::SPEC,
    endpoints::s1_rpc_average::SPEC,
    endpoints::s1_hourly_v3::SPEC,
    endpoints::facebook_report::SPEC,
    endpoints::facebook_campaigns::SPEC,
    endpoints::facebook_adsets::SPEC,
    endpoints::facebook_pixel::SPEC,
    endpoints::strategis_metrics::SPEC,
    endpoints::taboola_report::SPEC,
    endpoints::outbrain_report::SPEC,
    endpoints::newsbreak_report::SPEC,
    endpoints::mediago_report::SPEC,
    endpoints::zemanta_report::SPEC,
    endpoints::smartnews_report::SPEC,
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
    fn every_contract_reads_what_its_columns_hold() {
        use crate::contract::{fits, Format, MAX_FIELDS};
        for spec in &ENDPOINTS {
            let contract = &spec.contract;
            assert!(contract.fields.len() <= MAX_FIELDS, "{}", spec.key);
            assert!(
                contract.fields.iter().any(|f| f.is_required()),
                "{} names no required field",
                spec.key
            );
            for (i, field) in contract.fields.iter().enumerate() {
                assert!(
                    fits(field.kind, field.column),
                    "{} {}: {:?} into {:?}",
                    spec.key,
                    field.key,
                    field.kind,
                    field.column
                );
                assert!(
                    !contract.fields[..i]
                        .iter()
                        .any(|f| f.key == field.key && f.parent == field.parent),
                    "{} lists `{}` twice",
                    spec.key,
                    field.key
                );
                assert!(
                    !field.parent || contract.nested.is_some(),
                    "{} `{}`: a parent field of rows that are not nested",
                    spec.key,
                    field.key
                );
            }
            match contract.format {
                Format::Json => {
                    assert!(!contract.rows.is_empty(), "{}: where are its rows?", spec.key)
                }
                Format::Csv => {
                    assert!(contract.rows.is_empty() && contract.nested.is_none(), "{}", spec.key)
                }
            }
        }
    }
}
