//! Party members: a person's membership of a party organisation, its status (正式 / 预备), and
//! transfers between organisations with their history. A membership is kept where the
//! organisation's territory lies: only those who manage people there may change it.

use chrono::NaiveDate;
use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::dates::{day_text, parse_past_day};
use gongjian_domain::members::{MemberDraft, MemberForm, MemberStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::{Store, Tx};
use crate::error::{StoreError, StoreResult};
use crate::locked::Locked;
use crate::sql::Sql;
use crate::{Page, scope};

/// A membership as listed (the person's numbers masked).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Member {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub id_number_masked: Option<String>,
    pub mobile_masked: Option<String>,
    pub org_id: i64,
    pub org_name: String,
    /// `full` or `probationary`.
    pub status: String,
    pub joined_on: String,
    pub full_on: Option<String>,
    #[serde(skip)]
    pub org_territory_path: String,
}

impl Member {
    pub fn status_label(&self) -> &'static str {
        MemberStatus::parse(&self.status).map(|s| s.label_zh()).unwrap_or("")
    }
}

const MEMBER_SELECT: &str = "SELECT m.id, m.person_id, pe.name AS person_name, pe.id_number_masked, pe.mobile_masked, \
     m.org_id, o.name AS org_name, m.status, m.joined_on, m.full_on, t.path AS org_territory_path \
     FROM party_members m JOIN persons pe ON pe.id = m.person_id JOIN party_orgs o ON o.id = m.org_id \
     JOIN nodes t ON t.id = o.territory_node_id";

/// A transfer as listed.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Transfer {
    pub id: i64,
    pub from_org: Option<String>,
    pub to_org: String,
    pub transferred_on: String,
    pub note: Option<String>,
    pub created_at: String,
}

/// A transfer as typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct TransferInput {
    pub to_org_id: Option<i64>,
    /// `YYYY-MM-DD`; today when blank.
    #[serde(default)]
    pub transferred_on: String,
    #[serde(default)]
    pub note: String,
}

/// Filters of a member list.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
pub struct MemberFilter {
    /// Part of a name.
    #[serde(default)]
    pub q: String,
    /// `full` or `probationary`.
    #[serde(default)]
    pub status: String,
}

/// Writes a membership and its first transfer row (the registration); the caller has checked it.
pub(crate) async fn insert_member(tx: &mut Tx, d: &MemberDraft, actor_id: i64, now: &str) -> StoreResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO party_members (person_id, org_id, status, joined_on, full_on, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(d.person_id)
    .bind(d.org_id)
    .bind(d.status.key())
    .bind(day_text(d.joined_on))
    .bind(d.full_on.map(day_text))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO member_transfers (member_id, from_org_id, to_org_id, transferred_on, note, actor_id, created_at) \
         VALUES ($1, NULL, $2, $3, '登记', $4, $5)",
    )
    .bind(id)
    .bind(d.org_id)
    .bind(day_text(d.joined_on))
    .bind(actor_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// A move of a membership from one organisation to another.
pub(crate) struct MemberTransfer {
    pub member_id: i64,
    pub from_org_id: i64,
    pub to_org_id: i64,
    pub on: NaiveDate,
    pub note: Option<String>,
}

/// Moves a membership and keeps the transfer in `member_transfers`; the caller has checked it.
pub(crate) async fn record_transfer(tx: &mut Tx, t: &MemberTransfer, actor_id: i64, now: &str) -> StoreResult<()> {
    sqlx::query("UPDATE party_members SET org_id = $1, updated_at = $2 WHERE id = $3")
        .bind(t.to_org_id)
        .bind(now)
        .bind(t.member_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO member_transfers (member_id, from_org_id, to_org_id, transferred_on, note, actor_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(t.member_id)
    .bind(t.from_org_id)
    .bind(t.to_org_id)
    .bind(day_text(t.on))
    .bind(t.note.clone())
    .bind(actor_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// Records a person's membership of a party organisation.
    pub async fn add_member(&self, actor: &Actor, form: &MemberForm, client: &str) -> StoreResult<Member> {
        let draft = MemberDraft::try_from(form);
        let mut v = draft.as_ref().err().cloned().unwrap_or_default();
        if let Some(pid) = form.person_id
            && self.person(actor, pid).await.is_err()
        {
            v.push("person_id", "所选人员不存在或不在管理范围内");
        }
        if let Some(oid) = form.org_id {
            match self.party_org(actor, oid).await {
                Ok(o) if !o.is_active() => v.push("org_id", format!("党组织“{}”已撤销", o.name)),
                Ok(o) if scope::require(actor, Right::ManagePeople, &o.territory_path).is_err() => {
                    v.push("org_id", "无权管理该党组织的党员")
                }
                Ok(_) => {}
                Err(_) => v.push("org_id", "所选党组织不存在"),
            }
        }
        v.clone().into_result()?;
        let Ok(d) = draft else { return Err(v.into()) };
        let mut tx = self.begin_write().await?;
        let id = insert_member(&mut tx, &d, actor.user_id, &self.now_text())
            .await
            .map_err(|e| crate::tree::map_unique(e, "person_id", "此人已登记为党员，如需变更请办理组织关系转接"))?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "member.add", format!("member:{id}"), client)
                .with_detail(format!("person:{} org:{}", d.person_id, d.org_id)),
        )
        .await?;
        tx.commit().await?;
        self.member(actor, id).await
    }

    /// One membership, if the actor may read people where its organisation lies.
    pub async fn member(&self, actor: &Actor, id: i64) -> StoreResult<Member> {
        let mut conn = self.pool.acquire().await?;
        member_on(&mut conn, actor, id).await
    }

    /// The membership of a person, if any (and readable).
    pub async fn member_of_person(&self, actor: &Actor, person_id: i64) -> StoreResult<Option<Member>> {
        let m: Option<Member> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{MEMBER_SELECT} WHERE m.person_id = $1")))
            .bind(person_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(m.filter(|m| actor.scope(Right::ReadPeople).contains_path(&m.org_territory_path)))
    }

    /// Moves a membership to another organisation (组织关系转接), keeping the history. The
    /// sending side — who manages people where the current organisation lies — records it.
    pub async fn transfer_member(
        &self,
        actor: &Actor,
        id: i64,
        input: &TransferInput,
        client: &str,
    ) -> StoreResult<Member> {
        // The organisation named: read before the lock (a membership's change does not move it).
        let target = match input.to_org_id {
            Some(to) => Some(self.party_org(actor, to).await),
            None => None,
        };
        let mut tx = self.begin_locked(Locked::PartyMember, id).await?;
        let m = member_on(&mut tx, actor, id).await?;
        scope::require(actor, Right::ManagePeople, &m.org_territory_path)?;
        let mut v = Validation::new();
        let on = match input.transferred_on.trim() {
            "" => Some(self.today()),
            raw => v.check("transferred_on", parse_past_day(raw)),
        };
        match (input.to_org_id, &target) {
            (Some(to), _) if to == m.org_id => v.push("to_org_id", "转入的党组织与现所在党组织相同"),
            (Some(_), Some(Ok(o))) if o.is_active() => {}
            (Some(_), Some(Ok(o))) => v.push("to_org_id", format!("党组织“{}”已撤销", o.name)),
            (Some(_), _) => v.push("to_org_id", "所选党组织不存在"),
            (None, _) => v.push("to_org_id", "请选择转入的党组织"),
        }
        if on.is_some_and(|d| day_text(d) < m.joined_on) {
            v.push("transferred_on", "转接日期不能早于入党日期");
        }
        let note = v.check("note", gongjian_domain::ids::free_text(&input.note, 100, false));
        v.clone().into_result()?;
        let (Some(on), Some(to), Some(note)) = (on, input.to_org_id, note) else {
            return Err(v.into());
        };
        let transfer = MemberTransfer {
            member_id: id,
            from_org_id: m.org_id,
            to_org_id: to,
            on,
            note,
        };
        record_transfer(&mut tx, &transfer, actor.user_id, &self.now_text()).await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "member.transfer", format!("member:{id}"), client)
                .with_detail(format!("org:{} -> org:{to}", m.org_id)),
        )
        .await?;
        tx.commit().await?;
        self.member(actor, id).await
    }

    /// 转正: a probationary member becomes a full member on a date. The membership is locked and
    /// read again in the writing transaction, so of two at once the second finds it full.
    pub async fn make_member_full(&self, actor: &Actor, id: i64, on: &str, client: &str) -> StoreResult<Member> {
        let mut tx = self.begin_locked(Locked::PartyMember, id).await?;
        let m = member_on(&mut tx, actor, id).await?;
        scope::require(actor, Right::ManagePeople, &m.org_territory_path)?;
        if m.status == MemberStatus::Full.key() {
            return Err(StoreError::field("status", "已是正式党员"));
        }
        let day = parse_past_day(on).map_err(|e| StoreError::field("full_on", e.to_string()))?;
        if day_text(day) < m.joined_on {
            return Err(StoreError::field("full_on", "转正日期不能早于入党日期"));
        }
        sqlx::query("UPDATE party_members SET status = 'full', full_on = $1, updated_at = $2 WHERE id = $3")
            .bind(day_text(day))
            .bind(self.now_text())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "member.full", format!("member:{id}"), client),
        )
        .await?;
        tx.commit().await?;
        self.member(actor, id).await
    }

    /// A membership's transfers, oldest first (the first is its registration).
    pub async fn member_transfers(&self, actor: &Actor, id: i64) -> StoreResult<Vec<Transfer>> {
        self.member(actor, id).await?;
        Ok(sqlx::query_as(
            "SELECT t.id, f.name AS from_org, o.name AS to_org, t.transferred_on, t.note, t.created_at \
             FROM member_transfers t LEFT JOIN party_orgs f ON f.id = t.from_org_id JOIN party_orgs o ON o.id = t.to_org_id \
             WHERE t.member_id = $1 ORDER BY t.id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Members of the organisations whose territory lies under `node_id`, by name.
    pub async fn members_under(
        &self,
        actor: &Actor,
        node_id: i64,
        filter: &MemberFilter,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<Page<Member>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{MEMBER_SELECT} WHERE "));
        scope::push_subtree(&mut sql, "t.path", &node.path);
        if let Some(s) = MemberStatus::parse(&filter.status) {
            sql.push(" AND m.status = ").bind(s.key());
        }
        let q = gongjian_domain::ids::normalize_cell(&filter.q);
        if !q.is_empty() {
            sql.push(" AND pe.name LIKE ")
                .bind(format!("%{}%", crate::sql::escape_like(&q)))
                .push(" ESCAPE '\\'");
        }
        crate::sql::fetch_page(&self.pool, sql, "m.id", cursor, limit, |m: &Member| m.id).await
    }

    /// Members of one organisation.
    pub async fn members_of_org(&self, actor: &Actor, org_id: i64) -> StoreResult<Vec<Member>> {
        let org = self.party_org(actor, org_id).await?;
        scope::require(actor, Right::ReadPeople, &org.territory_path)?;
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{MEMBER_SELECT} WHERE m.org_id = $1 ORDER BY m.joined_on, m.id"
        )))
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// A party organisation offered in a form.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct OrgChoice {
    pub id: i64,
    pub name: String,
    pub territory_name: String,
}

impl Store {
    /// Active organisations (not 党小组) whose territory lies under the ancestor of `node` at
    /// `level` (the street for a membership, the district for a transfer) and that the actor
    /// may read, for a form's choices; at most 1,000, by name.
    pub async fn org_choices(
        &self,
        actor: &Actor,
        node: &crate::tree::Node,
        level: gongjian_domain::tree::Level,
    ) -> StoreResult<Vec<OrgChoice>> {
        let depth = level.as_i64() as usize;
        let segments: Vec<&str> = node.path.trim_matches('/').split('/').collect();
        let root = format!("/{}/", segments[..depth.min(segments.len())].join("/"));
        let mut sql = Sql::new(
            "SELECT o.id, o.name, t.name AS territory_name FROM party_orgs o JOIN nodes t ON t.id = o.territory_node_id \
             WHERE o.status = 'active' AND o.kind <> 'group' AND ",
        );
        scope::push_subtree(&mut sql, "t.path", &root);
        sql.push(" AND ");
        scope::push_filter(&mut sql, actor, Right::ReadTree, "t.path");
        sql.push(" ORDER BY o.name, o.id LIMIT 1000");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }
}

/// The membership `id` read on `conn` (a transaction's connection when the read is a check
/// before a write), if the actor may read it.
async fn member_on(conn: &mut sqlx::AnyConnection, actor: &Actor, id: i64) -> StoreResult<Member> {
    let m: Member = sqlx::query_as(sqlx::AssertSqlSafe(format!("{MEMBER_SELECT} WHERE m.id = $1")))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    scope::require(actor, Right::ReadPeople, &m.org_territory_path)?;
    Ok(m)
}
