//! The console's page models (askama templates under `templates/admin/`).
pub(crate) use super::search::Pager;
use crate::pages::PageChrome;
use askama::Template;

pub(crate) struct NavItem {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
    pub badge: Option<i64>,
}

/// What every console page shares.
pub(crate) struct AdminChrome {
    pub page: PageChrome,
    pub nav: Vec<NavItem>,
    /// Active suspensions, shown on every page.
    pub banner: Vec<String>,
    pub who: String,
    pub roles: String,
    /// `{prefix}admin`
    pub base: String,
}

#[derive(Template)]
#[template(path = "admin/home.html")]
pub(crate) struct HomePage<'a> {
    pub c: &'a AdminChrome,
}

/// A message after an action (`?done=`), or an error, shown above the page.
#[derive(Default)]
pub(crate) struct Flash {
    pub notice: Option<String>,
    pub error: Option<String>,
}

pub(crate) struct UserRow {
    pub href: String,
    pub email: String,
    pub name: String,
    pub department: String,
    pub disabled: bool,
    pub enrolled: bool,
    pub methods: String,
    pub codes_left: i64,
    pub last_sign_in: String,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
pub(crate) struct UsersPage<'a> {
    pub c: &'a AdminChrome,
    pub text: &'a str,
    pub mfa: &'a str,
    pub group: &'a str,
    pub last: &'a str,
    pub groups: &'a [String],
    pub roles: Vec<&'static str>,
    pub searched: bool,
    pub error: Option<&'a str>,
    pub total: i64,
    pub rows: Vec<UserRow>,
    pub pager: Pager,
}

pub(crate) struct EventRow {
    pub at: String,
    /// The request that caused the event, and the events page filtered by it.
    pub request_id: String,
    pub request_href: Option<String>,
    pub kind: String,
    pub ok: bool,
    pub reason: String,
    pub method: String,
    pub ip: String,
    pub detail: String,
    /// e.g. "device clock about 3 min behind".
    pub hint: Option<String>,
}

pub(crate) struct RequestRow {
    pub id: String,
    pub href: String,
    pub user: String,
    pub scope: &'static str,
    pub urgency: &'static str,
    pub state: &'static str,
    pub requested_by: String,
    pub created: String,
    pub privileged: bool,
    /// Filed by the user from the challenge page, not by an administrator.
    pub self_service: bool,
    pub situation: Option<&'static str>,
    pub contact: Option<String>,
}

/// What the user said happened, as the console shows it.
fn situation_label(s: sekisho_auth::Situation) -> &'static str {
    match s {
        sekisho_auth::Situation::LostDevice => "lost or stolen phone",
        sekisho_auth::Situation::NewPhone => "new phone",
        sekisho_auth::Situation::AppRemoved => "authenticator app removed or phone reset",
        sekisho_auth::Situation::Other => "something else",
    }
}

impl RequestRow {
    pub(crate) fn of(r: &sekisho_auth::ResetRequest, base: &str) -> Self {
        Self {
            id: r.id.clone(),
            href: format!("{base}/request?id={}", r.id),
            user: r.user_email.clone(),
            scope: r.scope.as_str(),
            urgency: r.urgency.as_str(),
            state: r.state.as_str(),
            requested_by: r.requested_by_email.clone(),
            created: crate::settings::when(r.created_at),
            privileged: r.privileged,
            self_service: r.origin == sekisho_auth::Origin::SelfService,
            situation: r.situation.map(situation_label),
            contact: r.contact.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/user.html")]
pub(crate) struct UserDetailPage<'a> {
    pub c: &'a AdminChrome,
    pub csrf: &'a str,
    pub flash: &'a Flash,
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub department: &'a str,
    pub groups: String,
    pub disabled: bool,
    pub privileged: bool,
    /// Not privileged, or the admin is a secadmin.
    pub may_touch: bool,
    pub may_manage: bool,
    pub may_request: bool,
    pub enrolled: bool,
    pub methods: String,
    pub totp_since: Option<String>,
    pub codes_left: usize,
    pub codes_total: usize,
    pub last_mfa: Option<String>,
    pub last_sign_in: Option<String>,
    pub locked_until: Option<String>,
    pub events: Vec<EventRow>,
    /// id, browser, last used, expires
    pub devices: Vec<(String, String, String, String)>,
    /// key (hex), level, ip, browser, last seen
    pub sessions: Vec<(String, String, String, String, String)>,
    pub requests: Vec<RequestRow>,
}

#[derive(Template)]
#[template(path = "admin/requests.html")]
pub(crate) struct RequestsPage<'a> {
    pub c: &'a AdminChrome,
    pub current: &'a str,
    pub states: [&'static str; 6],
    pub rows: Vec<RequestRow>,
}

#[derive(Template)]
#[template(path = "admin/request.html")]
pub(crate) struct RequestPage<'a> {
    pub c: &'a AdminChrome,
    pub csrf: &'a str,
    pub flash: &'a Flash,
    pub row: RequestRow,
    pub user_href: String,
    pub reason: &'a str,
    pub expires: String,
    pub decided: Option<String>,
    pub note: Option<&'a str>,
    pub executed: Option<String>,
    pub can_approve: bool,
    pub can_reject: bool,
    pub own_pending: bool,
    pub can_execute: bool,
    pub needs_secadmin: bool,
    pub ttl_hours: u64,
    pub ttl_min_hours: u64,
    pub ttl_max_hours: u64,
}

pub(crate) struct BulkPreview {
    pub kind: &'static str,
    pub value: String,
    pub scope: &'static str,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "admin/bulk.html")]
pub(crate) struct BulkPage<'a> {
    pub c: &'a AdminChrome,
    pub csrf: &'a str,
    pub flash: &'a Flash,
    pub groups: &'a [String],
    pub preview: Option<&'a BulkPreview>,
    /// href, id, selector, progress, created
    pub jobs: Vec<(String, String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "admin/bulk_job.html")]
pub(crate) struct BulkJobPage<'a> {
    pub c: &'a AdminChrome,
    pub csrf: &'a str,
    pub id: &'a str,
    pub selector: String,
    pub scope: &'static str,
    pub reason: &'a str,
    pub by: &'a str,
    pub total: i64,
    pub done: i64,
    pub failed: i64,
    pub finished: bool,
    pub percent: i64,
    /// email, state, detail, when
    pub results: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "admin/emergency.html")]
pub(crate) struct EmergencyPage<'a> {
    pub c: &'a AdminChrome,
    pub csrf: &'a str,
    pub flash: &'a Flash,
    pub groups: &'a [String],
    /// group, reason, by, since
    pub suspensions: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub(crate) struct AuditPage<'a> {
    pub c: &'a AdminChrome,
    pub error: Option<&'a str>,
    pub actor: String,
    pub target: String,
    pub action: String,
    pub from: String,
    pub to: String,
    pub actions: Vec<&'static str>,
    pub total: i64,
    pub chain_ok: bool,
    pub chain_text: String,
    /// seq, when, actor, role, action, target, detail, ip
    pub rows: Vec<[String; 8]>,
    pub csv_href: String,
    pub json_href: String,
    pub pager: Pager,
}

/// One event on the events page.
pub(crate) struct FoundEvent {
    pub at: String,
    pub request_id: String,
    pub request_href: Option<String>,
    pub kind: String,
    pub ok: bool,
    pub reason: String,
    /// The e-mail address, and the user's page when the event names a user and the
    /// admin may see users.
    pub user: String,
    pub user_href: Option<String>,
    pub method: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin/events.html")]
pub(crate) struct EventsPage<'a> {
    pub c: &'a AdminChrome,
    pub error: Option<&'a str>,
    pub request_id: String,
    pub email: String,
    pub kind: String,
    pub from: String,
    pub to: String,
    pub kinds: Vec<&'static str>,
    pub total: i64,
    pub rows: Vec<FoundEvent>,
    pub pager: Pager,
}

pub(crate) struct ReportSection {
    pub id: &'static str,
    pub title: &'static str,
    /// Inline SVG from `crate::charts` (escaped there).
    pub chart: String,
    pub csv_href: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub note: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/reports.html")]
pub(crate) struct ReportsPage<'a> {
    pub c: &'a AdminChrome,
    pub days: i64,
    pub sections: Vec<ReportSection>,
}
