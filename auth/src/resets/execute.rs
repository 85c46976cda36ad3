//! Executing a reset: one SQL transaction claims the request (`approved → executed`),
//! removes the scoped factors, forgets every trusted browser, bumps the credential
//! version and issues the re-enrolment link, so a failure leaves nothing half done
//! and two admins executing at once cannot both do it. Sessions live in the session
//! store, outside the transaction, and are ended right after the commit.
use super::{
    Actor, NewResetRequest, RequestState, ResetError, ResetRequest, ResetRequests, ResetScope,
};
use crate::clock::UnixTime;
use crate::reenrol::{self, IssuedLink};
use crate::session::SessionService;
use crate::token::random_token;
use sqlx::{Any, Transaction};

/// A reset that was carried out. The caller e-mails `link` to the user.
#[derive(Debug)]
pub struct Executed {
    pub request: ResetRequest,
    pub link: IssuedLink,
    /// Sessions ended; `None` when the session store could not be reached (the
    /// credential version was bumped all the same).
    pub sessions_ended: Option<usize>,
}

/// Removes what `scope` covers, trusted browsers, bumps the credential version and
/// issues a new link (superseding older ones), inside `tx`.
pub async fn apply_reset(
    tx: &mut Transaction<'_, Any>,
    user_id: &str,
    request_id: &str,
    scope: ResetScope,
    link_ttl: i64,
    now: UnixTime,
) -> Result<IssuedLink, ResetError> {
    let tables: &[&str] = match scope {
        ResetScope::Full => &["mfa_totp", "mfa_settings", "backup_codes"],
        ResetScope::Totp => &["mfa_totp"],
        ResetScope::BackupCodes => &["backup_codes"],
    };
    for table in tables.iter().chain(&["trusted_devices"]) {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query("UPDATE users SET credential_version = credential_version + 1 WHERE id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(reenrol::issue_in(tx, user_id, Some(request_id), link_ttl, now).await?)
}

impl ResetRequests {
    /// approved → executed. Returns [`ResetError::NotApproved`] to the admin who lost
    /// a race (or acts on a request in any other state).
    pub async fn execute(
        &self,
        id: &str,
        by: Actor<'_>,
        link_ttl: i64,
        sessions: &SessionService,
        now: UnixTime,
    ) -> Result<Executed, ResetError> {
        let req = self.get(id, now).await?;
        if req.state != RequestState::Approved {
            return Err(ResetError::NotApproved(req.state));
        }
        if req.privileged && !by.may_decide_privileged {
            return Err(ResetError::NeedsSecadmin);
        }
        let mut tx = self.pool().begin().await?;
        let claimed = sqlx::query(
            "UPDATE reset_requests SET state = 'executed', executed_by = $1, executed_by_email = $2, executed_at = $3
             WHERE id = $4 AND state = 'approved'",
        )
        .bind(by.id)
        .bind(by.email)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            tx.rollback().await?;
            let now_state = self.get(id, now).await?.state;
            return Err(ResetError::NotApproved(now_state));
        }
        let link = apply_reset(&mut tx, &req.user_id, id, req.scope, link_ttl, now).await?;
        tx.commit().await?;
        self.finish(id, link, sessions, now).await
    }

    /// Files and executes a reset at once: the command line and bulk resets, whose
    /// authority comes from elsewhere (shell access; a secadmin's confirmed bulk job).
    /// The request row is kept so reports and the user's history show it.
    pub async fn execute_direct(
        &self,
        by: Actor<'_>,
        new: NewResetRequest<'_>,
        bulk_job: Option<&str>,
        link_ttl: i64,
        sessions: &SessionService,
        now: UnixTime,
    ) -> Result<Executed, ResetError> {
        let reason = super::check_reason(new.reason)?;
        let id = format!("RR-{}", random_token(9));
        let mut tx = self.pool().begin().await?;
        if let Some(job) = bulk_job {
            // Claiming the job's row in the same transaction makes a retried or
            // concurrent run reset each user exactly once.
            let claimed = sqlx::query(
                "UPDATE bulk_results SET state = 'done', detail = $1, done_at = $2 WHERE job_id = $3 AND user_id = $4 AND state <> 'done'",
            )
            .bind(&id)
            .bind(now)
            .bind(job)
            .bind(new.user_id)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() != 1 {
                tx.rollback().await?;
                return Err(ResetError::BulkAlreadyDone);
            }
        }
        sqlx::query(
            "INSERT INTO reset_requests (id, user_id, requested_by, requested_by_email, reason, scope, urgency, privileged, state, created_at, expires_at, decided_by, decided_by_email, decided_at, executed_by, executed_by_email, executed_at, bulk_job)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'executed', $9, $9, $3, $4, $9, $3, $4, $9, $10)",
        )
        .bind(&id)
        .bind(new.user_id)
        .bind(by.id)
        .bind(by.email)
        .bind(reason)
        .bind(new.scope.as_str())
        .bind(new.urgency.as_str())
        .bind(i64::from(new.privileged))
        .bind(now)
        .bind(bulk_job)
        .execute(&mut *tx)
        .await?;
        // Any request still open for this user is overtaken by this one.
        sqlx::query(
            "UPDATE reset_requests SET state = 'rejected', decided_by = $1, decided_by_email = $2, decided_at = $3, decision_note = $4
             WHERE user_id = $5 AND state IN ('pending', 'approved') AND id <> $6",
        )
        .bind(by.id)
        .bind(by.email)
        .bind(now)
        .bind(format!("superseded by {id}"))
        .bind(new.user_id)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        let link = apply_reset(&mut tx, new.user_id, &id, new.scope, link_ttl, now).await?;
        tx.commit().await?;
        self.finish(&id, link, sessions, now).await
    }

    async fn finish(
        &self,
        id: &str,
        link: IssuedLink,
        sessions: &SessionService,
        now: UnixTime,
    ) -> Result<Executed, ResetError> {
        let request = self.get(id, now).await?;
        let sessions_ended = match sessions.end_all(&request.user_id).await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::error!(error = %e, request = %id, "reset executed but sessions could not be ended");
                None
            }
        };
        Ok(Executed {
            request,
            link,
            sessions_ended,
        })
    }
}
