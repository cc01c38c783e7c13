//! Double registration (双报到): in-service party members registered at their residence
//! community — by community staff, or by the member on a phone and then confirmed — with the
//! posts they claim (领岗), the services the community records, and the history of each step.
//! Pairings of organisations with communities, cadres sent down, and the report back to
//! employers live in the sub-modules.

mod deployments;
mod pairings;
mod reports;
mod self_service;

pub use deployments::{Deployment, DeploymentInput};
pub use pairings::{Pairing, PairingInput};
pub use reports::{EmployerReport, EmployerSummary, ReportLine, ThanksLetter};
pub use self_service::{RegistrationPlace, SelfRegistrationForm};

use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::dates::{day_text, parse_past_day};
use gongjian_domain::registration::{Duty, RegStatus, ServiceDraft, ServiceForm, parse_skills};
use gongjian_domain::tree::Level;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;
use crate::{Page, scope};

/// A registration as listed (the member's numbers masked).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Registration {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub id_number_masked: Option<String>,
    pub mobile_masked: Option<String>,
    pub community_id: i64,
    pub community_name: String,
    #[serde(skip)]
    pub community_path: String,
    pub employer_unit_id: Option<i64>,
    pub employer_name: Option<String>,
    pub skills: Option<String>,
    /// `pending`, `active`, `ended` or `rejected`.
    pub status: String,
    pub registered_on: String,
    pub ended_on: Option<String>,
    pub created_at: String,
    /// The account that submitted it from a phone, if it was self-registered.
    #[serde(skip)]
    pub submitted_by: Option<i64>,
}

impl Registration {
    pub fn status_label(&self) -> &'static str {
        RegStatus::from_key(&self.status).map(|s| s.label_zh()).unwrap_or("")
    }
}

pub(crate) const REG_SELECT: &str = "SELECT r.id, r.person_id, pe.name AS person_name, pe.id_number_masked, \
     pe.mobile_masked, r.community_id, c.name AS community_name, c.path AS community_path, r.employer_unit_id, \
     u.name AS employer_name, r.skills, r.status, r.registered_on, r.ended_on, r.created_at, r.submitted_by FROM registrations r \
     JOIN persons pe ON pe.id = r.person_id JOIN nodes c ON c.id = r.community_id LEFT JOIN units u ON u.id = r.employer_unit_id";

/// A claimed post.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Claim {
    pub id: i64,
    pub duty: String,
    pub claimed_on: String,
    pub ended_on: Option<String>,
}

impl Claim {
    pub fn label(&self) -> &'static str {
        Duty::parse(&self.duty).map(|d| d.label_zh()).unwrap_or("")
    }
}

/// A recorded service.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Service {
    pub id: i64,
    pub served_on: String,
    pub minutes: i64,
    pub description: String,
    pub rating: Option<i64>,
}

/// One step in a registration's history.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct RegEvent {
    pub at: String,
    pub action: String,
    pub detail: Option<String>,
}

/// A registration as community staff type it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct RegistrationInput {
    pub person_id: Option<i64>,
    /// The residence community (a level-1 grid).
    pub community_id: Option<i64>,
    #[serde(default)]
    pub employer_unit_id: Option<i64>,
    #[serde(default)]
    pub skills: String,
    /// Duty keys or labels, e.g. `patrol` or 治安巡防岗.
    #[serde(default)]
    pub duties: Vec<String>,
    /// `YYYY-MM-DD`; today when blank.
    #[serde(default)]
    pub registered_on: String,
}

/// Filters of a registration list.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct RegistrationFilter {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub employer_unit_id: Option<i64>,
    /// Part of a name.
    #[serde(default)]
    pub q: String,
}

pub(crate) fn parse_duties(v: &mut Validation, raw: &[String]) -> Vec<Duty> {
    let mut out = Vec::new();
    for d in raw.iter().filter(|d| !d.trim().is_empty()) {
        match Duty::parse(d) {
            Some(d) if !out.contains(&d) => out.push(d),
            Some(_) => {}
            None => v.push("duties", format!("“{}”不是可认领的岗位", d.trim())),
        }
    }
    out
}

pub(crate) async fn history(
    tx: &mut Tx,
    at: &str,
    id: i64,
    action: &str,
    actor: &Actor,
    detail: Option<String>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO registration_history (registration_id, at, action, actor_id, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(at)
    .bind(action)
    .bind(actor.user_id)
    .bind(detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn insert_claims(tx: &mut Tx, id: i64, duties: &[Duty], on: &str) -> StoreResult<()> {
    for d in duties {
        sqlx::query("INSERT INTO registration_claims (registration_id, duty, claimed_on) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(d.key())
            .bind(on)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// A table whose rows are counted as people in the statistics (`person_repeat`, migration 0012).
#[derive(Clone, Copy)]
pub(crate) enum PersonRows {
    Registrations,
    Deployments,
}

/// Marks every row of `person` in `table` as repeated once the person has more than one (all of
/// them when `person` is `None`, after a bulk load), inside the writing transaction: the count of
/// people under a node is then the unrepeated rows plus the distinct repeated people
/// (`stats/registration.rs`).
pub(crate) async fn mark_repeated(tx: &mut Tx, table: PersonRows, person: Option<i64>) -> StoreResult<()> {
    let table = match table {
        PersonRows::Registrations => "registrations",
        PersonRows::Deployments => "deployments",
    };
    let mut sql = Sql::new(&format!(
        "UPDATE {table} SET person_repeat = 1 WHERE person_repeat = 0 AND person_id IN \
         (SELECT person_id FROM {table} WHERE "
    ));
    match person {
        Some(id) => sql.push("person_id = ").bind(id),
        None => sql.push("1 = 1"),
    };
    sql.push(" GROUP BY person_id HAVING COUNT(*) > 1)");
    sql.query().execute(&mut **tx).await?;
    Ok(())
}

/// Refuses a second open (pending or active) registration of one person, inside the writing
/// transaction with the person's row locked, so two concurrent requests cannot both pass.
pub(crate) async fn refuse_second_open(store: &Store, tx: &mut Tx, person_id: i64) -> StoreResult<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM persons WHERE id = $1{}",
        store.engine.row_lock_suffix()
    )))
    .bind(person_id)
    .fetch_optional(&mut **tx)
    .await?;
    let open: Option<String> = sqlx::query_scalar(
        "SELECT c.name FROM registrations r JOIN nodes c ON c.id = r.community_id \
         WHERE r.person_id = $1 AND r.status IN ('pending', 'active')",
    )
    .bind(person_id)
    .fetch_optional(&mut **tx)
    .await?;
    match open {
        Some(name) => Err(StoreError::field(
            "person_id",
            format!("此人已在“{name}”报到（或待确认），如需变更请先结束原报到"),
        )),
        None => Ok(()),
    }
}

impl Store {
    /// Registers an in-service member at a community, confirmed at once (staff register what
    /// they have checked).
    pub async fn register(&self, actor: &Actor, input: &RegistrationInput, client: &str) -> StoreResult<Registration> {
        let mut v = Validation::new();
        let person = match input.person_id {
            Some(id) => self.person(actor, id).await.ok(),
            None => None,
        };
        if person.is_none() {
            v.push("person_id", "请选择报到的党员（须先登记为居民）");
        }
        match input.community_id {
            None => v.push("community_id", "请选择居住社区"),
            Some(id) => match self.node(actor, id).await {
                Ok(n) if n.level != Level::Community => v.push("community_id", "报到的应是社区"),
                Ok(n) if !n.is_active() => v.push("community_id", format!("社区“{}”已撤销", n.name)),
                Ok(n) if scope::require(actor, Right::ManagePeople, &n.path).is_err() => {
                    v.push("community_id", "无权为该社区登记报到")
                }
                Ok(_) => {}
                Err(_) => v.push("community_id", "所选社区不存在"),
            },
        }
        // Another area's unit only when it is on the public directory (`scope::referable_unit`).
        if let Some(u) = input.employer_unit_id
            && self.referable_unit(actor, u).await?.is_none()
        {
            v.push("employer_unit_id", "所选工作单位不存在");
        }
        let skills = v.check("skills", parse_skills(&input.skills));
        let duties = parse_duties(&mut v, &input.duties);
        let on = match input.registered_on.trim() {
            "" => Some(self.today()),
            raw => v.check("registered_on", parse_past_day(raw)),
        };
        v.clone().into_result()?;
        let (Some(person), Some(community_id), Some(skills), Some(on)) = (person, input.community_id, skills, on)
        else {
            return Err(v.into());
        };
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        refuse_second_open(self, &mut tx, person.id).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO registrations (person_id, community_id, employer_unit_id, skills, status, registered_on, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, 'active', $5, $6, $6) RETURNING id",
        )
        .bind(person.id)
        .bind(community_id)
        .bind(input.employer_unit_id)
        .bind(skills)
        .bind(day_text(on))
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        insert_claims(&mut tx, id, &duties, &day_text(on)).await?;
        mark_repeated(&mut tx, PersonRows::Registrations, Some(person.id)).await?;
        history(&mut tx, &self.now_text(), id, "registered", actor, None).await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "registration.create", format!("registration:{id}"), client)
                .with_detail(format!("person:{}", person.id)),
        )
        .await?;
        tx.commit().await?;
        self.registration(actor, id).await
    }

    /// One registration, if the actor may read people at its community — or submitted it.
    pub async fn registration(&self, actor: &Actor, id: i64) -> StoreResult<Registration> {
        let r: Registration = sqlx::query_as(sqlx::AssertSqlSafe(format!("{REG_SELECT} WHERE r.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        if r.submitted_by == Some(actor.user_id) {
            return Ok(r);
        }
        scope::require(actor, Right::ReadPeople, &r.community_path)?;
        Ok(r)
    }

    /// Confirms, rejects or ends a registration; the status moves only as the rules allow.
    pub async fn decide_registration(
        &self,
        actor: &Actor,
        id: i64,
        to: RegStatus,
        note: &str,
        client: &str,
    ) -> StoreResult<Registration> {
        let r = self.registration(actor, id).await?;
        scope::require(actor, Right::ManagePeople, &r.community_path)?;
        let note = gongjian_domain::ids::free_text(note, 200, false).map_err(|m| StoreError::field("note", m))?;
        if to == RegStatus::Rejected && note.is_none() {
            return Err(StoreError::field("note", "请说明未通过的原因，报到人会看到"));
        }
        let mut tx = self.begin_write().await?;
        // Re-read inside the transaction: the status decides, not what the page showed.
        let current: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT status FROM registrations WHERE id = $1{}",
            self.engine.row_lock_suffix()
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        let from = RegStatus::from_key(&current).ok_or(StoreError::NotFound)?;
        from.transition(to).map_err(|m| StoreError::field("status", m))?;
        let today = day_text(self.today());
        sqlx::query(
            "UPDATE registrations SET status = $1, ended_on = COALESCE($2, ended_on), updated_at = $3 WHERE id = $4",
        )
        .bind(to.key())
        .bind((to == RegStatus::Ended).then(|| today.clone()))
        .bind(self.now_text())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if to == RegStatus::Active {
            // A person first known through this registration becomes an active resident.
            sqlx::query("UPDATE persons SET status = 'active', updated_at = $1 WHERE id = $2 AND status = 'pending'")
                .bind(self.now_text())
                .bind(r.person_id)
                .execute(&mut *tx)
                .await?;
        }
        if to == RegStatus::Ended {
            sqlx::query("UPDATE registration_claims SET ended_on = $1 WHERE registration_id = $2 AND ended_on IS NULL")
                .bind(&today)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        history(&mut tx, &self.now_text(), id, to.key(), actor, note).await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "registration.status", format!("registration:{id}"), client).with_detail(format!(
                "{} -> {}",
                from.key(),
                to.key()
            )),
        )
        .await?;
        tx.commit().await?;
        self.registration(actor, id).await
    }

    /// Adds a claimed post (领岗) to an active or pending registration.
    pub async fn claim_duty(&self, actor: &Actor, id: i64, duty: &str, client: &str) -> StoreResult<Vec<Claim>> {
        let r = self.registration(actor, id).await?;
        scope::require(actor, Right::ManagePeople, &r.community_path)?;
        let Some(duty) = Duty::parse(duty) else {
            return Err(StoreError::field("duty", "请选择要认领的岗位"));
        };
        if !matches!(r.status.as_str(), "pending" | "active") {
            return Err(StoreError::field("duty", "报到已结束，不能再认领岗位"));
        }
        let mut tx = self.begin_write().await?;
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM registration_claims WHERE registration_id = $1 AND duty = $2 AND ended_on IS NULL",
        )
        .bind(id)
        .bind(duty.key())
        .fetch_one(&mut *tx)
        .await?;
        if held > 0 {
            return Err(StoreError::field("duty", format!("已认领“{}”", duty.label_zh())));
        }
        insert_claims(&mut tx, id, &[duty], &day_text(self.today())).await?;
        history(
            &mut tx,
            &self.now_text(),
            id,
            "claimed",
            actor,
            Some(duty.label_zh().to_string()),
        )
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "registration.claim", format!("registration:{id}"), client)
                .with_detail(duty.key().to_string()),
        )
        .await?;
        tx.commit().await?;
        self.registration_claims(actor, id).await
    }

    /// Records a service the member performed, for the report back to the employer.
    pub async fn record_service(
        &self,
        actor: &Actor,
        id: i64,
        form: &ServiceForm,
        client: &str,
    ) -> StoreResult<Service> {
        let r = self.registration(actor, id).await?;
        scope::require(actor, Right::ManagePeople, &r.community_path)?;
        let d = ServiceDraft::try_from(form)?;
        if r.status != RegStatus::Active.key() {
            return Err(StoreError::field("served_on", "只能为已报到的党员记录服务"));
        }
        if day_text(d.served_on) < r.registered_on {
            return Err(StoreError::field("served_on", "服务日期不能早于报到日期"));
        }
        let mut tx = self.begin_write().await?;
        let sid: i64 = sqlx::query_scalar(
            "INSERT INTO registration_services (registration_id, served_on, minutes, description, rating, recorded_by, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(id)
        .bind(day_text(d.served_on))
        .bind(d.minutes.get())
        .bind(&d.description)
        .bind(d.rating)
        .bind(actor.user_id)
        .bind(self.now_text())
        .fetch_one(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "registration.service", format!("registration:{id}"), client)
                .with_detail(format!("service:{sid} minutes:{}", d.minutes.get())),
        )
        .await?;
        tx.commit().await?;
        Ok(Service {
            id: sid,
            served_on: day_text(d.served_on),
            minutes: d.minutes.get(),
            description: d.description,
            rating: d.rating,
        })
    }

    pub async fn registration_claims(&self, actor: &Actor, id: i64) -> StoreResult<Vec<Claim>> {
        self.registration(actor, id).await?;
        Ok(sqlx::query_as(
            "SELECT id, duty, claimed_on, ended_on FROM registration_claims WHERE registration_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn registration_services(&self, actor: &Actor, id: i64) -> StoreResult<Vec<Service>> {
        self.registration(actor, id).await?;
        Ok(sqlx::query_as(
            "SELECT id, served_on, minutes, description, rating FROM registration_services \
             WHERE registration_id = $1 ORDER BY served_on DESC, id DESC",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn registration_history(&self, actor: &Actor, id: i64) -> StoreResult<Vec<RegEvent>> {
        self.registration(actor, id).await?;
        Ok(
            sqlx::query_as(
                "SELECT at, action, detail FROM registration_history WHERE registration_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?,
        )
    }

    /// Registrations at communities under `node_id`.
    pub async fn registrations_under(
        &self,
        actor: &Actor,
        node_id: i64,
        filter: &RegistrationFilter,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<Page<Registration>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{REG_SELECT} WHERE "));
        scope::push_subtree(&mut sql, "c.path", &node.path);
        if let Some(s) = RegStatus::from_key(filter.status.trim()) {
            sql.push(" AND r.status = ").bind(s.key());
        }
        if let Some(u) = filter.employer_unit_id {
            sql.push(" AND r.employer_unit_id = ").bind(u);
        }
        let q = gongjian_domain::ids::normalize_cell(&filter.q);
        if !q.is_empty() {
            sql.push(" AND pe.name LIKE ")
                .bind(format!("%{}%", crate::sql::escape_like(&q)))
                .push(" ESCAPE '\\'");
        }
        crate::sql::fetch_page(&self.pool, sql, "r.id", cursor, limit, |r: &Registration| r.id).await
    }

    /// A person's registrations, newest first.
    pub async fn registrations_of_person(&self, actor: &Actor, person_id: i64) -> StoreResult<Vec<Registration>> {
        self.person(actor, person_id).await?;
        let rows: Vec<Registration> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{REG_SELECT} WHERE r.person_id = $1 ORDER BY r.id DESC"
        )))
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter(|r| actor.scope(Right::ReadPeople).contains_path(&r.community_path))
            .collect())
    }

    /// Whether the actor may confirm registrations and record services at a community.
    pub fn may_manage_registration(&self, actor: &Actor, r: &Registration) -> bool {
        actor.scope(Right::ManagePeople).contains_path(&r.community_path)
    }
}
