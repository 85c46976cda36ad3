//! The shipped Grafana dashboard (`deploy/grafana/sekisho.json`) and alert rules
//! (`deploy/prometheus/alerts.yml`) may only use series a running gateway exports,
//! grouped by labels those series have; and the README's metrics section names every
//! series. A typo in any of them fails here instead of in an operator's empty panel.
//!
//! Where `promtool` is installed (Debian: `prometheus`), the rules and every
//! dashboard expression are also parsed by Prometheus itself.
use super::{counted, scrape};
use crate::harness::{block_on, client, Store, TestGateway};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// Every identifier in a PromQL expression, with the byte offset after it.
fn identifiers(expr: &str) -> Vec<(&str, usize)> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' {
            in_string = !in_string;
            i += 1;
        } else if !in_string && (b.is_ascii_alphabetic() || b == b'_') {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            out.push((&expr[start..i], i));
        } else {
            i += 1;
        }
    }
    out
}

/// The `sekisho_*` metric names an expression reads.
fn metric_names(expr: &str) -> BTreeSet<String> {
    identifiers(expr)
        .into_iter()
        .filter(|(id, _)| id.starts_with("sekisho_"))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// Labels named in `by (…)`, `without (…)`, `on (…)` and `ignoring (…)`.
fn grouping_labels(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (id, end) in identifiers(expr) {
        if !matches!(id, "by" | "without" | "on" | "ignoring") {
            continue;
        }
        let rest = expr[end..].trim_start();
        if let Some(list) = rest.strip_prefix('(').and_then(|r| r.split(')').next()) {
            out.extend(
                list.split(',')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string),
            );
        }
    }
    out
}

/// Series names and label names in an exposition.
fn exported(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        names.insert(line[..name_end].to_string());
        if let Some(inner) = line[name_end..]
            .strip_prefix('{')
            .and_then(|r| r.split('}').next())
        {
            labels.extend(
                inner
                    .split("\",")
                    .filter_map(|pair| pair.split('=').next())
                    .map(|l| l.trim().to_string()),
            );
        }
    }
    (names, labels)
}

/// Every PromQL string in the dashboard: panel targets and variable queries.
fn dashboard_queries(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "definition" | "query", serde_json::Value::String(s)) => {
                        out.push(s.clone())
                    }
                    _ => dashboard_queries(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| dashboard_queries(i, out)),
        _ => {}
    }
}

fn check_dashboard(d: &serde_json::Value) {
    let input = &d["__inputs"][0];
    assert_eq!(input["type"], "datasource");
    assert_eq!(input["pluginId"], "prometheus");
    assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 36));
    assert_eq!(d["title"], "Sekisho");
    assert!(!d["uid"].as_str().unwrap_or("").is_empty());
    let panels = d["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    let mut cells: BTreeMap<(u64, u64), String> = BTreeMap::new();
    for p in panels {
        let title = p["title"].as_str().unwrap().to_string();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "duplicate id: {title}"
        );
        let g = &p["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| g[k].as_u64().unwrap());
        assert!(x + w <= 24 && w > 0 && h > 0, "{title} fits the grid");
        for cx in x..x + w {
            for cy in y..y + h {
                if let Some(other) = cells.insert((cx, cy), title.clone()) {
                    panic!("{title} overlaps {other}");
                }
            }
        }
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title} has queries");
        for t in targets {
            assert!(!t["expr"].as_str().unwrap_or("").is_empty(), "{title}");
            assert_eq!(t["datasource"]["uid"], "${DS_PROMETHEUS}", "{title}");
        }
    }
}

/// The rules as (alert, expr), after checking each has what on-call needs.
fn check_alerts(rules: &serde_yaml::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        assert!(group["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("sekisho-")));
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().unwrap().to_string();
            assert!(rule["for"].as_str().is_some(), "{name}: for");
            let severity = rule["labels"]["severity"].as_str().unwrap_or("");
            assert!(
                matches!(severity, "critical" | "warning" | "info"),
                "{name}: severity {severity:?}"
            );
            assert!(
                rule["annotations"]["summary"].as_str().is_some(),
                "{name}: summary"
            );
            assert!(!out.iter().any(|(n, _)| *n == name), "{name} twice");
            out.push((name, rule["expr"].as_str().unwrap().to_string()));
        }
    }
    out
}

/// `promtool`, when installed.
fn promtool() -> Option<std::process::Command> {
    let ok = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| std::process::Command::new("promtool"))
}

fn promtool_check_rules(file: &std::path::Path) {
    if let Some(mut cmd) = promtool() {
        let out = cmd.args(["check", "rules"]).arg(file).output().unwrap();
        assert!(
            out.status.success(),
            "promtool check rules {}:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn dashboard_and_alerts_use_only_exported_series() {
    let gw = TestGateway::start(Store::Memory);
    let text = block_on(async {
        let c = client();
        c.get(gw.url("/public/x")).send().await.unwrap();
        counted(&gw, 1.0).await;
        // The adoption gauges appear after the rollout job's first refresh.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = scrape(&gw).await;
            if text.contains("sekisho_mfa_users_total{") || Instant::now() > deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let (names, labels) = exported(&text);
    let dashboard_path = repo_file("deploy/grafana/sekisho.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&dashboard_path).unwrap()).unwrap();
    check_dashboard(&dashboard);
    let mut queries = Vec::new();
    dashboard_queries(&dashboard, &mut queries);
    let alerts_path = repo_file("deploy/prometheus/alerts.yml");
    let rules: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&alerts_path).unwrap()).unwrap();
    let alerts = check_alerts(&rules);
    assert!(
        alerts
            .iter()
            .any(|(_, e)| e.contains("up{") && e.contains("== 0")),
        "an alert for a gateway that is down"
    );

    let mut used = BTreeMap::<&str, BTreeSet<String>>::new();
    let sources = queries
        .iter()
        .map(|q| ("dashboard", q.as_str()))
        .chain(alerts.iter().map(|(_, e)| ("alerts", e.as_str())));
    for (source, expr) in sources {
        for name in metric_names(expr) {
            assert!(
                names.contains(&name),
                "{source}: `{name}` is not exported by the gateway (in `{expr}`)"
            );
            used.entry(source).or_default().insert(name);
        }
        for label in grouping_labels(expr) {
            assert!(
                labels.contains(&label) || matches!(label.as_str(), "job" | "instance"),
                "{source}: no series has the label `{label}` (in `{expr}`)"
            );
        }
    }
    let uses = |source: &str, family: &str| {
        used.get(source)
            .is_some_and(|s| s.iter().any(|n| n.starts_with(family)))
    };
    for family in [
        "sekisho_requests_total",
        "sekisho_request_duration_seconds",
        "sekisho_upstream_duration_seconds",
        "sekisho_upstream_errors_total",
        "sekisho_upstream_healthy",
        "sekisho_upstream_retries_total",
        "sekisho_upstream_ejections_total",
        "sekisho_auth_attempts_total",
        "sekisho_lockouts_total",
        "sekisho_rate_limited_total",
        "sekisho_sessions_created_total",
        "sekisho_sessions_ended_total",
        "sekisho_store_operations_total",
        "sekisho_store_operation_duration_seconds",
        "sekisho_mfa_users",
        "sekisho_notifications_total",
    ] {
        assert!(uses("dashboard", family), "the dashboard shows {family}");
    }
    for family in [
        "sekisho_requests_total",
        "sekisho_upstream_errors_total",
        "sekisho_upstream_healthy",
        "sekisho_auth_attempts_total",
        "sekisho_lockouts_total",
        "sekisho_store_operations_total",
        "sekisho_notifications_total",
    ] {
        assert!(uses("alerts", family), "an alert watches {family}");
    }

    // The README documents every series family the gateway exports.
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    for family in text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
    {
        assert!(
            readme.contains(&format!("`{family}")),
            "README.md does not document {family}"
        );
    }

    promtool_check_rules(&alerts_path);
    if promtool().is_some() {
        // Prometheus parses every dashboard query too, as recording rules with
        // Grafana's variables filled in.
        let dir = tempfile::tempdir().unwrap();
        let rules: Vec<String> = queries
            .iter()
            .filter(|q| !q.starts_with("label_values("))
            .enumerate()
            .map(|(i, q)| {
                let expr = q.replace("$__rate_interval", "5m").replace("$site", ".*");
                format!(
                    "      - record: sekisho:dashboard_query_{i}\n        expr: {}\n",
                    serde_json::to_string(&expr).unwrap()
                )
            })
            .collect();
        let file = dir.path().join("dashboard.yml");
        std::fs::write(
            &file,
            format!(
                "groups:\n  - name: dashboard\n    rules:\n{}",
                rules.concat()
            ),
        )
        .unwrap();
        promtool_check_rules(&file);
    }
}

#[test]
fn promql_scanning() {
    let expr = r#"sum by (site, kind) (rate(sekisho_upstream_errors_total{site=~"sekisho_x"}[5m])) / on(group) sekisho_mfa_users_by_method"#;
    assert_eq!(
        metric_names(expr).into_iter().collect::<Vec<_>>(),
        [
            "sekisho_mfa_users_by_method",
            "sekisho_upstream_errors_total"
        ]
    );
    assert_eq!(
        grouping_labels(expr).into_iter().collect::<Vec<_>>(),
        ["group", "kind", "site"]
    );
    let (names, labels) =
        exported("# TYPE a counter\na_total{x=\"1\",y=\"b,c\"} 1\nb_bucket{le=\"+Inf\"} 2\nc 3\n");
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["a_total", "b_bucket", "c"]
    );
    assert_eq!(labels.into_iter().collect::<Vec<_>>(), ["le", "x", "y"]);
}

/// The systemd unit reloads with SIGHUP after a check, runs `sekisho run`, hands
/// secrets over only as `*_FILE` variables the configuration reads, and keeps its
/// hardening; the operator guide covers what the issue asks for.
#[test]
fn systemd_unit_and_operator_guide() {
    let unit = std::fs::read_to_string(repo_file("deploy/systemd/sekisho.service")).unwrap();
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        values("ExecReload"),
        [
            "/usr/local/bin/sekisho check-config --config /etc/sekisho/sekisho.toml",
            "/bin/kill -HUP $MAINPID"
        ]
    );
    assert!(values("ExecStart")[0].contains("sekisho run --config /etc/sekisho/sekisho.toml"));
    for (key, want) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("DynamicUser", "yes"),
        ("PrivateTmp", "yes"),
        ("UMask", "0077"),
    ] {
        assert_eq!(values(key), [want], "{key}");
    }
    // The production config's upgrade socket lives in the unit's runtime directory
    // (PrivateTmp would hide a /tmp one from the process taking over).
    let production = std::fs::read_to_string(repo_file("deploy/sekisho.production.toml")).unwrap();
    let runtime_dir = values("RuntimeDirectory");
    assert_eq!(runtime_dir.len(), 1);
    assert!(
        production.contains(&format!(
            "upgrade_sock = \"/run/{}/upgrade.sock\"",
            runtime_dir[0]
        )),
        "upgrade_sock under RuntimeDirectory"
    );
    let known = [
        "SEKISHO_SECRET_KEY_FILE",
        "SEKISHO_ENCRYPTION_KEY_FILE",
        "SEKISHO_DATABASE_URL_FILE",
        "SEKISHO_SESSION_STORE_FILE",
    ];
    for env in values("Environment") {
        let name = env.split('=').next().unwrap();
        assert!(known.contains(&name), "the configuration reads {name}");
    }
    let config = std::fs::read_to_string(repo_file("config/src/load.rs")).unwrap()
        + &std::fs::read_to_string(repo_file("config/src/model.rs")).unwrap();
    for name in known {
        let base = name.trim_end_matches("_FILE");
        assert!(
            config.contains(&format!("\"{base}\"")),
            "{base} is read by the config"
        );
    }

    let guide = std::fs::read_to_string(repo_file("docs/operations.md")).unwrap();
    for topic in [
        "## 1. Install",
        "## 2. The first administrator",
        "## 4. Backups",
        "## 5. Key rotation",
        "## 6. Upgrades",
        "## 7. Scaling out",
    ] {
        assert!(guide.contains(topic), "the guide covers {topic}");
    }
}
