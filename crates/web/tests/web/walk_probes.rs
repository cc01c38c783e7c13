//! The probes of the route walk (`walk.rs`): the identifiers of a community's things
//! ([`Target`]), and for each route the request aimed at the neighbouring community — its path
//! filled with the neighbour's identifiers and a valid body that names it or brings the
//! caller's own things into it — or, for the caller's own and public routes, the requests sent
//! as they are.

use reqwest::Method;
use serde_json::{Value, json};

use crate::walk::{Y_CODE, Y_NAME};

/// The identifiers of one community's things.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) node: i64,
    pub(crate) code: String,
    pub(crate) grid: i64,
    pub(crate) org: i64,
    pub(crate) user: i64,
    pub(crate) grant: i64,
    pub(crate) token: i64,
    /// A resident living in the community.
    pub(crate) person: i64,
    /// A spreadsheet upload of the community's worker, not yet committed.
    pub(crate) import: i64,
    /// A post held in the community's party committee.
    pub(crate) post: i64,
    /// The resident's party membership.
    pub(crate) member: i64,
    /// A unit located in the community, and its liaison contact.
    pub(crate) unit: i64,
    pub(crate) contact: i64,
    /// The resident's registration at the community (employer: the unit).
    pub(crate) registration: i64,
    /// A thank-you letter the community issued to the unit.
    pub(crate) letter: i64,
    /// A pairing of the community with its party committee.
    pub(crate) pairing: i64,
    /// A points scheme of the community, an item on its shelf, and the resident's redemption.
    pub(crate) scheme: i64,
    pub(crate) item: i64,
    pub(crate) redemption: i64,
    // ---- Volunteer views: a printed service record of the resident and a campaign of the
    // community.
    pub(crate) print: i64,
    pub(crate) campaign: i64,
    // Volunteer service: a volunteer (the resident), a team, an open activity the resident
    // signed up for, a service record of a closed one, and a manual record waiting.
    pub(crate) volunteer: i64,
    pub(crate) team: i64,
    pub(crate) activity: i64,
    pub(crate) record: i64,
    pub(crate) manual: i64,
}

/// One request of the walk.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) method: Method,
    /// Path and query.
    pub(crate) path: String,
    pub(crate) form: Option<Vec<(String, String)>>,
    pub(crate) json: Option<Value>,
    /// A file upload (`multipart/form-data`, field `file`): file name and bytes.
    pub(crate) upload: Option<(String, Vec<u8>)>,
}

impl Probe {
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The values this request carries, which a page may show back to the sender (a form
    /// kept after an error, "nothing found for …").
    pub(crate) fn values(&self, base: &str) -> Vec<String> {
        let mut out: Vec<String> = reqwest::Url::parse(&format!("{base}{}", self.path))
            .expect("URL")
            .query_pairs()
            .map(|(_, v)| v.into_owned())
            .collect();
        if let Some(f) = &self.form {
            out.extend(f.iter().map(|(_, v)| v.clone()));
        }
        fn strings(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
                Value::Object(o) => o.values().for_each(|x| strings(x, out)),
                _ => {}
            }
        }
        if let Some(j) = &self.json {
            strings(j, &mut out);
        }
        out
    }
}

pub(crate) fn form(fields: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
    Some(fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// `template` with its parameters replaced by the identifiers of `t`, or the name of the
/// parameter that has no mapping.
pub(crate) fn fill(template: &str, t: &Target) -> Result<String, String> {
    let mut out = String::new();
    for seg in template.split('/').skip(1) {
        out.push('/');
        if !seg.starts_with('{') {
            out.push_str(seg);
            continue;
        }
        let under = |p: &str| template.starts_with(p);
        let value = match seg {
            "{id}" if under("/tree/") || under("/api/v1/nodes/") => t.node.to_string(),
            "{id}" if under("/party/") || under("/api/v1/party-orgs/") => t.org.to_string(),
            "{id}" if under("/admin/users/") => t.user.to_string(),
            "{id}" if under("/account/tokens/") || under("/api/v1/tokens/") => t.token.to_string(),
            "{id}" if under("/people/") || under("/api/v1/people/") => t.person.to_string(),
            "{id}" if under("/imports/") => t.import.to_string(),
            "{id}" if under("/posts/") => t.post.to_string(),
            "{id}" if under("/members/") || under("/api/v1/members/") => t.member.to_string(),
            "{id}" if under("/units/") || under("/api/v1/units/") => t.unit.to_string(),
            "{id}" if under("/registrations/") || under("/api/v1/registrations/") => t.registration.to_string(),
            "{id}" if under("/letters/") => t.letter.to_string(),
            "{id}" if under("/pairings/") => t.pairing.to_string(),
            "{id}" if under("/points/schemes/") || under("/api/v1/points/schemes/") => t.scheme.to_string(),
            "{id}" if under("/shop/items/") || under("/api/v1/shop/items/") => t.item.to_string(),
            "{id}"
                if under("/shop/redemptions/")
                    || under("/api/v1/shop/redemptions/")
                    || under("/m/points/redemptions/") =>
            {
                t.redemption.to_string()
            }
            // ---- Volunteer views
            "{id}" if under("/service-prints/") || under("/api/v1/service-prints/") => t.print.to_string(),
            "{id}" if under("/api/v1/campaigns/") => t.campaign.to_string(),
            // ---- end of volunteer views
            // Volunteer service.
            "{id}" if under("/api/v1/volunteers/") || under("/volunteers/") => t.volunteer.to_string(),
            "{id}" if under("/api/v1/teams/") || under("/teams/") => t.team.to_string(),
            "{volunteer}" if under("/api/v1/teams/") => t.volunteer.to_string(),
            "{id}" if under("/api/v1/activities/") || under("/activities/") || under("/m/activities/") => {
                t.activity.to_string()
            }
            "{purpose}" if under("/m/activities/") => "in".to_string(),
            "{id}" if under("/api/v1/service-records/manual/") || under("/service-records/manual/") => {
                t.manual.to_string()
            }
            "{id}" if under("/api/v1/service-records/") || under("/service-records/") => t.record.to_string(),
            "{contact}" if under("/units/") => t.contact.to_string(),
            "{unit}" if under("/tree/") || under("/api/v1/nodes/") => t.unit.to_string(),
            "{metric}" if under("/api/v1/stats/") => format!("grid.count.l3?node={}", t.code),
            "{grant}" if under("/admin/users/") => t.grant.to_string(),
            "{code}" if under("/api/v1/nodes/by-code/") => t.code.clone(),
            "{*path}" if under("/assets/") => "app.css".to_string(),
            other => return Err(format!("no mapping for {other} in {template}")),
        };
        out.push_str(&value);
    }
    Ok(out)
}

/// The request that aims `method template` at `t`: path parameters filled, and a plausible
/// body that names `t` where the route takes its target from the body.
pub(crate) fn aimed(method: &Method, template: &str, t: &Target, x: &Target, street_b: i64) -> Result<Probe, String> {
    let path = fill(template, t)?;
    let (org, code) = (t.org.to_string(), t.code.as_str());
    let api = template.starts_with("/api/");
    let mut probe = Probe {
        method: method.clone(),
        path: path.clone(),
        form: None,
        json: None,
        upload: None,
    };
    if *method == Method::GET {
        if template == "/party/new" {
            probe.path = format!("/party/new?parent={org}&territory={code}");
        }
        return Ok(probe);
    }
    let x_code = x.code.as_str();
    let x_org = x.org.to_string();
    let street_b_text = street_b.to_string();
    match (method.as_str(), template) {
        ("POST", "/tree/new") => probe.form = form(&[("code", code), ("name", "越权城市")]),
        ("POST", "/tree/{id}/new") => probe.form = form(&[("name", "越权网格"), ("kind", "estate")]),
        ("POST", "/tree/{id}/edit") => probe.form = form(&[("name", "越权改名"), ("households", "1")]),
        ("POST", "/tree/{id}/move") => {
            probe.form = form(&[
                ("new_parent_id", &street_b_text),
                ("new_code", "440604002009"),
                ("note", "越权迁移"),
            ])
        }
        ("POST", "/tree/{id}/archive") => probe.form = form(&[("note", "越权撤销")]),
        ("POST", "/party/new") => {
            probe.form = form(&[
                ("parent_id", &org),
                ("kind", "branch"),
                ("category", "estate"),
                ("name", "越权支部"),
                ("territory_code", &format!("{code}001")),
            ])
        }
        ("POST", "/party/{id}/edit") => {
            probe.form = form(&[
                ("kind", "committee"),
                ("category", "community"),
                ("name", "越权改名"),
                ("territory_code", code),
            ])
        }
        ("POST", "/party/{id}/move") => probe.form = form(&[("new_parent_id", &x_org), ("note", "越权调整")]),
        ("POST", "/party/{id}/archive") => probe.form = form(&[("note", "越权撤销")]),
        ("POST", "/admin/users/new") => {
            probe.form = form(&[
                ("username", "walk.y"),
                ("display_name", "越权账户"),
                ("role", "community_staff"),
                ("node_code", code),
            ])
        }
        // Tempting: a role in X, which the caller does manage, for Y's worker.
        ("POST", "/admin/users/{id}/grants") => probe.form = form(&[("role", "grid_worker"), ("node_code", x_code)]),
        ("POST", "/admin/users/{id}/status") => probe.form = form(&[("active", "0")]),
        ("POST", "/tree/{id}/residents/new") => {
            probe.form = form(&[("name", "越权住户"), ("mobile", "13900000000"), ("household", "1栋101")])
        }
        ("POST", "/people/{id}/reveal") => probe.form = form(&[("field", "mobile")]),
        ("POST", "/api/v1/people") => {
            probe.json = Some(
                json!({"name": "越权住户", "mobile": "13900000000", "home_node_id": t.grid,
                "household": "1栋101"}),
            )
        }
        ("POST", "/api/v1/people/{id}/reveal") => probe.json = Some(json!({"field": "mobile"})),
        ("POST", "/tree/{id}/import") => {
            probe.upload = Some(("walk.xlsx".into(), b"PK\x03\x04 not really a workbook".to_vec()))
        }
        ("POST", "/imports/{id}/commit") => {
            probe.form = form(&[("on_duplicate", "update"), ("node_id", &t.node.to_string())])
        }
        ("POST", "/api/v1/nodes") => {
            probe.json = Some(json!({"parent_id": t.node, "name": "越权网格", "kind": "estate"}))
        }
        ("PATCH", "/api/v1/nodes/{id}") => probe.json = Some(json!({"name": "越权改名", "households": "1"})),
        ("POST", "/api/v1/nodes/{id}/move") => {
            probe.json = Some(json!({"new_parent_id": street_b, "new_code": "440604002009", "note": "越权迁移"}))
        }
        ("POST", "/api/v1/nodes/{id}/archive") | ("POST", "/api/v1/party-orgs/{id}/archive") => {
            probe.json = Some(json!({"note": "越权撤销"}))
        }
        ("POST", "/api/v1/party-orgs") => {
            probe.json = Some(json!({"parent_id": t.org, "kind": "branch", "category": "estate",
                "name": "越权支部", "territory_code": format!("{code}001")}))
        }
        ("PATCH", "/api/v1/party-orgs/{id}") => {
            probe.json = Some(json!({"kind": "committee", "category": "community", "name": "越权改名",
                "territory_code": code}))
        }
        ("POST", "/api/v1/party-orgs/{id}/move") => {
            probe.json = Some(json!({"new_parent_id": x.org, "note": "越权调整"}))
        }
        ("POST", "/api/v1/members") => {
            probe.json =
                Some(json!({"person_id": t.person, "org_id": t.org, "status": "full", "joined_on": "2001-07-01"}))
        }
        ("POST", "/people/{id}/membership") => {
            probe.form = form(&[("org_id", &org), ("status", "full"), ("joined_on", "2001-07-01")])
        }
        ("POST", "/members/{id}/transfer") => probe.form = form(&[("to_org_id", &x_org)]),
        ("POST", "/api/v1/members/{id}/transfer") => probe.json = Some(json!({"to_org_id": x.org})),
        ("POST", "/members/{id}/full") => probe.form = form(&[("full_on", "2002-07-01")]),
        ("POST", "/tree/{id}/units/new") | ("POST", "/units/{id}/edit") => {
            probe.form = form(&[("name", "越权单位"), ("kind", "private")])
        }
        ("POST", "/api/v1/units") => {
            probe.json = Some(json!({"name": "越权单位", "kind": "private", "node_id": t.node}))
        }
        ("PATCH", "/api/v1/units/{id}") => {
            probe.json = Some(json!({"name": "越权改名", "kind": "private", "node_id": t.node}))
        }
        ("POST", "/units/{id}/contacts") => probe.form = form(&[("name", "越权联系人"), ("mobile", "13900000000")]),
        ("POST", "/api/v1/units/{id}/contacts") => {
            probe.json = Some(json!({"name": "越权联系人", "mobile": "13900000000"}))
        }
        ("POST", "/api/v1/registrations") => {
            probe.json = Some(json!({"person_id": t.person, "community_id": t.node, "duties": ["patrol"]}))
        }
        ("POST", "/people/{id}/registration") => {
            probe.form = form(&[("community_id", &t.node.to_string()), ("duties", "patrol")])
        }
        ("POST", "/registrations/{id}/status") => probe.form = form(&[("status", "ended")]),
        ("POST", "/api/v1/registrations/{id}/status") => probe.json = Some(json!({"status": "ended"})),
        ("POST", "/registrations/{id}/claims") => probe.form = form(&[("duty", "care")]),
        ("POST", "/api/v1/registrations/{id}/claims") => probe.json = Some(json!({"duty": "care"})),
        ("POST", "/registrations/{id}/services") => {
            probe.form = form(&[("served_on", "2026-01-02"), ("hours", "1"), ("description", "越权记录")])
        }
        ("POST", "/api/v1/registrations/{id}/services") => {
            probe.json = Some(json!({"served_on": "2026-01-02", "hours": "1", "description": "越权记录"}))
        }
        ("POST", "/api/v1/registrations/self") => {
            probe.json = Some(json!({"community": code, "name": "越权报到", "duties": ["patrol"]}))
        }
        ("POST", "/tree/{id}/pairings") => {
            probe.form = form(&[
                ("org_id", &x_org),
                ("community_id", &t.node.to_string()),
                ("started_on", "2026-01-01"),
            ])
        }
        ("POST", "/api/v1/pairings") => {
            probe.json = Some(json!({"org_id": x.org, "community_id": t.node, "started_on": "2026-01-01"}))
        }
        ("POST", "/tree/{id}/deployments") => {
            probe.form = form(&[("id_number", ""), ("kind", "deployment"), ("started_on", "2026-01-01")])
        }
        ("POST", "/api/v1/deployments") => {
            probe.json = Some(
                json!({"person_id": t.person, "kind": "deployment", "node_id": t.node, "started_on": "2026-01-01"}),
            )
        }
        ("POST", "/api/v1/points/schemes") => {
            probe.json = Some(json!({"name": "越权积分", "kind": "volunteer", "node_id": t.node}))
        }
        ("POST", "/api/v1/points/credits") => {
            probe.json = Some(json!({"scheme_id": x.scheme, "person_id": t.person, "amount": 5,
                "source": {"kind": "award", "item": "越权"}, "idempotency_key": "walk-credit-1"}))
        }
        ("POST", "/api/v1/points/deductions") => {
            probe.json = Some(
                json!({"scheme_id": x.scheme, "person_id": t.person, "amount": 5, "item": "越权",
                "idempotency_key": "walk-deduct-1"}),
            )
        }
        ("POST", "/api/v1/points/transfers") => {
            probe.json = Some(json!({"scheme_id": t.scheme, "to_person_id": t.person, "amount": 1,
                "idempotency_key": "walk-transfer-1"}))
        }
        ("POST", "/api/v1/points/links") => probe.json = Some(json!({"user_id": x.user, "person_id": t.person})),
        ("POST", "/api/v1/shop/redemptions") => {
            probe.json = Some(json!({"item_id": t.item, "person_id": t.person, "idempotency_key": "walk-redeem-1"}))
        }
        ("POST", "/m/points/redeem") => {
            probe.form = form(&[("item_id", &t.item.to_string()), ("key", "walk-redeem-2")])
        }
        ("POST", "/tree/{id}/shop/items") => {
            probe.form = form(&[
                ("name", "越权商品"),
                ("scheme_id", &t.scheme.to_string()),
                ("price", "1"),
                ("stock", "1"),
            ])
        }
        ("POST", "/api/v1/nodes/{id}/shop/items") => {
            probe.json = Some(json!({"name": "越权商品", "scheme_id": t.scheme, "price": 1, "stock": 1}))
        }
        ("POST", "/shop/items/{id}/stock") => probe.form = form(&[("change", "5")]),
        ("POST", "/api/v1/shop/items/{id}/stock") => probe.json = Some(json!({"change": 5})),
        // ---- Volunteer views: a valid print of Y's resident, a valid campaign at Y.
        ("POST", "/people/{id}/service/prints") => {
            probe.form = form(&[
                ("from", "2026-01-01"),
                ("issuer", "越权出具"),
                ("person_in_charge", "越权"),
                ("handler", "越权"),
                ("contact", "0757-1234567"),
            ])
        }
        ("POST", "/api/v1/people/{id}/service/prints") => {
            probe.json = Some(
                json!({"from": "2026-01-01", "issuer": "越权出具", "person_in_charge": "越权",
                "handler": "越权", "contact": "0757-1234567"}),
            )
        }
        ("POST", "/tree/{id}/campaigns") => {
            probe.form = form(&[
                ("name", "越权目标"),
                ("measure", "activities"),
                ("target", "100"),
                ("starts_on", "2026-01-01"),
                ("ends_on", "2026-12-31"),
            ])
        }
        ("POST", "/api/v1/nodes/{id}/campaigns") => {
            probe.json = Some(json!({"name": "越权目标", "measure": "activities", "target": 100,
                "starts_on": "2026-01-01", "ends_on": "2026-12-31"}))
        }
        // ---- end of volunteer views
        // Volunteer service: bodies that name Y, or bring X's own things into Y.
        ("POST", "/api/v1/volunteers") => {
            probe.json = Some(json!({"person_id": t.person, "node_id": t.node, "consent": true}))
        }
        ("POST", "/tree/{id}/volunteers") => {
            probe.form = form(&[("person_id", &t.person.to_string()), ("consent", "on")])
        }
        ("POST", "/api/v1/teams") => probe.json = Some(json!({"name": "越权服务队", "node_id": t.node})),
        ("POST", "/tree/{id}/teams") => probe.form = form(&[("name", "越权服务队")]),
        ("POST", "/api/v1/teams/{id}/members") => probe.json = Some(json!({"volunteer_id": x.volunteer})),
        ("POST", "/teams/{id}/members") => probe.form = form(&[("volunteer_id", &x.volunteer.to_string())]),
        ("POST", "/api/v1/nodes/{id}/activities") | ("POST", "/api/v1/activities/{id}") => {
            probe.json = Some(json!({"title": "越权活动", "kind": "volunteer", "place": "广场",
                "starts_at": "2030-01-01T09:00", "ends_at": "2030-01-01T11:00", "capacity": 5}))
        }
        ("POST", "/tree/{id}/activities") => {
            probe.form = form(&[
                ("title", "越权活动"),
                ("kind", "volunteer"),
                ("place", "广场"),
                ("starts_at", "2030-01-01T09:00"),
                ("ends_at", "2030-01-01T11:00"),
                ("capacity", "5"),
            ])
        }
        ("POST", "/api/v1/activities/{id}/cancel") => probe.json = Some(json!({"reason": "越权取消"})),
        ("POST", "/activities/{id}/cancel") => probe.form = form(&[("reason", "越权取消")]),
        ("POST", "/api/v1/activities/{id}/signups") => probe.json = Some(json!({"person_id": x.person})),
        ("POST", "/activities/{id}/signups") => probe.form = form(&[("person_id", &x.person.to_string())]),
        ("POST", "/api/v1/activities/{id}/signups/cancel") => probe.json = Some(json!({"person_id": t.person})),
        ("POST", "/api/v1/activities/{id}/check") => {
            probe.json = Some(json!({"purpose": "in", "code": format!("{}.in.4102444800.abc", t.activity)}))
        }
        ("POST", "/m/activities/{id}/check/{purpose}") => {
            probe.form = form(&[("c", &format!("{}.in.4102444800.abc", t.activity))])
        }
        ("POST", "/api/v1/activities/{id}/presence") => probe.json = Some(json!({"present": []})),
        ("POST", "/api/v1/service-records/{id}/corrections") => {
            probe.json = Some(json!({"hours": "1", "reason": "越权更正"}))
        }
        ("POST", "/service-records/{id}/corrections") => probe.form = form(&[("hours", "1"), ("reason", "越权更正")]),
        ("POST", "/api/v1/service-records/manual") => {
            probe.json = Some(
                json!({"person_id": t.person, "node_id": t.node, "served_on": "2026-01-05",
                "hours": "1", "content": "越权补录", "reason": "越权"}),
            )
        }
        ("POST", "/tree/{id}/service-records/manual") => {
            probe.form = form(&[
                ("person_id", &x.person.to_string()),
                ("served_on", "2026-01-05"),
                ("hours", "1"),
                ("content", "越权补录"),
                ("reason", "越权"),
            ])
        }
        ("POST", "/api/v1/service-records/manual/{id}/decision") => probe.json = Some(json!({"decision": "confirm"})),
        ("POST", "/service-records/manual/{id}/decision") => probe.form = form(&[("decision", "confirm")]),
        // Restores, revocations, password resets: the target is in the path alone.
        _ if api => probe.json = Some(json!({})),
        _ => probe.form = Some(Vec::new()),
    }
    Ok(probe)
}

/// Requests for an own-or-public route: searches look for Y by name, code and grid name.
pub(crate) fn own(method: &Method, template: &str, t: &Target) -> Result<Vec<Probe>, String> {
    let path = fill(template, t)?;
    let probe = |path: String, form: Option<Vec<(String, String)>>, json: Option<Value>| Probe {
        method: method.clone(),
        path,
        form,
        json,
        upload: None,
    };
    let enc = |s: &str| -> String {
        reqwest::Url::parse_with_params("http://x/", &[("q", s)])
            .expect("url")
            .query()
            .unwrap_or("")
            .to_string()
    };
    let searches = [Y_NAME, Y_CODE, "紫荆", "4406040010"];
    Ok(match (method.as_str(), template) {
        ("GET", "/search")
        | ("GET", "/api/v1/nodes")
        | ("GET", "/admin/users")
        | ("GET", "/people")
        | ("GET", "/api/v1/people") => {
            let mut v: Vec<Probe> = searches
                .iter()
                .map(|q| probe(format!("{path}?{}", enc(q)), None, None))
                .collect();
            v.push(probe(path.clone(), None, None));
            v.push(probe(format!("{path}?{}", enc("staff.y")), None, None));
            v
        }
        ("GET", "/m/register") => vec![probe(format!("{path}?community={Y_CODE}"), None, None)],
        ("GET", "/audit") | ("GET", "/audit/export") | ("GET", "/api/v1/audit") => {
            vec![probe(format!("{path}?actor=staff.y&action=nodes"), None, None)]
        }
        ("POST", "/account/password") => vec![probe(
            path,
            form(&[
                ("current", "Not-The-Passw0rd!"),
                ("new_password", "Walk-Passw0rd#9"),
                ("confirm", "Walk-Passw0rd#9"),
            ]),
            None,
        )],
        ("POST", "/login/totp") | ("POST", "/account/totp") => vec![probe(path, form(&[("code", "abc")]), None)],
        ("POST", "/account/tokens") => vec![probe(
            path,
            form(&[("name", "巡检令牌"), ("scope", "read"), ("expires_in_days", "7")]),
            None,
        )],
        ("POST", "/api/v1/tokens") => vec![probe(
            path,
            None,
            Some(json!({"name": "巡检接口令牌", "scope": "read", "expires_in_days": 7})),
        )],
        ("POST", "/audit/verify") => vec![probe(path, Some(Vec::new()), None)],
        ("POST", "/m/register") => vec![probe(
            path,
            form(&[("community", Y_CODE), ("name", "越权报到"), ("duties", "patrol")]),
            None,
        )],
        ("POST", "/login") | ("POST", "/logout") => vec![probe(path, Some(Vec::new()), None)],
        // ---- Volunteer views: the setting is not the worker's to change.
        ("POST", "/volunteers/settings") => vec![probe(path, form(&[("star_hours", "1,2,3")]), None)],
        ("POST", "/api/v1/volunteers/settings") => vec![probe(path, None, Some(json!({"star_hours": "1,2,3"})))],
        // ---- end of volunteer views
        ("GET", _) => vec![probe(path, None, None)],
        _ => return Err(format!("no request for the own-or-public route {method} {template}")),
    })
}
