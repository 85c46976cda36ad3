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
    let ip = r.client.as_ref().map(|c| c.ip.to_string());
    let issued = match ctx
        .mfa
        .issue_code(&session.user_id, channel, bind_to, ip.as_deref())
        .await
    {
        Ok(i) => i,
        Err(e) => {
            tracing::error!(error = %e, request_id = %r.request_id(), "could not issue a code");
            return Feedback::problem(
                m.err_send_failed.into(),
                StatusCode::SERVICE_UNAVAILABLE,
                HelpTopic::CodeNotArriving,
            );
        }
    };
    let code = match issued {
        IssueOutcome::Issued(code) => code,
        IssueOutcome::Cooldown(secs) => {
            return Feedback::problem(
                fill(m.err_cooldown, &[("n", &secs.to_string())]),
                StatusCode::TOO_MANY_REQUESTS,
                HelpTopic::CodeNotArriving,
            );
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
            return Feedback::problem(
                m.err_hourly_cap.into(),
                StatusCode::TOO_MANY_REQUESTS,
                HelpTopic::CodeNotArriving,
            );
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
            Feedback::problem(
                m.err_send_failed.into(),
                StatusCode::BAD_GATEWAY,
                HelpTopic::CodeNotArriving,
            )
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
        /// The help entry for this refusal.
        help: Option<HelpTopic>,
    },
}

fn refused(reason: Reason, message: &str, help: Option<HelpTopic>) -> Verdict {
    Verdict::Refused {
        reason,
        message: message.to_string(),
        detail: None,
        help,
    }
}

/// What the user reads for a TOTP check (sign-in or enrolment).
pub(crate) fn totp_verdict(m: &MfaTexts, outcome: TotpOutcome) -> Verdict {
    let rejected = Some(HelpTopic::CodeRejected);
    match outcome {
        TotpOutcome::Accepted => Verdict::Accepted { backup_left: None },
        TotpOutcome::Replayed => refused(Reason::OtpReplayed, m.err_replayed, rejected),
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
            help: rejected,
        },
        TotpOutcome::Malformed => refused(Reason::InvalidOtp, m.err_malformed, rejected),
        TotpOutcome::Invalid | TotpOutcome::NotEnrolled => {
            refused(Reason::InvalidOtp, m.err_invalid_code, rejected)
        }
    }
}

/// What the user reads for an e-mail or SMS code (sign-in or turning the channel on).
/// A wrong or stale code is usually an old message, which the "not arriving" entry
/// explains (only the newest code works).
pub(crate) fn code_verdict(m: &MfaTexts, outcome: CodeOutcome) -> Verdict {
    let arriving = Some(HelpTopic::CodeNotArriving);
    match outcome {
        CodeOutcome::Accepted => Verdict::Accepted { backup_left: None },
        CodeOutcome::Invalid { attempts_left } => Verdict::Refused {
            reason: Reason::InvalidOtp,
            message: fill(m.err_invalid_left, &[("n", &attempts_left.to_string())]),
            detail: None,
            help: arriving,
        },
        CodeOutcome::Expired => refused(Reason::CodeExpired, m.err_expired, arriving),
        CodeOutcome::TooManyAttempts => refused(
            Reason::TooManyAttempts,
            m.err_too_many,
            Some(HelpTopic::LockedOut),
        ),
        CodeOutcome::NoCode => refused(Reason::InvalidOtp, m.err_no_code, arriving),
        CodeOutcome::Malformed => refused(Reason::InvalidOtp, m.err_malformed, None),
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
    Ok(match method {
        MfaMethod::Totp => totp_verdict(m, ctx.mfa.verify_totp(user_id, code).await?),
        MfaMethod::Email | MfaMethod::Sms => {
            let ch = if method == MfaMethod::Sms {
                CodeChannel::Sms
            } else {
                CodeChannel::Email
            };
            code_verdict(m, ctx.mfa.check_code(user_id, ch, code).await?)
        }
        MfaMethod::BackupCode => match ctx.mfa.use_backup_code(user_id, code).await? {
            BackupOutcome::Accepted { remaining } => Verdict::Accepted {
                backup_left: Some(remaining),
            },
            // The lost-device entry is the one about backup codes.
            BackupOutcome::Invalid | BackupOutcome::Malformed => refused(
                Reason::InvalidBackupCode,
                m.err_bad_backup,
                Some(HelpTopic::LostDevice),
            ),
        },
        MfaMethod::TrustedDevice => refused(Reason::InvalidOtp, m.err_invalid_code, None),
    })
}
