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
use crate::support::{Http, PASSWORD, TestApp, build_tree, element_text, for_each_engine, overseer};

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
