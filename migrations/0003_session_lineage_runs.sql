-- Session rows are most of a projection's rows, and each has exactly one kind of source: rows
-- of the s1_hourly_v3 snapshot. An hourly report lists a campaign's hours in order, so their
-- lineage is stored as runs: hours hour_from..hour_to of a campaign came, one body row each,
-- from rows index_from.. of one event's body. About one entry per campaign and page instead of
-- one per row. The `lineage` view expands the runs, so it still has one row per
-- (row, column, source) for every table.
CREATE TABLE session_lineage (
    date           DATE NOT NULL,
    source_id      BIGINT NOT NULL,          -- lineage_sources: columns, endpoint, kind
    campaign_id    VARCHAR NOT NULL,
    hour_from      INTEGER NOT NULL,
    hour_to        INTEGER NOT NULL,
    event_id       VARCHAR NOT NULL,
    locator_prefix VARCHAR NOT NULL,         -- hour h's row: locator_prefix || '/' || (index_from + h - hour_from)
    index_from     BIGINT                    -- NULL: locator_prefix is the whole locator (hour_from = hour_to)
);

DROP VIEW lineage;

CREATE VIEW lineage AS
WITH entries AS (
    SELECT date, source_id, row_key, event_id, locator, value FROM lineage_entries
    UNION ALL
    SELECT date, source_id,
           campaign_id || '|' || CAST(date AS VARCHAR) || '|' || CAST(hour AS VARCHAR) AS row_key,
           event_id,
           CASE WHEN index_from IS NULL THEN locator_prefix
                ELSE locator_prefix || '/' || CAST(index_from + hour - hour_from AS VARCHAR) END AS locator,
           NULL AS value
    FROM (SELECT *, unnest(range(hour_from, hour_to + 1)) AS hour FROM session_lineage)
)
SELECT s.table_name, e.date, e.row_key, s.column_name, s.endpoint, e.event_id, r.body_sha256, e.locator,
       coalesce(exact.rule, every.rule) AS rule, s.chosen,
       CASE WHEN s.column_count = 1 THEN e.value ELSE string_split(e.value, chr(31))[s.column_index] END AS value
FROM entries AS e
JOIN (
    SELECT * EXCLUDE (columns),
           list_position(string_split(columns, ','), column_name) AS column_index,
           len(string_split(columns, ',')) AS column_count
    FROM (SELECT *, unnest(string_split(columns, ',')) AS column_name FROM lineage_sources)
) AS s ON s.source_id = e.source_id
LEFT JOIN lineage_rules AS exact ON exact.kind = s.kind AND exact.column_name = s.column_name
LEFT JOIN lineage_rules AS every ON every.kind = s.kind AND every.column_name = '*'
LEFT JOIN (SELECT event_id, any_value(body_sha256) AS body_sha256 FROM raw_events GROUP BY event_id) AS r ON r.event_id = e.event_id;
