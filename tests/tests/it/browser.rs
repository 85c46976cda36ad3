//! Journeys through the hosted pages in a real browser: Debian's headless `chromium`
//! driven by `chromedriver` over WebDriver, a fresh profile per test, no network.
//!
//! A journey is an `async fn(&TestGateway, &Browser)`; [`browser_journey!`] turns it
//! into tests. `b.capture("page")` keeps a key page's screenshot and HTML in
//! `<target>/browser-artifacts/<test>/`; a failing test keeps every step there.
//! Without chromium and chromedriver the tests fail and name `scripts/install-deps.sh`.

mod a11y;
mod admin;
mod artifacts;
mod driver;
mod help;
mod journeys;
mod lost_device;
mod mfa;
mod other_origin;
mod recovery;
mod rollout;
mod session;

pub use session::run;

/// `browser_journey!(journey, memory: Setup::new(Store::Memory), …)` defines
/// `mod journey { #[test] fn memory() }` running the async fn `journey` with that setup.
#[macro_export]
macro_rules! browser_journey {
    ($journey:ident $(, $variant:ident: $setup:expr)+ $(,)?) => {
        mod $journey {
            use super::*;
            $(
                #[test]
                fn $variant() {
                    $crate::browser::run(
                        concat!(stringify!($journey), "-", stringify!($variant)),
                        $setup,
                        super::$journey,
                    );
                }
            )+
        }
    };
}
