//! Connecting, migrating and the one explicit dialect switch.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::error::{StoreError, StoreResult};

/// The database engine behind a [`Store`]. SQL differs between engines only through the
/// methods of this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// Opens a transaction that will write. SQLite takes the write lock at once so two writers
    /// never deadlock on a lock upgrade; PostgreSQL uses its default.
    pub fn begin_write_sql(self) -> &'static str {
        match self {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::Postgres => "BEGIN",
        }
    }

    /// Appended to a `SELECT` of one row to lock it until the transaction ends. SQLite's
    /// write transactions are already exclusive (`BEGIN IMMEDIATE`), so it needs nothing.
    pub fn row_lock_suffix(self) -> &'static str {
        match self {
            Engine::Sqlite => "",
            Engine::Postgres => " FOR UPDATE",
        }
    }

    /// Appended to a text column to compare it by code point, so a prefix is a range: SQLite
    /// compares that way already; PostgreSQL's default collation may be linguistic (its name
    /// index is built `COLLATE "C"` for this, migration 0006).
    pub fn bytewise(self) -> &'static str {
        match self {
            Engine::Sqlite => "",
            Engine::Postgres => " COLLATE \"C\"",
        }
    }

    /// The engine behind an open connection, for code that holds a transaction but not the
    /// store (the audit append).
    pub fn of(conn: &sqlx::AnyConnection) -> Engine {
        if conn.backend_name().to_ascii_lowercase().contains("postgres") {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }

    /// The audit append's write in one round trip: the entry (`$1`–`$14`, `$13` its hash, `$14`
    /// the id of the key that sealed it) and the chain head's new hash. SQLite runs the two
    /// statements as one script; PostgreSQL takes one statement only, so the insert rides in a
    /// data-modifying `WITH`.
    pub fn audit_write_sql(self) -> &'static str {
        match self {
            Engine::Sqlite => {
                "INSERT INTO audit_log (seq, at, actor_id, actor_name, roles, action, object, result, client_addr, \
                 operation_id, detail, prev_hash, hash, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                 $12, $13, $14); \
                 UPDATE audit_head SET last_hash = $13 WHERE id = 1"
            }
            Engine::Postgres => {
                "WITH entry AS (INSERT INTO audit_log (seq, at, actor_id, actor_name, roles, action, object, result, \
                 client_addr, operation_id, detail, prev_hash, hash, key_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                 $9, $10, $11, $12, $13, $14) RETURNING seq) UPDATE audit_head SET last_hash = $13 WHERE id = 1 \
                 AND EXISTS (SELECT 1 FROM entry)"
            }
        }
    }

    /// The position (from 1, 0 when absent) of `needle` in `haystack`, both SQL expressions.
    pub fn position(self, haystack: &str, needle: &str) -> String {
        match self {
            Engine::Sqlite => format!("instr({haystack}, {needle})"),
            Engine::Postgres => format!("strpos({haystack}, {needle})"),
        }
    }

    /// The placeholder of the `n`-th value (from 1) of a statement with many values. Both
    /// engines accept `$n`, but SQLite finds the number of a named parameter by walking the list
    /// of all of them, so binding a statement of P values costs P²/2 steps: bulk inserts there
    /// use the anonymous `?`, bound in order, and bind a repeated value again each time.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Engine::Sqlite => "?".to_string(),
            Engine::Postgres => format!("${n}"),
        }
    }

    /// Settings for building indexes over a large table, inside the transaction that does it.
    /// SQLite's sorter keeps everything in one in-memory list when temporary storage is in
    /// memory — one sort of millions of keys at a time, cache-hostile — and uses no helper
    /// threads; with temporary files it sorts runs the size of the page cache, on a helper
    /// thread, and merges them. PostgreSQL gets more memory for the sort.
    pub fn before_index_build_sql(self) -> &'static [&'static str] {
        match self {
            Engine::Sqlite => &["PRAGMA temp_store = FILE", "PRAGMA threads = 2"],
            Engine::Postgres => &["SET LOCAL maintenance_work_mem = '256MB'"],
        }
    }

    /// Restores what [`Engine::before_index_build_sql`] changed: a connection's own settings
    /// (SQLite keeps temporary tables in memory); PostgreSQL's `SET LOCAL` ends with the
    /// transaction.
    pub fn after_index_build_sql(self) -> &'static [&'static str] {
        match self {
            Engine::Sqlite => &["PRAGMA temp_store = MEMORY", "PRAGMA threads = 0"],
            Engine::Postgres => &[],
        }
    }

    /// The secondary indexes of the table bound to `$1` as (name, statement that creates
    /// it), read from the catalog so a bulk load can drop them and build the same ones again.
    /// Indexes that back a constraint (primary keys) are not listed.
    pub fn index_definitions_sql(self) -> &'static str {
        match self {
            Engine::Sqlite => {
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL \
                 ORDER BY name"
            }
            Engine::Postgres => {
                "SELECT i.relname::text, pg_get_indexdef(i.oid) FROM pg_index x \
                 JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
                 WHERE t.relname = $1 AND pg_table_is_visible(t.oid) \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY 1"
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A handle on the database: a pool and the engine it talks to. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) engine: Engine,
    pub(crate) keys: std::sync::Arc<crate::crypto::Keyring>,
    /// On SQLite, ledger writers queue here before `BEGIN IMMEDIATE` (see
    /// [`Store::begin_ledger_write`]). It holds the connection of the two-round-trip writes
    /// (`points::sqlite_write`), opened when first needed.
    pub(crate) ledger_gate: std::sync::Arc<tokio::sync::Mutex<crate::points::LedgerWriter>>,
    /// Where every use case reads the current time (see [`gongjian_domain::clock`]).
    pub(crate) clock: gongjian_domain::clock::Clock,
    /// Whether SQLite's common writes go as one script, and how many did
    /// (`points::sqlite_write`).
    pub(crate) script_path: crate::points::ScriptPath,
    /// The audit chain's witness outside the database (see [`crate::audit`]).
    pub(crate) witness: std::sync::Arc<crate::audit::Witness>,
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// A ledger writer's place at the head of the SQLite queue (see [`Store::begin_ledger_write`]).
pub type LedgerGate = tokio::sync::OwnedMutexGuard<crate::points::LedgerWriter>;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

impl Store {
    /// Connects to `url`: `sqlite://PATH` (the file is created when missing) or
    /// `postgres://…`. Any other scheme is an error. The store starts with a throwaway data key
    /// held only in memory; a program that keeps encrypted values across restarts loads and
    /// checks the real key with [`Store::unlock`] after [`Store::migrate`].
    pub async fn connect(url: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            let scheme = url.split(':').next().unwrap_or(url);
            return Err(StoreError::Config(format!(
                "unsupported database URL scheme '{scheme}': use sqlite://PATH or postgres://…"
            )));
        };
        let url = match engine {
            Engine::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let mut pool_options = AnyPoolOptions::new()
            .max_connections(match engine {
                Engine::Sqlite => 8,
                Engine::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(30))
            // A connection to a file cannot have been dropped by a server: no round trip to the
            // connection's thread to test it each time it leaves the pool. A PostgreSQL connection
            // is tested by `outside_transaction`, which asks the server in the same round trip.
            .test_before_acquire(false)
            .after_release(|conn, _meta| Box::pin(released_outside_transaction(conn)))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // `secure_delete`: deleted rows and freed pages are overwritten with
                        // zeros, so what was deleted (an upload's bytes) does not stay in the file.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA cache_size = -65536; PRAGMA analysis_limit = 1000; \
                             PRAGMA wal_autocheckpoint = 10000; PRAGMA secure_delete = ON;",
                        )
                        .await?;
                        for sql in Engine::Sqlite.after_index_build_sql() {
                            conn.execute(*sql).await?;
                        }
                    }
                    Ok(())
                })
            });
        if engine == Engine::Postgres {
            pool_options = pool_options.before_acquire(|conn, _meta| Box::pin(outside_transaction(conn)));
        }
        let pool = pool_options.connect_with(options).await?;
        if engine == Engine::Sqlite {
            spawn_checkpointer(pool.clone());
        }
        Ok(Store {
            pool,
            engine,
            keys: std::sync::Arc::new(crate::crypto::Keyring::ephemeral()?),
            ledger_gate: std::sync::Arc::new(tokio::sync::Mutex::new(crate::points::LedgerWriter::default())),
            clock: gongjian_domain::clock::Clock::system(),
            script_path: crate::points::ScriptPath::default(),
            witness: std::sync::Arc::new(crate::audit::Witness::default()),
        })
    }

    /// The default embedded database in a data directory, which is created when missing. A
    /// directory (or database file) that cannot be written is refused here, by name, rather than
    /// by the first write that fails.
    pub async fn open_data_dir(dir: &Path) -> StoreResult<Store> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Config(format!("cannot create data directory {}: {e}", dir.display())))?;
        let file = dir.join("gongjian.db");
        check_writable(dir, &file)?;
        Store::connect(&format!("sqlite://{}", file.display())).await
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATOR,
            Engine::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator.run(&self.pool).await?;
        crate::divisions::load_reference(self).await?;
        Ok(())
    }

    /// The same store using `keys` to encrypt and hash personal data.
    pub fn with_keyring(mut self, keys: crate::crypto::Keyring) -> Store {
        self.keys = std::sync::Arc::new(keys);
        self
    }

    /// The same store recording the audit chain's head in the witness file at `path` (appended
    /// lines, each sealed with the audit key), which [`Store::verify_audit`] then checks the
    /// chain against. The program that owns the files chooses the path: `gongjian` takes
    /// `audit.witness` in the data directory unless its configuration names another.
    pub fn with_audit_witness(mut self, path: impl Into<std::path::PathBuf>) -> Store {
        self.witness = std::sync::Arc::new(crate::audit::Witness::at(path.into()));
        self
    }

    /// The same store reading the time from `clock` (tests start it at a chosen instant).
    pub fn with_clock(mut self, clock: gongjian_domain::clock::Clock) -> Store {
        self.clock = clock;
        self
    }

    /// The clock every use case reads.
    pub fn clock(&self) -> &gongjian_domain::clock::Clock {
        &self.clock
    }

    /// The current instant by [`Store::clock`].
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The current instant as stored (see [`crate::time_text`]).
    pub fn now_text(&self) -> String {
        crate::time_text(self.clock.now())
    }

    /// Today's date in China by [`Store::clock`].
    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.china_today()
    }

    pub fn keyring(&self) -> &crate::crypto::Keyring {
        &self.keys
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write (see [`Engine::begin_write_sql`]).
    pub async fn begin_write(&self) -> StoreResult<Tx> {
        Ok(self.pool.begin_with(self.engine.begin_write_sql()).await?)
    }

    /// Starts a write transaction of the points ledger. On SQLite, where one writer holds the
    /// database at a time anyway, the writers of this process first queue on an in-process gate:
    /// waiting there wakes the next writer at once, where waiting in SQLite's busy handler
    /// sleeps in steps of milliseconds. A writer takes its connection from the pool before it
    /// queues, so the one holding the gate never waits for a connection as well. The gate only
    /// orders writers; correctness rests on the transaction (the database's lock, the
    /// conditional updates), so writers of other processes on the same file stay correct.
    /// PostgreSQL needs no gate.
    pub async fn begin_ledger_write(&self) -> StoreResult<(Option<LedgerGate>, Tx)> {
        let conn = self.pool.acquire().await?;
        self.begin_ledger_write_on(conn).await
    }

    /// [`Store::begin_ledger_write`] on a connection the writer already holds (it read what
    /// the write needs on it, without handing it back to the pool in between).
    pub async fn begin_ledger_write_on(
        &self,
        conn: sqlx::pool::PoolConnection<sqlx::Any>,
    ) -> StoreResult<(Option<LedgerGate>, Tx)> {
        let gate = match self.engine {
            Engine::Sqlite => {
                let mut gate = self.ledger_gate.clone().lock_owned().await;
                // This write goes around the writer's connection: what it knew may not hold.
                gate.forget();
                Some(gate)
            }
            Engine::Postgres => None,
        };
        let sql = sqlx::SqlStr::from_static(self.engine.begin_write_sql());
        Ok((gate, sqlx::Transaction::begin(conn, Some(sql)).await?))
    }

    /// Runs `sql` on every connection the store holds: each of the pool's (opened up to its
    /// limit and held together, so wait until nothing else holds one) and the SQLite ledger
    /// writer's. For tests that change a connection's own settings, such as SQLite's
    /// `max_page_count` to make the database full.
    #[doc(hidden)]
    pub async fn on_every_connection(&self, sql: &str) -> StoreResult<()> {
        if let Some(conn) = self.ledger_gate.lock().await.connection() {
            conn.execute(sqlx::AssertSqlSafe(sql.to_string())).await?;
        }
        let mut held = Vec::new();
        for _ in 0..self.pool.options().get_max_connections() {
            let mut conn = self.pool.acquire().await?;
            conn.execute(sqlx::AssertSqlSafe(sql.to_string())).await?;
            held.push(conn);
        }
        Ok(())
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(writer) = self.ledger_gate.lock().await.take_connection() {
            let _ = sqlx::Connection::close(writer).await;
        }
        self.pool.close().await;
    }
}

/// Refuses a data directory, or a database file in it, that cannot be written: a read-only file
/// system, a file made immutable, missing permissions. SQLite would open such a database for
/// reading and fail at the first write instead.
fn check_writable(dir: &Path, file: &Path) -> StoreResult<()> {
    let refuse = |what: String, e: std::io::Error| {
        StoreError::Config(format!(
            "{what} is read-only ({e}): Gongjian keeps its database there and must write to it; \
             make it writable or choose another directory (--data-dir)"
        ))
    };
    let probe = dir.join(format!(".gongjian-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| refuse(format!("the data directory {}", dir.display()), e))?;
    let _ = std::fs::remove_file(&probe);
    if file.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .map_err(|e| refuse(format!("the database file {}", file.display()), e))?;
    }
    Ok(())
}

/// Whether a connection coming back to the pool is outside any transaction, so it may be kept;
/// a `false` closes it (`after_release`). This is the one place that keeps a pooled connection
/// from ever carrying a transaction into its next use.
///
/// sqlx counts the transactions it began on a connection, and a dropped [`Tx`] only queues its
/// `ROLLBACK`: the count comes down when that runs. When a rollback or a commit fails, the count
/// stays up — on SQLite also when the database had already ended the transaction itself (a full
/// disk or a read-only file makes SQLite roll the whole transaction back; its `ROLLBACK` then
/// fails with "no transaction is active"). Such a connection, pooled, would refuse every later
/// `BEGIN` ("attempted to call begin_with at non-zero transaction depth") until a restart. So: a
/// connection that comes back counted inside a transaction first lets its queued rollback run
/// (a ping is answered after it), and is closed if the count is still not zero. Closing ends
/// whatever transaction the database still had open; the pool opens a new connection when one
/// is needed. A connection that comes back outside a transaction costs a counter read.
async fn released_outside_transaction(conn: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!(
            "a database connection came back to the pool inside a transaction that could not be rolled back; \
             it is closed"
        );
        return Ok(false);
    }
    Ok(true)
}

/// PostgreSQL, before a pooled connection is handed out: whether the server has it outside any
/// transaction block (`false` closes it; an error — the server is gone — too). This is the
/// liveness test's round trip, asking one thing more: sqlx's count cannot see a transaction the
/// server opened while the caller that sent `BEGIN` was cancelled before the answer came. During
/// the first statement of a transaction its start time and the statement's are the same
/// (PostgreSQL's documented rule); sent as a simple query, the check is that first statement
/// unless a transaction block is open, and then it answers no row (no row to decode either).
async fn outside_transaction(conn: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    let inside = sqlx::raw_sql("SELECT WHERE statement_timestamp() <> transaction_timestamp()")
        .execute(&mut *conn)
        .await?;
    if inside.rows_affected() != 0 {
        tracing::warn!("a pooled PostgreSQL connection was inside a transaction block; it is closed");
        return Ok(false);
    }
    Ok(true)
}

/// How often the SQLite write-ahead log is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// SQLite: copies the write-ahead log back into the database file in the background, every
/// [`CHECKPOINT_EVERY`], until the pool is closed. Left to itself SQLite does this inside the
/// commit that takes the log past its limit, with two `fsync`s, while the writer still holds
/// its place in the queue of writers; a passive checkpoint on a connection of its own waits
/// for no writer and holds none up. The connections' own limit (`wal_autocheckpoint`, 10,000
/// pages) stays as a backstop for a log that grows faster than this keeps up.
fn spawn_checkpointer(pool: AnyPool) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if pool.is_closed() {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                if pool.is_closed() {
                    break;
                }
                tracing::warn!(error = %e, "checkpointing the write-ahead log failed");
            }
        }
    });
}

impl Engine {
    /// After rows were inserted with explicit ids (bulk loads), moves the id generator past
    /// them. SQLite's rowid needs nothing; PostgreSQL's identity sequence must be advanced.
    pub fn advance_identity_sql(self, table: &str) -> Option<String> {
        match self {
            Engine::Sqlite => None,
            Engine::Postgres => Some(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )),
        }
    }
}
