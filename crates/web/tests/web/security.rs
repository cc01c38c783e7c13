//! The security baseline over real HTTP: the lockout shared by two servers, CSRF, API tokens,
//! the administrators' second factor and their separation, password history and the audit
//! trail with its export and tamper detection.

use gongjian_domain::access::Role;
use gongjian_store::audit::AuditVerdict;
use gongjian_store::tokens::NewToken;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    Http, PASSWORD, Reply, TestApp, build_tree, current_step, element_text, field_invalid, for_each_engine, list_items,
    overseer, totp_at_step, totp_now,
};

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

fn problem_type(r: &Reply, status: u16) -> String {
    r.problem(status)["type"].as_str().unwrap_or("").to_string()
}

async fn scalar(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(app.store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

// ------------------------------------------------------------------------------ lockout

/// Five wrong passwords spread over two servers of one database lock the account on both; the
/// sixth attempt is refused even with the right password, and opens no session.
async fn lockout_story(first: &TestApp) {
    let second = TestApp::start_beside(first).await;
    first.add_user("clerk", Role::OrgDepartment, None, false).await;
    first.add_user("bystander", Role::OrgDepartment, None, false).await;
    {
        let servers = [first, &second];
        for attempt in 0..5 {
            let server = servers[attempt % 2];
            let mut http = Http::new(&server.base);
            let r = http.login("clerk", "Wrong-Passw0rd!", "/").await.expect(401);
            assert!(r.text.contains("用户名或密码不正确"), "attempt {attempt}: {}", r.text);
            assert_eq!(r.header("set-cookie"), "", "attempt {attempt} set a cookie");
        }
        for (n, server) in [&second, first, &second].into_iter().enumerate() {
            let mut http = Http::new(&server.base);
            let r = http.login("clerk", PASSWORD, "/").await.expect(423);
            assert!(r.text.contains("锁定"), "attempt {}: {}", n + 6, r.text);
            assert_eq!(r.header("set-cookie"), "", "attempt {} set a cookie", n + 6);
            http.get("/api/v1/me").await.problem(401);
        }
        // Another account logs in on either server.
        for server in servers {
            let other = server.login("bystander").await;
            other.get("/api/v1/roots").await.expect(200);
        }
    }
    let locked = scalar(
        first,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'login' AND result = 'locked' AND actor_name = 'clerk'",
    )
    .await;
    assert_eq!(locked, 3, "each refused attempt is audited");
    assert!(matches!(
        first.store.verify_audit().await.expect("verify"),
        AuditVerdict::Intact { .. }
    ));
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_holds_across_two_servers_of_one_database() {
    for_each_engine(lockout_story).await;
}

// ------------------------------------------------------------------------------ CSRF

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_need_the_csrf_token_and_our_origin() {
    let app = TestApp::start().await;
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let community = &t.community["id"];
    let edit = format!("/tree/{community}/edit");
    let history_len = |h: Value| h.as_array().map(Vec::len).unwrap_or(0);
    let history_before = history_len(
        manager
            .get(&format!("/api/v1/nodes/{community}/history"))
            .await
            .expect(200)
            .json(),
    );
    let renamed = [("name", "被改名社区")];

    // The session cookie alone: no form field, no header.
    let r = manager.post_form(&edit, &renamed).await.expect(403);
    assert!(r.text.contains("请求校验失败"), "{}", r.text);
    // A token, but not this session's.
    let r = manager
        .post_form(
            &edit,
            &[("_csrf", "0123456789abcdef0123456789abcdef"), ("name", "被改名社区")],
        )
        .await;
    r.expect(403);
    let r = Http::send(
        "POST edit (wrong header)".into(),
        manager
            .request(Method::POST, &edit)
            .header("x-csrf-token", "0123456789abcdef0123456789abcdef")
            .form(&renamed),
    )
    .await;
    r.expect(403);
    // The right token sent from another site's page. Only a header value: nothing is sent there.
    let form = [("_csrf", manager.csrf.as_str()), ("name", "被改名社区")];
    let r = Http::send(
        "POST edit (Origin evil.example)".into(),
        manager
            .request(Method::POST, &edit)
            .header("origin", "http://evil.example")
            .form(&form),
    )
    .await;
    r.expect(403);
    let r = Http::send(
        "POST edit (Sec-Fetch-Site cross-site)".into(),
        manager
            .request(Method::POST, &edit)
            .header("sec-fetch-site", "cross-site")
            .form(&form),
    )
    .await;
    r.expect(403);
    // The JSON API alike.
    let api = format!("/api/v1/nodes/{community}");
    let r = Http::send(
        "PATCH node (no CSRF)".into(),
        manager
            .request(Method::PATCH, &api)
            .json(&json!({"name": "被改名社区"})),
    )
    .await;
    assert_eq!(problem_type(&r, 403), "/api/problems/csrf");
    let r = Http::send(
        "PATCH node (Origin evil.example)".into(),
        manager
            .request(Method::PATCH, &api)
            .header("x-csrf-token", &manager.csrf)
            .header("origin", "http://evil.example")
            .json(&json!({"name": "被改名社区"})),
    )
    .await;
    assert_eq!(problem_type(&r, 403), "/api/problems/csrf");
    // Logging in from another site's page is refused too (login CSRF).
    let r = Http::send(
        "POST /login (Origin evil.example)".into(),
        Http::new(&app.base)
            .request(Method::POST, "/login")
            .header("origin", "http://evil.example")
            .form(&[("username", "manager"), ("password", PASSWORD), ("next", "/")]),
    )
    .await;
    r.expect(403);

    // Nothing changed.
    let node = manager.node(community).await;
    assert_eq!(node["name"], "岭南社区");
    assert_eq!(
        history_len(
            manager
                .get(&format!("/api/v1/nodes/{community}/history"))
                .await
                .expect(200)
                .json()
        ),
        history_before
    );

    // The same form from our own page goes through.
    let origin = app.base.clone();
    let r = Http::send(
        "POST edit (own origin)".into(),
        manager
            .request(Method::POST, &edit)
            .header("origin", origin)
            .form(&form),
    )
    .await
    .expect(303);
    assert_eq!(r.location(), format!("/tree/{community}?notice=saved"));
    assert_eq!(manager.node(community).await["name"], "被改名社区");
    app.stop().await;
}

// ------------------------------------------------------------------------------ API tokens

async fn token_story(app: &TestApp) {
    let manager = app.manager().await;
    let city = manager.create_node(None, Some("440600000000"), "佛山市", None).await;
    let create = async |name: &str, scope: &str| -> (String, i64) {
        let r = manager
            .post_json(
                "/api/v1/tokens",
                &json!({"name": name, "scope": scope, "expires_in_days": 30}),
            )
            .await
            .expect(201)
            .json();
        let token = r["token"].as_str().expect("token").to_string();
        assert!(token.starts_with("gjt_"), "{r}");
        assert_eq!(r["info"]["scopes"], scope, "{r}");
        assert_eq!(r["info"]["name"], name, "{r}");
        (token, r["info"]["id"].as_i64().expect("id"))
    };
    let (read, _) = create("只读同步", "read").await;
    let (write, write_id) = create("读写同步", "write").await;
    let listed = manager.get("/api/v1/tokens").await.expect(200);
    assert!(
        listed.text.contains("只读同步") && listed.text.contains("读写同步"),
        "{}",
        listed.text
    );
    assert!(
        !listed.text.contains(&read) && !listed.text.contains(&write),
        "secrets are never listed"
    );
    // Bad input is refused per field.
    let r = manager
        .post_json(
            "/api/v1/tokens",
            &json!({"name": "", "scope": "admin", "expires_in_days": 9999}),
        )
        .await;
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["expires_in_days", "name", "scope"]);

    // A read token reads, and changes nothing.
    let reader = Http::with_token(&app.base, &read);
    let roots = reader.get("/api/v1/roots").await.expect(200).json();
    assert_eq!(roots[0]["id"], city["id"], "{roots}");
    let district = json!({"parent_id": city["id"], "code": "440604000000", "name": "禅城区"});
    let r = reader.post_json_without_csrf("/api/v1/nodes", &district).await;
    assert!(problem_type(&r, 403).ends_with("token-scope"), "{}", r.text);
    let r = Http::send(
        "PATCH with a read token".into(),
        reader
            .request(Method::PATCH, &format!("/api/v1/nodes/{}", city["id"]))
            .json(&json!({"name": "改名"})),
    )
    .await;
    assert!(problem_type(&r, 403).ends_with("token-scope"));
    let r = reader
        .post_json_without_csrf(
            "/api/v1/tokens",
            &json!({"name": "再造", "scope": "write", "expires_in_days": 1}),
        )
        .await;
    // Tokens are managed from a signed-in session only, so a leaked token cannot renew itself.
    assert!(problem_type(&r, 403).ends_with("session-required"));
    // A token is no session for the console's pages.
    assert!(reader.get("/tree").await.expect(303).location().starts_with("/login"));

    // A write token writes without any CSRF token or cookie.
    let writer = Http::with_token(&app.base, &write);
    let created = writer
        .post_json_without_csrf("/api/v1/nodes", &district)
        .await
        .expect(201)
        .json();
    assert_eq!(created["name"], "禅城区");
    let r = writer
        .post_json_without_csrf(
            "/api/v1/tokens",
            &json!({"name": "续期", "scope": "write", "expires_in_days": 1}),
        )
        .await;
    assert!(problem_type(&r, 403).ends_with("session-required"));
    assert_eq!(manager.counts(&city["id"]).await["districts"], 1);

    // Revoked: refused from then on.
    manager
        .post_json(&format!("/api/v1/tokens/{write_id}/revoke"), &json!({}))
        .await
        .expect(204);
    assert_eq!(
        problem_type(&writer.get("/api/v1/roots").await, 401),
        "/api/problems/unauthorized"
    );
    writer
        .post_json_without_csrf(
            "/api/v1/nodes",
            &json!({"parent_id": city["id"], "code": "440605000000", "name": "南海区"}),
        )
        .await
        .problem(401);
    // Revoking again, or a token that is not the caller's: not found.
    manager
        .post_json(&format!("/api/v1/tokens/{write_id}/revoke"), &json!({}))
        .await
        .problem(404);

    // Expired: a token made by the operators' CLI, then moved past its expiry.
    let expiring = app
        .store
        .create_token_for(
            "manager",
            &NewToken {
                name: "即将过期".into(),
                scope: "read".into(),
                expires_in_days: 1,
            },
        )
        .await
        .expect("create a token at the store");
    let old = Http::with_token(&app.base, &expiring);
    old.get("/api/v1/roots").await.expect(200);
    let tokens = manager.get("/api/v1/tokens").await.expect(200).json();
    let expiring_id = tokens
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["name"] == "即将过期")
        .map(|t| t["id"].as_i64().expect("id"))
        .expect("the CLI's token is listed");
    sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE id = $2")
        .bind("2020-01-01T00:00:00.000000Z")
        .bind(expiring_id)
        .execute(app.store.pool())
        .await
        .expect("expire the token");
    old.get("/api/v1/roots").await.problem(401);

    // Made-up tokens.
    for garbage in ["gjt_xxx", "gjt_", "not-a-token", &read[..read.len() - 1]] {
        Http::with_token(&app.base, garbage)
            .get("/api/v1/roots")
            .await
            .problem(401);
    }
    // The read token still works: nothing above touched it.
    reader.get("/api/v1/roots").await.expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_tokens_read_write_revoke_and_expire() {
    for_each_engine(token_story).await;
}

// ------------------------------------------------------------------------------ second factor

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_set_up_and_use_a_second_factor() {
    let app = TestApp::start().await;
    app.add_user("chief", Role::SystemAdmin, None, false).await;
    let mut http = Http::new(&app.base);
    let r = http.login("chief", PASSWORD, "/tree").await.expect(303);
    assert_eq!(r.location(), "/tree");
    http.fetch_csrf().await;
    // Until the second factor is set up, every page leads to its set-up and the API refuses.
    assert_eq!(http.get("/tree").await.expect(303).location(), "/account/totp");
    assert_eq!(http.get("/admin/users").await.expect(303).location(), "/account/totp");
    assert!(problem_type(&http.get("/api/v1/roots").await, 403).ends_with("second-factor-required"));

    let page = http.get("/account/totp").await.expect(200).text;
    let secret = element_text(&page, "totp-secret").expect("the secret is shown");
    assert_eq!(secret.len(), 32, "{secret}");
    assert!(page.contains("<svg"), "a QR code is shown");
    // The page shows the same pending secret until it is confirmed.
    let again = http.get("/account/totp").await.expect(200).text;
    assert_eq!(element_text(&again, "totp-secret").as_deref(), Some(secret.as_str()));

    let wrong = if totp_now(&app.store, &secret) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = http.submit("/account/totp", &[("code", wrong)]).await.expect(422);
    assert!(r.text.contains("field-error"), "{}", r.text);
    assert!(problem_type(&http.get("/api/v1/roots").await, 403).ends_with("second-factor-required"));

    let step = current_step(&app.store);
    let code = totp_at_step(&secret, step);
    let r = http.submit("/account/totp", &[("code", &code)]).await.expect(200);
    let recovery = list_items(&r.text, "recovery-codes");
    assert_eq!(recovery.len(), 10, "{}", r.text);
    http.get("/api/v1/roots").await.expect(200);
    assert!(
        http.get("/account/totp")
            .await
            .expect(200)
            .text
            .contains("动态口令已启用")
    );

    // The next login needs the second factor.
    let mut second = Http::new(&app.base);
    let r = second.login("chief", PASSWORD, "/tree").await.expect(303);
    assert_eq!(r.location(), "/login/totp");
    second.fetch_csrf().await;
    assert!(problem_type(&second.get("/api/v1/roots").await, 403).ends_with("second-factor-required"));
    assert_eq!(second.get("/tree").await.expect(303).location(), "/login/totp");
    // The code used to confirm the set-up cannot be replayed; a wrong code fails.
    second.submit("/login/totp", &[("code", &code)]).await.expect(401);
    second.submit("/login/totp", &[("code", "12345")]).await.expect(401);
    let r = second
        .submit("/login/totp", &[("code", &recovery[0])])
        .await
        .expect(303);
    assert_eq!(r.location(), "/");
    second.get("/api/v1/roots").await.expect(200);

    // A recovery code works once; they are not case-sensitive.
    let mut third = Http::new(&app.base);
    third.login("chief", PASSWORD, "/").await.expect(303);
    third.fetch_csrf().await;
    third.submit("/login/totp", &[("code", &recovery[0])]).await.expect(401);
    third
        .submit("/login/totp", &[("code", &recovery[1].to_uppercase())])
        .await
        .expect(303);
    third.get("/api/v1/roots").await.expect(200);

    // A code of a later step than the last one used works (the verifier allows one step of
    // clock drift ahead), once.
    let next = totp_at_step(&secret, step + 1);
    let mut fourth = Http::new(&app.base);
    fourth.login("chief", PASSWORD, "/").await.expect(303);
    fourth.fetch_csrf().await;
    fourth.submit("/login/totp", &[("code", &next)]).await.expect(303);
    fourth.get("/api/v1/roots").await.expect(200);
    let mut fifth = Http::new(&app.base);
    fifth.login("chief", PASSWORD, "/").await.expect(303);
    fifth.fetch_csrf().await;
    fifth.submit("/login/totp", &[("code", &next)]).await.expect(401);
    app.stop().await;
}

// ------------------------------------------------------------------------------ separation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_administrators_stay_separate() {
    let app = TestApp::start().await;
    let mut security = app.add_admin("security", Role::SecurityAdmin).await;
    let mut system = app.add_admin("sysadmin", Role::SystemAdmin).await;
    let overseer = overseer();
    let grants_of = async |user_id: i64| -> Vec<String> {
        app.store
            .user_summary(&overseer, user_id)
            .await
            .expect("user")
            .grants
            .into_iter()
            .map(|g| g.role)
            .collect()
    };
    let user_named = async |name: &str| -> Option<i64> {
        sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
            .bind(name.to_string())
            .fetch_optional(app.store.pool())
            .await
            .expect("query users")
    };

    // The security administrator grants the audit role to a fresh account…
    let sec = app.login_admin(&mut security).await;
    let form = sec.get("/admin/users/new").await.expect(200).text;
    assert!(form.contains(r#"<option value="audit_admin""#), "{form}");
    let r = sec
        .submit(
            "/admin/users/new",
            &[
                ("username", "auditor"),
                ("display_name", "审计员"),
                ("role", "audit_admin"),
                ("node_code", ""),
            ],
        )
        .await
        .expect(200);
    let one_time = element_text(&r.text, "one-time-password").expect("one-time password shown");
    assert!(one_time.len() >= 10, "{one_time}");
    let auditor = user_named("auditor").await.expect("account created");
    assert_eq!(grants_of(auditor).await, vec!["audit_admin"]);
    // …who must choose a password at first login.
    let mut first = Http::new(&app.base);
    let r = first.login("auditor", &one_time, "/").await.expect(303);
    assert_eq!(r.location(), "/account/password");

    // …but grants nothing to itself.
    for role in ["org_department", "audit_admin", "security_admin"] {
        let r = sec
            .submit(
                &format!("/admin/users/{}/grants", security.user.id),
                &[("role", role), ("node_code", "")],
            )
            .await
            .expect(422);
        assert!(r.text.contains("不能给自己授予角色"), "{role}: {}", r.text);
    }
    assert_eq!(grants_of(security.user.id).await, vec!["security_admin"]);

    // The system administrator cannot create a security administrator…
    let sys = app.login_admin(&mut system).await;
    let form = sys.get("/admin/users/new").await.expect(200).text;
    assert!(!form.contains(r#"<option value="security_admin""#), "not offered");
    let r = sec_free_create(&sys, "secadmin2", "security_admin").await.expect(422);
    assert!(
        field_invalid(&r.text, "role"),
        "the error is beside the role: {}",
        r.text
    );
    assert_eq!(user_named("secadmin2").await, None);
    // …nor grant that role to an account it manages.
    let r = sec_free_create(&sys, "clerk", "org_department").await.expect(200);
    assert!(element_text(&r.text, "one-time-password").is_some());
    let clerk = user_named("clerk").await.expect("clerk");
    let r = sys
        .submit(
            &format!("/admin/users/{clerk}/grants"),
            &[("role", "security_admin"), ("node_code", "")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("您无权"), "{}", r.text);
    assert_eq!(grants_of(clerk).await, vec!["org_department"]);

    // An account that is system administrator cannot also become audit administrator.
    let r = sec
        .submit(
            &format!("/admin/users/{}/grants", system.user.id),
            &[("role", "audit_admin"), ("node_code", "")],
        )
        .await
        .expect(422);
    assert!(r.text.contains("不能兼任"), "{}", r.text);
    assert_eq!(grants_of(system.user.id).await, vec!["system_admin"]);
    app.stop().await;
}

/// Creates an account through the console's form, as `http`.
async fn sec_free_create(http: &Http, username: &str, role: &str) -> Reply {
    http.submit(
        "/admin/users/new",
        &[
            ("username", username),
            ("display_name", "测试账户"),
            ("role", role),
            ("node_code", ""),
        ],
    )
    .await
}

// ------------------------------------------------------------------------------ password history

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_passwords_cannot_be_chosen_again() {
    let app = TestApp::start().await;
    app.add_user("clerk", Role::OrgDepartment, None, false).await;
    let http = app.login("clerk").await;
    let change = async |current: &str, new: &str| -> Reply {
        http.submit(
            "/account/password",
            &[("current", current), ("new_password", new), ("confirm", new)],
        )
        .await
    };
    let passwords: Vec<String> = (1..=6).map(|i| format!("Changed-Passw0rd#{i}")).collect();
    let mut current = PASSWORD.to_string();
    for p in &passwords[..3] {
        let r = change(&current, p).await.expect(200);
        assert!(r.text.contains("密码已修改"), "{}", r.text);
        current = p.clone();
    }
    // The current password and the ones before it are refused, beside the new password.
    for reused in [PASSWORD, passwords[0].as_str(), passwords[1].as_str(), current.as_str()] {
        let r = change(&current, reused).await.expect(422);
        assert!(field_invalid(&r.text, "new_password"), "{reused}: {}", r.text);
        assert!(r.text.contains("最近 5 次"), "{}", r.text);
        assert!(!field_invalid(&r.text, "current"), "{reused}");
    }
    // Still the same password.
    app.login_with("clerk", &current).await;
    // After five more, the first one may come back.
    for p in &passwords[3..] {
        change(&current, p).await.expect(200);
        current = p.clone();
    }
    let r = change(&current, passwords[0].as_str()).await.expect(422);
    assert!(field_invalid(&r.text, "new_password"), "still within the last five");
    change(&current, PASSWORD).await.expect(200);
    app.login_with("clerk", PASSWORD).await;
    app.stop().await;
}

// ------------------------------------------------------------------------------ audit

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_lists_exports_and_detects_tampering() {
    let app = TestApp::start().await;
    let mut auditor = app.add_admin("auditor", Role::AuditAdmin).await;
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    assert!(matches!(
        app.store.verify_audit().await.expect("verify"),
        AuditVerdict::Intact { .. }
    ));

    // Nobody but the audit administrator reads the log.
    app.add_user("staff.x", Role::CommunityStaff, Some(id(&t.community)), false)
        .await;
    let staff = app.login("staff.x").await;
    for who in [&staff, &manager] {
        who.get("/audit").await.expect(403);
        who.get("/audit/export").await.expect(403);
        who.submit("/audit/verify", &[]).await.expect(403);
        assert_eq!(
            problem_type(&who.get("/api/v1/audit").await, 403),
            "/api/problems/forbidden"
        );
    }

    let audit = app.login_admin(&mut auditor).await;
    let page = audit.get("/audit").await.expect(200).text;
    assert!(page.contains("POST /api/v1/nodes"), "node creations are listed: {page}");
    assert!(page.contains(r#"<td class="mono">login</td>"#), "logins are listed");
    let logins = audit.get("/audit?actor=manager&action=login").await.expect(200).text;
    assert!(logins.contains(r#"<td class="mono">login</td>"#), "{logins}");
    assert!(!logins.contains("POST /api/v1/nodes"), "filtered by action");
    let api = audit
        .get("/api/v1/audit?actor=manager&action=%2Fapi%2Fv1%2Fnodes&result=success")
        .await
        .expect(200)
        .json();
    let items = api["items"].as_array().expect("items");
    assert_eq!(items.len(), 7, "the seven nodes of the tree: {api}");
    assert!(
        items
            .iter()
            .all(|e| e["action"] == "POST /api/v1/nodes" && e["actor_name"] == "manager")
    );
    let none = audit.get("/api/v1/audit?from=2999-01-01").await.expect(200).json();
    assert_eq!(none["items"], json!([]));

    // The export is a workbook with the same rows.
    let (status, headers, bytes) = audit.get_bytes("/audit/export?actor=manager&action=nodes").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    assert!(bytes.starts_with(b"PK"), "an xlsx file is a zip archive");
    let rows = xlsx_rows(bytes);
    assert_eq!(rows[0][0], "序号");
    assert_eq!(rows[0][4], "操作");
    assert_eq!(rows.len(), 1 + 7, "{rows:?}");
    let seq_of_first_node = scalar(
        &app,
        "SELECT MIN(seq) FROM audit_log WHERE action = 'POST /api/v1/nodes'",
    )
    .await;
    let row = rows
        .iter()
        .find(|r| r[0] == seq_of_first_node.to_string())
        .unwrap_or_else(|| panic!("row {seq_of_first_node} in {rows:?}"));
    assert_eq!(
        (row[2].as_str(), row[4].as_str(), row[6].as_str()),
        ("manager", "POST /api/v1/nodes", "success")
    );
    assert!(row[5].starts_with("/api/v1/nodes"), "{row:?}");
    assert_eq!(row[10].len(), 64, "the entry's hash: {row:?}");

    // Verification through the page.
    let r = audit.submit("/audit/verify", &[]).await.expect(200).text;
    let verdict = element_text(&r, "verify-result").expect("#verify-result");
    assert!(verdict.starts_with("校验通过"), "{verdict}");

    // One altered row is found, by its sequence number.
    sqlx::query("UPDATE audit_log SET detail = $1 WHERE seq = $2")
        .bind("HTTP 201 (altered)")
        .bind(seq_of_first_node)
        .execute(app.store.pool())
        .await
        .expect("alter an entry");
    match app.store.verify_audit().await.expect("verify") {
        AuditVerdict::Broken { seq, problem, .. } => {
            assert_eq!(seq, seq_of_first_node, "{problem}")
        }
        other => panic!("tampering not found: {other:?}"),
    }
    let r = audit.submit("/audit/verify", &[]).await.expect(200).text;
    let verdict = element_text(&r, "verify-result").expect("#verify-result");
    assert!(
        verdict.starts_with(&format!("校验失败：第 {seq_of_first_node} 条")),
        "{verdict}"
    );
    app.stop().await;

    // A removed row in the middle of another log is found too.
    let app = TestApp::start().await;
    let manager = app.manager().await;
    build_tree(&manager).await;
    let last = scalar(&app, "SELECT MAX(seq) FROM audit_log").await;
    assert!(last >= 8, "{last}");
    let middle = last / 2;
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(middle)
        .execute(app.store.pool())
        .await
        .expect("remove an entry");
    match app.store.verify_audit().await.expect("verify") {
        AuditVerdict::Broken { seq, problem, .. } => assert_eq!(seq, middle, "{problem}"),
        other => panic!("removal not found: {other:?}"),
    }
    app.stop().await;
}

/// The cells of the first worksheet of an xlsx workbook, as text.
fn xlsx_rows(bytes: Vec<u8>) -> Vec<Vec<String>> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("an xlsx workbook");
    let names = book.sheet_names();
    assert_eq!(names, vec!["审计日志".to_string()]);
    let range = book.worksheet_range(&names[0]).expect("the sheet");
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// SQLite's database full (`max_page_count` at its present size on every connection, as
/// [`gongjian_store::Store::on_every_connection`] sets it): a refused request is still answered
/// as refused, though its audit entry may not be written (the log then says so, with the
/// cause); once there is room again, every refused request is recorded and writes succeed.
#[tokio::test]
async fn refused_requests_are_audited_again_once_a_full_database_has_room() {
    let app = TestApp::start().await;
    let manager = app.manager().await;
    let refuse = async || {
        let r = manager.post_json("/api/v1/nodes", &json!({"name": ""})).await;
        assert_eq!(r.status, 422, "{}", r.text);
    };
    let recorded = async || {
        scalar(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'POST /api/v1/nodes' AND result = 'refused'",
        )
        .await
    };
    refuse().await;
    assert_eq!(recorded().await, 1);

    let full = "PRAGMA max_page_count = 1";
    app.store.on_every_connection(full).await.expect("full");
    let mut lost = 0;
    for _ in 0..500 {
        let before = recorded().await;
        refuse().await;
        if recorded().await == before {
            lost += 1;
            if lost == 3 {
                break;
            }
            app.store.on_every_connection(full).await.expect("full again");
        }
    }
    assert_eq!(
        lost, 3,
        "the full database refused the audit entries of three refused requests"
    );

    app.store
        .on_every_connection("PRAGMA max_page_count = 1073741823")
        .await
        .expect("room again");
    let before = recorded().await;
    for _ in 0..24 {
        refuse().await;
    }
    assert_eq!(recorded().await, before + 24, "each refused request is recorded again");
    manager.create_node(None, Some("440600000000"), "佛山市", None).await;
    app.stop().await;
}
