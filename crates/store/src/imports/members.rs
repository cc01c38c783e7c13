//! Party members: 身份证号 (the person, found among registered residents), 所在党组织 (by its
//! exact name, among those whose members the actor manages), 党员类别, 入党日期, 转正日期. A
//! person who is a member already is left, or updated — a different organisation being a
//! transfer, kept in `member_transfers` as `Store::transfer_member` keeps it.

use std::collections::HashMap;

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::dates::day_text;
use gongjian_domain::members::{MemberDraft, MemberForm};

use super::Job;
use super::lookup::{distinct, single};
use super::sheet::{Col, ID_NAMES, Sheet, Spec};
use crate::db::Store;
use crate::error::StoreResult;
use crate::members::{MemberTransfer, insert_member, record_transfer};
use crate::sql::Sql;

pub(super) const SPECS: &[Spec] = &[
    Spec {
        col: Col::IdNumber,
        names: ID_NAMES,
        required: true,
    },
    Spec {
        col: Col::Org,
        names: &[
            "所在党组织",
            "所在党支部",
            "党组织",
            "党支部",
            "所在支部",
            "所属党组织",
            "党组织名称",
        ],
        required: true,
    },
    Spec {
        col: Col::Name,
        names: &["姓名", "党员姓名", "名字"],
        required: false,
    },
    Spec {
        col: Col::MemberStatus,
        names: &["党员类别", "党员类型", "党员身份", "类别"],
        required: false,
    },
    Spec {
        col: Col::JoinedOn,
        names: &["入党日期", "入党时间", "加入党组织日期"],
        required: false,
    },
    Spec {
        col: Col::FullOn,
        names: &["转正日期", "转正时间"],
        required: false,
    },
];

const FIELDS: &[(&str, Col)] = &[
    ("person_id", Col::IdNumber),
    ("org_id", Col::Org),
    ("status", Col::MemberStatus),
    ("joined_on", Col::JoinedOn),
    ("full_on", Col::FullOn),
];

/// A membership as recorded.
#[derive(sqlx::FromRow)]
struct Recorded {
    person_id: i64,
    id: i64,
    org_id: i64,
    status: String,
    joined_on: String,
    full_on: Option<String>,
    path: String,
}

impl Recorded {
    fn same_as(&self, d: &MemberDraft) -> bool {
        self.org_id == d.org_id && self.same_status(d)
    }

    fn same_status(&self, d: &MemberDraft) -> bool {
        self.status == d.status.key()
            && self.joined_on == day_text(d.joined_on)
            && self.full_on == d.full_on.map(day_text)
    }
}

impl Store {
    pub(super) async fn import_members(&self, actor: &Actor, sheet: &Sheet, job: &mut Job<'_>) -> StoreResult<()> {
        let (mut hashes, mut orgs) = (Vec::new(), Vec::new());
        for mut row in sheet.rows() {
            hashes.extend(self.row_id_hash(&mut row));
            orgs.push(row.text(Col::Org));
        }
        let people = self.people_by_hash(actor, &distinct(hashes)).await?;
        let orgs = self.orgs_named(actor, &distinct(orgs)).await?;
        let mut drafts: Vec<MemberDraft> = Vec::new();
        let mut rows: Vec<(usize, String)> = Vec::new();
        for (n, mut row) in sheet.rows().enumerate() {
            job.checking(n);
            let person = self.row_person(&mut row, &people);
            let org_name = row.text(Col::Org);
            let org = match single(&orgs, &org_name, "党组织") {
                Ok(id) => Some(*id),
                Err(_) if org_name.is_empty() => None,
                Err(reason) => {
                    row.reject(Col::Org, reason);
                    None
                }
            };
            let form = MemberForm {
                person_id: Some(person.as_ref().map(|p| p.1.id).unwrap_or_default()),
                org_id: org.or(Some(0)).filter(|_| !org_name.is_empty()),
                status: row.text(Col::MemberStatus),
                joined_on: row.text(Col::JoinedOn),
                full_on: row.text(Col::FullOn),
            };
            let draft = row.convert(MemberDraft::try_from(&form), FIELDS);
            if let Some((hash, _)) = person.as_ref().filter(|_| row.ok())
                && let Some(first) = job.seen_before(hash.clone(), row.no)
            {
                row.reject(Col::IdNumber, format!("与第 {first} 行是同一人"));
            }
            if let Some(d) = job.accept(&mut row, draft) {
                drafts.push(d);
                rows.push((row.no, org_name));
            }
        }
        job.report.valid = drafts.len();
        let recorded = self.memberships(&drafts).await?;
        // What each valid row does: insert, update (with a transfer when the organisation
        // differs) or nothing.
        let mut inserts = Vec::new();
        let mut updates = Vec::new();
        for (d, (row, org_name)) in drafts.iter().zip(rows) {
            match recorded.get(&d.person_id) {
                None => inserts.push(d),
                // A membership in an organisation outside the actor's scope is neither changed
                // nor counted as unchanged: the row is refused, skipping or updating alike.
                Some(r) if !actor.scope(Right::ManagePeople).contains_path(&r.path) => {
                    job.report.valid -= 1;
                    job.report.rejected.push(super::RowIssue {
                        row,
                        column: sheet.head(Col::Org),
                        value: org_name,
                        reason: "此人现为管理范围外党组织的党员，须由转出方办理组织关系转接".into(),
                    });
                }
                Some(r) if r.same_as(d) || !job.update() => job.report.unchanged += 1,
                Some(r) => updates.push((d, r)),
            }
        }
        job.report.inserted = inserts.len();
        job.report.updated = updates.len();
        if !job.commit() {
            return Ok(());
        }
        let now = self.now_text();
        let today = self.today();
        let total = (inserts.len() + updates.len()) as u64;
        let mut tx = self.begin_write().await?;
        for (i, d) in inserts.iter().enumerate() {
            insert_member(&mut tx, d, actor.user_id, &now).await?;
            if i % 500 == 0 {
                job.writing(i as u64, total);
            }
        }
        for (d, r) in &updates {
            if r.org_id != d.org_id {
                let transfer = MemberTransfer {
                    member_id: r.id,
                    from_org_id: r.org_id,
                    to_org_id: d.org_id,
                    on: today,
                    note: Some("表格导入".into()),
                };
                record_transfer(&mut tx, &transfer, actor.user_id, &now).await?;
            }
            if !r.same_status(d) {
                sqlx::query(
                    "UPDATE party_members SET status = $1, joined_on = $2, full_on = $3, updated_at = $4 WHERE id = $5",
                )
                .bind(d.status.key())
                .bind(day_text(d.joined_on))
                .bind(d.full_on.map(day_text))
                .bind(&now)
                .bind(r.id)
                .execute(&mut *tx)
                .await?;
            }
        }
        job.writing(total, total);
        job.seal(self, tx, actor).await
    }

    /// The memberships of the drafts' people, by person.
    async fn memberships(&self, drafts: &[MemberDraft]) -> StoreResult<HashMap<i64, Recorded>> {
        let ids: Vec<i64> = drafts.iter().map(|d| d.person_id).collect();
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let mut sql = Sql::new(
                "SELECT m.person_id, m.id, m.org_id, m.status, m.joined_on, m.full_on, t.path FROM party_members m \
                 JOIN party_orgs o ON o.id = m.org_id JOIN nodes t ON t.id = o.territory_node_id WHERE m.person_id IN ",
            );
            sql.bind_list(chunk);
            for r in sql.query_as::<Recorded>().fetch_all(&self.pool).await? {
                out.insert(r.person_id, r);
            }
        }
        Ok(out)
    }
}
