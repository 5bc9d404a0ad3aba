#!/usr/bin/env python3
"""Long runs (issue 25): resident memory, device memory and open file descriptors over time.

    benchmarks/longrun/longrun.py run   [--device 0] [--iterations 2000] [--size 128]
    benchmarks/longrun/longrun.py batch [--devices 0] [--jobs 72] [--iterations 5]
    benchmarks/longrun/longrun.py --out OUT summary run|batch TOTAL   # judge OUT's samples again

Starts the release binary (`swift build -c release --product stylize-gpu`; --bin for another)
from the project root and samples the process every --interval seconds from /proc/PID: VmRSS,
VmHWM and the entries of /proc/PID/fd. Device memory is the backend's own accounting of what it
holds allocated: `run` reads it from the `device_bytes` field of its `--progress json` lines;
`batch` from each finished job's `deviceBytes` in its `--report` (what the worker keeps for the
next job), placed at the time the job's "done" line appeared.

`run`: one run of --iterations at --size px (tubingen × starry_night), with a checkpoint every
--checkpoint-every iterations (file writes are part of a long run). `batch`: --jobs jobs in one
process (three periods of 24, at least the 50 of issue 25), contents, styles, sizes, pooling and
style layers varied so that StyleTargetCache (16 entries) evicts and reuses and VGGNetworkCache
swaps networks.

Prints a Markdown table of the samples nearest to 0, 25, 50, 75 and 100 % of the work and the
verdict. After a warm-up (run: the first --warmup of the iterations; batch: the first period of
24 jobs, every configuration once, the style-target cache filled), the rest is cut in two
windows (batch: the second period against the rest); flat means: the later window's peak RSS exceeds the earlier's by less than
--rss-threshold MiB per 1000 iterations (per 10 jobs for batch), its median number of open
descriptors is no higher, nor its peak device bytes; for batch also the device bytes held after
each job equal those after the job 24 earlier (the same configuration). Every sample goes to
OUT/samples.tsv.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CONTENTS = ["examples/tubingen.jpg", "examples/chelsea.png", "examples/astronaut.png"]
STYLES = ["examples/starry_night.jpg", "examples/the_scream.jpg", "examples/shipwreck.jpg"]
MIB = 1 << 20
# The batch's jobs repeat their configurations every PERIOD jobs (batch_command).
PERIOD = 24


def proc_sample(pid):
    """(VmRSS, VmHWM) in bytes and the number of open descriptors, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        rss = int(fields["VmRSS"].split()[0]) * 1024
        hwm = int(fields["VmHWM"].split()[0]) * 1024
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, hwm, fds
    except (OSError, KeyError, ValueError):
        return None


def slope(points):
    """Least-squares slope of (x, y) points; 0 with fewer than two distinct x."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / sxx


def monitor(command, interval, on_stdout, on_stderr, progress, log):
    """Runs `command`, samples it every `interval` s; returns (samples, exit status).
    Each sample: dict(t, rss, hwm, fds, progress, device) with progress() read at that time."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def pump(stream, handler, copy):
        for line in stream:
            handler(line, time.monotonic())
            copy.write(line)
            copy.flush()

    threads = [
        threading.Thread(target=pump, args=(process.stdout, on_stdout, log), daemon=True),
        threading.Thread(target=pump, args=(process.stderr, on_stderr, log), daemon=True),
    ]
    for thread in threads:
        thread.start()
    start = time.monotonic()
    samples = []
    while process.poll() is None:
        sample = proc_sample(process.pid)
        if sample:
            done, device = progress()
            samples.append(dict(t=time.monotonic() - start, rss=sample[0], hwm=sample[1], fds=sample[2],
                                progress=done, device=device))
        time.sleep(interval)
    for thread in threads:
        thread.join()
    return samples, process.returncode, start


def summarise(samples, total, unit, per, warmup, rss_threshold, out, split=None):
    """Prints the table and verdict; writes samples.tsv."""
    with open(os.path.join(out, "samples.tsv"), "w") as f:
        f.write("seconds\tprogress\trss_bytes\thwm_bytes\tfds\tdevice_bytes\n")
        for s in samples:
            f.write(f"{s['t']:.1f}\t{s['progress']}\t{s['rss']}\t{s['hwm']}\t{s['fds']}\t{s['device']}\n")
    if not samples:
        print("no samples (the process ended before the first)")
        return False
    print(f"| point | s | {unit} | RSS MiB | peak RSS (VmHWM) MiB | open fds | device MiB |")
    print("|---|---|---|---|---|---|---|")
    # "start": the first sample once the work has begun (the first report, or the first job done).
    begun = [s for s in samples if s["progress"] > 0 or s["device"] is not None] or samples
    for label, fraction in [("start", 0), ("25 %", 0.25), ("50 %", 0.5), ("75 %", 0.75), ("end", 1)]:
        target = fraction * total
        s = min(begun, key=lambda s: (abs(s["progress"] - target), s["t"] if fraction < 1 else -s["t"]))
        device = f"{s['device'] / MIB:.2f}" if s["device"] is not None else "–"
        print(f"| {label} | {s['t']:.0f} | {s['progress']} | {s['rss'] / MIB:.1f} | {s['hwm'] / MIB:.1f} "
              f"| {s['fds']} | {device} |")
    # Two windows after the warm-up: a leak makes the later one hold more than the earlier.
    split = split or warmup * total + (total - warmup * total) / 2
    earlier = [s for s in samples if warmup * total <= s["progress"] < split]
    later = [s for s in samples if s["progress"] >= split]
    if len(earlier) < 2 or len(later) < 2:
        print("too few samples after the warm-up to judge; lower --interval")
        return False

    def peak(window, key):
        values = [s[key] for s in window if s[key] is not None]
        return max(values) if values else 0

    def median(window, key):
        values = sorted(s[key] for s in window)
        return values[len(values) // 2]

    def mid(window):
        return sum(s["progress"] for s in window) / len(window)

    distance = max(mid(later) - mid(earlier), 1e-9)
    rss_growth = (peak(later, "rss") - peak(earlier, "rss")) / distance * per / MIB
    rss_slope = slope([(s["progress"], s["rss"]) for s in earlier + later]) * per / MIB
    fds = (median(earlier, "fds"), median(later, "fds"))
    device = (peak(earlier, "device"), peak(later, "device"))
    per_label = f"per {per} {unit}" if per != 1 else f"per {unit.rstrip('s')}"
    print()
    print(f"after the warm-up ({warmup:.0%} of the work), {unit} {warmup * total:.0f}–{split:.0f} against "
          f"{split:.0f}–{total}: peak RSS {peak(earlier, 'rss') / MIB:.1f} → {peak(later, 'rss') / MIB:.1f} MiB "
          f"({rss_growth:+.3f} MiB {per_label}; least-squares slope of every sample {rss_slope:+.3f}), "
          f"VmHWM {peak(earlier, 'hwm') / MIB:.1f} → {peak(later, 'hwm') / MIB:.1f} MiB, "
          f"median open fds {fds[0]} → {fds[1]}, peak device bytes {device[0]} → {device[1]}")
    flat = rss_growth < rss_threshold and fds[1] <= fds[0] and device[1] <= device[0]
    print(f"flat (peak RSS growth < {rss_threshold} MiB {per_label}, no growth of the median fds or of the "
          f"peak device bytes): {'yes' if flat else 'NO'}")
    return flat


def run_command(args, out):
    total = args.iterations
    command = [
        args.bin, "run", "examples/tubingen.jpg", "examples/starry_night.jpg", "-o", os.path.join(out, "out.png"),
        "--image-size", str(args.size), "--iterations", str(total), "--device", args.device,
        "--progress", "json", "--print-every", str(args.print_every),
        "--checkpoint", os.path.join(out, "run.ckpt"), "--checkpoint-every", str(args.checkpoint_every),
    ] + args.extra
    state = dict(iteration=0, device=None)

    def on_stdout(line, _):
        try:
            report = json.loads(line)
        except ValueError:
            return
        state["iteration"] = report.get("iteration", state["iteration"])
        state["device"] = report.get("device_bytes", state["device"])

    return command, total, on_stdout, lambda line, _: None, lambda: (state["iteration"], state["device"]), None


def batch_command(args, out):
    # Each period of 24 jobs: 18 on one network (max pooling, five style layers) over 3 styles × 6
    # sizes, 18 style targets, so StyleTargetCache (16 entries) evicts; 4 more reusing targets it
    # still holds; 2 on another network (average pooling, three layers), which empties the cache.
    sizes = [40, 48, 56, 64, 72, 80]
    manifest = os.path.join(out, "jobs.jsonl")
    with open(manifest, "w") as f:
        for i in range(args.jobs):
            k = i % PERIOD
            key = k if k < 18 else (k - 16 if k < 22 else k - 22)
            options = {"seed": i, "image-size": sizes[key // 3], "content-layers": "relu2_1"}
            if k >= 22:
                options.update({"pooling": "avg", "style-layers": "relu1_1,relu2_1,relu3_1"})
            job = dict(content=os.path.join(ROOT, CONTENTS[i % 3]), styles=[os.path.join(ROOT, STYLES[key % 3])],
                       output=f"job{i:03d}.png", options=options)
            f.write(json.dumps(job) + "\n")
    report = os.path.join(out, "report.json")
    command = [args.bin, "batch", "--manifest", manifest, "-o", os.path.join(out, "outputs"), "--devices",
               args.devices, "--iterations", str(args.iterations), "--report", report] + args.extra
    state = dict(done=0)
    done_at = []

    def on_stderr(line, when):
        # "[3/50] job002.png: done in 1.2 s …"
        if line.startswith("[") and ": done in " in line:
            state["done"] += 1
            done_at.append((when, line.split("] ", 1)[1].split(": done in", 1)[0]))

    def finish(samples, start):
        # Device bytes are known per job from the report once the batch ends.
        try:
            with open(report) as f:
                jobs = {j["output"]: j.get("deviceBytes") for j in json.load(f)["jobs"]}
        except (OSError, ValueError, KeyError):
            return
        times = sorted((when - start, jobs.get(name)) for when, name in done_at)
        for s in samples:
            known = [d for t, d in times if t <= s["t"] and d is not None]
            s["device"] = known[-1] if known else None

    return command, args.jobs, lambda line, _: None, on_stderr, lambda: (state["done"], None), finish


def check_period(report):
    """Device bytes held after each job against the job PERIOD earlier (the same size, pooling and
    layers), from the second period on: equal when nothing leaks."""
    try:
        with open(report) as f:
            held = [j.get("deviceBytes") for j in json.load(f)["jobs"]]
    except (OSError, ValueError, KeyError):
        print(f"no report at {report}")
        return False
    pairs = [(j, held[j], held[j - PERIOD]) for j in range(2 * PERIOD, len(held))]
    differ = [(j, a, b) for j, a, b in pairs if a != b]
    print(f"device bytes held after each job from job {2 * PERIOD} on against the job {PERIOD} earlier: "
          f"{len(pairs) - len(differ)} of {len(pairs)} equal"
          + (f"; first difference at job {differ[0][0]}: {differ[0][1]} against {differ[0][2]}" if differ else "")
          + f"; after the last job {held[-1]} bytes, at most {max(h or 0 for h in held)}")
    return not differ


def judge(kind, samples, total, args, out):
    """The table and the verdict of a run's or a batch's samples."""
    if kind == "run":
        return summarise(samples, total, "iterations", 1000, args.warmup, args.rss_threshold, out)
    # The first period runs every configuration once and fills the style-target cache; with three
    # periods or more, the second is compared with the rest.
    warmup = max(args.warmup, PERIOD / total)
    split = 2 * PERIOD if total >= 3 * PERIOD else None
    flat = summarise(samples, total, "jobs", 10, warmup, args.rss_threshold, out, split)
    return check_period(os.path.join(out, "report.json")) and flat


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(ROOT, ".build/release/stylize-gpu"))
    parser.add_argument("--out", help="folder for outputs, log and samples.tsv (default: a new temporary one)")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between samples (2)")
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of the work left out of the slope (0.1)")
    parser.add_argument("--rss-threshold", type=float, default=1.0,
                        help="flat below this RSS slope, MiB per 1000 iterations or per 10 jobs (1)")
    sub = parser.add_subparsers(dest="mode", required=True)
    run = sub.add_parser("run", help="one long run")
    run.add_argument("--device", default="0")
    run.add_argument("--iterations", type=int, default=2000)
    run.add_argument("--size", type=int, default=128)
    run.add_argument("--print-every", type=int, default=20)
    run.add_argument("--checkpoint-every", type=int, default=250)
    batch = sub.add_parser("batch", help="many jobs in one process")
    batch.add_argument("--devices", default="0")
    batch.add_argument("--jobs", type=int, default=3 * PERIOD)
    batch.add_argument("--iterations", type=int, default=5)
    for p in (run, batch):
        p.add_argument("extra", nargs="*", help="more options for the command (after --)")
    summary = sub.add_parser("summary", help="judge the samples.tsv (and report.json) of an earlier --out again")
    summary.add_argument("kind", choices=["run", "batch"])
    summary.add_argument("total", type=int, help="the iterations (run) or jobs (batch) it ran")
    args = parser.parse_args()
    if args.mode == "summary":
        if not args.out:
            sys.exit("error: give --out, the folder of the earlier measurement")
        with open(os.path.join(args.out, "samples.tsv")) as f:
            rows = [line.rstrip("\n").split("\t") for line in f][1:]
        samples = [dict(t=float(r[0]), progress=int(r[1]), rss=int(r[2]), hwm=int(r[3]), fds=int(r[4]),
                        device=None if r[5] == "None" else int(r[5])) for r in rows]
        sys.exit(0 if judge(args.kind, samples, args.total, args, args.out) else 1)
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"error: {args.bin} is not built; run swift build -c release --product stylize-gpu")
    out = args.out or tempfile.mkdtemp(prefix="stylize-longrun-")
    os.makedirs(out, exist_ok=True)
    command, total, on_stdout, on_stderr, progress, finish = (run_command if args.mode == "run" else batch_command)(
        args, out)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.2f}: "
          + " ".join(c.replace(out, "OUT").replace(ROOT + "/", "") for c in command))
    with open(os.path.join(out, "log.txt"), "w") as log:
        samples, status, start = monitor(command, args.interval, on_stdout, on_stderr, progress, log)
    if finish:
        finish(samples, start)
    if status != 0:
        print(f"the command exited with {status}; see {os.path.join(out, 'log.txt')}")
    flat = judge(args.mode, samples, total, args, out)
    print(f"samples: {os.path.join(out, 'samples.tsv')}")
    sys.exit(0 if flat and status == 0 else 1)


if __name__ == "__main__":
    main()
