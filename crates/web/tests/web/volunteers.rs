//! Volunteer service over real HTTP, per engine: volunteers and teams, activities with sign-up,
//! waitlist and concurrent sign-ups, signed check-in codes refused when replayed, foreign or
//! repeated, attendance confirmed by the organiser, corrections and manual records; hostile
//! text in every field; and one browser journey from a new activity to the hours shown.

use chrono::{TimeDelta, Utc};
use fantoccini::Locator;
use gongjian_domain::access::Role;
use gongjian_domain::volunteers::activities::local_input;
use serde_json::{Value, json};

use crate::browser::{click, describe, element, in_browser, login, path_and_query, text_where, type_into};
use crate::hostile::{api_outcome, form_outcome, values};
use crate::support::*;

async fn sign(who: &Http, aid: i64) -> Reply {
    who.post_json(&format!("/api/v1/activities/{aid}/signups"), &json!({}))
        .await
}

async fn check(who: &Http, aid: i64, code: &Value) -> Reply {
    let body = json!({"purpose": "in", "code": code["code"]});
    who.post_json(&format!("/api/v1/activities/{aid}/check"), &body).await
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

/// An activity running from an hour ago to an hour from now, sign-up open until its end.
fn running(now: chrono::DateTime<Utc>, title: &str, capacity: i64) -> Value {
    json!({
        "title": title, "kind": "volunteer", "place": "社区广场", "content": "清理楼道杂物",
        "starts_at": (now - TimeDelta::hours(1)).to_rfc3339(),
        "ends_at": (now + TimeDelta::hours(1)).to_rfc3339(),
        "signup_opens_at": (now - TimeDelta::hours(2)).to_rfc3339(),
        "signup_closes_at": (now + TimeDelta::hours(1)).to_rfc3339(),
        "capacity": capacity,
    })
}

/// A resident with a login linked to their record: (session, person id).
async fn resident(app: &TestApp, staff: &Http, grid: &Value, community: i64, n: usize) -> (Http, i64) {
    let body = json!({"name": format!("志愿者{n}"), "home_node_id": grid["id"], "household": format!("{n}栋")});
    let person = id(&staff.post_json("/api/v1/people", &body).await.expect(201).json());
    let user = app
        .add_user(&format!("vol{n}"), Role::Resident, Some(community), false)
        .await;
    staff
        .post_json(
            "/api/v1/points/links",
            &json!({"user_id": user.id, "person_id": person}),
        )
        .await
        .expect(204);
    (app.login(&format!("vol{n}")).await, person)
}

async fn http_story(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let community = id(&t.community);
    app.add_user("organiser", Role::CommunityStaff, Some(community), false)
        .await;
    app.add_user("colleague", Role::CommunityStaff, Some(community), false)
        .await;
    let staff = app.login("organiser").await;
    let colleague = app.login("colleague").await;
    let scheme = staff
        .post_json(
            "/api/v1/points/schemes",
            &json!({"name": "岭南志愿积分", "kind": "volunteer", "node_id": community}),
        )
        .await
        .expect(201)
        .json();
    let (zhang, zp) = resident(app, &staff, &t.grid_l3, community, 1).await;
    let (li, lp) = resident(app, &staff, &t.grid_l3, community, 2).await;
    let (wang, _) = resident(app, &staff, &t.grid_l3, community, 3).await;

    // Volunteers: consent is a field that must be ticked.
    let r = staff
        .post_json("/api/v1/volunteers", &json!({"person_id": zp, "node_id": community}))
        .await;
    assert_eq!(r.error_fields(), vec!["consent".to_string()]);
    let v = staff
        .post_json(
            "/api/v1/volunteers",
            &json!({"person_id": zp, "node_id": community, "consent": true, "skills": "维修"}),
        )
        .await
        .expect(201)
        .json();
    assert!(
        v["volunteer_no"]
            .as_str()
            .expect("no")
            .starts_with(&format!("V{COMMUNITY_CODE}"))
    );
    let list = staff
        .get(&format!("/api/v1/nodes/{community}/volunteers?q=志愿者1"))
        .await
        .expect(200)
        .json();
    assert_eq!(list["items"].as_array().expect("items").len(), 1);
    let (status, headers, _) = staff.get_bytes(&format!("/tree/{community}/volunteers.xlsx")).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .expect("type")
            .contains("spreadsheetml")
    );
    let team = staff
        .post_json("/api/v1/teams", &json!({"name": "夕阳红服务队", "node_id": community}))
        .await
        .expect(201)
        .json();
    staff
        .post_json(
            &format!("/api/v1/teams/{}/members", id(&team)),
            &json!({"volunteer_id": id(&v), "leader": true}),
        )
        .await
        .expect(200);
    staff.get(&format!("/teams/{}", id(&team))).await.expect(200);

    // Activities: errors per field; then a capacity of 2 with a waitlist.
    let mut bad = running(app.store.now(), "", 0);
    bad["ends_at"] = bad["starts_at"].clone();
    let r = staff
        .post_json(&format!("/api/v1/nodes/{community}/activities"), &bad)
        .await;
    let fields = r.error_fields();
    for f in ["title", "capacity", "ends_at"] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
    // The console form keeps what was typed and says beside each field what is wrong.
    let r = staff
        .submit(
            &format!("/tree/{community}/activities"),
            &[
                ("title", "保留的标题"),
                ("kind", "volunteer"),
                ("place", "广场"),
                ("starts_at", "2030-01-01T09:00"),
                ("ends_at", "2030-01-01T08:00"),
                ("capacity", "0"),
            ],
        )
        .await
        .expect(422);
    assert!(r.text.contains(r#"value="保留的标题""#), "{}", r.text);
    assert!(r.text.contains("结束时间应晚于开始时间") && r.text.contains("名额应为"));
    let mut body = running(app.store.now(), "敬老服务", 2);
    body["scheme_id"] = scheme["id"].clone();
    body["points_per_hour"] = json!(10);
    let a = staff
        .post_json(&format!("/api/v1/nodes/{community}/activities"), &body)
        .await
        .expect(201)
        .json();
    let aid = id(&a);
    assert_eq!(sign(&zhang, aid).await.expect(201).json()["status"], "confirmed");
    assert_eq!(sign(&li, aid).await.expect(201).json()["status"], "confirmed");
    assert_eq!(sign(&wang, aid).await.expect(201).json()["status"], "waitlisted");
    wang.post_json(&format!("/api/v1/activities/{aid}/signups/cancel"), &json!({}))
        .await
        .expect(200);
    assert_eq!(sign(&wang, aid).await.expect(201).json()["status"], "waitlisted");
    li.post_json(&format!("/api/v1/activities/{aid}/signups/cancel"), &json!({}))
        .await
        .expect(200);
    let a = staff.get(&format!("/api/v1/activities/{aid}")).await.expect(200).json();
    assert_eq!((a["confirmed"].as_i64(), a["waitlisted"].as_i64()), (Some(2), Some(0)));
    let mine = wang.get("/api/v1/me/activities").await.expect(200).json();
    assert!(
        mine.as_array()
            .expect("mine")
            .iter()
            .any(|m| m["signup"]["status"] == "confirmed")
    );
    wang.get("/m/activities").await.expect(200);
    staff.get(&format!("/tree/{community}/activities")).await.expect(200);
    staff.get(&format!("/activities/{aid}")).await.expect(200);
    let edit = staff.get(&format!("/activities/{aid}/edit")).await.expect(200);
    assert!(edit.text.contains(r#"value="敬老服务""#));
    zhang.get(&format!("/activities/{aid}/edit")).await.expect(403);

    // Codes: only staff see them; a resident checks in once, never with a foreign code.
    zhang.get(&format!("/api/v1/activities/{aid}/code")).await.expect(403);
    let code = staff
        .get(&format!("/api/v1/activities/{aid}/code?purpose=in"))
        .await
        .expect(200)
        .json();
    let qr = staff.get(&format!("/activities/{aid}/qr?purpose=in")).await.expect(200);
    assert!(qr.text.contains("<svg") && qr.text.contains("http-equiv=\"refresh\""));
    let other = staff
        .post_json(
            &format!("/api/v1/nodes/{community}/activities"),
            &running(app.store.now(), "另一活动", 5),
        )
        .await
        .expect(201)
        .json();
    let other_code = staff
        .get(&format!("/api/v1/activities/{}/code", id(&other)))
        .await
        .expect(200)
        .json();
    assert_eq!(
        check(&zhang, aid, &other_code).await.error_fields(),
        vec!["code".to_string()]
    );
    let expired = json!({"code": format!("{aid}.in.1000.0123456789abcdef0123456789abcdef")});
    assert_eq!(
        check(&zhang, aid, &expired).await.error_fields(),
        vec!["code".to_string()]
    );
    let ok = check(&zhang, aid, &code).await.expect(200).json();
    assert!(ok["checked_in_at"].is_string());
    let again = check(&zhang, aid, &code).await;
    assert!(again.problem(422).to_string().contains("重复签到"));
    // Wang had no phone: ticked on the batch page.
    let rows = staff
        .get(&format!("/api/v1/activities/{aid}/signups"))
        .await
        .expect(200)
        .json();
    let wang_row = rows
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["person_name"] == "志愿者3")
        .expect("wang")
        .clone();
    staff
        .post_json(
            &format!("/api/v1/activities/{aid}/presence"),
            &json!({"present": [id(&wang_row)]}),
        )
        .await
        .expect(200);
    staff.get(&format!("/activities/{aid}/attendance")).await.expect(200);

    // Only the organiser confirms; hours never exceed the activity; points follow.
    colleague
        .post_json(&format!("/api/v1/activities/{aid}/attendance"), &json!({}))
        .await
        .expect(403);
    let out = staff
        .post_json(&format!("/api/v1/activities/{aid}/attendance"), &json!({}))
        .await
        .expect(200)
        .json();
    let records = out["records"].as_array().expect("records").clone();
    assert_eq!(records.len(), 2);
    for r in &records {
        assert!(r["minutes"].as_i64().expect("minutes") <= 120, "{r}");
        assert!(r["points_tx_id"].is_i64(), "{r}");
    }
    let zr = records.iter().find(|r| r["person_id"] == zp).expect("zhang").clone();
    let fix = staff
        .post_json(
            &format!("/api/v1/service-records/{}/corrections", id(&zr)),
            &json!({"hours": "0.5", "reason": "提前离场"}),
        )
        .await
        .expect(201)
        .json();
    assert_eq!(fix["corrects_id"], zr["id"]);
    let again = staff
        .post_json(
            &format!("/api/v1/service-records/{}/corrections", id(&zr)),
            &json!({"hours": "1", "reason": "再改"}),
        )
        .await;
    assert_eq!(again.error_fields(), vec!["hours".to_string()]);
    let original = staff
        .get(&format!("/api/v1/service-records/{}", id(&zr)))
        .await
        .expect(200)
        .json();
    assert_eq!(original["minutes"], zr["minutes"]);
    let mine = zhang
        .get(&format!("/api/v1/people/{zp}/service-records"))
        .await
        .expect(200)
        .json();
    assert_eq!(mine["minutes"], 30);

    // A manual record waits for someone other than its author.
    let d = staff
        .post_json(
            "/api/v1/service-records/manual",
            &json!({"person_id": lp, "node_id": community, "served_on": "2026-01-05", "hours": 2,
                "content": "慰问独居老人", "reason": "现场无网络"}),
        )
        .await
        .expect(201)
        .json();
    let path = format!("/api/v1/service-records/manual/{}/decision", id(&d));
    let r = staff.post_json(&path, &json!({"decision": "confirm"})).await;
    assert_eq!(r.error_fields(), vec!["confirmed_by".to_string()]);
    let done = colleague
        .post_json(&path, &json!({"decision": "confirm"}))
        .await
        .expect(200)
        .json();
    assert_eq!(done["status"], "confirmed");
    let li_hours = li
        .get(&format!("/api/v1/people/{lp}/service-records"))
        .await
        .expect(200)
        .json();
    assert_eq!(li_hours["minutes"], 120);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volunteer_service_over_http() {
    for_each_engine(http_story).await;
}

const CLIENTS: usize = 64;
const CAPACITY: i64 = 10;

async fn race_story(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let community = id(&t.community);
    app.add_user("organiser", Role::CommunityStaff, Some(community), false)
        .await;
    let staff = std::sync::Arc::new(app.login("organiser").await);
    let a = staff
        .post_json(
            &format!("/api/v1/nodes/{community}/activities"),
            &running(app.store.now(), "百场群众活动", CAPACITY),
        )
        .await
        .expect(201)
        .json();
    let mut people = Vec::new();
    for i in 0..CLIENTS {
        let body = json!({"name": format!("居民{i}"), "home_node_id": t.grid_l3["id"], "household": "1栋"});
        people.push(id(&staff.post_json("/api/v1/people", &body).await.expect(201).json()));
    }
    let mut tasks = Vec::new();
    for p in people {
        let (staff, aid) = (staff.clone(), id(&a));
        tasks.push(tokio::spawn(async move {
            staff
                .post_json(&format!("/api/v1/activities/{aid}/signups"), &json!({"person_id": p}))
                .await
                .expect(201)
                .json()["status"]
                .as_str()
                .expect("status")
                .to_string()
        }));
    }
    let mut confirmed = 0;
    for task in tasks {
        if task.await.expect("join") == "confirmed" {
            confirmed += 1;
        }
    }
    assert_eq!(confirmed, CAPACITY);
    let a = staff
        .get(&format!("/api/v1/activities/{}", id(&a)))
        .await
        .expect(200)
        .json();
    assert_eq!(a["confirmed"].as_i64(), Some(CAPACITY));
    assert_eq!(a["waitlisted"].as_i64(), Some(CLIENTS as i64 - CAPACITY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_never_overfill_an_activity() {
    for_each_engine(race_story).await;
}

/// A console form's answer: reached the handler (never refused for its CSRF token) and then
/// stored or refused with a reason.
#[track_caller]
fn answered(r: &Reply, what: &str, v: &str) -> bool {
    assert_ne!(
        r.status, 403,
        "{what}: {} was refused before its handler: {}",
        r.request, r.text
    );
    form_outcome(r, what, v)
}

async fn hostile_story(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let community = id(&t.community);
    app.add_user("organiser", Role::CommunityStaff, Some(community), false)
        .await;
    let staff = app.login("organiser").await;
    let body = json!({"name": "住户", "home_node_id": t.grid_l3["id"], "household": "1栋"});
    let person = id(&staff.post_json("/api/v1/people", &body).await.expect(201).json());
    let a = id(&staff
        .post_json(
            &format!("/api/v1/nodes/{community}/activities"),
            &running(app.store.now(), "活动", 5),
        )
        .await
        .expect(201)
        .json());
    for (what, v) in values() {
        for field in [
            "title",
            "kind",
            "place",
            "content",
            "starts_at",
            "capacity",
            "signup_closes_at",
            "organiser_name",
            "scheme_id",
            "points_per_hour",
            "team_id",
        ] {
            let mut body = running(app.store.now(), "活动", 5);
            body[field] = json!(v);
            let r = staff
                .post_json(&format!("/api/v1/nodes/{community}/activities"), &body)
                .await;
            api_outcome(&r, &format!("{what} in activity {field}"), &[field]);
            let mut pairs: Vec<(String, String)> = body
                .as_object()
                .expect("object")
                .iter()
                .map(|(k, x)| {
                    (
                        k.clone(),
                        x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string()),
                    )
                })
                .collect();
            pairs.retain(|(k, _)| k != field);
            pairs.push((field.to_string(), v.clone()));
            let form: Vec<(&str, &str)> = pairs.iter().map(|(k, x)| (k.as_str(), x.as_str())).collect();
            let r = staff.submit(&format!("/tree/{community}/activities"), &form).await;
            answered(&r, &format!("{what} in activity form {field}"), &v);
        }
        let r = staff
            .post_json(
                "/api/v1/volunteers",
                &json!({"person_id": person, "node_id": community, "consent": v, "skills": v}),
            )
            .await;
        api_outcome(&r, &format!("{what} in volunteer"), &["consent", "skills"]);
        let r = staff
            .submit(
                &format!("/tree/{community}/volunteers"),
                &[("person_id", &v), ("consent", "on")],
            )
            .await;
        answered(&r, &format!("{what} in volunteer form"), &v);
        let r = staff
            .post_json("/api/v1/teams", &json!({"name": v, "focus": v, "node_id": community}))
            .await;
        api_outcome(&r, &format!("{what} in team"), &["name", "focus"]);
        let r = staff
            .submit(&format!("/tree/{community}/teams"), &[("name", &v), ("unit_id", &v)])
            .await;
        answered(&r, &format!("{what} in team form"), &v);
        let r = staff
            .post_json(
                "/api/v1/service-records/manual",
                &json!({"person_id": person, "node_id": community, "served_on": v, "hours": v,
                    "content": v, "reason": v}),
            )
            .await;
        api_outcome(
            &r,
            &format!("{what} in manual record"),
            &["served_on", "hours", "content", "reason"],
        );
        let r = staff
            .post_json(
                &format!("/api/v1/activities/{a}/check"),
                &json!({"purpose": "in", "code": v}),
            )
            .await;
        api_outcome(&r, &format!("{what} as a code"), &["code"]);
        let r = staff.submit(&format!("/m/activities/{a}/check/in"), &[("c", &v)]).await;
        answered(&r, &format!("{what} as a scanned code"), &v);
        let fresh = id(&staff
            .post_json(
                &format!("/api/v1/nodes/{community}/activities"),
                &running(app.store.now(), "待取消", 5),
            )
            .await
            .expect(201)
            .json());
        let r = staff
            .submit(&format!("/activities/{fresh}/cancel"), &[("reason", &v)])
            .await;
        answered(&r, &format!("{what} as a cancel reason"), &v);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_volunteer_forms_is_refused_by_field() {
    for_each_engine(hostile_story).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_journey_from_a_new_activity_to_confirmed_hours() {
    let app = TestApp::start().await;
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let community = id(&t.community);
    app.add_user("organiser", Role::CommunityStaff, Some(community), false)
        .await;
    let staff = app.login("organiser").await;
    let body = json!({"name": "王小明", "home_node_id": t.grid_l3["id"], "household": "5栋"});
    let person = id(&staff.post_json("/api/v1/people", &body).await.expect(201).json());
    let user = app.add_user("xiaoming", Role::Resident, Some(community), false).await;
    staff
        .post_json(
            "/api/v1/points/links",
            &json!({"user_id": user.id, "person_id": person}),
        )
        .await
        .expect(204);
    let base = app.base.clone();
    let now = app.store.now();
    let (start, end) = (
        local_input(&(now - TimeDelta::hours(2))),
        local_input(&(now + TimeDelta::hours(1))),
    );
    in_browser(|c| async move {
        let set = |css: &'static str, value: String| {
            let c = c.clone();
            async move {
                element(&c, css).await;
                c.execute(
                    &format!("document.querySelector('{css}').value = arguments[0];"),
                    vec![json!(value)],
                )
                .await
                .unwrap_or_else(|e| panic!("set {css}: {e}"));
            }
        };
        // The organiser publishes an activity that is under way.
        c.goto(&format!("{base}/login")).await.expect("login page");
        login(&c, "organiser", PASSWORD).await;
        // Signed in: the console's page has come, so the next address is not raced by it.
        element(&c, "form[action='/logout'] button").await;
        c.goto(&format!("{base}/tree/{community}/activities/new"))
            .await
            .expect("form");
        type_into(&c, "input[name=title]", "楼道清洁").await;
        type_into(&c, "input[name=place]", "3栋楼下").await;
        set("input[name=starts_at]", start).await;
        set("input[name=ends_at]", end.clone()).await;
        set("input[name=signup_closes_at]", end).await;
        click(&c, "#activity-form button[type=submit]").await;
        text_where(&c, "#activity-status", |t| t == "进行中").await;
        let here = path_and_query(&c).await;
        let aid: i64 = here.trim_start_matches("/activities/").parse().expect("activity id");
        // The check-in screen shows the code's address.
        c.goto(&format!("{base}/activities/{aid}/qr?purpose=in"))
            .await
            .expect("qr");
        element(&c, "#checkin-qr svg").await;
        let url = text_where(&c, "#checkin-url", |t| t.contains("/check/in?c=")).await;
        c.goto(&format!("{base}/activities/{aid}")).await.expect("activity");
        click(&c, "form[action='/logout'] button").await;
        element(&c, "#username").await;

        // The resident signs up on the phone page, then opens the scanned address.
        login(&c, "xiaoming", PASSWORD).await;
        // Signed in: the console's page has come, so the next address is not raced by it.
        element(&c, "form[action='/logout'] button").await;
        c.goto(&format!("{base}/m/activities")).await.expect("mine");
        click(&c, &format!("#activity-{aid} button.signup")).await;
        text_where(&c, &format!("#activity-{aid} .tag"), |t| t == "已报名").await;
        c.goto(&url).await.expect("scan");
        click(&c, "#confirm-check").await;
        text_where(&c, "#check-result", |t| t.contains("签到成功")).await;
        c.goto(&format!("{base}/m/activities")).await.expect("mine");
        text_where(&c, &format!("#activity-{aid}"), |t| t.contains("已签到")).await;
        click(&c, "form[action='/logout'] button").await;
        element(&c, "#username").await;

        // The organiser confirms attendance; the hours are shown.
        login(&c, "organiser", PASSWORD).await;
        // Signed in: the console's page has come, so the next address is not raced by it.
        element(&c, "form[action='/logout'] button").await;
        c.goto(&format!("{base}/activities/{aid}/attendance"))
            .await
            .expect("attendance");
        click(&c, "#confirm-hours").await;
        text_where(&c, "#activity-status", |t| t == "已确认考勤").await;
        let hours = text_where(&c, "#records td.hours", |t| !t.is_empty()).await;
        let at = describe(&c).await;
        let h: f64 = hours.parse().unwrap_or_else(|_| panic!("hours {hours:?} on {at}"));
        assert!(h > 0.0 && h <= 3.0, "hours {h}");
        assert!(c.find(Locator::Css("#records")).await.is_ok());
    })
    .await;
}
