//! [`run`] starts a gateway, a chromedriver and a headless Chromium with a fresh profile,
//! drives one journey through [`Browser`], and on failure leaves every step's screenshot
//! and HTML behind.
use super::artifacts::{Artifacts, Capture};
use super::driver::{kill_leftover_browser, BrowserSlot, ChromeDriver, Tools};
use crate::harness::{Store, TestGateway};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::time::Duration;

/// Longest a whole journey may take before it counts as hung.
const JOURNEY_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest a page, a script or a wait for an element may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(15);
const SESSION_START_TIMEOUT: Duration = Duration::from_secs(60);

/// Flags that keep Chromium headless and off the network; the profile comes on top.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// What a journey runs against.
pub struct Setup {
    store: Store,
    javascript: bool,
    config: String,
}

impl Setup {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            javascript: true,
            config: String::new(),
        }
    }

    /// Chromium with JavaScript switched off, as some users have it.
    pub fn without_javascript(mut self) -> Self {
        self.javascript = false;
        self
    }

    /// Extra gateway config (see [`TestGateway::start_with`]).
    pub fn config(mut self, extra: &str) -> Self {
        self.config.push_str(extra);
        self
    }
}

/// Runs `journey` in a real browser against a fresh gateway. `test` names the artifact
/// folder. Gateways are started and dropped outside the runtime the browser client uses.
pub fn run(test: &str, setup: Setup, journey: impl AsyncFnOnce(&TestGateway, &Browser)) {
    let tools = Tools::find();
    let _slot = BrowserSlot::acquire();
    let gw = TestGateway::start_with(setup.store, &setup.config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let driver = ChromeDriver::start(&tools);
    let browser = runtime.block_on(Browser::open(&tools, &driver, test, setup.javascript));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            tokio::time::timeout(JOURNEY_TIMEOUT, journey(&gw, &browser))
                .await
                .unwrap_or_else(|_| panic!("the journey took longer than {JOURNEY_TIMEOUT:?}"))
        })
    }));
    runtime.block_on(browser.finish(test, outcome.is_err()));
    drop(driver);
    drop(runtime);
    drop(gw);
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
}

/// [`run`] with two browsers (separate profiles, so separate cookies) on one
/// chromedriver: two people working at once, e.g. a requester and an approver.
pub fn run_pair(
    test: &str,
    setup: Setup,
    journey: impl AsyncFnOnce(&TestGateway, &Browser, &Browser),
) {
    let tools = Tools::find();
    let _slot = BrowserSlot::acquire();
    let gw = TestGateway::start_with(setup.store, &setup.config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let driver = ChromeDriver::start(&tools);
    let first = runtime.block_on(Browser::open(
        &tools,
        &driver,
        &format!("{test}-a"),
        setup.javascript,
    ));
    let second = runtime.block_on(Browser::open(
        &tools,
        &driver,
        &format!("{test}-b"),
        setup.javascript,
    ));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        runtime.block_on(async {
            tokio::time::timeout(JOURNEY_TIMEOUT * 2, journey(&gw, &first, &second))
                .await
                .unwrap_or_else(|_| {
                    panic!("the journey took longer than {:?}", JOURNEY_TIMEOUT * 2)
                })
        })
    }));
    runtime.block_on(first.finish(&format!("{test}-a"), outcome.is_err()));
    runtime.block_on(second.finish(&format!("{test}-b"), outcome.is_err()));
    drop(driver);
    drop(runtime);
    drop(gw);
    if let Err(panic) = outcome {
        resume_unwind(panic);
    }
}

/// A headless Chromium session with its own profile, plus the test's artifacts.
pub struct Browser {
    client: Client,
    artifacts: Artifacts,
    pid: Option<u32>,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn open(tools: &Tools, driver: &ChromeDriver, test: &str, javascript: bool) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let mut prefs = json!({
            // Off the network: no password-leak checks, no save-password bubble.
            "credentials_enable_service": false,
            "profile.password_manager_enabled": false,
            "profile.password_manager_leak_detection": false,
            "intl.accept_languages": "en-US,en",
        });
        if !javascript {
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": tools.chromium.display().to_string(),
                "args": args,
                "prefs": prefs,
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let connecting =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities)
                .connect(&driver.url)
                .await;
        let client = tokio::time::timeout(SESSION_START_TIMEOUT, async { connecting })
            .await
            .unwrap_or_else(|_| panic!("Chromium did not start within {SESSION_START_TIMEOUT:?}"))
            .unwrap_or_else(|e| panic!("cannot start Chromium through chromedriver: {e}"));
        let pid = client
            .capabilities()
            .and_then(|c| c.get("goog:processID"))
            .and_then(Value::as_u64)
            .and_then(|p| u32::try_from(p).ok());
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(PAGE_TIMEOUT),
                Some(PAGE_TIMEOUT),
                Some(Duration::ZERO),
            ))
            .await
            .unwrap();
        Self {
            client,
            artifacts: Artifacts::for_test(test),
            pid,
            _profile: profile,
        }
    }

    /// Writes the failure's steps, ends the session and says where the pictures are.
    async fn finish(self, test: &str, failed: bool) {
        if failed {
            if let Some(last) = self.snapshot("failure").await {
                self.artifacts.hold(last);
            }
            self.artifacts.write_held();
        }
        let dir = self.artifacts.dir().display().to_string();
        if failed {
            eprintln!("browser test {test} failed; every step's screenshot and HTML: {dir}");
        } else if self.artifacts.written() > 0 {
            println!("browser test {test}: key pages captured in {dir}");
        }
        let closed = tokio::time::timeout(PAGE_TIMEOUT, self.client.close()).await;
        if !matches!(closed, Ok(Ok(()))) {
            if let Some(pid) = self.pid {
                kill_leftover_browser(pid);
            }
        }
    }

    async fn snapshot(&self, step: &str) -> Option<Capture> {
        let png = self.client.screenshot().await;
        let html = self.client.source().await;
        match (png, html) {
            (Ok(png), Ok(html)) => Some(Capture {
                step: step.to_string(),
                png,
                html,
            }),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("no screenshot of step {step}: {e}");
                None
            }
        }
    }

    /// Records the page as a step, kept if the test fails.
    pub async fn step(&self, step: &str) {
        if let Some(capture) = self.snapshot(step).await {
            self.artifacts.hold(capture);
        }
    }

    /// Captures a key page (sign-in, challenge, enrolment, settings, admin…): always kept.
    pub async fn capture(&self, page: &str) {
        if let Some(capture) = self.snapshot(page).await {
            self.artifacts.keep(capture);
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
        let path = url::Url::parse(url).map_or(url.to_string(), |u| u.path().to_string());
        self.step(&format!("goto {path}")).await;
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no element {css} on {}: {e}", self.url().await),
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    /// Clicks and, when that navigates, waits for the new page.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
        self.wait_until_loaded().await;
        self.step(&format!("click {css}")).await;
    }

    /// Types into a field, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into {css}: {e}"));
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.find(css).await.attr(name).await.unwrap()
    }

    /// A form control's current value.
    pub async fn value(&self, css: &str) -> String {
        self.find(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.unwrap()
    }

    pub async fn title(&self) -> String {
        self.client.title().await.unwrap()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page. WebDriver
    /// runs it through DevTools, so neither the pages' CSP nor disabled JavaScript stops it.
    pub async fn exec<T: serde::de::DeserializeOwned>(&self, script: &str, args: Vec<Value>) -> T {
        let value = self
            .client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"));
        serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("unexpected script result {value}: {e}"))
    }

    /// Presses and releases Tab on whatever has focus.
    pub async fn press_tab(&self) {
        let tab = char::from(Key::Tab);
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab });
        self.client.perform_actions(keys).await.unwrap();
    }

    /// A cookie's value as the browser holds it (HttpOnly ones included).
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_all_cookies()
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_string())
            .filter(|v| !v.is_empty())
    }

    /// Fills the sign-in form on the current page and submits it with its button.
    pub async fn submit_sign_in(&self, email: &str, password: &str) {
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("form button[type=submit]").await;
    }

    /// ChromeDriver already waits for a navigation a click starts; this also covers a
    /// page still parsing when the click returns.
    async fn wait_until_loaded(&self) {
        let ready = async {
            loop {
                let state: String = self.exec("return document.readyState", vec![]).await;
                if state == "complete" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        if tokio::time::timeout(PAGE_TIMEOUT, ready).await.is_err() {
            panic!("the page did not finish loading: {}", self.url().await);
        }
    }
}
