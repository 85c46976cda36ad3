//! Real Redis topologies on ephemeral loopback ports: a Cluster of three masters
//! ([`RedisCluster`]) and a master, a replica and a sentinel ([`RedisSentinel`]).
//! Every process is killed by its own PID when the guard is dropped.
use crate::free_port;
use crate::redis::{answers, spawn_server};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Processes killed (by PID) on drop.
struct Processes(Mutex<Vec<Child>>);

impl Processes {
    fn push(&self, c: Child) {
        self.0.lock().unwrap().push(c);
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        if let Ok(mut all) = self.0.lock() {
            for c in all.iter_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli is not installed: run scripts/install-deps.sh");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} within {timeout:?}");
}

fn wait_answering(port: u16) {
    wait_for(
        &format!("redis-server on port {port} did not answer"),
        Duration::from_secs(5),
        || answers(port),
    );
}

/// Three cluster-enabled masters holding all 16384 slots.
pub struct RedisCluster {
    pub ports: Vec<u16>,
    _processes: Processes,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let processes = Processes(Mutex::new(Vec::new()));
        let mut ports = Vec::new();
        for i in 0..3 {
            let port = free_port();
            // The bus port is chosen too: port + 10000 may be taken or out of range.
            let bus = free_port().to_string();
            let node_dir = dir.path().join(format!("n{i}"));
            std::fs::create_dir(&node_dir).unwrap();
            let extra: Vec<String> = [
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &bus,
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--appendonly",
                "no",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            processes.push(spawn_server(port, &node_dir, &extra));
            ports.push(port);
        }
        for p in &ports {
            wait_answering(*p);
        }
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(nodes.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = Command::new("redis-cli")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli is not installed: run scripts/install-deps.sh");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for p in &ports {
            wait_for(
                "the cluster did not reach cluster_state:ok",
                Duration::from_secs(20),
                || cli(*p, &["CLUSTER", "INFO"]).contains("cluster_state:ok"),
            );
        }
        Self {
            ports,
            _processes: processes,
            _dir: dir,
        }
    }

    /// `host:port` of every master.
    pub fn nodes(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect()
    }

    /// How many keys each master holds (to see that keys spread over the slots).
    pub fn key_counts(&self) -> Vec<u64> {
        self.ports
            .iter()
            .map(|p| cli(*p, &["DBSIZE"]).trim().parse().unwrap_or(0))
            .collect()
    }
}

/// A master, one replica of it and one sentinel watching them as `mymaster`.
pub struct RedisSentinel {
    pub master_port: u16,
    pub replica_port: u16,
    pub sentinel_port: u16,
    _processes: Processes,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    pub const MASTER: &'static str = "mymaster";

    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let processes = Processes(Mutex::new(Vec::new()));
        let (master_port, replica_port, sentinel_port) = (free_port(), free_port(), free_port());
        for (port, name) in [(master_port, "m"), (replica_port, "r")] {
            let d = dir.path().join(name);
            std::fs::create_dir(&d).unwrap();
            let mut extra = vec!["--appendonly".to_string(), "no".to_string()];
            if port == replica_port {
                extra.extend([
                    "--replicaof".to_string(),
                    "127.0.0.1".to_string(),
                    master_port.to_string(),
                ]);
            }
            processes.push(spawn_server(port, &d, &extra));
        }
        wait_answering(master_port);
        wait_answering(replica_port);
        wait_for("the replica did not sync", Duration::from_secs(10), || {
            cli(replica_port, &["INFO", "replication"]).contains("master_link_status:up")
        });
        processes.push(spawn_sentinel(dir.path(), sentinel_port, master_port));
        wait_answering(sentinel_port);
        wait_for(
            "the sentinel did not find the replica",
            Duration::from_secs(15),
            || {
                cli(sentinel_port, &["SENTINEL", "REPLICAS", Self::MASTER])
                    .contains(&replica_port.to_string())
            },
        );
        Self {
            master_port,
            replica_port,
            sentinel_port,
            _processes: processes,
            _dir: dir,
        }
    }

    /// `host:port` of the sentinel.
    pub fn sentinel_node(&self) -> String {
        format!("127.0.0.1:{}", self.sentinel_port)
    }

    /// The port the sentinel currently names as master.
    pub fn current_master(&self) -> u16 {
        let out = cli(
            self.sentinel_port,
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self::MASTER],
        );
        out.lines()
            .nth(1)
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Promotes the replica (`SENTINEL FAILOVER`) and waits until the sentinel names
    /// it and it accepts writes; returns the new master's port.
    pub fn failover(&self) -> u16 {
        let old = self.current_master();
        wait_for(
            "SENTINEL FAILOVER was refused",
            Duration::from_secs(20),
            || cli(self.sentinel_port, &["SENTINEL", "FAILOVER", Self::MASTER]).starts_with("OK"),
        );
        let mut new = 0;
        wait_for(
            "the failover did not finish",
            Duration::from_secs(30),
            || {
                new = self.current_master();
                new != old && new != 0 && cli(new, &["ROLE"]).starts_with("master")
            },
        );
        new
    }
}

fn spawn_sentinel(dir: &Path, port: u16, master_port: u16) -> Child {
    let conf = dir.join("sentinel.conf");
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndir {}\n\
             sentinel monitor {m} 127.0.0.1 {master_port} 1\n\
             sentinel down-after-milliseconds {m} 1000\n\
             sentinel failover-timeout {m} 5000\n\
             sentinel parallel-syncs {m} 1\n",
            dir.display(),
            m = RedisSentinel::MASTER,
        ),
    )
    .unwrap();
    Command::new("redis-server")
        .arg(&conf)
        .arg("--sentinel")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server is not installed: run scripts/install-deps.sh")
}
