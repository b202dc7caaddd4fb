"""The tally of scripts/mutation.sh: per module, mutants killed, survived, timed out (a hang the test timeout caught:
killed), suspicious (slow, but killed) and skipped, from each module's mutmut cache in .mutation/; where
recheck.py has re-tested the survivors since (MODULE.recheck.txt), its count of those still alive and equivalent,
and the share of non-equivalent mutants killed."""

import glob
import os
import re
import sqlite3
import sys

folder = sys.argv[1] if len(sys.argv) > 1 else ".mutation"
print(f"{'module':10} {'mutants':>8} {'killed':>7} {'survived':>9} {'timeout':>8} {'skipped':>8} {'killed %':>9}   after recheck")
for db in sorted(glob.glob(os.path.join(folder, "*.sqlite"))):
    rows = dict(sqlite3.connect(db).execute("select status, count(*) from Mutant group by status").fetchall())
    killed = rows.get("ok_killed", 0) + rows.get("ok_suspicious", 0)
    survived, timeout, skipped = rows.get("bad_survived", 0), rows.get("bad_timeout", 0), rows.get("skipped", 0)
    tested = killed + survived + timeout
    after = ""
    recheck = db[:-7] + ".recheck.txt"
    if os.path.exists(recheck):
        m = re.match(r"\S+: (\d+) of (\d+) survivors still alive against the tests of now, (\d+) equivalent", open(recheck).readline())
        if m:
            alive, _, equivalent = map(int, m.groups())
            real = tested - equivalent
            after = f"   {alive} alive, {equivalent} equivalent: {real - alive}/{real} non-equivalent killed ({100 * (real - alive) / max(real, 1):.1f}%)"
    sample = open(db[:-7] + ".sample").read().strip() if os.path.exists(db[:-7] + ".sample") else "1"
    if sample != "1":
        after += f"   (a 1-in-{sample} sample: skipped counts the rest)"
    print(f"{os.path.basename(db)[:-7]:10} {tested:8} {killed:7} {survived:9} {timeout:8} {skipped:8} "
          f"{100 * (killed + timeout) / max(tested, 1):8.1f}%{after}")
