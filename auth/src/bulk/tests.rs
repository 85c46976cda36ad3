//! Bulk resets on SQLite and PostgreSQL: the preview counts the people the job then
//! resets, the admin is never among them, and running a job again (or twice at once)
//! resets nobody twice.
use super::*;
use crate::account::AccountStore;
use crate::clock::ManualClock;
use crate::resets::{NewResetRequest, Urgency};
use crate::session::{MemorySessionStore, SessionService, SessionTimeouts};
use crate::testdb::{on_both_engines, user};
use std::sync::Arc;
use std::time::Duration;

const T0: UnixTime = 1_800_000_000;
const REASON: &str =
    "Phishing campaign against the sales team; every factor must be re-enrolled now.";

fn sessions() -> Arc<SessionService> {
    let clock = Arc::new(ManualClock::new(T0));
    Arc::new(SessionService::new(
        Arc::new(MemorySessionStore::new(100, clock.clone())),
        clock,
        SessionTimeouts {
            idle: Duration::from_secs(3600),
            lifetime: Duration::from_secs(8 * 3600),
        },
    ))
}

/// What the console's background task does: each row not done, reset directly.
async fn run(
    store: &AccountStore,
    job: &BulkJob,
    sessions: &SessionService,
    now: UnixTime,
) -> usize {
    let jobs = store.bulk_jobs();
    let mut reset = 0;
    for row in jobs.to_do(&job.id).await.unwrap() {
        let new = NewResetRequest {
            user_id: &row.user_id,
            scope: job.scope,
            urgency: Urgency::High,
            reason: &job.reason,
            privileged: false,
        };
        let by = Actor {
            id: "sec",
            email: "sec@example.com",
            may_decide_privileged: true,
        };
        match store
            .resets()
            .execute_direct(by, new, Some(&job.id), 3600, sessions, now)
            .await
        {
            Ok(_) => reset += 1,
            Err(ResetError::BulkAlreadyDone) => {}
            Err(e) => jobs
                .mark_failed(&job.id, &row.user_id, &e.to_string(), now)
                .await
                .unwrap(),
        }
    }
    jobs.finish_run(&job.id, now).await.unwrap();
    reset
}

async fn bulk(store: AccountStore) {
    let jobs = store.bulk_jobs();
    let sec = user(&store, "sec@example.com", &["sales", "secadmins"]).await;
    for i in 0..6 {
        user(&store, &format!("s{i}@example.com"), &["sales"]).await;
    }
    user(&store, "other@example.com", &["eng"]).await;
    let sales = Selector::Group("sales".into());
    assert_eq!(
        jobs.preview(&sales, &sec).await.unwrap(),
        6,
        "never the admin asking"
    );
    assert_eq!(
        jobs.preview(&Selector::Department("nowhere".into()), &sec)
            .await
            .unwrap(),
        0
    );
    let by = Actor {
        id: &sec,
        email: "sec@example.com",
        may_decide_privileged: true,
    };
    assert!(matches!(
        jobs.create(by, &sales, ResetScope::Full, "short", T0).await,
        Err(ResetError::ReasonTooShort)
    ));
    let job = jobs
        .create(by, &sales, ResetScope::Full, REASON, T0)
        .await
        .unwrap();
    assert_eq!((job.total, job.done, job.finished), (6, 0, false));

    // Two runs at once, then a retry: six resets in all, one link each.
    let sessions = sessions();
    let (a, b) = tokio::join!(
        run(&store, &job, &sessions, T0 + 1),
        run(&store, &job, &sessions, T0 + 1)
    );
    assert_eq!(a + b, 6, "each user exactly once ({a} + {b})");
    jobs.reopen(&job.id).await.unwrap();
    assert_eq!(run(&store, &job, &sessions, T0 + 2).await, 0);
    let after = jobs.get(&job.id).await.unwrap().unwrap();
    assert_eq!((after.done, after.failed, after.finished), (6, 0, true));
    let executed = sqlx::query(
        "SELECT COUNT(*) AS n FROM reset_requests WHERE bulk_job = $1 AND state = 'executed'",
    )
    .bind(&job.id)
    .fetch_one(&jobs.pool)
    .await
    .unwrap();
    assert_eq!(executed.try_get::<i64, _>("n").unwrap(), 6);
    let results = jobs.results(&job.id).await.unwrap();
    assert!(results
        .iter()
        .all(|r| r.state == "done" && r.detail.as_deref().is_some_and(|d| d.starts_with("RR-"))));
    assert_eq!(jobs.list(10).await.unwrap().len(), 1);
}
on_both_engines!(bulk_runs_are_idempotent, bulk);

async fn failed_rows_are_retried(store: AccountStore) {
    let jobs = store.bulk_jobs();
    let sec = user(&store, "sec@example.com", &[]).await;
    let a = user(&store, "a@example.com", &[]).await;
    sqlx::query("UPDATE users SET department = 'ops' WHERE id = $1")
        .bind(&a)
        .execute(&jobs.pool)
        .await
        .unwrap();
    let by = Actor {
        id: &sec,
        email: "sec@example.com",
        may_decide_privileged: true,
    };
    let job = jobs
        .create(
            by,
            &Selector::Department("ops".into()),
            ResetScope::Totp,
            REASON,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(job.total, 1);
    jobs.mark_failed(&job.id, &a, "mail server down", T0)
        .await
        .unwrap();
    let failed = jobs.finish_run(&job.id, T0).await.unwrap().unwrap();
    assert_eq!((failed.failed, failed.finished), (1, true));
    assert_eq!(
        jobs.to_do(&job.id).await.unwrap().len(),
        1,
        "failed rows are tried again"
    );
    jobs.reopen(&job.id).await.unwrap();
    assert_eq!(run(&store, &job, &sessions(), T0 + 5).await, 1);
    let done = jobs.get(&job.id).await.unwrap().unwrap();
    assert_eq!((done.done, done.failed, done.finished), (1, 0, true));
}
on_both_engines!(bulk_failures_retry, failed_rows_are_retried);
