//! The phased MFA rollout in the browser: the interstitial after the password
//! (recommend, countdown, forced), "remind me later", and the enrolment wizard
//! (1 choose a method with a short tutorial, 2 connect and verify, 3 backup codes,
//! 4 done, back to `rd`).
//!
//! Steps 2 and 3 are the settings pages for the chosen factor; they recognise the
//! wizard by their `rd` pointing at `{prefix}enroll/done`. Forced enrolment is
//! enforced by the proxy through the session's `enrolment_due` flag, which the
//! first confirmed factor clears (the session is elevated then).
use crate::challenge::{event, factor_available, mask_email};
use crate::handlers::{form_page, rd_or_default, see_other, Ctx, Req};
use crate::i18n::{enroll_texts, fill, long_date};
use crate::mfa_views::{EnrollDonePage, EnrollPage, EnrollStartPage, WizardChoice};
use crate::nudges::{NudgeKind, NudgeOutcome};
use crate::pages::{self, ErrorKind};
use crate::settings::{enc, ready, Ready};
use crate::UiContext;
use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use sekisho_auth::{AuthError, EventKind, MfaMethod, Reason, User};
use sekisho_config::{EnrollmentMode, Factor};
use sekisho_policy::{Nudge, RolloutFacts};

/// Does this `rd` lead to the wizard's last step (so a settings page is a wizard step)?
pub(crate) fn in_wizard(ctx: &UiContext, rd: &str) -> bool {
    rd.starts_with(&format!("{}enroll/done", ctx.config.prefix))
}

/// For a user without MFA who just gave the right password: what the rollout shows
/// now. Starting a recommendation's snooze and counting a grace sign-in happen here,
/// at sign-in, so that leaving the page does not dodge them.
pub(crate) async fn at_sign_in(ctx: &UiContext, user: &User, now: i64) -> Result<Nudge, AuthError> {
    let cov = ctx
        .config
        .rollout
        .covering(user.email.as_str(), &user.groups);
    if !matches!(
        cov.mode(),
        EnrollmentMode::Recommend | EnrollmentMode::Require
    ) {
        return Ok(Nudge::None);
    }
    let store = ctx.accounts.rollout();
    let row = store
        .row(&user.id, cov.deadline().map(|d| d.unix()))
        .await?;
    let facts = RolloutFacts {
        enrolled: false,
        snoozed_until: row.snoozed_until,
        grace_used: row.grace_used,
    };
    let nudge = cov.at_sign_in(&facts, now);
    match nudge {
        Nudge::Recommend { snooze } => {
            store
                .snooze(&user.id, now + snooze.as_secs() as i64)
                .await?;
        }
        Nudge::Countdown {
            deadline,
            grace_left: Some(_),
            ..
        } => {
            store.use_grace_login(&user.id, deadline.unix()).await?;
        }
        _ => {}
    }
    if let Some(kind) = kind_of(&nudge) {
        ctx.nudges.add(kind, NudgeOutcome::Shown);
    }
    Ok(nudge)
}

fn kind_of(n: &Nudge) -> Option<NudgeKind> {
    match n {
        Nudge::None => None,
        Nudge::Recommend { .. } => Some(NudgeKind::Recommend),
        Nudge::Countdown { .. } => Some(NudgeKind::Countdown),
        Nudge::Forced { .. } => Some(NudgeKind::Forced),
    }
}

/// Where the sign-in goes instead of `rd` when the rollout has something to show.
pub(crate) fn interstitial_location(ctx: &UiContext, nudge: &Nudge, rd: &str) -> Option<String> {
    kind_of(nudge).map(|k| {
        format!(
            "{}enroll?rd={}&nudge={}",
            ctx.config.prefix,
            enc(rd),
            k.as_str()
        )
    })
}

/// `GET {prefix}enroll?rd=…&nudge=…`: the interstitial.
pub async fn interstitial(State(ctx): Ctx, req: Request) -> Response {
    let x = match ready(&ctx, req, false).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let rd = rd_or_default(&ctx, x.form.get("rd"));
    if x.enrollment.is_enrolled() {
        return see_other(&rd);
    }
    let kind = if x.session.enrolment_due {
        NudgeKind::Forced
    } else {
        match x.form.get("nudge").and_then(NudgeKind::parse) {
            Some(k @ (NudgeKind::Recommend | NudgeKind::Countdown)) => k,
            _ => return see_other(&rd),
        }
    };
    let e = enroll_texts(x.r.lang);
    let cov = ctx
        .config
        .rollout
        .covering(&x.session.email, &x.session.groups);
    let now = ctx.mfa.now();
    let date = |d: sekisho_config::Deadline| long_date(x.r.lang, d.ymd());
    let (heading, paragraphs, later) = match kind {
        NudgeKind::Recommend => (
            e.recommend_title.to_string(),
            vec![e.recommend_body.to_string()],
            Some(e.remind_later),
        ),
        NudgeKind::Countdown => {
            let Some(deadline) = cov.deadline().filter(|d| now < d.unix()) else {
                return see_other(&rd);
            };
            let days = deadline.days_left(now);
            let mut p = vec![
                if days <= 1 {
                    e.countdown_last_day.to_string()
                } else {
                    fill(e.countdown_days, &[("n", &days.to_string())])
                },
                fill(e.countdown_body, &[("date", &date(deadline))]),
            ];
            if let Some(grace) = cov.rule.and_then(|r| r.grace_logins) {
                let used = match ctx
                    .accounts
                    .rollout()
                    .row(&x.session.user_id, Some(deadline.unix()))
                    .await
                {
                    Ok(row) => row.grace_used,
                    Err(err) => {
                        tracing::error!(error = %err, "could not read the rollout state");
                        return x.r.error(&ctx, ErrorKind::Unavailable);
                    }
                };
                let left = grace.saturating_sub(used);
                p.push(if left == 0 {
                    e.grace_last.to_string()
                } else {
                    fill(e.grace_left, &[("n", &left.to_string())])
                });
            }
            (
                fill(e.countdown_title, &[("date", &date(deadline))]),
                p,
                Some(e.skip_for_now),
            )
        }
        NudgeKind::Forced => {
            let mut p = vec![e.forced_body.to_string()];
            if let Some(d) = cov.deadline().filter(|d| now >= d.unix()) {
                p.push(fill(e.forced_since, &[("date", &date(d))]));
            }
            (e.forced_title.to_string(), p, None)
        }
    };
    let setup_href = format!(
        "{}enroll/start?rd={}&from={}",
        ctx.config.prefix,
        enc(&rd),
        kind.as_str()
    );
    let r = &x.r;
    form_page(&ctx, r, StatusCode::OK, |token| {
        pages::render(&EnrollPage {
            page: r.chrome(&ctx),
            e,
            csrf: token,
            rd: &rd,
            nudge: kind.as_str(),
            heading,
            paragraphs,
            setup_href,
            later_label: later,
        })
    })
}

/// `POST {prefix}enroll/later`: "remind me later", "skip for now", or the wizard's
/// "not now". Refused (back to the interstitial) while enrolment is forced.
pub async fn later(State(ctx): Ctx, req: Request) -> Response {
    let x = match ready(&ctx, req, true).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let rd = rd_or_default(&ctx, x.form.get("rd"));
    if x.session.enrolment_due {
        return see_other(&format!("{}enroll?rd={}", ctx.config.prefix, enc(&rd)));
    }
    let now = ctx.mfa.now();
    let store = ctx.accounts.rollout();
    if x.form.get("stage") == Some("wizard") {
        match store.end_wizard(&x.session.user_id).await {
            Ok(Some(_)) => {
                let e = event(
                    &x.r,
                    &x.session,
                    now,
                    EventKind::Enrollment,
                    false,
                    Reason::EnrolmentAbandoned,
                )
                .detail("skipped".into());
                ctx.mfa.record(e).await;
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(error = %err, "could not end the enrolment wizard"),
        }
    }
    let kind = x.form.get("nudge").and_then(NudgeKind::parse);
    if kind == Some(NudgeKind::Recommend) {
        let cov = ctx
            .config
            .rollout
            .covering(&x.session.email, &x.session.groups);
        if let Some(rule) = cov.rule.filter(|r| r.mode == EnrollmentMode::Recommend) {
            if let Err(err) = store
                .snooze(&x.session.user_id, now + rule.snooze.as_secs() as i64)
                .await
            {
                tracing::warn!(error = %err, "could not snooze the recommendation");
            }
        }
    }
    if let Some(k) = kind.filter(|k| *k != NudgeKind::Forced) {
        ctx.nudges.add(k, NudgeOutcome::Snoozed);
    }
    see_other(&rd)
}

/// `GET {prefix}enroll/start?rd=…&from=…`: wizard step 1.
pub async fn start(State(ctx): Ctx, req: Request) -> Response {
    let x = match ready(&ctx, req, false).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let rd = match x.form.get("rd") {
        Some(raw) => rd_or_default(&ctx, Some(raw)),
        None => format!("{}settings", ctx.config.prefix),
    };
    if x.enrollment.is_enrolled() {
        return see_other(&rd);
    }
    let from = x.form.get("from").and_then(NudgeKind::parse);
    let now = ctx.mfa.now();
    match ctx
        .accounts
        .rollout()
        .start_wizard(&x.session.user_id, now)
        .await
    {
        Ok(true) => {
            // Counted once per attempt, not per reload of the page.
            if let Some(k) = from {
                ctx.nudges.add(k, NudgeOutcome::Accepted);
            }
            let e = event(
                &x.r,
                &x.session,
                now,
                EventKind::Enrollment,
                true,
                Reason::EnrolmentStarted,
            )
            .detail(format!(
                "from={}",
                from.map_or("settings", NudgeKind::as_str)
            ));
            ctx.mfa.record(e).await;
        }
        Ok(false) => {}
        Err(err) => {
            tracing::error!(error = %err, request_id = %x.r.request_id(), "could not start the enrolment wizard");
            return x.r.error(&ctx, ErrorKind::Unavailable);
        }
    }
    let e = enroll_texts(x.r.lang);
    let cov = ctx
        .config
        .rollout
        .covering(&x.session.email, &x.session.groups);
    let allowed = cov.methods();
    let done = enc(&format!("{}enroll/done?rd={}", ctx.config.prefix, enc(&rd)));
    let offer = |f: Factor| factor_available(&ctx, f) && allowed.is_none_or(|a| a.contains(f));
    let mut choices = Vec::new();
    if offer(Factor::Totp) {
        choices.push(WizardChoice {
            id: "totp",
            title: e.app_title,
            body: e.app_body.to_string(),
            button: e.app_button,
            href: format!("{}settings/totp?rd={done}", ctx.config.prefix),
        });
    }
    if offer(Factor::Email) {
        choices.push(WizardChoice {
            id: "email",
            title: e.email_title,
            body: fill(e.email_body, &[("email", &mask_email(&x.session.email))]),
            button: e.email_button,
            href: format!("{}settings/email?rd={done}", ctx.config.prefix),
        });
    }
    if offer(Factor::Sms) {
        choices.push(WizardChoice {
            id: "sms",
            title: e.sms_title,
            body: e.sms_body.to_string(),
            button: e.sms_button,
            href: format!("{}settings/sms?rd={done}", ctx.config.prefix),
        });
    }
    let r = &x.r;
    form_page(&ctx, r, StatusCode::OK, |token| {
        pages::render(&EnrollStartPage {
            page: r.chrome(&ctx),
            e,
            csrf: token,
            rd: &rd,
            nudge: from.map_or("", NudgeKind::as_str),
            step: fill(e.step_of, &[("n", "1")]),
            choices,
            skippable: !x.session.enrolment_due,
        })
    })
}

/// `GET {prefix}enroll/done?rd=…`: wizard step 4.
pub async fn done(State(ctx): Ctx, req: Request) -> Response {
    let x = match ready(&ctx, req, false).await {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let rd = rd_or_default(&ctx, x.form.get("rd"));
    if !x.enrollment.is_enrolled() {
        return see_other(&format!(
            "{}enroll/start?rd={}",
            ctx.config.prefix,
            enc(&rd)
        ));
    }
    let e = enroll_texts(x.r.lang);
    let r: &Req = &x.r;
    crate::handlers::html(
        StatusCode::OK,
        pages::render(&EnrollDonePage {
            page: r.chrome(&ctx),
            e,
            step: fill(e.step_of, &[("n", "4")]),
            continue_to: &rd,
        }),
    )
}

/// The user's first factor was just confirmed (in the wizard or from settings).
pub(crate) async fn completed(ctx: &UiContext, x: &Ready, method: MfaMethod) {
    let now = ctx.mfa.now();
    let detail = match ctx.accounts.rollout().end_wizard(&x.session.user_id).await {
        Ok(Some(started)) => format!("wizard seconds={}", (now - started).max(0)),
        Ok(None) => "settings".to_string(),
        Err(err) => {
            tracing::warn!(error = %err, "could not end the enrolment wizard");
            "settings".to_string()
        }
    };
    let e = event(
        &x.r,
        &x.session,
        now,
        EventKind::Enrollment,
        true,
        Reason::EnrolmentCompleted,
    )
    .method(method)
    .detail(detail);
    ctx.mfa.record(e).await;
}
