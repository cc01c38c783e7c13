//! The demo cities: exact counts from the real division list.

use super::*;

/// The secondary indexes of `persons` with the statements that create them.
async fn persons_indexes(db: &Db) -> Vec<(String, String)> {
    let s = &db.store;
    let q = sqlx::query_as(s.engine().index_definitions_sql()).bind("persons");
    q.fetch_all(s.pool()).await.unwrap()
}

#[tokio::test]
async fn demo_cities_load_with_exact_counts() {
    for_each_engine(async |db: &Db| {
        let (s, me) = (&db.store, &admin());
        let load = async |city| s.load_demo(city, Scale::Small, &|_, _, _| {}).await;
        let migrated = persons_indexes(db).await;
        let r = load(DemoCity::Foshan).await.unwrap();
        eq!((r.districts, r.streets, r.communities), (5, 32, 809));
        // The demo's activity organisers are disabled records: the administrator is still made.
        check!(s.ensure_admin().await.unwrap().is_some());
        eq!((r.grids_l2, r.grids_l3), (5302, 10721));
        // 52 agency committees and 586 part-time members' posts come with double registration.
        eq!((r.party_orgs, r.residents, r.posts), (2548 + 52, 32163, 9571 + 586));
        eq!(db.scalar("SELECT COUNT(*) FROM persons").await, 32163);
        // The indexes set aside during the load are back, exactly as the migration made them.
        eq!(persons_indexes(db).await, migrated);
        // Residents are stored like any other: encrypted, hashed with the store's key, masked.
        let (enc, hash, masked, birth): (String, String, String, String) = sqlx::query_as(
            "SELECT id_number_enc, id_number_hash, id_number_masked, birth_date FROM persons ORDER BY id LIMIT 1",
        )
        .fetch_one(s.pool())
        .await
        .unwrap();
        let id = s.keyring().decrypt("id_number", &enc).unwrap();
        eq!(id.as_str(), "440604194001010015");
        eq!(hash, s.keyring().lookup_hash("id_number", &id));
        eq!((masked.as_str(), birth.as_str()), ("440604********0015", "1940-01-01"));
        let city = s.node_by_code(me, "440600000000").await.unwrap();
        eq!(city.id, r.city_id);
        eq!(city.name, "佛山市");
        eq!(db.counts(&city).await, "5/32/809/5302/10721");
        let nodes = db.scalar("SELECT COUNT(*) FROM nodes").await;
        eq!(nodes, 1 + 5 + 32 + 809 + 5302 + 10721);
        let orgs = db.scalar("SELECT COUNT(*) FROM party_orgs").await;
        eq!(orgs, r.party_orgs as i64);

        // Double registration: two members per community registered, one cadre sent down per
        // community, 75 seconded secretaries, 586 part-time members, each community paired with
        // one of the 52 agencies (12 of the city, 8 in each district) — and the metrics agree.
        let reg = r.registration;
        eq!(
            (reg.registrations, reg.members, reg.deployments),
            (1618, 1618, 809 + 75)
        );
        eq!(reg.units, 52 + 809);
        let metric = async |id: &str| {
            s.metric(me, id, "440600000000", &gongjian_store::stats::Period::default())
                .await
                .unwrap()
        };
        let active = db
            .scalar("SELECT COUNT(*) FROM registrations WHERE status = 'active'")
            .await;
        check!(active > 1500);
        eq!(metric("people.in_service_reported").await.value, Some(active as f64));
        eq!(metric("people.agency_secretaries").await.value, Some(75.0));
        eq!(metric("org.big_committee.part_time_members").await.value, Some(586.0));
        eq!(metric("people.org_pairings").await.value, Some(52.0));
        eq!(metric("people.cadres_deployed").await.value, Some(884.0));
        eq!(metric("people.party_members").await.value, Some(1618.0));
        eq!(metric("letters.thanks_sent").await.value, Some(809.0));
        let one_shoulder = metric("org.community.one_shoulder").await;
        eq!(
            (one_shoulder.numerator, one_shoulder.denominator),
            (Some(809), Some(809))
        );
        eq!(metric("org.community.reserve_cadres").await.min, Some(2));
        check!(metric("org.street.instructors_min").await.min >= Some(5));

        // Volunteer service: the first community has 1200 volunteers in 8 teams; the ledger
        // balances; the five "hundreds" are partway.
        let v = r.volunteers;
        eq!(
            (v.volunteers, v.teams, v.activities, v.records, v.campaigns),
            (1440, 28, 140, 2419, 5)
        );
        let showcase: String = sqlx::query_scalar("SELECT code FROM nodes WHERE level = 4 ORDER BY code LIMIT 1")
            .fetch_one(s.pool())
            .await
            .unwrap();
        let at = async |id: &str, code: &str| {
            s.metric(me, id, code, &gongjian_store::stats::Period::default())
                .await
                .unwrap()
        };
        eq!(at("volunteer.count", &showcase).await.value, Some(1200.0));
        eq!(at("volunteer.teams", &showcase).await.value, Some(8.0));
        eq!(metric("volunteer.count").await.value, Some(v.volunteers as f64));
        eq!(metric("volunteer.teams").await.value, Some(v.teams as f64));
        check!(s.verify_ledger().await.unwrap().is_sound());
        let progress = at("center.campaign.progress", &showcase).await;
        // 16 activities of each of four kinds held, and 80 of 100 volunteers.
        eq!(
            (progress.numerator, progress.denominator),
            (Some(16 * 4 + 80), Some(500))
        );
        let hours = metric("volunteer.hours").await.value.unwrap_or(0.0);
        check!(hours > 1000.0);
        check!(metric("points.redemptions").await.value > Some(10.0));
        check!(metric("volunteer.beneficiaries").await.value > Some(1000.0));

        let again = load(DemoCity::Foshan).await;
        refused(again, "city", "演示城市“佛山市”已经存在");
        eq!(db.scalar("SELECT COUNT(*) FROM nodes").await, nodes);

        for demo in [DemoCity::Yuquan, DemoCity::Toutunhe] {
            let r = load(demo).await.unwrap();
            let want = [1, r.streets, r.communities, r.grids_l2, r.grids_l3];
            let want = want.map(|n| n.to_string()).join("/");
            eq!(db.counts(&db.node(r.city_id).await).await, want);
            check!(r.communities > 0 && r.grids_l3 > r.grids_l2);
        }
        let roots = ["150100000000", "440600000000", "650100000000"];
        eq!(codes(&s.roots(me).await.unwrap()), roots);

        // Ordinary writes after the bulk loads get fresh ids (PostgreSQL's identities advanced).
        let level = Some(Level::Community);
        let page = s.search_nodes(me, "4406", level, None, 1).await.unwrap();
        let community = &page.items[0];
        let existing = db.kids(community, true, None, 500).await.items.len();
        let g = db.grid(community, "演示后新建", "estate").await;
        eq!(g.code, format!("{}{:03}", community.code, existing + 1));
        eq!(g.path, format!("{}{}/", community.path, g.id));
        let at = s.party_orgs_at(me, community.id).await.unwrap();
        eq!(at.len(), 1);
        let br = db.org(Some(&at[0]), "branch", "estate", &g).await;
        eq!(br.path, format!("{}{}/", at[0].path, br.id));
    })
    .await;
}

#[tokio::test]
async fn a_failed_demo_load_writes_nothing_and_keeps_every_index() {
    for_each_engine(async |db: &Db| {
        let s = &db.store;
        s.load_demo(DemoCity::Yuquan, Scale::Small, &|_, _, _| {})
            .await
            .unwrap();
        let indexes = persons_indexes(db).await;
        // PostgreSQL has one more: names in byte order for prefix search (migration 0006).
        eq!(indexes.len(), if ENGINE.get() == "postgres" { 5 } else { 4 });
        // A resident already holds the ID the Foshan demo gives its first resident (禅城区, born
        // 1940-01-01, sequence 001). The load sets the unique ID index aside, so the second copy
        // is found only when the index is built again at its end: the whole load rolls back.
        let hash = s.keyring().lookup_hash("id_number", "440604194001010015");
        sqlx::query(
            "INSERT INTO persons (name, id_number_hash, home_node_id, created_at, updated_at) \
             SELECT '先来的居民', $1, MAX(id), 'x', 'x' FROM nodes",
        )
        .bind(hash)
        .execute(s.pool())
        .await
        .unwrap();
        let counts = "SELECT (SELECT COUNT(*) FROM nodes) * 1000000 + (SELECT COUNT(*) FROM persons)";
        let before = db.scalar(counts).await;
        let failed = s.load_demo(DemoCity::Foshan, Scale::Small, &|_, _, _| {}).await;
        check!(failed.is_err_and(|e| e.is_unique_violation()));
        eq!(db.scalar(counts).await, before);
        eq!(persons_indexes(db).await, indexes);
    })
    .await;
}
