//! The rollout's background work against real parts: reminder e-mails through a real
//! SMTP server on a fixed clock, two gateways sharing one Redis and one PostgreSQL
//! database mailing each notice once, abandoned enrolments, the adoption gauges on the
//! admin listener next to `sekisho report adoption`, and the enrolment part of
//! `sekisho policy explain`.
use crate::harness::*;
use sekisho_auth::mfa::totp::{totp_code_at, TotpParams};
use sekisho_auth::{Clock, Email, ManualClock, NewUser, TotpOutcome};
use sekisho_config::Deadline;
use sekisho_gateway::report::{self, ExplainRequest, ReportFormat};
use sekisho_gateway::rollout_jobs::{RolloutJobs, TickReport};
use sekisho_gateway::{App, GatewayHandle};
use sekisho_testkit::{free_port, PostgresDb, ReceivedMail, RedisServer, SmtpSink};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const DEADLINE: &str = "2027-04-01T00:00:00+09:00";
const DAY: i64 = 86_400;
const WAIT: Duration = Duration::from_secs(15);

fn deadline() -> i64 {
    Deadline::parse(DEADLINE).unwrap().unix()
}

/// `staff` must enrol by [`DEADLINE`], with reminders 30, 7 and 1 days before.
fn rules(reminder_interval: &str) -> String {
    format!(
        r#"
[rollout]
reminder_interval = "{reminder_interval}"
adoption_refresh = "1s"
abandon_after = "1h"

[[enrollment]]
name = "staff"
groups = ["staff"]
mode = "require"
deadline = "{DEADLINE}"
notice_days = [30, 7, 1]

[[enrollment]]
name = "admins"
groups = ["admins"]
mode = "require"
"#
    )
}

/// A user without a password (the jobs never sign anyone in); returns the id.
fn add_user(app: &App, email: &str, groups: &[&str]) -> String {
    app.io
        .block_on(app.ui.accounts.create_user(
            NewUser {
                email: Email::parse(email).unwrap(),
                display_name: format!("Name of {email}"),
                groups: groups.iter().map(|g| g.to_string()).collect(),
                department: String::new(),
                password_hash: None,
            },
            T0,
        ))
        .unwrap()
        .unwrap()
        .id
}

fn enable_email(app: &App, id: &str) {
    app.io
        .block_on(app.ui.accounts.factors().set_email_enabled(id, true))
        .unwrap()
        .unwrap();
}

/// One pass now, without the lease (the reminder interval of these gateways is a day,
/// so their own timers never fire during a test).
fn pass(gw: &TestGateway) -> TickReport {
    let jobs = RolloutJobs::new(Arc::clone(&gw.handle.live));
    gw.handle
        .app
        .io
        .block_on(jobs.run(gw.clock.now()))
        .unwrap()
        .unwrap()
}

fn to(m: &ReceivedMail) -> &str {
    m.to.first().map(String::as_str).unwrap_or("")
}

#[test]
fn reminders_follow_the_notice_days_once_each() {
    let gw = TestGateway::start_with(Store::Memory, &rules("24h"));
    let app = &gw.handle.app;
    let ann = add_user(app, "ann@example.com", &["staff"]);
    add_user(app, "bob@example.com", &["staff", "sales"]);
    let done = add_user(app, "done@example.com", &["staff"]);
    enable_email(app, &done);
    let d = deadline();

    gw.clock.set(d - 40 * DAY);
    assert_eq!(pass(&gw).sent, 0);
    assert!(gw.mail.messages().is_empty());

    // 30 days before: one mail per unenrolled staff member, none for the enrolled one
    // or for users under other rules (admins without a deadline, no group).
    gw.clock.set(d - 30 * DAY);
    assert_eq!(pass(&gw).sent, 2);
    let mails = gw.mail.messages();
    let mut recipients: Vec<&str> = mails.iter().map(to).collect();
    recipients.sort();
    assert_eq!(recipients, ["ann@example.com", "bob@example.com"]);
    let m = &mails[0];
    assert_eq!(
        m.subject(),
        "[Sekisho] Two-step verification becomes mandatory on 2027-04-01 — 30 days left"
    );
    let body = m.text();
    assert!(
        body.contains("from 2027-04-01. You have 30 days left"),
        "{body}"
    );
    assert!(
        body.contains(&format!("{}/_sekisho/enroll/start", gw.base)),
        "the wizard link on the first site: {body}"
    );
    assert!(body.starts_with("Hello Name of "), "{body}");

    // Time passes, passes repeat: still one each.
    for _ in 0..3 {
        gw.clock.advance(6 * 3600);
        assert_eq!(
            pass(&gw),
            TickReport {
                ran: true,
                ..TickReport::default()
            }
        );
    }
    assert_eq!(gw.mail.messages().len(), 2);

    gw.clock.set(d - 7 * DAY);
    assert_eq!(pass(&gw).sent, 2);
    assert_eq!(pass(&gw).sent, 0);
    let mails = gw.mail.messages();
    assert_eq!(mails.len(), 4);
    assert!(mails[2..]
        .iter()
        .all(|m| m.subject().ends_with("— 7 days left")));

    // A user who enrols gets nothing more.
    enable_email(app, &ann);
    gw.clock.set(d - DAY / 2);
    let r = pass(&gw);
    assert_eq!((r.sent, r.superseded), (1, 0));
    let last = gw.mail.messages().pop().unwrap();
    assert_eq!(to(&last), "bob@example.com");
    assert!(
        last.subject().ends_with("— 1 day left"),
        "{}",
        last.subject()
    );

    // After the deadline enrolment is forced at sign-in; no more reminders.
    gw.clock.set(d + DAY);
    assert_eq!(pass(&gw).sent, 0);
    let notices = app
        .io
        .block_on(app.ui.accounts.rollout().notices(&ann, d))
        .unwrap()
        .unwrap();
    assert_eq!(notices, [(30, "sent".to_string()), (7, "sent".to_string())]);
}

#[test]
fn a_late_pass_mails_only_the_latest_notice() {
    let gw = TestGateway::start_with(Store::Memory, &rules("24h"));
    let app = &gw.handle.app;
    let cat = add_user(app, "cat@example.com", &["staff"]);
    let d = deadline();
    // 20 days before the 30-day notice goes; then the gateway is off until half a day
    // before the deadline: only the 1-day notice is mailed, the 7-day one superseded.
    gw.clock.set(d - 20 * DAY);
    assert_eq!(pass(&gw).sent, 1);
    gw.clock.set(d - DAY / 2);
    let r = pass(&gw);
    assert_eq!((r.sent, r.superseded), (1, 1));
    let mails = gw.mail.messages();
    assert_eq!(mails.len(), 2);
    assert!(mails[0].subject().ends_with("— 20 days left"));
    assert!(mails[1].subject().ends_with("— 1 day left"));
    let notices = app
        .io
        .block_on(app.ui.accounts.rollout().notices(&cat, d))
        .unwrap()
        .unwrap();
    assert_eq!(
        notices,
        [
            (30, "sent".to_string()),
            (7, "superseded".to_string()),
            (1, "sent".to_string())
        ]
    );
}

#[test]
fn the_lease_lets_one_pass_run_per_slot() {
    let gw = TestGateway::start_with(Store::Memory, &rules("24h"));
    add_user(&gw.handle.app, "dan@example.com", &["staff"]);
    let jobs = RolloutJobs::new(Arc::clone(&gw.handle.live));
    let tick = || gw.handle.app.io.block_on(jobs.tick()).unwrap().unwrap();
    gw.clock.set(deadline() - 30 * DAY);
    assert_eq!(tick().sent, 1);
    assert!(!tick().ran, "the slot's lease is taken");
    gw.clock.advance(DAY);
    assert!(tick().ran, "the next slot runs");
    assert_eq!(gw.mail.messages().len(), 1);
}

#[test]
fn an_abandoned_enrolment_is_one_event() {
    let gw = TestGateway::start_with(Store::Memory, &rules("24h"));
    let app = &gw.handle.app;
    let eve = add_user(app, "eve@example.com", &["staff"]);
    let store = app.ui.accounts.rollout();
    assert!(app
        .io
        .block_on(store.start_wizard(&eve, T0))
        .unwrap()
        .unwrap());
    gw.clock.set(T0 + 3000);
    assert_eq!(pass(&gw).abandoned, 0, "still within abandon_after");
    gw.clock.set(T0 + 3601);
    assert_eq!(pass(&gw).abandoned, 1);
    assert_eq!(pass(&gw).abandoned, 0);
    let events = app
        .io
        .block_on(app.ui.accounts.events().recent_for_user(&eve, 10))
        .unwrap()
        .unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (e.kind.as_str(), e.reason.as_str(), e.success),
        ("enrollment", "enrolment_abandoned", false)
    );
    assert_eq!(e.detail.as_deref(), Some("timed_out"));
    assert_eq!(e.at, T0 + 3601);
    assert_eq!(
        app.io
            .block_on(store.row(&eve, None))
            .unwrap()
            .unwrap()
            .wizard_started_at,
        None
    );
}

/// Activates an authenticator app through the MFA service, with a real code.
fn enrol_totp(app: &App, id: &str, email: &str, now: i64) {
    let outcome = app.io.block_on(async {
        let e = app.mfa.totp_enrollment(id, email).await.unwrap();
        let code = totp_code_at(&e.secret, now, &TotpParams::default());
        app.mfa.confirm_totp(id, &code).await.unwrap()
    });
    assert_eq!(outcome, Some(TotpOutcome::Accepted));
}

/// The admin listener's `/metrics` lines starting with `sekisho_mfa_users`.
fn adoption_lines(gw: &TestGateway) -> Vec<String> {
    let body = block_on(async {
        reqwest::get(gw.admin_url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let mut lines: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with("sekisho_mfa_users"))
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// Polls `/metrics` until the adoption series are exactly `want` (sorted).
fn wait_for_gauges(gw: &TestGateway, mut want: Vec<String>) {
    want.sort();
    let until = std::time::Instant::now() + WAIT;
    loop {
        let got = adoption_lines(gw);
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < until,
            "gauges never matched:\n{}\nwanted:\n{}",
            got.join("\n"),
            want.join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn adoption_gauges_and_report_agree() {
    let gw = TestGateway::start_with(Store::Memory, &rules("24h"));
    let app = &gw.handle.app;
    let accounts = &app.ui.accounts;
    // admins: admin@ (app + backup codes), ada (app); staff: sam (e-mail), sue (SMS),
    // sid (none, also sales); user@ in no group (none).
    let admin = app
        .io
        .block_on(accounts.find_by_email(&Email::parse("admin@example.com").unwrap()))
        .unwrap()
        .unwrap()
        .unwrap()
        .id;
    enrol_totp(app, &admin, "admin@example.com", gw.clock.now());
    app.io
        .block_on(app.mfa.regenerate_backup_codes(&admin))
        .unwrap()
        .unwrap();
    let ada = add_user(app, "ada@example.com", &["admins"]);
    enrol_totp(app, &ada, "ada@example.com", gw.clock.now());
    let sam = add_user(app, "sam@example.com", &["staff"]);
    enable_email(app, &sam);
    let sue = add_user(app, "sue@example.com", &["staff"]);
    app.io
        .block_on(accounts.factors().set_phone(&sue, Some("+819012345678")))
        .unwrap()
        .unwrap();
    add_user(app, "sid@example.com", &["staff", "sales"]);

    let series =
        |g: &str, s: &str, n: i64| format!("sekisho_mfa_users{{group=\"{g}\",state=\"{s}\"}} {n}");
    let method = |g: &str, m: &str, n: i64| {
        format!("sekisho_mfa_users_by_method{{group=\"{g}\",method=\"{m}\"}} {n}")
    };
    let group = |g: &str, counts: [i64; 6]| {
        let [enrolled, not, totp, email, sms, backup] = counts;
        vec![
            series(g, "enrolled", enrolled),
            series(g, "not_enrolled", not),
            method(g, "totp", totp),
            method(g, "email", email),
            method(g, "sms", sms),
            method(g, "backup_codes", backup),
        ]
    };
    let want = |groups: &[(&str, [i64; 6])], totals: [i64; 2]| {
        let mut lines: Vec<String> = groups.iter().flat_map(|(g, c)| group(g, *c)).collect();
        lines.push(format!(
            "sekisho_mfa_users_total{{state=\"enrolled\"}} {}",
            totals[0]
        ));
        lines.push(format!(
            "sekisho_mfa_users_total{{state=\"not_enrolled\"}} {}",
            totals[1]
        ));
        lines
    };
    let wanted = want(
        &[
            ("(none)", [0, 1, 0, 0, 0, 0]),
            ("admins", [2, 0, 2, 0, 0, 1]),
            ("sales", [0, 1, 0, 0, 0, 0]),
            ("staff", [2, 1, 0, 1, 1, 0]),
        ],
        [4, 2],
    );
    wait_for_gauges(&gw, wanted);

    // The report shows the same figures, and the funnel of the last 30 days.
    let events = accounts.events();
    app.io.block_on(async {
        use sekisho_auth::{AuthEvent, EventKind, Reason};
        for (at, reason) in [
            (T0 - 40 * DAY, Reason::EnrolmentStarted),
            (T0 - DAY, Reason::EnrolmentStarted),
            (T0 - DAY, Reason::EnrolmentStarted),
            (T0 - 3600, Reason::EnrolmentCompleted),
            (T0 - 60, Reason::EnrolmentAbandoned),
        ] {
            events
                .record(&AuthEvent::new(
                    at,
                    EventKind::Enrollment,
                    reason != Reason::EnrolmentAbandoned,
                    reason,
                ))
                .await
                .unwrap();
        }
    });
    let table = app
        .io
        .block_on(report::adoption_report(
            accounts,
            T0,
            30,
            ReportFormat::Table,
        ))
        .unwrap()
        .unwrap();
    let rows: HashMap<String, Vec<String>> = table
        .lines()
        .filter_map(|l| {
            let cells: Vec<String> = l.split_whitespace().map(str::to_string).collect();
            (cells.len() == 8).then(|| (cells[0].clone(), cells[1..].to_vec()))
        })
        .collect();
    let row = |g: &str| {
        rows.get(g)
            .unwrap_or_else(|| panic!("{g} in\n{table}"))
            .join(" ")
    };
    assert_eq!(row("admins"), "2 2 100.0 2 0 0 1");
    assert_eq!(row("staff"), "3 2 66.7 0 1 1 0");
    assert_eq!(row("sales"), "1 0 0.0 0 0 0 0");
    assert_eq!(row("(none)"), "1 0 0.0 0 0 0 0");
    assert_eq!(row("total"), "6 4 66.7 2 1 1 1");
    for stage in [["started", "2"], ["completed", "1"], ["abandoned", "1"]] {
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().take(2).eq(stage.iter().copied())),
            "{stage:?} in\n{table}"
        );
    }
    let csv = app
        .io
        .block_on(report::adoption_report(accounts, T0, 30, ReportFormat::Csv))
        .unwrap()
        .unwrap();
    assert!(csv.contains("\nstaff,3,2,66.7,0,1,1,0\n"), "{csv}");
    assert!(csv.contains("\n(total),6,4,66.7,2,1,1,1\n"), "{csv}");
    assert!(
        csv.ends_with("started,2\ncompleted,1\nabandoned,1\n"),
        "{csv}"
    );

    // A group that empties disappears from /metrics on the next refresh.
    app.io
        .block_on(accounts.set_disabled(&Email::parse("sid@example.com").unwrap(), true))
        .unwrap()
        .unwrap();
    let wanted = want(
        &[
            ("(none)", [0, 1, 0, 0, 0, 0]),
            ("admins", [2, 0, 2, 0, 0, 1]),
            ("staff", [2, 0, 0, 1, 1, 0]),
        ],
        [4, 1],
    );
    wait_for_gauges(&gw, wanted);
}

#[test]
fn explain_shows_the_countdown_then_forced_enrolment() {
    let gw = TestGateway::start_with(Store::Memory, &rules("24h"));
    let app = &gw.handle.app;
    add_user(app, "fay@example.com", &["staff"]);
    let explain = |user: &str, groups: &[&str], now: i64| {
        let req = ExplainRequest {
            url: "http://127.0.0.1/members".into(),
            method: "GET".into(),
            user: Some(user.into()),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ip: "127.0.0.1".parse().unwrap(),
        };
        app.io
            .block_on(report::explain(
                &app.settings,
                Some(&app.ui.accounts),
                &req,
                now,
            ))
            .unwrap()
            .unwrap()
    };
    let d = deadline();
    let before = explain("fay@example.com", &[], d - 10 * DAY);
    let enrolment = before.split("\nenrolment:").nth(1).expect(&before);
    assert!(
        before.contains("(groups [staff])"),
        "groups from the database: {before}"
    );
    assert!(
        enrolment.contains("enrollment[0] \"staff\": mode = require"),
        "{before}"
    );
    assert!(
        enrolment.contains(&format!("deadline: {DEADLINE} (10 days left)")),
        "{before}"
    );
    assert!(
        enrolment.contains(
            "next sign-in: a skippable notice: MFA becomes mandatory on 2027-04-01 — 10 days left [enrolled: no"
        ),
        "{before}"
    );
    assert!(
        enrolment.contains("reminder e-mails: 30, 7, 1 days before"),
        "{before}"
    );
    assert!(
        enrolment.contains("(groups and enrolment read from the database)"),
        "{before}"
    );

    let after = explain("fay@example.com", &[], d + 1);
    assert!(
        after.contains(&format!("deadline: {DEADLINE} (passed)")),
        "{after}"
    );
    assert!(after.contains("next sign-in: forced enrolment"), "{after}");

    // Given groups win over the database's; unknown users have no facts.
    let given = explain("fay@example.com", &["other"], d - DAY);
    assert!(given.contains("mode = optional (default)"), "{given}");
    let unknown = explain("nobody@example.com", &["staff"], d - DAY);
    assert!(
        unknown.contains("depends on the user's enrolment"),
        "{unknown}"
    );
    assert!(
        unknown.contains("(the user is not in the database)"),
        "{unknown}"
    );
}

/// One of several gateways sharing a Redis server and a PostgreSQL database.
struct Instance {
    handle: GatewayHandle,
    clock: Arc<ManualClock>,
}

fn instance(redis: &RedisServer, db: &PostgresDb, mail: &SmtpSink) -> Instance {
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:{listen}"
admin_listen = ""
threads = 1
grace_period = "0s"

[ui]
default_language = "ja"

[session]
store = "{redis}"
key_prefix = "jobs:"

[database]
url = "{db}"

{email}

[[sites]]
host = "app.example.com"
upstreams = ["127.0.0.1:9"]
{rules}
"#,
        listen = free_port(),
        redis = redis.url(),
        db = db.url,
        email = email_config(mail),
        rules = rules("1s"),
    );
    let env = HashMap::from([("SEKISHO_ENCRYPTION_KEY".to_string(), "ab".repeat(32))]);
    let settings = sekisho_config::load_str(&config, "<jobs>", &env).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let app = App::build(settings, clock.clone()).unwrap();
    Instance {
        handle: GatewayHandle::spawn(app, Vec::new()).unwrap(),
        clock,
    }
}

/// Waits until every instance has run `n` more reminder passes than now.
fn wait_for_more_passes(instances: &[&Instance], n: u64) {
    let passes = |i: &Instance| i.handle.app.reminder_passes.load(Ordering::SeqCst);
    let start: Vec<u64> = instances.iter().map(|i| passes(i)).collect();
    let until = std::time::Instant::now() + WAIT;
    while instances.iter().zip(&start).any(|(i, s)| passes(i) < s + n) {
        assert!(
            std::time::Instant::now() < until,
            "the reminder passes stopped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn two_gateways_mail_each_notice_once() {
    let redis = RedisServer::start();
    let db = PostgresDb::create();
    let mail = SmtpSink::start();
    let a = instance(&redis, &db, &mail);
    let b = instance(&redis, &db, &mail);
    let app = &a.handle.app;
    let staff = ["u1", "u2", "u3", "u4"].map(|u| format!("{u}@example.com"));
    for email in &staff {
        add_user(app, email, &["staff"]);
    }
    let enrolled = add_user(app, "enrolled@example.com", &["staff"]);
    enable_email(app, &enrolled);

    // Time runs ten times faster than real time on both gateways, so each of their
    // 1-second passes has a slot of its own: both run a pass every second, side by
    // side, and only the SQL claims keep the notices single.
    let stop = Arc::new(AtomicBool::new(false));
    let clocks = [Arc::clone(&a.clock), Arc::clone(&b.clock)];
    let ticker = {
        let stop = Arc::clone(&stop);
        let clocks = clocks.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for c in &clocks {
                    c.advance(1);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let d = deadline();
    let mut expected = 0;
    for (before, days_left) in [(30 * DAY, 30), (7 * DAY, 7), (DAY / 2, 1)] {
        for c in &clocks {
            c.set(d - before);
        }
        expected += staff.len();
        mail.wait_for(expected, WAIT);
        // A few more passes on each gateway add nothing.
        wait_for_more_passes(&[&a, &b], 3);
        let mails = mail.messages();
        assert_eq!(
            mails.len(),
            expected,
            "{:?}",
            mails
                .iter()
                .map(|m| (to(m).to_string(), m.subject()))
                .collect::<Vec<_>>()
        );
        for m in &mails[expected - staff.len()..] {
            assert!(
                m.subject().ends_with(&format!("（残り {days_left} 日）")),
                "{}",
                m.subject()
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
    ticker.join().unwrap();
    let mails = mail.messages();
    for email in &staff {
        assert_eq!(
            mails.iter().filter(|m| to(m) == email).count(),
            3,
            "{email}"
        );
    }
    assert!(mails.iter().all(|m| to(m) != "enrolled@example.com"));
    let sent: u64 = [&a, &b]
        .iter()
        .map(|i| i.handle.app.notifier.counts().email_sent)
        .sum();
    assert_eq!(sent, 12, "sent by the two gateways together");
    assert!(
        mails[0].text().contains("2027年4月1日から"),
        "{}",
        mails[0].text()
    );
    a.handle.stop();
    b.handle.stop();
}
