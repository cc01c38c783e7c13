//! Scope, route by route: a community worker of community X sends every route of
//! [`gongjian_web::route_table`] aimed at the neighbouring community Y (its node, code, party
//! organisation, worker account, grant and token). Nothing about Y may be changed, shown or
//! even confirmed to exist. A route added later without a mapping here fails this test.

use gongjian_domain::access::Role;
use gongjian_store::tokens::NewToken;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{
    CITY_CODE, COMMUNITY_CODE, Http, PASSWORD, Reply, STREET_A_CODE, TestApp, build_tree, for_each_engine, overseer,
};
use crate::walk_probes::{Probe, Target, aimed, fill, form, own};

/// Routes that are public or about the caller's own things: they take nothing of Y, so they
/// are sent as they are (plus searches for Y), and only their answers are checked for Y.
const OWN_OR_PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/assets/{*path}"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/account/password"),
    ("POST", "/account/password"),
    ("GET", "/api/v1/me"),
    ("GET", "/"),
    ("GET", "/search"),
    ("GET", "/tree"),
    ("GET", "/tree/new"),
    ("GET", "/api/v1/roots"),
    ("GET", "/api/v1/nodes"),
    ("GET", "/party"),
    ("GET", "/api/v1/party-orgs"),
    ("GET", "/account"),
    ("GET", "/login/totp"),
    ("POST", "/login/totp"),
    ("GET", "/account/totp"),
    ("POST", "/account/totp"),
    ("GET", "/account/tokens"),
    ("POST", "/account/tokens"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("GET", "/admin/users"),
    ("GET", "/admin/users/new"),
    ("GET", "/audit"),
    ("GET", "/audit/export"),
    ("POST", "/audit/verify"),
    ("GET", "/api/v1/audit"),
    // The list of metric ids and titles: the same for everyone.
    ("GET", "/api/v1/stats"),
    // Searches over the caller's own scope, and a member's own registrations.
    ("GET", "/people"),
    ("GET", "/api/v1/people"),
    ("GET", "/m/register"),
    ("POST", "/m/register"),
    ("GET", "/m/registrations"),
    // The dashboard of the top of the caller's own scope.
    ("GET", "/dashboard"),
    // The schemes the caller may see, and the caller's own points and shop.
    ("GET", "/points"),
    ("GET", "/api/v1/points/schemes"),
    ("GET", "/api/v1/points/me"),
    ("GET", "/api/v1/shop/items"),
    ("GET", "/m/points"),
    // ---- Volunteer views: the caller's own service, and the star-level setting (the same for
    // everyone; changed only by a system administrator or the organisation department).
    ("GET", "/m/service"),
    ("GET", "/api/v1/me/service"),
    ("GET", "/volunteers/settings"),
    ("POST", "/volunteers/settings"),
    ("GET", "/api/v1/volunteers/settings"),
    ("POST", "/api/v1/volunteers/settings"),
    // ---- end of volunteer views
    // Volunteer service: the caller's own activities.
    ("GET", "/api/v1/me/activities"),
    ("GET", "/m/activities"),
];

pub(crate) const Y_NAME: &str = "隔壁社区";
pub(crate) const Y_CODE: &str = "440604001002";
const Y_MOBILE: &str = "13912345678";

async fn send(http: &Http, p: &Probe) -> Reply {
    let mut r = http.request(p.method.clone(), &p.path);
    if p.method != Method::GET {
        r = r.header("x-csrf-token", &http.csrf);
    }
    if let Some(f) = &p.form {
        let mut fields = vec![("_csrf".to_string(), http.csrf.clone())];
        fields.extend(f.iter().cloned());
        r = r.form(&fields);
    } else if let Some(j) = &p.json {
        r = r.json(j);
    } else if let Some((name, bytes)) = &p.upload {
        let boundary = "gongjian-walk-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        r = r
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body);
    }
    Http::send(p.describe(), r).await
}

/// What Y looks like in the database, read through the store with unlimited reach.
async fn snapshot(app: &TestApp, y: &Target) -> Value {
    let s = &app.store;
    let o = overseer();
    let v = |x: Result<Value, serde_json::Error>| x.expect("serialise");
    let user_row: (String, String, i64, String) =
        sqlx::query_as("SELECT password_hash, status, must_change_password, updated_at FROM users WHERE id = $1")
            .bind(y.user)
            .fetch_one(s.pool())
            .await
            .expect("user row");
    let y_actor = s.actor(y.user).await.expect("Y's actor");
    json!({
        "node": v(serde_json::to_value(s.node(&o, y.node).await.expect("node"))),
        "counts": v(serde_json::to_value(s.subtree_counts(&o, y.node).await.expect("counts"))),
        "children": v(serde_json::to_value(s.children(&o, y.node, true, None, 500).await.expect("children").items)),
        "grid": v(serde_json::to_value(s.node(&o, y.grid).await.expect("grid"))),
        "history": v(serde_json::to_value(s.node_history(&o, y.node).await.expect("history"))),
        "grid_history": v(serde_json::to_value(s.node_history(&o, y.grid).await.expect("history"))),
        "org": v(serde_json::to_value(s.party_org(&o, y.org).await.expect("org"))),
        "org_children": v(serde_json::to_value(s.party_children(&o, y.org, true, None, 500).await.expect("org children").items)),
        "org_history": v(serde_json::to_value(s.party_history(&o, y.org).await.expect("org history"))),
        "orgs_at": v(serde_json::to_value(s.party_orgs_at(&o, y.node).await.expect("orgs at"))),
        "user": v(serde_json::to_value(s.user_summary(&o, y.user).await.expect("user"))),
        "user_row": [user_row.0, user_row.1, user_row.2, user_row.3],
        "tokens": v(serde_json::to_value(s.tokens(&y_actor).await.expect("tokens"))),
        "person": v(serde_json::to_value(s.person(&o, y.person).await.expect("person"))),
        "import": v(serde_json::to_value(s.stashed_import(&y_actor, y.import).await.expect("import"))),
        "total_people": sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM persons").fetch_one(s.pool()).await.expect("count"),
        "open_posts": sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM posts WHERE ended_on IS NULL").fetch_one(s.pool()).await.expect("count"),
        "total_nodes": sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM nodes").fetch_one(s.pool()).await.expect("count"),
        "total_orgs": sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM party_orgs").fetch_one(s.pool()).await.expect("count"),
        "total_users": sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users").fetch_one(s.pool()).await.expect("count"),
        "total_grants": sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM role_grants WHERE revoked_at IS NULL").fetch_one(s.pool()).await.expect("count"),
        "member": v(serde_json::to_value(s.member(&o, y.member).await.expect("member"))),
        "transfers": v(serde_json::to_value(s.member_transfers(&o, y.member).await.expect("transfers"))),
        "unit": v(serde_json::to_value(s.unit(&o, y.unit).await.expect("unit"))),
        "contacts": v(serde_json::to_value(s.unit_contacts(&o, y.unit).await.expect("contacts"))),
        "registration": v(serde_json::to_value(s.registration(&o, y.registration).await.expect("registration"))),
        "claims": v(serde_json::to_value(s.registration_claims(&o, y.registration).await.expect("claims"))),
        "services": v(serde_json::to_value(s.registration_services(&o, y.registration).await.expect("services"))),
        "pairings": v(serde_json::to_value(s.pairings_under(&o, y.node).await.expect("pairings"))),
        "shop": [
            v(serde_json::to_value(s.shop_item(&o, y.item).await.expect("item"))),
            v(serde_json::to_value(s.redemption(&o, y.redemption).await.expect("redemption"))),
            v(serde_json::to_value(s.scheme(&o, y.scheme).await.expect("scheme"))),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM point_transactions").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE person_id IS NOT NULL").fetch_one(s.pool()).await.expect("count"),
        ],
        // ---- Volunteer views
        "volunteer_views": [
            v(serde_json::to_value(s.campaign(&o, y.campaign).await.expect("campaign"))),
            v(serde_json::to_value(s.service_print(&o, y.print).await.expect("print").print)),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM service_record_prints").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM campaigns").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, String>("SELECT value FROM volunteer_settings WHERE name = 'star_hours'").fetch_one(s.pool()).await.expect("setting"),
        ],
        // ---- end of volunteer views
        // Volunteer service.
        "volunteers": [
            v(serde_json::to_value(s.volunteer(&o, y.volunteer).await.expect("volunteer"))),
            v(serde_json::to_value(s.team(&o, y.team).await.expect("team"))),
            v(serde_json::to_value(s.team_members(&o, y.team).await.expect("members"))),
            v(serde_json::to_value(s.activity(&o, y.activity).await.expect("activity"))),
            v(serde_json::to_value(s.signups(&o, y.activity).await.expect("signups"))),
            v(serde_json::to_value(s.service_record(&o, y.record).await.expect("record"))),
            v(serde_json::to_value(s.manual_record(&o, y.manual).await.expect("manual"))),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM service_records").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM activity_signups").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM activities").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM volunteer_teams").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM service_record_drafts").fetch_one(s.pool()).await.expect("count"),
        ],
        "rows": [
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM party_members").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM units").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM unit_contacts WHERE ended_at IS NULL").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM registrations").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM thanks_letters").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM org_pairings").fetch_one(s.pool()).await.expect("count"),
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM deployments").fetch_one(s.pool()).await.expect("count"),
        ],
    })
}

/// Y's traces in an answer, after taking out what the request itself carried and the page
/// showed back.
fn leaks(reply: &Reply, probe: &Probe, base: &str, secrets: &[String]) -> Vec<String> {
    let mut body = reply.text.clone();
    for v in probe.values(base) {
        if v.is_empty() {
            continue;
        }
        for echo in [format!(r#"value="{v}""#), format!("“{v}”")] {
            body = body.replace(&echo, "");
        }
    }
    secrets.iter().filter(|s| body.contains(s.as_str())).cloned().collect()
}

async fn walk_story(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let id = |v: &Value| v["id"].as_i64().expect("id");
    // Y: a community beside X, with grids, a party committee and branch, and a worker.
    let y = manager.create_node(Some(&t.street_a), Some(Y_CODE), Y_NAME, None).await;
    let y_grid = manager.create_node(Some(&y), None, "紫荆花园", Some("estate")).await;
    manager
        .create_node(Some(&y_grid), None, "紫荆一号楼责任区", Some("building_leader_area"))
        .await;
    let org = async |parent: Option<i64>, kind: &str, category: &str, name: &str, territory: &str| -> i64 {
        let body = json!({"parent_id": parent, "kind": kind, "category": category, "name": name,
            "territory_code": territory});
        manager.post_json("/api/v1/party-orgs", &body).await.expect(201).json()["id"]
            .as_i64()
            .expect("id")
    };
    let wc = org(
        None,
        "working_committee",
        "street",
        "中共祖庙街道工作委员会",
        STREET_A_CODE,
    )
    .await;
    let x_org = org(Some(wc), "committee", "community", "中共岭南社区委员会", COMMUNITY_CODE).await;
    let x_branch = org(
        Some(x_org),
        "branch",
        "estate",
        "中共阳光小区支部委员会",
        t.grid_l2["code"].as_str().expect("code"),
    )
    .await;
    let y_org = org(Some(wc), "committee", "community", "中共隔壁社区委员会", Y_CODE).await;
    let y_grid_code = y_grid["code"].as_str().expect("code").to_string();
    org(Some(y_org), "branch", "estate", "中共紫荆花园支部委员会", &y_grid_code).await;

    let resident = async |name: &str, mobile: &str, home: i64| -> i64 {
        let body = json!({"name": name, "mobile": mobile, "home_node_id": home, "household": "3栋502"});
        id(&manager.post_json("/api/v1/people", &body).await.expect(201).json())
    };
    let y_person = resident("紫荆住户", Y_MOBILE, id(&y_grid)).await;
    let x_person = resident("阳光住户", "13712345678", id(&t.grid_l2)).await;
    // An X resident with no registration yet, for the references below.
    let x_fresh = resident("阳光新住户", "13712340000", id(&t.grid_l2)).await;

    let y_user = app.add_user("staff.y", Role::CommunityStaff, Some(id(&y)), false).await;
    let x_helper = app
        .add_user("helper.x", Role::GridWorker, Some(id(&t.community)), false)
        .await;
    let grant_of =
        async |user: i64| -> i64 { app.store.user_summary(&overseer(), user).await.expect("user").grants[0].id };
    let token_of = async |username: &str, user: i64| -> i64 {
        app.store
            .create_token_for(
                username,
                &NewToken {
                    name: format!("{username} 的同步令牌"),
                    scope: "write".into(),
                    expires_in_days: 30,
                },
            )
            .await
            .expect("token");
        let actor = app.store.actor(user).await.expect("actor");
        app.store.tokens(&actor).await.expect("tokens")[0].id
    };
    let preview = gongjian_store::imports::ImportReport {
        kind: "residents".into(),
        ..Default::default()
    };
    let stash = async |user: i64, filename: &str| -> i64 {
        let actor = app.store.actor(user).await.expect("actor");
        app.store
            .stash_import(&actor, filename, b"not a workbook", &preview)
            .await
            .expect("stash an upload")
    };
    let appoint = async |person: i64, org: i64| -> i64 {
        let input = gongjian_store::posts::PostInput {
            person_id: Some(person),
            kind: "secretary".into(),
            org_id: Some(org),
            ..Default::default()
        };
        app.store
            .assign_post(&overseer(), &input, "test")
            .await
            .expect("appoint")
            .id
    };
    // A membership, a unit with a contact, a registration with a letter, and a pairing.
    let extras = async |person: i64, node: i64, org: i64, unit_name: &str| -> [i64; 6] {
        let s = &app.store;
        let o = overseer();
        let member = s
            .add_member(
                &o,
                &gongjian_domain::members::MemberForm {
                    person_id: Some(person),
                    org_id: Some(org),
                    status: "full".into(),
                    joined_on: "2001-07-01".into(),
                    full_on: String::new(),
                },
                "test",
            )
            .await
            .expect("member")
            .id;
        let unit_form = gongjian_domain::units::UnitForm {
            name: unit_name.into(),
            credit_code: String::new(),
            kind: "private".into(),
            node_id: Some(node),
            address: String::new(),
        };
        let unit = s.create_unit(&o, &unit_form, "test").await.expect("unit").id;
        let contact_form = gongjian_domain::units::ContactForm {
            name: format!("{unit_name}联系人"),
            title: String::new(),
            mobile: "13600000000".into(),
        };
        let contact = s
            .add_contact(&o, unit, &contact_form, "test")
            .await
            .expect("contact")
            .id;
        let input = gongjian_store::registrations::RegistrationInput {
            person_id: Some(person),
            community_id: Some(node),
            employer_unit_id: Some(unit),
            duties: vec!["patrol".into()],
            ..Default::default()
        };
        let registration = s.register(&o, &input, "test").await.expect("registration").id;
        let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("day");
        let today = s.today();
        let (letter, _) = s
            .issue_thanks_letter(&o, node, unit, day("2026-01-01"), today, "test")
            .await
            .expect("letter");
        let pairing_input = gongjian_store::registrations::PairingInput {
            org_id: Some(org),
            community_id: Some(node),
            started_on: "2026-01-01".into(),
            ..Default::default()
        };
        let pairing = s.create_pairing(&o, &pairing_input, "test").await.expect("pairing").id;
        [member, unit, contact, registration, letter.id, pairing]
    };
    // A points scheme at the community, an item on its shelf, and a redemption of the resident.
    let shop = async |person: i64, node: i64, name: &str| -> [i64; 3] {
        let s = &app.store;
        let o = overseer();
        let form = gongjian_store::points::SchemeForm {
            name: format!("{name}积分"),
            kind: "volunteer".into(),
            node_id: Some(node),
            rules: None,
        };
        let scheme = s.create_scheme(&o, &form, "test").await.expect("scheme").id;
        let item_form = gongjian_store::points::ItemForm {
            name: format!("{name}大米"),
            scheme_id: Some(scheme),
            price: Some(5),
            stock: Some(10),
        };
        let item = s.create_item(&o, node, &item_form, "test").await.expect("item").id;
        let source = gongjian_domain::points::CreditSource::Hours { record_id: person };
        let points = gongjian_domain::points::Points::new(20).expect("points");
        s.credit_points(
            &o,
            &source,
            person,
            scheme,
            points,
            &format!("walk-hours-{person}"),
            "test",
        )
        .await
        .expect("credit");
        let input = gongjian_store::points::RedeemInput {
            item_id: item,
            quantity: 1,
            person_id: Some(person),
        };
        let redemption = s
            .redeem(&o, &input, &format!("walk-redeem-{person}"), "test")
            .await
            .expect("redeem")
            .id;
        [scheme, item, redemption]
    };
    // Volunteer service: a volunteer, a team, an open activity, a record and a manual record.
    let volunteering = async |person: i64, node: i64, tag: &str, organiser: &str| -> [i64; 5] {
        use gongjian_domain::volunteers::activities::{ActivityForm, TeamForm, VolunteerForm};
        let s = &app.store;
        let user = app.add_user(organiser, Role::CommunityStaff, Some(node), false).await;
        let a = s.actor(user.id).await.expect("actor");
        let vol = VolunteerForm {
            person_id: person.to_string(),
            node_id: node.to_string(),
            consent: "on".into(),
            ..Default::default()
        };
        let vol = s.register_volunteer(&a, &vol, "test").await.expect("volunteer").id;
        let team = TeamForm {
            name: format!("{tag}志愿服务队"),
            node_id: node.to_string(),
            ..Default::default()
        };
        let team = s.create_team(&a, &team, "test").await.expect("team").id;
        s.add_team_member(&a, team, vol, true, "test").await.expect("member");
        let now = s.now();
        let h = |n: i64| (now + chrono::TimeDelta::hours(n)).to_rfc3339();
        let form = |title: &str| ActivityForm {
            title: format!("{tag}{title}"),
            kind: "volunteer".into(),
            team_id: team.to_string(),
            place: format!("{tag}广场"),
            starts_at: h(-1),
            ends_at: h(1),
            capacity: "5".into(),
            signup_opens_at: h(-2),
            signup_closes_at: h(1),
            ..Default::default()
        };
        let open = s
            .create_activity(&a, node, &form("清洁家园"), "test")
            .await
            .expect("activity")
            .id;
        s.sign_up(&a, open, Some(person), "test").await.expect("sign up");
        let closed = s
            .create_activity(&a, node, &form("敬老服务"), "test")
            .await
            .expect("activity")
            .id;
        let su = s.sign_up(&a, closed, Some(person), "test").await.expect("sign up").id;
        let present = gongjian_store::volunteers::BatchAttendance { present: vec![su] };
        s.confirm_presence(&a, closed, &present, "test")
            .await
            .expect("presence");
        let out = s.confirm_attendance(&a, closed, "test").await.expect("attendance");
        let manual = gongjian_domain::volunteers::attendance::ManualForm {
            person_id: person.to_string(),
            node_id: node.to_string(),
            served_on: "2026-01-05".into(),
            hours: "1".into(),
            content: format!("{tag}慰问"),
            reason: "现场无网络".into(),
            ..Default::default()
        };
        let manual = s.enter_manual_record(&a, &manual, "test").await.expect("manual").id;
        [vol, team, open, out.records[0].id, manual]
    };
    let [member, unit, contact, registration, letter, pairing] = extras(y_person, id(&y), y_org, "紫荆物业公司").await;
    let [volunteer, team, activity, record, manual] = volunteering(y_person, id(&y), "紫荆", "organiser.y").await;
    let [scheme, item, redemption] = shop(y_person, id(&y), "紫荆").await;
    // ---- Volunteer views: a campaign at the community and a print kept for its resident.
    let views = async |person: i64, node: i64, issued_by: i64, name: &str| -> [i64; 2] {
        let s = &app.store;
        let form = gongjian_store::volunteers::campaigns::CampaignForm {
            name: format!("{name}百场群众活动"),
            measure: "activities".into(),
            target: "100".into(),
            starts_on: "2026-01-01".into(),
            ends_on: "2026-12-31".into(),
        };
        let campaign = s
            .create_campaign(&overseer(), node, &form, "test")
            .await
            .expect("campaign")
            .id;
        let print: i64 = sqlx::query_scalar(
            "INSERT INTO service_record_prints (number, person_id, node_id, period_from, period_to, record_ids, \
             minutes, issuer, person_in_charge, handler, contact, issued_by, created_at) VALUES ($1, $2, $3, \
             '2026-01-01', '2026-06-30', '', 0, $4, '负责人', '经办人', '0757-1234567', $5, '2026-07-01T00:00:00Z') \
             RETURNING id",
        )
        .bind(format!("JL-walk-{person}"))
        .bind(person)
        .bind(node)
        .bind(format!("{name}居委会"))
        .bind(issued_by)
        .fetch_one(s.pool())
        .await
        .expect("print");
        [print, campaign]
    };
    let [y_print, y_campaign] = views(y_person, id(&y), y_user.id, "紫荆").await;
    // ---- end of volunteer views
    let target_y = Target {
        node: id(&y),
        code: Y_CODE.to_string(),
        grid: id(&y_grid),
        org: y_org,
        user: y_user.id,
        grant: grant_of(y_user.id).await,
        token: token_of("staff.y", y_user.id).await,
        person: y_person,
        import: stash(y_user.id, "紫荆住户.xlsx").await,
        post: appoint(y_person, y_org).await,
        member,
        unit,
        contact,
        registration,
        letter,
        pairing,
        scheme,
        item,
        redemption,
        print: y_print,
        campaign: y_campaign,
        volunteer,
        team,
        activity,
        record,
        manual,
    };
    let staff_user = app
        .add_user("staff.x", Role::CommunityStaff, Some(id(&t.community)), false)
        .await;
    let x_extras = extras(x_person, id(&t.community), x_org, "阳光物业公司").await;
    let x_shop = shop(x_person, id(&t.community), "阳光").await;
    let x_views = views(x_person, id(&t.community), staff_user.id, "阳光").await;
    let x_vol = volunteering(x_person, id(&t.community), "阳光", "organiser.x").await;
    let target_x = Target {
        node: id(&t.community),
        code: COMMUNITY_CODE.to_string(),
        grid: id(&t.grid_l2),
        org: x_org,
        user: x_helper.id,
        grant: grant_of(x_helper.id).await,
        token: token_of("staff.x", staff_user.id).await,
        person: x_person,
        import: stash(staff_user.id, "阳光住户.xlsx").await,
        post: appoint(x_person, x_org).await,
        member: x_extras[0],
        unit: x_extras[1],
        contact: x_extras[2],
        registration: x_extras[3],
        letter: x_extras[4],
        pairing: x_extras[5],
        scheme: x_shop[0],
        item: x_shop[1],
        redemption: x_shop[2],
        print: x_views[0],
        campaign: x_views[1],
        volunteer: x_vol[0],
        team: x_vol[1],
        activity: x_vol[2],
        record: x_vol[3],
        manual: x_vol[4],
    };
    let street_b = id(&t.street_b);
    // Everything of Y that must never reach X's worker.
    let secrets: Vec<String> = [
        Y_NAME,
        Y_CODE,
        "紫荆",
        y_grid_code.as_str(),
        "中共隔壁社区委员会",
        "staff.y",
        "测试用户 staff.y",
        Y_MOBILE,
        "139****5678",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();

    let staff = app.login("staff.x").await;
    let before = snapshot(app, &target_y).await;

    // The party page of X's own branch opens (its grandparent lies above X's scope).
    staff.get(&format!("/party/{x_branch}")).await.expect(200);

    let table = gongjian_web::route_table();
    assert!(table.len() >= 60, "{} routes", table.len());
    let mut problems: Vec<String> = Vec::new();
    let mut sent = 0;
    for (method, template) in &table {
        let own_route = OWN_OR_PUBLIC
            .iter()
            .any(|(m, p)| *m == method.as_str() && *p == *template);
        if own_route {
            let probes = match own(method, template, &target_y) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            for p in probes {
                let reply = match (method.as_str(), *template) {
                    // Logging in and out are sent from sessions of their own.
                    ("POST", "/login") => {
                        let mut fresh = Http::new(&app.base);
                        fresh.login("staff.x", PASSWORD, "/").await.expect(303)
                    }
                    ("POST", "/logout") => {
                        let other = app.login("staff.x").await;
                        send(&other, &p).await.expect(303)
                    }
                    _ => send(&staff, &p).await,
                };
                sent += 1;
                let found = leaks(&reply, &p, &app.base, &secrets);
                if !found.is_empty() {
                    problems.push(format!("{} ({}) shows {found:?}", p.describe(), reply.status));
                }
                // The node search finds nothing outside X.
                if *template == "/api/v1/nodes" {
                    let x_path = t.community["path"].as_str().expect("path").to_string();
                    let items = reply.json()["items"].clone();
                    let outside: Vec<&Value> = items
                        .as_array()
                        .expect("items")
                        .iter()
                        .filter(|n| !n["path"].as_str().is_some_and(|path| path.starts_with(&x_path)))
                        .collect();
                    if !outside.is_empty() {
                        problems.push(format!("{} finds outside X: {outside:?}", p.describe()));
                    }
                }
            }
            continue;
        }
        let probe = match aimed(method, template, &target_y, &target_x, street_b) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!(
                    "{method} {template} is neither mapped to Y nor listed as own-or-public: {e}"
                ));
                continue;
            }
        };
        // The same page for X's own things is found, so a refusal for Y is about scope and
        // not about a mapping that points nowhere.
        if *method == Method::GET {
            let control = aimed(method, template, &target_x, &target_x, street_b).expect("mapped for X");
            let r = send(&staff, &control).await;
            if r.status == 404 {
                problems.push(format!(
                    "control {} for X answered {}: {}",
                    control.describe(),
                    r.status,
                    r.text.chars().take(300).collect::<String>()
                ));
            }
        }
        let reply = send(&staff, &probe).await;
        sent += 1;
        if !matches!(reply.status, 403 | 404 | 422) {
            problems.push(format!(
                "{} answered {} (location {:?}): {}",
                probe.describe(),
                reply.status,
                reply.location(),
                reply.text.chars().take(300).collect::<String>()
            ));
        }
        let found = leaks(&reply, &probe, &app.base, &secrets);
        if !found.is_empty() {
            problems.push(format!("{} ({}) shows {found:?}", probe.describe(), reply.status));
        }
        let now = snapshot(app, &target_y).await;
        if now != before {
            problems.push(format!(
                "{} ({}) changed Y:\nbefore {before}\nafter  {now}",
                probe.describe(),
                reply.status
            ));
        }
    }

    // Across: X's own grid may not be moved into Y, nor a party branch set up there.
    let cross = [
        Probe {
            method: Method::POST,
            path: format!("/api/v1/nodes/{}/move", t.grid_l2["id"]),
            form: None,
            json: Some(json!({"new_parent_id": target_y.node})),
            upload: None,
        },
        Probe {
            method: Method::POST,
            path: format!("/tree/{}/move", t.grid_l2["id"]),
            form: form(&[("new_parent_id", &target_y.node.to_string()), ("new_code", "")]),
            json: None,
            upload: None,
        },
        Probe {
            method: Method::POST,
            path: "/api/v1/party-orgs".into(),
            form: None,
            json: Some(json!({"parent_id": x_org, "kind": "branch", "category": "estate",
                "name": "越界支部", "territory_code": y_grid_code})),
            upload: None,
        },
        Probe {
            method: Method::POST,
            path: "/admin/users/new".into(),
            form: form(&[
                ("username", "walk.grid"),
                ("display_name", "越界网格员"),
                ("role", "grid_worker"),
                ("node_code", &y_grid_code),
            ]),
            json: None,
            upload: None,
        },
    ];
    for p in &cross {
        let reply = send(&staff, p).await;
        sent += 1;
        if reply.status != 422 {
            problems.push(format!("{} answered {}: {}", p.describe(), reply.status, reply.text));
        }
        let found = leaks(&reply, p, &app.base, &secrets);
        if !found.is_empty() {
            problems.push(format!("{} ({}) shows {found:?}", p.describe(), reply.status));
        }
    }

    // References: X's own records naming Y's unit (a private company) or Y's community
    // committee, neither in X's scope nor on the public directory. Not found, name unsaid, and
    // nothing written (the snapshot counts teams, registrations, pairings and deployments).
    let x = target_x.node;
    let (y_unit, y_org) = (target_y.unit.to_string(), target_y.org.to_string());
    let get = |path: String| Probe {
        method: Method::GET,
        path,
        form: None,
        json: None,
        upload: None,
    };
    let post_json = |path: &str, body: Value| Probe {
        method: Method::POST,
        path: path.into(),
        form: None,
        json: Some(body),
        upload: None,
    };
    let post_form = |path: String, fields: &[(&str, &str)]| Probe {
        method: Method::POST,
        path,
        form: form(fields),
        json: None,
        upload: None,
    };
    let references: Vec<(Probe, u16, Option<&str>)> = vec![
        (
            get(format!(
                "/api/v1/nodes/{x}/reports/{y_unit}?from=2026-01-01&to=2026-12-31"
            )),
            404,
            None,
        ),
        (get(format!("/tree/{x}/reports/{y_unit}")), 404, None),
        (get(format!("/tree/{x}/reports/{y_unit}/export")), 404, None),
        (
            post_form(format!("/tree/{x}/reports/{y_unit}/letter?from=2026-01-01"), &[]),
            404,
            None,
        ),
        (
            post_json(
                "/api/v1/teams",
                json!({"name": "共建服务队", "node_id": x, "unit_id": target_y.unit}),
            ),
            422,
            Some("unit_id"),
        ),
        (
            post_form(
                format!("/tree/{x}/teams"),
                &[("name", "共建服务队"), ("unit_id", &y_unit)],
            ),
            422,
            None,
        ),
        (
            post_json(
                "/api/v1/registrations",
                json!({"person_id": x_fresh, "community_id": x, "employer_unit_id": target_y.unit,
                    "duties": ["patrol"]}),
            ),
            422,
            Some("employer_unit_id"),
        ),
        (
            post_form(
                format!("/people/{x_fresh}/registration"),
                &[
                    ("community_id", &x.to_string()),
                    ("employer", "紫荆物业公司"),
                    ("duties", "patrol"),
                ],
            ),
            422,
            None,
        ),
        (
            post_json(
                "/api/v1/deployments",
                json!({"person_id": x_fresh, "kind": "deployment", "node_id": x,
                    "from_unit_id": target_y.unit, "started_on": "2026-01-01"}),
            ),
            422,
            Some("from_unit_id"),
        ),
        (
            post_form(
                format!("/tree/{x}/pairings"),
                &[
                    ("org_id", &y_org),
                    ("community_id", &x.to_string()),
                    ("started_on", "2026-01-01"),
                ],
            ),
            422,
            None,
        ),
        (
            post_json(
                "/api/v1/pairings",
                json!({"org_id": target_y.org, "community_id": x, "started_on": "2026-01-01"}),
            ),
            422,
            Some("org_id"),
        ),
    ];
    for (p, status, field) in &references {
        let reply = send(&staff, p).await;
        sent += 1;
        if reply.status != *status {
            problems.push(format!(
                "{} answered {} where {status} was due: {}",
                p.describe(),
                reply.status,
                reply.text.chars().take(300).collect::<String>()
            ));
        } else if let Some(field) = field {
            let named = reply.json()["errors"]
                .as_array()
                .is_some_and(|errors| errors.iter().any(|e| e["field"] == *field));
            if !named {
                problems.push(format!("{} does not name {field}: {}", p.describe(), reply.text));
            }
        }
        let found = leaks(&reply, p, &app.base, &secrets);
        if !found.is_empty() {
            problems.push(format!("{} ({}) shows {found:?}", p.describe(), reply.status));
        }
    }

    assert!(
        problems.is_empty(),
        "{} problems in {sent} requests:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(snapshot(app, &target_y).await, before, "Y changed");
    // The worker's session lasted the whole walk, and X is as it was.
    staff.get(&format!("/tree/{}", t.community["id"])).await.expect(200);
    assert_eq!(manager.counts(&t.community["id"]).await["grids_l2"], 1);
    assert_eq!(manager.node(&t.city["id"]).await["code"], CITY_CODE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_keeps_the_neighbouring_community_out_of_reach() {
    for_each_engine(walk_story).await;
}

#[test]
fn an_unmapped_route_parameter_is_named() {
    let t = Target {
        node: 1,
        code: "1".into(),
        grid: 2,
        org: 3,
        user: 4,
        grant: 5,
        token: 6,
        person: 7,
        import: 8,
        post: 9,
        member: 10,
        unit: 11,
        contact: 12,
        registration: 13,
        letter: 14,
        pairing: 15,
        scheme: 16,
        item: 17,
        redemption: 18,
        print: 19,
        campaign: 20,
        volunteer: 19,
        team: 20,
        activity: 21,
        record: 22,
        manual: 23,
    };
    let e = fill("/meetings/{id}/minutes", &t).expect_err("no mapping for meetings");
    assert!(e.contains("/meetings/{id}/minutes"), "{e}");
    assert_eq!(
        fill("/api/v1/nodes/{id}/party-orgs", &t).as_deref(),
        Ok("/api/v1/nodes/1/party-orgs")
    );
    assert_eq!(fill("/people/{id}/reveal", &t).as_deref(), Ok("/people/7/reveal"));
    assert_eq!(fill("/imports/{id}/commit", &t).as_deref(), Ok("/imports/8/commit"));
    assert_eq!(
        fill("/admin/users/{id}/grants/{grant}/revoke", &t).as_deref(),
        Ok("/admin/users/4/grants/5/revoke")
    );
}
