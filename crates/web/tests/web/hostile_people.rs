//! Hostile text (see `hostile`) in every text field of the forms and APIs of units, members,
//! registrations, services, pairings, deployments, the phone page and the people search.

use gongjian_domain::access::Role;
use serde_json::{Value, json};

use crate::hostile::{api_outcome, assert_shown_escaped, form_outcome, values, with_query};
use crate::support::{STREET_A_CODE, TestApp, build_tree, for_each_engine};

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

/// An 18-character ID number for `n` (valid check character).
fn idn(n: usize) -> String {
    crate::journeys::id_number(&format!("4406041990{:02}{:02}123", 1 + n / 28, 1 + n % 28))
}

async fn story(app: &TestApp) {
    let m = app.manager().await;
    let t = build_tree(&m).await;
    let (x, street) = (id(&t.community), id(&t.street_a));
    let agency = m
        .post_json(
            "/api/v1/party-orgs",
            &json!({"kind": "committee", "category": "agency", "name": "区民政局机关党委", "territory_code": STREET_A_CODE}),
        )
        .await
        .expect(201)
        .json();
    m.post_json(
        "/api/v1/units",
        &json!({"name": "区民政局", "kind": "agency", "node_id": street}),
    )
    .await
    .expect(201)
    .json();
    app.add_user("dangyuan", Role::PartyMember, None, false).await;
    let member = app.login("dangyuan").await;
    for (n, (label, v)) in values().into_iter().enumerate() {
        let v = v.as_str();
        let what = |field: &str| format!("{field} = {label}");
        // Text fields of these records are stored normalised (full-width letters and digits
        // made half-width, spaces trimmed), as people type them into spreadsheets too.
        let norm = gongjian_domain::ids::normalize_cell(v);
        let norm = norm.as_str();

        // ---- units: name, credit code and address; contacts: name, title and mobile.
        for field in ["name", "credit_code", "address"] {
            let mut body = json!({"name": format!("单位{n}{field}"), "kind": "private", "node_id": x});
            body[field] = json!(v);
            let r = m.post_json("/api/v1/units", &body).await;
            if api_outcome(&r, &what(&format!("unit {field} (API)")), &[field]) {
                assert_eq!(r.json()[field], norm, "{}", what(field));
                assert_shown_escaped(
                    &m.get(&format!("/units/{}", id(&r.json()))).await.expect(200),
                    &what(field),
                    norm,
                );
            }
            let mut form = vec![("name", format!("表单单位{n}{field}")), ("kind", "private".into())];
            form.retain(|(k, _)| *k != field);
            form.push((field, v.to_string()));
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = m.submit(&format!("/tree/{x}/units/new"), &pairs).await;
            if form_outcome(&r, &what(&format!("unit {field} (form)")), v) {
                assert_shown_escaped(&m.get(&r.location()).await.expect(200), &what(field), norm);
            }
        }
        let unit = id(&m
            .post_json(
                "/api/v1/units",
                &json!({"name": format!("联系单位{n}"), "kind": "private", "node_id": x}),
            )
            .await
            .expect(201)
            .json());
        for field in ["name", "title", "mobile"] {
            let mut body = json!({"name": "联系人", "title": "书记", "mobile": "13912345678"});
            body[field] = json!(v);
            let r = m.post_json(&format!("/api/v1/units/{unit}/contacts"), &body).await;
            api_outcome(&r, &what(&format!("contact {field} (API)")), &[field]);
            let mut form = vec![("name", "联系人"), ("title", "书记"), ("mobile", "13912345678")];
            form.retain(|(k, _)| *k != field);
            form.push((field, v));
            let r = m.submit(&format!("/units/{unit}/contacts"), &form).await;
            if form_outcome(&r, &what(&format!("contact {field} (form)")), v) && field != "mobile" {
                assert_shown_escaped(&m.get(&format!("/units/{unit}")).await.expect(200), &what(field), norm);
            }
        }

        // ---- a resident for the rest; membership dates; registration fields; services.
        let p = id(&m
            .post_json(
                "/api/v1/people",
                &json!({"name": format!("居民{n}"), "id_number": idn(n), "home_node_id": id(&t.grid_l3)}),
            )
            .await
            .expect(201)
            .json());
        for field in ["status", "joined_on", "full_on"] {
            let mut form = vec![
                ("org_id", agency["id"].to_string()),
                ("status", "full".into()),
                ("joined_on", "2001-07-01".into()),
            ];
            form.retain(|(k, _)| *k != field);
            form.push((field, v.to_string()));
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = m.submit(&format!("/people/{p}/membership"), &pairs).await;
            assert!(
                !form_outcome(&r, &what(&format!("membership {field}")), v),
                "{} stored",
                what(field)
            );
        }
        let r = m
            .post_json(
                "/api/v1/members",
                &json!({"person_id": p, "org_id": id(&agency), "status": "full", "joined_on": v}),
            )
            .await;
        assert!(!api_outcome(&r, &what("member joined_on (API)"), &["joined_on"]));
        m.post_json(
            "/api/v1/members",
            &json!({"person_id": p, "org_id": id(&agency), "status": "full", "joined_on": "2001-07-01"}),
        )
        .await
        .expect(201);
        for field in ["skills", "employer", "registered_on", "duties"] {
            let mut form = vec![
                ("community_id", x.to_string()),
                ("employer", "区民政局".into()),
                ("duties", "patrol".into()),
            ];
            form.retain(|(k, _)| *k != field);
            form.push((field, v.to_string()));
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = m.submit(&format!("/people/{p}/registration"), &pairs).await;
            if form_outcome(&r, &what(&format!("registration {field}")), v) {
                // Skills are kept as words joined by 、 (the separators typed are normalised).
                let shown = gongjian_domain::registration::parse_skills(v)
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                assert_shown_escaped(&m.get(&r.location()).await.expect(200), &what(field), &shown);
                let rid = r
                    .location()
                    .trim_start_matches("/registrations/")
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_string();
                m.post_json(
                    &format!("/api/v1/registrations/{rid}/status"),
                    &json!({"status": "ended"}),
                )
                .await
                .expect(200);
            }
        }
        let reg = id(&m
            .post_json(
                "/api/v1/registrations",
                &json!({"person_id": p, "community_id": x, "duties": ["patrol"]}),
            )
            .await
            .expect(201)
            .json());
        for field in ["served_on", "hours", "description", "rating"] {
            let mut form = vec![
                ("served_on", app.store.today().to_string()),
                ("hours", "1".into()),
                ("description", "服务".into()),
            ];
            form.retain(|(k, _)| *k != field);
            form.push((field, v.to_string()));
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = m.submit(&format!("/registrations/{reg}/services"), &pairs).await;
            if form_outcome(&r, &what(&format!("service {field}")), v) {
                assert_shown_escaped(
                    &m.get(&format!("/registrations/{reg}")).await.expect(200),
                    &what(field),
                    norm,
                );
            }
        }
        let r = m
            .post_json(&format!("/api/v1/registrations/{reg}/claims"), &json!({"duty": v}))
            .await;
        assert!(!api_outcome(&r, &what("claim duty"), &["duty"]));
        let r = m
            .post_json(
                &format!("/api/v1/registrations/{reg}/status"),
                &json!({"status": v, "note": v}),
            )
            .await;
        assert!(!api_outcome(&r, &what("status"), &["status", "note"]));

        // ---- a pairing's agreement and dates; a deployment's note and ID number.
        for field in ["agreement", "started_on", "ended_on"] {
            let mut form = vec![
                ("org_id", agency["id"].to_string()),
                ("community_id", x.to_string()),
                ("started_on", "2026-01-01".into()),
            ];
            form.retain(|(k, _)| *k != field);
            form.push((field, v.to_string()));
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = m.submit(&format!("/tree/{x}/pairings"), &pairs).await;
            if form_outcome(&r, &what(&format!("pairing {field}")), v) {
                let page = m.get(&format!("/tree/{x}/pairings")).await.expect(200);
                assert_shown_escaped(&page, &what(field), norm);
                for pid in page.text.match_indices("/pairings/").filter_map(|(i, _)| {
                    page.text[i + 10..]
                        .split('/')
                        .next()
                        .and_then(|s| s.parse::<i64>().ok())
                }) {
                    m.submit(&format!("/pairings/{pid}/end"), &[]).await;
                }
            }
        }
        for field in ["note", "id_number", "from_unit"] {
            let mut form = vec![
                ("id_number", idn(n)),
                ("kind", "deployment".into()),
                ("started_on", "2026-01-01".into()),
            ];
            form.retain(|(k, _)| *k != field);
            form.push((field, v.to_string()));
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = m.submit(&format!("/tree/{x}/deployments"), &pairs).await;
            if form_outcome(&r, &what(&format!("deployment {field}")), v) {
                assert_shown_escaped(
                    &m.get(&format!("/tree/{x}/deployments")).await.expect(200),
                    &what(field),
                    norm,
                );
            }
        }

        // ---- the phone page, every field; the people search.
        for field in [
            "name",
            "id_number",
            "mobile",
            "employer",
            "joined_on",
            "skills",
            "community",
        ] {
            let mut form = vec![
                ("community", "440604001001".to_string()),
                ("name", "报到人".into()),
                ("id_number", idn(50 + n)),
                ("mobile", "13712345678".into()),
                ("grid_id", id(&t.grid_l2).to_string()),
                ("employer", "区民政局".into()),
                ("member_status", "full".into()),
                ("joined_on", "2010-07-01".into()),
                ("duties", "patrol".into()),
            ];
            form.retain(|(k, _)| *k != field);
            form.push((field, v.to_string()));
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = member.submit("/m/register", &pairs).await;
            if form_outcome(&r, &what(&format!("phone {field}")), v) {
                // Stored (skills): withdraw it through the community so the next one may register.
                let mine = m
                    .get(&format!("/api/v1/nodes/{x}/registrations?status=pending"))
                    .await
                    .expect(200)
                    .json();
                for r in mine["items"].as_array().cloned().unwrap_or_default() {
                    m.post_json(
                        &format!("/api/v1/registrations/{}/status", id(&r)),
                        &json!({"status": "rejected", "note": "测试"}),
                    )
                    .await
                    .expect(200);
                }
            }
        }
        for path in ["/people", "/api/v1/people"] {
            let r = m.get(&with_query(path, &[("q", v), ("node", v)])).await;
            assert!(
                r.status < 500,
                "{}: {} answered {}",
                what("search"),
                r.request,
                r.status
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_in_people_and_registration_fields() {
    for_each_engine(story).await;
}
