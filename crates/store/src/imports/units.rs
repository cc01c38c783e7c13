//! Units in the area: 单位名称, 统一社会信用代码, 单位类型, 所在社区/街道 (a node's code or exact
//! name), 地址, and a liaison contact (联系人, 职务, 联系电话). A credit code whose check
//! character fails is taken with a warning, as the form takes it. A unit already registered
//! (same credit code; without one, same name at the same node) is left or updated; a contact
//! it already has is not added twice. Contact mobiles are stored as `units` stores them.

use std::collections::{HashMap, HashSet};

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::tree::Level;
use gongjian_domain::units::{ContactDraft, ContactForm, UnitDraft, UnitForm};

use super::lookup::{distinct, single};
use super::sheet::{Col, Sheet, Spec};
use super::{Job, RowIssue};
use crate::db::Store;
use crate::error::StoreResult;
use crate::people::MOBILE_FIELD;
use crate::sql::Sql;
use crate::units::save_unit;

pub(super) const SPECS: &[Spec] = &[
    Spec {
        col: Col::Name,
        names: &["单位名称", "单位全称", "单位", "名称"],
        required: true,
    },
    Spec {
        col: Col::Place,
        names: &[
            "所在社区/街道",
            "所在社区",
            "所在街道",
            "所属社区",
            "社区/街道",
            "所在网格",
            "所在地",
        ],
        required: true,
    },
    Spec {
        col: Col::CreditCode,
        names: &["统一社会信用代码", "社会信用代码", "信用代码", "统一代码"],
        required: false,
    },
    Spec {
        col: Col::UnitKind,
        names: &["单位类型", "单位性质", "类型"],
        required: false,
    },
    Spec {
        col: Col::Address,
        names: &["地址", "单位地址", "办公地址"],
        required: false,
    },
    Spec {
        col: Col::Contact,
        names: &["联系人", "联络人", "联系人姓名"],
        required: false,
    },
    Spec {
        col: Col::Title,
        names: &["职务", "联系人职务"],
        required: false,
    },
    Spec {
        col: Col::Mobile,
        names: &["联系电话", "联系人电话", "手机号码", "手机", "电话"],
        required: false,
    },
];

const UNIT_FIELDS: &[(&str, Col)] = &[
    ("name", Col::Name),
    ("credit_code", Col::CreditCode),
    ("kind", Col::UnitKind),
    ("node_id", Col::Place),
    ("address", Col::Address),
];

const CONTACT_FIELDS: &[(&str, Col)] = &[("name", Col::Contact), ("title", Col::Title), ("mobile", Col::Mobile)];

/// The levels a unit is located at.
const UNIT_LEVELS: [Level; 4] = [Level::Street, Level::Community, Level::GridL2, Level::GridL3];

/// A valid row.
struct Row {
    no: usize,
    code_value: String,
    unit: UnitDraft,
    contact: Option<ContactDraft>,
}

/// A unit as registered.
#[derive(sqlx::FromRow)]
struct Registered {
    id: i64,
    name: String,
    credit_code: Option<String>,
    credit_code_warning: Option<String>,
    kind: String,
    node_id: i64,
    address: Option<String>,
    path: String,
}

impl Registered {
    fn same_as(&self, d: &UnitDraft) -> bool {
        self.name == d.name.as_str()
            && self.kind == d.kind.key()
            && self.node_id == d.node_id
            && self.address == d.address
            && self.credit_code_warning == d.warning.map(|w| w.to_string())
    }
}

/// How a unit is recognised: its credit code, or without one its name and node.
fn key_of(d: &UnitDraft) -> String {
    match &d.credit_code {
        Some(c) => format!("code:{}", c.as_str()),
        None => format!("name:{}@{}", d.name.as_str(), d.node_id),
    }
}

impl Store {
    pub(super) async fn import_units(&self, actor: &Actor, sheet: &Sheet, job: &mut Job<'_>) -> StoreResult<()> {
        let places: Vec<String> = sheet.rows().map(|mut r| r.text(Col::Place)).collect();
        let nodes = self.nodes_named(actor, &distinct(places)).await?;
        let mut valid: Vec<Row> = Vec::new();
        for (n, mut row) in sheet.rows().enumerate() {
            job.checking(n);
            let place = row.text(Col::Place);
            let node = match single(&nodes, &place, "社区或街道") {
                Ok(p) if UNIT_LEVELS.contains(&p.level) => Some(p.id),
                Ok(p) => {
                    row.reject(
                        Col::Place,
                        format!("单位应登记在街道、社区或网格，所填的是{}", p.level.label_zh()),
                    );
                    None
                }
                Err(_) if place.is_empty() => None,
                Err(reason) => {
                    row.reject(Col::Place, reason);
                    None
                }
            };
            let form = UnitForm {
                name: row.text(Col::Name),
                credit_code: row.text(Col::CreditCode),
                kind: row.text(Col::UnitKind),
                node_id: node.or(Some(0)).filter(|_| !place.is_empty()),
                address: row.text(Col::Address),
            };
            let unit = row.convert(UnitDraft::try_from(&form), UNIT_FIELDS);
            let contact = ContactForm {
                name: row.text(Col::Contact),
                title: row.text(Col::Title),
                mobile: row.text(Col::Mobile),
            };
            let contact = if [&contact.name, &contact.title, &contact.mobile]
                .iter()
                .all(|s| s.is_empty())
            {
                Some(None)
            } else {
                row.convert(ContactDraft::try_from(&contact), CONTACT_FIELDS).map(Some)
            };
            if let Some(u) = unit.as_ref().filter(|_| row.ok())
                && let Some(first) = job.seen_before(key_of(u), row.no)
            {
                let col = if u.credit_code.is_some() {
                    Col::CreditCode
                } else {
                    Col::Name
                };
                row.reject(col, format!("与第 {first} 行是同一单位"));
            }
            let Some((unit, contact)) = job.accept(&mut row, unit.zip(contact)) else {
                continue;
            };
            if let Some(w) = unit.warning {
                job.report.warnings.push(row.issue(Col::CreditCode, w.to_string()));
            }
            valid.push(Row {
                no: row.no,
                code_value: form.credit_code,
                unit,
                contact,
            });
        }
        job.report.valid = valid.len();
        let registered = self.registered_units(&valid).await?;
        let contacts = self
            .current_contacts(registered.values().map(|r| r.id).collect())
            .await?;
        let has_contact = |unit_id: i64, c: &Option<ContactDraft>| {
            c.as_ref().is_none_or(|c| {
                let hash = c
                    .mobile
                    .as_ref()
                    .map(|m| self.keys.lookup_hash(MOBILE_FIELD, m.as_str()));
                contacts.contains(&(unit_id, c.name.as_str().to_string(), hash))
            })
        };
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        for v in &valid {
            match registered.get(&key_of(&v.unit)) {
                None => inserts.push(v),
                // A unit registered outside the actor's scope is never changed, nor counted as
                // unchanged (which would confirm what it holds): its row is refused, skipping
                // or updating alike.
                Some(r) if !actor.scope(Right::ManagePeople).contains_path(&r.path) => {
                    job.report.valid -= 1;
                    job.report.rejected.push(RowIssue {
                        row: v.no,
                        column: sheet.head(Col::CreditCode),
                        value: v.code_value.clone(),
                        reason: "该统一社会信用代码已在您的管理范围以外登记，不能在此导入或更新".into(),
                    });
                }
                Some(r) if (r.same_as(&v.unit) && has_contact(r.id, &v.contact)) || !job.update() => {
                    job.report.unchanged += 1
                }
                Some(r) => updates.push((v, r)),
            }
        }
        job.report.inserted = inserts.len();
        job.report.updated = updates.len();
        if !job.commit() {
            return Ok(());
        }
        let now = self.now_text();
        let total = (inserts.len() + updates.len()) as u64;
        let mut tx = self.begin_write().await?;
        for (i, v) in inserts.iter().enumerate() {
            let id = save_unit(&mut tx, None, &v.unit, &now).await?;
            if let Some(c) = &v.contact {
                self.insert_contact(&mut tx, id, c, &now).await?;
            }
            if i % 500 == 0 {
                job.writing(i as u64, total);
            }
        }
        for (v, r) in &updates {
            if !r.same_as(&v.unit) {
                save_unit(&mut tx, Some(r.id), &v.unit, &now).await?;
            }
            if let Some(c) = v.contact.as_ref().filter(|_| !has_contact(r.id, &v.contact)) {
                self.insert_contact(&mut tx, r.id, c, &now).await?;
            }
        }
        job.writing(total, total);
        job.seal(self, tx, actor).await
    }

    /// The registered units the rows name, by [`key_of`].
    async fn registered_units(&self, rows: &[Row]) -> StoreResult<HashMap<String, Registered>> {
        const SELECT: &str = "SELECT u.id, u.name, u.credit_code, u.credit_code_warning, u.kind, u.node_id, u.address, \
             n.path FROM units u JOIN nodes n ON n.id = u.node_id WHERE ";
        let codes: Vec<String> = rows
            .iter()
            .filter_map(|r| r.unit.credit_code.as_ref().map(|c| c.as_str().to_string()))
            .collect();
        let names: Vec<String> = distinct(
            rows.iter()
                .filter(|r| r.unit.credit_code.is_none())
                .map(|r| r.unit.name.as_str().to_string()),
        );
        let mut found: Vec<Registered> = Vec::new();
        for (filter, values) in [
            ("u.credit_code IN ", &codes),
            ("u.credit_code IS NULL AND u.status = 'active' AND u.name IN ", &names),
        ] {
            for chunk in values.chunks(500) {
                let mut sql = Sql::new(SELECT);
                sql.push(filter).bind_list(chunk).push(" ORDER BY u.id");
                found.extend(sql.query_as::<Registered>().fetch_all(&self.pool).await?);
            }
        }
        Ok(found
            .into_iter()
            .map(|r| {
                let key = match &r.credit_code {
                    Some(c) => format!("code:{c}"),
                    None => format!("name:{}@{}", r.name, r.node_id),
                };
                (key, r)
            })
            .collect())
    }

    /// The current contacts of these units: unit, name and mobile hash.
    async fn current_contacts(&self, units: Vec<i64>) -> StoreResult<HashSet<(i64, String, Option<String>)>> {
        let mut out = HashSet::new();
        for chunk in units.chunks(500) {
            let mut sql =
                Sql::new("SELECT unit_id, name, mobile_hash FROM unit_contacts WHERE ended_at IS NULL AND unit_id IN ");
            sql.bind_list(chunk);
            out.extend(
                sql.query_as::<(i64, String, Option<String>)>()
                    .fetch_all(&self.pool)
                    .await?,
            );
        }
        Ok(out)
    }
}
