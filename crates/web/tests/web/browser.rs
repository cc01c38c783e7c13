//! The console in a real headless Chromium, driven through chromedriver (Debian's `chromium`
//! and `chromium-driver`). Every wait polls for a condition with a deadline.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use gongjian_domain::access::Role;
use serde_json::json;

use crate::support::{Http, PASSWORD, TestApp, build_tree, totp_now};

/// How long any single wait may take before the test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);
pub(crate) const POLL: Duration = Duration::from_millis(50);

fn program(env: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(env).unwrap_or_else(|_| default.to_string()));
    assert!(
        path.exists(),
        "the browser tests need {} (set {env} to use another path): install Debian's chromium \
         and chromium-driver packages, e.g. `apt-get install chromium chromium-driver`",
        path.display()
    );
    path
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The chromedriver process, killed when dropped.
struct Driver {
    child: Child,
    log: PathBuf,
}

impl Driver {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser session with its own chromedriver and a fresh profile directory.
struct Browser {
    client: Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

async fn launch() -> Browser {
    let chromedriver = program("GONGJIAN_CHROMEDRIVER", "/usr/bin/chromedriver");
    let chromium = program("GONGJIAN_CHROMIUM", "/usr/bin/chromium");
    let profile = tempfile::tempdir().expect("profile dir");
    let log = profile.path().join("chromedriver.log");
    let port = free_port();
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
    let mut driver = Driver { child, log };

    // Ready when its status says so.
    let status_url = format!("http://127.0.0.1:{port}/status");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("HTTP client");
    let started = Instant::now();
    loop {
        if let Ok(Some(code)) = driver.child.try_wait() {
            panic!(
                "chromedriver exited with {code} before it was ready: {}",
                driver.log_text()
            );
        }
        if let Ok(r) = http.get(&status_url).send().await
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["value"]["ready"] == json!(true)
        {
            break;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "chromedriver on port {port} not ready after {DEADLINE:?}: {}",
            driver.log_text()
        );
        tokio::time::sleep(POLL).await;
    }

    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "binary": chromium.display().to_string(),
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-proxy-server",
                format!("--user-data-dir={}", profile.path().join("chrome").display()),
                "--window-size=1280,900",
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "open a Chromium session through chromedriver: {e}\n{}",
                driver.log_text()
            )
        });
    Browser {
        client,
        _driver: driver,
        _profile: profile,
    }
}

/// Runs `story` in a fresh browser and returns what it returns; the session is closed and
/// chromedriver stopped whether the story passed or panicked (whose panic is then passed on).
pub(crate) async fn in_browser<F, Fut, T>(story: F) -> T
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let browser = launch().await;
    let outcome = tokio::spawn(story(browser.client.clone())).await;
    let _ = browser.client.clone().close().await;
    drop(browser);
    match outcome {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("browser story did not finish: {e}"),
        },
    }
}

/// Waits until the element at `css` exists (polling).
pub(crate) async fn element(c: &Client, css: &str) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(DEADLINE)
        .every(POLL)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(e) => panic!("no `{css}` on {}: {e}", describe(c).await),
    }
}

/// Waits until the text of the element at `css` satisfies `ok`, and returns it.
pub(crate) async fn text_where(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    let mut last = String::from("(no element)");
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
        {
            if ok(t.trim()) {
                return t.trim().to_string();
            }
            last = t;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "`{css}` still reads {last:?} on {}",
            describe(c).await
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The current address and heading, for failure messages.
pub(crate) async fn describe(c: &Client) -> String {
    let url = c.current_url().await.map(|u| u.to_string()).unwrap_or_default();
    let h1 = match c.find(Locator::Css("h1")).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    format!("{url} (h1 {h1:?})")
}

pub(crate) async fn click(c: &Client, css: &str) {
    element(c, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
}

pub(crate) async fn click_link(c: &Client, text: &str) {
    let link = c
        .wait()
        .at_most(DEADLINE)
        .every(POLL)
        .for_element(Locator::LinkText(text))
        .await
        .unwrap_or_else(|e| panic!("no link {text:?}: {e}"));
    link.click().await.unwrap_or_else(|e| panic!("click {text:?}: {e}"));
}

pub(crate) async fn type_into(c: &Client, css: &str, text: &str) {
    let e = element(c, css).await;
    e.clear().await.expect("clear");
    e.send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into `{css}`: {e}"));
}

pub(crate) async fn value_of(c: &Client, css: &str) -> String {
    element(c, css)
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

pub(crate) async fn path_and_query(c: &Client) -> String {
    let u = c.current_url().await.expect("current URL");
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    }
}

pub(crate) async fn login(c: &Client, username: &str, password: &str) {
    type_into(c, "#username", username).await;
    type_into(c, "#password", password).await;
    click(c, r#"form[action="/login"] button[type="submit"]"#).await;
}

/// Where the journey's screenshot goes: `target/screenshots/` of the workspace.
fn screenshot_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/journey.png")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_journey_from_first_login_to_a_new_grid() {
    let app = TestApp::start().await;
    app.load_foshan().await;
    app.add_user("admin", Role::SystemAdmin, None, true).await;
    let base = app.base.clone();
    let store = app.store.clone();
    let recovery = in_browser(|c| async move {
        // Not signed in: the console sends the visitor to the login page.
        c.goto(&base).await.expect("open the console");
        element(&c, "#username").await;
        assert_eq!(path_and_query(&c).await, "/login?next=/");
        login(&c, "admin", PASSWORD).await;

        // The initial password has to go first.
        element(&c, "#new_password").await;
        assert_eq!(path_and_query(&c).await, "/account/password");
        let new = "Journey-Passw0rd#1";
        type_into(&c, "#current", PASSWORD).await;
        type_into(&c, "#new_password", new).await;
        type_into(&c, "#confirm", new).await;
        click(&c, r#"form[action="/account/password"] button[type="submit"]"#).await;

        // An administrator sets up the second factor next: the secret as an authenticator app
        // would read it, the current code, then the recovery codes shown once.
        let secret = text_where(&c, "#totp-secret", |t| !t.is_empty()).await;
        assert_eq!(path_and_query(&c).await, "/account/totp");
        assert!(
            c.find(Locator::Css("svg")).await.is_ok(),
            "a QR code is shown on {}",
            describe(&c).await
        );
        type_into(&c, "#code", &totp_now(&store, &secret)).await;
        click(&c, r#"form[action="/account/totp"] button[type="submit"]"#).await;
        text_where(&c, "#recovery-codes li", |t| !t.is_empty()).await;
        let mut recovery = Vec::new();
        for li in c
            .find_all(Locator::Css("#recovery-codes li"))
            .await
            .expect("recovery codes")
        {
            recovery.push(li.text().await.expect("recovery code").trim().to_string());
        }
        assert_eq!(recovery.len(), 10, "{recovery:?}");
        assert!(
            recovery.iter().all(|r| r.len() == 11 && r.as_bytes()[5] == b'-'),
            "{recovery:?}"
        );
        click_link(&c, "继续").await;

        // The city page of 佛山市 with the seed's grid counts.
        let l2 = text_where(&c, r#"[data-count="grids_l2"]"#, |_| true).await;
        assert_eq!(l2, "5302");
        let l3 = text_where(&c, r#"[data-count="grids_l3"]"#, |_| true).await;
        assert_eq!(l3, "10721");
        assert!(text_where(&c, "h1", |_| true).await.starts_with("佛山市"));

        // Down the tree: district, street, the first community.
        click_link(&c, "禅城区").await;
        text_where(&c, "h1", |t| t.starts_with("禅城区")).await;
        click_link(&c, "祖庙街道").await;
        text_where(&c, "h1", |t| t.starts_with("祖庙街道")).await;
        let street_code = text_where(&c, "dl.info dd.mono", |_| true).await;
        assert_eq!(street_code.len(), 12, "{street_code}");
        let first = element(&c, "#children tbody tr:first-child td:first-child a").await;
        let community = first.text().await.expect("community name");
        first.click().await.expect("open the community");
        text_where(&c, "h1", |t| t.starts_with(community.as_str())).await;
        let community_code = text_where(&c, "dl.info dd.mono", |_| true).await;
        assert_eq!(community_code.len(), 12, "{community_code}");
        assert!(
            community_code.starts_with(&street_code[..9]),
            "{community_code} under {street_code}"
        );

        // A new level-2 grid: first without a name.
        let add = element(&c, "#add-child").await;
        assert_eq!(add.text().await.expect("text"), "新建二级网格");
        add.click().await.expect("click #add-child");
        text_where(&c, "h1", |t| t == "新建二级网格").await;
        element(&c, "#kind")
            .await
            .select_by_value("estate")
            .await
            .expect("choose 物业小区");
        click(&c, "#save").await;
        let error = text_where(&c, ".field.invalid #name ~ .field-error", |t| !t.is_empty()).await;
        assert_eq!(error, "名称不能为空");
        assert_eq!(value_of(&c, "#kind").await, "estate", "the kind is kept");
        assert!(
            c.find(Locator::Css("#kind ~ .field-error")).await.is_err(),
            "no error beside the kind"
        );

        type_into(&c, "#name", "测试小区").await;
        click(&c, "#save").await;
        text_where(&c, "h1", |t| t.starts_with("测试小区")).await;
        let notice = text_where(&c, ".alert.ok", |_| true).await;
        assert_eq!(notice, "已创建。");
        let code = text_where(&c, "dl.info dd.mono", |_| true).await;
        assert_eq!(code.len(), 15, "{code}");
        assert!(code.starts_with(&community_code), "{code} under {community_code}");
        assert!(code.chars().all(|ch| ch.is_ascii_digit()), "{code}");

        match c.screenshot().await {
            Ok(png) => {
                let path = screenshot_path();
                let written = path
                    .parent()
                    .map(std::fs::create_dir_all)
                    .transpose()
                    .and_then(|_| std::fs::write(&path, png));
                if let Err(e) = written {
                    eprintln!("screenshot not written to {}: {e}", path.display());
                }
            }
            Err(e) => eprintln!("no screenshot: {e}"),
        }
        recovery
    })
    .await;

    // What the browser did is what the database holds. The second factor is in force now:
    // the password alone opens a session that reads nothing until a recovery code is given.
    let mut admin = Http::new(&app.base);
    let r = admin.login("admin", "Journey-Passw0rd#1", "/").await.expect(303);
    assert_eq!(r.location(), "/login/totp");
    admin.fetch_csrf().await;
    admin.get("/api/v1/nodes?q=x").await.problem(403);
    let csrf = admin.csrf.clone();
    let r = admin
        .post_form("/login/totp", &[("_csrf", &csrf), ("code", &recovery[0])])
        .await
        .expect(303);
    assert_eq!(r.location(), "/");
    let found = admin
        .get("/api/v1/nodes?q=%E6%B5%8B%E8%AF%95%E5%B0%8F%E5%8C%BA&level=grid_l2")
        .await
        .expect(200)
        .json();
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["items"][0]["kind"], "estate");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_boundary_adjustment() {
    let app = TestApp::start().await;
    let admin = app.manager().await;
    let t = build_tree(&admin).await;
    let base = app.base.clone();
    let community = t.community["id"].as_i64().expect("id");
    let street_b = t.street_b["id"].as_i64().expect("id");
    in_browser(|c| async move {
        c.goto(&format!("{base}/login?next=/tree/{community}"))
            .await
            .expect("open the login page");
        login(&c, "manager", PASSWORD).await;
        text_where(&c, "h1", |t| t.starts_with("岭南社区")).await;

        click_link(&c, "迁移（区划调整）").await;
        text_where(&c, "h1", |t| t == "迁移（区划调整）：岭南社区").await;
        element(&c, "#new_parent_id")
            .await
            .select_by_value(&street_b.to_string())
            .await
            .expect("choose street B");
        type_into(&c, "#new_code", "440604001009").await;
        type_into(&c, "#note", "区划调整批复 2024-1").await;
        click(&c, r#"form[action$="/move"] button[type="submit"]"#).await;

        let error = text_where(&c, ".field.invalid #new_code ~ .field-error", |t| !t.is_empty()).await;
        assert!(error.contains("440604002"), "{error}");
        assert_eq!(value_of(&c, "#new_parent_id").await, street_b.to_string());
        assert_eq!(value_of(&c, "#new_code").await, "440604001009");
        assert_eq!(value_of(&c, "#note").await, "区划调整批复 2024-1");

        type_into(&c, "#new_code", "440604002007").await;
        click(&c, r#"form[action$="/move"] button[type="submit"]"#).await;
        let notice = text_where(&c, ".alert.ok", |_| true).await;
        assert_eq!(notice, "已迁移，下级代码已同步调整。");
        assert_eq!(text_where(&c, "dl.info dd.mono", |_| true).await, "440604002007");
        let crumbs = text_where(&c, "nav.crumbs", |_| true).await;
        assert!(crumbs.contains("石湾镇街道"), "{crumbs}");
        let grid = text_where(&c, "#children tbody tr td.mono", |_| true).await;
        assert_eq!(grid, "440604002007001");

        click_link(&c, "变更历史").await;
        text_where(&c, "h1", |t| t == "变更历史：岭南社区").await;
        let row = text_where(&c, "table tbody tr:first-child", |_| true).await;
        assert!(row.contains("迁移（区划调整）"), "{row}");
        assert!(row.contains("440604001001 → 440604002007"), "{row}");
        assert!(row.contains("区划调整批复 2024-1"), "{row}");
    })
    .await;

    let moved = admin.node(&t.community["id"]).await;
    assert_eq!(moved["code"], "440604002007");
    assert_eq!(moved["parent_id"], t.street_b["id"]);
    app.stop().await;
}
