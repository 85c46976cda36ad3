//! `sekisho-bench`: the side-by-side load harness. Run it through `benches/run.sh`
//! (which installs wrk and nginx when missing, raises the open-file limit and builds
//! the release binaries); see benches/README.md.
use clap::{Parser, ValueEnum};
use sekisho_benches::compare::{self, Role, Target};
use sekisho_benches::sekisho::{Sekisho, Store};
use sekisho_benches::servers::{Lab, Server};
use sekisho_benches::{memory, report, storm};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

// The in-process memory measurement must use the gateway's allocator.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Side-by-side throughput, CPU and fixed-rate latency (~10 min with defaults).
    Compare,
    /// Sign-in storm isolation (~1.5 min).
    Storm,
    /// RSS with 100,000 sessions and 10,000 idle connections (~1 min).
    Memory,
    /// RSS under load over time (5 min by default).
    Soak,
    /// Everything above, in that order.
    All,
}

#[derive(Debug, Parser)]
#[command(
    name = "sekisho-bench",
    about = "Sekisho side by side with bare Pingora, nginx, Caddy and Traefik"
)]
struct Args {
    /// What to run.
    #[arg(value_enum, default_values_t = [Mode::Compare])]
    modes: Vec<Mode>,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of wrk warm-up per target before the rounds.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Interleaved rounds (each runs every target once, order rotated).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// wrk connections.
    #[arg(long, short = 'c', default_value_t = 32)]
    connections: usize,
    /// wrk threads.
    #[arg(long, short = 't', default_value_t = 1)]
    wrk_threads: usize,
    /// Fixed (open-loop) rate in requests per second; 0 skips the fixed-rate runs.
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// Seconds per fixed-rate run.
    #[arg(long, default_value_t = 5)]
    fixed_duration: u64,
    /// Connections of the fixed-rate load generator.
    #[arg(long, default_value_t = 16)]
    fixed_connections: usize,
    /// Only targets whose name contains one of these (case-insensitive), e.g.
    /// `--only pingora --only two_factor`.
    #[arg(long)]
    only: Vec<String>,
    /// Sign-ins per second during the storm.
    #[arg(long, default_value_t = 20)]
    storm_sign_ins: u64,
    /// `two_factor` requests per second during the storm test.
    #[arg(long, default_value_t = 1000)]
    storm_rate: u64,
    /// Seconds of each storm phase (quiet, stormy).
    #[arg(long, default_value_t = 20)]
    storm_duration: u64,
    /// Accounts the storm signs in, in turn (made with `sekisho user add`).
    #[arg(long, default_value_t = 50)]
    storm_users: usize,
    /// Sessions for the memory measurement.
    #[arg(long, default_value_t = 100_000)]
    sessions: usize,
    /// Idle keep-alive connections for the memory measurement.
    #[arg(long, default_value_t = 10_000)]
    idle_connections: usize,
    /// Seconds of soak.
    #[arg(long, default_value_t = 300)]
    soak: u64,
    /// Seconds between RSS samples in the soak.
    #[arg(long, default_value_t = 5)]
    soak_interval: u64,
    /// Worker threads of every server (Sekisho `server.threads`, nginx
    /// `worker_processes`, Pingora threads, GOMAXPROCS).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Access logs on (Sekisho `log.access_log`, nginx buffered access_log).
    #[arg(long)]
    access_log: bool,
    /// Where `sekisho` and `bare-pingora` are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The markdown report (default: target/bench-results/report-<unix time>.md).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the work directory (configs, logs) after a successful run.
    #[arg(long)]
    keep: bool,
}

/// Everything the comparison measures, started once and stopped at the end.
struct Fleet {
    upstream: Server,
    _auth: Server,
    targets: Vec<Target>,
    notes: Vec<String>,
    _servers: Vec<Server>,
    _gateways: Vec<Sekisho>,
}

fn target(
    name: &str,
    s: &Server,
    path: &str,
    cookie: Option<&str>,
    pids: Vec<u32>,
    role: Role,
) -> Target {
    Target {
        name: name.into(),
        port: s.port,
        path: path.into(),
        headers: cookie.map(|c| format!("Cookie: {c}")).into_iter().collect(),
        cpu_pids: pids,
        role,
    }
}

/// The last line of an error (a failed start ends with the server's own message).
fn last_line(e: &str) -> &str {
    e.lines().last().unwrap_or(e)
}

/// Optional targets (Caddy, Traefik) that fail to start are skipped with a note, so
/// a broken or incompatible install does not cost the whole run.
fn fleet(lab: &Lab) -> Result<Fleet, String> {
    let upstream = lab.upstream()?;
    let auth = lab.auth_backend()?;
    let up = upstream.port;
    let mut targets = Vec::new();
    let mut notes = Vec::new();
    let mut servers = Vec::new();
    let bare = lab.bare_pingora(up, false)?;
    targets.push(target(
        "bare Pingora",
        &bare,
        "/",
        None,
        bare.pids(),
        Role::BarePingora,
    ));
    servers.push(bare);
    // The same with the upstream timeouts every Sekisho peer has: what they cost.
    let timed = lab.bare_pingora(up, true)?;
    targets.push(target(
        "bare Pingora + timeouts",
        &timed,
        "/",
        None,
        timed.pids(),
        Role::Other,
    ));
    servers.push(timed);
    let nginx = lab.nginx_proxy(up)?;
    targets.push(target(
        "nginx proxy",
        &nginx,
        "/",
        None,
        nginx.pids(),
        Role::Other,
    ));
    servers.push(nginx);
    let nginx_auth = lab.nginx_auth_request(up, auth.port)?;
    let pids = [nginx_auth.pids(), auth.pids()].concat();
    targets.push(target(
        "nginx + auth_request",
        &nginx_auth,
        "/",
        None,
        pids,
        Role::NginxAuth,
    ));
    servers.push(nginx_auth);
    match lab.caddy(up, auth.port) {
        Ok(Some(c)) => {
            let pids = [c.pids(), auth.pids()].concat();
            targets.push(target(
                "Caddy forward_auth",
                &c,
                "/",
                None,
                pids,
                Role::Other,
            ));
            servers.push(c);
        }
        Ok(None) => notes.push("Caddy skipped: no `caddy` binary (Debian package `caddy`).".into()),
        Err(e) => notes.push(format!(
            "Caddy skipped: it did not start: {}",
            last_line(&e)
        )),
    }
    match lab.traefik(up, auth.port) {
        Ok(Some(t)) => {
            let pids = [t.pids(), auth.pids()].concat();
            targets.push(target(
                "Traefik forwardAuth",
                &t,
                "/",
                None,
                pids,
                Role::Other,
            ));
            servers.push(t);
        }
        Ok(None) => notes.push("Traefik skipped: no `traefik` binary on PATH.".into()),
        Err(e) => notes.push(format!(
            "Traefik skipped: it did not start: {}",
            last_line(&e)
        )),
    }
    let redis = lab.redis()?;
    let mut gateways = Vec::new();
    for (label, store, extra) in [
        ("memory", Store::Memory, vec![]),
        (
            "Redis",
            Store::Redis(format!("redis://127.0.0.1:{}/0", redis.port)),
            redis.pids(),
        ),
    ] {
        eprintln!("starting Sekisho ({label} store), creating users, signing in");
        let g = lab.sekisho(&format!("sekisho-{}", label.to_lowercase()), &store, up)?;
        let pids = [g.server.pids(), extra].concat();
        for (route, path, cookie) in [
            ("bypass", "/bypass", None),
            ("one_factor", "/one", Some(g.plain_cookie.as_str())),
            ("two_factor", "/two", Some(g.mfa_cookie.as_str())),
        ] {
            let name = format!("Sekisho {label} {route}");
            targets.push(target(
                &name,
                &g.server,
                path,
                cookie,
                pids.clone(),
                Role::Other,
            ));
        }
        gateways.push(g);
    }
    servers.push(redis);
    Ok(Fleet {
        upstream,
        _auth: auth,
        targets,
        notes,
        _servers: servers,
        _gateways: gateways,
    })
}

fn run_compare(lab: &Lab, a: &Args) -> Result<String, String> {
    let mut f = fleet(lab)?;
    if !a.only.is_empty() {
        let wanted: Vec<String> = a.only.iter().map(|o| o.to_lowercase()).collect();
        f.targets.retain(|t| {
            t.role != Role::Other || wanted.iter().any(|w| t.name.to_lowercase().contains(w))
        });
    }
    let o = compare::Options {
        duration: Duration::from_secs(a.duration),
        warmup: Duration::from_secs(a.warmup),
        rounds: a.rounds.max(1),
        threads: a.wrk_threads.max(1),
        connections: a.connections.max(1),
        rate: a.rate,
        fixed_duration: Duration::from_secs(a.fixed_duration),
        fixed_connections: a.fixed_connections.max(1),
    };
    let results = compare::run(&f.targets, &o, f.upstream.port)?;
    let mut md = report::compare(&results, &o);
    for n in &f.notes {
        md.push_str(&format!("\n{n}\n"));
    }
    Ok(md)
}

fn run_storm(lab: &Lab, a: &Args) -> Result<String, String> {
    let upstream = lab.upstream()?;
    let redis = lab.redis()?;
    let o = storm::Options {
        sign_ins_per_sec: a.storm_sign_ins,
        traffic_rate: a.storm_rate,
        duration: Duration::from_secs(a.storm_duration),
        connections: a.fixed_connections.max(1),
        users: a.storm_users.max(1),
    };
    let mut results = Vec::new();
    for (label, store, extra) in [
        ("Sekisho memory", Store::Memory, vec![]),
        (
            "Sekisho Redis",
            Store::Redis(format!("redis://127.0.0.1:{}/0", redis.port)),
            redis.pids(),
        ),
    ] {
        let name = format!(
            "storm-{}",
            label.split(' ').nth(1).unwrap_or("x").to_lowercase()
        );
        let g = lab.sekisho(&name, &store, upstream.port)?;
        let pids = [g.server.pids(), extra].concat();
        results.push(storm::run(lab, label, &g, &pids, &o)?);
    }
    Ok(storm::report(&results, &o))
}

fn run_memory(lab: &Lab, a: &Args, soak: bool) -> Result<String, String> {
    let upstream = lab.upstream()?;
    let (mut sessions, mut idle, mut soaked) = (None, None, None);
    if !soak {
        eprintln!("memory: {} sessions in an in-process gateway", a.sessions);
        sessions = Some(memory::sessions(lab, upstream.port, a.sessions)?);
    }
    let name = if soak { "sekisho-soak" } else { "sekisho-idle" };
    let g = lab.sekisho(name, &Store::Memory, upstream.port)?;
    if soak {
        eprintln!("soak: {} s of two_factor traffic", a.soak);
        soaked = Some(memory::soak(
            &g,
            &g.server.pids(),
            a.connections.max(1),
            Duration::from_secs(a.soak.max(1)),
            Duration::from_secs(a.soak_interval.max(1)),
        )?);
    } else {
        eprintln!("memory: {} idle keep-alive connections", a.idle_connections);
        idle = Some(memory::idle_connections(&g, a.idle_connections)?);
    }
    Ok(memory::report(
        sessions.as_ref(),
        idle.as_ref(),
        soaked.as_ref(),
    ))
}

fn main() -> ExitCode {
    let a = Args::parse();
    sekisho_benches::children::stop_all_on_signal();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = std::env::temp_dir().join(format!("sekisho-bench-{stamp}-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let lab = Lab {
        dir: dir.clone(),
        bin_dir: a.bin_dir.clone(),
        access_log: a.access_log,
        threads: a.threads.max(1),
    };
    let modes: Vec<Mode> = if a.modes.contains(&Mode::All) {
        vec![Mode::Compare, Mode::Storm, Mode::Memory, Mode::Soak]
    } else {
        a.modes.clone()
    };
    let mut md = format!(
        "## Sekisho benchmark results\n\nCommand: `benches/run.sh {}`\n\nMachine: {}. Every server: {} worker thread(s), loopback only{}.\n\n",
        std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        report::machine(),
        lab.threads,
        if lab.access_log { ", access logs on" } else { ", access logs off" },
    );
    let mut failed = None;
    for m in modes {
        let section = match m {
            Mode::Compare => run_compare(&lab, &a),
            Mode::Storm => run_storm(&lab, &a),
            Mode::Memory => run_memory(&lab, &a, false),
            Mode::Soak => run_memory(&lab, &a, true),
            Mode::All => Ok(String::new()),
        };
        match section {
            Ok(s) => {
                md.push_str(&s);
                md.push('\n');
            }
            Err(e) => {
                failed = Some(format!("{m:?}: {e}"));
                break;
            }
        }
    }
    println!("{md}");
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("target/bench-results/report-{stamp}.md")));
    if let Some(parent) = out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match std::fs::write(&out, &md) {
        Ok(()) => eprintln!("report written to {}", out.display()),
        Err(e) => eprintln!("warning: report not written to {}: {e}", out.display()),
    }
    match failed {
        Some(e) => {
            eprintln!("error: {e}\nconfigs and logs kept in {}", dir.display());
            ExitCode::FAILURE
        }
        None => {
            if !a.keep {
                let _ = std::fs::remove_dir_all(&dir);
            }
            ExitCode::SUCCESS
        }
    }
}
