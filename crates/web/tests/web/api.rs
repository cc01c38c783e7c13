//! The HTTP face over real HTTP: authentication, the tree and party APIs, scope, the forced
//! password change, the OpenAPI document, hostile input and security headers.

use gongjian_domain::access::Role;
use serde_json::{Value, json};

use crate::support::{
    COMMUNITY_CODE, Http, PASSWORD, STREET_A_CODE, STREET_B_CODE, TestApp, build_tree, counts, for_each_engine,
};

fn ids(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|n| n["id"].as_i64().expect("id"))
        .collect()
}

fn id(node: &Value) -> i64 {
    node["id"].as_i64().unwrap_or_else(|| panic!("no id: {node}"))
}

/// The `content` of `<meta name="csrf-token" content="…">` on a page.
fn meta_csrf(html: &str) -> String {
    let start = html
        .find(r#"<meta name="csrf-token" content=""#)
        .unwrap_or_else(|| panic!("no csrf-token meta in {html}"))
        + r#"<meta name="csrf-token" content=""#.len();
    let len = html[start..].find('"').expect("end of meta content");
    html[start..start + len].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_are_refused_or_sent_to_login() {
    let app = TestApp::start().await;
    let anon = Http::new(&app.base);

    let r = anon.get("/api/v1/roots").await;
    let p = r.problem(401);
    assert_eq!(p["type"], "/api/problems/unauthorized", "{p}");

    let r = anon.get("/").await.expect(303);
    assert_eq!(r.location(), "/login?next=/");
    let r = anon.get("/tree/7?notice=saved").await.expect(303);
    assert_eq!(r.location(), "/login?next=/tree/7%3Fnotice%3Dsaved");

    // A wrong password is refused with the same page, and no session is opened.
    app.add_user("admin", Role::SystemAdmin, None, false).await;
    let mut wrong = Http::new(&app.base);
    let r = wrong.login("admin", "Wrong-Passw0rd!", "/").await.expect(401);
    assert!(r.text.contains("用户名或密码不正确"), "{}", r.text);
    wrong.get("/api/v1/me").await.problem(401);
    app.stop().await;
}

/// The governance tree through `/api/v1`, written once and run per engine.
async fn tree_story(app: &TestApp) {
    let admin = app.manager().await;
    let city = admin
        .post_json(
            "/api/v1/nodes",
            &json!({"parent_id": null, "code": "440600000000", "name": "佛山市"}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(city["level"], "city");
    assert_eq!(city["code"], "440600000000");
    assert_eq!(city["parent_id"], Value::Null);
    let district = admin
        .create_node(Some(&city), Some("440604000000"), "禅城区", None)
        .await;
    let a = admin
        .create_node(Some(&district), Some(STREET_A_CODE), "祖庙街道", None)
        .await;
    let b = admin
        .create_node(Some(&district), Some(STREET_B_CODE), "石湾镇街道", None)
        .await;
    let community = admin
        .create_node(Some(&a), Some(COMMUNITY_CODE), "岭南社区", None)
        .await;
    assert_eq!(community["level"], "community");
    let l2 = admin
        .create_node(Some(&community), None, "阳光小区", Some("estate"))
        .await;
    assert_eq!(l2["level"], "grid_l2");
    assert_eq!(l2["kind"], "estate");
    assert_eq!(l2["code"], "440604001001001");
    let l3 = admin
        .create_node(Some(&l2), None, "一号楼党员楼长责任区", Some("building_leader_area"))
        .await;
    assert_eq!(l3["level"], "grid_l3");
    assert_eq!(l3["code"], "440604001001001001");

    assert_eq!(admin.counts(&city["id"]).await, counts(1, 2, 1, 1, 1));
    assert_eq!(admin.counts(&a["id"]).await, counts(0, 1, 1, 1, 1));
    assert_eq!(admin.counts(&b["id"]).await, counts(0, 1, 0, 0, 0));
    assert_eq!(
        ids(&admin.get("/api/v1/roots").await.expect(200).json()),
        vec![id(&city)]
    );

    // Children in code order, one per page.
    let page = admin
        .get(&format!("/api/v1/nodes/{}/children?limit=1", district["id"]))
        .await
        .expect(200)
        .json();
    assert_eq!(ids(&page["items"]), vec![id(&a)]);
    assert_eq!(page["items"][0]["counts"], counts(0, 1, 1, 1, 1));
    assert_eq!(page["next_cursor"], STREET_A_CODE);
    let rest = admin
        .get(&format!(
            "/api/v1/nodes/{}/children?limit=1&cursor={}",
            district["id"], STREET_A_CODE
        ))
        .await
        .expect(200)
        .json();
    assert_eq!(ids(&rest["items"]), vec![id(&b)]);
    assert_eq!(rest["next_cursor"], Value::Null);

    // 区划调整: the community moves from street A to street B with a new code.
    let moved = admin
        .post_json(
            &format!("/api/v1/nodes/{}/move", community["id"]),
            &json!({"new_parent_id": b["id"], "new_code": "440604002005", "note": "区划调整批复"}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(moved["code"], "440604002005");
    assert_eq!(moved["parent_id"], b["id"]);
    let l2_now = admin.node(&l2["id"]).await;
    let l3_now = admin.node(&l3["id"]).await;
    assert_eq!(l2_now["code"], "440604002005001");
    assert_eq!(l3_now["code"], "440604002005001001");
    assert!(
        l3_now["path"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}{}/", b["path"].as_str().unwrap(), community["id"])),
        "{l3_now}"
    );
    assert_eq!(admin.counts(&a["id"]).await, counts(0, 1, 0, 0, 0));
    assert_eq!(admin.counts(&b["id"]).await, counts(0, 1, 1, 1, 1));
    assert_eq!(admin.counts(&city["id"]).await, counts(1, 2, 1, 1, 1));
    // Former codes still find their nodes, through the history.
    let found = admin.get("/api/v1/nodes/by-code/440604001001").await.expect(200).json();
    assert_eq!(id(&found), id(&community));
    assert_eq!(found["code"], "440604002005");
    let found = admin
        .get("/api/v1/nodes/by-code/440604001001001")
        .await
        .expect(200)
        .json();
    assert_eq!(id(&found), id(&l2));
    admin.get("/api/v1/nodes/by-code/440604009009").await.problem(404);
    let history = admin
        .get(&format!("/api/v1/nodes/{}/history", community["id"]))
        .await
        .expect(200)
        .json();
    assert_eq!(history[0]["action"], "moved", "{history}");
    assert_eq!(history[0]["old_code"], "440604001001");
    assert_eq!(history[0]["new_code"], "440604002005");
    assert_eq!(history[0]["old_parent_id"], a["id"]);
    assert_eq!(history[0]["new_parent_id"], b["id"]);
    assert_eq!(history[0]["note"], "区划调整批复");

    // Validation: one problem per field, nothing written.
    let r = admin
        .post_json(
            "/api/v1/nodes",
            &json!({"parent_id": b["id"], "code": "440604001009", "name": "错前缀社区"}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["code"]);
    let r = admin
        .post_json(
            "/api/v1/nodes",
            &json!({"parent_id": a["id"], "level": "grid_l3", "name": "错层级网格",
                    "kind": "building_leader_area"}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["parent_id"]);
    let r = admin
        .post_json(
            &format!("/api/v1/nodes/{}/move", community["id"]),
            &json!({"new_parent_id": l2["id"], "new_code": "440604002005001"}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["new_parent_id"]);
    let r = admin
        .post_json(
            &format!("/api/v1/nodes/{}/move", community["id"]),
            &json!({"new_parent_id": a["id"], "new_code": "440604002006"}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["new_code"]);
    assert_eq!(admin.counts(&city["id"]).await, counts(1, 2, 1, 1, 1));
    assert_eq!(admin.node(&community["id"]).await["code"], "440604002005");

    // The session cookie alone does not carry a state change.
    let r = admin
        .post_json_without_csrf(
            "/api/v1/nodes",
            &json!({"parent_id": b["id"], "code": "440604002006", "name": "无令牌社区"}),
        )
        .await;
    let p = r.problem(403);
    assert_eq!(p["type"], "/api/problems/csrf", "{p}");
    assert_eq!(admin.counts(&b["id"]).await, counts(0, 1, 1, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_api_story() {
    for_each_engine(tree_story).await;
}

/// The party-organisation tree through `/api/v1/party-orgs`.
async fn party_story(app: &TestApp) {
    let admin = app.manager().await;
    let t = build_tree(&admin).await;
    let create = async |body: Value| -> Value {
        let org = admin.post_json("/api/v1/party-orgs", &body).await.expect(201).json();
        assert_eq!(org["name"], body["name"], "{org}");
        org
    };
    let wc = create(json!({"kind": "working_committee", "category": "street",
        "name": "中共祖庙街道工作委员会", "territory_code": STREET_A_CODE}))
    .await;
    assert_eq!(wc["territory_node_id"], t.street_a["id"]);
    assert_eq!(wc["parent_id"], Value::Null);
    let committee = create(
        json!({"parent_id": wc["id"], "kind": "committee", "category": "community",
        "name": "中共岭南社区委员会", "territory_code": COMMUNITY_CODE}),
    )
    .await;
    assert_eq!(committee["territory_node_id"], t.community["id"]);
    let branch = create(
        json!({"parent_id": committee["id"], "kind": "branch", "category": "estate",
        "name": "中共阳光小区支部委员会", "territory_code": t.grid_l2["code"]}),
    )
    .await;
    assert_eq!(branch["territory_node_id"], t.grid_l2["id"]);
    assert_eq!(branch["territory_name"], "阳光小区");
    let group = create(json!({"parent_id": branch["id"], "kind": "group", "category": "grid",
        "name": "一号楼党小组", "territory_code": t.grid_l3["code"]}))
    .await;
    assert_eq!(group["parent_id"], branch["id"]);

    // A party group belongs to a branch, not directly to a committee.
    let r = admin
        .post_json(
            "/api/v1/party-orgs",
            &json!({"parent_id": committee["id"], "kind": "group", "category": "grid",
                    "name": "越级党小组", "territory_code": t.grid_l3["code"]}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["parent_id"]);
    // An estate branch covers a level-2 grid, not a street.
    let r = admin
        .post_json(
            "/api/v1/party-orgs",
            &json!({"parent_id": committee["id"], "kind": "branch", "category": "estate",
                    "name": "错区域支部", "territory_code": STREET_A_CODE}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["territory_node_id"]);

    let at_grid = admin
        .get(&format!("/api/v1/nodes/{}/party-orgs", t.grid_l2["id"]))
        .await
        .expect(200)
        .json();
    assert_eq!(ids(&at_grid), vec![id(&branch)]);
    let children = admin
        .get(&format!("/api/v1/party-orgs/{}/children", wc["id"]))
        .await
        .expect(200)
        .json();
    assert_eq!(ids(&children["items"]), vec![id(&committee)]);
    assert_eq!(
        children["items"][0]["counts"],
        json!({"committees": 0, "general_branches": 0, "branches": 1, "groups": 1})
    );
    assert_eq!(
        ids(&admin.get("/api/v1/party-orgs").await.expect(200).json()),
        vec![id(&wc)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn party_api_story() {
    for_each_engine(party_story).await;
}

/// A community worker sees and changes their own community only.
async fn scope_story(app: &TestApp) {
    let admin = app.manager().await;
    let t = build_tree(&admin).await;
    let x = &t.community;
    let y = admin
        .create_node(Some(&t.street_a), Some("440604001002"), "隔壁社区", None)
        .await;
    app.add_user("staff.x", Role::CommunityStaff, Some(id(x)), false).await;
    let staff = app.login("staff.x").await;

    for other in [&y, &t.street_a, &t.district, &t.city] {
        let p = staff.get(&format!("/api/v1/nodes/{}", other["id"])).await.problem(404);
        assert_eq!(p["type"], "/api/problems/not-found", "{p}");
    }
    assert_eq!(id(&staff.node(&x["id"]).await), id(x));
    assert_eq!(ids(&staff.get("/api/v1/roots").await.expect(200).json()), vec![id(x)]);
    assert_eq!(
        staff.get(&format!("/tree/{}", y["id"])).await.status,
        404,
        "the page of another community"
    );
    let search = staff.get("/api/v1/nodes?q=%E7%A4%BE%E5%8C%BA").await.expect(200).json();
    assert_eq!(ids(&search["items"]), vec![id(x)], "search for 社区");

    // Creating under the other community is refused and writes nothing.
    let r = staff
        .post_json(
            "/api/v1/nodes",
            &json!({"parent_id": y["id"], "name": "越权网格", "kind": "estate"}),
        )
        .await;
    assert!(
        matches!(r.status, 404 | 422),
        "create under another community: {} {}",
        r.status,
        r.text
    );
    assert_eq!(admin.counts(&y["id"]).await, counts(0, 0, 1, 0, 0));
    let r = staff
        .post_json(
            &format!("/api/v1/nodes/{}/move", t.grid_l2["id"]),
            &json!({"new_parent_id": y["id"]}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["new_parent_id"]);
    assert_eq!(admin.counts(&y["id"]).await, counts(0, 0, 1, 0, 0));

    // In their own community they may work.
    let mine = staff.create_node(Some(x), None, "新建小区", Some("estate")).await;
    assert_eq!(mine["code"], "440604001001002");
    assert_eq!(admin.counts(&x["id"]).await, counts(0, 0, 1, 2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn community_staff_sees_only_their_community() {
    for_each_engine(scope_story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_password_must_be_changed_first() {
    let app = TestApp::start().await;
    // Not an administrator: the story is the password, not the second factor (see
    // `security::administrators_set_up_and_use_a_second_factor`).
    app.add_user("chief", Role::OrgDepartment, None, true).await;
    let mut http = Http::new(&app.base);
    let r = http.login("chief", PASSWORD, "/tree").await.expect(303);
    assert_eq!(r.location(), "/account/password");
    http.fetch_csrf().await;

    let p = http.get("/api/v1/roots").await.problem(403);
    assert!(p["type"].as_str().unwrap().ends_with("password-change-required"), "{p}");
    assert_eq!(http.get("/").await.expect(303).location(), "/account/password");
    assert_eq!(http.get("/tree").await.expect(303).location(), "/account/password");

    let page = http.get("/account/password").await.expect(200);
    assert!(page.text.contains("这是初始密码"), "{}", page.text);
    let token = meta_csrf(&page.text);
    assert_eq!(token, http.csrf);

    // Without the form's token the change is refused.
    let new = "Str0ng-Secret#2024";
    http.post_form(
        "/account/password",
        &[("current", PASSWORD), ("new_password", new), ("confirm", new)],
    )
    .await
    .expect(403);
    // A confirmation that differs is shown beside its field.
    let r = http
        .post_form(
            "/account/password",
            &[
                ("_csrf", &token),
                ("current", PASSWORD),
                ("new_password", new),
                ("confirm", "Str0ng-Secret#2025"),
            ],
        )
        .await
        .expect(422);
    assert!(r.text.contains(r#"class="field-error""#), "{}", r.text);
    http.get("/api/v1/roots").await.problem(403);

    let r = http
        .post_form(
            "/account/password",
            &[
                ("_csrf", &token),
                ("current", PASSWORD),
                ("new_password", new),
                ("confirm", new),
            ],
        )
        .await
        .expect(303);
    assert_eq!(r.location(), "/");
    // No city yet: the console opens on the (empty) list of cities.
    assert_eq!(http.get("/").await.expect(303).location(), "/tree");
    let tree = http.get("/tree").await.expect(200);
    assert!(tree.text.contains("新建城市"), "{}", tree.text);
    assert_eq!(http.get("/api/v1/roots").await.expect(200).json(), json!([]));

    // The new password is the one that works from now on.
    let mut again = Http::new(&app.base);
    again.login("chief", PASSWORD, "/").await.expect(401);
    let r = again.login("chief", new, "/tree").await.expect(303);
    assert_eq!(r.location(), "/tree");
    app.stop().await;
}

/// Every `http://` or `https://` in `text` that does not point at 127.0.0.1.
fn external_urls(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for scheme in ["http://", "https://"] {
        for (i, _) in text.match_indices(scheme) {
            let rest = &text[i + scheme.len()..];
            if !rest.starts_with("127.0.0.1") {
                out.push(text[i..(i + 60).min(text.len())].to_string());
            }
        }
    }
    out
}

/// The `src` and `href` attribute values of a page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            out.push(rest[..rest.find('"').expect("closing quote")].to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_and_offline_docs() {
    let app = TestApp::start().await;
    let http = Http::new(&app.base);
    let doc = http.get("/api/openapi.json").await.expect(200);
    assert!(doc.content_type().starts_with("application/json"));
    let doc = doc.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/api/v1/nodes/{id}/move",
        "/api/v1/nodes",
        "/api/v1/roots",
        "/api/v1/party-orgs",
        "/api/v1/nodes/{id}/party-orgs",
        "/api/v1/me",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
    }
    assert!(paths["/api/v1/nodes/{id}/move"]["post"].is_object());

    let page = http.get("/api/docs/").await.expect(200);
    assert!(page.content_type().starts_with("text/html"), "{page:?}");
    assert_eq!(external_urls(&page.text), Vec::<String>::new(), "docs page");
    let refs = references(&page.text);
    assert!(refs.iter().any(|r| r.ends_with("swagger-initializer.js")), "{refs:?}");
    // Everything the page loads is served here, and no script names another host.
    for r in &refs {
        assert!(!r.starts_with("//"), "protocol-relative reference {r}");
        let path = match r.strip_prefix("./") {
            Some(rel) => format!("/api/docs/{rel}"),
            None if r.starts_with('/') => r.clone(),
            None => format!("/api/docs/{r}"),
        };
        let asset = http.get(&path).await.expect(200);
        assert!(!asset.text.is_empty(), "{path} is empty");
    }
    let init = http.get("/api/docs/swagger-initializer.js").await.expect(200);
    assert_eq!(
        external_urls(&init.text),
        Vec::<String>::new(),
        "swagger-initializer.js"
    );
    assert!(
        init.text.contains("/api/openapi.json"),
        "the initializer loads our document: {}",
        init.text
    );
    // The online validator badge would load an image from another site.
    assert!(
        init.text.contains(r#""validatorUrl": "none""#),
        "the validator must be off: {}",
        init.text
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_is_stored_as_given_and_escaped_on_pages() {
    let app = TestApp::start().await;
    let admin = app.manager().await;
    let t = build_tree(&admin).await;
    let hostile = "<script>alert(1)</script>' OR 1=1; --";
    let node = admin
        .create_node(Some(&t.community), None, hostile, Some("estate"))
        .await;
    assert_eq!(admin.node(&node["id"]).await["name"], hostile);

    for page in [
        format!("/tree/{}", node["id"]),
        format!("/tree/{}", t.community["id"]),
        format!("/tree/{}/history", node["id"]),
        "/search?q=alert".to_string(),
    ] {
        let html = admin.get(&page).await.expect(200).text;
        // askama writes numeric character references.
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;&#39; OR 1=1; --"),
            "{page}: {html}"
        );
        assert!(!html.contains("<script>alert"), "{page} has the raw name");
    }
    // The quote and comment marker are data to the search, not SQL.
    let found = admin
        .get("/api/v1/nodes?q=%27%20OR%201%3D1%3B%20--")
        .await
        .expect(200)
        .json();
    assert_eq!(ids(&found["items"]), vec![id(&node)]);

    let before = admin.counts(&t.community["id"]).await;
    let long = "长".repeat(10 * 1024 / 3);
    for (what, name) in [("NUL", "坏\0名"), ("10 kB", long.as_str())] {
        let r = admin
            .post_json(
                "/api/v1/nodes",
                &json!({"parent_id": t.community["id"], "name": name, "kind": "estate"}),
            )
            .await;
        assert_eq!(r.error_fields(), vec!["name"], "{what}");
        // The same through the console's form: the page shows the error beside the field.
        let r = admin
            .post_form(
                &format!("/tree/{}/new", t.community["id"]),
                &[("_csrf", &admin.csrf), ("name", name), ("kind", "estate")],
            )
            .await
            .expect(422);
        assert!(r.text.contains(r#"id="name-error""#), "{what}: {}", r.text);
    }
    let r = admin
        .patch_json(
            &format!("/api/v1/nodes/{}", node["id"]),
            &json!({"name": "x".repeat(10 * 1024), "kind": "estate"}),
        )
        .await;
    assert_eq!(r.error_fields(), vec!["name"], "rename to 10 kB");
    assert_eq!(admin.node(&node["id"]).await["name"], hostile);
    assert_eq!(admin.counts(&t.community["id"]).await, before);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_on_the_login_page() {
    let app = TestApp::start().await;
    let r = Http::new(&app.base).get("/login").await.expect(200);
    let csp = r.header("content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(r.header("x-frame-options"), "DENY");
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("referrer-policy"), "same-origin");
    assert!(
        r.text
            .contains(r#"<form class="stacked" action="/login" method="post">"#)
    );
    app.stop().await;
}

/// Every seed metric is listed; the demo's organisation figures come out of its records.
#[tokio::test]
async fn metrics_of_the_demo_city_over_http() {
    let app = TestApp::start().await;
    app.load_foshan().await;
    let manager = app.manager().await;
    let list = manager.get("/api/v1/stats").await.expect(200).json();
    let list = list.as_array().expect("list");
    assert!(list.len() >= 61, "{}", list.len());
    let available = |id: &str| {
        list.iter()
            .find(|m| m["id"] == id)
            .map(|m| m["available"].as_bool().unwrap_or(false))
    };
    assert_eq!(available("org.community.one_shoulder"), Some(true));
    assert_eq!(available("orders.self_service"), Some(false));
    assert_eq!(available("volunteer.count"), Some(true));
    let get = async |id: &str| {
        manager
            .get(&format!("/api/v1/stats/{id}?node=440600000000"))
            .await
            .expect(200)
            .json()
    };
    assert_eq!(get("grid.count.l2").await["value"], 5302.0);
    assert_eq!(get("grid.count.l3").await["value"], 10721.0);
    let one = get("org.community.one_shoulder").await;
    assert_eq!(
        (one["numerator"].as_i64(), one["denominator"].as_i64()),
        (Some(809), Some(809))
    );
    let reserve = get("org.community.reserve_cadres").await;
    assert_eq!(
        (reserve["min"].as_i64(), reserve["below"].as_array().map(Vec::len)),
        (Some(2), Some(0))
    );
    let inst = get("org.street.instructors_min").await;
    assert_eq!(
        (inst["min"].as_i64(), inst["below"].as_array().map(Vec::len)),
        (Some(5), Some(0))
    );
    let filled = get("org.street.posts_filled").await;
    assert_eq!(
        (filled["numerator"].as_i64(), filled["denominator"].as_i64()),
        (Some(32), Some(32))
    );
    assert_eq!(get("org.estate_branch.count").await["value"], 300.0);
    let residents = get("people.residents").await;
    assert_eq!(residents["denominator"].as_i64(), Some(32163));
    let not_yet = get("orders.self_service").await;
    assert_eq!(
        (not_yet["available"].as_bool(), not_yet["value"].is_null()),
        (Some(false), true)
    );
    manager
        .get("/api/v1/stats/no.such.metric?node=440600000000")
        .await
        .expect(404);
}
