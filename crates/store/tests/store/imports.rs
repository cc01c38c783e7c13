//! Importing residents, party members, units and posts from real spreadsheets: a title merged
//! over the header, the header on row 3, full-width digits, an ID stored as a number, Excel
//! date serials and date cells, a credit code with a wrong check character. Each story checks
//! the refused rows (row, column, reason), the counts, and that a second import changes
//! nothing.

use gongjian_domain::people::ResidentForm;
use gongjian_store::imports::{ImportKind, ImportOptions, ImportReport, OnDuplicate, RowIssue};
use gongjian_store::posts::PostInput;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use super::people::{id_with_check, resident};
use super::*;

/// A cell of a fixture workbook.
enum Cell {
    Text(String),
    Number(f64),
    /// A date cell (formatted as a date, as Excel stores it).
    Date(u16, u8, u8),
    Blank,
}

fn c(s: &str) -> Cell {
    Cell::Text(s.to_string())
}

/// Full-width digits and letters, as some input methods type them.
fn full_width(s: &str) -> String {
    s.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect()
}

/// A workbook with `title` merged over the header's width on row 1, a blank row 2, the header
/// on row 3 and `rows` from row 4.
fn workbook(title: &str, header: &[&str], rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    sheet
        .merge_range(0, 0, 0, header.len() as u16 - 1, title, &bold)
        .unwrap();
    for (c, h) in header.iter().enumerate() {
        sheet.write(2, c as u16, *h).unwrap();
    }
    for (i, row) in rows.iter().enumerate() {
        let r = 3 + i as u32;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => sheet.write(r, c, s.as_str()).map(|_| ()),
                Cell::Number(n) => sheet.write(r, c, *n).map(|_| ()),
                Cell::Date(y, m, d) => {
                    let day = ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
                    sheet.write_datetime_with_format(r, c, &day, &date).map(|_| ())
                }
                Cell::Blank => Ok(()),
            }
            .unwrap();
        }
    }
    book.save_to_buffer().unwrap()
}

fn issue(issues: &[RowIssue], row: usize) -> &RowIssue {
    issues
        .iter()
        .find(|i| i.row == row)
        .unwrap_or_else(|| panic!("no issue on row {row}: {issues:?}"))
}

/// Asserts the refused rows: row, column, a fragment of the reason.
#[track_caller]
fn refused_rows(report: &ImportReport, expected: &[(usize, &str, &str)]) {
    let got: Vec<(usize, &str)> = report.rejected.iter().map(|i| (i.row, i.column.as_str())).collect();
    let want: Vec<(usize, &str)> = expected.iter().map(|(r, c, _)| (*r, *c)).collect();
    eq!(got, want);
    for (row, _, reason) in expected {
        let i = issue(&report.rejected, *row);
        assert!(
            i.reason.contains(reason),
            "[{}] row {row}: “{}” lacks “{reason}”",
            ENGINE.get(),
            i.reason
        );
    }
}

async fn import(
    db: &Db,
    actor: &Actor,
    kind: ImportKind,
    file: &str,
    bytes: &[u8],
    commit: bool,
    update: bool,
) -> ImportReport {
    let options = ImportOptions {
        kind,
        on_duplicate: if update { OnDuplicate::Update } else { OnDuplicate::Skip },
        commit,
        at: None,
    };
    let none = |_: &str, _: u64, _: u64| {};
    let r = db.store.import(actor, file, bytes, options, "t", &none).await;
    r.unwrap_or_else(|e| panic!("[{}] import {file}: {e:?}", ENGINE.get()))
}

/// Counts rows of `table`.
async fn count(db: &Db, table: &str) -> i64 {
    db.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
}

/// An organisation with a name of our choosing.
async fn named_org(db: &Db, parent: Option<&PartyOrg>, kind: &str, category: &str, name: &str, at: &Node) -> PartyOrg {
    let input = PartyOrgInput {
        parent_id: parent.map(|p| p.id),
        kind: kind.into(),
        category: category.into(),
        name: name.into(),
        territory_node_id: Some(at.id),
        ..Default::default()
    };
    db.store.create_party_org(&admin(), &input).await.expect("party org")
}

/// A workbook as people make them: a merged title row, a blank row, the header on row 3,
/// full-width digits, stray spaces, an ID stored as a number, and a few bad rows.
fn resident_workbook(grid_code: &str, good: &[String]) -> Vec<u8> {
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for (i, id) in good.iter().enumerate() {
        let id_cell = if i == 0 { full_width(id) } else { id.clone() };
        rows.push(vec![
            Cell::Number((i + 1) as f64),
            Cell::Text(format!(" 居民{i} ")),
            Cell::Text(id_cell),
            Cell::Text(format!("138 0000 {i:04}")),
            c(grid_code),
            c(if i % 2 == 0 { "本地" } else { "外地" }),
        ]);
    }
    let mut bad_check = id_with_check("44060419700101123");
    let last = bad_check.pop().unwrap();
    bad_check.push(if last == '0' { '1' } else { '0' });
    rows.push(vec![
        Cell::Blank,
        c("校验位错"),
        c(&bad_check),
        Cell::Blank,
        c(grid_code),
    ]);
    rows.push(vec![
        Cell::Blank,
        c("号码成数字"),
        Cell::Number(440604197001011234.0),
        Cell::Blank,
        c(grid_code),
    ]);
    rows.push(vec![
        Cell::Blank,
        c("网格不存在"),
        Cell::Blank,
        Cell::Blank,
        c("440604999999001"),
    ]);
    rows.push(vec![Cell::Blank, c("重复"), c(&good[1]), Cell::Blank, c(grid_code)]);
    let header = ["序号", "姓名", "身份证号码", "手机号码", "网格编码", "户籍"];
    workbook("升平社区居民花名册（2026年）", &header, &rows)
}

#[tokio::test]
async fn resident_workbooks_import_with_row_level_reasons_and_idempotently() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let good: Vec<String> = (0..6)
            .map(|i| id_with_check(&format!("4406041985031{:04}", 2000 + i)))
            .collect();
        let bytes = resident_workbook(&t["a1g1a"].code, &good);
        let preview = import(db, &staff, ImportKind::Residents, "花名册.xlsx", &bytes, false, false).await;
        eq!(preview.header_row, 3);
        eq!(preview.data_rows, 10);
        eq!(preview.valid, 6);
        eq!(preview.inserted, 6);
        eq!(preview.committed, false);
        eq!(s.count_people_under(&staff, t["a1"].id).await.unwrap(), 0);
        let first_bad = 4 + good.len();
        refused_rows(
            &preview,
            &[
                (first_bad, "身份证号码", "校验位"),
                (first_bad + 1, "身份证号码", "后几位已丢失"),
                (first_bad + 2, "网格编码", "网格编码不存在"),
                (first_bad + 3, "身份证号码", "与第 5 行"),
            ],
        );
        eq!(
            issue(&preview.rejected, first_bad + 2).value.as_str(),
            "440604999999001"
        );

        let done = import(db, &staff, ImportKind::Residents, "花名册.xlsx", &bytes, true, false).await;
        eq!(done.inserted, 6);
        eq!(done.committed, true);
        eq!(s.count_people_under(&staff, t["a1"].id).await.unwrap(), 6);
        // The full-width ID was normalised, the phone number too.
        let found = s.people_under(&staff, t["a1"].id, &good[0], None, 5).await.unwrap();
        eq!(found.items.len(), 1);
        eq!(found.items[0].name.as_str(), "居民0");
        eq!(found.items[0].mobile_masked.as_deref(), Some("138****0000"));

        // A second import of the same file changes nothing, skipping or updating.
        for update in [false, true] {
            let again = import(db, &staff, ImportKind::Residents, "花名册.xlsx", &bytes, true, update).await;
            eq!(again.inserted, 0);
            eq!(again.unchanged + again.updated, 6);
        }
        eq!(s.count_people_under(&staff, t["a1"].id).await.unwrap(), 6);

        // Another community's staff cannot place residents in this grid.
        let other = scoped(Role::CommunityStaff, &t["a2"]);
        let theirs = import(db, &other, ImportKind::Residents, "花名册.xlsx", &bytes, true, false).await;
        eq!(theirs.inserted, 0);
        check!(
            theirs
                .rejected
                .iter()
                .filter(|i| i.reason.contains("网格编码不存在"))
                .count()
                >= 6
        );
    })
    .await;
}

#[tokio::test]
async fn csv_in_gb18030_with_a_late_header_is_read() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let id = id_with_check("44060419900101123");
        let text = format!("居民名单\n\n姓名,身份证号,网格编码\n赵六,{id},{}\n", t["a1g2a"].code);
        let (bytes, _, _) = encoding_rs::GB18030.encode(&text);
        let r = import(db, &staff, ImportKind::Residents, "名单.csv", &bytes, true, false).await;
        eq!(r.header_row, 3);
        eq!(r.inserted, 1);
        eq!(r.rejected.len(), 0);
        let options = ImportOptions {
            commit: true,
            ..Default::default()
        };
        let none = |_: &str, _: u64, _: u64| {};
        let bad = db
            .store
            .import(&staff, "x.csv", "只有,一行\n".as_bytes(), options, "t", &none)
            .await;
        refused(bad, "file", "表头");
    })
    .await;
}

/// Registers residents by hand: name and 17 leading digits of the ID number.
async fn register(db: &Db, actor: &Actor, home: &Node, people: &[(&str, &str)]) -> Vec<String> {
    let mut ids = Vec::new();
    for (name, body) in people {
        let id = id_with_check(body);
        let form: ResidentForm = resident(name, &id, "", home);
        db.store.create_person(actor, &form, "t").await.expect("resident");
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn party_member_workbooks_find_people_and_organisations_and_transfer_on_update() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let committee = named_org(db, None, "committee", "community", "升平社区党委", &t["a1"]).await;
        let jinxiu = named_org(db, Some(&committee), "branch", "estate", "锦绣小区党支部", &t["a1g1"]).await;
        let second = named_org(db, Some(&committee), "branch", "grid", "第二居民小组党支部", &t["a1g2"]).await;
        // Two organisations of one name: a row naming it cannot say which.
        named_org(db, Some(&committee), "branch", "estate", "第一党支部", &t["a1g1"]).await;
        let xinghua = named_org(db, None, "committee", "community", "兴华社区党委", &t["a2"]).await;
        named_org(db, Some(&xinghua), "branch", "business", "第一党支部", &t["a2g1"]).await;
        // Outside the street: not found, as if it did not exist.
        named_org(db, None, "committee", "community", "张槎社区党委", &t["b1"]).await;
        let people = [
            ("张三", "44060419800101001"),
            ("李四", "44060419800101002"),
            ("王五", "44060419800101003"),
            ("钱七", "44060419800101004"),
            ("孙八", "44060419800101005"),
            ("周九", "44060419800101006"),
            ("吴十", "44060419800101007"),
            ("郑一", "44060419800101008"),
        ];
        let ids = register(db, &staff, &t["a1g1a"], &people).await;
        let unregistered = id_with_check("44060419800101099");
        let rows = |zhang_branch: &str, wang_status: &str, wang_full: Cell| {
            vec![
                // 4: full-width digits, joined as an Excel serial number, made full as a date cell.
                vec![
                    c("张三"),
                    Cell::Text(full_width(&ids[0])),
                    c(zhang_branch),
                    c("正式"),
                    Cell::Number(38169.0),
                    Cell::Date(2005, 7, 1),
                ],
                // 5: an ID stored as a number.
                vec![
                    c("李四"),
                    Cell::Number(ids[1].parse::<f64>().unwrap_or(4.4e17)),
                    c("锦绣小区党支部"),
                    c("正式"),
                    c("2001-07-01"),
                ],
                // 6: probationary, typed dates.
                vec![
                    c(" 王五 "),
                    c(&ids[2]),
                    c("锦绣小区党支部"),
                    c(wang_status),
                    c("2024/7/1"),
                    wang_full,
                ],
                // 7: not registered as a resident.
                vec![
                    c("赵六"),
                    c(&unregistered),
                    c("锦绣小区党支部"),
                    c("正式"),
                    c("2001-07-01"),
                ],
                // 8: an ambiguous organisation.
                vec![c("钱七"), c(&ids[3]), c("第一党支部"), c("正式"), c("2001-07-01")],
                // 9: an organisation outside the street.
                vec![c("孙八"), c(&ids[4]), c("张槎社区党委"), c("正式"), c("2001-07-01")],
                // 10: probationary with a date of becoming full.
                vec![
                    c("周九"),
                    c(&ids[5]),
                    c("第二居民小组党支部"),
                    c("预备"),
                    c("2024-07-01"),
                    c("2025-07-01"),
                ],
                // 11: the same person as row 4.
                vec![c("张三"), c(&ids[0]), c("锦绣小区党支部"), c("正式"), c("2001-07-01")],
                // 12: a name that is not the registered one.
                vec![c("吴拾"), c(&ids[6]), c("锦绣小区党支部"), c("正式"), c("2001-07-01")],
                // 13: fine, in the other branch.
                vec![
                    c("郑一"),
                    c(&ids[7]),
                    c("第二居民小组党支部"),
                    c("预备党员"),
                    c("2025年3月1日"),
                ],
            ]
        };
        let header = ["姓名", "身份证号", "所在党支部", "党员类别", "入党日期", "转正日期"];
        let bytes = workbook(
            "升平社区党员花名册",
            &header,
            &rows("锦绣小区党支部", "预备", Cell::Blank),
        );
        let preview = import(db, &staff, ImportKind::Members, "党员.xlsx", &bytes, false, false).await;
        eq!(
            (preview.header_row, preview.data_rows, preview.valid, preview.inserted),
            (3, 10, 3, 3)
        );
        refused_rows(
            &preview,
            &[
                (5, "身份证号", "后几位已丢失"),
                (7, "身份证号", "未找到该身份证号的居民"),
                (8, "所在党支部", "无法确定"),
                (9, "所在党支部", "不在管理范围内"),
                (10, "转正日期", "预备党员没有转正日期"),
                (11, "身份证号", "与第 4 行是同一人"),
                (12, "姓名", "不一致"),
            ],
        );
        eq!(count(db, "party_members").await, 0);
        let done = import(db, &staff, ImportKind::Members, "党员.xlsx", &bytes, true, false).await;
        eq!((done.inserted, done.committed), (3, true));
        let zhang: i64 = db
            .scalar("SELECT m.id FROM party_members m JOIN persons p ON p.id = m.person_id WHERE p.name = '张三'")
            .await;
        let m = db.store.member(&staff, zhang).await.unwrap();
        eq!(
            (m.org_id, m.status.as_str(), m.joined_on.as_str()),
            (jinxiu.id, "full", "2004-07-01")
        );
        eq!(m.full_on.as_deref(), Some("2005-07-01"));
        let snapshot = (count(db, "party_members").await, count(db, "member_transfers").await);
        eq!(snapshot, (3, 3));

        // Again, skipping or updating: nothing changes.
        for update in [false, true] {
            let again = import(db, &staff, ImportKind::Members, "党员.xlsx", &bytes, true, update).await;
            eq!((again.inserted, again.updated, again.unchanged), (0, 0, 3));
        }
        eq!(
            (count(db, "party_members").await, count(db, "member_transfers").await),
            snapshot
        );

        // Updated: 张三 moves to the other branch (a transfer), 王五 becomes a full member.
        let moved = workbook("党员", &header, &rows("第二居民小组党支部", "正式", c("2025-07-01")));
        let skip = import(db, &staff, ImportKind::Members, "党员.xlsx", &moved, true, false).await;
        eq!((skip.updated, skip.unchanged), (0, 3));
        let update = import(db, &staff, ImportKind::Members, "党员.xlsx", &moved, true, true).await;
        eq!((update.inserted, update.updated, update.unchanged), (0, 2, 1));
        let m = db.store.member(&staff, zhang).await.unwrap();
        eq!(m.org_id, second.id);
        let transfers = db.store.member_transfers(&staff, zhang).await.unwrap();
        let path: Vec<(Option<String>, String)> = transfers.into_iter().map(|t| (t.from_org, t.to_org)).collect();
        eq!(
            path,
            vec![
                (None, "锦绣小区党支部".to_string()),
                (Some("锦绣小区党支部".into()), "第二居民小组党支部".into())
            ]
        );
        eq!(
            db.scalar("SELECT COUNT(*) FROM party_members WHERE status = 'full'")
                .await,
            2
        );
        let again = import(db, &staff, ImportKind::Members, "党员.xlsx", &moved, true, true).await;
        eq!((again.updated, again.unchanged), (0, 3));
        eq!(count(db, "member_transfers").await, 4);
        eq!(
            db.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'member.import'")
                .await,
            6
        );
    })
    .await;
}

/// A 统一社会信用代码 with a right check character, from 17 leading characters.
fn credit_code(first17: &str) -> String {
    let probe = format!("{first17}0");
    match gongjian_domain::ids::CreditCode::parse(&probe).unwrap() {
        (_, Some(w)) => format!("{first17}{}", w.expected),
        (c, None) => c.as_str().to_string(),
    }
}

#[tokio::test]
async fn unit_workbooks_keep_a_doubtful_credit_code_with_a_warning() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let good = credit_code("91440604MA4UJ5XX0");
        let doubtful = "91440604MA4UJ5XX7C";
        let header = [
            "单位名称",
            "统一社会信用代码",
            "单位类型",
            "所在社区/街道",
            "地址",
            "联系人",
            "职务",
            "联系电话",
        ];
        let rows = vec![
            // 4: a wrong check character: taken, with a warning; the mobile in full-width digits.
            vec![
                c("佛山市某科技有限公司"),
                c(doubtful),
                c("民营企业"),
                c("升平社区"),
                c("祖庙路1号"),
                c("张经理"),
                c("办公室主任"),
                Cell::Text(full_width("13800001111")),
            ],
            // 5: no credit code, located by node code.
            vec![
                c("禅城区某局"),
                Cell::Blank,
                c("机关"),
                c(&t["a2"].code),
                c(""),
                c("李科长"),
                c("科长"),
                c("139 0000 2222"),
            ],
            // 6: a kind that does not exist.
            vec![c("某公司"), c(&good), c("公司"), c("升平社区")],
            // 7: a place outside the street.
            vec![c("张槎某厂"), Cell::Blank, c("民营企业"), c("张槎社区")],
            // 8: the same credit code as row 4.
            vec![c("佛山市某科技有限公司分部"), c(doubtful), c("民营企业"), c("兴华社区")],
            // 9: a mobile number that is not one.
            vec![
                c("某社会组织"),
                Cell::Blank,
                c("社会组织"),
                c("升平社区"),
                c(""),
                c("王会长"),
                c(""),
                c("12345"),
            ],
            // 10: a contact's number without a contact.
            vec![
                c("某事业单位"),
                Cell::Blank,
                c("事业单位"),
                c("兴华社区"),
                c(""),
                Cell::Blank,
                c(""),
                c("13900003333"),
            ],
            // 11: at the district: above where units are kept.
            vec![c("某国企"), c(&good), c("国有企业"), c("禅城区")],
        ];
        let bytes = workbook("祖庙街道驻区单位", &header, &rows);
        let preview = import(db, &staff, ImportKind::Units, "单位.xlsx", &bytes, false, false).await;
        eq!(
            (preview.header_row, preview.data_rows, preview.valid, preview.inserted),
            (3, 8, 2, 2)
        );
        refused_rows(
            &preview,
            &[
                (6, "单位类型", "请选择单位类型"),
                (7, "所在社区/街道", "不在管理范围内"),
                (8, "统一社会信用代码", "与第 4 行是同一单位"),
                (9, "联系电话", "手机"),
                (10, "联系人", ""),
                (11, "所在社区/街道", "不存在"),
            ],
        );
        eq!(preview.warnings.len(), 1);
        let w = &preview.warnings[0];
        eq!(
            (w.row, w.column.as_str(), w.value.as_str()),
            (4, "统一社会信用代码", doubtful)
        );
        check!(w.reason.contains("校验位"));

        let done = import(db, &staff, ImportKind::Units, "单位.xlsx", &bytes, true, false).await;
        eq!((done.inserted, done.warnings.len(), done.committed), (2, 1, true));
        let warned: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT name, credit_code_warning FROM units ORDER BY id")
                .fetch_all(db.store.pool())
                .await
                .unwrap();
        eq!(warned.len(), 2);
        check!(warned[0].1.as_deref().is_some_and(|w| w.contains("校验位")));
        eq!(warned[1].1, None);
        let masked: Vec<String> = sqlx::query_scalar("SELECT mobile_masked FROM unit_contacts ORDER BY id")
            .fetch_all(db.store.pool())
            .await
            .unwrap();
        eq!(masked, vec!["138****1111".to_string(), "139****2222".into()]);

        for update in [false, true] {
            let again = import(db, &staff, ImportKind::Units, "单位.xlsx", &bytes, true, update).await;
            eq!((again.inserted, again.updated, again.unchanged), (0, 0, 2));
        }
        eq!((count(db, "units").await, count(db, "unit_contacts").await), (2, 2));

        // Updated from a corrected file: the address changes and a second contact is added.
        let mut fixed = rows;
        fixed.truncate(1);
        fixed[0][4] = c("祖庙路2号");
        fixed[0][5] = c("陈主任");
        let fixed = workbook("驻区单位", &header, &fixed);
        let r = import(db, &staff, ImportKind::Units, "单位.xlsx", &fixed, true, true).await;
        eq!((r.inserted, r.updated), (0, 1));
        eq!(
            db.scalar("SELECT COUNT(*) FROM units WHERE address = '祖庙路2号'")
                .await,
            1
        );
        eq!(count(db, "unit_contacts").await, 3);
        // Another street cannot change it.
        let other = scoped(Role::StreetStaff, &t["b"]);
        let theirs = import(db, &other, ImportKind::Units, "单位.xlsx", &fixed, true, true).await;
        eq!(theirs.inserted, 0);
        eq!(theirs.rejected.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn post_files_appoint_once_and_keep_one_secretary() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let committee = named_org(db, None, "committee", "community", "升平社区党委", &t["a1"]).await;
        let ids = register(
            db,
            &staff,
            &t["a1g1a"],
            &[
                ("陈书记", "44060419750101001"),
                ("李委员", "44060419750101002"),
                ("何主任", "44060419750101003"),
            ],
        )
        .await;
        // 兴华社区 has its director already.
        let he: i64 = db.scalar("SELECT id FROM persons WHERE name = '何主任'").await;
        let input = PostInput {
            person_id: Some(he),
            kind: "rc_director".into(),
            node_id: Some(t["a2"].id),
            ..PostInput::default()
        };
        db.store.assign_post(&staff, &input, "t").await.expect("director");
        let (chen, li) = (&ids[0], &ids[1]);
        let a1 = &t["a1"].code;
        let csv = format!(
            "姓名,身份证号,职务,任职单位,等级,任职日期\n\
             陈书记,{chen},书记,升平社区党委,,2024-01-02\n\
             陈书记,{chen},居委会主任,{a1},,45474\n\
             李委员,{li},党支部书记,升平社区党委,,\n\
             李委员,{li},居委会主任,锦绣小区,,\n\
             李委员,{li},网格员,锦绣小区,,2024年3月1日\n\
             李委员,{li},社区工作者,升平社区,一级,\n\
             李委员,{li},主任,升平社区,,\n\
             李委员,{li},居委会主任,兴华社区,,\n\
             李委员,{li},网格员,锦绣小区,,\n\
             李委员,{li},楼长,1号楼片区,,2999-01-01\n"
        );
        let (bytes, _, _) = encoding_rs::GB18030.encode(&csv);
        let preview = import(db, &staff, ImportKind::Posts, "任职.csv", &bytes, false, false).await;
        eq!(
            (preview.header_row, preview.data_rows, preview.valid, preview.inserted),
            (1, 10, 4, 4)
        );
        refused_rows(
            &preview,
            &[
                (4, "职务", "与第 2 行冲突"),
                (5, "任职单位", "不设在二级网格"),
                (8, "职务", "职务应为"),
                (9, "职务", "何主任担任"),
                (10, "职务", "与第 6 行重复"),
                (11, "任职日期", "晚于今天"),
            ],
        );
        let done = import(db, &staff, ImportKind::Posts, "任职.csv", &bytes, true, false).await;
        eq!((done.inserted, done.committed), (4, true));
        let at = db.store.posts_at(&staff, t["a1"].id).await.unwrap();
        let mut kinds: Vec<(&str, &str, String)> = at
            .iter()
            .map(|p| (p.kind.as_str(), p.person_name.as_str(), p.started_on.clone()))
            .collect();
        kinds.sort();
        eq!(kinds[0], ("community_worker", "李委员", kinds[0].2.clone()));
        eq!(kinds[1], ("rc_director", "陈书记", "2024-07-01".to_string()));
        eq!(kinds[2], ("secretary", "陈书记", "2024-01-02".to_string()));
        eq!(
            at[0..]
                .iter()
                .find(|p| p.kind == "community_worker")
                .and_then(|p| p.grade.as_deref()),
            Some("一级")
        );
        eq!(
            committee.id,
            at.iter()
                .find(|p| p.kind == "secretary")
                .and_then(|p| p.org_id)
                .unwrap_or_default()
        );
        let posts = count(db, "posts").await;
        eq!(posts, 5);
        let again = import(db, &staff, ImportKind::Posts, "任职.csv", &bytes, true, true).await;
        eq!((again.inserted, again.unchanged), (0, 4));
        eq!(count(db, "posts").await, posts);
    })
    .await;
}

/// The database as stored: the SQLite file and its write-ahead log, or a `pg_dump` of the
/// story's own PostgreSQL database.
async fn raw_database(db: &Db) -> String {
    if let Some(dir) = &db._dir {
        let mut bytes = Vec::new();
        for f in ["t.db", "t.db-wal"] {
            bytes.extend(std::fs::read(dir.path().join(f)).unwrap_or_default());
        }
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let (url, name) = db.pg.clone().expect("a PostgreSQL database");
    let out = std::process::Command::new("pg_dump")
        .arg("--dbname")
        .arg(with_database(&url, &name))
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("a UTF-8 dump")
}

#[tokio::test]
async fn the_database_holds_no_plaintext_imported_number() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let mut numbers = Vec::new();
        let mut rows = Vec::new();
        for i in 0..20 {
            let id = id_with_check(&format!("4406041990010{:04}", 1000 + i));
            let mobile = format!("1391234{:04}", 5000 + i);
            rows.push(vec![c(&format!("居民{i}")), c(&id), c(&mobile), c(&t["a1g1a"].code)]);
            numbers.extend([id, mobile]);
        }
        let people = workbook("居民", &["姓名", "身份证号", "手机号码", "网格编码"], &rows);
        let r = import(db, &staff, ImportKind::Residents, "居民.xlsx", &people, true, false).await;
        eq!(r.inserted, 20);
        let mut rows = Vec::new();
        for i in 0..3 {
            let mobile = format!("1375678{:04}", 100 + i);
            rows.push(vec![
                c(&format!("某单位{i}")),
                c("民营企业"),
                c("升平社区"),
                c("联系人"),
                c(&mobile),
            ]);
            numbers.push(mobile);
        }
        let header = ["单位名称", "单位类型", "所在社区/街道", "联系人", "联系电话"];
        let units = workbook("单位", &header, &rows);
        let r = import(db, &staff, ImportKind::Units, "单位.xlsx", &units, true, false).await;
        eq!(r.inserted, 3);
        db.store.close().await;
        let text = raw_database(db).await;
        for n in &numbers {
            assert!(
                !text.contains(n.as_str()),
                "[{}] plaintext {n} found in the database",
                ENGINE.get()
            );
        }
        // The masked forms are there: the scan reads the stored rows.
        for masked in ["440604********", "139****5000", "137****0100"] {
            assert!(text.contains(masked), "[{}] no {masked} in the database", ENGINE.get());
        }
    })
    .await;
}

/// An import reads, changes and confirms nothing outside the importer's scope: a resident of
/// another street is neither moved into the importer's grid (with update) nor counted as
/// unchanged (without) — the row is refused, with the same reason either way — and a unit
/// registered in another street is refused likewise.
#[tokio::test]
async fn an_import_leaves_and_does_not_confirm_records_outside_the_scope() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let theirs = scoped(Role::CommunityStaff, &t["b1"]);
        let elsewhere = id_with_check("44060419800101555");
        let p = s
            .create_person(&theirs, &resident("张槎住户", &elsewhere, "13500001111", &t["b1g1a"]), "t")
            .await
            .unwrap();
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let fresh = id_with_check("44060419800101666");
        let header = ["姓名", "身份证号", "手机号码", "网格编码"];
        let rows = vec![
            vec![c("改名住户"), c(&elsewhere), c("13600002222"), c(&t["a1g1a"].code)],
            vec![c("新住户"), c(&fresh), c(""), c(&t["a1g1a"].code)],
        ];
        let bytes = workbook("居民", &header, &rows);
        for (commit, update) in [(false, false), (false, true), (true, false), (true, true)] {
            let r = import(db, &staff, ImportKind::Residents, "居民.xlsx", &bytes, commit, update).await;
            // Only the new resident's row counts: inserted, then (once written) left or updated.
            eq!((r.valid, r.inserted + r.updated + r.unchanged), (1, 1));
            refused_rows(&r, &[(4, "身份证号", "已在您的管理范围以外登记")]);
            eq!(
                issue(&r.rejected, 4).reason.as_str(),
                "该身份证号已在您的管理范围以外登记，不能在此导入或更新；居民迁入须由原登记地办理迁出后再登记"
            );
        }
        // The resident of the other street is as registered: name, number, home.
        let still = s.person(&theirs, p.id).await.unwrap();
        eq!(
            (still.name.as_str(), still.home_node_id, still.mobile_masked.as_deref()),
            ("张槎住户", t["b1g1a"].id, Some("135****1111"))
        );
        eq!(s.count_people_under(&staff, t["a1"].id).await.unwrap(), 1);
        // Narrowed to a node (the web page's import), a resident of the importer's own street
        // but of another community is out of reach as well.
        let street = scoped(Role::StreetStaff, &t["a"]);
        let sibling = id_with_check("44060419800101777");
        s.create_person(&street, &resident("兴华住户", &sibling, "", &t["a2g1a"]), "t")
            .await
            .unwrap();
        let rows = vec![vec![c("兴华住户"), c(&sibling), c(""), c(&t["a1g1a"].code)]];
        let options = ImportOptions {
            kind: ImportKind::Residents,
            on_duplicate: OnDuplicate::Update,
            commit: true,
            at: Some(t["a1"].id),
        };
        let none = |_: &str, _: u64, _: u64| {};
        let r = s
            .import(&street, "居民.xlsx", &workbook("居民", &header, &rows), options, "t", &none)
            .await
            .unwrap();
        eq!((r.valid, r.updated, r.unchanged), (0, 0, 0));
        refused_rows(&r, &[(4, "身份证号", "已在您的管理范围以外登记")]);

        // Units: a credit code registered in street b is refused to street a, skipping or
        // updating, and never counted as unchanged.
        let code = credit_code("91440604MA4UJ6YY0");
        let b_staff = scoped(Role::StreetStaff, &t["b"]);
        let form = gongjian_domain::units::UnitForm {
            name: "张槎某公司".into(),
            credit_code: code.clone(),
            kind: "private".into(),
            node_id: Some(t["b1"].id),
            address: String::new(),
        };
        s.create_unit(&b_staff, &form, "t").await.unwrap();
        let header = ["单位名称", "统一社会信用代码", "单位类型", "所在社区/街道"];
        let rows = vec![vec![c("张槎某公司"), c(&code), c("民营企业"), c("升平社区")]];
        let bytes = workbook("单位", &header, &rows);
        let street_a = scoped(Role::StreetStaff, &t["a"]);
        for update in [false, true] {
            let r = import(db, &street_a, ImportKind::Units, "单位.xlsx", &bytes, true, update).await;
            eq!((r.valid, r.inserted, r.updated, r.unchanged), (0, 0, 0, 0));
            refused_rows(&r, &[(4, "统一社会信用代码", "已在您的管理范围以外登记")]);
        }
        eq!(
            db.scalar("SELECT COUNT(*) FROM units WHERE name = '张槎某公司' AND node_id = (SELECT id FROM nodes WHERE code = '440604002001')")
                .await,
            1
        );
    })
    .await;
}

/// A resident workbook of one good row; with `far`, a cell at XFD1048576 as well, so that the
/// sheet declares all 16,384 columns × 1,048,576 rows (a 17-billion-cell dense range, the
/// "512 GB" file) in a file of a few kilobytes.
fn whole_sheet_workbook(grid_code: &str, far: bool) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (c, h) in ["姓名", "身份证号", "网格编码"].iter().enumerate() {
        sheet.write(0, c as u16, *h).unwrap();
    }
    sheet.write(1, 0, "钱七").unwrap();
    sheet.write(1, 1, id_with_check("44060419900101456")).unwrap();
    sheet.write(1, 2, grid_code).unwrap();
    if far {
        sheet.write(1_048_575, 16_383, "角落").unwrap();
    }
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn a_workbook_declaring_the_whole_sheet_is_refused_and_nothing_is_written() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let bytes = whole_sheet_workbook(&t["a1g2a"].code, true);
        check!(bytes.len() < 8 * 1024);
        let (people, audits) = (count(db, "persons").await, count(db, "audit_log").await);
        let options = ImportOptions {
            commit: true,
            ..Default::default()
        };
        let none = |_: &str, _: u64, _: u64| {};
        let bad = db.store.import(&staff, "大表.xlsx", &bytes, options, "t", &none).await;
        let message = match &bad {
            Err(StoreError::Invalid(v)) => v.message_for("file").unwrap_or_default().to_string(),
            other => panic!("[{}] expected a refusal, got {other:?}", ENGINE.get()),
        };
        for fragment in [
            "“大表.xlsx”",
            "工作表声明了 16384 列 × 1048576 行",
            "A1:XFD1048576",
            "最多 200 列",
        ] {
            check!(message.contains(fragment));
        }
        eq!(count(db, "persons").await, people);
        eq!(count(db, "audit_log").await, audits);

        // The same row without the far cell is taken.
        let fine = whole_sheet_workbook(&t["a1g2a"].code, false);
        let r = import(db, &staff, ImportKind::Residents, "小表.xlsx", &fine, true, false).await;
        eq!(r.inserted, 1);
        eq!(count(db, "persons").await, people + 1);

        // A CSV line with content past column GR is refused the same way.
        let wide = format!(
            "姓名,身份证号,网格编码{}\n钱七,1,2{}x\n",
            ",".repeat(10),
            ",".repeat(300)
        );
        let bad = db
            .store
            .import(&staff, "宽表.csv", wide.as_bytes(), options, "t", &none)
            .await;
        refused(bad, "file", "第 2 行有 303 列");
        eq!(count(db, "persons").await, people + 1);
    })
    .await;
}
