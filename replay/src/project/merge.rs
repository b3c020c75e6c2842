//! Merging sources into one row's values, with lineage: the rows of one source for one key
//! summed within it ([`Agg`]), the value of the first source in precedence order that has
//! one ([`pick`]), and each row's lineage entries ([`RowBuilder`]): chosen sources grouped per
//! body row, losing sources with the values they lost with.
//!
//! Invariants: never a sum across sources; a losing value is printed once, into its entry.

use std::collections::btree_map;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::fetch::{DayData, RowRef};
use super::rows::{LineageRow, LOST_VALUE_SEPARATOR};
use crate::columns::Columns;
use crate::decode::SourceRow;
use crate::registry::EndpointId;

/// The rows of one source for one key. A source row is hundreds of bytes and most keys have
/// one row per source, so the first is borrowed and only a second makes an owned, merged row;
/// an `Agg` itself stays small, cheap to build and to move within a map.
pub(super) struct Agg<'d> {
    pub(super) first: &'d SourceRow<'d>,
    /// From the second row on: the rows merged. Only the fields `add` sums or keeps are read.
    pub(super) merged: Option<Box<SourceRow<'d>>>,
    pub(super) refs: Refs,
}

/// The body rows merged into an [`Agg`]: nearly always one, held without allocating.
pub(super) enum Refs {
    One(RowRef),
    Many(Vec<RowRef>),
}

impl Refs {
    pub(super) fn as_slice(&self) -> &[RowRef] {
        match self {
            Refs::One(r) => std::slice::from_ref(r),
            Refs::Many(v) => v,
        }
    }

    pub(super) fn push(&mut self, at: RowRef) {
        match self {
            Refs::One(r) => *self = Refs::Many(vec![*r, at]),
            Refs::Many(v) => v.push(at),
        }
    }
}

impl<'d> Agg<'d> {
    pub(super) fn new(r: &'d SourceRow<'d>, at: RowRef) -> Self {
        Agg { first: r, merged: None, refs: Refs::One(at) }
    }

    pub(super) fn refs(&self) -> &[RowRef] {
        self.refs.as_slice()
    }

    /// The merged row: the first one itself while it is alone.
    pub(super) fn row(&self) -> &SourceRow<'d> {
        self.merged.as_deref().unwrap_or(self.first)
    }

    /// Adds `r` to the rows of the key at `entry`.
    pub(super) fn add_to<K: Ord>(
        entry: btree_map::Entry<'_, K, Agg<'d>>,
        r: &'d SourceRow<'d>,
        at: RowRef,
    ) {
        match entry {
            btree_map::Entry::Vacant(v) => {
                v.insert(Agg::new(r, at));
            }
            btree_map::Entry::Occupied(mut o) => o.get_mut().add(r, at),
        }
    }

    pub(super) fn add(&mut self, r: &'d SourceRow<'d>, at: RowRef) {
        use crate::decode::sum_opt;
        let s = self.merged.get_or_insert_with(|| Box::new(self.first.clone()));
        s.revenue = sum_opt(s.revenue, r.revenue);
        s.sessions = sum_opt(s.sessions, r.sessions);
        s.s1_clicks = sum_opt(s.s1_clicks, r.s1_clicks);
        s.spend = sum_opt(s.spend, r.spend);
        s.clicks = sum_opt(s.clicks, r.clicks);
        s.impressions = sum_opt(s.impressions, r.impressions);
        s.conversions = sum_opt(s.conversions, r.conversions);
        macro_rules! keep_first {
            ($($f:ident),*) => { $( if s.$f.is_none() { s.$f = r.$f.clone(); } )* };
        }
        keep_first!(
            date,
            strategis_id,
            platform_campaign_id,
            campaign_name,
            network_id,
            account_id,
            rsoc_site,
            buyer,
            category,
            lane,
            adset_name
        );
        self.refs.push(at);
    }
}

/// One campaign key's sources on a date: per endpoint, the aggregated rows of that endpoint's
/// snapshot. An array indexed by [`EndpointId`], because every value of a row looks up
/// several endpoints and a date has thousands of rows.
#[derive(Default)]
pub(super) struct KeySources<'d> {
    pub(super) by_endpoint: [Option<Agg<'d>>; EndpointId::COUNT],
    /// The platform of the first platform report (not an "all" endpoint) naming the key.
    pub(super) platform: Option<&'static str>,
    /// Some row of the key named it by a platform id that did not resolve to a Strategis id.
    pub(super) unmapped: bool,
    /// The key has `facebook_adsets` rows, which copy its daily row.
    pub(super) has_adsets: bool,
}

impl<'d> KeySources<'d> {
    pub(super) fn get(&self, endpoint: EndpointId) -> Option<&Agg<'d>> {
        self.by_endpoint[endpoint.index()].as_ref()
    }

    pub(super) fn add(&mut self, endpoint: EndpointId, r: &'d SourceRow<'d>, at: RowRef) {
        match &mut self.by_endpoint[endpoint.index()] {
            Some(agg) => agg.add(r, at),
            empty => *empty = Some(Agg::new(r, at)),
        }
    }
}

pub(super) struct Pick<'s, T> {
    pub(super) value: Option<T>,
    pub(super) endpoint: Option<EndpointId>,
    pub(super) refs: &'s [RowRef],
    /// Sources later in the order that also had a value: (endpoint, rows, value).
    pub(super) losers: Vec<(EndpointId, &'s [RowRef], LostValue<'s>)>,
}

/// A losing source's value, as read: printed only into its lineage entry, once per body row
/// rather than once per pick.
#[derive(Debug, Clone, Copy)]
pub(super) enum LostValue<'s> {
    Text(&'s str),
    Money(Decimal),
    Count(i64),
}

impl std::fmt::Display for LostValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LostValue::Text(t) => f.write_str(t),
            LostValue::Money(d) => std::fmt::Display::fmt(d, f),
            LostValue::Count(n) => std::fmt::Display::fmt(n, f),
        }
    }
}

impl LostValue<'_> {
    pub(super) fn contains_separator(&self) -> bool {
        matches!(self, LostValue::Text(t) if t.contains(LOST_VALUE_SEPARATOR))
    }
}

/// A value a source row can lose with.
pub(super) trait Losable<'s>: Copy {
    fn lost(self) -> LostValue<'s>;
}

impl<'s> Losable<'s> for &'s str {
    fn lost(self) -> LostValue<'s> {
        LostValue::Text(self)
    }
}

impl Losable<'_> for Decimal {
    fn lost(self) -> LostValue<'static> {
        LostValue::Money(self)
    }
}

impl Losable<'_> for i64 {
    fn lost(self) -> LostValue<'static> {
        LostValue::Count(self)
    }
}

/// The value of the first source in `order` that has one. `get` may return a reference into
/// the source row: only the winner's value is copied out, by the caller.
pub(super) fn pick<'s, T: Losable<'s>>(
    sources: &'s KeySources<'_>,
    order: &[EndpointId],
    get: impl Fn(&'s SourceRow) -> Option<T>,
) -> Pick<'s, T> {
    for (i, &endpoint) in order.iter().enumerate() {
        if let Some(agg) = sources.get(endpoint) {
            if let Some(v) = get(agg.row()) {
                let losers = order[i + 1..]
                    .iter()
                    .filter_map(|&e| {
                        sources.get(e).and_then(|a| get(a.row()).map(|lv| (e, a.refs(), lv.lost())))
                    })
                    .collect();
                return Pick { value: Some(v), endpoint: Some(endpoint), refs: agg.refs(), losers };
            }
        }
    }
    Pick { value: None, endpoint: None, refs: &[], losers: Vec::new() }
}

/// Collects a row's lineage: chosen sources grouped per (endpoint, body row), so one entry
/// names every column that row supplied; losing sources one entry per body row with the
/// values it lost. Picks are kept as the source's rows (a slice of its [`Agg`]), not one
/// entry per row and column: a key can aggregate a whole report's rows.
#[derive(Default, Clone)]
pub(super) struct RowBuilder<'s> {
    /// (endpoint, its body rows, column): one per pick, grouped when the row is finished.
    pub(super) chosen: Vec<(EndpointId, &'s [RowRef], Columns)>,
    pub(super) lost: Vec<(EndpointId, &'s [RowRef], Columns, LostValue<'s>)>,
    pub(super) newest: Option<DateTime<Utc>>,
}

impl<'s> RowBuilder<'s> {
    /// Empty again, keeping its vectors: one builder serves every row of a date.
    pub(super) fn clear(&mut self) {
        self.chosen.clear();
        self.lost.clear();
        self.newest = None;
    }

    pub(super) fn take<T>(
        &mut self,
        day: &DayData<'_>,
        column: Columns,
        p: Pick<'s, T>,
    ) -> Option<T> {
        if let (Some(_), Some(endpoint)) = (&p.value, p.endpoint) {
            let newest = p.refs.iter().map(|&r| day.fetched_at(r)).max();
            self.newest = self.newest.max(newest);
            self.chosen.push((endpoint, p.refs, column));
            for (loser, refs, value) in p.losers {
                self.lost.push((loser, refs, column, value));
            }
        }
        p.value
    }

    /// The body rows of each endpoint picked, each with the columns it supplied, in
    /// (endpoint, body row) order.
    fn chosen_rows(&self) -> Vec<(EndpointId, RowRef, Columns)> {
        let mut rows: Vec<(EndpointId, RowRef, Columns)> = Vec::new();
        let mut picks = self.chosen.clone();
        picks.sort_unstable_by_key(|(endpoint, ..)| *endpoint);
        for group in picks.chunk_by(|a, b| a.0 == b.0) {
            let same_rows = group.iter().all(|(_, refs, _)| std::ptr::eq(*refs, group[0].1));
            if same_rows && group[0].1.is_sorted() {
                // The common case: the endpoint's picks share its one Agg of rows, in order.
                let columns = group.iter().fold(Columns::EMPTY, |set, c| set.with(c.2));
                rows.extend(group[0].1.iter().map(|&r| (group[0].0, r, columns)));
            } else {
                let mut each: Vec<(EndpointId, RowRef, Columns)> = group
                    .iter()
                    .flat_map(|&(e, refs, c)| refs.iter().map(move |&r| (e, r, c)))
                    .collect();
                each.sort_unstable();
                for same in each.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
                    rows.push((
                        same[0].0,
                        same[0].1,
                        same.iter().fold(Columns::EMPTY, |set, c| set.with(c.2)),
                    ));
                }
            }
        }
        rows
    }

    pub(super) fn finish(
        &mut self,
        day: &DayData<'_>,
        table: &'static str,
        kind: &'static str,
        row_key: &Arc<str>,
        out: &mut Vec<LineageRow>,
    ) {
        for (endpoint, r, columns) in self.chosen_rows() {
            out.push(LineageRow::new(
                day,
                table,
                kind,
                row_key,
                columns,
                endpoint.key(),
                r,
                true,
                None,
            ));
        }
        // A losing body row gets one entry for all the columns it lost, values joined by
        // LOST_VALUE_SEPARATOR in column order (one entry per column if a value contains it).
        // Sorted by (body row, column): each body row's values in column order. A body row
        // has one value per column (its source's), so equal (row, column) are one loss.
        let mut lost: Vec<(EndpointId, RowRef, Columns, LostValue<'s>)> = self
            .lost
            .iter()
            .flat_map(|&(endpoint, refs, column, value)| {
                refs.iter().map(move |&r| (endpoint, r, column, value))
            })
            .collect();
        lost.sort_unstable_by_key(|&(endpoint, r, column, _)| (endpoint, r, column));
        lost.dedup_by_key(|&mut (endpoint, r, column, _)| (endpoint, r, column));
        for values in lost.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (endpoint, r) = (values[0].0.key(), values[0].1);
            if values.iter().any(|(.., v)| v.contains_separator()) {
                for &(.., column, value) in values {
                    out.push(LineageRow::new(
                        day,
                        table,
                        kind,
                        row_key,
                        column,
                        endpoint,
                        r,
                        false,
                        Some(value.to_string()),
                    ));
                }
            } else {
                let columns = values.iter().fold(Columns::EMPTY, |set, (_, _, c, _)| set.with(*c));
                let mut joined = String::new();
                for (i, (.., value)) in values.iter().enumerate() {
                    if i > 0 {
                        joined.push(LOST_VALUE_SEPARATOR);
                    }
                    // Writing into a String cannot fail.
                    let _ = write!(joined, "{value}");
                }
                out.push(LineageRow::new(
                    day,
                    table,
                    kind,
                    row_key,
                    columns,
                    endpoint,
                    r,
                    false,
                    Some(joined),
                ));
            }
        }
    }
}

impl LineageRow {
    /// The entry of body row `r` of `day` for `columns` of row `row_key`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        day: &DayData<'_>,
        table: &'static str,
        kind: &'static str,
        row_key: &Arc<str>,
        columns: Columns,
        endpoint: &'static str,
        r: RowRef,
        chosen: bool,
        value: Option<String>,
    ) -> Self {
        LineageRow {
            table_name: table,
            date: day.date,
            row_key: row_key.clone(),
            kind,
            columns,
            endpoint,
            event_id: day.events[r.event].id,
            event_index: day.event_index[r.event],
            locator: day.locator(r),
            chosen,
            both_snapshots: false,
            value,
        }
    }
}
