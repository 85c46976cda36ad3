//! `sekisho mfa reset`: an operator's immediate MFA reset, recorded like one the
//! console executes (a reset request row, an audit entry with actor `cli`, the
//! re-enrolment link e-mailed to the user).
use crate::app::App;
use sekisho_auth::SystemClock;
use sekisho_config::{SessionStoreKind, Settings};
use std::sync::Arc;

pub(super) fn reset(
    settings: Settings,
    email: &str,
    scope: &str,
    reason: &str,
) -> Result<(), String> {
    let memory_sessions = matches!(settings.session.store, SessionStoreKind::Memory { .. });
    let app = App::build(settings, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    let ui = Arc::clone(&app.ui);
    let (email, scope, reason) = (email.to_string(), scope.to_string(), reason.to_string());
    let done = app
        .io
        .block_on(async move {
            sekisho_login_ui::reset_mfa_from_cli(&ui, &email, &scope, &reason).await
        })
        .ok_or("the I/O runtime is not running")??;
    println!("reset {} executed", done.request_id);
    let expires = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(done.link_expires_at.max(0) as u64),
    );
    if done.mailed {
        println!("re-enrolment link e-mailed; it works once, until {expires}");
    } else {
        println!("the re-enrolment link could NOT be e-mailed (see the log); reset again to send a new one");
    }
    if memory_sessions {
        println!("sessions live in a running gateway's memory: restart it to end them now");
    } else {
        match done.sessions_ended {
            Some(n) => println!("{n} session(s) ended"),
            None => println!("could not end sessions: the session store is unreachable"),
        }
    }
    Ok(())
}
