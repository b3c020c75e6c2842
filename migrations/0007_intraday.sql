-- Today so far. Every fetch of a day's reports is a snapshot of spend and revenue as known
-- then; these tables keep that history instead of overwriting it.

-- One row per (campaign_id, date, as_of_hour) for each UTC hour of the date at which some
-- report of the date was fetched: the campaign's daily-snapshot numbers as known at the end
-- of that hour, each from its endpoint's latest successful fetch finished before then.
CREATE TABLE campaign_intraday (
    campaign_id       VARCHAR NOT NULL,
    date              DATE NOT NULL,
    as_of_hour        TIMESTAMP NOT NULL,
    media_source      VARCHAR,
    spend_usd         DECIMAL(18, 6),
    spend_source      VARCHAR,
    revenue_usd       DECIMAL(18, 6),
    sessions          BIGINT,
    clicks            BIGINT,
    roas              DOUBLE,
    oldest_input_at   TIMESTAMP,
    input_age_minutes BIGINT,
    critical_ok       BOOLEAN NOT NULL
);

-- At the same hours, each endpoint of the date: its newest fetch's status, and the snapshot
-- the intraday rows took (its fetch id names its events in raw_events).
CREATE TABLE intraday_inputs (
    date                DATE NOT NULL,
    as_of_hour          TIMESTAMP NOT NULL,
    endpoint            VARCHAR NOT NULL,
    critical            BOOLEAN NOT NULL,
    status              VARCHAR NOT NULL,
    newest_fetched_at   TIMESTAMP NOT NULL,
    snapshot_fetch_id   VARCHAR,
    snapshot_fetched_at TIMESTAMP,
    snapshot_rows       BIGINT
);

-- True per-hour spend, from a report with hourly rows (Outbrain), its latest successful fetch.
CREATE TABLE campaign_hourly (
    campaign_id VARCHAR NOT NULL,
    date        DATE NOT NULL,
    hour        INTEGER NOT NULL,
    endpoint    VARCHAR NOT NULL,
    spend_usd   DECIMAL(18, 6),
    clicks      BIGINT,
    impressions BIGINT,
    conversions BIGINT,
    fetch_id    VARCHAR NOT NULL
);

-- Which events an intraday row's values came from: the snapshot of its spend endpoint and of
-- the revenue report at that hour, page by page.
CREATE VIEW intraday_lineage AS
SELECT i.campaign_id, i.date, i.as_of_hour, n.endpoint, e.event_id, e.body_sha256, e.page
FROM campaign_intraday i
JOIN intraday_inputs n
  ON n.date = i.date AND n.as_of_hour = i.as_of_hour
 AND (n.endpoint = i.spend_source OR (n.endpoint = 's1_daily_v3' AND (i.revenue_usd IS NOT NULL OR i.sessions IS NOT NULL)))
JOIN raw_events e ON e.fetch_id = n.snapshot_fetch_id;
