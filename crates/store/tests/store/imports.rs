//! Importing residents from real spreadsheets.

use gongjian_store::imports::{ImportOptions, OnDuplicate, RowIssue};

use super::*;

fn id_with_check(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = first17.chars().zip(W).map(|(c, w)| c.to_digit(10).unwrap() * w).sum();
    format!("{first17}{}", b"10X98765432"[(s % 11) as usize] as char)
}

/// A workbook as people make them: a merged title row, a blank row, the header on row 3,
/// full-width digits, stray spaces, an ID stored as a number, and a few bad rows.
fn workbook(grid_code: &str, good: &[String]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    let title = rust_xlsxwriter::Format::new().set_bold();
    sheet
        .merge_range(0, 0, 0, 5, "升平社区居民花名册（2026年）", &title)
        .unwrap();
    for (c, h) in ["序号", "姓名", "身份证号码", "手机号码", "网格编码", "户籍"]
        .iter()
        .enumerate()
    {
        sheet.write(2, c as u16, *h).unwrap();
    }
    let mut r = 3u32;
    for (i, id) in good.iter().enumerate() {
        sheet.write(r, 0, (i + 1) as f64).unwrap();
        sheet.write(r, 1, format!(" 居民{i} ")).unwrap();
        // Full-width digits in the first ID; the rest as text.
        let id_cell = if i == 0 {
            id.chars().map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap()).collect()
        } else {
            id.clone()
        };
        sheet.write(r, 2, id_cell).unwrap();
        sheet.write(r, 3, format!("138 0000 {:04}", i)).unwrap();
        sheet.write(r, 4, grid_code).unwrap();
        sheet.write(r, 5, if i % 2 == 0 { "本地" } else { "外地" }).unwrap();
        r += 1;
    }
    // Row 3 + good.len() + 1 onwards: bad rows.
    let bad_check = {
        let mut id = id_with_check("44060419700101123");
        let last = id.pop().unwrap();
        id.push(if last == '0' { '1' } else { '0' });
        id
    };
    sheet.write(r, 1, "校验位错").unwrap();
    sheet.write(r, 2, bad_check.as_str()).unwrap();
    sheet.write(r, 4, grid_code).unwrap();
    r += 1;
    sheet.write(r, 1, "号码成数字").unwrap();
    sheet.write(r, 2, 440604197001011234.0).unwrap();
    sheet.write(r, 4, grid_code).unwrap();
    r += 1;
    sheet.write(r, 1, "网格不存在").unwrap();
    sheet.write(r, 4, "440604999999001").unwrap();
    r += 1;
    sheet.write(r, 1, "重复").unwrap();
    sheet.write(r, 2, good[1].as_str()).unwrap();
    sheet.write(r, 4, grid_code).unwrap();
    book.save_to_buffer().unwrap()
}

fn issue(issues: &[RowIssue], row: usize) -> &RowIssue {
    issues
        .iter()
        .find(|i| i.row == row)
        .unwrap_or_else(|| panic!("no issue on row {row}: {issues:?}"))
}

#[tokio::test]
async fn resident_workbooks_import_with_row_level_reasons_and_idempotently() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let grid = &t["a1g1a"];
        let good: Vec<String> = (0..6)
            .map(|i| id_with_check(&format!("4406041985031{:04}", 2000 + i)))
            .collect();
        let bytes = workbook(&grid.code, &good);
        let none = |_: &str, _: u64, _: u64| {};
        let preview = s
            .import_residents(
                &staff,
                "花名册.xlsx",
                &bytes,
                ImportOptions {
                    on_duplicate: OnDuplicate::Skip,
                    commit: false,
                },
                "t",
                &none,
            )
            .await
            .unwrap();
        eq!(preview.header_row, 3);
        eq!(preview.data_rows, 10);
        eq!(preview.valid, 6);
        eq!(preview.inserted, 6);
        eq!(preview.committed, false);
        eq!(s.count_people_under(&staff, t["a1"].id).await.unwrap(), 0);
        let bad = &preview.rejected;
        eq!(bad.len(), 4);
        let first_bad = 4 + good.len();
        check!(issue(bad, first_bad).reason.contains("校验位"));
        eq!(issue(bad, first_bad).column.as_str(), "身份证号码");
        check!(issue(bad, first_bad + 1).reason.contains("后几位已丢失"));
        check!(issue(bad, first_bad + 2).reason.contains("网格编码不存在"));
        eq!(issue(bad, first_bad + 2).value.as_str(), "440604999999001");
        check!(issue(bad, first_bad + 3).reason.contains("与第 5 行"));

        let done = s
            .import_residents(
                &staff,
                "花名册.xlsx",
                &bytes,
                ImportOptions {
                    on_duplicate: OnDuplicate::Skip,
                    commit: true,
                },
                "t",
                &none,
            )
            .await
            .unwrap();
        eq!(done.inserted, 6);
        eq!(done.committed, true);
        eq!(s.count_people_under(&staff, t["a1"].id).await.unwrap(), 6);
        // The full-width ID was normalised, the phone number too.
        let found = s.people_under(&staff, t["a1"].id, &good[0], None, 5).await.unwrap();
        eq!(found.items.len(), 1);
        eq!(found.items[0].name.as_str(), "居民0");
        eq!(found.items[0].mobile_masked.as_deref(), Some("138****0000"));
        eq!(found.items[1 % found.items.len()].registered_elsewhere, 0);

        // A second import of the same file changes nothing.
        let again = s
            .import_residents(
                &staff,
                "花名册.xlsx",
                &bytes,
                ImportOptions {
                    on_duplicate: OnDuplicate::Skip,
                    commit: true,
                },
                "t",
                &none,
            )
            .await
            .unwrap();
        eq!(again.inserted, 0);
        eq!(again.unchanged, 6);
        eq!(s.count_people_under(&staff, t["a1"].id).await.unwrap(), 6);

        // Another community's staff cannot place residents in this grid.
        let other = scoped(Role::CommunityStaff, &t["a2"]);
        let theirs = s
            .import_residents(
                &other,
                "花名册.xlsx",
                &bytes,
                ImportOptions {
                    on_duplicate: OnDuplicate::Skip,
                    commit: true,
                },
                "t",
                &none,
            )
            .await
            .unwrap();
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
        let none = |_: &str, _: u64, _: u64| {};
        let r = db
            .store
            .import_residents(
                &staff,
                "名单.csv",
                &bytes,
                ImportOptions {
                    on_duplicate: OnDuplicate::Skip,
                    commit: true,
                },
                "t",
                &none,
            )
            .await
            .unwrap();
        eq!(r.header_row, 3);
        eq!(r.inserted, 1);
        eq!(r.rejected.len(), 0);
        let bad = db
            .store
            .import_residents(
                &staff,
                "x.csv",
                "只有,一行\n".as_bytes(),
                ImportOptions {
                    on_duplicate: OnDuplicate::Skip,
                    commit: true,
                },
                "t",
                &none,
            )
            .await;
        refused(bad, "file", "表头");
    })
    .await;
}
