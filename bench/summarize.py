#!/usr/bin/env python3
"""Medians of the interleaved edit-storm runs of bench.sh (capture on vs off); with
--diag DIR, of bench/diag.sh: the diag-latency runs and the storms with diagnostics on vs
off: gateway and Redis CPU seconds, propagation p50/p99; with --cluster DIR, of
bench/cluster.sh: one Redis vs a 3-master cluster, Redis CPU per edit per node."""
import json, statistics, sys, pathlib

args = sys.argv[1:]
diag = bool(args) and args[0] == "--diag"
cluster = bool(args) and args[0] == "--cluster"
if diag or cluster:
    args = args[1:]
default = "bench/results/diag" if diag else "bench/results/cluster" if cluster else "bench/out"
out = pathlib.Path(args[0] if args else default)


def storms():
    rows = {}
    for mode in ("on", "off"):
        runs = [json.load(open(p)) for p in sorted(out.glob(f"storm-{mode}-*.json"))]
        if not runs:
            continue
        def med(f):
            return statistics.median(f(r) for r in runs)
        rows[mode] = {
            "runs": len(runs),
            "gateway_cpu_s": med(lambda r: r["servers"][0]["cpu_seconds"]),
            "redis_cpu_s": med(lambda r: r["servers"][1]["cpu_seconds"]),
            "p50_ms": med(lambda r: r["propagation_ms"]["p50"]),
            "p99_ms": med(lambda r: r["propagation_ms"]["p99"]),
            "edits": med(lambda r: r["edits"]),
            "missing": max(r["missing_deliveries"] for r in runs),
            "each_gw_cpu": [round(r["servers"][0]["cpu_seconds"], 2) for r in runs],
            "each_p99": [round(r["propagation_ms"]["p99"], 2) for r in runs],
        }
    if len(rows) < 2:
        print("storm: no on/off runs")
        return
    label = "diagnostics" if diag else "capture"
    print(f"edit-storm, {label} on vs off (medians of {rows['on']['runs']} / {rows['off']['runs']} runs)")
    print(f"{'':16}{'on':>10}{'off':>10}{'on/off':>8}")
    for k in ("gateway_cpu_s", "redis_cpu_s", "p50_ms", "p99_ms", "edits"):
        on, off = rows["on"][k], rows["off"][k]
        print(f"{k:16}{on:>10.2f}{off:>10.2f}{on / off if off else float('nan'):>8.2f}")
    for mode in ("on", "off"):
        r = rows[mode]
        print(mode, "runs", r["runs"], "gateway CPU per run", r["each_gw_cpu"], "p99 per run",
              r["each_p99"], "missing max", r["missing"])
    if diag:
        for p in sorted(out.glob("storm-*.metrics")):
            m = {}
            for line in open(p):
                series, value = line.rsplit(" ", 1)
                m[series] = float(value)
            parses = sum(v for s, v in m.items() if s.startswith("collab_diagnostics_parses_total"))
            secs = sum(v for s, v in m.items() if s.startswith("collab_diagnostics_parse_seconds_sum"))
            print(f"{p.stem}: {parses:.0f} parses, {secs:.2f} s parsing")


def latencies():
    runs = sorted(out.glob("latency-*.json"))
    if not runs:
        return
    print("diag-latency: keystroke -> markers at the observer (includes the 150 ms debounce), ms")
    print(f"{'run':20}{'probes':>7}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}{'edit p50':>10}{'edit p99':>10}"
          f"{'parses/probe':>13}{'parse ms':>10}{'misses':>8}{'gw CPU s':>10}")
    for p in runs:
        r = json.load(open(p))
        m, e, f = r["markers"], r["edit"], r.get("metrics") or {}
        gw = sum(s["cpu_seconds"] or 0 for s in r["servers"][:-1])
        print(f"{p.stem:20}{m['count']:>7}{m['p50_ms']:>9.1f}{m['p90_ms']:>9.1f}{m['p99_ms']:>9.1f}"
              f"{m['max_ms']:>9.1f}{e['p50_ms']:>10.2f}{e['p99_ms']:>10.2f}"
              f"{f.get('parses_per_probe', float('nan')):>13.2f}{f.get('mean_parse_ms', float('nan')):>10.2f}"
              f"{r['misses']:>8}{gw:>10.2f}")
    print()


def cluster_storms():
    """Per mode: medians over rounds; Redis CPU per edit for every node (us per edit)."""
    roles = {}  # pid -> "port role"
    for line in open(out / "nodes.txt"):
        port, role, pid = line.split()
        roles[int(pid)] = f"{port} {role}"
    first = json.load(open(next(iter(sorted(out.glob("storm-*.json"))))))
    st = first["settings"]
    print(f"edit-storm ({st['editors']} editors, {st['files']} files, {st['rate']}/s each, "
          f"{first['edit_seconds']:.0f} s; 2 gateways): one Redis vs a cluster of 3 masters + 3 replicas")
    print(f"{'mode':8}{'runs':>5}{'p50 ms':>8}{'p99 ms':>8}{'edits/s':>9}{'missing':>8}"
          f"{'gw CPU s':>9}{'Redis CPU s':>12}{'Redis us/edit':>14}")
    per_node = {}
    for mode in ("single", "cluster"):
        runs = [json.load(open(p)) for p in sorted(out.glob(f"storm-{mode}-*.json"))]
        if not runs:
            continue
        def med(f):
            return statistics.median(f(r) for r in runs)
        gw = med(lambda r: sum(s["cpu_seconds"] for s in r["servers"][:2]))
        redis = med(lambda r: sum(s["cpu_seconds"] for s in r["servers"][2:]))
        per_edit = med(lambda r: 1e6 * sum(s["cpu_seconds"] for s in r["servers"][2:]) / r["edits"])
        print(f"{mode:8}{len(runs):>5}{med(lambda r: r['propagation_ms']['p50']):>8.2f}"
              f"{med(lambda r: r['propagation_ms']['p99']):>8.2f}{med(lambda r: r['edits_per_second']):>9.0f}"
              f"{max(r['missing_deliveries'] for r in runs):>8}{gw:>9.2f}{redis:>12.2f}{per_edit:>14.1f}")
        per_node[mode] = {}
        for i in range(2, len(runs[0]["servers"])):
            pid = runs[0]["servers"][i]["pid"]
            name = roles.get(pid, "single") if mode == "cluster" else "single"
            per_node[mode][name] = (
                med(lambda r: r["servers"][i]["cpu_seconds"]),
                med(lambda r: 1e6 * r["servers"][i]["cpu_seconds"] / r["edits"]),
            )
    print()
    print("Redis CPU per node (medians): CPU s, us per edit (of all edits)")
    for mode, nodes in per_node.items():
        for name, (cpu, us) in sorted(nodes.items()):
            print(f"  {mode:8}{name:22}{cpu:>8.2f} s{us:>8.1f} us/edit")


if cluster:
    cluster_storms()
    sys.exit(0)
if diag:
    latencies()
storms()
if diag and (out / "parse_cost.txt").exists():
    print()
    print("parse_cost (collab-syntax example):")
    print((out / "parse_cost.txt").read_text().rstrip())
