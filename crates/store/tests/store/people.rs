//! Residents: identifiers checked once, stored encrypted, found by keyed hash, shown masked,
//! revealed only to permitted roles.

use gongjian_domain::people::ResidentForm;
use gongjian_store::people::Sensitive;

use super::*;

/// A valid 身份证号 with the given 17 leading digits (the check character computed).
pub(crate) fn id_with_check(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let s: u32 = first17.chars().zip(W).map(|(c, w)| c.to_digit(10).unwrap() * w).sum();
    let check = b"10X98765432"[(s % 11) as usize] as char;
    format!("{first17}{check}")
}

pub(crate) fn resident(name: &str, id: &str, mobile: &str, home: &Node) -> ResidentForm {
    ResidentForm {
        name: name.into(),
        id_number: id.into(),
        mobile: mobile.into(),
        home_node_id: Some(home.id),
        household: "3栋502".into(),
        registered_elsewhere: false,
    }
}

#[tokio::test]
async fn residents_are_encrypted_deduplicated_masked_and_revealed_only_with_rights() {
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let grid = &t["a1g1a"];
        let staff = scoped(Role::CommunityStaff, &t["a1"]);
        let sibling = scoped(Role::CommunityStaff, &t["a2"]);
        let id = id_with_check("44060419850315123");
        let p = s
            .create_person(&staff, &resident("张三", &id, "+86 138-1234-5678", grid), "t")
            .await
            .expect("create");
        eq!(
            p.id_number_masked.as_deref(),
            Some(format!("440604********{}", &id[14..]).as_str())
        );
        eq!(p.mobile_masked.as_deref(), Some("138****5678"));
        eq!(p.birth_date.as_deref(), Some("1985-03-15"));
        eq!(p.sex.as_deref(), Some("male"));

        // A wrong check character is named beside the field; the same ID twice is refused.
        let mut wrong = id.clone();
        wrong.pop();
        wrong.push(if id.ends_with('0') { '1' } else { '0' });
        refused(
            s.create_person(&staff, &resident("李四", &wrong, "", grid), "t").await,
            "id_number",
            "校验位",
        );
        refused(
            s.create_person(&staff, &resident("张三", &id, "", grid), "t").await,
            "id_number",
            "已登记",
        );
        refused(
            s.create_person(&staff, &resident("王五", "", "", &t["a1"]), "t").await,
            "home_node_id",
            "网格",
        );
        refused(
            s.create_person(&sibling, &resident("王五", "", "", grid), "t").await,
            "home_node_id",
            "不存在",
        );

        // Found by name, phone tail, whole phone and whole ID; never by a sibling community.
        for q in ["张", "5678", "13812345678", id.as_str()] {
            let page = s.people_under(&staff, t["a1"].id, q, None, 10).await.expect("search");
            eq!(page.items.len(), 1);
        }
        eq!(s.count_people_under(&admin(), t["city"].id).await.unwrap(), 1);
        not_found(s.person(&sibling, p.id).await);
        not_found(s.people_under(&sibling, t["a1"].id, "", None, 10).await);

        // Reveal: community staff may, and it is audited; an organisation-department account may not.
        let full = s.reveal(&staff, p.id, Sensitive::IdNumber, "t").await.expect("reveal");
        eq!(full.as_deref(), Some(id.as_str()));
        let mobile = s.reveal(&staff, p.id, Sensitive::Mobile, "t").await.expect("reveal");
        eq!(mobile.as_deref(), Some("13812345678"));
        let dept = actor("dept", Role::OrgDepartment, Reach::All);
        check!(matches!(
            s.reveal(&dept, p.id, Sensitive::IdNumber, "t").await,
            Err(StoreError::Forbidden)
        ));
        let reveals: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'person.reveal'")
            .fetch_one(s.pool())
            .await
            .unwrap();
        eq!(reveals, 2);

        // No plaintext number anywhere in the stored rows.
        let stored: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT id_number_enc || ' ' || id_number_hash || ' ' || mobile_enc || ' ' || mobile_hash FROM persons",
        )
        .fetch_all(s.pool())
        .await
        .unwrap();
        for v in stored.into_iter().flatten() {
            check!(!v.contains(&id[..14]) && !v.contains("13812345678"));
        }
    })
    .await;
}

#[tokio::test]
async fn posts_are_held_over_time_one_secretary_at_a_time() {
    use gongjian_store::posts::PostInput;
    for_each_engine(async |db| {
        let t = build_tree(db).await;
        let s = &db.store;
        let staff = scoped(Role::StreetStaff, &t["a"]);
        let grid = &t["a1g1a"];
        let chen = s
            .create_person(&staff, &resident("陈书记", "", "", grid), "t")
            .await
            .unwrap();
        let li = s
            .create_person(&staff, &resident("李委员", "", "", grid), "t")
            .await
            .unwrap();
        let committee = db.org(None, "committee", "community", &t["a1"]).await;
        let post = |person: i64, kind: &str, node: Option<i64>, org: Option<i64>| PostInput {
            person_id: Some(person),
            kind: kind.into(),
            node_id: node,
            org_id: org,
            started_on: Some("2024-01-02".into()),
            ..PostInput::default()
        };
        let sec = s
            .assign_post(&staff, &post(chen.id, "secretary", None, Some(committee.id)), "t")
            .await
            .unwrap();
        eq!(sec.place.as_str(), committee.name.as_str());
        s.assign_post(&staff, &post(chen.id, "rc_director", Some(t["a1"].id), None), "t")
            .await
            .unwrap();
        // One secretary at a time; posts only where they exist; only inside the actor's scope.
        refused(
            s.assign_post(&staff, &post(li.id, "secretary", None, Some(committee.id)), "t")
                .await,
            "kind",
            "陈书记",
        );
        refused(
            s.assign_post(&staff, &post(li.id, "rc_director", Some(grid.id), None), "t")
                .await,
            "node_id",
            "不设在",
        );
        refused(
            s.assign_post(&staff, &post(li.id, "instructor", None, None), "t").await,
            "node_id",
            "请选择",
        );
        let other = scoped(Role::StreetStaff, &t["b"]);
        refused(
            s.assign_post(&other, &post(li.id, "grid_worker", Some(t["b1g1a"].id), None), "t")
                .await,
            "person_id",
            "",
        );
        let at = s.posts_at(&staff, t["a1"].id).await.unwrap();
        let mut kinds: Vec<&str> = at.iter().map(|p| p.kind.as_str()).collect();
        kinds.sort();
        eq!(kinds, vec!["rc_director", "secretary"]);
        // Ending the term frees the post; history stays.
        refused(
            s.end_post(&staff, sec.id, Some("2023-12-31"), "t").await,
            "ended_on",
            "早于",
        );
        s.end_post(&staff, sec.id, Some("2025-06-30"), "t").await.unwrap();
        s.assign_post(&staff, &post(li.id, "secretary", None, Some(committee.id)), "t")
            .await
            .unwrap();
        let history = s.posts_of(&staff, chen.id).await.unwrap();
        eq!(history.len(), 2);
        check!(
            history
                .iter()
                .any(|p| p.kind == "secretary" && p.ended_on.as_deref() == Some("2025-06-30"))
        );
    })
    .await;
}
