#!/usr/bin/env python3
"""Writes data/wave.csv: a deterministic 2-input regression data set.

    z = sin(x) + y,   x uniform in [-pi, pi],   y uniform in [-1, 1]

1000 rows drawn from random.Random(20261127) (Mersenne Twister, whose
random() stream is stable across Python 3 versions), printed with 6
decimals, so the file is byte-identical on every run. No noise is added:
the example shows the regression path, not denoising.

usage: scripts/gen-regression-data.py [OUT.csv]   (default data/wave.csv)
"""
import math
import random
import sys

ROWS = 1000
SEED = 20261127


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "data/wave.csv"
    rng = random.Random(SEED)
    lines = ["x,y,z"]
    for _ in range(ROWS):
        x = rng.uniform(-math.pi, math.pi)
        y = rng.uniform(-1.0, 1.0)
        x, y = round(x, 6), round(y, 6)
        z = math.sin(x) + y
        lines.append(f"{x:.6f},{y:.6f},{z:.6f}")
    with open(out, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
