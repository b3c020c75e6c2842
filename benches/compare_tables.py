#!/usr/bin/env python3
"""Compares two adlake databases table by table, independently of how either was written.

usage: python3 benches/compare_tables.py A.duckdb B.duckdb [TABLE ...]

For every table both databases hold (but the bookkeeping of schema_migrations and
projection_meta), or the tables named, prints its row count in each and
whether the rows are equal as a multiset: the md5 of the rows' text, sorted. Columns that only
one side has are left out and named. Exit status 1 when a compared table differs.
Needs the Python duckdb that matches the bundled engine (pip install duckdb==2.0.0).
"""
import sys

import duckdb


def tables(conn):
    return {r[0] for r in conn.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        " AND table_name NOT IN ('schema_migrations', 'projection_meta')").fetchall()}


def columns(conn, table):
    return [r[0] for r in conn.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
        " ORDER BY ordinal_position", params=[table]).fetchall()]


def digest(conn, table, cols):
    quoted = ", ".join(f'"{c}"' for c in cols)
    return conn.sql(
        f"SELECT count(*), md5(coalesce(string_agg(r, chr(10) ORDER BY r), ''))"
        f" FROM (SELECT CAST(ROW({quoted}) AS VARCHAR) AS r FROM \"{table}\")").fetchall()[0]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    a = duckdb.connect(sys.argv[1], read_only=True)
    b = duckdb.connect(sys.argv[2], read_only=True)
    wanted = sys.argv[3:] or sorted(tables(a) & tables(b))
    only = sorted(tables(a) ^ tables(b))
    differ = 0
    print(f"{'table':28} {'rows A':>9} {'rows B':>9}  verdict")
    for t in wanted:
        ca, cb = columns(a, t), columns(b, t)
        common = [c for c in ca if c in cb]
        (na, ha), (nb, hb) = digest(a, t, common), digest(b, t, common)
        verdict = "equal" if ha == hb else "DIFFERENT"
        differ += ha != hb
        extra = sorted(set(ca) ^ set(cb))
        note = f"  (compared without {', '.join(extra)})" if extra else ""
        print(f"{t:28} {na:>9} {nb:>9}  {verdict}{note}")
    if only:
        print(f"tables in one database only: {', '.join(only)}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
