"""The tally of scripts/mutation.sh: per module, mutants killed, survived, timed out (a hang the test timeout caught:
killed), suspicious (slow, but killed) and skipped, from each module's mutmut cache in .mutation/."""

import glob
import os
import sqlite3
import sys

folder = sys.argv[1] if len(sys.argv) > 1 else ".mutation"
print(f"{'module':10} {'mutants':>8} {'killed':>7} {'survived':>9} {'timeout':>8} {'skipped':>8} {'killed %':>9}")
for db in sorted(glob.glob(os.path.join(folder, "*.sqlite"))):
    rows = dict(sqlite3.connect(db).execute("select status, count(*) from Mutant group by status").fetchall())
    killed = rows.get("ok_killed", 0) + rows.get("ok_suspicious", 0)
    survived, timeout, skipped = rows.get("bad_survived", 0), rows.get("bad_timeout", 0), rows.get("skipped", 0)
    tested = killed + survived + timeout
    print(f"{os.path.basename(db)[:-7]:10} {tested:8} {killed:7} {survived:9} {timeout:8} {skipped:8} "
          f"{100 * (killed + timeout) / max(tested, 1):8.1f}%")
