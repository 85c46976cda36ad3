use super::*;

fn settings(queue: usize) -> PasswordSettings {
    PasswordSettings {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 1,
        thread_priority: HashThreadPriority::Idle,
        queue,
        min_length: 10,
        self_service_reset: true,
        reset_link_ttl: std::time::Duration::from_secs(1800),
    }
}

#[tokio::test]
async fn hash_and_verify_round_trip() {
    let h = PasswordHasher::new(&settings(8)).unwrap();
    let hash = h
        .hash(PasswordInput::new("correct horse".into()))
        .await
        .unwrap();
    assert!(hash.as_phc().starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    assert!(h
        .verify(PasswordInput::new("correct horse".into()), Some(&hash))
        .await
        .unwrap());
    assert!(!h
        .verify(PasswordInput::new("wrong horse!".into()), Some(&hash))
        .await
        .unwrap());
    // Unknown user: full cost, always false.
    assert!(!h
        .verify(
            PasswordInput::new("sekisho-dummy-password-for-timing".into()),
            None
        )
        .await
        .unwrap());
}

#[tokio::test]
async fn policy_and_debug_redaction() {
    let h = PasswordHasher::new(&settings(8)).unwrap();
    assert!(matches!(
        h.hash(PasswordInput::new("short".into())).await,
        Err(AuthError::PasswordTooShort(10))
    ));
    assert!(matches!(
        h.check_policy(&PasswordInput::new("x".repeat(2000))),
        Err(AuthError::PasswordTooLong)
    ));
    let input = PasswordInput::new("my secret pw".into());
    assert!(!format!("{input:?}").contains("secret"));
    let hash = h.hash_blocking(&input).unwrap();
    assert!(!format!("{hash:?}").contains("argon2"));
    assert!(PasswordHash::from_phc("nope".into()).is_err());
    assert!(PasswordHash::from_phc(hash.as_phc().to_string()).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_busy_instead_of_piling_up() {
    // One worker, queue of one: a burst must see HasherBusy for some requests.
    let mut s = settings(1);
    s.memory_kib = 8192;
    s.iterations = 3;
    let h = PasswordHasher::new(&s).unwrap();
    let hash = h
        .hash_blocking(&PasswordInput::new("0123456789".into()))
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let h = Arc::clone(&h);
        let hash = hash.clone();
        tasks.push(tokio::spawn(async move {
            h.verify(PasswordInput::new("0123456789".into()), Some(&hash))
                .await
        }));
    }
    let mut busy = 0;
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(true) => ok += 1,
            Err(AuthError::HasherBusy) => busy += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(ok >= 1, "some verifications succeed");
    assert!(
        busy >= 1,
        "a burst beyond the queue is refused, not queued forever"
    );
}

/// `(nice, policy)` of this process's threads named `sekisho-hash-*`, from
/// `/proc/self/task/*/stat` (fields 19 and 41).
fn hashing_thread_schedules() -> Vec<(i64, u32)> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with("sekisho-hash-") {
            continue;
        }
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        found.push((rest[16].parse().unwrap(), rest[38].parse().unwrap()));
    }
    found
}

#[test]
fn hashing_threads_run_below_the_proxy_workers() {
    const SCHED_BATCH: u32 = 3;
    const SCHED_IDLE: u32 = 5;
    let _idle = PasswordHasher::new(&settings(8)).unwrap();
    let _low = PasswordHasher::new(&PasswordSettings {
        max_concurrent: 3,
        thread_priority: HashThreadPriority::Low,
        ..settings(8)
    })
    .unwrap();
    // Each thread lowers its own priority as it starts.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let threads = hashing_thread_schedules();
        let low = threads.iter().filter(|t| **t == (19, SCHED_BATCH)).count();
        let idle = threads.iter().filter(|t| t.1 == SCHED_IDLE).count();
        // Only this test asks for `low`; the others' hashers are `idle` like `_idle`.
        if low >= 3 && idle >= 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "hashing threads (nice, policy): {threads:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
