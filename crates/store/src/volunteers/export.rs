//! Hours leaving the platform: the printable service record (志愿服务记录 / 服务时长记录单)
//! that an organiser stamps, and the rows of the workbook for the national volunteer
//! information system (全国志愿服务信息系统).
//!
//! Both list **effective** records only: a record replaced by a correction is left out and the
//! correction stands in its place; records corrected to zero minutes are left out.
//!
//! "谁组织谁记录，谁记录谁证明": a print lists the records organised under the issuing node
//! (the records' node inside the issuer's `ManagePeople` scope). A print keeps its number, the
//! records it listed and their minutes (`service_record_prints`); issuing is audited.
//!
//! The export is for a node and a period: records placed under the node, served in the period.
//! ID numbers are masked unless the reader has `RevealPersonal` over the node and asks for full
//! numbers; such an export is audited with how many numbers it revealed.

use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::volunteers::levels::hours_text;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::people::{ID_FIELD, Person};
use crate::scope;
use crate::sql::Sql;
use crate::stats::Period;
use crate::volunteers::trajectory::RecordLine;

/// The ID type printed and exported: residents' records hold resident identity card numbers.
pub const ID_TYPE: &str = "居民身份证";

/// The columns of the national-system workbook, in order (see `docs/VOLUNTEERS.md`).
pub const NATIONAL_COLUMNS: [&str; 11] = [
    "姓名",
    "证件类型",
    "证件号码",
    "志愿者编号",
    "服务日期",
    "服务时长(小时)",
    "活动名称",
    "服务内容",
    "服务地点",
    "组织者",
    "确认人",
];

/// What the issuer fills in on a print.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct PrintForm {
    /// `YYYY-MM-DD`, blank for the first record.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD`, blank for today.
    #[serde(default)]
    pub to: String,
    /// 出具单位: the organiser's name.
    #[serde(default)]
    pub issuer: String,
    /// 负责人.
    #[serde(default)]
    pub person_in_charge: String,
    /// 经办人.
    #[serde(default)]
    pub handler: String,
    /// 联系电话.
    #[serde(default)]
    pub contact: String,
}

/// A print as issued.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ServicePrint {
    pub id: i64,
    pub number: String,
    pub person_id: i64,
    pub node_id: i64,
    pub period_from: String,
    pub period_to: String,
    pub record_ids: String,
    pub minutes: i64,
    pub issuer: String,
    pub person_in_charge: String,
    pub handler: String,
    pub contact: String,
    pub issued_by: i64,
    pub created_at: String,
}

/// A print with what it shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrintSheet {
    pub print: ServicePrint,
    pub person: Person,
    pub id_type: String,
    pub volunteer_no: Option<String>,
    pub hours: String,
    /// The Shanghai day of issue, `YYYY-MM-DD`.
    pub issued_on: String,
    pub records: Vec<RecordLine>,
}

/// One row of the national-system workbook.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NationalRow {
    pub name: String,
    pub id_type: String,
    pub id_number: String,
    pub volunteer_no: String,
    pub served_on: String,
    pub hours: String,
    pub minutes: i64,
    pub activity: String,
    pub content: String,
    pub place: String,
    pub organiser: String,
    pub confirmer: String,
}

impl NationalRow {
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.id_type.clone(),
            self.id_number.clone(),
            self.volunteer_no.clone(),
            self.served_on.clone(),
            self.hours.clone(),
            self.activity.clone(),
            self.content.clone(),
            self.place.clone(),
            self.organiser.clone(),
            self.confirmer.clone(),
        ]
    }
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    name: String,
    id_number_masked: Option<String>,
    id_number_enc: Option<String>,
    volunteer_no: Option<String>,
    served_on: String,
    minutes: i64,
    title: Option<String>,
    content: String,
    place: String,
    organiser_name: String,
    confirmer: Option<String>,
}

/// Checks a short text field of a print.
fn required(v: &mut Validation, field: &str, value: &str, what: &str) -> String {
    let t = value.trim();
    if t.is_empty() {
        v.push(field, format!("请填写{what}"));
    } else if t.chars().count() > 60 {
        v.push(field, format!("{what}不能超过 60 个字"));
    }
    t.to_string()
}

/// Number prefix and year of a print issued now.
fn print_number(id: i64, today: chrono::NaiveDate) -> String {
    let year = today.format("%Y");
    format!("JL{year}-{id:06}")
}

impl Store {
    /// Issues a printed service record of a person for a period: the effective records
    /// organised within the issuer's scope. Audited; the number is kept.
    pub async fn issue_service_print(
        &self,
        actor: &Actor,
        person_id: i64,
        form: &PrintForm,
        client: &str,
    ) -> StoreResult<ServicePrint> {
        let person = self.person(actor, person_id).await.map_err(|e| match e {
            StoreError::Forbidden => StoreError::NotFound,
            e => e,
        })?;
        let mut v = Validation::new();
        let period = match Period::parse(Some(&form.from), Some(&form.to)) {
            Ok(p) => p,
            Err(e) => {
                for f in e.0 {
                    v.push(f.field, f.message);
                }
                Period::default()
            }
        }
        .with_today(self.today());
        let issuer = required(&mut v, "issuer", &form.issuer, "出具单位");
        let in_charge = required(&mut v, "person_in_charge", &form.person_in_charge, "负责人");
        let handler = required(&mut v, "handler", &form.handler, "经办人");
        let contact = required(&mut v, "contact", &form.contact, "联系电话");
        if !contact.is_empty()
            && !contact
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == ' ' || c == '+')
        {
            v.push("contact", "联系电话只能包含数字和“-”");
        }
        v.clone().into_result()?;
        let manage = actor.scope(Right::ManagePeople);
        if manage.is_none() {
            return Err(StoreError::Forbidden);
        }
        let from = period.start_text().unwrap_or_else(|| "0000-00-00".into());
        let to = period.as_of_text();
        let lines = self.record_lines(person.id, Some(&from), Some(&to)).await?;
        let nodes = self.record_node_paths(&lines).await?;
        let mine: Vec<&RecordLine> = lines
            .iter()
            .filter(|r| r.is_effective() && r.minutes > 0)
            .filter(|r| {
                nodes
                    .iter()
                    .any(|(id, _, path)| *id == r.id && manage.contains_path(path))
            })
            .collect();
        if mine.is_empty() {
            return Err(StoreError::field("from", "该时段内没有本单位组织、可出具的服务记录"));
        }
        // The issuing node: the node of the most recent record listed.
        let node_id = nodes
            .iter()
            .find(|(id, _, _)| *id == mine[0].id)
            .map(|(_, node, _)| *node)
            .ok_or(StoreError::NotFound)?;
        let ids: Vec<String> = mine.iter().map(|r| r.id.to_string()).collect();
        let minutes: i64 = mine.iter().map(|r| r.minutes).sum();
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO service_record_prints (number, person_id, node_id, period_from, period_to, record_ids, \
             minutes, issuer, person_in_charge, handler, contact, issued_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(format!("pending-{}", uuid::Uuid::new_v4().simple()))
        .bind(person.id)
        .bind(node_id)
        .bind(&from)
        .bind(&to)
        .bind(ids.join(","))
        .bind(minutes)
        .bind(&issuer)
        .bind(&in_charge)
        .bind(&handler)
        .bind(&contact)
        .bind(actor.user_id)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        let number = print_number(id, self.today());
        sqlx::query("UPDATE service_record_prints SET number = $1 WHERE id = $2")
            .bind(&number)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(
                actor,
                "volunteer.print.issue",
                format!("service_record_print:{id}"),
                client,
            )
            .with_detail(format!("{number} person:{} {} minutes", person.id, minutes)),
        )
        .await?;
        tx.commit().await?;
        self.print_row(id).await
    }

    /// The `(record id, node id, node path)` of each record.
    async fn record_node_paths(&self, lines: &[RecordLine]) -> StoreResult<Vec<(i64, i64, String)>> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(
            "SELECT r.id, n.id, n.path FROM service_records r JOIN nodes n ON n.id = r.node_id WHERE r.id IN (",
        );
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(l.id);
        }
        sql.push(")");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    async fn print_row(&self, id: i64) -> StoreResult<ServicePrint> {
        sqlx::query_as(
            "SELECT id, number, person_id, node_id, period_from, period_to, record_ids, minutes, issuer, \
             person_in_charge, handler, contact, issued_by, created_at FROM service_record_prints WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)
    }

    /// A print as issued, with the records it listed, for staff who read the person.
    pub async fn service_print(&self, actor: &Actor, id: i64) -> StoreResult<PrintSheet> {
        let print = self.print_row(id).await?;
        let (person, _) = self.trajectory_person(actor, print.person_id).await?;
        let listed: Vec<i64> = print.record_ids.split(',').filter_map(|s| s.parse().ok()).collect();
        let records = self
            .record_lines(person.id, Some(&print.period_from), Some(&print.period_to))
            .await?
            .into_iter()
            .filter(|r| listed.contains(&r.id))
            .collect();
        let volunteer_no: Option<String> =
            sqlx::query_scalar("SELECT volunteer_no FROM volunteers WHERE person_id = $1")
                .bind(person.id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(PrintSheet {
            hours: hours_text(print.minutes),
            issued_on: super::trajectory::shanghai_day(&print.created_at),
            id_type: ID_TYPE.into(),
            volunteer_no,
            person,
            records,
            print,
        })
    }

    /// The prints issued for a person, newest first.
    pub async fn service_prints_of(&self, actor: &Actor, person_id: i64) -> StoreResult<Vec<ServicePrint>> {
        self.trajectory_person(actor, person_id).await?;
        Ok(sqlx::query_as(
            "SELECT id, number, person_id, node_id, period_from, period_to, record_ids, minutes, issuer, \
             person_in_charge, handler, contact, issued_by, created_at FROM service_record_prints \
             WHERE person_id = $1 ORDER BY id DESC",
        )
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether the actor may have full ID numbers in the export for the node.
    pub async fn may_export_full_ids(&self, actor: &Actor, node_id: i64) -> StoreResult<bool> {
        let node = self.node(actor, node_id).await?;
        Ok(actor.scope(Right::RevealPersonal).contains_path(&node.path))
    }

    /// The rows of the national-system workbook for the records under a node served in the
    /// period, oldest first. `full_ids` asks for whole ID numbers (needs `RevealPersonal` over
    /// the node; audited).
    pub async fn national_export(
        &self,
        actor: &Actor,
        node_id: i64,
        period: &Period,
        full_ids: bool,
        client: &str,
    ) -> StoreResult<Vec<NationalRow>> {
        let period = &period.with_today(self.today());
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        if full_ids {
            scope::require(actor, Right::RevealPersonal, &node.path)?;
        }
        let mut sql = Sql::new(
            "SELECT p.name, p.id_number_masked, p.id_number_enc, v.volunteer_no, r.served_on, r.minutes, \
             a.title, r.content, r.place, r.organiser_name, u.display_name AS confirmer \
             FROM service_records r JOIN nodes t ON t.id = r.node_id JOIN persons p ON p.id = r.person_id \
             LEFT JOIN volunteers v ON v.person_id = r.person_id LEFT JOIN activities a ON a.id = r.activity_id \
             LEFT JOIN users u ON u.id = r.confirmed_by \
             WHERE r.minutes > 0 AND NOT EXISTS (SELECT 1 FROM service_records c WHERE c.corrects_id = r.id) \
             AND r.served_on <= ",
        );
        sql.bind(period.as_of_text());
        if let Some(f) = period.start_text() {
            sql.push(" AND r.served_on >= ").bind(f);
        }
        sql.push(" AND ");
        scope::push_subtree(&mut sql, "t.path", &node.path);
        sql.push(" ORDER BY r.served_on, r.person_id, r.id");
        let rows: Vec<ExportRow> = sql.query_as().fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut revealed = 0;
        for r in rows {
            let id_number = match (full_ids, &r.id_number_enc) {
                (true, Some(enc)) => {
                    revealed += 1;
                    self.keys.decrypt(ID_FIELD, enc)?
                }
                _ => r.id_number_masked.clone().unwrap_or_default(),
            };
            out.push(NationalRow {
                name: r.name,
                id_type: ID_TYPE.into(),
                id_number,
                volunteer_no: r.volunteer_no.unwrap_or_default(),
                served_on: r.served_on,
                hours: hours_text(r.minutes),
                minutes: r.minutes,
                activity: r.title.unwrap_or_default(),
                content: r.content,
                place: r.place,
                organiser: r.organiser_name,
                confirmer: r.confirmer.unwrap_or_default(),
            });
        }
        let mut tx = self.begin_write().await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "volunteer.export.national", format!("node:{}", node.id), client).with_detail(
                format!(
                    "{} rows, {} full ID numbers, {}..{}",
                    out.len(),
                    revealed,
                    period.start_text().unwrap_or_default(),
                    period.as_of_text()
                ),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }
}
