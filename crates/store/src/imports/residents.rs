//! Residents: 姓名 and 网格编码, optionally 身份证号, 手机号码, 门牌, 户籍. A resident already
//! registered (same ID number) is left or updated; numbers are stored as `people` stores them.

use std::collections::{HashMap, HashSet};

use gongjian_domain::access::{Actor, Right};
use gongjian_domain::people::{ResidentDraft, ResidentForm};
use gongjian_domain::tree::Level;

use super::sheet::{Col, ID_NAMES, Sheet, Spec};
use super::{Job, RowIssue};
use crate::db::Store;
use crate::error::StoreResult;
use crate::people::{ID_FIELD, sex_key};
use crate::scope;
use crate::sql::Sql;

pub(super) const SPECS: &[Spec] = &[
    Spec {
        col: Col::Name,
        names: &["姓名", "名字", "居民姓名"],
        required: true,
    },
    Spec {
        col: Col::Grid,
        names: &["网格编码", "网格代码", "所属网格编码", "网格"],
        required: true,
    },
    Spec {
        col: Col::IdNumber,
        names: ID_NAMES,
        required: false,
    },
    Spec {
        col: Col::Mobile,
        names: &["手机号码", "手机", "手机号", "联系电话", "电话", "联系方式"],
        required: false,
    },
    Spec {
        col: Col::Household,
        names: &["门牌", "房号", "住址", "门牌号", "楼栋房号"],
        required: false,
    },
    Spec {
        col: Col::Elsewhere,
        names: &["户籍", "是否外来人口", "外来人口", "户籍地"],
        required: false,
    },
];

/// Where the form's fields come from.
const FIELDS: &[(&str, Col)] = &[
    ("name", Col::Name),
    ("id_number", Col::IdNumber),
    ("mobile", Col::Mobile),
    ("household", Col::Household),
    ("home_node_id", Col::Grid),
];

/// A valid row, ready to write.
struct Candidate {
    no: usize,
    draft: ResidentDraft,
    id_hash: Option<String>,
}

/// Why a row is refused whose ID number is registered outside the importer's scope. The number
/// is unique across the platform, so the refusal itself tells that it is registered (as the
/// form's "已登记" does); it tells nothing more — not where, not the name — and the record
/// stays as it is. A move between communities is its own step, taken by the community where
/// the person lives now.
pub(crate) const REGISTERED_ELSEWHERE: &str =
    "该身份证号已在您的管理范围以外登记，不能在此导入或更新；居民迁入须由原登记地办理迁出后再登记";

fn elsewhere(text: &str) -> Option<bool> {
    match text.trim() {
        "" | "否" | "本地" | "本市" | "N" | "n" | "0" | "户籍" => Some(false),
        "是" | "外地" | "外来" | "外来人口" | "Y" | "y" | "1" | "流动人口" => Some(true),
        _ => None,
    }
}

const INSERT: &str = "INSERT INTO persons (name, id_number_enc, id_number_hash, id_number_masked, birth_date, sex, \
     mobile_enc, mobile_hash, mobile_masked, home_node_id, household, registered_elsewhere, status, created_at, \
     updated_at) VALUES ";

impl Store {
    pub(super) async fn import_residents(&self, actor: &Actor, sheet: &Sheet, job: &mut Job<'_>) -> StoreResult<()> {
        let grids = self.grids_for_people(actor).await?;
        let mut candidates: Vec<Candidate> = Vec::with_capacity(sheet.len());
        for (n, mut row) in sheet.rows().enumerate() {
            job.checking(n);
            let name = row.text(Col::Name);
            let id_number = row.text(Col::IdNumber);
            let mobile = row.text(Col::Mobile);
            let grid = row.text(Col::Grid);
            let household = row.text(Col::Household);
            let origin = row.text(Col::Elsewhere);
            if job.accept(&mut row, Some(())).is_none() {
                continue;
            }
            let home = grids.get(grid.as_str()).copied();
            match home {
                Some(_) => {}
                None if grid.is_empty() => row.reject(Col::Grid, "网格编码不能为空"),
                None => row.reject(Col::Grid, "网格编码不存在，或不是您管理范围内的二、三级网格"),
            }
            let registered_elsewhere = elsewhere(&origin);
            if registered_elsewhere.is_none() {
                row.reject(Col::Elsewhere, "应填“本地”或“外地”（或 是/否）");
            }
            let form = ResidentForm {
                name,
                id_number,
                mobile,
                home_node_id: Some(home.unwrap_or_default()),
                household,
                registered_elsewhere: registered_elsewhere.unwrap_or(false),
            };
            let draft = row.convert(ResidentDraft::try_from(&form), FIELDS);
            let Some(draft) = job.accept(&mut row, draft) else {
                continue;
            };
            let id_hash = draft
                .id_number
                .as_ref()
                .map(|n| self.keys.lookup_hash(ID_FIELD, n.as_str()));
            if let Some(h) = &id_hash
                && let Some(first) = job.seen_before(h.clone(), row.no)
            {
                row.reject(Col::IdNumber, format!("与第 {first} 行的身份证号重复"));
                job.accept(&mut row, Some(()));
                continue;
            }
            candidates.push(Candidate {
                no: row.no,
                draft,
                id_hash,
            });
        }
        // Which ID numbers are registered already (by keyed hash), wherever they live: a number
        // registered outside the actor's scope refuses its row — that record is never read
        // further, changed, moved or counted as unchanged.
        let hashes: Vec<String> = candidates.iter().filter_map(|c| c.id_hash.clone()).collect();
        let people = actor.scope(Right::ManagePeople);
        let mut existing: HashMap<String, i64> = HashMap::new();
        let mut elsewhere: HashSet<String> = HashSet::new();
        for chunk in hashes.chunks(500) {
            let mut sql = Sql::new(
                "SELECT p.id_number_hash, p.id, h.path FROM persons p JOIN nodes h ON h.id = p.home_node_id \
                 WHERE p.id_number_hash IN ",
            );
            sql.bind_list(chunk);
            for (h, id, path) in sql.query_as::<(String, i64, String)>().fetch_all(&self.pool).await? {
                if people.contains_path(&path) {
                    existing.insert(h, id);
                } else {
                    elsewhere.insert(h);
                }
            }
        }
        let id_column = sheet.head(Col::IdNumber);
        let mut refused = Vec::new();
        candidates.retain(|c| match &c.id_hash {
            Some(h) if elsewhere.contains(h) => {
                refused.push(RowIssue {
                    row: c.no,
                    column: id_column.clone(),
                    value: c
                        .draft
                        .id_number
                        .as_ref()
                        .map(|n| n.as_str().to_string())
                        .unwrap_or_default(),
                    reason: REGISTERED_ELSEWHERE.into(),
                });
                false
            }
            _ => true,
        });
        job.report.rejected.append(&mut refused);
        job.report.rejected.sort_by_key(|i| i.row);
        job.report.valid = candidates.len();
        let (new, old): (Vec<&Candidate>, Vec<&Candidate>) = candidates
            .iter()
            .partition(|c| c.id_hash.as_ref().is_none_or(|h| !existing.contains_key(h)));
        if job.update() {
            job.report.updated = old.len();
        } else {
            job.report.unchanged = old.len();
        }
        job.report.inserted = new.len();
        if !job.commit() {
            return Ok(());
        }
        let now = self.now_text();
        let mut tx = self.begin_write().await?;
        let total = (new.len() + if job.update() { old.len() } else { 0 }) as u64;
        let mut done = 0u64;
        for chunk in new.chunks(crate::sql::ROWS_PER_INSERT) {
            let mut sql = Sql::new(INSERT);
            for (i, c) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                self.push_resident(&mut sql, c, &now)?;
            }
            sql.query().execute(&mut *tx).await?;
            done += chunk.len() as u64;
            job.writing(done, total);
        }
        if job.update() {
            for c in &old {
                let d = &c.draft;
                let id = c
                    .id_hash
                    .as_ref()
                    .and_then(|h| existing.get(h))
                    .copied()
                    .unwrap_or_default();
                let mobile = self.seal_mobile(d.mobile.as_ref())?;
                sqlx::query(
                    "UPDATE persons SET name = $1, mobile_enc = $2, mobile_hash = $3, mobile_masked = $4, home_node_id = $5, \
                     household = $6, registered_elsewhere = $7, updated_at = $8 WHERE id = $9",
                )
                .bind(d.name.as_str().to_string())
                .bind(mobile.enc)
                .bind(mobile.hash)
                .bind(mobile.masked)
                .bind(d.home_node_id)
                .bind(d.household.clone())
                .bind(i64::from(d.registered_elsewhere))
                .bind(&now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                done += 1;
                if done.is_multiple_of(1000) {
                    job.writing(done, total);
                }
            }
        }
        job.seal(self, tx, actor).await?;
        // A bulk load changes the table's shape at once: fresh statistics keep the planner on
        // the hash index for the next import's look-ups (PostgreSQL would otherwise scan).
        if job.report.inserted > 1000 {
            sqlx::query("ANALYZE persons").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Appends one resident's values, numbers encrypted, hashed and masked as `people` does.
    fn push_resident(&self, sql: &mut Sql, c: &Candidate, now: &str) -> StoreResult<()> {
        let d = &c.draft;
        let id = d.id_number.as_ref();
        let (sid, mobile) = (self.seal_id(id)?, self.seal_mobile(d.mobile.as_ref())?);
        sql.push("(")
            .bind(d.name.as_str().to_string())
            .push(", ")
            .bind(sid.enc)
            .push(", ")
            .bind(sid.hash)
            .push(", ")
            .bind(sid.masked)
            .push(", ")
            .bind(id.map(|n| n.birth_date().format("%Y-%m-%d").to_string()))
            .push(", ")
            .bind(id.map(|n| sex_key(n).to_string()))
            .push(", ")
            .bind(mobile.enc)
            .push(", ")
            .bind(mobile.hash)
            .push(", ")
            .bind(mobile.masked)
            .push(", ")
            .bind(d.home_node_id)
            .push(", ")
            .bind(d.household.clone())
            .push(", ")
            .bind(i64::from(d.registered_elsewhere))
            .push(", 'active', ")
            .bind(now)
            .push(", ")
            .bind(now)
            .push(")");
        Ok(())
    }

    /// Grid codes where the actor may register residents, with their ids.
    async fn grids_for_people(&self, actor: &Actor) -> StoreResult<HashMap<String, i64>> {
        let mut sql = Sql::new("SELECT code, id FROM nodes n WHERE n.status = 'active' AND n.level IN ");
        sql.bind_list(&[Level::GridL2.as_i64(), Level::GridL3.as_i64()])
            .push(" AND ");
        scope::push_filter(&mut sql, actor, Right::ManagePeople, "n.path");
        Ok(sql
            .query_as::<(String, i64)>()
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .collect())
    }
}
