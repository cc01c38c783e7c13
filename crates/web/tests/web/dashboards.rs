//! Statistics over HTTP on the small Foshan demo: the API with periods and the breakdown by
//! child nodes, the dashboards and their exports, the big screen — and in the browser, the
//! drill-down from the city to a community with a table exported and read back.

use fantoccini::Locator;
use serde_json::Value;

use crate::browser::{click_link, element, in_browser, login, text_where};
use crate::journeys::{XLSX, fetch_with_session, path_where, table_rows, xlsx_rows};
use crate::support::{PASSWORD, TestApp, field_invalid};

const CITY: &str = "440600000000";

fn sum(breakdown: &Value) -> f64 {
    breakdown
        .as_array()
        .expect("breakdown")
        .iter()
        .map(|c| c["value"].as_f64().unwrap_or(0.0))
        .sum()
}

#[tokio::test]
async fn metrics_for_a_period_with_their_breakdown() {
    let app = TestApp::start().await;
    app.load_foshan().await;
    let manager = app.manager().await;
    let get = async |path: &str| manager.get(path).await.expect(200).json();

    let list = get("/api/v1/stats").await;
    let basis = |id: &str| {
        list.as_array()
            .expect("list")
            .iter()
            .find(|m| m["id"] == id)
            .map(|m| m["basis"].clone())
    };
    assert_eq!(basis("people.community_workers"), Some(Value::from("stock")));
    assert_eq!(basis("people.workers_recruited"), Some(Value::from("flow")));
    assert_eq!(basis("grid.count.l3"), Some(Value::from("current")));
    assert_eq!(basis("orders.self_service"), Some(Value::Null));
    assert_eq!(basis("volunteer.count"), Some(Value::from("current")));

    // The city's level-3 grids, and the same per district.
    let l3 = get(&format!("/api/v1/stats/grid.count.l3?node={CITY}")).await;
    assert_eq!(l3["value"], 10721.0);
    let districts = l3["breakdown"].as_array().expect("breakdown");
    assert_eq!(districts.len(), 5);
    assert_eq!(districts[0]["name"], "禅城区");
    assert_eq!(sum(&l3["breakdown"]), 10721.0);
    let one = get(&format!("/api/v1/stats/org.community.one_shoulder?node={CITY}")).await;
    let per_district: i64 = one["breakdown"]
        .as_array()
        .expect("breakdown")
        .iter()
        .map(|c| c["denominator"].as_i64().unwrap_or(0))
        .sum::<i64>();
    assert_eq!((one["denominator"].as_i64(), per_district), (Some(809), 809));

    // The demo's posts began on 1 June 2021: none were held the day before.
    let workers = async |query: &str| get(&format!("/api/v1/stats/people.community_workers?node={CITY}&{query}")).await;
    assert_eq!(workers("to=2021-05-31").await["value"], 0.0);
    let june = workers("to=2021-06-30").await;
    assert_eq!(
        (june["value"].as_f64(), june["to"].as_str()),
        (Some(809.0), Some("2021-06-30"))
    );
    assert_eq!(sum(&june["breakdown"]), 809.0);
    let hired = async |query: &str| get(&format!("/api/v1/stats/people.workers_recruited?node={CITY}&{query}")).await;
    assert_eq!(hired("from=2021-06-01&to=2021-06-30").await["value"], 809.0);
    assert_eq!(hired("from=2021-07-01").await["value"], 0.0);

    // Dates are checked field by field.
    let bad = manager
        .get(&format!("/api/v1/stats/grid.count.l3?node={CITY}&to=2024-02-30"))
        .await
        .expect(422);
    assert_eq!(bad.error_fields(), vec!["to".to_string()]);
    let bad = manager
        .get(&format!(
            "/api/v1/stats/grid.count.l3?node={CITY}&from=2024-03-01&to=2024-02-01"
        ))
        .await
        .expect(422);
    assert_eq!(bad.error_fields(), vec!["from".to_string()]);

    // Hostile dates are refused, never echoed raw.
    for hostile in [
        "<script>alert(1)</script>",
        "x'); DROP TABLE nodes; --",
        "坏\0日",
        "２０２４－０１－０１",
    ] {
        let q = serde_urlencoded::to_string([("node", CITY), ("from", hostile)]).expect("query");
        let r = manager
            .get(&format!("/api/v1/stats/grid.count.l3?{q}"))
            .await
            .expect(422);
        assert_eq!(r.error_fields(), vec!["from".to_string()], "{hostile}");
        let city = app
            .store
            .node_by_code(&crate::support::overseer(), CITY)
            .await
            .expect("city");
        let q = serde_urlencoded::to_string([("from", hostile), ("to", hostile)]).expect("query");
        let page = manager
            .get(&format!("/tree/{}/dashboard?{q}", city.id))
            .await
            .expect(422);
        assert!(!page.text.contains("<script>alert"), "{hostile} shown raw");
    }

    // The figures page takes the same period: before the posts began, none were held.
    let city = app
        .store
        .node_by_code(&crate::support::overseer(), CITY)
        .await
        .expect("city");
    let row = |text: &str, id: &str| -> String {
        let start = text.find(&format!(r#"data-metric="{id}""#)).expect(id);
        text[start..].split("</tr>").next().unwrap_or_default().to_string()
    };
    let before = manager
        .get(&format!("/tree/{}/stats?to=2021-05-31", city.id))
        .await
        .expect(200);
    assert!(row(&before.text, "people.community_workers").contains(r#"<td class="num">0</td>"#));
    let june = manager
        .get(&format!("/tree/{}/stats?to=2021-06-30", city.id))
        .await
        .expect(200);
    assert!(row(&june.text, "people.community_workers").contains(r#"<td class="num">809</td>"#));
    let bad = manager
        .get(&format!("/tree/{}/stats?to=2021-02-30", city.id))
        .await
        .expect(422);
    assert!(field_invalid(&bad.text, "to"), "the field is marked");

    // The dashboard, its tables as workbooks, the big screen.
    let city = app
        .store
        .node_by_code(&crate::support::overseer(), CITY)
        .await
        .expect("city");
    let r = manager.get("/dashboard").await.expect(303);
    assert_eq!(r.location(), format!("/tree/{}/dashboard", city.id));
    let page = manager.get(&format!("/tree/{}/dashboard", city.id)).await.expect(200);
    assert!(page.text.contains("统计看板：佛山市"));
    assert!(
        page.text.contains(r#"data-kpi="grid_l3">10721<"#),
        "the level-3 grid count"
    );
    assert!(page.text.contains("/assets/vendor/echarts/echarts.min.js"));
    let bad = manager
        .get(&format!("/tree/{}/dashboard?from=2024-13-01", city.id))
        .await
        .expect(422);
    assert!(field_invalid(&bad.text, "from"), "the field is marked");
    assert!(bad.text.contains("不是有效日期"));
    for table in ["children", "metrics", "trends"] {
        let (status, headers, bytes) = manager
            .get_bytes(&format!(
                "/tree/{}/dashboard/export?table={table}&to=2024-06-30",
                city.id
            ))
            .await;
        assert_eq!(status, 200, "{table}");
        assert_eq!(headers["content-type"], XLSX);
        assert!(bytes.starts_with(b"PK"), "{table} is a workbook");
    }
    let (status, _, bytes) = manager.get_bytes(&format!("/tree/{}/dashboard/export", city.id)).await;
    assert_eq!(status, 200);
    let rows = xlsx_rows(bytes, "下级单位");
    assert_eq!(rows.len(), 6, "a header and five districts");
    assert_eq!(rows[1][0], "禅城区");
    manager
        .get(&format!("/tree/{}/dashboard/export?table=nothing", city.id))
        .await
        .expect(400);
    let trends = manager
        .get(&format!("/tree/{}/dashboard/trends?to=2021-07-15", city.id))
        .await
        .expect(200);
    assert!(trends.text.contains("2021-06"), "{}", trends.text);
    let screen = manager.get(&format!("/tree/{}/screen", city.id)).await.expect(200);
    assert!(screen.text.contains(r#"hx-trigger="every 60s""#));
    let panel = manager
        .get(&format!("/tree/{}/screen/panel", city.id))
        .await
        .expect(200);
    assert!(panel.text.contains("更新于"));
    app.stop().await;
}

/// The overview in the browser: from the city down to a community by the breakdown's links,
/// then a table exported and read back with the numbers the page shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_down_from_the_city_and_export() {
    let app = TestApp::start().await;
    app.load_foshan().await;
    app.manager().await;
    let base = app.base.clone();
    in_browser(move |c| async move {
        c.goto(&base).await.expect("open the console");
        login(&c, "manager", PASSWORD).await;
        text_where(&c, "h1", |t| t.starts_with("佛山市")).await;
        click_link(&c, "统计看板").await;
        text_where(&c, "#dashboard-title", |t| t.starts_with("统计看板：佛山市")).await;
        assert_eq!(text_where(&c, r#"[data-kpi="grid_l3"]"#, |_| true).await, "10721");
        // The charts are drawn (ECharts puts a canvas in each holder) and the trends arrive.
        element(&c, ".chart[data-chart=bar] canvas").await;
        element(&c, "figure.gauge canvas").await;
        element(&c, "#trends-section table#trends").await;
        let districts = table_rows(&c, "table#children").await;
        assert_eq!(districts.len(), 5, "{districts:?}");

        c.find(Locator::Css("table#children a.drill"))
            .await
            .expect("a district link")
            .click()
            .await
            .expect("drill to the district");
        text_where(&c, "#dashboard-title", |t| t.starts_with("统计看板：禅城区")).await;
        click_link(&c, "祖庙街道").await;
        text_where(&c, "#dashboard-title", |t| t.starts_with("统计看板：祖庙街道")).await;
        let street_path = path_where(&c, |p| p.ends_with("/dashboard")).await;

        // The street's communities as shown, and as exported.
        let shown = table_rows(&c, "table#children").await;
        assert!(shown.len() > 3, "{shown:?}");
        let href = element(&c, "#export-children")
            .await
            .attr("href")
            .await
            .expect("href")
            .expect("an export link");
        let (status, content_type, disposition, bytes) = fetch_with_session(&c, &base, &href).await;
        assert_eq!(status, 200, "{href}");
        assert_eq!(content_type, XLSX);
        assert!(disposition.starts_with("attachment"), "{disposition}");
        let sheet = xlsx_rows(bytes, "下级单位");
        let headers: Vec<String> = {
            let mut h = Vec::new();
            for th in c
                .find_all(Locator::Css("table#children thead th"))
                .await
                .expect("headers")
            {
                h.push(th.text().await.expect("header").trim().to_string());
            }
            h
        };
        assert_eq!(sheet[0], headers);
        assert_eq!(sheet.len() - 1, shown.len());
        for (line, row) in sheet[1..].iter().zip(&shown) {
            for (cell, on_screen) in line.iter().zip(row) {
                match on_screen.strip_suffix('%') {
                    // Shares are kept as fractions with a percentage format.
                    Some(p) => {
                        let x: f64 = cell.parse().unwrap_or_else(|_| panic!("{cell:?} in {line:?}"));
                        assert_eq!(format!("{:.1}", x * 100.0), p, "{line:?} / {row:?}");
                    }
                    None => assert_eq!(cell, on_screen, "{line:?} / {row:?}"),
                }
            }
        }
        // The street's own figure is the sum of its communities' (level-3 grids).
        let l3_col = headers
            .iter()
            .position(|h| h == "三级网格")
            .expect("a level-3 grid column");
        let total: i64 = shown.iter().map(|r| r[l3_col].parse::<i64>().expect("a count")).sum();
        let kpi = text_where(&c, r#"[data-kpi="grid_l3"]"#, |_| true).await;
        assert_eq!(kpi, total.to_string());

        // Down to the first community.
        let community = shown[0][0].clone();
        click_link(&c, &community).await;
        text_where(&c, "#dashboard-title", |t| {
            t.starts_with(&format!("统计看板：{community}"))
        })
        .await;
        path_where(&c, |p| p.ends_with("/dashboard") && p != street_path).await;
        let crumbs = text_where(&c, "nav.crumbs", |t| t.contains("祖庙街道")).await;
        assert!(crumbs.starts_with("佛山市"), "{crumbs}");

        // The big screen of the community, which fetches its panel again by itself.
        click_link(&c, "大屏").await;
        text_where(&c, "#screen-updated", |t| t.starts_with("更新于")).await;
        element(&c, r#"#screen-panel[hx-trigger="every 60s"]"#).await;
    })
    .await;
    app.stop().await;
}
