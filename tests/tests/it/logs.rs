//! Captures every log line the gateway writes in this test process, at debug level
//! for Sekisho's crates, so tests can assert on what reached the logs (and what not).
use std::io::Write;
use std::sync::{Mutex, Once, OnceLock};

static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
static INIT: Once = Once::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = LOGS.get_or_init(Mutex::default).lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init() {
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::new(
            "info,sekisho_gateway=trace,sekisho_login_ui=trace,sekisho_auth=trace,sekisho_notify=trace",
        );
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(|| Capture)
            .with_ansi(false)
            .try_init();
    });
}

pub fn captured() -> String {
    LOGS.get_or_init(Mutex::default)
        .lock()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default()
}
