//! Hostile text in every text field of every form and API: SQL fragments, a script tag, 10 kB,
//! a NUL byte and full-width text. Each is either stored as given and shown back escaped, or
//! refused with a 4xx (a 422 naming the field, for the API) — never a server error.

use gongjian_domain::access::Role;
use serde_json::{Value, json};

use crate::support::{Http, PASSWORD, Reply, TestApp, build_tree, for_each_engine};

/// The hostile values, each with a label for messages.
pub(crate) fn values() -> Vec<(&'static str, String)> {
    vec![
        ("SQL", "x'); DROP TABLE nodes; -- ' OR 1=1".to_string()),
        ("script", "<script>alert(1)</script>".to_string()),
        ("10 kB", "长".repeat(10 * 1024 / 3 + 1)),
        ("NUL", "坏\0名".to_string()),
        ("full-width", "ＡＢＣ１２３\u{3000}测试".to_string()),
    ]
}

/// As askama writes text into HTML.
pub(crate) fn escaped(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '&' => out.push_str("&#38;"),
            '<' => out.push_str("&#60;"),
            '>' => out.push_str("&#62;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `path?key=value`, encoded.
pub(crate) fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let url = reqwest::Url::parse_with_params(&format!("http://h{path}"), pairs).expect("URL");
    format!("{}?{}", url.path(), url.query().unwrap_or(""))
}

/// Checks a page for a value: shown escaped, never as raw markup.
#[track_caller]
pub(crate) fn assert_shown_escaped(page: &Reply, what: &str, v: &str) {
    assert!(
        page.text.contains(&escaped(v)),
        "{what}: {} does not show the stored value",
        page.request
    );
    assert_raw_markup_absent(page, what, v);
}

#[track_caller]
pub(crate) fn assert_raw_markup_absent(page: &Reply, what: &str, v: &str) {
    if v.contains('<') {
        assert!(!page.text.contains(v), "{what}: {} has the raw markup", page.request);
    }
}

/// A JSON API answer: stored (2xx, returned as given) or a 422 that names one of `fields`.
#[track_caller]
pub(crate) fn api_outcome(r: &Reply, what: &str, fields: &[&str]) -> bool {
    if (200..300).contains(&r.status) {
        return true;
    }
    let named = r.error_fields();
    assert!(
        named.iter().any(|f| fields.contains(&f.as_str())),
        "{what}: {} refused, but names {named:?}, not {fields:?}",
        r.request
    );
    false
}

/// A console form answer: stored (a redirect) or refused with a 4xx page that says why.
#[track_caller]
pub(crate) fn form_outcome(r: &Reply, what: &str, v: &str) -> bool {
    if (300..400).contains(&r.status) || r.status == 200 {
        return true;
    }
    assert!(
        (400..500).contains(&r.status),
        "{what}: {} answered {}",
        r.request,
        r.status
    );
    assert!(
        r.text.contains("field-error") || r.text.contains("alert error") || r.text.contains("<h1>"),
        "{what}: {} gives no reason: {}",
        r.request,
        r.text
    );
    assert_raw_markup_absent(r, what, v);
    false
}

/// Every byte but ASCII letters and digits percent-encoded, for a path segment.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

async fn hostile_story(app: &TestApp) {
    let m = app.manager().await;
    let t = build_tree(&m).await;
    let x = id(&t.community);
    // A second community to move grids to, with party committees at both.
    let b = m
        .create_node(Some(&t.street_b), Some("440604002001"), "石湾社区", None)
        .await;
    let org = async |parent: Option<i64>, kind: &str, category: &str, name: &str, territory: &str| -> i64 {
        let body = json!({"parent_id": parent, "kind": kind, "category": category, "name": name,
            "territory_code": territory});
        id(&m.post_json("/api/v1/party-orgs", &body).await.expect(201).json())
    };
    let committee_x = org(None, "committee", "community", "中共岭南社区委员会", "440604001001").await;
    let committee_b = org(None, "committee", "community", "中共石湾社区委员会", "440604002001").await;
    let grid_code = t.grid_l2["code"].as_str().expect("code").to_string();
    let grid = id(&t.grid_l2);

    let grantee = app.add_user("grantee", Role::GridWorker, Some(x), false).await;
    let mut stored = 0;
    for (n, (label, v)) in values().into_iter().enumerate() {
        let v = v.as_str();
        let what = |field: &str| format!("{field} = {label}");

        // ---- node name: API create and rename, console create and edit.
        let r = m
            .post_json("/api/v1/nodes", &json!({"parent_id": x, "name": v, "kind": "estate"}))
            .await;
        if api_outcome(&r, &what("node name (API)"), &["name"]) {
            let node = r.json();
            assert_eq!(m.node(&node["id"]).await["name"], v, "{}", what("node name"));
            assert_shown_escaped(
                &m.get(&format!("/tree/{}", node["id"])).await.expect(200),
                &what("node name"),
                v,
            );
            stored += 1;
        }
        let r = m
            .submit(&format!("/tree/{x}/new"), &[("name", v), ("kind", "estate")])
            .await;
        if form_outcome(&r, &what("node name (form)"), v) {
            let page = m.get(&r.location()).await.expect(200);
            assert_shown_escaped(&page, &what("node name (form)"), v);
        } else {
            assert!(r.text.contains(r#"id="name-error""#), "{}", what("node name (form)"));
        }
        let r = m
            .patch_json(&format!("/api/v1/nodes/{grid}"), &json!({"name": v, "kind": "estate"}))
            .await;
        if api_outcome(&r, &what("node rename (API)"), &["name"]) {
            assert_eq!(m.node(&json!(grid)).await["name"], v);
        }
        let r = m
            .submit(&format!("/tree/{grid}/edit"), &[("name", v), ("kind", "estate")])
            .await;
        if form_outcome(&r, &what("node edit (form)"), v) {
            assert_shown_escaped(
                &m.get(&format!("/tree/{grid}")).await.expect(200),
                &what("node edit"),
                v,
            );
        }

        // ---- households and population: numbers only.
        for field in ["households", "population"] {
            let r = m
                .post_json(
                    "/api/v1/nodes",
                    &json!({"parent_id": x, "name": "户数测试", "kind": "estate", field: v}),
                )
                .await;
            assert!(!api_outcome(&r, &what(field), &[field]), "{} was stored", what(field));
            let r = m
                .submit(
                    &format!("/tree/{grid}/edit"),
                    &[("name", "阳光小区"), ("kind", "estate"), (field, v)],
                )
                .await
                .expect(422);
            assert_raw_markup_absent(&r, &what(field), v);
            let r = m
                .patch_json(
                    &format!("/api/v1/nodes/{grid}"),
                    &json!({"name": "阳光小区", "kind": "estate", field: v}),
                )
                .await;
            assert!(!api_outcome(&r, &what(field), &[field]));
        }

        // ---- notes of moves and archivals, through the API and the console.
        let fresh =
            async |name: &str| -> i64 { id(&m.create_node(Some(&t.community), None, name, Some("estate")).await) };
        let note_checks: [(&str, bool); 4] = [("move", true), ("archive", true), ("move", false), ("archive", false)];
        for (action, api) in note_checks {
            let node = fresh(&format!("备注测试{n}{action}{api}")).await;
            let how = what(&format!("{action} note ({})", if api { "API" } else { "form" }));
            let ok = match (action, api) {
                ("move", true) => {
                    let r = m
                        .post_json(
                            &format!("/api/v1/nodes/{node}/move"),
                            &json!({"new_parent_id": b["id"], "note": v}),
                        )
                        .await;
                    api_outcome(&r, &how, &["note"])
                }
                ("archive", true) => {
                    let r = m
                        .post_json(&format!("/api/v1/nodes/{node}/archive"), &json!({"note": v}))
                        .await;
                    api_outcome(&r, &how, &["note"])
                }
                ("move", false) => {
                    let r = m
                        .submit(
                            &format!("/tree/{node}/move"),
                            &[("new_parent_id", &b["id"].to_string()), ("new_code", ""), ("note", v)],
                        )
                        .await;
                    form_outcome(&r, &how, v)
                }
                _ => {
                    let r = m.submit(&format!("/tree/{node}/archive"), &[("note", v)]).await;
                    form_outcome(&r, &how, v)
                }
            };
            if ok {
                let history = m.get(&format!("/api/v1/nodes/{node}/history")).await.expect(200).json();
                assert_eq!(history[0]["note"], v, "{how}: {history}");
                let page = m.get(&format!("/tree/{node}/history")).await.expect(200);
                assert_shown_escaped(&page, &how, v);
                stored += 1;
            }
        }

        // ---- party organisations: name, territory code and founding date; notes.
        let branch = |name: &str, territory: &str, founded: Option<&str>| {
            json!({"parent_id": committee_x, "kind": "branch", "category": "estate", "name": name,
                "territory_code": territory, "founded_on": founded})
        };
        let r = m.post_json("/api/v1/party-orgs", &branch(v, &grid_code, None)).await;
        if api_outcome(&r, &what("party name (API)"), &["name"]) {
            let org = r.json();
            assert_eq!(org["name"], v);
            let page = m.get(&format!("/party/{}", org["id"])).await.expect(200);
            assert_shown_escaped(&page, &what("party name"), v);
            stored += 1;
        }
        let r = m
            .post_json("/api/v1/party-orgs", &branch("中共测试支部", v, None))
            .await;
        assert!(
            !api_outcome(
                &r,
                &what("territory_code (API)"),
                &["territory_node_id", "territory_code"]
            ),
            "{}",
            what("territory_code")
        );
        let r = m
            .post_json("/api/v1/party-orgs", &branch("中共测试支部", &grid_code, Some(v)))
            .await;
        assert!(!api_outcome(&r, &what("founded_on (API)"), &["founded_on"]));
        for (field, value_for) in [("name", 0), ("territory_code", 1), ("founded_on", 2)] {
            let mut fields = [
                ("parent_id", committee_x.to_string()),
                ("kind", "branch".to_string()),
                ("category", "estate".to_string()),
                ("name", "中共表单支部".to_string()),
                ("territory_code", grid_code.clone()),
                ("founded_on", String::new()),
            ];
            fields[3 + value_for].1 = v.to_string();
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = m.submit("/party/new", &pairs).await;
            let how = what(&format!("party {field} (form)"));
            if form_outcome(&r, &how, v) {
                assert_eq!(field, "name", "{how} was stored");
                assert_shown_escaped(&m.get(&r.location()).await.expect(200), &how, v);
            }
        }
        // Rename through the API and the console.
        let target = org(
            Some(committee_x),
            "branch",
            "estate",
            &format!("中共改名支部{n}"),
            &grid_code,
        )
        .await;
        let r = m
            .patch_json(
                &format!("/api/v1/party-orgs/{target}"),
                &json!({"category": "estate", "name": v, "territory_code": grid_code}),
            )
            .await;
        if api_outcome(&r, &what("party rename (API)"), &["name"]) {
            assert_eq!(r.json()["name"], v);
        }
        let r = m
            .submit(
                &format!("/party/{target}/edit"),
                &[
                    ("category", "estate"),
                    ("name", v),
                    ("territory_code", &grid_code),
                    ("founded_on", v),
                ],
            )
            .await;
        assert!(!form_outcome(&r, &what("party edit founded_on (form)"), v));
        // Notes of a move and an archival, through the API and the console.
        for api in [true, false] {
            let how = what(&format!("party notes ({})", if api { "API" } else { "form" }));
            let moving = org(
                Some(committee_x),
                "branch",
                "estate",
                &format!("中共调整支部{n}{api}"),
                &grid_code,
            )
            .await;
            let r = if api {
                m.post_json(
                    &format!("/api/v1/party-orgs/{moving}/move"),
                    &json!({"new_parent_id": committee_b, "note": v}),
                )
                .await
            } else {
                m.submit(
                    &format!("/party/{moving}/move"),
                    &[("new_parent_id", &committee_b.to_string()), ("note", v)],
                )
                .await
            };
            let moved = if api {
                api_outcome(&r, &how, &["note"])
            } else {
                form_outcome(&r, &how, v)
            };
            let r = if api {
                m.post_json(&format!("/api/v1/party-orgs/{moving}/archive"), &json!({"note": v}))
                    .await
            } else {
                m.submit(&format!("/party/{moving}/archive"), &[("note", v)]).await
            };
            let archived = if api {
                api_outcome(&r, &how, &["note"])
            } else {
                form_outcome(&r, &how, v)
            };
            if moved || archived {
                let history = m
                    .get(&format!("/api/v1/party-orgs/{moving}/history"))
                    .await
                    .expect(200)
                    .json();
                assert_eq!(history[0]["note"], v, "{how}: {history}");
                assert_shown_escaped(&m.get(&format!("/party/{moving}")).await.expect(200), &how, v);
                stored += 1;
            }
        }

        // ---- API tokens: name (and scope, and the form's days).
        let r = m
            .post_json(
                "/api/v1/tokens",
                &json!({"name": v, "scope": "read", "expires_in_days": 7}),
            )
            .await;
        if api_outcome(&r, &what("token name (API)"), &["name"]) {
            assert_eq!(r.json()["info"]["name"], v);
            assert_shown_escaped(&m.get("/account/tokens").await.expect(200), &what("token name"), v);
            stored += 1;
        }
        let r = m
            .post_json(
                "/api/v1/tokens",
                &json!({"name": "令牌", "scope": v, "expires_in_days": 7}),
            )
            .await;
        assert!(!api_outcome(&r, &what("token scope"), &["scope"]));
        for (field, pairs) in [
            ("name", [("name", v), ("scope", "read"), ("expires_in_days", "7")]),
            ("scope", [("name", "令牌"), ("scope", v), ("expires_in_days", "7")]),
            (
                "expires_in_days",
                [("name", "令牌"), ("scope", "read"), ("expires_in_days", v)],
            ),
        ] {
            let r = m.submit("/account/tokens", &pairs).await;
            let how = what(&format!("token {field} (form)"));
            if r.status == 200 {
                assert_eq!(field, "name", "{how} was stored");
                assert_shown_escaped(&r, &how, v);
            } else {
                assert_eq!(r.status, 422, "{how}");
                assert_raw_markup_absent(&r, &how, v);
            }
        }

        // ---- accounts: user name, display name, area code; the grant form; the list's search.
        let username = format!("hostile{n}");
        for (field, pairs) in [
            (
                "username",
                [
                    ("username", v),
                    ("display_name", "张三"),
                    ("role", "grid_worker"),
                    ("node_code", "440604001001"),
                ],
            ),
            (
                "display_name",
                [
                    ("username", username.as_str()),
                    ("display_name", v),
                    ("role", "grid_worker"),
                    ("node_code", "440604001001"),
                ],
            ),
            (
                "node_code",
                [
                    ("username", "nobody.here"),
                    ("display_name", "李四"),
                    ("role", "grid_worker"),
                    ("node_code", v),
                ],
            ),
            (
                "role",
                [
                    ("username", "nobody.here"),
                    ("display_name", "李四"),
                    ("role", v),
                    ("node_code", "440604001001"),
                ],
            ),
        ] {
            let r = m.submit("/admin/users/new", &pairs).await;
            let how = what(&format!("account {field} (form)"));
            if r.status == 200 {
                assert_eq!(field, "display_name", "{how} was stored");
                assert!(r.text.contains(r#"id="one-time-password""#), "{how}");
                let list = m.get("/admin/users").await.expect(200);
                assert_shown_escaped(&list, &how, v);
                stored += 1;
            } else {
                assert_eq!(r.status, 422, "{how}: {}", r.text);
                assert!(
                    r.text.contains("field-error") || r.text.contains("alert error"),
                    "{how}"
                );
                assert_raw_markup_absent(&r, &how, v);
            }
        }
        let r = m
            .submit(
                &format!("/admin/users/{}/grants", grantee.id),
                &[("role", "grid_worker"), ("node_code", v)],
            )
            .await;
        assert!(
            matches!(r.status, 404 | 422),
            "{}: {}",
            what("grant node_code"),
            r.status
        );
        assert_raw_markup_absent(&r, &what("grant node_code"), v);
        let r = m.get(&with_query("/admin/users", &[("q", v)])).await.expect(200);
        assert_raw_markup_absent(&r, &what("account search"), v);

        // ---- searches and look-ups.
        let r = m.get(&with_query("/search", &[("q", v)])).await.expect(200);
        assert_raw_markup_absent(&r, &what("search"), v);
        let r = m.get(&with_query("/api/v1/nodes", &[("q", v)])).await.expect(200);
        assert!(r.json()["items"].is_array());
        // Cursors of the paged lists are text too.
        for list in [
            format!("/api/v1/nodes/{x}/children"),
            format!("/tree/{x}/children"),
            "/api/v1/nodes".to_string(),
            "/admin/users".to_string(),
        ] {
            let r = m.get(&with_query(&list, &[("cursor", v)])).await;
            assert!(
                matches!(r.status, 200 | 400 | 422),
                "{}: {}",
                what(&format!("{list} cursor")),
                r.status
            );
            assert_raw_markup_absent(&r, &what("cursor"), v);
        }
        let r = m.get(&format!("/api/v1/nodes/by-code/{}", percent(v))).await;
        assert!(matches!(r.status, 400 | 404), "{}: {}", what("by-code"), r.status);
    }
    assert!(stored >= 3 * 10, "hostile values were stored at all ({stored})");

    // ---- logins, password change and second-factor codes (separate accounts, as failures
    // count towards lockouts).
    app.add_user("victim", Role::GridWorker, Some(x), false).await;
    app.add_user("coder", Role::GridWorker, Some(x), false).await;
    let coder = app.login("coder").await;
    for (label, v) in values() {
        let mut anon = Http::new(&app.base);
        let r = anon.login(&v, PASSWORD, "/").await;
        assert!(matches!(r.status, 401 | 423 | 429), "login name {label}: {}", r.status);
        assert_raw_markup_absent(&r, "login name", &v);
        let r = anon.login("victim", &v, &v).await;
        assert!(matches!(r.status, 401 | 423 | 429), "password {label}: {}", r.status);
        assert_raw_markup_absent(&r, "login next", &v);
        let r = coder
            .submit(
                "/account/password",
                &[("current", &v), ("new_password", &v), ("confirm", &v)],
            )
            .await
            .expect(422);
        assert_raw_markup_absent(&r, "password change", &v);
        for gate in ["/login/totp", "/account/totp"] {
            let r = coder.submit(gate, &[("code", &v)]).await;
            assert!(matches!(r.status, 401 | 422 | 423), "{gate} {label}: {}", r.status);
            assert_raw_markup_absent(&r, gate, &v);
        }
    }
    app.login("manager").await;

    // ---- audit filters, as the audit administrator.
    let mut auditor = app.add_admin("auditor", Role::AuditAdmin).await;
    let audit = app.login_admin(&mut auditor).await;
    for (label, v) in values() {
        for field in ["actor", "action", "result", "from", "to"] {
            let r = audit.get(&with_query("/audit", &[(field, &v)])).await.expect(200);
            let how = format!("audit {field} = {label}");
            if field != "result" && !v.contains('\0') {
                assert!(
                    r.text.contains(&format!(r#"value="{}""#, escaped(&v))),
                    "{how}: the filter is shown back"
                );
            }
            assert_raw_markup_absent(&r, &how, &v);
            let r = audit.get(&with_query("/api/v1/audit", &[(field, &v)])).await;
            assert!(r.status == 200 || r.status == 422, "{how}: {}", r.status);
            let (status, _, _) = audit.get_bytes(&with_query("/audit/export", &[(field, &v)])).await;
            assert_eq!(status, 200, "{how}: export");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_every_field_is_stored_escaped_or_refused() {
    for_each_engine(hostile_story).await;
}
