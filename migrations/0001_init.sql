-- The five tables of the monitoring database (columns per projection-rules.md), plus the
-- lake index, lineage and projection bookkeeping. Every table here is a view of the lake:
-- `adlake reproject` rebuilds all of them. No PK/FK constraints: the projector guarantees
-- key uniqueness and a test checks it (constraints would slow the Appender and block
-- replace-by-date in one transaction).

CREATE TABLE campaign_index (
    campaign_id          VARCHAR NOT NULL,
    date                 DATE NOT NULL,
    level                VARCHAR NOT NULL,      -- campaign | adset
    snapshot_source      VARCHAR NOT NULL,      -- daily | reconciled
    adset_id             VARCHAR,               -- adset rows only
    adset_name           VARCHAR,
    campaign_name        VARCHAR,
    owner                VARCHAR,
    lane                 VARCHAR,
    category             VARCHAR,
    media_source         VARCHAR,
    network_id           VARCHAR,
    account_id           VARCHAR,
    rsoc_site            VARCHAR,
    platform_campaign_id VARCHAR,
    spend_usd            DECIMAL(18, 6),
    spend_source         VARCHAR,
    revenue_usd          DECIMAL(18, 6),
    sessions             BIGINT,
    s1_clicks            BIGINT,
    clicks               BIGINT,
    impressions          BIGINT,
    conversions          BIGINT,
    roas                 DOUBLE,
    avg_rpc_3d           DECIMAL(18, 6),
    unmapped             BOOLEAN NOT NULL DEFAULT false,
    updated_at           TIMESTAMP
);

CREATE TABLE session_hourly_metrics (
    campaign_id  VARCHAR NOT NULL,
    date         DATE NOT NULL,
    click_hour   INTEGER NOT NULL,              -- 0..27; 24-27 are late next-day clicks
    sessions     BIGINT,
    revenue      DECIMAL(18, 6),
    rpc          DECIMAL(18, 6),
    owner        VARCHAR,
    lane         VARCHAR,
    category     VARCHAR,
    media_source VARCHAR,
    updated_at   TIMESTAMP
);

CREATE TABLE endpoint_completeness (
    date              DATE NOT NULL,
    endpoint          VARCHAR NOT NULL,
    platform          VARCHAR NOT NULL,
    critical          BOOLEAN NOT NULL,
    status            VARCHAR NOT NULL,         -- OK | PARTIAL | FAILED
    row_count         BIGINT,
    has_revenue       BOOLEAN,
    has_spend         BOOLEAN,
    error_message     VARCHAR,
    retry_count       INTEGER,
    http_status       INTEGER,
    run_id            VARCHAR,
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP,
    last_success_at   TIMESTAMP,
    expected_min_rows DOUBLE
);

CREATE TABLE campaign_index_runs (
    run_id         VARCHAR NOT NULL,
    date_from      DATE,
    date_to        DATE,
    endpoints      VARCHAR,
    started_at     TIMESTAMP,
    finished_at    TIMESTAMP,
    status         VARCHAR NOT NULL,            -- success | partial | failed | interrupted
    row_count      BIGINT,
    events_written BIGINT,
    bytes_new      BIGINT,
    message        VARCHAR
);

CREATE TABLE session_ingest_runs (
    run_id         VARCHAR NOT NULL,
    date_from      DATE,
    date_to        DATE,
    endpoints      VARCHAR,
    started_at     TIMESTAMP,
    finished_at    TIMESTAMP,
    status         VARCHAR NOT NULL,
    row_count      BIGINT,
    events_written BIGINT,
    bytes_new      BIGINT,
    message        VARCHAR,
    max_click_hour INTEGER,
    session_count  BIGINT,
    campaign_count BIGINT
);

-- One row per envelope in the lake, for SQL over the raw history.
CREATE TABLE raw_events (
    event_id    VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,               -- http | run
    source      VARCHAR NOT NULL,               -- endpoint key or job
    date        DATE NOT NULL,
    run_id      VARCHAR NOT NULL,
    fetched_at  TIMESTAMP NOT NULL,
    fetch_id    VARCHAR,
    attempt     INTEGER,
    page        INTEGER,
    http_status INTEGER,
    error       VARCHAR,
    url         VARCHAR,
    body_sha256 VARCHAR,
    body_len    BIGINT
);

-- Which event (and where in its body) supplied each projected value.
CREATE TABLE lineage (
    table_name  VARCHAR NOT NULL,
    date        DATE NOT NULL,
    row_key     VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,
    endpoint    VARCHAR NOT NULL,
    event_id    VARCHAR NOT NULL,
    body_sha256 VARCHAR,
    locator     VARCHAR,
    rule        VARCHAR,
    chosen      BOOLEAN NOT NULL,           -- false: a source that had a value and lost
    value       VARCHAR                     -- that source's value, as text
);

-- Bodies the projector could not decode: kept in the lake, listed here.
CREATE TABLE quarantine (
    event_id    VARCHAR NOT NULL,
    endpoint    VARCHAR NOT NULL,
    date        DATE NOT NULL,
    body_sha256 VARCHAR,
    error       VARCHAR NOT NULL
);

CREATE TABLE projection_meta (
    key   VARCHAR NOT NULL,
    value VARCHAR
);
