//! Units in the area (驻区单位) and their liaison contacts. A unit is kept at the node where it
//! is located; its contacts' mobile numbers are encrypted like residents' numbers and shown
//! masked. A 统一社会信用代码 whose check character fails is stored with its warning.

use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::units::{ContactDraft, ContactForm, UnitDraft, UnitForm, UnitKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::people::MOBILE_FIELD;
use crate::sql::Sql;
use crate::{Page, scope};

/// A unit as listed.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Unit {
    pub id: i64,
    pub name: String,
    pub credit_code: Option<String>,
    /// Why the credit code's check character is doubtful, when it is.
    pub credit_code_warning: Option<String>,
    pub kind: String,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: String,
    /// The unit's own party organisation, if recorded.
    pub org_id: Option<i64>,
    pub address: Option<String>,
    pub status: String,
    pub created_at: String,
}

impl Unit {
    pub fn kind_label(&self) -> &'static str {
        UnitKind::parse(&self.kind).map(|k| k.label_zh()).unwrap_or("")
    }
}

const UNIT_SELECT: &str = "SELECT u.id, u.name, u.credit_code, u.credit_code_warning, u.kind, u.node_id, \
     n.name AS node_name, n.path AS node_path, u.org_id, u.address, u.status, u.created_at \
     FROM units u JOIN nodes n ON n.id = u.node_id";

/// A liaison contact, mobile masked.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Contact {
    pub id: i64,
    pub unit_id: i64,
    pub name: String,
    pub title: Option<String>,
    pub mobile_masked: Option<String>,
    pub created_at: String,
}

/// Filters of a unit list.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct UnitFilter {
    /// Part of a name, or a whole credit code.
    #[serde(default)]
    pub q: String,
    /// A unit kind key.
    #[serde(default)]
    pub kind: String,
}

/// Writes a new unit (`existing` none) or overwrites one; the caller has checked it.
pub(crate) async fn save_unit(tx: &mut Tx, existing: Option<i64>, d: &UnitDraft, now: &str) -> StoreResult<i64> {
    let sql = match existing {
        None => {
            "INSERT INTO units (name, credit_code, credit_code_warning, kind, node_id, address, status, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $7) RETURNING id"
        }
        Some(_) => {
            "UPDATE units SET name = $1, credit_code = $2, credit_code_warning = $3, kind = $4, node_id = $5, \
             address = $6, updated_at = $7 WHERE id = $8 RETURNING id"
        }
    };
    let mut q = sqlx::query_scalar(sql)
        .bind(d.name.as_str().to_string())
        .bind(d.credit_code.as_ref().map(|c| c.as_str().to_string()))
        .bind(d.warning.map(|w| w.to_string()))
        .bind(d.kind.key())
        .bind(d.node_id)
        .bind(d.address.clone())
        .bind(now);
    if let Some(id) = existing {
        q = q.bind(id);
    }
    Ok(q.fetch_one(&mut **tx).await?)
}

impl Store {
    /// Writes a liaison contact, its mobile number encrypted, hashed and masked.
    pub(crate) async fn insert_contact(
        &self,
        tx: &mut Tx,
        unit_id: i64,
        d: &ContactDraft,
        now: &str,
    ) -> StoreResult<i64> {
        let mobile = self.seal_mobile(d.mobile.as_ref())?;
        Ok(sqlx::query_scalar(
            "INSERT INTO unit_contacts (unit_id, name, title, mobile_enc, mobile_hash, mobile_masked, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(unit_id)
        .bind(d.name.as_str().to_string())
        .bind(d.title.clone())
        .bind(mobile.enc)
        .bind(mobile.hash)
        .bind(mobile.masked)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?)
    }

    async fn unit_form_checks(&self, actor: &Actor, form: &UnitForm) -> (Validation, Result<UnitDraft, Validation>) {
        let draft = UnitDraft::try_from(form);
        let mut v = draft.as_ref().err().cloned().unwrap_or_default();
        if let Some(id) = form.node_id {
            match self.node(actor, id).await {
                Ok(n) if !n.is_active() => v.push("node_id", format!("“{}”已撤销", n.name)),
                Ok(n) if scope::require(actor, Right::ManagePeople, &n.path).is_err() => {
                    v.push("node_id", "无权在该节点登记单位")
                }
                Ok(_) => {}
                Err(_) => v.push("node_id", "所选节点不存在"),
            }
        }
        (v, draft)
    }

    /// Registers a unit; a credit code already registered is refused.
    pub async fn create_unit(&self, actor: &Actor, form: &UnitForm, client: &str) -> StoreResult<Unit> {
        let (v, draft) = self.unit_form_checks(actor, form).await;
        v.clone().into_result()?;
        let Ok(d) = draft else { return Err(v.into()) };
        let mut tx = self.begin_write().await?;
        let id = save_unit(&mut tx, None, &d, &self.now_text())
            .await
            .map_err(|e| crate::tree::map_unique(e, "credit_code", "该统一社会信用代码已登记，请查找已有单位"))?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "unit.create", format!("unit:{id}"), client).with_detail(d.kind.key().to_string()),
        )
        .await?;
        tx.commit().await?;
        self.unit(actor, id).await
    }

    /// Changes a unit's name, code, kind, location or address.
    pub async fn update_unit(&self, actor: &Actor, id: i64, form: &UnitForm, client: &str) -> StoreResult<Unit> {
        let old = self.unit(actor, id).await?;
        scope::require(actor, Right::ManagePeople, &old.node_path)?;
        let (v, draft) = self.unit_form_checks(actor, form).await;
        v.clone().into_result()?;
        let Ok(d) = draft else { return Err(v.into()) };
        let mut tx = self.begin_write().await?;
        save_unit(&mut tx, Some(id), &d, &self.now_text())
            .await
            .map_err(|e| crate::tree::map_unique(e, "credit_code", "该统一社会信用代码已登记，请查找已有单位"))?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "unit.update", format!("unit:{id}"), client).with_detail(format!(
                "{} -> {}",
                old.name,
                d.name.as_str()
            )),
        )
        .await?;
        tx.commit().await?;
        self.unit(actor, id).await
    }

    /// Records the unit's own party organisation (an organisation of the unit's area).
    pub async fn set_unit_org(&self, actor: &Actor, id: i64, org_id: Option<i64>, client: &str) -> StoreResult<Unit> {
        let unit = self.unit(actor, id).await?;
        scope::require(actor, Right::ManagePeople, &unit.node_path)?;
        if let Some(o) = org_id {
            let org = self
                .party_org(actor, o)
                .await
                .map_err(|_| StoreError::field("org_id", "所选党组织不存在"))?;
            if !org.is_active() {
                return Err(StoreError::field("org_id", format!("党组织“{}”已撤销", org.name)));
            }
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE units SET org_id = $1, updated_at = $2 WHERE id = $3")
            .bind(org_id)
            .bind(self.now_text())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "unit.org", format!("unit:{id}"), client)
                .with_detail(org_id.map(|o| format!("org:{o}")).unwrap_or_default()),
        )
        .await?;
        tx.commit().await?;
        self.unit(actor, id).await
    }

    /// One unit, if the actor may read the tree where it is located. (Where a record names a
    /// unit outside the reader's scope — a member's employer, a cadre's sending agency — only
    /// its name is shown, through the record's own query; which units a record may name is
    /// `Store::referable_unit`'s rule.)
    pub async fn unit(&self, actor: &Actor, id: i64) -> StoreResult<Unit> {
        let u: Unit = sqlx::query_as(sqlx::AssertSqlSafe(format!("{UNIT_SELECT} WHERE u.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ReadTree, &u.node_path)?;
        Ok(u)
    }

    /// The active unit with exactly this name or credit code that a record of the actor's may
    /// name (`scope::unit_referable`: inside the actor's scope, or on the public directory);
    /// used where a person names an employer or a sending unit. Units out of reach are not
    /// found, as if they did not exist.
    pub async fn unit_by_name_or_code(&self, actor: &Actor, name_or_code: &str) -> StoreResult<Option<Unit>> {
        let s = gongjian_domain::ids::normalize_cell(name_or_code);
        // Nothing with control characters or longer than a name is registered (and PostgreSQL
        // text cannot hold a NUL to compare with).
        if s.is_empty() || s.chars().count() > gongjian_domain::tree::Name::MAX || s.chars().any(char::is_control) {
            return Ok(None);
        }
        let mut found: Vec<Unit> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{UNIT_SELECT} WHERE u.status = 'active' AND (u.name = $1 OR u.credit_code = $2) ORDER BY u.id LIMIT 50"
        )))
        .bind(&s)
        .bind(s.to_uppercase())
        .fetch_all(&self.pool)
        .await?;
        found.retain(|u| scope::unit_referable(actor, &u.kind, &u.node_path));
        Ok(if found.len() == 1 { found.pop() } else { None })
    }

    /// Units located under `node_id`.
    pub async fn units_under(
        &self,
        actor: &Actor,
        node_id: i64,
        filter: &UnitFilter,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<Page<Unit>> {
        let node = self.node(actor, node_id).await?;
        let mut sql = Sql::new(&format!("{UNIT_SELECT} WHERE u.status = 'active' AND "));
        scope::push_subtree(&mut sql, "n.path", &node.path);
        if let Some(k) = UnitKind::parse(&filter.kind) {
            sql.push(" AND u.kind = ").bind(k.key());
        }
        let q = gongjian_domain::ids::normalize_cell(&filter.q);
        if q.len() == 18 && q.chars().all(|c| c.is_ascii_alphanumeric()) {
            sql.push(" AND u.credit_code = ").bind(q.to_uppercase());
        } else if !q.is_empty() {
            sql.push(" AND u.name LIKE ")
                .bind(format!("%{}%", crate::sql::escape_like(&q)))
                .push(" ESCAPE '\\'");
        }
        crate::sql::fetch_page(&self.pool, sql, "u.id", cursor, limit, |u: &Unit| u.id).await
    }

    /// Adds a liaison contact to a unit.
    pub async fn add_contact(
        &self,
        actor: &Actor,
        unit_id: i64,
        form: &ContactForm,
        client: &str,
    ) -> StoreResult<Contact> {
        let unit = self.unit(actor, unit_id).await?;
        scope::require(actor, Right::ManagePeople, &unit.node_path)?;
        let d = ContactDraft::try_from(form)?;
        let mut tx = self.begin_write().await?;
        let id = self.insert_contact(&mut tx, unit_id, &d, &self.now_text()).await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "unit.contact.add", format!("unit:{unit_id}"), client)
                .with_detail(format!("contact:{id}")),
        )
        .await?;
        tx.commit().await?;
        self.unit_contacts(actor, unit_id)
            .await?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or(StoreError::NotFound)
    }

    /// Ends a contact (the person no longer liaises); the record stays.
    pub async fn end_contact(&self, actor: &Actor, unit_id: i64, contact_id: i64, client: &str) -> StoreResult<()> {
        let unit = self.unit(actor, unit_id).await?;
        scope::require(actor, Right::ManagePeople, &unit.node_path)?;
        let mut tx = self.begin_write().await?;
        let done =
            sqlx::query("UPDATE unit_contacts SET ended_at = $1 WHERE id = $2 AND unit_id = $3 AND ended_at IS NULL")
                .bind(self.now_text())
                .bind(contact_id)
                .bind(unit_id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "unit.contact.end", format!("unit:{unit_id}"), client)
                .with_detail(format!("contact:{contact_id}")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A unit's current contacts, numbers masked; none for those who may not read people where
    /// the unit is.
    pub async fn unit_contacts(&self, actor: &Actor, unit_id: i64) -> StoreResult<Vec<Contact>> {
        let unit = self.unit(actor, unit_id).await?;
        let mut rows: Vec<Contact> = sqlx::query_as(
            "SELECT id, unit_id, name, title, mobile_masked, created_at FROM unit_contacts \
             WHERE unit_id = $1 AND ended_at IS NULL ORDER BY id",
        )
        .bind(unit_id)
        .fetch_all(&self.pool)
        .await?;
        if !actor.scope(Right::ReadPeople).contains_path(&unit.node_path) {
            rows.clear();
        }
        Ok(rows)
    }

    /// A contact's full mobile number, for a permitted role; audited.
    pub async fn reveal_contact(
        &self,
        actor: &Actor,
        unit_id: i64,
        contact_id: i64,
        client: &str,
    ) -> StoreResult<Option<String>> {
        let unit = self.unit(actor, unit_id).await?;
        scope::require(actor, Right::RevealPersonal, &unit.node_path)?;
        let stored: Option<Option<String>> =
            sqlx::query_scalar("SELECT mobile_enc FROM unit_contacts WHERE id = $1 AND unit_id = $2")
                .bind(contact_id)
                .bind(unit_id)
                .fetch_optional(&self.pool)
                .await?;
        let Some(stored) = stored else {
            return Err(StoreError::NotFound);
        };
        let value = stored.map(|s| self.keys.decrypt(MOBILE_FIELD, &s)).transpose()?;
        let mut tx = self.begin_write().await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "unit.contact.reveal", format!("unit:{unit_id}"), client)
                .with_detail(format!("contact:{contact_id}")),
        )
        .await?;
        tx.commit().await?;
        Ok(value)
    }
}
