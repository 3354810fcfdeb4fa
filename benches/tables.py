"""Writes the Markdown result tables of benches/run.sh from its output folder.

Each case file contains the loadgen JSON summary of the median run. Ratios are
taken to the machine references measured in the same run (iperf3 loopback,
fio sequential writes) and set beside the targets the project aims for.
"""

import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])


def number(name):
    return float((out / name).read_text().strip())


def case(name):
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


loopback = number("ref-loopback-bytes-per-s.txt")
direct = number("ref-disk-direct-bytes-per-s.txt")
fdatasync = number("ref-disk-fdatasync-bytes-per-s.txt")
GB = 1e9

print("## Machine\n")
print("```")
print((out / "machine.txt").read_text().strip())
print("```\n")
print("## References\n")
print("| Reference | Measured |")
print("|---|---|")
print(f"| Loopback TCP, iperf3, 1 stream | {loopback / GB:.2f} GB/s |")
print(f"| Disk sequential write, fio 1 MiB O_DIRECT | {direct / GB:.2f} GB/s |")
print(f"| Disk sequential write, fio 1 MiB buffered + fdatasync each | {fdatasync / GB:.2f} GB/s |")
print()

print("## Results (median of 3 runs)\n")
print("| Case | Events/s | MB/s | p50 µs | p99 µs | p99.99 µs | Ratio to limit | Target |")
print("|---|---:|---:|---:|---:|---:|---|---|")


def row(name, label, ratio="", target=""):
    result = case(name)
    if result is None:
        print(f"| {label} | not run | | | | | | {target} |")
        return
    latency = result["latency_us"]
    if result.get("errors"):
        ratio = f"{ratio} ({result['errors']:,} errors)".strip()
    print(
        f"| {label} | {result['msgs_per_s']:,.0f} | {result['mb_per_s']:,.1f} | {latency['p50']:,} | "
        f"{latency['p99']:,} | {latency['p9999']:,} | {ratio} | {target} |"
    )


def mbps(name):
    result = case(name)
    return result["mb_per_s"] * 1e6 if result else 0.0


def eps(name):
    result = case(name)
    return result["msgs_per_s"] if result else 0.0


for size, label in ((100, "100 B"), (1024, "1 KiB")):
    for partitions in (1, 8):
        none = f"produce-{size}B-p{partitions}-none"
        always = f"produce-{size}B-p{partitions}-always"
        if size == 100:
            target = "≥ 5,000,000 events/s"
            ratio = f"{eps(none) / 5e6:.0%} of target"
        else:
            target = "≥ 30 % of loopback" if partitions == 8 else ""
            ratio = f"{mbps(none) / loopback:.0%} of loopback, {mbps(none) / direct:.0%} of O_DIRECT disk"
        row(none, f"produce {label}, {partitions} partition(s), none, 1 producer", ratio, target)
        ratio = (
            f"{eps(always) / eps(none):.0%} of none; {mbps(always) / fdatasync:.0%} of fdatasync disk"
            if eps(none)
            else ""
        )
        row(always, f"produce {label}, {partitions} partition(s), always, 8 producers", ratio, "≥ 50 % of none")

row("consume-100B", "consume 100 B, 8 partitions", f"{mbps('consume-100B') / loopback:.0%} of loopback")
row(
    "consume-1024B",
    "consume 1 KiB, 8 partitions",
    f"{mbps('consume-1024B') / loopback:.0%} of loopback",
    "≥ 60 % of loopback",
)
e2e = case("e2e-100B-p1-half")
rate = (out / "e2e-rate.txt").read_text().strip() if (out / "e2e-rate.txt").exists() else "?"
e2e_ratio = ""
if e2e:
    e2e_ratio = f"p99 {e2e['latency_us']['p99'] / 1000:.2f} ms, p99.99 {e2e['latency_us']['p9999'] / 1000:.2f} ms"
row("e2e-100B-p1-max", "e2e 100 B, 1 partition, closed loop (the e2e maximum)")
row(
    "e2e-100B-p1-half",
    f"e2e 100 B, 1 partition, open loop at {rate}/s, linger 0.5 ms",
    e2e_ratio,
    "p99 < 1 ms, p99.99 < 5 ms",
)
row("orders-plain", "produce orders (Datagen JSON), no validation")
note = " (registry API not available: not validated)" if (out / "orders-validated.note").exists() else ""
plain = eps("orders-plain")
ratio = f"{eps('orders-validated') / plain:.0%} of unvalidated{note}" if plain else note
row("orders-validated", "produce orders (Datagen JSON), validation payload", ratio, "≥ 50 % of unvalidated")
