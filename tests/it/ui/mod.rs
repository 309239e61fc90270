//! The web console in headless Chromium (chromedriver over WebDriver) against a real server on
//! loopback: health follows a killed backend, the drain button changes DNS answers, the
//! explain form shows the trace, hostile zone names stay text; a screenshot of each view
//! goes to `target/ui-screenshots/`. Skips without chromium (fails under CI=true).

mod console;
mod webdriver;
