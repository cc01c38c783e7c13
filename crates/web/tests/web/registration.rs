//! Party members, units and double registration (双报到) over real HTTP and in the browser:
//! a community worker records a membership and a registration, services and the report back to
//! the employer (exported and as a letter); a member registers on a phone and the community
//! confirms.

use fantoccini::Locator;
use gongjian_domain::access::Role;
use serde_json::{Value, json};

use crate::browser::{click, in_browser, login, text_where, type_into};
use crate::journeys::{XLSX, fetch_with_session, id_number, table_rows, xlsx_rows};
use crate::support::{COMMUNITY_CODE, PASSWORD, STREET_A_CODE, TestApp, build_tree, for_each_engine};

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

/// An agency unit on street A with its own party committee; returns (unit, org) ids.
async fn agency(manager: &crate::support::Http, street_a: &Value, name: &str) -> (i64, i64) {
    let org = manager
        .post_json(
            "/api/v1/party-orgs",
            &json!({"kind": "committee", "category": "agency", "name": format!("{name}机关党委"),
                "territory_code": STREET_A_CODE}),
        )
        .await
        .expect(201)
        .json();
    let unit = manager
        .post_json(
            "/api/v1/units",
            &json!({"name": name, "kind": "agency", "node_id": id(street_a), "credit_code": "11440604MB2C9260XA"}),
        )
        .await
        .expect(201)
        .json();
    (id(&unit), id(&org))
}

async fn api_story(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let (unit, agency_org) = agency(&manager, &t.street_a, "禅城区民政局").await;
    app.add_user("shequ", Role::CommunityStaff, Some(id(&t.community)), false)
        .await;
    let staff = app.login("shequ").await;

    // Units: a code with a wrong check character is kept with a warning; a bad one is refused.
    let u = staff
        .post_json(
            "/api/v1/units",
            &json!({"name": "某科技公司", "kind": "民营企业", "node_id": id(&t.community), "credit_code": "91440604MA4UJ5XX7C"}),
        )
        .await
        .expect(201)
        .json();
    assert!(
        u["credit_code_warning"].as_str().is_some_and(|w| w.contains("校验位")),
        "{u}"
    );
    let r = staff
        .post_json(
            "/api/v1/units",
            &json!({"name": "", "kind": "公司", "node_id": id(&t.community), "credit_code": "123"}),
        )
        .await;
    assert_eq!(
        r.problem(422)["errors"].as_array().map(|a| a.len()),
        Some(3),
        "{}",
        r.text
    );
    assert_eq!(r.error_fields(), vec!["name", "credit_code", "kind"]);
    let c = staff
        .post_json(
            &format!("/api/v1/units/{}/contacts", id(&u)),
            &json!({"name": "王五", "mobile": "13912345678"}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(c["mobile_masked"], "139****5678");
    // The community worker cannot change the street's agency.
    staff
        .patch_json(
            &format!("/api/v1/units/{unit}"),
            &json!({"name": "改名", "kind": "agency", "node_id": id(&t.street_a)}),
        )
        .await
        .problem(404);

    // A resident, a membership, a registration with claims, a service and the report.
    let idn = id_number("44060419850101123");
    let p = staff
        .post_json(
            "/api/v1/people",
            &json!({"name": "在职甲", "id_number": idn, "mobile": "13812345678", "home_node_id": id(&t.grid_l3)}),
        )
        .await
        .expect(201)
        .json();
    let m = manager
        .post_json(
            "/api/v1/members",
            &json!({"person_id": id(&p), "org_id": agency_org, "status": "probationary", "joined_on": "2025-07-01"}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(m["status"], "probationary");
    let r = staff
        .post_json(
            "/api/v1/registrations",
            &json!({"person_id": id(&p), "community_id": id(&t.community),
            "employer_unit_id": unit, "duties": ["patrol", "不存在的岗"], "registered_on": "2026-01-05"}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["duties"]);
    let reg = staff
        .post_json(
            "/api/v1/registrations",
            &json!({"person_id": id(&p), "community_id": id(&t.community),
            "employer_unit_id": unit, "duties": ["patrol"], "skills": "维修", "registered_on": "2026-01-05"}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(reg["status"], "active");
    assert_eq!(reg["employer_name"], "禅城区民政局");
    let rid = id(&reg);
    staff
        .post_json(&format!("/api/v1/registrations/{rid}/claims"), &json!({"duty": "care"}))
        .await
        .expect(200);
    staff
        .post_json(
            &format!("/api/v1/registrations/{rid}/services"),
            &json!({"served_on": "2026-02-01", "hours": "2.5", "description": "清理楼道", "rating": 5}),
        )
        .await
        .expect(201);
    let r = staff
        .post_json(
            &format!("/api/v1/registrations/{rid}/services"),
            &json!({"served_on": "2026-02-01", "hours": "30", "description": "", "rating": 9}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["hours", "description", "rating"]);
    let rep = staff
        .get(&format!(
            "/api/v1/nodes/{}/reports/{unit}?from=2026-01-01&to=2026-06-30",
            id(&t.community)
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(rep["minutes"], 150);
    assert_eq!(rep["services"], 1);
    assert_eq!(rep["lines"][0]["person_name"], "在职甲");
    let list = staff
        .get(&format!(
            "/api/v1/nodes/{}/registrations?status=active",
            id(&t.community)
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(list["items"].as_array().map(|a| a.len()), Some(1));
    assert_eq!(list["items"][0]["mobile_masked"], "138****5678");
    // A status the rules do not allow is refused.
    let r = staff
        .post_json(
            &format!("/api/v1/registrations/{rid}/status"),
            &json!({"status": "rejected", "note": "x"}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["status"]);

    // People search across the scope: by name prefix, phone tail, masked ID.
    for q in ["在职", "5678", &format!("{}********{}", &idn[..6], &idn[14..])] {
        let found = staff
            .get(&format!("/api/v1/people?q={}", urlencode(q)))
            .await
            .expect(200)
            .json();
        assert_eq!(found["items"].as_array().map(|a| a.len()), Some(1), "{q}: {found}");
    }
    // A node outside the scope is named as not found, like a node that does not exist.
    let outside = staff
        .get(&format!("/api/v1/people?q={}&node=440604002000", urlencode("在职")))
        .await;
    assert_eq!(outside.error_fields(), vec!["node"]);

    // Pairings and deployments.
    staff
        .post_json(
            "/api/v1/pairings",
            &json!({"org_id": agency_org, "community_id": id(&t.community),
            "started_on": "2026-01-01", "agreement": "每月共建一次"}),
        )
        .await
        .expect(201);
    let d = staff
        .post_json(
            "/api/v1/deployments",
            &json!({"person_id": id(&p), "kind": "deployment", "from_unit_id": unit,
            "node_id": id(&t.community), "started_on": "2026-03-01"}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(d["from_unit"], "禅城区民政局");
    let deps = staff
        .get(&format!("/api/v1/nodes/{}/deployments", id(&t.community)))
        .await
        .expect(200)
        .json();
    assert_eq!(deps.as_array().map(|a| a.len()), Some(1));
    // Every list exports what the page shows, numbers masked.
    let c = id(&t.community);
    for (path, sheet, first) in [
        (format!("/tree/{c}/pairings/export"), "结对共建", "禅城区民政局机关党委"),
        (format!("/tree/{c}/deployments/export"), "干部下基层", "在职甲"),
        (format!("/tree/{c}/registrations/export"), "在职党员报到", "在职甲"),
        (format!("/tree/{c}/units/export"), "驻区单位", "某科技公司"),
    ] {
        let (status, headers, bytes) = staff.get_bytes(&path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(headers["content-type"], crate::journeys::XLSX, "{path}");
        let rows = xlsx_rows(bytes, sheet);
        assert_eq!(rows[1][0], first, "{path}: {rows:?}");
        assert!(
            !rows.iter().flatten().any(|x| x == &idn || x == "13812345678"),
            "{path} holds a full number"
        );
    }
    // The organisation department reads people but may not reveal numbers: its exports hold the
    // masked forms only, and a reveal is refused.
    manager
        .post_json(
            &format!("/api/v1/people/{}/reveal", id(&p)),
            &json!({"field": "id_number"}),
        )
        .await
        .problem(403);
    for (path, sheet) in [
        (format!("/tree/{c}/residents/export"), "居民"),
        (format!("/tree/{c}/registrations/export"), "在职党员报到"),
        (format!("/tree/{}/members/export", id(&t.street_a)), "党员"),
    ] {
        let (status, _, bytes) = manager.get_bytes(&path).await;
        assert_eq!(status, 200, "{path}");
        let cells: Vec<String> = xlsx_rows(bytes, sheet).into_iter().flatten().collect();
        assert!(
            cells.iter().any(|c| c == "138****5678"),
            "{path}: the masked mobile is there: {cells:?}"
        );
        assert!(
            cells
                .iter()
                .any(|c| c == &format!("{}********{}", &idn[..6], &idn[14..])),
            "{path}: {cells:?}"
        );
        assert!(
            !cells.iter().any(|c| c.contains(&idn) || c.contains("13812345678")),
            "{path} holds a full number"
        );
    }
    let m2 = manager
        .post_json(
            &format!("/api/v1/members/{}/transfer", id(&m)),
            &json!({"to_org_id": agency_org}),
        )
        .await;
    assert_eq!(m2.error_fields(), vec!["to_org_id"]);
    let transfers = manager
        .get(&format!("/api/v1/members/{}/transfers", id(&m)))
        .await
        .expect(200)
        .json();
    assert_eq!(transfers.as_array().map(|a| a.len()), Some(1));
}

fn urlencode(s: &str) -> String {
    reqwest::Url::parse_with_params("http://x/", &[("q", s)])
        .expect("url")
        .query()
        .unwrap_or("")
        .trim_start_matches("q=")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_units_and_registrations_over_http() {
    for_each_engine(api_story).await;
}

async fn staff_journey(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let (_, _) = agency(&manager, &t.street_a, "禅城区民政局").await;
    let street = app
        .add_user("jiedao", Role::StreetStaff, Some(id(&t.street_a)), false)
        .await;
    let _ = street;
    let idn = id_number("44060419800202123");
    let p = manager
        .post_json(
            "/api/v1/people",
            &json!({"name": "李在职", "id_number": idn, "home_node_id": id(&t.grid_l3)}),
        )
        .await
        .expect(201)
        .json();
    let person = id(&p);
    let community = id(&t.community);
    let base = app.base.clone();
    in_browser(move |c| async move {
        c.goto(&format!("{base}/people/{person}")).await.expect("open");
        login(&c, "jiedao", PASSWORD).await;
        text_where(&c, "h1", |t| t.starts_with("李在职")).await;
        click(&c, "#add-membership").await;
        text_where(&c, "h1", |t| t.starts_with("登记党员身份")).await;
        let org = c
            .find(Locator::XPath(
                "//select[@id='org_id']/option[contains(., '禅城区民政局机关党委')]",
            ))
            .await
            .expect("the agency committee is offered");
        org.click().await.expect("choose");
        type_into(&c, "#joined_on", "2099-01-01").await;
        click(&c, "#save-member").await;
        let e = text_where(&c, ".field.invalid .field-error", |t| !t.is_empty()).await;
        assert!(e.contains("晚于今天"), "{e}");
        type_into(&c, "#joined_on", "2010/7/1").await;
        type_into(&c, "#full_on", "2011年7月1日").await;
        click(&c, "#save-member").await;
        text_where(&c, ".alert.ok", |t| t == "已登记党员身份。").await;
        let dd = text_where(&c, "#membership dd", |t| !t.is_empty()).await;
        assert_eq!(dd, "禅城区民政局机关党委");

        click(&c, "#add-registration").await;
        text_where(&c, "h1", |t| t.starts_with("在职党员报到")).await;
        type_into(&c, "#employer", "禅城区民政局").await;
        type_into(&c, "#skills", "法律咨询，摄影").await;
        click(&c, r#"input[value="publicity"]"#).await;
        click(&c, r#"input[value="care"]"#).await;
        type_into(&c, "#registered_on", "2026-01-05").await;
        click(&c, "#save-registration").await;
        text_where(&c, "#reg-status", |t| t == "已报到").await;
        type_into(&c, "#served_on", "2026-02-01").await;
        type_into(&c, "#hours", "两小时").await;
        type_into(&c, "#description", "政策宣传").await;
        click(&c, "#save-service").await;
        let e = text_where(&c, ".field.invalid .field-error", |t| !t.is_empty()).await;
        assert!(e.contains("时长"), "{e}");
        type_into(&c, "#hours", "2").await;
        type_into(&c, "#rating", "5").await;
        click(&c, "#save-service").await;
        text_where(&c, "#total-hours", |t| t == "2 小时").await;

        c.goto(&format!(
            "{base}/tree/{community}/reports?from=2026-01-01&to=2026-06-30"
        ))
        .await
        .expect("reports");
        text_where(&c, "#employers tbody", |t| t.contains("禅城区民政局")).await;
        let rows = table_rows(&c, "#employers").await;
        assert_eq!(rows[0][..2], ["禅城区民政局".to_string(), "1".to_string()]);
        c.find(Locator::LinkText("查看报告"))
            .await
            .expect("report link")
            .click()
            .await
            .expect("open");
        text_where(&c, "#report-hours", |t| t == "2").await;
        text_where(&c, "#report tbody", |t| t.contains("李在职")).await;
        let rows = table_rows(&c, "#report").await;
        assert_eq!(rows[0][0], "李在职");
        assert_eq!(rows[0][2], "政策宣传岗、关爱帮扶岗");
        let href = c
            .find(Locator::Css("#export-report"))
            .await
            .expect("export")
            .attr("href")
            .await
            .expect("href")
            .expect("an href");
        let (status, ctype, _, bytes) = fetch_with_session(&c, &base, &href).await;
        assert_eq!((status, ctype.as_str()), (200, XLSX));
        let sheet = xlsx_rows(bytes, "报到情况");
        assert_eq!(sheet[1][0], "李在职");
        assert_eq!(sheet[1][3], "1");
        assert_eq!(sheet[1][4], "2");
        assert_eq!(sheet[2][0], "合计");
        click(&c, "#issue-letter").await;
        let letter = text_where(&c, "#letter", |t| t.contains("感谢函")).await;
        assert!(
            letter.contains("禅城区民政局") && letter.contains("2 小时") && letter.contains("李在职"),
            "{letter}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_membership_registration_and_report() {
    for_each_engine(staff_journey).await;
}

async fn phone_journey(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    agency(&manager, &t.street_a, "禅城区民政局").await;
    app.add_user("dangyuan", Role::PartyMember, None, false).await;
    app.add_user("shequ", Role::CommunityStaff, Some(id(&t.community)), false)
        .await;
    let base = app.base.clone();
    let community = id(&t.community);
    let idn = id_number("44060419900303123");
    in_browser(move |c| async move {
        c.set_window_size(390, 844).await.expect("a phone-sized window");
        c.goto(&format!("{base}/m/register?community={COMMUNITY_CODE}"))
            .await
            .expect("open");
        login(&c, "dangyuan", PASSWORD).await;
        text_where(&c, "#place-name", |t| t == "岭南社区").await;
        type_into(&c, "#name", "王在职").await;
        type_into(&c, "#id_number", &idn).await;
        type_into(&c, "#mobile", "13700001111").await;
        c.find(Locator::XPath("//select[@id='grid_id']/option[.='阳光小区']"))
            .await
            .expect("the grid")
            .click()
            .await
            .expect("choose");
        type_into(&c, "#employer", "不存在的单位").await;
        type_into(&c, "#joined_on", "2015-07-01").await;
        click(&c, "#submit-registration").await;
        let alert = text_where(&c, ".alert.error", |t| !t.is_empty()).await;
        let errors: Vec<String> = {
            let mut v = Vec::new();
            for e in c.find_all(Locator::Css(".field.invalid")).await.expect("fields") {
                v.push(e.attr("class").await.expect("class").unwrap_or_default());
            }
            v
        };
        assert_eq!(
            errors.len(),
            2,
            "the employer and the duties are marked: {errors:?} ({alert}) on {}",
            crate::browser::describe(&c).await
        );
        type_into(&c, "#employer", "禅城区民政局").await;
        click(&c, r#"input[value="patrol"]"#).await;
        click(&c, "#submit-registration").await;
        text_where(&c, "#submitted", |t| t.contains("等待社区确认")).await;
        let mine = text_where(&c, "#my-registrations", |t| !t.is_empty()).await;
        assert!(mine.contains("岭南社区") && mine.contains("待确认"), "{mine}");

        // The community confirms.
        c.delete_all_cookies().await.expect("log out");
        c.goto(&format!("{base}/tree/{community}/registrations?status=pending"))
            .await
            .expect("open");
        login(&c, "shequ", PASSWORD).await;
        text_where(&c, "#registrations tbody", |t| t.contains("王在职")).await;
        let rows = table_rows(&c, "#registrations").await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][0], "王在职");
        assert_eq!(rows[0][1], "137****1111");
        c.find(Locator::LinkText("王在职"))
            .await
            .expect("link")
            .click()
            .await
            .expect("open");
        click(&c, "#confirm-registration").await;
        text_where(&c, "#reg-status", |t| t == "已报到").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_member_registers_on_a_phone() {
    for_each_engine(phone_journey).await;
}
