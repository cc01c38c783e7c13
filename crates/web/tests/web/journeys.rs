//! User journeys through the console in a real headless Chromium, per engine: account
//! management by a street worker, personal API tokens, the audit administrator's log, and a
//! community worker's first residents (one registered by hand, then a spreadsheet import).
//! Every wait polls for a condition with a deadline (see `browser`).

use std::path::Path;
use std::time::Instant;

use fantoccini::{Client, Locator};
use gongjian_domain::access::{Actor, Grant, Reach, Role};
use gongjian_store::audit::AuditFilter;
use serde_json::Value;

use crate::browser::{
    DEADLINE, POLL, click, click_link, describe, element, in_browser, login, path_and_query, text_where, type_into,
    value_of,
};
use crate::support::{COMMUNITY_CODE, Http, PASSWORD, TestApp, build_tree, for_each_engine, overseer};

fn id(node: &Value) -> i64 {
    node["id"].as_i64().unwrap_or_else(|| panic!("no id in {node}"))
}

fn code(node: &Value) -> String {
    node["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code in {node}"))
        .to_string()
}

/// An 18-character ID number: `body` (17 digits) and its check character (GB 11643).
pub(crate) fn id_number(body: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    assert_eq!(body.len(), 17, "{body}");
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).expect("a digit") * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// `body` with a check digit that is a digit, but the wrong one.
fn id_number_with_wrong_check(body: &str) -> String {
    let right = id_number(body);
    let wrong = if right.ends_with('0') { '1' } else { '0' };
    format!("{body}{wrong}")
}

/// What `IdNumber::masked` shows: the first 6 and the last 4 characters.
fn masked(id: &str) -> String {
    format!("{}********{}", &id[..6], &id[14..])
}

/// Waits until the address (path and query) satisfies `ok`, and returns it.
pub(crate) async fn path_where(c: &Client, ok: impl Fn(&str) -> bool) -> String {
    let started = Instant::now();
    loop {
        let now = path_and_query(c).await;
        if ok(&now) {
            return now;
        }
        assert!(started.elapsed() < DEADLINE, "still at {now} on {}", describe(c).await);
        tokio::time::sleep(POLL).await;
    }
}

/// Waits for a `window.confirm` (or alert) dialog and returns its text, leaving it open.
async fn dialog_text(c: &Client) -> String {
    let started = Instant::now();
    loop {
        match c.get_alert_text().await {
            Ok(text) => return text,
            Err(e) => assert!(started.elapsed() < DEADLINE, "no dialog after {DEADLINE:?}: {e}"),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The texts of the elements at `css` (as they are now).
pub(crate) async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.expect("find_all") {
        out.push(e.text().await.expect("text").trim().to_string());
    }
    out
}

/// The cells of each row of the table body at `table` (as they are now).
pub(crate) async fn table_rows(c: &Client, table: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for tr in c
        .find_all(Locator::Css(&format!("{table} tbody tr")))
        .await
        .expect("rows")
    {
        let mut cells = Vec::new();
        for td in tr.find_all(Locator::Css("td")).await.expect("cells") {
            cells.push(td.text().await.expect("cell text").trim().to_string());
        }
        rows.push(cells);
    }
    rows
}

/// Downloads `href` (a local path) with the browser's session cookie: status, content type,
/// content disposition and body.
pub(crate) async fn fetch_with_session(c: &Client, base: &str, href: &str) -> (u16, String, String, Vec<u8>) {
    let cookies = c.get_all_cookies().await.expect("the browser's cookies");
    let session = cookies
        .iter()
        .find(|k| k.name() == gongjian_web::auth::SESSION_COOKIE)
        .unwrap_or_else(|| panic!("no session cookie among {cookies:?}"));
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(DEADLINE)
        .build()
        .expect("HTTP client");
    let resp = http
        .get(format!("{base}{href}"))
        .header("cookie", format!("{}={}", session.name(), session.value()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {href}: {e}"));
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let body = resp.bytes().await.unwrap_or_else(|e| panic!("GET {href}: body: {e}"));
    (status, content_type, disposition, body.to_vec())
}

pub(crate) const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The cells of the only worksheet of an xlsx workbook, which must be called `sheet`, as text.
pub(crate) fn xlsx_rows(bytes: Vec<u8>, sheet: &str) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("an xlsx workbook");
    let names = book.sheet_names();
    assert_eq!(names, vec![sheet.to_string()]);
    let range = book.worksheet_range(sheet).expect("the sheet");
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// Saves a screenshot of the page to `target/screenshots/<name>` of the workspace; a failure
/// to take or write it is reported, not fatal.
async fn save_screenshot(c: &Client, name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/screenshots")
        .join(name);
    match c.screenshot().await {
        Ok(png) => {
            let written = path
                .parent()
                .map(std::fs::create_dir_all)
                .transpose()
                .and_then(|_| std::fs::write(&path, png));
            if let Err(e) = written {
                eprintln!("screenshot not written to {}: {e}", path.display());
            }
        }
        Err(e) => eprintln!("no screenshot {name}: {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// J1: account management by a street worker.

const CREATE_ACCOUNT: &str = r#"form[action="/admin/users/new"] button[type="submit"]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_account_management() {
    for_each_engine(account_management).await;
}

/// A street worker (no second factor needed) creates a community worker's account: first
/// without a user name (the error stands beside that field, the rest is kept), then complete,
/// and passes the one-time password on. In a fresh session the new worker signs in with it, has
/// to choose a password and lands on their community.
async fn account_management(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let street_a = id(&t.street_a);
    let community = id(&t.community);
    app.add_user("jiedao", Role::StreetStaff, Some(street_a), false).await;
    let base = app.base.clone();
    let chosen = "Lingnan-Passw0rd#7";
    let one_time = in_browser(move |c| async move {
        c.goto(&base).await.expect("open the console");
        login(&c, "jiedao", PASSWORD).await;
        // The only root of the street worker's scope is their street.
        text_where(&c, "h1", |t| t.starts_with("祖庙街道")).await;
        assert_eq!(path_and_query(&c).await, format!("/tree/{street_a}"));

        click_link(&c, "账户管理").await;
        text_where(&c, "h1", |t| t == "账户管理").await;
        click_link(&c, "新建账户").await;
        text_where(&c, "h1", |t| t == "新建账户").await;

        // Everything but the user name.
        type_into(&c, "#display_name", "李晓岚").await;
        element(&c, "#role")
            .await
            .select_by_label("社区工作人员")
            .await
            .expect("choose 社区工作人员");
        type_into(&c, "#node_code", COMMUNITY_CODE).await;
        click(&c, CREATE_ACCOUNT).await;
        let error = text_where(&c, ".field.invalid #username ~ .field-error", |t| !t.is_empty()).await;
        assert_eq!(error, "用户名为 3–32 个字母、数字、下划线、连字符或点，以字母开头");
        let invalid = c.find_all(Locator::Css(".field.invalid")).await.expect("fields");
        assert_eq!(
            invalid.len(),
            1,
            "only the user name is marked on {}",
            describe(&c).await
        );
        assert_eq!(value_of(&c, "#display_name").await, "李晓岚", "the name is kept");
        assert_eq!(value_of(&c, "#role").await, "community_staff", "the role is kept");
        assert_eq!(value_of(&c, "#node_code").await, COMMUNITY_CODE, "the scope is kept");
        assert!(
            c.find(Locator::Css("#one-time-password")).await.is_err(),
            "no account was created"
        );

        type_into(&c, "#username", "li.xiaolan").await;
        click(&c, CREATE_ACCOUNT).await;
        let one_time = text_where(&c, "#one-time-password", |t| !t.is_empty()).await;
        assert_eq!(one_time.chars().count(), 16, "{one_time}");
        let notice = text_where(&c, ".alert.ok", |_| true).await;
        assert!(notice.contains("li.xiaolan"), "{notice}");
        assert_eq!(
            value_of(&c, "#username").await,
            "",
            "the form is emptied for the next account"
        );

        // The list shows the account with its role and scope.
        click_link(&c, "账户管理").await;
        text_where(&c, "table tbody", |t| t.contains("li.xiaolan")).await;
        let rows = table_rows(&c, "table").await;
        let row = rows
            .iter()
            .find(|r| r[0] == "li.xiaolan")
            .unwrap_or_else(|| panic!("no li.xiaolan in {rows:?}"));
        assert_eq!(row[1], "李晓岚", "{row:?}");
        assert_eq!(
            row[2],
            format!("社区工作人员 · 岭南社区（{COMMUNITY_CODE}）"),
            "{row:?}"
        );
        assert_eq!(row[4], "正常", "{row:?}");

        // A fresh session: the new worker signs in with the one-time password.
        c.delete_all_cookies().await.expect("delete the cookies");
        c.goto(&base).await.expect("open the console");
        element(&c, "#username").await;
        assert_eq!(path_and_query(&c).await, "/login?next=/");
        login(&c, "li.xiaolan", &one_time).await;
        element(&c, "#new_password").await;
        assert_eq!(path_and_query(&c).await, "/account/password");
        let forced = text_where(&c, ".alert.info", |_| true).await;
        assert!(forced.contains("初始密码"), "{forced}");
        // Another page is refused until the password is changed.
        c.goto(&format!("{base}/tree/{community}"))
            .await
            .expect("open the community");
        element(&c, "#new_password").await;
        assert_eq!(path_and_query(&c).await, "/account/password");

        type_into(&c, "#current", &one_time).await;
        type_into(&c, "#new_password", chosen).await;
        type_into(&c, "#confirm", chosen).await;
        click(&c, r#"form[action="/account/password"] button[type="submit"]"#).await;
        text_where(&c, "h1", |t| t.starts_with("岭南社区")).await;
        assert_eq!(path_and_query(&c).await, format!("/tree/{community}"));
        let user = text_where(&c, "header .user span", |_| true).await;
        assert_eq!(user, "李晓岚（li.xiaolan）");
        one_time
    })
    .await;

    // The one-time password is spent; the chosen one opens a complete session.
    let mut http = Http::new(&app.base);
    http.login("li.xiaolan", &one_time, "/").await.expect(401);
    let http = app.login_with("li.xiaolan", chosen).await;
    let me = http.get("/api/v1/me").await.expect(200).json();
    assert_eq!(me["roles"], serde_json::json!(["community_staff"]), "{me}");
    let roots = http.get("/api/v1/roots").await.expect(200).json();
    assert_eq!(roots.as_array().map(Vec::len), Some(1), "{roots}");
    assert_eq!(roots[0]["code"], COMMUNITY_CODE, "{roots}");
}

// ---------------------------------------------------------------------------------------------
// J2: a personal API token, created and revoked in the console.

const REVOKE_TOKEN: &str = r#"form[action^="/account/tokens/"][action$="/revoke"] button"#;
const REVOKE_QUESTION: &str = "吊销后使用该令牌的程序将无法访问，确定吊销？";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_api_token() {
    for_each_engine(api_token).await;
}

/// A community worker creates a read token (its secret shown once), a program uses it, the
/// worker declines the confirmation once and then revokes it: the program is refused.
async fn api_token(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    app.add_user("shequ", Role::CommunityStaff, Some(id(&t.community)), false)
        .await;
    let base = app.base.clone();
    in_browser(move |c| async move {
        c.goto(&base).await.expect("open the console");
        login(&c, "shequ", PASSWORD).await;
        text_where(&c, "h1", |t| t.starts_with("岭南社区")).await;

        click_link(&c, "API 令牌").await;
        text_where(&c, "h1", |t| t == "API 令牌").await;
        text_where(&c, "table tbody", |t| t == "还没有令牌。").await;
        assert!(c.find(Locator::Css("#new-token")).await.is_err());
        type_into(&c, "#name", "区数据中心同步").await;
        assert_eq!(value_of(&c, "#scope").await, "read", "read-only is the default");
        click(&c, r#"form[action="/account/tokens"] button[type="submit"]"#).await;
        let token = text_where(&c, "#new-token", |t| !t.is_empty()).await;
        let row = text_where(&c, "table tbody tr:first-child", |t| t.contains("区数据中心同步")).await;
        assert!(row.contains("只读") && row.contains("有效"), "{row}");
        assert!(!row.contains(&token), "the list never shows the secret: {row}");

        // A program presents it.
        let program = Http::with_token(&base, &token);
        let roots = program.get("/api/v1/roots").await.expect(200).json();
        assert_eq!(roots.as_array().map(Vec::len), Some(1), "{roots}");
        assert_eq!(roots[0]["code"], COMMUNITY_CODE, "{roots}");

        // Revoking asks first; declining keeps the token.
        click(&c, REVOKE_TOKEN).await;
        assert_eq!(dialog_text(&c).await, REVOKE_QUESTION);
        c.dismiss_alert().await.expect("decline");
        let row = text_where(&c, "table tbody tr:first-child", |_| true).await;
        assert!(row.contains("有效"), "{row}");
        program.get("/api/v1/roots").await.expect(200);

        click(&c, REVOKE_TOKEN).await;
        assert_eq!(dialog_text(&c).await, REVOKE_QUESTION);
        c.accept_alert().await.expect("confirm");
        let row = text_where(&c, "table tbody tr:first-child", |t| t.contains("已吊销")).await;
        assert!(row.contains("区数据中心同步"), "{row}");
        assert_eq!(path_and_query(&c).await, "/account/tokens");
        assert!(
            c.find(Locator::Css(REVOKE_TOKEN)).await.is_err(),
            "a revoked token has no revoke button"
        );
        assert!(c.find(Locator::Css("#new-token")).await.is_err(), "the secret is gone");

        let p = program.get("/api/v1/roots").await.problem(401);
        assert_eq!(p["status"], 401, "{p}");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// J3: the audit administrator.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_audit_administrator() {
    for_each_engine(audit_administrator).await;
}

/// The audit administrator signs in with a recovery code as the second factor, filters the log
/// by action, exports what the filter shows and verifies the chain.
async fn audit_administrator(app: &TestApp) {
    // Entries of other kinds than logins: the manager's node creations.
    let manager = app.manager().await;
    build_tree(&manager).await;
    let mut admin = app.add_admin("shenji", Role::AuditAdmin).await;
    let recovery = admin.recovery.pop().expect("a recovery code");
    let base = app.base.clone();
    in_browser(move |c| async move {
        c.goto(&base).await.expect("open the console");
        login(&c, "shenji", PASSWORD).await;
        element(&c, "#code").await;
        assert_eq!(path_and_query(&c).await, "/login/totp");
        type_into(&c, "#code", &recovery).await;
        click(&c, r#"form[action="/login/totp"] button[type="submit"]"#).await;
        path_where(&c, |p| !p.starts_with("/login")).await;

        click_link(&c, "审计日志").await;
        text_where(&c, "h1", |t| t == "审计日志").await;
        path_where(&c, |p| p == "/audit").await;
        let actions = texts(&c, "table tbody tr td:nth-child(4)").await;
        assert!(
            actions.iter().any(|a| a == "POST /api/v1/nodes"),
            "the unfiltered log has node creations: {actions:?}"
        );

        type_into(&c, r#"input[name="action"]"#, "login").await;
        click(&c, r#"form[action="/audit"] button[type="submit"]"#).await;
        path_where(&c, |p| p.contains("action=login")).await;
        assert_eq!(value_of(&c, r#"input[name="action"]"#).await, "login");
        let rows = table_rows(&c, "table").await;
        assert!(rows.len() >= 3, "{rows:?}");
        for row in &rows {
            assert_eq!(row.len(), 8, "{row:?}");
            assert!(row[3].contains("login"), "a row without login: {row:?}");
        }
        let has = |actor: &str, action: &str| rows.iter().any(|r| r[2] == actor && r[3] == action);
        assert!(has("manager", "login"), "{rows:?}");
        assert!(has("shenji", "login"), "{rows:?}");
        assert!(has("shenji", "login.second_factor"), "{rows:?}");

        // The export carries the filter and holds the same entries.
        let href = element(&c, r#"a[href^="/audit/export"]"#)
            .await
            .attr("href")
            .await
            .expect("href")
            .expect("an export link");
        assert!(href.contains("action=login"), "{href}");
        let (status, content_type, disposition, bytes) = fetch_with_session(&c, &base, &href).await;
        assert_eq!(status, 200, "{href}");
        assert_eq!(content_type, XLSX);
        assert!(disposition.starts_with("attachment"), "{disposition}");
        let sheet = xlsx_rows(bytes, "审计日志");
        assert_eq!(sheet[0][0], "序号", "{:?}", sheet[0]);
        assert_eq!(sheet[0][4], "操作", "{:?}", sheet[0]);
        assert_eq!(sheet.len() - 1, rows.len(), "{sheet:?}");
        for (line, row) in sheet[1..].iter().zip(&rows) {
            assert_eq!(line[0], row[0], "sequence numbers in the same order");
            assert!(line[4].contains("login"), "{line:?}");
            assert_eq!(line[4], row[3]);
        }

        click(&c, "#verify").await;
        let verdict = text_where(&c, "#verify-result", |t| !t.is_empty()).await;
        assert!(verdict.starts_with("校验通过"), "{verdict}");
        assert!(
            c.find(Locator::Css("#verify-result.ok")).await.is_ok(),
            "the verdict is shown as good news"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// J4 and J5: a community worker's first residents, by hand and from a spreadsheet.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_residents_registered_and_imported() {
    for_each_engine(residents).await;
}

const RESIDENT_BODY: &str = "44060419850615124";
const RESIDENT_MOBILE: &str = "13912345678";

/// The import workbook: a title row, the header on row 2, then rows 3–9: five good rows on the
/// community's two grids, a wrong check character on row 5 and an unknown grid on row 8.
/// Writes it to `path`; returns the good rows' names, the wrong ID number and the unknown grid code.
fn import_workbook(path: &Path, grid_l2: &str, grid_l3: &str) -> (Vec<&'static str>, String, String) {
    let bad_id = id_number_with_wrong_check("44060419900101005");
    let unknown_grid = format!("{COMMUNITY_CODE}999");
    let rows: Vec<[String; 5]> = vec![
        [
            "黄志强".into(),
            id_number("44060419900101001"),
            "13800138001".into(),
            grid_l2.into(),
            "本地".into(),
        ],
        [
            "梁嘉怡".into(),
            id_number("44060419900101002"),
            "13800138002".into(),
            grid_l3.into(),
            "外地".into(),
        ],
        [
            "错误校验".into(),
            bad_id.clone(),
            "13800138005".into(),
            grid_l3.into(),
            "本地".into(),
        ],
        [
            "何伟明".into(),
            id_number("44060419900101003"),
            "13800138003".into(),
            grid_l3.into(),
            "本地".into(),
        ],
        [
            "罗淑芬".into(),
            id_number("44060419900101004"),
            "".into(),
            grid_l2.into(),
            "本地".into(),
        ],
        [
            "未知网格".into(),
            id_number("44060419900101006"),
            "13800138006".into(),
            unknown_grid.clone(),
            "本地".into(),
        ],
        [
            "冯家豪".into(),
            id_number("44060419900101007"),
            "13800138007".into(),
            grid_l3.into(),
            "外地".into(),
        ],
    ];
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write(0, 0, "岭南社区居民花名册（2024年）").expect("title");
    for (j, h) in ["姓名", "身份证号码", "手机号码", "网格编码", "户籍"]
        .iter()
        .enumerate()
    {
        sheet.write(1, j as u16, *h).expect("header");
    }
    for (i, row) in rows.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write((i + 2) as u32, j as u16, cell.as_str()).expect("cell");
            }
        }
    }
    book.save(path).expect("save the workbook");
    (
        vec!["黄志强", "梁嘉怡", "何伟明", "罗淑芬", "冯家豪"],
        bad_id,
        unknown_grid,
    )
}

/// First-ten-minutes steps 4 and 5 for a community worker: one resident registered by hand on
/// a level-3 grid (a wrong check character first), the full number revealed once, then five
/// more imported from a spreadsheet with two refused rows.
async fn residents(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let community = id(&t.community);
    let (grid_l2, grid_l3) = (code(&t.grid_l2), code(&t.grid_l3));
    app.add_user("wangge", Role::CommunityStaff, Some(community), false)
        .await;
    let base = app.base.clone();
    let store = app.store.clone();
    let files = tempfile::tempdir().expect("a temporary directory");
    let upload = files.path().join("岭南社区居民.xlsx");
    let (imported, bad_id, unknown_grid) = import_workbook(&upload, &grid_l2, &grid_l3);
    let full_id = id_number(RESIDENT_BODY);
    in_browser(move |c| async move {
        // Step 4: down to a level-3 grid, to its residents, and register one.
        c.goto(&base).await.expect("open the console");
        login(&c, "wangge", PASSWORD).await;
        text_where(&c, "h1", |t| t.starts_with("岭南社区")).await;
        click_link(&c, "阳光小区").await;
        text_where(&c, "h1", |t| t.starts_with("阳光小区")).await;
        click_link(&c, "一号楼党员楼长责任区").await;
        text_where(&c, "h1", |t| t.starts_with("一号楼党员楼长责任区")).await;
        let link = text_where(&c, "#residents-link", |_| true).await;
        assert_eq!(link, "居民（0 人）");
        click(&c, "#residents-link").await;
        text_where(&c, "h1", |t| t.starts_with("居民：一号楼党员楼长责任区")).await;
        assert_eq!(text_where(&c, "#people-total", |_| true).await, "0 人");
        click(&c, "#add-resident").await;
        text_where(&c, "h1", |t| t == "登记居民：一号楼党员楼长责任区").await;

        let wrong = id_number_with_wrong_check(RESIDENT_BODY);
        type_into(&c, "#name", "陈美玲").await;
        type_into(&c, "#id_number", &wrong).await;
        type_into(&c, "#mobile", RESIDENT_MOBILE).await;
        type_into(&c, "#household", "1栋302").await;
        element(&c, r#"input[name="registered_elsewhere"]"#)
            .await
            .click()
            .await
            .expect("tick 户籍在外地");
        click(&c, "#save-resident").await;
        let error = text_where(&c, "#id_number-error", |t| !t.is_empty()).await;
        assert!(error.contains("校验位"), "{error}");
        assert!(
            c.find(Locator::Css(".field.invalid #id_number")).await.is_ok(),
            "the ID field is marked"
        );
        let invalid = c.find_all(Locator::Css(".field.invalid")).await.expect("fields");
        assert_eq!(
            invalid.len(),
            1,
            "only the ID number is marked on {}",
            describe(&c).await
        );
        assert_eq!(value_of(&c, "#name").await, "陈美玲");
        assert_eq!(value_of(&c, "#id_number").await, wrong);
        assert_eq!(value_of(&c, "#mobile").await, RESIDENT_MOBILE);
        assert_eq!(value_of(&c, "#household").await, "1栋302");
        let ticked = element(&c, r#"input[name="registered_elsewhere"]"#)
            .await
            .is_selected()
            .await
            .expect("checkbox state");
        assert!(ticked, "the tick is kept");

        type_into(&c, "#id_number", &full_id).await;
        click(&c, "#save-resident").await;
        text_where(&c, "h1", |t| t == "陈美玲").await;
        assert_eq!(text_where(&c, ".alert.ok", |_| true).await, "已登记。");
        let info = texts(&c, "dl.info dd").await;
        assert_eq!(info[0], masked(&full_id), "{info:?}");
        assert!(info[0].starts_with("440604********") && info[0].len() == 18, "{info:?}");
        assert_eq!(info[1], "女", "{info:?}");
        assert_eq!(info[2], "1985-06-15", "{info:?}");
        assert_eq!(info[3], "139****5678", "{info:?}");
        assert_eq!(info[6], "外地（外来人口）", "{info:?}");
        assert!(
            !c.source().await.expect("page source").contains(&full_id),
            "the full number is not on the page before it is asked for"
        );

        c.wait()
            .at_most(DEADLINE)
            .every(POLL)
            .for_element(Locator::XPath("//button[text()='查看完整身份证号']"))
            .await
            .expect("a reveal button")
            .click()
            .await
            .expect("click 查看完整身份证号");
        let revealed = text_where(&c, "#revealed", |t| !t.is_empty()).await;
        assert!(revealed.starts_with("身份证号："), "{revealed}");
        assert!(revealed.contains(&full_id), "{revealed}");

        // The community's residents: one, numbers masked.
        c.goto(&format!("{base}/tree/{community}"))
            .await
            .expect("open the community");
        text_where(&c, "h1", |t| t.starts_with("岭南社区")).await;
        assert_eq!(text_where(&c, "#residents-link", |_| true).await, "居民（1 人）");
        click(&c, "#residents-link").await;
        text_where(&c, "h1", |t| t.starts_with("居民：岭南社区")).await;
        assert_eq!(text_where(&c, "#people-total", |_| true).await, "1 人");
        let rows = table_rows(&c, "table").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0][0], "陈美玲");
        assert_eq!(rows[0][1], masked(&full_id));
        assert_eq!(rows[0][4], "139****5678");
        assert_eq!(rows[0][5], "一号楼党员楼长责任区");
        let source = c.source().await.expect("page source");
        assert!(!source.contains(&full_id), "a full ID number in the list");
        assert!(!source.contains(RESIDENT_MOBILE), "a full mobile number in the list");
        save_screenshot(&c, "resident.png").await;

        // Step 5: the import, previewed first.
        click(&c, "#import-residents").await;
        text_where(&c, "h1", |t| t == "导入居民：岭南社区").await;
        element(&c, "#file")
            .await
            .send_keys(&upload.display().to_string())
            .await
            .expect("choose the file");
        click(&c, "#upload").await;
        let rejected = text_where(&c, "#rejected-count", |_| true).await;
        let heading = text_where(&c, "h1", |_| true).await;
        assert_eq!(heading, "校验结果：岭南社区居民.xlsx");
        assert_eq!(rejected, "2");
        assert_eq!(text_where(&c, "#data-rows", |_| true).await, "7");
        assert_eq!(text_where(&c, "#inserted", |_| true).await, "5");
        assert_eq!(text_where(&c, "#existing", |_| true).await, "0");
        let header_row = text_where(&c, "#header-row", |_| true).await;
        assert_eq!(header_row, "表头在第 2 行。");
        let shown = table_rows(&c, "#rejected").await;
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(shown[0][..3], ["5".to_string(), "身份证号码".into(), bad_id.clone()]);
        assert!(shown[0][3].contains("校验位"), "{shown:?}");
        assert_eq!(
            shown[1][..3],
            ["8".to_string(), "网格编码".into(), unknown_grid.clone()]
        );
        assert!(shown[1][3].contains("网格编码不存在"), "{shown:?}");
        let count = store.count_people_under(&overseer(), community).await.expect("count");
        assert_eq!(count, 1, "the preview writes nothing");

        // The refused rows as a workbook: the same rows as the table.
        let href = element(&c, "#download-rejected")
            .await
            .attr("href")
            .await
            .expect("href")
            .expect("a download link");
        let (status, content_type, disposition, bytes) = fetch_with_session(&c, &base, &href).await;
        assert_eq!(status, 200, "{href}");
        assert_eq!(content_type, XLSX);
        assert!(disposition.starts_with("attachment"), "{disposition}");
        let sheet = xlsx_rows(bytes, "未导入的行");
        assert_eq!(sheet[0], ["行号", "列", "原值", "原因"]);
        assert_eq!(sheet[1..], shown[..], "the download matches the page");

        click(&c, "#commit").await;
        text_where(&c, "h1", |t| t.starts_with("导入完成")).await;
        assert_eq!(text_where(&c, "#inserted", |_| true).await, "5");
        assert_eq!(text_where(&c, "#rejected-count", |_| true).await, "2");
        assert!(c.find(Locator::Css("#commit")).await.is_err(), "no second commit");

        click(&c, r#"nav.crumbs a[href$="/residents"]"#).await;
        text_where(&c, "h1", |t| t.starts_with("居民：岭南社区")).await;
        assert_eq!(text_where(&c, "#people-total", |_| true).await, "6 人");
        let rows = table_rows(&c, "table").await;
        assert_eq!(rows.len(), 6, "{rows:?}");
        for name in imported.iter().chain(["陈美玲"].iter()) {
            assert!(rows.iter().any(|r| r[0] == *name), "{name} missing from {rows:?}");
        }
        for bad in ["错误校验", "未知网格"] {
            assert!(rows.iter().all(|r| r[0] != bad), "{bad} was imported: {rows:?}");
        }
        for r in &rows {
            assert!(r[1].contains("********"), "an unmasked ID number: {r:?}");
        }
        save_screenshot(&c, "import.png").await;
        drop(files);
    })
    .await;
    // The audit trail has the upload and the import, and no session secret: the upload form
    // carries the CSRF token in its address, which is not to be written down.
    let auditor = Actor {
        user_id: 0,
        username: "auditor".into(),
        grants: vec![Grant {
            role: Role::AuditAdmin,
            reach: Reach::All,
        }],
    };
    let entries = app
        .store
        .audit_entries(&auditor, &AuditFilter::default(), None, 10_000)
        .await
        .expect("the audit log")
        .items;
    let upload_route = "POST /tree/{id}/import";
    assert!(
        entries
            .iter()
            .any(|e| e.action == upload_route && e.object == format!("/tree/{community}/import")),
        "{entries:?}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e.action == "person.import" && e.detail.contains("5 inserted")),
        "{entries:?}"
    );
    for e in &entries {
        assert!(
            !e.detail.contains("_csrf") && !e.object.contains("_csrf"),
            "a CSRF token in the audit log: {e:?}"
        );
    }
    assert_eq!(
        app.store
            .count_people_under(&overseer(), community)
            .await
            .expect("count"),
        6
    );
}
