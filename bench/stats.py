"""Small statistics for the benchmark's tables: medians, percentiles, a confidence interval."""
import math
import statistics


def table(columns, unit, digits):
    print(f"   {'':8} {'median':>8} {'p10':>8} {'p90':>8} {'min':>8} {'max':>8}   ({unit})")
    for name, values in columns.items():
        row = (median(values), pct(values, 10), pct(values, 90), min(values), max(values))
        print(f"   {name:8} " + " ".join(f"{v:8.{digits}f}" for v in row))


def median(values):
    return statistics.median(values)


def median_ci(values, level=0.95):
    """Return a distribution-free confidence interval for the median (order statistics, binomial)."""
    ordered, n = sorted(values), len(values)
    k, below = 0, 0.0  # the largest k with P(Binomial(n, 1/2) < k) <= (1 - level) / 2
    while below + math.comb(n, k) / 2 ** n <= (1 - level) / 2:
        below += math.comb(n, k) / 2 ** n
        k += 1
    if k == 0:
        return ordered[0], ordered[-1]  # too few runs for the level: the full range
    return ordered[k - 1], ordered[n - k]


def pct(values, p):
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def paired_table(direct, proxy, label):
    """Print the table of both sides, then the median of the pairwise differences with its 95% CI."""
    table({"direct": direct, "proxy": proxy}, "ms", 1)
    differences = [b - a for a, b in zip(direct, proxy)]
    low, high = median_ci(differences)
    print(f"   paired median {label}: {median(differences):+.1f} ms (95% CI {low:+.1f} .. {high:+.1f})")
