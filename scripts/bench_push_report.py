"""Writes the push section of docs/benchmarks.md from one `scripts/bench --push` run.

Usage: bench_push_report.py RESULTS_DIR BENCHMARKS_MD

RESULTS_DIR holds machine.json, costs.jsonl (infra/tests/push_delivery.rs's figures) and
latency-{embedded,dynamodb}-N.json (the load driver's output). The section sits between the
markers below and is replaced as a whole; the rest of the file is left as it is.
"""

import json
import sys
from pathlib import Path

from bench_common import replace_section, spread
from cost_model import RCU, SNS_PUBLISH, WCU

BEGIN = "<!-- push:begin (scripts/bench --push) -->"
END = "<!-- push:end -->"
def cost_section(results):
    path = results / "costs.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = [
        "### What the notify function costs per message",
        "",
        "Counted by the test suite's meter on DynamoDB Local (`infra/tests/push_delivery.rs`, one batch of one "
        "message); dollars per million messages at on-demand prices (reads $0.125, writes $0.625 per million "
        "units; SNS mobile push $0.50 per million publishes). The send itself is not in these figures (it is "
        "4 requests and 5 units, as before: see the requests table above). The room of 10,000 reads no member "
        "list: its figures do not grow with the room.",
        "",
        "| message | DynamoDB requests | read units | write units | SNS publishes | $ per million messages |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        dollars = (r["read_units"] * RCU + r["write_units"] * WCU + r["publishes"] * SNS_PUBLISH) * 1e6
        lines.append(f"| {r['case']} | {r['requests']} | {r['read_units']:.1f} | {r['write_units']:.1f} | "
                     f"{r['publishes']} | {dollars:.2f} |")
    return lines


def latency_section(results):
    runs = {}
    for path in sorted(results.glob("latency-*-*.json")):
        store = path.stem.split("-")[1]
        for run in json.loads(path.read_text()).get("push_latency", []):
            runs.setdefault((store, run["room"]), []).append(run)
    if not runs:
        return []
    rounds = max(len(v) for v in runs.values())
    lines = [
        "### Time from a send's answer to the publish",
        "",
        "The load driver (`--push-rooms`): member 0 of a room sends 100 messages over REST at 10 a second; "
        "3 members have a phone each and no socket (in the room of 1,000 the messages mention them: its default "
        "level is `mentions`). Each publish is timed from the answer to its send as the client read it "
        "(negative: the publish came before the client had read its answer), and from its request. The "
        "embedded store feeds the notify function in-process; on DynamoDB Local the table's stream does, read "
        "as Lambda's event source mapping reads it (every shard polled, idle polls 50 ms apart; Lambda polls "
        "a shard about 4 times a second, so AWS adds up to 250 ms). The publish's stamp has millisecond "
        f"resolution. Medians of {rounds} rounds (each on a fresh DynamoDB Local), range in brackets.",
        "",
        "| store | room | publishes (of 300) | p50 ms after the answer | p99 ms after the answer | p99 ms after the request | max ms | lost, twice, out of order |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    def ms(rs, key, p):
        return spread([r[key][p] for r in rs], "{:,.1f}", " – ")

    for (store, room), rs in sorted(runs.items(), key=lambda kv: (kv[0][0] != "embedded", kv[0][1])):
        audit = ", ".join(str(sum(r[k] for r in rs)) for k in ("missing", "duplicates", "out_of_order"))
        lines.append(
            f"| {'embedded' if store == 'embedded' else 'DynamoDB Local'} | {room:,} | "
            f"{spread([r['publishes'] for r in rs], sep=' – ')} | "
            f"{ms(rs, 'latency_ms', 'p50')} | {ms(rs, 'latency_ms', 'p99')} | "
            f"{ms(rs, 'from_request_ms', 'p99')} | {ms(rs, 'latency_ms', 'max')} | "
            f"{audit} |")
    return lines


def main():
    results, target = Path(sys.argv[1]), Path(sys.argv[2])
    machine = json.loads((results / "machine.json").read_text()) if (results / "machine.json").exists() else {}
    parts = [
        BEGIN,
        "## Push notifications",
        "",
        "From `scripts/bench --push` (it replaces this section only; the full run runs it too).",
        "",
    ]
    parts += [f"- {k}: {v}" for k, v in machine.items()]
    for section in (cost_section(results), latency_section(results)):
        if section:
            parts += [""] + section
    parts.append(END)
    replace_section(target, BEGIN, END, "\n".join(parts))
    print(f"wrote the push section of {target}")


if __name__ == "__main__":
    main()
