//! The report figures on SQLite and PostgreSQL from one scripted scenario: events
//! through the event log, reset requests as rows, adoption snapshots through the
//! refresh path; every figure exact, with events on both edges of the range.
use super::*;
use crate::account::AccountStore;
use crate::events::{AuthEvent, EventLog, Reason};
use crate::factors::MfaMethod;
use crate::testdb::user;

/// 00:00 UTC; the scenario's range is the two days from here.
const D0: UnixTime = 20_834 * DAY;
const FROM: UnixTime = D0;
const TO: UnixTime = D0 + 2 * DAY;

fn second_factor(at: UnixTime, m: MfaMethod, ok: bool, reason: Reason) -> AuthEvent {
    AuthEvent::new(at, EventKind::SecondFactor, ok, reason).method(m)
}

fn lock_started(at: UnixTime, scope: &str) -> AuthEvent {
    AuthEvent::new(at, EventKind::Lockout, false, Reason::TooManyAttempts)
        .detail(format!("scope={scope} until={}", at + 60))
}

async fn record_events(log: &EventLog) {
    use MfaMethod::*;
    use Reason::*;
    let locked = second_factor(D0 + 70, Totp, false, TooManyAttempts).detail("locked=pair".into());
    let events = [
        // Before the range.
        second_factor(FROM - 1, Totp, false, InvalidOtp),
        lock_started(FROM - 1, "pair"),
        AuthEvent::new(FROM - 1, EventKind::Password, false, InvalidPassword),
        // In it, from its very first second.
        second_factor(FROM, Totp, true, Ok),
        second_factor(D0 + 10, Totp, false, InvalidOtp),
        second_factor(D0 + 20, Totp, false, ClockDrift).detail("drift_steps=-6".into()),
        second_factor(D0 + 30, Email, true, Ok),
        second_factor(D0 + 40, Email, false, CodeExpired),
        second_factor(D0 + 50, BackupCode, true, BackupCodeUsed),
        // Not verifications: a trusted browser, a refusal by a lock, enrolment.
        second_factor(
            D0 + 60,
            MfaMethod::TrustedDevice,
            true,
            Reason::TrustedDevice,
        ),
        locked,
        AuthEvent::new(D0 + 80, EventKind::Enrollment, false, InvalidOtp).method(Totp),
        AuthEvent::new(D0 + 85, EventKind::CodeSent, true, Ok).method(Sms),
        AuthEvent::new(D0 + 90, EventKind::Password, false, InvalidPassword),
        AuthEvent::new(D0 + 91, EventKind::Password, false, InvalidPassword),
        AuthEvent::new(D0 + 92, EventKind::Password, false, UnknownUser),
        AuthEvent::new(D0 + 93, EventKind::Password, true, Ok),
        // Error pages are not attempts: in no figure.
        AuthEvent::error_page(D0 + 94, "not_found", 404, "/nope"),
        AuthEvent::error_page(D0 + 94, "not_found", 404, "/nope"),
        AuthEvent::error_page(D0 + 95, "bad_gateway", 502, "/app"),
        // Two scopes locking on one failure, then one more lock the next day.
        lock_started(D0 + 100, "pair"),
        lock_started(D0 + 100, "account"),
        lock_started(D0 + DAY + 5, "pair"),
        // The range's last second, then its end (excluded).
        second_factor(TO - 1, Sms, false, InvalidOtp),
        second_factor(TO, Sms, true, Ok),
        lock_started(TO, "ip"),
        AuthEvent::new(TO, EventKind::Password, false, InvalidPassword),
    ];
    for e in &events {
        log.record(e).await.unwrap();
    }
}

async fn events_figures(accounts: &AccountStore) {
    record_events(&accounts.events()).await;
    let reports = accounts.reports();

    let outcome = |method: &str, successes, failures| FactorOutcome {
        method: method.into(),
        successes,
        failures,
    };
    assert_eq!(
        reports.factor_outcomes(FROM, TO).await.unwrap(),
        vec![
            outcome("backup_code", 1, 0),
            outcome("email", 1, 1),
            outcome("sms", 0, 1),
            outcome("totp", 1, 2),
        ]
    );

    let reasons = |list: &[(&str, u64)]| -> Vec<(String, u64)> {
        list.iter().map(|(r, n)| (r.to_string(), *n)).collect()
    };
    // invalid_otp: TOTP and SMS at sign-in plus the enrolment; ties by name.
    assert_eq!(
        reports.failure_reasons(FROM, TO, 10).await.unwrap(),
        reasons(&[
            ("invalid_otp", 3),
            ("invalid_password", 2),
            ("clock_drift", 1),
            ("code_expired", 1),
            ("too_many_attempts", 1),
            ("unknown_user", 1),
        ])
    );
    assert_eq!(
        reports.failure_reasons(FROM, TO, 3).await.unwrap(),
        reasons(&[
            ("invalid_otp", 3),
            ("invalid_password", 2),
            ("clock_drift", 1)
        ])
    );
    assert!(reports
        .failure_reasons(FROM, TO, 0)
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        reports.lockouts(FROM, TO).await.unwrap(),
        vec![(D0, 2), (D0 + DAY, 1)]
    );
    // The range's own edges: only the lock at FROM - 1 and the one at TO.
    assert_eq!(
        reports.lockouts(FROM - 1, FROM).await.unwrap(),
        vec![(D0 - DAY, 1)]
    );
    assert_eq!(reports.lockouts(TO, TO + 1).await.unwrap(), vec![(TO, 1)]);

    // A range with nothing in it.
    assert!(reports.factor_outcomes(0, 1).await.unwrap().is_empty());
    assert!(reports.failure_reasons(0, 1, 5).await.unwrap().is_empty());
    assert!(reports.lockouts(0, 1).await.unwrap().is_empty());
}

struct ResetRow {
    id: &'static str,
    state: &'static str,
    created: UnixTime,
    decided: Option<UnixTime>,
    executed: Option<UnixTime>,
}

async fn insert_reset(reports: &Reports, user_id: &str, r: &ResetRow) {
    sqlx::query(
        "INSERT INTO reset_requests (id, user_id, requested_by, requested_by_email, reason, scope, \
         urgency, privileged, state, created_at, expires_at, decided_at, executed_at) \
         VALUES ($1, $2, 'cli', 'cli', 'lost phone', 'full', 'high', 0, $3, $4, $5, $6, $7)",
    )
    .bind(r.id)
    .bind(user_id)
    .bind(r.state)
    .bind(r.created)
    .bind(r.created + DAY)
    .bind(r.decided)
    .bind(r.executed)
    .execute(&reports.pool)
    .await
    .unwrap();
}

async fn reset_figures(accounts: &AccountStore) {
    let ada = user(accounts, "ada@example.com", &[]).await;
    let row = |id, state, created, decided, executed| ResetRow {
        id,
        state,
        created,
        decided,
        executed,
    };
    let rows = [
        // Outside the range on either side.
        row("r0", "executed", FROM - 1, Some(D0), Some(D0 + 5)),
        row("r9", "rejected", TO, Some(TO + 1), None),
        // Resolved in 100, 301, 1000 (executed counts, not decided) and 50 seconds.
        row("r1", "executed", FROM, Some(D0 + 40), Some(D0 + 100)),
        row("r2", "rejected", D0 + 10, Some(D0 + 311), None),
        row("r3", "executed", D0 + 20, Some(D0 + 50), Some(D0 + 1020)),
        row("r4", "rejected", TO - 100, Some(TO - 50), None),
        // Not resolved.
        row("r5", "pending", D0 + 40, None, None),
        row("r6", "approved", D0 + 50, Some(D0 + 60), None),
        row("r7", "expired", D0 + 60, None, None),
    ];
    // A user has one open request at a time (a unique index): the approved one is
    // someone else's.
    let bob = user(accounts, "bob@example.com", &[]).await;
    let reports = accounts.reports();
    for r in &rows {
        let whose = if r.state == "approved" { &bob } else { &ada };
        insert_reset(&reports, whose, r).await;
    }
    let states = |list: &[(&str, u64)]| -> Vec<(String, u64)> {
        list.iter().map(|(s, n)| (s.to_string(), *n)).collect()
    };
    // Sorted: 50, 100, 301, 1000; the middle two average to 200.5, rounded down.
    assert_eq!(
        reports.resets(FROM, TO).await.unwrap(),
        ResetFigures {
            by_state: states(&[
                ("approved", 1),
                ("executed", 2),
                ("expired", 1),
                ("pending", 1),
                ("rejected", 2),
            ]),
            median_seconds_to_resolve: Some(200),
            resolved: 4,
        }
    );
    // An odd count: r0 alone on its side of FROM.
    assert_eq!(
        reports.resets(FROM - 1, FROM).await.unwrap(),
        ResetFigures {
            by_state: states(&[("executed", 1)]),
            median_seconds_to_resolve: Some(6),
            resolved: 1,
        }
    );
    assert_eq!(reports.resets(0, 1).await.unwrap(), ResetFigures::default());
}

fn adoption_row(group: &str, users: i64, enrolled: i64, totp: i64) -> AdoptionRow {
    AdoptionRow {
        group: group.into(),
        users,
        enrolled,
        totp,
        email: 1,
        sms: 0,
        backup_codes: enrolled - 1,
    }
}

fn point(day: UnixTime, group: &str, method: &str, users: i64, enrolled: i64) -> AdoptionPoint {
    AdoptionPoint {
        day,
        group: group.into(),
        method: method.into(),
        users,
        enrolled,
    }
}

async fn adoption_history(accounts: &AccountStore) {
    let reports = accounts.reports();
    let morning = Adoption {
        groups: vec![
            adoption_row("", 2, 1, 1),
            adoption_row("admins", 3, 3, 2),
            adoption_row("staff", 4, 1, 1),
        ],
        total: adoption_row("", 9, 5, 4),
    };
    // Later the same day "staff" is gone and admins changed: that refresh wins whole.
    let evening = Adoption {
        groups: vec![adoption_row("", 2, 2, 1), adoption_row("admins", 3, 2, 2)],
        total: adoption_row("", 5, 4, 3),
    };
    let next_day = Adoption {
        groups: vec![adoption_row("admins", 4, 4, 4)],
        total: adoption_row("", 4, 4, 4),
    };
    for (at, a) in [
        (FROM - 1, &next_day),
        (D0 + 3_600, &morning),
        (D0 + 80_000, &evening),
        (D0 + DAY + 10, &next_day),
        (TO, &morning),
    ] {
        reports
            .record_adoption(at, &AdoptionPoint::snapshot(at, a))
            .await
            .unwrap();
    }
    let history = reports.adoption_history(FROM, TO).await.unwrap();
    let methods = |day, group, users, [any, backup, email, sms, totp]: [i64; 5]| {
        vec![
            point(day, group, "any", users, any),
            point(day, group, "backup_codes", users, backup),
            point(day, group, "email", users, email),
            point(day, group, "sms", users, sms),
            point(day, group, "totp", users, totp),
        ]
    };
    let expected: Vec<AdoptionPoint> = [
        methods(D0, ALL_USERS, 5, [4, 3, 1, 0, 3]),
        methods(D0, NO_GROUP, 2, [2, 1, 1, 0, 1]),
        methods(D0, "admins", 3, [2, 1, 1, 0, 2]),
        methods(D0 + DAY, ALL_USERS, 4, [4, 3, 1, 0, 4]),
        methods(D0 + DAY, "admins", 4, [4, 3, 1, 0, 4]),
    ]
    .concat();
    assert_eq!(history, expected);
    assert_eq!(history.first().map(|p| p.percent()), Some(80.0));

    // Each edge of the range: the day before FROM and the day at TO alone.
    let before = reports.adoption_history(FROM - DAY, FROM).await.unwrap();
    assert_eq!(before.len(), 10);
    assert!(before.iter().all(|p| p.day == D0 - DAY), "{before:?}");
    let at_end = reports.adoption_history(TO, TO + 1).await.unwrap();
    assert_eq!(
        at_end.len(),
        20,
        "the morning snapshot: total and three groups"
    );
    assert!(reports.adoption_history(0, 1).await.unwrap().is_empty());
}

async fn suite(accounts: AccountStore) {
    events_figures(&accounts).await;
    reset_figures(&accounts).await;
    adoption_history(&accounts).await;
}

crate::testdb::on_both_engines!(report_figures, suite);

#[test]
fn a_snapshot_has_the_total_and_every_group_for_each_method() {
    let a = Adoption {
        groups: vec![adoption_row("", 2, 1, 1), adoption_row("ops", 3, 3, 2)],
        total: adoption_row("", 5, 4, 3),
    };
    let points = AdoptionPoint::snapshot(D0 + 86_399, &a);
    assert_eq!(points.len(), 15);
    assert_eq!(
        points.get(..5).unwrap(),
        &[
            point(D0, ALL_USERS, "any", 5, 4),
            point(D0, ALL_USERS, "totp", 5, 3),
            point(D0, ALL_USERS, "email", 5, 1),
            point(D0, ALL_USERS, "sms", 5, 0),
            point(D0, ALL_USERS, "backup_codes", 5, 3),
        ]
    );
    assert_eq!(points.get(5).unwrap(), &point(D0, NO_GROUP, "any", 2, 1));
    assert_eq!(points.get(10).unwrap(), &point(D0, "ops", "any", 3, 3));
    assert_eq!(point(D0, "", "any", 0, 0).percent(), 0.0);
}

#[test]
fn days_and_medians() {
    assert_eq!(utc_day(D0), D0);
    assert_eq!(utc_day(D0 + DAY - 1), D0);
    assert_eq!(utc_day(D0 - 1), D0 - DAY);
    assert_eq!(median(&mut []), None);
    assert_eq!(median(&mut [7]), Some(7));
    assert_eq!(median(&mut [9, 1, 5]), Some(5));
    assert_eq!(median(&mut [4, 1]), Some(2));
    assert_eq!(median(&mut [i64::MAX, i64::MAX - 2]), Some(i64::MAX - 1));
    assert_eq!(median(&mut [-3, 0]), Some(-2));
}
