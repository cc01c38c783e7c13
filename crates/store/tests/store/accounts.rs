//! Accounts and sessions: one-time password, login, lockout, password changes.

use super::*;

const WRONG: &str = "Wrong-password-1";
const CLIENT: &str = "192.0.2.1";

/// A login from the test client: the session, or `None` when refused as invalid.
async fn login(s: &Store, username: &str, password: &str) -> Option<NewSession> {
    match s.login(username, password, CLIENT).await.expect("login") {
        LoginOutcome::Success(new) => Some(new),
        LoginOutcome::Invalid => None,
        other => panic!("[{}] unexpected {other:?}", ENGINE.get()),
    }
}

#[tokio::test]
async fn accounts_and_sessions() {
    for_each_engine(async |db: &Db| {
        let s = &db.store;
        let policy = SessionPolicy::default();
        let pw = s.ensure_admin().await.unwrap().expect("password");
        eq!(s.ensure_admin().await.unwrap(), None);
        eq!(s.user_count().await.unwrap(), 1);

        check!(login(s, "admin", WRONG).await.is_none());
        check!(login(s, "nobody", &pw).await.is_none());
        let new = login(s, "admin", &pw).await.expect("login");
        check!(new.must_change_password);
        let info = s.session(&new.token, policy).await.unwrap().expect("session");
        eq!(info.csrf_token, new.csrf_token);
        check!(info.must_change_password && !info.is_complete());
        eq!(info.actor.username, "admin");
        eq!(info.actor.grants, admin().grants);
        check!(s.session("not-a-token", policy).await.unwrap().is_none());

        let (actor, good) = (info.actor, "Gj-2026-strong");
        let change = async |current: &str, new: &str, confirm: &str| {
            s.change_password(&actor, current, new, confirm, CLIENT).await
        };
        refused(change(&pw, "weak", "weak").await, "new_password", "至少 10 个字符");
        refused(change(WRONG, good, good).await, "current", "当前密码不正确");
        let r = change(&pw, good, "Gj-2026-other").await;
        refused(r, "confirm", "两次输入的新密码不一致");
        change(&pw, good, good).await.unwrap();
        let r = change(good, &pw, &pw).await;
        refused(r, "new_password", "不能与当前密码或最近 5 次用过的密码相同");

        let info = s.session(&new.token, policy).await.unwrap();
        check!(!info.expect("session").must_change_password);
        eq!(s.user(actor.user_id).await.unwrap().must_change_password, 0);
        check!(login(s, "admin", &pw).await.is_none());
        let again = login(s, "admin", good).await.expect("login");
        check!(!again.must_change_password);
        s.logout(&again.token, CLIENT).await.unwrap();
        check!(s.session(&again.token, policy).await.unwrap().is_none());
        check!(s.session(&new.token, policy).await.unwrap().is_some());

        // Five failures lock the account, even against the right password.
        for _ in 0..LOCKOUT_FAILURES {
            s.login("admin", WRONG, CLIENT).await.unwrap();
        }
        let r = s.login("admin", good, CLIENT).await.unwrap();
        check!(matches!(r, LoginOutcome::Locked));
    })
    .await;
}
