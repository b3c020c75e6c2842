//! The JSON side of reading a body, with serde: one pass over the bytes that hands the row
//! array's items to the endpoint's contract as they are parsed, and keeps of the rest of the
//! document only the top-level members a verdict reads (`error`, `code`, `errMsg`, `paging`,
//! `pagination`). No tree of the document is built: reading a body costs memory for the rows
//! it keeps, not for its bytes.
//!
//! Semantics are those of parsing the whole document first (`serde_json::Value`'s): a key that
//! repeats keeps its last value (a repeated row array replaces the rows read so far, a
//! repeated nested object the fields read from it), the rows are the first of the contract's
//! pointers that holds an array, numbers are `serde_json::Number`s, nesting is limited (128),
//! and any byte sequence gives a result or an error, never a panic.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::body::Envelope;
use crate::contract::{Contract, RowError, Seen};
use crate::decode::{Locator, RowCollector, Value};

/// The rows of the array at one of the contract's pointers.
pub struct Found<'b> {
    pub pointer: &'static str,
    /// Items of the array (for nested rows: of the outer array).
    pub items: usize,
    pub rows: RowCollector<'b>,
    pub seen: Seen,
}

/// The scalar visits of a visitor that answers every scalar (number, string, boolean, null)
/// with one value: what a row, or the way to one, makes of a value that is none.
macro_rules! scalars_are {
    ($value:ty, $answer:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$value, E> {
            Ok($answer)
        }

        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$value, E> {
            Ok($answer)
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$value, E> {
            Ok($answer)
        }

        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$value, E> {
            Ok($answer)
        }

        fn visit_str<E: de::Error>(self, _: &str) -> Result<$value, E> {
            Ok($answer)
        }

        fn visit_unit<E: de::Error>(self) -> Result<$value, E> {
            Ok($answer)
        }
    };
}

/// A document read: its envelope, and the rows at the first pointer that held an array.
pub struct Document<'b> {
    pub envelope: Envelope,
    pub found: Option<Found<'b>>,
}

/// Reads `body` against `contract`, keeping the rows or only counting them. `Err` says why
/// the body is no JSON document.
pub fn read<'b>(contract: &Contract, body: &'b [u8], keep: bool) -> Result<Document<'b>, String> {
    // serde_json checks the UTF-8 of the strings it reads, not of those it skips: the whole
    // body is checked first, so that a document is JSON or not whatever the contract reads.
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
    let mut state = State {
        contract,
        keep,
        body_len: body.len(),
        plan: Plan::of(contract),
        candidates: contract.rows.iter().map(|p| (steps(p), *p)).collect(),
        found: contract.rows.iter().map(|_| None).collect(),
        envelope: Envelope::default(),
        slots: vec![None; contract.fields.len()],
    };
    let mut de = serde_json::Deserializer::from_str(text);
    Node { state: &mut state, path: Vec::new() }.deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    let found = state.found.into_iter().flatten().next();
    Ok(Document { envelope: state.envelope, found })
}

/// A JSON pointer as object keys (`""` is the document itself).
fn steps(pointer: &str) -> Vec<String> {
    match pointer.strip_prefix('/') {
        Some(rest) => rest.split('/').map(|k| k.replace("~1", "/").replace("~0", "~")).collect(),
        None => Vec::new(),
    }
}

/// Which fields are read where, as a tree of object members: the row's own fields, and for
/// nested rows the parent item's.
struct Plan {
    row: Level,
    parent: Level,
}

/// The members of one object that lead to fields.
#[derive(Default)]
struct Level {
    members: Vec<(&'static str, Target)>,
}

enum Target {
    /// The member's value is this contract field's.
    Field(usize),
    /// The member is an object holding deeper fields (`metrics` of `metrics/spend`).
    Object(Level),
}

impl Level {
    fn add(&mut self, steps: &[&'static str], field: usize) {
        let Some((first, rest)) = steps.split_first() else { return };
        if rest.is_empty() {
            self.members.push((first, Target::Field(field)));
            return;
        }
        let at =
            self.members.iter().position(|(k, t)| k == first && matches!(t, Target::Object(_)));
        let at = at.unwrap_or_else(|| {
            self.members.push((first, Target::Object(Level::default())));
            self.members.len() - 1
        });
        if let Target::Object(level) = &mut self.members[at].1 {
            level.add(rest, field);
        }
    }

    fn member(&self, key: &str) -> Option<&Target> {
        self.members.iter().find(|(k, _)| *k == key).map(|(_, t)| t)
    }

    /// Every field at or below this level.
    fn fields(&self, out: &mut Vec<usize>) {
        for (_, target) in &self.members {
            match target {
                Target::Field(i) => out.push(*i),
                Target::Object(level) => level.fields(out),
            }
        }
    }
}

impl Plan {
    fn of(contract: &Contract) -> Plan {
        let mut plan = Plan { row: Level::default(), parent: Level::default() };
        for (i, field) in contract.fields.iter().enumerate() {
            let steps: Vec<&'static str> = field.key.split('/').collect();
            let level = if field.parent { &mut plan.parent } else { &mut plan.row };
            level.add(&steps, i);
        }
        plan
    }
}

struct State<'c, 'b> {
    contract: &'c Contract,
    keep: bool,
    body_len: usize,
    plan: Plan,
    candidates: Vec<(Vec<String>, &'static str)>,
    found: Vec<Option<Found<'b>>>,
    envelope: Envelope,
    /// One row's values, one per contract field: reused from row to row.
    slots: Vec<Option<Value<'b>>>,
}

/// A node of the document on the way to the rows, at `path` from the root.
struct Node<'s, 'c, 'b> {
    state: &'s mut State<'c, 'b>,
    path: Vec<String>,
}

impl<'de, 's, 'c> DeserializeSeed<'de> for Node<'s, 'c, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, 's, 'c> Visitor<'de> for Node<'s, 'c, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let root = self.path.is_empty();
        while let Some(Key(key)) = map.next_key()? {
            let mut path = self.path.clone();
            path.push(key.into_owned());
            let toward_rows: Vec<usize> = (0..self.state.candidates.len())
                .filter(|&c| self.state.candidates[c].0.starts_with(&path))
                .collect();
            if !toward_rows.is_empty() {
                // A repeated key replaces what an earlier one held.
                for c in toward_rows {
                    self.state.found[c] = None;
                }
                map.next_value_seed(Node { state: &mut *self.state, path })?;
                continue;
            }
            let slot = match (root, path[0].as_str()) {
                (true, "error") => &mut self.state.envelope.error,
                (true, "code") => &mut self.state.envelope.code,
                (true, "errMsg") => &mut self.state.envelope.err_msg,
                (true, "paging") => &mut self.state.envelope.paging,
                (true, "pagination") => &mut self.state.envelope.pagination,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some(c) = self.state.candidates.iter().position(|(steps, _)| *steps == self.path)
        else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let state = self.state;
        let pointer = state.candidates[c].1;
        let mut rows = if state.keep {
            // Sized once, for rows of 100 bytes or more: growing would copy every row read so
            // far. Capped, so that a body of something else than rows reserves little.
            RowCollector::new(pointer, (state.body_len / 100).min(1 << 20))
        } else {
            RowCollector::counting(pointer)
        };
        let mut seen = Seen::default();
        let mut items = 0usize;
        let prefix: Arc<str> = Arc::from(pointer);
        let nested = state.contract.nested;
        loop {
            state.slots.iter_mut().for_each(|s| *s = None);
            let seed = Item { plan: &state.plan, slots: &mut state.slots, nested };
            let Some(item) = seq.next_element_seed(seed)? else { break };
            let at = Locator::indexed(&prefix, items);
            match (nested, item) {
                (_, Shape::Other) => rows.push_at(at, Err(RowError::NotAnObject)),
                (None, Shape::Object(_)) => {
                    rows.push_at(at, state.contract.read_values(None, &state.slots, &mut seen));
                }
                (Some(key), Shape::Object(inner)) => match inner {
                    Inner::Absent => {}
                    Inner::NotArray(value) => rows.push_at(
                        at,
                        Err(RowError::Invalid {
                            field: key,
                            value: crate::decode::shown(&value),
                            expected: "an array of rows",
                        }),
                    ),
                    Inner::Rows(inner_rows) => {
                        let inner_prefix: Arc<str> = Arc::from(format!(
                            "{at}/{}",
                            key.replace('~', "~0").replace('/', "~1")
                        ));
                        for (j, inner) in inner_rows.into_iter().enumerate() {
                            let at = Locator::indexed(&inner_prefix, j);
                            match inner {
                                Some(values) => rows.push_at(
                                    at,
                                    state.contract.read_values(
                                        Some(&state.slots),
                                        &values,
                                        &mut seen,
                                    ),
                                ),
                                None => rows.push_at(at, Err(RowError::NotAnObject)),
                            }
                        }
                    }
                },
            }
            items += 1;
        }
        state.found[c] = Some(Found { pointer, items, rows, seen });
        Ok(())
    }

    scalars_are!((), ());
}

/// An object key, borrowed from the body unless it had to be unescaped.
struct Key<'b>(Cow<'b, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// What an item of the row array was.
enum Shape<'b> {
    /// An object: its fields went into the slots; for nested rows, its inner rows.
    Object(Inner<'b>),
    Other,
}

/// The nested rows of a parent item.
enum Inner<'b> {
    Absent,
    NotArray(Value<'b>),
    /// Each inner row's values (one slot per contract field), `None` for one that is no object.
    Rows(Vec<Option<Vec<Option<Value<'b>>>>>),
}

/// One item of the row array: a row, or for nested rows a parent item.
struct Item<'p, 'v, 'b> {
    plan: &'p Plan,
    slots: &'v mut Vec<Option<Value<'b>>>,
    nested: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for Item<'_, '_, 'de> {
    type Value = Shape<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Shape<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Item<'_, '_, 'de> {
    type Value = Shape<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Shape<'de>, A::Error> {
        let level = if self.nested.is_some() { &self.plan.parent } else { &self.plan.row };
        let mut inner = Inner::Absent;
        let nested = self.nested.map(|key| (key, &self.plan.row, &mut inner));
        fill(map, level, self.slots, nested)?;
        Ok(Shape::Object(inner))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Other)
    }

    scalars_are!(Shape<'de>, Shape::Other);
}

/// Reads an object's members into `slots`: a member that is a field's takes its value, one
/// that holds deeper fields is descended into. `nested` names the member whose array holds a
/// parent item's rows, and the rows' own fields.
fn fill<'de, A: MapAccess<'de>>(
    mut map: A,
    level: &Level,
    slots: &mut [Option<Value<'de>>],
    mut nested: Option<(&'static str, &Level, &mut Inner<'de>)>,
) -> Result<(), A::Error> {
    while let Some(Key(key)) = map.next_key()? {
        match level.member(&key) {
            Some(Target::Field(i)) => slots[*i] = Some(map.next_value_seed(ValueSeed)?),
            Some(Target::Object(deeper)) => {
                // A repeated object replaces what the earlier one held.
                let mut below = Vec::new();
                deeper.fields(&mut below);
                for i in below {
                    slots[i] = None;
                }
                map.next_value_seed(Sub { level: deeper, slots: &mut *slots })?;
            }
            None => match &mut nested {
                Some((name, row_level, inner)) if *name == &*key => {
                    **inner =
                        map.next_value_seed(InnerRows { level: row_level, slots: slots.len() })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            },
        }
    }
    Ok(())
}

/// A member on the way to some fields' values (`metrics` of `metrics/spend`).
struct Sub<'l, 's, 'b> {
    level: &'l Level,
    slots: &'s mut [Option<Value<'b>>],
}

impl<'de> DeserializeSeed<'de> for Sub<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Sub<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        fill(map, self.level, self.slots, None)
    }

    // Not an object: the fields below it are absent.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    scalars_are!((), ());
}

/// A parent item's nested rows.
struct InnerRows<'l> {
    level: &'l Level,
    slots: usize,
}

impl<'de> DeserializeSeed<'de> for InnerRows<'_> {
    type Value = Inner<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Inner<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for InnerRows<'_> {
    type Value = Inner<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Inner<'de>, A::Error> {
        let mut rows = Vec::new();
        loop {
            let mut slots = vec![None; self.slots];
            match seq.next_element_seed(InnerRow { level: self.level, slots: &mut slots })? {
                None => break,
                Some(true) => rows.push(Some(slots)),
                Some(false) => rows.push(None),
            }
        }
        Ok(Inner::Rows(rows))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Inner<'de>, A::Error> {
        Ok(Inner::NotArray(Value::Composite(Cow::Owned(Composite::map(map)?))))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Inner<'de>, E> {
        Ok(Inner::NotArray(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Inner<'de>, E> {
        Ok(Inner::NotArray(Value::Number(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Inner<'de>, E> {
        Ok(Inner::NotArray(Value::Number(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Inner<'de>, E> {
        Ok(Inner::NotArray(number(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Inner<'de>, E> {
        Ok(Inner::NotArray(Value::String(Cow::Owned(v.to_owned()))))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Inner<'de>, E> {
        Ok(Inner::Absent)
    }
}

/// One nested row: `true` when it was an object, its fields in `slots`.
struct InnerRow<'l, 's, 'b> {
    level: &'l Level,
    slots: &'s mut [Option<Value<'b>>],
}

impl<'de> DeserializeSeed<'de> for InnerRow<'_, '_, 'de> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for InnerRow<'_, '_, 'de> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        fill(map, self.level, self.slots, None)?;
        Ok(true)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    scalars_are!(bool, false);
}

/// A field's value, borrowed from the body where it can be.
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

fn number(v: f64) -> Value<'static> {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value<'de>, E> {
        Ok(number(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value<'de>, A::Error> {
        Ok(Value::Composite(Cow::Owned(Composite::seq(seq)?)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value<'de>, A::Error> {
        Ok(Value::Composite(Cow::Owned(Composite::map(map)?)))
    }
}

/// An array or object printed back as compact JSON text, members in the order they came
/// (repeated keys too), as a whole-document parse prints it.
struct Composite(String);

impl Composite {
    fn seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<String, A::Error> {
        let mut out = String::from("[");
        let mut item = Composite(String::new());
        while seq.next_element_seed(&mut item)?.is_some() {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&item.0);
            item.0.clear();
        }
        out.push(']');
        Ok(out)
    }

    fn map<'de, A: MapAccess<'de>>(mut map: A) -> Result<String, A::Error> {
        let mut out = Composite(String::from("{"));
        let mut first = true;
        while let Some(Key(key)) = map.next_key()? {
            if !first {
                out.0.push(',');
            }
            first = false;
            out.0.push_str(&serde_json::Value::String(key.into_owned()).to_string());
            out.0.push(':');
            map.next_value_seed(&mut out)?;
        }
        out.0.push('}');
        Ok(out.0)
    }
}

impl<'de> DeserializeSeed<'de> for &mut Composite {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let value = d.deserialize_any(ValueSeed)?;
        let _ = write!(self.0, "{value}");
        Ok(())
    }
}
