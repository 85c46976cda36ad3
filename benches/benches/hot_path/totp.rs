//! TOTP verification with the gateway's verifier (`sekisho_auth::mfa::verify_totp`):
//! a current code, a code one step late, and a wrong code (which tries the whole
//! drift window, ±10 steps by default: the worst case).
use criterion::{BenchmarkId, Criterion};
use sekisho_auth::mfa::{totp_code_at, verify_totp, TotpCheck, TotpParams, TotpSecret};
use std::hint::black_box;

pub fn bench(c: &mut Criterion) {
    let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap();
    let p = TotpParams::default();
    let now = 1_800_000_000;
    let current = totp_code_at(&secret, now, &p).to_string();
    let late = totp_code_at(&secret, now - 30, &p).to_string();
    let wrong = ["000000", "111111", "222222", "333333"]
        .into_iter()
        .find(|c| verify_totp(&secret, c, now, &p) == TotpCheck::Invalid)
        .unwrap()
        .to_string();
    assert!(matches!(
        verify_totp(&secret, &current, now, &p),
        TotpCheck::Valid { .. }
    ));
    assert!(matches!(
        verify_totp(&secret, &late, now, &p),
        TotpCheck::Valid { .. }
    ));
    let mut g = c.benchmark_group("totp_verify");
    for (name, code) in [
        ("current", &current),
        ("one_step_late", &late),
        ("wrong_full_window", &wrong),
    ] {
        g.bench_with_input(BenchmarkId::from_parameter(name), code, |b, code| {
            b.iter(|| verify_totp(black_box(&secret), black_box(code), now, &p))
        });
    }
    g.finish();
}
