//! Importing party members from a spreadsheet, per engine: over HTTP (upload → preview →
//! refused rows as xlsx → commit → nothing more on a second commit or a second file), and in
//! headless Chromium (the kind chosen on the page, the upload's progress, the preview, the
//! commit).

use fantoccini::Locator;
use gongjian_domain::access::Role;
use gongjian_domain::people::ResidentForm;
use gongjian_store::party::{PartyOrg, PartyOrgInput};
use serde_json::Value;

use crate::browser::{click, element, in_browser, login, text_where};
use crate::support::{Engine, Http, PASSWORD, TestApp, build_tree, element_text, for_each_engine, overseer};

/// An 18-character ID number: `body` (17 digits) and its check character (GB 11643).
fn id_number(body: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).expect("a digit") * w)
        .sum();
    format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

fn id_of(node: &Value) -> i64 {
    node["id"].as_i64().unwrap_or_else(|| panic!("no id in {node}"))
}

/// A community with a party committee and a branch at its estate, three registered residents,
/// and a community worker `dangwu` who imports. Returns the community's id and the residents'
/// ID numbers.
async fn setting(app: &TestApp) -> (i64, Vec<String>) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let store = &app.store;
    let org = async |parent: Option<&PartyOrg>, kind: &str, category: &str, name: &str, at: &Value| {
        let input = PartyOrgInput {
            parent_id: parent.map(|p| p.id),
            kind: kind.into(),
            category: category.into(),
            name: name.into(),
            territory_node_id: Some(id_of(at)),
            ..Default::default()
        };
        store.create_party_org(&overseer(), &input).await.expect("party org")
    };
    let committee = org(None, "committee", "community", "岭南社区党委", &t.community).await;
    org(Some(&committee), "branch", "estate", "阳光小区党支部", &t.grid_l2).await;
    let mut ids = Vec::new();
    for (i, name) in ["林志明", "陈秀英", "黄国强"].iter().enumerate() {
        let id = id_number(&format!("4406041970010100{i}"));
        let form = ResidentForm {
            name: name.to_string(),
            id_number: id.clone(),
            home_node_id: Some(id_of(&t.grid_l3)),
            ..ResidentForm::default()
        };
        store.create_person(&overseer(), &form, "test").await.expect("resident");
        ids.push(id);
    }
    let community = id_of(&t.community);
    app.add_user("dangwu", Role::CommunityStaff, Some(community), false)
        .await;
    (community, ids)
}

/// The members' workbook: a merged title, the header on row 3; rows 4–7: two good rows (one
/// joined on an Excel date serial), one unregistered person, one organisation that does not
/// exist.
fn members_workbook(ids: &[String]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    sheet.merge_range(0, 0, 0, 4, "岭南社区党员名册", &bold).expect("title");
    for (j, h) in ["姓名", "身份证号", "所在党支部", "党员类别", "入党日期"]
        .iter()
        .enumerate()
    {
        sheet.write(2, j as u16, *h).expect("header");
    }
    let stranger = id_number("44060419700101099");
    let rows: [[&str; 5]; 4] = [
        ["林志明", &ids[0], "阳光小区党支部", "正式", ""],
        ["陈秀英", &ids[1], "阳光小区党支部", "预备", "2025/7/1"],
        ["外来人", &stranger, "阳光小区党支部", "正式", "2001-07-01"],
        ["黄国强", &ids[2], "不存在的支部", "正式", "2001-07-01"],
    ];
    for (i, row) in rows.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            sheet.write((i + 3) as u32, j as u16, *cell).expect("cell");
        }
    }
    sheet.write(3, 4, 38169.0).expect("an Excel date serial");
    book.save_to_buffer().expect("workbook")
}

/// Uploads a file to a node's import page as the browser's form sends it.
async fn upload(http: &Http, node: i64, kind: &str, name: &str, bytes: &[u8]) -> crate::support::Reply {
    let boundary = "gongjian-import-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\n{kind}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let path = format!("/tree/{node}/import?_csrf={}", http.csrf);
    let r = http
        .request(reqwest::Method::POST, &path)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body);
    Http::send(format!("POST /tree/{node}/import ({kind})"), r).await
}

/// The import id in a preview's commit form.
fn import_id(html: &str) -> i64 {
    let at = html.find("/imports/").expect("a link to the import") + "/imports/".len();
    let digits: String = html[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("an import id")
}

async fn member_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM party_members")
        .fetch_one(app.store.pool())
        .await
        .expect("count")
}

#[tokio::test]
async fn members_import_over_http() {
    for_each_engine(async |app| {
        let (community, ids) = setting(app).await;
        let http = app.login("dangwu").await;
        let page = http.get(&format!("/tree/{community}/import?kind=members")).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("导入党员：岭南社区"), "{}", page.text);
        assert!(page.text.contains("所在党组织"), "the columns are named");

        let bytes = members_workbook(&ids);
        let preview = upload(&http, community, "members", "党员.xlsx", &bytes).await;
        assert_eq!(preview.status, 200, "{}", preview.text);
        let html = &preview.text;
        assert_eq!(element_text(html, "data-rows").as_deref(), Some("4"));
        assert_eq!(element_text(html, "inserted").as_deref(), Some("2"));
        assert_eq!(element_text(html, "rejected-count").as_deref(), Some("2"));
        assert_eq!(element_text(html, "header-row").as_deref(), Some("表头在第 3 行。"));
        assert!(html.contains("未找到该身份证号的居民"), "{html}");
        assert!(html.contains("不存在的支部"), "{html}");
        assert_eq!(member_count(app).await, 0, "the preview writes nothing");

        let id = import_id(html);
        let (status, headers, xlsx) = http.get_bytes(&format!("/imports/{id}/rejected.xlsx")).await;
        assert_eq!(status, 200);
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap_or("")
                .starts_with("attachment")
        );
        let rows = xlsx_rows(xlsx);
        assert_eq!(rows[0], ["行号", "列", "原值", "原因"]);
        assert_eq!(
            rows[1][..3],
            ["6".to_string(), "身份证号".into(), id_number("44060419700101099")]
        );
        assert_eq!(
            rows[2][..3],
            ["7".to_string(), "所在党支部".into(), "不存在的支部".into()]
        );

        let done = http
            .submit(
                &format!("/imports/{id}/commit"),
                &[("on_duplicate", "skip"), ("node_id", &community.to_string())],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert!(done.text.contains("导入完成"), "{}", done.text);
        assert_eq!(element_text(&done.text, "inserted").as_deref(), Some("2"));
        assert_eq!(member_count(app).await, 2);
        let joined: String = sqlx::query_scalar(
            "SELECT m.joined_on FROM party_members m JOIN persons p ON p.id = m.person_id WHERE p.name = '林志明'",
        )
        .fetch_one(app.store.pool())
        .await
        .expect("joined");
        assert_eq!(joined, "2004-07-01", "the Excel serial is a date");

        // Neither the same upload twice nor the same file again adds anything.
        let twice = http
            .submit(
                &format!("/imports/{id}/commit"),
                &[("on_duplicate", "update"), ("node_id", &community.to_string())],
            )
            .await;
        assert_eq!(twice.status, 400, "{}", twice.text);
        let again = upload(&http, community, "members", "党员.xlsx", &bytes).await;
        assert_eq!(element_text(&again.text, "inserted").as_deref(), Some("0"));
        assert_eq!(element_text(&again.text, "existing").as_deref(), Some("2"));
        let id = import_id(&again.text);
        let r = http
            .submit(
                &format!("/imports/{id}/commit"),
                &[("on_duplicate", "update"), ("node_id", &community.to_string())],
            )
            .await;
        assert_eq!(element_text(&r.text, "inserted").as_deref(), Some("0"));
        assert_eq!(member_count(app).await, 2);

        // Not a workbook: the page says so beside the form.
        let junk = upload(&http, community, "members", "党员.xlsx", b"PK\x03\x04 nothing").await;
        assert_eq!(junk.status, 422);
        assert!(
            element_text(&junk.text, "import-error").is_some_and(|e| e.contains("无法识别")),
            "{}",
            junk.text
        );
    })
    .await;
}

/// A workbook of a few kilobytes whose sheet spans A1:XFD1048576: calamine's dense range for
/// it would take hundreds of gigabytes. The upload is refused with the file named and nothing
/// is kept or written.
#[tokio::test]
async fn a_workbook_declaring_the_whole_sheet_is_refused_on_upload() {
    for_each_engine(async |app| {
        let (community, ids) = setting(app).await;
        let http = app.login("dangwu").await;
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (j, h) in ["姓名", "身份证号", "所在党支部"].iter().enumerate() {
            sheet.write(0, j as u16, *h).expect("header");
        }
        for (j, cell) in ["林志明", &ids[0], "阳光小区党支部"].iter().enumerate() {
            sheet.write(1, j as u16, *cell).expect("cell");
        }
        sheet.write(1_048_575, 16_383, "角落").expect("the far corner");
        let bytes = book.save_to_buffer().expect("workbook");
        assert!(bytes.len() < 8 * 1024, "{} bytes", bytes.len());

        let r = upload(&http, community, "members", "超大党员表.xlsx", &bytes).await;
        assert_eq!(r.status, 422, "{}", r.text);
        let error = element_text(&r.text, "import-error").unwrap_or_else(|| panic!("no error shown: {}", r.text));
        for fragment in ["“超大党员表.xlsx”", "工作表声明了 16384 列 × 1048576 行", "最多 200 列"]
        {
            assert!(error.contains(fragment), "“{error}” lacks “{fragment}”");
        }
        assert_eq!(member_count(app).await, 0);
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM imports")
            .fetch_one(app.store.pool())
            .await
            .expect("count");
        assert_eq!(kept, 0, "the refused upload is not kept");
        // The server goes on serving.
        assert_eq!(
            http.get(&format!("/tree/{community}/import?kind=members")).await.status,
            200
        );
    })
    .await;
}

fn xlsx_rows(bytes: Vec<u8>) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("an xlsx workbook");
    let range = book.worksheet_range("未导入的行").expect("the sheet");
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_import_in_the_browser() {
    for_each_engine(async |app| {
        let (community, ids) = setting(app).await;
        let files = tempfile::tempdir().expect("a temporary directory");
        let path = files.path().join("岭南社区党员.xlsx");
        std::fs::write(&path, members_workbook(&ids)).expect("write the workbook");
        let base = app.base.clone();
        let file = path.display().to_string();
        in_browser(move |c| async move {
            c.goto(&base).await.expect("open the console");
            login(&c, "dangwu", PASSWORD).await;
            c.goto(&format!("{base}/tree/{community}")).await.expect("the community");
            click(&c, "#import-link").await;
            text_where(&c, "h1", |t| t == "导入党员：岭南社区").await;
            // Switching the kind shows that kind's columns; switching back returns.
            element(&c, "#kind-select")
                .await
                .select_by_label("驻区单位")
                .await
                .expect("choose 驻区单位");
            text_where(&c, "h1", |t| t == "导入驻区单位：岭南社区").await;
            element(&c, "#kind-select").await.select_by_label("党员").await.expect("choose 党员");
            text_where(&c, "h1", |t| t == "导入党员：岭南社区").await;
            let columns = text_where(&c, "#columns", |_| true).await;
            assert!(columns.contains("所在党组织") && columns.contains("入党日期"), "{columns}");

            // Watch the progress bar as the page's own handler sets it.
            c.execute(
                "window.__upload = null; document.addEventListener('htmx:xhr:progress', function () { \
                 var bar = document.getElementById('upload-progress'); \
                 if (bar) { window.__upload = [bar.value, bar.max, document.getElementById('upload-stage').textContent]; } });",
                vec![],
            )
            .await
            .expect("listen for progress");
            element(&c, "#file").await.send_keys(&file).await.expect("choose the file");
            click(&c, "#upload").await;
            let rejected = text_where(&c, "#rejected-count", |_| true).await;
            assert_eq!(rejected, "2");
            assert_eq!(text_where(&c, "#inserted", |_| true).await, "2");
            assert_eq!(text_where(&c, "#import-kind", |_| true).await, "导入内容：党员");
            // The page's state survived the upload: htmx swapped the preview in, no reload.
            let seen = c.execute("return window.__upload;", vec![]).await.expect("progress seen");
            let seen = seen.as_array().unwrap_or_else(|| panic!("no upload progress event: {seen}"));
            assert!(seen[1].as_f64().unwrap_or(0.0) > 0.0, "{seen:?}");
            assert_eq!(seen[0], seen[1], "the bar is full when the upload is done: {seen:?}");
            assert_eq!(seen[2], "上传完成，正在逐行校验…");
            let shown = c.find_all(Locator::Css("#rejected tbody tr")).await.expect("rows");
            assert_eq!(shown.len(), 2);

            element(&c, "#on_duplicate").await.select_by_value("update").await.expect("update");
            click(&c, "#commit").await;
            text_where(&c, "h1", |t| t.starts_with("导入完成")).await;
            assert_eq!(text_where(&c, "#inserted", |_| true).await, "2");
            assert!(c.find(Locator::Css("#commit")).await.is_err(), "no second commit");
        })
        .await;
        assert_eq!(member_count(app).await, 2);
        drop(files);
    })
    .await;
}

/// Where the database keeps its bytes as stored: the SQLite file and its write-ahead log read
/// while the server runs, or a `pg_dump` of the story's PostgreSQL database.
fn raw_database(app: &TestApp) -> Vec<u8> {
    match app.engine {
        Engine::Sqlite => {
            let file = app.url.strip_prefix("sqlite://").expect("a SQLite URL");
            let mut bytes = std::fs::read(file).expect("read the database file");
            bytes.extend(std::fs::read(format!("{file}-wal")).unwrap_or_default());
            bytes
        }
        Engine::Postgres => {
            let out = std::process::Command::new("pg_dump")
                .arg("--dbname")
                .arg(&app.url)
                .output()
                .expect("run pg_dump");
            assert!(
                out.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        }
    }
}

/// Fails when any marker is in the stored bytes as text or, as `pg_dump` writes a `bytea`, in
/// hexadecimal.
fn assert_no_marker(app: &TestApp, step: &str, markers: &[&str]) {
    let raw = raw_database(app);
    let found = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    for m in markers {
        let hex: String = m.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(
            !found(m.as_bytes()) && !found(hex.as_bytes()),
            "[{:?}] after {step}: “{m}” is stored in plain text",
            app.engine
        );
    }
}

/// A stretch of an upload's stored (encrypted) file.
async fn stored_file(app: &TestApp, id: i64) -> Vec<u8> {
    let payload: Option<Vec<u8>> = sqlx::query_scalar("SELECT payload FROM imports WHERE id = $1")
        .bind(id)
        .fetch_one(app.store.pool())
        .await
        .expect("the upload");
    let payload = payload.expect("a stored file");
    assert!(payload.len() > 80, "{} bytes", payload.len());
    payload[payload.len() - 64..].to_vec()
}

/// SQLite: once the write-ahead log is copied back and emptied, no freed page or free space
/// in a page of the database file still holds any of `stretches` (`secure_delete`).
async fn assert_erased(app: &TestApp, step: &str, stretches: &[Vec<u8>]) {
    if app.engine != Engine::Sqlite {
        return;
    }
    let mut tries = 0;
    loop {
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(app.store.pool())
            .await
            .expect("checkpoint");
        if busy == 0 {
            break;
        }
        tries += 1;
        assert!(tries < 100, "the checkpoint was held up");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let raw = raw_database(app);
    for s in stretches {
        assert!(
            !raw.windows(s.len()).any(|w| w == s.as_slice()),
            "after {step}: a deleted upload's bytes are still in the database file"
        );
    }
}

/// The uploads, committed or not, each with whether its file is dropped.
async fn upload_rows(app: &TestApp, committed: bool) -> Vec<(i64, bool)> {
    let sql = if committed {
        "SELECT id, payload FROM imports WHERE committed_at IS NOT NULL ORDER BY id"
    } else {
        "SELECT id, payload FROM imports WHERE committed_at IS NULL ORDER BY id"
    };
    let rows: Vec<(i64, Option<Vec<u8>>)> = sqlx::query_as(sql).fetch_all(app.store.pool()).await.expect("imports");
    rows.into_iter().map(|(id, p)| (id, p.is_none())).collect()
}

/// The console's upload path keeps no plaintext of the file, on either engine: a residents'
/// CSV (plain text, so its cells would show verbatim wherever the file were kept) with a new
/// resident's ID number (stored encrypted once imported), an unknown column the import never
/// stores, and a refused row whose mistyped ID number the preview shows. None of them is in the
/// database file, its write-ahead log or a dump after the preview, after the commit (which drops
/// the file) or after uploads that are never committed. Uploads left for 24 hours by the
/// store's clock answer that they have expired, and are purged by the next upload or the
/// periodic purge.
#[tokio::test]
async fn uploads_keep_no_plaintext_and_expire() {
    for_each_engine(async |app| {
        let (community, _) = setting(app).await;
        let grid: String = sqlx::query_scalar("SELECT code FROM nodes WHERE name = '一号楼党员楼长责任区'")
            .fetch_one(app.store.pool())
            .await
            .expect("the grid's code");
        let new_id = id_number("44060419731122733");
        let mut mistyped = id_number("44060419880229771");
        let last = if mistyped.ends_with('0') { '1' } else { '0' };
        mistyped.pop();
        mistyped.push(last);
        let note = "QZX-8812-绝密附注";
        let csv =
            format!("姓名,身份证号,网格编码,自定义附注\n邝泽霖,{new_id},{grid},{note}\n欧阳晓,{mistyped},{grid},无\n");
        let markers = [new_id.as_str(), mistyped.as_str(), note];
        let http = app.login("dangwu").await;

        // Preview: the file waits for the commit, encrypted.
        let preview = upload(&http, community, "residents", "居民.csv", csv.as_bytes()).await;
        assert_eq!(preview.status, 200, "{}", preview.text);
        assert_eq!(element_text(&preview.text, "inserted").as_deref(), Some("1"));
        assert_eq!(element_text(&preview.text, "rejected-count").as_deref(), Some("1"));
        assert!(preview.text.contains(&mistyped), "the page shows the refused cell");
        let first = import_id(&preview.text);
        assert_eq!(upload_rows(app, false).await, [(first, false)]);
        assert_no_marker(app, "the preview", &markers);

        // The refused rows are still there to download, read back from the encrypted preview.
        let (status, _, xlsx) = http.get_bytes(&format!("/imports/{first}/rejected.xlsx")).await;
        assert_eq!(status, 200);
        assert_eq!(xlsx_rows(xlsx)[1][2], mistyped);

        let first_file = stored_file(app, first).await;

        // Commit: the resident is recorded; the file is dropped.
        let done = http
            .submit(
                &format!("/imports/{first}/commit"),
                &[("on_duplicate", "skip"), ("node_id", &community.to_string())],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(element_text(&done.text, "inserted").as_deref(), Some("1"));
        assert_eq!(
            upload_rows(app, true).await,
            [(first, true)],
            "committed, its file dropped"
        );
        assert_no_marker(app, "the commit", &markers);
        assert_erased(app, "the commit", std::slice::from_ref(&first_file)).await;

        // Abandoned: previewed and never committed.
        let second = import_id(
            &upload(&http, community, "residents", "居民.csv", csv.as_bytes())
                .await
                .text,
        );
        let third = import_id(
            &upload(&http, community, "residents", "居民.csv", csv.as_bytes())
                .await
                .text,
        );
        assert_eq!(upload_rows(app, false).await, [(second, false), (third, false)]);
        assert_no_marker(app, "uploads never committed", &markers);
        let abandoned = [stored_file(app, second).await, stored_file(app, third).await];

        // A day on, a preview answers that its upload expired, and the upload is gone.
        app.store
            .clock()
            .advance(chrono::TimeDelta::hours(24) + chrono::TimeDelta::minutes(1));
        let http = app.login("dangwu").await;
        let commit = async |id: i64| {
            http.submit(
                &format!("/imports/{id}/commit"),
                &[("on_duplicate", "skip"), ("node_id", &community.to_string())],
            )
            .await
        };
        let late = commit(second).await;
        assert_eq!(late.status, 410, "{}", late.text);
        assert!(
            late.text.contains("已超过 24 小时未导入") && late.text.contains("请重新上传"),
            "{}",
            late.text
        );
        assert_eq!(upload_rows(app, false).await, [(third, false)]);

        // A new upload purges those left for a day first.
        let fourth = import_id(
            &upload(&http, community, "residents", "居民.csv", csv.as_bytes())
                .await
                .text,
        );
        assert_eq!(upload_rows(app, false).await, [(fourth, false)]);
        let abandoned = [abandoned.as_slice(), &[stored_file(app, fourth).await]].concat();
        let purged = commit(third).await;
        assert_eq!(purged.status, 404, "{}", purged.text);
        assert!(purged.text.contains("请重新上传"), "{}", purged.text);

        // The periodic purge leaves a young upload and removes it a day later.
        assert_eq!(app.store.purge_stale_imports().await.expect("purge"), 0);
        app.store.clock().advance(chrono::TimeDelta::hours(25));
        assert_eq!(app.store.purge_stale_imports().await.expect("purge"), 1);
        assert_eq!(upload_rows(app, false).await, []);
        assert_eq!(
            upload_rows(app, true).await,
            [(first, true)],
            "a committed upload's outcome stays"
        );
        assert_no_marker(app, "the purge", &markers);
        assert_erased(app, "the purge", &abandoned).await;
    })
    .await;
}
