#!/usr/bin/env python3
"""The soak picture: hookbridge's memory and file descriptors, latency, and answers
over time, from scripts/soak.sh's CSV.

    plot.py SOAK.csv OUT.png --title TEXT
"""

import argparse
import csv


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("csv")
    parser.add_argument("png")
    parser.add_argument("--title", default="hookbridge soak")
    args = parser.parse_args()
    with open(args.csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    t = [int(r["seconds"]) / 60 for r in rows]
    restart = next((int(r["seconds"]) / 60 for r in rows if r["phase"] == "after"), None)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (mem, lat, ans) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    mem.plot(t, [float(r["rss_mib"]) for r in rows], label="RSS (MiB)")
    mem.set_ylabel("MiB")
    fds = mem.twinx()
    fds.plot(t, [int(r["fds"]) for r in rows], color="tab:orange", label="open fds")
    fds.set_ylabel("open fds")
    mem.legend(loc="upper left")
    fds.legend(loc="upper right")
    lat.plot(t, [float(r["p50_ms"]) for r in rows], label="p50")
    lat.plot(t, [float(r["p99_ms"]) for r in rows], label="p99")
    lat.set_yscale("log")
    lat.set_ylabel("latency (ms)")
    lat.legend(loc="upper left")
    ans.plot(t, [int(r["ok_per_s"]) for r in rows], label="2xx/s")
    ans.plot(t, [int(r["non_2xx"]) for r in rows], label="non-2xx per sample")
    ans.plot(t, [int(r["no_answer"]) for r in rows], label="no answer per sample")
    ans.set_ylabel("answers")
    ans.set_xlabel("minutes")
    ans.legend(loc="upper left")
    for ax in (mem, lat, ans):
        ax.grid(alpha=0.3)
        if restart is not None:
            ax.axvline(restart, color="red", linestyle="--", linewidth=1)
    fig.suptitle(args.title, fontsize=10)
    fig.tight_layout()
    fig.savefig(args.png, dpi=100)


if __name__ == "__main__":
    main()
