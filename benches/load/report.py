#!/usr/bin/env python3
"""The load harness's report: benches/RESULTS.md and the plot, from the runs' JSON lines.

    report.py RUNS.jsonl --machine TEXT --settings TEXT --markdown OUT.md --png OUT.png

Each line of RUNS.jsonl is one `loadgen` run (tags setup and body, mode closed or
open, the offered rate, the report). scripts/bench-load.sh calls this; it can be
re-run on a committed benches/load-runs.jsonl. Needs matplotlib for the PNG only.
"""

import argparse
import datetime
import json

SETUPS = {
    "plain": "plain hyper server (HTTP ceiling)",
    "producer": "bare rdkafka producer (Kafka ceiling)",
    "producer-kafka": "bare rdkafka producer, Apache Kafka (Kafka ceiling)",
    "header": "hookbridge, header credential",
    "header-kafka": "hookbridge, header credential, Apache Kafka",
    "header-warn": "hookbridge, header credential, logs at warn",
    "hmac": "hookbridge, HMAC-SHA256 (Standard Webhooks)",
    "sigv4": "hookbridge, AWS SigV4",
}
CPU_COLUMNS = ["hookbridge", "broker", "generator"]


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def by_key(runs):
    """{(body, setup): {"closed": run, "open": [runs by offered rate]}}"""
    table = {}
    for run in runs:
        key = (run["tags"]["body"], run["tags"]["setup"])
        entry = table.setdefault(key, {"closed": None, "open": []})
        if run["mode"] == "closed":
            entry["closed"] = run
        else:
            entry["open"].append(run)
    for entry in table.values():
        entry["open"].sort(key=lambda r: r["offered"])
    return table


def share(entry, run):
    """The open-loop run's offered rate as a percentage of the setup's closed-loop maximum."""
    return round(100 * run["offered"] / entry["closed"]["report"]["throughput"])


def shares(table, body):
    """The percentages of the maximum the open-loop runs of `body` were offered at."""
    return sorted({share(e, r) for (b, _), e in table.items() if b == body and e["closed"] for r in e["open"]})


def latency(run):
    ms = run["report"]["latency_ms"]
    return f"{ms['p50']:.1f} / {ms['p99']:.1f}"


def cpu(run, name):
    value = run["report"]["cpu_us_per_request"].get(name)
    if value is None and name == "hookbridge":
        value = run["report"]["cpu_us_per_request"].get("server")
    return "–" if value is None else f"{value:.0f}"


def ratio(value, base):
    return f"{value / base:.2f}×" if base else "–"


def markdown(runs, machine, settings):
    table = by_key(runs)
    bodies = sorted({b for b, _ in table}, key=lambda b: int(b.rstrip("k")))
    lines = [
        "# Load test results",
        "",
        "Written by `scripts/bench-load.sh` (see the README's Performance section).",
        "",
        f"- Date: {datetime.date.today().isoformat()}",
        "- Machine: " + "; ".join(line for line in machine.splitlines() if line),
        "- Generator, broker and server share the machine; compare ratios, not absolutes.",
        f"- Each run: {settings}; a fresh broker and hookbridge per run.",
        "- Max: closed loop. N %: open loop at that share of the max, latency",
        "  from each request's due time (HdrHistogram, no coordinated omission).",
        "- CPU: user + system µs per request from `/proc/<pid>/stat` over the measured",
        "  window (10 ms ticks); the hookbridge column is the plain server for `plain`.",
        "- Every 2xx was checked to have its record on Kafka (consumed and counted), and",
        "  no request was answered as a copy of an earlier event (deduplicated).",
        "- Every request carries the same body but for a leading sequence number (so",
        "  each is a distinct event), and records are zstd-compressed in batches:",
        "  near-identical records compress far better than real traffic, so",
        "  the Kafka side (and the producer ceiling) is cheaper here than in production.",
        "- \"logs at warn\" keeps hookbridge's startup lines (the script reads the bound",
        "  ports from them) but drops the per-request line.",
        "",
    ]
    for body in bodies:
        plain = table.get((body, "plain"), {}).get("closed")
        base_plain = plain["report"]["throughput"] if plain else 0

        def base_producer(setup):
            """The producer ceiling on the setup's own broker."""
            name = "producer-kafka" if setup.endswith("-kafka") else "producer"
            producer = table.get((body, name), {}).get("closed")
            return producer["report"]["throughput"] if producer else 0

        pcts = shares(table, body)
        open_heads = [f"{pct} %" for pct in pcts]
        if open_heads:
            open_heads[-1] += " (achieved req/s)"
        lines += [
            f"## {body.upper()[:-1]} KB bodies",
            "",
            "| setup | max req/s | × plain | × producer (same broker) | p50 / p99 ms at max | "
            + "".join(f"{head} | " for head in open_heads)
            + "CPU µs/req hookbridge | broker | generator |",
            "|---|--:|--:|--:|--:|" + "--:|" * (len(pcts) + 3),
        ]
        for setup, label in SETUPS.items():
            entry = table.get((body, setup))
            if not entry or not entry["closed"]:
                continue
            closed = entry["closed"]
            rps = closed["report"]["throughput"]
            at = {share(entry, r): r for r in entry["open"]}
            opened = [latency(at[pct]) if pct in at else "–" for pct in pcts]
            if pcts and pcts[-1] in at:
                opened[-1] += f" ({at[pcts[-1]]['report']['throughput']:,.0f})"
            cells = [
                label,
                f"{rps:,.0f}",
                ratio(rps, base_plain),
                ratio(rps, base_producer(setup)),
                latency(closed),
                *opened,
                *(cpu(closed, name) for name in CPU_COLUMNS),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "Latency cells are p50 / p99 in milliseconds.",
        "",
        "![throughput and latency against offered load](load.png)",
        "",
    ]
    return "\n".join(lines)


def plot(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = by_key(runs)
    bodies = sorted({b for b, _ in table}, key=lambda b: int(b.rstrip("k")))
    fig, axes = plt.subplots(2, len(bodies), figsize=(6.5 * len(bodies), 8.5), squeeze=False)
    for col, body in enumerate(bodies):
        top, bottom = axes[0][col], axes[1][col]
        for setup, label in SETUPS.items():
            entry = table.get((body, setup))
            if not entry or not entry["open"]:
                continue
            offered = [r["offered"] for r in entry["open"]]
            achieved = [r["report"]["throughput"] for r in entry["open"]]
            (line,) = top.plot(offered, achieved, marker="o", label=label)
            p50 = [r["report"]["latency_ms"]["p50"] for r in entry["open"]]
            p99 = [r["report"]["latency_ms"]["p99"] for r in entry["open"]]
            bottom.plot(offered, p50, marker="o", color=line.get_color(), label=f"{setup} p50")
            bottom.plot(offered, p99, marker="^", linestyle="--", color=line.get_color(),
                        label=f"{setup} p99")
        top.set_title(f"{body.upper()[:-1]} KB bodies: throughput")
        top.set_xlabel("offered load (req/s, open loop)")
        top.set_ylabel("achieved req/s")
        top.set_xscale("log")
        top.set_yscale("log")
        top.grid(True, which="both", alpha=0.3)
        bottom.set_title(f"{body.upper()[:-1]} KB bodies: latency (p50 solid, p99 dashed)")
        bottom.set_xlabel("offered load (req/s, open loop)")
        bottom.set_ylabel("ms")
        bottom.set_xscale("log")
        bottom.set_yscale("log")
        bottom.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs")
    parser.add_argument("--machine", required=True)
    parser.add_argument("--settings", required=True)
    parser.add_argument("--markdown", required=True)
    parser.add_argument("--png", required=True)
    args = parser.parse_args()
    runs = load(args.runs)
    with open(args.markdown, "w", encoding="utf-8") as f:
        f.write(markdown(runs, args.machine, args.settings))
    plot(runs, args.png)


if __name__ == "__main__":
    main()
