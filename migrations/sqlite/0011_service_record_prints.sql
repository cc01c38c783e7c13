-- Printed service records (志愿服务记录 / 服务时长记录单): each print keeps its number, the
-- records it listed and the hours it showed, so a number once issued always shows the same
-- sheet. Not a national certificate: a record of hours kept on this platform, for the
-- organiser to stamp (志愿服务记录与证明出具办法: 谁组织谁记录，谁记录谁证明).
CREATE TABLE service_record_prints (
    id               INTEGER PRIMARY KEY,
    -- e.g. 'JL2026-000012'
    number           TEXT NOT NULL,
    person_id        INTEGER NOT NULL REFERENCES persons(id),
    -- The issuing node: the records listed are those organised under it.
    node_id          INTEGER NOT NULL REFERENCES nodes(id),
    period_from      TEXT NOT NULL,
    period_to        TEXT NOT NULL,
    -- The effective records listed, ','-separated ids, and their minutes.
    record_ids       TEXT NOT NULL,
    minutes          INTEGER NOT NULL CHECK (minutes >= 0),
    issuer           TEXT NOT NULL,
    person_in_charge TEXT NOT NULL,
    handler          TEXT NOT NULL,
    contact          TEXT NOT NULL,
    issued_by        INTEGER NOT NULL REFERENCES users(id),
    created_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX service_record_prints_number ON service_record_prints(number);
CREATE INDEX service_record_prints_person ON service_record_prints(person_id, id);

-- Campaign progress reads a campaign's activities by campaign and start.
CREATE INDEX activities_campaign_starts ON activities(campaign_id, starts_at);
