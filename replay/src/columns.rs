//! [`Columns`]: the set of projected columns one lineage entry speaks for.
//!
//! A date has millions of lineage entries and each names a few columns, so a set is one
//! integer: a bit per name of [`Columns::NAMES`], with no allocation to build, copy, compare
//! or drop it. Invariant: a set always lists its names in the order of `NAMES`, which is
//! alphabetical, so every entry (and every `lineage_sources.columns` text) spells the same
//! set the same way.

use std::fmt;

/// A set of lineage column names. Build one with [`column!`](crate::column) (checked when
/// compiling) or [`Columns::from_names`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Columns(u32);

impl Columns {
    /// Every column a lineage entry can name, alphabetical.
    pub const NAMES: [&'static str; 17] = [
        "account_id",
        "avg_rpc_3d",
        "campaign_name",
        "category",
        "clicks",
        "conversions",
        "impressions",
        "lane",
        "network_id",
        "owner",
        "platform_campaign_id",
        "revenue",
        "revenue_usd",
        "rsoc_site",
        "s1_clicks",
        "sessions",
        "spend_usd",
    ];

    pub const EMPTY: Columns = Columns(0);

    /// The one-column set of `name`. In a const context an unknown name fails the build;
    /// [`column!`](crate::column) is that context.
    pub const fn named(name: &str) -> Columns {
        let mut i = 0;
        while i < Self::NAMES.len() {
            if const_str_eq(Self::NAMES[i], name) {
                return Columns(1 << i);
            }
            i += 1;
        }
        panic!("not a lineage column name");
    }

    /// The set of `names`; `None` if one is not a lineage column.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<Columns> {
        names.into_iter().try_fold(Columns::EMPTY, |set, name| {
            let at = Self::NAMES.iter().position(|n| *n == name)?;
            Some(set.with(Columns(1 << at)))
        })
    }

    pub const fn with(self, other: Columns) -> Columns {
        Columns(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn intersects(self, other: Columns) -> bool {
        self.0 & other.0 != 0
    }

    pub fn contains(self, name: &str) -> bool {
        Columns::from_names([name]).is_some_and(|c| self.intersects(c))
    }

    /// Where `name` comes in this set's listing.
    pub fn position(self, name: &str) -> Option<usize> {
        self.iter().position(|n| n == name)
    }

    /// The names in the set, alphabetical.
    pub fn iter(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES.iter().enumerate().filter(move |(i, _)| self.0 & (1 << i) != 0).map(|(_, n)| *n)
    }
}

impl fmt::Display for Columns {
    /// The names joined by `,`: the `lineage_sources.columns` text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

pub(crate) const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `a < b` as `str` compares them (bytewise), for const code.
pub(crate) const fn const_str_lt(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// The one-column [`Columns`] set of a literal name, checked when compiling.
#[macro_export]
macro_rules! column {
    ($name:literal) => {
        const { $crate::columns::Columns::named($name) }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_alphabetical_and_fit_the_set() {
        assert!(Columns::NAMES.windows(2).all(|w| w[0] < w[1]));
        assert!(Columns::NAMES.len() <= 32);
    }

    #[test]
    fn a_set_lists_its_names_alphabetically_whatever_order_it_was_built_in() {
        let built = column!("spend_usd").with(column!("clicks")).with(column!("impressions"));
        assert_eq!(built.to_string(), "clicks,impressions,spend_usd");
        assert_eq!(Columns::from_names(["impressions", "spend_usd", "clicks"]), Some(built));
        assert_eq!(built.len(), 3);
        assert_eq!(built.position("spend_usd"), Some(2));
        assert!(
            built.contains("clicks")
                && !built.contains("owner")
                && !built.contains("no_such_column")
        );
        assert_eq!(Columns::from_names(["clicks", "no_such_column"]), None);
        assert_eq!(Columns::EMPTY.to_string(), "");
    }
}
