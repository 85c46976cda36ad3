//! The lockout state machine on both counter stores, with a fixed clock.
use super::*;
use crate::clock::{Clock, ManualClock};
use crate::counters::{MemoryCounterStore, RedisCounterStore};
use sekisho_testkit::RedisServer;

const T0: i64 = 1_700_000_400; // the start of a 15-minute window

fn open(g: Gate) -> u64 {
    match g {
        Gate::Open { attempt } => attempt,
        other => panic!("expected an open gate, got {other:?}"),
    }
}

/// One failed attempt; returns the locks it started.
async fn fail(l: &Lockout, account: &str, ip: &str, now: i64) -> Vec<NewLock> {
    let attempt = open(l.admit(account, ip, now).await.unwrap());
    l.failed(account, ip, attempt, now).await.unwrap()
}

async fn suite(store: Arc<dyn CounterStore>, clock: Arc<ManualClock>) {
    let l = Lockout::new(store.clone(), LockoutPolicy::default());
    let now = clock.now();

    // Four failures: no lock; the fifth locks the pair for 1 minute.
    for _ in 0..4 {
        assert!(fail(&l, "alice", "10.0.0.1", now).await.is_empty());
    }
    let locks = fail(&l, "alice", "10.0.0.1", now).await;
    assert_eq!(
        locks,
        vec![NewLock {
            scope: Scope::Pair,
            until: now + 60
        }]
    );
    assert_eq!(
        l.admit("alice", "10.0.0.1", now + 59).await.unwrap(),
        Gate::Locked {
            scope: Scope::Pair,
            until: now + 60
        }
    );
    // The victim at another address is not locked out.
    assert_eq!(open(l.admit("alice", "10.0.0.2", now).await.unwrap()), 1);
    l.succeeded("alice", "10.0.0.2", now).await.unwrap();

    // After the lock: five more failures lock for 2 minutes, then 4 (exponential).
    let mut t = now + 60;
    for expected in [120, 240] {
        let mut last = Vec::new();
        for _ in 0..5 {
            last = fail(&l, "alice", "10.0.0.1", t).await;
        }
        assert_eq!(last[0].until - t, expected);
        t = last[0].until;
    }

    // The account locks only at 20 failures across addresses.
    let acct = LockoutPolicy {
        account_threshold: 8,
        ..LockoutPolicy::default()
    };
    let l2 = Lockout::new(store.clone(), acct);
    let mut locks = Vec::new();
    for i in 0..8 {
        locks = fail(&l2, "bob", &format!("10.1.0.{i}"), now).await;
    }
    assert_eq!(
        locks,
        vec![NewLock {
            scope: Scope::Account,
            until: now + 60
        }]
    );
    assert!(matches!(
        l2.admit("bob", "10.9.9.9", now).await.unwrap(),
        Gate::Locked {
            scope: Scope::Account,
            ..
        }
    ));
    // An administrator unlocks: the account and its pairs open again.
    l2.unlock("bob").await.unwrap();
    assert_eq!(open(l2.admit("bob", "10.9.9.9", now).await.unwrap()), 1);

    // Spraying from one address across accounts locks the address.
    let spray = LockoutPolicy {
        ip_threshold: 6,
        ..LockoutPolicy::default()
    };
    let l3 = Lockout::new(store.clone(), spray);
    for i in 0..6 {
        fail(&l3, &format!("user{i}"), "10.6.6.6", now).await;
    }
    assert!(matches!(
        l3.admit("someone-else", "10.6.6.6", now).await.unwrap(),
        Gate::Locked {
            scope: Scope::Ip,
            ..
        }
    ));

    // A new window forgets old failures.
    for _ in 0..4 {
        fail(&l, "carol", "10.0.0.3", now).await;
    }
    clock.set(now + 900);
    assert_eq!(
        open(l.admit("carol", "10.0.0.3", now + 900).await.unwrap()),
        1
    );
    clock.set(now);

    // Many parallel guesses get at most the threshold of checks.
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let l = l.clone();
            tokio::spawn(async move { l.admit("dave", "10.0.0.4", now).await.unwrap() })
        })
        .collect();
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(matches!(t.await.unwrap(), Gate::Open { .. }));
    }
    assert_eq!(admitted, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_lockout() {
    let clock = Arc::new(ManualClock::new(T0));
    let store: Arc<dyn CounterStore> = Arc::new(MemoryCounterStore::new(10_000, clock.clone()));
    suite(store, clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_lockout() {
    let redis = RedisServer::start();
    let clock = Arc::new(ManualClock::new(T0));
    let store: Arc<dyn CounterStore> = Arc::new(RedisCounterStore::new(
        Arc::new(crate::RedisConn::from_url(&redis.url()).unwrap()),
        "t:",
    ));
    suite(store, clock).await;
}

#[test]
fn unknown_accounts_get_a_stable_opaque_name() {
    assert_eq!(unknown_account("a@x"), unknown_account("a@x"));
    assert_ne!(unknown_account("a@x"), unknown_account("b@x"));
    assert!(!unknown_account("a@x").contains('@'));
}
