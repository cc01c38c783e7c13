//! Synthetic residents and posts of a demo city.

use gongjian_domain::tree::Level;

use super::{Progress, Scale, mix};
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::now_text;
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
    let first17 = format!("{district6}{}{:03}", born.format("%Y%m%d"), n % 1000);
    let s: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    format!("{first17}{}", b"10X98765432"[(s % 11) as usize] as char)
}

impl Store {
    /// Synthetic residents on every level-3 grid of a demo city (a few per grid at small
    /// scale, the seed's 8.15 million at full scale, about half registered elsewhere) and the
    /// posts that make the seed's organisation figures: each community's party secretary is also
    /// its residents'-committee director (一肩挑) with two reserve cadres; each street has a
    /// secretary, an organising member and five party-building instructors; each level-2 grid
    /// a grid worker. Written in batches, each in its own transaction.
    pub(super) async fn load_demo_people(
        &self,
        city_id: i64,
        scale: Scale,
        progress: Progress<'_>,
    ) -> StoreResult<(usize, usize)> {
        let city: (String,) = sqlx::query_as("SELECT path FROM nodes WHERE id = $1")
            .bind(city_id)
            .fetch_one(&self.pool)
            .await?;
        let mut sql = Sql::new("SELECT id, code, level, parent_id FROM nodes WHERE ");
        crate::scope::push_subtree(&mut sql, "path", &city.0);
        sql.push(" ORDER BY code");
        let nodes: Vec<(i64, String, i64, Option<i64>)> = sql.query_as().fetch_all(&self.pool).await?;
        let grids: Vec<&(i64, String, i64, Option<i64>)> =
            nodes.iter().filter(|n| n.2 == Level::GridL3.as_i64()).collect();
        let per_grid = match scale {
            Scale::Small => 3,
            Scale::Full => (8_150_000 / grids.len().max(1)).max(1),
        };
        let total = grids.len() * per_grid;
        let now = now_text();
        let mut written = 0usize;
        let mut first_resident: std::collections::HashMap<i64, Vec<i64>> = std::collections::HashMap::new();
        let mut serial: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for chunk in grids.chunks((2000 / per_grid).max(1)) {
            let mut rows = Vec::new();
            for g in chunk {
                let district = g.1[..6].to_string();
                for k in 0..per_grid {
                    let n = serial.entry(district.clone()).or_insert(0);
                    *n += 1;
                    rows.push((g.0, g.1.clone(), district.clone(), *n, k));
                }
            }
            let mut tx = self.begin_write().await?;
            for batch in rows.chunks(crate::sql::ROWS_PER_INSERT) {
                let mut sql = Sql::new(
                    "INSERT INTO persons (name, id_number_enc, id_number_hash, id_number_masked, birth_date, sex, mobile_enc, \
                     mobile_hash, mobile_masked, home_node_id, household, registered_elsewhere, status, created_at, updated_at) VALUES ",
                );
                for (i, (grid, code, district, n, k)) in batch.iter().enumerate() {
                    let id = gongjian_domain::ids::IdNumber::parse(
                        &synthetic_id(district, *n),
                        gongjian_domain::ids::today_shanghai(),
                    )
                    .map_err(|e| StoreError::Config(format!("demo ID: {e}")))?;
                    let mobile_text = format!("13{}{:08}", 5 + (n % 5), (n * 7919 + code.len()) % 100_000_000);
                    let mobile = gongjian_domain::ids::Mobile::parse(&mobile_text)
                        .map_err(|e| StoreError::Config(format!("demo mobile: {e}")))?;
                    let name = format!("{}{}", SURNAMES[n % SURNAMES.len()], GIVEN[(n / 7) % GIVEN.len()]);
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.push("(")
                        .bind(name)
                        .push(", ")
                        .bind(self.keys.encrypt(crate::people::ID_FIELD, id.as_str())?)
                        .push(", ")
                        .bind(self.keys.lookup_hash(crate::people::ID_FIELD, id.as_str()))
                        .push(", ")
                        .bind(id.masked())
                        .push(", ")
                        .bind(id.birth_date().format("%Y-%m-%d").to_string())
                        .push(", ")
                        .bind(match id.sex() {
                            gongjian_domain::ids::Sex::Male => "male",
                            gongjian_domain::ids::Sex::Female => "female",
                        })
                        .push(", ")
                        .bind(self.keys.encrypt(crate::people::MOBILE_FIELD, mobile.as_str())?)
                        .push(", ")
                        .bind(self.keys.lookup_hash(crate::people::MOBILE_FIELD, mobile.as_str()))
                        .push(", ")
                        .bind(mobile.masked())
                        .push(", ")
                        .bind(*grid)
                        .push(", ")
                        .bind(format!("{}栋{}{:02}", k % 12 + 1, k % 30 + 1, (n % 4) + 1))
                        .push(", ")
                        .bind((mix(*n, 3) % 2) as i64)
                        .push(", 'active', ")
                        .bind(&now)
                        .push(", ")
                        .bind(&now)
                        .push(")");
                }
                sql.push(" RETURNING id, home_node_id");
                let ids: Vec<(i64, i64)> = sql.query_as().fetch_all(&mut *tx).await?;
                for (pid, home) in ids {
                    let list = first_resident.entry(home).or_default();
                    if list.len() < 3 {
                        list.push(pid);
                    }
                }
            }
            tx.commit().await?;
            written += rows.len();
            progress("写入居民", written as u64, total as u64);
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
                .fetch_all(&self.pool)
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
        let mut tx = self.begin_write().await?;
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
            sql.query().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        for table in ["persons", "posts"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                .execute(&self.pool)
                .await?;
        }
        Ok((written, posts.len()))
    }
}
