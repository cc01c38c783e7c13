//! Volunteer views on a hand-built fixture with known answers: the volunteer metrics, a
//! person's trajectory with a correction, the star-level setting, printed service records and
//! the national-system export. Fixture rows of the write side (volunteers, activities, records,
//! shop rows) are inserted with SQL.

use gongjian_domain::people::ResidentForm;
use gongjian_store::stats::{Period, def};
use gongjian_store::volunteers::campaigns::CampaignForm;
use gongjian_store::volunteers::export::PrintForm;

use super::*;

const NOW: &str = "2026-01-01T00:00:00Z";

/// Runs fixture statements in order.
async fn exec(db: &Db, statements: &[String]) {
    for s in statements {
        sqlx::query(AssertSqlSafe(s.clone()))
            .execute(db.store.pool())
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

struct Fixture {
    t: Tree,
    chen: i64,
    li: i64,
    organiser: i64,
    resident_user: i64,
}

/// Four people: 陈 and 李 volunteer at 升平社区 (a1), 王 at 张槎社区 (b1), 赵 left at 兴华社区 (a2).
async fn fixture(db: &Db) -> Fixture {
    let t = build_tree(db).await;
    let s = &db.store;
    let person = async |name: &str, home: &Node, id: &str| {
        let form = ResidentForm {
            name: name.into(),
            id_number: id.into(),
            home_node_id: Some(home.id),
            ..ResidentForm::default()
        };
        s.create_person(&admin(), &form, "t").await.expect("person").id
    };
    let chen = person("陈志愿", &t["a1g1a"], "11010519491231002X").await;
    let li = person("李志愿", &t["a1g1b"], "").await;
    let wang = person("王志愿", &t["b1g1a"], "").await;
    let zhao = person("赵志愿", &t["a2g1a"], "").await;
    let (a1, a2, b1) = (t["a1"].id, t["a2"].id, t["b1"].id);
    let user = |id: i64, name: &str, person: &str| {
        format!(
            "INSERT INTO users (id, username, display_name, password_hash, created_at, updated_at, person_id) \
             VALUES ({id}, '{name}', '{name}', 'x', '{NOW}', '{NOW}', {person})"
        )
    };
    let vol = |id: i64, p: i64, node: i64, status: &str| {
        format!(
            "INSERT INTO volunteers (id, person_id, node_id, volunteer_no, consent_at, status, created_at, updated_at) \
             VALUES ({id}, {p}, {node}, 'V{id:04}', '{NOW}', '{status}', '{NOW}', '{NOW}')"
        )
    };
    let team = |id: i64, node: i64, name: &str, status: &str| {
        format!(
            "INSERT INTO volunteer_teams (id, node_id, name, status, created_at, updated_at) \
             VALUES ({id}, {node}, '{name}', '{status}', '{NOW}', '{NOW}')"
        )
    };
    let campaign = |id: i64, name: &str, measure: &str, target: i64| {
        format!(
            "INSERT INTO campaigns (id, node_id, name, measure, target, starts_on, ends_on, created_at) \
             VALUES ({id}, {a1}, '{name}', '{measure}', {target}, '2026-01-01', '2026-12-31', '{NOW}')"
        )
    };
    let activity = |id: i64, node: i64, campaign: &str, start: &str, end: &str, status: &str, served: i64| {
        format!(
            "INSERT INTO activities (id, node_id, campaign_id, title, kind, place, starts_at, ends_at, capacity, \
             signup_opens_at, signup_closes_at, organiser_id, organiser_name, beneficiaries, status, created_at, \
             updated_at) VALUES ({id}, {node}, {campaign}, '活动{id}', 'volunteer', '社区广场', '{start}', '{end}', 20, \
             '{NOW}', '{start}', 900, '升平社区居委会', {served}, '{status}', '{NOW}', '{NOW}')"
        )
    };
    #[allow(clippy::too_many_arguments)]
    let record = |id: i64, p: i64, node: i64, act: &str, day: &str, minutes: i64, delta: i64, corrects: &str| {
        let source = if corrects == "NULL" { "attendance" } else { "correction" };
        let source = if act == "NULL" { "manual" } else { source };
        format!(
            "INSERT INTO service_records (id, person_id, node_id, activity_id, served_on, minutes, delta_minutes, \
             content, place, source, corrects_id, reason, organiser_name, recorded_by, confirmed_by, confirmed_at, \
             created_at) VALUES ({id}, {p}, {node}, {act}, '{day}', {minutes}, {delta}, '服务内容{id}', '社区广场', \
             '{source}', {corrects}, '', '升平社区居委会', 900, 900, '{NOW}', '{NOW}')"
        )
    };
    exec(
        db,
        &[
            user(900, "organiser", "NULL"),
            user(901, "chen", &chen.to_string()),
            vol(1, chen, a1, "active"),
            vol(2, li, a1, "active"),
            vol(3, wang, b1, "active"),
            vol(4, zhao, a2, "left"),
            team(1, a1, "青年志愿服务队", "active"),
            team(2, a1, "旧队", "dissolved"),
            team(3, a2, "夕阳红服务队", "active"),
            "INSERT INTO team_members (team_id, volunteer_id, role, joined_on) VALUES (1, 1, 'leader', '2026-01-01')"
                .into(),
            campaign(101, "百场群众活动", "activities", 2),
            campaign(102, "百名志愿者", "volunteers", 5),
            activity(
                1,
                a1,
                "101",
                "2026-03-01T01:00:00Z",
                "2026-03-01T03:00:00Z",
                "closed",
                30,
            ),
            activity(
                2,
                a1,
                "101",
                "2026-04-10T01:00:00Z",
                "2026-04-10T03:00:00Z",
                "closed",
                20,
            ),
            activity(
                3,
                a1,
                "101",
                "2026-04-11T01:00:00Z",
                "2026-04-11T03:00:00Z",
                "cancelled",
                99,
            ),
            activity(
                4,
                a1,
                "102",
                "2026-05-05T01:00:00Z",
                "2026-05-05T03:00:00Z",
                "closed",
                0,
            ),
            activity(5, b1, "NULL", "2026-05-06T01:00:00Z", "2026-05-06T03:00:00Z", "open", 7),
            format!(
                "INSERT INTO activity_signups (activity_id, person_id, status, signed_up_at, checked_in_at, \
                 checked_out_at, attendance_by, updated_at) VALUES (1, {chen}, 'confirmed', '{NOW}', \
                 '2026-03-01T01:00:00Z', '2026-03-01T03:00:00Z', 'code', '{NOW}')"
            ),
            record(1, chen, a1, "1", "2026-03-01", 120, 120, "NULL"),
            record(2, li, a1, "1", "2026-03-01", 90, 90, "NULL"),
            record(3, li, a1, "1", "2026-03-01", 60, -30, "2"),
            record(4, wang, b1, "NULL", "2026-04-02", 45, 45, "NULL"),
            record(5, chen, a1, "4", "2026-05-05", 60, 60, "NULL"),
            record(6, li, a1, "4", "2026-05-05", 30, 30, "NULL"),
            record(7, li, a1, "4", "2026-05-05", 0, -30, "6"),
            record(8, chen, a1, "NULL", "2025-12-20", 30, 30, "NULL"),
            format!(
                "INSERT INTO point_schemes (id, node_id, name, kind, rules, created_at, updated_at) \
                 VALUES (1, {a1}, '志愿积分', 'volunteer', '{{}}', '{NOW}', '{NOW}')"
            ),
            format!(
                "INSERT INTO point_accounts (id, scheme_id, holder, person_id, node_id, balance, created_at) \
                 VALUES (1, 1, 'person:{chen}', {chen}, {a1}, 40, '{NOW}')"
            ),
            format!(
                "INSERT INTO shop_items (id, node_id, scheme_id, name, price, stock, created_at, updated_at) \
                 VALUES (1, {a1}, 1, '毛巾', 10, 5, '{NOW}', '{NOW}')"
            ),
        ],
    )
    .await;
    let mut rows = Vec::new();
    for (i, (points, status, at)) in [
        (50, "picked_up", "2026-03-02T02:00:00Z"),
        (30, "reserved", "2026-04-30T15:00:00Z"),
        (20, "cancelled", "2026-03-03T02:00:00Z"),
        (70, "reserved", "2026-06-30T17:00:00Z"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = i + 1;
        rows.push(format!(
            "INSERT INTO point_transactions (id, idempotency_key, scheme_id, kind, created_at) \
             VALUES ({id}, 'k{id}', 1, 'redeem', '{at}')"
        ));
        rows.push(format!(
            "INSERT INTO point_entries (transaction_id, account_id, amount) VALUES ({id}, 1, -{points})"
        ));
        rows.push(format!(
            "INSERT INTO redemptions (item_id, person_id, node_id, quantity, points, status, reserve_tx_id, created_at) \
             VALUES (1, {chen}, {a1}, 1, {points}, '{status}', {id}, '{at}')"
        ));
    }
    exec(db, &rows).await;
    Fixture {
        t,
        chen,
        li,
        organiser: 900,
        resident_user: 901,
    }
}

fn first_half() -> Period {
    Period::parse(Some("2026-01-01"), Some("2026-06-30")).expect("period")
}

#[tokio::test]
async fn volunteer_metrics_have_known_answers() {
    for_each_engine(async |db| {
        let f = fixture(db).await;
        let s = &db.store;
        let a = admin();
        let district = &f.t["district"].code;
        let value = async |id: &str, p: &Period| {
            let m = s.metric(&a, id, district, p).await.expect(id);
            check!(m.available);
            let kids: Vec<Option<f64>> = m.breakdown.iter().map(|c| c.value).collect();
            (m.value, m.numerator, m.denominator, kids)
        };
        let p = first_half();
        eq!(
            value("volunteer.count", &p).await,
            (Some(3.0), None, None, vec![Some(2.0), Some(1.0)])
        );
        eq!(
            value("volunteer.teams", &p).await,
            (Some(2.0), None, None, vec![Some(2.0), Some(0.0)])
        );
        // 120 + 90 − 30 + 45 + 60 + 30 − 30 minutes; the December record is outside the period.
        eq!(value("volunteer.hours", &p).await.0, Some(4.75));
        eq!(value("volunteer.hours", &p).await.3, vec![Some(4.0), Some(0.75)]);
        eq!(value("volunteer.beneficiaries", &p).await.0, Some(50.0));
        // Not cancelled, made in Shanghai days of the period: the 70-point one is 1 July there.
        eq!(
            value("points.redemptions", &p).await,
            (Some(2.0), Some(80), None, vec![Some(2.0), Some(0.0)])
        );
        // Campaign 1: two activities held of 2 (the cancelled one not counted); campaign 2:
        // one volunteer of 5 (李's hours there were corrected to nothing).
        let (v, num, den, _) = value("center.campaign.progress", &p).await;
        eq!((num, den), (Some(3), Some(7)));
        check!(v.is_some_and(|v| (v - 3.0 / 7.0).abs() < 1e-9));
        // Before the second campaign's activity ended, it had no volunteer.
        let april = Period::parse(None, Some("2026-04-30")).expect("p");
        eq!(value("center.campaign.progress", &april).await.1, Some(2));
        eq!(def("volunteer.hours").and_then(|d| d.basis).is_some(), true);
    })
    .await;
}

#[tokio::test]
async fn a_trajectory_shows_corrections_stars_and_points() {
    for_each_engine(async |db| {
        let f = fixture(db).await;
        let s = &db.store;
        let staff = scoped(Role::CommunityStaff, &f.t["a1"]);
        let tr = s.trajectory(&staff, f.li).await.expect("trajectory");
        eq!(tr.total_minutes, 90 - 30 + 30 - 30);
        eq!(tr.stars, 0);
        eq!(tr.hours_to_next.as_deref(), Some("99"));
        let original = tr.records.iter().find(|r| r.id == 2).expect("original");
        eq!(original.corrected_by, Some(3));
        check!(!original.is_effective());
        let correction = tr.records.iter().find(|r| r.id == 3).expect("correction");
        eq!((correction.corrects_id, correction.delta_minutes), (Some(2), -30));
        let chen = s.trajectory(&staff, f.chen).await.expect("chen");
        eq!(chen.total_minutes, 210);
        eq!(chen.teams, vec!["青年志愿服务队".to_string()]);
        eq!(chen.signups.len(), 1);
        eq!(chen.redemptions.len(), 4);
        eq!(chen.points_balance, 40);
        let months: Vec<(String, i64)> = chen.months.iter().map(|m| (m.month.clone(), m.minutes)).collect();
        eq!(
            months,
            vec![
                ("2025-12".to_string(), 30),
                ("2026-03".to_string(), 120),
                ("2026-04".to_string(), 0),
                ("2026-05".to_string(), 60),
                ("2026-07".to_string(), 0),
            ]
        );
        // The person themself, through the linked account; others outside scope: not found.
        let mut me = actor("chen", Role::Resident, Reach::All);
        me.user_id = f.resident_user;
        eq!(s.trajectory(&me, f.chen).await.expect("own").total_minutes, 210);
        not_found(s.trajectory(&me, f.li).await);
        not_found(s.trajectory(&scoped(Role::CommunityStaff, &f.t["b1"]), f.li).await);
        // The star levels are a setting: one star from 1 hour.
        refused(s.set_star_hours(&admin(), "5,3", "t").await, "star_hours", "逐级递增");
        let e = s.set_star_hours(&staff, "1,2", "t").await;
        check!(matches!(e, Err(StoreError::Forbidden)));
        s.set_star_hours(&admin(), "1,2", "t").await.expect("set");
        let tr = s.trajectory(&staff, f.li).await.expect("again");
        eq!((tr.stars, tr.star_label.as_str()), (1, "一星志愿者"));
        eq!(
            db.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'volunteer.settings.star_hours'")
                .await,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn prints_and_the_national_export_list_effective_records() {
    for_each_engine(async |db| {
        let f = fixture(db).await;
        let s = &db.store;
        let mut staff = scoped(Role::CommunityStaff, &f.t["a1"]);
        staff.user_id = f.organiser;
        let form = PrintForm {
            from: "2026-01-01".into(),
            to: "2026-06-30".into(),
            issuer: "升平社区居委会".into(),
            person_in_charge: "张主任".into(),
            handler: "刘社工".into(),
            contact: "0757-83000000".into(),
        };
        let blank = PrintForm {
            issuer: " ".into(),
            ..form.clone()
        };
        refused(
            s.issue_service_print(&staff, f.li, &blank, "t").await,
            "issuer",
            "出具单位",
        );
        let print = s.issue_service_print(&staff, f.li, &form, "t").await.expect("print");
        eq!((print.minutes, print.record_ids.as_str()), (60, "3"));
        check!(print.number.starts_with("JL") && print.number.ends_with(&format!("{:06}", print.id)));
        let sheet = s.service_print(&staff, print.id).await.expect("sheet");
        eq!((sheet.hours.as_str(), sheet.records.len()), ("1", 1));
        eq!(sheet.volunteer_no.as_deref(), Some("V0002"));
        // Staff elsewhere have no records of theirs to certify, nor may they read the print.
        let other = scoped(Role::CommunityStaff, &f.t["b1"]);
        not_found(s.issue_service_print(&other, f.li, &form, "t").await);
        not_found(s.service_print(&other, print.id).await);
        eq!(
            db.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'volunteer.print.issue'")
                .await,
            1
        );
        // The export: effective records with minutes, masked unless full numbers are asked for.
        let rows = s
            .national_export(&staff, f.t["a1"].id, &first_half(), false, "t")
            .await
            .expect("export");
        let shown: Vec<(String, String, String)> = rows
            .iter()
            .map(|r| (r.name.clone(), r.served_on.clone(), r.hours.clone()))
            .collect();
        eq!(
            shown,
            vec![
                ("陈志愿".into(), "2026-03-01".into(), "2".into()),
                ("李志愿".into(), "2026-03-01".into(), "1".into()),
                ("陈志愿".into(), "2026-05-05".into(), "1".into()),
            ]
        );
        let chen_row = rows.iter().find(|r| r.name == "陈志愿").expect("chen");
        eq!(chen_row.id_number.as_str(), "110105********002X");
        eq!(chen_row.id_type.as_str(), "居民身份证");
        let full = s
            .national_export(&staff, f.t["a1"].id, &first_half(), true, "t")
            .await
            .expect("full");
        check!(full.iter().any(|r| r.id_number == "11010519491231002X"));
        let grid = scoped(Role::OrgDepartment, &f.t["a1"]);
        check!(
            s.national_export(&grid, f.t["a1"].id, &first_half(), true, "t")
                .await
                .is_err()
        );
        eq!(
            db.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'volunteer.export.national'")
                .await,
            2
        );
    })
    .await;
}

#[tokio::test]
async fn campaigns_are_created_with_field_errors_and_show_progress() {
    for_each_engine(async |db| {
        let f = fixture(db).await;
        let s = &db.store;
        let staff = scoped(Role::CommunityStaff, &f.t["a1"]);
        let bad = CampaignForm {
            name: "".into(),
            measure: "films".into(),
            target: "0".into(),
            starts_on: "2026-02-30".into(),
            ends_on: "2026-01-01".into(),
        };
        refused(
            s.create_campaign(&staff, f.t["a1"].id, &bad, "t").await,
            "target",
            "整数",
        );
        refused(
            s.create_campaign(&staff, f.t["a1"].id, &bad, "t").await,
            "measure",
            "统计口径",
        );
        let form = CampaignForm {
            name: "百堂思政课".into(),
            measure: "activities".into(),
            target: "100".into(),
            starts_on: "2026-01-01".into(),
            ends_on: "2026-12-31".into(),
        };
        not_found(s.create_campaign(&staff, f.t["b1"].id, &form, "t").await);
        let c = s
            .create_campaign(&staff, f.t["a1"].id, &form, "t")
            .await
            .expect("campaign");
        eq!((c.target, c.done), (100, 0));
        let list = s.campaigns_under(&admin(), f.t["district"].id).await.expect("list");
        let shown: Vec<(String, i64, i64)> = list.iter().map(|c| (c.name.clone(), c.done, c.target)).collect();
        check!(shown.contains(&("百场群众活动".to_string(), 2, 2)));
        check!(shown.contains(&("百名志愿者".to_string(), 1, 5)));
        eq!(list.len(), 3);
    })
    .await;
}
