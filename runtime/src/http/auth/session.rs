//! Server-side sessions behind the `boardroom_session` cookie.
//!
//! - The cookie holds 256 random bits. Only their SHA-256 is stored, as the session's
//!   id, so a copy of the session table (or a Redis dump) cannot be replayed as cookies.
//! - The cookie is `HttpOnly` (scripts cannot read it), `SameSite=Lax` (other sites'
//!   forms and scripts do not send it with their writes), `Path=/`, and `Secure` when
//!   the request came over HTTPS (directly, or as told by a proxy's
//!   `X-Forwarded-Proto`/`Forwarded` header). It has no `Max-Age`: the browser keeps it
//!   for its session and the server decides when it ends.
//! - A session ends after an idle time-out (12 hours, or the user's `session_timeout`
//!   control). Each authenticated request slides the expiry forward, but writes it only
//!   when a tenth of the time-out has passed since the last write (or the time-out was
//!   shortened), so a busy client costs one session write per ~72 minutes, not one per
//!   request.
//! - Each session carries a CSRF token, sent back by login and profile, which cookie-
//!   authenticated writes must echo in `X-CSRF-Token` (see `auth::mod`).
//!
//! Where sessions live is a [`SessionBackend`]: the database by default (SQLite or
//! PostgreSQL, through the store), or Redis under `boardroom:session:` when `REDIS_URL`
//! is set. Both outlive the process, so a restart logs nobody out.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{HeaderMap, HeaderValue, header};
use boardroom_memory::{SessionRecord, SharedStore, UserId};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::secret::{hash_secret, random_urlsafe};
use crate::http::error::ApiError;
use boardroom_memory::RedisLink;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "boardroom_session";
/// How often expired database sessions are swept (on the next login after this long).
const SWEEP_EVERY: TimeDelta = TimeDelta::minutes(10);

/// The session store could not be reached or answered nonsense.
#[derive(Debug, thiserror::Error)]
#[error("session store: {0}")]
pub(crate) struct SessionError(String);

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        ApiError::Unavailable(error.to_string())
    }
}

/// Where sessions are kept. Ids given to it are already hashes.
#[async_trait]
pub(crate) trait SessionBackend: Send + Sync + 'static {
    /// `database` or `redis`, for logs.
    fn kind(&self) -> &'static str;
    /// Writes (replaces) a session.
    async fn save(&self, session: &SessionRecord) -> Result<(), SessionError>;
    /// The session with this id, unless it has expired at `now`.
    async fn load(&self, id: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, SessionError>;
    /// Forgets a session; forgetting a missing one is fine.
    async fn delete(&self, id: &str) -> Result<(), SessionError>;
    /// Deletes sessions expired at `now`, where the backend does not expire them itself.
    async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, SessionError>;
}

/// Sessions in the database (the `sessions` table), through the store.
pub(crate) struct DatabaseSessions {
    store: SharedStore,
}

impl DatabaseSessions {
    /// Sessions kept by `store`.
    pub(crate) fn new(store: SharedStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl SessionBackend for DatabaseSessions {
    fn kind(&self) -> &'static str {
        "database"
    }

    async fn save(&self, session: &SessionRecord) -> Result<(), SessionError> {
        self.store.save_session(session).await.map_err(|error| SessionError(error.to_string()))
    }

    async fn load(&self, id: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, SessionError> {
        self.store.load_session(id, now).await.map_err(|error| SessionError(error.to_string()))
    }

    async fn delete(&self, id: &str) -> Result<(), SessionError> {
        self.store.delete_session(id).await.map_err(|error| SessionError(error.to_string()))
    }

    async fn delete_expired(&self, now: DateTime<Utc>) -> Result<u64, SessionError> {
        self.store.delete_expired_sessions(now).await.map_err(|error| SessionError(error.to_string()))
    }
}

/// Sessions in Redis: one JSON string per session under `<REDIS_PREFIX>session:<id>`, set
/// to expire (`PXAT`) when the session does, so Redis does the sweeping.
pub(crate) struct RedisSessions {
    link: Arc<RedisLink>,
}

impl RedisSessions {
    /// Sessions kept on the Redis behind `link`.
    pub(crate) fn new(link: Arc<RedisLink>) -> Self {
        Self { link }
    }

    async fn run<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, SessionError> {
        self.link.run(&command).await.map_err(SessionError)
    }

    /// `<prefix>session:<id>`.
    fn key(&self, id: &str) -> String {
        self.link.key(format_args!("session:{id}"))
    }
}

#[async_trait]
impl SessionBackend for RedisSessions {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn save(&self, session: &SessionRecord) -> Result<(), SessionError> {
        let expires_ms = session.expires_at.timestamp_millis();
        if expires_ms <= Utc::now().timestamp_millis() {
            return self.delete(&session.id).await;
        }
        let value = serde_json::to_string(session).map_err(|error| SessionError(error.to_string()))?;
        let mut command = redis::cmd("SET");
        command.arg(self.key(&session.id)).arg(value).arg("PXAT").arg(expires_ms);
        self.run::<()>(command).await
    }

    async fn load(&self, id: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, SessionError> {
        let mut command = redis::cmd("GET");
        command.arg(self.key(id));
        let Some(text) = self.run::<Option<String>>(command).await? else {
            return Ok(None);
        };
        let session: SessionRecord =
            serde_json::from_str(&text).map_err(|error| SessionError(format!("unreadable session: {error}")))?;
        // Redis expires keys lazily to the millisecond; the stored time is the authority.
        Ok((session.expires_at > now).then_some(session))
    }

    async fn delete(&self, id: &str) -> Result<(), SessionError> {
        let mut command = redis::cmd("DEL");
        command.arg(self.key(id));
        self.run::<i64>(command).await.map(|_| ())
    }

    async fn delete_expired(&self, _now: DateTime<Utc>) -> Result<u64, SessionError> {
        Ok(0)
    }
}

/// A session found from its cookie.
#[derive(Debug, Clone)]
pub(crate) struct ActiveSession {
    /// The stored id (the cookie's hash).
    pub(crate) id: String,
    /// Who is logged in.
    pub(crate) user_id: UserId,
    /// The token writes must echo in `X-CSRF-Token`.
    pub(crate) csrf_token: String,
    /// When it ends unless used.
    pub(crate) expires_at: DateTime<Utc>,
    record: SessionRecord,
}

/// A session just started: what to tell the browser.
#[derive(Debug, Clone)]
pub(crate) struct NewSession {
    /// The cookie's value (the only place the raw secret exists).
    pub(crate) cookie_value: String,
    /// The CSRF token.
    pub(crate) csrf_token: String,
    /// When it ends unless used.
    pub(crate) expires_at: DateTime<Utc>,
}

/// The session manager the routes use.
pub(crate) struct Sessions {
    backend: Arc<dyn SessionBackend>,
    /// Unix seconds of the last sweep of expired sessions.
    last_sweep: AtomicI64,
}

impl Sessions {
    /// Sessions kept in `backend`.
    pub(crate) fn new(backend: Arc<dyn SessionBackend>) -> Self {
        Self { backend, last_sweep: AtomicI64::new(0) }
    }

    /// Which backend keeps the sessions.
    pub(crate) fn kind(&self) -> &'static str {
        self.backend.kind()
    }

    /// Starts a session for `user` that ends after `timeout` of inactivity.
    pub(crate) async fn start(&self, user: UserId, timeout: Duration) -> Result<NewSession, ApiError> {
        let cookie_value = random_urlsafe(32);
        let csrf_token = random_urlsafe(32);
        let now = Utc::now();
        let expires_at = now + to_delta(timeout);
        let record = SessionRecord {
            id: hash_secret(&cookie_value),
            user_id: Some(user),
            data: json!({ "csrf_token": csrf_token, "created_at": now }),
            expires_at,
        };
        self.backend.save(&record).await?;
        self.sweep_if_due(now);
        Ok(NewSession { cookie_value, csrf_token, expires_at })
    }

    /// The live, logged-in session a cookie value points at.
    pub(crate) async fn find(&self, cookie_value: &str) -> Result<Option<ActiveSession>, ApiError> {
        self.find_stored(hash_secret(cookie_value)).await
    }

    /// The live, logged-in session with this stored id (the cookie's hash).
    pub(crate) async fn find_stored(&self, id: String) -> Result<Option<ActiveSession>, ApiError> {
        let Some(record) = self.backend.load(&id, Utc::now()).await? else {
            return Ok(None);
        };
        let (Some(user_id), Some(csrf_token)) = (record.user_id, record.data["csrf_token"].as_str()) else {
            return Ok(None);
        };
        Ok(Some(ActiveSession {
            id,
            user_id,
            csrf_token: csrf_token.to_owned(),
            expires_at: record.expires_at,
            record: record.clone(),
        }))
    }

    /// Slides the session's expiry to `now + timeout` when due (see the module docs);
    /// the session as it now is when it was written.
    pub(crate) async fn touch(
        &self,
        session: &ActiveSession,
        timeout: Duration,
    ) -> Result<Option<ActiveSession>, ApiError> {
        let now = Utc::now();
        let timeout = to_delta(timeout);
        let remaining = session.expires_at - now;
        if remaining >= timeout * 9 / 10 && remaining <= timeout {
            return Ok(None);
        }
        let record = SessionRecord { expires_at: now + timeout, ..session.record.clone() };
        self.backend.save(&record).await?;
        Ok(Some(ActiveSession { expires_at: record.expires_at, record, ..session.clone() }))
    }

    /// Ends the session with this stored id.
    pub(crate) async fn end(&self, id: &str) -> Result<(), ApiError> {
        self.backend.delete(id).await?;
        Ok(())
    }

    /// Ends the session a cookie value points at, if any.
    pub(crate) async fn end_cookie(&self, cookie_value: &str) -> Result<(), ApiError> {
        self.end(&hash_secret(cookie_value)).await
    }

    /// Deletes expired sessions in the background, at most once per [`SWEEP_EVERY`].
    fn sweep_if_due(&self, now: DateTime<Utc>) {
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now.timestamp() - last < SWEEP_EVERY.num_seconds() {
            return;
        }
        // Only the caller that moves the mark sweeps.
        if self.last_sweep.compare_exchange(last, now.timestamp(), Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return;
        }
        let backend = self.backend.clone();
        tokio::spawn(async move {
            match backend.delete_expired(now).await {
                Ok(0) => {}
                Ok(count) => tracing::debug!(count, "expired sessions deleted"),
                Err(error) => tracing::warn!(%error, "sweeping expired sessions failed"),
            }
        });
    }
}

fn to_delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::hours(12))
}

/// The session cookie's value, if the request carries one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` for a new session.
pub(crate) fn set_cookie(cookie_value: &str, secure: bool) -> Result<HeaderValue, ApiError> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={cookie_value}; Path=/; HttpOnly; SameSite=Lax{secure}"))
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("session cookie is not a header value: {error}")))
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear_cookie(secure: bool) -> HeaderValue {
    let value = if secure {
        "boardroom_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
    } else {
        "boardroom_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    };
    HeaderValue::from_static(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark; boardroom_session=abc123"));
        assert_eq!(session_cookie(&headers).as_deref(), Some("abc123"));
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("boardroom_session_x=1; other=2"));
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_over_https() {
        let plain = set_cookie("v", false).expect("header");
        assert_eq!(plain, "boardroom_session=v; Path=/; HttpOnly; SameSite=Lax");
        let secure = set_cookie("v", true).expect("header");
        assert!(secure.to_str().expect("ascii").ends_with("; Secure"));
    }

    #[tokio::test]
    async fn a_session_slides_only_when_a_tenth_of_its_time_out_has_passed() {
        let test = boardroom_memory::testing::fresh_sqlite().await;
        let store = boardroom_memory::connect(&test.url).await.expect("store");
        let new_user = boardroom_memory::NewUser {
            email: "ada@example.com".into(),
            password_hash: "!".into(),
            role: boardroom_memory::Role::User,
            tier: boardroom_memory::Tier::Free,
        };
        let user = store.create_user(new_user).await.expect("user").id;
        let sessions = Sessions::new(Arc::new(DatabaseSessions::new(store.clone())));
        let timeout = Duration::from_secs(3600);
        let started = sessions.start(user, timeout).await.expect("start");
        let found = sessions.find(&started.cookie_value).await.expect("find").expect("live");
        assert_eq!((found.user_id, found.csrf_token.as_str()), (user, started.csrf_token.as_str()));

        sessions.touch(&found, timeout).await.expect("touch");
        let again = sessions.find(&started.cookie_value).await.expect("find").expect("live");
        assert_eq!(again.expires_at, found.expires_at, "fresh sessions are not rewritten");

        sessions.touch(&found, Duration::from_secs(60)).await.expect("shorten");
        let shortened = sessions.find(&started.cookie_value).await.expect("find").expect("live");
        assert!(shortened.expires_at <= Utc::now() + TimeDelta::seconds(60));

        sessions.end_cookie(&started.cookie_value).await.expect("end");
        assert!(sessions.find(&started.cookie_value).await.expect("find").is_none());
    }
}
