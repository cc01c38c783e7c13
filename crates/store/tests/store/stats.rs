//! Metrics computed from records on a hand-built fixture with known answers.

use gongjian_domain::people::ResidentForm;
use gongjian_store::posts::PostInput;
use gongjian_store::stats::{METRICS, metric_list};

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
        let m = async |id: &str, code: &str| s.metric(&a, id, code).await.expect(id);

        let one = m("org.community.one_shoulder", "440604000000").await;
        eq!((one.numerator, one.denominator), (Some(1), Some(3)));
        let cross = m("org.community.cross_appointment", "440604000000").await;
        // Members: a1 {chen, li} both in both committees; a2 {wang (party), zhao (rc)}.
        eq!((cross.numerator, cross.denominator), (Some(2), Some(4)));
        let reserve = m("org.community.reserve_cadres", "440604000000").await;
        eq!((reserve.min, reserve.mean), (Some(0), Some(1.0)));
        eq!(
            reserve.below.iter().map(|b| b.code.as_str()).collect::<Vec<_>>(),
            vec!["440604001002", "440604002001"]
        );
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
        let v = m("volunteer.count", "440600000000").await;
        check!(!v.available && v.value.is_none());
        // Scope: another street's staff cannot read this street's figures.
        not_found(
            s.metric(&scoped(Role::StreetStaff, &t["b"]), "grid.count.l3", "440604001000")
                .await,
        );
    })
    .await;
}
