//! Posts: 身份证号 (the person, among registered residents), 职务 (the Chinese label of a
//! post), 任职单位 (a node's code or name, or for party posts the organisation's name), 等级,
//! 任职日期. A post the person already holds there is left as it is; 书记 and 居委会主任 have
//! one holder at a time, as `Store::assign_post` enforces.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use gongjian_domain::access::Actor;
use gongjian_domain::dates::parse_past_day;
use gongjian_domain::posts::PostKind;

use super::Job;
use super::lookup::{distinct, single};
use super::sheet::{Col, ID_NAMES, Row, Sheet, Spec};
use crate::db::Store;
use crate::error::StoreResult;
use crate::posts::{PostPlace, current_holder, held_by, insert_post};
use crate::sql::Sql;

pub(super) const SPECS: &[Spec] = &[
    Spec {
        col: Col::IdNumber,
        names: ID_NAMES,
        required: true,
    },
    Spec {
        col: Col::Post,
        names: &["职务", "岗位", "职位", "担任职务"],
        required: true,
    },
    Spec {
        col: Col::Place,
        names: &["任职单位", "任职地点", "任职组织", "任职节点", "所在单位"],
        required: true,
    },
    Spec {
        col: Col::Name,
        names: &["姓名", "名字"],
        required: false,
    },
    Spec {
        col: Col::Grade,
        names: &["等级", "职级", "社工等级"],
        required: false,
    },
    Spec {
        col: Col::StartedOn,
        names: &["任职日期", "任职时间", "开始日期", "任职起始日期"],
        required: false,
    },
];

/// A post held now.
#[derive(sqlx::FromRow)]
struct Holding {
    person_id: i64,
    kind: String,
    node_id: Option<i64>,
    org_id: Option<i64>,
    name: String,
}

/// A valid appointment.
struct Appointment {
    row: usize,
    person_id: i64,
    place: PostPlace,
    grade: Option<String>,
    started: NaiveDate,
}

/// Where a post is held, as the row names it: in an organisation for party posts, at a node of
/// a level the post exists at otherwise.
fn row_place(
    row: &mut Row<'_>,
    kind: PostKind,
    orgs: &HashMap<String, Vec<i64>>,
    nodes: &HashMap<String, Vec<super::lookup::Place>>,
) -> Option<PostPlace> {
    let value = row.text(Col::Place);
    if value.is_empty() {
        row.reject(Col::Place, "任职单位不能为空");
        return None;
    }
    let found = if kind.in_party_org() {
        single(orgs, &value, "党组织").map(|id| (None, Some(*id)))
    } else {
        single(nodes, &value, "节点").and_then(|p| {
            if kind.node_levels().contains(&p.level) {
                Ok((Some(p.id), None))
            } else {
                Err(format!("“{}”不设在{}", kind.label_zh(), p.level.label_zh()))
            }
        })
    };
    match found {
        Ok((node_id, org_id)) => Some(PostPlace { kind, node_id, org_id }),
        Err(reason) => {
            row.reject(Col::Place, reason);
            None
        }
    }
}

impl Store {
    pub(super) async fn import_posts(&self, actor: &Actor, sheet: &Sheet, job: &mut Job<'_>) -> StoreResult<()> {
        let (mut hashes, mut places) = (Vec::new(), Vec::new());
        for mut row in sheet.rows() {
            hashes.extend(self.row_id_hash(&mut row));
            places.push(row.text(Col::Place));
        }
        let places = distinct(places);
        let people = self.people_by_hash(actor, &distinct(hashes)).await?;
        let orgs = self.orgs_named(actor, &places).await?;
        let nodes = self.nodes_named(actor, &places).await?;
        let labels: Vec<&str> = PostKind::ALL.iter().map(|k| k.label_zh()).collect();
        let mut valid: Vec<Appointment> = Vec::new();
        for (n, mut row) in sheet.rows().enumerate() {
            job.checking(n);
            let person = self.row_person(&mut row, &people);
            let kind_text = row.text(Col::Post);
            let kind = PostKind::parse(&kind_text);
            if kind.is_none() {
                row.reject(Col::Post, format!("职务应为：{}", labels.join("、")));
            }
            let place = kind.and_then(|k| row_place(&mut row, k, &orgs, &nodes));
            let grade = match PostKind::parse_grade(&row.text(Col::Grade)) {
                Ok(g) => g,
                Err(reason) => {
                    row.reject(Col::Grade, reason);
                    None
                }
            };
            let started = match row.text(Col::StartedOn).as_str() {
                "" => Some(self.today()),
                raw => parse_past_day(raw)
                    .map_err(|e| row.reject(Col::StartedOn, e.to_string()))
                    .ok(),
            };
            let (Some((_, person)), Some(place), Some(started)) = (person, place, started) else {
                job.accept(&mut row, None::<()>);
                continue;
            };
            let same = format!("{}:{place:?}", person.id);
            if let Some(first) = job.seen_before(same, row.no) {
                row.reject(Col::Post, format!("与第 {first} 行重复"));
            } else if place.kind.is_single()
                && let Some(first) = job.seen_before(format!("{place:?}"), row.no)
            {
                row.reject(
                    Col::Post,
                    format!("与第 {first} 行冲突：{}一次只能由一人担任", place.kind.label_zh()),
                );
            }
            if job.accept(&mut row, Some(())).is_some() {
                valid.push(Appointment {
                    row: row.no,
                    person_id: person.id,
                    place,
                    grade,
                    started,
                });
            }
        }
        job.report.valid = valid.len();
        let (held, holders) = self.current_posts(&valid).await?;
        let mut new = Vec::new();
        for a in &valid {
            if held.contains(&(a.person_id, a.place)) {
                job.report.unchanged += 1;
            } else if let Some((_, name)) = holders.get(&a.place).filter(|(p, _)| *p != a.person_id) {
                job.report.valid -= 1;
                job.report.rejected.push(super::RowIssue {
                    row: a.row,
                    column: sheet.head(Col::Post),
                    value: a.place.kind.label_zh().to_string(),
                    reason: held_by(a.place.kind, name),
                });
            } else {
                new.push(a);
            }
        }
        job.report.inserted = new.len();
        if !job.commit() {
            return Ok(());
        }
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        for (i, a) in new.iter().enumerate() {
            // Checked again inside the transaction: someone may have been appointed since.
            if let Some(name) = current_holder(&mut tx, &a.place).await? {
                return Err(crate::StoreError::field(
                    "file",
                    format!("第 {} 行：{}", a.row, held_by(a.place.kind, &name)),
                ));
            }
            insert_post(&mut tx, a.person_id, &a.place, a.grade.clone(), a.started, &now).await?;
            if i % 500 == 0 {
                job.writing(i as u64, new.len() as u64);
            }
        }
        job.seal(self, tx, actor).await
    }

    /// The posts the appointments' people hold now, and the current holders of the
    /// single-holder posts at the appointments' places.
    async fn current_posts(
        &self,
        valid: &[Appointment],
    ) -> StoreResult<(HashSet<(i64, PostPlace)>, HashMap<PostPlace, (i64, String)>)> {
        let people: Vec<i64> = valid.iter().map(|a| a.person_id).collect();
        let nodes: Vec<i64> = valid.iter().filter_map(|a| a.place.node_id).collect();
        let orgs: Vec<i64> = valid.iter().filter_map(|a| a.place.org_id).collect();
        let mut held = HashSet::new();
        let mut holders = HashMap::new();
        let mut rows: Vec<Holding> = Vec::new();
        for chunk in people.chunks(500) {
            let mut sql = Sql::new(
                "SELECT p.person_id, p.kind, p.node_id, p.org_id, pe.name FROM posts p JOIN persons pe ON pe.id = p.person_id \
                 WHERE p.ended_on IS NULL AND p.person_id IN ",
            );
            sql.bind_list(chunk);
            rows.extend(sql.query_as().fetch_all(&self.pool).await?);
        }
        let single: Vec<&str> = PostKind::ALL
            .iter()
            .filter(|k| k.is_single())
            .map(|k| k.key())
            .collect();
        for (column, ids) in [("p.node_id", &nodes), ("p.org_id", &orgs)] {
            for chunk in ids.chunks(500) {
                let mut sql = Sql::new(
                    "SELECT p.person_id, p.kind, p.node_id, p.org_id, pe.name FROM posts p JOIN persons pe ON pe.id = p.person_id \
                     WHERE p.ended_on IS NULL AND p.kind IN ",
                );
                sql.bind_list(&single)
                    .push(" AND ")
                    .push(column)
                    .push(" IN ")
                    .bind_list(chunk);
                rows.extend(sql.query_as().fetch_all(&self.pool).await?);
            }
        }
        for h in rows {
            let Some(kind) = PostKind::from_key(&h.kind) else {
                continue;
            };
            let place = PostPlace {
                kind,
                node_id: h.node_id,
                org_id: h.org_id,
            };
            held.insert((h.person_id, place));
            if kind.is_single() {
                holders.insert(place, (h.person_id, h.name));
            }
        }
        Ok((held, holders))
    }
}
