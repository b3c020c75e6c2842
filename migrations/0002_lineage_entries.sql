-- Lineage per source row rather than per value: one entry names every column a body row
-- supplied to a projected row (a losing body row: the columns it lost, with their values).
-- The rules are stated once, in lineage_rules, which the projector rewrites on every run.
-- `lineage` stays queryable with one row per (row, column, source) as a view.
DROP TABLE lineage;

-- What a kind of entry says: which table, which columns, from which endpoint, chosen or not.
-- Few distinct rows; entries point at one by source_id (derived from its content, so it is
-- the same in every projection).
CREATE TABLE lineage_sources (
    source_id   BIGINT NOT NULL,
    table_name  VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,           -- campaign | adset_own | adset_copied | session
    columns     VARCHAR NOT NULL,           -- comma-separated column names
    endpoint    VARCHAR NOT NULL,
    chosen      BOOLEAN NOT NULL            -- false: a source that had a value and lost
);

CREATE TABLE lineage_entries (
    date        DATE NOT NULL,
    source_id   BIGINT NOT NULL,
    row_key     VARCHAR NOT NULL,
    event_id    VARCHAR NOT NULL,
    locator     VARCHAR,
    value       VARCHAR                     -- a losing source's values, in column order, separated by chr(31);
                                            -- NULL for chosen sources (their value is the row's)
);

CREATE TABLE lineage_rules (
    kind        VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,           -- '*': every column of that kind
    rule        VARCHAR NOT NULL
);

CREATE VIEW lineage AS
SELECT s.table_name, e.date, e.row_key, s.column_name, s.endpoint, e.event_id, r.body_sha256, e.locator,
       coalesce(exact.rule, every.rule) AS rule, s.chosen,
       CASE WHEN s.column_count = 1 THEN e.value ELSE string_split(e.value, chr(31))[s.column_index] END AS value
FROM lineage_entries AS e
JOIN (
    SELECT * EXCLUDE (columns),
           list_position(string_split(columns, ','), column_name) AS column_index,
           len(string_split(columns, ',')) AS column_count
    FROM (SELECT *, unnest(string_split(columns, ',')) AS column_name FROM lineage_sources)
) AS s ON s.source_id = e.source_id
LEFT JOIN lineage_rules AS exact ON exact.kind = s.kind AND exact.column_name = s.column_name
LEFT JOIN lineage_rules AS every ON every.kind = s.kind AND every.column_name = '*'
LEFT JOIN (SELECT event_id, any_value(body_sha256) AS body_sha256 FROM raw_events GROUP BY event_id) AS r ON r.event_id = e.event_id;

-- Per (table, date): row count and a fingerprint of the rows as written. projection_meta's
-- table fingerprints combine these, so an incremental projection re-hashes only its dates.
CREATE TABLE projection_fingerprints (
    table_name  VARCHAR NOT NULL,
    date        DATE NOT NULL,
    row_count   BIGINT NOT NULL,
    fingerprint VARCHAR NOT NULL
);

-- What each projected date leaves for later ones (see the projector's Carry), and the chain
-- fingerprint of the events of every date up to it, so an incremental projection can tell
-- whether the dates before its window are still what the lake says.
CREATE TABLE campaign_identity (
    platform_campaign_id  VARCHAR NOT NULL,
    date                  DATE NOT NULL,       -- date of the s1_daily_v3 response
    strategis_campaign_id VARCHAR NOT NULL
);

CREATE TABLE projected_dates (
    date         DATE NOT NULL,
    events_chain VARCHAR NOT NULL
);
