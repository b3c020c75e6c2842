"""DuckDB's own cost of storing a projection's output, for `cargo bench --bench reproject`.

Copies every named table of a projected database into memory first (not measured), then,
one thread, from memory into a new database file (`CREATE TABLE AS`, committed), measuring
its own CPU time (`resource.getrusage`) and wall time around those writes alone. No projector
can write the same rows into DuckDB for less: with baseline (a) it bounds what a full
rebuild can reach.

Usage: python3 duckdb_store.py PROJECTED_DB SCRATCH_DB TABLE[,TABLE...]   (needs `pip install duckdb`)
SCRATCH_DB (and its .wal) is removed before and after. Prints one JSON object as its last
line: wall_s, cpu_s, rows, tables.
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


def remove(path):
    for f in (path, path + ".wal"):
        if os.path.exists(f):
            os.remove(f)


def main(db, out, tables):
    remove(out)
    con = duckdb.connect()
    con.execute("SET threads TO 1")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"ATTACH '{db}' AS projected (READ_ONLY)")
    for t in tables:
        con.execute(f"CREATE TABLE memory.main.{t} AS SELECT * FROM projected.main.{t}")
    con.execute("DETACH projected")
    con.execute(f"ATTACH '{out}' AS copy")
    per_table, cpu_total, wall_total, rows = {}, 0.0, 0.0, 0
    for t in tables:
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        con.execute("BEGIN")
        con.execute(f"CREATE TABLE copy.main.{t} AS SELECT * FROM memory.main.{t}")
        con.execute("COMMIT")
        t1 = time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        n = con.execute(f"SELECT count(*) FROM copy.main.{t}").fetchone()[0]
        per_table[t] = {"rows": n, "cpu_s": cpu}
        cpu_total += cpu
        wall_total += t1 - t0
        rows += n
    con.close()
    remove(out)
    print(json.dumps({"wall_s": wall_total, "cpu_s": cpu_total, "rows": rows, "tables": per_table}))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3].split(","))
