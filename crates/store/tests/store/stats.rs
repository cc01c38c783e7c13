//! Metrics computed from records on a hand-built fixture with known answers.

use gongjian_domain::people::ResidentForm;
use gongjian_store::posts::PostInput;
use gongjian_store::stats::{METRICS, Period, def, metric_list};

use super::*;

/// Every metric id of the seed reports (SEED_METRICS.md).
const SEED_IDS: [&str; 61] = [
    "grid.count.l1",
    "grid.count.l2",
    "grid.count.l3",
    "org.street.posts_filled",
    "org.street.instructors_min",
    "org.community.one_shoulder",
    "org.community.cross_appointment",
    "org.community.reserve_cadres",
    "org.estate_branch.count",
    "org.estate_branch.coverage",
    "org.grid_branch.count",
    "org.big_committee.part_time_members",
    "org.industry_committee.count",
    "org.industry_committee.instructors_min",
    "org.industry_committee.contact_points",
    "org.demo_site.count",
    "people.residents",
    "people.in_service_reported",
    "people.org_pairings",
    "people.cadres_deployed",
    "people.agency_secretaries",
    "people.workers_professional",
    "people.workers_recruited",
    "people.trained_secretaries",
    "volunteer.count",
    "volunteer.teams",
    "volunteer.beneficiaries",
    "volunteer.hours",
    "points.redemptions",
    "letters.thanks_sent",
    "center.campaign.progress",
    "orders.self_service",
    "eldercare.served",
    "meeting.joint.coverage",
    "meeting.joint.held",
    "meeting.joint.structure",
    "cobuild.agreements",
    "cobuild.list_items",
    "cobuild.pairings",
    "cases.resolved",
    "disputes.resolved_on_site",
    "property.cross_appointed",
    "property.party_orgs",
    "center.count_by_level",
    "center.area_buckets",
    "center.area_compliance",
    "center.standards",
    "eval.stars_distribution",
    "eval.rectification",
    "eval.assessment_weight",
    "eval.demo_site_standards",
    "matters.key_list",
    "funds.per_community",
    "enterprise.private_share",
    "enterprise.single_build_rate",
    "enterprise.new_orgs",
    "enterprise.liaison_coverage",
    "enterprise.resumed",
    "enterprise.problems_solved",
    "enterprise.loans_assisted",
    "parking.shared_spaces",
];

#[test]
fn every_seed_metric_is_registered() {
    let list = metric_list();
    for id in SEED_IDS {
        assert!(list.iter().any(|m| m.id == id), "{id} missing from the registry");
    }
    assert_eq!(METRICS.len(), list.len());
}

#[tokio::test]
async fn organisation_metrics_come_from_posts() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let a = admin();
        let person = async |name: &str, home: &Node, elsewhere: bool| {
            let form = ResidentForm {
                name: name.into(),
                home_node_id: Some(home.id),
                registered_elsewhere: elsewhere,
                ..ResidentForm::default()
            };
            s.create_person(&scoped(Role::StreetStaff, &t["a"]), &form, "t")
                .await
                .expect("person")
                .id
        };
        let wc = db.org(None, "working_committee", "street", &t["a"]).await;
        let a1_org = db.org(Some(&wc), "committee", "community", &t["a1"]).await;
        let a2_org = db.org(Some(&wc), "committee", "community", &t["a2"]).await;
        let appoint =
            async |person: i64, kind: &str, node: Option<&Node>, org: Option<&PartyOrg>, grade: Option<&str>| {
                let input = PostInput {
                    person_id: Some(person),
                    kind: kind.into(),
                    node_id: node.map(|n| n.id),
                    org_id: org.map(|o| o.id),
                    grade: grade.map(str::to_string),
                    ..PostInput::default()
                };
                s.assign_post(&a, &input, "t").await.expect(kind);
            };
        let chen = person("陈", &t["a1g1a"], false).await;
        let li = person("李", &t["a1g1b"], true).await;
        let wang = person("王", &t["a2g1a"], true).await;
        let zhao = person("赵", &t["a2g1a"], false).await;
        // a1: one shoulder; li is a committee member and a residents'-committee member (cross).
        appoint(chen, "secretary", None, Some(&a1_org), None).await;
        appoint(chen, "rc_director", Some(&t["a1"]), None, None).await;
        appoint(li, "committee_member", None, Some(&a1_org), None).await;
        appoint(li, "rc_member", Some(&t["a1"]), None, None).await;
        appoint(li, "reserve_cadre", Some(&t["a1"]), None, None).await;
        appoint(chen, "reserve_cadre", Some(&t["a1"]), None, None).await;
        // a2: secretary and director are different people; one reserve cadre.
        appoint(wang, "secretary", None, Some(&a2_org), None).await;
        appoint(zhao, "rc_director", Some(&t["a2"]), None, None).await;
        appoint(zhao, "reserve_cadre", Some(&t["a2"]), None, None).await;
        appoint(zhao, "community_worker", Some(&t["a2"]), None, Some("二级")).await;
        appoint(wang, "community_worker", Some(&t["a2"]), None, None).await;
        // Street a: secretary and organising member, 5 instructors; street b: none.
        appoint(wang, "secretary", None, Some(&wc), None).await;
        appoint(zhao, "organising_member", None, Some(&wc), None).await;
        for p in [chen, li, wang, zhao, chen] {
            appoint(p, "instructor", Some(&t["a"]), None, None).await;
        }
        let m = async |id: &str, code: &str| s.metric(&a, id, code, &Period::default()).await.expect(id);

        let one = m("org.community.one_shoulder", "440604000000").await;
        eq!((one.numerator, one.denominator), (Some(1), Some(3)));
        let per_street = |v: &gongjian_store::stats::MetricValue| -> Vec<(String, Option<i64>, Option<i64>)> {
            v.breakdown
                .iter()
                .map(|c| (c.code.clone(), c.numerator, c.denominator))
                .collect()
        };
        eq!(
            per_street(&one),
            vec![
                ("440604001000".to_string(), Some(1), Some(2)),
                ("440604002000".to_string(), Some(0), Some(1))
            ]
        );
        eq!(one.below.len(), 2);
        let cross = m("org.community.cross_appointment", "440604000000").await;
        eq!(
            per_street(&cross),
            vec![
                ("440604001000".to_string(), Some(2), Some(4)),
                ("440604002000".to_string(), Some(0), Some(0))
            ]
        );
        // Members: a1 {chen, li} both in both committees; a2 {wang (party), zhao (rc)}.
        eq!((cross.numerator, cross.denominator), (Some(2), Some(4)));
        let reserve = m("org.community.reserve_cadres", "440604000000").await;
        eq!((reserve.min, reserve.mean), (Some(0), Some(1.0)));
        eq!(
            reserve.below.iter().map(|b| b.code.as_str()).collect::<Vec<_>>(),
            vec!["440604001002", "440604002001"]
        );
        let mins: Vec<(Option<i64>, Option<f64>)> = reserve.breakdown.iter().map(|c| (c.min, c.mean)).collect();
        eq!(mins, vec![(Some(1), Some(1.5)), (Some(0), Some(0.0))]);
        let inst = m("org.street.instructors_min", "440604000000").await;
        eq!((inst.min, inst.below.len()), (Some(0), 1));
        eq!(inst.below[0].code.as_str(), "440604002000");
        let filled = m("org.street.posts_filled", "440604000000").await;
        eq!((filled.numerator, filled.denominator), (Some(1), Some(2)));
        eq!(m("people.workers_professional", "440604000000").await.value, Some(1.0));
        let res = m("people.residents", "440604001000").await;
        eq!(
            (res.value, res.numerator, res.denominator),
            (Some(4.0), Some(2), Some(4))
        );
        eq!(m("grid.count.l3", "440604001000").await.value, Some(4.0));
        db.org(Some(&a1_org), "branch", "estate", &t["a1g1"]).await;
        eq!(m("org.estate_branch.count", "440600000000").await.value, Some(1.0));
        // Not yet available: said so, no number.
        let v = m("orders.self_service", "440600000000").await;
        check!(!v.available && v.value.is_none());
        // Scope: another street's staff cannot read this street's figures.
        not_found(
            s.metric(
                &scoped(Role::StreetStaff, &t["b"]),
                "grid.count.l3",
                "440604001000",
                &Period::default(),
            )
            .await,
        );
    })
    .await;
}

fn period(from: &str, to: &str) -> Period {
    Period::parse(Some(from), Some(to)).expect("period")
}

/// Posts over time: stocks are read as of the period's end, flows within the period; the
/// breakdown gives each child node's value, the trend each month's.
#[tokio::test]
async fn periods_breakdowns_and_trends() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let a = admin();
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let person = async |name: &str, home: &Node| {
            let form = ResidentForm {
                name: name.into(),
                home_node_id: Some(home.id),
                ..ResidentForm::default()
            };
            s.create_person(&staff, &form, "t").await.expect("person").id
        };
        let appoint = async |person: i64, kind: &str, node: &Node, started: &str| {
            let input = PostInput {
                person_id: Some(person),
                kind: kind.into(),
                node_id: Some(node.id),
                started_on: Some(started.into()),
                ..PostInput::default()
            };
            s.assign_post(&a, &input, "t").await.expect(kind).id
        };
        let chen = person("陈", &t["a1g1a"]).await;
        let li = person("李", &t["a1g1b"]).await;
        let wang = person("王", &t["a2g1a"]).await;
        let first = appoint(chen, "community_worker", &t["a1"], "2024-01-15").await;
        appoint(li, "community_worker", &t["a1"], "2024-03-10").await;
        appoint(wang, "community_worker", &t["a2"], "2024-06-01").await;
        appoint(wang, "reserve_cadre", &t["a2"], "2024-02-01").await;
        s.end_post(&a, first, Some("2024-06-30"), "t").await.expect("end");
        let m = async |id: &str, code: &str, p: &Period| s.metric(&a, id, code, p).await.expect(id);
        let workers = async |to: &str| {
            let v = m("people.community_workers", "440604001000", &period("", to)).await;
            v.value
        };
        eq!(workers("2024-01-14").await, Some(0.0));
        eq!(workers("2024-02-01").await, Some(1.0));
        eq!(workers("2024-04-01").await, Some(2.0));
        eq!(workers("2024-06-29").await, Some(3.0));
        // Ended on 30 June: not held that day.
        eq!(workers("2024-06-30").await, Some(2.0));
        eq!(
            m("people.community_workers", "440604001000", &Period::default())
                .await
                .value,
            Some(2.0)
        );

        // Hired in the period (a flow), with its breakdown by community.
        let hired = m(
            "people.workers_recruited",
            "440604001000",
            &period("2024-03-01", "2024-12-31"),
        )
        .await;
        eq!(hired.value, Some(2.0));
        eq!(
            (hired.from.as_deref(), hired.to.as_str()),
            (Some("2024-03-01"), "2024-12-31")
        );
        let by_child: Vec<(&str, Option<f64>)> = hired.breakdown.iter().map(|c| (c.code.as_str(), c.value)).collect();
        eq!(by_child, vec![("440604001001", Some(1.0)), ("440604001002", Some(1.0))]);
        eq!(
            m(
                "people.workers_recruited",
                "440604001000",
                &period("2024-01-01", "2024-02-29")
            )
            .await
            .value,
            Some(1.0)
        );
        eq!(
            m("people.workers_recruited", "440600000000", &Period::default())
                .await
                .value,
            Some(3.0)
        );

        // The breakdown of a stock as of a day, from the district down to its streets.
        let stock = m("people.community_workers", "440604000000", &period("", "2024-04-01")).await;
        let by_child: Vec<(&str, Option<f64>)> = stock.breakdown.iter().map(|c| (c.code.as_str(), c.value)).collect();
        eq!(by_child, vec![("440604001000", Some(2.0)), ("440604002000", Some(0.0))]);

        // Reserve cadres per community as of a day, against the target of the settings (2).
        let reserve = m(
            "org.community.reserve_cadres",
            "440604001000",
            &period("", "2024-03-01"),
        )
        .await;
        eq!((reserve.min, reserve.target), (Some(0), Some(2.0)));
        eq!(reserve.below.len(), 2);
        let early = m(
            "org.community.reserve_cadres",
            "440604001000",
            &period("", "2024-01-01"),
        )
        .await;
        eq!(early.mean, Some(0.0));
        sqlx::query("UPDATE metric_targets SET target = 1 WHERE metric_id = 'org.community.reserve_cadres'")
            .execute(s.pool())
            .await
            .expect("target");
        let reserve = m(
            "org.community.reserve_cadres",
            "440604001000",
            &period("", "2024-03-01"),
        )
        .await;
        eq!(reserve.target, Some(1.0));
        eq!(
            reserve.below.iter().map(|b| b.code.as_str()).collect::<Vec<_>>(),
            vec!["440604001001"]
        );

        // Twelve months to the end of June 2024: stocks at each month's end, flows per month.
        let street = s.node_by_code(&a, "440604001000").await.expect("street");
        let p = period("", "2024-06-15");
        let d = def("people.community_workers").expect("def");
        let trend = s.metric_trend(&a, d, &street, &p).await.expect("trend");
        eq!(trend.len(), 12);
        eq!(
            (trend[0].month.as_str(), trend[11].month.as_str()),
            ("2023-07", "2024-06")
        );
        let tail: Vec<Option<f64>> = trend[6..].iter().map(|p| p.value).collect();
        eq!(
            tail,
            vec![Some(1.0), Some(1.0), Some(2.0), Some(2.0), Some(2.0), Some(3.0)]
        );
        let d = def("people.workers_recruited").expect("def");
        let trend = s.metric_trend(&a, d, &street, &p).await.expect("trend");
        let tail: Vec<Option<f64>> = trend[6..].iter().map(|p| p.value).collect();
        eq!(
            tail,
            vec![Some(1.0), Some(0.0), Some(1.0), Some(0.0), Some(0.0), Some(1.0)]
        );
        // Current-state metrics have no trend.
        let d = def("grid.count.l3").expect("def");
        check!(s.metric_trend(&a, d, &street, &p).await.expect("trend").is_empty());

        // Residents: counted exactly below the roll-up threshold, even after a roll-up.
        eq!(s.rollup_time("residents").await.expect("time"), None);
        let at = s.refresh_rollups().await.expect("refresh");
        eq!(s.rollup_time("residents").await.expect("time"), Some(at));
        let rolled: i64 = sqlx::query_scalar("SELECT CAST(SUM(residents) AS BIGINT) FROM resident_rollup")
            .fetch_one(s.pool())
            .await
            .expect("sum");
        eq!(rolled, 3);
        person("赵", &t["a2g1a"]).await;
        let res = m("people.residents", "440604001000", &Period::default()).await;
        eq!((res.value, res.rolled_up_at), (Some(4.0), None));
        eq!(
            res.breakdown.iter().map(|c| c.value).collect::<Vec<_>>(),
            vec![Some(2.0), Some(2.0)]
        );

        // A period that makes no sense is refused field by field.
        let e = Period::parse(Some("2024-02-30"), Some("x")).expect_err("bad dates");
        check!(e.message_for("from").is_some() && e.message_for("to").is_some());
        // An unknown metric is not found; one not yet available says so, for any period.
        not_found(s.metric(&a, "no.such.metric", "440600000000", &Period::default()).await);
        let v = m(
            "meeting.joint.held",
            "440600000000",
            &period("2024-01-01", "2024-12-31"),
        )
        .await;
        check!(!v.available && v.value.is_none() && v.breakdown.is_empty());
    })
    .await;
}

/// Above the roll-up threshold the residents figure reads the roll-up, with its time, until the
/// next refresh; below it, the count is exact at once.
#[tokio::test]
async fn residents_of_a_large_subtree_come_from_the_roll_up() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let a = admin();
        let n = gongjian_store::stats::ROLLUP_THRESHOLD;
        sqlx::query(
            "INSERT INTO persons (name, home_node_id, registered_elsewhere, status, created_at, updated_at) \
             WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $1) \
             SELECT 'r', $2, n % 2, 'active', '2024-01-01T00:00:00.000000Z', '2024-01-01T00:00:00.000000Z' FROM s",
        )
        .bind(n)
        .bind(t["a2g1a"].id)
        .execute(s.pool())
        .await
        .expect("bulk residents");
        let residents = async |code: &str| {
            let v = s
                .metric(&a, "people.residents", code, &Period::default())
                .await
                .expect("residents");
            (v.value, v.numerator, v.rolled_up_at)
        };
        // Never rolled up: counted.
        eq!(residents("440600000000").await, (Some(n as f64), Some(n / 2), None));
        let at = s.refresh_rollups().await.expect("refresh");
        eq!(
            residents("440600000000").await,
            (Some(n as f64), Some(n / 2), Some(at.clone()))
        );
        // The district holds them all: it reads the roll-up, and so do its streets, which add up.
        let v = s
            .metric(&a, "people.residents", "440604000000", &Period::default())
            .await
            .expect("district");
        eq!(v.rolled_up_at, Some(at.clone()));
        let per: Vec<Option<f64>> = v.breakdown.iter().map(|c| c.value).collect();
        eq!(per, vec![Some(n as f64), Some(0.0)]);
        let form = ResidentForm {
            name: "新来的".into(),
            home_node_id: Some(t["a1g1a"].id),
            ..ResidentForm::default()
        };
        s.create_person(&scoped(Role::StreetStaff, &t["a"]), &form, "t")
            .await
            .expect("person");
        // The city still shows the roll-up of its time; the community counts at once.
        eq!(residents("440600000000").await, (Some(n as f64), Some(n / 2), Some(at)));
        eq!(residents("440604001001").await, (Some(1.0), Some(0), None));
        let at = s.refresh_rollups().await.expect("refresh");
        eq!(
            residents("440600000000").await,
            (Some(n as f64 + 1.0), Some(n / 2), Some(at))
        );
    })
    .await;
}
