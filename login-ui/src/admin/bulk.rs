//! Bulk resets (secadmin): choose a group or a department, preview how many users it
//! touches, confirm with a reason, then watch the job's progress. The job runs in the
//! background and records a result per user; running it again (the retry button, or
//! a crash mid-way) resets nobody twice — see `sekisho_auth::bulk`.
use super::access::{admit_for, Admin, Perm};
use super::views::{BulkJobPage, BulkPage, BulkPreview, Flash};
use super::{audit, chrome, render_page, Section};
use crate::handlers::{see_other, Ctx};
use crate::pages::{self, ErrorKind};
use crate::settings::{enc, when};
use crate::UiContext;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::{
    Actor, AuditAction, BulkJob, NewAuditEntry, NewResetRequest, ResetError, ResetScope, Selector,
    Urgency,
};
use std::sync::Arc;

fn selector(a: &Admin) -> Option<Selector> {
    Selector::parse(
        a.form.get("kind").unwrap_or(""),
        a.form.get("value").unwrap_or(""),
    )
}

/// `GET {prefix}admin/bulk`: the form and the jobs so far.
pub(crate) async fn page(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, false, Perm::BulkReset).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    render_form(&ctx, &a, None, Flash::default(), StatusCode::OK).await
}

async fn render_form(
    ctx: &UiContext,
    a: &Admin,
    preview: Option<BulkPreview>,
    flash: Flash,
    status: StatusCode,
) -> Response {
    let jobs = ctx.accounts.bulk_jobs().list(20).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "admin console: bulk jobs unavailable");
        Vec::new()
    });
    let groups = ctx.accounts.directory().groups().await.unwrap_or_default();
    let c = chrome(ctx, a, Section::Bulk).await;
    render_page(ctx, a, status, |csrf| {
        pages::render(&BulkPage {
            c: &c,
            csrf,
            flash: &flash,
            groups: &groups,
            preview: preview.as_ref(),
            jobs: jobs.iter().map(|j| job_row(j, &c.base)).collect(),
        })
    })
}

fn job_row(j: &BulkJob, base: &str) -> (String, String, String, String, String) {
    (
        format!("{base}/bulk/job?id={}", enc(&j.id)),
        j.id.clone(),
        format!("{} {}", j.selector.kind(), j.selector.value()),
        format!(
            "{} of {} done, {} failed{}",
            j.done,
            j.total,
            j.failed,
            if j.finished { "" } else { " (running)" }
        ),
        when(j.created_at),
    )
}

/// `POST {prefix}admin/bulk`: the preview, with the confirmation form.
pub(crate) async fn preview(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, true, Perm::BulkReset).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let (Some(sel), Some(scope)) = (
        selector(&a),
        a.form.get("scope").and_then(ResetScope::parse),
    ) else {
        return a.r.error(&ctx, ErrorKind::BadRequest);
    };
    let count = match ctx.accounts.bulk_jobs().preview(&sel, &a.user.id).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "admin console: bulk preview failed");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let preview = BulkPreview {
        kind: sel.kind(),
        value: sel.value().to_string(),
        scope: scope.as_str(),
        count,
    };
    render_form(&ctx, &a, Some(preview), Flash::default(), StatusCode::OK).await
}

/// `POST {prefix}admin/bulk/start`: creates the job (with the reason) and runs it.
pub(crate) async fn start(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, true, Perm::BulkReset).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let (Some(sel), Some(scope)) = (
        selector(&a),
        a.form.get("scope").and_then(ResetScope::parse),
    ) else {
        return a.r.error(&ctx, ErrorKind::BadRequest);
    };
    // The count the admin confirmed must still be the count: otherwise preview again.
    let confirmed: Option<i64> = a.form.get("count").and_then(|c| c.parse().ok());
    let reason = a.form.get("reason").unwrap_or("");
    let jobs = ctx.accounts.bulk_jobs();
    let job = match jobs
        .create(a.actor(), &sel, scope, reason, ctx.mfa.now())
        .await
    {
        Ok(job) if Some(job.total) == confirmed => job,
        Ok(job) => {
            // Nothing has run yet: the job stays as an empty record of the attempt.
            let msg = format!(
                "The selection now covers {} users, not {}: preview again.",
                job.total,
                confirmed.unwrap_or(0)
            );
            if let Err(e) = jobs.abandon(&job.id).await {
                tracing::warn!(error = %e, "admin console: stale bulk job not removed");
            }
            let flash = Flash {
                notice: None,
                error: Some(msg),
            };
            return render_form(&ctx, &a, None, flash, StatusCode::CONFLICT).await;
        }
        Err(e @ (ResetError::ReasonTooShort | ResetError::ReasonTooLong)) => {
            let preview = BulkPreview {
                kind: sel.kind(),
                value: sel.value().to_string(),
                scope: scope.as_str(),
                count: confirmed.unwrap_or(0),
            };
            let flash = Flash {
                notice: None,
                error: Some(e.to_string()),
            };
            return render_form(
                &ctx,
                &a,
                Some(preview),
                flash,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "admin console: bulk job not created");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    audit(
        &ctx,
        &a,
        Perm::BulkReset,
        AuditAction::BulkResetStarted,
        &format!("{}:{}", sel.kind(), sel.value()),
        &[
            ("job", job.id.clone()),
            ("scope", scope.as_str().into()),
            ("users", job.total.to_string()),
            ("reason", job.reason.clone()),
        ],
    )
    .await;
    BulkRunner::spawn(&ctx, &a, &job.id);
    see_other(&format!(
        "{}admin/bulk/job?id={}",
        ctx.config.prefix,
        enc(&job.id)
    ))
}

/// `GET {prefix}admin/bulk/job?id=`: progress (refreshes while running) and results.
pub(crate) async fn job(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, false, Perm::BulkReset).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let id = a.form.get("id").unwrap_or("");
    let jobs = ctx.accounts.bulk_jobs();
    let (job, results) = match (jobs.get(id).await, jobs.results(id).await) {
        (Ok(Some(j)), Ok(r)) => (j, r),
        (Ok(None), _) => return a.r.error(&ctx, ErrorKind::NotFound),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "admin console: bulk job unavailable");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let c = chrome(&ctx, &a, Section::Bulk).await;
    render_page(&ctx, &a, StatusCode::OK, |csrf| {
        pages::render(&BulkJobPage {
            c: &c,
            csrf,
            id: &job.id,
            selector: format!("{} {}", job.selector.kind(), job.selector.value()),
            scope: job.scope.as_str(),
            reason: &job.reason,
            by: &job.created_by_email,
            total: job.total,
            done: job.done,
            failed: job.failed,
            finished: job.finished,
            percent: if job.total == 0 {
                100
            } else {
                (job.done + job.failed) * 100 / job.total
            },
            results: results
                .iter()
                .map(|r| {
                    (
                        r.email.clone(),
                        r.state.clone(),
                        r.detail.clone().unwrap_or_default(),
                        r.done_at.map(when).unwrap_or_default(),
                    )
                })
                .collect(),
        })
    })
}

/// `POST {prefix}admin/bulk/retry`: runs the rows not done again.
pub(crate) async fn retry(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, true, Perm::BulkReset).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let id = a.form.get("id").unwrap_or("").to_string();
    let jobs = ctx.accounts.bulk_jobs();
    match jobs.get(&id).await {
        Ok(Some(_)) => {}
        Ok(None) => return a.r.error(&ctx, ErrorKind::NotFound),
        Err(e) => {
            tracing::error!(error = %e, "admin console: bulk job unavailable");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    }
    if let Err(e) = jobs.reopen(&id).await {
        tracing::error!(error = %e, "admin console: bulk job not reopened");
        return a.r.error(&ctx, ErrorKind::Unavailable);
    }
    BulkRunner::spawn(&ctx, &a, &id);
    see_other(&format!(
        "{}admin/bulk/job?id={}",
        ctx.config.prefix,
        enc(&id)
    ))
}

/// Runs one bulk job to the end in the background.
pub(crate) struct BulkRunner {
    ctx: Arc<UiContext>,
    job: String,
    admin_id: String,
    admin_email: String,
    ip: Option<String>,
    host: String,
    scheme: String,
}

impl BulkRunner {
    fn spawn(ctx: &Arc<UiContext>, a: &Admin, job: &str) {
        let runner = BulkRunner {
            ctx: Arc::clone(ctx),
            job: job.to_string(),
            admin_id: a.user.id.clone(),
            admin_email: a.user.email.to_string(),
            ip: a.r.client_ip(),
            host: a.r.host().to_string(),
            scheme: a.r.scheme(ctx).to_string(),
        };
        tokio::spawn(async move { runner.run().await });
    }

    async fn audit(&self, action: AuditAction, target: &str, detail: &[(&str, String)]) {
        let entry = NewAuditEntry::new(&self.admin_email, "secadmin", action)
            .target(target)
            .ip(self.ip.as_deref())
            .request_id(&self.job)
            .detail(detail);
        crate::admin::record_audit(&self.ctx, entry, action).await;
    }

    pub(crate) async fn run(&self) {
        let ctx = &self.ctx;
        let jobs = ctx.accounts.bulk_jobs();
        let Ok(Some(job)) = jobs.get(&self.job).await else {
            tracing::error!(job = %self.job, "bulk job vanished");
            return;
        };
        let rows = match jobs.to_do(&job.id).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, job = %job.id, "bulk job rows unavailable");
                return;
            }
        };
        let by = Actor {
            id: &self.admin_id,
            email: &self.admin_email,
            may_decide_privileged: true,
        };
        let ttl = ctx.config.admin.clamp_link_ttl(None).as_secs() as i64;
        for row in rows {
            let now = ctx.mfa.now();
            let privileged = match ctx.accounts.find_by_id(&row.user_id).await {
                Ok(Some(u)) => ctx.config.admin.is_privileged(&u.groups),
                Ok(None) => {
                    let _ = jobs
                        .mark_failed(&job.id, &row.user_id, "the user no longer exists", now)
                        .await;
                    continue;
                }
                Err(e) => {
                    let _ = jobs
                        .mark_failed(&job.id, &row.user_id, &e.to_string(), now)
                        .await;
                    continue;
                }
            };
            let new = NewResetRequest {
                user_id: &row.user_id,
                scope: job.scope,
                urgency: Urgency::High,
                reason: &job.reason,
                privileged,
            };
            match ctx
                .accounts
                .resets()
                .execute_direct(by, new, Some(&job.id), ttl, &ctx.sessions, now)
                .await
            {
                Ok(done) => {
                    let mailed =
                        crate::reenrol::mail_link(ctx, &done, Some(&self.host), &self.scheme).await;
                    let mut detail = super::requests::executed_detail(&done, mailed);
                    detail.push(("job", job.id.clone()));
                    self.audit(AuditAction::BulkResetUser, &row.email, &detail)
                        .await;
                }
                Err(ResetError::BulkAlreadyDone) => {}
                Err(e) => {
                    tracing::warn!(error = %e, job = %job.id, user = %row.email, "bulk reset of one user failed");
                    let _ = jobs
                        .mark_failed(&job.id, &row.user_id, &e.to_string(), now)
                        .await;
                }
            }
        }
        match jobs.finish_run(&job.id, ctx.mfa.now()).await {
            Ok(Some(j)) => {
                self.audit(
                    AuditAction::BulkResetFinished,
                    &format!("{}:{}", j.selector.kind(), j.selector.value()),
                    &[
                        ("job", j.id.clone()),
                        ("done", j.done.to_string()),
                        ("failed", j.failed.to_string()),
                    ],
                )
                .await;
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, job = %job.id, "bulk job not finished"),
        }
    }
}
