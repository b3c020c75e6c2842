//! Projected rows straight into DuckDB's vectors, and their fingerprints.
//!
//! A table's columns are declared once, as a list of [`Column`]s that read a value from a
//! row. The same list fills DuckDB's data chunks and hashes the rows, so what is fingerprinted
//! is what is written.
//!
//! Rows reach DuckDB through a table function, `adlake_rows(id)`: the writer registers a
//! [`Rows`] under a fresh id and runs `INSERT INTO t SELECT * FROM adlake_rows(id)`. The
//! function takes the rows out of the registry when DuckDB binds it, so each registration is
//! read by one statement; the writer removes it afterwards in case the statement failed before
//! binding. The rows are owned (`'static`): nothing DuckDB holds can outlive what it reads.
//! The duckdb crate's Appender takes Arrow batches, which it converts to vectors value by
//! value: building and converting them cost more than DuckDB's own work of storing the rows.
//!
//! Each column's values are hashed with XXH3-128 and the column digests combined with sha256.
//! A fingerprint only tells two rebuilds apart; it is no identity (a body's sha256 is), and
//! sha256 over every value written took about 7% of the writer's time.
//!
//! Invariants: a segment's fingerprint covers exactly its values written, in the order written,
//! and a chunk never spans two segments. A value a column cannot hold (money beyond
//! DECIMAL(18, 6)) fails the statement, and with it the writer's transaction: nothing of it is
//! kept.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use duckdb::core::{DataChunkHandle, FlatVector, LogicalTypeHandle, LogicalTypeId};
use duckdb::ffi;
use duckdb::vtab::{BindInfo, InitInfo, TableFunctionInfo, VTab};
use duckdb::Connection;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3;

use crate::store::db::DbError;
use adlake_replay::decode::Locator;

/// The table function's name, as the writer's SQL spells it.
pub const FUNCTION: &str = "adlake_rows";

/// DuckDB's vector size: the most rows one chunk holds.
const CHUNK_ROWS: usize = 2048;

/// How one column of a table reads its value from a row of type `R`.
pub enum Column<R> {
    Text(&'static str, for<'r> fn(&'r R) -> Option<&'r str>),
    /// Text printed into the vector (row locators), not held by the row as one string.
    Locator(&'static str, fn(&R) -> &Locator),
    Date(&'static str, fn(&R) -> Option<NaiveDate>),
    Int(&'static str, fn(&R) -> Option<i32>),
    /// An INTEGER kept as `u32` by the projector (an event's place in its date): checked.
    Index(&'static str, fn(&R) -> Option<u32>),
    Big(&'static str, fn(&R) -> Option<i64>),
    /// A BIGINT the writer computed per row, from [`Rows::given`].
    Given(&'static str),
    /// DECIMAL(18, 6).
    Money(&'static str, fn(&R) -> Option<Decimal>),
    Double(&'static str, fn(&R) -> Option<f64>),
    Bool(&'static str, fn(&R) -> Option<bool>),
    Timestamp(&'static str, fn(&R) -> Option<DateTime<Utc>>),
}

impl<R> Column<R> {
    fn name(&self) -> &'static str {
        match self {
            Column::Text(n, _)
            | Column::Locator(n, _)
            | Column::Date(n, _)
            | Column::Int(n, _)
            | Column::Index(n, _)
            | Column::Big(n, _)
            | Column::Given(n)
            | Column::Money(n, _)
            | Column::Double(n, _)
            | Column::Bool(n, _)
            | Column::Timestamp(n, _) => n,
        }
    }

    fn logical_type(&self) -> LogicalTypeHandle {
        match self {
            Column::Text(..) | Column::Locator(..) => LogicalTypeId::Varchar.into(),
            Column::Date(..) => LogicalTypeId::Date.into(),
            Column::Int(..) | Column::Index(..) => LogicalTypeId::Integer.into(),
            Column::Big(..) | Column::Given(_) => LogicalTypeId::Bigint.into(),
            Column::Money(..) => LogicalTypeHandle::decimal(18, 6),
            Column::Double(..) => LogicalTypeId::Double.into(),
            Column::Bool(..) => LogicalTypeId::Boolean.into(),
            Column::Timestamp(..) => LogicalTypeId::Timestamp.into(),
        }
    }
}

fn days_since_epoch(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days() as i32
}

/// DECIMAL(18, 6) as its scaled integer: rounded half-even at 6 places (money is exact well
/// below that).
fn money(v: Option<Decimal>) -> Result<Option<i64>, DbError> {
    const LIMIT: i128 = 1_000_000_000_000_000_000;
    let Some(d) = v else { return Ok(None) };
    // Rounding is a no-op at 6 places or fewer, and most values have 2.
    let d = if d.scale() > 6 { d.round_dp(6) } else { d };
    let scaled = d
        .mantissa()
        .checked_mul(POWERS_OF_TEN[(6 - d.scale().min(6)) as usize])
        .filter(|s| s.abs() < LIMIT);
    match scaled {
        // Below 10^18 in magnitude, so it fits.
        Some(s) => Ok(Some(s as i64)),
        None => Err(DbError::Value(format!("decimal {d} does not fit DECIMAL(18,6)"))),
    }
}

/// 10^k at k: `POWERS_OF_TEN[6 - scale]` brings a mantissa of that scale to 6 places.
const POWERS_OF_TEN: [i128; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

fn index(i: u32) -> Result<i32, DbError> {
    i32::try_from(i).map_err(|_| DbError::Value(format!("index {i} does not fit INTEGER")))
}

/// A table's rows of one statement, owned, with the columns that read them. The rows come in
/// segments (the writer's dates), each fingerprinted on its own: one statement can carry many
/// dates, and a fingerprint still covers one.
pub struct Rows<R: 'static> {
    segments: Vec<Segment<R>>,
    len: usize,
    columns: &'static [Column<R>],
    /// Per column, the hash of the current segment's values written so far. Chunks are filled
    /// one at a time, in order; the lock is only ever taken by the one thread scanning.
    hashing: Mutex<Hashing>,
    /// Each segment's fingerprint, in order, as its last row is written.
    fingerprints: Arc<Mutex<Vec<String>>>,
}

struct Segment<R> {
    rows: Vec<R>,
    /// Values of the [`Column::Given`] column, one per row (empty if there is none).
    given: Vec<i64>,
    /// The place of its first row among all the rows.
    start: usize,
}

struct Hashing {
    columns: Vec<Xxh3>,
    /// One column's encoded values of one chunk, hashed in one call.
    bytes: Vec<u8>,
    /// A locator printed before it is copied.
    text: String,
}

impl<R: 'static> Rows<R> {
    /// `rows` as one segment (none if it is empty).
    pub fn new(rows: Vec<R>, columns: &'static [Column<R>]) -> Self {
        let mut all = Rows {
            segments: Vec::new(),
            len: 0,
            columns,
            hashing: Mutex::new(Hashing {
                columns: columns.iter().map(|_| Xxh3::new()).collect(),
                bytes: Vec::new(),
                text: String::new(),
            }),
            fingerprints: Arc::default(),
        };
        all.push_segment(rows, Vec::new());
        all
    }

    /// Rows whose [`Column::Given`] column takes `given`, one value per row.
    pub fn with_given(
        rows: Vec<R>,
        given: Vec<i64>,
        columns: &'static [Column<R>],
    ) -> Result<Self, DbError> {
        if given.len() != rows.len() {
            return Err(DbError::Value(format!(
                "{} given values for {} rows",
                given.len(),
                rows.len()
            )));
        }
        let mut all = Rows::new(Vec::new(), columns);
        all.push_segment(rows, given);
        Ok(all)
    }

    /// Appends the segments of `more` after these: each keeps a fingerprint of its own.
    pub fn append(&mut self, more: Rows<R>) {
        for segment in more.segments {
            self.push_segment(segment.rows, segment.given);
        }
    }

    fn push_segment(&mut self, rows: Vec<R>, given: Vec<i64>) {
        if rows.is_empty() {
            return;
        }
        let start = self.len;
        self.len += rows.len();
        self.segments.push(Segment { rows, given, start });
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many segments there are: fingerprints [`insert`] returns.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }

    /// The segment holding row `at`.
    fn segment_of(&self, at: usize) -> Option<&Segment<R>> {
        let after = self.segments.partition_point(|s| s.start <= at);
        self.segments.get(after.checked_sub(1)?)
    }

    /// The rows of the next chunk from row `from`: at most a vector's worth, and never past the
    /// end of a segment, so that each fingerprint ends with a chunk.
    fn chunk_len(&self, from: usize) -> usize {
        self.segment_of(from).map_or(0, |s| (s.start + s.rows.len() - from).min(CHUNK_ROWS))
    }

    /// Writes rows `from..from + n` (of one segment, see [`Rows::chunk_len`]) into `out`, one
    /// vector per column, and hashes them. After a segment's last row, adds its fingerprint:
    /// sha256 over its row count and, per column in order, its name and the XXH3-128 of its
    /// values, each tagged null or present, text with its length. Equal for equal rows in
    /// equal order, however many segments share the statement.
    fn fill(&self, out: &mut DataChunkHandle, from: usize, n: usize) -> Result<(), DbError> {
        if n == 0 {
            return Ok(());
        }
        let segment =
            self.segment_of(from).filter(|s| from + n <= s.start + s.rows.len()).ok_or_else(
                || DbError::Value(format!("rows {from}..{} are not in one segment", from + n)),
            )?;
        let local = from - segment.start;
        let rows = &segment.rows[local..local + n];
        let mut hashing = self
            .hashing
            .lock()
            .map_err(|_| DbError::Value("a fill of these rows failed before".into()))?;
        let Hashing { columns: hashers, bytes, text } = &mut *hashing;
        for ((c, column), hasher) in self.columns.iter().enumerate().zip(hashers.iter_mut()) {
            bytes.clear();
            let mut v = out.flat_vector(c);
            // SAFETY: `out` is a live chunk with a vector for every declared column.
            let vector =
                unsafe { ffi::duckdb_data_chunk_get_vector(out.get_ptr(), c as ffi::idx_t) };
            // SAFETY (each `assign_text` and `primitives` call below): the vector was declared
            // with the column's logical type in `bind`, whose physical type is the one written,
            // and holds CHUNK_ROWS rows, the most `func` asks for.
            match column {
                Column::Text(_, f) => {
                    for (i, r) in rows.iter().enumerate() {
                        let value = f(r);
                        match value {
                            Some(s) => unsafe { assign_text(vector, i, s) },
                            None => v.set_null(i),
                        }
                        encode_text(bytes, value);
                    }
                }
                Column::Locator(_, f) => {
                    for (i, r) in rows.iter().enumerate() {
                        text.clear();
                        f(r).push_to(text);
                        unsafe { assign_text(vector, i, text) };
                        encode_text(bytes, Some(text));
                    }
                }
                Column::Date(_, f) => unsafe {
                    primitives(&mut v, bytes, rows.iter().map(|r| Ok(f(r).map(days_since_epoch))))?
                },
                Column::Int(_, f) => unsafe {
                    primitives(&mut v, bytes, rows.iter().map(|r| Ok(f(r))))?
                },
                Column::Index(_, f) => unsafe {
                    primitives(&mut v, bytes, rows.iter().map(|r| f(r).map(index).transpose()))?
                },
                Column::Big(_, f) => unsafe {
                    primitives(&mut v, bytes, rows.iter().map(|r| Ok(f(r))))?
                },
                Column::Given(_) => unsafe {
                    primitives(
                        &mut v,
                        bytes,
                        segment.given[local..local + n].iter().map(|g| Ok(Some(*g))),
                    )?
                },
                Column::Money(_, f) => unsafe {
                    primitives(&mut v, bytes, rows.iter().map(|r| money(f(r))))?
                },
                Column::Double(_, f) => unsafe {
                    primitives(&mut v, bytes, rows.iter().map(|r| Ok(f(r))))?
                },
                Column::Bool(_, f) => unsafe {
                    primitives(&mut v, bytes, rows.iter().map(|r| Ok(f(r))))?
                },
                Column::Timestamp(_, f) => unsafe {
                    primitives(
                        &mut v,
                        bytes,
                        rows.iter().map(|r| Ok(f(r).map(|t| t.timestamp_micros()))),
                    )?
                },
            }
            hasher.update(&bytes[..]);
        }
        if local + n == segment.rows.len() {
            let mut h = Sha256::new();
            h.update((segment.rows.len() as u64).to_le_bytes());
            for (column, hasher) in self.columns.iter().zip(hashers.iter_mut()) {
                h.update(column.name().as_bytes());
                h.update(std::mem::take(hasher).digest128().to_le_bytes());
            }
            let done = hex::encode(h.finalize());
            self.fingerprints
                .lock()
                .map_err(|_| DbError::Value("a fill of these rows failed before".into()))?
                .push(done);
        }
        Ok(())
    }
}

/// A text value as a fingerprint hashes it: tagged null or present, then its length, then its
/// bytes.
fn encode_text(bytes: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => bytes.push(0),
        Some(t) => {
            bytes.push(1);
            bytes.extend_from_slice(&(t.len() as u64).to_le_bytes());
            bytes.extend_from_slice(t.as_bytes());
        }
    }
}

/// A fixed-size value as a fingerprint hashes it.
trait Encode: Copy + Default {
    fn encode(self, bytes: &mut Vec<u8>);
}

macro_rules! encode_le {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(self, bytes: &mut Vec<u8>) {
                bytes.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
encode_le!(i32, i64, f64);

impl Encode for bool {
    fn encode(self, bytes: &mut Vec<u8>) {
        bytes.push(u8::from(self));
    }
}

/// Sets row `row` of a VARCHAR vector to `text`.
///
/// A string of at most 12 bytes lives inside its `duckdb_string_t` (the C API's layout: length,
/// then the bytes, zero-padded), so it is written there directly: most of what the writer
/// writes is that short, and going through DuckDB's call for each cost a sixth of the writer.
/// A longer one is copied into the vector's string heap by DuckDB, without validating it again
/// as UTF-8 (a Rust `str` is valid already).
///
/// # Safety
/// `vector` must be a live VARCHAR vector and `row` below its capacity.
unsafe fn assign_text(vector: ffi::duckdb_vector, row: usize, text: &str) {
    const INLINED: usize = 12;
    let bytes = text.as_bytes();
    if bytes.len() <= INLINED {
        let mut inlined = [0 as std::ffi::c_char; INLINED];
        for (slot, &b) in inlined.iter_mut().zip(bytes) {
            *slot = b as std::ffi::c_char;
        }
        let string = ffi::duckdb_string_t {
            value: ffi::duckdb_string_t__bindgen_ty_1 {
                inlined: ffi::duckdb_string_t__bindgen_ty_1__bindgen_ty_2 {
                    length: bytes.len() as u32,
                    inlined,
                },
            },
        };
        // SAFETY: a VARCHAR vector's data is an array of `duckdb_string_t`, one per row of its
        // capacity, and `row` is below it.
        unsafe {
            ffi::duckdb_vector_get_data(vector)
                .cast::<ffi::duckdb_string_t>()
                .add(row)
                .write(string)
        }
    } else {
        // SAFETY: as the caller promises; DuckDB copies the bytes before returning.
        unsafe {
            ffi::duckdb_unsafe_vector_assign_string_element_len(
                vector,
                row as ffi::idx_t,
                text.as_ptr().cast(),
                text.len() as ffi::idx_t,
            )
        }
    }
}

/// Writes fixed-size values into a vector, marking `None` as NULL, and encodes them into
/// `bytes` for the fingerprint. Stops at the first value refused.
///
/// # Safety
/// `T` must be the physical type of the vector's logical type, and the iterator must yield
/// at most the vector's capacity.
unsafe fn primitives<T: Encode>(
    v: &mut FlatVector<'_>,
    bytes: &mut Vec<u8>,
    values: impl Iterator<Item = Result<Option<T>, DbError>>,
) -> Result<(), DbError> {
    let mut nulls: Vec<usize> = Vec::new();
    {
        // SAFETY: as the caller promises.
        let data = unsafe { v.as_mut_slice::<T>() };
        for (slot, (i, value)) in data.iter_mut().zip(values.enumerate()) {
            match value? {
                Some(x) => {
                    *slot = x;
                    bytes.push(1);
                    x.encode(bytes);
                }
                None => {
                    *slot = T::default();
                    nulls.push(i);
                    bytes.push(0);
                }
            }
        }
    }
    for i in nulls {
        v.set_null(i);
    }
    Ok(())
}

/// What the table function reads: rows of any table.
trait Feed: Send + Sync {
    fn chunk_len(&self, from: usize) -> usize;
    fn columns(&self) -> Vec<(&'static str, LogicalTypeHandle)>;
    fn fill(&self, out: &mut DataChunkHandle, from: usize, n: usize) -> Result<(), DbError>;
}

impl<R: Send + Sync + 'static> Feed for Rows<R> {
    fn chunk_len(&self, from: usize) -> usize {
        Rows::chunk_len(self, from)
    }

    fn columns(&self) -> Vec<(&'static str, LogicalTypeHandle)> {
        self.columns.iter().map(|c| (c.name(), c.logical_type())).collect()
    }

    fn fill(&self, out: &mut DataChunkHandle, from: usize, n: usize) -> Result<(), DbError> {
        Rows::fill(self, out, from, n)
    }
}

/// Rows registered for a statement, by id. Ids are never reused within a process.
static REGISTERED: Mutex<BTreeMap<u64, Box<dyn Feed>>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

struct RowsFunction;

struct Bound(Box<dyn Feed>);

struct Cursor(AtomicUsize);

impl VTab for RowsFunction {
    type InitData = Cursor;
    type BindData = Bound;

    fn bind(bind: &BindInfo) -> Result<Bound, Box<dyn std::error::Error>> {
        let id = bind.get_parameter(0).to_uint64();
        let feed = REGISTERED
            .lock()
            .map_err(|_| "the rows registry is poisoned")?
            .remove(&id)
            .ok_or_else(|| format!("no rows are registered as {id}"))?;
        for (name, logical_type) in feed.columns() {
            bind.add_result_column(name, logical_type);
        }
        Ok(Bound(feed))
    }

    fn init(_: &InitInfo) -> Result<Cursor, Box<dyn std::error::Error>> {
        Ok(Cursor(AtomicUsize::new(0)))
    }

    fn func(
        info: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let feed = &info.get_bind_data().0;
        // DuckDB scans a table function without a local init on one thread, so the cursor
        // is shared but never contended.
        let cursor = &info.get_init_data().0;
        let from = cursor.load(Ordering::Acquire);
        let n = feed.chunk_len(from);
        feed.fill(output, from, n)?;
        output.set_len(n);
        cursor.store(from + n, Ordering::Release);
        Ok(())
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![LogicalTypeId::UBigint.into()])
    }
}

/// Makes `adlake_rows` callable on `conn`'s database. It lives in the `system` catalog, not in
/// the database file; registering it again is harmless.
pub fn register(conn: &Connection) -> Result<(), DbError> {
    conn.register_table_function::<RowsFunction>(FUNCTION)
        .map_err(DbError::query("register the rows function"))
}

/// Appends `rows` to `table` (whose columns they must list in order) within the connection's
/// transaction, and returns their segments' fingerprints, in order (see [`Rows::fill`]).
pub fn insert<R: Send + Sync + 'static>(
    conn: &Connection,
    table: &str,
    rows: Rows<R>,
) -> Result<Vec<String>, DbError> {
    insert_as(NEXT_ID.fetch_add(1, Ordering::Relaxed), conn, table, rows)
}

fn insert_as<R: Send + Sync + 'static>(
    id: u64,
    conn: &Connection,
    table: &str,
    rows: Rows<R>,
) -> Result<Vec<String>, DbError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let (fingerprints, segments) = (rows.fingerprints.clone(), rows.segments());
    REGISTERED
        .lock()
        .map_err(|_| DbError::Value("the rows registry is poisoned".into()))?
        .insert(id, Box::new(rows));
    // The id is a literal (DuckDB binds the function once, with it), and the function is
    // qualified, so that a macro of the same name in the user's database cannot stand in.
    let result = conn.execute_batch(&format!(
        "INSERT INTO {table} SELECT * FROM system.main.{FUNCTION}({id}::UBIGINT)"
    ));
    // Bound rows were taken out already; these are the rows of a statement that failed first.
    if let Ok(mut registered) = REGISTERED.lock() {
        registered.remove(&id);
    }
    result.map_err(DbError::query(format!("insert {table}")))?;
    let done = std::mem::take(
        &mut *fingerprints.lock().map_err(|_| DbError::Value(format!("fingerprint of {table}")))?,
    );
    if done.len() != segments {
        return Err(DbError::Value(format!("DuckDB did not read every row given for {table}")));
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct Row {
        text: Option<String>,
        number: Option<i64>,
        amount: Option<Decimal>,
    }

    const COLUMNS: &[Column<Row>] = &[
        Column::Text("text", |r| r.text.as_deref()),
        Column::Big("number", |r| r.number),
        Column::Money("amount", |r| r.amount),
        Column::Given("given"),
    ];

    fn sample(n: usize) -> Vec<Row> {
        (0..n)
            .map(|i| Row {
                text: (i % 3 != 0).then(|| format!("row {i} with text longer than twelve bytes")),
                number: (i % 5 != 0).then_some(i as i64),
                amount: (i % 7 != 0).then(|| Decimal::new(i as i64 * 101, 2)),
            })
            .collect()
    }

    fn given(n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| i * 3).collect()
    }

    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        register(&conn).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (text VARCHAR, number BIGINT, amount DECIMAL(18, 6), given BIGINT)",
        )
        .unwrap();
        conn
    }

    fn fingerprint(rows: Vec<Row>, given: Vec<i64>) -> String {
        let mut fingerprints =
            insert(&table(), "t", Rows::with_given(rows, given, COLUMNS).unwrap()).unwrap();
        assert_eq!(fingerprints.len(), 1);
        fingerprints.remove(0)
    }

    #[test]
    fn rows_arrive_in_order_across_chunks_with_their_nulls() {
        let conn = table();
        register(&conn).unwrap();
        let n = 2 * CHUNK_ROWS + 17;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        insert_as(id, &conn, "t", Rows::with_given(sample(n), given(n), COLUMNS).unwrap()).unwrap();
        let mut stmt =
            conn.prepare("SELECT text, number, CAST(amount AS VARCHAR), given FROM t").unwrap();
        type Row = (Option<String>, Option<i64>, Option<String>, i64);
        let got: Vec<Row> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<_> = sample(n)
            .into_iter()
            .enumerate()
            .map(|(i, r)| (r.text, r.number, r.amount.map(|a| format!("{a:.6}")), i as i64 * 3))
            .collect();
        assert_eq!(got, expected);
        assert!(!REGISTERED.lock().unwrap().contains_key(&id), "the statement took its rows");
    }

    #[test]
    fn a_macro_of_the_same_name_in_the_database_is_not_what_reads_the_rows() {
        let conn = table();
        conn.execute_batch(&format!(
            "CREATE MACRO {FUNCTION}(id) AS TABLE SELECT 'from the macro', 0, 0, 0"
        ))
        .unwrap();
        insert(&conn, "t", Rows::with_given(sample(4), given(4), COLUMNS).unwrap()).unwrap();
        let from_macro: i64 = conn
            .query_row("SELECT count(*) FROM t WHERE text = 'from the macro'", [], |r| r.get(0))
            .unwrap();
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!((from_macro, rows), (0, 4));
    }

    #[test]
    fn short_strings_written_inline_compare_and_read_as_duckdb_s_own() {
        let conn = table();
        let texts = [
            "",
            "a",
            "twelve bytes",
            "thirteen byte",
            "ünïcödé",
            "a longer string than the inline twelve",
        ];
        let rows: Vec<Row> = texts
            .iter()
            .map(|t| Row { text: Some((*t).to_owned()), number: None, amount: None })
            .collect();
        insert(&conn, "t", Rows::with_given(rows, given(texts.len()), COLUMNS).unwrap()).unwrap();
        for t in texts {
            // Equality, length and a join against DuckDB's own copy of each literal.
            let (n, len): (i64, i64) = conn
                .query_row(
                    "SELECT count(*), any_value(length(text)) FROM t WHERE text = ?",
                    [t],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((n, len), (1, t.chars().count() as i64), "{t:?}");
        }
        let joined: i64 = conn
            .query_row(
                "SELECT count(*) FROM t JOIN (SELECT unnest(?::VARCHAR[]) AS text) USING (text)",
                [format!(
                    "[{}]",
                    texts.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(",")
                )],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(joined, texts.len() as i64);
    }

    #[test]
    fn a_failed_statement_leaves_no_rows_registered_and_names_the_table() {
        let conn = table();
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let err = insert_as(
            id,
            &conn,
            "missing",
            Rows::with_given(sample(3), given(3), COLUMNS).unwrap(),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("missing"), "{err:#}");
        assert!(!REGISTERED.lock().unwrap().contains_key(&id));
    }

    #[test]
    fn a_value_duckdb_cannot_hold_fails_the_statement_and_writes_nothing() {
        let conn = table();
        let mut rows = sample(CHUNK_ROWS + 5);
        rows[CHUNK_ROWS + 2].amount = Some(Decimal::new(i64::MAX, 0));
        let err =
            insert(&conn, "t", Rows::with_given(rows, given(CHUNK_ROWS + 5), COLUMNS).unwrap())
                .unwrap_err();
        let chain = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(": ");
        assert!(chain.contains("DECIMAL(18,6)"), "{chain}");
        let count: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(count, 0, "the first chunk, already written, went with the statement");
    }

    #[test]
    fn given_values_must_match_the_rows() {
        assert!(matches!(Rows::with_given(sample(3), given(2), COLUMNS), Err(DbError::Value(_))));
    }

    #[test]
    fn fingerprints_tell_a_null_from_a_value_and_follow_order() {
        let n = CHUNK_ROWS + 10;
        let a = fingerprint(sample(n), given(n));
        assert_eq!(a, fingerprint(sample(n), given(n)));
        let mut empty_text = sample(n);
        empty_text[3].text = Some(String::new());
        assert_ne!(a, fingerprint(empty_text, given(n)));
        let mut swapped = sample(n);
        swapped.swap(1, 2);
        let mut swapped_given = given(n);
        swapped_given.swap(1, 2);
        assert_ne!(a, fingerprint(swapped, swapped_given));
        let mut in_the_second_chunk = sample(n);
        in_the_second_chunk[CHUNK_ROWS + 4].number = Some(-1);
        assert_ne!(a, fingerprint(in_the_second_chunk, given(n)));
        // Text moved between neighbours: the same bytes in the column, told apart by length.
        let mut moved = sample(6);
        moved[1].text = Some("ab".into());
        moved[2].text = Some("c".into());
        let mut moved_back = moved.clone();
        moved_back[1].text = Some("a".into());
        moved_back[2].text = Some("bc".into());
        assert_ne!(fingerprint(moved, given(6)), fingerprint(moved_back, given(6)));
    }

    #[test]
    fn segments_of_one_statement_fingerprint_as_statements_of_their_own() {
        let sizes = [CHUNK_ROWS + 7, 5, 0, 2 * CHUNK_ROWS];
        let part = |k: usize| -> Vec<Row> {
            let skip: usize = sizes[..k].iter().sum();
            sample(skip + sizes[k]).split_off(skip)
        };
        let alone: Vec<String> = (0..sizes.len())
            .filter(|&k| sizes[k] > 0)
            .map(|k| fingerprint(part(k), given(sizes[k])))
            .collect();
        let conn = table();
        let mut all = Rows::with_given(part(0), given(sizes[0]), COLUMNS).unwrap();
        for (k, size) in sizes.iter().enumerate().skip(1) {
            all.append(Rows::with_given(part(k), given(*size), COLUMNS).unwrap());
        }
        assert_eq!(
            (all.len(), all.segments()),
            (sizes.iter().sum(), 3),
            "an empty part is no segment"
        );
        assert_eq!(insert(&conn, "t", all).unwrap(), alone);
        let numbers: Vec<Option<i64>> = conn
            .prepare("SELECT number FROM t")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected: Vec<Option<i64>> =
            (0..sizes.len()).flat_map(part).map(|r| r.number).collect();
        assert_eq!(numbers, expected, "every row, in order");
    }
}
