//! Volunteer views over real HTTP: a person's trajectory (staff, the person themself, others
//! kept out), printed service records, the national-system export, the star-level setting,
//! campaigns; and in a headless Chromium, staff open a trajectory, print the service record and
//! export the workbook, which holds the hours shown.

use gongjian_domain::access::Role;
use serde_json::{Value, json};

use crate::browser::{click, element, in_browser, login, text_where, type_into};
use crate::journeys::{XLSX, fetch_with_session, path_where, xlsx_rows};
use crate::support::*;

const NOW: &str = "2026-01-01T00:00:00Z";

async fn exec(app: &TestApp, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(app.store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A volunteer of the community with 150 minutes now: 120 + 60 corrected to 30.
struct Served {
    community: i64,
    person: i64,
    street_b: i64,
}

async fn served(app: &TestApp, manager: &Http) -> Served {
    let t = build_tree(manager).await;
    let community = t.community["id"].as_i64().expect("id");
    let body = json!({"name": "林志愿", "id_number": "11010519491231002X", "home_node_id": t.grid_l3["id"],
        "household": "3栋502"});
    let person = manager.post_json("/api/v1/people", &body).await.expect(201).json()["id"]
        .as_i64()
        .expect("person");
    let organiser: i64 = sqlx::query_scalar("SELECT MIN(id) FROM users")
        .fetch_one(app.store.pool())
        .await
        .expect("a user");
    exec(
        app,
        &format!(
            "INSERT INTO volunteers (person_id, node_id, volunteer_no, consent_at, created_at, updated_at) \
             VALUES ({person}, {community}, 'V4406040010001', '{NOW}', '{NOW}', '{NOW}')"
        ),
    )
    .await;
    exec(
        app,
        &format!(
            "INSERT INTO activities (id, node_id, title, kind, place, starts_at, ends_at, capacity, signup_opens_at, \
             signup_closes_at, organiser_id, organiser_name, beneficiaries, status, created_at, updated_at) VALUES \
             (1, {community}, '关爱长者探访', 'volunteer', '岭南社区', '2026-03-01T01:00:00Z', '2026-03-01T03:00:00Z', \
             10, '{NOW}', '{NOW}', {organiser}, '岭南社区居委会', 12, 'closed', '{NOW}', '{NOW}')"
        ),
    )
    .await;
    let record = |id: i64, day: &str, minutes: i64, delta: i64, corrects: &str| {
        let source = if corrects == "NULL" { "attendance" } else { "correction" };
        format!(
            "INSERT INTO service_records (id, person_id, node_id, activity_id, served_on, minutes, delta_minutes, \
             content, place, source, corrects_id, reason, organiser_name, recorded_by, confirmed_by, confirmed_at, \
             created_at) VALUES ({id}, {person}, {community}, {act}, '{day}', {minutes}, {delta}, '陪伴长者', \
             '岭南社区', '{source}', {corrects}, '', '岭南社区居委会', {organiser}, {organiser}, '{NOW}', '{NOW}')",
            act = if id == 1 { "1" } else { "NULL" },
        )
    };
    exec(app, &record(1, "2026-03-01", 120, 120, "NULL")).await;
    exec(
        app,
        &record(2, "2026-04-01", 60, 60, "NULL").replace("'attendance'", "'manual'"),
    )
    .await;
    exec(app, &record(3, "2026-04-01", 30, -30, "2")).await;
    Served {
        community,
        person,
        street_b: t.street_b["id"].as_i64().expect("street b"),
    }
}

fn print_body() -> Value {
    json!({"from": "2026-01-01", "to": "2026-06-30", "issuer": "岭南社区居委会", "person_in_charge": "张主任",
        "handler": "刘社工", "contact": "0757-83000000"})
}

async fn http_story(app: &TestApp) {
    let manager = app.manager().await;
    let s = served(app, &manager).await;
    let (community, person) = (s.community, s.person);
    app.add_user("staff.v", Role::CommunityStaff, Some(community), false)
        .await;
    app.add_user("staff.b", Role::CommunityStaff, Some(s.street_b), false)
        .await;
    let staff = app.login("staff.v").await;
    let other = app.login("staff.b").await;

    // The trajectory: 150 minutes, the correction shown beside the record it replaced.
    let t = staff
        .get(&format!("/api/v1/people/{person}/service"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        (t["total_minutes"].as_i64(), t["total_hours"].as_str()),
        (Some(150), Some("2.5"))
    );
    assert_eq!(t["star_label"], "未评星");
    let records = t["records"].as_array().expect("records");
    let replaced = records.iter().find(|r| r["id"] == 2).expect("record 2");
    assert_eq!(replaced["corrected_by"], 3);
    other.get(&format!("/api/v1/people/{person}/service")).await.expect(404);
    let page = staff.get(&format!("/people/{person}/service")).await.expect(200);
    assert_eq!(element_text(&page.text, "total-hours").as_deref(), Some("2.5"));
    assert!(page.text.contains("已被第 3 号记录更正"), "{}", page.text);
    other.get(&format!("/people/{person}/service")).await.expect(404);

    // The person themself, on the phone.
    let user = app.add_user("lin", Role::Resident, Some(community), false).await;
    staff
        .post_json(
            "/api/v1/points/links",
            &json!({"user_id": user.id, "person_id": person}),
        )
        .await
        .expect(204);
    let lin = app.login("lin").await;
    let mine = lin.get("/api/v1/me/service").await.expect(200).json();
    assert_eq!(mine["total_minutes"], 150);
    let phone = lin.get("/m/service").await.expect(200);
    assert_eq!(element_text(&phone.text, "total-hours").as_deref(), Some("2.5"));
    staff.get("/api/v1/me/service").await.expect(404);

    // A printed service record: field errors, then a numbered print of the effective records.
    let mut blank = print_body();
    blank["issuer"] = json!("");
    blank["contact"] = json!("电话");
    let r = staff
        .post_json(&format!("/api/v1/people/{person}/service/prints"), &blank)
        .await;
    let fields = r.expect(422).error_fields();
    assert!(
        fields.contains(&"issuer".to_string()) && fields.contains(&"contact".to_string()),
        "{fields:?}"
    );
    let print = staff
        .post_json(&format!("/api/v1/people/{person}/service/prints"), &print_body())
        .await
        .expect(201)
        .json();
    assert_eq!(
        (print["minutes"].as_i64(), print["record_ids"].as_str()),
        (Some(150), Some("3,1"))
    );
    let id = print["id"].as_i64().expect("print id");
    let sheet = staff
        .get(&format!("/api/v1/service-prints/{id}"))
        .await
        .expect(200)
        .json();
    assert_eq!(sheet["hours"], "2.5");
    assert_eq!(sheet["person"]["id_number_masked"], "110105********002X");
    other.get(&format!("/api/v1/service-prints/{id}")).await.expect(404);
    other
        .post_json(&format!("/api/v1/people/{person}/service/prints"), &print_body())
        .await
        .expect(404);
    let printed = staff.get(&format!("/service-prints/{id}")).await.expect(200);
    assert!(printed.text.contains("志愿服务记录") && printed.text.contains("盖章处"));
    assert!(!printed.text.contains("11010519491231002X"));

    // The national-system export: masked, or whole numbers for those allowed (audited).
    let path = format!("/api/v1/nodes/{community}/volunteers/national-export?from=2026-01-01&to=2026-12-31");
    let rows = staff.get(&path).await.expect(200).json();
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["id_number"], "110105********002X");
    let full = staff.get(&format!("{path}&full=1")).await.expect(200).json();
    assert_eq!(full[0]["id_number"], "11010519491231002X");
    other.get(&path).await.expect(404);
    staff
        .get(&format!(
            "/api/v1/nodes/{community}/volunteers/national-export?from=2026-13-01"
        ))
        .await
        .expect(422);
    let (status, headers, bytes) = staff
        .get_bytes(&format!("/tree/{community}/volunteers/national.xlsx?from=2026-01-01"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], XLSX);
    let sheet = xlsx_rows(bytes, "志愿服务时长");
    assert_eq!(sheet[0][0], "姓名");
    assert_eq!(sheet[0][5], "服务时长(小时)");
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('volunteer.export.national', 'volunteer.print.issue')",
    )
    .fetch_one(app.store.pool())
    .await
    .expect("audit");
    assert_eq!(audited, 4);

    // The star levels: changed by the administrator only, strictly increasing.
    assert_eq!(
        staff.get("/api/v1/volunteers/settings").await.expect(200).json()["star_hours"],
        "100,300,600,1000,1500"
    );
    staff
        .post_json("/api/v1/volunteers/settings", &json!({"star_hours": "1,2"}))
        .await
        .expect(403);
    let bad = manager
        .post_json("/api/v1/volunteers/settings", &json!({"star_hours": "3,2"}))
        .await;
    assert_eq!(bad.expect(422).error_fields(), vec!["star_hours".to_string()]);
    manager
        .post_json("/api/v1/volunteers/settings", &json!({"star_hours": "1,2,3"}))
        .await
        .expect(200);
    let t = staff
        .get(&format!("/api/v1/people/{person}/service"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        (t["stars"].as_i64(), t["hours_to_next"].as_str()),
        (Some(2), Some("0.5"))
    );

    // Campaigns under the community, with progress.
    let c = json!({"name": "百场群众活动", "measure": "activities", "target": 100, "starts_on": "2026-01-01",
        "ends_on": "2026-12-31"});
    let created = staff
        .post_json(&format!("/api/v1/nodes/{community}/campaigns"), &c)
        .await
        .expect(201)
        .json();
    exec(
        app,
        &format!("UPDATE activities SET campaign_id = {} WHERE id = 1", created["id"]),
    )
    .await;
    let got = staff
        .get(&format!("/api/v1/campaigns/{}", created["id"]))
        .await
        .expect(200)
        .json();
    assert_eq!((got["done"].as_i64(), got["target"].as_i64()), (Some(1), Some(100)));
    let list = staff
        .get(&format!("/api/v1/nodes/{community}/campaigns"))
        .await
        .expect(200)
        .json();
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let bad = json!({"name": "", "measure": "x", "target": 0, "starts_on": "2026-01-01", "ends_on": "2025-01-01"});
    let fields = staff
        .post_json(&format!("/api/v1/nodes/{community}/campaigns"), &bad)
        .await
        .expect(422)
        .error_fields();
    assert!(fields.len() >= 4, "{fields:?}");
    other
        .get(&format!("/api/v1/campaigns/{}", created["id"]))
        .await
        .expect(404);
    other
        .post_json(&format!("/api/v1/nodes/{community}/campaigns"), &c)
        .await
        .expect(404);
    let page = staff.get(&format!("/tree/{community}/campaigns")).await.expect(200);
    assert!(page.text.contains("1 / 100"), "{}", page.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volunteer_views_over_http() {
    for_each_engine(http_story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_trajectory_print_and_export() {
    let app = TestApp::start().await;
    let manager = app.manager().await;
    let s = served(&app, &manager).await;
    app.add_user("staff.v", Role::CommunityStaff, Some(s.community), false)
        .await;
    let base = app.base.clone();
    let person = s.person;
    in_browser(|c| async move {
        c.goto(&format!("{base}/login")).await.expect("open the console");
        login(&c, "staff.v", PASSWORD).await;
        path_where(&c, |p| !p.starts_with("/login")).await;
        c.goto(&format!("{base}/people/{person}/service"))
            .await
            .expect("trajectory");
        let shown = text_where(&c, "#total-hours", |t| !t.is_empty()).await;
        assert_eq!(shown, "2.5");
        element(&c, ".chart canvas").await;
        let href = element(&c, "#export-national")
            .await
            .attr("href")
            .await
            .expect("href")
            .expect("an export link");

        // The printable record.
        type_into(&c, "input[name=issuer]", "岭南社区居委会").await;
        type_into(&c, "input[name=person_in_charge]", "张主任").await;
        type_into(&c, "input[name=contact]", "0757-83000000").await;
        click(&c, "#issue-print").await;
        path_where(&c, |p| p.starts_with("/service-prints/")).await;
        assert_eq!(text_where(&c, "#print-hours", |t| !t.is_empty()).await, shown);
        assert!(text_where(&c, "#print-number", |t| t.starts_with("JL")).await.len() > 4);
        assert_eq!(text_where(&c, "#print-name", |t| !t.is_empty()).await, "林志愿");

        // The workbook for the national system holds the hours shown.
        let (status, content_type, _, bytes) = fetch_with_session(&c, &base, &href).await;
        assert_eq!((status, content_type.as_str()), (200, XLSX));
        let sheet = xlsx_rows(bytes, "志愿服务时长");
        let total: f64 = sheet[1..]
            .iter()
            .filter(|r| r[0] == "林志愿")
            .map(|r| r[5].parse::<f64>().expect("hours"))
            .sum();
        assert_eq!(format!("{total}"), shown);
    })
    .await;
    app.stop().await;
}
