//! The rollout's background work, run by every gateway as a Pingora background
//! service:
//!
//! - **Reminder e-mails** (every `rollout.reminder_interval`): users covered by a
//!   `require` rule with a deadline and `notice_days` get "two-step verification
//!   becomes mandatory on <date> — N days left" once per notice day. When several
//!   notices are due at once (a new rule, or a gateway that was down), only the latest
//!   is mailed and the earlier ones are recorded as superseded.
//! - **Abandoned enrolments** (same pass): a wizard started more than
//!   `rollout.abandon_after` ago and never finished becomes one `enrolment_abandoned`
//!   event.
//! - **Adoption gauges** (every `rollout.adoption_refresh`, on every instance): two
//!   aggregate queries feed [`crate::adoption::AdoptionGauges`] and today's adoption
//!   snapshot ([`crate::adoption::record_daily`]).
//!
//! The reminder pass is single-flight: each interval-long slot of the injected clock
//! has one lease in the counter store (Redis when sessions are there, so it holds
//! across instances), and only its taker runs. The lease saves work; it is not what
//! makes a mail single. That is the SQL claim (an insert per user, deadline and notice
//! day), so a lost lease or a store outage can never mail anyone twice. A claim whose
//! send fails is released for a later pass; a gateway that dies between claim and send
//! leaves that one notice unsent rather than risk a duplicate.
//!
//! "Now" is the app's injected clock, so tests move time by hand; the timers that wake
//! the jobs are real time.
use crate::app::App;
use crate::live::LiveApp;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use sekisho_auth::{
    AuthError, AuthEvent, EventKind, NoticeState, Reason, RolloutStore, UnenrolledUser, UnixTime,
};
use sekisho_config::{Deadline, EnrollmentMode, EnrollmentRuleSettings, Settings};
use sekisho_notify::{CalendarDate, Notice, Recipient};
use std::collections::BTreeSet;
use std::sync::Arc;

const DAY: i64 = 86_400;

/// What one reminder pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// This instance took the slot's lease (or the store was down) and ran the pass.
    pub ran: bool,
    pub sent: usize,
    pub superseded: usize,
    /// Sends that failed; their claims were released for a later pass.
    pub failed: usize,
    pub abandoned: usize,
}

/// The notices of one user that are due: `send` is mailed, `superseded` are older
/// ones that come due at the same time and are only recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueNotices {
    pub deadline: Deadline,
    pub send: u32,
    pub superseded: Vec<u32>,
}

/// The notices due at `now` under `rule`: those `d` with `now >= deadline - d days`,
/// before the deadline, for `require` rules only.
pub fn due_notices(rule: &EnrollmentRuleSettings, now: UnixTime) -> Option<DueNotices> {
    if rule.mode != EnrollmentMode::Require {
        return None;
    }
    let deadline = rule.deadline?;
    if now >= deadline.unix() {
        return None;
    }
    let mut due: Vec<u32> = rule
        .notice_days
        .iter()
        .copied()
        .filter(|d| now >= deadline.unix() - i64::from(*d) * DAY)
        .collect();
    due.sort_unstable();
    due.dedup();
    let (&send, superseded) = due.split_first()?;
    Some(DueNotices {
        deadline,
        send,
        superseded: superseded.to_vec(),
    })
}

/// Where the reminder sends people: the wizard, on [`Settings::public_base`].
pub fn enrol_link(s: &Settings) -> String {
    format!(
        "{}{}enroll/start",
        s.public_base().unwrap_or_default(),
        s.ui.prefix
    )
}

/// The rollout jobs of one gateway.
pub struct RolloutJobs {
    live: Arc<LiveApp>,
}

impl RolloutJobs {
    pub fn new(live: Arc<LiveApp>) -> Self {
        Self { live }
    }

    /// The live configuration: a reload changes rules, intervals and texts.
    fn app(&self) -> Arc<App> {
        self.live.current()
    }

    fn store(&self) -> RolloutStore {
        self.app().ui.accounts.rollout()
    }

    fn now(&self) -> UnixTime {
        self.app().sessions.clock().now()
    }

    /// One reminder and abandoned-enrolment pass, if this instance takes the lease of
    /// the current slot.
    pub async fn tick(&self) -> Result<TickReport, AuthError> {
        let now = self.now();
        let interval = self
            .app()
            .settings
            .rollout
            .reminder_interval
            .as_secs()
            .max(1);
        let slot = now.div_euclid(i64::try_from(interval).unwrap_or(i64::MAX));
        let key = format!("rollout:reminders:{slot}");
        match self
            .app()
            .counters
            .put_if_absent(&key, b"1", interval.saturating_mul(2))
            .await
        {
            Ok(true) => {}
            Ok(false) => return Ok(TickReport::default()),
            Err(e) => tracing::warn!(
                error = %e,
                "rollout jobs: lease unavailable; running anyway (the SQL claims keep each reminder single)"
            ),
        }
        self.run(now).await
    }

    /// The pass itself, without the lease (for tests and tools that want one now).
    pub async fn run(&self, now: UnixTime) -> Result<TickReport, AuthError> {
        let mut report = TickReport {
            ran: true,
            ..TickReport::default()
        };
        self.remind(now, &mut report).await?;
        self.abandon(now, &mut report).await?;
        Ok(report)
    }

    async fn remind(&self, now: UnixTime, report: &mut TickReport) -> Result<(), AuthError> {
        let rollout = &self.app().ui.config.rollout;
        if rollout.rules().iter().all(|r| r.notice_days.is_empty()) {
            return Ok(());
        }
        let store = self.store();
        let link = enrol_link(&self.app().settings);
        for user in store.unenrolled_users().await? {
            let coverage = rollout.covering(&user.email, &user.groups);
            let Some(due) = coverage.rule.and_then(|r| due_notices(r, now)) else {
                continue;
            };
            self.remind_user(&store, &user, &due, &link, now, report)
                .await?;
        }
        Ok(())
    }

    async fn remind_user(
        &self,
        store: &RolloutStore,
        user: &UnenrolledUser,
        due: &DueNotices,
        link: &str,
        now: UnixTime,
        report: &mut TickReport,
    ) -> Result<(), AuthError> {
        let deadline = due.deadline.unix();
        // A read first, so that settled users cost no write on every pass.
        let recorded: BTreeSet<u32> = store
            .notices(&user.id, deadline)
            .await?
            .into_iter()
            .map(|(days, _)| days)
            .collect();
        if recorded.contains(&due.send)
            || !store
                .claim_notice(&user.id, deadline, due.send, now, NoticeState::Claimed)
                .await?
        {
            return Ok(());
        }
        for &days in due.superseded.iter().filter(|d| !recorded.contains(d)) {
            if store
                .claim_notice(&user.id, deadline, days, now, NoticeState::Superseded)
                .await?
            {
                report.superseded += 1;
            }
        }
        let (year, month, day) = due.deadline.ymd();
        let notice = Notice::EnrolmentReminder {
            date: CalendarDate { year, month, day },
            days_left: u32::try_from(due.deadline.days_left(now)).unwrap_or(1),
            link,
        };
        let to = Recipient {
            email: &user.email,
            display_name: &user.display_name,
            lang: self.app().settings.ui.default_language,
        };
        match self.app().notifier.send_email(&to, &notice).await {
            Ok(()) => {
                store.mark_notice_sent(&user.id, deadline, due.send).await?;
                report.sent += 1;
            }
            Err(e) => {
                store.release_notice(&user.id, deadline, due.send).await?;
                tracing::warn!(
                    error = e.kind(),
                    days = due.send,
                    "enrolment reminder not sent; it is retried on a later pass"
                );
                report.failed += 1;
            }
        }
        Ok(())
    }

    async fn abandon(&self, now: UnixTime, report: &mut TickReport) -> Result<(), AuthError> {
        let after =
            i64::try_from(self.app().settings.rollout.abandon_after.as_secs()).unwrap_or(i64::MAX);
        let store = self.store();
        for (user_id, email, started) in store.stale_wizards(now.saturating_sub(after)).await? {
            // Only the caller that clears this exact attempt records it.
            if store.end_wizard_started_at(&user_id, started).await? {
                let event = AuthEvent::new(
                    now,
                    EventKind::Enrollment,
                    false,
                    Reason::EnrolmentAbandoned,
                )
                .user(&user_id, &email)
                .detail("timed_out".into());
                self.app().mfa.record(event).await;
                report.abandoned += 1;
            }
        }
        Ok(())
    }

    /// Reads the adoption figures, sets the gauges and records today's snapshot.
    pub async fn refresh_adoption(&self) -> Result<(), AuthError> {
        let adoption = self.store().adoption().await?;
        self.app().adoption.update(&adoption);
        let reports = self.app().ui.accounts.reports();
        crate::adoption::record_daily(&reports, self.now(), &adoption).await
    }

    async fn reminder_loop(&self, mut shutdown: ShutdownWatch) {
        let period = self.app().settings.rollout.reminder_interval;
        // The first pass waits one interval: restarts (a rolling deploy) then add no
        // passes, and the lease spreads the work over the instances anyway.
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = timer.tick() => {}
            }
            let report = self.tick().await;
            if report.as_ref().is_ok_and(|r| r.ran) {
                self.app()
                    .reminder_passes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            match report {
                Ok(r) if r.sent + r.failed + r.superseded + r.abandoned > 0 => tracing::info!(
                    sent = r.sent,
                    failed = r.failed,
                    superseded = r.superseded,
                    abandoned = r.abandoned,
                    "rollout reminders pass"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "rollout reminders pass failed"),
            }
        }
    }

    async fn adoption_loop(&self, mut shutdown: ShutdownWatch) {
        let mut timer = tokio::time::interval(self.app().settings.rollout.adoption_refresh);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = timer.tick() => {}
            }
            if let Err(e) = self.refresh_adoption().await {
                tracing::warn!(error = %e, "adoption gauges not refreshed");
            }
        }
    }
}

#[async_trait]
impl BackgroundService for RolloutJobs {
    async fn start(&self, shutdown: ShutdownWatch) {
        tokio::join!(
            self.reminder_loop(shutdown.clone()),
            self.adoption_loop(shutdown)
        );
    }
}

/// The jobs as a Pingora service.
pub fn service(
    live: Arc<LiveApp>,
) -> pingora::services::background::GenBackgroundService<RolloutJobs> {
    pingora::services::background::background_service("rollout jobs", RolloutJobs::new(live))
}

#[cfg(test)]
mod tests;
