//! The audit chain against someone who can write to the database but holds neither the data key
//! nor the witness file: a forged entry appended, a tail cut off with the head moved back, a start
//! moved with its anchor; and what honest use looks like (a prune, entries of before the seal, a
//! key rotation).

use gongjian_domain::clock::Clock;
use gongjian_store::audit::{AuditEvent, AuditVerdict, Tamper};
use gongjian_store::crypto::Keyring;
use sha2::Digest;

use super::*;

/// The store of `db` sealing with `keys` and recording its head in a witness file in `dir`.
fn witnessed(db: &Db, keys: &Keyring, dir: &tempfile::TempDir) -> Store {
    let path = dir.path().join("audit.witness");
    db.store.clone().with_keyring(keys.clone()).with_audit_witness(path)
}

fn event(n: usize) -> AuditEvent {
    AuditEvent {
        actor_name: "clerk".into(),
        action: format!("test.{n}"),
        object: format!("thing:{n}"),
        result: "success".into(),
        client_addr: "192.0.2.1".into(),
        ..AuditEvent::default()
    }
}

async fn append(s: &Store, n: usize) {
    for i in 0..n {
        s.audit(&event(i)).await.expect("append");
    }
}

async fn run(s: &Store, sql: &str) {
    sqlx::query(AssertSqlSafe(sql.to_string()))
        .execute(s.pool())
        .await
        .unwrap_or_else(|e| panic!("[{}] {sql}: {e}", ENGINE.get()));
}

async fn hash_of(s: &Store, seq: i64) -> String {
    let q = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1").bind(seq);
    q.fetch_one(s.pool()).await.expect("hash")
}

/// The seal of an entry of before entries were sealed: the SHA-256 of its fields as a JSON
/// array — what anyone who can write to the database can compute.
fn sha256_of(seq: i64, at: &str, action: &str, prev: &str) -> String {
    let fields = serde_json::json!([
        seq,
        at,
        None::<i64>,
        "clerk",
        "",
        action,
        "",
        "success",
        "",
        "",
        "",
        prev
    ]);
    hex::encode(sha2::Sha256::digest(fields.to_string().as_bytes()))
}

/// Writes an entry as someone at the database would: its fields, `prev` before it, a SHA-256
/// seal, `key_id` as given, and moves the head to it.
async fn forge(s: &Store, seq: i64, key_id: Option<&str>) {
    let prev = hash_of(s, seq - 1).await;
    let at = "2026-12-04T08:00:00.000000Z";
    let hash = sha256_of(seq, at, "login", &prev);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_id, actor_name, roles, action, object, result, client_addr, \
         operation_id, detail, prev_hash, hash, key_id) \
         VALUES ($1, $2, NULL, 'clerk', '', 'login', '', 'success', '', '', '', $3, $4, $5)",
    )
    .bind(seq)
    .bind(at)
    .bind(&prev)
    .bind(&hash)
    .bind(key_id.map(str::to_string))
    .execute(s.pool())
    .await
    .expect("forge");
    let q = sqlx::query("UPDATE audit_head SET seq = $1, last_hash = $2 WHERE id = 1");
    q.bind(seq).bind(&hash).execute(s.pool()).await.expect("head");
}

#[track_caller]
fn broken(v: AuditVerdict) -> (i64, Tamper, String) {
    match v {
        AuditVerdict::Broken { seq, kind, problem } => (seq, kind, problem),
        other => panic!("[{}] expected a broken chain, got {other:?}", ENGINE.get()),
    }
}

#[track_caller]
fn intact(v: AuditVerdict) -> (i64, i64, i64, Option<i64>, Option<i64>) {
    match v {
        AuditVerdict::Intact {
            entries,
            first_seq,
            last_seq,
            unkeyed_to,
            witnessed_to,
        } => (entries, first_seq, last_seq, unkeyed_to, witnessed_to),
        other => panic!("[{}] expected an intact chain, got {other:?}", ENGINE.get()),
    }
}

async fn verdict(s: &Store) -> AuditVerdict {
    s.verify_audit().await.expect("verify")
}

#[tokio::test]
async fn an_appended_forgery_with_a_recomputed_sha256_is_named() {
    for_each_engine(async |db: &Db| {
        let keys = Keyring::ephemeral().expect("keys");
        let dir = tempfile::tempdir().expect("dir");
        let s = &witnessed(db, &keys, &dir);
        append(s, 4).await;
        eq!(intact(verdict(s).await), (4, 1, 4, None, None));

        // Unkeyed, as entries were before the seal: it cannot follow sealed entries.
        forge(s, 5, None).await;
        let (seq, kind, problem) = broken(verdict(s).await);
        eq!((seq, kind), (5, Tamper::Forged));
        check!(problem.contains("entry 5 is forged"));

        // Naming the data key does not help without it.
        run(s, "DELETE FROM audit_log WHERE seq = 5").await;
        forge(s, 5, Some(keys.current_id())).await;
        let (seq, kind, problem) = broken(verdict(s).await);
        eq!((seq, kind), (5, Tamper::Forged));
        check!(problem.contains("recomputed SHA-256"));

        // An honest entry after the forgery does not cover it.
        append(s, 1).await;
        eq!(broken(verdict(s).await).0, 5);
        // An altered sealed entry is named too.
        run(s, "DELETE FROM audit_log WHERE seq >= 5").await;
        run(s, "UPDATE audit_head SET seq = 4 WHERE id = 1").await;
        let h4 = hash_of(s, 4).await;
        run(s, &format!("UPDATE audit_head SET last_hash = '{h4}' WHERE id = 1")).await;
        eq!(intact(verdict(s).await).2, 4);
        run(s, "UPDATE audit_log SET detail = 'nothing' WHERE seq = 2").await;
        eq!(broken(verdict(s).await).0, 2);
        eq!(broken(verdict(s).await).1, Tamper::Altered);
    })
    .await;
}

#[tokio::test]
async fn a_cut_off_tail_is_found_against_the_witness() {
    for_each_engine(async |db: &Db| {
        let keys = Keyring::ephemeral().expect("keys");
        let dir = tempfile::tempdir().expect("dir");
        let s = &witnessed(db, &keys, &dir);
        append(s, 6).await;
        let head = s.witness_audit_head().await.expect("witness");
        eq!((head.seq, head.recorded), (6, true));
        // Unchanged, the head is not written again.
        check!(!s.witness_audit_head().await.expect("witness").recorded);
        let file = dir.path().join("audit.witness");
        let text = std::fs::read_to_string(&file).expect("witness file");
        eq!(text.lines().count(), 1);
        check!(text.starts_with(&format!("v1 6 {} 0 ", head.hash)));
        eq!(intact(verdict(s).await), (6, 1, 6, None, Some(6)));

        // The last two entries removed and the head moved back to the one before.
        let h4 = hash_of(s, 4).await;
        run(s, "DELETE FROM audit_log WHERE seq > 4").await;
        run(
            s,
            &format!("UPDATE audit_head SET seq = 4, last_hash = '{h4}' WHERE id = 1"),
        )
        .await;
        let (seq, kind, problem) = broken(verdict(s).await);
        eq!((seq, kind), (5, Tamper::Truncated));
        check!(problem.contains("entries 5–6 were removed"));
        // Without the witness the chain looks whole: what the witness is for.
        let blind = db.store.clone().with_keyring(keys.clone());
        eq!(intact(verdict(&blind).await), (4, 1, 4, None, None));

        // New entries after the cut are found too, while they do not reach the witnessed head…
        append(s, 1).await;
        eq!(broken(verdict(s).await).1, Tamper::Truncated);
        // …and once they pass it, entry 6 is not the one the witness saw.
        append(s, 1).await;
        let (seq, kind, _) = broken(verdict(s).await);
        eq!((seq, kind), (6, Tamper::Altered));

        // A witness line cannot be changed without the key.
        std::fs::write(&file, text.replacen("v1 6 ", "v1 3 ", 1)).expect("rewrite");
        let (_, kind, problem) = broken(verdict(s).await);
        eq!(kind, Tamper::Witness);
        check!(problem.contains("line 1 of the witness"));
    })
    .await;
}

#[tokio::test]
async fn a_moved_start_is_found() {
    for_each_engine(async |db: &Db| {
        let keys = Keyring::ephemeral().expect("keys");
        let dir = tempfile::tempdir().expect("dir");
        let s = &witnessed(db, &keys, &dir);
        append(s, 6).await;
        s.witness_audit_head().await.expect("witness");
        // The first three entries removed and the anchor moved after them.
        let h3 = hash_of(s, 3).await;
        run(s, "DELETE FROM audit_log WHERE seq <= 3").await;
        run(
            s,
            &format!("UPDATE audit_head SET pruned_to_seq = 3, pruned_hash = '{h3}' WHERE id = 1"),
        )
        .await;
        let (seq, kind, problem) = broken(verdict(s).await);
        eq!((seq, kind), (1, Tamper::MovedStart));
        check!(problem.contains("no recorded prune"));
        // Without the witness too: only a prune moves the start, and it leaves a sealed entry.
        let blind = db.store.clone().with_keyring(keys.clone());
        eq!(broken(verdict(&blind).await).1, Tamper::MovedStart);
    })
    .await;
}

#[tokio::test]
async fn an_honest_prune_verifies_and_a_start_moved_after_it_does_not() {
    for_each_engine(async |db: &Db| {
        let keys = Keyring::ephemeral().expect("keys");
        let dir = tempfile::tempdir().expect("dir");
        let start = chrono::DateTime::parse_from_rfc3339("2026-01-05T08:00:00Z").expect("time");
        let clock = Clock::starting_at(start.to_utc());
        let s = &witnessed(db, &keys, &dir).with_clock(clock.clone());
        append(s, 5).await;
        clock.advance(chrono::TimeDelta::days(200));
        append(s, 2).await;
        s.witness_audit_head().await.expect("witness");
        let by = AuditEvent {
            actor_name: "cli".into(),
            ..AuditEvent::default()
        };
        eq!(s.prune_audit(&by, 180).await.expect("prune"), 5);
        // The prune's entry (8) names the new start, and the witness recorded both.
        let text = std::fs::read_to_string(dir.path().join("audit.witness")).expect("witness");
        check!(text.lines().last().is_some_and(|l| l.starts_with("v1 8 ")));
        check!(text.lines().last().is_some_and(|l| l.split(' ').nth(3) == Some("5")));
        eq!(intact(verdict(s).await), (3, 6, 8, None, Some(8)));
        // Pruning again with nothing old enough still records the start.
        eq!(s.prune_audit(&by, 180).await.expect("prune"), 0);
        append(s, 2).await;
        s.witness_audit_head().await.expect("witness");
        eq!(intact(verdict(s).await), (6, 6, 11, None, Some(11)));

        // Two more entries removed from the start, the anchor moved after them.
        let h7 = hash_of(s, 7).await;
        run(s, "DELETE FROM audit_log WHERE seq <= 7").await;
        run(
            s,
            &format!("UPDATE audit_head SET pruned_to_seq = 7, pruned_hash = '{h7}' WHERE id = 1"),
        )
        .await;
        let (seq, kind, problem) = broken(verdict(s).await);
        eq!((seq, kind), (6, Tamper::MovedStart));
        check!(problem.contains("entries 6–7 were removed from the start"));
        // Past the prunes' own entries: no prune moved the start there, and the witness says so.
        let h9 = hash_of(s, 9).await;
        run(s, "DELETE FROM audit_log WHERE seq <= 9").await;
        run(
            s,
            &format!("UPDATE audit_head SET pruned_to_seq = 9, pruned_hash = '{h9}' WHERE id = 1"),
        )
        .await;
        eq!(broken(verdict(s).await).1, Tamper::MovedStart);
    })
    .await;
}

#[tokio::test]
async fn entries_of_before_the_seal_verify_as_unkeyed_and_a_rotated_key_still_verifies() {
    for_each_engine(async |db: &Db| {
        // Three entries as the log held them before entries were sealed.
        let mut prev = "0".repeat(64);
        for seq in 1..=3 {
            let at = format!("2026-06-0{seq}T08:00:00.000000Z");
            let hash = sha256_of(seq, &at, "login", &prev);
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor_id, actor_name, roles, action, object, result, client_addr, \
                 operation_id, detail, prev_hash, hash) \
                 VALUES ($1, $2, NULL, 'clerk', '', 'login', '', 'success', '', '', '', $3, $4)",
            )
            .bind(seq)
            .bind(&at)
            .bind(&prev)
            .bind(&hash)
            .execute(db.store.pool())
            .await
            .expect("old entry");
            prev = hash;
        }
        run(
            &db.store,
            &format!("UPDATE audit_head SET seq = 3, last_hash = '{prev}' WHERE id = 1"),
        )
        .await;

        let (old, new) = ("ab".repeat(32), "cd".repeat(32));
        let first = Keyring::parse(&old).expect("old key");
        let s = db.store.clone().with_keyring(first.clone());
        append(&s, 2).await;
        eq!(intact(verdict(&s).await), (5, 1, 5, Some(3), None));

        // After a rotation new entries take the new key; the old one still checks its entries.
        let rotated = Keyring::parse(&format!("{new}\n{old}")).expect("rotated");
        let s = db.store.clone().with_keyring(rotated);
        append(&s, 2).await;
        eq!(intact(verdict(&s).await), (7, 1, 7, Some(3), None));
        let ids: Vec<Option<String>> = sqlx::query_scalar("SELECT key_id FROM audit_log ORDER BY seq")
            .fetch_all(s.pool())
            .await
            .expect("key ids");
        let (a, b) = (
            Some(first.current_id().to_string()),
            Some(s.keyring().current_id().to_string()),
        );
        eq!(ids, [None, None, None, a.clone(), a, b.clone(), b]);
        // Without the old key its entries cannot be checked, and verification says so.
        let only_new = db.store.clone().with_keyring(Keyring::parse(&new).expect("new key"));
        let (seq, kind, _) = broken(verdict(&only_new).await);
        eq!((seq, kind), (4, Tamper::UnknownKey));

        // An old entry altered is still found; a sealed one turned back into an unkeyed one too.
        run(&s, "UPDATE audit_log SET detail = 'x' WHERE seq = 2").await;
        eq!(broken(verdict(&s).await).0, 2);
        run(&s, "UPDATE audit_log SET detail = '' WHERE seq = 2").await;
        let h6 = hash_of(&s, 6).await;
        let at7: String = sqlx::query_scalar("SELECT at FROM audit_log WHERE seq = 7")
            .fetch_one(s.pool())
            .await
            .expect("at");
        let unkeyed = sha256_of(7, &at7, "login", &h6);
        run(
            &s,
            &format!(
                "UPDATE audit_log SET key_id = NULL, actor_name = 'clerk', roles = '', action = 'login', \
                 object = '', client_addr = '', hash = '{unkeyed}' WHERE seq = 7"
            ),
        )
        .await;
        run(
            &s,
            &format!("UPDATE audit_head SET last_hash = '{unkeyed}' WHERE id = 1"),
        )
        .await;
        let (seq, kind, _) = broken(verdict(&s).await);
        eq!((seq, kind), (7, Tamper::Forged));
    })
    .await;
}
