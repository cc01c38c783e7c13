-- Volunteer service (志愿服务): volunteers, teams, campaigns, activities with sign-up and
-- attendance, and service records (hours). Follows 志愿服务记录与证明出具办法: records are
-- append-only; a correction is a new record pointing at the one it corrects; every record names
-- its organiser and who confirmed it.

-- A volunteer: a person who consented to be one (nobody is made a volunteer without consent).
CREATE TABLE volunteers (
    id           INTEGER PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES persons(id),
    -- The community (or street) the volunteer registered with.
    node_id      INTEGER NOT NULL REFERENCES nodes(id),
    -- The platform's volunteer number, e.g. 'V4406040010001'.
    volunteer_no TEXT NOT NULL,
    -- Skills, '、'-separated, as entered.
    skills       TEXT NOT NULL DEFAULT '',
    -- When the person consented to volunteering and to their service record being kept.
    consent_at   TEXT NOT NULL,
    -- Whether their name may be shown publicly (team pages, honour lists).
    public_name  INTEGER NOT NULL DEFAULT 0,
    -- 'active' | 'left'
    status       TEXT NOT NULL DEFAULT 'active',
    created_by   INTEGER,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX volunteers_person ON volunteers(person_id);
CREATE UNIQUE INDEX volunteers_no ON volunteers(volunteer_no);
CREATE INDEX volunteers_node ON volunteers(node_id, status);

-- A volunteer team (志愿服务队), owned by a node (community, street) and optionally a unit.
CREATE TABLE volunteer_teams (
    id          INTEGER PRIMARY KEY,
    node_id     INTEGER NOT NULL REFERENCES nodes(id),
    unit_id     INTEGER REFERENCES units(id),
    name        TEXT NOT NULL,
    -- What the team does, e.g. '治安巡逻', '关爱老人'.
    focus       TEXT NOT NULL DEFAULT '',
    -- 'active' | 'dissolved'
    status      TEXT NOT NULL DEFAULT 'active',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX volunteer_teams_node ON volunteer_teams(node_id, status);
CREATE UNIQUE INDEX volunteer_teams_name ON volunteer_teams(node_id, name);

CREATE TABLE team_members (
    team_id      INTEGER NOT NULL REFERENCES volunteer_teams(id),
    volunteer_id INTEGER NOT NULL REFERENCES volunteers(id),
    -- 'leader' | 'member'
    role         TEXT NOT NULL DEFAULT 'member',
    joined_on    TEXT NOT NULL,
    left_on      TEXT,
    PRIMARY KEY (team_id, volunteer_id)
);
CREATE INDEX team_members_volunteer ON team_members(volunteer_id);

-- A campaign with a target (e.g. the five "hundreds": 百堂思政课 … 百场群众活动).
CREATE TABLE campaigns (
    id         INTEGER PRIMARY KEY,
    node_id    INTEGER NOT NULL REFERENCES nodes(id),
    name       TEXT NOT NULL,
    -- What is counted toward the target: 'activities' (held activities) | 'volunteers'
    -- (distinct volunteers who served).
    measure    TEXT NOT NULL DEFAULT 'activities',
    target     INTEGER NOT NULL CHECK (target > 0),
    starts_on  TEXT NOT NULL,
    ends_on    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX campaigns_node ON campaigns(node_id);

-- An activity. Instants are RFC 3339 UTC text, as elsewhere.
CREATE TABLE activities (
    id                INTEGER PRIMARY KEY,
    node_id           INTEGER NOT NULL REFERENCES nodes(id),
    team_id           INTEGER REFERENCES volunteer_teams(id),
    campaign_id       INTEGER REFERENCES campaigns(id),
    title             TEXT NOT NULL,
    -- e.g. 'volunteer' | 'theme_day' | 'lecture' | 'film' | 'mass' (domain::volunteers)
    kind              TEXT NOT NULL,
    place             TEXT NOT NULL DEFAULT '',
    content           TEXT NOT NULL DEFAULT '',
    starts_at         TEXT NOT NULL,
    ends_at           TEXT NOT NULL,
    capacity          INTEGER NOT NULL CHECK (capacity > 0),
    signup_opens_at   TEXT NOT NULL,
    signup_closes_at  TEXT NOT NULL,
    -- The organiser (a user) who certifies the hours, and the organiser's name as printed.
    organiser_id      INTEGER NOT NULL REFERENCES users(id),
    organiser_name    TEXT NOT NULL,
    -- Points rule: points per confirmed hour into scheme_id (none when NULL).
    scheme_id         INTEGER REFERENCES point_schemes(id),
    points_per_hour   INTEGER NOT NULL DEFAULT 0 CHECK (points_per_hour >= 0),
    -- People served, entered when the activity is closed.
    beneficiaries     INTEGER NOT NULL DEFAULT 0 CHECK (beneficiaries >= 0),
    -- 'open' | 'closed' | 'cancelled'
    status            TEXT NOT NULL DEFAULT 'open',
    created_by        INTEGER,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX activities_node ON activities(node_id, starts_at);
CREATE INDEX activities_starts ON activities(starts_at);
CREATE INDEX activities_team ON activities(team_id, starts_at);
CREATE INDEX activities_campaign ON activities(campaign_id);

-- A sign-up: confirmed up to capacity, then waitlisted in order; attendance on the same row.
CREATE TABLE activity_signups (
    id             INTEGER PRIMARY KEY,
    activity_id    INTEGER NOT NULL REFERENCES activities(id),
    person_id      INTEGER NOT NULL REFERENCES persons(id),
    -- 'confirmed' | 'waitlisted' | 'cancelled'
    status         TEXT NOT NULL,
    signed_up_at   TEXT NOT NULL,
    checked_in_at  TEXT,
    checked_out_at TEXT,
    -- How attendance was taken: 'code' (the volunteer scanned) | 'staff' (batch confirmation).
    attendance_by  TEXT,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX activity_signups_person ON activity_signups(activity_id, person_id);
CREATE INDEX activity_signups_queue ON activity_signups(activity_id, status, id);
CREATE INDEX activity_signups_mine ON activity_signups(person_id, status);

-- A service record (hours). Append-only: a correction is a new row whose corrects_id names the
-- row it replaces (at most one correction per row; correct the correction to change it again).
-- delta_minutes is minutes less the minutes of the corrected row, so the sum of delta_minutes
-- over a person's records is their hours now.
CREATE TABLE service_records (
    id             INTEGER PRIMARY KEY,
    person_id      INTEGER NOT NULL REFERENCES persons(id),
    node_id        INTEGER NOT NULL REFERENCES nodes(id),
    activity_id    INTEGER REFERENCES activities(id),
    served_on      TEXT NOT NULL,
    started_at     TEXT,
    ended_at       TEXT,
    minutes        INTEGER NOT NULL CHECK (minutes >= 0),
    delta_minutes  INTEGER NOT NULL,
    content        TEXT NOT NULL,
    place          TEXT NOT NULL DEFAULT '',
    -- 'attendance' | 'manual' | 'correction'
    source         TEXT NOT NULL,
    corrects_id    INTEGER REFERENCES service_records(id),
    reason         TEXT NOT NULL DEFAULT '',
    organiser_name TEXT NOT NULL,
    recorded_by    INTEGER NOT NULL,
    confirmed_by   INTEGER NOT NULL,
    confirmed_at   TEXT NOT NULL,
    points_tx_id   INTEGER REFERENCES point_transactions(id),
    created_at     TEXT NOT NULL
);
CREATE INDEX service_records_person ON service_records(person_id, served_on);
CREATE INDEX service_records_node ON service_records(node_id, served_on, person_id, delta_minutes);
CREATE INDEX service_records_activity ON service_records(activity_id);
CREATE UNIQUE INDEX service_records_corrects ON service_records(corrects_id) WHERE corrects_id IS NOT NULL;
CREATE UNIQUE INDEX service_records_attendance ON service_records(activity_id, person_id) WHERE source = 'attendance';

-- Settings of volunteer service: the star levels by cumulative hours.
CREATE TABLE volunteer_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO volunteer_settings (name, value) VALUES ('star_hours', '100,300,600,1000,1500');

-- A manual record (service done without check-in) waits here until a second person confirms
-- it: whoever entered it cannot confirm it. Confirming writes the service_records row
-- (source 'manual', recorded_by = entered_by, confirmed_by = the confirmer).
CREATE TABLE service_record_drafts (
    id             INTEGER PRIMARY KEY,
    person_id      INTEGER NOT NULL REFERENCES persons(id),
    node_id        INTEGER NOT NULL REFERENCES nodes(id),
    activity_id    INTEGER REFERENCES activities(id),
    served_on      TEXT NOT NULL,
    minutes        INTEGER NOT NULL CHECK (minutes > 0),
    content        TEXT NOT NULL,
    place          TEXT NOT NULL DEFAULT '',
    organiser_name TEXT NOT NULL,
    -- Why there is no check-in.
    reason         TEXT NOT NULL DEFAULT '',
    entered_by     INTEGER NOT NULL,
    entered_at     TEXT NOT NULL,
    -- 'pending' | 'confirmed' | 'rejected'
    status         TEXT NOT NULL DEFAULT 'pending',
    decided_by     INTEGER,
    decided_at     TEXT,
    decision_note  TEXT NOT NULL DEFAULT '',
    record_id      INTEGER REFERENCES service_records(id)
);
CREATE INDEX service_record_drafts_node ON service_record_drafts(node_id, status);
