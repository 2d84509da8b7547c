#!/usr/bin/env python3
"""End-to-end throughput and memory of `geoexfil detect`, side by side with DuckDB.

One run of this script generates the inputs with `geoexfil generate`, times geoexfil's whole
main job (parse, filter, GeoIP, bucket, model, score, alerts) at 1 and 2 threads, times DuckDB
computing only the aggregation (total bytes sent per 3-hour bucket per destination address)
on the same files with the same thread count, and times the physical floor of reading each
file (`wc -l` on a warm page cache). It then checks the memory claims: peak resident memory
on a 1 GB and a 10 GB input, and the destination-address job with about a million distinct
addresses. The results replace the section between the markers in BENCHMARKS.md.

Usage: python3 benches/compare.py [--work DIR] [--repeats N] [--skip-10gb]
Needs: a release build (made here with cargo), /usr/bin/time, and the duckdb package
(`pip install duckdb`). Generated files are kept in --work (default /tmp/geoexfil-bench)
and reused when present, since generating 10 GB takes a few minutes.
"""

import argparse
import datetime
import hashlib
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "geoexfil"
BEGIN = "<!-- compare.py: begin -->"
END = "<!-- compare.py: end -->"

# DuckDB's side: only the aggregation geoexfil's buckets hold, read from the same file. The
# Zeek query names the columns from the file's own #fields line.
DUCKDB_ZEEK = """
import duckdb, sys, time
path, threads = sys.argv[1], int(sys.argv[2])
with open(path) as f:
    names = next(l for l in f if l.startswith('#fields')).rstrip('\\n').split('\\t')[1:]
columns = {n: 'VARCHAR' for n in names}
columns.update({'ts': 'DOUBLE', 'duration': 'DOUBLE', 'orig_bytes': 'BIGINT'})
con = duckdb.connect()
con.execute(f"SET threads TO {threads}")
con.execute("SET enable_progress_bar = false")
started = time.time()
row = con.execute(f'''
  SELECT count(*), sum(total) FROM (
    SELECT floor((ts + coalesce(duration, 0)) / 10800) AS bucket, "id.resp_h" AS destination,
           sum(orig_bytes) AS total
    FROM read_csv('{path}', delim='\\t', header=false, comment='#', nullstr='-',
                  columns={columns!r}, auto_detect=false, quote='', escape='')
    GROUP BY ALL)''').fetchone()
print(row[0], row[1], time.time() - started)
"""

DUCKDB_ECS = """
import duckdb, sys, time
path, threads = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
con.execute(f"SET threads TO {threads}")
con.execute("SET enable_progress_bar = false")
started = time.time()
row = con.execute(f'''
  SELECT count(*), sum(total) FROM (
    SELECT floor(epoch(e.event."end") / 10800) AS bucket, e.destination.ip AS destination,
           sum(e.source.bytes) AS total
    FROM read_json('{path}', format='newline_delimited',
      columns={{'event': 'STRUCT("end" TIMESTAMP)', 'source': 'STRUCT(bytes BIGINT)',
                'destination': 'STRUCT(ip VARCHAR)'}}) AS e
    GROUP BY ALL)''').fetchone()
print(row[0], row[1], time.time() - started)
"""


def timed(command, **kwargs):
    """Runs a command under /usr/bin/time; returns (wall seconds, peak RSS in kB, stdout,
    stderr)."""
    stats = Path(os.environ.get("TMPDIR", "/tmp")) / "geoexfil-bench-time.txt"
    full = ["/usr/bin/time", "-f", "%e %M", "-o", str(stats)] + [str(c) for c in command]
    done = subprocess.run(full, capture_output=True, text=True, **kwargs)
    if done.returncode not in (0, 2):
        sys.exit(f"failed ({done.returncode}): {' '.join(map(str, command))}\n{done.stderr}")
    wall, rss = stats.read_text().split()
    return float(wall), int(rss), done.stdout, done.stderr


def warm(path):
    """Reads a file once so that every timing starts from a warm page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def generate(work, name, arguments):
    path = work / name
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        subprocess.run([BINARY, "generate", "-q", *arguments, "-o", path], check=True)
    return path


def median_run(command, repeats):
    runs = [timed(command) for _ in range(repeats)]
    walls = [r[0] for r in runs]
    return statistics.median(walls), max(r[1] for r in runs), runs[0][2]


def geoexfil_run(path, threads, work, repeats, extra=()):
    """Median wall time and peak memory of detect; the digest of its alerts and records."""
    alerts, records = work / f"alerts-{threads}.ndjson", work / f"records-{threads}.ndjson"
    command = [BINARY, "detect", "-q", "--threads", threads, "--alerts", alerts,
               "--records", records, *extra, path]
    wall, rss, _ = median_run(command, repeats)
    digest = hashlib.sha256(alerts.read_bytes() + records.read_bytes()).hexdigest()[:16]
    alert_count = len(alerts.read_text().splitlines())
    return wall, rss, digest, alert_count


def duckdb_run(query, path, threads, repeats):
    runs = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", query, path, str(threads)],
                              capture_output=True, text=True, check=True)
        groups, total, seconds = done.stdout.split()[-3:]
        runs.append(float(seconds))
    return statistics.median(runs), int(groups), int(total)


def machine():
    cpu = "unknown cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import duckdb

    version = subprocess.run([BINARY, "--version"], capture_output=True, text=True).stdout
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, {platform.system()} "
            f"{platform.release()}, duckdb {duckdb.__version__}, {version.splitlines()[0]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/geoexfil-bench"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-10gb", action="store_true")
    options = parser.parse_args()
    options.work.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    work, repeats = options.work, options.repeats
    zeek = generate(work, "zeek-1gb.log", ["--format", "zeek-tsv", "--bytes", "1GB"])
    ecs = generate(work, "ecs-1gb.ndjson", ["--format", "ecs", "--bytes", "1GB"])
    lines = []
    say = lines.append
    say(f"Measured {time.strftime('%Y-%m-%d')} on {machine()}.")
    say("")
    say(f"Command: `python3 benches/compare.py --repeats {repeats}"
        f"{' --skip-10gb' if options.skip_10gb else ''}`. Inputs from `geoexfil generate "
        "--bytes 1GB` (1,000 hosts, about 100,000 destination addresses in 189 countries, 28 "
        f"days, seed 1). Times are the median of {repeats} runs on a warm page cache; geoexfil "
        "runs the reference country job with default settings and writes its alerts and "
        "records to files; DuckDB computes only the aggregation (bytes sent per 3-hour bucket "
        "per destination address) from the same file.")
    say("")
    say("| input | size | flows | `wc -l` | DuckDB 1 thread | DuckDB 2 threads | geoexfil "
        "1 thread | geoexfil 2 threads | geoexfil / DuckDB at 2 threads | geoexfil speed-up "
        "1 -> 2 threads | geoexfil peak RSS (2 threads) | same alerts and records at 1 and 2 "
        "threads |")
    say("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for label, path, query in [("Zeek TSV", zeek, DUCKDB_ZEEK), ("ECS NDJSON", ecs, DUCKDB_ECS)]:
        warm(path)
        size_gb = path.stat().st_size / 1e9
        floor, _, out = median_run(["wc", "-l", path], repeats)
        flows = int(out.split()[0])
        duck1, groups, total = duckdb_run(query, path, 1, repeats)
        duck2, _, _ = duckdb_run(query, path, 2, repeats)
        geo1, _, digest1, alerts = geoexfil_run(path, 1, work, repeats)
        geo2, rss2, digest2, _ = geoexfil_run(path, 2, work, repeats)
        print(f"{label}: duckdb {duck1:.2f}/{duck2:.2f} s, geoexfil {geo1:.2f}/{geo2:.2f} s",
              flush=True)
        say(f"| {label} | {size_gb:.2f} GB | {flows:,} lines | {floor:.2f} s | {duck1:.2f} s | "
            f"{duck2:.2f} s | {geo1:.2f} s | {geo2:.2f} s | **{geo2 / duck2:.1f}** | "
            f"{geo1 / geo2:.2f}x | {rss2 / 1024:.0f} MB | "
            f"{'yes' if digest1 == digest2 else 'NO'} ({alerts} alerts) |")
    say("")
    say(f"DuckDB's aggregation found {groups:,} (bucket, address) groups on the ECS file; "
        "geoexfil's alerts and records at 1 and 2 threads are compared byte for byte (their "
        "SHA-256).")
    say("")
    say("Peak memory against input size (Zeek TSV, 2 threads). *Same traffic, ten times "
        "over*: the 1 GB file's 28 days generated ten times back to back (`--start` moved by "
        "28 days each time, same seed), read as one directory of ten files. *Growing "
        "organisation*: one 10 GB file over 280 days (`--bytes 10GB --days 280`), in which "
        "hosts keep taking up new countries, so there are more (host, country) pairs to learn "
        "in every six weeks than in the first four:")
    say("")
    say("| input | flows | wall | peak RSS | pairs at the end | pairs forgotten | model state |")
    say("|---|---:|---:|---:|---:|---:|---:|")
    sizes = [("1 GB", zeek)]
    if not options.skip_10gb:
        repeated = work / "zeek-1gb-ten-times"
        repeated.mkdir(exist_ok=True)
        for copy in range(10):
            start = datetime.date(2024, 1, 1) + datetime.timedelta(days=28 * copy)
            generate(repeated, f"conn-{copy}.log", ["--format", "zeek-tsv", "--bytes", "1GB",
                                                    "--start", start.isoformat()])
        sizes.append(("10 GB, same traffic ten times over", repeated))
        sizes.append(("10 GB, growing organisation", generate(
            work, "zeek-10gb-280-days.log",
            ["--format", "zeek-tsv", "--bytes", "10GB", "--days", "280"])))
    for label, path in sizes:
        warm(path) if path.is_file() and path.stat().st_size < 4e9 else None
        wall, rss, _, log = timed([BINARY, "--log-level", "info", "detect", "-q", "--threads", 2,
                                   "--alerts", "/dev/null", path])
        model = dict(re.findall(r"(pairs|forgotten_pairs|model_bytes)=(\d+)", log))
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        flows = sum(1 for file in files for line in open(file, "rb") if not line.startswith(b"#"))
        say(f"| {label} | {flows:,} | {wall:.1f} s | {rss / 1024:.0f} MB | "
            f"{int(model.get('pairs', 0)):,} | {int(model.get('forgotten_pairs', 0)):,} | "
            f"{int(model.get('model_bytes', 0)) / 1e6:.1f} MB |")
        print(f"{label}: {wall:.1f} s, {rss} kB", flush=True)
    say("")
    many = generate(work, "zeek-1m-destinations.log",
                    ["--format", "zeek-tsv", "--flows", "3000000", "--destinations", "1000000",
                     "--hosts", "2000"])
    wall, rss, _, summary = timed([BINARY, "detect", "--job", "destination-ip",
                                   "--max-over-values", "2000000", "--threads", 2, "--alerts",
                                   "/dev/null", many])
    values = re.search(r"([\d,]+) values of destination\.ip modelled", summary)
    say(f"Destination-address job on `geoexfil generate --flows 3000000 --destinations 1000000 "
        f"--hosts 2000` (Zeek TSV): {values.group(1) if values else '?'} distinct addresses "
        f"modelled, {wall:.1f} s, peak RSS **{rss / 1024:.0f} MB** at 2 threads.")
    text = (ROOT / "BENCHMARKS.md").read_text()
    section = BEGIN + "\n" + "\n".join(lines) + "\n" + END
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: section, text,
                      flags=re.S)
    else:
        text += "\n" + section + "\n"
    (ROOT / "BENCHMARKS.md").write_text(text)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
