//! The web crate's integration tests: the application served on a loopback port over a fresh
//! database, exercised over real HTTP (`api`, `security`, `walk`, `hostile`) and in a real
//! headless Chromium (`browser`).
//!
//! - `security`: lockout across two servers of one database, CSRF, API tokens, the
//!   administrators' second factor and separation, password history, the audit trail.
//! - `walk`: every route of `gongjian_web::route_table()` aimed at a community outside the
//!   caller's scope, with the request for each route built in `walk_probes`; a new route
//!   without a mapping there fails the suite.
//! - `hostile`: hostile text in every text field of every form and API.
//! - `dashboards`: the statistics API with periods and breakdowns, the dashboards' exports,
//!   and the drill-down from the city to a community in the browser.
//! - `journeys`: user journeys in the browser, per engine: account management, API tokens,
//!   the audit administrator, residents registered by hand and imported from a spreadsheet.
//! - `imports`: a party members' import over HTTP and in the browser, per engine.
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

#[path = "web/security.rs"]
mod security;

#[path = "web/walk.rs"]
mod walk;
#[path = "web/walk_probes.rs"]
mod walk_probes;

#[path = "web/hostile.rs"]
mod hostile;

#[path = "web/journeys.rs"]
mod journeys;

#[path = "web/dashboards.rs"]
mod dashboards;
#[path = "web/registration.rs"]
mod registration;

#[path = "web/hostile_people.rs"]
mod hostile_people;

#[path = "web/imports.rs"]
mod imports;

#[path = "web/points.rs"]
mod points;

#[path = "web/volunteer_views.rs"]
mod volunteer_views;

#[path = "web/volunteers.rs"]
mod volunteers;
