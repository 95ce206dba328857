"""Writes the web client's section of docs/benchmarks.md from one `scripts/bench --web` run.

Usage: bench_web_report.py RESULTS_DIR WEB_DIR BENCHMARKS_MD

RESULTS_DIR holds machine.json, paint.json (web/tests/first_paint.py) and config.js (as served);
WEB_DIR is the client's folder, whose served files are weighed (the tests/ folder is not served to
anyone but the benchmark). The section sits between the markers below and is replaced as a whole.
"""

import gzip
import json
import sys
from pathlib import Path

from bench_common import replace_section, spread

BEGIN = "<!-- web:begin (scripts/bench --web) -->"
END = "<!-- web:end -->"


def served(web, results):
    files = [web / "index.html", web / "app.css", *sorted((web / "src").glob("*.js"))]
    rows = [(str(f.relative_to(web)), f.read_bytes()) for f in files]
    rows.append(("config.js (as chathub-local serves it)", (results / "config.js").read_bytes()))
    return [(name, len(data), len(gzip.compress(data, 9))) for name, data in rows]


def main():
    results, web, target = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    machine = json.loads((results / "machine.json").read_text())
    paint = json.loads((results / "paint.json").read_text())
    parts = [BEGIN, "## Web client", "", "From `scripts/bench --web` (it replaces this section only; the full run runs it too).", ""]
    parts += [f"- {k}: {v}" for k, v in machine.items()]
    rows = served(web, results)
    parts += ["", "### What it weighs, as served (no bundler: these are the files the browser loads)", "",
              "| file | bytes | gzipped (-9) |", "|---|---:|---:|"]
    parts += [f"| {name} | {raw:,} | {gz:,} |" for name, raw, gz in rows]
    parts += [f"| **all** | **{sum(r[1] for r in rows):,}** | **{sum(r[2] for r in rows):,}** |"]
    client, base = paint["client"], paint["baseline"]
    med = lambda xs: sorted(xs)[len(xs) // 2]
    def col(samples, key):
        return [s[key] for s in samples if s.get(key) is not None]
    fcp_c, fcp_b = col(client, "fcp"), col(base, "fcp")
    ready, load_c, load_b = col(client, "ready"), col(client, "load"), col(base, "load")
    n = len(client)
    parts += ["", f"### A first visit, in headless Chromium on the local gateway ({n} samples of each page, alternated; "
              "a fresh browser each: an empty cache)", "",
              "Milliseconds from navigation start: median (range). The baseline is a page with one paragraph and "
              "nothing to load, served by the same server in the same run; the ratio is median over median.", "",
              "| page | first contentful paint | first view (the sign-in form) | load event |", "|---|---:|---:|---:|",
              f"| web client | {spread(fcp_c, '{:,.0f}')} | {spread(ready, '{:,.0f}')} | {spread(load_c, '{:,.0f}')} |",
              f"| baseline page | {spread(fcp_b, '{:,.0f}')} | – | {spread(load_b, '{:,.0f}')} |"]
    if fcp_c and fcp_b and ready:
        parts += ["", f"First contentful paint is {med(fcp_c) / med(fcp_b):.2f}× the baseline's; the sign-in form is up "
                  f"{med(ready) - med(fcp_b):,.0f} ms after the baseline's first paint (the page's modules fetched and run)."]
    parts += ["", END]
    replace_section(target, BEGIN, END, "\n".join(parts))
    print(f"wrote the web section of {target}")


if __name__ == "__main__":
    main()
