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
        // Every run at one instant (10:00 China time), whatever the hour of the test.
        .env("GONGJIAN__CLOCK_START", "2026-11-16T10:00:00+08:00")
        .env("RUST_LOG", "error")
        .output()
        .expect("run gongjian")
}

/// [`gongjian`] with `GONGJIAN_DATA_KEY` set to `key`.
fn gongjian_with_key(data: &Path, args: &[&str], key: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gongjian"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("GONGJIAN_DATA_KEY", key)
        .env_remove("GONGJIAN_CONFIG")
        .env("RUST_LOG", "error")
        .output()
        .expect("run gongjian")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
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
async fn audit_verify_names_a_forgery_a_cut_off_tail_and_a_moved_start() {
    let add = |data: &Path, names: &[&str]| {
        for name in names {
            let o = gongjian(data, &["user", "add", name, "--role", "org_department"]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
    };
    let broken = |data: &Path, what: &str| {
        let o = gongjian(data, &["audit", "verify"]);
        assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
        assert!(stdout(&o).contains(what), "expected “{what}”: {}", stdout(&o));
    };

    // A cut-off tail, found against the witness that the last verification wrote.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    add(data, &["alice", "bob", "carol", "dave"]);
    let first = gongjian(data, &["audit", "verify"]);
    assert!(stdout(&first).contains("no witness in"), "{}", stdout(&first));
    add(data, &["erin", "frank"]);
    let ok = gongjian(data, &["audit", "verify"]);
    assert!(ok.status.success(), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("head 4 recorded"), "{}", stdout(&ok));
    let witness = std::fs::read_to_string(data.join("audit.witness")).expect("the witness file");
    assert_eq!(witness.lines().count(), 2, "{witness}");
    sql(data, "DELETE FROM audit_log WHERE seq > 4").await;
    sql(
        data,
        "UPDATE audit_head SET seq = 4, last_hash = (SELECT hash FROM audit_log WHERE seq = 4) WHERE id = 1",
    )
    .await;
    broken(data, "BROKEN at entry 5 (truncated): the log was cut off after entry 4");

    // An appended entry without the key.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    add(data, &["alice", "bob", "carol"]);
    sql(
        data,
        "INSERT INTO audit_log SELECT 4, at, actor_id, actor_name, roles, action, object, result, client_addr, \
         operation_id, detail, hash, hash, NULL FROM audit_log WHERE seq = 3",
    )
    .await;
    sql(
        data,
        "UPDATE audit_head SET seq = 4, last_hash = (SELECT hash FROM audit_log WHERE seq = 4) WHERE id = 1",
    )
    .await;
    broken(data, "BROKEN at entry 4 (forged)");

    // The first entries removed and the start moved after them.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    add(data, &["alice", "bob", "carol", "dave"]);
    sql(
        data,
        "UPDATE audit_head SET pruned_to_seq = 2, pruned_hash = (SELECT hash FROM audit_log WHERE seq = 2) \
         WHERE id = 1",
    )
    .await;
    sql(data, "DELETE FROM audit_log WHERE seq <= 2").await;
    broken(
        data,
        "(moved start): the log starts after entry 2, but no recorded prune moved its start there",
    );
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
    assert!(out.contains("2600 党组织, 32163 居民, 10157 个岗位"), "{out}");
    assert!(
        out.contains(
            "志愿服务: 1440 名志愿者, 28 支队伍, 140 场活动, 2419 条服务记录, 2157 笔积分交易, 252 次兑换, 5 个活动目标"
        ),
        "{out}"
    );
    assert!(
        dir.path().join("data.key").exists(),
        "a fresh directory gets a data key"
    );
    let again = gongjian(dir.path(), &["demo", "--city", "foshan"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("已经存在"));
}

/// An 18-character ID number: `body` (17 digits) and its check character.
fn id_number(body: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

/// The ID number of the `i`-th resident of the import story (born in 1980, up to 10,800).
fn resident_id(i: usize) -> String {
    id_number(&format!("4406041980{:02}01{:03}", 1 + i / 900, 100 + i % 900))
}

#[tokio::test]
async fn import_reads_residents_then_members_with_progress_and_changes_nothing_twice() {
    use gongjian_domain::access::{Actor, Grant, Reach, Role};
    use gongjian_store::party::PartyOrgInput;
    use gongjian_store::tree::NodeInput;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let o = gongjian(data, &["user", "add", "zhang", "--role", "org_department"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A street with a community and a grid, and the community's party branch.
    let url = format!("sqlite://{}", data.join("gongjian.db").display());
    let keys = gongjian_store::crypto::Keyring::load_or_create(data).unwrap();
    let store = gongjian_store::Store::connect(&url).await.unwrap().with_keyring(keys);
    let admin = Actor {
        user_id: 0,
        username: "admin".into(),
        grants: vec![Grant {
            role: Role::SystemAdmin,
            reach: Reach::All,
        }],
    };
    let mut parent = None;
    let mut nodes = Vec::new();
    for (code, name, kind) in [
        ("440600000000", "佛山市", None),
        ("440604000000", "禅城区", None),
        ("440604001000", "祖庙街道", None),
        ("440604001001", "升平社区", None),
        ("", "锦绣小区", Some("estate")),
    ] {
        let input = NodeInput {
            parent_id: parent,
            code: Some(code.to_string()).filter(|c| !c.is_empty()),
            name: name.into(),
            kind: kind.map(str::to_string),
            ..NodeInput::default()
        };
        let node = store.create_node(&admin, &input).await.unwrap();
        parent = Some(node.id);
        nodes.push(node);
    }
    let committee = PartyOrgInput {
        kind: "committee".into(),
        category: "community".into(),
        name: "升平社区党委".into(),
        territory_node_id: Some(nodes[3].id),
        ..Default::default()
    };
    let committee = store.create_party_org(&admin, &committee).await.unwrap();
    let branch = PartyOrgInput {
        parent_id: Some(committee.id),
        kind: "branch".into(),
        category: "estate".into(),
        name: "锦绣小区党支部".into(),
        territory_node_id: Some(nodes[4].id),
        ..Default::default()
    };
    store.create_party_org(&admin, &branch).await.unwrap();
    // A second community of the street, with a grid of its own.
    let mut sibling = nodes[2].id;
    let mut sibling_grid = String::new();
    for (code, name, kind) in [
        ("440604001002", "兴华社区", None),
        ("", "兴华商务楼宇", Some("business")),
    ] {
        let input = NodeInput {
            parent_id: Some(sibling),
            code: Some(code.to_string()).filter(|c| !c.is_empty()),
            name: name.into(),
            kind: kind.map(str::to_string),
            ..NodeInput::default()
        };
        let node = store.create_node(&admin, &input).await.unwrap();
        sibling = node.id;
        sibling_grid = node.code;
    }
    store.close().await;
    let grid = &nodes[4].code;

    // 6,000 residents from a CSV file: progress on standard error, the outcome on standard output.
    let mut csv = String::from("姓名,身份证号,网格编码\n");
    for i in 0..5100 {
        csv.push_str(&format!("居民{i},{},{grid}\n", resident_id(i)));
    }
    csv.push_str(&format!("坏行,123,{grid}\n"));
    let file = data.join("居民.csv");
    std::fs::write(&file, &csv).unwrap();
    let f = file.to_str().unwrap();
    let args = ["import", "residents", f, "--user", "zhang", "--node", "440604001000"];
    let o = gongjian(data, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (out, err) = (stdout(&o), String::from_utf8_lossy(&o.stderr).to_string());
    assert!(
        out.contains("5101 data rows (header on row 1): 5100 new, 0 updated, 0 unchanged, 1 refused"),
        "{out}"
    );
    assert!(out.contains("row 5102 [身份证号] “123”"), "{out}");
    for line in ["校验 0/5101", "校验 5000/5101", "写入 5100/5100", "完成 5101/5101"] {
        assert!(err.lines().any(|l| l == line), "no “{line}” in {err}");
    }
    let again = stdout(&gongjian(data, &args));
    assert!(again.contains("0 new, 0 updated, 5100 unchanged, 1 refused"), "{again}");
    // Imported at the other community with --update, a resident of 升平社区 is refused: not
    // moved into 兴华社区's grid, not renamed, not counted as unchanged.
    let file = data.join("兴华.csv");
    std::fs::write(
        &file,
        format!("姓名,身份证号,网格编码\n改名,{},{sibling_grid}\n", resident_id(0)),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let o = gongjian(
        data,
        &[
            "import",
            "residents",
            f,
            "--user",
            "zhang",
            "--node",
            "440604001002",
            "--update",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.contains("0 new, 0 updated, 0 unchanged, 1 refused"), "{out}");
    assert!(out.contains("已在您的管理范围以外登记"), "{out}");
    let store = gongjian_store::Store::connect(&url).await.unwrap();
    let (name, home): (String, String) = sqlx::query_as(
        "SELECT p.name, n.code FROM persons p JOIN nodes n ON n.id = p.home_node_id WHERE p.name = '居民0' OR p.name = '改名'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((name.as_str(), home.as_str()), ("居民0", grid.as_str()));
    store.close().await;
    // Members: the first three residents join the branch; the refused rows go to a workbook.
    let mut members = String::from("\u{feff}姓名,身份证号,所在党支部,党员类别,入党日期\n");
    for i in 0..3 {
        let id = resident_id(i);
        members.push_str(&format!("居民{i},{id},锦绣小区党支部,正式,2001-07-01\n"));
    }
    members.push_str(&format!(
        "居民9,{},不存在党支部,正式,2001-07-01\n",
        id_number("44060419800801999")
    ));
    let file = data.join("党员.csv");
    std::fs::write(&file, members).unwrap();
    let rejected = data.join("refused.xlsx");
    let f = file.to_str().unwrap();
    let r = rejected.to_str().unwrap();
    let args = [
        "import",
        "members",
        f,
        "--user",
        "zhang",
        "--node",
        "440604001001",
        "--rejected",
        r,
    ];
    let o = gongjian(data, &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout(&o).contains("4 data rows (header on row 1): 3 new, 0 updated, 0 unchanged, 1 refused"),
        "{}",
        stdout(&o)
    );
    assert!(rejected.exists());
    let o = gongjian(data, &[&args[..7], &["--update"]].concat());
    assert!(
        stdout(&o).contains("0 new, 0 updated, 3 unchanged, 1 refused"),
        "{}",
        stdout(&o)
    );
    let wrong = gongjian(
        data,
        &["import", "members", f, "--user", "zhang", "--node", "999999999999"],
    );
    assert!(!wrong.status.success());
}

/// The write benchmarks run end to end over HTTP (four clients, a second each) and check what
/// they wrote: every request answered as expected, the books balanced, every check-in stored.
#[test]
fn the_write_benchmarks_run_and_check_what_they_wrote() {
    let dir = tempfile::tempdir().unwrap();
    for (what, written) in [
        ("--points", "books balance: yes"),
        ("--checkins", "every accepted check-in written: yes"),
    ] {
        let o = gongjian(dir.path(), &["bench", what, "--clients", "4", "--seconds", "1"]);
        assert!(o.status.success(), "{what}: {}", String::from_utf8_lossy(&o.stderr));
        let out = stdout(&o);
        assert!(out.contains("refused or failed requests: 0"), "{what}: {out}");
        assert!(out.contains(written), "{what}: {out}");
    }
}

/// `serve` on a free port: `Ok(first line)` once it listens (the server is stopped then), or
/// `Err(standard error)` when it exits first.
fn serve(data: &Path) -> Result<String, String> {
    use std::io::{BufRead, Read};
    let mut child = Command::new(env!("CARGO_BIN_EXE_gongjian"))
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("GONGJIAN_DATA_KEY")
        .env_remove("GONGJIAN_CONFIG")
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run gongjian serve");
    let mut line = String::new();
    let out = child.stdout.take().expect("stdout");
    std::io::BufReader::new(out).read_line(&mut line).expect("read");
    if line.is_empty() {
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read");
        child.wait().expect("wait");
        return Err(err);
    }
    child.kill().ok();
    child.wait().ok();
    Ok(line)
}

/// Asserts that `serve`, `import` and `demo` refuse to start with a message containing each
/// of `fragments`.
#[track_caller]
fn all_refuse(data: &Path, import: &[&str], fragments: &[&str]) {
    let served = serve(data);
    let Err(err) = served else {
        panic!("serve started: {served:?}")
    };
    let imported = gongjian(data, import);
    let demo = gongjian(data, &["demo", "--city", "foshan"]);
    for (what, ok, err) in [
        ("serve", false, err),
        ("import", imported.status.success(), stderr(&imported)),
        ("demo", demo.status.success(), stderr(&demo)),
    ] {
        assert!(!ok, "{what} started");
        for f in fragments {
            assert!(err.contains(f), "{what}: “{f}” not in {err}");
        }
    }
}

#[tokio::test]
async fn serve_import_and_demo_refuse_a_missing_or_another_data_key() {
    use gongjian_domain::access::{Actor, Grant, Reach, Role};
    use gongjian_store::crypto::Keyring;
    use gongjian_store::tree::NodeInput;
    // A fresh directory: serve makes the key and starts.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let first = serve(data).expect("serve on a fresh directory");
    assert!(first.contains("共建已启动"), "{first}");
    let key_path = data.join("data.key");
    let text = std::fs::read_to_string(&key_path).expect("serve made data.key");
    let id = Keyring::parse(&text).unwrap().current_id().to_string();

    // Residents on file.
    let o = gongjian(data, &["user", "add", "zhang", "--role", "org_department"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let url = format!("sqlite://{}", data.join("gongjian.db").display());
    let store = gongjian_store::Store::connect(&url)
        .await
        .unwrap()
        .with_keyring(Keyring::parse(&text).unwrap());
    let admin = Actor {
        user_id: 0,
        username: "admin".into(),
        grants: vec![Grant {
            role: Role::SystemAdmin,
            reach: Reach::All,
        }],
    };
    let mut parent = None;
    let mut grid = String::new();
    for (code, name, kind) in [
        ("440600000000", "佛山市", None),
        ("440604000000", "禅城区", None),
        ("440604001000", "祖庙街道", None),
        ("440604001001", "升平社区", None),
        ("", "锦绣小区", Some("estate")),
    ] {
        let input = NodeInput {
            parent_id: parent,
            code: Some(code.to_string()).filter(|c| !c.is_empty()),
            name: name.into(),
            kind: kind.map(str::to_string),
            ..NodeInput::default()
        };
        let node = store.create_node(&admin, &input).await.unwrap();
        parent = Some(node.id);
        grid = node.code;
    }
    store.close().await;
    let csv = format!(
        "姓名,身份证号,手机号码,网格编码\n居民0,{},13800130000,{grid}\n居民1,{},13800130001,{grid}\n",
        resident_id(0),
        resident_id(1)
    );
    let file = data.join("居民.csv");
    std::fs::write(&file, csv).unwrap();
    let import = [
        "import",
        "residents",
        file.to_str().unwrap(),
        "--user",
        "zhang",
        "--node",
        "440604001000",
    ];
    let o = gongjian(data, &import);
    assert!(stdout(&o).contains("2 new, 0 updated, 0 unchanged"), "{}", stderr(&o));

    // The key file deleted: refused, naming the key expected and where to put it back.
    let backup = data.join("backup.key");
    std::fs::rename(&key_path, &backup).unwrap();
    let path = key_path.display().to_string();
    let missing = format!("key id expected {id}, found none");
    all_refuse(
        data,
        &import,
        &["data key is missing", &missing, &path, "GONGJIAN_DATA_KEY"],
    );
    assert!(!key_path.exists(), "no new key was made");

    // Another key in the file, or in the variable: refused.
    let other = "cd".repeat(32);
    let other_id = Keyring::parse(&other).unwrap().current_id().to_string();
    std::fs::write(&key_path, format!("{other}\n")).unwrap();
    let found = format!("key id expected {id}, found {other_id}");
    all_refuse(data, &import, &["not this database's key", &found, &path]);
    std::fs::copy(&backup, &key_path).unwrap();
    let env = gongjian_with_key(data, &import, &other);
    assert!(!env.status.success());
    assert!(stderr(&env).contains("GONGJIAN_DATA_KEY"), "{}", stderr(&env));
    assert!(stderr(&env).contains(&found), "{}", stderr(&env));

    // The key restored: the same people are found; and again after a rotation.
    let o = gongjian(data, &import);
    assert!(stdout(&o).contains("0 new, 0 updated, 2 unchanged"), "{}", stderr(&o));
    let o = gongjian(data, &["key", "rotate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("data key {id} replaced by")),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("re-encrypted 4 values"), "{}", stdout(&o));
    for line in [
        "persons.id_number_enc 0/2",
        "persons.id_number_enc 2/2",
        "persons.mobile_enc 2/2",
    ] {
        assert!(stderr(&o).lines().any(|l| l == line), "no “{line}” in {}", stderr(&o));
    }
    let o = gongjian(data, &import);
    assert!(stdout(&o).contains("0 new, 0 updated, 2 unchanged"), "{}", stderr(&o));
    // The old key alone no longer opens the database.
    std::fs::copy(&backup, &key_path).unwrap();
    let o = gongjian(data, &import);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not this database's key"), "{}", stderr(&o));
}

/// A server started on a data directory it cannot write (a read-only file system) says so at
/// once, naming the directory, instead of failing at its first write. The directory is made
/// read-only by a bind mount of itself in a mount namespace of the server's own (root's
/// `unshare --mount`, or a user namespace's where that is refused), which ends with the process:
/// the machine's mounts are never changed.
#[test]
fn serve_on_a_read_only_data_directory_says_so_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let migrated = gongjian(&data, &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let namespace = [vec!["--mount"], vec!["--mount", "--map-root-user"]]
        .into_iter()
        .find(|args| {
            Command::new("unshare")
                .args(args)
                .args(["sh", "-c", "mount --bind -o ro \"$1\" \"$1\"", "sh"])
                .arg(&data)
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(namespace) = namespace else {
        eprintln!("skipped: no mount namespace can be made here (unshare --mount)");
        return;
    };
    let script =
        "mount --bind -o ro \"$1\" \"$1\" && exec timeout 60 \"$2\" --data-dir \"$1\" serve --listen 127.0.0.1:0";
    let o = Command::new("unshare")
        .args(&namespace)
        .args(["sh", "-c", script, "sh"])
        .arg(&data)
        .arg(env!("CARGO_BIN_EXE_gongjian"))
        .env_remove("GONGJIAN_DATA_KEY")
        .env_remove("GONGJIAN_CONFIG")
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run gongjian serve in a mount namespace");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let said = format!("the data directory {} is read-only", data.display());
    assert!(stderr.contains(&said), "{stderr}");
    assert!(stderr.contains("Read-only file system"), "{stderr}");
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
}
