use super::*;
use crate::{Email, ManualClock, MemoryCounterStore};

const T0: i64 = 1_800_000_000;

fn user(version: i64) -> User {
    User {
        id: "u1".into(),
        email: Email::parse("kim@example.com").unwrap(),
        display_name: "Kim Tanaka".into(),
        groups: vec![],
        department: String::new(),
        password_hash: None,
        disabled: false,
        created_at: T0,
        last_sign_in: None,
        credential_version: version,
    }
}

fn links() -> (ResetLinks, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let counters = Arc::new(MemoryCounterStore::new(100, clock.clone()));
    (ResetLinks::new(counters, clock.clone(), 1800), clock)
}

fn token(issue: LinkIssue) -> ResetToken {
    match issue {
        LinkIssue::Issued(t) => t,
        LinkIssue::HourlyCap => panic!("capped"),
    }
}

#[tokio::test]
async fn a_link_works_once_and_expires() {
    let (links, clock) = links();
    let t = token(links.issue(&user(3)).await.unwrap());
    assert!(format!("{t:?}").contains("redacted"));
    assert_eq!(t.expose().len(), 43, "256 bits, base64url");
    let grant = links.peek(t.expose()).await.unwrap().unwrap();
    assert_eq!(grant.user_id, "u1");
    assert_eq!(grant.credential_version, 3);
    assert_eq!(grant.expires_at, T0 + 1800);
    // Peeking does not use it up; consuming does, once.
    assert!(links.peek(t.expose()).await.unwrap().is_some());
    assert!(links.consume(t.expose()).await.unwrap().is_some());
    assert!(links.consume(t.expose()).await.unwrap().is_none());
    assert!(links.peek(t.expose()).await.unwrap().is_none());

    let late = token(links.issue(&user(3)).await.unwrap());
    clock.advance(1800);
    assert!(links.peek(late.expose()).await.unwrap().is_none());
    assert!(links.consume(late.expose()).await.unwrap().is_none());
    for bad in ["", "nope", &"x".repeat(500)] {
        assert!(links.consume(bad).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn three_links_per_hour() {
    let (links, clock) = links();
    for _ in 0..3 {
        token(links.issue(&user(1)).await.unwrap());
    }
    assert!(matches!(
        links.issue(&user(1)).await.unwrap(),
        LinkIssue::HourlyCap
    ));
    clock.advance(3600);
    token(links.issue(&user(1)).await.unwrap());
}

#[tokio::test]
async fn parallel_consumers_get_one_grant() {
    let (links, _) = links();
    let links = Arc::new(links);
    let t = token(links.issue(&user(1)).await.unwrap());
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let links = Arc::clone(&links);
            let t = t.expose().to_string();
            tokio::spawn(async move { links.consume(&t).await.unwrap().is_some() })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
}

#[test]
fn strength_refuses_short_common_and_personal_passwords() {
    let ok = |p: &str| check_strength(p, 10, "kim@example.com", "Kim Tanaka");
    assert_eq!(ok("short"), Err(Weakness::TooShort(10)));
    assert_eq!(ok("password123"), Err(Weakness::Guessable));
    assert_eq!(ok("qwertyuiop"), Err(Weakness::Guessable));
    assert_eq!(ok("aaaaaaaaaaaa"), Err(Weakness::Guessable));
    assert_eq!(ok("kim@example.com"), Err(Weakness::Guessable));
    assert_eq!(ok(&"a".repeat(2000)), Err(Weakness::TooLong));
    assert_eq!(ok("Tsuki-no-Usagi 8492!"), Ok(()));
    assert_eq!(ok("ferry cobalt mango drizzle"), Ok(()));
}
