//! Synthetic party members, units and double registration (双报到) of a demo city: agencies of
//! the city and its districts with their party committees, companies in every community, each
//! community paired with an agency, in-service members registered at their residence
//! communities (about 100,000 at full scale) with claimed posts, a service each and a letter per
//! community, cadres sent down, 75 agency cadres serving as community secretaries and 586
//! part-time members of communities' 大党委 — written in bulk, in batches of one transaction each.

use std::collections::HashMap;

use gongjian_domain::ids::CreditCode;
use gongjian_domain::registration::Duty;
use gongjian_domain::tree::Level;

use super::{Progress, Scale, gets_extra, mix};
use crate::db::{Store, Tx};
use crate::error::StoreResult;
use crate::registrations::{PersonRows, mark_repeated};
use crate::sql::{Arg, ROWS_PER_INSERT, Sql};

const CITY_AGENCIES: [&str; 12] = [
    "市委组织部",
    "市发展和改革局",
    "市教育局",
    "市民政局",
    "市财政局",
    "市人力资源和社会保障局",
    "市自然资源局",
    "市住房和城乡建设局",
    "市卫生健康局",
    "市市场监督管理局",
    "市城市管理和综合执法局",
    "市司法局",
];
const DISTRICT_AGENCIES: [&str; 8] = [
    "委组织部",
    "民政局",
    "人力资源和社会保障局",
    "住房和城乡建设局",
    "卫生健康局",
    "城市管理和综合执法局",
    "司法局",
    "退役军人事务局",
];
const COMPANY_TRADES: [&str; 8] = ["科技", "贸易", "物业服务", "建材", "餐饮管理", "物流", "家具", "陶瓷"];
const SKILLS: [&str; 10] = [
    "法律咨询",
    "医疗保健",
    "家电维修",
    "心理疏导",
    "摄影",
    "文艺表演",
    "教育辅导",
    "电脑技能",
    "书法",
    "急救",
];

/// Agency cadres serving as community secretaries, as the seed counts them (选派 75 名).
pub const AGENCY_SECRETARIES: usize = 75;
/// Part-time members of communities' 大党委 drawn from units, as the seed counts them.
pub const PART_TIME_MEMBERS: usize = 586;

/// What the registration demo wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistrationCounts {
    /// Party committees of the agencies (counted among the city's organisations).
    pub agency_orgs: usize,
    /// Part-time members' posts (counted among the city's posts).
    pub part_time_posts: usize,
    pub units: usize,
    pub members: usize,
    pub registrations: usize,
    pub deployments: usize,
}

/// Rows for one table, inserted in multi-row statements.
struct Rows {
    head: &'static str,
    rows: Vec<Vec<Arg>>,
}

impl Rows {
    fn new(head: &'static str) -> Rows {
        Rows { head, rows: Vec::new() }
    }

    fn push(&mut self, row: Vec<Arg>) {
        self.rows.push(row);
    }

    async fn write(&mut self, tx: &mut Tx) -> StoreResult<()> {
        for chunk in self.rows.chunks(ROWS_PER_INSERT) {
            let mut sql = Sql::new(self.head);
            for (i, row) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" });
                for (j, v) in row.iter().enumerate() {
                    if j > 0 {
                        sql.push(", ");
                    }
                    sql.bind(v.clone());
                }
                sql.push(")");
            }
            sql.query().execute(&mut **tx).await?;
        }
        self.rows.clear();
        Ok(())
    }
}

/// A day between the first of January of `from_year` and 2026-10-31, spread by `seed`.
fn day(seed: usize, from_year: i32) -> String {
    let start = chrono::NaiveDate::from_ymd_opt(from_year, 1, 1).unwrap_or_default();
    let end = chrono::NaiveDate::from_ymd_opt(2026, 10, 31).unwrap_or_default();
    let span = (end - start).num_days().max(1) as usize;
    (start + chrono::Days::new((seed % span) as u64))
        .format("%Y-%m-%d")
        .to_string()
}

fn t(s: impl Into<String>) -> Arg {
    Arg::Text(s.into())
}

fn i(n: i64) -> Arg {
    Arg::Int(n)
}

fn opt_t(s: Option<String>) -> Arg {
    Arg::OptText(s)
}

fn opt_i(n: Option<i64>) -> Arg {
    Arg::OptInt(n)
}

impl Store {
    async fn next_id(&self, tx: &mut Tx, table: &str) -> StoreResult<i64> {
        let max: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COALESCE(MAX(id), 0) FROM {table}")))
            .fetch_one(&mut **tx)
            .await?;
        Ok(max + 1)
    }

    async fn advance_ids(&self, tx: &mut Tx, tables: &[&str]) -> StoreResult<()> {
        for table in tables {
            if let Some(sql) = self.engine.advance_identity_sql(table) {
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn load_demo_registration(
        &self,
        city_id: i64,
        scale: Scale,
        progress: Progress<'_>,
    ) -> StoreResult<RegistrationCounts> {
        let (regs_per, deploys_per, companies_per, services_per) = match scale {
            Scale::Small => (2, 1, 1, 1),
            Scale::Full => (124, 74, 4, 1),
        };
        let now = self.now_text();
        let city: (String, String, String) = sqlx::query_as("SELECT path, code, name FROM nodes WHERE id = $1")
            .bind(city_id)
            .fetch_one(&self.pool)
            .await?;
        let mut sql = Sql::new("SELECT id, code, name, level, parent_id FROM nodes WHERE ");
        crate::scope::push_subtree(&mut sql, "path", &city.0);
        sql.push(" AND status = 'active' ORDER BY code");
        let nodes: Vec<(i64, String, String, i64, Option<i64>)> = sql.query_as().fetch_all(&self.pool).await?;
        let districts: Vec<&(i64, String, String, i64, Option<i64>)> =
            nodes.iter().filter(|n| n.3 == Level::District.as_i64()).collect();
        let communities: Vec<&(i64, String, String, i64, Option<i64>)> =
            nodes.iter().filter(|n| n.3 == Level::Community.as_i64()).collect();
        let mut l3_of: HashMap<i64, Vec<i64>> = HashMap::new();
        let parent: HashMap<i64, Option<i64>> = nodes.iter().map(|n| (n.0, n.4)).collect();
        for n in nodes.iter().filter(|n| n.3 == Level::GridL3.as_i64()) {
            if let Some(c) = n.4.and_then(|l2| parent.get(&l2).copied().flatten()) {
                l3_of.entry(c).or_default().push(n.0);
            }
        }
        let mut committee_sql = Sql::new(
            "SELECT o.id, t.id FROM party_orgs o JOIN nodes t ON t.id = o.territory_node_id \
             WHERE o.kind = 'committee' AND o.category = 'community' AND ",
        );
        crate::scope::push_subtree(&mut committee_sql, "t.path", &city.0);
        let committee_of: HashMap<i64, i64> = committee_sql
            .query_as::<(i64, i64)>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|(org, node)| (node, org))
            .collect();
        let mut sec_sql = Sql::new(
            "SELECT o.territory_node_id, p.id, p.person_id, p.started_on FROM posts p JOIN party_orgs o ON o.id = p.org_id \
             JOIN nodes t ON t.id = o.territory_node_id WHERE p.kind = 'secretary' AND p.ended_on IS NULL AND t.level = 4 AND ",
        );
        crate::scope::push_subtree(&mut sec_sql, "t.path", &city.0);
        let secretary_of: HashMap<i64, (i64, i64, String)> = sec_sql
            .query_as::<(i64, i64, i64, String)>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(|(c, post, person, since)| (c, (post, person, since)))
            .collect();

        // Agencies and their party committees; companies in every community.
        let mut tx = self.begin_write().await?;
        let mut unit_id = self.next_id(&mut tx, "units").await?;
        let mut org_id = self.next_id(&mut tx, "party_orgs").await?;
        let mut units = Rows::new(
            "INSERT INTO units (id, name, credit_code, kind, node_id, org_id, status, created_at, updated_at) VALUES ",
        );
        let mut orgs = Rows::new(
            "INSERT INTO party_orgs (id, parent_id, kind, category, name, territory_node_id, path, status, created_at, updated_at) VALUES ",
        );
        // (unit id, org id, name)
        let mut agencies: Vec<(i64, i64, String)> = Vec::new();
        let city6 = &city.1[..6];
        let mut places: Vec<(i64, String, String)> = vec![(city_id, city6.to_string(), city.2.clone())];
        places.extend(districts.iter().map(|d| (d.0, d.1[..6].to_string(), d.2.clone())));
        for (k, (node, code6, place_name)) in places.iter().enumerate() {
            let names: Vec<String> = if k == 0 {
                CITY_AGENCIES
                    .iter()
                    .map(|a| format!("{place_name}{}", a.trim_start_matches('市')))
                    .collect()
            } else {
                DISTRICT_AGENCIES.iter().map(|a| format!("{place_name}{a}")).collect()
            };
            for (j, name) in names.into_iter().enumerate() {
                let code = CreditCode::with_check(&format!("11{code6}MB{:07}", 10_000 + k * 100 + j))
                    .map(|c| c.as_str().to_string());
                units.push(vec![
                    i(unit_id),
                    t(name.clone()),
                    opt_t(code),
                    t("agency"),
                    i(*node),
                    opt_i(Some(org_id)),
                    t("active"),
                    t(now.clone()),
                    t(now.clone()),
                ]);
                orgs.push(vec![
                    i(org_id),
                    opt_i(None),
                    t("committee"),
                    t("agency"),
                    t(format!("中共{name}机关委员会")),
                    i(*node),
                    t(format!("/{org_id}/")),
                    t("active"),
                    t(now.clone()),
                    t(now.clone()),
                ]);
                agencies.push((unit_id, org_id, name));
                unit_id += 1;
                org_id += 1;
            }
        }
        let mut companies: HashMap<i64, Vec<i64>> = HashMap::new();
        for (ci, c) in communities.iter().enumerate() {
            for j in 0..companies_per {
                let trade = COMPANY_TRADES[mix(ci, j) % COMPANY_TRADES.len()];
                let place =
                    c.2.trim_end_matches("居委会")
                        .trim_end_matches("村委会")
                        .trim_end_matches("社区");
                let name = format!("{}{place}{trade}有限公司", city.2);
                let name = if j > 0 {
                    format!("{name}第{}分公司", j)
                } else {
                    name
                };
                let code = CreditCode::with_check(&format!("91{}MA{:07}", &c.1[..6], ci * 10 + j))
                    .map(|c| c.as_str().to_string());
                units.push(vec![
                    i(unit_id),
                    t(name),
                    opt_t(code),
                    t("private"),
                    i(c.0),
                    opt_i(None),
                    t("active"),
                    t(now.clone()),
                    t(now.clone()),
                ]);
                companies.entry(c.0).or_default().push(unit_id);
                unit_id += 1;
            }
        }
        let unit_count = units.rows.len();
        let agency_orgs = orgs.rows.len();
        orgs.write(&mut tx).await?;
        units.write(&mut tx).await?;
        self.advance_ids(&mut tx, &["units", "party_orgs"]).await?;
        tx.commit().await?;

        // Per community: a pairing, registrations, deployments, a part-time member, perhaps a
        // seconded secretary, and a letter.
        let mut counts = RegistrationCounts {
            units: unit_count,
            agency_orgs,
            ..RegistrationCounts::default()
        };
        let mut tx = self.begin_write().await?;
        let mut reg_id = self.next_id(&mut tx, "registrations").await?;
        let mut member_id = self.next_id(&mut tx, "party_members").await?;
        let mut pairings = Rows::new(
            "INSERT INTO org_pairings (org_id, community_id, started_on, ended_on, agreement, created_at) VALUES ",
        );
        let mut members = Rows::new(
            "INSERT INTO party_members (id, person_id, org_id, status, joined_on, full_on, created_at, updated_at) VALUES ",
        );
        let mut transfers = Rows::new(
            "INSERT INTO member_transfers (member_id, from_org_id, to_org_id, transferred_on, note, actor_id, created_at) VALUES ",
        );
        let mut regs = Rows::new(
            "INSERT INTO registrations (id, person_id, community_id, employer_unit_id, skills, status, registered_on, ended_on, submitted_by, created_at, updated_at) VALUES ",
        );
        let mut history =
            Rows::new("INSERT INTO registration_history (registration_id, at, action, actor_id, detail) VALUES ");
        let mut claims =
            Rows::new("INSERT INTO registration_claims (registration_id, duty, claimed_on, ended_on) VALUES ");
        let mut services = Rows::new(
            "INSERT INTO registration_services (registration_id, served_on, minutes, description, rating, recorded_by, created_at) VALUES ",
        );
        let mut deployments = Rows::new(
            "INSERT INTO deployments (person_id, kind, from_unit_id, node_id, post_id, started_on, ended_on, note, created_at) VALUES ",
        );
        let mut posts =
            Rows::new("INSERT INTO posts (person_id, kind, node_id, org_id, grade, started_on, created_at) VALUES ");
        let mut letters = Rows::new(
            "INSERT INTO thanks_letters (community_id, employer_unit_id, period_from, period_to, issued_by, created_at) VALUES ",
        );
        let total = communities.len() as u64;
        let agency_count = agencies.len();
        for (ci, c) in communities.iter().enumerate() {
            let (_, pair_org, _) = &agencies[ci % agency_count];
            pairings.push(vec![
                i(*pair_org),
                i(c.0),
                t(day(mix(ci, 1), 2023)),
                opt_t(None),
                t("共建协议：每月联合开展一次主题党日，结对帮扶困难群众，共商社区治理难题。"),
                t(now.clone()),
            ]);

            // Residents of the community who hold no post, first grids first.
            let part_time = gets_extra(ci, communities.len(), PART_TIME_MEMBERS);
            let need = regs_per + deploys_per + usize::from(part_time);
            let mut people: Vec<i64> = Vec::with_capacity(need);
            for g in l3_of.get(&c.0).map(Vec::as_slice).unwrap_or(&[]) {
                if people.len() >= need {
                    break;
                }
                let found: Vec<(i64,)> = sqlx::query_as(
                    "SELECT p.id FROM persons p WHERE p.home_node_id = $1 AND p.status = 'active' \
                     AND NOT EXISTS (SELECT 1 FROM posts x WHERE x.person_id = p.id) ORDER BY p.id LIMIT $2",
                )
                .bind(*g)
                .bind((need - people.len()) as i64)
                .fetch_all(&mut *tx)
                .await?;
                people.extend(found.into_iter().map(|r| r.0));
            }
            let mut people = people.into_iter();
            let mut first_employer = None;
            for k in 0..regs_per {
                let Some(person) = people.next() else { break };
                let seed = mix(ci, k + 7);
                let (unit, org, _) = &agencies[seed % agency_count];
                first_employer.get_or_insert(*unit);
                // One in ten joined this year and is still probationary (预备党员).
                let full = !seed.is_multiple_of(10);
                let joined = if full { day(seed, 1985) } else { day(seed, 2026) };
                let full_on = full.then(|| {
                    chrono::NaiveDate::parse_from_str(&joined, "%Y-%m-%d")
                        .map(|d| (d + chrono::Days::new(365)).format("%Y-%m-%d").to_string())
                        .unwrap_or_default()
                });
                members.push(vec![
                    i(member_id),
                    i(person),
                    i(*org),
                    t(if full { "full" } else { "probationary" }),
                    t(joined.clone()),
                    opt_t(full_on),
                    t(now.clone()),
                    t(now.clone()),
                ]);
                transfers.push(vec![
                    i(member_id),
                    opt_i(None),
                    i(*org),
                    t(joined),
                    t("登记"),
                    opt_i(None),
                    t(now.clone()),
                ]);
                member_id += 1;
                let registered = day(seed / 3, 2023);
                let (status, ended) = match seed % 50 {
                    0 => ("pending", None),
                    1 => ("ended", Some("2026-06-30".to_string())),
                    _ => ("active", None),
                };
                let skills = format!("{}、{}", SKILLS[seed % SKILLS.len()], SKILLS[(seed / 7) % SKILLS.len()]);
                regs.push(vec![
                    i(reg_id),
                    i(person),
                    i(c.0),
                    opt_i(Some(*unit)),
                    t(skills),
                    t(status),
                    t(registered.clone()),
                    opt_t(ended.clone()),
                    opt_i(None),
                    t(now.clone()),
                    t(now.clone()),
                ]);
                history.push(vec![
                    i(reg_id),
                    t(now.clone()),
                    t("registered"),
                    opt_i(None),
                    opt_t(None),
                ]);
                let duty = Duty::ALL[seed % Duty::ALL.len()];
                claims.push(vec![
                    i(reg_id),
                    t(duty.key()),
                    t(registered.clone()),
                    opt_t(ended.clone()),
                ]);
                if status == "active" {
                    for s in 0..services_per {
                        let served = std::cmp::max(registered.clone(), day(mix(seed, s), 2025));
                        services.push(vec![
                            i(reg_id),
                            t(served),
                            i(60 + (seed % 4) as i64 * 30),
                            t(format!("{}志愿服务", duty.label_zh().trim_end_matches('岗'))),
                            opt_i(Some(4 + (seed % 2) as i64)),
                            opt_i(None),
                            t(now.clone()),
                        ]);
                    }
                }
                reg_id += 1;
                counts.registrations += 1;
                counts.members += 1;
            }
            for k in 0..deploys_per {
                let Some(person) = people.next() else { break };
                let seed = mix(ci, k + 1000);
                let (unit, _, _) = &agencies[seed % agency_count];
                deployments.push(vec![
                    i(person),
                    t("deployment"),
                    opt_i(Some(*unit)),
                    i(c.0),
                    opt_i(None),
                    t(day(seed, 2025)),
                    opt_t(None),
                    opt_t(None),
                    t(now.clone()),
                ]);
                counts.deployments += 1;
            }
            if part_time && let (Some(person), Some(org)) = (people.next(), committee_of.get(&c.0)) {
                counts.part_time_posts += 1;
                posts.push(vec![
                    i(person),
                    t("part_time_member"),
                    opt_i(None),
                    opt_i(Some(*org)),
                    opt_t(None),
                    t(day(mix(ci, 3), 2024)),
                    t(now.clone()),
                ]);
            }
            if gets_extra(ci, communities.len(), AGENCY_SECRETARIES)
                && let Some((post, person, since)) = secretary_of.get(&c.0)
            {
                let (unit, _, _) = &agencies[mix(ci, 5) % agency_count];
                deployments.push(vec![
                    i(*person),
                    t("secondment"),
                    opt_i(Some(*unit)),
                    i(c.0),
                    opt_i(Some(*post)),
                    t(since.clone()),
                    opt_t(None),
                    t("选派机关优秀干部担任社区党组织书记"),
                    t(now.clone()),
                ]);
                counts.deployments += 1;
            }
            if let Some(employer) = first_employer.or_else(|| companies.get(&c.0).and_then(|v| v.first().copied())) {
                letters.push(vec![
                    i(c.0),
                    i(employer),
                    t("2025-01-01"),
                    t("2025-12-31"),
                    opt_i(None),
                    t("2026-01-15T02:00:00.000000Z"),
                ]);
            }
            if regs.rows.len() >= 20_000 || ci + 1 == communities.len() {
                for rows in [
                    &mut pairings,
                    &mut members,
                    &mut transfers,
                    &mut regs,
                    &mut history,
                    &mut claims,
                    &mut services,
                    &mut deployments,
                    &mut posts,
                    &mut letters,
                ] {
                    rows.write(&mut tx).await?;
                }
                self.advance_ids(&mut tx, &["registrations", "party_members"]).await?;
                tx.commit().await?;
                progress("在职党员报到", ci as u64 + 1, total);
                tx = self.begin_write().await?;
            }
        }
        for table in [PersonRows::Registrations, PersonRows::Deployments] {
            mark_repeated(&mut tx, table, None).await?;
        }
        tx.commit().await?;
        Ok(counts)
    }
}
