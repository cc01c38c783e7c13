//! The store's stories, each written once and run on SQLite (a fresh file per test) and, when
//! `GONGJIAN_TEST_DATABASE_URL` is set (e.g. `postgres://postgres@127.0.0.1:5432/test`), on
//! PostgreSQL in a database of its own that is dropped afterwards.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Debug;

use gongjian_domain::access::{Actor, Grant, Reach, Role};
use gongjian_domain::tree::Level;
use gongjian_store::accounts::SessionPolicy;
use gongjian_store::demo::{DemoCity, Scale};
use gongjian_store::party::{OrgCounts, PartyMoveInput, PartyOrg, PartyOrgInput};
use gongjian_store::sessions::{LOCKOUT_FAILURES, LoginOutcome, NewSession};
use gongjian_store::tree::{HistoryEntry, LevelCounts, MoveInput, Node, NodeEdit, NodeInput};
use gongjian_store::{Page, Store, StoreError, StoreResult};
use sqlx::{AssertSqlSafe, Connection};

type Kids = Page<gongjian_store::tree::NodeWithCounts>;
type Org = StoreResult<PartyOrg>;
/// The tree built from [`SPEC`], by key.
type Tree = HashMap<String, Node>;

thread_local! {
    /// The engine the story on this thread runs on, for assertion messages.
    static ENGINE: Cell<&'static str> = const { Cell::new("") };
}

/// `assert_eq!` naming the engine and the checked expression.
macro_rules! eq {
    ($left:expr, $right:expr $(,)?) => {
        assert_eq!($left, $right, "[{}] {}", ENGINE.get(), stringify!($left))
    };
}

/// `assert!` naming the engine.
macro_rules! check {
    ($cond:expr $(,)?) => {
        assert!($cond, "[{}] {}", ENGINE.get(), stringify!($cond))
    };
}

// ---------------------------------------------------------------------------------------------
// Engines

/// A migrated, empty database of one engine.
struct Db {
    store: Store,
    /// What the store was opened with: a second store (another process) can open it again.
    url: String,
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
                let rt = tokio::runtime::Runtime::new().expect("runtime");
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                rt.block_on(pg_admin(&url, &[drop]));
            })
            .join();
        }
    }
}

/// Runs the first of `statements` that succeeds on the server of `url`.
async fn pg_admin(url: &str, statements: &[String]) {
    let conn = sqlx::PgConnection::connect(url).await;
    let mut conn = conn.unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    let mut errors = Vec::new();
    for sql in statements {
        let q = sqlx::query(AssertSqlSafe(sql.clone()));
        match q.execute(&mut conn).await {
            Ok(_) => break,
            Err(e) => errors.push(format!("{sql}: {e}")),
        }
    }
    let _ = conn.close().await;
    assert!(errors.len() < statements.len(), "{errors:?}");
}

/// `url` with its database name replaced by `name` (query parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let host = base.find("://").map_or(0, |i| i + 3);
    let end = base[host..].find('/').map_or(base.len(), |i| host + i);
    let sep = if query.is_empty() { "" } else { "?" };
    format!("{}/{name}{sep}{query}", &base[..end])
}

/// The instant every story starts at: Monday 16 November 2026, 10:00 China time (after every date the demo city writes). Stories never read
/// the wall clock; one that needs another hour sets the store's clock.
fn start_instant() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 16, 2, 0, 0)
        .single()
        .expect("a valid instant")
}

async fn open(engine: &'static str) -> Db {
    let (store, url, _dir, pg) = if engine == "sqlite" {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (Store::connect(&url).await.expect("sqlite"), url, Some(dir), None)
    } else {
        let url = std::env::var("GONGJIAN_TEST_DATABASE_URL").expect("postgres url");
        let name = format!("gj_t_{}", uuid::Uuid::new_v4().simple());
        // A linguistic default collation where the server has ICU (as in the usual en_US
        // deployments), so SQL that assumes byte order on a column without COLLATE "C" fails.
        let create = format!("CREATE DATABASE {name}");
        let icu = format!("{create} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
        pg_admin(&url, &[format!("{icu} LOCALE 'C.UTF-8'"), create]).await;
        let own = with_database(&url, &name);
        let store = Store::connect(&own).await;
        (store.expect("postgres"), own, None, Some((url, name)))
    };
    let store = store.with_clock(gongjian_domain::clock::Clock::starting_at(start_instant()));
    let db = Db { store, url, _dir, pg };
    db.store.migrate().await.expect("migrate");
    db
}

/// Runs `story` on SQLite, then on PostgreSQL when it is configured.
async fn for_each_engine(story: impl AsyncFn(&Db)) {
    let mut engines = vec!["sqlite"];
    let pg = std::env::var("GONGJIAN_TEST_DATABASE_URL");
    if pg.is_ok_and(|u| !u.trim().is_empty()) {
        engines.push("postgres");
    }
    for engine in engines {
        ENGINE.set(engine);
        let db = open(engine).await;
        story(&db).await;
        db.store.close().await;
        drop(db);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn actor(username: &str, role: Role, reach: Reach) -> Actor {
    let grants = vec![Grant { role, reach }];
    let (user_id, username) = (0, username.to_string());
    Actor {
        user_id,
        username,
        grants,
    }
}

fn admin() -> Actor {
    actor("admin", Role::SystemAdmin, Reach::All)
}

fn scoped(role: Role, node: &Node) -> Actor {
    let (node_id, path) = (node.id, node.path.clone());
    actor("staff", role, Reach::Subtree { node_id, path })
}

/// Subtree counts as `districts/streets/communities/level-2 grids/level-3 grids`.
fn show(c: LevelCounts) -> String {
    let (d, s, k) = (c.districts, c.streets, c.communities);
    format!("{d}/{s}/{k}/{}/{}", c.grids_l2, c.grids_l3)
}

fn oc(c: OrgCounts) -> [i64; 4] {
    [c.committees, c.general_branches, c.branches, c.groups]
}

fn opt(s: &str) -> Option<String> {
    Some(s.to_string()).filter(|s| !s.is_empty())
}

/// A node input; empty strings stand for absent values.
fn input(parent_id: Option<i64>, code: &str, name: &str, kind: &str) -> NodeInput {
    let (code, kind, name) = (opt(code), opt(kind), name.to_string());
    NodeInput {
        parent_id,
        code,
        name,
        kind,
        ..NodeInput::default()
    }
}

fn inp(parent: &Node, code: &str, name: &str, kind: &str) -> NodeInput {
    input(Some(parent.id), code, name, kind)
}

fn mv(parent: &Node, code: &str) -> MoveInput {
    let (new_parent_id, new_code) = (Some(parent.id), opt(code));
    MoveInput {
        new_parent_id,
        new_code,
        note: None,
    }
}

fn pmv(parent: &PartyOrg) -> PartyMoveInput {
    let new_parent_id = Some(parent.id);
    PartyMoveInput {
        new_parent_id,
        note: None,
    }
}

fn edit(name: &str) -> NodeEdit {
    let name = name.to_string();
    NodeEdit {
        name,
        ..NodeEdit::default()
    }
}

/// Rows of a `|`-separated table, cells trimmed, blank lines skipped.
fn table(text: &str) -> Vec<Vec<&str>> {
    let rows = text.lines().filter(|l| !l.trim().is_empty());
    rows.map(|l| l.split('|').map(str::trim).collect()).collect()
}

/// Asserts a refusal naming `field` with a message containing `fragment`.
#[track_caller]
fn refused<T: Debug>(r: StoreResult<T>, field: &str, fragment: &str) {
    let engine = ENGINE.get();
    match r {
        Err(StoreError::Invalid(v)) => assert!(
            v.message_for(field).is_some_and(|m| m.contains(fragment)),
            "[{engine}] expected {field} ~ “{fragment}”, got {v:?}"
        ),
        other => panic!("[{engine}] expected a field error on {field}, got {other:?}"),
    }
}

#[track_caller]
fn not_found<T: Debug>(r: StoreResult<T>) {
    let engine = ENGINE.get();
    let ok = matches!(r, Err(StoreError::NotFound));
    assert!(ok, "[{engine}] expected NotFound, got {r:?}");
}

fn codes<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> Vec<&'a str> {
    nodes.into_iter().map(|n| n.code.as_str()).collect()
}

fn ids(orgs: &[PartyOrg]) -> Vec<i64> {
    orgs.iter().map(|o| o.id).collect()
}

fn page_codes(page: &Kids) -> Vec<&str> {
    codes(page.items.iter().map(|c| &c.node))
}

impl Db {
    async fn create(&self, input: NodeInput) -> Node {
        let r = self.store.create_node(&admin(), &input).await;
        r.unwrap_or_else(|e| panic!("[{}] create {}: {e:?}", ENGINE.get(), input.name))
    }

    async fn grid(&self, parent: &Node, name: &str, kind: &str) -> Node {
        self.create(inp(parent, "", name, kind)).await
    }

    async fn node(&self, id: i64) -> Node {
        self.store.node(&admin(), id).await.expect("node")
    }

    async fn counts(&self, node: &Node) -> String {
        let c = self.store.subtree_counts(&admin(), node.id).await;
        show(c.expect("counts"))
    }

    async fn kids(&self, n: &Node, all: bool, after: Option<&str>, limit: i64) -> Kids {
        let s = &self.store;
        let page = s.children(&admin(), n.id, all, after, limit).await;
        page.expect("children")
    }

    /// The subtree of `root` as text, a line per node: code, name, level, kind, subtree counts
    /// and `archived` when so. Read through `children` one node per page, following the
    /// cursors; every child's parent and path are checked on the way.
    async fn outline(&self, root: &Node) -> String {
        let mut lines = Vec::new();
        let mut stack = vec![(0, root.clone(), self.counts(root).await)];
        while let Some((depth, n, c)) = stack.pop() {
            let (code, name, level) = (&n.code, &n.name, n.level.key());
            let kind = n.kind.as_deref().unwrap_or("-");
            let archived = if n.is_active() { "" } else { " archived" };
            let indent = "  ".repeat(depth);
            let line = format!("{indent}{code} {name} {level} {kind} {c}{archived}");
            lines.push(line);
            let mut page = self.kids(&n, true, None, 1).await;
            let mut kids = std::mem::take(&mut page.items);
            while let Some(after) = page.next_cursor {
                page = self.kids(&n, true, Some(&after), 1).await;
                kids.append(&mut page.items);
            }
            for k in kids.into_iter().rev() {
                eq!(k.node.parent_id, Some(n.id));
                eq!(k.node.path, format!("{}{}/", n.path, k.node.id));
                stack.push((depth + 1, k.node, show(k.counts)));
            }
        }
        lines.join("\n")
    }

    /// A node's history, newest first: action, old and new code, note.
    async fn history(&self, node: &Node) -> Vec<String> {
        let h = self.store.node_history(&admin(), node.id).await;
        let d = |s: Option<String>| s.unwrap_or_else(|| "-".into());
        let line = |e: HistoryEntry| {
            let (old, new, note) = (d(e.old_code), d(e.new_code), d(e.note));
            format!("{} {old}>{new} {note}", e.action)
        };
        h.expect("history").into_iter().map(line).collect()
    }

    /// Runs one statement directly (a test's way to put the data in a state no form makes).
    async fn exec(&self, sql: &str) {
        sqlx::query(AssertSqlSafe(sql.to_string()))
            .execute(self.store.pool())
            .await
            .expect(sql);
    }

    async fn scalar(&self, sql: &str) -> i64 {
        let q = sqlx::query_scalar(AssertSqlSafe(sql.to_string()));
        q.fetch_one(self.store.pool()).await.expect(sql)
    }

    /// Everything a refused write could have touched.
    async fn snapshot(&self) -> (Vec<i64>, Vec<(String, String, String)>) {
        let mut counts = Vec::new();
        for table in ["nodes", "node_history", "party_orgs", "party_org_history"] {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            counts.push(self.scalar(&sql).await);
        }
        let sql = "SELECT code, path, status FROM nodes ORDER BY code";
        let rows = sqlx::query_as(sql).fetch_all(self.store.pool()).await;
        (counts, rows.expect("snapshot"))
    }

    /// Tries to create a party organisation named after its territory.
    async fn try_org(&self, p: Option<&PartyOrg>, kind: &str, cat: &str, at: &Node) -> Org {
        let input = PartyOrgInput {
            parent_id: p.map(|p| p.id),
            kind: kind.into(),
            category: cat.into(),
            name: format!("{}{kind}", at.name),
            territory_node_id: Some(at.id),
            ..Default::default()
        };
        self.store.create_party_org(&admin(), &input).await
    }

    async fn org(&self, p: Option<&PartyOrg>, kind: &str, cat: &str, at: &Node) -> PartyOrg {
        self.try_org(p, kind, cat, at).await.expect("party org")
    }
}

/// The test tree: key | parent key | code (derived for grids) | name | grid kind.
const SPEC: &str = "
city     |          | 440600000000 | 佛山市       |
district | city     | 440604000000 | 禅城区       |
a        | district | 440604001000 | 祖庙街道     |
b        | district | 440604002000 | 张槎街道     |
a1       | a        | 440604001001 | 升平社区     |
a2       | a        | 440604001002 | 兴华社区     |
b1       | b        | 440604002001 | 张槎社区     |
a1g1     | a1       |              | 锦绣小区     | estate
a1g2     | a1       |              | 第二居民小组 | resident_group
a1g1a    | a1g1     |              | 1号楼片区    | party_group_area
a1g1b    | a1g1     |              | 2号楼片区    | building_leader_area
a1g2a    | a1g2     |              | 东片         | post_holder_area
a2g1     | a2       |              | 兴华商务楼宇 | business
a2g1a    | a2g1     |              | 东座         | volunteer_team_area
b1g1     | b1       |              | 翠湖小区     | estate
b1g1a    | b1g1     |              | 北片         | party_group_area
";

async fn build_tree(db: &Db) -> Tree {
    let mut t = Tree::new();
    for row in table(SPEC) {
        let parent_id = t.get(row[1]).map(|p| p.id);
        let node = db.create(input(parent_id, row[2], row[3], row[4])).await;
        t.insert(row[0].to_string(), node);
    }
    t
}

const TREE: &str = "\
440600000000 佛山市 city - 1/2/3/4/5
  440604000000 禅城区 district - 1/2/3/4/5
    440604001000 祖庙街道 street - 0/1/2/3/4
      440604001001 升平社区 community - 0/0/1/2/3
        440604001001001 锦绣小区 grid_l2 estate 0/0/0/1/2
          440604001001001001 1号楼片区 grid_l3 party_group_area 0/0/0/0/1
          440604001001001002 2号楼片区 grid_l3 building_leader_area 0/0/0/0/1
        440604001001002 第二居民小组 grid_l2 resident_group 0/0/0/1/1
          440604001001002001 东片 grid_l3 post_holder_area 0/0/0/0/1
      440604001002 兴华社区 community - 0/0/1/1/1
        440604001002001 兴华商务楼宇 grid_l2 business 0/0/0/1/1
          440604001002001001 东座 grid_l3 volunteer_team_area 0/0/0/0/1
    440604002000 张槎街道 street - 0/1/1/1/1
      440604002001 张槎社区 community - 0/0/1/1/1
        440604002001001 翠湖小区 grid_l2 estate 0/0/0/1/1
          440604002001001001 北片 grid_l3 party_group_area 0/0/0/0/1";

// ---------------------------------------------------------------------------------------------
// Stories

#[tokio::test]
async fn tree_is_built_counted_and_paged() {
    for_each_engine(async |db: &Db| {
        let (s, me) = (&db.store, &admin());
        let t = build_tree(db).await;
        let (city, a, a1) = (&t["city"], &t["a"], &t["a1"]);
        eq!(city.path, format!("/{}/", city.id));
        eq!(db.outline(city).await, TREE);
        eq!(db.counts(city).await, "1/2/3/4/5");
        eq!(db.counts(a).await, "0/1/2/3/4");
        eq!(db.counts(a1).await, "0/0/1/2/3");

        let page = db.kids(&t["district"], false, None, 10).await;
        eq!(page_codes(&page), ["440604001000", "440604002000"]);
        let counts: Vec<_> = page.items.iter().map(|c| show(c.counts)).collect();
        eq!(counts, ["0/1/2/3/4", "0/1/1/1/1"]);
        eq!(page.next_cursor, None);
        let first = db.kids(a, false, None, 1).await;
        eq!(page_codes(&first), ["440604001001"]);
        eq!(show(first.items[0].counts), "0/0/1/2/3");
        let cursor = first.next_cursor.as_deref();
        eq!(cursor, Some("440604001001"));
        let rest = db.kids(a, false, cursor, 1).await;
        eq!(page_codes(&rest), ["440604001002"]);
        eq!(show(rest.items[0].counts), "0/0/1/1/1");
        eq!(rest.next_cursor, None);

        let up = s.ancestors(me, &t["a1g1a"]).await.unwrap();
        let names: Vec<_> = up.iter().map(|n| n.name.as_str()).collect();
        eq!(names.concat(), "佛山市禅城区祖庙街道升平社区锦绣小区");
        eq!(db.history(a1).await, ["created ->440604001001 -"]);

        let mut change = edit("升平");
        change.households = Some("1200".into());
        let renamed = s.edit_node(me, a1.id, &change).await.unwrap();
        eq!(renamed.name, "升平");
        eq!(renamed.households, Some(1200));
        eq!(db.history(a1).await[0], "renamed ->- -");
    })
    .await;
}

const MOVED: &str = "\
440604000000 禅城区 district - 1/2/3/4/5
  440604001000 祖庙街道 street - 0/1/1/1/1
    440604001002 兴华社区 community - 0/0/1/1/1
      440604001002001 兴华商务楼宇 grid_l2 business 0/0/0/1/1
        440604001002001001 东座 grid_l3 volunteer_team_area 0/0/0/0/1
  440604002000 张槎街道 street - 0/1/2/3/4
    440604002001 张槎社区 community - 0/0/1/1/1
      440604002001001 翠湖小区 grid_l2 estate 0/0/0/1/1
        440604002001001001 北片 grid_l3 party_group_area 0/0/0/0/1
    440604002002 升平社区 community - 0/0/1/2/3
      440604002002001 锦绣小区 grid_l2 estate 0/0/0/1/2
        440604002002001001 1号楼片区 grid_l3 party_group_area 0/0/0/0/1
        440604002002001002 2号楼片区 grid_l3 building_leader_area 0/0/0/0/1
      440604002002002 第二居民小组 grid_l2 resident_group 0/0/0/1/1
        440604002002002001 东片 grid_l3 post_holder_area 0/0/0/0/1";

const REGRIDDED: &str = "\
440604002001 张槎社区 community - 0/0/1/2/2
  440604002001001 翠湖小区 grid_l2 estate 0/0/0/1/1
    440604002001001001 北片 grid_l3 party_group_area 0/0/0/0/1
  440604002001002 兴华商务楼宇 grid_l2 business 0/0/0/1/1
    440604002001002001 东座 grid_l3 volunteer_team_area 0/0/0/0/1";

#[tokio::test]
async fn boundary_adjustment_moves_recodes_and_keeps_history() {
    for_each_engine(async |db: &Db| {
        let (s, me) = (&db.store, &admin());
        let t = build_tree(db).await;
        let (a, b, a1) = (&t["a"], &t["b"], &t["a1"]);
        let mut input = mv(b, "440604002002");
        input.note = Some("区划调整".into());
        let moved = s.move_node(me, a1.id, &input).await.unwrap();
        let new_path = format!("{}{}/", b.path, a1.id);
        eq!(moved.code, "440604002002");
        eq!(moved.parent_id, Some(b.id));
        eq!(moved.path, new_path);
        eq!(db.outline(&t["district"]).await, MOVED);
        eq!(db.counts(a).await, "0/1/1/1/1");
        eq!(db.counts(b).await, "0/1/2/3/4");
        eq!(db.counts(&t["city"]).await, "1/2/3/4/5");

        for key in ["a1g1", "a1g2", "a1g1a", "a1g1b", "a1g2a"] {
            let old = &t[key];
            let now = db.node(old.id).await;
            let code = format!("440604002002{}", &old.code[12..]);
            eq!(now.code, code);
            eq!(now.parent_id, old.parent_id);
            eq!(now.path, old.path.replacen(&a1.path, &new_path, 1));
            let recoded = format!("recoded {}>{code} 区划调整", old.code);
            let created = format!("created ->{} -", old.code);
            eq!(db.history(old).await, [recoded, created]);
        }
        let line = "moved 440604001001>440604002002 区划调整";
        eq!(db.history(a1).await[0], line);
        let h = s.node_history(me, a1.id).await.unwrap();
        eq!(h[0].old_parent_id, Some(a.id));
        eq!(h[0].new_parent_id, Some(b.id));
        let by_code = async |code: &str| s.node_by_code(me, code).await.unwrap().id;
        eq!(by_code("440604001001").await, a1.id);
        eq!(by_code("440604001001002001").await, t["a1g2a"].id);

        // A new grid under the moved community continues its sequence.
        let g = db.grid(&moved, "新建小区", "estate").await;
        eq!(g.code, "440604002002003");
        // A grid moved without a code takes the next free one under its new community.
        let input = mv(&t["b1"], "");
        let g = s.move_node(me, t["a2g1"].id, &input).await.unwrap();
        eq!(g.code, "440604002001002");
        eq!(db.counts(&t["a2"]).await, "0/0/1/0/0");
        eq!(db.outline(&t["b1"]).await, REGRIDDED);
        let line = "recoded 440604001002001001>440604002001002001 -";
        eq!(db.history(&t["a2g1a"]).await[0], line);
        // A freed code may be given again; its current holder wins over the history.
        let reuse = db.create(inp(a, "440604001001", "新升平社区", "")).await;
        eq!(by_code("440604001001").await, reuse.id);
    })
    .await;
}

/// parent | code | name | kind | level | households | field | message fragment
const CREATE_REFUSALS: &str = "
a  | 440604002003 | 错前缀 |                  |         |    | code       | 前 9 位“440604001”开头
a  | 440604001001 | 重复   |                  |         |    | code       | 代码 440604001001 已被使用
a  | 44060400100  | 短码   |                  |         |    | code       | 应为 12 位数字，实际为 11 位
a  | 4406040010a1 | 字母   |                  |         |    | code       | 只能包含数字，第 11 位是“a”
a  | 440604001000 | 全零   |                  |         |    | code       | 第 10–12 位应为 001–599
a  |              | 无码   |                  |         |    | code       | 请填写社区（一级网格）的 12 位
a  | 440604001003 |        |                  |         |    | name       | 名称不能为空
a  |              | 三级   | party_group_area | grid_l3 |    | parent_id  | 三级网格只能建在二级网格下
a1 |              | 无类型 |                  |         |    | kind       | 请选择网格类型
a1 |              | 错类型 | party_group_area |         |    | kind       | 党小组长责任区不能用于二级网格
a1 |              | 未知   | villa            |         |    | kind       | 未知的网格类型“villa”
a1 |              | 负数   | estate           |         | -3 | households | 应为 0 到 1 亿之间的整数
";

/// node | new parent | new code | field | message fragment
const MOVE_REFUSALS: &str = "
a  | a1 |              | new_parent_id | 不能把节点迁移到它自身或它的下级之下
a1 | b  | 440604001009 | new_code      | 前 9 位“440604002”开头
a1 | b  |              | new_code      | 请填写调整后的 12 位区划代码（应以“440604002”开头）
a1 | b  | 440604002001 | new_code      | 代码 440604002001 已被使用
a1 | a2 | 440604001001 | new_parent_id | 社区（一级网格）只能建在街道（镇）下
a1 | a  | 440604001001 | new_parent_id | 节点已在该上级之下，代码也未变化
";

#[tokio::test]
async fn refusals_write_nothing() {
    for_each_engine(async |db: &Db| {
        let (s, me) = (&db.store, &admin());
        let t = build_tree(db).await;
        let before = db.snapshot().await;
        for row in table(CREATE_REFUSALS) {
            let mut input = inp(&t[row[0]], row[1], row[2], row[3]);
            (input.level, input.households) = (opt(row[4]), opt(row[5]));
            refused(s.create_node(me, &input).await, row[6], row[7]);
        }
        for row in table(MOVE_REFUSALS) {
            let input = mv(&t[row[1]], row[2]);
            refused(s.move_node(me, t[row[0]].id, &input).await, row[3], row[4]);
        }
        eq!(db.snapshot().await, before);
        eq!(db.outline(&t["city"]).await, TREE);
    })
    .await;
}

const ARCHIVED: &str = "\
440604001001 升平社区 community - 0/0/1/2/2
  440604001001001 锦绣小区 grid_l2 estate 0/0/0/1/1
    440604001001001001 1号楼片区 grid_l3 party_group_area 0/0/0/0/0 archived
    440604001001001002 2号楼片区 grid_l3 building_leader_area 0/0/0/0/1
  440604001001002 第二居民小组 grid_l2 resident_group 0/0/0/1/1
    440604001001002001 东片 grid_l3 post_holder_area 0/0/0/0/1";

#[tokio::test]
async fn archive_and_restore() {
    for_each_engine(async |db: &Db| {
        let (s, me) = (&db.store, &admin());
        let t = build_tree(db).await;
        let (a1, leaf) = (&t["a1"], &t["a1g1a"]);
        let before = db.snapshot().await;
        let r = s.archive_node(me, t["a"].id, None).await;
        refused(r, "status", "还有 2 个下级未撤销，请先迁移或撤销下级");
        let r = s.archive_node(me, t["a1g1"].id, None).await;
        refused(r, "status", "还有 2 个下级未撤销");
        eq!(db.snapshot().await, before);

        let archived = s.archive_node(me, leaf.id, Some("楼栋拆除")).await.unwrap();
        eq!(archived.status, "archived");
        check!(archived.archived_at.is_some());
        eq!(db.outline(a1).await, ARCHIVED);
        eq!(db.counts(&t["city"]).await, "1/2/3/4/4");
        let active = db.kids(&t["a1g1"], false, None, 10).await;
        eq!(page_codes(&active), ["440604001001001002"]);
        refused(s.archive_node(me, leaf.id, None).await, "status", "该节点已撤销");
        let r = s.move_node(me, leaf.id, &mv(&t["a1g2"], "")).await;
        refused(r, "new_parent_id", "已撤销的节点不能迁移，请先恢复");
        let r = s.edit_node(me, leaf.id, &edit("新名")).await;
        refused(r, "name", "已撤销的节点不能修改");

        // An archived parent takes no new children and blocks restoring its archived child.
        let (other, parent) = (&t["a1g2a"], &t["a1g2"]);
        s.archive_node(me, other.id, None).await.unwrap();
        s.archive_node(me, parent.id, None).await.unwrap();
        eq!(db.counts(a1).await, "0/0/1/1/1");
        let r = s.restore_node(me, other.id).await;
        refused(r, "status", "上级“第二居民小组”已撤销，请先恢复上级");
        let input = inp(parent, "", "新片", "post_holder_area");
        let r = s.create_node(me, &input).await;
        refused(r, "parent_id", "“第二居民小组”已撤销，不能在其下新建");
        s.restore_node(me, parent.id).await.unwrap();
        s.restore_node(me, other.id).await.unwrap();

        let restored = s.restore_node(me, leaf.id).await.unwrap();
        eq!(restored.status, "active");
        eq!(restored.archived_at, None);
        refused(s.restore_node(me, leaf.id).await, "status", "该节点未撤销");
        eq!(db.outline(&t["city"]).await, TREE);
        let h = db.history(leaf).await;
        eq!(h[..2], ["restored ->- -", "archived ->- 楼栋拆除"]);
        eq!(h[2..], [format!("created ->{} -", leaf.code)]);
        let h = db.history(parent).await;
        eq!(h[..2], ["restored ->- -", "archived ->- -"]);
    })
    .await;
}

#[tokio::test]
async fn party_organisations() {
    for_each_engine(async |db: &Db| {
        let (s, me) = (&db.store, &admin());
        let t = build_tree(db).await;
        let wc = db.org(None, "working_committee", "street", &t["a"]).await;
        let c1 = db.org(Some(&wc), "committee", "community", &t["a1"]).await;
        let c2 = db.org(Some(&wc), "committee", "community", &t["a2"]).await;
        let br = db.org(Some(&c1), "branch", "estate", &t["a1g1"]).await;
        let grp = db.org(Some(&br), "group", "grid", &t["a1g1a"]).await;
        eq!(wc.path, format!("/{}/", wc.id));
        eq!(c1.path, format!("/{}/{}/", wc.id, c1.id));
        eq!(grp.path, format!("{}{}/", br.path, grp.id));
        eq!(br.path, format!("{}{}/", c1.path, br.id));
        eq!(br.territory_code, "440604001001001");
        eq!(br.territory_name, "锦绣小区");
        eq!((br.kind_label(), br.category_label()), ("党支部", "小区"));

        let before = db.snapshot().await;
        let r = db.try_org(Some(&c1), "group", "grid", &t["a1g1b"]).await;
        refused(r, "parent_id", "党小组只能隶属于党支部，所选上级是党委");
        let r = db.try_org(Some(&c1), "branch", "estate", &t["a"]).await;
        refused(r, "territory_node_id", "小区党组织的所属区域应为二级网格");
        let r = db.try_org(None, "branch", "grid", &t["a1g2"]).await;
        refused(r, "parent_id", "党支部必须有上级党组织");
        // A territory with an organisation attached cannot be archived.
        let r = s.archive_node(me, t["a1g1a"].id, None).await;
        refused(r, "status", "还有 1 个党组织以此为所属区域");
        eq!(db.snapshot().await, before);

        let kids = async |org: &PartyOrg, limit: i64| {
            let page = s.party_children(me, org.id, false, None, limit).await;
            page.unwrap()
        };
        let page = kids(&wc, 10).await;
        let order: Vec<_> = page.items.iter().map(|k| k.org.id).collect();
        eq!(order, [c1.id, c2.id]);
        eq!(oc(page.items[0].counts), [0, 0, 1, 1]);
        eq!(oc(page.items[1].counts), [0, 0, 0, 0]);
        eq!(page.next_cursor, None);
        eq!(kids(&wc, 1).await.next_cursor, Some(c1.id.to_string()));
        eq!(oc(kids(&c1, 10).await.items[0].counts), [0, 0, 0, 1]);
        eq!(ids(&s.party_roots(me).await.unwrap()), [wc.id]);
        let at = s.party_orgs_at(me, t["a1g1"].id).await.unwrap();
        eq!(ids(&at), [br.id]);

        // 隶属关系调整: the branch and its group follow to the other committee.
        let mut input = pmv(&c2);
        input.note = Some("调整".into());
        let moved = s.move_party_org(me, br.id, &input).await.unwrap();
        eq!(moved.parent_id, Some(c2.id));
        eq!(moved.path, format!("{}{}/", c2.path, br.id));
        let g = s.party_org(me, grp.id).await.unwrap();
        eq!(g.path, format!("{}{}/{}/", c2.path, br.id, grp.id));
        let page = kids(&wc, 10).await;
        eq!(oc(page.items[0].counts), [0, 0, 0, 0]);
        eq!(oc(page.items[1].counts), [0, 0, 1, 1]);
        let h = &s.party_history(me, br.id).await.unwrap()[0];
        eq!((h.action.as_str(), h.note.as_deref()), ("moved", Some("调整")));
        eq!((h.old_parent_id, h.new_parent_id), (Some(c1.id), Some(c2.id)));
        let r = s.move_party_org(me, wc.id, &pmv(&c2)).await;
        refused(r, "new_parent_id", "不能把党组织调整到它自身或它的下级之下");
        let r = s.move_party_org(me, grp.id, &pmv(&c1)).await;
        refused(r, "new_parent_id", "党小组只能隶属于党支部");
        let r = s.move_party_org(me, br.id, &pmv(&c2)).await;
        refused(r, "new_parent_id", "已隶属于该党组织");
    })
    .await;
}

#[tokio::test]
async fn scope_hides_what_lies_outside() {
    for_each_engine(async |db: &Db| {
        let s = &db.store;
        let t = build_tree(db).await;
        let (x, y) = (&t["a1"], &t["a2"]);
        let staff = scoped(Role::CommunityStaff, x);
        eq!(s.node(&staff, x.id).await.unwrap().id, x.id);
        not_found(s.node(&staff, y.id).await);
        not_found(s.node(&staff, t["a"].id).await);
        not_found(s.node_by_code(&staff, &y.code).await);
        not_found(s.subtree_counts(&staff, y.id).await);
        not_found(s.children(&staff, y.id, true, None, 10).await);
        not_found(s.node_history(&staff, y.id).await);
        let counts = s.subtree_counts(&staff, x.id).await.unwrap();
        eq!(show(counts), "0/0/1/2/3");
        eq!(codes(&s.roots(&staff).await.unwrap()), [x.code.as_str()]);
        eq!(codes(&s.roots(&admin()).await.unwrap()), ["440600000000"]);

        let before = db.snapshot().await;
        let input = inp(y, "", "越权网格", "estate");
        refused(s.create_node(&staff, &input).await, "parent_id", "上级节点不存在");
        let r = s.move_node(&staff, t["a1g2"].id, &mv(y, "")).await;
        refused(r, "new_parent_id", "新的上级不存在");
        not_found(s.archive_node(&staff, t["a2g1a"].id, None).await);
        let reader = scoped(Role::GridWorker, x);
        let input = inp(x, "", "只读网格", "estate");
        let r = s.create_node(&reader, &input).await;
        check!(matches!(r, Err(StoreError::Forbidden)));
        eq!(db.snapshot().await, before);

        let search = async |who: &Actor, q: &str, level: Option<Level>| {
            let page = s.search_nodes(who, q, level, None, 50).await.unwrap();
            page.items.into_iter().map(|n| n.code).collect::<Vec<_>>()
        };
        check!(search(&staff, "兴华", None).await.is_empty());
        let found = search(&admin(), "兴华", None).await;
        eq!(found, ["440604001002", "440604001002001"]);
        let found = search(&staff, "", Some(Level::Community)).await;
        eq!(found, [x.code.as_str()]);
        // Code prefixes, which must work whatever the collation of the code column.
        let mine = search(&staff, "440604001", None).await;
        eq!(mine.len(), 6);
        check!(mine.iter().all(|c| c.starts_with("440604001001")));
        eq!(search(&admin(), "440604001", None).await.len(), 10);
        eq!(search(&admin(), "44060", None).await.len(), 16);
        eq!(search(&admin(), "4406039", None).await.len(), 0);

        // Inside its scope the staff member may build.
        let input = inp(x, "", "新网格", "business");
        let g = s.create_node(&staff, &input).await.unwrap();
        eq!(g.code, "440604001001003");
        eq!(db.counts(&t["a"]).await, "0/1/2/4/4");
    })
    .await;
}

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    let cwd = std::env::current_dir().unwrap();
    for url in ["mysql://x", "foo.db", "file:foo.db"] {
        let scheme = url.split(':').next().unwrap();
        match Store::connect(url).await {
            Err(StoreError::Config(m)) => assert!(m.contains(&format!("'{scheme}'")), "{m}"),
            other => panic!("{url}: expected a config error, got {other:?}"),
        }
    }
    assert!(!cwd.join("foo.db").exists() && !cwd.join("x").exists());
}

#[path = "store/people.rs"]
mod people;

#[path = "store/imports.rs"]
mod imports;

#[path = "store/datakey.rs"]
mod datakey;

#[path = "store/accounts.rs"]
mod accounts;

#[path = "store/stats.rs"]
mod stats;

#[path = "store/demo.rs"]
mod demo;

#[path = "store/registrations.rs"]
mod registrations;

#[path = "store/points.rs"]
mod points;

#[path = "store/volunteer_views.rs"]
mod volunteer_views;

#[path = "store/volunteers.rs"]
mod volunteers;

#[path = "store/audit.rs"]
mod audit;
#[path = "store/faults.rs"]
mod faults;
