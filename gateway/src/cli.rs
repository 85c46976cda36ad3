//! The `sekisho` command line.
mod audit;
mod mfa;
mod reload;

use crate::app::App;
use crate::report::{ExplainRequest, ReportFormat};
use clap::{Args, Parser, Subcommand};
use sekisho_auth::mfa::secretbox::Keyring;
use sekisho_auth::{
    AccountStore, AuthError, Email, Lockout, LockoutPolicy, MemoryCounterStore, MfaService,
    NewUser, PasswordHash, PasswordHasher, PasswordInput, RedisConn, RedisCounterStore,
    RedisSessionStore, SystemClock,
};
use sekisho_config::{
    load_file, redact_url, Deadline, LogSettings, ProcessEnv, SecretBytes, SessionStoreKind,
    Settings,
};
use sekisho_policy::Policy;
use std::io::{BufRead, IsTerminal};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "sekisho",
    version,
    about = "Sekisho: an authentication gateway in front of existing web sites"
)]
struct Cli {
    /// Log as JSON lines instead of text (whatever `[log] format` says).
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ConfigArg {
    /// The TOML configuration file.
    #[arg(long, short, env = "SEKISHO_CONFIG", default_value = "sekisho.toml")]
    config: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        #[command(flatten)]
        config: ConfigArg,
        /// Zero-downtime upgrade: take the listening sockets over from the running
        /// process, which must then be sent SIGQUIT within five seconds.
        #[arg(long)]
        upgrade: bool,
    },
    /// Start a demo site behind the gateway and print the URL and credentials.
    Demo {
        /// Proxy address (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Admin listener for /healthz, /readyz, /metrics (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:0")]
        admin_listen: SocketAddr,
        /// Where the demo keeps its SQLite database.
        #[arg(long, default_value = "sekisho-demo")]
        data_dir: PathBuf,
        /// Print one JSON line for scripts instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Validate a configuration file.
    CheckConfig(ConfigArg),
    /// Make the running gateway read its configuration file again (rules, sites,
    /// enrolment rules, texts and limits change at once; listeners, stores and keys
    /// need a restart). Uses `POST /reload` on the admin listener; SIGHUP does the same.
    Reload(ConfigArg),
    /// Policy tools.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Reports from the database.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Second-factor administration.
    Mfa {
        #[command(subcommand)]
        command: MfaCommand,
    },
    /// The tamper-evident audit log: verify its hash chain, export it.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Keys that protect secrets at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Hash a password read from stdin and print the PHC string.
    HashPassword {
        #[arg(long, short, env = "SEKISHO_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum MfaCommand {
    /// Reset a user's second factors now (audited with actor `cli`): removes the
    /// scoped factors and trusted browsers, ends sessions, and e-mails the user a
    /// single-use link to enrol again.
    Reset {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        email: String,
        /// full | totp | backup_codes
        #[arg(long)]
        scope: String,
        /// Why, and how the user's identity was checked (at least 50 characters).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-encrypt every stored TOTP secret with the current encryption key. List the
    /// old key in `secrets.previous_encryption_key_files` until this has run.
    Rotate(ConfigArg),
}

#[derive(Subcommand)]
enum ReportCommand {
    /// MFA enrolment per group and factor, and the enrolment funnel.
    Adoption {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
        /// The funnel covers this many days back.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Show which rule decides a request, and why, and which enrolment rule covers the
    /// user.
    Explain {
        #[command(flatten)]
        config: ConfigArg,
        /// The URL, e.g. https://app.example.com/admin/users
        url: String,
        #[arg(long, default_value = "GET")]
        method: String,
        /// A signed-in user's e-mail address.
        #[arg(long)]
        user: Option<String>,
        /// The user's groups, comma-separated (default: the user's groups in the
        /// database).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// The client address.
        #[arg(long, default_value = "127.0.0.1")]
        ip: IpAddr,
        /// Explain as of this time (RFC 3339, e.g. 2027-04-02T09:00:00+09:00) instead
        /// of now, to preview a rollout date.
        #[arg(long)]
        at: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user. Without --password-stdin a random password is printed.
    Add {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        #[arg(long, default_value = "")]
        department: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password and sign the user out everywhere.
    Passwd {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable (or with --enable, re-enable) sign-in; signs the user out everywhere.
    Disable {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        email: String,
        #[arg(long)]
        enable: bool,
    },
    /// Lift a sign-in lock (too many failed attempts) from the account and from
    /// every address it was locked for.
    Unlock {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        email: String,
    },
}

type CliResult = Result<(), String>;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run { .. }) {
        // `run` sets logging up from its file's `[log]` once it has read it.
        crate::logging::init(&LogSettings::default(), cli.log_json);
    }
    let result = match cli.command {
        Command::Run { config, upgrade } => run(&config, upgrade, cli.log_json),
        Command::Demo {
            listen,
            admin_listen,
            data_dir,
            json,
        } => demo(listen, admin_listen, &data_dir, json),
        Command::CheckConfig(c) => check_config(&c),
        Command::Reload(c) => reload::reload(&c),
        Command::Policy {
            command:
                PolicyCommand::Explain {
                    config,
                    url,
                    method,
                    user,
                    groups,
                    ip,
                    at,
                },
        } => explain(
            &config,
            ExplainRequest {
                url,
                method,
                user,
                groups,
                ip,
            },
            at.as_deref(),
        ),
        Command::Report {
            command:
                ReportCommand::Adoption {
                    config,
                    format,
                    days,
                },
        } => report_adoption(&config, format, days),
        Command::User { command } => user(command),
        Command::Mfa {
            command:
                MfaCommand::Reset {
                    config,
                    email,
                    scope,
                    reason,
                },
        } => load(&config).and_then(|s| mfa::reset(s, &email, &scope, &reason)),
        Command::Keys {
            command: KeysCommand::Rotate(c),
        } => rotate_keys(&c),
        Command::HashPassword { config } => hash_password(config),
        Command::Audit { command } => match audit::run(command) {
            Ok(code) => return code,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn load(c: &ConfigArg) -> Result<Settings, String> {
    load_file(&c.config, &ProcessEnv).map_err(|e| e.to_string())
}

fn run(c: &ConfigArg, upgrade: bool, log_json: bool) -> CliResult {
    let settings = load(c)?;
    crate::logging::init(&settings.log, log_json);
    let app = App::build(settings, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
    tracing::info!(listen = %app.settings.server.listen, admin = ?app.settings.server.admin_listen, upgrade, "sekisho starting");
    crate::server::run_forever(app, Some(c.config.clone()), upgrade, Vec::new())
}

fn demo(listen: SocketAddr, admin: SocketAddr, dir: &std::path::Path, json: bool) -> CliResult {
    let listen = crate::demo::with_free_port(listen, &[]).map_err(|e| e.to_string())?;
    let admin = crate::demo::with_free_port(admin, &[listen]).map_err(|e| e.to_string())?;
    let (handle, users) = crate::demo::start(listen, admin, dir).map_err(|e| e.to_string())?;
    let url = format!("http://{}/", handle.proxy_addr);
    let admin_url = handle
        .admin_addr
        .map(|a| format!("http://{a}/"))
        .unwrap_or_default();
    if json {
        let users: Vec<serde_json::Value> = users
            .iter()
            .map(|u| serde_json::json!({"email": u.email, "password": u.password, "groups": u.groups}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"url": url, "admin_url": admin_url, "users": users, "mail_dir": dir.join("mail")})
        );
    } else {
        println!("Sekisho demo is running.\n");
        println!("  Site:        {url}");
        println!("  Members:     {url}members   (password sign-in; MFA is recommended, \"remind me later\" waits a week)");
        println!("  Admin:       {url}admin     (admins group: MFA is required, set up an authenticator app at sign-in)");
        println!("  Settings:    {url}_sekisho/settings   (MFA methods, backup codes, sessions)");
        println!("  Identity:    {url}whoami    (what the site receives)");
        println!("  Health:      {admin_url}healthz  {admin_url}metrics\n");
        for u in &users {
            println!(
                "  {:<20} password: {}   groups: {}",
                u.email,
                u.password,
                u.groups.join(",")
            );
        }
        println!(
            "\nData in {}; e-mails (sign-in codes, notices) are written to {}. Press Ctrl-C to stop.",
            dir.display(),
            dir.join("mail").display()
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // Serve until the process is stopped.
    loop {
        std::thread::park();
    }
}

fn check_config(c: &ConfigArg) -> CliResult {
    let s = load(c)?;
    let policy = Policy::compile(&s.policy).map_err(|e| format!("{}: {e}", s.source))?;
    crate::upstream::check_ca_files(&s.sites).map_err(|e| format!("{}: {e}", s.source))?;
    let store = match &s.session.store {
        SessionStoreKind::Memory { capacity } => format!("memory (capacity {capacity})"),
        SessionStoreKind::Redis(r) => r.describe(),
    };
    println!("{}: OK", s.source);
    println!("  listen         {}", s.server.listen);
    println!(
        "  admin          {}",
        s.server
            .admin_listen
            .map_or("off".to_string(), |a| a.to_string())
    );
    println!(
        "  sites          {}",
        s.sites
            .iter()
            .map(|x| x.host.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  rules          {} (default: {})",
        policy.rule_count(),
        s.policy.default
    );
    println!("  session store  {store}");
    println!("  database       {}", redact_url(s.database.url.expose()));
    if s.secret_key.is_none() {
        println!("  warning        no secret key (SEKISHO_SECRET_KEY[_FILE] or secrets.key_file): a random one is used per process");
    }
    Ok(())
}

fn explain(c: &ConfigArg, req: ExplainRequest, at: Option<&str>) -> CliResult {
    let s = load(c)?;
    let now = match at {
        None => sekisho_auth::Clock::now(&SystemClock),
        Some(raw) => Deadline::parse(raw)
            .ok_or_else(|| {
                format!("--at `{raw}` is not an RFC 3339 time, e.g. 2027-04-02T09:00:00+09:00")
            })?
            .unix(),
    };
    // Only a named user needs the database; a SQLite file that is not there yet is
    // not created just to explain.
    let read_db =
        req.user.is_some() && crate::app::sqlite_file(&s.database).is_none_or(|f| f.exists());
    let text = block(async {
        let accounts = if read_db {
            match AccountStore::connect(&s.database).await {
                Ok(a) => Some(a),
                Err(e) => {
                    eprintln!("warning: database not read ({e}); enrolment facts unknown");
                    None
                }
            }
        } else {
            None
        };
        let text = crate::report::explain(&s, accounts.as_ref(), &req, now).await;
        if let Some(a) = accounts {
            a.close().await;
        }
        text
    })??;
    print!("{text}");
    Ok(())
}

fn report_adoption(c: &ConfigArg, format: ReportFormat, days: u32) -> CliResult {
    let s = load(c)?;
    let now = sekisho_auth::Clock::now(&SystemClock);
    let text = with_accounts(&s, async |a| {
        crate::report::adoption_report(a, now, days, format).await
    })?;
    print!("{text}");
    Ok(())
}

fn read_password(from_stdin: bool) -> Result<(PasswordInput, bool), String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let pw = line.trim_end_matches(['\r', '\n']).to_string();
        if pw.is_empty() {
            return Err("no password on stdin".into());
        }
        Ok((PasswordInput::new(pw), false))
    } else {
        Ok((PasswordInput::new(crate::demo::random_password()), true))
    }
}

/// Runs an async store operation on a throw-away runtime.
fn block<F: std::future::Future>(f: F) -> Result<F::Output, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(f))
        .map_err(|e| e.to_string())
}

async fn revoke_sessions(s: &Settings, user_id: &str) -> String {
    match &s.session.store {
        SessionStoreKind::Redis(r) => match RedisConn::new(r) {
            Ok(conn) => {
                let store = RedisSessionStore::new(
                    Arc::new(conn),
                    &s.session.key_prefix,
                    s.session.lifetime,
                    Arc::new(SystemClock),
                );
                match sekisho_auth::SessionStore::remove_user(&store, user_id).await {
                    Ok(n) => format!("{n} session(s) ended"),
                    Err(e) => format!("could not end sessions: {e}"),
                }
            }
            Err(e) => format!("could not end sessions: {e}"),
        },
        SessionStoreKind::Memory { .. } => {
            "sessions live in a running gateway's memory: restart it to end them now".to_string()
        }
    }
}

fn rotate_keys(c: &ConfigArg) -> CliResult {
    let s = load(c)?;
    let keyring = Keyring::new(
        &crate::app::encryption_key(&s).map_err(|e| e.to_string())?,
        &s.previous_encryption_keys,
    );
    let key_id = keyring.current_key_id().to_string();
    let clock: Arc<dyn sekisho_auth::Clock> = Arc::new(SystemClock);
    let report = with_accounts(&s, async |accounts| {
        let mfa = MfaService::new(
            accounts.factors(),
            accounts.events(),
            Arc::new(MemoryCounterStore::new(16, clock.clone())),
            keyring,
            // Rotation touches no one-time codes; this key is never used.
            SecretBytes::new(vec![0; 32]).ok_or(AuthError::Invalid("key".into()))?,
            clock.clone(),
            s.mfa.clone(),
        );
        mfa.rotate_keys().await
    })?;
    println!(
        "re-encrypted {} TOTP secret(s); {} already used the current key (id {})",
        report.resealed, report.already_current, key_id
    );
    Ok(())
}

/// Opens the account store, runs `op`, closes the store.
fn with_accounts<T>(
    s: &Settings,
    op: impl AsyncFnOnce(&AccountStore) -> Result<T, AuthError>,
) -> Result<T, String> {
    block(async {
        let accounts = AccountStore::connect(&s.database).await?;
        let result = op(&accounts).await;
        accounts.close().await;
        result
    })?
    .map_err(|e| e.to_string())
}

/// A new password (from stdin or generated) and its hash.
fn new_password(
    s: &Settings,
    from_stdin: bool,
) -> Result<(PasswordInput, bool, PasswordHash), String> {
    let hasher = PasswordHasher::new(&s.password).map_err(|e| e.to_string())?;
    let (password, generated) = read_password(from_stdin)?;
    let hash = hasher.hash_blocking(&password).map_err(|e| e.to_string())?;
    Ok((password, generated, hash))
}

fn print_generated(password: &PasswordInput, generated: bool) {
    if generated {
        println!("password: {}", password.expose());
    }
}

fn user(cmd: UserCommand) -> CliResult {
    match cmd {
        UserCommand::Add {
            config,
            email,
            name,
            groups,
            department,
            password_stdin,
        } => {
            let s = load(&config)?;
            let email = Email::parse(&email).map_err(|e| e.to_string())?;
            let (password, generated, hash) = new_password(&s, password_stdin)?;
            let new = NewUser {
                email,
                display_name: name,
                groups,
                department,
                password_hash: Some(hash),
            };
            let now = sekisho_auth::Clock::now(&SystemClock);
            let user = with_accounts(&s, async |a| a.create_user(new, now).await)?;
            println!("created {} (groups: {})", user.email, user.groups.join(","));
            print_generated(&password, generated);
            Ok(())
        }
        UserCommand::List { config, json } => {
            let s = load(&config)?;
            for u in with_accounts(&s, async |a| a.list_users().await)? {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"email": u.email.as_str(), "name": u.display_name, "groups": u.groups,
                            "department": u.department, "disabled": u.disabled, "created_at": u.created_at,
                            "last_sign_in": u.last_sign_in})
                    );
                } else {
                    let last = u.last_sign_in.map_or("never".to_string(), |t| {
                        humantime::format_rfc3339_seconds(
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.max(0) as u64),
                        )
                        .to_string()
                    });
                    println!(
                        "{:<32} {:<24} {:<20} {:<9} last sign-in {}",
                        u.email.as_str(),
                        u.display_name,
                        u.groups.join(","),
                        if u.disabled { "disabled" } else { "active" },
                        last
                    );
                }
            }
            Ok(())
        }
        UserCommand::Passwd {
            config,
            email,
            password_stdin,
        } => {
            let s = load(&config)?;
            let email = Email::parse(&email).map_err(|e| e.to_string())?;
            let (password, generated, hash) = new_password(&s, password_stdin)?;
            // A new password also forgets the user's trusted browsers.
            let (user, devices) = with_accounts(&s, async |a| {
                let user = a.set_password(&email, &hash).await?;
                let devices = a.factors().revoke_all_trusted_devices(&user.id).await?;
                Ok((user, devices))
            })?;
            let note = block(revoke_sessions(&s, &user.id))?;
            println!(
                "password changed for {email}; {devices} trusted browser(s) forgotten; {note}"
            );
            print_generated(&password, generated);
            Ok(())
        }
        UserCommand::Disable {
            config,
            email,
            enable,
        } => {
            let s = load(&config)?;
            let email = Email::parse(&email).map_err(|e| e.to_string())?;
            let user = with_accounts(&s, async |a| a.set_disabled(&email, !enable).await)?;
            let note = block(revoke_sessions(&s, &user.id))?;
            println!(
                "{email} {}; {note}",
                if enable { "enabled" } else { "disabled" }
            );
            Ok(())
        }
        UserCommand::Unlock { config, email } => {
            let s = load(&config)?;
            let email = Email::parse(&email).map_err(|e| e.to_string())?;
            let user = with_accounts(&s, async |a| {
                a.find_by_email(&email)
                    .await?
                    .ok_or_else(|| AuthError::Invalid(format!("no user {email}")))
            })?;
            let note = block(unlock(&s, &user.id))??;
            println!("{email}: {note}");
            Ok(())
        }
    }
}

/// Moves the account to a new lockout epoch in the shared counter store.
async fn unlock(s: &Settings, user_id: &str) -> Result<String, String> {
    match &s.session.store {
        SessionStoreKind::Redis(r) => {
            let conn = RedisConn::new(r).map_err(|e| format!("session.store: {e}"))?;
            let counters = RedisCounterStore::new(Arc::new(conn), &s.session.key_prefix);
            let lockout = Lockout::new(Arc::new(counters), LockoutPolicy::default());
            lockout
                .unlock(user_id)
                .await
                .map_err(|e| format!("could not reach the counter store: {e}"))?;
            Ok("unlocked".to_string())
        }
        SessionStoreKind::Memory { .. } => Err(
            "lockout counters live in a running gateway's memory (session.store = \"memory\"): \
             restart it to clear them, or use Redis to unlock from here"
                .to_string(),
        ),
    }
}

fn hash_password(config: Option<PathBuf>) -> CliResult {
    let params = match config {
        Some(path) => load(&ConfigArg { config: path })?.password,
        None => {
            sekisho_config::load_str("", "<defaults>", &ProcessEnv)
                .map_err(|e| e.to_string())?
                .password
        }
    };
    let hasher = PasswordHasher::new(&params).map_err(|e| e.to_string())?;
    let (password, _) = read_password(true)?;
    let hash = hasher.hash_blocking(&password).map_err(|e| e.to_string())?;
    println!("{}", hash.as_phc());
    Ok(())
}
