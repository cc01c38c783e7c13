//! Synthetic residents and posts of a demo city.

use chrono::Datelike;
use gongjian_domain::ids::{IdNumber, Mobile, Sex};
use gongjian_domain::tree::Level;

use super::bulk::{PersonRow, PersonWriter, SetAside};
use super::{Progress, Scale, mix};
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::people::{ID_FIELD, MOBILE_FIELD};
use crate::sql::Sql;

/// A generated post: person, kind, node, party organisation, grade.
type DemoPost = (i64, &'static str, Option<i64>, Option<i64>, Option<&'static str>);

const SURNAMES: [&str; 24] = [
    "陈", "李", "黄", "张", "梁", "何", "吴", "林", "罗", "冯", "王", "刘", "周", "谭", "郭", "邓", "麦", "区", "伍",
    "潘", "杨", "赵", "徐", "钟",
];
const GIVEN: [&str; 30] = [
    "伟", "芳", "敏", "强", "丽", "军", "杰", "娟", "明", "霞", "志强", "嘉欣", "俊杰", "淑芬", "建华", "美玲", "家豪",
    "晓燕", "国华", "惠珍", "永明", "少华", "锦荣", "碧霞", "伟东", "秀英", "子轩", "梓涵", "浩然", "诗琪",
];

/// A valid 身份证号 for the `n`-th synthetic resident of a district.
fn synthetic_id(district6: &str, n: usize) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let born = chrono::NaiveDate::from_ymd_opt(1940, 1, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new((n / 1000 % 25_000) as u64)))
        .unwrap_or_default();
    let first17 = format!(
        "{district6}{:04}{:02}{:02}{:03}",
        born.year(),
        born.month(),
        born.day(),
        n % 1000
    );
    let s: u32 = first17
        .bytes()
        .zip(W)
        .map(|(c, w)| u32::from(c.wrapping_sub(b'0')) * w)
        .sum();
    format!("{first17}{}", b"10X98765432"[(s % 11) as usize] as char)
}

/// The indexes of `persons` a bulk load sets aside and builds with one sort at its end: the
/// keyed hashes arrive in random order, and the names spread over a few hundred places across
/// the index, so each insert would land on another page. The home index stays: residents
/// arrive grid by grid, so its keys come almost in order.
const SET_ASIDE: [&str; 3] = ["persons_id_hash", "persons_mobile_hash", "persons_name"];

/// Where the residents go: each level-3 grid (id, code) gets `per_grid` of them, with ids from
/// `first_id` on, in batches of about `batch` rows.
struct Plan {
    grids: Vec<(i64, String)>,
    per_grid: usize,
    first_id: i64,
    batch: usize,
}

/// The first three residents of each level-3 grid, who take the posts.
type FirstResidents = std::collections::HashMap<i64, Vec<i64>>;

/// Generates the residents of `plan`, encrypted and hashed with `keys` exactly as the ordinary
/// write path does, and hands them over in batches until the receiver goes away. Runs on its own
/// thread so the encryption overlaps with the database's work.
fn generate(
    keys: &crate::crypto::Keyring,
    plan: &Plan,
    out: &tokio::sync::mpsc::Sender<StoreResult<Vec<PersonRow>>>,
    today: chrono::NaiveDate,
) -> FirstResidents {
    let mut first: FirstResidents = std::collections::HashMap::new();
    let mut serial: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut next_id = plan.first_id;
    let mut rows = Vec::with_capacity(plan.batch);
    for (grid, code) in &plan.grids {
        let district = &code[..6];
        for k in 0..plan.per_grid {
            let n = serial.entry(district).or_insert(0);
            *n += 1;
            let row = person(keys, today, *grid, code, district, *n, k, next_id);
            if k < 3 {
                first.entry(*grid).or_default().push(next_id);
            }
            next_id += 1;
            match row {
                Ok(r) => rows.push(r),
                Err(e) => {
                    let _ = out.blocking_send(Err(e));
                    return first;
                }
            }
            if rows.len() >= plan.batch {
                let full = std::mem::replace(&mut rows, Vec::with_capacity(plan.batch));
                if out.blocking_send(Ok(full)).is_err() {
                    return first;
                }
            }
        }
    }
    if !rows.is_empty() {
        let _ = out.blocking_send(Ok(rows));
    }
    first
}

/// The `n`-th synthetic resident of a district, the `k`-th of its grid.
#[allow(clippy::too_many_arguments)]
fn person(
    keys: &crate::crypto::Keyring,
    today: chrono::NaiveDate,
    grid: i64,
    code: &str,
    district: &str,
    n: usize,
    k: usize,
    id: i64,
) -> StoreResult<PersonRow> {
    let number =
        IdNumber::parse(&synthetic_id(district, n), today).map_err(|e| StoreError::Config(format!("demo ID: {e}")))?;
    let mobile_text = format!("13{}{:08}", 5 + (n % 5), (n * 7919 + code.len()) % 100_000_000);
    let mobile = Mobile::parse(&mobile_text).map_err(|e| StoreError::Config(format!("demo mobile: {e}")))?;
    let born = number.birth_date();
    Ok(PersonRow {
        id,
        name: format!("{}{}", SURNAMES[n % SURNAMES.len()], GIVEN[(n / 7) % GIVEN.len()]),
        id_number_enc: keys.encrypt(ID_FIELD, number.as_str())?,
        id_number_hash: keys.lookup_hash(ID_FIELD, number.as_str()),
        id_number_masked: number.masked(),
        birth_date: format!("{:04}-{:02}-{:02}", born.year(), born.month(), born.day()),
        sex: match number.sex() {
            Sex::Male => "male",
            Sex::Female => "female",
        },
        mobile_enc: keys.encrypt(MOBILE_FIELD, mobile.as_str())?,
        mobile_hash: keys.lookup_hash(MOBILE_FIELD, mobile.as_str()),
        mobile_masked: mobile.masked(),
        home_node_id: grid,
        household: format!("{}栋{}{:02}", k % 12 + 1, k % 30 + 1, (n % 4) + 1),
        registered_elsewhere: (mix(n, 3) % 2) as i64,
    })
}

impl Store {
    /// Synthetic residents on every level-3 grid of a demo city (a few per grid at small
    /// scale, the seed's 8.15 million at full scale, about half registered elsewhere) and the
    /// posts that make the seed's organisation figures: each community's party secretary is also
    /// its residents'-committee director (一肩挑) with two reserve cadres; each street has a
    /// secretary, an organising member and five party-building instructors; each level-2 grid
    /// a grid worker. Written in the caller's transaction. When the load at least doubles the
    /// residents table, its secondary indexes are dropped first and built again at the end (one
    /// sort each instead of millions of random inserts), inside the same transaction.
    pub(super) async fn load_demo_people(
        &self,
        tx: &mut Tx,
        city_id: i64,
        scale: Scale,
        progress: Progress<'_>,
    ) -> StoreResult<(usize, usize)> {
        let city: (String,) = sqlx::query_as("SELECT path FROM nodes WHERE id = $1")
            .bind(city_id)
            .fetch_one(&mut **tx)
            .await?;
        let mut sql = Sql::new("SELECT id, code, level, parent_id FROM nodes WHERE ");
        crate::scope::push_subtree(&mut sql, "path", &city.0);
        sql.push(" ORDER BY code");
        let nodes: Vec<(i64, String, i64, Option<i64>)> = sql.query_as().fetch_all(&mut **tx).await?;
        let grids: Vec<&(i64, String, i64, Option<i64>)> =
            nodes.iter().filter(|n| n.2 == Level::GridL3.as_i64()).collect();
        let per_grid = match scale {
            Scale::Small => 3,
            Scale::Full => (8_150_000 / grids.len().max(1)).max(1),
        };
        let total = grids.len() * per_grid;
        let now = self.now_text();
        let (existing, max_id): (i64, i64) = sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM persons")
            .fetch_one(&mut **tx)
            .await?;
        let set_aside = if total as i64 >= existing {
            Some(SetAside::drop(tx, self.engine, "persons", &SET_ASIDE).await?)
        } else {
            None
        };
        let plan = Plan {
            grids: grids.iter().map(|g| (g.0, g.1.clone())).collect(),
            per_grid,
            first_id: max_id + 1,
            batch: 4000,
        };
        let (sender, mut batches) = tokio::sync::mpsc::channel(4);
        let keys = self.keys.clone();
        let today = self.today();
        let generator = tokio::task::spawn_blocking(move || generate(&keys, &plan, &sender, today));
        let writer = PersonWriter::new(self.engine, crate::sql::ROWS_PER_INSERT, &now);
        let mut written = 0usize;
        progress("写入居民", 0, total as u64);
        while let Some(batch) = batches.recv().await {
            let batch = batch?;
            written += batch.len();
            writer.write(tx, batch).await?;
            progress("写入居民", written as u64, total as u64);
        }
        let first_resident = generator
            .await
            .map_err(|e| StoreError::Config(format!("demo residents: {e}")))?;
        if let Some(set_aside) = set_aside {
            set_aside.restore(tx, self.engine, progress).await?;
        }
        // Posts: people are taken from the residents of each place's first level-3 grids.
        let parent_of: std::collections::HashMap<i64, Option<i64>> = nodes.iter().map(|n| (n.0, n.3)).collect();
        let community_of = |grid: i64| {
            parent_of
                .get(&grid)
                .copied()
                .flatten()
                .and_then(|l2| parent_of.get(&l2).copied().flatten())
        };
        let mut by_community: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
        for g in &grids {
            if let (Some(c), Some(people)) = (community_of(g.0), first_resident.get(&g.0)) {
                let list = by_community.entry(c).or_default();
                if list.len() < 12 {
                    list.extend(people.iter().copied());
                }
            }
        }
        let org_at: std::collections::HashMap<i64, i64> = {
            let mut sql = Sql::new(
                "SELECT o.territory_node_id, o.id FROM party_orgs o JOIN nodes t ON t.id = o.territory_node_id WHERE o.kind IN ('working_committee', 'committee') AND ",
            );
            crate::scope::push_subtree(&mut sql, "t.path", &city.0);
            sql.query_as::<(i64, i64)>()
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .collect()
        };
        let started = "2021-06-01";
        let mut posts: Vec<DemoPost> = Vec::new();
        let mut street_people: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
        for n in nodes.iter().filter(|n| n.2 == Level::Community.as_i64()) {
            let Some(people) = by_community.get(&n.0).filter(|p| p.len() >= 4) else {
                continue;
            };
            if let Some(org) = org_at.get(&n.0) {
                posts.push((people[0], "secretary", None, Some(*org), None));
            }
            posts.push((people[0], "rc_director", Some(n.0), None, None));
            posts.push((people[1], "reserve_cadre", Some(n.0), None, None));
            posts.push((people[2], "reserve_cadre", Some(n.0), None, None));
            posts.push((people[3], "community_worker", Some(n.0), None, Some("二级")));
            if let Some(street) = n.3 {
                street_people
                    .entry(street)
                    .or_default()
                    .extend(people.iter().skip(4).copied());
            }
        }
        for n in nodes.iter().filter(|n| n.2 == Level::Street.as_i64()) {
            let people = street_people.get(&n.0).cloned().unwrap_or_default();
            if people.len() < 7 {
                continue;
            }
            if let Some(org) = org_at.get(&n.0) {
                posts.push((people[0], "secretary", None, Some(*org), None));
                posts.push((people[1], "organising_member", None, Some(*org), None));
            }
            for p in &people[2..7] {
                posts.push((*p, "instructor", Some(n.0), None, None));
            }
        }
        for g in nodes.iter().filter(|n| n.2 == Level::GridL2.as_i64()) {
            let child = nodes.iter().find(|n| n.3 == Some(g.0)).map(|n| n.0);
            if let Some(p) = child.and_then(|c| first_resident.get(&c)).and_then(|l| l.last()) {
                posts.push((*p, "grid_worker", Some(g.0), None, None));
            }
        }
        for batch in posts.chunks(crate::sql::ROWS_PER_INSERT) {
            let mut sql =
                Sql::new("INSERT INTO posts (person_id, kind, node_id, org_id, grade, started_on, created_at) VALUES ");
            for (i, (person, kind, node, org, grade)) in batch.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.push("(")
                    .bind(*person)
                    .push(", ")
                    .bind(*kind)
                    .push(", ")
                    .bind(*node)
                    .push(", ")
                    .bind(*org)
                    .push(", ")
                    .bind(grade.map(str::to_string))
                    .push(", ")
                    .bind(started)
                    .push(", ")
                    .bind(&now)
                    .push(")");
            }
            sql.query().execute(&mut **tx).await?;
        }
        if let Some(sql) = self.engine.advance_identity_sql("persons") {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
        }
        Ok((written, posts.len()))
    }
}
