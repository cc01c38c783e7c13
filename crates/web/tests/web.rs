//! The web crate's integration tests: the application served on a loopback port over a fresh
//! database, exercised over real HTTP (`api`) and in a real headless Chromium (`browser`).
//!
//! Stories marked "per engine" run on SQLite and, when `GONGJIAN_TEST_DATABASE_URL` is set
//! (e.g. `postgres://postgres@127.0.0.1:5432/test`), also on PostgreSQL in a database of their
//! own that is dropped afterwards. The browser tests need Debian's `chromium` and
//! `chromium-driver` packages (`/usr/bin/chromium`, `/usr/bin/chromedriver`).

#[path = "web/support.rs"]
mod support;

#[path = "web/api.rs"]
mod api;

#[path = "web/browser.rs"]
mod browser;
