use super::*;

#[test]
fn buckets_are_contiguous_and_ordered() {
    for v in [
        0u64,
        1,
        255,
        256,
        257,
        511,
        512,
        1000,
        123_456_789,
        u64::MAX / 3,
        u64::MAX,
    ] {
        let i = index(v);
        assert!(i < BUCKETS, "{v} -> {i}");
        assert!(upper(i) >= v, "{v} above its bucket's edge {}", upper(i));
        if i > 0 {
            assert!(upper(i - 1) < v, "{v} also fits bucket {}", i - 1);
        }
    }
}

#[test]
fn relative_error_is_below_one_percent() {
    for v in (1..2_000_000u64).step_by(997) {
        let u = upper(index(v));
        assert!((u - v) as f64 <= v as f64 / 128.0, "{v} kept as {u}");
    }
}

#[test]
fn percentiles_of_a_uniform_run() {
    let mut h = Histogram::new();
    for v in 1..=100_000u64 {
        h.record(v);
    }
    assert_eq!(h.count(), 100_000);
    for (p, want) in [(50.0, 50_000.0), (99.0, 99_000.0), (99.9, 99_900.0)] {
        let got = h.percentile(p) as f64;
        assert!((got - want).abs() / want < 0.01, "p{p}: {got} vs {want}");
    }
    assert_eq!(h.percentile(100.0), 100_000);
    assert_eq!(h.min(), 1);
    assert!((h.mean() - 50_000.5).abs() < 1e-6);
}

#[test]
fn merging_adds_up() {
    let mut a = Histogram::new();
    let mut b = Histogram::new();
    a.record(10);
    b.record(1_000_000);
    b.record(20);
    a.merge(&b);
    assert_eq!(a.count(), 3);
    assert_eq!((a.min(), a.max()), (10, 1_000_000));
    assert_eq!(a.percentile(50.0), 20);
    assert_eq!(Histogram::new().percentile(99.0), 0);
}
