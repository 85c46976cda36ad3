use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

fn sekisho() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sekisho"));
    c.env_remove("SEKISHO_CONFIG")
        .env_remove("SEKISHO_SECRET_KEY")
        .env_remove("SEKISHO_SESSION_STORE")
        .env_remove("SEKISHO_DATABASE_URL");
    c
}

fn write_config(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("sekisho.toml");
    std::fs::write(&path, body).unwrap();
    path
}

const SAMPLE: &str = r#"
[database]
url = "sqlite://DB"

[password]
memory_kib = 1024
iterations = 1

[[sites]]
host = "app.example.com"
upstreams = ["127.0.0.1:3000"]

[[rules]]
name = "public"
paths = ["/static/**"]
action = "bypass"

[[rules]]
name = "admin"
paths = ["/admin"]
groups = ["admins"]
action = "two_factor"
max_mfa_age = "10m"

[[rules]]
name = "admin-others"
paths = ["/admin"]
action = "deny"

[[rules]]
name = "members"
hosts = ["app.example.com"]
paths = ["/members"]
action = "one_factor"
"#;

fn sample(dir: &std::path::Path) -> std::path::PathBuf {
    write_config(
        dir,
        &SAMPLE.replace("DB", &dir.join("t.db").display().to_string()),
    )
}

#[test]
fn check_config_accepts_the_sample_and_the_shipped_example() {
    let dir = tempfile::tempdir().unwrap();
    let out = sekisho()
        .args(["check-config", "--config"])
        .arg(sample(dir.path()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(": OK"), "{text}");
    assert!(text.contains("rules          4 (default: deny)"), "{text}");

    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/sekisho.example.toml"
    );
    let out = sekisho()
        .args(["check-config", "--config", example])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_config_errors_name_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[session]\nidle_timeot = \"5m\"\n",
            "t.toml:2",
            "idle_timeot",
        ),
        (
            "[[rules]]\naction = \"bypass\"\nnetworks = [\"300.1.1.1/8\"]\n",
            "rules[0].networks[0]",
            "invalid",
        ),
        (
            "[[rules]]\naction = \"bypass\"\npaths = [\"regex:(\"]\n",
            "rules[0].paths[0]",
            "",
        ),
        (
            "[server]\nlisten = \"localhost\"\n",
            "server.listen",
            "not an address",
        ),
    ];
    for (body, where_, what) in cases {
        let path = dir.path().join("t.toml");
        std::fs::write(&path, body).unwrap();
        let out = sekisho()
            .args(["check-config", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{body}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(where_), "{body}: {err}");
        assert!(err.contains(what), "{body}: {err}");
    }
    // A CA file for TLS upstreams that exists but holds no certificate.
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let path = dir.path().join("t.toml");
    std::fs::write(
        &path,
        format!(
            "[[sites]]\nhost = \"a.test\"\nupstreams = [\"https://127.0.0.1:8443\"]\nsni = \"a.internal\"\nca_file = \"{}\"\n",
            ca.display()
        ),
    )
    .unwrap();
    let out = sekisho()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("site a.test: ca_file"), "{err}");
    let out = sekisho()
        .args(["check-config", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn policy_explain_prints_decision_and_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample(dir.path());
    let run = |args: &[&str]| {
        let out = sekisho()
            .args(["policy", "explain", "--config"])
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let anon = run(&["https://app.example.com/admin/users"]);
    assert!(anon.contains("admin"), "{anon}");
    assert!(
        anon.to_lowercase().contains("sign"),
        "needs identity: {anon}"
    );
    let admin = run(&[
        "https://app.example.com/admin/users",
        "--user",
        "a@example.com",
        "--groups",
        "admins,staff",
    ]);
    assert!(admin.contains("two_factor"), "{admin}");
    assert!(
        admin.contains("10m") || admin.contains("600"),
        "max_mfa_age shown: {admin}"
    );
    let other = run(&["https://app.example.com/admin", "--user", "b@example.com"]);
    assert!(other.contains("deny"), "{other}");
    assert!(other.contains("admin-others"), "{other}");
    let members = run(&["https://app.example.com/members/x", "--method", "POST"]);
    assert!(
        members.contains("one_factor") && members.contains("members"),
        "{members}"
    );
    let none = run(&["https://app.example.com/other"]);
    assert!(none.contains("default"), "{none}");
}

/// `sekisho user add` with a password on stdin.
fn add_user(config: &std::path::Path, email: &str, groups: &str) {
    let mut add = sekisho()
        .args(["user", "add", "--config"])
        .arg(config)
        .args(["--email", email, "--name", "Kim", "--groups", groups])
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"a long enough password\n")
        .unwrap();
    let out = add.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn user_management_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample(dir.path());
    add_user(&config, "Kim@Example.com", "staff,admins");

    // Duplicates (any case) are refused.
    let out = sekisho()
        .args(["user", "add", "--config"])
        .arg(&config)
        .args(["--email", "kim@example.COM", "--name", "Kim 2"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    let out = sekisho()
        .args(["user", "list", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["email"], "kim@example.com");
    assert_eq!(v["groups"], serde_json::json!(["admins", "staff"]));
    assert_eq!(v["disabled"], false);

    let out = sekisho()
        .args(["user", "disable", "--email", "kim@example.com", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = sekisho()
        .args(["user", "list", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"disabled\":true"));

    let mut passwd = sekisho()
        .args([
            "user",
            "passwd",
            "--email",
            "kim@example.com",
            "--password-stdin",
            "--config",
        ])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    passwd.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = passwd.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "too-short passwords are refused"
    );
}

#[test]
fn hash_password_prints_an_argon2id_phc_string() {
    let mut child = sekisho()
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let phc = String::from_utf8_lossy(&out.stdout);
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
}

#[test]
fn demo_prints_json_and_serves_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = sekisho()
        .args(["demo", "--listen", "127.0.0.1:0", "--json", "--data-dir"])
        .arg(dir.path())
        .env("SEKISHO_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let url = v["url"].as_str().unwrap().to_string();
    let admin_url = v["admin_url"].as_str().unwrap().to_string();
    let users = v["users"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users[0]["email"], "admin@example.com");
    assert_eq!(users[0]["groups"], serde_json::json!(["admins"]));
    assert!(users[1]["password"].as_str().unwrap().len() >= 16);

    let status_public = raw_get(&url, "/");
    let status_members = raw_get(&url, "/members");
    let status_health = raw_get(&admin_url, "/healthz");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status_public, 200);
    assert_eq!(status_members, 401);
    assert_eq!(status_health, 200);
}

/// A minimal HTTP/1.1 GET over a raw socket; returns the status code.
fn raw_get(base: &str, path: &str) -> u16 {
    use std::io::Read;
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(authority).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn keys_rotate_reports_and_keeps_the_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = sample(dir.path());
    let run = || {
        sekisho()
            .args(["keys", "rotate", "--config"])
            .arg(&config)
            .env_remove("SEKISHO_ENCRYPTION_KEY")
            .output()
            .unwrap()
    };
    let out = run();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("re-encrypted 0 TOTP secret(s)"), "{text}");
    // SQLite without a configured key: one key file beside the database, reused.
    let key = dir.path().join("t.key");
    let first = std::fs::read_to_string(&key).unwrap();
    assert_eq!(first.trim().len(), 64);
    assert!(run().status.success());
    assert_eq!(std::fs::read_to_string(&key).unwrap(), first);
    // A key that is too short is a clear configuration error.
    let out = sekisho()
        .args(["keys", "rotate", "--config"])
        .arg(&config)
        .env("SEKISHO_ENCRYPTION_KEY", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SEKISHO_ENCRYPTION_KEY"));
}

#[test]
fn adoption_report_and_enrolment_explain() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &(SAMPLE.replace("DB", &dir.path().join("t.db").display().to_string())
            + r#"
[[enrollment]]
name = "staff"
groups = ["staff"]
mode = "require"
deadline = "2027-04-01T00:00:00+09:00"
notice_days = [7]
"#),
    );
    let run = |args: &[&str]| {
        sekisho()
            .args(args)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let stdout = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Explaining a user does not create a database that is not there.
    let url = "https://app.example.com/members";
    let text = stdout(&run(&[
        "policy",
        "explain",
        url,
        "--user",
        "kim@example.com",
    ]));
    assert!(text.contains("(the database was not read)"), "{text}");
    assert!(!dir.path().join("t.db").exists());

    add_user(&config, "kim@example.com", "staff");

    let csv = stdout(&run(&["report", "adoption", "--format", "csv"]));
    assert!(csv.starts_with("group,users,enrolled,percent,"), "{csv}");
    assert!(csv.contains("\nstaff,1,0,0.0,0,0,0,0\n"), "{csv}");
    assert!(csv.contains("\n(total),1,0,0.0,0,0,0,0\n"), "{csv}");
    let table = stdout(&run(&["report", "adoption", "--days", "7"]));
    assert!(table.contains("Enrolment funnel (last 7 days)"), "{table}");

    // Groups and facts come from the database; --at previews a date.
    let explain = |at: &str| {
        stdout(&run(&[
            "policy",
            "explain",
            url,
            "--user",
            "Kim@Example.com",
            "--at",
            at,
        ]))
    };
    let before = explain("2027-03-22T00:00:00+09:00");
    assert!(before.contains("(groups [staff])"), "{before}");
    assert!(
        before.contains("enrolment: (as of 2027-03-21T15:00:00Z)"),
        "{before}"
    );
    assert!(before.contains("— 10 days left [enrolled: no"), "{before}");
    let after = explain("2027-04-02T00:00:00+09:00");
    assert!(after.contains("(passed)"), "{after}");
    assert!(after.contains("next sign-in: forced enrolment"), "{after}");
    let out = run(&["policy", "explain", url, "--at", "next tuesday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--at `next tuesday`"));
}

/// `user unlock` lifts a lock the gateways keep in Redis; with the in-memory store it
/// explains why it cannot.
#[test]
fn user_unlock_lifts_a_lock_in_redis() {
    use sekisho_auth::{Gate, Lockout, LockoutPolicy, RedisCounterStore};
    let redis = sekisho_testkit::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let memory_config = sample(dir.path());
    add_user(&memory_config, "kim@example.com", "staff");
    let out = sekisho()
        .args(["user", "unlock", "--email", "kim@example.com", "--config"])
        .arg(&memory_config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("restart it"));

    let body = std::fs::read_to_string(&memory_config).unwrap();
    let redis_config = dir.path().join("redis.toml");
    std::fs::write(
        &redis_config,
        format!(
            "[session]\nstore = \"{}\"\nkey_prefix = \"cli:\"\n{body}",
            redis.url()
        ),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The account's id, as the gateways name it in their counters.
    let id = rt.block_on(async {
        let env = std::collections::HashMap::<String, String>::new();
        let s = sekisho_config::load_file(&redis_config, &env).unwrap();
        let accounts = sekisho_auth::AccountStore::connect(&s.database)
            .await
            .unwrap();
        let email = sekisho_auth::Email::parse("kim@example.com").unwrap();
        let user = accounts.find_by_email(&email).await.unwrap().unwrap();
        accounts.close().await;
        user.id
    });
    let counters = RedisCounterStore::new(
        std::sync::Arc::new(sekisho_auth::RedisConn::from_url(&redis.url()).unwrap()),
        "cli:",
    );
    let lockout = Lockout::new(std::sync::Arc::new(counters), LockoutPolicy::default());
    let now = 1_800_000_000;
    rt.block_on(async {
        for _ in 0..5 {
            let Gate::Open { attempt } = lockout.admit(&id, "203.0.113.7", now).await.unwrap()
            else {
                panic!("locked too early");
            };
            lockout
                .failed(&id, "203.0.113.7", attempt, now)
                .await
                .unwrap();
        }
        assert!(matches!(
            lockout.admit(&id, "203.0.113.7", now).await.unwrap(),
            Gate::Locked { .. }
        ));
    });
    let out = sekisho()
        .args(["user", "unlock", "--email", "kim@example.com", "--config"])
        .arg(&redis_config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "kim@example.com: unlocked"
    );
    rt.block_on(async {
        assert!(matches!(
            lockout.admit(&id, "203.0.113.7", now).await.unwrap(),
            Gate::Open { attempt: 1 }
        ));
    });
}

/// `audit verify` and `audit export` on a log written through the library; exports
/// record themselves after the fact; a row edited by hand makes `verify` fail and
/// name it.
#[test]
fn audit_verify_export_and_tampering() {
    use sekisho_auth::{AuditAction, NewAuditEntry};
    let dir = tempfile::tempdir().unwrap();
    let config = sample(dir.path());
    // 2023-11-14T22:13:20Z, then a minute apart: well before the exports' own entries.
    let t0: i64 = 1_700_000_000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hashes = rt.block_on(async {
        let env = std::collections::HashMap::<String, String>::new();
        let s = sekisho_config::load_file(&config, &env).unwrap();
        let accounts = sekisho_auth::AccountStore::connect(&s.database)
            .await
            .unwrap();
        let log = accounts.audit();
        let entries = [
            NewAuditEntry::new("ada@example.com", "helpdesk", AuditAction::ResetRequested)
                .target("kim@example.com")
                .ip(Some("203.0.113.7"))
                .request_id("r-1")
                .detail(&[("reason", "lost phone, \"new\" one")]),
            NewAuditEntry::new("bob@example.com", "secadmin", AuditAction::ResetApproved)
                .target("kim@example.com"),
            NewAuditEntry::new("bob@example.com", "secadmin", AuditAction::GroupSuspended)
                .target("=HYPERLINK(\"http://x\")"),
        ];
        let mut hashes = Vec::new();
        for (i, e) in entries.into_iter().enumerate() {
            let at = t0 + 60 * i as i64;
            hashes.push(log.append(e, at).await.unwrap().hash);
        }
        accounts.close().await;
        hashes
    });
    let run = |args: &[&str]| {
        sekisho()
            .args(args)
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let stdout = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    assert_eq!(
        stdout(&run(&["audit", "verify"])),
        format!("audit log intact: 3 entries, head {}\n", hashes[2])
    );

    let csv = stdout(&run(&["audit", "export", "--format", "csv"]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert_eq!(
        lines[0],
        "seq,at,actor,actor_role,action,target,ip,request_id,detail,prev_hash,hash"
    );
    assert_eq!(
        lines[1],
        format!(
            "1,2023-11-14T22:13:20Z,ada@example.com,helpdesk,reset_requested,kim@example.com,\
             203.0.113.7,r-1,\"{{\"\"reason\"\":\"\"lost phone, \\\"\"new\\\"\" one\"\"}}\",{},{}",
            "0".repeat(64),
            hashes[0]
        )
    );
    assert_eq!(
        lines[3],
        format!(
            "3,2023-11-14T22:15:20Z,bob@example.com,secadmin,group_suspended,\
             \"'=HYPERLINK(\"\"http://x\"\")\",,,{{}},{},{}",
            hashes[1], hashes[2]
        )
    );
    // The export is the log's fourth entry, recorded after it was written.
    let verified = stdout(&run(&["audit", "verify"]));
    assert!(
        verified.starts_with("audit log intact: 4 entries, head "),
        "{verified}"
    );
    let json = stdout(&run(&[
        "audit",
        "export",
        "--format",
        "json",
        "--action",
        "audit_exported",
    ]));
    let exports: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(exports.as_array().unwrap().len(), 1, "{json}");
    let own = &exports[0];
    assert_eq!(
        (own["seq"].as_i64(), own["actor"].as_str()),
        (Some(4), Some("cli"))
    );
    assert_eq!(own["actor_role"], "cli");
    assert_eq!(own["prev_hash"].as_str(), Some(hashes[2].as_str()));
    assert_eq!(
        own["detail"],
        serde_json::json!({"format": "csv", "count": "3", "output": "stdout"})
    );

    // Filters, and a file instead of stdout.
    let file = dir.path().join("bob.json");
    let out = run(&[
        "audit",
        "export",
        "--format",
        "json",
        "--actor",
        "BOB@",
        "--from",
        "2023-11-14T22:14:20Z",
        "--to",
        "2023-11-15T07:14:20+09:00",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(stdout(&out), "");
    let bob: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let seqs: Vec<i64> = bob
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [2]);
    assert_eq!(bob[0]["action"], "reset_approved");
    assert_eq!(bob[0]["at"], "2023-11-14T22:14:20Z");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let csv = stdout(&run(&[
        "audit",
        "export",
        "--format",
        "csv",
        "--target",
        "KIM",
        "--to",
        "2023-11-14T22:15:00Z",
    ]));
    let seqs: Vec<&str> = csv.lines().skip(1).map(|l| &l[..2]).collect();
    assert_eq!(seqs, ["1,", "2,"], "{csv}");

    // Bad filters are refused before anything is read or recorded.
    for (args, says) in [
        (
            ["--action", "nope"],
            "--action `nope` is not one of: reset_requested",
        ),
        (
            ["--from", "yesterday"],
            "--from `yesterday` is not an RFC 3339 time",
        ),
    ] {
        let mut all = vec!["audit", "export", "--format", "csv"];
        all.extend(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
    }
    let verified = stdout(&run(&["audit", "verify"]));
    assert!(
        verified.starts_with("audit log intact: 7 entries, head "),
        "{verified}"
    );

    // Tampering: entry 2's detail edited by hand.
    let db = dir.path().join("t.db");
    rt.block_on(async {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("UPDATE audit_log SET detail = '{\"note\":\"nothing to see\"}' WHERE seq = 2")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let out = run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "audit log broken: entry 2: contents altered (hash does not match) (7 entries checked)"
    );
}
