//! Brute-force defence end to end: the shared lockout on sign-in (pair first, then
//! account and address), its doubling locks on a fixed clock, the e-mail on an
//! account lock, admin unlock, atomicity under parallel guessing, two gateways
//! sharing counters through one Redis, the local POST limiter, and equal work for
//! unknown users.
use crate::harness::*;
use reqwest::{Client, Response, StatusCode};
use sekisho_auth::Email;
use sekisho_gateway::app::App;
use sekisho_testkit::{free_port, PostgresDb, RedisServer, SmtpSink};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Lets the tests choose the client address with `X-Forwarded-For`.
const FROM_PROXY: &str = "\n[network]\ntrusted_proxies = [\"127.0.0.1/32\"]\n";

const ATTACKER: &str = "203.0.113.7";
const ATTACKER_2: &str = "203.0.113.8";
const VICTIM: &str = "198.51.100.2";

/// One sign-in attempt from `ip` against the gateway at `base`.
async fn attempt(c: &Client, base: &str, email: &str, password: &str, ip: &str) -> Response {
    let page = c
        .get(format!("{base}/_sekisho/login"))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = form_csrf(&page);
    c.post(format!("{base}/_sekisho/login"))
        .header("origin", base)
        .header("x-forwarded-for", ip)
        .form(&[
            ("csrf", token.as_str()),
            ("email", email),
            ("password", password),
            ("rd", "/members"),
        ])
        .send()
        .await
        .unwrap()
}

async fn fail(gw: &TestGateway, email: &str, ip: &str, times: usize) {
    for i in 0..times {
        let resp = attempt(&client(), &gw.base, email, "wrong password", ip).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "failure {i}");
    }
}

/// Asserts a locked answer: 429, `Retry-After`, and the wait in words.
async fn assert_locked(resp: Response, retry_after: u64, words: &str) {
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        resp.headers()["retry-after"].to_str().unwrap(),
        retry_after.to_string()
    );
    let body = resp.text().await.unwrap();
    assert!(
        body.contains(&format!(
            "Too many failed attempts. For your security, signing in is paused. Try again in {words}."
        )),
        "{body}"
    );
}

/// Runs `f` on the gateway's I/O runtime from inside a test's async block.
fn on_io<T: Send, F: std::future::Future<Output = T> + Send>(app: &App, f: F) -> T {
    std::thread::scope(|s| s.spawn(|| app.io.block_on(f).unwrap()).join().unwrap())
}

fn user_id(app: &App, email: &str) -> String {
    let email = Email::parse(email).unwrap();
    on_io(app, app.ui.accounts.find_by_email(&email))
        .unwrap()
        .unwrap()
        .id
}

async fn five_failures_lock_the_pair_and_locks_double(gw: &TestGateway) {
    let user = "user@example.com";
    fail(gw, user, ATTACKER, 5).await;
    // Even the right password is refused now, without being checked.
    let hashed = gw.handle.app.ui.hasher.verifications();
    let resp = attempt(&client(), &gw.base, user, PASSWORD, ATTACKER).await;
    assert_locked(resp, 60, "1 minute").await;
    assert_eq!(gw.handle.app.ui.hasher.verifications(), hashed);

    gw.clock.advance(61);
    let resp = attempt(&client(), &gw.base, user, PASSWORD, ATTACKER).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "the lock ended");

    // The second lock of the day lasts twice as long.
    fail(gw, user, ATTACKER, 5).await;
    let resp = attempt(&client(), &gw.base, user, PASSWORD, ATTACKER).await;
    assert_locked(resp, 120, "2 minutes").await;
    gw.clock.advance(119);
    let resp = attempt(&client(), &gw.base, user, PASSWORD, ATTACKER).await;
    assert_locked(resp, 1, "1 minute").await;
    gw.clock.advance(2);
    let resp = attempt(&client(), &gw.base, user, PASSWORD, ATTACKER).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);

    // An address without an account is locked the same way, with the same answer.
    fail(gw, "nobody@example.com", ATTACKER, 5).await;
    let resp = attempt(
        &client(),
        &gw.base,
        "nobody@example.com",
        PASSWORD,
        ATTACKER,
    )
    .await;
    assert_locked(resp, 60, "1 minute").await;

    // The refusals are in the user's activity, with the lock's scope.
    let app = &gw.handle.app;
    let id = user_id(app, user);
    let events = on_io(app, app.ui.accounts.events().recent_for_user(&id, 50)).unwrap();
    let locked = events
        .iter()
        .filter(|e| e.kind == "password" && e.reason == "too_many_attempts")
        .count();
    assert_eq!(locked, 3, "{events:?}");
    // And each of the two locks that started is an event of its own.
    let starts = events.iter().filter(|e| e.kind == "lockout").count();
    assert_eq!(starts, 2, "{events:?}");
    assert!(events
        .iter()
        .any(|e| e.detail.as_deref() == Some("locked=pair")));
}

#[test]
fn five_failures_lock_the_pair_and_locks_double_memory() {
    let gw = TestGateway::start_with(Store::Memory, FROM_PROXY);
    block_on(five_failures_lock_the_pair_and_locks_double(&gw));
}

#[test]
fn five_failures_lock_the_pair_and_locks_double_redis() {
    let gw = TestGateway::start_with(Store::Redis, FROM_PROXY);
    block_on(five_failures_lock_the_pair_and_locks_double(&gw));
}

/// The attacker's address locks first; the victim elsewhere still signs in until
/// failures from several places reach the account threshold, which mails the user.
async fn victims_elsewhere_sign_in_until_the_account_locks(gw: &TestGateway) {
    let user = "user@example.com";
    fail(gw, user, ATTACKER, 5).await;
    let resp = attempt(&client(), &gw.base, user, PASSWORD, ATTACKER).await;
    assert_locked(resp, 60, "1 minute").await;
    let resp = attempt(&client(), &gw.base, user, PASSWORD, VICTIM).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "the victim is not locked out"
    );
    assert!(gw.mail.messages().is_empty(), "no account lock yet");

    // Three more failures from a second address: 8 in all locks the account.
    fail(gw, user, ATTACKER_2, 3).await;
    let resp = attempt(&client(), &gw.base, user, PASSWORD, VICTIM).await;
    assert_locked(resp, 60, "1 minute").await;
    let mails = gw.mail.wait_for(1, Duration::from_secs(10));
    assert_eq!(
        mails[0].subject(),
        "[Sekisho] Sign-in paused after failed attempts"
    );
    assert!(mails[0].text().contains("paused for 1 minute"));
    assert!(mails[0].header("to").unwrap().contains("user@example.com"));
    // Other accounts are not affected.
    let resp = attempt(&client(), &gw.base, "admin@example.com", PASSWORD, VICTIM).await;
    assert_ne!(resp.status(), StatusCode::TOO_MANY_REQUESTS);

    // An administrator lifts the lock (account and pairs) at once.
    let app = &gw.handle.app;
    let lockout = app.ui.lockout.as_ref().unwrap();
    let id = user_id(app, user);
    on_io(app, lockout.unlock(&id)).unwrap();
    let resp = attempt(&client(), &gw.base, user, PASSWORD, VICTIM).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = attempt(&client(), &gw.base, user, PASSWORD, ATTACKER).await;
    assert_eq!(
        resp.status(),
        StatusCode::SEE_OTHER,
        "pair locks lifted too"
    );
}

const ACCOUNT_AT_8: &str = "\n[lockout]\naccount_threshold = 8\n";

#[test]
fn victims_elsewhere_sign_in_until_the_account_locks_memory() {
    let gw = TestGateway::start_with(Store::Memory, &format!("{FROM_PROXY}{ACCOUNT_AT_8}"));
    block_on(victims_elsewhere_sign_in_until_the_account_locks(&gw));
}

#[test]
fn victims_elsewhere_sign_in_until_the_account_locks_redis() {
    let gw = TestGateway::start_with(Store::Redis, &format!("{FROM_PROXY}{ACCOUNT_AT_8}"));
    block_on(victims_elsewhere_sign_in_until_the_account_locks(&gw));
}

/// Password spraying: failures across accounts from one address lock the address.
async fn spraying_locks_the_address(gw: &TestGateway) {
    fail(gw, "user@example.com", ATTACKER, 3).await;
    fail(gw, "admin@example.com", ATTACKER, 2).await;
    fail(gw, "nobody@example.com", ATTACKER, 1).await;
    let resp = attempt(&client(), &gw.base, "admin@example.com", PASSWORD, ATTACKER).await;
    assert_locked(resp, 60, "1 minute").await;
    let resp = attempt(&client(), &gw.base, "admin@example.com", PASSWORD, VICTIM).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
}

const IP_AT_6: &str = "\n[lockout]\nip_threshold = 6\n";

#[test]
fn spraying_locks_the_address_memory() {
    let gw = TestGateway::start_with(Store::Memory, &format!("{FROM_PROXY}{IP_AT_6}"));
    block_on(spraying_locks_the_address(&gw));
}

#[test]
fn spraying_locks_the_address_redis() {
    let gw = TestGateway::start_with(Store::Redis, &format!("{FROM_PROXY}{IP_AT_6}"));
    block_on(spraying_locks_the_address(&gw));
}

/// Many guesses at once from one address never get more checks than the budget.
async fn parallel_guesses_stay_within_the_budget(gw: &TestGateway) {
    let hashed = gw.handle.app.ui.hasher.verifications();
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let base = gw.base.clone();
            tokio::spawn(async move {
                attempt(&client(), &base, "user@example.com", "wrong", ATTACKER)
                    .await
                    .status()
            })
        })
        .collect();
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for t in tasks {
        *by_status.entry(t.await.unwrap().as_u16()).or_default() += 1;
    }
    let checked = gw.handle.app.ui.hasher.verifications() - hashed;
    assert!(checked <= 5, "{checked} checks: {by_status:?}");
    assert_eq!(
        by_status.get(&401).copied().unwrap_or(0) + by_status.get(&503).copied().unwrap_or(0),
        usize::try_from(checked).unwrap(),
        "{by_status:?}"
    );
    assert!(
        by_status.get(&429).copied().unwrap_or(0) >= 19,
        "{by_status:?}"
    );
}

#[test]
fn parallel_guesses_stay_within_the_budget_memory() {
    let gw = TestGateway::start_with(Store::Memory, FROM_PROXY);
    block_on(parallel_guesses_stay_within_the_budget(&gw));
}

#[test]
fn parallel_guesses_stay_within_the_budget_redis() {
    let gw = TestGateway::start_with(Store::Redis, FROM_PROXY);
    block_on(parallel_guesses_stay_within_the_budget(&gw));
}

/// The lockout counters spread over a real Redis Cluster's slots.
#[test]
fn lockout_on_a_cluster() {
    let gw = TestGateway::start_with(Store::RedisCluster, FROM_PROXY);
    block_on(five_failures_lock_the_pair_and_locks_double(&gw));
}

/// Unknown, disabled and existing accounts cost one password verification each, so
/// failed sign-ins take as long whether the account exists or not.
#[test]
fn unknown_users_cost_the_same_work() {
    let gw = TestGateway::start_with(Store::Memory, FROM_PROXY);
    block_on(async {
        let hasher = &gw.handle.app.ui.hasher;
        for (email, ip) in [
            ("user@example.com", "192.0.2.1"),
            ("nobody@example.com", "192.0.2.2"),
            ("not an address", "192.0.2.3"),
        ] {
            let before = hasher.verifications();
            let resp = attempt(&client(), &gw.base, email, "wrong password", ip).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            let body = resp.text().await.unwrap();
            assert!(body.contains("The email address or password is incorrect."));
            assert_eq!(hasher.verifications() - before, 1, "{email}");
        }
    });
}

/// The local limiter answers a POST flood with 429 and `Retry-After`, per address.
#[test]
fn post_flood_is_limited_per_address() {
    let gw = TestGateway::start_with(
        Store::Memory,
        &format!("{FROM_PROXY}\n[rate_limit]\nui_posts_per_minute = 6\nui_post_burst = 3\n"),
    );
    block_on(async {
        for i in 0..3 {
            let resp = attempt(&client(), &gw.base, "user@example.com", "wrong", ATTACKER).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "post {i}");
        }
        let hashed = gw.handle.app.ui.hasher.verifications();
        let resp = attempt(&client(), &gw.base, "user@example.com", PASSWORD, ATTACKER).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=10).contains(&wait), "{wait}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("Too many requests"), "{body}");
        assert_eq!(
            gw.handle.app.ui.hasher.verifications(),
            hashed,
            "refused before the hasher"
        );
        // Pages still load, and other addresses are not limited.
        let resp = attempt(&client(), &gw.base, "user@example.com", PASSWORD, VICTIM).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    });
}

/// One of two gateways sharing a Redis server and a PostgreSQL database.
struct Instance {
    handle: sekisho_gateway::server::GatewayHandle,
    base: String,
}

fn instance(redis: &RedisServer, db: &PostgresDb, mail: &SmtpSink, up: &Upstream) -> Instance {
    let listen = free_port();
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:{listen}"
admin_listen = ""
threads = 1
grace_period = "0s"

[session]
store = "{redis}"
key_prefix = "lk:"

[database]
url = "{db}"

[password]
memory_kib = 1024
iterations = 1

{email}

[[sites]]
host = "127.0.0.1"
upstreams = ["127.0.0.1:{up}"]

[[rules]]
name = "members"
paths = ["/members"]
action = "one_factor"
{FROM_PROXY}
"#,
        up = up.port,
        redis = redis.url(),
        db = db.url,
        email = email_config(mail),
    );
    let env = HashMap::from([("SEKISHO_ENCRYPTION_KEY".to_string(), "ab".repeat(32))]);
    let settings = sekisho_config::load_str(&config, "<lockout>", &env).unwrap();
    let clock = Arc::new(sekisho_auth::ManualClock::new(T0));
    let app = App::build(settings, clock).unwrap();
    Instance {
        handle: sekisho_gateway::server::GatewayHandle::spawn(app, Vec::new()).unwrap(),
        base: format!("http://127.0.0.1:{listen}"),
    }
}

/// Two gateways on one Redis and one PostgreSQL: failed attempts count on both, a
/// session made on one works on the other, a sign-out on one ends it on both.
#[test]
fn two_gateways_share_counters_sessions_and_sign_out() {
    let redis = RedisServer::start();
    let db = PostgresDb::create();
    let mail = SmtpSink::start();
    let up = Upstream::start();
    let a = instance(&redis, &db, &mail, &up);
    let b = instance(&redis, &db, &mail, &up);
    let app = &a.handle.app;
    let hash = app
        .ui
        .hasher
        .hash_blocking(&sekisho_auth::PasswordInput::new(PASSWORD.into()))
        .unwrap();
    app.io
        .block_on(app.ui.accounts.create_user(
            sekisho_auth::NewUser {
                email: Email::parse("kim@example.com").unwrap(),
                display_name: "Kim".into(),
                groups: vec![],
                department: String::new(),
                password_hash: Some(hash),
            },
            T0,
        ))
        .unwrap()
        .unwrap();
    block_on(async {
        let c = client();
        for (i, gw) in [&a, &b, &a, &b, &a].iter().enumerate() {
            let resp = attempt(&c, &gw.base, "kim@example.com", "wrong", ATTACKER).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "failure {i}");
        }
        for gw in [&a, &b] {
            let resp = attempt(&c, &gw.base, "kim@example.com", PASSWORD, ATTACKER).await;
            assert_locked(resp, 60, "1 minute").await;
        }
        let resp = attempt(&c, &b.base, "kim@example.com", PASSWORD, VICTIM).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);

        // The session made on B works on A (one Redis), and a sign-out on A is
        // honoured by B at its very next request.
        let members = |gw: &Instance| format!("{}/members", gw.base);
        for gw in [&b, &a, &b] {
            let resp = c.get(members(gw)).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK, "signed in on {}", gw.base);
        }
        // B answered the second time from its local cache, which the sign-out on A
        // must reach through Redis pub/sub.
        let cache = b
            .handle
            .app
            .sessions
            .cache()
            .expect("a cache in front of Redis");
        assert!(cache.counts().0 >= 1, "{:?}", cache.counts());
        let token = form_csrf(
            &c.get(format!("{}/_sekisho/logout", a.base))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        let out = c
            .post(format!("{}/_sekisho/logout", a.base))
            .header("origin", &a.base)
            .form(&[("csrf", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), StatusCode::OK);
        let resp = c
            .get(members(&b))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::FOUND,
            "B sends the browser to sign in"
        );
    });
}
