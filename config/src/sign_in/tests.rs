use crate::SignInSettings;
use std::collections::HashMap;

fn load(text: &str) -> Result<crate::Settings, crate::ConfigError> {
    crate::load_str(text, "t.toml", &HashMap::<String, String>::new())
}

#[test]
fn defaults_notify_new_browsers_only() {
    let s = load("").unwrap().sign_in;
    assert_eq!(s, SignInSettings::default());
    assert!(s.notify_new_browser);
    assert!(
        !s.notify_new_network,
        "new networks alone are noisy on phones"
    );
    assert_eq!(s.history, 50);
}

#[test]
fn every_key_parses() {
    let s =
        load("[sign_in]\nnotify_new_browser = false\nnotify_new_network = true\nhistory = 1000\n")
            .unwrap()
            .sign_in;
    assert_eq!(
        s,
        SignInSettings {
            notify_new_browser: false,
            notify_new_network: true,
            history: 1000,
        }
    );
    assert_eq!(load("[sign_in]\nhistory = 1\n").unwrap().sign_in.history, 1);
}

#[test]
fn history_out_of_range_names_the_key() {
    for bad in ["0", "1001"] {
        let e = load(&format!("[sign_in]\nhistory = {bad}\n")).unwrap_err();
        assert_eq!(e.key, "sign_in.history", "{e}");
        assert!(e.message.contains("between 1 and 1000"), "{e}");
    }
    let e = load("[sign_in]\nhistory = -5\n").unwrap_err();
    assert_eq!(e.key, "sign_in.history", "{e}");
    assert_eq!(e.line, Some(2), "{e}");
    let e = load("[sign_in]\nnotify_new_browsers = true\n").unwrap_err();
    assert!(e.message.contains("notify_new_browsers"), "{e}");
    assert_eq!(e.line, Some(2), "{e}");
}
