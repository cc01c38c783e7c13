//! The harness: a served application on a fresh database of one engine, and an HTTP client
//! that logs in like a browser (session cookie, then the CSRF token from `/api/v1/me`).

use std::time::Duration;

use gongjian_domain::access::{Actor, Grant, Reach, Role};
use gongjian_domain::clock::Clock;
use gongjian_store::Store;
use gongjian_store::accounts::User;
use gongjian_store::totp;
use gongjian_web::{AppState, WebConfig};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The password every test account starts with (meets the rules: ≥ 10 characters, three
/// classes, no user name inside).
pub const PASSWORD: &str = "Test-Passw0rd!";

/// The database engine a [`TestApp`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

const PG_ENV: &str = "GONGJIAN_TEST_DATABASE_URL";

/// SQLite always; PostgreSQL too when `GONGJIAN_TEST_DATABASE_URL` is set.
pub fn engines() -> Vec<Engine> {
    let mut out = vec![Engine::Sqlite];
    if std::env::var(PG_ENV).is_ok_and(|u| !u.trim().is_empty()) {
        out.push(Engine::Postgres);
    }
    out
}

/// A PostgreSQL database created for one test: the server URL given and the database name.
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    async fn create() -> (PgDatabase, String) {
        let admin_url = std::env::var(PG_ENV).expect("GONGJIAN_TEST_DATABASE_URL");
        let name = format!("gj_web_{}", uuid::Uuid::new_v4().simple());
        pg_admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
        let url = with_database(&admin_url, &name);
        (PgDatabase { admin_url, name }, url)
    }

    async fn drop_database(self) {
        pg_admin(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        )
        .await;
    }
}

/// Runs one administrative statement on the server of `url`.
async fn pg_admin(url: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    sqlx::query(AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..].find('/').map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// The instant every test application starts at: Monday 16 November 2026, 10:00 China time (after every date the demo city writes). Tests
/// never read the wall clock; a test that needs another hour sets the store's clock.
pub fn start_instant() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 16, 2, 0, 0)
        .single()
        .expect("a valid instant")
}

/// The application served on a loopback port, on a fresh migrated database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    pub store: Store,
    pub engine: Engine,
    /// The database URL, for a second server on the same database ([`TestApp::start_beside`]).
    pub url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

impl TestApp {
    /// On SQLite, in a temporary directory.
    pub async fn start() -> TestApp {
        TestApp::start_on(Engine::Sqlite).await
    }

    pub async fn start_on(engine: Engine) -> TestApp {
        let (store, url, dir, pg) = match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("t.db").display());
                let store = Store::connect(&url).await.expect("connect sqlite");
                (
                    store.with_clock(Clock::starting_at(start_instant())),
                    url,
                    Some(dir),
                    None,
                )
            }
            Engine::Postgres => {
                let (pg, url) = PgDatabase::create().await;
                let store = Store::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("connect {url}: {e}"));
                (
                    store.with_clock(Clock::starting_at(start_instant())),
                    url,
                    None,
                    Some(pg),
                )
            }
        };
        store
            .migrate()
            .await
            .unwrap_or_else(|e| panic!("[{engine:?}] migrate: {e}"));
        TestApp::serve(engine, store, url, dir, pg).await
    }

    /// A second server, with a pool of its own, on the database of `first` (as two nodes of
    /// one deployment). Stop it before `first`, which owns the database.
    pub async fn start_beside(first: &TestApp) -> TestApp {
        // Nodes of one deployment share the data key, which also seals the audit chain.
        let store = Store::connect(&first.url)
            .await
            .unwrap_or_else(|e| panic!("connect {}: {e}", first.url))
            .with_clock(first.store.clock().clone())
            .with_keyring(first.store.keyring().clone());
        TestApp::serve(first.engine, store, first.url.clone(), None, None).await
    }

    async fn serve(
        engine: Engine,
        store: Store,
        url: String,
        dir: Option<tempfile::TempDir>,
        pg: Option<PgDatabase>,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let port = listener.local_addr().expect("local address").port();
        let (tx, rx) = oneshot::channel::<()>();
        let state = AppState::new(store.clone(), WebConfig::default());
        let server = tokio::spawn(gongjian_web::serve(listener, state, async move {
            let _ = rx.await;
        }));
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            store,
            engine,
            url,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
            pg,
        }
    }

    /// Loads the Foshan demo city (about two seconds).
    pub async fn load_foshan(&self) {
        self.store
            .load_demo(
                gongjian_store::demo::DemoCity::Foshan,
                gongjian_store::demo::Scale::Small,
                &|_, _, _| {},
            )
            .await
            .expect("load the Foshan demo");
    }

    /// Creates an account with [`PASSWORD`].
    pub async fn add_user(&self, username: &str, role: Role, node_id: Option<i64>, must_change_password: bool) -> User {
        self.store
            .add_user(
                username,
                &format!("测试用户 {username}"),
                PASSWORD,
                must_change_password,
                role,
                node_id,
            )
            .await
            .unwrap_or_else(|e| panic!("add user {username}: {e}"))
    }

    /// A powerful non-administrator: the organisation department with reach everywhere (manages
    /// both trees, grants the ordinary roles; needs no second factor), logged in as `manager`.
    pub async fn manager(&self) -> Http {
        self.add_user("manager", Role::OrgDepartment, None, false).await;
        self.login("manager").await
    }

    /// An administrator account (`role` one of the three) whose password is [`PASSWORD`] and
    /// whose second factor is already set up at the store, with its ten recovery codes.
    pub async fn add_admin(&self, username: &str, role: Role) -> Admin {
        assert!(role.is_administrator(), "{role:?} is not an administrator role");
        let user = self.add_user(username, role, None, false).await;
        let actor = self.store.actor(user.id).await.expect("actor");
        let setup = self.store.begin_totp(&actor).await.expect("begin TOTP");
        let recovery = self
            .store
            .confirm_totp(&actor, "no-session", &totp_now(&self.store, &setup.secret), "127.0.0.1")
            .await
            .expect("confirm TOTP");
        assert_eq!(recovery.len(), 10, "{recovery:?}");
        Admin { user, recovery }
    }

    /// Logs an administrator in: password, then one unused recovery code as the second factor.
    pub async fn login_admin(&self, admin: &mut Admin) -> Http {
        let mut http = Http::new(&self.base);
        let r = http.login(&admin.user.username, PASSWORD, "/").await.expect(303);
        assert_eq!(r.location(), "/login/totp", "{}", admin.user.username);
        assert!(!r.header("set-cookie").is_empty(), "a session cookie is set");
        http.fetch_csrf().await;
        let p = http.get("/api/v1/roots").await.problem(403);
        assert!(
            p["type"].as_str().unwrap_or("").ends_with("second-factor-required"),
            "{p}"
        );
        let code = admin.recovery.pop().expect("an unused recovery code");
        let csrf = http.csrf.clone();
        let r = http
            .post_form("/login/totp", &[("_csrf", &csrf), ("code", &code)])
            .await
            .expect(303);
        assert_eq!(r.location(), "/");
        http
    }

    /// A client logged in as `username` (password [`PASSWORD`]), holding the CSRF token.
    pub async fn login(&self, username: &str) -> Http {
        self.login_with(username, PASSWORD).await
    }

    pub async fn login_with(&self, username: &str, password: &str) -> Http {
        let mut http = Http::new(&self.base);
        let r = http.login(username, password, "/").await;
        assert_eq!(r.status, 303, "login of {username}: {}", r.text);
        http.fetch_csrf().await;
        http
    }

    /// Stops the server, closes the pool and drops a PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            match tokio::time::timeout(Duration::from_secs(5), server).await {
                Ok(joined) => joined.expect("server task").expect("server ended with an error"),
                Err(_) => panic!("server did not shut down within 5 s"),
            }
        }
        self.store.close().await;
        if let Some(pg) = self.pg.take() {
            pg.drop_database().await;
        }
    }
}

impl Drop for TestApp {
    /// After a failed story: stops the server and drops the PostgreSQL database (`WITH (FORCE)`
    /// deals with the pool that may still be open).
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(pg) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(pg.drop_database());
            })
            .join();
        }
    }
}

/// An administrator set up by [`TestApp::add_admin`].
pub struct Admin {
    pub user: User,
    /// Unused recovery codes.
    pub recovery: Vec<String>,
}

/// The TOTP code of `secret` (base32) for the current 30-second step by the store's clock.
pub fn totp_now(store: &Store, secret: &str) -> String {
    totp_at_step(secret, current_step(store))
}

pub fn current_step(store: &Store) -> i64 {
    totp::step_of(store.now().timestamp())
}

pub fn totp_at_step(secret: &str, step: i64) -> String {
    totp::code_at(&totp::base32_decode(secret).expect("base32 secret"), step)
}

/// An actor that reads everything, for snapshots taken through the store.
pub fn overseer() -> Actor {
    Actor {
        user_id: 0,
        username: "overseer".into(),
        grants: vec![Grant {
            role: Role::SystemAdmin,
            reach: Reach::All,
        }],
    }
}

/// Runs `story` on a fresh application per engine (see [`engines`]).
pub async fn for_each_engine(story: impl AsyncFn(&TestApp)) {
    for engine in engines() {
        eprintln!("--- on {engine:?}");
        let app = TestApp::start_on(engine).await;
        story(&app).await;
        app.stop().await;
    }
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// Method and path, for messages.
    pub request: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    pub fn content_type(&self) -> String {
        self.header("content-type")
    }

    pub fn location(&self) -> String {
        self.header("location")
    }

    /// Asserts the status and gives the reply back.
    #[track_caller]
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(
            self.status, status,
            "{}: expected {status}, got {}: {}",
            self.request, self.status, self.text
        );
        self
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", self.request, self.text))
    }

    /// Asserts a problem document of `status` and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{}: expected {status}, got {}: {}",
            self.request, self.status, self.text
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{}: content type",
            self.request
        );
        let p = self.json();
        assert_eq!(p["status"], json!(status), "{}: {p}", self.request);
        p
    }

    /// The fields named in a 422 problem's `errors`.
    #[track_caller]
    pub fn error_fields(&self) -> Vec<String> {
        let p = self.problem(422);
        assert_eq!(p["type"], "/api/problems/validation", "{p}");
        p["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no errors array: {p}", self.request))
            .iter()
            .map(|e| e["field"].as_str().expect("field name").to_string())
            .collect()
    }
}

/// An HTTP client with a cookie store that does not follow redirects, so every redirect can
/// be asserted. With `bearer` set, every request carries `Authorization: Bearer …`.
pub struct Http {
    pub client: reqwest::Client,
    pub base: String,
    pub csrf: String,
    pub bearer: Option<String>,
}

impl Http {
    pub fn new(base: &str) -> Http {
        Http {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            base: base.to_string(),
            csrf: String::new(),
            bearer: None,
        }
    }

    /// A client without cookies that presents `token` as a bearer token.
    pub fn with_token(base: &str, token: &str) -> Http {
        let mut http = Http::new(base);
        http.bearer = Some(token.to_string());
        http
    }

    /// A request builder for `path`, with the bearer token when there is one.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.client.request(method, format!("{}{path}", self.base));
        match &self.bearer {
            Some(t) => r.header("authorization", format!("Bearer {t}")),
            None => r,
        }
    }

    /// Sends a request and reads the answer whole; a 500 fails the test.
    pub async fn send(request: String, r: reqwest::RequestBuilder) -> Reply {
        let resp = r.send().await.unwrap_or_else(|e| panic!("{request}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_else(|e| panic!("{request}: body: {e}"));
        assert!(status < 500, "{request}: server error {status}: {text}");
        Reply {
            status,
            headers,
            text,
            request,
        }
    }

    pub async fn login(&mut self, username: &str, password: &str, next: &str) -> Reply {
        self.post_form(
            "/login",
            &[("username", username), ("password", password), ("next", next)],
        )
        .await
    }

    /// Reads the session's CSRF token from `/api/v1/me`.
    pub async fn fetch_csrf(&mut self) {
        let me = self.get("/api/v1/me").await.expect(200).json();
        self.csrf = me["csrf_token"].as_str().expect("csrf_token").to_string();
        assert!(!self.csrf.is_empty(), "empty CSRF token");
    }

    pub async fn get(&self, path: &str) -> Reply {
        Http::send(format!("GET {path}"), self.request(reqwest::Method::GET, path)).await
    }

    /// A GET whose body is binary (an export): status, headers and bytes.
    pub async fn get_bytes(&self, path: &str) -> (u16, HeaderMap, Vec<u8>) {
        let resp = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap_or_else(|e| panic!("GET {path}: body: {e}"));
        assert!(status < 500, "GET {path}: server error {status}");
        (status, headers, bytes.to_vec())
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Reply {
        let body_text: String = body.to_string().chars().take(300).collect();
        Http::send(
            format!("POST {path} {body_text}"),
            self.request(reqwest::Method::POST, path)
                .header("x-csrf-token", &self.csrf)
                .json(body),
        )
        .await
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Reply {
        Http::send(
            format!("PATCH {path}"),
            self.request(reqwest::Method::PATCH, path)
                .header("x-csrf-token", &self.csrf)
                .json(body),
        )
        .await
    }

    /// A JSON POST that carries the session cookie but no `X-CSRF-Token`.
    pub async fn post_json_without_csrf(&self, path: &str, body: &Value) -> Reply {
        Http::send(
            format!("POST {path} (no CSRF) {body}"),
            self.request(reqwest::Method::POST, path).json(body),
        )
        .await
    }

    /// A form POST of exactly `form` (add `_csrf` yourself, or use [`Http::submit`]).
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        Http::send(
            format!("POST {path} (form)"),
            self.request(reqwest::Method::POST, path).form(form),
        )
        .await
    }

    /// A form POST as the console's pages send it: `form` plus the session's `_csrf`.
    pub async fn submit(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        let mut fields: Vec<(&str, &str)> = vec![("_csrf", self.csrf.as_str())];
        fields.extend_from_slice(form);
        self.post_form(path, &fields).await
    }

    /// Creates a node through the API and returns it (asserts 201).
    pub async fn create_node(
        &self,
        parent: Option<&Value>,
        code: Option<&str>,
        name: &str,
        kind: Option<&str>,
    ) -> Value {
        let body = json!({
            "parent_id": parent.map(|p| p["id"].clone()),
            "code": code,
            "name": name,
            "kind": kind,
        });
        let node = self.post_json("/api/v1/nodes", &body).await.expect(201).json();
        assert_eq!(node["name"], name, "{node}");
        node
    }

    pub async fn node(&self, id: &Value) -> Value {
        self.get(&format!("/api/v1/nodes/{id}")).await.expect(200).json()
    }

    pub async fn counts(&self, id: &Value) -> Value {
        self.get(&format!("/api/v1/nodes/{id}/counts")).await.expect(200).json()
    }
}

/// Subtree counts as the API reports them.
pub fn counts(districts: i64, streets: i64, communities: i64, l2: i64, l3: i64) -> Value {
    json!({
        "districts": districts,
        "streets": streets,
        "communities": communities,
        "grids_l2": l2,
        "grids_l3": l3,
    })
}

/// A small hand-built tree: 佛山市 / 禅城区 / 祖庙街道 (A) and 石湾镇街道 (B) / one community
/// under A / a level-2 estate grid / a level-3 grid.
pub struct Tree {
    pub city: Value,
    pub district: Value,
    pub street_a: Value,
    pub street_b: Value,
    pub community: Value,
    pub grid_l2: Value,
    pub grid_l3: Value,
}

pub const CITY_CODE: &str = "440600000000";
pub const DISTRICT_CODE: &str = "440604000000";
pub const STREET_A_CODE: &str = "440604001000";
pub const STREET_B_CODE: &str = "440604002000";
pub const COMMUNITY_CODE: &str = "440604001001";

pub async fn build_tree(http: &Http) -> Tree {
    let city = http.create_node(None, Some(CITY_CODE), "佛山市", None).await;
    let district = http.create_node(Some(&city), Some(DISTRICT_CODE), "禅城区", None).await;
    let street_a = http
        .create_node(Some(&district), Some(STREET_A_CODE), "祖庙街道", None)
        .await;
    let street_b = http
        .create_node(Some(&district), Some(STREET_B_CODE), "石湾镇街道", None)
        .await;
    let community = http
        .create_node(Some(&street_a), Some(COMMUNITY_CODE), "岭南社区", None)
        .await;
    let grid_l2 = http
        .create_node(Some(&community), None, "阳光小区", Some("estate"))
        .await;
    let grid_l3 = http
        .create_node(
            Some(&grid_l2),
            None,
            "一号楼党员楼长责任区",
            Some("building_leader_area"),
        )
        .await;
    Tree {
        city,
        district,
        street_a,
        street_b,
        community,
        grid_l2,
        grid_l3,
    }
}

/// The text of the element with `id="…"` on a page (up to the next `<`), unescaped only for
/// what askama escapes.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let marker = format!(r#"id="{id}""#);
    let start = html.find(&marker)? + marker.len();
    let open_end = html[start..].find('>')? + start + 1;
    let end = html[open_end..].find('<')? + open_end;
    Some(html[open_end..end].trim().to_string())
}

/// The texts of the `<li>` items inside the element with `id="…"`.
pub fn list_items(html: &str, id: &str) -> Vec<String> {
    let marker = format!(r#"id="{id}""#);
    let Some(start) = html.find(&marker) else {
        return Vec::new();
    };
    let end = html[start..].find("</ul>").map_or(html.len(), |e| start + e);
    html[start..end]
        .split("<li>")
        .skip(1)
        .map(|li| li.split("</li>").next().unwrap_or("").trim().to_string())
        .collect()
}

/// Whether the form field whose label is `<label for="field">` is marked invalid and shows
/// an error beside it.
pub fn field_invalid(html: &str, field: &str) -> bool {
    let label = format!(r#"<label for="{field}">"#);
    let Some(pos) = html.find(&label) else {
        return false;
    };
    let before = &html[..pos];
    let Some(div) = before.rfind("<div class=\"") else {
        return false;
    };
    // The field reaches to the next field's label or to the form's button.
    let rest = &html[pos + label.len()..];
    let field_end = [rest.find("<label for="), rest.find("<button")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    before[div..].contains("invalid") && rest[..field_end].contains("field-error")
}
