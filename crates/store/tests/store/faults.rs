//! Faults of the storage: a full database, a transaction the database ended by itself, a
//! transaction block that sqlx did not count. No pooled connection keeps a transaction into its
//! next use, and writes succeed again as soon as the cause is gone.

use gongjian_domain::points::{CreditSource, Points};
use gongjian_store::audit::{AuditEvent, AuditVerdict};

use super::people::{id_with_check, resident};
use super::points::scheme_with_item;
use super::*;

/// SQLite's largest `max_page_count`: no limit.
const NO_LIMIT: i64 = 1_073_741_823;

/// Whether `r` failed because the database is full.
fn full<T>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(e) if e.storage_fault() == Some("the database or its disk is full"))
}

/// SQLite: every connection of the store is limited to the database's present size
/// (`max_page_count` is a connection's own setting and cannot go below the size), so the next
/// write that needs a page more fails with `SQLITE_FULL`, as on a full disk; a connection the
/// pool opens later has no limit. SQLite then rolls the whole transaction back itself, and the
/// dropped transaction's `ROLLBACK` fails: before the pool closed such connections, each came
/// back counted inside a transaction and refused every later write ("attempted to call
/// begin_with at non-zero transaction depth") until a restart. Each kind of write — a general
/// one (`begin_write`), an audit append, a points credit (the ledger writer's own connection)
/// — runs into the full database, then all of them succeed again on every connection once the
/// limit is lifted, and the books and the audit chain are sound.
#[tokio::test]
async fn writes_succeed_again_once_a_full_database_has_room() {
    ENGINE.set("sqlite");
    let db = open("sqlite").await;
    let t = build_tree(&db).await;
    let (s, me) = (&db.store, &admin());
    let staff = scoped(Role::CommunityStaff, &t["a1"]);
    let (scheme, _) = scheme_with_item(s, &staff, t["a1"].id, "雨伞", 5, 5).await;
    let form = resident("满盘", &id_with_check("44060419900303001"), "", &t["a1g1a"]);
    let holder = s.create_person(&staff, &form, "t").await.expect("person").id;
    let award = CreditSource::Award { item: "服务".into() };
    let one = Points::new(1).expect("points");
    let mut credited = 0;
    let mut n = 0;
    let mut write = async |what: usize| -> StoreResult<()> {
        n += 1;
        match what {
            0 => s
                .create_node(me, &inp(&t["a1"], "", &format!("满{n}"), "estate"))
                .await
                .map(drop),
            1 => s
                .audit(&AuditEvent::by(me, "test.write", format!("fault:{n}"), "t"))
                .await
                .map(drop),
            _ => {
                let key = format!("full-credit-{n:06}");
                let r = s.credit_points(&staff, &award, holder, scheme.id, one, &key, "t").await;
                credited += i64::from(r.is_ok());
                r.map(drop)
            }
        }
    };
    write(2)
        .await
        .expect("the first credit opens the account and the ledger writer");

    let limit = |pages: i64| format!("PRAGMA max_page_count = {pages}");
    s.on_every_connection(&limit(1)).await.expect("limit every connection");
    let mut refused = [0; 3];
    for _ in 0..400 {
        if refused.iter().all(|&r| r >= 2) {
            break;
        }
        for (what, times) in refused.iter_mut().enumerate() {
            let r = write(what).await;
            if full(&r) {
                *times += 1;
                // Full again for every connection, also the ones opened since.
                s.on_every_connection(&limit(1)).await.expect("limit every connection");
            } else if let Err(e) = r {
                panic!("write {what} on a full database failed otherwise: {e:?}");
            }
        }
    }
    assert!(
        refused.iter().all(|&r| r >= 2),
        "every kind of write met the full database twice: {refused:?}"
    );

    s.on_every_connection(&limit(NO_LIMIT)).await.expect("room again");
    // Three rounds of the pool's eight connections: each of them is used.
    for round in 0..24 {
        for what in 0..3 {
            if let Err(e) = write(what).await {
                panic!("write {what} (round {round}) after the database has room again: {e:?}");
            }
        }
    }
    eq!(s.balance(&staff, scheme.id, holder).await.expect("balance"), credited);
    check!(s.verify_ledger().await.expect("verify ledger").is_sound());
    let verdict = s.verify_audit().await.expect("verify audit");
    check!(matches!(verdict, AuditVerdict::Intact { .. }));
    s.close().await;
}

/// The database ends a transaction itself (as SQLite does on a full disk or a failed write):
/// sqlx still counts it and the dropped transaction's rollback fails. The connection does not
/// come back to the pool: every later transaction begins. On PostgreSQL also a transaction
/// block that sqlx did not count (a `BEGIN` whose caller was cancelled before the answer came):
/// no connection is handed out inside it.
#[tokio::test]
async fn no_connection_carries_a_transaction_into_its_next_use() {
    for_each_engine(async |db: &Db| {
        let s = &db.store;
        let connections = s.pool().options().get_max_connections();
        let mut tx = s.begin_write().await.expect("begin");
        sqlx::query("ROLLBACK")
            .execute(&mut *tx)
            .await
            .expect("rollback behind sqlx");
        drop(tx);
        for round in 0..3 * connections {
            let tx = s.begin_write().await;
            let tx = tx.unwrap_or_else(|e| panic!("[{}] begin (round {round}): {e:?}", ENGINE.get()));
            tx.commit().await.expect("commit");
        }

        if s.engine() == gongjian_store::Engine::Postgres {
            let mut conn = s.pool().acquire().await.expect("acquire");
            sqlx::raw_sql("BEGIN")
                .execute(&mut *conn)
                .await
                .expect("begin behind sqlx");
            drop(conn);
            let mut held = Vec::new();
            for _ in 0..connections {
                let mut conn = s.pool().acquire().await.expect("acquire");
                let check = sqlx::raw_sql("SELECT statement_timestamp() = transaction_timestamp() AS outside");
                let row = check.fetch_one(&mut *conn).await.expect("check");
                let outside: bool = sqlx::Row::try_get(&row, "outside").expect("outside");
                check!(outside);
                held.push(conn);
            }
            drop(held);
            s.audit(&AuditEvent::by(&admin(), "test.write", "fault:pg", "t"))
                .await
                .expect("write");
        }
    })
    .await;
}
