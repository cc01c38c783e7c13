//! Party members, units in the area and double registration (双报到).

use gongjian_domain::members::MemberForm;
use gongjian_domain::registration::{RegStatus, ServiceForm};
use gongjian_domain::units::{ContactForm, UnitForm};
use gongjian_store::members::TransferInput;
use gongjian_store::registrations::{DeploymentInput, PairingInput, RegistrationInput, SelfRegistrationForm};

use super::people::{id_with_check, resident};
use super::*;

fn unit(name: &str, code: &str, kind: &str, at: &Node) -> UnitForm {
    UnitForm {
        name: name.into(),
        credit_code: code.into(),
        kind: kind.into(),
        node_id: Some(at.id),
        address: String::new(),
    }
}

fn member(person: i64, org: &PartyOrg, status: &str, joined: &str) -> MemberForm {
    MemberForm {
        person_id: Some(person),
        org_id: Some(org.id),
        status: status.into(),
        joined_on: joined.into(),
        full_on: String::new(),
    }
}

fn service(on: &str, hours: &str, rating: &str) -> ServiceForm {
    ServiceForm {
        served_on: on.into(),
        hours: hours.into(),
        description: "政策宣传".into(),
        rating: rating.into(),
    }
}

#[tokio::test]
async fn members_transfer_with_history() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let c1 = db.org(None, "committee", "community", &t["a1"]).await;
        let b1 = db.org(Some(&c1), "branch", "community", &t["a1"]).await;
        let b2 = db.org(Some(&c1), "branch", "estate", &t["a1g1"]).await;
        let p = s
            .create_person(
                &staff,
                &resident("党员甲", &id_with_check("44060419800101123"), "", &t["a1g1a"]),
                "t",
            )
            .await
            .unwrap();
        let m = s
            .add_member(&staff, &member(p.id, &b1, "预备", "2024-07-01"), "t")
            .await
            .unwrap();
        eq!(m.status.as_str(), "probationary");
        eq!(m.org_name.as_str(), b1.name.as_str());
        // Once a member, always the same record: a second membership is refused.
        refused(
            s.add_member(&staff, &member(p.id, &b2, "正式", "2024-07-01"), "t")
                .await,
            "person_id",
            "党员",
        );
        // Bad input names its fields and writes nothing.
        let mut bad = member(p.id, &b1, "群众", "2999-01-01");
        bad.org_id = None;
        match s.add_member(&staff, &bad, "t").await {
            Err(StoreError::Invalid(v)) => {
                for f in ["status", "joined_on", "org_id"] {
                    check!(v.message_for(f).is_some());
                }
            }
            other => panic!("{other:?}"),
        }
        // 转正, then a transfer to the estate branch.
        refused(
            s.make_member_full(&staff, m.id, "2024-06-30", "t").await,
            "full_on",
            "早于",
        );
        let m = s.make_member_full(&staff, m.id, "2025-07-01", "t").await.unwrap();
        eq!(m.full_on.as_deref(), Some("2025-07-01"));
        let to = |org: &PartyOrg| TransferInput {
            to_org_id: Some(org.id),
            transferred_on: "2025-08-01".into(),
            note: "搬迁".into(),
        };
        refused(
            s.transfer_member(&staff, m.id, &to(&b1), "t").await,
            "to_org_id",
            "相同",
        );
        let m = s.transfer_member(&staff, m.id, &to(&b2), "t").await.unwrap();
        eq!(m.org_id, b2.id);
        let h = s.member_transfers(&staff, m.id).await.unwrap();
        eq!(h.len(), 2);
        eq!(h[1].from_org.as_deref(), Some(b1.name.as_str()));
        eq!(h[1].to_org.as_str(), b2.name.as_str());
        // Lists by node, with filters; outsiders see nothing.
        let all = s
            .members_under(&staff, t["a"].id, &Default::default(), None, 50)
            .await
            .unwrap();
        eq!(all.items.len(), 1);
        let probationary = gongjian_store::members::MemberFilter {
            status: "probationary".into(),
            ..Default::default()
        };
        eq!(
            s.members_under(&staff, t["a"].id, &probationary, None, 50)
                .await
                .unwrap()
                .items
                .len(),
            0
        );
        not_found(s.member(&scoped(Role::CommunityStaff, &t["b1"]), m.id).await);
    })
    .await;
}

/// Membership changes lock and re-read the membership in the writing transaction: of eight
/// 转正 at once one is made and seven find it done; of eight transfers to one organisation at
/// once one is recorded, and the history has no duplicate.
#[tokio::test]
async fn concurrent_membership_changes_write_one_history() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let c1 = db.org(None, "committee", "community", &t["a1"]).await;
        let b1 = db.org(Some(&c1), "branch", "community", &t["a1"]).await;
        let b2 = db.org(Some(&c1), "branch", "estate", &t["a1g1"]).await;
        let p = s
            .create_person(
                &staff,
                &resident("党员乙", &id_with_check("44060419800101124"), "", &t["a1g1a"]),
                "t",
            )
            .await
            .unwrap();
        let m = s
            .add_member(&staff, &member(p.id, &b1, "预备", "2024-07-01"), "t")
            .await
            .unwrap();
        let audited = async |action: &str| {
            db.scalar(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND object = 'member:{}'",
                m.id
            ))
            .await
        };
        let full = (0..8).map(|_| {
            let (s, staff) = (s.clone(), staff.clone());
            tokio::spawn(async move { s.make_member_full(&staff, m.id, "2025-07-01", "t").await })
        });
        let full: Vec<_> = full.collect();
        let mut made = 0;
        for task in full {
            match task.await.expect("join") {
                Ok(_) => made += 1,
                Err(e) => check!(format!("{e:?}").contains("已是正式党员")),
            }
        }
        eq!(made, 1);
        eq!(audited("member.full").await, 1);
        let to = TransferInput {
            to_org_id: Some(b2.id),
            transferred_on: "2025-08-01".into(),
            note: "搬迁".into(),
        };
        let moves = (0..8).map(|_| {
            let (s, staff, to) = (s.clone(), staff.clone(), to.clone());
            tokio::spawn(async move { s.transfer_member(&staff, m.id, &to, "t").await })
        });
        let moves: Vec<_> = moves.collect();
        let mut moved = 0;
        for task in moves {
            match task.await.expect("join") {
                Ok(_) => moved += 1,
                Err(e) => check!(format!("{e:?}").contains("相同")),
            }
        }
        eq!(moved, 1);
        let h = s.member_transfers(&staff, m.id).await.unwrap();
        eq!(h.len(), 2);
        eq!(audited("member.transfer").await, 1);
    })
    .await;
}

#[tokio::test]
async fn units_keep_doubtful_codes_with_a_warning_and_contacts_masked() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let u = s
            .create_unit(
                &staff,
                &unit("佛山市某科技有限公司", "91440604MA4UJ5XX7C", "民营企业", &t["a1"]),
                "t",
            )
            .await
            .unwrap();
        check!(u.credit_code_warning.as_deref().is_some_and(|w| w.contains("校验位")));
        eq!(u.kind.as_str(), "private");
        refused(
            s.create_unit(&staff, &unit("另一家", "91440604ma4uj5xx7c", "民营企业", &t["a1"]), "t")
                .await,
            "credit_code",
            "已登记",
        );
        refused(
            s.create_unit(&staff, &unit("某局", "", "机关", &t["b1"]), "t").await,
            "node_id",
            "",
        );
        let c = s
            .add_contact(
                &staff,
                u.id,
                &ContactForm {
                    name: "王五".into(),
                    title: "党支部书记".into(),
                    mobile: "13912345678".into(),
                },
                "t",
            )
            .await
            .unwrap();
        eq!(c.mobile_masked.as_deref(), Some("139****5678"));
        eq!(
            s.reveal_contact(&staff, u.id, c.id, "t").await.unwrap().as_deref(),
            Some("13912345678")
        );
        // The org department reads people but may not reveal.
        let dept = actor("dept", Role::OrgDepartment, Reach::All);
        check!(s.reveal_contact(&dept, u.id, c.id, "t").await.is_err());
        let found = s
            .units_under(
                &staff,
                t["a"].id,
                &gongjian_store::units::UnitFilter {
                    q: "科技".into(),
                    kind: String::new(),
                },
                None,
                20,
            )
            .await
            .unwrap();
        eq!(found.items.len(), 1);
        eq!(
            s.unit_by_name_or_code(&staff, "91440604MA4UJ5XX7C")
                .await
                .unwrap()
                .map(|u| u.id),
            Some(u.id)
        );
        s.end_contact(&staff, u.id, c.id, "t").await.unwrap();
        eq!(s.unit_contacts(&staff, u.id).await.unwrap().len(), 0);
    })
    .await;
}

#[tokio::test]
async fn double_registration_report_and_letter() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let street = scoped(Role::StreetStaff, &t["a"]);
        let agency_org = db.org(None, "committee", "agency", &t["a"]).await;
        let bureau = s
            .create_unit(&street, &unit("禅城区民政局", "", "机关", &t["a"]), "t")
            .await
            .unwrap();
        s.set_unit_org(&street, bureau.id, Some(agency_org.id), "t")
            .await
            .unwrap();
        let p = s
            .create_person(
                &staff,
                &resident("在职甲", &id_with_check("44060419850101123"), "", &t["a1g1a"]),
                "t",
            )
            .await
            .unwrap();
        let input = RegistrationInput {
            person_id: Some(p.id),
            community_id: Some(t["a1"].id),
            employer_unit_id: Some(bureau.id),
            skills: "法律咨询，摄影".into(),
            duties: vec!["政策宣传岗".into(), "patrol".into()],
            registered_on: "2026-01-05".into(),
        };
        let r = s.register(&staff, &input, "t").await.unwrap();
        eq!(r.status.as_str(), "active");
        eq!(r.skills.as_deref(), Some("法律咨询、摄影"));
        // One open registration per person, checked in the writing transaction.
        refused(s.register(&staff, &input, "t").await, "person_id", "已在");
        // Another community's staff may not register there.
        let mut elsewhere = input.clone();
        elsewhere.community_id = Some(t["b1"].id);
        refused(s.register(&staff, &elsewhere, "t").await, "community_id", "");
        // A claim twice is refused; services count toward the report.
        refused(s.claim_duty(&staff, r.id, "patrol", "t").await, "duty", "已认领");
        s.claim_duty(&staff, r.id, "care", "t").await.unwrap();
        s.record_service(&staff, r.id, &service("2026-03-01", "2", "5"), "t")
            .await
            .unwrap();
        s.record_service(&staff, r.id, &service("2026-03-08", "1.5", "4"), "t")
            .await
            .unwrap();
        s.record_service(&staff, r.id, &service("2026-05-01", "3", ""), "t")
            .await
            .unwrap();
        refused(
            s.record_service(&staff, r.id, &service("2025-12-01", "1", ""), "t")
                .await,
            "served_on",
            "早于",
        );
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let rep = s
            .employer_report(&staff, t["a1"].id, bureau.id, day("2026-01-01"), day("2026-03-31"))
            .await
            .unwrap();
        eq!(rep.lines.len(), 1);
        eq!(rep.minutes, 210);
        eq!(rep.services, 2);
        eq!(rep.lines[0].rating, Some(4.5));
        // The post claimed today lies after the period, so it is not in the report.
        eq!(rep.lines[0].duties.as_str(), "政策宣传岗、治安巡防岗");
        let (letter, rep2) = s
            .issue_thanks_letter(&staff, t["a1"].id, bureau.id, day("2026-01-01"), day("2026-06-30"), "t")
            .await
            .unwrap();
        eq!(rep2.minutes, 390);
        eq!(s.thanks_letters(&staff, t["a1"].id).await.unwrap().len(), 1);
        eq!(letter.employer_unit_id, bureau.id);
        eq!(s.community_employers(&staff, t["a1"].id).await.unwrap()[0].members, 1);
        // Ending is allowed once; an ended registration cannot come back.
        let r = s
            .decide_registration(&staff, r.id, RegStatus::Ended, "", "t")
            .await
            .unwrap();
        eq!(r.status.as_str(), "ended");
        refused(
            s.decide_registration(&staff, r.id, RegStatus::Active, "", "t").await,
            "status",
            "不能",
        );
        let h = s.registration_history(&staff, r.id).await.unwrap();
        eq!(
            h.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            vec!["registered", "claimed", "ended"]
        );
        // Now the person may register again.
        s.register(&staff, &input, "t").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_member_registers_on_a_phone_and_the_community_confirms() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let street = scoped(Role::StreetStaff, &t["a"]);
        let agency_org = db.org(None, "committee", "agency", &t["a"]).await;
        let bureau = s
            .create_unit(&street, &unit("禅城区民政局", "", "机关", &t["a"]), "t")
            .await
            .unwrap();
        s.set_unit_org(&street, bureau.id, Some(agency_org.id), "t")
            .await
            .unwrap();
        let me = actor("dangyuan", Role::PartyMember, Reach::All);
        let place = s.registration_place(&me, "440604001001").await.unwrap();
        eq!(place.grids.len(), 2);
        not_found(s.registration_place(&me, "440604001000").await);
        // Residents' accounts may not register as members.
        not_found(
            s.registration_place(&actor("jumin", Role::Resident, Reach::All), "440604001001")
                .await,
        );
        let form = SelfRegistrationForm {
            name: "李在职".into(),
            id_number: id_with_check("44060419900202123"),
            mobile: "13712345678".into(),
            community: "440604001001".into(),
            grid_id: Some(t["a1g1"].id),
            employer: "禅城区民政局".into(),
            member_status: "正式".into(),
            joined_on: "2015-07-01".into(),
            skills: "维修".into(),
            duties: vec!["environment".into()],
        };
        let mut bad = form.clone();
        bad.employer = "不存在的单位".into();
        bad.grid_id = Some(t["a2g1"].id);
        bad.duties = vec![];
        match s.self_register(&me, &bad, "t").await {
            Err(StoreError::Invalid(v)) => {
                for f in ["employer", "grid_id", "duties"] {
                    check!(v.message_for(f).is_some());
                }
            }
            other => panic!("{other:?}"),
        }
        let r = s.self_register(&me, &form, "t").await.unwrap();
        eq!(r.status.as_str(), "pending");
        eq!(s.my_registrations(&me).await.unwrap().len(), 1);
        // The pending person is not counted as a resident until confirmed.
        eq!(s.count_people_under(&staff, t["a1"].id).await.unwrap(), 0);
        refused(s.self_register(&me, &form, "t").await, "community", "已有报到");
        let member = s
            .member_of_person(&street, r.person_id)
            .await
            .unwrap()
            .expect("membership");
        eq!(member.org_id, agency_org.id);
        refused(
            s.decide_registration(&staff, r.id, RegStatus::Rejected, "", "t").await,
            "note",
            "原因",
        );
        let r = s
            .decide_registration(&staff, r.id, RegStatus::Active, "", "t")
            .await
            .unwrap();
        eq!(r.status.as_str(), "active");
        eq!(s.count_people_under(&staff, t["a1"].id).await.unwrap(), 1);
        // The member reads their own registration, but no one else's.
        eq!(s.registration(&me, r.id).await.unwrap().id, r.id);
    })
    .await;
}

#[tokio::test]
async fn pairings_and_deployments() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let street = scoped(Role::StreetStaff, &t["a"]);
        let agency_org = db.org(None, "committee", "agency", &t["a"]).await;
        let pairing = PairingInput {
            org_id: Some(agency_org.id),
            community_id: Some(t["a1"].id),
            started_on: "2026-01-01".into(),
            ended_on: "2028-12-31".into(),
            agreement: "共建协议：每月一次主题党日".into(),
        };
        let p = s.create_pairing(&street, &pairing, "t").await.unwrap();
        refused(s.create_pairing(&street, &pairing, "t").await, "org_id", "已有结对");
        let mut bad = pairing.clone();
        bad.community_id = Some(t["a1g1"].id);
        bad.ended_on = "2025-01-01".into();
        match s.create_pairing(&street, &bad, "t").await {
            Err(StoreError::Invalid(v)) => {
                check!(v.message_for("community_id").is_some());
                check!(v.message_for("ended_on").is_some());
            }
            other => panic!("{other:?}"),
        }
        eq!(s.pairings_under(&street, t["a"].id).await.unwrap().len(), 1);
        s.end_pairing(&street, p.id, "2026-06-30", "t").await.unwrap();

        let bureau = s
            .create_unit(&street, &unit("禅城区民政局", "", "机关", &t["a"]), "t")
            .await
            .unwrap();
        let cadre = s
            .create_person(
                &street,
                &resident("干部乙", &id_with_check("44060419750101123"), "", &t["a1g1a"]),
                "t",
            )
            .await
            .unwrap();
        let mut d = DeploymentInput {
            person_id: Some(cadre.id),
            kind: "选派".into(),
            from_unit_id: Some(bureau.id),
            node_id: Some(t["a1"].id),
            started_on: "2026-02-01".into(),
            ..Default::default()
        };
        refused(s.create_deployment(&street, &d, "t").await, "post_id", "职务");
        d.kind = "deployment".into();
        let dep = s.create_deployment(&street, &d, "t").await.unwrap();
        eq!(dep.kind.as_str(), "deployment");
        eq!(s.deployments_under(&street, t["a"].id).await.unwrap().len(), 1);
    })
    .await;
}

/// The metrics of members and double registration on a small fixture with known answers.
#[tokio::test]
async fn registration_metrics_have_known_answers() {
    use gongjian_store::posts::PostInput;
    use gongjian_store::stats::Period;
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let a = admin();
        let today = s.today();
        let yesterday = today.pred_opt().unwrap().to_string();
        let all = Period::default();
        let this_year = Period::parse(Some(&format!("{}-01-01", today.format("%Y"))), None).unwrap();
        let m = async |id: &str, code: &str, p: &Period| s.metric(&a, id, code, p).await.expect(id).value;
        let (city, street_a, a1) = ("440600000000", "440604001000", "440604001001");

        // Organisations: the street's 大工委, the communities' 大党委 and branches, two agencies.
        let wc = db.org(None, "working_committee", "street", &t["a"]).await;
        let a1_org = db.org(Some(&wc), "committee", "community", &t["a1"]).await;
        let a1_branch = db.org(Some(&a1_org), "branch", "community", &t["a1"]).await;
        let b1_org = db.org(None, "committee", "community", &t["b1"]).await;
        let agency_x = db.org(None, "committee", "agency", &t["a"]).await;
        let agency_y = db.org(None, "committee", "agency", &t["b"]).await;
        let bureau = s
            .create_unit(&a, &unit("区民政局", "", "机关", &t["a"]), "t")
            .await
            .unwrap();
        let company = s
            .create_unit(&a, &unit("某公司", "", "民营企业", &t["a"]), "t")
            .await
            .unwrap();
        let mut n = 0;
        let mut person = async |grid: &str| {
            n += 1;
            s.create_person(
                &a,
                &resident(
                    &format!("居民{n}"),
                    &id_with_check(&format!("440604198001{n:02}123")),
                    "",
                    &t[grid],
                ),
                "t",
            )
            .await
            .unwrap()
            .id
        };
        let p: Vec<i64> = vec![
            person("a1g1a").await,
            person("a1g1a").await,
            person("a2g1a").await,
            person("b1g1a").await,
            person("b1g1a").await,
            person("a1g2a").await,
        ];

        // 兼职委员: two in a1's 大党委 (one ended yesterday), one in the street's 大工委.
        let appoint = async |person: i64, kind: &str, org: &PartyOrg, from: &str| {
            let input = PostInput {
                person_id: Some(person),
                kind: kind.into(),
                org_id: Some(org.id),
                started_on: Some(from.into()),
                ..Default::default()
            };
            s.assign_post(&a, &input, "t").await.unwrap()
        };
        appoint(p[0], "part_time_member", &a1_org, "2025-01-01").await;
        let ended = appoint(p[1], "part_time_member", &a1_org, "2025-01-01").await;
        s.end_post(&a, ended.id, Some(&yesterday), "t").await.unwrap();
        appoint(p[2], "part_time_member", &wc, "2025-01-01").await;
        eq!(m("org.big_committee.part_time_members", city, &all).await, Some(2.0));
        eq!(m("org.big_committee.part_time_members", a1, &all).await, Some(1.0));

        // Members: two in a1's branch, one in b1's committee.
        for (pid, org) in [(p[0], &a1_branch), (p[1], &a1_branch), (p[3], &b1_org)] {
            s.add_member(&a, &member(pid, org, "正式", "2001-07-01"), "t")
                .await
                .unwrap();
        }
        eq!(m("people.party_members", city, &all).await, Some(3.0));
        eq!(m("people.party_members", street_a, &all).await, Some(2.0));

        // Registrations: p0 active at a1, p3 active at b1 then ended today, p4 pending at b1.
        let reg = |person: i64, community: &str| RegistrationInput {
            person_id: Some(person),
            community_id: Some(t[community].id),
            employer_unit_id: Some(bureau.id),
            duties: vec!["patrol".into()],
            registered_on: "2026-01-05".into(),
            ..Default::default()
        };
        s.register(&a, &reg(p[0], "a1"), "t").await.unwrap();
        let r3 = s.register(&a, &reg(p[3], "b1"), "t").await.unwrap();
        s.decide_registration(&a, r3.id, RegStatus::Ended, "", "t")
            .await
            .unwrap();
        let me = actor("dangyuan", Role::PartyMember, Reach::All);
        let pending = SelfRegistrationForm {
            name: "居民5".into(),
            id_number: id_with_check("44060419800105123"),
            mobile: "13712345678".into(),
            community: "440604002001".into(),
            grid_id: Some(t["b1g1"].id),
            employer: "区民政局".into(),
            member_status: "正式".into(),
            joined_on: "2015-07-01".into(),
            duties: vec!["care".into()],
            ..Default::default()
        };
        s.self_register(&me, &pending, "t").await.unwrap();
        eq!(m("people.in_service_reported", city, &all).await, Some(1.0));
        let until_yesterday = Period::parse(None, Some(&yesterday)).unwrap();
        eq!(m("people.in_service_reported", city, &until_yesterday).await, Some(2.0));
        eq!(
            m("people.in_service_reported", "440604002000", &until_yesterday).await,
            Some(1.0)
        );
        // The breakdown by child nodes adds up: street a (p0 at a1) and street b (p3 at b1).
        let by_street = s
            .metric(&a, "people.in_service_reported", "440604000000", &until_yesterday)
            .await
            .unwrap();
        let kids: Vec<(String, Option<f64>)> = by_street.breakdown.iter().map(|c| (c.code.clone(), c.value)).collect();
        eq!(
            kids,
            vec![
                ("440604001000".to_string(), Some(1.0)),
                ("440604002000".to_string(), Some(1.0))
            ]
        );

        // Pairings: agency X with a1 and a2 (one organisation), agency Y with b1.
        for (org, c) in [(&agency_x, "a1"), (&agency_x, "a2"), (&agency_y, "b1")] {
            let input = PairingInput {
                org_id: Some(org.id),
                community_id: Some(t[c].id),
                started_on: "2026-01-01".into(),
                ..Default::default()
            };
            s.create_pairing(&a, &input, "t").await.unwrap();
        }
        eq!(m("people.org_pairings", city, &all).await, Some(2.0));
        eq!(m("people.org_pairings", street_a, &all).await, Some(1.0));
        eq!(
            m(
                "people.org_pairings",
                city,
                &Period::parse(None, Some("2025-12-31")).unwrap()
            )
            .await,
            Some(0.0)
        );

        // Deployments: p5 to a1 from 2026-02-01; p4 to b1 in the first half of 2025.
        let deploy = |person: i64, node: &str, from: &str, to: &str| DeploymentInput {
            person_id: Some(person),
            kind: "deployment".into(),
            from_unit_id: Some(bureau.id),
            node_id: Some(t[node].id),
            started_on: from.into(),
            ended_on: to.into(),
            ..Default::default()
        };
        s.create_deployment(&a, &deploy(p[5], "a1", "2026-02-01", ""), "t")
            .await
            .unwrap();
        s.create_deployment(&a, &deploy(p[4], "b1", "2025-01-01", "2025-06-30"), "t")
            .await
            .unwrap();
        let y2025 = Period::parse(Some("2025-01-01"), Some("2025-12-31")).unwrap();
        eq!(m("people.cadres_deployed", city, &all).await, Some(2.0));
        eq!(m("people.cadres_deployed", city, &this_year).await, Some(1.0));
        eq!(m("people.cadres_deployed", city, &y2025).await, Some(1.0));
        eq!(m("people.cadres_deployed", street_a, &y2025).await, Some(0.0));
        // A second deployment of p4, to a1 later in 2025: still one person in the city, now
        // one in each street — people are counted once per node, so the streets add up to more.
        s.create_deployment(&a, &deploy(p[4], "a1", "2025-07-01", "2025-12-31"), "t")
            .await
            .unwrap();
        eq!(m("people.cadres_deployed", city, &y2025).await, Some(1.0));
        eq!(m("people.cadres_deployed", street_a, &y2025).await, Some(1.0));
        eq!(m("people.cadres_deployed", city, &all).await, Some(2.0));
        let by_street = s
            .metric(&a, "people.cadres_deployed", "440604000000", &y2025)
            .await
            .unwrap();
        eq!(by_street.value, Some(1.0));
        let kids: Vec<Option<f64>> = by_street.breakdown.iter().map(|c| c.value).collect();
        eq!(kids, vec![Some(1.0), Some(1.0)]);

        // Seconded secretaries: p5 as a1's secretary from the bureau (an agency) counts; p2 as
        // a2's… from a company does not.
        let a2_org = db.org(Some(&wc), "committee", "community", &t["a2"]).await;
        let sec = appoint(p[5], "secretary", &a1_org, "2026-02-01").await;
        let mut d = deploy(p[5], "a1", "2026-02-01", "");
        d.kind = "secondment".into();
        d.post_id = Some(sec.id);
        s.create_deployment(&a, &d, "t").await.unwrap();
        let sec2 = appoint(p[2], "secretary", &a2_org, "2026-02-01").await;
        let mut d2 = deploy(p[2], "a2", "2026-02-01", "");
        d2.kind = "secondment".into();
        d2.post_id = Some(sec2.id);
        d2.from_unit_id = Some(company.id);
        s.create_deployment(&a, &d2, "t").await.unwrap();
        eq!(m("people.agency_secretaries", city, &all).await, Some(1.0));
        eq!(
            m(
                "people.agency_secretaries",
                city,
                &Period::parse(None, Some("2026-01-31")).unwrap()
            )
            .await,
            Some(0.0)
        );

        // Letters: one issued today by a1.
        let day = |x: &str| chrono::NaiveDate::parse_from_str(x, "%Y-%m-%d").unwrap();
        s.issue_thanks_letter(&a, t["a1"].id, bureau.id, day("2026-01-01"), today, "t")
            .await
            .unwrap();
        eq!(m("letters.thanks_sent", city, &this_year).await, Some(1.0));
        eq!(m("letters.thanks_sent", city, &y2025).await, Some(0.0));
        eq!(m("letters.thanks_sent", "440604002000", &this_year).await, Some(0.0));
    })
    .await;
}

/// A record names a unit or party organisation only when it lies in the writer's scope or is on
/// the public directory (机关、事业单位、国有企业 and their organisations): another street's
/// company or community committee is "not found" — for a registration's employer, a team's
/// unit, a deployment's sending unit, a pairing's organisation, a unit typed by name or credit
/// code, and the report to an employer — and its name is never shown.
#[tokio::test]
async fn records_name_only_units_and_organisations_in_reach_or_public() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let theirs = scoped(Role::StreetStaff, &t["b"]);
        let company = s
            .create_unit(&theirs, &unit("张槎某物业公司", "", "民营企业", &t["b1"]), "t")
            .await
            .unwrap();
        let bureau = s
            .create_unit(&theirs, &unit("张槎街道办事处", "", "机关", &t["b"]), "t")
            .await
            .unwrap();
        let their_committee = db.org(None, "committee", "community", &t["b1"]).await;
        let agency_org = db.org(None, "committee", "agency", &t["b"]).await;
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let own = s
            .create_unit(&staff, &unit("升平某公司", "", "民营企业", &t["a1"]), "t")
            .await
            .unwrap();
        let p = s
            .create_person(
                &staff,
                &resident("在职丙", &id_with_check("44060419850101777"), "", &t["a1g1a"]),
                "t",
            )
            .await
            .unwrap();

        // The rule itself.
        eq!(s.referable_unit(&staff, company.id).await.unwrap(), None);
        eq!(
            s.referable_unit(&staff, bureau.id).await.unwrap().as_deref(),
            Some("张槎街道办事处")
        );
        eq!(
            s.referable_unit(&staff, own.id).await.unwrap().as_deref(),
            Some("升平某公司")
        );
        eq!(s.referable_org(&staff, their_committee.id).await.unwrap(), None);
        check!(s.referable_org(&staff, agency_org.id).await.unwrap().is_some());
        check!(
            s.unit_by_name_or_code(&staff, "张槎某物业公司")
                .await
                .unwrap()
                .is_none()
        );
        check!(
            s.unit_by_name_or_code(&staff, "张槎街道办事处")
                .await
                .unwrap()
                .is_some()
        );

        // A registration's employer.
        let mut input = RegistrationInput {
            person_id: Some(p.id),
            community_id: Some(t["a1"].id),
            employer_unit_id: Some(company.id),
            duties: vec!["patrol".into()],
            ..Default::default()
        };
        refused(s.register(&staff, &input, "t").await, "employer_unit_id", "不存在");
        input.employer_unit_id = Some(bureau.id);
        let r = s.register(&staff, &input, "t").await.unwrap();
        eq!(r.employer_name.as_deref(), Some("张槎街道办事处"));

        // The report to an employer: the company is not found; the bureau is.
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let (from, to) = (day("2026-01-01"), day("2026-12-31"));
        not_found(s.employer_report(&staff, t["a1"].id, company.id, from, to).await);
        let rep = s
            .employer_report(&staff, t["a1"].id, bureau.id, from, to)
            .await
            .unwrap();
        eq!(rep.employer_name.as_str(), "张槎街道办事处");
        not_found(
            s.issue_thanks_letter(&staff, t["a1"].id, company.id, from, to, "t")
                .await,
        );

        // A team's unit.
        let team = |unit: i64, name: &str| gongjian_domain::volunteers::activities::TeamForm {
            name: name.into(),
            node_id: t["a1"].id.to_string(),
            unit_id: unit.to_string(),
            ..Default::default()
        };
        refused(
            s.create_team(&staff, &team(company.id, "越界服务队"), "t").await,
            "unit_id",
            "不存在",
        );
        let ok = s
            .create_team(&staff, &team(bureau.id, "共建服务队"), "t")
            .await
            .unwrap();
        eq!(ok.unit_id, Some(bureau.id));

        // A deployment's sending unit.
        let d = DeploymentInput {
            person_id: Some(p.id),
            kind: "deployment".into(),
            from_unit_id: Some(company.id),
            node_id: Some(t["a1"].id),
            started_on: "2026-02-01".into(),
            ..Default::default()
        };
        refused(s.create_deployment(&staff, &d, "t").await, "from_unit_id", "不存在");

        // A pairing's organisation.
        let mut pairing = PairingInput {
            org_id: Some(their_committee.id),
            community_id: Some(t["a1"].id),
            started_on: "2026-01-01".into(),
            ..Default::default()
        };
        refused(s.create_pairing(&staff, &pairing, "t").await, "org_id", "不存在");
        pairing.org_id = Some(agency_org.id);
        s.create_pairing(&staff, &pairing, "t").await.unwrap();

        // A unit the community's own registrations name (recorded by someone who could) stays
        // reportable to the community: the record's own reference shows its name.
        s.decide_registration(&staff, r.id, RegStatus::Ended, "", "t")
            .await
            .unwrap();
        input.employer_unit_id = Some(company.id);
        s.register(&admin(), &input, "t").await.unwrap();
        let rep = s
            .employer_report(&staff, t["a1"].id, company.id, from, to)
            .await
            .unwrap();
        eq!(rep.employer_name.as_str(), "张槎某物业公司");
    })
    .await;
}
