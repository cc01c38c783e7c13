//! Volunteer service of a demo city, 清泉街 style: the city's first community (in code order)
//! has 1200 volunteers (its residents, else its street's or district's) in 8 teams, activities over the past months with
//! sign-ups, attendance and hours (two of them corrected), points credited for the hours in a
//! volunteer points scheme (double entry: every transaction sums to zero, every account's
//! balance is the sum of its entries), a points shop with redemptions, and the five "hundreds"
//! as campaigns with partial progress. A modest number of other communities get a team of
//! their own with a few activities. Deterministic: the same city gives the same rows.
//!
//! Written in multi-row statements inside one transaction, as the rest of the demo.

use std::collections::HashMap;

use gongjian_domain::points::SchemeKind;
use gongjian_domain::tree::Level;

use super::{Progress, Scale, mix};
use crate::db::{Store, Tx};
use crate::error::StoreResult;
use crate::sql::{Arg, ROWS_PER_INSERT, Sql};

/// Volunteers of the showcase community.
pub const SHOWCASE_VOLUNTEERS: usize = 1200;

const SHOWCASE_TEAMS: [(&str, &str); 8] = [
    ("青年志愿服务队", "文明实践"),
    ("夕阳红服务队", "关爱老人"),
    ("治安巡逻队", "治安巡逻"),
    ("环境保护志愿队", "环境整治"),
    ("文明交通劝导队", "交通劝导"),
    ("法律援助服务队", "法律咨询"),
    ("邻里互助服务队", "邻里互助"),
    ("助学辅导服务队", "教育辅导"),
];

/// The five "hundreds", each with the kind of activity that counts for it and its measure.
const CAMPAIGNS: [(&str, &str, &str); 5] = [
    ("百堂思政课", "lecture", "activities"),
    ("百个主题党日", "theme_day", "activities"),
    ("百部红色电影", "film", "activities"),
    ("百名志愿者", "volunteer", "volunteers"),
    ("百场群众活动", "mass", "activities"),
];

const TITLES: [&str; 5] = [
    "社区思政课堂",
    "主题党日活动",
    "红色电影放映",
    "志愿服务日",
    "邻里文化节",
];

const ITEMS: [(&str, i64, i64); 5] = [
    ("大米（5公斤）", 60, 200),
    ("食用油", 50, 200),
    ("洗衣液", 30, 300),
    ("毛巾", 10, 500),
    ("环保购物袋", 5, 500),
];

/// What the volunteer demo wrote.
#[derive(Debug, Clone, Copy, Default)]
pub struct VolunteerCounts {
    pub volunteers: usize,
    pub teams: usize,
    pub activities: usize,
    pub records: usize,
    pub point_transactions: usize,
    pub redemptions: usize,
    pub campaigns: usize,
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

fn t(s: impl Into<String>) -> Arg {
    Arg::Text(s.into())
}

fn i(n: i64) -> Arg {
    Arg::Int(n)
}

fn opt_i(n: Option<i64>) -> Arg {
    Arg::OptInt(n)
}

/// The day `n` days after 2026-04-01, and its instants at `hour` (China time) as UTC text.
fn day_at(n: usize, hour: u32) -> (String, String) {
    let base = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap_or_default();
    let d = base + chrono::Days::new(n as u64);
    let utc_hour = hour.saturating_sub(8);
    (
        d.format("%Y-%m-%d").to_string(),
        format!("{}T{utc_hour:02}:00:00Z", d.format("%Y-%m-%d")),
    )
}

/// An activity as planned.
struct Plan {
    id: i64,
    node: i64,
    team: i64,
    campaign: Option<i64>,
    kind: &'static str,
    title: String,
    day: usize,
    hours: i64,
    attendees: Vec<i64>,
    place: String,
    organiser: String,
}

/// Next ids of the tables written.
struct Ids {
    volunteer: i64,
    team: i64,
    activity: i64,
    signup: i64,
    record: i64,
    tx: i64,
}

impl Store {
    async fn max_id(&self, tx: &mut Tx, table: &str) -> StoreResult<i64> {
        let max: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COALESCE(MAX(id), 0) FROM {table}")))
            .fetch_one(&mut **tx)
            .await?;
        Ok(max + 1)
    }

    /// The first `limit` residents (by id) living in the subtree at `path`. Read through the
    /// nodes of the subtree and the `persons_home` index, and sorted here, so the plan never
    /// walks the whole `persons` table in id order (8 million rows at full scale).
    async fn residents_under(&self, tx: &mut Tx, path: &str, limit: usize) -> StoreResult<Vec<i64>> {
        let mut sql = Sql::new("SELECT id FROM nodes WHERE ");
        crate::scope::push_subtree(&mut sql, "path", path);
        let nodes: Vec<(i64,)> = sql.query_as().fetch_all(&mut **tx).await?;
        let mut out: Vec<i64> = Vec::new();
        for chunk in nodes.chunks(500) {
            let mut sql = Sql::new("SELECT id FROM persons WHERE home_node_id IN (");
            for (k, (id,)) in chunk.iter().enumerate() {
                if k > 0 {
                    sql.push(", ");
                }
                sql.bind(*id);
            }
            sql.push(")");
            let rows: Vec<(i64,)> = sql.query_as().fetch_all(&mut **tx).await?;
            out.extend(rows.into_iter().map(|r| r.0));
        }
        out.sort_unstable();
        out.truncate(limit);
        Ok(out)
    }

    /// The showcase's volunteers: residents of the community, else of its street, else of its
    /// district, whichever first has enough.
    async fn showcase_people(&self, tx: &mut Tx, community_path: &str) -> StoreResult<Vec<i64>> {
        let parts: Vec<&str> = community_path.trim_matches('/').split('/').collect();
        let mut people = Vec::new();
        for depth in [parts.len(), parts.len().saturating_sub(1), 2] {
            let path = format!("/{}/", parts.iter().take(depth).copied().collect::<Vec<_>>().join("/"));
            people = self.residents_under(tx, &path, SHOWCASE_VOLUNTEERS).await?;
            if people.len() >= SHOWCASE_VOLUNTEERS {
                break;
            }
        }
        Ok(people)
    }

    pub(super) async fn load_demo_volunteers(
        &self,
        city_id: i64,
        scale: Scale,
        progress: Progress<'_>,
    ) -> StoreResult<VolunteerCounts> {
        progress("志愿服务", 0, 1);
        let (others_every, other_volunteers) = match scale {
            Scale::Small => (40, 12),
            Scale::Full => (8, 24),
        };
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        let city_path: String = sqlx::query_scalar("SELECT path FROM nodes WHERE id = $1")
            .bind(city_id)
            .fetch_one(&mut *tx)
            .await?;
        let mut sql = Sql::new("SELECT id, code, name, path, parent_id FROM nodes WHERE level = ");
        sql.bind(Level::Community.as_i64()).push(" AND status = 'active' AND ");
        crate::scope::push_subtree(&mut sql, "path", &city_path);
        sql.push(" ORDER BY code");
        let communities: Vec<(i64, String, String, String, Option<i64>)> = sql.query_as().fetch_all(&mut *tx).await?;
        let Some(showcase) = communities.first().cloned() else {
            return Ok(VolunteerCounts::default());
        };
        let organiser_user = self.demo_organiser(&mut tx, &showcase.1, &now).await?;
        let mut ids = Ids {
            volunteer: self.max_id(&mut tx, "volunteers").await?,
            team: self.max_id(&mut tx, "volunteer_teams").await?,
            activity: self.max_id(&mut tx, "activities").await?,
            signup: self.max_id(&mut tx, "activity_signups").await?,
            record: self.max_id(&mut tx, "service_records").await?,
            tx: self.max_id(&mut tx, "point_transactions").await?,
        };
        let mut counts = VolunteerCounts::default();
        let mut volunteers = Rows::new(
            "INSERT INTO volunteers (id, person_id, node_id, volunteer_no, skills, consent_at, public_name, status, \
             created_at, updated_at) VALUES ",
        );
        let mut teams =
            Rows::new("INSERT INTO volunteer_teams (id, node_id, name, focus, status, created_at, updated_at) VALUES ");
        let mut members = Rows::new("INSERT INTO team_members (team_id, volunteer_id, role, joined_on) VALUES ");
        let mut plans: Vec<Plan> = Vec::new();

        // The showcase community: 1200 volunteers of its neighbourhood in 8 teams.
        let people = self.showcase_people(&mut tx, &showcase.3).await?;
        let mut team_ids = Vec::new();
        for (name, focus) in SHOWCASE_TEAMS {
            teams.push(vec![
                i(ids.team),
                i(showcase.0),
                t(name),
                t(focus),
                t("active"),
                t(now.clone()),
                t(now.clone()),
            ]);
            team_ids.push(ids.team);
            ids.team += 1;
        }
        let code6 = &showcase.1[..6.min(showcase.1.len())];
        for (k, p) in people.iter().enumerate() {
            let vid = ids.volunteer;
            ids.volunteer += 1;
            volunteers.push(vec![
                i(vid),
                i(*p),
                i(showcase.0),
                t(format!("V{code6}{:06}", vid)),
                t(["", "急救", "法律咨询", "文艺表演", "家电维修"][mix(k, 3) % 5]),
                t("2026-01-05T02:00:00Z"),
                i(i64::from(k % 3 == 0)),
                t("active"),
                t(now.clone()),
                t(now.clone()),
            ]);
            let team = team_ids[k % team_ids.len()];
            let role = if k < team_ids.len() { "leader" } else { "member" };
            members.push(vec![i(team), i(vid), t(role), t("2026-01-05")]);
        }
        counts.volunteers += people.len();
        counts.teams += team_ids.len();

        // The five "hundreds" at the showcase community.
        let mut campaign_ids = Vec::new();
        let mut campaigns = Rows::new(
            "INSERT INTO campaigns (id, node_id, name, measure, target, starts_on, ends_on, created_at) VALUES ",
        );
        let mut campaign_id = self.max_id(&mut tx, "campaigns").await?;
        for (name, _, measure) in CAMPAIGNS {
            campaigns.push(vec![
                i(campaign_id),
                i(showcase.0),
                t(name),
                t(measure),
                i(100),
                t("2026-01-01"),
                t("2026-12-31"),
                t(now.clone()),
            ]);
            campaign_ids.push(campaign_id);
            campaign_id += 1;
        }
        counts.campaigns = campaign_ids.len();

        // 80 activities at the showcase, 16 of each campaign's kind, from April on. The
        // "百名志愿者" activities draw on the first 80 volunteers, so that campaign is partway.
        let organiser = format!("{}居委会", showcase.2.trim_end_matches("居委会"));
        for n in 0..80usize {
            let c = n % CAMPAIGNS.len();
            let pool: &[i64] = if CAMPAIGNS[c].1 == "volunteer" {
                &people[..80.min(people.len())]
            } else {
                &people
            };
            let size = 20 + mix(n, 5) % 9;
            let attendees = (0..size)
                .filter_map(|k| pool.get((n * 37 + k * 13) % pool.len().max(1)).copied())
                .collect::<std::collections::BTreeSet<i64>>()
                .into_iter()
                .collect();
            plans.push(Plan {
                id: ids.activity,
                node: showcase.0,
                team: team_ids[n % team_ids.len()],
                campaign: Some(campaign_ids[c]),
                kind: CAMPAIGNS[c].1,
                title: format!("{}（第{}期）", TITLES[c], n / CAMPAIGNS.len() + 1),
                day: n * 2 + 1,
                hours: 2 + (n % 2) as i64,
                attendees,
                place: "社区党群服务中心".into(),
                organiser: organiser.clone(),
            });
            ids.activity += 1;
        }

        // Other communities: a team of their own residents and three activities each.
        for (ci, c) in communities
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(ci, _)| ci % others_every == 0)
        {
            let people = self.residents_under(&mut tx, &c.3, other_volunteers).await?;
            if people.is_empty() {
                continue;
            }
            let team = ids.team;
            ids.team += 1;
            teams.push(vec![
                i(team),
                i(c.0),
                t(format!(
                    "{}志愿服务队",
                    c.2.trim_end_matches("居委会").trim_end_matches("社区")
                )),
                t("邻里互助"),
                t("active"),
                t(now.clone()),
                t(now.clone()),
            ]);
            counts.teams += 1;
            for (k, p) in people.iter().enumerate() {
                let vid = ids.volunteer;
                ids.volunteer += 1;
                volunteers.push(vec![
                    i(vid),
                    i(*p),
                    i(c.0),
                    t(format!("V{}{:06}", &c.1[..6.min(c.1.len())], vid)),
                    t(""),
                    t("2026-02-01T02:00:00Z"),
                    i(0),
                    t("active"),
                    t(now.clone()),
                    t(now.clone()),
                ]);
                members.push(vec![
                    i(team),
                    i(vid),
                    t(if k == 0 { "leader" } else { "member" }),
                    t("2026-02-01"),
                ]);
            }
            counts.volunteers += people.len();
            for a in 0..3usize {
                plans.push(Plan {
                    id: ids.activity,
                    node: c.0,
                    team,
                    campaign: None,
                    kind: "volunteer",
                    title: ["环境清洁日", "关爱长者探访", "文明劝导"][a].to_string(),
                    day: 10 + a * 40 + ci % 20,
                    hours: 2,
                    attendees: people.iter().copied().take(8 + a).collect(),
                    place: format!("{}广场", c.2.trim_end_matches("居委会")),
                    organiser: format!("{}居委会", c.2.trim_end_matches("居委会")),
                });
                ids.activity += 1;
            }
        }
        teams.write(&mut tx).await?;
        volunteers.write(&mut tx).await?;
        members.write(&mut tx).await?;
        campaigns.write(&mut tx).await?;

        // The points scheme of the showcase, its accounts, the shop's items.
        let scheme = self.max_id(&mut tx, "point_schemes").await?;
        sqlx::query(
            "INSERT INTO point_schemes (id, node_id, name, kind, rules, status, created_at, updated_at) \
             VALUES ($1, $2, $3, 'volunteer', $4, 'active', $5, $5)",
        )
        .bind(scheme)
        .bind(showcase.0)
        .bind(format!("{}志愿服务积分", showcase.2.trim_end_matches("居委会")))
        .bind(SchemeKind::Volunteer.default_rules().to_json())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let mut account_id = self.max_id(&mut tx, "point_accounts").await?;
        let (issuance, shop) = (account_id, account_id + 1);
        let expiry = account_id + 2;
        account_id += 3;
        let mut balances: HashMap<i64, i64> = HashMap::new();
        let mut person_account: HashMap<i64, i64> = HashMap::new();
        let mut txs = Rows::new(
            "INSERT INTO point_transactions (id, idempotency_key, scheme_id, kind, source, item, memo, actor_id, \
             created_at) VALUES ",
        );
        let mut entries = Rows::new("INSERT INTO point_entries (transaction_id, account_id, amount) VALUES ");
        let mut signups = Rows::new(
            "INSERT INTO activity_signups (id, activity_id, person_id, status, signed_up_at, checked_in_at, \
             checked_out_at, attendance_by, updated_at) VALUES ",
        );
        let mut records = Rows::new(
            "INSERT INTO service_records (id, person_id, node_id, activity_id, served_on, started_at, ended_at, \
             minutes, delta_minutes, content, place, source, corrects_id, reason, organiser_name, recorded_by, \
             confirmed_by, confirmed_at, points_tx_id, created_at) VALUES ",
        );
        let mut activities = Rows::new(
            "INSERT INTO activities (id, node_id, team_id, campaign_id, title, kind, place, content, starts_at, \
             ends_at, capacity, signup_opens_at, signup_closes_at, organiser_id, organiser_name, scheme_id, \
             points_per_hour, beneficiaries, status, created_by, created_at, updated_at) VALUES ",
        );
        // (record id, person, minutes, day, activity) of showcase records, for corrections.
        let mut first_records: Vec<(i64, i64, i64, String, i64, String)> = Vec::new();
        for (n, p) in plans.iter().enumerate() {
            let showcase_activity = p.node == showcase.0;
            let (day, starts) = day_at(p.day, 9);
            let (_, ends) = day_at(p.day, 9 + p.hours as u32);
            let (_, opens) = day_at(p.day.saturating_sub(10), 9);
            let minutes = p.hours * 60;
            let points = if showcase_activity { 10 * p.hours } else { 0 };
            activities.push(vec![
                i(p.id),
                i(p.node),
                i(p.team),
                opt_i(p.campaign),
                t(p.title.clone()),
                t(p.kind),
                t(p.place.clone()),
                t(format!("{}：组织志愿者开展服务", p.title)),
                t(starts.clone()),
                t(ends.clone()),
                i(p.attendees.len() as i64 + 5),
                t(opens.clone()),
                t(starts.clone()),
                i(organiser_user),
                t(p.organiser.clone()),
                opt_i(showcase_activity.then_some(scheme)),
                i(if showcase_activity { 10 } else { 0 }),
                i(30 + (mix(n, 11) % 60) as i64),
                t("closed"),
                i(organiser_user),
                t(now.clone()),
                t(now.clone()),
            ]);
            for person in &p.attendees {
                signups.push(vec![
                    i(ids.signup),
                    i(p.id),
                    i(*person),
                    t("confirmed"),
                    t(opens.clone()),
                    t(starts.clone()),
                    t(ends.clone()),
                    t("code"),
                    t(ends.clone()),
                ]);
                ids.signup += 1;
                let tx_id = if points > 0 {
                    let tx_id = ids.tx;
                    ids.tx += 1;
                    let account = *person_account.entry(*person).or_insert_with(|| {
                        account_id += 1;
                        account_id - 1
                    });
                    txs.push(vec![
                        i(tx_id),
                        t(format!("demo-hours-{}", ids.record)),
                        i(scheme),
                        t("credit"),
                        t(format!("hours:{}", ids.record)),
                        t(""),
                        t(format!("{} 服务 {} 小时", p.title, p.hours)),
                        opt_i(Some(organiser_user)),
                        t(ends.clone()),
                    ]);
                    entries.push(vec![i(tx_id), i(issuance), i(-points)]);
                    entries.push(vec![i(tx_id), i(account), i(points)]);
                    *balances.entry(issuance).or_default() -= points;
                    *balances.entry(account).or_default() += points;
                    Some(tx_id)
                } else {
                    None
                };
                if showcase_activity && first_records.len() < 2 && n == 0 {
                    first_records.push((ids.record, *person, minutes, day.clone(), p.id, p.title.clone()));
                }
                records.push(vec![
                    i(ids.record),
                    i(*person),
                    i(p.node),
                    opt_i(Some(p.id)),
                    t(day.clone()),
                    Arg::OptText(Some(starts.clone())),
                    Arg::OptText(Some(ends.clone())),
                    i(minutes),
                    i(minutes),
                    t(format!("{}：志愿服务", p.title)),
                    t(p.place.clone()),
                    t("attendance"),
                    opt_i(None),
                    t(""),
                    t(p.organiser.clone()),
                    i(organiser_user),
                    i(organiser_user),
                    t(ends.clone()),
                    opt_i(tx_id),
                    t(ends.clone()),
                ]);
                ids.record += 1;
                counts.records += 1;
            }
        }
        // Two corrections: the volunteers left half an hour early (the points stay as credited).
        for (rid, person, minutes, day, activity, title) in first_records {
            records.push(vec![
                i(ids.record),
                i(person),
                i(showcase.0),
                opt_i(Some(activity)),
                t(day),
                Arg::OptText(None),
                Arg::OptText(None),
                i(minutes - 30),
                i(-30),
                t(format!("{title}：志愿服务")),
                t("社区党群服务中心"),
                t("correction"),
                opt_i(Some(rid)),
                t("签退时间更正：提前半小时离开"),
                t(organiser.clone()),
                i(organiser_user),
                i(organiser_user),
                t(now.clone()),
                opt_i(None),
                t(now.clone()),
            ]);
            ids.record += 1;
            counts.records += 1;
        }
        counts.activities = plans.len();

        // The shop: items at the showcase and redemptions by volunteers who hold the points.
        let mut item_id = self.max_id(&mut tx, "shop_items").await?;
        let first_item = item_id;
        let mut stock: Vec<i64> = ITEMS.iter().map(|x| x.2).collect();
        let mut redemptions = Rows::new(
            "INSERT INTO redemptions (item_id, person_id, node_id, quantity, points, status, reserve_tx_id, \
             cancel_tx_id, created_at, closed_at, closed_by) VALUES ",
        );
        let mut holders: Vec<(i64, i64)> = person_account.iter().map(|(p, a)| (*p, *a)).collect();
        holders.sort_unstable();
        for (k, (person, account)) in holders.iter().enumerate().filter(|(k, _)| k % 3 == 0) {
            let which = mix(k, 17) % ITEMS.len();
            let (_, price, _) = ITEMS[which];
            if balances.get(account).copied().unwrap_or(0) < price || stock[which] == 0 {
                continue;
            }
            let (_, at) = day_at(200 + k % 30, 15);
            let reserve = ids.tx;
            ids.tx += 1;
            txs.push(vec![
                i(reserve),
                t(format!("demo-redeem-{reserve}")),
                i(scheme),
                t("redeem"),
                t(format!("item:{}", first_item + which as i64)),
                t(ITEMS[which].0),
                t(""),
                opt_i(None),
                t(at.clone()),
            ]);
            entries.push(vec![i(reserve), i(*account), i(-price)]);
            entries.push(vec![i(reserve), i(shop), i(price)]);
            *balances.entry(*account).or_default() -= price;
            *balances.entry(shop).or_default() += price;
            let (status, cancel) = match k % 10 {
                0 => ("cancelled", true),
                3 | 6 => ("reserved", false),
                _ => ("picked_up", false),
            };
            let cancel_tx = if cancel {
                let c = ids.tx;
                ids.tx += 1;
                txs.push(vec![
                    i(c),
                    t(format!("demo-cancel-{c}")),
                    i(scheme),
                    t("cancel"),
                    t(format!("redemption-of:{reserve}")),
                    t(ITEMS[which].0),
                    t("居民取消兑换"),
                    opt_i(None),
                    t(at.clone()),
                ]);
                entries.push(vec![i(c), i(shop), i(-price)]);
                entries.push(vec![i(c), i(*account), i(price)]);
                *balances.entry(*account).or_default() += price;
                *balances.entry(shop).or_default() -= price;
                Some(c)
            } else {
                stock[which] -= 1;
                None
            };
            redemptions.push(vec![
                i(first_item + which as i64),
                i(*person),
                i(showcase.0),
                i(1),
                i(price),
                t(status),
                i(reserve),
                opt_i(cancel_tx),
                t(at.clone()),
                Arg::OptText((status != "reserved").then(|| at.clone())),
                opt_i((status != "reserved").then_some(organiser_user)),
            ]);
            counts.redemptions += 1;
        }
        let mut items = Rows::new(
            "INSERT INTO shop_items (id, node_id, scheme_id, name, price, stock, status, created_at, updated_at) VALUES ",
        );
        for (k, (name, price, _)) in ITEMS.iter().enumerate() {
            items.push(vec![
                i(item_id),
                i(showcase.0),
                i(scheme),
                t(*name),
                i(*price),
                i(stock[k]),
                t("active"),
                t(now.clone()),
                t(now.clone()),
            ]);
            item_id += 1;
        }
        let mut accounts = Rows::new(
            "INSERT INTO point_accounts (id, scheme_id, holder, person_id, node_id, balance, created_at) VALUES ",
        );
        for (id, holder) in [
            (issuance, "system:issuance"),
            (shop, "system:shop"),
            (expiry, "system:expiry"),
        ] {
            accounts.push(vec![
                i(id),
                i(scheme),
                t(holder),
                opt_i(None),
                i(showcase.0),
                i(balances.get(&id).copied().unwrap_or(0)),
                t(now.clone()),
            ]);
        }
        for (person, account) in &holders {
            accounts.push(vec![
                i(*account),
                i(scheme),
                t(format!("person:{person}")),
                opt_i(Some(*person)),
                i(showcase.0),
                i(balances.get(account).copied().unwrap_or(0)),
                t(now.clone()),
            ]);
        }
        counts.point_transactions = txs.rows.len();
        activities.write(&mut tx).await?;
        signups.write(&mut tx).await?;
        accounts.write(&mut tx).await?;
        txs.write(&mut tx).await?;
        entries.write(&mut tx).await?;
        records.write(&mut tx).await?;
        items.write(&mut tx).await?;
        redemptions.write(&mut tx).await?;
        for table in [
            "volunteers",
            "volunteer_teams",
            "campaigns",
            "activities",
            "activity_signups",
            "service_records",
            "point_schemes",
            "point_accounts",
            "point_transactions",
            "point_entries",
            "shop_items",
            "redemptions",
        ] {
            if let Some(sql) = self.engine.advance_identity_sql(table) {
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        progress("志愿服务", 1, 1);
        Ok(counts)
    }

    /// The account that organised the demo's activities (it cannot log in).
    async fn demo_organiser(&self, tx: &mut Tx, code: &str, now: &str) -> StoreResult<i64> {
        let username = format!("demo.organiser.{code}");
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(&username)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(id) = found {
            return Ok(id);
        }
        let id = self.max_id(tx, "users").await?;
        sqlx::query(
            "INSERT INTO users (id, username, display_name, password_hash, must_change_password, status, created_at, \
             updated_at) VALUES ($1, $2, '活动组织者（演示）', '!', 1, 'disabled', $3, $3)",
        )
        .bind(id)
        .bind(&username)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        if let Some(sql) = self.engine.advance_identity_sql("users") {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut **tx).await?;
        }
        Ok(id)
    }
}
