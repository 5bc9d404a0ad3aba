#!/usr/bin/env python3
"""Two builds (or two sets of options) of stylize-gpu against each other, taking turns.

    benchmarks/ab/ab.py [--rounds N] [--device D] [--size S] [--iterations I] [--warmup W]
                        [--a-args ARGS] [--b-args ARGS] [--out DIR] A_BINARY B_BINARY

Each round runs `bench --devices D --sizes S --iterations I --warmup W --profile --json` once
with each binary, A first in even rounds and B first in odd ones, so that the machine's slow and
fast minutes fall on both alike. --a-args and --b-args add bench arguments to one side only
(e.g. --b-args "--define WINO_TILE=4", with the same binary twice). Tunings are ignored
(STYLIZE_GPU_NO_TUNING=1) unless --tuned.

Prints each round's medians and B − A, then per side the median over the rounds of the
iteration's median, the median of the rounds' differences, in how many rounds B was faster, and
the same for every phase and kernel of the profile, largest differences first. A side wins only
where it is faster in most rounds; a median difference smaller than the rounds' spread is noise.
--out keeps every run's JSON.

A dry run at a tiny size (seconds, not figures):
    benchmarks/ab/ab.py --size 32 --rounds 2 --iterations 1 --warmup 0 \\
        .build/debug/stylize-gpu .build/debug/stylize-gpu
"""

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys


def fail(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def run_bench(binary, args, environment):
    """One bench run's JSON report; exits with its stderr's last line when it fails."""
    try:
        done = subprocess.run(
            [binary, "bench"] + args, capture_output=True, text=True, env=environment, check=False)
    except OSError as error:
        fail(f"cannot run {binary}: {error.strerror}; build it (swift build -c release) or pass its path")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        fail(f"{binary} bench exited with {done.returncode}: {last}")
    try:
        report = json.loads(done.stdout)
        result = report["results"][0]
    except (ValueError, KeyError, IndexError):
        fail(f"{binary} bench --json printed no result; is it a stylize-gpu build with bench --json?")
    return report, result


def timings(result):
    """{name: ms} of one run: the iteration's median, each phase and each kernel."""
    values = {"iteration (median)": result["medianMilliseconds"]}
    phases = result.get("phases") or {}
    for name, ms in (phases.get("milliseconds") or {}).items():
        values[f"phase {name}"] = ms
    for name, ms in (phases.get("kernels") or {}).items():
        values[f"kernel {name}"] = ms
    return values


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a_binary")
    parser.add_argument("b_binary")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="0", help="a bench --devices selector (default 0)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--a-args", default="", help="bench arguments for A only")
    parser.add_argument("--b-args", default="", help="bench arguments for B only")
    parser.add_argument("--tuned", action="store_true", help="use the devices' tunings")
    parser.add_argument("--out", help="a folder for every run's JSON")
    options = parser.parse_args()
    if options.rounds < 1 or options.iterations < 1 or options.warmup < 0 or options.size < 16:
        fail("--rounds and --iterations must be at least 1, --warmup at least 0, --size at least 16")
    for binary in (options.a_binary, options.b_binary):
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            fail(f"{binary} is not an executable; build it (swift build -c release) or pass its path")
    if options.out:
        os.makedirs(options.out, exist_ok=True)

    environment = dict(os.environ)
    if not options.tuned:
        environment["STYLIZE_GPU_NO_TUNING"] = "1"
    common = [
        "--devices", options.device, "--sizes", str(options.size), "--iterations", str(options.iterations),
        "--warmup", str(options.warmup), "--profile", "--json",
    ]
    sides = {
        "A": (options.a_binary, common + shlex.split(options.a_args)),
        "B": (options.b_binary, common + shlex.split(options.b_args)),
    }

    runs = {"A": [], "B": []}
    print(f"A: {options.a_binary} {options.a_args}".rstrip())
    print(f"B: {options.b_binary} {options.b_args}".rstrip())
    print(f"{'round':>5}  {'load':>5}  {'A ms':>9}  {'B ms':>9}  {'B − A':>8}")
    for round_index in range(options.rounds):
        order = "AB" if round_index % 2 == 0 else "BA"
        medians, load = {}, None
        for side in order:
            binary, args = sides[side]
            report, result = run_bench(binary, args, environment)
            load = load if load is not None else report.get("loadAverage", [None])[0]
            runs[side].append(timings(result))
            medians[side] = result["medianMilliseconds"]
            if options.out:
                path = os.path.join(options.out, f"round{round_index + 1}-{side}.json")
                with open(path + ".tmp", "w") as file:
                    json.dump(report, file, indent=1)
                os.replace(path + ".tmp", path)
        print(f"{round_index + 1:>5}  {load:>5}  {medians['A']:>9.1f}  {medians['B']:>9.1f}  "
              f"{medians['B'] - medians['A']:>+8.1f}", flush=True)

    names = [name for name in runs["A"][0] if all(name in run for run in runs["A"] + runs["B"])]
    rows = []
    for name in names:
        a = [run[name] for run in runs["A"]]
        b = [run[name] for run in runs["B"]]
        differences = [y - x for x, y in zip(a, b)]
        faster = sum(1 for difference in differences if difference < 0)
        rows.append((name, statistics.median(a), statistics.median(b), statistics.median(differences), faster))
    # Kernels of a few microseconds say nothing either way.
    rows = rows[:1] + sorted((row for row in rows[1:] if max(row[1], row[2]) >= 0.1), key=lambda row: -abs(row[3]))
    width = max(len(row[0]) for row in rows)
    print()
    print(f"{'':<{width}}  {'A ms':>9}  {'B ms':>9}  {'median B − A':>12}  B faster")
    for name, a, b, difference, faster in rows:
        print(f"{name:<{width}}  {a:>9.1f}  {b:>9.1f}  {difference:>+12.1f}  {faster} of {options.rounds}")
    spread = {side: [run["iteration (median)"] for run in runs[side]] for side in runs}
    print(f"\niteration medians over the rounds: A {min(spread['A']):.1f}–{max(spread['A']):.1f}, "
          f"B {min(spread['B']):.1f}–{max(spread['B']):.1f} ms; phases and kernels are the profile's "
          "extra iterations")


if __name__ == "__main__":
    main()
