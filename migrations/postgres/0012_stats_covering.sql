-- The city-wide double-registration figures count people, not rows. A person with more than
-- one registration (or deployment) has person_repeat = 1 on all of them, kept by the writers in
-- the same transaction as the insert, so a count of people is the rows of the others plus the
-- distinct repeated people: only the few repeated rows go through a DISTINCT.
--
-- The indexes cover those counts: the community or node, the dates that place a row in the
-- period, the flag and the person are read from the index alone, never from the table.

ALTER TABLE registrations ADD COLUMN person_repeat BIGINT NOT NULL DEFAULT 0;
UPDATE registrations SET person_repeat = 1
 WHERE person_id IN (SELECT person_id FROM registrations GROUP BY person_id HAVING COUNT(*) > 1);
DROP INDEX registrations_community;
CREATE INDEX registrations_community
    ON registrations(community_id, status, registered_on, ended_on, person_repeat, person_id);

ALTER TABLE deployments ADD COLUMN person_repeat BIGINT NOT NULL DEFAULT 0;
UPDATE deployments SET person_repeat = 1
 WHERE person_id IN (SELECT person_id FROM deployments GROUP BY person_id HAVING COUNT(*) > 1);
DROP INDEX deployments_node;
CREATE INDEX deployments_node ON deployments(node_id, kind, started_on, ended_on, person_repeat, person_id);
