//! What the dates before a date contribute to it ([`Carry`]): campaign identity pairs (every
//! date seen), OK row counts (seven days, for `expected_min_rows`) and campaign metadata
//! (seven days, for session rows). Bounded but for the identity pairs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;

use super::CONTEXT_DAYS;

/// The campaign metadata a session row copies: owner, lane, category, media_source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignMeta {
    pub owner: Option<Arc<str>>,
    pub lane: Option<Arc<str>>,
    pub category: Option<Arc<str>>,
    pub media_source: Option<Arc<str>>,
}

/// Platform campaign id → date of the `s1_daily_v3` response → Strategis ids it paired.
pub type Identity = BTreeMap<String, BTreeMap<NaiveDate, BTreeSet<String>>>;

/// What the dates before a projection's first date contribute to it: campaign identity
/// pairs, OK row counts (for `expected_min_rows`) and campaign metadata (for session rows).
/// A projection that starts from an empty `Carry` and sees every earlier date builds the same
/// one itself; an incremental projection may start from one read back from the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carry {
    /// The campaign identity pairs of every date seen.
    pub identity: Identity,
    /// (endpoint, date) → row count of that pair's newest fetch, when it was OK.
    pub ok_counts: BTreeMap<(String, NaiveDate), i64>,
    /// (date, campaign id) → metadata of that date's daily campaign row.
    pub daily_meta: BTreeMap<(NaiveDate, String), CampaignMeta>,
}

/// The Strategis id of a platform campaign id on `date`: the newest pairing up to it, else the
/// prefix of the campaign's name.
pub(super) fn resolve<'a>(
    identity: &'a Identity,
    platform_id: &str,
    name: Option<&'a str>,
    date: NaiveDate,
) -> Option<&'a str> {
    if let Some(by_date) = identity.get(platform_id) {
        if let Some((_, sids)) = by_date.range(..=date).next_back() {
            if let Some(sid) = sids.iter().next() {
                return Some(sid);
            }
        }
    }
    name.and_then(name_prefix)
}

impl Carry {
    /// Drops what no date after `date` can look back to.
    pub(super) fn forget_before(&mut self, date: NaiveDate) {
        let horizon = date - chrono::Days::new(CONTEXT_DAYS);
        self.ok_counts.retain(|(_, d), _| *d >= horizon);
        self.daily_meta = self.daily_meta.split_off(&(horizon, String::new()));
    }
}

/// The Strategis id at the start of a campaign name: 6-14 of `[a-z0-9]`, not all digits.
pub fn name_prefix(name: &str) -> Option<&str> {
    let prefix = name.split('_').next()?;
    let ok = (6..=14).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && !prefix.bytes().all(|b| b.is_ascii_digit())
        && name.contains('_');
    ok.then_some(prefix)
}

/// The one shared copy of `name` in `names`, made on first use.
pub(super) fn shared_name(names: &mut BTreeMap<String, Arc<str>>, name: &str) -> Arc<str> {
    match names.get(name) {
        Some(shared) => shared.clone(),
        None => names.entry(name.to_owned()).or_insert_with(|| Arc::from(name)).clone(),
    }
}
