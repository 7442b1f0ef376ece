//! [`AccountStore`]: users, API tokens, sessions, access controls, invites.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{Dialect, Exec, Lock, SqlStore, query};
use crate::model::*;
use crate::rows::{self, ModelRow};
use crate::store::{AccountStore, MemoryResult};
use crate::{InviteRejection, MemoryError};

#[expect(private_bounds, reason = "helpers of the shared implementation, crate-private like the Dialect bound")]
impl<D: Dialect> SqlStore<D> {
    async fn insert_user<'e>(
        &self,
        on: impl Into<Exec<'e, D>> + Send,
        user: &NewUser,
        role: Role,
    ) -> MemoryResult<User> {
        let row = query::<D>(concat!(
            "insert into users (email, password_hash, role, tier, created_at) values ($1, $2, $3, $4, $5) returning ",
            rows::user_columns!()
        ))
        .bind(rows::normalize_email(&user.email))
        .bind(&user.password_hash)
        .bind(role.as_str())
        .bind(user.tier.as_str())
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(on)
        .await
        .map_err(|e| rows::write_error(e, "email", "user"))?;
        rows::user(&row)
    }

    /// A one-row `update` of a user: `NotFound("user")` when there is none.
    async fn update_user<'v>(
        &self,
        sql: &'static str,
        value: impl Into<super::Param<'v>>,
        id: UserId,
    ) -> MemoryResult<()> {
        let writer = self.write().await;
        let changed = query::<D>(sql).bind(value).bind(id.0).execute(&writer).await?;
        rows::expect_one(changed, "user")
    }

    async fn find_invite(&self, code: &str) -> MemoryResult<Option<Invite>> {
        query::<D>(concat!("select ", rows::invite_columns!(), " from invite_codes where code = $1"))
            .bind(code)
            .fetch_optional(self.db())
            .await?
            .map(|row| rows::invite(&row))
            .transpose()
    }
}

#[async_trait]
impl<D: Dialect> AccountStore for SqlStore<D> {
    // ---- users ----

    async fn create_user(&self, user: NewUser) -> MemoryResult<User> {
        let writer = self.write().await;
        self.insert_user(&writer, &user, user.role).await
    }

    async fn create_user_first_is_admin(&self, user: NewUser) -> MemoryResult<User> {
        let mut tx = self.write_transaction().await?;
        tx.lock(Lock::Users).await?;
        let taken = query::<D>("select exists (select 1 from users where role = 'admin') as taken")
            .fetch_one(&mut *tx)
            .await?
            .flag("taken")?;
        let created = self.insert_user(&mut *tx, &user, rows::first_user_role(taken)).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn user(&self, id: UserId) -> MemoryResult<Option<User>> {
        query::<D>(concat!("select ", rows::user_columns!(), " from users where id = $1"))
            .bind(id.0)
            .fetch_optional(self.db())
            .await?
            .map(|row| rows::user(&row))
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> MemoryResult<Option<User>> {
        query::<D>(concat!("select ", rows::user_columns!(), " from users where email = $1"))
            .bind(rows::normalize_email(email))
            .fetch_optional(self.db())
            .await?
            .map(|row| rows::user(&row))
            .transpose()
    }

    async fn list_users(&self, after: Option<UserId>, limit: i64) -> MemoryResult<Vec<User>> {
        query::<D>(concat!("select ", rows::user_columns!(), " from users where id > $1 order by id limit $2"))
            .bind(after.map_or(0, |id| id.0))
            .bind(limit.max(0))
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::user)
            .collect()
    }

    async fn count_users(&self) -> MemoryResult<i64> {
        query::<D>("select count(*) as n from users").fetch_one(self.db()).await?.int("n")
    }

    async fn admin_exists(&self) -> MemoryResult<bool> {
        query::<D>("select exists (select 1 from users where role = 'admin') as taken")
            .fetch_one(self.db())
            .await?
            .flag("taken")
    }

    async fn set_user_role(&self, id: UserId, role: Role) -> MemoryResult<()> {
        self.update_user("update users set role = $1 where id = $2", role.as_str(), id).await
    }

    async fn set_user_tier(&self, id: UserId, tier: Tier) -> MemoryResult<()> {
        self.update_user("update users set tier = $1 where id = $2", tier.as_str(), id).await
    }

    async fn touch_last_login(&self, id: UserId, at: DateTime<Utc>) -> MemoryResult<()> {
        self.update_user("update users set last_login = $1 where id = $2", rows::stored_time(at), id).await
    }

    async fn set_user_password_hash(&self, id: UserId, hash: &str) -> MemoryResult<()> {
        self.update_user("update users set password_hash = $1 where id = $2", hash, id).await
    }

    async fn delete_user(&self, id: UserId) -> MemoryResult<()> {
        let mut tx = self.write_transaction().await?;
        // usage_counters has no foreign key: the user's and their tenants' counters go
        // here; the foreign keys' cascades take the rest.
        query::<D>(
            "delete from usage_counters where (subject_kind = $1 and subject_id = $2) \
             or (subject_kind = $3 and subject_id in (select id from tenants where user_id = $2))",
        )
        .bind(rows::USER_USAGE)
        .bind(id.0)
        .bind(rows::TENANT_USAGE)
        .execute(&mut *tx)
        .await?;
        let deleted = query::<D>("delete from users where id = $1").bind(id.0).execute(&mut *tx).await?;
        rows::expect_one(deleted, "user")?;
        tx.commit().await
    }

    // ---- API tokens ----

    async fn create_api_token(&self, token: NewApiToken) -> MemoryResult<ApiToken> {
        let writer = self.write().await;
        let row = query::<D>(concat!(
            "insert into api_tokens (user_id, name, token_hash, created_at) values ($1, $2, $3, $4) returning ",
            rows::api_token_columns!()
        ))
        .bind(token.user_id.0)
        .bind(&token.name)
        .bind(&token.token_hash)
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&writer)
        .await
        .map_err(|e| rows::write_error(e, "token", "user"))?;
        rows::api_token(&row)
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> MemoryResult<Option<ApiToken>> {
        query::<D>(concat!(
            "select ",
            rows::api_token_columns!(),
            " from api_tokens where token_hash = $1 and revoked_at is null"
        ))
        .bind(token_hash)
        .fetch_optional(self.db())
        .await?
        .map(|row| rows::api_token(&row))
        .transpose()
    }

    async fn api_tokens(&self, user: UserId) -> MemoryResult<Vec<ApiToken>> {
        query::<D>(concat!("select ", rows::api_token_columns!(), " from api_tokens where user_id = $1 order by id"))
            .bind(user.0)
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::api_token)
            .collect()
    }

    async fn revoke_api_token(&self, user: UserId, id: i64) -> MemoryResult<()> {
        let writer = self.write().await;
        let revoked =
            query::<D>("update api_tokens set revoked_at = $1 where user_id = $2 and id = $3 and revoked_at is null")
                .bind(rows::stored_time(Utc::now()))
                .bind(user.0)
                .bind(id)
                .execute(&writer)
                .await?;
        rows::expect_one(revoked, "token")
    }

    async fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> MemoryResult<()> {
        let writer = self.write().await;
        let touched = query::<D>("update api_tokens set last_used_at = $1 where id = $2")
            .bind(rows::stored_time(at))
            .bind(id)
            .execute(&writer)
            .await?;
        rows::expect_one(touched, "token")
    }

    // ---- sessions ----

    async fn save_session(&self, session: &SessionRecord) -> MemoryResult<()> {
        let writer = self.write().await;
        query::<D>(
            "insert into sessions (id, user_id, data, expires_at, created_at) values ($1, $2, $3, $4, $5) \
             on conflict (id) do update set \
             user_id = excluded.user_id, data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(&session.id)
        .bind(session.user_id.map(|user| user.0))
        .bind(Json(&session.data))
        .bind(rows::stored_time(session.expires_at))
        .bind(rows::stored_time(Utc::now()))
        .execute(&writer)
        .await
        .map_err(|e| rows::write_error(e, "session", "user"))?;
        Ok(())
    }

    async fn load_session(&self, id: &str, now: DateTime<Utc>) -> MemoryResult<Option<SessionRecord>> {
        query::<D>(concat!("select ", rows::session_columns!(), " from sessions where id = $1 and expires_at > $2"))
            .bind(id)
            .bind(rows::stored_time(now))
            .fetch_optional(self.db())
            .await?
            .map(|row| rows::session(&row))
            .transpose()
    }

    async fn delete_session(&self, id: &str) -> MemoryResult<()> {
        let writer = self.write().await;
        query::<D>("delete from sessions where id = $1").bind(id).execute(&writer).await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> MemoryResult<u64> {
        let writer = self.write().await;
        let deleted = query::<D>("delete from sessions where expires_at <= $1")
            .bind(rows::stored_time(now))
            .execute(&writer)
            .await?;
        Ok(deleted)
    }

    async fn delete_user_sessions(&self, user: UserId) -> MemoryResult<u64> {
        let writer = self.write().await;
        let deleted = query::<D>("delete from sessions where user_id = $1").bind(user.0).execute(&writer).await?;
        Ok(deleted)
    }

    // ---- access controls ----

    async fn set_access_control(
        &self,
        user: UserId,
        control_type: &str,
        control_value: &str,
    ) -> MemoryResult<AccessControl> {
        let writer = self.write().await;
        // The conflict target is the partial unique index on active rows (0003).
        let row = query::<D>(concat!(
            "insert into access_controls (user_id, control_type, control_value, is_active, created_at) \
             values ($1, $2, $3, true, $4) \
             on conflict (user_id, control_type) where is_active do update set \
             control_value = excluded.control_value, created_at = excluded.created_at returning ",
            rows::access_control_columns!()
        ))
        .bind(user.0)
        .bind(control_type)
        .bind(control_value)
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&writer)
        .await
        .map_err(|e| rows::write_error(e, "access_control", "user"))?;
        rows::access_control(&row)
    }

    async fn access_controls(&self, user: UserId) -> MemoryResult<Vec<AccessControl>> {
        let mut controls = query::<D>(concat!(
            "select ",
            rows::access_control_columns!(),
            " from access_controls where user_id = $1 and is_active"
        ))
        .bind(user.0)
        .fetch_all(self.db())
        .await?
        .iter()
        .map(rows::access_control)
        .collect::<MemoryResult<Vec<_>>>()?;
        // Byte order, whatever the database's collation; one active control per type.
        controls.sort_by(|a, b| a.control_type.cmp(&b.control_type));
        Ok(controls)
    }

    async fn remove_access_control(&self, user: UserId, control_type: &str) -> MemoryResult<()> {
        let writer = self.write().await;
        let removed = query::<D>(
            "update access_controls set is_active = false where user_id = $1 and control_type = $2 and is_active",
        )
        .bind(user.0)
        .bind(control_type)
        .execute(&writer)
        .await?;
        rows::expect_one(removed, "access_control")
    }

    // ---- invites ----

    async fn create_invite(&self, invite: NewInvite) -> MemoryResult<Invite> {
        let writer = self.write().await;
        let row = query::<D>(concat!(
            "insert into invite_codes (code, created_by, uses_remaining, expires_at, is_active, created_at) \
             values ($1, $2, $3, $4, true, $5) returning ",
            rows::invite_columns!()
        ))
        .bind(&invite.code)
        .bind(invite.created_by.map(|user| user.0))
        .bind(invite.uses)
        .bind(invite.expires_at.map(rows::stored_time))
        .bind(rows::stored_time(Utc::now()))
        .fetch_one(&writer)
        .await
        .map_err(|e| rows::write_error(e, "code", "user"))?;
        rows::invite(&row)
    }

    async fn consume_invite(&self, code: &str, user: UserId, now: DateTime<Utc>) -> MemoryResult<Invite> {
        let now = rows::stored_time(now);
        // A few rounds only matter if an admin changes the code between our two statements.
        for _ in 0..3 {
            // Our write turn lasts for this statement only (a temporary).
            let taken = query::<D>(concat!(
                "update invite_codes set uses_remaining = uses_remaining - 1, used_by = $1, used_at = $2 \
                 where code = $3 and is_active and uses_remaining > 0 and (expires_at is null or expires_at > $2) \
                 returning ",
                rows::invite_columns!()
            ))
            .bind(user.0)
            .bind(now)
            .bind(code)
            .fetch_optional(&self.write().await)
            .await
            .map_err(|e| rows::write_error(e, "code", "user"))?;
            if let Some(row) = taken {
                return rows::invite(&row);
            }
            let invite = self.find_invite(code).await?.ok_or(MemoryError::InviteRejected(InviteRejection::Unknown))?;
            if let Some(refusal) = rows::invite_refusal(&invite, now) {
                return Err(MemoryError::InviteRejected(refusal));
            }
        }
        Err(MemoryError::InviteRejected(InviteRejection::Exhausted))
    }

    async fn check_invite(&self, code: &str, now: DateTime<Utc>) -> MemoryResult<Invite> {
        let invite = self.find_invite(code).await?.ok_or(MemoryError::InviteRejected(InviteRejection::Unknown))?;
        match rows::invite_refusal(&invite, now) {
            Some(refusal) => Err(MemoryError::InviteRejected(refusal)),
            None => Ok(invite),
        }
    }

    async fn list_invites(&self) -> MemoryResult<Vec<Invite>> {
        query::<D>(concat!("select ", rows::invite_columns!(), " from invite_codes order by id"))
            .fetch_all(self.db())
            .await?
            .iter()
            .map(rows::invite)
            .collect()
    }
}
