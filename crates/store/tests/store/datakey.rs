//! The data key: the database records which key encrypted it and refuses a missing or another
//! one; a rotation moves every encrypted value and keyed hash to the new key, so the same
//! people are found again, and carries on when run again after an interruption.

use gongjian_store::crypto::{KeyOrigin, Keyring};
use gongjian_store::datakey::{RotateOptions, RotationReport};
use gongjian_store::imports::{ImportKind, ImportOptions, ImportReport, OnDuplicate};
use gongjian_store::people::Sensitive;

use super::people::id_with_check;
use super::*;

/// The `i`-th resident's ID and mobile numbers.
fn numbers(i: usize) -> (String, String) {
    (
        id_with_check(&format!("44060419850315{:03}", 100 + i)),
        format!("1380013{:04}", 1000 + i),
    )
}

/// A residents file of `n` people in `grid`.
fn residents_csv(grid: &Node, n: usize) -> Vec<u8> {
    let mut csv = String::from("姓名,身份证号,手机号码,网格编码\n");
    for i in 0..n {
        let (id, mobile) = numbers(i);
        csv.push_str(&format!("居民{i},{id},{mobile},{}\n", grid.code));
    }
    csv.into_bytes()
}

async fn import_csv(s: &Store, kind: ImportKind, bytes: &[u8]) -> ImportReport {
    let options = ImportOptions {
        kind,
        on_duplicate: OnDuplicate::Skip,
        commit: true,
        at: None,
    };
    let none = |_: &str, _: u64, _: u64| {};
    let r = s.import(&admin(), "名单.csv", bytes, options, "t", &none).await;
    r.unwrap_or_else(|e| panic!("[{}] import: {e:?}", ENGINE.get()))
}

/// The key in the key file of `dir`.
fn key_file(dir: &std::path::Path) -> Option<(Keyring, KeyOrigin)> {
    Keyring::find(dir).expect("key file")
}

async fn rotate(s: &Store, dir: &std::path::Path, options: RotateOptions) -> (Store, RotationReport) {
    let none = |_: &str, _: u64, _: u64| {};
    let r = s.clone().rotate_data_key(key_file(dir), dir, options, &none).await;
    r.unwrap_or_else(|e| panic!("[{}] rotate: {e:?}", ENGINE.get()))
}

#[track_caller]
fn refused_with(r: StoreResult<Store>, fragments: &[&str]) {
    let engine = ENGINE.get();
    match r {
        Err(e) => {
            let m = e.to_string();
            for f in fragments {
                assert!(m.contains(f), "[{engine}] “{m}” lacks “{f}”");
            }
        }
        Ok(_) => panic!("[{engine}] expected a refusal naming {fragments:?}"),
    }
}

/// Values of every encrypted column not under the key `id`.
async fn not_under(db: &Db, id: &str) -> i64 {
    let mut n = 0;
    for c in gongjian_store::datakey::ENCRYPTED_COLUMNS {
        let sql = format!(
            "SELECT COUNT(*) FROM {} WHERE {ct} IS NOT NULL AND {ct} NOT LIKE 'v1.{id}.%'",
            c.table,
            ct = c.ciphertext
        );
        n += db.scalar(&sql).await;
    }
    n
}

/// The people found by a whole ID or mobile number.
async fn found(s: &Store, q: &str) -> Vec<String> {
    let page = s.search_people(&admin(), q, None, None, 10).await.unwrap();
    page.items.into_iter().map(|p| p.name).collect()
}

#[tokio::test]
async fn after_a_rotation_the_same_people_are_found_deduplicated_and_revealed() {
    for_each_engine(async |db| {
        let dir = tempfile::tempdir().unwrap();
        // A fresh database: the first start makes the key file and records the key.
        let s = db.store.clone().unlock_with(None, dir.path()).await.unwrap();
        let old = s.keyring().current_id().to_string();
        check!(dir.path().join("data.key").exists());
        eq!(s.recorded_data_key().await.unwrap(), Some((old.clone(), None)));

        let t = build_tree(db).await;
        let people = residents_csv(&t["a1g1a"], 4);
        eq!(import_csv(&s, ImportKind::Residents, &people).await.inserted, 4);
        let units =
            "单位名称,所在社区/街道,单位类型,联系人,联系电话\n某科技有限公司,升平社区,民营企业,张经理,13900002222\n";
        eq!(import_csv(&s, ImportKind::Units, units.as_bytes()).await.inserted, 1);
        let role = Role::SecurityAdmin;
        s.add_user("wang", "王", "Gongjian-2026!", false, role, None)
            .await
            .unwrap();
        let wang = s.actor_by_name("wang").await.unwrap();
        let totp = s.begin_totp(&wang).await.unwrap().secret;
        // An upload waiting between its preview and its commit: the file and the preview.
        let preview = ImportReport::default();
        let upload = s.stash_import(&wang, "居民.csv", &people, &preview).await.unwrap();
        eq!(not_under(db, &old).await, 0);

        let old_keys = s.keyring().clone();
        let progress = std::sync::Mutex::new(Vec::new());
        let record = |column: &str, done: u64, total: u64| {
            progress.lock().unwrap().push(format!("{column} {done}/{total}"));
        };
        let options = RotateOptions {
            batch: 3,
            max_batches: None,
        };
        let r = s
            .clone()
            .rotate_data_key(key_file(dir.path()), dir.path(), options, &record)
            .await;
        let (s, report) = r.unwrap();
        let new = s.keyring().current_id().to_string();
        check!(new != old);
        eq!(
            report,
            RotationReport {
                from: old.clone(),
                to: new.clone(),
                reencrypted: 12,
                finished: true
            }
        );
        // In batches of three, with progress per column.
        let progress = progress.into_inner().unwrap();
        for line in [
            "persons.id_number_enc 0/4",
            "persons.id_number_enc 3/4",
            "persons.id_number_enc 4/4",
            "persons.mobile_enc 4/4",
            "unit_contacts.mobile_enc 1/1",
            "users.totp_secret 1/1",
            "imports.report 1/1",
            "imports.payload 1/1",
        ] {
            check!(progress.iter().any(|l| l == line));
        }
        // The upload moved too, and still opens.
        let stored: Vec<u8> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT payload FROM imports WHERE id = {upload}"
        )))
        .fetch_one(db.store.pool())
        .await
        .unwrap();
        check!(stored.starts_with(format!("v1.{new}.").as_bytes()));
        eq!(
            s.stashed_import(&wang, upload).await.unwrap().payload,
            Some(people.clone())
        );
        eq!(not_under(db, &new).await, 0);
        eq!(s.recorded_data_key().await.unwrap(), Some((new.clone(), None)));

        // The same file again finds the same people; search by number and reveal still work.
        let again = import_csv(&s, ImportKind::Residents, &people).await;
        eq!((again.inserted, again.unchanged), (0, 4));
        eq!(db.scalar("SELECT COUNT(*) FROM persons").await, 4);
        let (id, mobile) = numbers(2);
        eq!(found(&s, &id).await, vec!["居民2".to_string()]);
        eq!(found(&s, &mobile).await, vec!["居民2".to_string()]);
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let person = db.scalar("SELECT id FROM persons WHERE name = '居民2'").await;
        let shown = s.reveal(&staff, person, Sensitive::IdNumber, "t").await.unwrap();
        eq!(shown, Some(id));
        let shown = s.reveal(&staff, person, Sensitive::Mobile, "t").await.unwrap();
        eq!(shown, Some(mobile));
        let unit = db.scalar("SELECT id FROM units").await;
        let contact = db.scalar("SELECT id FROM unit_contacts").await;
        let shown = s.reveal_contact(&staff, unit, contact, "t").await.unwrap();
        eq!(shown.as_deref(), Some("13900002222"));
        let pending = s.pending_totp(&wang).await.unwrap().map(|t| t.secret);
        eq!(pending, Some(totp));
        let units_again = import_csv(&s, ImportKind::Units, units.as_bytes()).await;
        eq!((units_again.inserted, units_again.unchanged), (0, 1));
        check!(
            db.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'key.rotate'")
                .await
                == 1
        );

        // The key file now opens the database; the old key alone no longer does.
        let reopened = db.store.clone().unlock_with(key_file(dir.path()), dir.path()).await;
        eq!(reopened.unwrap().keyring().current_id(), new.as_str());
        let old_alone = Some((old_keys, KeyOrigin::Env));
        refused_with(
            db.store.clone().unlock_with(old_alone, dir.path()).await,
            &[
                "not this database's key",
                &format!("key id expected {new}, found {old}"),
            ],
        );
    })
    .await;
}

#[tokio::test]
async fn an_interrupted_rotation_is_finished_by_running_it_again() {
    for_each_engine(async |db| {
        let dir = tempfile::tempdir().unwrap();
        let s = db.store.clone().unlock_with(None, dir.path()).await.unwrap();
        let old = s.keyring().current_id().to_string();
        let t = build_tree(db).await;
        let people = residents_csv(&t["a1g1a"], 3);
        eq!(import_csv(&s, ImportKind::Residents, &people).await.inserted, 3);

        // Cut short after one row.
        let one = RotateOptions {
            batch: 1,
            max_batches: Some(1),
        };
        let (mid, report) = rotate(&s, dir.path(), one).await;
        let new = mid.keyring().current_id().to_string();
        eq!((report.reencrypted, report.finished), (1, false));
        eq!(
            s.recorded_data_key().await.unwrap(),
            Some((old.clone(), Some(new.clone())))
        );
        eq!(not_under(db, &new).await, 5);
        // Meanwhile every value still decrypts (the old key stays in the key file) …
        let person = db.scalar("SELECT MAX(id) FROM persons").await;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let shown = mid.reveal(&staff, person, Sensitive::IdNumber, "t").await.unwrap();
        eq!(shown, Some(numbers(2).0));
        // … but nothing else starts until the rotation is done.
        let waiting = db.store.clone().unlock_with(key_file(dir.path()), dir.path()).await;
        refused_with(waiting, &["unfinished", "gongjian key rotate", &old, &new]);

        // Run again: it carries on with the same new key and finishes.
        let (done, report) = rotate(&s, dir.path(), RotateOptions::default()).await;
        eq!(done.keyring().current_id(), new.as_str());
        eq!(
            report,
            RotationReport {
                from: old.clone(),
                to: new.clone(),
                reencrypted: 5,
                finished: true
            }
        );
        eq!(not_under(db, &new).await, 0);
        let s = db
            .store
            .clone()
            .unlock_with(key_file(dir.path()), dir.path())
            .await
            .unwrap();
        let again = import_csv(&s, ImportKind::Residents, &people).await;
        eq!((again.inserted, again.unchanged), (0, 3));
        eq!(found(&s, &numbers(0).1).await, vec!["居民0".to_string()]);
    })
    .await;
}

#[tokio::test]
async fn a_missing_or_another_key_is_refused_and_an_older_database_adopts_its_own() {
    for_each_engine(async |db| {
        // A database from before the key was recorded, with values under the key `mine`.
        let t = build_tree(db).await;
        let mine = db.store.keyring().clone();
        let id = mine.current_id().to_string();
        eq!(
            import_csv(&db.store, ImportKind::Residents, &residents_csv(&t["a1g1a"], 2))
                .await
                .inserted,
            2
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.key").display().to_string();
        let other = Keyring::ephemeral().unwrap();
        let other_id = other.current_id().to_string();

        // No key: refused, naming the key expected and where to restore it; no key file made.
        let none = db.store.clone().unlock_with(None, dir.path()).await;
        refused_with(none, &["missing", &id, "found none", &path, "GONGJIAN_DATA_KEY"]);
        check!(!dir.path().join("data.key").exists());
        // Another key: refused.
        let wrong = Some((other.clone(), KeyOrigin::Env));
        refused_with(
            db.store.clone().unlock_with(wrong, dir.path()).await,
            &["GONGJIAN_DATA_KEY", &id, &other_id, &path],
        );
        eq!(db.store.recorded_data_key().await.unwrap(), None);

        // Its own key is adopted and recorded.
        let origin = KeyOrigin::File(dir.path().join("data.key"));
        let s = db
            .store
            .clone()
            .unlock_with(Some((mine.clone(), origin.clone())), dir.path())
            .await;
        eq!(s.unwrap().keyring().current_id(), id.as_str());
        eq!(db.store.recorded_data_key().await.unwrap(), Some((id.clone(), None)));

        // From now on, another key or none is refused.
        let wrong = Some((other.clone(), origin));
        refused_with(
            db.store.clone().unlock_with(wrong, dir.path()).await,
            &[
                "not this database's key",
                &format!("key id expected {id}, found {other_id}"),
                &path,
            ],
        );
        refused_with(
            db.store.clone().unlock_with(None, dir.path()).await,
            &["missing", &format!("key id expected {id}, found none"), &path],
        );
        check!(!dir.path().join("data.key").exists());

        // A key from GONGJIAN_DATA_KEY is rotated by putting the new key first in it.
        let none = |_: &str, _: u64, _: u64| {};
        let options = RotateOptions::default();
        let same = Some((mine.clone(), KeyOrigin::Env));
        let r = db.store.clone().rotate_data_key(same, dir.path(), options, &none).await;
        refused_with(r.map(|(s, _)| s), &["put a new key", "GONGJIAN_DATA_KEY"]);
        let given = mine.with_new_current().unwrap();
        let next = given.current_id().to_string();
        let env = Some((given, KeyOrigin::Env));
        let (_, report) = db
            .store
            .clone()
            .rotate_data_key(env, dir.path(), options, &none)
            .await
            .unwrap();
        eq!(
            (report.to.as_str(), report.reencrypted, report.finished),
            (next.as_str(), 4, true)
        );
        eq!(db.store.recorded_data_key().await.unwrap(), Some((next.clone(), None)));
        eq!(not_under(db, &next).await, 0);
        check!(!dir.path().join("data.key").exists());
    })
    .await;
}
