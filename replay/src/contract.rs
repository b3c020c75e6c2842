//! Body contracts: what an endpoint's body must look like, declared once, in the endpoint's
//! own module, and read by both the ingest-time check and the projector's decoder.
//!
//! A contract says where a body's rows are and which fields a row carries: each field's key,
//! its [`Kind`] (how its value is read), the [`Column`] of the row it fills, and whether the
//! body must carry it. Reading a body against its contract gives its rows and bad rows, or a
//! verdict on the body as a whole ([`BodyError`]):
//! - no row array where the contract puts it; a required field absent from every row of a
//!   body that has rows (a renamed JSON field); a CSV header without a required column (a
//!   renamed column): the body breaks its contract, the fetch is FAILED, its rows unused;
//! - a row without a required field that other rows carry, or with a value its field's kind
//!   cannot read, is a bad row ([`RowError`]): quarantined, and the fetch is PARTIAL;
//! - a body with rows of which none can be read breaks its contract too: a fetch never
//!   turns a whole report into quietly missing numbers.
//!
//! Invariants: an absent or `null` value reads as no value, never as zero; when several
//! fields fill one column, the first one declared that has a value wins; a contract is plain
//! data, so adding an endpoint adds a declaration, not a parser.

use std::borrow::Cow;

use crate::decode::{self, SourceRow, Value as Raw};

/// How a body is serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    /// A header line naming the columns, then one record per line.
    Csv,
}

/// How a field's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any scalar, as text (numbers and booleans as printed); empty text is no value.
    Text,
    /// `YYYY-MM-DD`, optionally followed by a time (`2025-11-23 00:00:00.0`).
    Date,
    /// `YYYY-MM-DD HH:…`: the date, and the hour into [`SourceRow::hour`].
    DateHour,
    /// An hour of the day as S1 counts them: 0..=27 (24-27 are late clicks of the day).
    Hour,
    /// Exact decimal money, a number or a string (thousands separators allowed).
    Money,
    /// [`Kind::Money`] in cents, divided by 100.
    MoneyCents,
    /// A whole count: an integer, or an integral float such as `23.0`.
    Count,
    /// Facebook's `actions`, an array of `{action_type, value}`: the count of the entry
    /// whose `action_type` is this.
    Action(&'static str),
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Date => "a date",
            Kind::DateHour => "a date and hour",
            Kind::Hour => "an hour 0..27",
            Kind::Money | Kind::MoneyCents => "a number",
            Kind::Count | Kind::Action(_) => "a whole count",
        }
    }
}

/// The column of a [`SourceRow`] a field fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Date,
    Hour,
    StrategisId,
    PlatformCampaignId,
    CampaignName,
    AdsetId,
    AdsetName,
    NetworkId,
    AccountId,
    RsocSite,
    Buyer,
    Category,
    Lane,
    Revenue,
    Sessions,
    S1Clicks,
    Spend,
    Clicks,
    Impressions,
    Conversions,
    Rpc,
}

/// One field a row may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The key in the row object (`/` steps into nested objects: `metrics/spend`), or the
    /// CSV column name.
    pub key: &'static str,
    pub kind: Kind,
    pub column: Column,
    /// Whether a row must carry it; a body none of whose rows carries a field it must breaks
    /// its contract.
    pub need: Need,
    /// Read from the item that holds the row's array, for nested rows
    /// ([`Contract::nested`]), rather than from the row itself.
    pub parent: bool,
}

/// How much of a field a row must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Optional,
    /// Present, though it may be `null` (no value): a report's measure.
    Present,
    /// Present with a value: what places the row (its date, hour or campaign id).
    Value,
}

impl Field {
    /// A field that places its row: present, not `null`.
    pub const fn key(key: &'static str, kind: Kind, column: Column) -> Field {
        Field { key, kind, column, need: Need::Value, parent: false }
    }

    /// A field every row carries, possibly as `null`.
    pub const fn required(key: &'static str, kind: Kind, column: Column) -> Field {
        Field { key, kind, column, need: Need::Present, parent: false }
    }

    pub const fn optional(key: &'static str, kind: Kind, column: Column) -> Field {
        Field { key, kind, column, need: Need::Optional, parent: false }
    }

    pub const fn is_required(&self) -> bool {
        !matches!(self.need, Need::Optional)
    }

    /// This field, read from the row's parent item.
    pub const fn of_parent(self) -> Field {
        Field { parent: true, ..self }
    }
}

/// An endpoint's body contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contract {
    pub format: Format,
    /// JSON: the row array, as JSON pointers tried in order (`""` is the document itself, a
    /// bare array).
    pub rows: &'static [&'static str],
    /// Rows nested in each item of the row array under this key (Outbrain's hours in each
    /// campaign, SmartNews' days in each campaign); `parent` fields come from the item.
    pub nested: Option<&'static str>,
    pub fields: &'static [Field],
}

/// Fields at most per contract: which ones a body carried is a bit set.
pub const MAX_FIELDS: usize = 32;

impl Contract {
    pub const fn json(rows: &'static [&'static str], fields: &'static [Field]) -> Contract {
        Contract { format: Format::Json, rows, nested: None, fields }
    }

    pub const fn nested(
        rows: &'static [&'static str],
        key: &'static str,
        fields: &'static [Field],
    ) -> Contract {
        Contract { format: Format::Json, rows, nested: Some(key), fields }
    }

    pub const fn csv(fields: &'static [Field]) -> Contract {
        Contract { format: Format::Csv, rows: &[], nested: None, fields }
    }

    /// The required fields absent from every row, given which fields some row carried.
    pub fn missing(&self, seen: Seen) -> impl Iterator<Item = &'static str> + '_ {
        self.fields
            .iter()
            .enumerate()
            .filter(move |(i, f)| f.is_required() && !seen.has(*i))
            .map(|(_, f)| f.key)
    }

    /// Reads one JSON row whose values were picked out as it was parsed (one slot per field,
    /// `None`: absent; the parent item's for `parent` fields), noting in `seen` which fields
    /// it carried. The row's locator is left to the caller.
    pub fn read_values<'b>(
        &self,
        parent: Option<&[Option<Raw<'b>>]>,
        row: &[Option<Raw<'b>>],
        seen: &mut Seen,
    ) -> Result<SourceRow<'b>, RowError> {
        let mut out = SourceRow::default();
        for (i, field) in self.fields.iter().enumerate() {
            let slots = if field.parent { parent.unwrap_or_default() } else { row };
            take(i, field, slots.get(i).and_then(Option::as_ref), &mut out, seen)?;
        }
        Ok(out)
    }

    /// Where each field is among a CSV header's columns; a required column missing from the
    /// header breaks the contract.
    pub fn csv_columns(&self, header: &csv::StringRecord) -> Result<Vec<Option<usize>>, BodyError> {
        let at: Vec<Option<usize>> =
            self.fields.iter().map(|f| header.iter().position(|h| h.trim() == f.key)).collect();
        match self.fields.iter().zip(&at).find(|(f, at)| f.is_required() && at.is_none()) {
            Some((f, _)) => Err(BodyError::MissingColumn { field: f.key }),
            None => Ok(at),
        }
    }

    /// Reads one CSV record, its columns placed by [`Contract::csv_columns`].
    pub fn read_csv<'r>(
        &self,
        columns: &[Option<usize>],
        record: &'r csv::StringRecord,
    ) -> Result<SourceRow<'r>, RowError> {
        let mut out = SourceRow::default();
        for (field, at) in self.fields.iter().zip(columns) {
            let Some(text) = at.and_then(|i| record.get(i)) else {
                if field.is_required() && at.is_some() {
                    return Err(RowError::Missing { field: field.key });
                }
                continue;
            };
            let read = read(field, &Raw::String(Cow::Borrowed(text)))?;
            if read.is_none() && field.need == Need::Value {
                return Err(RowError::NoValue { field: field.key });
            }
            set(&mut out, field, read);
        }
        Ok(out)
    }
}

/// Reads field `i`'s value (`None`: absent) into `out`.
fn take<'b>(
    i: usize,
    field: &Field,
    value: Option<&Raw<'b>>,
    out: &mut SourceRow<'b>,
    seen: &mut Seen,
) -> Result<(), RowError> {
    let Some(value) = value else {
        return if field.is_required() {
            Err(RowError::Missing { field: field.key })
        } else {
            Ok(())
        };
    };
    seen.add(i);
    let read = if value.is_null() { None } else { read(field, value)? };
    if read.is_none() && field.need == Need::Value {
        return Err(RowError::NoValue { field: field.key });
    }
    set(out, field, read);
    Ok(())
}

/// Which of a contract's fields some row carried: bit `i` is field `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen(u32);

impl Seen {
    pub fn add(&mut self, field: usize) {
        self.0 |= 1 << field;
    }

    pub fn has(self, field: usize) -> bool {
        self.0 & (1 << field) != 0
    }

    pub fn union(self, other: Seen) -> Seen {
        Seen(self.0 | other.0)
    }
}

/// A body that breaks its endpoint's contract as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the stored body could not be read: {detail}")]
    Unreadable { detail: String },
    #[error("not JSON: {detail}")]
    NotJson { detail: String },
    #[error("not CSV: {detail}")]
    NotCsv { detail: String },
    #[error("no row array at {pointers}")]
    NoRowArray { pointers: String },
    #[error("required field `{field}` is missing from every row")]
    MissingField { field: &'static str },
    #[error("required column `{field}` is missing from the CSV header")]
    MissingColumn { field: &'static str },
    #[error("none of its {rows} rows can be read; the first, {locator}: {error}")]
    EveryRowBad { rows: usize, locator: String, error: RowError },
}

impl BodyError {
    /// Whether fetching again may help: a truncated or garbled body may be a transient
    /// fault, while a body of the wrong shape is what the upstream now sends.
    pub fn is_transient(&self) -> bool {
        matches!(self, BodyError::NotJson { .. } | BodyError::NotCsv { .. })
    }
}

/// A row that cannot be read; the others of its body still are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("the row is not an object")]
    NotAnObject,
    #[error("required field `{field}` is missing")]
    Missing { field: &'static str },
    #[error("`{field}` has no value, and it places the row")]
    NoValue { field: &'static str },
    #[error("`{field}`: {value} is not {expected}")]
    Invalid { field: &'static str, value: String, expected: &'static str },
    #[error("`{field}`: {value} is beyond {limit}")]
    OutOfRange { field: &'static str, value: String, limit: &'static str },
    #[error("CSV record: {detail}")]
    Csv { detail: String },
}

/// One value read from a field, in the projector's types.
pub enum Read<'b> {
    Text(Cow<'b, str>),
    Date(chrono::NaiveDate, Option<u8>),
    Hour(u8),
    Money(rust_decimal::Decimal),
    Count(i64),
}

/// Reads a present, non-null value of `field`; `None` is a value that reads as none (empty
/// text, an action not in the list).
pub fn read<'b>(field: &Field, value: &Raw<'b>) -> Result<Option<Read<'b>>, RowError> {
    let invalid = || RowError::Invalid {
        field: field.key,
        value: decode::shown(value),
        expected: field.kind.expected(),
    };
    let out = match field.kind {
        Kind::Text => decode::text(value).map(Read::Text),
        Kind::Date => decode::date(value).map_err(|_| invalid())?.map(|d| Read::Date(d, None)),
        Kind::DateHour => decode::date_hour(value)
            .map_err(|_| invalid())?
            .map(|(date, hour)| Read::Date(date, Some(hour))),
        Kind::Hour => match decode::count(field.key, value)? {
            Some(h) => {
                Some(Read::Hour(u8::try_from(h).ok().filter(|h| *h <= 27).ok_or_else(invalid)?))
            }
            None => None,
        },
        Kind::Money => decode::money(field.key, value)?.map(Read::Money),
        Kind::MoneyCents => decode::money(field.key, value)?
            .map(|c| Read::Money(c / rust_decimal::Decimal::ONE_HUNDRED)),
        Kind::Count => decode::count(field.key, value)?.map(Read::Count),
        Kind::Action(action) => {
            let Raw::Composite(text) = value else { return Err(invalid()) };
            let actions: Vec<serde_json::Value> =
                serde_json::from_str(text).map_err(|_| invalid())?;
            let wanted = actions
                .iter()
                .find(|a| a.get("action_type").and_then(serde_json::Value::as_str) == Some(action));
            match wanted.and_then(|a| a.get("value")).filter(|v| !v.is_null()) {
                Some(v) => decode::count(field.key, &Raw::of_json(v))?.map(Read::Count),
                None => None,
            }
        }
    };
    Ok(out)
}

/// Puts `value` into `field`'s column, unless an earlier field already filled it.
fn set<'b>(row: &mut SourceRow<'b>, field: &Field, value: Option<Read<'b>>) {
    let Some(value) = value else { return };
    macro_rules! first {
        ($slot:expr, $v:expr) => {
            if $slot.is_none() {
                $slot = Some($v);
            }
        };
    }
    match (field.column, value) {
        (Column::Date, Read::Date(d, hour)) => {
            first!(row.date, d);
            if let Some(h) = hour {
                first!(row.hour, h);
            }
        }
        (Column::Hour, Read::Hour(h)) => first!(row.hour, h),
        (Column::Revenue, Read::Money(m)) => first!(row.revenue, m),
        (Column::Spend, Read::Money(m)) => first!(row.spend, m),
        (Column::Rpc, Read::Money(m)) => first!(row.rpc, m),
        (Column::Sessions, Read::Count(n)) => first!(row.sessions, n),
        (Column::S1Clicks, Read::Count(n)) => first!(row.s1_clicks, n),
        (Column::Clicks, Read::Count(n)) => first!(row.clicks, n),
        (Column::Impressions, Read::Count(n)) => first!(row.impressions, n),
        (Column::Conversions, Read::Count(n)) => first!(row.conversions, n),
        (column, Read::Text(t)) => {
            let slot = match column {
                Column::StrategisId => &mut row.strategis_id,
                Column::PlatformCampaignId => &mut row.platform_campaign_id,
                Column::CampaignName => &mut row.campaign_name,
                Column::AdsetId => &mut row.adset_id,
                Column::AdsetName => &mut row.adset_name,
                Column::NetworkId => &mut row.network_id,
                Column::AccountId => &mut row.account_id,
                Column::RsocSite => &mut row.rsoc_site,
                Column::Buyer => &mut row.buyer,
                Column::Category => &mut row.category,
                Column::Lane => &mut row.lane,
                // A text field declared into a numeric column: caught by the registry's tests.
                _ => return,
            };
            first!(*slot, t);
        }
        // A kind declared into a column of another type: caught by the registry's tests.
        _ => {}
    }
}

/// Whether `kind` can fill `column`: what the registry's tests check of every contract.
pub fn fits(kind: Kind, column: Column) -> bool {
    use Column as C;
    match kind {
        Kind::Text => matches!(
            column,
            C::StrategisId
                | C::PlatformCampaignId
                | C::CampaignName
                | C::AdsetId
                | C::AdsetName
                | C::NetworkId
                | C::AccountId
                | C::RsocSite
                | C::Buyer
                | C::Category
                | C::Lane
        ),
        Kind::Date | Kind::DateHour => column == C::Date,
        Kind::Hour => column == C::Hour,
        Kind::Money | Kind::MoneyCents => matches!(column, C::Revenue | C::Spend | C::Rpc),
        Kind::Count | Kind::Action(_) => matches!(
            column,
            C::Sessions | C::S1Clicks | C::Clicks | C::Impressions | C::Conversions
        ),
    }
}
