//! Sending one-time codes and checking every kind of submitted code.
use super::*;

/// Issues a code and sends it; `Feedback` says what the user should read.
pub(crate) async fn deliver_code(
    ctx: &UiContext,
    r: &Req,
    session: &Session,
    method: MfaMethod,
    phone: Option<&str>,
    bind_to: Option<&str>,
) -> Feedback {
    let m = crate::i18n::mfa_texts(r.lang);
    let channel = if method == MfaMethod::Sms {
        CodeChannel::Sms
    } else {
        CodeChannel::Email
    };
    let now = ctx.mfa.now();
    let issued = match ctx.mfa.issue_code(&session.user_id, channel, bind_to).await {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "could not issue a code");
            return Feedback {
                error: Some(m.err_send_failed.into()),
                status: Some(StatusCode::SERVICE_UNAVAILABLE),
                ..Feedback::default()
            };
        }
    };
    let code = match issued {
        IssueOutcome::Issued(code) => code,
        IssueOutcome::Cooldown(secs) => {
            return Feedback {
                error: Some(fill(m.err_cooldown, &[("n", &secs.to_string())])),
                status: Some(StatusCode::TOO_MANY_REQUESTS),
                ..Feedback::default()
            };
        }
        IssueOutcome::HourlyCap => {
            ctx.mfa
                .record(
                    event(
                        r,
                        session,
                        now,
                        EventKind::CodeSent,
                        false,
                        Reason::RateLimited,
                    )
                    .method(method),
                )
                .await;
            return Feedback {
                error: Some(m.err_hourly_cap.into()),
                status: Some(StatusCode::TOO_MANY_REQUESTS),
                ..Feedback::default()
            };
        }
    };
    let minutes = (ctx.mfa.settings().code_ttl.as_secs() / 60).max(1) as u32;
    let notice = Notice::SignInCode {
        code: code.expose(),
        valid_minutes: minutes,
    };
    let sent = match (channel, phone) {
        (CodeChannel::Sms, Some(phone)) => ctx.notifier.send_sms(phone, r.lang, &notice).await,
        (CodeChannel::Sms, None) => Err(sekisho_notify::NotifyError::InvalidRecipient),
        (CodeChannel::Email, _) => {
            let to = Recipient {
                email: &session.email,
                display_name: &session.display_name,
                lang: r.lang,
            };
            ctx.notifier.send_email(&to, &notice).await
        }
    };
    match sent {
        Ok(()) => {
            ctx.mfa
                .record(
                    event(r, session, now, EventKind::CodeSent, true, Reason::Ok).method(method),
                )
                .await;
            let to = match channel {
                CodeChannel::Email => mask_email(&session.email),
                CodeChannel::Sms => mask_phone(phone.unwrap_or("")),
            };
            Feedback {
                notice: Some(fill(
                    m.code_sent,
                    &[("to", &to), ("n", &minutes.to_string())],
                )),
                ..Feedback::default()
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, request_id = %r.request_id(), channel = ?channel, "could not send a one-time code");
            ctx.mfa
                .record(
                    event(
                        r,
                        session,
                        now,
                        EventKind::CodeSent,
                        false,
                        Reason::SendFailed,
                    )
                    .method(method),
                )
                .await;
            Feedback {
                error: Some(m.err_send_failed.into()),
                status: Some(StatusCode::BAD_GATEWAY),
                ..Feedback::default()
            }
        }
    }
}

/// The result of checking one submitted code.
pub(crate) enum Verdict {
    Accepted {
        backup_left: Option<usize>,
    },
    Refused {
        reason: Reason,
        message: String,
        detail: Option<String>,
    },
}

/// What the user reads for a TOTP check (sign-in or enrolment).
pub(crate) fn totp_verdict(m: &MfaTexts, outcome: TotpOutcome) -> Verdict {
    let refused = |reason, message: &str| Verdict::Refused {
        reason,
        message: message.to_string(),
        detail: None,
    };
    match outcome {
        TotpOutcome::Accepted => Verdict::Accepted { backup_left: None },
        TotpOutcome::Replayed => refused(Reason::OtpReplayed, m.err_replayed),
        TotpOutcome::Drift { minutes, steps } => Verdict::Refused {
            reason: Reason::ClockDrift,
            message: fill(
                if minutes < 0 {
                    m.err_drift_slow
                } else {
                    m.err_drift_fast
                },
                &[("n", &minutes.abs().max(1).to_string())],
            ),
            detail: Some(format!("drift_steps={steps}")),
        },
        TotpOutcome::Malformed => refused(Reason::InvalidOtp, m.err_malformed),
        TotpOutcome::Invalid | TotpOutcome::NotEnrolled => {
            refused(Reason::InvalidOtp, m.err_invalid_code)
        }
    }
}

/// Checks `code` for `method` against the user's factors.
pub(crate) async fn check(
    ctx: &UiContext,
    lang: Lang,
    user_id: &str,
    method: MfaMethod,
    code: &str,
) -> Result<Verdict, sekisho_auth::AuthError> {
    let m = crate::i18n::mfa_texts(lang);
    let refused = |reason, message: &str| Verdict::Refused {
        reason,
        message: message.to_string(),
        detail: None,
    };
    Ok(match method {
        MfaMethod::Totp => totp_verdict(m, ctx.mfa.verify_totp(user_id, code).await?),
        MfaMethod::Email | MfaMethod::Sms => {
            let ch = if method == MfaMethod::Sms {
                CodeChannel::Sms
            } else {
                CodeChannel::Email
            };
            match ctx.mfa.check_code(user_id, ch, code).await? {
                CodeOutcome::Accepted => Verdict::Accepted { backup_left: None },
                CodeOutcome::Invalid { attempts_left } => Verdict::Refused {
                    reason: Reason::InvalidOtp,
                    message: fill(m.err_invalid_left, &[("n", &attempts_left.to_string())]),
                    detail: None,
                },
                CodeOutcome::Expired => refused(Reason::CodeExpired, m.err_expired),
                CodeOutcome::TooManyAttempts => refused(Reason::TooManyAttempts, m.err_too_many),
                CodeOutcome::NoCode => refused(Reason::InvalidOtp, m.err_no_code),
                CodeOutcome::Malformed => refused(Reason::InvalidOtp, m.err_malformed),
            }
        }
        MfaMethod::BackupCode => match ctx.mfa.use_backup_code(user_id, code).await? {
            BackupOutcome::Accepted { remaining } => Verdict::Accepted {
                backup_left: Some(remaining),
            },
            BackupOutcome::Invalid | BackupOutcome::Malformed => {
                refused(Reason::InvalidBackupCode, m.err_bad_backup)
            }
        },
        MfaMethod::TrustedDevice => refused(Reason::InvalidOtp, m.err_invalid_code),
    })
}
