"""Writes the sync section of docs/benchmarks.md from one `scripts/bench --sync` run.

Usage: bench_sync_report.py RESULTS_DIR BENCHMARKS_MD

RESULTS_DIR holds machine.json and costs-N.jsonl (infra/tests/sync_costs.rs's figures, one file
per round). Counts are the same every round (the first round's are shown); times are medians over
the rounds of each round's median, range in brackets. The section sits between the markers below
and is replaced as a whole; the rest of the file is left as it is.
"""

import json
import sys
from pathlib import Path

from bench_common import replace_section, spread
from cost_model import RCU, WCU

BEGIN = "<!-- sync:begin (scripts/bench --sync) -->"
END = "<!-- sync:end -->"


def rounds(results):
    runs = []
    for path in sorted(results.glob("costs-*.jsonl")):
        runs.append([json.loads(line) for line in path.read_text().splitlines() if line.strip()])
    return runs


def dollars(r):
    return (r["read_units"] * RCU + r["write_units"] * WCU) * 1e6


def main():
    results, target = Path(sys.argv[1]), Path(sys.argv[2])
    machine = json.loads((results / "machine.json").read_text()) if (results / "machine.json").exists() else {}
    runs = rounds(results)
    parts = [BEGIN, "## The sync feed", "", "From `scripts/bench --sync` (it replaces this section only; the full run runs it too).", ""]
    parts += [f"- {k}: {v}" for k, v in machine.items()]
    if runs:
        first = runs[0]
        syncs = [r for r in first if not r["case"].startswith("capture:") and "ms_median" not in r]
        capture = [r for r in first if r["case"].startswith("capture:")]
        parts += [
            "",
            "### What a sync costs (target 2)",
            "",
            "Counted by the test suite's meter on DynamoDB Local (`infra/tests/sync_costs.rs`): a user in 1,000 "
            "conversations, of which 20 (or 100) have 101 members and are pulled; the changes are a message in 10 "
            "small conversations (5 of them edited) and in 10 pulled ones. Goal: nothing found, at most 5 requests "
            "and 20 read units; changes in 20 conversations, at most 25 requests. Dollars per million syncs at "
            "on-demand prices (DynamoDB Local bills a transaction's writes once, AWS twice).",
            "",
            "| sync | requests | read units | write units | changes | $ per million syncs |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in syncs:
            parts.append(f"| {r['case']} | {r['requests']} | {r['read_units']:.1f} | {r['write_units']:.1f} | "
                         f"{r['changes']} | {dollars(r):.2f} |")
        parts += [
            "",
            "### What change capture adds, off the send path (target 1)",
            "",
            "The notify function's DynamoDB use for one change (a message's figures include its push decisions, "
            "as in the push section; the capture's part is the difference between the first two rows: one write "
            "unit per member, once between their syncs). The send itself is unchanged: 4 requests and 5 units "
            "with 20 online (`infra/tests/request_counts.rs` asserts it).",
            "",
            "| change | requests | read units | write units | $ per million |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in capture:
            parts.append(f"| {r['case'].removeprefix('capture: ')} | {r['requests']} | {r['read_units']:.1f} | "
                         f"{r['write_units']:.1f} | {dollars(r):.2f} |")
        day = [r for run in runs for r in run if "ms_median" in r]
        if day:
            r0 = day[0]
            parts += [
                "",
                "### A day away is one sync (target 4)",
                "",
                "A user in 20 conversations (16 of 10 members, 3 of 100, 1 of 1,000, pulled) comes back after a day: "
                "3 messages in each (the first edited in every other one), read markers moved in 10 on another device, 2 "
                "conversations joined and 1 left. One sync of up to 500 changes brings them up to date (`has_more` "
                f"false). Time per sync on DynamoDB Local ({machine.get('build profile', 'release')} build): median over {len(day)} rounds of each "
                "round's median of 7 syncs from the same cursor, range of the rounds' medians in brackets; min and "
                "max over every sync.",
                "",
                "| changes | requests | read units | ms, median | ms, min | ms, max |",
                "|---:|---:|---:|---:|---:|---:|",
                f"| {r0['changes']} | {r0['requests']} | {r0['read_units']:.1f} | "
                f"{spread([r['ms_median'] for r in day], '{:,.1f}', ' – ')} | "
                f"{min(r['ms_min'] for r in day):,.1f} | {max(r['ms_max'] for r in day):,.1f} |",
            ]
    parts.append(END)
    replace_section(target, BEGIN, END, "\n".join(parts))
    print(f"wrote the sync section of {target}")


if __name__ == "__main__":
    main()
