//! The `gongjian` binary as an operator runs it: migrate, accounts, tokens, audit
//! verification against a tampered log, the default configuration, demo loading.

use std::path::Path;
use std::process::{Command, Output};

fn gongjian(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gongjian"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("GONGJIAN_DATA_KEY")
        .env_remove("GONGJIAN_CONFIG")
        .env("RUST_LOG", "error")
        .output()
        .expect("run gongjian")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

async fn sql(data: &Path, statement: &str) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", data.join("gongjian.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open the database file");
    sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&mut conn)
        .await
        .expect(statement);
    conn.close().await.expect("close");
}

#[tokio::test]
async fn audit_verify_names_an_altered_and_a_deleted_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    assert!(gongjian(data, &["migrate"]).status.success());
    for name in ["alice", "bob", "carol", "dave"] {
        let o = gongjian(data, &["user", "add", name, "--role", "org_department"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(stdout(&o).contains("一次性密码"));
    }
    let ok = gongjian(data, &["audit", "verify"]);
    assert!(ok.status.success());
    assert!(
        stdout(&ok).contains("audit log intact: 4 entries (1–4)"),
        "{}",
        stdout(&ok)
    );

    sql(data, "UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 2").await;
    let altered = gongjian(data, &["audit", "verify"]);
    assert_eq!(altered.status.code(), Some(1));
    assert!(stdout(&altered).contains("BROKEN at entry 2"), "{}", stdout(&altered));
    assert!(stdout(&altered).contains("altered"));

    // Deletion, on a fresh log.
    let dir2 = tempfile::tempdir().unwrap();
    let data2 = dir2.path();
    for name in ["alice", "bob", "carol"] {
        assert!(
            gongjian(data2, &["user", "add", name, "--role", "org_department"])
                .status
                .success()
        );
    }
    sql(data2, "DELETE FROM audit_log WHERE seq = 2").await;
    let deleted = gongjian(data2, &["audit", "verify"]);
    assert_eq!(deleted.status.code(), Some(1));
    assert!(stdout(&deleted).contains("entry 2 is missing"), "{}", stdout(&deleted));
}

#[tokio::test]
async fn token_create_prints_only_the_token_and_the_data_key_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    assert!(
        gongjian(data, &["user", "add", "robot", "--role", "org_department"])
            .status
            .success()
    );
    let o = gongjian(
        data,
        &["token", "create", "--user", "robot", "--scope", "read", "--days", "7"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    let token = out.trim();
    assert!(
        token.starts_with("gjt_") && token.len() == 44 && !token.contains(' '),
        "{out}"
    );
    let unknown = gongjian(data, &["token", "create", "--user", "nobody"]);
    assert!(!unknown.status.success());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("data.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn default_config_is_annotated_and_unknown_schemes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = gongjian(dir.path(), &["default-config"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("listen = \"127.0.0.1:8080\""));
    let bad = gongjian(dir.path(), &["--database-url", "mysql://localhost/x", "migrate"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unsupported database URL scheme"));
}

#[test]
fn the_small_demo_loads_with_the_seed_grid_counts() {
    let dir = tempfile::tempdir().unwrap();
    let o = gongjian(dir.path(), &["demo", "--city", "foshan"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(
        out.contains("5 区, 32 街道(镇), 809 社区(一级网格), 5302 二级网格, 10721 三级网格"),
        "{out}"
    );
    assert!(
        out.contains("双报到: 861 个驻区单位, 1618 名党员, 1618 名在职党员报到, 884 名干部选派或下沉"),
        "{out}"
    );
    let again = gongjian(dir.path(), &["demo", "--city", "foshan"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("已经存在"));
}
