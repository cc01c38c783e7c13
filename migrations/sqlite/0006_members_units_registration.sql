-- Party members, units in the area (驻区单位) and double registration (双报到).
-- Liaison mobile numbers are kept like residents' numbers: encrypted, hashed, masked.

-- A person's membership of a party organisation (usually a branch). One row per person;
-- a transfer moves it and leaves a row in member_transfers.
CREATE TABLE party_members (
    id         INTEGER PRIMARY KEY,
    person_id  INTEGER NOT NULL REFERENCES persons(id),
    org_id     INTEGER NOT NULL REFERENCES party_orgs(id),
    -- 'full' (正式党员) or 'probationary' (预备党员)
    status     TEXT NOT NULL,
    joined_on  TEXT NOT NULL,
    full_on    TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX party_members_person ON party_members(person_id);
CREATE INDEX party_members_org ON party_members(org_id, status);

CREATE TABLE member_transfers (
    id             INTEGER PRIMARY KEY,
    member_id      INTEGER NOT NULL REFERENCES party_members(id),
    from_org_id    INTEGER REFERENCES party_orgs(id),
    to_org_id      INTEGER NOT NULL REFERENCES party_orgs(id),
    transferred_on TEXT NOT NULL,
    note           TEXT,
    actor_id       INTEGER,
    created_at     TEXT NOT NULL
);
CREATE INDEX member_transfers_member ON member_transfers(member_id, id);

-- Agencies, institutions and companies located in the area.
CREATE TABLE units (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL,
    credit_code         TEXT,
    -- Set when the 统一社会信用代码 fails its check character: kept, flagged.
    credit_code_warning TEXT,
    kind                TEXT NOT NULL,
    node_id             INTEGER NOT NULL REFERENCES nodes(id),
    org_id              INTEGER REFERENCES party_orgs(id),
    address             TEXT,
    status              TEXT NOT NULL DEFAULT 'active',
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE UNIQUE INDEX units_credit_code ON units(credit_code);
CREATE INDEX units_node ON units(node_id, kind, status);
CREATE INDEX units_name ON units(name);

CREATE TABLE unit_contacts (
    id            INTEGER PRIMARY KEY,
    unit_id       INTEGER NOT NULL REFERENCES units(id),
    name          TEXT NOT NULL,
    title         TEXT,
    mobile_enc    TEXT,
    mobile_hash   TEXT,
    mobile_masked TEXT,
    created_at    TEXT NOT NULL,
    ended_at      TEXT
);
CREATE INDEX unit_contacts_unit ON unit_contacts(unit_id, ended_at);

-- Cadres sent down: 'secondment' (选派, serving in a post such as community secretary) or
-- 'deployment' (下沉, serving at a community or street for a period).
CREATE TABLE deployments (
    id           INTEGER PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES persons(id),
    kind         TEXT NOT NULL,
    from_unit_id INTEGER REFERENCES units(id),
    node_id      INTEGER NOT NULL REFERENCES nodes(id),
    post_id      INTEGER REFERENCES posts(id),
    started_on   TEXT NOT NULL,
    ended_on     TEXT,
    note         TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX deployments_node ON deployments(node_id, kind, started_on);
CREATE INDEX deployments_person ON deployments(person_id);

-- An agency (or other) party organisation paired with a community (结对共建).
CREATE TABLE org_pairings (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES party_orgs(id),
    community_id INTEGER NOT NULL REFERENCES nodes(id),
    started_on   TEXT NOT NULL,
    ended_on     TEXT,
    agreement    TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX org_pairings_community ON org_pairings(community_id, started_on);
CREATE INDEX org_pairings_org ON org_pairings(org_id);

-- An in-service party member's registration at the residence community (在职党员进社区).
CREATE TABLE registrations (
    id               INTEGER PRIMARY KEY,
    person_id        INTEGER NOT NULL REFERENCES persons(id),
    community_id     INTEGER NOT NULL REFERENCES nodes(id),
    employer_unit_id INTEGER REFERENCES units(id),
    skills           TEXT,
    -- 'pending' → 'active' → 'ended'; 'pending' → 'rejected'
    status           TEXT NOT NULL,
    registered_on    TEXT NOT NULL,
    ended_on         TEXT,
    submitted_by     INTEGER,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX registrations_community ON registrations(community_id, status);
CREATE INDEX registrations_person ON registrations(person_id, status);
CREATE INDEX registrations_employer ON registrations(employer_unit_id, status);
CREATE INDEX registrations_submitter ON registrations(submitted_by);

CREATE TABLE registration_history (
    id              INTEGER PRIMARY KEY,
    registration_id INTEGER NOT NULL REFERENCES registrations(id),
    at              TEXT NOT NULL,
    action          TEXT NOT NULL,
    actor_id        INTEGER,
    detail          TEXT
);
CREATE INDEX registration_history_reg ON registration_history(registration_id, id);

-- Posts claimed by a registered member (领岗): 政策宣传岗, 治安巡防岗, ….
CREATE TABLE registration_claims (
    id              INTEGER PRIMARY KEY,
    registration_id INTEGER NOT NULL REFERENCES registrations(id),
    duty            TEXT NOT NULL,
    claimed_on      TEXT NOT NULL,
    ended_on        TEXT
);
CREATE INDEX registration_claims_reg ON registration_claims(registration_id);

-- Services a registered member performed, as the community recorded them; reported back to
-- the employer (双报告). Minutes, not fractional hours.
CREATE TABLE registration_services (
    id              INTEGER PRIMARY KEY,
    registration_id INTEGER NOT NULL REFERENCES registrations(id),
    served_on       TEXT NOT NULL,
    minutes         INTEGER NOT NULL,
    description     TEXT NOT NULL,
    rating          INTEGER,
    recorded_by     INTEGER,
    created_at      TEXT NOT NULL
);
CREATE INDEX registration_services_reg ON registration_services(registration_id, served_on);

-- Thank-you letters (感谢函) issued to an employer for a period.
CREATE TABLE thanks_letters (
    id               INTEGER PRIMARY KEY,
    community_id     INTEGER NOT NULL REFERENCES nodes(id),
    employer_unit_id INTEGER NOT NULL REFERENCES units(id),
    period_from      TEXT NOT NULL,
    period_to        TEXT NOT NULL,
    issued_by        INTEGER,
    created_at       TEXT NOT NULL
);
CREATE INDEX thanks_letters_community ON thanks_letters(community_id, created_at);
