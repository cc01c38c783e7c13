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
        // The same key by another writer, or for another kind, is refused.
        refused(
            s.deduct_points(&staff, zhang.id, scheme.id, pts(1), "迟到", "hours-1-zs", "t")
                .await,
            "idempotency_key",
            "幂等键",
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
        let month = chrono::Utc::now().format("%Y-%m").to_string();
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
        let other = Store::connect(&db.url).await.expect("second store");
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
