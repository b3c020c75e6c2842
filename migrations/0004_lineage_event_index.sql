-- Lineage entries name their event by its place among its date's events instead of by its
-- 64-character hex id. A projection writes millions of entries and few distinct events, and
-- the id text was most of each entry's bytes: copied into every batch, hashed,
-- dictionary-compressed and stored.
--
-- event_index is the event's place (from 0) among the http events of its date ordered by
-- event_id. A date's rows are always replaced whole, so an index always refers to the events
-- written with it. raw_events carries the index beside event_id, and the `lineage` view joins
-- on (date, event_index), so it still shows the event id.
ALTER TABLE raw_events ADD COLUMN event_index INTEGER;
UPDATE raw_events SET event_index = i.event_index
FROM (SELECT event_id, date, CAST(row_number() OVER (PARTITION BY date ORDER BY event_id) - 1 AS INTEGER) AS event_index
      FROM raw_events WHERE kind = 'http') AS i
WHERE raw_events.kind = 'http' AND raw_events.event_id = i.event_id AND raw_events.date = i.date;

DROP VIEW lineage;

CREATE TABLE lineage_entries_indexed (
    date        DATE NOT NULL,
    source_id   BIGINT NOT NULL,
    row_key     VARCHAR NOT NULL,
    event_index INTEGER NOT NULL,           -- raw_events.event_index of this date
    locator     VARCHAR,
    value       VARCHAR                     -- a losing source's values, in column order, separated by chr(31);
                                            -- NULL for chosen sources (their value is the row's)
);
INSERT INTO lineage_entries_indexed
SELECT e.date, e.source_id, e.row_key, r.event_index, e.locator, e.value
FROM lineage_entries AS e JOIN raw_events AS r ON r.kind = 'http' AND r.date = e.date AND r.event_id = e.event_id;
DROP TABLE lineage_entries;
ALTER TABLE lineage_entries_indexed RENAME TO lineage_entries;

CREATE TABLE session_lineage_indexed (
    date           DATE NOT NULL,
    source_id      BIGINT NOT NULL,          -- lineage_sources: columns, endpoint, kind
    campaign_id    VARCHAR NOT NULL,
    hour_from      INTEGER NOT NULL,
    hour_to        INTEGER NOT NULL,
    event_index    INTEGER NOT NULL,         -- raw_events.event_index of this date
    locator_prefix VARCHAR NOT NULL,         -- hour h's row: locator_prefix || '/' || (index_from + h - hour_from)
    index_from     BIGINT                    -- NULL: locator_prefix is the whole locator (hour_from = hour_to)
);
INSERT INTO session_lineage_indexed
SELECT s.date, s.source_id, s.campaign_id, s.hour_from, s.hour_to, r.event_index, s.locator_prefix, s.index_from
FROM session_lineage AS s JOIN raw_events AS r ON r.kind = 'http' AND r.date = s.date AND r.event_id = s.event_id;
DROP TABLE session_lineage;
ALTER TABLE session_lineage_indexed RENAME TO session_lineage;

CREATE VIEW lineage AS
WITH entries AS (
    SELECT date, source_id, row_key, event_index, locator, value FROM lineage_entries
    UNION ALL
    SELECT date, source_id,
           campaign_id || '|' || CAST(date AS VARCHAR) || '|' || CAST(hour AS VARCHAR) AS row_key,
           event_index,
           CASE WHEN index_from IS NULL THEN locator_prefix
                ELSE locator_prefix || '/' || CAST(index_from + hour - hour_from AS VARCHAR) END AS locator,
           NULL AS value
    FROM (SELECT *, unnest(range(hour_from, hour_to + 1)) AS hour FROM session_lineage)
)
SELECT s.table_name, e.date, e.row_key, s.column_name, s.endpoint, r.event_id, r.body_sha256, e.locator,
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
LEFT JOIN (SELECT date, event_index, event_id, body_sha256 FROM raw_events WHERE kind = 'http') AS r
       ON r.date = e.date AND r.event_index = e.event_index;
