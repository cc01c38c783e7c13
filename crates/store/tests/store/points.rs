//! The points ledger and the shop: issuance through one function, idempotency keys, the
//! rules of a scheme as settings, redemption that takes points and stock together, and books
//! that always balance — also under concurrent writers.

use gongjian_domain::points::{CreditSource, Points, SchemeRules};
use gongjian_store::points::{ItemForm, RedeemInput, SchemeForm, TransferInput};

use super::people::{id_with_check, resident};
use super::*;

fn pts(n: i64) -> Points {
    Points::new(n).expect("points")
}

fn award(item: &str) -> CreditSource {
    CreditSource::Award { item: item.into() }
}

/// A used idempotency key sent with another request: a conflict, naming the key.
#[track_caller]
fn conflict<T: Debug>(r: StoreResult<T>) {
    let engine = ENGINE.get();
    match r {
        Err(StoreError::Conflict(m)) => assert!(m.contains("Idempotency-Key"), "[{engine}] {m}"),
        other => panic!("[{engine}] expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn points_are_issued_spent_returned_and_always_balance() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let sibling = scoped(Role::CommunityStaff, &t["a2"]);
        let street = scoped(Role::StreetStaff, &t["a"]);
        let mut caps = SchemeRules {
            redeemable: true,
            storage_cap: Some(100),
            ..SchemeRules::default()
        };
        caps.item_caps.insert("先锋作用".into(), 20);
        let scheme = s
            .create_scheme(
                &street,
                &SchemeForm {
                    name: "祖庙志愿积分".into(),
                    kind: "volunteer".into(),
                    node_id: Some(t["a"].id),
                    rules: Some(caps),
                },
                "t",
            )
            .await
            .expect("scheme");
        refused(
            s.create_scheme(
                &street,
                &SchemeForm {
                    kind: "x".into(),
                    ..SchemeForm::default()
                },
                "t",
            )
            .await,
            "kind",
            "积分类型",
        );

        let grid = &t["a1g1a"];
        let zhang = s
            .create_person(
                &staff,
                &resident("张三", &id_with_check("44060419850315123"), "", grid),
                "t",
            )
            .await
            .expect("person");
        let li = s
            .create_person(
                &staff,
                &resident("李四", &id_with_check("44060419870101002"), "", grid),
                "t",
            )
            .await
            .expect("person");
        let user = s
            .add_user(
                "zhangsan",
                "张三",
                "Test-Passw0rd!",
                false,
                Role::Resident,
                Some(t["a1"].id),
            )
            .await
            .expect("user");
        let me = s.actor(user.id).await.expect("actor");
        s.link_person(&staff, user.id, zhang.id, "t").await.expect("link");

        // Issuance: once per key; a replay answers with the first transaction and writes nothing.
        let first = s
            .credit_points(
                &staff,
                &CreditSource::Hours { record_id: 1 },
                zhang.id,
                scheme.id,
                pts(30),
                "hours-1-zs",
                "t",
            )
            .await
            .expect("credit");
        eq!(first.entries.iter().map(|e| e.amount).sum::<i64>(), 0);
        let again = s
            .credit_points(
                &staff,
                &CreditSource::Hours { record_id: 1 },
                zhang.id,
                scheme.id,
                pts(30),
                "hours-1-zs",
                "t",
            )
            .await
            .expect("replay");
        eq!(again.id, first.id);
        eq!(s.balance(&me, scheme.id, zhang.id).await.expect("balance"), 30);
        // The same key by another writer, or for another kind, is a conflict.
        conflict(
            s.deduct_points(&staff, zhang.id, scheme.id, pts(1), "迟到", "hours-1-zs", "t")
                .await,
        );
        // Outside the writer's scope the person does not exist; caps are settings.
        refused(
            s.credit_points(&sibling, &award("x"), zhang.id, scheme.id, pts(5), "sib-000001", "t")
                .await,
            "person_id",
            "不存在",
        );
        s.credit_points(
            &staff,
            &award("先锋作用"),
            zhang.id,
            scheme.id,
            pts(15),
            "award-0001",
            "t",
        )
        .await
        .expect("award");
        refused(
            s.credit_points(
                &staff,
                &award("先锋作用"),
                zhang.id,
                scheme.id,
                pts(10),
                "award-0002",
                "t",
            )
            .await,
            "amount",
            "封顶 20",
        );
        refused(
            s.credit_points(&staff, &award("其他"), zhang.id, scheme.id, pts(60), "award-0003", "t")
                .await,
            "amount",
            "存储上限",
        );
        eq!(s.balance(&staff, scheme.id, zhang.id).await.expect("balance"), 45);

        // The shop: stock and points together.
        let item = s
            .create_item(
                &staff,
                t["a1"].id,
                &ItemForm {
                    name: "洗衣液".into(),
                    scheme_id: Some(scheme.id),
                    price: Some(20),
                    stock: Some(3),
                },
                "t",
            )
            .await
            .expect("item");
        refused(
            s.create_item(
                &staff,
                t["a1"].id,
                &ItemForm {
                    name: "坏".into(),
                    scheme_id: Some(scheme.id),
                    price: Some(0),
                    stock: Some(-1),
                },
                "t",
            )
            .await,
            "price",
            "积分",
        );
        eq!(s.my_shop(&me).await.expect("shop").len(), 1);
        let r = s
            .redeem(
                &me,
                &RedeemInput {
                    item_id: item.id,
                    quantity: 2,
                    person_id: None,
                },
                "redeem-0001",
                "t",
            )
            .await
            .expect("redeem");
        eq!(r.points, 40);
        eq!(r.status.as_str(), "reserved");
        let replay = s
            .redeem(
                &me,
                &RedeemInput {
                    item_id: item.id,
                    quantity: 2,
                    person_id: None,
                },
                "redeem-0001",
                "t",
            )
            .await
            .expect("replay");
        eq!(replay.id, r.id);
        eq!(s.shop_item(&staff, item.id).await.expect("item").stock, 1);
        refused(
            s.redeem(
                &me,
                &RedeemInput {
                    item_id: item.id,
                    quantity: 1,
                    person_id: None,
                },
                "redeem-0002",
                "t",
            )
            .await,
            "points",
            "积分不足",
        );
        // A refused redemption writes nothing: the stock stayed.
        eq!(s.shop_item(&staff, item.id).await.expect("item").stock, 1);
        // Cancellation returns both, once; a picked-up redemption cannot be cancelled.
        let c = s.cancel_redemption(&me, r.id, "t").await.expect("cancel");
        eq!(c.status.as_str(), "cancelled");
        refused(s.cancel_redemption(&staff, r.id, "t").await, "status", "已取消");
        eq!(s.shop_item(&staff, item.id).await.expect("item").stock, 3);
        eq!(s.balance(&me, scheme.id, zhang.id).await.expect("balance"), 45);
        let r2 = s
            .redeem(
                &staff,
                &RedeemInput {
                    item_id: item.id,
                    quantity: 1,
                    person_id: Some(zhang.id),
                },
                "redeem-0003",
                "t",
            )
            .await
            .expect("redeem at the counter");
        not_found(s.pick_up(&sibling, r2.id, "t").await);
        let picked = s.pick_up(&staff, r2.id, "t").await.expect("pick up");
        eq!(picked.status.as_str(), "picked_up");
        refused(s.cancel_redemption(&staff, r2.id, "t").await, "status", "已领取");

        // The month's statement and the ledger views.
        let month = s.today().format("%Y-%m").to_string();
        let st = s
            .monthly_statement(&staff, t["a1"].id, &month)
            .await
            .expect("statement");
        eq!(st.total_points, 20);
        eq!(st.lines[0].picked_up, 1);
        eq!(st.lines[0].cancelled, 2);
        let mine = s.my_points(&me).await.expect("mine");
        eq!(mine.accounts[0].balance, 25);
        eq!(mine.redemptions.len(), 2);
        let ledger = s.ledger(&staff, scheme.id, None, 500).await.expect("ledger");
        check!(ledger.items.iter().all(|l| l.holder.starts_with("person:")));
        let whole = s.ledger(&street, scheme.id, None, 500).await.expect("ledger");
        eq!(whole.items.iter().map(|l| l.amount).sum::<i64>(), 0);

        // Transfer to a relative (same household) only where the scheme allows it.
        refused(
            s.transfer_points(
                &me,
                &TransferInput {
                    scheme_id: scheme.id,
                    to_person_id: li.id,
                    amount: 5,
                    ..Default::default()
                },
                "give-00001",
                "t",
            )
            .await,
            "to_person_id",
            "不允许",
        );
        let bank = s
            .create_scheme(
                &street,
                &SchemeForm {
                    name: "时间银行".into(),
                    kind: "time_bank".into(),
                    node_id: Some(t["a"].id),
                    rules: None,
                },
                "t",
            )
            .await
            .expect("time bank");
        s.credit_points(
            &staff,
            &CreditSource::Hours { record_id: 2 },
            zhang.id,
            bank.id,
            pts(8),
            "bank-hours-2",
            "t",
        )
        .await
        .expect("hours");
        let give = s
            .transfer_points(
                &me,
                &TransferInput {
                    scheme_id: bank.id,
                    to_person_id: li.id,
                    amount: 3,
                    ..Default::default()
                },
                "give-00002",
                "t",
            )
            .await
            .expect("transfer");
        eq!(give.kind.as_str(), "transfer");
        refused(
            s.transfer_points(
                &me,
                &TransferInput {
                    scheme_id: bank.id,
                    to_person_id: li.id,
                    amount: 6,
                    donation: true,
                    ..Default::default()
                },
                "give-00003",
                "t",
            )
            .await,
            "points",
            "积分不足",
        );
        eq!(s.balance(&staff, bank.id, li.id).await.expect("balance"), 3);

        // Party-member points: deduction stops at zero; the yearly reset empties balances once.
        let party = s
            .create_scheme(
                &street,
                &SchemeForm {
                    name: "党员积分".into(),
                    kind: "party_member".into(),
                    node_id: Some(t["a"].id),
                    rules: None,
                },
                "t",
            )
            .await
            .expect("party scheme");
        s.credit_points(&staff, &award("基础分"), li.id, party.id, pts(60), "base-li-2026", "t")
            .await
            .expect("base");
        let d = s
            .deduct_points(&staff, li.id, party.id, pts(100), "未参加组织生活", "deduct-li-1", "t")
            .await
            .expect("deduct");
        eq!(d.entries.iter().find(|e| e.amount < 0).map(|e| e.amount), Some(-60));
        refused(
            s.deduct_points(&staff, li.id, party.id, pts(1), "再扣", "deduct-li-2", "t")
                .await,
            "amount",
            "为 0",
        );
        s.credit_points(&staff, &award("先锋作用"), li.id, party.id, pts(10), "award-li-1", "t")
            .await
            .expect("award");
        let reset = s.reset_points_year(&street, party.id, 2026, "t").await.expect("reset");
        eq!(
            s.reset_points_year(&street, party.id, 2026, "t")
                .await
                .expect("again")
                .id,
            reset.id
        );
        eq!(s.balance(&staff, party.id, li.id).await.expect("balance"), 0);

        let books = s.verify_ledger().await.expect("verify");
        check!(books.is_sound());
    })
    .await;
}

/// An uncapped volunteer scheme at `node` and an item of its shop there.
pub(crate) async fn scheme_with_item(
    s: &Store,
    staff: &Actor,
    node: i64,
    name: &str,
    price: i64,
    stock: i64,
) -> (gongjian_store::points::Scheme, gongjian_store::points::ShopItem) {
    let form = SchemeForm {
        name: "志愿积分".into(),
        kind: "volunteer".into(),
        node_id: Some(node),
        rules: None,
    };
    let scheme = s.create_scheme(staff, &form, "t").await.expect("scheme");
    let form = ItemForm {
        name: name.into(),
        scheme_id: Some(scheme.id),
        price: Some(price),
        stock: Some(stock),
    };
    let item = s.create_item(staff, node, &form, "t").await.expect("item");
    (scheme, item)
}

#[tokio::test]
async fn concurrent_redemptions_take_exactly_what_there_is() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let (scheme, item) = scheme_with_item(s, &staff, t["a1"].id, "大米", 10, 10).await;
        let mut people = Vec::new();
        for i in 0..4 {
            let p = s
                .create_person(
                    &staff,
                    &resident(
                        &format!("居民{i}"),
                        &id_with_check(&format!("4406041980010100{i}")),
                        "",
                        &t["a1g1a"],
                    ),
                    "t",
                )
                .await
                .expect("person");
            s.credit_points(
                &staff,
                &CreditSource::Hours { record_id: i },
                p.id,
                scheme.id,
                pts(40),
                &format!("hours-{i}-000"),
                "t",
            )
            .await
            .expect("credit");
            people.push(p.id);
        }
        // 32 writers, 8 per holder, 16 points per holder asked at most 4 times: stock binds at 10.
        let mut tasks = Vec::new();
        for w in 0..32 {
            let (s, staff, person) = (s.clone(), staff.clone(), people[w % 4]);
            tasks.push(tokio::spawn(async move {
                s.redeem(
                    &staff,
                    &RedeemInput {
                        item_id: item.id,
                        quantity: 1,
                        person_id: Some(person),
                    },
                    &format!("race-{w:04}"),
                    "t",
                )
                .await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.expect("join") {
                Ok(_) => ok += 1,
                Err(StoreError::Invalid(v)) => {
                    check!(v.message_for("quantity").is_some() || v.message_for("points").is_some())
                }
                Err(e) => panic!("[{}] unexpected {e}", ENGINE.get()),
            }
        }
        eq!(ok, 10);
        eq!(s.shop_item(&staff, item.id).await.expect("item").stock, 0);
        let mut total = 0;
        for p in &people {
            let b = s.balance(&staff, scheme.id, *p).await.expect("balance");
            check!(b >= 0);
            total += b;
        }
        eq!(total, 160 - 100);
        check!(s.verify_ledger().await.expect("verify").is_sound());
    })
    .await;
}

/// The common writes (an uncapped credit, a redemption) on SQLite go as one script built from
/// what the last write left; when another writer wrote in between — a non-ledger write that
/// appends to the audit log, a general-path ledger write, another process on the same
/// database — the script is refused and the write goes the longer way. Nothing is lost or
/// written twice, the audit chain stays intact and the books balance. The same story holds on
/// PostgreSQL, where every write takes the general path.
#[tokio::test]
async fn ledger_writes_hold_when_other_writers_write_in_between() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let (scheme, item) = scheme_with_item(s, &staff, t["a1"].id, "毛巾", 5, 3).await;
        let person = |i: i64| {
            resident(
                &format!("写者{i}"),
                &id_with_check(&format!("4406041990020200{i}")),
                "",
                &t["a1g1a"],
            )
        };
        let wang = s.create_person(&staff, &person(1), "t").await.expect("person").id;
        let credit = async |n: i64, key: &str| {
            s.credit_points(&staff, &award("服务"), wang, scheme.id, pts(n), key, "t")
                .await
        };
        let redeem = async |quantity: i64, key: &str| {
            let input = RedeemInput {
                item_id: item.id,
                quantity,
                person_id: Some(wang),
            };
            s.redeem(&staff, &input, key, "t").await
        };
        // The first credit opens the account; the next ones need nothing read under the lock.
        let mut ids = Vec::new();
        for (n, key) in [(4, "w-credit-1"), (3, "w-credit-2"), (2, "w-credit-3")] {
            ids.push(credit(n, key).await.expect("credit").id);
        }
        // A repeat answers with the first transaction and writes nothing; a malformed key is refused.
        eq!(credit(2, "w-credit-3").await.expect("repeat").id, ids[2]);
        refused(credit(2, "short").await, "idempotency_key", "幂等键");
        eq!(s.balance(&staff, scheme.id, wang).await.expect("balance"), 9);

        // A non-ledger write moves the audit head on.
        s.create_person(&staff, &person(2), "t").await.expect("person");
        ids.push(credit(1, "w-credit-4").await.expect("credit after another write").id);
        // A general-path ledger write (a deduction) in between.
        s.deduct_points(&staff, wang, scheme.id, pts(1), "迟到", "w-deduct-1", "t")
            .await
            .expect("deduct");
        let first = redeem(1, "w-redeem-1").await.expect("redeem");
        // Another process on the same database writes a transaction and an audit entry.
        // It shares the data key, as every node of one deployment must.
        let other = Store::connect(&db.url)
            .await
            .expect("second store")
            .with_keyring(s.keyring().clone());
        other
            .credit_points(&staff, &award("服务"), wang, scheme.id, pts(5), "w-credit-other", "t")
            .await
            .expect("credit by the other store");
        other.close().await;
        let second = redeem(1, "w-redeem-2")
            .await
            .expect("redeem after another process wrote");
        assert!(second.id > first.id && second.reserve_tx_id > first.reserve_tx_id);
        eq!(redeem(1, "w-redeem-2").await.expect("repeat").id, second.id);
        // 9 + 1 - 1 - 5 + 5 - 5 = 4: not enough for another; the refusal leaves stock and points.
        refused(redeem(1, "w-redeem-3").await, "points", "积分不足");
        eq!(s.balance(&staff, scheme.id, wang).await.expect("balance"), 4);
        eq!(s.shop_item(&staff, item.id).await.expect("item").stock, 1);
        credit(10, "w-credit-5").await.expect("credit after a refusal");
        // A withdrawn item gives nothing, whatever its stock.
        sqlx::query("UPDATE shop_items SET status = 'withdrawn' WHERE id = $1")
            .bind(item.id)
            .execute(s.pool())
            .await
            .expect("withdraw");
        refused(redeem(1, "w-redeem-4").await, "item_id", "暂不可兑换");
        sqlx::query("UPDATE shop_items SET status = 'active' WHERE id = $1")
            .bind(item.id)
            .execute(s.pool())
            .await
            .expect("restore");
        // Credits between two redemptions leave no gap in the redemptions' ids.
        let last = redeem(1, "w-redeem-5").await.expect("last unit");
        eq!(last.id, second.id + 1);
        refused(redeem(1, "w-redeem-6").await, "quantity", "库存不足");

        eq!(s.balance(&staff, scheme.id, wang).await.expect("balance"), 9);
        eq!(s.shop_item(&staff, item.id).await.expect("item").stock, 0);
        let books = s.verify_ledger().await.expect("books");
        assert!(books.is_sound(), "[{}] {books:?}", ENGINE.get());
        assert!(
            matches!(
                s.verify_audit().await.expect("audit"),
                gongjian_store::audit::AuditVerdict::Intact { .. }
            ),
            "[{}] the audit chain is broken",
            ENGINE.get()
        );
    })
    .await;
}

/// Where the idempotency and path stories write: a staff user of community `a1`, a scheme that
/// allows transfers and donations, an item of three and an item nobody can afford, two
/// residents of one household — the first with an account of their own — and an activity
/// running now that the first signed up for.
struct World {
    staff: Actor,
    me: Actor,
    zhang: i64,
    li: i64,
    scheme: i64,
    item: i64,
    dear: i64,
    activity: i64,
}

async fn world(s: &Store, t: &Tree) -> World {
    let node = &t["a1"];
    let u = s
        .add_user(
            "pts.staff",
            "积分管理员",
            "Test-Passw0rd!",
            false,
            Role::CommunityStaff,
            Some(node.id),
        )
        .await
        .expect("staff user");
    let staff = s.actor(u.id).await.expect("staff");
    let rules = SchemeRules {
        redeemable: true,
        transfer_to_relatives: true,
        donation: true,
        ..SchemeRules::default()
    };
    let form = SchemeForm {
        name: "邻里积分".into(),
        kind: "volunteer".into(),
        node_id: Some(node.id),
        rules: Some(rules),
    };
    let scheme = s.create_scheme(&staff, &form, "t").await.expect("scheme").id;
    let item = async |name: &str, price: i64, stock: i64| {
        let form = ItemForm {
            name: name.into(),
            scheme_id: Some(scheme),
            price: Some(price),
            stock: Some(stock),
        };
        s.create_item(&staff, node.id, &form, "t").await.expect("item").id
    };
    let (item, dear) = (item("洗衣液", 10, 3).await, item("电饭煲", 1000, 5).await);
    let grid = &t["a1g1a"];
    let person = async |name: &str, id: &str| {
        let form = resident(name, &id_with_check(id), "", grid);
        s.create_person(&staff, &form, "t").await.expect("person").id
    };
    let zhang = person("张三", "44060419850315123").await;
    let li = person("李四", "44060419870101002").await;
    let u = s
        .add_user(
            "zhangsan",
            "张三",
            "Test-Passw0rd!",
            false,
            Role::Resident,
            Some(node.id),
        )
        .await
        .expect("user");
    s.link_person(&staff, u.id, zhang, "t").await.expect("link");
    let me = s.actor(u.id).await.expect("actor");
    let now = s.now();
    let form = gongjian_domain::volunteers::activities::ActivityForm {
        title: "楼道清洁".into(),
        kind: "volunteer".into(),
        place: "3栋".into(),
        starts_at: (now - chrono::TimeDelta::hours(1)).to_rfc3339(),
        ends_at: (now + chrono::TimeDelta::hours(1)).to_rfc3339(),
        capacity: "5".into(),
        signup_opens_at: (now - chrono::TimeDelta::hours(2)).to_rfc3339(),
        signup_closes_at: (now + chrono::TimeDelta::hours(1)).to_rfc3339(),
        ..Default::default()
    };
    let activity = s
        .create_activity(&staff, node.id, &form, "t")
        .await
        .expect("activity")
        .id;
    s.sign_up(&me, activity, None, "t").await.expect("sign up");
    World {
        staff,
        me,
        zhang,
        li,
        scheme,
        item,
        dear,
        activity,
    }
}

/// A store whose clock starts at 10:00 in China on a fixed day.
fn at_ten(s: &Store) -> Store {
    let ten = chrono::DateTime::parse_from_rfc3339("2026-06-10T10:00:00+08:00").expect("instant");
    s.clone().with_clock(gongjian_domain::clock::Clock::starting_at(
        ten.with_timezone(&chrono::Utc),
    ))
}

async fn rows_of(s: &Store, table: &str) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(s.pool())
        .await
        .expect("count")
}

/// An `Idempotency-Key` answers the first request again only when it is the same request: the
/// same key with another person, amount, source, item, quantity or memo — or from another
/// caller, or for another kind of write — is a conflict and writes nothing. On SQLite the rule
/// holds on the one-script path and on the general path alike; rows kept from before digests
/// were stored are still compared by kind and caller.
#[tokio::test]
async fn a_key_reused_for_another_request_is_a_conflict() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let base = at_ten(&db.store);
        let w = world(&base, &t).await;
        let mut paths = vec![("default", base.clone())];
        if db.store.engine() == gongjian_store::db::Engine::Sqlite {
            paths.push(("general", base.clone().with_general_path_only()));
        }
        for (path, s) in &paths {
            let key = |name: &str| format!("{path}-{name}-0001");
            let credit = async |person: i64, n: i64, source: &CreditSource, k: &str| {
                s.credit_points(&w.staff, source, person, w.scheme, pts(n), &key(k), "t")
                    .await
            };
            let first = credit(w.zhang, 30, &award("服务"), "credit").await.expect("credit");
            let again = credit(w.zhang, 30, &award("服务"), "credit").await.expect("replay");
            eq!(again.id, first.id);
            eq!(again.entries.len(), first.entries.len());
            let written = [
                rows_of(s, "point_transactions").await,
                rows_of(s, "point_entries").await,
            ];
            conflict(credit(w.zhang, 31, &award("服务"), "credit").await);
            conflict(credit(w.li, 30, &award("服务"), "credit").await);
            conflict(credit(w.zhang, 30, &award("其他"), "credit").await);
            conflict(credit(w.zhang, 30, &CreditSource::Order { order_id: 1 }, "credit").await);
            conflict(
                s.deduct_points(&w.staff, w.zhang, w.scheme, pts(30), "服务", &key("credit"), "t")
                    .await,
            );

            let deduct = async |n: i64, item: &str| {
                s.deduct_points(&w.staff, w.zhang, w.scheme, pts(n), item, &key("deduct"), "t")
                    .await
            };
            let d = deduct(2, "迟到").await.expect("deduct");
            eq!(deduct(2, " 迟到 ").await.expect("the same item, spaced").id, d.id);
            conflict(deduct(3, "迟到").await);
            conflict(deduct(2, "早退").await);

            let redeem = async |by: &Actor, person: Option<i64>, quantity: i64| {
                let input = RedeemInput {
                    item_id: w.item,
                    quantity,
                    person_id: person,
                };
                s.redeem(by, &input, &key("redeem"), "t").await
            };
            let r = redeem(&w.me, None, 1).await.expect("redeem");
            // The resident naming themselves asks for the same as leaving the person out.
            eq!(redeem(&w.me, Some(w.zhang), 1).await.expect("replay").id, r.id);
            conflict(redeem(&w.me, None, 2).await);
            conflict(redeem(&w.staff, Some(w.zhang), 1).await);
            let other_item = RedeemInput {
                item_id: w.dear,
                quantity: 1,
                person_id: None,
            };
            conflict(s.redeem(&w.me, &other_item, &key("redeem"), "t").await);

            let transfer = async |to: i64, amount: i64, donation: bool, memo: &str| {
                let input = TransferInput {
                    scheme_id: w.scheme,
                    to_person_id: to,
                    amount,
                    donation,
                    memo: memo.into(),
                };
                s.transfer_points(&w.me, &input, &key("transfer"), "t").await
            };
            let tr = transfer(w.li, 3, false, "给家人").await.expect("transfer");
            eq!(transfer(w.li, 3, false, "给家人").await.expect("replay").id, tr.id);
            conflict(transfer(w.li, 4, false, "给家人").await);
            conflict(transfer(w.li, 3, true, "给家人").await);
            conflict(transfer(w.li, 3, false, "别的").await);

            // Nothing the conflicts asked for was written; the books balance.
            eq!(rows_of(s, "redemptions").await, if *path == "default" { 1 } else { 2 });
            eq!(
                rows_of(s, "point_transactions").await,
                written[0] + 3 // the deduction, the redemption, the transfer
            );
            eq!(rows_of(s, "point_entries").await, written[1] + 6);
            check!(s.verify_ledger().await.expect("books").is_sound());
        }
        let s = &base;
        let each = 30 - 2 - 10 - 3;
        eq!(
            s.balance(&w.staff, w.scheme, w.zhang).await.expect("balance"),
            paths.len() as i64 * each
        );

        // A key kept from before digests were stored answers by kind and caller alone.
        sqlx::query("UPDATE point_transactions SET request_digest = '' WHERE idempotency_key = $1")
            .bind("default-credit-0001")
            .execute(s.pool())
            .await
            .expect("an old row");
        let old = s
            .credit_points(
                &w.staff,
                &award("服务"),
                w.zhang,
                w.scheme,
                pts(31),
                "default-credit-0001",
                "t",
            )
            .await
            .expect("an old key replays");
        eq!(old.entries.iter().map(|e| e.amount.abs()).max(), Some(30));
        conflict(
            s.deduct_points(&w.staff, w.zhang, w.scheme, pts(1), "迟到", "default-credit-0001", "t")
                .await,
        );

        // The database's refusals are told by their code on both engines.
        let refusal = async |sql: &str| {
            let e = sqlx::query(AssertSqlSafe(sql.to_string()))
                .execute(s.pool())
                .await
                .expect_err(sql);
            StoreError::from(e).db_failure()
        };
        use gongjian_store::error::DbFailure;
        eq!(
            refusal(&format!(
                "INSERT INTO point_transactions (idempotency_key, scheme_id, kind, created_at) \
                 VALUES ('default-credit-0001', {}, 'credit', '')",
                w.scheme
            ))
            .await,
            Some(DbFailure::Unique)
        );
        eq!(
            refusal(&format!("UPDATE shop_items SET stock = -1 WHERE id = {}", w.item)).await,
            Some(DbFailure::Check)
        );
        eq!(
            refusal("INSERT INTO point_entries (transaction_id, account_id, amount) VALUES (999999, 999999, 1)").await,
            Some(DbFailure::ForeignKey)
        );
        eq!(
            refusal(&format!(
                "INSERT INTO point_transactions (idempotency_key, scheme_id, kind, created_at) \
                 VALUES ('null-kind-0001', {}, NULL, '')",
                w.scheme
            ))
            .await,
            Some(DbFailure::NotNull)
        );
    })
    .await;
}

/// The same writes, in the same order, with what each answered: credits (opening accounts,
/// then on accounts that exist), repeats and a conflict, redemptions (one refused for stock,
/// one for points), a QR check-in and check-out, a deduction, a transfer and a donation, a
/// cancellation and a pick-up.
async fn ledger_story(s: &Store, w: &World) -> Vec<String> {
    let mut said = Vec::new();
    let mut note = |what: &str, r: Result<i64, StoreError>| {
        said.push(format!(
            "{what}: {}",
            r.map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string())
        ));
    };
    let credit = async |person: i64, n: i64, key: &str| {
        s.credit_points(&w.staff, &award("服务"), person, w.scheme, pts(n), key, "t")
            .await
            .map(|t| t.id)
    };
    let redeem = async |by: &Actor, item: i64, person: Option<i64>, quantity: i64, key: &str| {
        let input = RedeemInput {
            item_id: item,
            quantity,
            person_id: person,
        };
        s.redeem(by, &input, key, "t").await.map(|r| r.id)
    };
    let check = async |purpose| {
        let code = s.code_at(w.activity, purpose, s.now()).code;
        s.check_with_code(&w.me, w.activity, purpose, &code, "t")
            .await
            .map(|r| r.id)
    };
    use gongjian_domain::volunteers::attendance::Purpose;
    note("credit zhang", credit(w.zhang, 30, "path-c-0001").await);
    note("credit zhang", credit(w.zhang, 20, "path-c-0002").await);
    note("credit li", credit(w.li, 15, "path-c-0003").await);
    note("credit li", credit(w.li, 5, "path-c-0004").await);
    note("credit zhang", credit(w.zhang, 5, "path-c-0005").await);
    note("check in", check(Purpose::In).await);
    note("repeat", credit(w.zhang, 20, "path-c-0002").await);
    note("conflict", credit(w.zhang, 21, "path-c-0002").await);
    note("redeem", redeem(&w.me, w.item, None, 2, "path-r-0001").await);
    note("repeat", redeem(&w.me, w.item, None, 2, "path-r-0001").await);
    note(
        "no stock",
        redeem(&w.staff, w.item, Some(w.zhang), 2, "path-r-0002").await,
    );
    note(
        "deduct",
        s.deduct_points(&w.staff, w.zhang, w.scheme, pts(3), "迟到", "path-d-0001", "t")
            .await
            .map(|t| t.id),
    );
    note("redeem", redeem(&w.me, w.item, None, 1, "path-r-0003").await);
    let transfer = async |amount: i64, donation: bool, key: &str| {
        let input = TransferInput {
            scheme_id: w.scheme,
            to_person_id: w.li,
            amount,
            donation,
            memo: String::new(),
        };
        s.transfer_points(&w.me, &input, key, "t").await.map(|t| t.id)
    };
    note("transfer", transfer(7, false, "path-t-0001").await);
    note("donate", transfer(1, true, "path-t-0002").await);
    let first: Vec<i64> = sqlx::query_scalar("SELECT id FROM redemptions ORDER BY id")
        .fetch_all(s.pool())
        .await
        .expect("redemptions");
    note("cancel", s.cancel_redemption(&w.me, first[0], "t").await.map(|r| r.id));
    note("pick up", s.pick_up(&w.staff, first[1], "t").await.map(|r| r.id));
    note(
        "redeem li",
        redeem(&w.staff, w.item, Some(w.li), 1, "path-r-0004").await,
    );
    note("no points", redeem(&w.me, w.dear, None, 1, "path-r-0005").await);
    note("redeem", redeem(&w.me, w.item, None, 1, "path-r-0006").await);
    note("check out", check(Purpose::Out).await);
    note("credit zhang", credit(w.zhang, 1, "path-c-0006").await);
    note("credit li", credit(w.li, 2, "path-c-0007").await);
    said
}

/// What the ledger's writes left, table by table, without times and hashes. With
/// `ordinals`, the ids of transactions, entries, accounts and redemptions (and the references
/// to them) are replaced by their rank: PostgreSQL's identities skip the values of refused and
/// repeated inserts, SQLite's ids do not.
async fn ledger_rows(s: &Store, ordinals: bool) -> Vec<String> {
    let pool = s.pool();
    let rank = |ids: Vec<i64>| -> HashMap<i64, i64> {
        ids.into_iter()
            .enumerate()
            .map(|(i, id)| (id, if ordinals { i as i64 + 1 } else { id }))
            .collect()
    };
    let ids = async |table: &str| -> Vec<i64> {
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT id FROM {table} ORDER BY id")))
            .fetch_all(pool)
            .await
            .expect("ids")
    };
    let tx = rank(ids("point_transactions").await);
    let entry = rank(ids("point_entries").await);
    let account = rank(ids("point_accounts").await);
    let redemption = rank(ids("redemptions").await);
    let of = |m: &HashMap<i64, i64>, id: i64| m.get(&id).copied().unwrap_or(-id);
    // `point_tx:N` and `redemption:N` in audit objects and details, by rank.
    let refs = |text: &str| -> String {
        let mut out = String::new();
        for (i, part) in text.split(' ').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let mapped = [("point_tx:", &tx), ("redemption:", &redemption)]
                .iter()
                .find_map(|(prefix, m)| {
                    let n = part.strip_prefix(prefix)?.parse::<i64>().ok()?;
                    Some(format!("{prefix}{}", of(m, n)))
                });
            out.push_str(&mapped.unwrap_or_else(|| part.to_string()));
        }
        out
    };
    let mut rows = Vec::new();
    type TxRow = (i64, String, i64, String, String, String, String, Option<i64>, String);
    let txs: Vec<TxRow> = sqlx::query_as(
        "SELECT id, idempotency_key, scheme_id, kind, source, item, memo, actor_id, request_digest \
         FROM point_transactions ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("transactions");
    for (id, key, scheme, kind, source, item, memo, actor, digest) in txs {
        let source = refs(&source);
        rows.push(format!(
            "tx {} {key} s{scheme} {kind} [{source}] [{item}] [{memo}] {actor:?} {digest}",
            of(&tx, id)
        ));
    }
    let entries: Vec<(i64, i64, i64, i64)> =
        sqlx::query_as("SELECT id, transaction_id, account_id, amount FROM point_entries ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("entries");
    for (id, t, a, amount) in entries {
        rows.push(format!(
            "entry {} tx{} a{} {amount}",
            of(&entry, id),
            of(&tx, t),
            of(&account, a)
        ));
    }
    let accounts: Vec<(i64, i64, String, Option<i64>, i64, i64)> =
        sqlx::query_as("SELECT id, scheme_id, holder, person_id, node_id, balance FROM point_accounts ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("accounts");
    for (id, scheme, holder, person, node, balance) in accounts {
        rows.push(format!(
            "account {} s{scheme} {holder} {person:?} n{node} = {balance}",
            of(&account, id)
        ));
    }
    type RedemptionRow = (i64, i64, i64, i64, i64, i64, String, i64, Option<i64>, Option<i64>);
    let redemptions: Vec<RedemptionRow> = sqlx::query_as(
        "SELECT id, item_id, person_id, node_id, quantity, points, status, reserve_tx_id, cancel_tx_id, closed_by \
         FROM redemptions ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("redemptions");
    for (id, item, person, node, quantity, points, status, reserve, cancel, by) in redemptions {
        rows.push(format!(
            "redemption {} i{item} p{person} n{node} ×{quantity} {points} {status} tx{} {:?} {by:?}",
            of(&redemption, id),
            of(&tx, reserve),
            cancel.map(|c| of(&tx, c)),
        ));
    }
    let items: Vec<(i64, String, i64, i64, String)> =
        sqlx::query_as("SELECT id, name, price, stock, status FROM shop_items ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("items");
    for (id, name, price, stock, status) in items {
        rows.push(format!("item {id} {name} {price} stock {stock} {status}"));
    }
    type SignupRow = (i64, i64, i64, String, Option<String>, i64, i64);
    let signups: Vec<SignupRow> = sqlx::query_as(
        "SELECT id, activity_id, person_id, status, attendance_by, \
         CAST(CASE WHEN checked_in_at IS NULL THEN 0 ELSE 1 END AS BIGINT), \
         CAST(CASE WHEN checked_out_at IS NULL THEN 0 ELSE 1 END AS BIGINT) FROM activity_signups ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("sign-ups");
    for (id, activity, person, status, by, checked_in, checked_out) in signups {
        rows.push(format!(
            "signup {id} a{activity} p{person} {status} {by:?} {checked_in} {checked_out}"
        ));
    }
    type AuditRow = (
        i64,
        Option<i64>,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
    );
    let audit: Vec<AuditRow> = sqlx::query_as(
        "SELECT seq, actor_id, actor_name, roles, action, object, result, client_addr, operation_id, detail \
         FROM audit_log ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .expect("audit");
    for (seq, actor, name, roles, action, object, result, client, op, detail) in audit {
        rows.push(format!(
            "audit {seq} {actor:?} {name} [{roles}] {action} {} {result} {client} [{op}] [{}]",
            refs(&object),
            refs(&detail)
        ));
    }
    rows
}

/// SQLite's one-script path writes exactly what the general path writes — the same
/// transactions with the same ids, entries, balances, redemptions, stock, sign-ups and audit
/// entries — and answers the same; the story really went through the script (the store
/// counts its writes there). PostgreSQL, where every write takes the general path, writes the
/// same rows, up to the ids its identities skip.
#[tokio::test]
async fn the_one_script_path_writes_what_the_general_path_writes() {
    // What SQLite's one-script path answered and wrote (ids by rank), for PostgreSQL's run.
    type Written = (Vec<String>, Vec<String>);
    let sqlite_rows: std::cell::RefCell<Option<Written>> = std::cell::RefCell::new(None);
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let general = at_ten(&db.store).with_general_path_only();
        let w = world(&general, &t).await;
        let answers = ledger_story(&general, &w).await;
        eq!(general.fast_path_writes().total(), 0);
        check!(answers.iter().filter(|a| a.ends_with(": ok")).count() == 20);
        check!(general.verify_ledger().await.expect("books").is_sound());
        let rows = ledger_rows(&general, false).await;
        if db.store.engine() == gongjian_store::db::Engine::Postgres {
            let there = sqlite_rows.borrow().clone();
            let (answers_there, rows_there) = there.expect("SQLite's run comes first");
            eq!(answers, answers_there);
            let here = ledger_rows(&general, true).await;
            for (a, b) in here.iter().zip(&rows_there) {
                eq!(a, b);
            }
            eq!(here.len(), rows_there.len());
            return;
        }
        let other = open("sqlite").await;
        let t = build_tree(&other).await;
        let fast = at_ten(&other.store);
        let w = world(&fast, &t).await;
        let before = fast.fast_path_writes();
        eq!(ledger_story(&fast, &w).await, answers);
        let through = fast.fast_path_writes();
        // Credits and redemptions on accounts that exist, in one trip when the last write went
        // this way and in two after a write of the general path (the first credits, the
        // deduction, the transfers, the refusals written again the general way); the
        // check-in and the check-out.
        eq!(through.one_trip - before.one_trip, 4);
        eq!(through.two_trips - before.two_trips, 5);
        eq!(through.audited - before.audited, 2);
        let fast_rows = ledger_rows(&fast, false).await;
        for (a, b) in fast_rows.iter().zip(&rows) {
            eq!(a, b);
        }
        eq!(fast_rows.len(), rows.len());
        *sqlite_rows.borrow_mut() = Some((answers, ledger_rows(&fast, true).await));
        other.store.close().await;
    })
    .await;
}
