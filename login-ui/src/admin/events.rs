//! The event view (helpdesk, sysadmin, secadmin, auditor): sign-in, second-factor,
//! account and error-page events, searched by the request id a user quotes from an
//! error page, by e-mail address, kind and date, newest first.
use super::access::{admit_for, Admin, Perm};
use super::search::{choice, date, field, kept, or_empty, page_no, Pager};
use super::views::{EventsPage, FoundEvent};
use super::{chrome, render_page, Section};
use crate::handlers::Ctx;
use crate::pages::{self, ErrorKind};
use crate::settings::{enc, when};
use axum::extract::{Request, State};
use axum::response::Response;
use sekisho_auth::{AuthEvent, EventKind, EventQuery};

const PAGE_SIZE: i64 = 50;

/// The search fields, in the order links keep them.
const FIELDS: [&str; 5] = ["request_id", "email", "kind", "from", "to"];

/// The query from the form, or a message saying what is wrong with it.
fn query(a: &Admin) -> Result<EventQuery, String> {
    let f = &a.form;
    let page = page_no(f, 100_000);
    Ok(EventQuery {
        request_id: field(f, "request_id"),
        email: field(f, "email"),
        kind: choice(f, "kind", EventKind::parse)?,
        from: date(f, "from", false)?,
        to: date(f, "to", true)?,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
        ..EventQuery::default()
    })
}

/// The link to the events of one request.
pub(crate) fn request_href(base: &str, request_id: &str) -> String {
    format!("{base}/events?request_id={}", enc(request_id))
}

fn row(e: &AuthEvent, base: &str, user_links: bool) -> FoundEvent {
    FoundEvent {
        at: when(e.at),
        request_id: e.request_id.clone().unwrap_or_default(),
        request_href: e.request_id.as_deref().map(|id| request_href(base, id)),
        kind: e.kind.clone(),
        ok: e.success,
        reason: e.reason.clone(),
        user: e.email.clone().unwrap_or_default(),
        user_href: e
            .user_id
            .as_deref()
            .filter(|_| user_links)
            .map(|id| format!("{base}/user?id={}", enc(id))),
        method: e.method.clone().unwrap_or_default(),
        ip: e.ip.clone().unwrap_or_default(),
        detail: e.detail.clone().unwrap_or_default(),
    }
}

/// `GET {prefix}admin/events?request_id=&email=&kind=&from=&to=&page=`
pub(crate) async fn page(State(ctx): Ctx, req: Request) -> Response {
    let a = match admit_for(&ctx, req, false, Perm::ViewEvents).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let (q, error, status) = or_empty(query(&a), || EventQuery {
        limit: PAGE_SIZE,
        ..EventQuery::default()
    });
    let log = ctx.mfa.events();
    let (events, total) = match (log.search(&q).await, log.count(&q).await) {
        (Ok(e), Ok(n)) => (e, i64::try_from(n).unwrap_or(i64::MAX)),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, request_id = %a.r.request_id(), "admin console: event search failed");
            return a.r.error(&ctx, ErrorKind::Unavailable);
        }
    };
    let f = &a.form;
    let keep = |k: &str| f.get(k).unwrap_or("").to_string();
    let c = chrome(&ctx, &a, Section::Events).await;
    let user_links = a.may(Perm::ViewUsers);
    let search = format!("{}/events?{}", c.base, kept(f, &FIELDS));
    render_page(&ctx, &a, status, |_| {
        pages::render(&EventsPage {
            c: &c,
            error: error.as_deref(),
            request_id: keep("request_id"),
            email: keep("email"),
            kind: keep("kind"),
            from: keep("from"),
            to: keep("to"),
            kinds: EventKind::ALL.iter().map(|k| k.as_str()).collect(),
            total,
            rows: events.iter().map(|e| row(e, &c.base, user_links)).collect(),
            pager: Pager::new(&search, q.offset / PAGE_SIZE + 1, total, PAGE_SIZE),
        })
    })
}
