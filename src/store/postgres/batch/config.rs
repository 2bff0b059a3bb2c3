//! [`Batching`]: how many statements of each kind may be in flight, and
//! how many calls one carries.

/// How a [`PgStore`](crate::store::PgStore) groups concurrent loads, data
/// writes and new sessions
/// ([`PgStore::batching`](crate::store::PgStore::batching)).
///
/// Each kind (loads, data writes, new sessions) has its own queue: at most
/// [`max_read_statements`](Self::max_read_statements) load statements, or
/// [`max_write_statements`](Self::max_write_statements) statements of each
/// of the two others, in flight at once, each with at most
/// [`max_rows`](Self::max_rows) sessions. While one of its statements is
/// free, a call is sent at once, alone; calls that arrive while all are busy
/// go out together in the next one. The default, two write statements (and
/// two insert statements) and four load statements of at most 32 sessions,
/// suits a pool of 10 to 50 connections: at low load every call is sent at
/// once, and under load the queues never hold more than eight connections.
///
/// ```
/// use axum_user_sessions::store::Batching;
///
/// let wide = Batching::default().write_statements(4).rows(64);
/// assert_eq!((wide.max_write_statements(), wide.max_rows()), (4, 64));
/// let off = Batching::off();
/// assert_eq!(off.max_rows(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    writes: usize,
    reads: usize,
    rows: usize,
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            writes: 2,
            reads: 4,
            rows: 32,
        }
    }
}

impl Batching {
    /// No batching: every call is its own statement, as many at once as the
    /// pool lends connections.
    pub fn off() -> Self {
        Self {
            writes: usize::MAX,
            reads: usize::MAX,
            rows: 1,
        }
    }

    /// At most `n` data-write statements, and `n` statements inserting new
    /// sessions, in flight at once (at least 1).
    #[must_use]
    pub fn write_statements(mut self, n: usize) -> Self {
        self.writes = n.max(1);
        self
    }

    /// At most `n` load statements in flight at once (at least 1).
    #[must_use]
    pub fn read_statements(mut self, n: usize) -> Self {
        self.reads = n.max(1);
        self
    }

    /// At most `n` sessions in one statement (at least 1).
    #[must_use]
    pub fn rows(mut self, n: usize) -> Self {
        self.rows = n.max(1);
        self
    }

    /// The most data-write (and insert) statements in flight at once.
    pub fn max_write_statements(&self) -> usize {
        self.writes
    }

    /// The most load statements in flight at once.
    pub fn max_read_statements(&self) -> usize {
        self.reads
    }

    /// The most sessions in one statement.
    pub fn max_rows(&self) -> usize {
        self.rows
    }
}
