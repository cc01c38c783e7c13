-- Posts held by people over time: at a governance node (居委会主任, 网格员, …) or in a party
-- organisation (书记, 组织委员, …). A post is ended, never deleted.

CREATE TABLE posts (
    id         INTEGER PRIMARY KEY,
    person_id  INTEGER NOT NULL REFERENCES persons(id),
    kind       TEXT NOT NULL,
    node_id    INTEGER REFERENCES nodes(id),
    org_id     INTEGER REFERENCES party_orgs(id),
    grade      TEXT,
    started_on TEXT NOT NULL,
    ended_on   TEXT,
    note       TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX posts_node ON posts(node_id, kind, ended_on);
CREATE INDEX posts_org ON posts(org_id, kind, ended_on);
CREATE INDEX posts_person ON posts(person_id, ended_on);
