//! Users' own recovery requests on SQLite and PostgreSQL: checks, the daily cap, one
//! open request (also when two are filed at once), and the admin queue sees them.
use super::*;
use crate::account::AccountStore;
use crate::resets::{Actor, RequestState};
use crate::testdb::{on_both_engines, user};

const T0: UnixTime = 1_800_000_000;
const WEEK: i64 = 7 * DAY;

fn filed<'a>(user_id: &'a str, description: &'a str, contact: &'a str) -> SelfServiceRequest<'a> {
    SelfServiceRequest {
        user_id,
        user_email: "u@example.com",
        situation: Situation::LostDevice,
        description,
        contact,
        privileged: false,
    }
}

const SYS: Actor<'static> = Actor {
    id: "sys-id",
    email: "sys@example.com",
    may_decide_privileged: false,
};

async fn filing_and_checks(store: AccountStore) {
    let rr = store.resets();
    let uid = user(&store, "u@example.com", &["staff"]).await;

    assert!(matches!(
        rr.create_self(filed(&uid, " lost it ", ""), WEEK, T0).await,
        Err(ResetError::DescriptionTooShort)
    ));
    let long_contact = "0".repeat(MAX_CONTACT_CHARS + 1);
    assert!(matches!(
        rr.create_self(
            filed(&uid, "My phone fell into the sea.", &long_contact),
            WEEK,
            T0
        )
        .await,
        Err(ResetError::ContactTooLong)
    ));
    // Ten Japanese characters are enough: characters are counted, not bytes.
    let ja = "電車で携帯を失くしました";
    let req = rr
        .create_self(filed(&uid, ja, "  090-1234\r\n5678 (9-17時) "), WEEK, T0)
        .await
        .unwrap();
    assert_eq!(req.origin, Origin::SelfService);
    assert_eq!(req.state, RequestState::Pending);
    assert_eq!(req.scope, ResetScope::Full);
    assert_eq!(req.situation, Some(Situation::LostDevice));
    assert_eq!(req.reason, ja);
    assert_eq!(req.contact.as_deref(), Some("090-1234  5678 (9-17時)"));
    assert_eq!(req.requested_by, uid);
    assert_eq!(req.expires_at, T0 + WEEK);
    // It is in the admin queue like any other request.
    assert_eq!(rr.pending_count(T0).await.unwrap(), 1);

    // One open request: a second one names the first.
    let again = rr
        .create_self(filed(&uid, "Still no phone, sorry.", ""), WEEK, T0 + 60)
        .await;
    assert!(
        matches!(again, Err(ResetError::AlreadyOpen(ref id)) if *id == req.id),
        "{again:?}"
    );
    // The user, not an admin, filed it: an administrator approves as usual.
    let approved = rr.approve(&req.id, SYS, T0 + 120).await.unwrap();
    assert_eq!(approved.state, RequestState::Approved);
    let mine = rr.of_user(&uid, 10, T0 + 120).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].state, RequestState::Approved);

    // Admin requests still say they came from an admin, with no situation.
    let other = user(&store, "o@example.com", &[]).await;
    let by_admin = rr
        .create(
            SYS,
            crate::resets::NewResetRequest {
                user_id: &other,
                scope: ResetScope::Totp,
                urgency: Urgency::Low,
                reason: "Helpdesk ticket 4711: phone replaced, identity checked in person.",
                privileged: false,
            },
            WEEK,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(by_admin.origin, Origin::Admin);
    assert_eq!(by_admin.situation, None);
    assert_eq!(by_admin.contact, None);
}
on_both_engines!(self_service_filing, filing_and_checks);

async fn daily_cap(store: AccountStore) {
    let rr = store.resets();
    let uid = user(&store, "u@example.com", &[]).await;
    let mut t = T0;
    for n in 0..SELF_REQUESTS_PER_DAY {
        let req = rr
            .create_self(filed(&uid, "Phone was stolen at the station.", ""), WEEK, t)
            .await
            .unwrap_or_else(|e| panic!("request {n}: {e}"));
        rr.reject(&req.id, SYS, "call us", t + 1).await.unwrap();
        t += 3600;
    }
    // The fourth within a day is refused, whatever became of the others.
    assert!(matches!(
        rr.create_self(filed(&uid, "Phone was stolen at the station.", ""), WEEK, t)
            .await,
        Err(ResetError::TooManyRequests)
    ));
    // A day after the first, one more is allowed.
    let later = rr
        .create_self(
            filed(&uid, "Phone was stolen at the station.", ""),
            WEEK,
            T0 + DAY + 1,
        )
        .await
        .unwrap();
    assert_eq!(later.state, RequestState::Pending);
}
on_both_engines!(self_service_daily_cap, daily_cap);

async fn simultaneous_filings(store: AccountStore) {
    let rr = store.resets();
    for round in 0..5 {
        let uid = user(&store, &format!("r{round}@example.com"), &[]).await;
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let rr = rr.clone();
                let uid = uid.clone();
                tokio::spawn(async move {
                    rr.create_self(filed(&uid, "Lost my phone on the train.", ""), WEEK, T0)
                        .await
                })
            })
            .collect();
        let mut won = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => won.push(r.id),
                Err(ResetError::AlreadyOpen(id)) => assert!(id.starts_with("RR-"), "{id}"),
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert_eq!(won.len(), 1, "round {round}: exactly one request is filed");
        assert_eq!(rr.of_user(&uid, 10, T0).await.unwrap().len(), 1);
    }
}
on_both_engines!(self_service_one_open_request, simultaneous_filings);
