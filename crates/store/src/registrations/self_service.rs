//! A member registering on a phone (扫码报到): the account holds the party-member role; the
//! registration waits for the community to confirm it. A person not yet on record is added as
//! a pending resident at the grid they chose, and becomes active with the confirmation.

use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::dates::{day_text, parse_past_day};
use gongjian_domain::ids::{IdNumber, Mobile, Sex, normalize_cell};
use gongjian_domain::members::MemberStatus;
use gongjian_domain::registration::parse_skills;
use gongjian_domain::tree::{Level, Name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{REG_SELECT, Registration, history, insert_claims, parse_duties, refuse_second_open};
use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::people::{ID_FIELD, MOBILE_FIELD};
use crate::scope;

/// What a member fills in on the phone.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct SelfRegistrationForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub mobile: String,
    /// The residence community's code (from the community's QR poster).
    #[serde(default)]
    pub community: String,
    /// The level-2 grid (小区) where the member lives.
    #[serde(default)]
    pub grid_id: Option<i64>,
    /// The employer's full name or credit code.
    #[serde(default)]
    pub employer: String,
    /// 正式 / 预备.
    #[serde(default)]
    pub member_status: String,
    #[serde(default)]
    pub joined_on: String,
    #[serde(default)]
    pub skills: String,
    #[serde(default)]
    pub duties: Vec<String>,
}

/// A community as a registering member sees it: its name and its level-2 grids.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistrationPlace {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub street: String,
    pub grids: Vec<(i64, String)>,
}

impl Store {
    /// The community with `code` and its grids, for an account that may register itself there.
    pub async fn registration_place(&self, actor: &Actor, code: &str) -> StoreResult<RegistrationPlace> {
        let code = normalize_cell(code);
        if code.len() != 12 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::NotFound);
        }
        let row: Option<(i64, String, String, String, i64, String)> = sqlx::query_as(
            "SELECT c.id, c.code, c.name, c.path, c.level, COALESCE(s.name, '') FROM nodes c \
             LEFT JOIN nodes s ON s.id = c.parent_id WHERE c.code = $1 AND c.status = 'active'",
        )
        .bind(&code)
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, code, name, path, level, street)) = row else {
            return Err(StoreError::NotFound);
        };
        if level != Level::Community.as_i64() {
            return Err(StoreError::NotFound);
        }
        scope::require(actor, Right::RegisterSelf, &path)?;
        let grids: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, name FROM nodes WHERE parent_id = $1 AND status = 'active' ORDER BY code")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        Ok(RegistrationPlace {
            id,
            code,
            name,
            street,
            grids,
        })
    }

    /// Registers the signed-in member at a community, pending its confirmation.
    pub async fn self_register(
        &self,
        actor: &Actor,
        form: &SelfRegistrationForm,
        client: &str,
    ) -> StoreResult<Registration> {
        let place = self.registration_place(actor, &form.community).await?;
        let mut v = Validation::new();
        let name = v.check("name", Name::parse(&normalize_cell(&form.name)));
        let id_number = v.check("id_number", IdNumber::parse_today(&form.id_number, false));
        let mobile = v.check("mobile", Mobile::parse(&form.mobile));
        let grid = form.grid_id.filter(|g| place.grids.iter().any(|(id, _)| id == g));
        if grid.is_none() {
            v.push("grid_id", format!("请选择您在{}居住的小区或网格", place.name));
        }
        let employer = match normalize_cell(&form.employer).as_str() {
            "" => {
                v.push("employer", "请填写工作单位全称或统一社会信用代码");
                None
            }
            e => match self.unit_by_name_or_code(actor, e).await? {
                Some(u) => Some(u),
                None => {
                    v.push("employer", format!("未找到单位“{e}”，请填写单位全称或统一社会信用代码"));
                    None
                }
            },
        };
        let status = MemberStatus::parse(&form.member_status);
        if status.is_none() {
            v.push("member_status", "请选择正式党员或预备党员");
        }
        let joined = v.check("joined_on", parse_past_day(&form.joined_on));
        let skills = v.check("skills", parse_skills(&form.skills));
        let duties = parse_duties(&mut v, &form.duties);
        if duties.is_empty() {
            v.push("duties", "请至少认领一个岗位");
        }
        v.clone().into_result()?;
        let (
            Some(name),
            Some(id_number),
            Some(mobile),
            Some(grid),
            Some(employer),
            Some(status),
            Some(joined),
            Some(skills),
        ) = (name, id_number, mobile, grid, employer, status, joined, skills)
        else {
            return Err(v.into());
        };
        let now = self.now_text();
        let today = day_text(self.today());
        let id_hash = self.keys.lookup_hash(ID_FIELD, id_number.as_str());
        let mut tx = self.begin_write().await?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM persons WHERE id_number_hash = $1")
            .bind(&id_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let person_id = match existing {
            Some(id) => id,
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO persons (name, id_number_enc, id_number_hash, id_number_masked, birth_date, sex, \
                     mobile_enc, mobile_hash, mobile_masked, home_node_id, registered_elsewhere, status, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 'pending', $11, $11) RETURNING id",
                )
                .bind(name.as_str().to_string())
                .bind(self.keys.encrypt(ID_FIELD, id_number.as_str())?)
                .bind(&id_hash)
                .bind(id_number.masked())
                .bind(day_text(id_number.birth_date()))
                .bind(match id_number.sex() {
                    Sex::Male => "male",
                    Sex::Female => "female",
                })
                .bind(self.keys.encrypt(MOBILE_FIELD, mobile.as_str())?)
                .bind(self.keys.lookup_hash(MOBILE_FIELD, mobile.as_str()))
                .bind(mobile.masked())
                .bind(grid)
                .bind(&now)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO person_history (person_id, at, action, actor_id, detail) \
                     VALUES ($1, $2, 'self_registered', $3, NULL)",
                )
                .bind(id)
                .bind(&now)
                .bind(actor.user_id)
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        refuse_second_open(self, &mut tx, person_id)
            .await
            .map_err(|_| StoreError::field("community", "您已有报到记录（或正待确认），如需变更请联系原社区"))?;
        // The membership is recorded with the employer's party organisation when it is known
        // and the person has none yet.
        if let Some(org) = employer.org_id {
            let member: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM party_members WHERE person_id = $1")
                .bind(person_id)
                .fetch_one(&mut *tx)
                .await?;
            if member == 0 {
                let mid: i64 = sqlx::query_scalar(
                    "INSERT INTO party_members (person_id, org_id, status, joined_on, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
                )
                .bind(person_id)
                .bind(org)
                .bind(status.key())
                .bind(day_text(joined))
                .bind(&now)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO member_transfers (member_id, from_org_id, to_org_id, transferred_on, note, actor_id, \
                     created_at) VALUES ($1, NULL, $2, $3, '报到时登记', $4, $5)",
                )
                .bind(mid)
                .bind(org)
                .bind(day_text(joined))
                .bind(actor.user_id)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO registrations (person_id, community_id, employer_unit_id, skills, status, registered_on, \
             submitted_by, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $7) RETURNING id",
        )
        .bind(person_id)
        .bind(place.id)
        .bind(employer.id)
        .bind(skills)
        .bind(&today)
        .bind(actor.user_id)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await?;
        insert_claims(&mut tx, id, &duties, &today).await?;
        super::mark_repeated(&mut tx, super::PersonRows::Registrations, Some(person_id)).await?;
        history(&mut tx, &self.now_text(), id, "submitted", actor, None).await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "registration.submit", format!("registration:{id}"), client)
                .with_detail(format!("community:{}", place.id)),
        )
        .await?;
        tx.commit().await?;
        self.registration(actor, id).await
    }

    /// The registrations the signed-in account submitted, newest first.
    pub async fn my_registrations(&self, actor: &Actor) -> StoreResult<Vec<Registration>> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{REG_SELECT} WHERE r.submitted_by = $1 ORDER BY r.id DESC"
        )))
        .bind(actor.user_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
