-- Statistics: targets of the metrics (settings, one row per metric that has one), and the
-- roll-up of residents per home node that the city- and district-wide residents figure reads.

CREATE TABLE metric_targets (
    metric_id TEXT PRIMARY KEY,
    target    DOUBLE PRECISION NOT NULL,
    note      TEXT
);
INSERT INTO metric_targets (metric_id, target, note) VALUES
    ('org.street.posts_filled', 1.0, '32个镇街全部配齐镇党委书记和组织委员'),
    ('org.street.instructors_min', 5, '每个镇街配备不少于5名党建工作指导员'),
    ('org.community.one_shoulder', 1.0, '社区书记、主任“一肩挑”比例100%'),
    ('org.community.cross_appointment', 1.0, '班子成员交叉任职率100%'),
    ('org.community.reserve_cadres', 2, '每个社区均储备了2名后备干部'),
    ('org.estate_branch.coverage', 0.667, '三分之二以上物业住宅小区完成党支部建设'),
    ('org.industry_committee.instructors_min', 1, '为每个行业党委配备1名以上党建指导员'),
    ('center.area_compliance', 0.9, '90%以上社区阵地达到1000平方米以上');

CREATE TABLE resident_rollup (
    node_id   BIGINT PRIMARY KEY REFERENCES nodes(id),
    residents BIGINT NOT NULL,
    elsewhere BIGINT NOT NULL
);

-- When each roll-up was last computed (RFC 3339 UTC).
CREATE TABLE stat_rollups (
    name  TEXT PRIMARY KEY,
    as_of TEXT NOT NULL
);

CREATE INDEX posts_kind ON posts(kind, started_on);
