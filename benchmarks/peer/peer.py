#!/usr/bin/env python3
"""The PyTorch peer of `stylize-gpu bench`: pastiche 1.6.0 on the same workload, and the comparison.

    peer.py measure --device cpu --sizes 256,512 --iterations 20 --warmup 3 --out pastiche-cpu.json
    peer.py compare --ours ours.json --peer pastiche-cpu.json [--peer pastiche-cuda.json]
    peer.py rounds round-1 round-2 …   # each folder: ours.json and pastiche-*.json of one round

`measure` drives pastiche through its Python API (`PasticheArtist`): its own CLI has no per-step
timing and prints only every --info-step steps. Set-up (weights, image loading, targets) is
excluded; every `draw()` (one Adam step: forward, losses, backward, update) is timed on its own,
ended by `torch.cuda.synchronize()` on CUDA. `compare` prints both side by side with ratios;
`rounds` the ratio of each round of a run in which the two took turns, and their median.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import sys
import time



def runner_name(result):
    """Our runner as bench's table names it: the device, and its kernels where not the defaults
    (the native path's BLAS kernels, e.g. "native (OpenBLAS Cooperlake)")."""
    options = result.get('kernelOptions')
    return f"stylize-gpu {result['device']}" + (f" ({options})" if options and options != 'defaults' else '')

def cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'cpu'


def measure(args):
    import torch
    from pastiche import pastiche

    if args.device.startswith('cuda') and not torch.cuda.is_available():
        sys.exit(f'error: --device {args.device}: torch sees no CUDA GPU')
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
    load = list(os.getloadavg())
    torch.manual_seed(0)
    if args.no_tf32:
        # cuDNN may run float32 convolutions on TF32 tensor cores (10-bit mantissa) by default;
        # off, PyTorch does the float32 arithmetic stylize-gpu does.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    for size in [int(s) for s in args.sizes.split(',') if s.strip()]:
        # The same workload as stylize-gpu bench: content and style both resized to `size` on their
        # longest side, Adam, pastiche's default layers (ours too: relu4_2; relu1_1 … relu5_1), max
        # pooling, the initial image = the content. Loss weights are pastiche's own (they do not
        # change the work done); its TV loss is off by default and stays off.
        started = time.perf_counter()
        artist = pastiche.PasticheArtist(args.content, [args.style], optimizer='adam', device=args.device,
                                         pooling='max', size=size, style_size=size)
        setup_seconds = time.perf_counter() - started
        height, width = artist.content_size

        def step():
            start = time.perf_counter()
            artist.draw()
            if args.device.startswith('cuda'):
                torch.cuda.synchronize()
            return time.perf_counter() - start

        if args.device.startswith('cuda'):
            torch.cuda.reset_peak_memory_stats()
        for _ in range(args.warmup):
            step()
        samples = [step() * 1000 for _ in range(args.iterations)]
        result = {
            'peer': f'pastiche {pastiche.__version__} (PyTorch {torch.__version__})',
            'device': args.device,
            'deviceName': torch.cuda.get_device_name() if args.device.startswith('cuda') else cpu_name(),
            'threads': torch.get_num_threads(),
            'tf32': bool(args.device.startswith('cuda') and torch.backends.cudnn.allow_tf32),
            'size': size,
            'width': width,
            'height': height,
            'setupSeconds': setup_seconds,
            'samplesMilliseconds': samples,
            'medianMilliseconds': statistics.median(samples),
            'minMilliseconds': min(samples),
            'maxMilliseconds': max(samples),
            # ru_maxrss is in KiB on Linux: the whole process (Python, torch, every size so far).
            'peakHostResidentBytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            'peakDeviceBytes': torch.cuda.max_memory_allocated() if args.device.startswith('cuda') else None,
            'finalLoss': artist.loss,
        }
        print(f'note: pastiche {args.device}{" TF32" if result["tf32"] else ""} size {size} ({width}×{height}): median '
              f'{result["medianMilliseconds"]:.1f} ms/iteration, set-up {setup_seconds:.1f} s', file=sys.stderr)
        results.append(result)
        del artist
    report = {
        'date': started,
        'loadAverage': load,
        'threads': torch.get_num_threads(),
        'iterations': args.iterations,
        'warmup': args.warmup,
        'results': results,
    }
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=2)


def mib(value):
    return '–' if value is None else f'{value / 1048576:.0f}'


def compare(args):
    with open(args.ours) as f:
        ours = json.load(f)
    peers = []
    loads = []
    for path in args.peer:
        with open(path) as f:
            report = json.load(f)
        peers += report['results']
        loads.append(f"pastiche {report['results'][0]['device'] if report['results'] else ''} "
                     f"{' '.join(f'{x:.2f}' for x in report['loadAverage'])} ({report['date']})")
    rows = []
    for result in ours['results']:
        rows.append((result['size'], f"{result['width']}×{result['height']}", runner_name(result),
                     result['medianMilliseconds'], result['minMilliseconds'], result['maxMilliseconds'],
                     result['gflopsPerSecond'], result['peakDeviceBytes'], result['peakHostResidentBytes']))
    flops_at = {r['size']: (r['flopsPerIteration'], r['width'] * r['height']) for r in ours['results']}
    for result in peers:
        flops, pixels = flops_at.get(result['size'], (None, None))
        # Our FLOP count for the same layers, scaled to pastiche's pixel count when its rounding differs.
        gflops = None if flops is None else flops * result['width'] * result['height'] / pixels / (
            result['medianMilliseconds'] / 1000) / 1e9
        rows.append((result['size'], f"{result['width']}×{result['height']}",
                     f"pastiche {result['device']}" + (f" {result['threads']} threads" if result['device'] == 'cpu' else '')
                     + (' TF32' if result.get('tf32') else ' fp32' if result['device'].startswith('cuda') else ''),
                     result['medianMilliseconds'], result['minMilliseconds'],
                     result['maxMilliseconds'], gflops, result['peakDeviceBytes'], result['peakHostResidentBytes']))
    print(f"load when measured: ours {' '.join(f'{x:.2f}' for x in ours['loadAverage'])} "
          f"({ours['date']}, {ours['cpu']}, {ours['cores']} cores); " + '; '.join(loads))
    # Ratios against pastiche on the CPU when it ran, else against the first pastiche device.
    peer_names = [row[2] for row in rows if row[2].startswith('pastiche ')]
    reference_name = next((name for name in peer_names if name.startswith('pastiche cpu')),
                          peer_names[0] if peer_names else None)
    ratio_title = f'{reference_name or "pastiche"} ÷ this'
    width = max([len(row[2]) for row in rows] + [6])
    print(f"{'size':<5} {'image':<9} {'runner':<{width}} {'median ms':>10} {'min–max ms':>16} {'GFLOP/s':>8} "
          f"{'peak dev MiB':>12} {'peak RSS MiB':>12} {ratio_title:>20}")
    for size in sorted({row[0] for row in rows}):
        reference = next((row[3] for row in rows if row[0] == size and row[2] == reference_name), None)
        for row in (r for r in rows if r[0] == size):
            ratio = '–' if reference is None else f'{reference / row[3]:.2f}×'
            gflops = '–' if row[6] is None else f'{row[6]:.1f}'
            print(f'{row[0]:<5} {row[1]:<9} {row[2]:<{width}} {row[3]:>10.1f} {f"{row[4]:.1f}–{row[5]:.1f}":>16} '
                  f'{gflops:>8} {mib(row[7]):>12} {mib(row[8]):>12} {ratio:>20}')
    print(f'ratio above 1: that runner is faster than {reference_name}; peak RSS is per process '
          '(ours: every device of the run together)')


def rounds(args):
    """Each round's time ratio (ours ÷ pastiche's median, per size, our device and pastiche device),
    then per pair the median of the rounds' ratios and the ratio of the medians of all samples."""
    ratios = {}  # (size, runner, peer) → [ratio per round]
    samples = {}  # runner or peer name, size → every sample of every round
    print(f"{'round':>5} {'first':<8} {'size':<5} {'image':<9} {'runner':<44} {'median ms':>10} "
          f"{'pastiche':<16} {'median ms':>10} {'÷ pastiche':>10}  load")
    for number, folder in enumerate(args.folders, start=1):
        with open(os.path.join(folder, 'ours.json')) as f:
            ours = json.load(f)
        peers = []
        for name in sorted(os.listdir(folder)):
            if name.startswith('pastiche-') and name.endswith('.json'):
                with open(os.path.join(folder, name)) as f:
                    peers.append(json.load(f))
        if not peers:
            sys.exit(f'error: {folder} has no pastiche-*.json')
        first = 'pastiche' if number % 2 else 'ours'  # run.sh: pastiche first in odd rounds
        for result in ours['results']:
            runner = runner_name(result)
            samples.setdefault((runner, result['size']), []).extend(result['samplesMilliseconds'])
            for report in peers:
                for peer in (p for p in report['results'] if p['size'] == result['size']):
                    name = f"pastiche {peer['device']}"
                    ratio = result['medianMilliseconds'] / peer['medianMilliseconds']
                    ratios.setdefault((result['size'], runner, name), []).append(ratio)
                    print(f"{number:>5} {first:<8} {result['size']:<5} {result['width']}×{result['height']:<5} "
                          f"{runner:<44} {result['medianMilliseconds']:>10.1f} {name:<16} "
                          f"{peer['medianMilliseconds']:>10.1f} {ratio:>9.3f}×  "
                          f"{' '.join(f'{x:.2f}' for x in ours['loadAverage'])}")
        for report in peers:
            for peer in report['results']:
                samples.setdefault((f"pastiche {peer['device']}", peer['size']), []).extend(
                    peer['samplesMilliseconds'])
    print(f"\n{len(args.folders)} rounds; ÷ pastiche: our time per iteration over pastiche's (below 1: faster)")
    print(f"{'size':<5} {'runner':<44} {'pastiche':<16} {'median of the rounds':>20} {'min–max':>15} "
          f"{'all samples':>12}")
    for (size, runner, name), values in sorted(ratios.items()):
        pooled = statistics.median(samples[(runner, size)]) / statistics.median(samples[(name, size)])
        print(f"{size:<5} {runner:<44} {name:<16} {statistics.median(values):>19.3f}× "
              f"{f'{min(values):.3f}–{max(values):.3f}×':>15} {pooled:>11.3f}×")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    m = commands.add_parser('measure', help='time pastiche iterations')
    m.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    m.add_argument('--threads', type=int, default=0, help="torch's intra-op threads (0: torch's default)")
    m.add_argument('--no-tf32', action='store_true', help='CUDA: plain float32 convolutions (no TF32 tensor cores)')
    m.add_argument('--sizes', default='256,512')
    m.add_argument('--iterations', type=int, default=20)
    m.add_argument('--warmup', type=int, default=3)
    m.add_argument('--content', required=True)
    m.add_argument('--style', required=True)
    m.add_argument('--out', required=True)
    c = commands.add_parser('compare', help='print ours and the peer side by side')
    c.add_argument('--ours', required=True, help='stylize-gpu bench --json output')
    c.add_argument('--peer', action='append', required=True, help='peer.py measure output (repeatable)')
    r = commands.add_parser('rounds', help="each round's ratio of a run in turns, and their median")
    r.add_argument('folders', nargs='+', help='one folder per round, in order: ours.json, pastiche-*.json')
    args = parser.parse_args()
    if args.command == 'measure':
        if args.iterations < 1 or args.warmup < 0:
            sys.exit('error: --iterations must be at least 1 and --warmup not negative')
        measure(args)
    elif args.command == 'rounds':
        rounds(args)
    else:
        compare(args)


if __name__ == '__main__':
    main()
