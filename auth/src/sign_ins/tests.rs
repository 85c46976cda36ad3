//! The sign-in history on SQLite and PostgreSQL: first sign-ins, new browsers and
//! networks judged against the kept rows, the bound per user, parallel sign-ins.
use super::*;
use crate::account::AccountStore;
use crate::testdb::user;
use std::sync::Arc;

const T0: UnixTime = 1_800_000_000;

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// Records a password sign-in from `browser` (cookie value) at `ip`, `at` seconds
/// after T0 (the store never reads a clock of its own).
async fn sign_in(
    h: &SignInHistory,
    uid: &str,
    at: i64,
    browser: &str,
    ip: Option<IpAddr>,
    keep: u32,
) -> Novelty {
    h.record(
        &NewSignIn {
            user_id: uid,
            at: T0 + at,
            ip,
            browser: "Firefox on Linux",
            browser_hash: &browser_hash(browser),
            method: SignInMethod::Password,
        },
        keep,
    )
    .await
    .unwrap()
}

const SEEN: Novelty = Novelty {
    first: false,
    new_browser: false,
    new_network: false,
};

async fn suite(accounts: AccountStore) {
    let h = accounts.sign_ins();
    let ada = user(&accounts, "ada@example.com", &[]).await;
    let bob = user(&accounts, "bob@example.com", &[]).await;
    assert!(h.recent(&ada, 10).await.unwrap().is_empty());

    // The very first sign-in has nothing to compare with.
    let first = sign_in(&h, &ada, 0, "laptop", ip("203.0.113.5"), 50).await;
    assert_eq!(
        first,
        Novelty {
            first: true,
            ..SEEN
        }
    );
    // Same browser, another host of the same /24.
    assert_eq!(
        sign_in(&h, &ada, 10, "laptop", ip("203.0.113.77"), 50).await,
        SEEN
    );
    // A new browser on a known network.
    assert_eq!(
        sign_in(&h, &ada, 20, "phone", ip("203.0.113.9"), 50).await,
        Novelty {
            new_browser: true,
            ..SEEN
        }
    );
    // A known browser from a new network.
    assert_eq!(
        sign_in(&h, &ada, 30, "laptop", ip("198.51.100.7"), 50).await,
        Novelty {
            new_network: true,
            ..SEEN
        }
    );
    // Both new.
    assert_eq!(
        sign_in(&h, &ada, 40, "kiosk", ip("192.0.2.1"), 50).await,
        Novelty {
            first: false,
            new_browser: true,
            new_network: true,
        }
    );
    // IPv6: the /64 decides; an unknown address is never a "new network".
    assert!(
        sign_in(&h, &ada, 50, "laptop", ip("2001:db8:1:2::5"), 50)
            .await
            .new_network
    );
    assert_eq!(
        sign_in(&h, &ada, 60, "laptop", ip("2001:db8:1:2:ffff::1"), 50).await,
        SEEN
    );
    assert!(
        sign_in(&h, &ada, 70, "laptop", ip("2001:db8:1:3::1"), 50)
            .await
            .new_network
    );
    assert_eq!(sign_in(&h, &ada, 80, "laptop", None, 50).await, SEEN);

    // Another user's history is not Ada's: her laptop is new to nobody but Bob.
    assert!(
        sign_in(&h, &bob, 90, "laptop", ip("203.0.113.5"), 50)
            .await
            .first
    );

    let rows = h.recent(&ada, 50).await.unwrap();
    assert_eq!(rows.len(), 9);
    assert_eq!(rows[0].at, T0 + 80, "newest first");
    assert_eq!(
        (rows[0].ip.as_deref(), rows[0].network.as_deref()),
        (None, None)
    );
    let kiosk = &rows[4];
    assert_eq!(kiosk.at, T0 + 40);
    assert_eq!(kiosk.ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(kiosk.network.as_deref(), Some("192.0.2.0/24"));
    assert_eq!(kiosk.browser, "Firefox on Linux");
    assert_eq!(kiosk.method, Some(SignInMethod::Password));
    assert!(kiosk.new_browser && kiosk.new_network);
    let oldest = rows.last().unwrap();
    assert_eq!(oldest.at, T0);
    assert!(
        !oldest.new_browser && !oldest.new_network,
        "the first sign-in is not marked"
    );
    assert_eq!(h.recent(&ada, 2).await.unwrap().len(), 2);

    // The bound: keeping 3, the oldest go; Bob's row stays.
    let carol = user(&accounts, "carol@example.com", &[]).await;
    for i in 0..5 {
        h.record(
            &NewSignIn {
                user_id: &carol,
                at: T0 + 100 + i,
                ip: ip("203.0.113.5"),
                browser: "Safari on iPhone",
                browser_hash: &browser_hash(&format!("b{i}")),
                method: SignInMethod::SecondFactor(MfaMethod::Totp),
            },
            3,
        )
        .await
        .unwrap();
    }
    let kept = h.recent(&carol, 50).await.unwrap();
    let times: Vec<i64> = kept.iter().map(|r| r.at - T0).collect();
    assert_eq!(times, [104, 103, 102]);
    assert_eq!(
        kept[0].method,
        Some(SignInMethod::SecondFactor(MfaMethod::Totp))
    );
    assert_eq!(h.recent(&bob, 50).await.unwrap().len(), 1);
    // b0 was pruned, so it counts as a new browser again; b4 is still known.
    assert!(
        sign_in(&h, &carol, 200, "b0", ip("203.0.113.5"), 3)
            .await
            .new_browser
    );
    assert!(
        !sign_in(&h, &carol, 201, "b4", ip("203.0.113.5"), 3)
            .await
            .new_browser
    );
    assert_eq!(h.recent(&carol, 50).await.unwrap().len(), 3);
    // A smaller bound later prunes down to it.
    sign_in(&h, &ada, 300, "laptop", ip("203.0.113.5"), 2).await;
    assert_eq!(h.recent(&ada, 50).await.unwrap().len(), 2);

    // Eight sign-ins of one user at once all succeed; the next brings the bound back.
    let h2 = Arc::new(h.clone());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let h2 = h2.clone();
        let uid = bob.clone();
        tasks.push(tokio::spawn(async move {
            sign_in(&h2, &uid, 400 + i, &format!("p{i}"), ip("203.0.113.5"), 4).await
        }));
    }
    for t in tasks {
        assert!(!t.await.unwrap().first, "Bob had signed in before");
    }
    sign_in(&h, &bob, 500, "laptop", ip("203.0.113.5"), 4).await;
    assert_eq!(h.recent(&bob, 50).await.unwrap().len(), 4);

    // A deleted user's history goes with the account.
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(&carol)
        .execute(&h.pool)
        .await
        .unwrap();
    assert!(h.recent(&carol, 50).await.unwrap().is_empty());
}

crate::testdb::on_both_engines!(history, suite);

#[test]
fn networks_are_slash_24_and_slash_64() {
    let net = |s: &str| network_of(s.parse().unwrap());
    assert_eq!(net("203.0.113.77"), "203.0.113.0/24");
    assert_eq!(net("::ffff:203.0.113.77"), "203.0.113.0/24");
    assert_eq!(net("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    assert_eq!(net("2001:db8::1"), "2001:db8::/64");
    assert_eq!(net("::1"), "::/64");
}

#[test]
fn browser_hashes_are_stable_and_not_the_cookie() {
    let h = browser_hash("abc");
    assert_eq!(h.len(), 64);
    assert_eq!(h, browser_hash("abc"));
    assert_ne!(h, browser_hash("abd"));
    assert!(!h.contains("abc"));
    // Not the plain SHA-256 either (domain separation from the other cookie hashes).
    assert_ne!(h, hex_lower(&Sha256::digest(b"abc")));
    for m in [
        "password",
        "totp",
        "email",
        "sms",
        "backup_code",
        "trusted_device",
    ] {
        assert_eq!(SignInMethod::parse(m).unwrap().as_str(), m);
    }
    assert_eq!(SignInMethod::parse("carrier_pigeon"), None);
}
