//! Recovery requests users file for themselves: a user who passed the password but can
//! use none of their factors asks for a full MFA reset from the challenge page. The
//! request joins the admin queue as a pending request (four eyes as ever); only the
//! checks differ: a short account of what happened instead of an admin's reason, an
//! optional way to reach the user, and at most [`SELF_REQUESTS_PER_DAY`] a day so a
//! password thief cannot flood the queue.
use super::{Origin, RequestQuery, ResetError, ResetRequest, ResetRequests, ResetScope, Urgency};
use crate::clock::UnixTime;
use crate::token::random_token;
use sqlx::Row;

/// Enough to tell the helpdesk what happened, in either language.
pub const MIN_DESCRIPTION_CHARS: usize = 10;
const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_CONTACT_CHARS: usize = 200;
/// Per user and rolling day, whatever became of the earlier ones.
pub const SELF_REQUESTS_PER_DAY: i64 = 3;
const DAY: i64 = 86_400;

/// What the user says happened to their factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Situation {
    LostDevice,
    NewPhone,
    AppRemoved,
    Other,
}

impl Situation {
    pub const ALL: [Situation; 4] = [
        Situation::LostDevice,
        Situation::NewPhone,
        Situation::AppRemoved,
        Situation::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Situation::LostDevice => "lost_device",
            Situation::NewPhone => "new_phone",
            Situation::AppRemoved => "app_removed",
            Situation::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// What the form sends; the user is the signed-in (partial) session's.
#[derive(Debug, Clone)]
pub struct SelfServiceRequest<'a> {
    pub user_id: &'a str,
    pub user_email: &'a str,
    pub situation: Situation,
    pub description: &'a str,
    /// May be empty: the helpdesk then uses the account's address.
    pub contact: &'a str,
    /// The user is privileged now (decided by the caller from their groups).
    pub privileged: bool,
}

fn check_description(text: &str) -> Result<&str, ResetError> {
    let t = text.trim();
    match t.chars().count() {
        n if n < MIN_DESCRIPTION_CHARS => Err(ResetError::DescriptionTooShort),
        n if n > MAX_DESCRIPTION_CHARS => Err(ResetError::ReasonTooLong),
        _ => Ok(t),
    }
}

/// One line, without control characters: it is shown to admins and put in mail.
fn check_contact(text: &str) -> Result<Option<String>, ResetError> {
    let line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.chars().count() > MAX_CONTACT_CHARS {
        return Err(ResetError::ContactTooLong);
    }
    Ok((!line.is_empty()).then_some(line))
}

impl ResetRequests {
    /// Files a user's own request for a full reset, pending an administrator's
    /// approval; `expires_in` as for admins' requests.
    pub async fn create_self(
        &self,
        new: SelfServiceRequest<'_>,
        expires_in: i64,
        now: UnixTime,
    ) -> Result<ResetRequest, ResetError> {
        let description = check_description(new.description)?;
        let contact = check_contact(new.contact)?;
        self.expire_due(now).await?;
        if let Some(id) = self.open_request(new.user_id).await? {
            return Err(ResetError::AlreadyOpen(id));
        }
        let recent: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM reset_requests WHERE user_id = $1 AND origin = 'self' AND created_at > $2",
        )
        .bind(new.user_id)
        .bind(now - DAY)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        if recent >= SELF_REQUESTS_PER_DAY {
            return Err(ResetError::TooManyRequests);
        }
        let id = format!("RR-{}", random_token(9));
        let inserted = sqlx::query(
            "INSERT INTO reset_requests (id, user_id, requested_by, requested_by_email, reason, scope, urgency, privileged, state, created_at, expires_at, origin, situation, contact)
             VALUES ($1, $2, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11, $12)",
        )
        .bind(&id)
        .bind(new.user_id)
        .bind(new.user_email)
        .bind(description)
        .bind(ResetScope::Full.as_str())
        .bind(Urgency::Medium.as_str())
        .bind(i64::from(new.privileged))
        .bind(now)
        .bind(now + expires_in.max(60))
        .bind(Origin::SelfService.as_str())
        .bind(new.situation.as_str())
        .bind(contact.as_deref())
        .execute(self.pool())
        .await;
        if let Err(e) = inserted {
            return Err(self.insert_failed(e, new.user_id).await);
        }
        self.get(&id, now).await
    }

    /// The user's requests, newest first (their status page).
    pub async fn of_user(
        &self,
        user_id: &str,
        limit: i64,
        now: UnixTime,
    ) -> Result<Vec<ResetRequest>, ResetError> {
        let q = RequestQuery {
            user_id: Some(user_id.to_string()),
            limit,
            ..Default::default()
        };
        self.list(&q, now).await
    }
}

#[cfg(test)]
mod tests;
