//! The store's stories, each written once and run on SQLite (a fresh file per test) and, when
//! `GONGJIAN_TEST_DATABASE_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`), on
//! PostgreSQL in a database of its own that is dropped afterwards.

use gongjian_domain::access::{Actor, Grant, Reach, Role};
use gongjian_domain::tree::Level;
use gongjian_store::accounts::SessionPolicy;
use gongjian_store::demo::{DemoCity, Scale};
use gongjian_store::party::{PartyMoveInput, PartyOrg, PartyOrgInput};
use gongjian_store::tree::{LevelCounts, MoveInput, Node, NodeInput};
use gongjian_store::{Store, StoreError, StoreResult};
use sqlx::{AssertSqlSafe, Connection};

// ---------------------------------------------------------------------------------------------
// Engines

/// A migrated, empty database of one engine.
struct Db {
    label: &'static str,
    store: Store,
    _dir: Option<tempfile::TempDir>,
    /// For PostgreSQL: the URL given and the name of the database created for this test.
    pg: Option<(String, String)>,
}

impl Drop for Db {
    /// Drops the PostgreSQL database, also when the story panicked (its pool may then still be
    /// open, which `WITH (FORCE)` deals with).
    fn drop(&mut self) {
        if let Some((url, name)) = self.pg.take() {
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(pg_admin(
                    &url,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ));
            })
            .join();
        }
    }
}

async fn pg_admin(url: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    sqlx::query(AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let host_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..host_start.max(host_end)]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn open(label: &'static str) -> Db {
    let (store, dir, pg) = if label == "sqlite" {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (Store::connect(&url).await.expect("sqlite"), Some(dir), None)
    } else {
        let url = std::env::var("GONGJIAN_TEST_DATABASE_URL").expect("postgres url");
        let name = format!("gj_t_{}", uuid::Uuid::new_v4().simple());
        pg_admin(&url, &format!("CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")).await;
        let db_url = with_database(&url, &name);
        let store = Store::connect(&db_url)
            .await
            .unwrap_or_else(|e| panic!("connect {db_url}: {e}"));
        (store, None, Some((url, name)))
    };
    let db = Db {
        label,
        store,
        _dir: dir,
        pg,
    };
    db.store
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("[{label}] migrate: {e}"));
    db
}

/// Runs `story` on SQLite, then on PostgreSQL when it is configured.
async fn for_each_engine(story: impl AsyncFn(&Db)) {
    let mut labels = vec!["sqlite"];
    if std::env::var("GONGJIAN_TEST_DATABASE_URL").is_ok_and(|u| !u.trim().is_empty()) {
        labels.push("postgres");
    }
    for label in labels {
        let db = open(label).await;
        story(&db).await;
        db.store.close().await;
        drop(db);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn admin() -> Actor {
    Actor {
        user_id: 0,
        username: "admin".into(),
        grants: vec![Grant {
            role: Role::SystemAdmin,
            reach: Reach::All,
        }],
    }
}

fn scoped(role: Role, node: &Node) -> Actor {
    Actor {
        user_id: 0,
        username: "staff".into(),
        grants: vec![Grant {
            role,
            reach: Reach::Subtree {
                node_id: node.id,
                path: node.path.clone(),
            },
        }],
    }
}

fn lc(districts: i64, streets: i64, communities: i64, l2: i64, l3: i64) -> LevelCounts {
    LevelCounts {
        districts,
        streets,
        communities,
        grids_l2: l2,
        grids_l3: l3,
    }
}

/// Asserts a refusal naming `field` with a message containing `fragment`.
#[track_caller]
fn assert_field<T: std::fmt::Debug>(label: &str, r: StoreResult<T>, field: &str, fragment: &str) {
    match r {
        Err(StoreError::Invalid(v)) => {
            let m = v.message_for(field);
            assert!(
                m.is_some_and(|m| m.contains(fragment)),
                "[{label}] expected {field} ~ “{fragment}”, got {v:?}"
            );
        }
        other => panic!("[{label}] expected a field error on {field}, got {other:?}"),
    }
}

#[track_caller]
fn assert_not_found<T: std::fmt::Debug>(label: &str, r: StoreResult<T>) {
    assert!(
        matches!(r, Err(StoreError::NotFound)),
        "[{label}] expected NotFound, got {r:?}"
    );
}

impl Db {
    async fn add(
        &self,
        parent: Option<&Node>,
        code: Option<&str>,
        name: &str,
        kind: Option<&str>,
    ) -> Node {
        self.store
            .create_node(&admin(), &node_input(parent, code, name, kind))
            .await
            .unwrap_or_else(|e| panic!("[{}] create {name}: {e:?}", self.label))
    }

    async fn node(&self, id: i64) -> Node {
        self.store.node(&admin(), id).await.expect("node")
    }

    async fn counts(&self, node: &Node) -> LevelCounts {
        self.store
            .subtree_counts(&admin(), node.id)
            .await
            .unwrap_or_else(|e| panic!("[{}] counts of {}: {e:?}", self.label, node.name))
    }

    async fn history(&self, node: &Node) -> Vec<String> {
        let h = self
            .store
            .node_history(&admin(), node.id)
            .await
            .expect("history");
        h.into_iter().map(|e| e.action).collect()
    }

    async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
            .fetch_one(self.store.pool())
            .await
            .unwrap_or_else(|e| panic!("[{}] {sql}: {e}", self.label))
    }

    /// Everything a refused write could have touched.
    async fn snapshot(&self) -> (i64, i64, i64, Vec<(String, String, String)>) {
        let rows = sqlx::query_as("SELECT code, path, status FROM nodes ORDER BY code")
            .fetch_all(self.store.pool())
            .await
            .expect("snapshot");
        (
            self.scalar("SELECT COUNT(*) FROM nodes").await,
            self.scalar("SELECT COUNT(*) FROM node_history").await,
            self.scalar("SELECT COUNT(*) FROM party_orgs").await,
            rows,
        )
    }

    async fn org(
        &self,
        parent: Option<&PartyOrg>,
        kind: &str,
        category: &str,
        name: &str,
        territory: &Node,
    ) -> StoreResult<PartyOrg> {
        let input = PartyOrgInput {
            parent_id: parent.map(|p| p.id),
            kind: kind.into(),
            category: category.into(),
            name: name.into(),
            territory_node_id: Some(territory.id),
            ..Default::default()
        };
        self.store.create_party_org(&admin(), &input).await
    }
}

fn node_input(
    parent: Option<&Node>,
    code: Option<&str>,
    name: &str,
    kind: Option<&str>,
) -> NodeInput {
    NodeInput {
        parent_id: parent.map(|p| p.id),
        code: code.map(str::to_string),
        name: name.into(),
        kind: kind.map(str::to_string),
        ..Default::default()
    }
}

fn codes<T>(items: &[T], f: impl Fn(&T) -> &Node) -> Vec<&str> {
    items.iter().map(|i| f(i).code.as_str()).collect()
}

/// 佛山市 › 禅城区 › {祖庙街道 A: {升平 A1: 2 + 1 + 2 grids, 兴华 A2: 1 + 1}, 张槎街道 B: {B1: 1 + 1}}.
struct Tree {
    city: Node,
    district: Node,
    a: Node,
    b: Node,
    a1: Node,
    a2: Node,
    b1: Node,
    /// Level-2 grids of A1.
    a1_l2: Vec<Node>,
    /// Level-3 grids of A1: two under `a1_l2[0]`, one under `a1_l2[1]`.
    a1_l3: Vec<Node>,
    a2_l2: Node,
    a2_l3: Node,
}

async fn build_tree(db: &Db) -> Tree {
    let city = db.add(None, Some("440600000000"), "佛山市", None).await;
    let district = db
        .add(Some(&city), Some("440604000000"), "禅城区", None)
        .await;
    let a = db
        .add(Some(&district), Some("440604001000"), "祖庙街道", None)
        .await;
    let b = db
        .add(Some(&district), Some("440604002000"), "张槎街道", None)
        .await;
    let a1 = db
        .add(Some(&a), Some("440604001001"), "升平社区", None)
        .await;
    let a2 = db
        .add(Some(&a), Some("440604001002"), "兴华社区", None)
        .await;
    let b1 = db
        .add(Some(&b), Some("440604002001"), "张槎社区", None)
        .await;
    let a1_l2 = vec![
        db.add(Some(&a1), None, "锦绣小区", Some("estate")).await,
        db.add(Some(&a1), None, "第二居民小组", Some("resident_group"))
            .await,
    ];
    let a1_l3 = vec![
        db.add(Some(&a1_l2[0]), None, "1号楼片区", Some("party_group_area"))
            .await,
        db.add(
            Some(&a1_l2[0]),
            None,
            "2号楼片区",
            Some("building_leader_area"),
        )
        .await,
        db.add(Some(&a1_l2[1]), None, "东片", Some("post_holder_area"))
            .await,
    ];
    let a2_l2 = db
        .add(Some(&a2), None, "兴华商务楼宇", Some("business"))
        .await;
    let a2_l3 = db
        .add(Some(&a2_l2), None, "东座", Some("volunteer_team_area"))
        .await;
    let b1_l2 = db.add(Some(&b1), None, "翠湖小区", Some("estate")).await;
    db.add(Some(&b1_l2), None, "北片", Some("party_group_area"))
        .await;
    Tree {
        city,
        district,
        a,
        b,
        a1,
        a2,
        b1,
        a1_l2,
        a1_l3,
        a2_l2,
        a2_l3,
    }
}

// ---------------------------------------------------------------------------------------------
// Stories

#[tokio::test]
async fn tree_is_built_counted_and_paged() {
    for_each_engine(async |db: &Db| {
        let l = db.label;
        let t = build_tree(db).await;
        assert_eq!(t.city.level, Level::City, "[{l}]");
        assert_eq!(t.city.path, format!("/{}/", t.city.id), "[{l}]");
        assert_eq!(
            t.a1.path,
            format!("/{}/{}/{}/{}/", t.city.id, t.district.id, t.a.id, t.a1.id),
            "[{l}]"
        );
        assert_eq!(
            codes(&t.a1_l2, |n| n),
            ["440604001001001", "440604001001002"],
            "[{l}]"
        );
        assert_eq!(
            codes(&t.a1_l3, |n| n),
            [
                "440604001001001001",
                "440604001001001002",
                "440604001001002001"
            ],
            "[{l}]"
        );
        assert_eq!(t.a1_l2[0].level, Level::GridL2, "[{l}]");
        assert_eq!(t.a1_l2[0].kind.as_deref(), Some("estate"), "[{l}]");
        assert_eq!(t.a1_l3[2].level, Level::GridL3, "[{l}]");
        assert_eq!(t.a1_l3[2].parent_id, Some(t.a1_l2[1].id), "[{l}]");
        assert_eq!(
            t.a1_l3[0].path,
            format!("{}{}/{}/", t.a1.path, t.a1_l2[0].id, t.a1_l3[0].id),
            "[{l}]"
        );

        assert_eq!(db.counts(&t.city).await, lc(1, 2, 3, 4, 5), "[{l}] city");
        assert_eq!(db.counts(&t.a).await, lc(0, 1, 2, 3, 4), "[{l}] street A");
        assert_eq!(db.counts(&t.b).await, lc(0, 1, 1, 1, 1), "[{l}] street B");
        assert_eq!(
            db.counts(&t.a1).await,
            lc(0, 0, 1, 2, 3),
            "[{l}] community A1"
        );
        assert_eq!(
            db.counts(&t.a1_l3[0]).await,
            lc(0, 0, 0, 0, 1),
            "[{l}] leaf"
        );

        let (s, me) = (&db.store, &admin());
        let page = s
            .children(me, t.district.id, false, None, 10)
            .await
            .unwrap();
        assert_eq!(
            codes(&page.items, |c| &c.node),
            ["440604001000", "440604002000"],
            "[{l}]"
        );
        let counts: Vec<_> = page.items.iter().map(|c| c.counts).collect();
        assert_eq!(counts, [lc(0, 1, 2, 3, 4), lc(0, 1, 1, 1, 1)], "[{l}]");
        assert_eq!(page.next_cursor, None, "[{l}]");

        let first = s.children(me, t.a.id, false, None, 1).await.unwrap();
        assert_eq!(codes(&first.items, |c| &c.node), ["440604001001"], "[{l}]");
        assert_eq!(first.items[0].counts, lc(0, 0, 1, 2, 3), "[{l}]");
        assert_eq!(first.next_cursor.as_deref(), Some("440604001001"), "[{l}]");
        let rest = s
            .children(me, t.a.id, false, first.next_cursor.as_deref(), 1)
            .await
            .unwrap();
        assert_eq!(codes(&rest.items, |c| &c.node), ["440604001002"], "[{l}]");
        assert_eq!(rest.items[0].counts, lc(0, 0, 1, 1, 1), "[{l}]");
        assert_eq!(rest.next_cursor, None, "[{l}]");

        let names: Vec<_> = s
            .ancestors(me, &t.a1_l3[0])
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(
            names,
            ["佛山市", "禅城区", "祖庙街道", "升平社区", "锦绣小区"],
            "[{l}]"
        );
        let h = s.node_history(me, t.a1.id).await.unwrap();
        assert_eq!(h.len(), 1, "[{l}]");
        assert_eq!(
            (
                h[0].action.as_str(),
                h[0].new_code.as_deref(),
                h[0].new_parent_id
            ),
            ("created", Some("440604001001"), Some(t.a.id)),
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test]
async fn boundary_adjustment_moves_recodes_and_keeps_history() {
    for_each_engine(async |db: &Db| {
        let l = db.label;
        let t = build_tree(db).await;
        let (s, me) = (&db.store, &admin());
        let input = MoveInput {
            new_parent_id: Some(t.b.id),
            new_code: Some("440604002002".into()),
            note: Some("区划调整".into()),
        };
        let moved = s.move_node(me, t.a1.id, &input).await.unwrap();
        let new_path = format!("{}{}/", t.b.path, t.a1.id);
        assert_eq!(moved.code, "440604002002", "[{l}]");
        assert_eq!(moved.parent_id, Some(t.b.id), "[{l}]");
        assert_eq!(moved.path, new_path, "[{l}]");

        for old in t.a1_l2.iter().chain(&t.a1_l3) {
            let now = db.node(old.id).await;
            let code = format!("440604002002{}", &old.code[12..]);
            assert_eq!(now.code, code, "[{l}] grid {}", old.name);
            assert_eq!(now.parent_id, old.parent_id, "[{l}]");
            assert_eq!(
                now.path,
                old.path.replacen(&t.a1.path, &new_path, 1),
                "[{l}]"
            );
            let h = s.node_history(me, old.id).await.unwrap();
            assert_eq!(h.len(), 2, "[{l}] {h:?}");
            let r = &h[0];
            assert_eq!(
                (
                    r.action.as_str(),
                    r.old_code.as_deref(),
                    r.new_code.as_deref(),
                    r.note.as_deref()
                ),
                (
                    "recoded",
                    Some(old.code.as_str()),
                    Some(code.as_str()),
                    Some("区划调整")
                ),
                "[{l}]"
            );
        }
        assert_eq!(
            db.node(t.a1_l3[0].id).await.code,
            "440604002002001001",
            "[{l}]"
        );

        assert_eq!(
            db.counts(&t.a).await,
            lc(0, 1, 1, 1, 1),
            "[{l}] street A after"
        );
        assert_eq!(
            db.counts(&t.b).await,
            lc(0, 1, 2, 3, 4),
            "[{l}] street B after"
        );
        assert_eq!(
            db.counts(&t.city).await,
            lc(1, 2, 3, 4, 5),
            "[{l}] city after"
        );
        let page = s.children(me, t.b.id, false, None, 10).await.unwrap();
        assert_eq!(
            codes(&page.items, |c| &c.node),
            ["440604002001", "440604002002"],
            "[{l}]"
        );

        let h = s.node_history(me, t.a1.id).await.unwrap();
        let m = &h[0];
        assert_eq!(
            (
                m.action.as_str(),
                m.old_code.as_deref(),
                m.new_code.as_deref()
            ),
            ("moved", Some("440604001001"), Some("440604002002")),
            "[{l}]"
        );
        assert_eq!(
            (m.old_parent_id, m.new_parent_id),
            (Some(t.a.id), Some(t.b.id)),
            "[{l}]"
        );
        assert_eq!(
            s.node_by_code(me, "440604001001").await.unwrap().id,
            t.a1.id,
            "[{l}]"
        );
        assert_eq!(
            s.node_by_code(me, "440604001001002001").await.unwrap().id,
            t.a1_l3[2].id,
            "[{l}]"
        );

        // A new grid under the moved community continues its sequence.
        let g = db.add(Some(&moved), None, "新建小区", Some("estate")).await;
        assert_eq!(g.code, "440604002002003", "[{l}]");
        // A grid moved without a code takes the next free one under its new community.
        let input = MoveInput {
            new_parent_id: Some(t.b1.id),
            ..Default::default()
        };
        let g2 = s.move_node(me, t.a2_l2.id, &input).await.unwrap();
        assert_eq!(g2.code, "440604002001002", "[{l}]");
        assert_eq!(
            db.node(t.a2_l3.id).await.code,
            "440604002001002001",
            "[{l}]"
        );
        assert_eq!(
            db.node(t.a2_l3.id).await.path,
            format!("{}{}/{}/", t.b1.path, t.a2_l2.id, t.a2_l3.id),
            "[{l}]"
        );
        assert_eq!(db.counts(&t.a2).await, lc(0, 0, 1, 0, 0), "[{l}]");
        assert_eq!(db.counts(&t.b).await, lc(0, 1, 2, 5, 5), "[{l}]");
        // The freed code may be reused; the current holder wins over history.
        let reuse = db
            .add(Some(&t.a), Some("440604001001"), "新升平社区", None)
            .await;
        assert_eq!(
            s.node_by_code(me, "440604001001").await.unwrap().id,
            reuse.id,
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test]
async fn refusals_write_nothing() {
    for_each_engine(async |db: &Db| {
        let l = db.label;
        let t = build_tree(db).await;
        let (s, me) = (&db.store, &admin());
        let before = db.snapshot().await;
        let create = async |parent: &Node,
                            code: Option<&str>,
                            name: &str,
                            level: Option<&str>,
                            kind: Option<&str>| {
            let mut input = node_input(Some(parent), code, name, kind);
            input.level = level.map(str::to_string);
            s.create_node(me, &input).await
        };
        let r = create(&t.a, Some("440604002003"), "错前缀社区", None, None).await;
        assert_field(l, r, "code", "必须以上级代码的前 9 位“440604001”开头");
        let r = create(&t.a, Some("440604001001"), "重复社区", None, None).await;
        assert_field(l, r, "code", "代码 440604001001 已被使用");
        let r = create(&t.a, Some("44060400100"), "短码社区", None, None).await;
        assert_field(l, r, "code", "应为 12 位数字，实际为 11 位");
        let r = create(&t.a, Some("4406040010a1"), "字母社区", None, None).await;
        assert_field(l, r, "code", "只能包含数字");
        let r = create(&t.a, None, "无码社区", None, None).await;
        assert_field(l, r, "code", "请填写");
        let r = create(&t.a, Some("440604001003"), " \u{3000} ", None, None).await;
        assert_field(l, r, "name", "名称不能为空");
        let r = create(
            &t.a,
            None,
            "三级网格",
            Some("grid_l3"),
            Some("party_group_area"),
        )
        .await;
        assert_field(l, r, "parent_id", "三级网格只能建在二级网格下");
        let r = create(&t.a1, None, "无类型网格", None, None).await;
        assert_field(l, r, "kind", "请选择网格类型");
        let r = create(&t.a1, None, "错类型网格", None, Some("party_group_area")).await;
        assert_field(l, r, "kind", "不能用于二级网格");

        let mv = |parent: &Node, code: Option<&str>| MoveInput {
            new_parent_id: Some(parent.id),
            new_code: code.map(str::to_string),
            note: None,
        };
        let r = s.move_node(me, t.a.id, &mv(&t.a1, None)).await;
        assert_field(
            l,
            r,
            "new_parent_id",
            "不能把节点迁移到它自身或它的下级之下",
        );
        let r = s
            .move_node(me, t.a1.id, &mv(&t.b, Some("440604001009")))
            .await;
        assert_field(l, r, "new_code", "“440604002”开头");
        let r = s.move_node(me, t.a1.id, &mv(&t.b, None)).await;
        assert_field(l, r, "new_code", "“440604002”开头");
        let r = s
            .move_node(me, t.a1.id, &mv(&t.b, Some("440604002001")))
            .await;
        assert_field(l, r, "new_code", "已被使用");
        let r = s
            .move_node(me, t.a1.id, &mv(&t.a2, Some("440604001001")))
            .await;
        assert_field(l, r, "new_parent_id", "只能建在街道（镇）下");
        let r = s
            .move_node(me, t.a1.id, &mv(&t.a, Some("440604001001")))
            .await;
        assert_field(l, r, "new_parent_id", "代码也未变化");

        assert_eq!(
            db.snapshot().await,
            before,
            "[{l}] a refusal wrote something"
        );
    })
    .await;
}

#[tokio::test]
async fn archive_and_restore() {
    for_each_engine(async |db: &Db| {
        let l = db.label;
        let t = build_tree(db).await;
        let (s, me) = (&db.store, &admin());
        let before = db.snapshot().await;
        assert_field(
            l,
            s.archive_node(me, t.a.id, None).await,
            "status",
            "还有 2 个下级未撤销",
        );
        assert_field(
            l,
            s.archive_node(me, t.a1_l2[0].id, None).await,
            "status",
            "还有 2 个下级未撤销",
        );
        assert_eq!(db.snapshot().await, before, "[{l}]");

        let leaf = &t.a1_l3[0];
        let archived = s.archive_node(me, leaf.id, Some("楼栋拆除")).await.unwrap();
        assert_eq!(archived.status, "archived", "[{l}]");
        assert!(archived.archived_at.is_some(), "[{l}]");
        assert_eq!(db.counts(&t.a1).await, lc(0, 0, 1, 2, 2), "[{l}]");
        assert_eq!(db.counts(&t.city).await, lc(1, 2, 3, 4, 4), "[{l}]");
        let active = s
            .children(me, t.a1_l2[0].id, false, None, 10)
            .await
            .unwrap();
        assert_eq!(
            codes(&active.items, |c| &c.node),
            ["440604001001001002"],
            "[{l}]"
        );
        let all = s.children(me, t.a1_l2[0].id, true, None, 10).await.unwrap();
        assert_eq!(all.items.len(), 2, "[{l}]");
        let first = s.children(me, t.a1.id, false, None, 10).await.unwrap();
        assert_eq!(first.items[0].counts, lc(0, 0, 0, 1, 1), "[{l}]");
        assert_field(
            l,
            s.archive_node(me, leaf.id, None).await,
            "status",
            "该节点已撤销",
        );
        // Refused changes to an archived node.
        let r = s
            .move_node(
                me,
                leaf.id,
                &MoveInput {
                    new_parent_id: Some(t.a1_l2[1].id),
                    ..Default::default()
                },
            )
            .await;
        assert_field(l, r, "new_parent_id", "请先恢复");

        // An archived parent blocks restoring its child.
        let other = &t.a1_l3[2];
        s.archive_node(me, other.id, None).await.unwrap();
        s.archive_node(me, t.a1_l2[1].id, None).await.unwrap();
        assert_eq!(db.counts(&t.a1).await, lc(0, 0, 1, 1, 1), "[{l}]");
        assert_field(
            l,
            s.restore_node(me, other.id).await,
            "status",
            "请先恢复上级",
        );
        let r = s
            .create_node(
                me,
                &node_input(Some(&t.a1_l2[1]), None, "新片", Some("post_holder_area")),
            )
            .await;
        assert_field(l, r, "parent_id", "已撤销");
        s.restore_node(me, t.a1_l2[1].id).await.unwrap();
        s.restore_node(me, other.id).await.unwrap();

        let restored = s.restore_node(me, leaf.id).await.unwrap();
        assert_eq!(
            (restored.status.as_str(), restored.archived_at.as_deref()),
            ("active", None),
            "[{l}]"
        );
        assert_field(
            l,
            s.restore_node(me, leaf.id).await,
            "status",
            "该节点未撤销",
        );
        assert_eq!(db.counts(&t.a1).await, lc(0, 0, 1, 2, 3), "[{l}]");
        assert_eq!(db.counts(&t.city).await, lc(1, 2, 3, 4, 5), "[{l}]");
        assert_eq!(
            db.history(leaf).await,
            ["restored", "archived", "created"],
            "[{l}]"
        );
        let h = s.node_history(me, leaf.id).await.unwrap();
        assert_eq!(h[1].note.as_deref(), Some("楼栋拆除"), "[{l}]");
    })
    .await;
}

#[tokio::test]
async fn party_organisations() {
    for_each_engine(async |db: &Db| {
        let l = db.label;
        let t = build_tree(db).await;
        let (s, me) = (&db.store, &admin());
        let wc = db
            .org(
                None,
                "working_committee",
                "street",
                "中共祖庙街道工作委员会",
                &t.a,
            )
            .await
            .unwrap();
        let c1 = db
            .org(
                Some(&wc),
                "committee",
                "community",
                "中共升平社区委员会",
                &t.a1,
            )
            .await
            .unwrap();
        let c2 = db
            .org(
                Some(&wc),
                "committee",
                "community",
                "中共兴华社区委员会",
                &t.a2,
            )
            .await
            .unwrap();
        let br = db
            .org(
                Some(&c1),
                "branch",
                "estate",
                "中共锦绣小区支部委员会",
                &t.a1_l2[0],
            )
            .await
            .unwrap();
        let grp = db
            .org(Some(&br), "group", "grid", "第一党小组", &t.a1_l3[0])
            .await
            .unwrap();
        assert_eq!(wc.path, format!("/{}/", wc.id), "[{l}]");
        assert_eq!(
            grp.path,
            format!("/{}/{}/{}/{}/", wc.id, c1.id, br.id, grp.id),
            "[{l}]"
        );
        assert_eq!(
            (br.territory_code.as_str(), br.territory_name.as_str()),
            ("440604001001001", "锦绣小区"),
            "[{l}]"
        );
        assert_eq!(
            (br.kind_label(), br.category_label()),
            ("党支部", "小区"),
            "[{l}]"
        );

        let before = db.snapshot().await;
        let r = db
            .org(Some(&c1), "group", "grid", "越级党小组", &t.a1_l3[1])
            .await;
        assert_field(l, r, "parent_id", "党小组只能隶属于党支部，所选上级是党委");
        let r = db
            .org(Some(&c1), "branch", "estate", "错区域支部", &t.a)
            .await;
        assert_field(
            l,
            r,
            "territory_node_id",
            "小区党组织的所属区域应为二级网格，所选的是街道（镇）",
        );
        let r = db
            .org(None, "branch", "grid", "无上级支部", &t.a1_l2[1])
            .await;
        assert_field(l, r, "parent_id", "党支部必须有上级党组织");
        // A territory with an organisation attached cannot be archived.
        assert_field(
            l,
            s.archive_node(me, t.a1_l3[0].id, None).await,
            "status",
            "1 个党组织",
        );
        assert_eq!(db.snapshot().await, before, "[{l}]");

        let kids = s.party_children(me, wc.id, false, None, 10).await.unwrap();
        let ids: Vec<_> = kids.items.iter().map(|k| k.org.id).collect();
        assert_eq!(ids, [c1.id, c2.id], "[{l}]");
        let c = kids.items[0].counts;
        assert_eq!(
            (c.committees, c.general_branches, c.branches, c.groups),
            (0, 0, 1, 1),
            "[{l}]"
        );
        let c = kids.items[1].counts;
        assert_eq!((c.branches, c.groups), (0, 0), "[{l}]");
        let page = s.party_children(me, wc.id, false, None, 1).await.unwrap();
        assert_eq!(page.next_cursor, Some(c1.id.to_string()), "[{l}]");
        let page = s.party_children(me, c1.id, false, None, 10).await.unwrap();
        assert_eq!(
            (page.items.len(), page.items[0].counts.groups),
            (1, 1),
            "[{l}]"
        );
        let roots: Vec<_> = s
            .party_roots(me)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(roots, [wc.id], "[{l}]");
        let at: Vec<_> = s
            .party_orgs_at(me, t.a1_l2[0].id)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(at, [br.id], "[{l}]");

        // 隶属关系调整: the branch and its group follow to the other committee.
        let input = PartyMoveInput {
            new_parent_id: Some(c2.id),
            note: Some("调整".into()),
        };
        let moved = s.move_party_org(me, br.id, &input).await.unwrap();
        assert_eq!(moved.parent_id, Some(c2.id), "[{l}]");
        assert_eq!(moved.path, format!("{}{}/", c2.path, br.id), "[{l}]");
        let g = s.party_org(me, grp.id).await.unwrap();
        assert_eq!(g.path, format!("{}{}/{}/", c2.path, br.id, grp.id), "[{l}]");
        let kids = s.party_children(me, wc.id, false, None, 10).await.unwrap();
        let counts: Vec<_> = kids
            .items
            .iter()
            .map(|k| (k.counts.branches, k.counts.groups))
            .collect();
        assert_eq!(counts, [(0, 0), (1, 1)], "[{l}]");
        let h = s.party_history(me, br.id).await.unwrap();
        assert_eq!(
            (h[0].action.as_str(), h[0].old_parent_id, h[0].new_parent_id),
            ("moved", Some(c1.id), Some(c2.id)),
            "[{l}]"
        );
        let r = s
            .move_party_org(
                me,
                wc.id,
                &PartyMoveInput {
                    new_parent_id: Some(c2.id),
                    note: None,
                },
            )
            .await;
        assert_field(
            l,
            r,
            "new_parent_id",
            "不能把党组织调整到它自身或它的下级之下",
        );
        let r = s
            .move_party_org(
                me,
                grp.id,
                &PartyMoveInput {
                    new_parent_id: Some(c1.id),
                    note: None,
                },
            )
            .await;
        assert_field(l, r, "new_parent_id", "党小组只能隶属于党支部");
    })
    .await;
}

#[tokio::test]
async fn scope_hides_what_lies_outside() {
    for_each_engine(async |db: &Db| {
        let l = db.label;
        let t = build_tree(db).await;
        let s = &db.store;
        let (x, y) = (&t.a1, &t.a2);
        let staff = scoped(Role::CommunityStaff, x);
        assert_eq!(s.node(&staff, x.id).await.unwrap().id, x.id, "[{l}]");
        assert_not_found(l, s.node(&staff, y.id).await);
        assert_not_found(l, s.node(&staff, t.a.id).await);
        assert_not_found(l, s.node_by_code(&staff, &y.code).await);
        assert_not_found(l, s.subtree_counts(&staff, y.id).await);
        assert_not_found(l, s.children(&staff, y.id, true, None, 10).await);
        assert_not_found(l, s.node_history(&staff, y.id).await);
        assert_eq!(
            s.subtree_counts(&staff, x.id).await.unwrap(),
            lc(0, 0, 1, 2, 3),
            "[{l}]"
        );
        let roots: Vec<_> = s
            .roots(&staff)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(roots, [x.id], "[{l}]");
        let roots: Vec<_> = s
            .roots(&admin())
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(roots, [t.city.id], "[{l}]");

        let before = db.snapshot().await;
        let r = s
            .create_node(
                &staff,
                &node_input(Some(y), None, "越权网格", Some("estate")),
            )
            .await;
        assert_field(l, r, "parent_id", "上级节点不存在");
        let r = s
            .move_node(
                &staff,
                t.a1_l2[1].id,
                &MoveInput {
                    new_parent_id: Some(y.id),
                    ..Default::default()
                },
            )
            .await;
        assert_field(l, r, "new_parent_id", "新的上级不存在");
        assert_not_found(l, s.archive_node(&staff, t.a2_l3.id, None).await);
        let reader = scoped(Role::GridWorker, x);
        let r = s
            .create_node(
                &reader,
                &node_input(Some(x), None, "只读网格", Some("estate")),
            )
            .await;
        assert!(matches!(r, Err(StoreError::Forbidden)), "[{l}] {r:?}");
        assert_eq!(db.snapshot().await, before, "[{l}]");

        let search = async |who: &Actor, q: &str, level: Option<Level>| {
            let p = s.search_nodes(who, q, level, None, 50).await.unwrap();
            p.items.into_iter().map(|n| n.code).collect::<Vec<_>>()
        };
        assert!(search(&staff, "兴华", None).await.is_empty(), "[{l}]");
        assert_eq!(
            search(&admin(), "兴华", None).await,
            ["440604001002", "440604001002001"],
            "[{l}]"
        );
        assert_eq!(
            search(&staff, "", Some(Level::Community)).await,
            [x.code.as_str()],
            "[{l}]"
        );
        let mine = search(&staff, "440604001", None).await;
        assert_eq!(mine.len(), 6, "[{l}] {mine:?}");
        assert!(
            mine.iter().all(|c| c.starts_with("440604001001")),
            "[{l}] {mine:?}"
        );
        assert_eq!(search(&admin(), "440604001", None).await.len(), 10, "[{l}]");

        // Inside the scope the staff member may build.
        let g = s
            .create_node(
                &staff,
                &node_input(Some(x), None, "新网格", Some("business")),
            )
            .await
            .unwrap();
        assert_eq!(g.code, "440604001001003", "[{l}]");
        assert_eq!(db.counts(&t.a).await, lc(0, 1, 2, 4, 4), "[{l}]");
    })
    .await;
}

#[tokio::test]
async fn demo_cities_load_with_exact_counts() {
    for_each_engine(async |db: &Db| {
        let l = db.label;
        let (s, me) = (&db.store, &admin());
        let report = s
            .load_demo(DemoCity::Foshan, Scale::Small, &|_, _, _| {})
            .await
            .unwrap();
        assert_eq!(
            (
                report.districts,
                report.streets,
                report.communities,
                report.grids_l2,
                report.grids_l3
            ),
            (5, 32, 809, 5302, 10721),
            "[{l}]"
        );
        let city = s.node_by_code(me, "440600000000").await.unwrap();
        assert_eq!(
            (city.id, city.name.as_str()),
            (report.city_id, "佛山市"),
            "[{l}]"
        );
        assert_eq!(
            db.counts(&city).await,
            lc(5, 32, 809, 5302, 10721),
            "[{l}] Foshan"
        );
        let nodes_before = db.scalar("SELECT COUNT(*) FROM nodes").await;
        assert_eq!(nodes_before, 1 + 5 + 32 + 809 + 5302 + 10721, "[{l}]");

        let again = s
            .load_demo(DemoCity::Foshan, Scale::Small, &|_, _, _| {})
            .await;
        assert_field(l, again, "city", "已经存在");
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM nodes").await,
            nodes_before,
            "[{l}]"
        );

        let yuquan = s
            .load_demo(DemoCity::Yuquan, Scale::Small, &|_, _, _| {})
            .await
            .unwrap();
        let root = s.node_by_code(me, "150100000000").await.unwrap();
        assert_eq!(root.id, yuquan.city_id, "[{l}]");
        let counts = db.counts(&root).await;
        assert_eq!(counts.districts, 1, "[{l}]");
        assert_eq!(counts.communities as usize, yuquan.communities, "[{l}]");
        let roots: Vec<_> = s
            .roots(me)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.code)
            .collect();
        assert_eq!(roots, ["150100000000", "440600000000"], "[{l}]");

        // Ordinary writes after the bulk load get fresh ids (PostgreSQL's identity advanced).
        let page = s
            .search_nodes(me, "", Some(Level::Community), None, 1)
            .await
            .unwrap();
        let community = &page.items[0];
        let existing = s
            .children(me, community.id, true, None, 500)
            .await
            .unwrap()
            .items
            .len();
        let g = db
            .add(Some(community), None, "演示后新建", Some("estate"))
            .await;
        assert_eq!(
            g.code,
            format!("{}{:03}", community.code, existing + 1),
            "[{l}]"
        );
        assert!(g.id > yuquan.city_id, "[{l}]");
        let committee = s.party_orgs_at(me, community.id).await.unwrap();
        assert_eq!(committee.len(), 1, "[{l}]");
        let br = db
            .org(
                Some(&committee[0]),
                "branch",
                "estate",
                "演示后新建支部",
                &g,
            )
            .await
            .unwrap();
        assert_eq!(br.path, format!("{}{}/", committee[0].path, br.id), "[{l}]");
    })
    .await;
}

#[tokio::test]
async fn accounts_and_sessions() {
    for_each_engine(async |db: &Db| {
        let l = db.label;
        let s = &db.store;
        let pw = s
            .ensure_admin()
            .await
            .unwrap()
            .expect("first admin password");
        assert_eq!(s.ensure_admin().await.unwrap(), None, "[{l}]");
        assert_eq!(s.user_count().await.unwrap(), 1, "[{l}]");

        assert!(
            s.login("admin", "Wrong-password-1")
                .await
                .unwrap()
                .is_none(),
            "[{l}]"
        );
        assert!(s.login("nobody", &pw).await.unwrap().is_none(), "[{l}]");
        let new = s.login("admin", &pw).await.unwrap().expect("login");
        assert!(new.must_change_password, "[{l}]");
        let policy = SessionPolicy::default();
        let info = s
            .session(&new.token, policy)
            .await
            .unwrap()
            .expect("session");
        assert_eq!(info.csrf_token, new.csrf_token, "[{l}]");
        assert!(info.must_change_password, "[{l}]");
        assert_eq!(info.actor.username, "admin", "[{l}]");
        assert_eq!(info.actor.grants, admin().grants, "[{l}]");
        assert!(
            s.session("not-a-token", policy).await.unwrap().is_none(),
            "[{l}]"
        );

        let actor = info.actor;
        let r = s.change_password(&actor, &pw, "weak", "weak").await;
        assert_field(l, r, "new_password", "密码至少 10 个字符");
        let r = s
            .change_password(
                &actor,
                "Wrong-password-1",
                "Gj-2026-strong",
                "Gj-2026-strong",
            )
            .await;
        assert_field(l, r, "current", "当前密码不正确");
        let r = s
            .change_password(&actor, &pw, "Gj-2026-strong", "Gj-2026-other")
            .await;
        assert_field(l, r, "confirm", "两次输入的新密码不一致");
        s.change_password(&actor, &pw, "Gj-2026-strong", "Gj-2026-strong")
            .await
            .unwrap();

        let info = s
            .session(&new.token, policy)
            .await
            .unwrap()
            .expect("session");
        assert!(!info.must_change_password, "[{l}]");
        assert_eq!(
            s.user(actor.user_id).await.unwrap().must_change_password,
            0,
            "[{l}]"
        );
        assert!(
            s.login("admin", &pw).await.unwrap().is_none(),
            "[{l}] old password"
        );
        let again = s
            .login("admin", "Gj-2026-strong")
            .await
            .unwrap()
            .expect("new password");
        assert!(!again.must_change_password, "[{l}]");
        s.logout(&again.token).await.unwrap();
        assert!(
            s.session(&again.token, policy).await.unwrap().is_none(),
            "[{l}]"
        );
        assert!(
            s.session(&new.token, policy).await.unwrap().is_some(),
            "[{l}]"
        );
    })
    .await;
}

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    let cwd = std::env::current_dir().unwrap();
    for url in ["mysql://x", "foo.db", "file:foo.db"] {
        match Store::connect(url).await {
            Err(StoreError::Config(m)) => {
                let scheme = url.split(':').next().unwrap();
                assert!(m.contains(&format!("'{scheme}'")), "{url}: {m}");
            }
            other => panic!("{url}: expected a config error, got {other:?}"),
        }
    }
    assert!(!cwd.join("foo.db").exists() && !cwd.join("x").exists());
}
