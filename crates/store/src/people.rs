//! Residents, with ID and mobile numbers encrypted at rest, found by keyed hash, shown masked,
//! and revealed in full only to permitted roles — each reveal audited.

use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::people::{ResidentDraft, ResidentForm};
use gongjian_domain::tree::Level;
use serde::Serialize;
use utoipa::ToSchema;

use crate::Page;
use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::scope;
use crate::sql::Sql;

pub const ID_FIELD: &str = "id_number";
pub const MOBILE_FIELD: &str = "mobile";

/// A personal number as it is stored: ciphertext, keyed look-up hash and masked copy — never
/// the number itself.
pub(crate) struct Sealed {
    pub enc: Option<String>,
    pub hash: Option<String>,
    pub masked: Option<String>,
}

impl Store {
    /// A mobile number as stored (residents' and unit contacts' alike).
    pub(crate) fn seal_mobile(&self, m: Option<&gongjian_domain::ids::Mobile>) -> StoreResult<Sealed> {
        Ok(Sealed {
            enc: m.map(|m| self.keys.encrypt(MOBILE_FIELD, m.as_str())).transpose()?,
            hash: m.map(|m| self.keys.lookup_hash(MOBILE_FIELD, m.as_str())),
            masked: m.map(|m| m.masked()),
        })
    }

    /// An ID number as stored.
    pub(crate) fn seal_id(&self, n: Option<&gongjian_domain::ids::IdNumber>) -> StoreResult<Sealed> {
        Ok(Sealed {
            enc: n.map(|n| self.keys.encrypt(ID_FIELD, n.as_str())).transpose()?,
            hash: n.map(|n| self.keys.lookup_hash(ID_FIELD, n.as_str())),
            masked: n.map(|n| n.masked()),
        })
    }
}

/// `male` or `female`, from an ID number.
pub(crate) fn sex_key(n: &gongjian_domain::ids::IdNumber) -> &'static str {
    match n.sex() {
        gongjian_domain::ids::Sex::Male => "male",
        gongjian_domain::ids::Sex::Female => "female",
    }
}

/// A resident as listed and shown: numbers masked.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Person {
    pub id: i64,
    pub name: String,
    /// e.g. `440604********1234`.
    pub id_number_masked: Option<String>,
    pub birth_date: Option<String>,
    /// `male` or `female`, derived from the ID number.
    pub sex: Option<String>,
    /// e.g. `138****5678`.
    pub mobile_masked: Option<String>,
    pub home_node_id: i64,
    pub home_name: String,
    pub home_code: String,
    #[serde(skip)]
    pub home_path: String,
    pub household: Option<String>,
    /// 1 when the household registration is elsewhere (外来人口).
    pub registered_elsewhere: i64,
    pub status: String,
    pub created_at: String,
}

impl Person {
    pub fn sex_label(&self) -> &'static str {
        match self.sex.as_deref() {
            Some("male") => "男",
            Some("female") => "女",
            _ => "",
        }
    }
}

const PERSON_SELECT: &str = "SELECT p.id, p.name, p.id_number_masked, p.birth_date, p.sex, p.mobile_masked, \
     p.home_node_id, h.name AS home_name, h.code AS home_code, h.path AS home_path, p.household, \
     p.registered_elsewhere, p.status, p.created_at FROM persons p JOIN nodes h ON h.id = p.home_node_id";

/// One step in a person's history.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PersonEvent {
    pub at: String,
    pub action: String,
    pub detail: Option<String>,
}

/// Which number to reveal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitive {
    IdNumber,
    Mobile,
}

impl Sensitive {
    pub fn from_key(s: &str) -> Option<Sensitive> {
        match s {
            "id_number" => Some(Sensitive::IdNumber),
            "mobile" => Some(Sensitive::Mobile),
            _ => None,
        }
    }
}

fn event(actor: &Actor, action: &str, object: String, client: &str, detail: String) -> AuditEvent {
    AuditEvent::by(actor, action, object, client).with_detail(detail)
}

impl Store {
    /// Registers a resident at a level-2 or level-3 grid. A resident whose ID number is
    /// already registered is refused (de-duplication by keyed hash, without decrypting).
    pub async fn create_person(&self, actor: &Actor, form: &ResidentForm, client: &str) -> StoreResult<Person> {
        let draft = ResidentDraft::try_from(form);
        let mut v = match &draft {
            Ok(_) => Validation::new(),
            Err(v) => v.clone(),
        };
        if let Some(home) = form.home_node_id {
            match self.node(actor, home).await {
                Ok(n) if !n.level.is_grid() => v.push(
                    "home_node_id",
                    format!("居民应登记在二级或三级网格，所选的是{}", n.level.label_zh()),
                ),
                Ok(n) if !n.is_active() => v.push("home_node_id", format!("网格“{}”已撤销", n.name)),
                Ok(n) => {
                    if let Err(StoreError::NotFound | StoreError::Forbidden) =
                        scope::require(actor, Right::ManagePeople, &n.path)
                    {
                        v.push("home_node_id", "无权在该网格登记居民");
                    }
                }
                Err(_) => v.push("home_node_id", "所选网格不存在"),
            }
        }
        let id_hash = match &draft {
            Ok(d) => d
                .id_number
                .as_ref()
                .map(|n| self.keys.lookup_hash(ID_FIELD, n.as_str())),
            Err(_) => None,
        };
        if let Some(h) = &id_hash {
            let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM persons WHERE id_number_hash = $1")
                .bind(h)
                .fetch_one(&self.pool)
                .await?;
            if taken > 0 {
                v.push("id_number", "该身份证号已登记，请查找已有记录");
            }
        }
        v.clone().into_result()?;
        let Ok(d) = draft else { return Err(v.into()) };
        let now = self.now_text();
        let (sid, mobile) = (
            self.seal_id(d.id_number.as_ref())?,
            self.seal_mobile(d.mobile.as_ref())?,
        );
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO persons (name, id_number_enc, id_number_hash, id_number_masked, birth_date, sex, mobile_enc, \
             mobile_hash, mobile_masked, home_node_id, household, registered_elsewhere, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $13, $13) RETURNING id",
        )
        .bind(d.name.as_str().to_string())
        .bind(sid.enc)
        .bind(id_hash)
        .bind(sid.masked)
        .bind(d.id_number.as_ref().map(|n| n.birth_date().format("%Y-%m-%d").to_string()))
        .bind(d.id_number.as_ref().map(|n| sex_key(n).to_string()))
        .bind(mobile.enc)
        .bind(mobile.hash)
        .bind(mobile.masked)
        .bind(d.home_node_id)
        .bind(d.household.clone())
        .bind(i64::from(d.registered_elsewhere))
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| crate::tree::map_unique(e.into(), "id_number", "该身份证号已登记，请查找已有记录"))?;
        sqlx::query(
            "INSERT INTO person_history (person_id, at, action, actor_id, detail) VALUES ($1, $2, 'created', $3, NULL)",
        )
        .bind(id)
        .bind(&now)
        .bind(actor.user_id)
        .execute(&mut *tx)
        .await?;
        self.append_audit(
            &mut tx,
            &event(actor, "person.create", format!("person:{id}"), client, String::new()),
        )
        .await?;
        tx.commit().await?;
        self.person(actor, id).await
    }

    /// One resident, masked, if the actor may read people where the resident lives.
    pub async fn person(&self, actor: &Actor, id: i64) -> StoreResult<Person> {
        let p = self.person_unchecked(id).await?;
        scope::require(actor, Right::ReadPeople, &p.home_path)?;
        Ok(p)
    }

    /// A person, masked, whoever asks: for callers that decided who may read it themselves
    /// (the person's own service trajectory).
    pub(crate) async fn person_unchecked(&self, id: i64) -> StoreResult<Person> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{PERSON_SELECT} WHERE p.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// Residents living in the subtree of `node_id`, by name. `q` matches part of a name, the
    /// last four digits of a mobile number, or a whole ID or mobile number (by keyed hash).
    pub async fn people_under(
        &self,
        actor: &Actor,
        node_id: i64,
        q: &str,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<Page<Person>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{PERSON_SELECT} WHERE "));
        scope::push_subtree(&mut sql, "h.path", &node.path);
        sql.push(" AND p.status = 'active'");
        self.push_person_match(&mut sql, q, false);
        crate::sql::fetch_page(&self.pool, sql, "p.id", cursor, limit, |p: &Person| p.id).await
    }

    /// Appends the condition for `q`: a whole ID or mobile number (by keyed hash), a masked
    /// number as lists show it, the last four digits of either, or a name — containing `q`, or
    /// starting with it when `prefix` (which the name index answers at any scale).
    fn push_person_match(&self, sql: &mut Sql, q: &str, prefix: bool) {
        let q = gongjian_domain::ids::normalize_cell(q);
        if q.is_empty() {
            return;
        }
        // No name or number holds control characters (and PostgreSQL text cannot hold a NUL).
        if q.chars().any(char::is_control) {
            sql.push(" AND 1 = 0");
            return;
        }
        let digits: String = q
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == 'X' || *c == 'x')
            .collect();
        if digits.len() == 18 && digits.len() == q.len() {
            sql.push(" AND p.id_number_hash = ")
                .bind(self.keys.lookup_hash(ID_FIELD, &digits.to_uppercase()));
        } else if digits.len() == 11 && digits.len() == q.len() {
            sql.push(" AND p.mobile_hash = ")
                .bind(self.keys.lookup_hash(MOBILE_FIELD, &digits));
        } else if q.contains('*') {
            let masked = q.to_uppercase();
            sql.push(" AND (p.id_number_masked = ")
                .bind(masked.clone())
                .push(" OR p.mobile_masked = ")
                .bind(masked)
                .push(")");
        } else if digits.len() == 4 && digits.len() == q.len() {
            sql.push(" AND (p.mobile_masked LIKE ")
                .bind(format!("%{digits}"))
                .push(" OR p.id_number_masked LIKE ")
                .bind(format!("%{digits}"))
                .push(")");
        } else if prefix {
            let name = format!("p.name{}", self.engine.bytewise());
            sql.push(" AND ")
                .push(&name)
                .push(" >= ")
                .bind(q.clone())
                .push(" AND ")
                .push(&name)
                .push(" < ")
                .bind(format!("{q}\u{10FFFF}"));
        } else {
            sql.push(" AND p.name LIKE ")
                .bind(format!("%{}%", crate::sql::escape_like(&q)))
                .push(" ESCAPE '\\'");
        }
    }

    /// People in the actor's whole read scope (or under `within`), including those pending
    /// confirmation: see [`Store::push_person_match`] for what `q` matches.
    pub async fn search_people(
        &self,
        actor: &Actor,
        q: &str,
        within: Option<i64>,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<Page<Person>> {
        let mut sql = Sql::new(&format!("{PERSON_SELECT} WHERE "));
        match within {
            Some(id) => {
                let node = self.node(actor, id).await?;
                scope::require(actor, Right::ReadPeople, &node.path)?;
                scope::push_subtree(&mut sql, "h.path", &node.path);
            }
            None => scope::push_filter(&mut sql, actor, Right::ReadPeople, "h.path"),
        }
        sql.push(" AND p.status IN ('active', 'pending')");
        self.push_person_match(&mut sql, q, true);
        crate::sql::fetch_page(&self.pool, sql, "p.id", cursor, limit, |p: &Person| p.id).await
    }

    /// A person's history (registered, changed, self-registered …), oldest first.
    pub async fn person_history(&self, actor: &Actor, id: i64) -> StoreResult<Vec<PersonEvent>> {
        self.person(actor, id).await?;
        Ok(
            sqlx::query_as("SELECT at, action, detail FROM person_history WHERE person_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Residents living in the subtree of `node_id` (active records).
    pub async fn count_people_under(&self, actor: &Actor, node_id: i64) -> StoreResult<i64> {
        let node = self.node(actor, node_id).await?;
        if scope::require(actor, Right::ReadPeople, &node.path).is_err() {
            return Ok(0);
        }
        let mut sql = Sql::new("SELECT COUNT(*) FROM persons p JOIN nodes h ON h.id = p.home_node_id WHERE ");
        scope::push_subtree(&mut sql, "h.path", &node.path);
        sql.push(" AND p.status = 'active'");
        Ok(sql.query_as::<(i64,)>().fetch_one(&self.pool).await?.0)
    }

    /// The full ID or mobile number of a resident, for a permitted role; audited.
    pub async fn reveal(&self, actor: &Actor, id: i64, what: Sensitive, client: &str) -> StoreResult<Option<String>> {
        let p = self.person(actor, id).await?;
        scope::require(actor, Right::RevealPersonal, &p.home_path)?;
        let (column, field) = match what {
            Sensitive::IdNumber => ("id_number_enc", ID_FIELD),
            Sensitive::Mobile => ("mobile_enc", MOBILE_FIELD),
        };
        let stored: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {column} FROM persons WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        let value = stored.map(|s| self.keys.decrypt(field, &s)).transpose()?;
        let mut tx = self.begin_write().await?;
        self.append_audit(
            &mut tx,
            &event(
                actor,
                "person.reveal",
                format!("person:{id}"),
                client,
                format!("field {field}"),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(value)
    }

    /// Whether the actor may see full numbers of residents at `person` (to show the button).
    pub fn may_reveal(&self, actor: &Actor, person: &Person) -> bool {
        actor.scope(Right::RevealPersonal).contains_path(&person.home_path)
    }

    /// Whether the actor may appoint people and keep their records at a node.
    pub fn may_manage_people_at(&self, actor: &Actor, node: &crate::tree::Node) -> bool {
        actor.scope(Right::ManagePeople).contains_path(&node.path)
    }

    /// Whether the actor may register residents under a node.
    pub fn may_manage_people(&self, actor: &Actor, node: &crate::tree::Node) -> bool {
        node.level.is_grid()
            && node.level >= Level::GridL2
            && actor.scope(Right::ManagePeople).contains_path(&node.path)
    }
}
