//! Accounts, passwords, login security and sessions, kept in govern's tables of `vigil.db`.
//!
//! Login rules (Decision 724/QĐ-BTTTT's criteria):
//! - passwords are hashed with argon2id (salted, [`PasswordParams`]); short and well-known
//!   passwords are refused; there is no default password anywhere;
//! - [`MAX_FAILURES`] failed logins within [`FAILURE_WINDOW_SECS`] lock the typed account
//!   name for [`LOCKOUT_SECS`], and, independently, the same number from one client address
//!   locks that address. Failures are counted per typed name whether or not the user exists,
//!   and an unknown name costs the same hash as a known one, so neither the answer nor its
//!   timing tells whether an account exists;
//! - a session is a random 32-byte token held by the browser; only its SHA-256 is stored. It
//!   ends after an idle time (sliding) and at the latest [`SESSION_MAX_SECS`] after login.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::{Role, User};

/// Failed logins that trigger a lockout…
pub const MAX_FAILURES: usize = 5;
/// …when they fall within this many seconds…
pub const FAILURE_WINDOW_SECS: i64 = 10 * 60;
/// …lock the account (and, separately, the client address) for this long.
pub const LOCKOUT_SECS: i64 = 15 * 60;
/// Default idle time after which a session ends.
pub const DEFAULT_IDLE_TIMEOUT_SECS: i64 = 30 * 60;
/// A session ends this long after login, however active.
pub const SESSION_MAX_SECS: i64 = 12 * 60 * 60;
/// Shortest accepted password.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Passwords refused whatever their length (compared case-insensitively; also refused when
/// the password is one of these repeated or followed by digits only).
const COMMON_PASSWORDS: &[&str] = &[
    "admin",
    "administrator",
    "password",
    "passw0rd",
    "123456",
    "1234567890",
    "12345678",
    "123456789",
    "0123456789",
    "qwerty",
    "qwertyuiop",
    "abc123",
    "111111",
    "000000",
    "letmein",
    "welcome",
    "iloveyou",
    "root",
    "guest",
    "camera",
    "vigil",
    "hikvision",
    "dahua",
    "matkhau",
    "baove",
];

/// The migrations of govern's tables; migration `i` brings them to version `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/001_govern.sql"),
    include_str!("../migrations/002_rights.sql"),
];

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum GovernError {
    #[error("database error while {what}: {source}")]
    Db {
        what: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the database holds govern schema version {found}, newer than this program's {supported}: upgrade Vigil")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("unknown role {0:?}: use administrator, leadership, guard or viewer")]
    UnknownRole(String),
    #[error("a user named {0:?} already exists")]
    UserExists(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("user name {0:?} is not valid: use 1–64 letters, digits, '.', '_' or '-'")]
    BadUsername(String),
    #[error("{0}")]
    WeakPassword(WeakPassword),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("no role #{0}")]
    NoSuchRole(i64),
    #[error("no role named {0:?}")]
    NoSuchRoleName(String),
    #[error("a role named {0:?} already exists")]
    RoleExists(String),
    #[error("the role is held by users: take it from them first")]
    RoleInUse,
    #[error("the right {0} cannot be part of a role (it comes only from an approved request)")]
    NotAssignable(&'static str),
    #[error("nobody may change their own roles or rights")]
    SelfChange,
    #[error("refused: no enabled user would be left with the right to manage users")]
    LastUserAdmin,
    #[error("not allowed")]
    NotAllowed,
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("nobody may decide on their own request")]
    SelfApproval,
    #[error("the request was already decided")]
    NotPending,
    #[error("no request #{0}")]
    NoSuchRequest(i64),
}

/// Why a password was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeakPassword {
    /// Fewer than [`MIN_PASSWORD_CHARS`] characters.
    TooShort,
    /// A well-known default or common password.
    Common,
}

impl std::fmt::Display for WeakPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WeakPassword::TooShort => write!(
                f,
                "the password is too short: use at least {MIN_PASSWORD_CHARS} characters"
            ),
            WeakPassword::Common => write!(
                f,
                "the password is a well-known default or common password: choose another"
            ),
        }
    }
}

/// Why a login was refused. Deliberately does not say whether the user exists.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong user name or password")]
    Invalid,
    /// Too many failures for this account name: refused until `until` (Unix seconds),
    /// whatever the password.
    #[error("account locked until {until} (too many failed logins)")]
    AccountLocked { until: i64 },
    /// Too many failures from this client address: refused until `until`.
    #[error("client address locked until {until} (too many failed logins)")]
    AddressLocked { until: i64 },
    #[error(transparent)]
    Govern(#[from] GovernError),
}

/// Argon2id cost. The default follows OWASP's recommendation (19 MiB, 2 passes, 1 lane).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordParams {
    /// A cheap setting for tests only (hashes are still argon2id).
    pub fn insecure_for_tests() -> Self {
        PasswordParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn hasher(&self) -> Result<Argon2<'static>, GovernError> {
        let p = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| GovernError::Hash(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
    }
}

/// A session just created by [`Govern::login`]: `token` goes to the browser (cookie) and is
/// never stored; `csrf` must accompany every mutation.
#[derive(Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
    pub user: User,
    /// Absolute end (Unix seconds).
    pub expires_at: i64,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("user", &self.user.username)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A valid session, as [`Govern::session`] finds it.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub expires_at: i64,
}

/// A user as listed for administrators.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UserInfo {
    #[serde(flatten)]
    pub user: User,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An acknowledged alarm.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AlarmAck {
    pub alarm_key: String,
    pub user_id: i64,
    pub acked_at: i64,
}

/// Govern's handle on the database. Cheap to clone.
#[derive(Clone)]
pub struct Govern {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    params: PasswordParams,
    /// A hash of a random password, verified against for unknown users so that their
    /// logins cost the same time as known users'.
    dummy_hash: String,
}

impl std::fmt::Debug for Govern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Govern").finish_non_exhaustive()
    }
}

pub(crate) trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, GovernError>;
}

impl<T> Ctx<T> for Result<T, rusqlite::Error> {
    fn ctx(self, what: &str) -> Result<T, GovernError> {
        self.map_err(|source| GovernError::Db {
            what: what.to_string(),
            source,
        })
    }
}

/// Hex SHA-256 of a session token (what the `session` table stores).
fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Checks a new password against the rules; `Ok` when acceptable.
pub fn check_password_strength(password: &str) -> Result<(), WeakPassword> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort);
    }
    let lower = password.to_lowercase();
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit());
    let common = COMMON_PASSWORDS.iter().any(|c| {
        lower == *c
            || stem == *c
            || (lower.len().is_multiple_of(c.len()) && lower == c.repeat(lower.len() / c.len()))
    });
    // One character repeated ("aaaaaaaaaa") is as good as a common password.
    let mut chars = lower.chars();
    let first = chars.next();
    let monotone = chars.all(|c| Some(c) == first);
    if common || monotone {
        return Err(WeakPassword::Common);
    }
    Ok(())
}

fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The end of the lockout that `times` (failure times, ascending) impose at `now`, if any:
/// any [`MAX_FAILURES`] failures within [`FAILURE_WINDOW_SECS`] lock for [`LOCKOUT_SECS`]
/// after the last of them.
fn lockout_until(times: &[i64], now: i64) -> Option<i64> {
    let mut until = None;
    for w in times.windows(MAX_FAILURES) {
        let (first, last) = (w[0], w[MAX_FAILURES - 1]);
        if last - first <= FAILURE_WINDOW_SECS && last + LOCKOUT_SECS > now {
            until = Some(until.map_or(last + LOCKOUT_SECS, |u: i64| u.max(last + LOCKOUT_SECS)));
        }
    }
    until
}

pub(crate) const USER_COLS: &str = "id, username, display_name, role, lang, zone";

pub(crate) fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(3)?;
    Ok(User {
        id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        role: role.parse().map_err(|e: GovernError| {
            rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, e.into())
        })?,
        lang: r.get(4)?,
        zone: r.get(5)?,
        roles: Vec::new(),
        access: Default::default(),
    })
}

impl Govern {
    /// Opens govern's tables in the database file `db_path` (creating or migrating them),
    /// with the default password cost.
    pub fn open(db_path: &Path) -> Result<Govern, GovernError> {
        Govern::open_with(db_path, PasswordParams::default())
    }

    /// [`Govern::open`] with a chosen password cost (tests use a cheap one).
    pub fn open_with(db_path: &Path, params: PasswordParams) -> Result<Govern, GovernError> {
        let mut conn = Connection::open(db_path).ctx("opening the database")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .ctx("setting the busy timeout")?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .ctx("configuring the database")?;
        migrate(&mut conn)?;
        let dummy_hash = hash_with(&params, &random_token())?;
        Ok(Govern {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                params,
                dummy_hash,
            }),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.inner.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any user exists (the set-up page is open only while none does).
    pub fn has_users(&self) -> Result<bool, GovernError> {
        self.conn()
            .query_row("SELECT EXISTS (SELECT 1 FROM user)", [], |r| r.get(0))
            .ctx("counting users")
    }

    /// Creates a user. The password must pass [`check_password_strength`].
    pub fn create_user(
        &self,
        username: &str,
        display_name: &str,
        role: Role,
        password: &str,
        now: i64,
    ) -> Result<User, GovernError> {
        let username = username.trim();
        if !valid_username(username) {
            return Err(GovernError::BadUsername(username.to_string()));
        }
        check_password_strength(password).map_err(GovernError::WeakPassword)?;
        let hash = hash_with(&self.inner.params, password)?;
        let display = match display_name.trim() {
            "" => username,
            d => d,
        };
        let conn = self.conn();
        let res = conn.execute(
            "INSERT INTO user (username, display_name, role, password_hash, lang, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?4, 'vi', ?5, ?5)",
            params![username, display, role.as_str(), hash, now],
        );
        match res {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(GovernError::UserExists(username.to_string()));
            }
            Err(e) => return Err(e).ctx("adding a user"),
        }
        let id = conn.last_insert_rowid();
        crate::rights::assign_preset(&conn, id, role.preset())?;
        info!(username, role = role.as_str(), "user created");
        let mut user = User {
            id,
            username: username.to_string(),
            display_name: display.to_string(),
            role,
            lang: "vi".into(),
            zone: None,
            roles: Vec::new(),
            access: Default::default(),
        };
        crate::rights::load_access(&conn, &mut user, now)?;
        Ok(user)
    }

    /// Sets a user's password (must pass [`check_password_strength`]) and ends their sessions.
    pub fn set_password(
        &self,
        username: &str,
        password: &str,
        now: i64,
    ) -> Result<(), GovernError> {
        check_password_strength(password).map_err(GovernError::WeakPassword)?;
        let hash = hash_with(&self.inner.params, password)?;
        let conn = self.conn();
        let id: Option<i64> = conn
            .query_row("SELECT id FROM user WHERE username = ?1", [username], |r| {
                r.get(0)
            })
            .optional()
            .ctx("finding the user")?;
        let id = id.ok_or_else(|| GovernError::NoSuchUser(username.to_string()))?;
        conn.execute(
            "UPDATE user SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, hash, now],
        )
        .ctx("setting the password")?;
        conn.execute("DELETE FROM session WHERE user_id = ?1", [id])
            .ctx("ending the user's sessions")?;
        Ok(())
    }

    /// Disables or enables a user; disabling ends their sessions.
    pub fn set_disabled(
        &self,
        username: &str,
        disabled: bool,
        now: i64,
    ) -> Result<(), GovernError> {
        let conn = self.conn();
        let n = conn
            .execute(
                "UPDATE user SET disabled = ?2, updated_at = ?3 WHERE username = ?1",
                params![username, disabled, now],
            )
            .ctx("updating the user")?;
        if n == 0 {
            return Err(GovernError::NoSuchUser(username.to_string()));
        }
        if disabled {
            conn.execute(
                "DELETE FROM session WHERE user_id = (SELECT id FROM user WHERE username = ?1)",
                [username],
            )
            .ctx("ending the user's sessions")?;
        }
        Ok(())
    }

    /// Sets a user's preferred UI language ("vi" or "en").
    pub fn set_lang(&self, user_id: i64, lang: &str, now: i64) -> Result<(), GovernError> {
        let lang = if lang.eq_ignore_ascii_case("en") {
            "en"
        } else {
            "vi"
        };
        self.conn()
            .execute(
                "UPDATE user SET lang = ?2, updated_at = ?3 WHERE id = ?1",
                params![user_id, lang, now],
            )
            .ctx("setting the language")?;
        Ok(())
    }

    /// Every user, by user name.
    pub fn users(&self) -> Result<Vec<UserInfo>, GovernError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {USER_COLS}, disabled, created_at, updated_at FROM user ORDER BY username"
            ))
            .ctx("listing users")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(UserInfo {
                    user: user_from_row(r)?,
                    disabled: r.get(6)?,
                    created_at: r.get(7)?,
                    updated_at: r.get(8)?,
                })
            })
            .ctx("listing users")?;
        rows.collect::<Result<_, _>>().ctx("listing users")
    }

    /// Lockout state of an account name and a client address at `now`.
    fn lockouts(
        &self,
        username: &str,
        client_addr: &str,
        now: i64,
    ) -> Result<(Option<i64>, Option<i64>), GovernError> {
        let since = now - FAILURE_WINDOW_SECS - LOCKOUT_SECS;
        let conn = self.conn();
        let times = |sql: &str, key: &str| -> Result<Vec<i64>, GovernError> {
            let mut stmt = conn.prepare_cached(sql).ctx("reading failed logins")?;
            let rows = stmt
                .query_map(params![key, since], |r| r.get(0))
                .ctx("reading failed logins")?;
            rows.collect::<Result<_, _>>().ctx("reading failed logins")
        };
        let by_user = times(
            "SELECT time FROM login_failure WHERE username = ?1 AND time > ?2 ORDER BY time",
            username,
        )?;
        let by_addr = times(
            "SELECT time FROM login_failure WHERE client_addr = ?1 AND time > ?2 ORDER BY time",
            client_addr,
        )?;
        Ok((lockout_until(&by_user, now), lockout_until(&by_addr, now)))
    }

    /// Checks a password and opens a session. Refused while the account name or the client
    /// address is locked (see the module doc), whatever the password.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        client_addr: &str,
        now: i64,
    ) -> Result<NewSession, LoginError> {
        let username = username.trim();
        let (user_lock, addr_lock) = self.lockouts(username, client_addr, now)?;
        if let Some(until) = user_lock {
            warn!(username, client_addr, "login refused: account locked");
            return Err(LoginError::AccountLocked { until });
        }
        if let Some(until) = addr_lock {
            warn!(
                username,
                client_addr, "login refused: client address locked"
            );
            return Err(LoginError::AddressLocked { until });
        }
        let found: Option<(User, String, bool)> = self
            .conn()
            .query_row(
                &format!(
                    "SELECT {USER_COLS}, password_hash, disabled FROM user WHERE username = ?1"
                ),
                [username],
                |r| Ok((user_from_row(r)?, r.get(6)?, r.get(7)?)),
            )
            .optional()
            .ctx("finding the user")?;
        let hash = found
            .as_ref()
            .map(|f| f.1.as_str())
            .unwrap_or(&self.inner.dummy_hash);
        let verified = verify(hash, password);
        match found {
            Some((user, _, false)) if verified => {
                let session = self.open_session(user, client_addr, now)?;
                info!(username, client_addr, "login");
                Ok(session)
            }
            _ => {
                let conn = self.conn();
                conn.execute(
                    "INSERT INTO login_failure (username, client_addr, time) VALUES (?1, ?2, ?3)",
                    params![username, client_addr, now],
                )
                .ctx("recording a failed login")?;
                conn.execute(
                    "DELETE FROM login_failure WHERE time < ?1",
                    [now - 24 * 3600],
                )
                .ctx("pruning failed logins")?;
                warn!(username, client_addr, "failed login");
                Err(LoginError::Invalid)
            }
        }
    }

    fn open_session(
        &self,
        mut user: User,
        client_addr: &str,
        now: i64,
    ) -> Result<NewSession, GovernError> {
        let token = random_token();
        let csrf = random_token();
        let expires_at = now + SESSION_MAX_SECS;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO session (token_hash, user_id, csrf_token, client_addr, created_at, \
             last_seen, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
            params![
                token_hash(&token),
                user.id,
                csrf,
                client_addr,
                now,
                expires_at
            ],
        )
        .ctx("opening a session")?;
        // A successful login clears the account name's failures (not the address's).
        conn.execute(
            "DELETE FROM login_failure WHERE username = ?1",
            [&user.username],
        )
        .ctx("clearing failed logins")?;
        conn.execute("DELETE FROM session WHERE expires_at <= ?1", [now])
            .ctx("pruning sessions")?;
        crate::rights::load_access(&conn, &mut user, now)?;
        Ok(NewSession {
            token,
            csrf,
            user,
            expires_at,
        })
    }

    /// The session of `token` at `now`, if it is valid: not past its absolute end, used
    /// within `idle_timeout_secs`, and its user not disabled. A valid session's idle timer
    /// restarts (`last_seen = now`); an expired one is deleted.
    pub fn session(
        &self,
        token: &str,
        now: i64,
        idle_timeout_secs: i64,
    ) -> Result<Option<Session>, GovernError> {
        let hash = token_hash(token);
        let conn = self.conn();
        let row: Option<(User, String, i64, i64, bool)> = conn
            .query_row(
                "SELECT u.id, u.username, u.display_name, u.role, u.lang, u.zone, s.csrf_token, \
                 s.last_seen, s.expires_at, u.disabled \
                 FROM session s JOIN user u ON u.id = s.user_id WHERE s.token_hash = ?1",
                [&hash],
                |r| {
                    Ok((
                        user_from_row(r)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                    ))
                },
            )
            .optional()
            .ctx("finding the session")?;
        let Some((mut user, csrf, last_seen, expires_at, disabled)) = row else {
            return Ok(None);
        };
        if disabled || now >= expires_at || now - last_seen >= idle_timeout_secs {
            conn.execute("DELETE FROM session WHERE token_hash = ?1", [&hash])
                .ctx("ending an expired session")?;
            return Ok(None);
        }
        if now > last_seen {
            conn.execute(
                "UPDATE session SET last_seen = ?2 WHERE token_hash = ?1",
                params![hash, now],
            )
            .ctx("updating the session")?;
        }
        crate::rights::load_access(&conn, &mut user, now)?;
        Ok(Some(Session {
            user,
            csrf,
            expires_at,
        }))
    }

    /// Ends the session of `token` (no error when there is none).
    pub fn logout(&self, token: &str) -> Result<(), GovernError> {
        self.conn()
            .execute(
                "DELETE FROM session WHERE token_hash = ?1",
                [token_hash(token)],
            )
            .ctx("ending the session")?;
        Ok(())
    }

    /// Records that `user_id` acknowledged the alarm `key` (idempotent: the first
    /// acknowledgement stays).
    pub fn acknowledge_alarm(&self, key: &str, user_id: i64, now: i64) -> Result<(), GovernError> {
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO alarm_ack (alarm_key, user_id, acked_at) VALUES (?1, ?2, ?3)",
                params![key, user_id, now],
            )
            .ctx("acknowledging an alarm")?;
        Ok(())
    }

    /// The acknowledgement of alarm `key`, if any.
    pub fn alarm_ack(&self, key: &str) -> Result<Option<AlarmAck>, GovernError> {
        self.conn()
            .query_row(
                "SELECT alarm_key, user_id, acked_at FROM alarm_ack WHERE alarm_key = ?1",
                [key],
                |r| {
                    Ok(AlarmAck {
                        alarm_key: r.get(0)?,
                        user_id: r.get(1)?,
                        acked_at: r.get(2)?,
                    })
                },
            )
            .optional()
            .ctx("reading an alarm acknowledgement")
    }
}

fn migrate(conn: &mut Connection) -> Result<(), GovernError> {
    let tx = conn.transaction().ctx("starting the govern migration")?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS govern_schema (version INTEGER NOT NULL)")
        .ctx("creating govern_schema")?;
    let found: Option<i64> = tx
        .query_row("SELECT version FROM govern_schema", [], |r| r.get(0))
        .optional()
        .ctx("reading the govern schema version")?;
    let found = found.unwrap_or(0);
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(GovernError::SchemaTooNew { found, supported });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)
            .ctx(&format!("applying govern migration {}", i + 1))?;
        if i + 1 == 2 {
            // The rights model: preset roles, and every existing user gets the preset of
            // their former single role.
            crate::rights::seed_presets(&tx)?;
        }
    }
    tx.execute("DELETE FROM govern_schema", [])
        .ctx("updating the govern schema version")?;
    tx.execute(
        "INSERT INTO govern_schema (version) VALUES (?1)",
        [supported],
    )
    .ctx("updating the govern schema version")?;
    tx.commit().ctx("committing the govern migration")?;
    Ok(())
}

fn hash_with(params: &PasswordParams, password: &str) -> Result<String, GovernError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| GovernError::Hash(e.to_string()))?;
    Ok(params
        .hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| GovernError::Hash(e.to_string()))?
        .to_string())
}

/// Verifies `password` against a PHC hash string (the parameters come from the hash).
fn verify(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "Cổng-trường-2024!";

    fn open() -> (tempfile::TempDir, Govern) {
        let dir = tempfile::tempdir().unwrap();
        let g = Govern::open_with(
            &dir.path().join("vigil.db"),
            PasswordParams::insecure_for_tests(),
        )
        .unwrap();
        (dir, g)
    }

    #[test]
    fn weak_passwords_are_refused() {
        for p in [
            "admin",
            "123456",
            "password",
            "short",
            "Password123",
            "admin12345",
            "aaaaaaaaaaaa",
            "adminadminadmin",
        ] {
            assert!(check_password_strength(p).is_err(), "{p}");
        }
        assert!(check_password_strength(PW).is_ok());
        let (_d, g) = open();
        assert!(matches!(
            g.create_user("it", "", Role::Administrator, "password", 0),
            Err(GovernError::WeakPassword(WeakPassword::TooShort))
        ));
        assert!(!g.has_users().unwrap());
    }

    #[test]
    fn create_list_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.db");
        {
            let g = Govern::open_with(&path, PasswordParams::insecure_for_tests()).unwrap();
            assert!(!g.has_users().unwrap());
            let u = g
                .create_user("it", "Phòng CNTT", Role::Administrator, PW, 10)
                .unwrap();
            assert_eq!(u.display_name, "Phòng CNTT");
            assert!(matches!(
                g.create_user("IT", "", Role::Guard, PW, 10),
                Err(GovernError::UserExists(_))
            ));
            assert!(matches!(
                g.create_user("bad name", "", Role::Guard, PW, 10),
                Err(GovernError::BadUsername(_))
            ));
        }
        let g = Govern::open(&path).unwrap();
        assert!(g.has_users().unwrap());
        let users = g.users().unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].user.role, Role::Administrator);
        // The stored hash is argon2id and does not contain the password.
        let h: String = g
            .conn()
            .query_row("SELECT password_hash FROM user", [], |r| r.get(0))
            .unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains(PW));
    }

    #[test]
    fn login_session_logout() {
        let (_d, g) = open();
        g.create_user("bao.ve", "Bảo vệ", Role::Guard, PW, 0)
            .unwrap();
        let s = g.login("bao.ve", PW, "10.0.0.5", 100).unwrap();
        assert_eq!(s.user.role, Role::Guard);
        // Only the hash of the token is stored.
        let stored: String = g
            .conn()
            .query_row("SELECT token_hash FROM session", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, s.token);
        assert_eq!(stored, token_hash(&s.token));
        let found = g.session(&s.token, 200, 1800).unwrap().unwrap();
        assert_eq!(found.user.username, "bao.ve");
        assert_eq!(found.csrf, s.csrf);
        assert!(g.session("not-a-token", 200, 1800).unwrap().is_none());
        g.logout(&s.token).unwrap();
        assert!(g.session(&s.token, 201, 1800).unwrap().is_none());
    }

    #[test]
    fn idle_timeout_slides_and_absolute_limit_holds() {
        let (_d, g) = open();
        g.create_user("bgh", "", Role::Leadership, PW, 0).unwrap();
        let s = g.login("bgh", PW, "a", 0).unwrap();
        // Used every 20 minutes: stays valid (idle 30 min)…
        let mut t = 0;
        while t + 1200 < SESSION_MAX_SECS {
            t += 1200;
            assert!(g.session(&s.token, t, 1800).unwrap().is_some(), "t={t}");
        }
        // …until the absolute end.
        assert!(g
            .session(&s.token, SESSION_MAX_SECS, 1800)
            .unwrap()
            .is_none());

        let s = g.login("bgh", PW, "a", 0).unwrap();
        assert!(g.session(&s.token, 1799, 1800).unwrap().is_some());
        // Idle for 30 minutes: gone, and stays gone.
        assert!(g.session(&s.token, 1799 + 1800, 1800).unwrap().is_none());
        assert!(g.session(&s.token, 1799 + 1801, 100_000).unwrap().is_none());
    }

    #[test]
    fn disabled_users_cannot_log_in_and_lose_sessions() {
        let (_d, g) = open();
        g.create_user("xem", "", Role::Viewer, PW, 0).unwrap();
        let s = g.login("xem", PW, "a", 0).unwrap();
        g.set_disabled("xem", true, 1).unwrap();
        assert!(g.session(&s.token, 2, 1800).unwrap().is_none());
        assert!(matches!(
            g.login("xem", PW, "a", 3),
            Err(LoginError::Invalid)
        ));
    }

    #[test]
    fn set_password_changes_it_and_ends_sessions() {
        let (_d, g) = open();
        g.create_user("it", "", Role::Administrator, PW, 0).unwrap();
        let s = g.login("it", PW, "a", 0).unwrap();
        assert!(g.set_password("it", "123456", 1).is_err());
        g.set_password("it", "một-mật-khẩu-mới", 1).unwrap();
        assert!(g.session(&s.token, 2, 1800).unwrap().is_none());
        assert!(matches!(
            g.login("it", PW, "a", 3),
            Err(LoginError::Invalid)
        ));
        g.login("it", "một-mật-khẩu-mới", "a", 4).unwrap();
        assert!(matches!(
            g.set_password("nobody", "một-mật-khẩu-mới", 5),
            Err(GovernError::NoSuchUser(_))
        ));
    }

    #[test]
    fn five_failures_lock_the_account_for_15_minutes() {
        let (_d, g) = open();
        g.create_user("it", "", Role::Administrator, PW, 0).unwrap();
        for i in 0..MAX_FAILURES as i64 {
            // From different addresses: only the account lock applies.
            let addr = format!("10.0.0.{i}");
            assert!(matches!(
                g.login("it", "wrong-password", &addr, 100 + i),
                Err(LoginError::Invalid)
            ));
        }
        // The sixth attempt is refused even with the right password.
        let last = 100 + MAX_FAILURES as i64 - 1;
        match g.login("it", PW, "10.9.9.9", last + 1) {
            Err(LoginError::AccountLocked { until }) => assert_eq!(until, last + LOCKOUT_SECS),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            g.login("it", PW, "10.9.9.9", last + LOCKOUT_SECS - 1),
            Err(LoginError::AccountLocked { .. })
        ));
        // After 15 minutes the right password works again.
        g.login("it", PW, "10.9.9.9", last + LOCKOUT_SECS).unwrap();
    }

    #[test]
    fn failures_spread_over_more_than_the_window_do_not_lock() {
        let (_d, g) = open();
        g.create_user("it", "", Role::Administrator, PW, 0).unwrap();
        for i in 0..8i64 {
            let _ = g.login("it", "wrong-password", "a", i * 200);
        }
        // 8 failures, but never 5 within 10 minutes.
        g.login("it", PW, "b", 8 * 200).unwrap();
    }

    #[test]
    fn five_failures_from_one_address_lock_that_address() {
        let (_d, g) = open();
        g.create_user("it", "", Role::Administrator, PW, 0).unwrap();
        for i in 0..MAX_FAILURES as i64 {
            let _ = g.login(&format!("guess{i}"), "wrong-password", "192.0.2.7", 10 + i);
        }
        assert!(matches!(
            g.login("it", PW, "192.0.2.7", 20),
            Err(LoginError::AddressLocked { .. })
        ));
        // Another address is not affected, and the account is not locked.
        g.login("it", PW, "192.0.2.8", 21).unwrap();
        g.login("it", PW, "192.0.2.7", 14 + LOCKOUT_SECS).unwrap();
    }

    #[test]
    fn unknown_users_look_like_wrong_passwords_and_lock_too() {
        let (_d, g) = open();
        for i in 0..MAX_FAILURES as i64 {
            let e = g
                .login("ghost", "whatever-pass", &format!("a{i}"), i)
                .unwrap_err();
            assert!(matches!(e, LoginError::Invalid));
            assert_eq!(e.to_string(), "wrong user name or password");
        }
        assert!(matches!(
            g.login("ghost", "whatever-pass", "z", 10),
            Err(LoginError::AccountLocked { .. })
        ));
    }

    #[test]
    fn lockout_arithmetic() {
        assert_eq!(lockout_until(&[1, 2, 3, 4], 5), None);
        assert_eq!(lockout_until(&[1, 2, 3, 4, 5], 6), Some(5 + LOCKOUT_SECS));
        assert_eq!(lockout_until(&[1, 2, 3, 4, 5], 5 + LOCKOUT_SECS), None);
        assert_eq!(lockout_until(&[0, 2, 3, 4, 601], 602), None);
    }

    #[test]
    fn alarm_acknowledgements() {
        let (_d, g) = open();
        let u = g.create_user("bv", "", Role::Guard, PW, 0).unwrap();
        assert!(g.alarm_ack("offline:1:main:100").unwrap().is_none());
        g.acknowledge_alarm("offline:1:main:100", u.id, 5).unwrap();
        g.acknowledge_alarm("offline:1:main:100", u.id, 9).unwrap();
        let a = g.alarm_ack("offline:1:main:100").unwrap().unwrap();
        assert_eq!((a.user_id, a.acked_at), (u.id, 5));
    }

    #[test]
    fn schema_version_is_separate_from_user_version() {
        let (d, g) = open();
        drop(g);
        let c = Connection::open(d.path().join("vigil.db")).unwrap();
        let uv: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        let gv: i64 = c
            .query_row("SELECT version FROM govern_schema", [], |r| r.get(0))
            .unwrap();
        assert_eq!((uv, gv), (0, MIGRATIONS.len() as i64));
    }
}
