"""Writes docs/benchmarks.md and its charts from one scripts/bench run's results folder.

    python scripts/bench_report.py RESULTS_DIR DOCS_DIR

RESULTS_DIR holds machine.json, sizes.json, coldstart.json, counts.json, load.json and, when
scripts/profile-sizes ran, profiles.md. Charts need matplotlib (scripts/bench installs it).
"""

import json
import statistics
import sys
from pathlib import Path

SIZE_GOAL = 6_000_000


def load(path):
    return json.loads(Path(path).read_text()) if Path(path).exists() else None


def median(values):
    return statistics.median(values) if values else float("nan")


def spread(values):
    return (min(values), max(values)) if values else (float("nan"), float("nan"))


def cold_table(cold):
    results = cold["results"]
    floor = next(r for r in results if r["kind"] == "floor")
    floor_init = median(floor["init_ms"])
    rows = [
        "| binary | init p50 (ms) | init min–max | init ÷ floor | first answer p50 (ms) | first answer min–max | answers |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        init, first = median(r["init_ms"]), median(r["first_ms"])
        lo, hi = spread(r["init_ms"])
        flo, fhi = spread(r["first_ms"])
        answers = ", ".join(f"{k}×{v}" for k, v in r["outcomes"].items())
        rows.append(
            f"| {r['name']} | {init:.1f} | {lo:.1f}–{hi:.1f} | {init / floor_init:.2f} | {first:.1f} | {flo:.1f}–{fhi:.1f} | {answers} |"
        )
    return "\n".join(rows), floor_init


def cold_summary(cold, floor_init):
    rust = [r for r in cold["results"] if r["kind"] == "rust"]
    ratios = sorted((median(r["init_ms"]) / floor_init, r["name"]) for r in rust)
    within = sum(1 for ratio, _ in ratios if ratio <= 2.0)
    node = next((r for r in cold["results"] if r["kind"] == "node"), None)
    worst = ratios[-1]
    lines = [
        f"- Functions whose init is within 2× the floor: **{within} of {len(ratios)}**; "
        f"worst {worst[1]} at {worst[0]:.2f}×, median ratio {median([r for r, _ in ratios]):.2f}×.",
    ]
    if node:
        me = next((r for r in rust if r["name"] == "users-me-get"), None)
        if me:
            lines.append(
                f"- The comparable job (one GetItem, `GET /users/me`): Rust init {median(me['init_ms']):.1f} ms and first "
                f"answer {median(me['first_ms']):.1f} ms; Node.js init {median(node['init_ms']):.1f} ms and first answer "
                f"{median(node['first_ms']):.1f} ms ({median(node['first_ms']) / median(me['first_ms']):.1f}× slower to its first answer)."
            )
    return "\n".join(lines)


def size_table(sizes):
    rows = ["| function | stripped arm64 binary (bytes) | MB | zip (bytes) | links |", "|---|---:|---:|---:|---|"]
    for s in sorted(sizes, key=lambda s: -s["bytes"]):
        flag = "" if s["bytes"] <= SIZE_GOAL else " ⚠ over 6 MB"
        rows.append(f"| {s['function']} | {s['bytes']:,} | {s['bytes'] / 1e6:.2f}{flag} | {s['zip_bytes']:,} | {s['clients']} |")
    return "\n".join(rows)


def counts_table(counts):
    rows = [
        "| operation | DynamoDB requests (counted) | write units | read units | units |",
        "|---|---:|---:|---:|---:|",
    ]
    rows += [
        f"| {c['operation']} | {c['requests']} | {c.get('write_units', 0):g} | {c.get('read_units', 0):g} | {c.get('units', 0):g} |"
        for c in counts
    ]
    return "\n".join(rows)


def load_tables(data):
    by_clients = {}
    for run in data["throughput"]:
        by_clients.setdefault(run["clients"], []).append(run)
    rows = [
        "| clients | messages per run | deliveries per run | deliveries/s p50 (min–max) | latency p50 ms | p95 ms | p99 ms | answer p50 ms | missing | duplicates | out of order |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients, runs in sorted(by_clients.items()):
        rate = [r["deliveries_per_second"] for r in runs]
        lo, hi = spread(rate)
        p = {k: median([r["latency_ms"][k] for r in runs]) for k in ("p50", "p95", "p99")}
        rows.append(
            f"| {clients} | {runs[0]['messages']} | {runs[0]['expected_deliveries']} | {median(rate):,.0f} ({lo:,.0f}–{hi:,.0f}) | "
            f"{p['p50']:.1f} | {p['p95']:.1f} | {p['p99']:.1f} | {median([r['answer_ms']['p50'] for r in runs]):.1f} | "
            f"{sum(r['missing'] for r in runs)} | {sum(r['duplicates'] for r in runs)} | {sum(r['out_of_order'] for r in runs)} |"
        )
    fan = ["| member sockets | last socket p50 ms (min–max) | first socket p50 ms | delivered per message |", "|---:|---:|---:|---|"]
    for f in data["fanout"]:
        lo, hi = spread(f["last_socket_ms"])
        fan.append(
            f"| {f['members']} | {f['median_last_socket_ms']:.1f} ({lo:.1f}–{hi:.1f}) | {f['median_first_socket_ms']:.1f} | "
            f"{', '.join(str(d) for d in f['delivered'])} |"
        )
    return "\n".join(rows), "\n".join(fan), by_clients


def charts(cold, by_clients, docs):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out = docs / "bench"
    out.mkdir(parents=True, exist_ok=True)
    results = sorted(cold["results"], key=lambda r: (r["kind"] != "floor", r["kind"] != "node", median(r["init_ms"])))
    names = [r["name"] for r in results]
    init = [median(r["init_ms"]) for r in results]
    first = [median(r["first_ms"]) for r in results]
    colors = ["#888888" if r["kind"] == "floor" else "#d9822b" if r["kind"] == "node" else "#2b6cb0" for r in results]
    fig, ax = plt.subplots(figsize=(9, max(4, 0.24 * len(names))))
    y = range(len(names))
    ax.barh(y, first, color="#c7d7ee", label="to first answer")
    ax.barh(y, init, color=colors, label="init (to first next)")
    floor = next(r for r in results if r["kind"] == "floor")
    ax.axvline(2 * median(floor["init_ms"]), color="#c53030", linestyle="--", linewidth=1, label="2× floor init")
    ax.set_yticks(list(y), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds from exec (median, log scale)")
    ax.set_title("Cold start by function (grey: floor, orange: Node.js, blue: Chathub)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "coldstart.png", dpi=110)
    plt.close(fig)

    clients = sorted(by_clients)
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
        ax.plot(clients, [median([r["latency_ms"][key] for r in by_clients[c]]) for c in clients], style, label=key)
    ax.set_xlabel("concurrent WebSocket clients (overlapping groups of 8)")
    ax.set_ylabel("send-to-delivery latency (ms, median of runs)")
    ax.set_yscale("log")
    ax.set_title("Delivery latency percentiles versus clients (local gateway, embedded store)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)
    return ["bench/coldstart.png", "bench/latency.png"]


def goals(sizes, cold, counts, load_data):
    lines = []
    if cold:
        floor = median(next(r for r in cold["results"] if r["kind"] == "floor")["init_ms"])
        rust = [(median(r["init_ms"]) / floor, r["name"]) for r in cold["results"] if r["kind"] == "rust"]
        within = sum(1 for ratio, _ in rust if ratio <= 2.0)
        worst = max(rust)
        lines.append(
            f"- Cold start, init within 2× the floor ({floor:.1f} ms): **{within} of {len(rust)}** functions "
            f"(worst {worst[1]}, {worst[0]:.2f}×)."
        )
    if sizes:
        ok = sum(1 for s in sizes if s["bytes"] <= SIZE_GOAL)
        big = max(sizes, key=lambda s: s["bytes"])
        lines.append(
            f"- Stripped arm64 binary ≤ 6 MB: **{ok} of {len(sizes)}** (largest {big['function']}, {big['bytes'] / 1e6:.2f} MB)."
        )
    sends = {c["operation"]: c["requests"] for c in counts}
    for members in (10, 300):
        got = sends.get(f"send_message ({members} members)")
        if got is not None:
            budget = 3 + -(-members // 100)
            verdict = "met" if got <= budget else "missed"
            lines.append(f"- send_message to {members} members: **{got}** DynamoDB requests (budget 3 + ⌈{members}/100⌉ = {budget}: {verdict}).")
    if load_data:
        runs = load_data["throughput"]
        lost = sum(r["missing"] for r in runs)
        refused = sum(r.get("refused", 0) for r in runs)
        dup = sum(r["duplicates"] for r in runs)
        order = sum(r["out_of_order"] for r in runs)
        total = sum(r["expected_deliveries"] for r in runs)
        lines.append(
            f"- Under bursts ({len(runs)} runs, {total:,} expected deliveries): **{lost} lost, {dup} duplicated, {order} out of order**"
            + (f" ({refused} sends refused, not counted as expected)." if refused else ".")
        )
        for f in load_data["fanout"]:
            lines.append(f"- Fan-out to {f['members']} member sockets: last socket after **{f['median_last_socket_ms']:.1f} ms** (median).")
    return lines


def main():
    results, docs = Path(sys.argv[1]), Path(sys.argv[2])
    machine = load(results / "machine.json") or {}
    sizes = load(results / "sizes.json") or []
    cold = load(results / "coldstart.json")
    counts = load(results / "counts.json") or []
    load_data = load(results / "load.json")
    profiles = (results / "profiles.md").read_text() if (results / "profiles.md").exists() else None

    parts = [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench` (do not edit by hand; run it again). Every figure below comes from one run of "
        "that script on the machine described here. Medians over repeated runs, with the spread (min–max) beside them; "
        "ratios are against a baseline measured in the same run, since the machine is shared and noisy.",
        "",
        "## Machine and run",
        "",
    ]
    parts += [f"- {k}: {v}" for k, v in machine.items()]
    parts += ["", "## Goals at a glance", ""] + goals(sizes, cold, counts, load_data)
    pictures = []
    if cold:
        table, floor_init = cold_table(cold)
        parts += [
            "",
            "## Cold starts",
            "",
            f"Each binary started fresh {cold['runs']} times, round-robin, under a Lambda runtime API emulator "
            "(`bench/src/bin/coldstart.rs`): **init** is exec → first `GET /runtime/invocation/next`; **first answer** is exec → "
            "the response to the first event (the function's sample event from `events/` with a real token, against DynamoDB "
            "Local through the production SDK path: `AWS_ENDPOINT_URL_DYNAMODB`, keys from the environment). The **floor** is "
            "`bench/src/bin/floor.rs` (lambda_runtime, an echo handler, same profile); **node-getitem** is "
            "`bench/node/bootstrap.mjs` (Node.js, `@aws-sdk/client-dynamodb` GetItem on the same table). The x86_64 release "
            "builds run here (this machine cannot run arm64); sizes below are the arm64 ones.",
            "",
            cold_summary(cold, floor_init),
            "",
            table,
        ]
    if sizes:
        over = [s for s in sizes if s["bytes"] > SIZE_GOAL]
        parts += [
            "",
            "## Binary sizes (arm64, stripped, release profile)",
            "",
            f"Built by `cargo lambda build --release --arm64` (what `sam build` runs per function). Goal ≤ 6 MB (6,000,000 bytes) each: "
            f"**{len(sizes) - len(over)} of {len(sizes)}** meet it; largest {max(s['bytes'] for s in sizes) / 1e6:.2f} MB, smallest "
            f"{min(s['bytes'] for s in sizes) / 1e6:.2f} MB. *links* is what the binary builds at cold start (`Clients::…` in its main).",
            "",
            size_table(sizes),
        ]
    if profiles:
        parts += ["", "## Release profile, by measurement", "", profiles.strip()]
    if counts:
        parts += [
            "",
            "## DynamoDB requests per operation (counted)",
            "",
            "Counted by an SDK interceptor on DynamoDB Local (`infra/tests/request_counts.rs`, which also asserts them in "
            "the test suite), with the capacity units DynamoDB Local reports (`ReturnConsumedCapacity=TOTAL`; it bills a "
            "transaction's writes once, AWS twice). Goals (issue 10): a send with 20 members online ≤ 9 units in a room of "
            "10, ≤ 25 in one of 1,000, ≤ 30 in one of 10,000, and ≤ 4 + ⌈online / 100⌉ requests; `$connect` + "
            "`$disconnect` ≤ 1 unit per conversation of the user.",
            "",
            counts_table(counts),
        ]
    if load_data:
        table, fan, by_clients = load_tables(load_data)
        parts += [
            "",
            "## Throughput and latency on the local gateway (embedded store)",
            "",
            f"`bench/src/bin/load.rs`: the gateway in-process, clients over real WebSocket connections on 127.0.0.1, one socket "
            f"per client, overlapping groups of 8; every client fires {load_data['per_client']} `send_message` frames at once. "
            "Latency is from the frame leaving the sender to the push arriving at a member socket. The audit counts, over "
            "all runs, messages a member socket never got, got twice, or got out of id order.",
            "",
            table,
            "",
            "### Fan-out: one message to N member sockets",
            "",
            "Sent over REST by a member; time until the last (and the first) of the N sockets has the push.",
            "",
            fan,
        ]
        if cold:
            pictures = charts(cold, by_clients, docs)
    if pictures:
        parts += ["", "## Charts", ""] + [f"![{p}]({p})" for p in pictures]
    # The rooms, push and sync sections come from their own runs (scripts/bench --rooms, --push,
    # --sync): keep them.
    previous = (docs / "benchmarks.md").read_text() if (docs / "benchmarks.md").exists() else ""
    for name in ("rooms", "push", "sync"):
        begin, end = f"<!-- {name}:begin", f"<!-- {name}:end -->"
        if begin in previous and end in previous:
            parts += ["", begin + previous.split(begin, 1)[1].split(end, 1)[0] + end]
    (docs / "benchmarks.md").write_text("\n".join(parts) + "\n")
    print(f"wrote {docs / 'benchmarks.md'}" + (f" and {', '.join(pictures)}" if pictures else ""))


if __name__ == "__main__":
    main()
