//! `sekisho demo`: a small "legacy site" behind the gateway, with embedded defaults
//! (memory sessions, SQLite in a demo folder) and two demo users. The enrolment
//! rules show two rollout phases: admins must set up MFA at sign-in, everyone else is
//! invited to (at most once a week).
use crate::app::{App, AppError};
use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::{HttpServer, ServeHttp};
use pingora::protocols::http::ServerSession;
use pingora::services::listening::Service;
use pingora::services::ServiceWithDependents;
use sekisho_auth::{AccountStore, Email, NewUser, PasswordInput, SystemClock};
use sekisho_config::{load_str, Env, Settings};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The demo site: a public page, `/members`, `/admin`, and `/whoami`, which echoes
/// the identity headers it received.
pub struct DemoSite;

const PAGE_STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;line-height:1.6}code{background:#eef}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{PAGE_STYLE}</style></head>\
         <body><h1>{title}</h1>{body}<hr><nav><a href=\"/\">Home</a> · <a href=\"/members\">Members</a> · \
         <a href=\"/admin\">Admin</a> · <a href=\"/whoami\">/whoami</a> · <a href=\"/_sekisho/\">Account</a> · \
         <a href=\"/_sekisho/logout\">Sign out</a></nav></body></html>"
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn header<'a>(session: &'a ServerSession, name: &str) -> &'a str {
    session
        .req_header()
        .headers
        .get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .unwrap_or("")
}

#[async_trait]
impl ServeHttp for DemoSite {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let path = session.req_header().uri.path().to_string();
        let user = escape(header(session, "remote-name"));
        let (status, ctype, body) = match path.as_str() {
            "/" => (200, "text/html; charset=utf-8", page(
                "Demo legacy site",
                "<p>This public page is served without signing in. <a href=\"/members\">Members</a> needs a password \
                 sign-in; <a href=\"/admin\">Admin</a> is for the <code>admins</code> group and needs MFA.</p>",
            )),
            "/members" => (200, "text/html; charset=utf-8", page("Members area", &format!("<p>Welcome, {user}.</p>"))),
            "/admin" => (200, "text/html; charset=utf-8", page("Admin area", &format!("<p>Hello administrator {user}.</p>"))),
            "/whoami" => {
                let names = ["remote-user", "remote-email", "remote-groups", "remote-name", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"];
                let mut fields = serde_json::Map::new();
                for n in names {
                    if let Some(v) = session.req_header().headers.get(n) {
                        fields.insert(n.to_string(), serde_json::Value::String(String::from_utf8_lossy(v.as_bytes()).into_owned()));
                    }
                }
                fields.insert("cookie".into(), serde_json::Value::String(header(session, "cookie").to_string()));
                (200, "application/json", serde_json::Value::Object(fields).to_string())
            }
            _ => (404, "text/html; charset=utf-8", page("Not found", "<p>No such page.</p>")),
        };
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, ctype)
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(body.into_bytes())
            .unwrap_or_else(|_| Response::new(Vec::new()))
    }
}

/// The demo site as a Pingora service on `addr`.
pub fn demo_site_service(addr: SocketAddr) -> Box<dyn ServiceWithDependents> {
    let mut svc = Service::new("demo site".to_string(), HttpServer::new_app(DemoSite));
    svc.add_tcp(&addr.to_string());
    Box::new(svc)
}

/// The demo configuration: `/members` one_factor, `/admin` two_factor for admins.
pub fn demo_settings(
    listen: SocketAddr,
    admin: SocketAddr,
    site: SocketAddr,
    dir: &Path,
) -> Result<Settings, AppError> {
    let text = format!(
        r#"
[server]
listen = "{listen}"
admin_listen = "{admin}"
threads = 1
dev_mode = true

[database]
url = "sqlite://{db}"

[email]
transport = "folder"
folder = "{mail}"

[[sites]]
host = "{host}"
upstreams = ["{site}"]

[[sites]]
host = "localhost"
upstreams = ["{site}"]

[policy]
default = "deny"

[[rules]]
name = "admin"
paths = ["/admin"]
groups = ["admins"]
action = "two_factor"
mfa_methods = ["totp", "backup_code"]

[[rules]]
name = "admin-others"
paths = ["/admin"]
action = "deny"

[[rules]]
name = "members"
paths = ["/members", "/whoami"]
action = "one_factor"

[[rules]]
name = "public"
paths = ["/"]
action = "bypass"

# Rollout phases: required now for admins (with the factor /admin accepts), a
# recommendation with "remind me later" for everyone else.
[[enrollment]]
name = "admins"
groups = ["admins"]
mode = "require"
methods = ["totp"]

[[enrollment]]
name = "everyone"
mode = "recommend"
snooze = "7d"
"#,
        db = dir.join("sekisho.db").display(),
        mail = dir.join("mail").display(),
        host = listen.ip(),
    );
    let no_env: HashMap<String, String> = HashMap::new();
    load_str(&text, "<demo>", &no_env as &dyn Env).map_err(|e| AppError::Config(e.to_string()))
}

pub struct DemoUser {
    pub email: String,
    pub password: String,
    pub groups: Vec<String>,
}

/// A readable random password: four groups of four letters and digits.
pub fn random_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Creates (or resets the passwords of) the demo users.
pub fn ensure_demo_users(app: &App) -> Result<Vec<DemoUser>, AppError> {
    let specs = [
        (
            "admin@example.com",
            "Demo Admin",
            vec!["admins".to_string()],
        ),
        ("user@example.com", "Demo User", vec![]),
    ];
    let accounts: &AccountStore = &app.ui.accounts;
    let mut out = Vec::new();
    for (email, name, groups) in specs {
        let password = random_password();
        let hash = app
            .ui
            .hasher
            .hash_blocking(&PasswordInput::new(password.clone()))
            .map_err(|e| AppError::Startup(e.to_string()))?;
        let email_v = Email::parse(email).map_err(|e| AppError::Startup(e.to_string()))?;
        let now = sekisho_auth::Clock::now(&SystemClock);
        let result = app.io.block_on(async {
            match accounts.find_by_email(&email_v).await? {
                Some(_) => accounts.set_password(&email_v, &hash).await.map(|_| ()),
                None => accounts
                    .create_user(
                        NewUser {
                            email: email_v.clone(),
                            display_name: name.to_string(),
                            groups: groups.clone(),
                            department: "Demo".into(),
                            password_hash: Some(hash.clone()),
                        },
                        now,
                    )
                    .await
                    .map(|_| ()),
            }
        });
        match result {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(AppError::Startup(format!("demo user {email}: {e}"))),
            None => return Err(AppError::Startup("I/O runtime is gone".into())),
        }
        out.push(DemoUser {
            email: email.to_string(),
            password,
            groups,
        });
    }
    Ok(out)
}

/// Starts the demo and returns the running gateway plus the demo users.
pub fn start(
    listen: SocketAddr,
    admin: SocketAddr,
    dir: &Path,
) -> Result<(crate::GatewayHandle, Vec<DemoUser>), AppError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::Startup(format!("{}: {e}", dir.display())))?;
    let site = with_free_port(SocketAddr::from(([127, 0, 0, 1], 0)), &[listen, admin])?;
    let settings = demo_settings(listen, admin, site, dir)?;
    let app = App::build(settings, Arc::new(SystemClock))?;
    let users = ensure_demo_users(&app)?;
    let handle = crate::GatewayHandle::spawn(app, vec![demo_site_service(site)])
        .map_err(|e| AppError::Startup(e.to_string()))?;
    Ok((handle, users))
}

/// `addr` itself, or with port 0 replaced by a port that is free right now and is
/// none of `taken`'s (the kernel may offer a port it just handed out again).
pub fn with_free_port(addr: SocketAddr, taken: &[SocketAddr]) -> Result<SocketAddr, AppError> {
    if addr.port() != 0 {
        return Ok(addr);
    }
    for _ in 0..100 {
        let free = std::net::TcpListener::bind(addr)
            .and_then(|l| l.local_addr())
            .map_err(|e| AppError::Startup(format!("no free port on {addr}: {e}")))?;
        if !taken.iter().any(|t| t.port() == free.port()) {
            return Ok(free);
        }
    }
    Err(AppError::Startup(format!("no free port on {addr}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sekisho_config::EnrollmentMode;

    #[test]
    fn demo_rollout_requires_admins_and_recommends_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let s = demo_settings(at(8080), at(9090), at(8081), dir.path()).unwrap();
        let rollout = sekisho_policy::Rollout::new(&s.enrollment);
        let admin = rollout.covering("admin@example.com", &["admins".to_string()]);
        assert_eq!(admin.mode(), EnrollmentMode::Require);
        assert_eq!(admin.deadline(), None);
        let user = rollout.covering("user@example.com", &[]);
        assert_eq!(user.mode(), EnrollmentMode::Recommend);
        assert_eq!(
            user.rule.map(|r| r.snooze),
            Some(std::time::Duration::from_secs(7 * 86_400))
        );
    }
}
