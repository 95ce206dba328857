"""Writes the rooms section of docs/benchmarks.md from one `scripts/bench --rooms` run.

Usage: bench_rooms_report.py RESULTS_DIR BENCHMARKS_MD

RESULTS_DIR holds machine.json, hot-{base,head}-N.json, burst-{base,head}-N.json and
simulated-head.json (the load driver's output). The section sits between the markers below and
is replaced as a whole; the rest of the file (the full `scripts/bench` run) is left as it is.
"""

import json
import statistics
import sys
from pathlib import Path

from bench_common import replace_section, spread

BEGIN = "<!-- rooms:begin (scripts/bench --rooms) -->"
END = "<!-- rooms:end -->"


def load(path):
    return json.loads(path.read_text()) if path.exists() else None


def audit(runs):
    refused = sum(r.get("refused", 0) for r in runs)
    return (
        (f"{refused} refused, " if refused else "")
        + f"{sum(r['missing'] for r in runs)} lost, {sum(r['duplicates'] for r in runs)} duplicated, "
        f"{sum(r['out_of_order'] for r in runs)} out of order"
    )


def hot_section(results):
    sides = {}
    for side in ("base", "head"):
        runs = []
        for path in sorted(results.glob(f"hot-{side}-*.json")):
            runs += load(path)["hot_room"]
        sides[side] = runs
    if not sides["base"] or not sides["head"]:
        return []
    rows = ["| build | deliveries/s | delivery p50 ms | delivery p99 ms | answer p99 ms | audit |", "|---|---:|---:|---:|---:|---|"]
    med = {}
    for side, label in (("base", "baseline"), ("head", "this commit")):
        runs = sides[side]
        rate = [r["deliveries_per_second"] for r in runs]
        p99 = [r["latency_ms"]["p99"] for r in runs]
        med[side] = (statistics.median(rate), statistics.median(p99))
        rows.append(
            f"| {label} | {spread(rate)} | {spread([r['latency_ms']['p50'] for r in runs], '{:,.0f}')} | {spread(p99, '{:,.0f}')} "
            f"| {spread([r['answer_ms']['p99'] for r in runs], '{:,.0f}')} | {audit(runs)} |"
        )
    r = sides["head"][0]
    return [
        "### Hot room: one conversation, every member sending at once (embedded store)",
        "",
        f"{r['room']} members with one socket each; each sends {r['messages'] // r['room']} messages at once "
        f"({r['messages']} sends, {r['expected_deliveries']:,} expected deliveries per round). Rounds alternate the two "
        "builds; medians over rounds, (min–max).",
        "",
        *rows,
        "",
        f"**This commit against the baseline: {med['head'][0] / med['base'][0]:.1f}× the deliveries per second, "
        f"p99 delivery {med['head'][1] / med['base'][1]:.2f}× the baseline's.**",
    ]


def burst_runs(results, side):
    """Every counted burst of one build: burst-SIDE-N.json (rounds), or burst-SIDE.json (older runs)."""
    runs = []
    for path in sorted(results.glob(f"burst-{side}-*.json")) or [results / f"burst-{side}.json"]:
        runs += (load(path) or {}).get("throughput", [])
    return runs


def burst_section(results):
    sides = {side: burst_runs(results, side) for side in ("base", "head")}
    if not sides["base"] and not sides["head"]:
        return []
    rows = [
        "| build | runs | DynamoDB requests per send | answer p50 ms | answer p99 ms | answer max ms | delivery p50 ms "
        "| delivery p99 ms | deliveries/s | audit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    operations = []
    for side, label in (("base", "baseline"), ("head", "this commit")):
        runs = sides[side]
        if not runs:
            continue
        ms = lambda key, q: spread([r[key].get(q, float("nan")) for r in runs])  # noqa: E731
        rows.append(
            f"| {label} | {len(runs)} | {spread([r.get('store_requests_per_send', float('nan')) for r in runs], '{:.1f}')} "
            f"| {ms('answer_ms', 'p50')} | {ms('answer_ms', 'p99')} | {ms('answer_ms', 'max')} | {ms('latency_ms', 'p50')} "
            f"| {ms('latency_ms', 'p99')} | {spread([r['deliveries_per_second'] for r in runs])} | {audit(runs)} |"
        )
        totals, sends = {}, 0
        for r in runs:
            sends += r["messages"]
            for op, n in (r.get("store_operations") or {}).items():
                totals[op] = totals.get(op, 0) + n
        if totals:
            listed = ", ".join(f"{op} {n / sends:.2f}" for op, n in sorted(totals.items(), key=lambda kv: -kv[1]))
            operations.append(f"- {label}: {listed}")
    ratio = []
    if sides["base"] and sides["head"]:
        p99 = {s: statistics.median(r["latency_ms"]["p99"] for r in sides[s]) for s in sides}
        answers = [r["answer_ms"].get("max", float("nan")) for r in sides["head"]]
        ratio = [
            "",
            f"**Delivery p99, this commit against the baseline (medians): {p99['head']:,.0f} ms against "
            f"{p99['base']:,.0f} ms, {p99['head'] / p99['base']:.2f}×; this commit's slowest answer in any run "
            f"{max(answers):,.0f} ms.**",
        ]
    # Warm-up bursts, in the order they ran: burst-warmup-SIDE-N.json (or one burst-warmup.json).
    warmups = []
    for path in sorted(results.glob("burst-warmup*.json"), key=lambda p: p.stat().st_mtime):
        side = "baseline" if "-base-" in path.name else "this commit"
        for r in (load(path) or {}).get("throughput", []):
            warmups.append(f"{side} {r['latency_ms']['p99'] / 1000:,.1f} s")
    return [
        "### Burst on DynamoDB Local",
        "",
        "40 users in 10 overlapping groups of 8, 1,600 `send_message` frames at once, on DynamoDB Local. Warm-up "
        "bursts (not counted) run first, as DynamoDB Local's JVM gets faster over its first few bursts after a start; "
        "then rounds alternate which build goes first. Medians over the runs, (min–max). Requests per send are "
        "everything the gateway sent to DynamoDB during a run (creating the groups and connecting the sockets "
        "included), divided by the sends.",
        *([f"Warm-up bursts, in the order they ran, and their delivery p99: {', '.join(warmups)}."] if warmups else []),
        "",
        *rows,
        *ratio,
        *(["", "Requests per send by operation, over all runs (a status in brackets: those that failed, and were "
           "retried or answered):", "", *operations] if operations else []),
    ]


def simulated_section(results):
    data = load(results / "simulated-head.json")
    if not data:
        return []
    lines = [
        "### This commit under simulated AWS latencies",
        "",
        f"DynamoDB Local with {data.get('store_latency_ms', 0)} ms added to every request, and the management API taking "
        "20 ms per `PostToConnection` (`CHATHUB_POST_LATENCY_MS=20`).",
        "",
        "| scenario | figure |",
        "|---|---|",
    ]
    for f in data["fanout"]:
        lines.append(
            f"| one message to {f['members']} member sockets | last socket after {spread(f['last_socket_ms'], '{:,.0f}')} ms |"
        )
    for r in data.get("hot_room", []):
        lines.append(
            f"| hot room: {r['room']} members, {r['messages']} sends at once | {r['deliveries_per_second']:,.0f} deliveries/s, "
            f"p99 {r['latency_ms']['p99']:,.0f} ms, {audit([r])} |"
        )
    batch = load(results / "simulated-batch-head.json")
    rates = data.get("offered_rate", []) + (batch or {}).get("offered_rate", [])
    if rates:
        lines += [
            "",
            "Offered rate: messages sent over REST on a fixed schedule (open loop) for "
            f"{rates[0]['seconds']:g} s; delivery latency counted from each message's scheduled time, so a backlog "
            "shows. Sustainable: the highest rate offered with delivery p99 ≤ 1 s and nothing lost.",
            "",
            "| room | sockets online | sockets ask for batch frames | offered msg/s | delivery p50 / p99 / max ms | send answer p99 ms | batch frames received | audit |",
            "|---:|---:|---|---:|---:|---:|---:|---|",
        ]
        for r in rates:
            asked = "yes" if r.get("batch") else "no"
            lines.append(
                f"| {r['room']:,} | {r['online']} | {asked} | {r['rate']:g} | {r['latency_ms']['p50']:,.0f} / {r['latency_ms']['p99']:,.0f} / "
                f"{r['latency_ms']['max']:,.0f} | {r['answer_ms']['p99']:,.0f} | {r.get('frames_batched', 0):,} | {audit([r])} |"
            )
        lines.append("")
        for asked in (False, True):
            runs = [r for r in rates if bool(r.get("batch")) == asked]
            for room in sorted({r["room"] for r in runs}):
                ok = [r["rate"] for r in runs if r["room"] == room and r["latency_ms"]["p99"] <= 1000 and r["missing"] == 0]
                tried = max(r["rate"] for r in runs if r["room"] == room)
                best = f"{max(ok):g} msg/s" if ok else "below the lowest rate offered"
                more = " (the highest offered)" if ok and max(ok) == tried else ""
                how = "with batch frames" if asked else "one frame per message"
                lines.append(f"- room of {room:,}, {how}: sustains {best}{more}")
    return lines


def main():
    results, target = Path(sys.argv[1]), Path(sys.argv[2])
    machine = load(results / "machine.json") or {}
    parts = [
        BEGIN,
        "## Rooms: this commit against a baseline, in one run",
        "",
        "From `scripts/bench --rooms` (it replaces this section only). Both builds run the same load driver in the "
        "same go.",
        "",
    ]
    parts += [f"- {k}: {v}" for k, v in machine.items()]
    for section in (hot_section(results), burst_section(results), simulated_section(results)):
        if section:
            parts += [""] + section
    parts.append(END)
    replace_section(target, BEGIN, END, "\n".join(parts))
    print(f"wrote the rooms section of {target}")


if __name__ == "__main__":
    main()
