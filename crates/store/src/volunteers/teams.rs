//! Volunteers (a person who consented, with a volunteer number) and teams (志愿服务队) owned by
//! a community or street, optionally a unit, with leaders and members. Staff who manage a
//! node's residents (`ManagePeople`) manage its volunteers and teams; those who read them
//! (`ReadPeople`) see them.

use gongjian_domain::Validation;
use gongjian_domain::access::{Actor, Right};
use gongjian_domain::dates::day_text;
use gongjian_domain::ids::normalize_cell;
use gongjian_domain::registration::parse_skills;
use gongjian_domain::tree::Level;
use gongjian_domain::volunteers::activities::{TeamDraft, TeamForm, VolunteerForm, parse_opt_id, ticked};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::db::Store;
use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;
use crate::{Page, scope};

/// A volunteer as listed.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Volunteer {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: String,
    pub volunteer_no: String,
    pub skills: String,
    pub consent_at: String,
    /// 1 when the name may be shown publicly.
    pub public_name: i64,
    /// `active` or `left`.
    pub status: String,
    pub created_at: String,
    /// Confirmed service minutes (corrections applied).
    pub minutes: i64,
}

impl Volunteer {
    pub fn hours_text(&self) -> String {
        gongjian_domain::registration::Minutes::hours_text(self.minutes)
    }
    pub fn status_label(&self) -> &'static str {
        if self.status == "active" { "在册" } else { "已退出" }
    }
}

const VOL_SELECT: &str = "SELECT v.id, v.person_id, p.name AS person_name, v.node_id, n.name AS node_name, \
     n.path AS node_path, v.volunteer_no, v.skills, v.consent_at, v.public_name, v.status, v.created_at, \
     CAST(COALESCE((SELECT SUM(r.delta_minutes) FROM service_records r WHERE r.person_id = v.person_id), 0) AS BIGINT) \
     AS minutes FROM volunteers v JOIN persons p ON p.id = v.person_id JOIN nodes n ON n.id = v.node_id";

/// A team.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Team {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: String,
    pub unit_id: Option<i64>,
    pub unit_name: Option<String>,
    pub name: String,
    pub focus: String,
    /// `active` or `dissolved`.
    pub status: String,
    pub created_at: String,
    pub members: i64,
}

const TEAM_SELECT: &str = "SELECT t.id, t.node_id, n.name AS node_name, n.path AS node_path, t.unit_id, \
     u.name AS unit_name, t.name, t.focus, t.status, t.created_at, \
     (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id AND m.left_on IS NULL) AS members \
     FROM volunteer_teams t JOIN nodes n ON n.id = t.node_id LEFT JOIN units u ON u.id = t.unit_id";

/// A member of a team.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct TeamMember {
    pub volunteer_id: i64,
    pub volunteer_no: String,
    pub person_name: String,
    /// `leader` or `member`.
    pub role: String,
    pub joined_on: String,
}

impl TeamMember {
    pub fn role_label(&self) -> &'static str {
        if self.role == "leader" { "队长" } else { "队员" }
    }
}

impl Store {
    /// Registers a person as a volunteer at a community or street. Consent is required; the
    /// volunteer number is `V` + the node's code + a sequence within the node.
    pub async fn register_volunteer(&self, actor: &Actor, f: &VolunteerForm, client: &str) -> StoreResult<Volunteer> {
        let mut v = Validation::new();
        let person = match parse_opt_id(&mut v, "person_id", &f.person_id) {
            Some(Some(id)) => match self.person(actor, id).await {
                Ok(p) => Some(p),
                Err(_) => {
                    v.push("person_id", "所选居民不存在");
                    None
                }
            },
            Some(None) => {
                v.push("person_id", "请选择居民");
                None
            }
            None => None,
        };
        let node = match parse_opt_id(&mut v, "node_id", &f.node_id) {
            Some(Some(id)) => match self.node(actor, id).await {
                Ok(n) if !matches!(n.level, Level::Community | Level::Street) => {
                    v.push("node_id", "志愿者在社区或街道登记");
                    None
                }
                Ok(n) if !n.is_active() => {
                    v.push("node_id", "该节点已撤销");
                    None
                }
                Ok(n) => Some(n),
                Err(_) => {
                    v.push("node_id", "所选社区不存在");
                    None
                }
            },
            Some(None) => {
                v.push("node_id", "请选择登记的社区或街道");
                None
            }
            None => None,
        };
        if !ticked(&f.consent) {
            v.push("consent", "须本人同意成为志愿者并同意保存服务记录");
        }
        let skills = v.check("skills", parse_skills(&f.skills));
        v.clone().into_result()?;
        let (Some(person), Some(node), Some(skills)) = (person, node, skills) else {
            return Err(v.into());
        };
        scope::require(actor, Right::ManagePeople, &node.path)?;
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        // The node's row serialises numbering on PostgreSQL; SQLite's writer is alone already.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM nodes WHERE id = $1{}",
            self.engine.row_lock_suffix()
        )))
        .bind(node.id)
        .fetch_optional(&mut *tx)
        .await?;
        let existing: Option<(i64, String)> = sqlx::query_as("SELECT id, status FROM volunteers WHERE person_id = $1")
            .bind(person.id)
            .fetch_optional(&mut *tx)
            .await?;
        let id = match existing {
            Some((_, status)) if status == "active" => {
                return Err(StoreError::field("person_id", "此人已是志愿者"));
            }
            Some((id, _)) => {
                // Coming back: the same number, consent given again.
                sqlx::query(
                    "UPDATE volunteers SET status = 'active', node_id = $1, skills = $2, consent_at = $3, \
                     public_name = $4, updated_at = $3 WHERE id = $5",
                )
                .bind(node.id)
                .bind(skills.unwrap_or_default())
                .bind(&now)
                .bind(i64::from(ticked(&f.public_name)))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                id
            }
            None => {
                let prefix = format!("V{}", node.code);
                let c = self.engine.bytewise();
                let last: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT MAX(volunteer_no{c}) FROM volunteers WHERE volunteer_no{c} >= $1 AND volunteer_no{c} < $2"
                )))
                .bind(&prefix)
                .bind(format!("{prefix}:"))
                .fetch_one(&mut *tx)
                .await?;
                let seq = last
                    .and_then(|l| l.get(prefix.len()..).and_then(|s| s.parse::<i64>().ok()))
                    .unwrap_or(0)
                    + 1;
                sqlx::query_scalar(
                    "INSERT INTO volunteers (person_id, node_id, volunteer_no, skills, consent_at, public_name, \
                     status, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $5, $5) \
                     RETURNING id",
                )
                .bind(person.id)
                .bind(node.id)
                .bind(format!("{prefix}{seq:04}"))
                .bind(skills.unwrap_or_default())
                .bind(&now)
                .bind(i64::from(ticked(&f.public_name)))
                .bind(actor.user_id)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "volunteer.register", format!("volunteer:{id}"), client)
                .with_detail(format!("person:{}", person.id)),
        )
        .await?;
        tx.commit().await?;
        self.volunteer(actor, id).await
    }

    pub async fn volunteer(&self, actor: &Actor, id: i64) -> StoreResult<Volunteer> {
        let v: Volunteer = sqlx::query_as(sqlx::AssertSqlSafe(format!("{VOL_SELECT} WHERE v.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ReadPeople, &v.node_path).map_err(|_| StoreError::NotFound)?;
        Ok(v)
    }

    /// Volunteers registered under a node; `q` matches a name or volunteer number, `status`
    /// `active` (default), `left` or `all`.
    pub async fn volunteers_under(
        &self,
        actor: &Actor,
        node_id: i64,
        q: &str,
        status: &str,
        cursor: Option<i64>,
        limit: i64,
    ) -> StoreResult<Page<Volunteer>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{VOL_SELECT} WHERE "));
        scope::push_subtree(&mut sql, "n.path", &node.path);
        match status {
            "all" => {}
            "left" => {
                sql.push(" AND v.status = 'left'");
            }
            _ => {
                sql.push(" AND v.status = 'active'");
            }
        }
        let q = normalize_cell(q);
        if !q.is_empty() {
            let like = format!("%{}%", crate::sql::escape_like(&q));
            sql.push(" AND (p.name LIKE ")
                .bind(like.clone())
                .push(" ESCAPE '\\' OR v.volunteer_no LIKE ")
                .bind(like)
                .push(" ESCAPE '\\')");
        }
        crate::sql::fetch_page(&self.pool, sql, "v.id", cursor, limit, |v: &Volunteer| v.id).await
    }

    /// A volunteer leaves (nobody is kept a volunteer against their will); records stay.
    pub async fn leave_volunteer(&self, actor: &Actor, id: i64, client: &str) -> StoreResult<Volunteer> {
        let vol = self.volunteer(actor, id).await?;
        scope::require(actor, Right::ManagePeople, &vol.node_path)?;
        if vol.status != "active" {
            return Err(StoreError::field("status", "该志愿者已退出"));
        }
        let mut tx = self.begin_write().await?;
        let today = day_text(self.today());
        sqlx::query("UPDATE volunteers SET status = 'left', updated_at = $1 WHERE id = $2 AND status = 'active'")
            .bind(self.now_text())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE team_members SET left_on = $1 WHERE volunteer_id = $2 AND left_on IS NULL")
            .bind(&today)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "volunteer.leave", format!("volunteer:{id}"), client),
        )
        .await?;
        tx.commit().await?;
        self.volunteer(actor, id).await
    }

    /// Creates a team at a community or street, optionally for a unit.
    pub async fn create_team(&self, actor: &Actor, f: &TeamForm, client: &str) -> StoreResult<Team> {
        let d = TeamDraft::try_from(f)?;
        let node = self
            .node(actor, d.node_id)
            .await
            .map_err(|_| StoreError::field("node_id", "所选社区不存在"))?;
        if !matches!(node.level, Level::Community | Level::Street) || !node.is_active() {
            return Err(StoreError::field("node_id", "服务队属于社区或街道"));
        }
        // Another area's unit only when it is on the public directory (`scope::referable_unit`).
        if let Some(u) = d.unit_id
            && self.referable_unit(actor, u).await?.is_none()
        {
            return Err(StoreError::field("unit_id", "所选单位不存在"));
        }
        scope::require(actor, Right::ManagePeople, &node.path)?;
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO volunteer_teams (node_id, unit_id, name, focus, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'active', $5, $5) RETURNING id",
        )
        .bind(node.id)
        .bind(d.unit_id)
        .bind(&d.name)
        .bind(&d.focus)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from)
        .map_err(|e| crate::tree::map_unique(e, "name", "该社区已有同名服务队"))?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "team.create", format!("team:{id}"), client),
        )
        .await?;
        tx.commit().await?;
        self.team(actor, id).await
    }

    pub async fn team(&self, actor: &Actor, id: i64) -> StoreResult<Team> {
        let t: Team = sqlx::query_as(sqlx::AssertSqlSafe(format!("{TEAM_SELECT} WHERE t.id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        scope::require(actor, Right::ReadPeople, &t.node_path).map_err(|_| StoreError::NotFound)?;
        Ok(t)
    }

    /// Teams under a node (active first, then dissolved).
    pub async fn teams_under(&self, actor: &Actor, node_id: i64) -> StoreResult<Vec<Team>> {
        let node = self.node(actor, node_id).await?;
        scope::require(actor, Right::ReadPeople, &node.path)?;
        let mut sql = Sql::new(&format!("{TEAM_SELECT} WHERE "));
        scope::push_subtree(&mut sql, "n.path", &node.path);
        sql.push(" ORDER BY t.status, t.id LIMIT 1000");
        Ok(sql.query_as().fetch_all(&self.pool).await?)
    }

    pub async fn team_members(&self, actor: &Actor, team_id: i64) -> StoreResult<Vec<TeamMember>> {
        self.team(actor, team_id).await?;
        Ok(sqlx::query_as(
            "SELECT m.volunteer_id, v.volunteer_no, p.name AS person_name, m.role, m.joined_on FROM team_members m \
             JOIN volunteers v ON v.id = m.volunteer_id JOIN persons p ON p.id = v.person_id \
             WHERE m.team_id = $1 AND m.left_on IS NULL ORDER BY m.role, p.name",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Adds a volunteer to a team as leader or member (again, if they had left it).
    pub async fn add_team_member(
        &self,
        actor: &Actor,
        team_id: i64,
        volunteer_id: i64,
        leader: bool,
        client: &str,
    ) -> StoreResult<Vec<TeamMember>> {
        let team = self.team(actor, team_id).await?;
        scope::require(actor, Right::ManagePeople, &team.node_path)?;
        if team.status != "active" {
            return Err(StoreError::field("team_id", "服务队已解散"));
        }
        let vol = self
            .volunteer(actor, volunteer_id)
            .await
            .map_err(|_| StoreError::field("volunteer_id", "所选志愿者不存在"))?;
        if vol.status != "active" {
            return Err(StoreError::field("volunteer_id", "该志愿者已退出"));
        }
        let role = if leader { "leader" } else { "member" };
        let today = day_text(self.today());
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE team_members SET role = $1, left_on = NULL, joined_on = CASE WHEN left_on IS NULL THEN joined_on \
             ELSE $2 END WHERE team_id = $3 AND volunteer_id = $4",
        )
        .bind(role)
        .bind(&today)
        .bind(team_id)
        .bind(volunteer_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            sqlx::query("INSERT INTO team_members (team_id, volunteer_id, role, joined_on) VALUES ($1, $2, $3, $4)")
                .bind(team_id)
                .bind(volunteer_id)
                .bind(role)
                .bind(&today)
                .execute(&mut *tx)
                .await?;
        }
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "team.member", format!("team:{team_id}"), client)
                .with_detail(format!("volunteer:{volunteer_id} {role}")),
        )
        .await?;
        tx.commit().await?;
        self.team_members(actor, team_id).await
    }

    pub async fn remove_team_member(
        &self,
        actor: &Actor,
        team_id: i64,
        volunteer_id: i64,
        client: &str,
    ) -> StoreResult<Vec<TeamMember>> {
        let team = self.team(actor, team_id).await?;
        scope::require(actor, Right::ManagePeople, &team.node_path)?;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE team_members SET left_on = $1 WHERE team_id = $2 AND volunteer_id = $3 AND left_on IS NULL",
        )
        .bind(day_text(self.today()))
        .bind(team_id)
        .bind(volunteer_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::field("volunteer_id", "该志愿者不在此服务队"));
        }
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "team.member.leave", format!("team:{team_id}"), client)
                .with_detail(format!("volunteer:{volunteer_id}")),
        )
        .await?;
        tx.commit().await?;
        self.team_members(actor, team_id).await
    }

    /// Dissolves a team; its members' history and its activities stay.
    pub async fn dissolve_team(&self, actor: &Actor, team_id: i64, client: &str) -> StoreResult<Team> {
        let team = self.team(actor, team_id).await?;
        scope::require(actor, Right::ManagePeople, &team.node_path)?;
        if team.status != "active" {
            return Err(StoreError::field("status", "服务队已解散"));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE volunteer_teams SET status = 'dissolved', updated_at = $1 WHERE id = $2")
            .bind(self.now_text())
            .bind(team_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE team_members SET left_on = $1 WHERE team_id = $2 AND left_on IS NULL")
            .bind(day_text(self.today()))
            .bind(team_id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &AuditEvent::by(actor, "team.dissolve", format!("team:{team_id}"), client),
        )
        .await?;
        tx.commit().await?;
        self.team(actor, team_id).await
    }
}
