//! Sign-in storm isolation: proxied `two_factor` traffic at a fixed rate, measured
//! once on a quiet gateway and once while real sign-ins arrive at a steady rate
//! (sign-in form with its CSRF cookie and token, then the POST that runs the
//! argon2id check and makes a session). The budget: p99 under the storm within 2×
//! of the quiet p99, because password hashing runs on its own bounded pool.
use crate::histogram::Histogram;
use crate::loadgen::{self, FixedRate, LoadResult};
use crate::procfs::{ticks_to_us, tree_cpu_ticks};
use crate::report::{num, table};
use crate::sekisho::{client, sign_in, Sekisho, PASSWORD};
use crate::servers::Lab;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub sign_ins_per_sec: u64,
    pub traffic_rate: u64,
    pub duration: Duration,
    pub connections: usize,
    /// Distinct accounts signing in, taken in turn. One account signed in many times
    /// at once from one address would trip the lockout's per-pair attempt budget
    /// (more than 5 concurrent attempts are refused as parallel guesses).
    pub users: usize,
}

fn storm_user(i: usize) -> String {
    format!("storm{i}@bench.test")
}

#[derive(Debug)]
pub struct StormResult {
    pub name: String,
    pub quiet: LoadResult,
    pub stormy: LoadResult,
    pub sign_ins_ok: u64,
    pub sign_ins_failed: u64,
    pub first_failure: Option<String>,
    /// Sign-in (form + POST) latency in microseconds.
    pub sign_in_latency: Histogram,
    pub cpu_us_quiet: f64,
    pub cpu_us_stormy: f64,
}

fn traffic(g: &Sekisho, o: &Options) -> FixedRate {
    FixedRate {
        addr: g.server.addr(),
        path: "/two".into(),
        headers: vec![format!("Cookie: {}", g.mfa_cookie)],
        rate: o.traffic_rate,
        duration: o.duration,
        connections: o.connections,
    }
}

/// Quiet run, then the same traffic with the storm; `cpu_pids` are charged for CPU.
pub fn run(
    lab: &Lab,
    name: &str,
    g: &Sekisho,
    cpu_pids: &[u32],
    o: &Options,
) -> Result<StormResult, String> {
    eprintln!("storm {name}: creating {} users", o.users);
    for i in 0..o.users.max(1) {
        lab.user_add(&g.config, &storm_user(i), &format!("Storm User {i}"))?;
    }
    let spec = traffic(g, o);
    let cpu0 = tree_cpu_ticks(cpu_pids);
    let quiet = loadgen::run(&spec);
    let cpu1 = tree_cpu_ticks(cpu_pids);
    eprintln!(
        "storm {name}: quiet p99 {:.0} us ({} ok, {} errors)",
        quiet.latency.percentile(99.0) as f64 / 1e3,
        quiet.ok,
        quiet.errors
    );

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let base = g.base();
    let storm = {
        let (ok, failed, o) = (Arc::clone(&ok), Arc::clone(&failed), *o);
        std::thread::spawn(move || sign_in_storm(&base, &o, &ok, &failed))
    };
    let cpu2 = tree_cpu_ticks(cpu_pids);
    let stormy = loadgen::run(&spec);
    let cpu3 = tree_cpu_ticks(cpu_pids);
    let (sign_in_latency, first_failure) = storm
        .join()
        .map_err(|_| "the storm thread panicked".to_string())??;
    let r = StormResult {
        name: name.to_string(),
        cpu_us_quiet: ticks_to_us(cpu1.saturating_sub(cpu0)) / quiet.ok.max(1) as f64,
        cpu_us_stormy: ticks_to_us(cpu3.saturating_sub(cpu2)) / stormy.ok.max(1) as f64,
        quiet,
        stormy,
        sign_ins_ok: ok.load(Ordering::Relaxed),
        sign_ins_failed: failed.load(Ordering::Relaxed),
        first_failure,
        sign_in_latency,
    };
    eprintln!(
        "storm {name}: stormy p99 {:.0} us, {} sign-ins ({} failed)",
        r.stormy.latency.percentile(99.0) as f64 / 1e3,
        r.sign_ins_ok,
        r.sign_ins_failed
    );
    Ok(r)
}

/// Starts one sign-in every `1 / rate` seconds for the run's duration (open loop: a
/// slow gateway gets more of them in flight, not fewer).
fn sign_in_storm(
    base: &str,
    o: &Options,
    ok: &AtomicU64,
    failed: &AtomicU64,
) -> Result<(Histogram, Option<String>), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let c = client()?;
        let every = Duration::from_secs_f64(1.0 / o.sign_ins_per_sec.max(1) as f64);
        let mut tick = tokio::time::interval(every);
        let end = Instant::now() + o.duration;
        let mut tasks = Vec::new();
        while Instant::now() < end {
            tick.tick().await;
            let (c, base) = (c.clone(), base.to_string());
            let user = storm_user(tasks.len() % o.users.max(1));
            tasks.push(tokio::spawn(async move {
                let t0 = Instant::now();
                let r = sign_in(&c, &base, &user, PASSWORD, "/one").await;
                (t0.elapsed(), r.map(|_| ()))
            }));
        }
        let mut h = Histogram::new();
        let mut first = None;
        for t in tasks {
            match t.await {
                Ok((took, Ok(()))) => {
                    ok.fetch_add(1, Ordering::Relaxed);
                    h.record(took.as_micros() as u64);
                }
                Ok((_, Err(e))) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    first.get_or_insert(e);
                }
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    first.get_or_insert(e.to_string());
                }
            }
        }
        Ok((h, first))
    })
}

/// The storm section.
pub fn report(results: &[StormResult], o: &Options) -> String {
    let ms = |h: &Histogram, p: f64| num(Some(h.percentile(p) as f64 / 1e6), 2);
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            let q = r.quiet.latency.percentile(99.0) as f64;
            let s = r.stormy.latency.percentile(99.0) as f64;
            let x = s / q.max(1.0);
            vec![
                r.name.clone(),
                ms(&r.quiet.latency, 50.0),
                ms(&r.quiet.latency, 99.0),
                ms(&r.stormy.latency, 50.0),
                ms(&r.stormy.latency, 99.0),
                ms(&r.stormy.latency, 99.9),
                format!(
                    "{x:.2}× ({})",
                    if x <= 2.0 { "within 2×" } else { "OVER 2×" }
                ),
                format!(
                    "{:.1}",
                    r.sign_ins_ok as f64 / o.duration.as_secs_f64().max(1e-9)
                ),
                num(Some(r.sign_in_latency.percentile(50.0) as f64 / 1e3), 1),
                num(Some(r.sign_in_latency.percentile(99.0) as f64 / 1e3), 1),
                match &r.first_failure {
                    Some(e) => format!("{} ({e})", r.sign_ins_failed),
                    None => r.sign_ins_failed.to_string(),
                },
                format!("{} / {}", r.quiet.errors, r.stormy.errors),
                format!("{:.1} / {:.1}", r.cpu_us_quiet, r.cpu_us_stormy),
            ]
        })
        .collect();
    let mut out = format!(
        "### Sign-in storm ({} sign-ins/s with the production argon2id parameters, `two_factor` traffic at {} req/s open loop, {} s each)\n\n",
        o.sign_ins_per_sec,
        o.traffic_rate,
        o.duration.as_secs()
    );
    out.push_str(&table(
        &[
            "gateway",
            "quiet p50 ms",
            "quiet p99 ms",
            "storm p50 ms",
            "storm p99 ms",
            "storm p99.9 ms",
            "p99 storm / quiet (budget 2×)",
            "sign-ins/s done",
            "sign-in p50 ms",
            "sign-in p99 ms",
            "sign-ins failed",
            "traffic errors quiet / storm",
            "CPU µs per proxied req quiet / storm",
        ],
        &rows,
    ));
    out.push_str(
        "\nEach sign-in loads the form (CSRF cookie + token) and posts it (accounts in turn); the gateway checks \
         the argon2id hash on its password pool and creates a session. CPU per proxied request \
         under the storm includes the sign-ins' CPU.\n",
    );
    out
}
