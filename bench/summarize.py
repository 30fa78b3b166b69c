#!/usr/bin/env python3
"""Medians of the interleaved edit-storm runs of bench.sh: gateway and Redis CPU seconds,
propagation p50/p99, capture on vs off."""
import json, statistics, sys, pathlib
out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out")
rows = {}
for mode in ("on", "off"):
    runs = [json.load(open(p)) for p in sorted(out.glob(f"storm-{mode}-*.json"))]
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
    }
print(f"{'':16}{'on':>10}{'off':>10}{'on/off':>8}")
for k in ("gateway_cpu_s", "redis_cpu_s", "p50_ms", "p99_ms", "edits"):
    on, off = rows["on"][k], rows["off"][k]
    print(f"{k:16}{on:>10.2f}{off:>10.2f}{on / off if off else float('nan'):>8.2f}")
for mode in ("on", "off"):
    print(mode, "runs", rows[mode]["runs"], "gateway CPU per run", rows[mode]["each_gw_cpu"], "missing max", rows[mode]["missing"])
