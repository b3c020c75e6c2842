"""Baseline (b) of `cargo bench --bench reproject`: DuckDB alone over the same bodies.

Loads every endpoint's decompressed bodies (one file per body, in a directory per endpoint
key) into a table with DuckDB's `read_json` and an unnest of the row array (`read_csv` for
Zemanta), then joins S1 revenue to platform spend in SQL. One thread. Its own CPU time
(`resource.getrusage`) and wall time are measured around the loads and the join only.

Usage: python3 duckdb_read_json.py BODIES_DIR   (needs `pip install duckdb`)
Prints one JSON object as its last line: mb, wall_s, cpu_s, mb_per_cpu_s, tables,
load_errors, joined_rows.
"""

import json
import os
import resource
import sys
import time

try:
    import duckdb
except ImportError:
    sys.exit("the Python module `duckdb` is missing (pip install duckdb)")

# Where each endpoint keeps its rows (see upstream-contract.md); None: a bare array; "csv": CSV.
ROWS_AT = {
    "s1_daily_v3": "data",
    "s1_reconciled": None,
    "s1_rpc_average": "rows",
    "s1_hourly_v3": "data.data",
    "facebook_report": "data",
    "facebook_campaigns": "data",
    "facebook_adsets": "data",
    "facebook_pixel": None,
    "strategis_metrics": "data",
    "taboola_report": "results",
    "outbrain_report": "campaignResults",
    "newsbreak_report": "data.rows",
    "mediago_report": "results",
    "zemanta_report": "csv",
    "smartnews_report": "data",
}

JOIN = """
  SELECT count(*) FROM (
    SELECT s1.date, s1.strategisCampaignId,
           sum(CAST(replace(CAST(s1.estimated_revenue AS VARCHAR), ',', '') AS DECIMAL(18,2))) AS revenue,
           coalesce(max(CAST(fb.spend AS DECIMAL(18,2))), max(CAST(tb.spent AS DECIMAL(18,2))),
                    max(CAST(mg.spend AS DECIMAL(18,2)))) AS spend
    FROM s1_daily_v3 AS s1
    LEFT JOIN facebook_report fb ON fb.campaign_id = s1.networkCampaignId AND fb.date_start = s1.date
    LEFT JOIN taboola_report tb ON tb.strategisCampaignId = s1.strategisCampaignId
                               AND CAST(tb.date AS VARCHAR)[:10] = CAST(s1.date AS VARCHAR)
    LEFT JOIN mediago_report mg ON mg.strategisCampaignId = s1.strategisCampaignId
                               AND CAST(mg.date AS VARCHAR) = CAST(s1.date AS VARCHAR)
    GROUP BY ALL)
"""


def load_sql(key, files):
    path = ROWS_AT[key]
    if path == "csv":
        return f"CREATE TABLE {key} AS SELECT * FROM read_csv('{files}', header=true)"
    if path is None:
        return (f"CREATE TABLE {key} AS SELECT * FROM read_json('{files}', format='array', "
                "maximum_object_size=1000000000)")
    return (f"CREATE TABLE {key} AS SELECT u.* FROM (SELECT unnest(j.{path}) AS u "
            f"FROM read_json('{files}', maximum_object_size=1000000000) AS j)")


def main(d):
    present = [k for k in ROWS_AT if os.path.isdir(os.path.join(d, k))]
    size = sum(os.path.getsize(os.path.join(d, k, f))
               for k in present for f in os.listdir(os.path.join(d, k)))
    con = duckdb.connect()
    con.execute("SET threads TO 1")
    con.execute("SET enable_progress_bar = false")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    loaded, errors = {}, {}
    for key in present:
        try:
            con.execute(load_sql(key, os.path.join(d, key, "*")))
            loaded[key] = con.execute(f"SELECT count(*) FROM {key}").fetchone()[0]
        except Exception as e:  # a shape DuckDB cannot read is reported, not fatal
            errors[key] = str(e).splitlines()[0]
    joined = None
    if all(k in loaded for k in ["s1_daily_v3", "facebook_report", "taboola_report", "mediago_report"]):
        joined = con.execute(JOIN).fetchone()[0]
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    t1 = time.perf_counter()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    mb = size / 1048576
    print(json.dumps({"mb": mb, "wall_s": t1 - t0, "cpu_s": cpu,
                      "mb_per_cpu_s": mb / cpu if cpu else None,
                      "tables": loaded, "load_errors": errors, "joined_rows": joined}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
