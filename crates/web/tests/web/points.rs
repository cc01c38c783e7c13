//! Points and the points shop over real HTTP, per engine: 64 clients race for the last units of
//! an item while spending from the same accounts; idempotency keys; the back office and the
//! resident's phone page.

use gongjian_domain::access::Role;
use gongjian_store::tokens::NewToken;
use serde_json::{Value, json};

use crate::support::*;

/// A POST carrying an `Idempotency-Key` header.
async fn post_keyed(http: &Http, path: &str, key: &str, body: &Value) -> Reply {
    Http::send(
        format!("POST {path} [{key}] {body}"),
        http.request(reqwest::Method::POST, path)
            .header("x-csrf-token", &http.csrf)
            .header("idempotency-key", key)
            .json(body),
    )
    .await
}

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(app.store.pool())
        .await
        .expect("count")
}

const RESIDENTS: usize = 8;
const CLIENTS: usize = 64;
const START: i64 = 50;
const PRICE: i64 = 10;

async fn race_story(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let community = t.community["id"].as_i64().expect("id");
    app.add_user("staff.pts", Role::CommunityStaff, Some(community), false)
        .await;
    let staff = app.login("staff.pts").await;

    let scheme = staff
        .post_json(
            "/api/v1/points/schemes",
            &json!({"name": "岭南志愿积分", "kind": "volunteer", "node_id": community}),
        )
        .await
        .expect(201)
        .json();
    let scheme_id = scheme["id"].as_i64().expect("scheme id");
    let item = async |name: &str, stock: i64| -> i64 {
        let body = json!({"name": name, "scheme_id": scheme_id, "price": PRICE, "stock": stock});
        let r = staff
            .post_json(&format!("/api/v1/nodes/{community}/shop/items"), &body)
            .await;
        r.expect(201).json()["id"].as_i64().expect("item id")
    };
    let last_ten = item("大米", 10).await;
    let plenty = item("肥皂", 1000).await;

    // Eight residents with accounts linked to their records, each credited over HTTP.
    let mut people = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..RESIDENTS {
        let body =
            json!({"name": format!("居民{i}"), "home_node_id": t.grid_l3["id"], "household": format!("{i}栋101")});
        let person = staff.post_json("/api/v1/people", &body).await.expect(201).json()["id"]
            .as_i64()
            .expect("person id");
        let user = app
            .add_user(&format!("res{i}"), Role::Resident, Some(community), false)
            .await;
        staff
            .post_json(
                "/api/v1/points/links",
                &json!({"user_id": user.id, "person_id": person}),
            )
            .await
            .expect(204);
        let credit = json!({"scheme_id": scheme_id, "person_id": person, "amount": START,
            "source": {"kind": "hours", "record_id": i}});
        let first = post_keyed(&staff, "/api/v1/points/credits", &format!("hours-{i}-credit"), &credit)
            .await
            .expect(201)
            .json();
        // The same key again: the first transaction, nothing written.
        let again = post_keyed(&staff, "/api/v1/points/credits", &format!("hours-{i}-credit"), &credit)
            .await
            .expect(201)
            .json();
        assert_eq!(first, again);
        let token = app
            .store
            .create_token_for(
                &format!("res{i}"),
                &NewToken {
                    name: "积分".into(),
                    scope: "write".into(),
                    expires_in_days: 7,
                },
            )
            .await
            .expect("token");
        people.push(person);
        tokens.push(token);
    }

    // 64 clients, 8 per resident: each asks for one of the last ten, then for one of plenty.
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let http = Http::with_token(&app.base, &tokens[c % RESIDENTS]);
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for (item, tag) in [(last_ten, "a"), (plenty, "b")] {
                let key = format!("race-{tag}-{c:03}");
                let r = post_keyed(&http, "/api/v1/shop/redemptions", &key, &json!({"item_id": item})).await;
                out.push((c % RESIDENTS, item, key, r));
            }
            out
        }));
    }
    let mut ok_per_resident = [0i64; RESIDENTS];
    let (mut ok_last, mut ok_plenty, mut short_of_stock, mut short_of_points) = (0, 0, 0, 0);
    let mut first_success = None;
    for task in tasks {
        for (resident, item, key, r) in task.await.expect("client") {
            match r.status {
                201 => {
                    ok_per_resident[resident] += 1;
                    if item == last_ten {
                        ok_last += 1;
                    } else {
                        ok_plenty += 1;
                    }
                    first_success.get_or_insert((resident, key, r.json()));
                }
                422 => match r.error_fields().as_slice() {
                    [f] if f == "quantity" && item == last_ten => short_of_stock += 1,
                    [f] if f == "points" => short_of_points += 1,
                    other => panic!("[{:?}] refused for {other:?}: {}", app.engine, r.text),
                },
                s => panic!("[{:?}] {} answered {s}: {}", app.engine, r.request, r.text),
            }
        }
    }
    let stock =
        async |id: i64| staff.get(&format!("/api/v1/shop/items/{id}")).await.expect(200).json()["stock"].clone();
    // Every holder could pay for exactly five; the item ran out only if someone was told so.
    assert_eq!(ok_per_resident, [START / PRICE; RESIDENTS], "[{:?}]", app.engine);
    assert_eq!(stock(last_ten).await, json!(10 - ok_last));
    assert_eq!(stock(plenty).await, json!(1000 - ok_plenty));
    if short_of_stock > 0 {
        assert_eq!(ok_last, 10);
    }
    assert_eq!(
        ok_last + ok_plenty + short_of_stock + short_of_points,
        2 * CLIENTS as i64
    );
    for token in &tokens {
        let me = Http::with_token(&app.base, token)
            .get("/api/v1/points/me")
            .await
            .expect(200)
            .json();
        assert_eq!(me["accounts"][0]["balance"], json!(0), "{me}");
    }
    let books = app.store.verify_ledger().await.expect("verify");
    assert!(books.is_sound(), "[{:?}] {books:?}", app.engine);

    // A repeated request with the same key answers with the first result and writes nothing.
    let (resident, key, first) = first_success.expect("some redemption succeeded");
    let before = [
        count(app, "point_transactions").await,
        count(app, "point_entries").await,
        count(app, "redemptions").await,
    ];
    let again = post_keyed(
        &Http::with_token(&app.base, &tokens[resident]),
        "/api/v1/shop/redemptions",
        &key,
        &json!({"item_id": first["item_id"]}),
    )
    .await
    .expect(201)
    .json();
    assert_eq!(again["id"], first["id"]);
    let after = [
        count(app, "point_transactions").await,
        count(app, "point_entries").await,
        count(app, "redemptions").await,
    ];
    assert_eq!(before, after);
    // Another holder's key is not theirs to replay.
    let other = Http::with_token(&app.base, &tokens[(resident + 1) % RESIDENTS]);
    let r = post_keyed(
        &other,
        "/api/v1/shop/redemptions",
        &key,
        &json!({"item_id": first["item_id"]}),
    )
    .await;
    let p = r.problem(409);
    assert_eq!(p["type"], "/api/problems/conflict", "{p}");

    // The counter: the back office lists what waits, hands one over, cancels another.
    let page = staff.get(&format!("/tree/{community}/shop")).await.expect(200).text;
    assert!(page.contains("大米") && page.contains("待领取"), "{page}");
    let reserved = staff
        .get(&format!("/api/v1/nodes/{community}/shop/redemptions?status=reserved"))
        .await
        .expect(200)
        .json();
    let ids: Vec<i64> = reserved["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len() as i64, ok_last + ok_plenty);
    staff
        .submit(&format!("/shop/redemptions/{}/pick-up", ids[0]), &[])
        .await
        .expect(303);
    let cancelled = staff
        .post_json(&format!("/api/v1/shop/redemptions/{}/cancel", ids[1]), &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(cancelled["status"], "cancelled");
    staff
        .post_json(&format!("/api/v1/shop/redemptions/{}/cancel", ids[0]), &json!({}))
        .await
        .problem(422);
    let month = staff
        .get(&format!("/api/v1/nodes/{community}/shop/statement"))
        .await
        .expect(200)
        .json();
    assert_eq!(month["total_points"], json!(PRICE * (ok_last + ok_plenty - 1)));
    let (status, headers, bytes) = staff.get_bytes(&format!("/tree/{community}/shop/statement.xlsx")).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap_or("").contains("spreadsheetml"));
    assert!(bytes.starts_with(b"PK"));
    let (status, _, bytes) = staff
        .get_bytes(&format!("/points/schemes/{scheme_id}/ledger/export"))
        .await;
    assert_eq!(status, 200);
    assert!(bytes.starts_with(b"PK"));
    staff
        .get(&format!("/points/schemes/{scheme_id}/ledger"))
        .await
        .expect(200);
    assert!(app.store.verify_ledger().await.expect("verify").is_sound());

    // The resident's phone page shows the balance and what was redeemed.
    let phone = app.login(&format!("res{resident}")).await;
    let mine = phone.get("/m/points").await.expect(200).text;
    assert!(mine.contains("我的积分") && mine.contains("肥皂"), "{mine}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_clients_redeem_the_last_units_and_the_books_balance() {
    for_each_engine(race_story).await;
}

/// An `Idempotency-Key` sent again with another body answers 409 Conflict (problem+json) and
/// writes nothing; sent again with the same body (its fields in another order, the key in the
/// body instead of the header) it answers with the first result. The OpenAPI document says so
/// for every keyed write.
async fn conflict_story(app: &TestApp) {
    let manager = app.manager().await;
    let t = build_tree(&manager).await;
    let community = t.community["id"].as_i64().expect("id");
    app.add_user("staff.key", Role::CommunityStaff, Some(community), false)
        .await;
    let staff = app.login("staff.key").await;
    let scheme = staff
        .post_json(
            "/api/v1/points/schemes",
            &json!({"name": "幂等积分", "kind": "volunteer", "node_id": community}),
        )
        .await
        .expect(201)
        .json()["id"]
        .as_i64()
        .expect("scheme id");
    let person = async |name: &str| {
        let body = json!({"name": name, "home_node_id": t.grid_l3["id"], "household": "1栋101"});
        staff.post_json("/api/v1/people", &body).await.expect(201).json()["id"]
            .as_i64()
            .expect("person id")
    };
    let (zhang, li) = (person("张三").await, person("李四").await);
    let item = staff
        .post_json(
            &format!("/api/v1/nodes/{community}/shop/items"),
            &json!({"name": "香皂", "scheme_id": scheme, "price": 5, "stock": 10}),
        )
        .await
        .expect(201)
        .json()["id"]
        .as_i64()
        .expect("item id");
    let written = async || {
        [
            count(app, "point_transactions").await,
            count(app, "point_entries").await,
            count(app, "redemptions").await,
        ]
    };
    let credit = |person: i64, amount: i64| {
        json!({"scheme_id": scheme, "person_id": person, "amount": amount,
            "source": {"kind": "award", "item": "服务"}})
    };
    // Twice, so that the second credit of each person is one SQLite writes as one script.
    for (n, who) in [zhang, li].into_iter().enumerate() {
        for round in 0..2 {
            post_keyed(
                &staff,
                "/api/v1/points/credits",
                &format!("key-credit-{n}-{round}"),
                &credit(who, 20),
            )
            .await
            .expect(201);
        }
    }
    let first = post_keyed(&staff, "/api/v1/points/credits", "key-credit-0-1", &credit(zhang, 20))
        .await
        .expect(201)
        .json();
    let before = written().await;
    for (path, body) in [
        ("/api/v1/points/credits", credit(zhang, 21)),
        ("/api/v1/points/credits", credit(li, 20)),
        (
            "/api/v1/points/deductions",
            json!({"scheme_id": scheme, "person_id": zhang, "amount": 20, "item": "服务"}),
        ),
    ] {
        let p = post_keyed(&staff, path, "key-credit-0-1", &body).await.problem(409);
        assert_eq!(p["type"], "/api/problems/conflict", "[{:?}] {p}", app.engine);
        assert_eq!(p["title"], "请求冲突");
        let detail = p["detail"].as_str().unwrap_or("");
        assert!(detail.contains("Idempotency-Key") && detail.contains("另一请求"), "{p}");
    }
    assert_eq!(written().await, before, "[{:?}] a conflict wrote", app.engine);
    // The same request, its fields in another order and its key in the body: the first answer.
    let same = json!({"source": {"item": "服务", "kind": "award"}, "amount": 20, "person_id": zhang,
        "scheme_id": scheme, "idempotency_key": "key-credit-0-1"});
    let again = staff
        .post_json("/api/v1/points/credits", &same)
        .await
        .expect(201)
        .json();
    assert_eq!(again, first);

    // Redemptions and deductions, the same way.
    let redeem = |quantity: i64| json!({"item_id": item, "person_id": zhang, "quantity": quantity});
    let r = post_keyed(&staff, "/api/v1/shop/redemptions", "key-redeem-0001", &redeem(1))
        .await
        .expect(201)
        .json();
    let again = post_keyed(&staff, "/api/v1/shop/redemptions", "key-redeem-0001", &redeem(1))
        .await
        .expect(201)
        .json();
    assert_eq!(again["id"], r["id"]);
    let before = written().await;
    post_keyed(&staff, "/api/v1/shop/redemptions", "key-redeem-0001", &redeem(2))
        .await
        .problem(409);
    let deduct = |amount: i64| json!({"scheme_id": scheme, "person_id": li, "amount": amount, "item": "迟到"});
    post_keyed(&staff, "/api/v1/points/deductions", "key-deduct-0001", &deduct(2))
        .await
        .expect(201);
    post_keyed(&staff, "/api/v1/points/deductions", "key-deduct-0001", &deduct(3))
        .await
        .problem(409);
    let after = written().await;
    assert_eq!(after, [before[0] + 1, before[1] + 2, before[2]], "[{:?}]", app.engine);
    let stock = staff
        .get(&format!("/api/v1/shop/items/{item}"))
        .await
        .expect(200)
        .json()["stock"]
        .clone();
    assert_eq!(stock, json!(9));

    // The OpenAPI document lists the 409 of every keyed write.
    let doc = staff.get("/api/openapi.json").await.expect(200).json();
    for path in [
        "/api/v1/points/credits",
        "/api/v1/points/deductions",
        "/api/v1/points/transfers",
        "/api/v1/shop/redemptions",
    ] {
        let conflict = &doc["paths"][path]["post"]["responses"]["409"];
        assert!(conflict.is_object(), "{path}: no 409 in {}", doc["paths"][path]);
    }
}

#[tokio::test]
async fn a_reused_idempotency_key_with_another_body_answers_409() {
    for_each_engine(conflict_story).await;
}
