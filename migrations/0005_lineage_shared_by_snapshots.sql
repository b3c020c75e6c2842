-- A campaign's daily and reconciled rows take every column but revenue_usd, sessions and
-- s1_clicks from the same sources, picked the same way. Their entries for those columns were
-- written twice, once per row: 40 % of all lineage entries on the 90-day benchmark lake.
-- They are now written once, with the daily row, and `both_snapshots` marks them as the
-- reconciled row's too. The `lineage` view lists each such entry under both rows, so it still
-- has one row per (row, column, source).
--
-- Entries written before this migration have `both_snapshots` false: their reconciled rows
-- carry entries of their own, as they did.
ALTER TABLE lineage_entries ADD COLUMN both_snapshots BOOLEAN DEFAULT false;

DROP VIEW lineage;

CREATE VIEW lineage AS
WITH entries AS (
    SELECT date, source_id, row_key, event_index, locator, value FROM lineage_entries
    UNION ALL
    -- The reconciled row's key differs from the daily row's only in its snapshot part:
    -- `campaign_id|date|campaign|daily|` (no adset) becomes `...|campaign|reconciled|`.
    SELECT date, source_id, regexp_replace(row_key, '\|daily\|$', '|reconciled|') AS row_key, event_index, locator, value
    FROM lineage_entries WHERE both_snapshots
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
