-- Alerts: every verdict of an alert rule (fired, renotified, recovered, suppressed) and every
-- delivery of its message, projected from the lake's `alerts` events like every other table,
-- so a rebuild from the lake keeps them. Rewritten whole by every projection (they are few).

CREATE TABLE alert_events (
    event_id               VARCHAR NOT NULL,    -- the lake event: `adlake alerts explain <id>`
    date                   DATE NOT NULL,       -- the data date evaluated
    run_id                 VARCHAR NOT NULL,    -- the ingest or check that evaluated it
    outcome                VARCHAR NOT NULL,    -- fired | renotified | recovered | suppressed
    rule_name              VARCHAR NOT NULL,
    rule_hash              VARCHAR NOT NULL,    -- sha256 of the rule's text
    condition              VARCHAR NOT NULL,
    subject                VARCHAR NOT NULL,    -- campaign <id> | endpoint <key>
    as_of_hour             TIMESTAMP NOT NULL,  -- the intraday hour read (as known at its end)
    evaluated_at           TIMESTAMP NOT NULL,  -- the evaluation's clock: newest fetch known then
    message                VARCHAR NOT NULL,
    projection_fingerprint VARCHAR NOT NULL,
    inputs                 VARCHAR NOT NULL,    -- JSON: input values by name
    evidence               VARCHAR NOT NULL,    -- JSON: per input, its fetch and raw event ids
    suppressed_by          VARCHAR              -- `taboola_report FAILED; ...`
);

CREATE TABLE alert_deliveries (
    event_id       VARCHAR NOT NULL,
    alert_event_id VARCHAR NOT NULL,           -- alert_events.event_id
    recorded_at    TIMESTAMP NOT NULL,
    run_id         VARCHAR NOT NULL,
    channel        VARCHAR NOT NULL,            -- webhook | slack (never the URL)
    delivered      BOOLEAN NOT NULL,
    attempts       INTEGER NOT NULL,
    http_status    INTEGER,
    error          VARCHAR
);
