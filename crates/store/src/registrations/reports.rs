//! The report back to employers (双报告): per community, employer and period, each registered
//! member's claimed posts, services, hours and ratings — exported to Excel and summed up in a
//! thank-you letter (感谢函), each letter recorded.

use chrono::NaiveDate;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::dates::day_text;
use gongjian_domain::tree::Level;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::scope;

/// One member's line in the report.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ReportLine {
    pub registration_id: i64,
    pub person_name: String,
    pub registered_on: String,
    pub status: String,
    /// Claimed posts, e.g. `政策宣传岗、治安巡防岗`.
    #[sqlx(skip)]
    pub duties: String,
    pub services: i64,
    pub minutes: i64,
    /// Mean rating of rated services, 1–5.
    pub rating: Option<f64>,
}

/// The report for one employer at one community over a period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmployerReport {
    pub community_id: i64,
    pub community_name: String,
    pub employer_unit_id: i64,
    pub employer_name: String,
    pub from: String,
    pub to: String,
    pub lines: Vec<ReportLine>,
    pub services: i64,
    pub minutes: i64,
}

/// A thank-you letter as issued.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ThanksLetter {
    pub id: i64,
    pub community_id: i64,
    pub employer_unit_id: i64,
    pub period_from: String,
    pub period_to: String,
    pub created_at: String,
}

/// An employer with members registered at a community, for choosing a report.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct EmployerSummary {
    pub employer_unit_id: i64,
    pub employer_name: String,
    pub members: i64,
}

impl Store {
    async fn report_community(&self, actor: &Actor, community_id: i64) -> StoreResult<crate::tree::Node> {
        let c = self.node(actor, community_id).await?;
        if c.level != Level::Community {
            return Err(StoreError::NotFound);
        }
        scope::require(actor, Right::ReadPeople, &c.path)?;
        Ok(c)
    }

    /// Employers of members registered (now or in the past) at a community.
    pub async fn community_employers(&self, actor: &Actor, community_id: i64) -> StoreResult<Vec<EmployerSummary>> {
        self.report_community(actor, community_id).await?;
        Ok(sqlx::query_as(
            "SELECT u.id AS employer_unit_id, u.name AS employer_name, COUNT(*) AS members FROM registrations r \
             JOIN units u ON u.id = r.employer_unit_id WHERE r.community_id = $1 AND r.status IN ('active', 'ended') \
             GROUP BY u.id, u.name ORDER BY COUNT(*) DESC, u.name",
        )
        .bind(community_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The report of one employer's members at a community for `from..=to`.
    pub async fn employer_report(
        &self,
        actor: &Actor,
        community_id: i64,
        unit_id: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<EmployerReport> {
        let c = self.report_community(actor, community_id).await?;
        // The employer is usually outside the community's scope: only its name is shown, and
        // only for a unit the community's own registrations name or one the reader may name
        // (`scope::referable_unit`); any other id is not found, name unsaid.
        let named: Option<String> = sqlx::query_scalar(
            "SELECT u.name FROM units u WHERE u.id = $1 AND EXISTS \
             (SELECT 1 FROM registrations r WHERE r.community_id = $2 AND r.employer_unit_id = u.id)",
        )
        .bind(unit_id)
        .bind(community_id)
        .fetch_optional(&self.pool)
        .await?;
        let employer_name = match named {
            Some(name) => name,
            None => self.referable_unit(actor, unit_id).await?.ok_or(StoreError::NotFound)?,
        };
        if to < from {
            return Err(StoreError::field("to", "结束日期不能早于开始日期"));
        }
        let (f, t) = (day_text(from), day_text(to));
        // Members registered there at some time in the period.
        let mut lines: Vec<ReportLine> = sqlx::query_as(
            "SELECT r.id AS registration_id, pe.name AS person_name, r.registered_on, r.status, \
             COUNT(s.id) AS services, CAST(COALESCE(SUM(s.minutes), 0) AS BIGINT) AS minutes, AVG(CAST(s.rating AS DOUBLE PRECISION)) AS rating \
             FROM registrations r JOIN persons pe ON pe.id = r.person_id \
             LEFT JOIN registration_services s ON s.registration_id = r.id AND s.served_on >= $1 AND s.served_on <= $2 \
             WHERE r.community_id = $3 AND r.employer_unit_id = $4 AND r.status IN ('active', 'ended') \
             AND r.registered_on <= $2 AND (r.ended_on IS NULL OR r.ended_on >= $1) \
             GROUP BY r.id, pe.name, r.registered_on, r.status ORDER BY pe.name, r.id",
        )
        .bind(&f)
        .bind(&t)
        .bind(community_id)
        .bind(unit_id)
        .fetch_all(&self.pool)
        .await?;
        let claims: Vec<(i64, String)> = sqlx::query_as(
            "SELECT k.registration_id, k.duty FROM registration_claims k JOIN registrations r ON r.id = k.registration_id \
             WHERE r.community_id = $1 AND r.employer_unit_id = $2 AND k.claimed_on <= $3 \
             AND (k.ended_on IS NULL OR k.ended_on >= $4) ORDER BY k.id",
        )
        .bind(community_id)
        .bind(unit_id)
        .bind(&t)
        .bind(&f)
        .fetch_all(&self.pool)
        .await?;
        for l in &mut lines {
            l.duties = claims
                .iter()
                .filter(|(r, _)| *r == l.registration_id)
                .filter_map(|(_, d)| gongjian_domain::registration::Duty::parse(d).map(|d| d.label_zh()))
                .collect::<Vec<_>>()
                .join("、");
        }
        Ok(EmployerReport {
            community_id,
            community_name: c.name,
            employer_unit_id: unit_id,
            employer_name,
            from: f,
            to: t,
            services: lines.iter().map(|l| l.services).sum(),
            minutes: lines.iter().map(|l| l.minutes).sum(),
            lines,
        })
    }

    /// Records a thank-you letter for the report, and gives the report it states.
    pub async fn issue_thanks_letter(
        &self,
        actor: &Actor,
        community_id: i64,
        unit_id: i64,
        from: NaiveDate,
        to: NaiveDate,
        client: &str,
    ) -> StoreResult<(ThanksLetter, EmployerReport)> {
        let report = self.employer_report(actor, community_id, unit_id, from, to).await?;
        let c = self.node(actor, community_id).await?;
        scope::require(actor, Right::ManagePeople, &c.path)?;
        if report.lines.is_empty() {
            return Err(StoreError::field(
                "employer_unit_id",
                "该单位在此期间没有在本社区报到的党员",
            ));
        }
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO thanks_letters (community_id, employer_unit_id, period_from, period_to, issued_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(community_id)
        .bind(unit_id)
        .bind(&report.from)
        .bind(&report.to)
        .bind(actor.user_id)
        .bind(self.now_text())
        .fetch_one(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "letter.issue", format!("letter:{id}"), client)
                .with_detail(format!("unit:{unit_id} {}..{}", report.from, report.to)),
        )
        .await?;
        tx.commit().await?;
        let letter = self.thanks_letter(actor, id).await?;
        Ok((letter, report))
    }

    pub async fn thanks_letter(&self, actor: &Actor, id: i64) -> StoreResult<ThanksLetter> {
        let l: ThanksLetter = sqlx::query_as(
            "SELECT id, community_id, employer_unit_id, period_from, period_to, created_at FROM thanks_letters WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        self.report_community(actor, l.community_id).await?;
        Ok(l)
    }

    /// Letters issued by a community, newest first.
    pub async fn thanks_letters(&self, actor: &Actor, community_id: i64) -> StoreResult<Vec<ThanksLetter>> {
        self.report_community(actor, community_id).await?;
        Ok(sqlx::query_as(
            "SELECT id, community_id, employer_unit_id, period_from, period_to, created_at FROM thanks_letters \
             WHERE community_id = $1 ORDER BY id DESC",
        )
        .bind(community_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
