#!/usr/bin/python3
"""roofline.py - turns `alexnet bench --csv` output into two PNG charts: a
roofline (every layer of every batch as a point, arithmetic intensity against
GFLOP/s, under the two ceilings the bench measured on the device) and a bar
chart of per-layer milliseconds per batch size.

    alexnet bench --variant torchvision-224 --batch 1,16,64 --csv > tv.csv
    bench/roofline.py tv.csv roofline.png [layers.png]

Needs matplotlib (Debian: python3-matplotlib)."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    peak = bw = None
    device = ""
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("# device,"):
                parts = line[2:].strip().split(",")
                device = parts[1]
                peak, bw = float(parts[3]), float(parts[5])
                continue
            if line.startswith("variant,") or not line.strip():
                continue
            r = next(csv.reader([line]))
            if not r[4]:  # summary rows (end to end, images/s, latencies): no layer work
                continue
            rows.append({"variant": r[0], "batch": int(r[1]), "layer": r[2], "ms": float(r[3]),
                         "gflops": float(r[4]), "mbytes": float(r[5]), "gbps": float(r[6])})
    return device, peak, bw, rows


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    device, peak, bw, rows = read(sys.argv[1])
    if peak is None or not rows:
        sys.exit("no ceilings or rows in %s (use alexnet bench --csv)" % sys.argv[1])
    fig, ax = plt.subplots(figsize=(8, 5.5))
    xs = [0.01, 1000.0]
    ridge = peak / bw
    ax.loglog([xs[0], ridge, xs[1]], [bw * xs[0], peak, peak], "k-", lw=1.5,
              label="measured ceilings: %.0f GFLOP/s, %.1f GB/s" % (peak, bw))
    markers = {1: "o", 16: "s", 64: "^"}
    for layer in sorted({r["layer"] for r in rows}, key=lambda s: int(s.split("-")[1].split()[0])):
        pts = [r for r in rows if r["layer"] == layer and r["gbps"] > 0 and r["gflops"] > 0]
        for r in pts:
            ai = r["gflops"] / r["gbps"]
            ax.loglog(ai, r["gflops"], markers.get(r["batch"], "x"),
                      color="C%d" % (int(layer.split("-")[1].split()[0]) % 10),
                      label="%s" % layer if r is pts[0] else None)
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("GFLOP/s")
    batches = sorted({r["batch"] for r in rows})
    ax.set_title("%s on %s\nmarkers: batch %s" % (rows[0]["variant"], device,
                                                  ", ".join("%d %s" % (b, markers.get(b, "x"))
                                                            for b in batches)), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)

    if len(sys.argv) > 3:
        layers = []
        for r in rows:
            if r["layer"] not in layers:
                layers.append(r["layer"])
        fig, ax = plt.subplots(figsize=(9, 4.5))
        width = 0.8 / len(batches)
        for i, b in enumerate(batches):
            ms = {r["layer"]: r["ms"] / b for r in rows if r["batch"] == b}
            ax.bar([j + i * width for j in range(len(layers))], [ms.get(l, 0) for l in layers],
                   width, label="batch %d" % b)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(layers))])
        ax.set_xticklabels(layers, rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("ms per image")
        ax.set_title("%s on %s: device time per layer" % (rows[0]["variant"], device), fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(sys.argv[3], dpi=110)


if __name__ == "__main__":
    main()
