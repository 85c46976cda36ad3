//! The process's log subscriber, from `[log]`: text or JSON lines on stderr, filtered
//! by `[log] level` unless `SEKISHO_LOG` is set (then that wins, so an operator can
//! turn on debug logs without editing the file).
//!
//! JSON lines carry the event's fields at the top level beside `timestamp`, `level`
//! and `target`, so a pipeline can index `request_id` or `status` directly.
use sekisho_config::{LogFormat, LogSettings};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub const ENV: &str = "SEKISHO_LOG";

/// The filter to use, and a complaint about the one that could not be used.
fn filter(settings: &LogSettings, env: Option<String>) -> (EnvFilter, Option<String>) {
    if let Some(v) = env.filter(|v| !v.trim().is_empty()) {
        match EnvFilter::try_new(&v) {
            Ok(f) => return (f, None),
            Err(e) => {
                let complaint = format!("{ENV}={v:?} is not a log filter ({e}); using [log] level");
                return (config_filter(settings), Some(complaint));
            }
        }
    }
    (config_filter(settings), None)
}

fn config_filter(settings: &LogSettings) -> EnvFilter {
    // `[log] level` was checked when the config was loaded.
    EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// A subscriber for `settings` writing to `writer`; `force_json` is `--log-json`.
pub fn subscriber<W>(
    settings: &LogSettings,
    force_json: bool,
    env: Option<String>,
    writer: W,
) -> (Box<dyn tracing::Subscriber + Send + Sync>, Option<String>)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let (filter, complaint) = filter(settings, env);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let sub: Box<dyn tracing::Subscriber + Send + Sync> =
        if force_json || settings.format == LogFormat::Json {
            Box::new(
                builder
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .finish(),
            )
        } else {
            Box::new(builder.with_ansi(false).finish())
        };
    (sub, complaint)
}

/// Installs the process-wide subscriber on stderr. Call once, first thing.
pub fn init(settings: &LogSettings, force_json: bool) {
    let env = std::env::var(ENV).ok();
    let (sub, complaint) = subscriber(settings, force_json, env, std::io::stderr);
    if tracing::subscriber::set_global_default(sub).is_ok() {
        if let Some(c) = complaint {
            tracing::warn!("{c}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access_log::{AccessRecord, TARGET};
    use crate::metrics::Route;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn record() -> AccessRecord<'static> {
        AccessRecord {
            request_id: "rid-1",
            method: "GET",
            host: "app.example.com",
            path: "/members/list",
            status: 200,
            duration: std::time::Duration::from_micros(1_234),
            action: Route::OneFactor,
            site: "app.example.com",
            upstream_status: Some(200),
            user: Some("u-42"),
            client_ip: "203.0.113.9".parse().unwrap(),
        }
    }

    fn logged(settings: &LogSettings, env: Option<&str>) -> String {
        let buf = Buf::default();
        let out = buf.clone();
        let (sub, _) = subscriber(settings, false, env.map(str::to_string), move || {
            out.clone()
        });
        tracing::subscriber::with_default(sub, || crate::access_log::write(&record()));
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn json_lines_carry_the_access_fields_at_the_top_level() {
        let settings = LogSettings {
            format: LogFormat::Json,
            ..LogSettings::default()
        };
        let text = logged(&settings, None);
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["target"], TARGET);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["request_id"], "rid-1");
        assert_eq!(line["path"], "/members/list");
        assert_eq!(line["status"], 200);
        assert_eq!(line["upstream_status"], 200);
        assert_eq!(line["duration_ms"], 1.234);
        assert_eq!(line["action"], "one_factor");
        assert_eq!(line["user"], "u-42");
        assert_eq!(line["client_ip"], "203.0.113.9");
    }

    #[test]
    fn text_is_the_default_and_the_filter_can_silence_the_access_log() {
        let text = logged(&LogSettings::default(), None);
        assert!(text.contains("request_id=\"rid-1\""), "{text}");
        assert!(serde_json::from_str::<serde_json::Value>(text.trim()).is_err());
        let quiet = LogSettings {
            level: "info,sekisho::access=off".into(),
            ..LogSettings::default()
        };
        assert_eq!(logged(&quiet, None), "");
        // SEKISHO_LOG wins over the file; a broken one falls back to the file.
        assert!(!logged(&quiet, Some("info")).is_empty());
        assert_eq!(logged(&quiet, Some("info,,=?")), "");
    }
}
