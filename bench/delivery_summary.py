#!/usr/bin/env python3
"""Medians of bench/delivery.sh runs: python3 bench/delivery_summary.py DIR.

Groups DIR's edit-storm JSON files (LABEL-RATE-ROUND.json), fan-out (fanout-LABEL-ROUND)
and idle (idle-LABEL-ROUND) by label and rate, and prints per group: gateway CPU us per
delivery (both gateways' CPU / deliveries), propagation p50/p99 (ms), delivered share,
fan-out CPU us per update per observer, idle bytes of RSS per connection, with the runs'
spread (min-max)."""
import glob, json, os, re, statistics, sys
from collections import defaultdict

d = sys.argv[1]
storm, fan, idle = defaultdict(list), defaultdict(list), defaultdict(list)
for path in sorted(glob.glob(os.path.join(d, "*.json"))):
    name = os.path.basename(path)[:-5]
    try:
        j = json.load(open(path))
    except Exception:
        continue
    # the two gateways' CPU (a third server, when listed, is Redis)
    cpu = sum(s.get("cpu_seconds") or 0 for s in j.get("servers", [])[:2])
    if name.startswith("fanout-"):
        label = name.split("-")[1]
        obs = j.get("observers") or j.get("settings", {}).get("observers")
        deliveries = j.get("deliveries") or 0
        fan[label].append(dict(us=cpu / deliveries * 1e6 if deliveries else float("nan"),
                               p50=j["propagation_ms"]["p50"], p99=j["propagation_ms"]["p99"],
                               miss=j.get("missing_deliveries", 0)))
    elif name.startswith("idle-"):
        label = name.split("-")[1]
        idle[label].append((j.get("idle") or {}).get("rss_per_connection_bytes"))
    else:
        m = re.match(r"(.+)-(\d+)-(\d+)$", name)
        if not m:
            continue
        label, rate = m.group(1), int(m.group(2))
        dl = j.get("deliveries") or 0
        storm[(label, rate)].append(dict(
            us=cpu / dl * 1e6 if dl else float("nan"), eps=j.get("edits_per_second", 0),
            p50=j["propagation_ms"]["p50"], p99=j["propagation_ms"]["p99"],
            cross99=j["propagation_cross_target_ms"]["p99"],
            miss=j.get("missing_deliveries", 0), errors=j.get("errors", 0)))

def fmt(rows, key, nd=1):
    v = [r[key] for r in rows]
    return f"{statistics.median(v):.{nd}f} ({min(v):.{nd}f}-{max(v):.{nd}f})"

print("| system | offered edits/s | runs | achieved edits/s | CPU us/delivery | p50 ms | p99 ms | cross-gw p99 ms | missing |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for (label, rate), rows in sorted(storm.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    print(f"| {label} | {rate} | {len(rows)} | {fmt(rows,'eps',0)} | {fmt(rows,'us')} | {fmt(rows,'p50',2)} | {fmt(rows,'p99',2)} | {fmt(rows,'cross99',2)} | {sum(r['miss'] for r in rows)} |")
if fan:
    print()
    print("| system | runs | CPU us per update per observer | p50 ms | p99 ms | missing |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, rows in sorted(fan.items()):
        print(f"| {label} | {len(rows)} | {fmt(rows,'us',2)} | {fmt(rows,'p50',2)} | {fmt(rows,'p99',2)} | {sum(r['miss'] for r in rows)} |")
if idle:
    print()
    print("| system | runs | idle RSS bytes per connection (both gateways) |")
    print("| --- | --- | --- |")
    for label, rows in sorted(idle.items()):
        v = [x for x in rows if x is not None]
        shown = f"{statistics.median(v):.0f} ({min(v):.0f}-{max(v):.0f})" if v else "-"
        print(f"| {label} | {len(rows)} | {shown} |")
