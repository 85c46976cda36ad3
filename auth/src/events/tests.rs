//! The event log on SQLite and PostgreSQL: request ids stored and read back, the
//! `error` events, the search's filters and pages, and the error-event queue (budget,
//! full queue, the writer naming a session's user, failed writes), all with the
//! manual clock.
use super::*;
use crate::account::AccountStore;
use crate::clock::ManualClock;
use crate::session::{
    AuthLevel, MemorySessionStore, SessionKey, SessionService, SessionSubject, SessionTimeouts,
};
use crate::telemetry::{ErrorDrop, Telemetry};
use crate::testdb::{on_both_engines, user};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const T0: UnixTime = 1_800_000_000;

fn ev(at: UnixTime, kind: EventKind, reason: Reason) -> AuthEvent {
    AuthEvent::new(at, kind, reason == Reason::Ok, reason)
}

#[test]
fn error_events_keep_the_path_without_its_query() {
    let e = AuthEvent::error_page(T0, "not_found", 404, "/x/y?token=secret&email=a@b");
    assert_eq!(e.kind, "error");
    assert_eq!(e.reason, "not_found");
    assert!(!e.success);
    assert_eq!(e.detail.as_deref(), Some("status=404 path=/x/y"));
    let long = format!("/{}", "a".repeat(2000));
    let e = AuthEvent::error_page(T0, "bad_request", 400, &long);
    assert_eq!(
        e.detail.as_deref().map(str::len),
        Some("status=400 path=".len() + MAX_PATH)
    );
    assert_eq!(EventKind::parse("error"), Some(EventKind::Error));
    assert_eq!(EventKind::parse("nonsense"), None);
    assert!(EventKind::ALL
        .iter()
        .all(|k| EventKind::parse(k.as_str()) == Some(*k)));
}

async fn search(accounts: AccountStore) {
    let log = accounts.events();
    let ada = user(&accounts, "ada@example.com", &[]).await;
    let bob = user(&accounts, "bob@example.com", &[]).await;
    let events = [
        ev(T0, EventKind::Password, Reason::Ok)
            .user(&ada, "Ada@Example.com")
            .request("req-1"),
        ev(T0 + 10, EventKind::SecondFactor, Reason::InvalidOtp)
            .user(&ada, "Ada@Example.com")
            .request("req-2"),
        AuthEvent::error_page(T0 + 10, "not_found", 404, "/nope?x=1")
            .user(&bob, "bob@example.com")
            .request("req-3"),
        ev(T0 + 20, EventKind::Password, Reason::UnknownUser)
            .client(Some("10.0.0.9"), Some("UA"))
            .request("req-4"),
        // An id that differs only in case, and one that contains another.
        AuthEvent::error_page(T0 + 30, "bad_gateway", 502, "/app").request("REQ-3"),
        ev(T0 + 40, EventKind::Lockout, Reason::TooManyAttempts).request("req-33"),
        // Outside a request.
        ev(T0 + 50, EventKind::Enrollment, Reason::EnrolmentAbandoned)
            .user(&bob, "50%_off@example.com"),
    ];
    for e in &events {
        log.record(e).await.unwrap();
    }
    let mut unknown = events[3].clone();
    unknown.email = Some("who@example.org".into());
    log.record(&unknown).await.unwrap();

    // Read back as written, request id included.
    let found = log
        .search(&EventQuery {
            request_id: Some("req-3".into()),
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(found, vec![events[2].clone()]);
    assert_eq!(
        found[0].detail.as_deref(),
        Some("status=404 path=/nope"),
        "never the query"
    );

    let reasons = |v: Vec<AuthEvent>| v.into_iter().map(|e| e.reason).collect::<Vec<_>>();
    let find = |q: EventQuery| {
        let log = log.clone();
        async move {
            let n = log.count(&q).await.unwrap();
            let found = reasons(log.search(&q).await.unwrap());
            assert_eq!(n, found.len() as u64, "{q:?}");
            found
        }
    };
    let q = |f: &dyn Fn(&mut EventQuery)| {
        let mut q = EventQuery::default();
        f(&mut q);
        q
    };
    // Newest first; at the same second, the later record first.
    assert_eq!(
        find(EventQuery::default()).await,
        [
            "enrolment_abandoned",
            "too_many_attempts",
            "bad_gateway",
            "unknown_user",
            "unknown_user",
            "not_found",
            "invalid_otp",
            "ok"
        ]
    );
    // Request ids match exactly.
    assert_eq!(
        find(q(&|q| q.request_id = Some("REQ-3".into()))).await,
        ["bad_gateway"]
    );
    assert_eq!(
        find(q(&|q| q.request_id = Some("req-4".into()))).await,
        ["unknown_user", "unknown_user"]
    );
    assert!(find(q(&|q| q.request_id = Some("req".into())))
        .await
        .is_empty());
    // Users by id; e-mail addresses by case-insensitive substring, including
    // addresses typed at sign-in that belong to no user.
    assert_eq!(
        find(q(&|q| q.user_id = Some(ada.clone()))).await,
        ["invalid_otp", "ok"]
    );
    assert_eq!(
        find(q(&|q| q.email = Some("ADA@".into()))).await,
        ["invalid_otp", "ok"]
    );
    assert_eq!(
        find(q(&|q| q.email = Some("example.org".into()))).await,
        ["unknown_user"]
    );
    assert_eq!(
        find(q(&|q| q.email = Some("%_".into()))).await,
        ["enrolment_abandoned"]
    );
    assert!(find(q(&|q| q.email = Some("' OR 1=1 --".into())))
        .await
        .is_empty());
    // Kinds and inclusive times, combined.
    assert_eq!(
        find(q(&|q| q.kind = Some(EventKind::Error))).await,
        ["bad_gateway", "not_found"]
    );
    assert_eq!(
        find(q(&|q| {
            q.from = Some(T0 + 10);
            q.to = Some(T0 + 20);
        }))
        .await,
        ["unknown_user", "unknown_user", "not_found", "invalid_otp"]
    );
    assert_eq!(
        find(q(&|q| {
            q.kind = Some(EventKind::Error);
            q.user_id = Some(bob.clone());
            q.to = Some(T0 + 10);
        }))
        .await,
        ["not_found"]
    );

    // Pages, while the count covers every match.
    let page = |limit, offset| EventQuery {
        limit,
        offset,
        ..EventQuery::default()
    };
    assert_eq!(
        reasons(log.search(&page(3, 0)).await.unwrap()),
        ["enrolment_abandoned", "too_many_attempts", "bad_gateway"]
    );
    assert_eq!(
        reasons(log.search(&page(3, 6)).await.unwrap()),
        ["invalid_otp", "ok"]
    );
    assert!(log.search(&page(3, 9)).await.unwrap().is_empty());
    assert_eq!(log.search(&page(50, -3)).await.unwrap().len(), 8);
    assert_eq!(log.count(&page(3, 6)).await.unwrap(), 8);

    // A user's own activity leaves the error pages out; the console's view keeps them.
    assert_eq!(
        reasons(log.recent_for_user(&bob, 10).await.unwrap()),
        ["enrolment_abandoned", "not_found"]
    );
    assert_eq!(
        reasons(log.activity_for_user(&bob, 10).await.unwrap()),
        ["enrolment_abandoned"]
    );
}
on_both_engines!(search_by_request_user_kind_and_time, search);

/// Counts the drops reported to it.
#[derive(Default)]
struct Drops([AtomicU64; 3]);

impl Drops {
    fn of(&self, why: ErrorDrop) -> u64 {
        let i = ErrorDrop::ALL.iter().position(|w| *w == why).unwrap();
        self.0[i].load(Ordering::SeqCst)
    }
}

impl Telemetry for Drops {
    fn error_event_dropped(&self, why: ErrorDrop) {
        let i = ErrorDrop::ALL.iter().position(|w| *w == why).unwrap();
        self.0[i].fetch_add(1, Ordering::SeqCst);
    }
}

struct Queue {
    events: ErrorEvents,
    writer: ErrorEventWriter,
    drops: Arc<Drops>,
    clock: Arc<ManualClock>,
    sessions: Arc<SessionService>,
}

fn queue(accounts: &AccountStore, per_second: u32, capacity: usize) -> Queue {
    let clock = Arc::new(ManualClock::new(T0));
    let sessions = Arc::new(SessionService::new(
        Arc::new(MemorySessionStore::new(100, clock.clone())),
        clock.clone(),
        SessionTimeouts {
            idle: Duration::from_secs(600),
            lifetime: Duration::from_secs(3600),
        },
    ));
    let drops = Arc::new(Drops::default());
    let (events, writer) = ErrorEvents::new(
        accounts.events(),
        Arc::clone(&sessions),
        drops.clone(),
        per_second,
        capacity,
    );
    Queue {
        events,
        writer,
        drops,
        clock,
        sessions,
    }
}

fn not_found(id: &str, session: Option<SessionKey>) -> impl FnOnce(UnixTime) -> ErrorEvent {
    let id = id.to_string();
    move |now| ErrorEvent {
        event: AuthEvent::error_page(now, "not_found", 404, "/x").request(&id),
        session,
    }
}

async fn errors(accounts: &AccountStore) -> Vec<AuthEvent> {
    accounts
        .events()
        .search(&EventQuery {
            kind: Some(EventKind::Error),
            ..EventQuery::default()
        })
        .await
        .unwrap()
}

/// Waits (up to 10 s) until `n` error events are in the log.
async fn wait_for(accounts: &AccountStore, n: usize) {
    for _ in 0..1000 {
        if errors(accounts).await.len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("fewer than {n} error events were written");
}

/// Starts a session for `user_id` and returns its key.
async fn start(sessions: &SessionService, user_id: &str, email: &str) -> SessionKey {
    let who = SessionSubject {
        user_id,
        email,
        display_name: "U",
        groups: &[],
        credential_version: 1,
    };
    let (id, _) = sessions
        .start(who, AuthLevel::Password, None, None)
        .await
        .unwrap();
    id.key()
}

async fn budget_and_queue(accounts: AccountStore) {
    let Queue {
        events,
        writer,
        drops,
        clock,
        sessions,
    } = queue(&accounts, 3, 4);
    // No writer yet: the budget admits 3 per second, the queue holds 4, nothing waits.
    for i in 0..10 {
        let queued = events.record(not_found(&format!("a{i}"), None));
        assert_eq!(queued, i < 3, "event {i}");
    }
    assert_eq!(drops.of(ErrorDrop::Budget), 7);
    clock.advance(1);
    assert!(events.record(not_found("b0", None)));
    assert!(!events.record(not_found("b1", None)), "the queue is full");
    assert!(!events.record(not_found("b2", None)), "the queue is full");
    assert_eq!(drops.of(ErrorDrop::QueueFull), 2);
    assert!(!events.record(not_found("b3", None)), "over budget again");
    assert_eq!(drops.of(ErrorDrop::Budget), 8);

    // The writer drains the queue.
    let task = tokio::spawn(writer.run());
    wait_for(&accounts, 4).await;
    // A live session's user is named; one gone idle names nobody.
    let idle = start(&sessions, "u-2", "lee@example.com").await;
    clock.advance(601);
    let live = start(&sessions, "u-1", "kim@example.com").await;
    assert!(events.record(not_found("c0", Some(idle))));
    assert!(events.record(not_found("c1", Some(live))));
    drop(events);
    task.await.unwrap();
    let written = errors(&accounts).await;
    let ids: Vec<_> = written
        .iter()
        .map(|e| e.request_id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["c1", "c0", "b0", "a2", "a1", "a0"]);
    assert_eq!(written[0].user_id.as_deref(), Some("u-1"));
    assert_eq!(written[0].email.as_deref(), Some("kim@example.com"));
    assert_eq!(written[1].user_id, None, "an idle session names nobody");
    assert_eq!(written[5].at, T0);
    assert_eq!(drops.of(ErrorDrop::WriteFailed), 0);
}
on_both_engines!(error_events_budget_and_queue, budget_and_queue);

async fn failed_writes(accounts: AccountStore) {
    let Queue {
        events,
        writer,
        drops,
        ..
    } = queue(&accounts, 10, 10);
    // The table is gone: the event is dropped and counted, the request never knew.
    sqlx::query("DROP TABLE auth_events")
        .execute(&accounts.events().pool)
        .await
        .unwrap();
    assert!(events.record(not_found("x", None)));
    drop(events);
    writer.run().await;
    assert_eq!(drops.of(ErrorDrop::WriteFailed), 1);
    // A sender whose writer is gone drops at once.
    let Queue {
        events,
        writer,
        drops,
        ..
    } = queue(&accounts, 10, 10);
    drop(writer);
    assert!(!events.record(not_found("y", None)));
    assert_eq!(drops.of(ErrorDrop::WriteFailed), 1);
}
on_both_engines!(error_event_write_failures_are_counted, failed_writes);
