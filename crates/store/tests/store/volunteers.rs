//! Volunteer service: volunteers and teams, sign-up with a waitlist that promotes in the same
//! transaction and never exceeds capacity under concurrent writers, signed check-in codes that
//! refuse replay, other activities and second check-ins, hours clipped to the activity,
//! corrections as new records, and manual records that need a second person.

use chrono::{TimeDelta, Utc};
use gongjian_domain::volunteers::activities::{ActivityForm, TeamForm, VolunteerForm};
use gongjian_domain::volunteers::attendance::{CODE_SECONDS, CorrectionForm, ManualForm, Purpose};
use gongjian_store::points::SchemeForm;
use gongjian_store::volunteers::{Activity, BatchAttendance};

use super::people::{id_with_check, resident};
use super::*;

/// A staff user with a real account (organisers and confirmers are users).
async fn staff_user(db: &Db, name: &str, node: &Node) -> Actor {
    let s = &db.store;
    let u = s
        .add_user(name, name, "Test-Passw0rd!", false, Role::CommunityStaff, Some(node.id))
        .await
        .expect("user");
    s.actor(u.id).await.expect("actor")
}

/// A resident with an account linked to their record.
async fn resident_user(db: &Db, staff: &Actor, name: &str, n: u32, home: &Node) -> (Actor, i64) {
    let s = &db.store;
    let p = s
        .create_person(
            staff,
            &resident(name, &id_with_check(&format!("44060419850315{n:03}")), "", home),
            "t",
        )
        .await
        .expect("person");
    let u = s
        .add_user(
            &format!("res{n}"),
            name,
            "Test-Passw0rd!",
            false,
            Role::Resident,
            Some(home.id),
        )
        .await
        .expect("user");
    s.link_person(staff, u.id, p.id, "t").await.expect("link");
    (s.actor(u.id).await.expect("actor"), p.id)
}

/// An activity running from an hour ago to an hour from now, sign-up open until its end.
fn running(now: chrono::DateTime<Utc>, title: &str, capacity: i64) -> ActivityForm {
    ActivityForm {
        title: title.into(),
        kind: "volunteer".into(),
        place: "社区广场".into(),
        starts_at: (now - TimeDelta::hours(1)).to_rfc3339(),
        ends_at: (now + TimeDelta::hours(1)).to_rfc3339(),
        capacity: capacity.to_string(),
        signup_opens_at: (now - TimeDelta::hours(2)).to_rfc3339(),
        signup_closes_at: (now + TimeDelta::hours(1)).to_rfc3339(),
        ..ActivityForm::default()
    }
}

async fn statuses(db: &Db, staff: &Actor, a: &Activity) -> Vec<(String, String)> {
    let rows = db.store.signups(staff, a.id).await.expect("signups");
    rows.into_iter().map(|s| (s.person_name, s.status)).collect()
}

#[tokio::test]
async fn volunteers_teams_and_a_waitlist_that_promotes() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = staff_user(db, "organiser", &t["a1"]).await;
        let sibling = scoped(Role::CommunityStaff, &t["a2"]);
        let grid = &t["a1g1a"];
        let (zhang, zp) = resident_user(db, &staff, "张三", 1, grid).await;
        let (li, lp) = resident_user(db, &staff, "李四", 2, grid).await;
        let (wang, _) = resident_user(db, &staff, "王五", 3, grid).await;

        // Volunteers: consent is required; numbers are V + community code + sequence.
        let form = |p: i64, consent: &str| VolunteerForm {
            person_id: p.to_string(),
            node_id: t["a1"].id.to_string(),
            skills: "维修，摄影".into(),
            consent: consent.into(),
            public_name: String::new(),
        };
        refused(
            s.register_volunteer(&staff, &form(zp, ""), "t").await,
            "consent",
            "同意",
        );
        let v1 = s
            .register_volunteer(&staff, &form(zp, "on"), "t")
            .await
            .expect("volunteer");
        let v2 = s
            .register_volunteer(&staff, &form(lp, "true"), "t")
            .await
            .expect("volunteer");
        eq!(v1.volunteer_no, "V4406040010010001");
        eq!(v2.volunteer_no, "V4406040010010002");
        eq!(v1.skills, "维修、摄影");
        refused(
            s.register_volunteer(&staff, &form(zp, "on"), "t").await,
            "person_id",
            "已是志愿者",
        );
        not_found(s.volunteer(&sibling, v1.id).await);
        let page = s
            .volunteers_under(&staff, t["a1"].id, "李", "", None, 10)
            .await
            .expect("list");
        eq!(page.items.len(), 1);

        // Teams with a leader and members; dissolving keeps the history.
        let team = s
            .create_team(
                &staff,
                &TeamForm {
                    name: "青年志愿服务队".into(),
                    focus: "关爱老人".into(),
                    node_id: t["a1"].id.to_string(),
                    unit_id: String::new(),
                },
                "t",
            )
            .await
            .expect("team");
        s.add_team_member(&staff, team.id, v1.id, true, "t")
            .await
            .expect("leader");
        let members = s
            .add_team_member(&staff, team.id, v2.id, false, "t")
            .await
            .expect("member");
        eq!(members.len(), 2);
        eq!(members.iter().filter(|m| m.role == "leader").count(), 1);
        s.leave_volunteer(&staff, v2.id, "t").await.expect("leave");
        eq!(s.team_members(&staff, team.id).await.expect("members").len(), 1);
        eq!(
            s.dissolve_team(&staff, team.id, "t").await.expect("dissolve").status,
            "dissolved"
        );

        // Validation names each field.
        let mut bad = running(s.now(), "", 0);
        bad.ends_at = bad.starts_at.clone();
        match s.create_activity(&staff, t["a1"].id, &bad, "t").await {
            Err(StoreError::Invalid(v)) => {
                for f in ["title", "capacity", "ends_at"] {
                    check!(v.message_for(f).is_some());
                }
            }
            other => panic!("expected field errors, got {other:?}"),
        }
        not_found(
            s.create_activity(&sibling, t["a1"].id, &running(s.now(), "x", 1), "t")
                .await,
        );

        // Capacity 2: the third is waitlisted; a cancellation promotes them at once.
        let a = s
            .create_activity(&staff, t["a1"].id, &running(s.now(), "清洁家园", 2), "t")
            .await
            .expect("activity");
        eq!(a.organiser_name, "organiser");
        s.sign_up(&zhang, a.id, None, "t").await.expect("zhang");
        s.sign_up(&li, a.id, None, "t").await.expect("li");
        let w = s.sign_up(&wang, a.id, None, "t").await.expect("wang");
        eq!(w.status, "waitlisted");
        refused(s.sign_up(&wang, a.id, None, "t").await, "activity_id", "已报名");
        // A resident signs up only themselves.
        check!(matches!(
            s.sign_up(&zhang, a.id, Some(lp), "t").await,
            Err(StoreError::Forbidden)
        ));
        s.cancel_signup(&zhang, a.id, None, "t").await.expect("cancel");
        eq!(
            statuses(db, &staff, &a).await,
            vec![
                ("李四".to_string(), "confirmed".to_string()),
                ("王五".to_string(), "confirmed".to_string()),
                ("张三".to_string(), "cancelled".to_string()),
            ]
        );
        // Signing up again joins the end of the queue.
        eq!(
            s.sign_up(&zhang, a.id, None, "t").await.expect("again").status,
            "waitlisted"
        );
        // Raising the capacity promotes; lowering it below the confirmed is refused.
        let mut more = running(s.now(), "清洁家园", 3);
        more.signup_opens_at = String::new();
        let a2 = s.update_activity(&staff, a.id, &more, "t").await.expect("update");
        eq!((a2.confirmed, a2.waitlisted), (3, 0));
        refused(
            s.update_activity(&staff, a.id, &running(s.now(), "清洁家园", 1), "t")
                .await,
            "capacity",
            "不能少于",
        );
        // A sibling community's staff cannot see it.
        not_found(s.activity(&sibling, a.id).await);
        not_found(s.signups(&sibling, a.id).await);
    })
    .await;
}

#[tokio::test]
async fn concurrent_sign_ups_never_exceed_capacity() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = staff_user(db, "organiser", &t["a1"]).await;
        let a = s
            .create_activity(&staff, t["a1"].id, &running(s.now(), "百场群众活动", 10), "t")
            .await
            .expect("activity");
        let mut people = Vec::new();
        for i in 0..40 {
            let p = s
                .create_person(
                    &staff,
                    &resident(
                        &format!("居民{i}"),
                        &id_with_check(&format!("44060419900101{i:03}")),
                        "",
                        &t["a1g1a"],
                    ),
                    "t",
                )
                .await
                .expect("person");
            people.push(p.id);
        }
        let aid = a.id;
        let mut tasks = Vec::new();
        for p in people {
            let (s, staff) = (s.clone(), staff.clone());
            tasks.push(tokio::spawn(async move { s.sign_up(&staff, aid, Some(p), "t").await }));
        }
        let mut confirmed = 0;
        for task in tasks {
            let r = task.await.expect("join").expect("sign-up");
            if r.status == "confirmed" {
                confirmed += 1;
            }
        }
        eq!(confirmed, 10);
        let a = s.activity(&staff, a.id).await.expect("activity");
        eq!((a.confirmed, a.waitlisted), (10, 30));
        // Concurrent cancellations each promote one: still exactly full.
        let rows = s.signups(&staff, a.id).await.expect("signups");
        let mut tasks = Vec::new();
        for r in rows.iter().filter(|r| r.status == "confirmed").take(5) {
            let (s, staff, p) = (s.clone(), staff.clone(), r.person_id);
            tasks.push(tokio::spawn(
                async move { s.cancel_signup(&staff, aid, Some(p), "t").await },
            ));
        }
        for task in tasks {
            task.await.expect("join").expect("cancel");
        }
        let a = s.activity(&staff, a.id).await.expect("activity");
        eq!((a.confirmed, a.waitlisted), (10, 25));
    })
    .await;
}

#[tokio::test]
async fn codes_refuse_replay_other_activities_and_second_check_ins_and_hours_are_clipped() {
    // At 10:00; an activity ending at 23:50 checked out at 00:10; one running across midnight
    // (23:30 ± 1 hour); one begun before midnight and checked into after it (00:10).
    for (hour, minute) in [(10, 0), (22, 50), (23, 30), (0, 10)] {
        for_each_engine(async |db| {
            db.store.clock().set(china_time(hour, minute));
            codes_story(db).await
        })
        .await;
    }
}

/// 16 November 2026 at `hour:minute` China time.
fn china_time(hour: u32, minute: u32) -> chrono::DateTime<Utc> {
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 16).expect("day");
    day.and_hms_opt(hour, minute, 0).expect("time").and_utc() - TimeDelta::hours(8)
}

async fn codes_story(db: &Db) {
    let t = build_tree(db).await;
    let s = &db.store;
    let staff = staff_user(db, "organiser", &t["a1"]).await;
    let other_staff = staff_user(db, "colleague", &t["a1"]).await;
    let grid = &t["a1g1a"];
    let (zhang, zp) = resident_user(db, &staff, "张三", 1, grid).await;
    let (li, lp) = resident_user(db, &staff, "李四", 2, grid).await;
    let (wang, _) = resident_user(db, &staff, "王五", 3, grid).await;
    let (zhao, zhp) = resident_user(db, &staff, "赵六", 4, grid).await;
    let scheme = s
        .create_scheme(
            &staff,
            &SchemeForm {
                name: "志愿积分".into(),
                kind: "volunteer".into(),
                node_id: Some(t["a1"].id),
                rules: None,
            },
            "t",
        )
        .await
        .expect("scheme");
    let mut form = running(s.now(), "敬老服务", 3);
    form.scheme_id = scheme.id.to_string();
    form.points_per_hour = "10".into();
    let a = s.create_activity(&staff, t["a1"].id, &form, "t").await.expect("a");
    let b = s
        .create_activity(&staff, t["a1"].id, &running(s.now(), "另一活动", 5), "t")
        .await
        .expect("b");
    for who in [&zhang, &li, &zhao] {
        s.sign_up(who, a.id, None, "t").await.expect("sign up");
    }
    let start = s.now() - TimeDelta::hours(1);
    let early = start - TimeDelta::minutes(20);

    // Only those who manage the activity see its code.
    check!(matches!(
        s.checkin_code(&zhang, a.id, Purpose::In).await,
        Err(StoreError::Forbidden)
    ));
    let code = s.code_at(a.id, Purpose::In, early).code;
    let check = |who: &Actor, id: i64, p: Purpose, c: String, at: chrono::DateTime<Utc>| {
        let (s, who) = (s.clone(), who.clone());
        async move { s.check_with_code_at(&who, id, p, &c, at, "t").await }
    };
    // Expired: no replay after expiry.
    let late = early + TimeDelta::seconds(CODE_SECONDS + 1);
    refused(
        check(&zhang, a.id, Purpose::In, code.clone(), late).await,
        "code",
        "过期",
    );
    // Another activity's code, a tampered code, the wrong purpose.
    let b_code = s.code_at(b.id, Purpose::In, early).code;
    refused(
        check(&zhang, a.id, Purpose::In, b_code, early).await,
        "code",
        "另一个活动",
    );
    let tampered = code.replacen(&format!("{}.", a.id), &format!("{}.", b.id), 1);
    refused(check(&zhang, b.id, Purpose::In, tampered, early).await, "code", "无效");
    refused(
        check(&zhang, a.id, Purpose::Out, code.clone(), early).await,
        "code",
        "签到码",
    );
    // Not signed up: no walk-ins by code.
    refused(
        check(&wang, a.id, Purpose::In, code.clone(), early).await,
        "code",
        "未报名",
    );
    // Outside the activity's days.
    let tomorrow = early + TimeDelta::days(2);
    let t_code = s.code_at(a.id, Purpose::In, tomorrow).code;
    refused(
        check(&zhang, a.id, Purpose::In, t_code, tomorrow).await,
        "code",
        "活动当天",
    );
    // Once, not twice.
    let ok = check(&zhang, a.id, Purpose::In, code.clone(), early)
        .await
        .expect("check in");
    check!(ok.checked_in_at.is_some());
    refused(
        check(&zhang, a.id, Purpose::In, code.clone(), early).await,
        "code",
        "重复签到",
    );
    refused(
        check(
            &li,
            a.id,
            Purpose::Out,
            s.code_at(a.id, Purpose::Out, early).code,
            early,
        )
        .await,
        "code",
        "尚未签到",
    );
    // Zhang stays 20 minutes past the end: hours stop at the end.
    let end = start + TimeDelta::hours(2);
    let after = end + TimeDelta::minutes(20);
    check(
        &zhang,
        a.id,
        Purpose::Out,
        s.code_at(a.id, Purpose::Out, after).code,
        after,
    )
    .await
    .expect("check out");
    // Li checks in half an hour in, without a check-out; Zhao had no phone: ticked by staff.
    let mid = start + TimeDelta::minutes(30);
    check(&li, a.id, Purpose::In, s.code_at(a.id, Purpose::In, mid).code, mid)
        .await
        .expect("li in");
    let rows = s.signups(&staff, a.id).await.expect("signups");
    let zhao_row = rows.iter().find(|r| r.person_id == zhp).expect("zhao");
    s.confirm_presence(
        &staff,
        a.id,
        &BatchAttendance {
            present: vec![zhao_row.id],
        },
        "t",
    )
    .await
    .expect("presence");

    // Only the organiser confirms; then one record each, never longer than the activity.
    check!(matches!(
        s.confirm_attendance(&other_staff, a.id, "t").await,
        Err(StoreError::Forbidden)
    ));
    let out = s.confirm_attendance(&staff, a.id, "t").await.expect("confirm");
    eq!(out.points_pending.len(), 0);
    eq!(out.records.len(), 3);
    let duration = (end - start).num_minutes();
    for r in &out.records {
        check!(r.minutes <= duration);
        eq!(r.source, "attendance");
        eq!(r.confirmed_by, staff.user_id);
        eq!(r.organiser_name, "organiser");
    }
    let zr = out.records.iter().find(|r| r.person_id == zp).expect("zhang record");
    eq!(zr.minutes, duration);
    check!(zr.points_tx_id.is_some());
    eq!(s.balance(&zhang, scheme.id, zp).await.expect("balance"), 20);
    let lr = out.records.iter().find(|r| r.person_id == lp).expect("li record");
    check!(lr.minutes > 0 && lr.minutes < duration);
    // Confirming again is refused; crediting again answers the same transaction.
    refused(s.confirm_attendance(&staff, a.id, "t").await, "activity_id", "已确认");
    let again = s.credit_record_points(&staff, zr.id, "t").await.expect("again");
    eq!(again, zr.points_tx_id);
    eq!(s.balance(&zhang, scheme.id, zp).await.expect("balance"), 20);

    // A correction is a new record; the original stays; the total is the corrected value.
    let fix = CorrectionForm {
        hours: "1.5".into(),
        reason: "提前离场".into(),
    };
    let c = s.correct_record(&staff, zr.id, &fix, "t").await.expect("correct");
    eq!(
        (c.source.as_str(), c.corrects_id, c.minutes, c.delta_minutes),
        ("correction", Some(zr.id), 90, 90 - duration)
    );
    let original = s.service_record(&staff, zr.id).await.expect("original");
    eq!(
        (original.minutes, original.delta_minutes),
        (zr.minutes, zr.delta_minutes)
    );
    refused(s.correct_record(&staff, zr.id, &fix, "t").await, "hours", "最新");
    // The points follow: 1.5 hours earn 15, so 5 of the 20 go back.
    check!(c.points_tx_id.is_some());
    eq!(s.balance(&zhang, scheme.id, zp).await.expect("balance"), 15);
    let (records, total) = s.records_of_person(&zhang, zp).await.expect("mine");
    eq!(total, 90);
    eq!(records.len(), 2);
    let c2 = s
        .correct_record(
            &staff,
            c.id,
            &CorrectionForm {
                hours: "1".into(),
                reason: "再核".into(),
            },
            "t",
        )
        .await
        .expect("correct the correction");
    eq!(c2.delta_minutes, -30);
    eq!(s.balance(&zhang, scheme.id, zp).await.expect("balance"), 10);
    eq!(s.records_of_person(&staff, zp).await.expect("records").1, 60);
    let raw = db
        .scalar(&format!("SELECT COUNT(*) FROM service_records WHERE id = {}", zr.id))
        .await;
    eq!(raw, 1);
}

#[tokio::test]
async fn a_manual_record_needs_another_confirmer() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let clerk = staff_user(db, "clerk", &t["a1"]).await;
        let head = staff_user(db, "head", &t["a1"]).await;
        let sibling = staff_user(db, "sibling", &t["a2"]).await;
        let (me, pid) = resident_user(db, &clerk, "张三", 1, &t["a1g1a"]).await;
        let form = ManualForm {
            person_id: pid.to_string(),
            node_id: t["a1"].id.to_string(),
            served_on: "2026-01-05".into(),
            hours: "2".into(),
            content: "慰问独居老人".into(),
            reason: "现场无网络".into(),
            ..ManualForm::default()
        };
        match s.enter_manual_record(&clerk, &ManualForm::default(), "t").await {
            Err(StoreError::Invalid(v)) => {
                for f in ["person_id", "served_on", "hours", "content", "reason"] {
                    check!(v.message_for(f).is_some());
                }
            }
            other => panic!("expected field errors, got {other:?}"),
        }
        let d = s.enter_manual_record(&clerk, &form, "t").await.expect("manual");
        eq!(d.status, "pending");
        // Nothing counts before confirmation.
        eq!(s.records_of_person(&me, pid).await.expect("mine").1, 0);
        refused(
            s.decide_manual_record(&clerk, d.id, true, "", "t").await,
            "confirmed_by",
            "录入人以外",
        );
        not_found(s.decide_manual_record(&sibling, d.id, true, "", "t").await);
        let done = s
            .decide_manual_record(&head, d.id, true, "", "t")
            .await
            .expect("confirm");
        eq!(done.status, "confirmed");
        let r = s
            .service_record(&clerk, done.record_id.expect("record"))
            .await
            .expect("record");
        eq!(
            (r.source.as_str(), r.recorded_by, r.confirmed_by, r.minutes),
            ("manual", clerk.user_id, head.user_id, 120)
        );
        eq!(s.records_of_person(&me, pid).await.expect("mine").1, 120);
        refused(
            s.decide_manual_record(&head, d.id, true, "", "t").await,
            "status",
            "已处理",
        );
    })
    .await;
}

/// Points that could not be issued when attendance was confirmed (the scheme was paused) are
/// issued by the retry job once they can be, exactly once.
#[tokio::test]
async fn pending_points_are_issued_by_the_retry_job_once() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = staff_user(db, "organiser", &t["a1"]).await;
        let (zhang, zp) = resident_user(db, &staff, "张三", 1, &t["a1g1a"]).await;
        let scheme = s
            .create_scheme(
                &staff,
                &SchemeForm {
                    name: "志愿积分".into(),
                    kind: "volunteer".into(),
                    node_id: Some(t["a1"].id),
                    rules: None,
                },
                "t",
            )
            .await
            .expect("scheme");
        let mut form = running(s.now(), "敬老服务", 3);
        form.scheme_id = scheme.id.to_string();
        form.points_per_hour = "10".into();
        let a = s
            .create_activity(&staff, t["a1"].id, &form, "t")
            .await
            .expect("activity");
        s.sign_up(&zhang, a.id, None, "t").await.expect("sign up");
        let row = s.signups(&staff, a.id).await.expect("signups")[0].id;
        s.confirm_presence(&staff, a.id, &BatchAttendance { present: vec![row] }, "t")
            .await
            .expect("presence");
        let pause = |status: &str| format!("UPDATE point_schemes SET status = '{status}' WHERE id = {}", scheme.id);
        db.exec(&pause("disabled")).await;
        let out = s.confirm_attendance(&staff, a.id, "t").await.expect("confirm");
        eq!(out.points_pending.len(), 1);
        let record = out.points_pending[0];
        // Still paused: the job leaves it pending.
        let run = s.retry_pending_points(100).await.expect("retry");
        eq!((run.credited.len(), run.pending.clone()), (0, vec![record]));
        eq!(s.balance(&zhang, scheme.id, zp).await.expect("balance"), 0);
        db.exec(&pause("active")).await;
        let run = s.retry_pending_points(100).await.expect("retry");
        eq!((run.credited.clone(), run.pending.len()), (vec![record], 0));
        eq!(s.balance(&zhang, scheme.id, zp).await.expect("balance"), 20);
        check!(
            s.service_record(&staff, record)
                .await
                .expect("record")
                .points_tx_id
                .is_some()
        );
        // Nothing left: a second run pays nothing twice.
        let run = s.retry_pending_points(100).await.expect("retry");
        eq!((run.credited.len(), run.pending.len()), (0, 0));
        eq!(s.balance(&zhang, scheme.id, zp).await.expect("balance"), 20);
    })
    .await;
}
