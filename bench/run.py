#!/usr/bin/env python3
"""rinit's benchmark: rinit and its peers (tini, dumb-init, catatonit,
supervisord), each as PID 1 of a fresh PID namespace, on the same workloads.

    sudo python3 bench/run.py                  # everything (~15 min on 2 cores)
    sudo python3 bench/run.py --quick          # one repetition, small numbers (< 3 min)
    sudo python3 bench/run.py --only idle,restart,rinit,supervisord
    sudo python3 bench/run.py --rinit target/release/rinit --out /tmp/b

Writes OUT/results.json, OUT/results.md (the table, with the goals ✓/✗) and
OUT/chart.png (the headline ratios), and prints the table.  OUT defaults to
bench/results.  Needs root (unshare --pid), util-linux, a C compiler; valgrind
for the instruction counts.  Peers that are not installed are skipped.
"""
import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from benchlib import chart, report, sysinfo  # noqa: E402
from benchlib import metrics as M  # noqa: E402
from benchlib.inits import all_inits  # noqa: E402
from benchlib.nsrun import UNSHARE, read, stop_all  # noqa: E402

DEFAULT_RINIT = [os.path.join(ROOT, "target", t, "release", "rinit")
                 for t in ("x86_64-unknown-linux-musl", "x86_64-unknown-linux-gnu")]
DEFAULT_RINIT_MIN = os.path.join(ROOT, "target", "min", "x86_64-unknown-linux-musl", "release", "rinit")

# metric name -> (function, who runs it: "all" or "supervisors")
METRICS = {
    "idle": (M.idle, "all"),             # 1, 2
    "restart": (M.restart, "supervisors"),  # 3
    "orphans": (M.orphans, "all"),       # 4
    "sigterm": (M.sigterm, "all"),       # 5
    "stubborn": (M.stubborn, "all"),     # 6
    "startup": (M.startup, "all"),       # 7
    "callgrind": (M.instructions, "all"),  # 7, instructions
    "scale": (M.scale, "supervisors"),   # 9
    "throughput": (M.throughput, "supervisors"),  # 10
}
# start-up: a trial takes milliseconds, and the median of 10 moved by a tenth
# of a millisecond from one run to the next on a shared machine.
REPS = {"idle": 3, "restart": 1, "orphans": 3, "sigterm": 5, "stubborn": 3, "startup": 30,
        "callgrind": 3, "scale": 3, "throughput": 1}
QUICK = {"idle_window_s": 3.0, "settle_s": 1.0, "restart_kills": 3, "orphans": 200,
         "stubborn_timeout_s": 3.5, "scale_procs": 100, "scale_kills": 2, "flood_s": 2.0}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def build_helper():
    src = os.path.join(HERE, "helpers", "benchhelper.c")
    build_dir = os.path.join(HERE, "build")
    if not os.access(HERE, os.W_OK):
        build_dir = os.path.join(tempfile.gettempdir(), "rinit-bench-build")
    out = os.path.join(build_dir, "benchhelper")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    os.makedirs(build_dir, exist_ok=True)
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        sys.exit("need a C compiler for bench/helpers/benchhelper.c (apt-get install gcc)")
    tmp = f"{out}.{os.getpid()}"
    base = [cc, "-O2", "-Wall", "-o", tmp, src]
    if subprocess.run(base[:2] + ["-static"] + base[2:]).returncode != 0:
        log("static link failed, building the helper dynamically")
        subprocess.run(base, check=True)
    os.replace(tmp, out)
    return out


def preflight():
    if os.geteuid() != 0:
        sys.exit("run as root (unshare --pid needs it)")
    r = subprocess.run(UNSHARE + ["true"], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        sys.exit(f"{' '.join(UNSHARE)} true failed: {r.stderr.strip()}")


def cpu_pressure_us():
    """Total µs in which some runnable task waited for a CPU (PSI), or None."""
    for line in read("/proc/pressure/cpu", "").splitlines():
        if line.startswith("some"):
            return int(line.rsplit("total=", 1)[1])
    return None


class Run:
    def __init__(self, ctx, inits, reps, quick):
        self.ctx, self.inits, self.reps, self.quick = ctx, inits, reps, quick
        self.samples = {}   # key -> init -> [values]
        self.pressure = {}  # metric -> [CPU pressure % of each trial]
        self.errors = []

    def trial(self, metric, init, fn):
        t = time.monotonic()
        p0 = cpu_pressure_us()
        try:
            sample = fn(self.ctx, init)
        except M.Skip as e:
            log(f"  {init.name}: skipped ({e})")
            return
        except Exception as e:  # keep going: one broken init must not stop the run
            stop_all()
            self.errors.append({"metric": metric, "init": init.name,
                                "error": f"{type(e).__name__}: {e}"})
            log(f"  {init.name}: ERROR {type(e).__name__}: {e}")
            return
        if p0 is not None:
            pct = (cpu_pressure_us() - p0) / ((time.monotonic() - t) * 1e4)
            self.pressure.setdefault(metric, []).append(round(pct, 1))
        for key, v in sample.items():
            self.samples.setdefault(key, {}).setdefault(init.name, []).extend(
                v if isinstance(v, list) else [v])
        short = {k: (round(v, 2) if isinstance(v, float) else
                     [None if x is None else round(x, 2) for x in v] if isinstance(v, list)
                     else v) for k, v in sample.items()}
        log(f"  {init.name} ({time.monotonic() - t:.1f}s) {short}")

    def run(self, which):
        for metric in which:
            fn, who = METRICS[metric]
            inits = [i for i in self.inits if who == "all" or i.supervises]
            if metric == "callgrind" and not shutil.which("valgrind"):
                log("callgrind: valgrind not installed, skipped")
                continue
            for rep in range(self.reps[metric]):
                log(f"{metric}: repetition {rep + 1}/{self.reps[metric]}")
                for init in inits:
                    if metric == "callgrind" and init.name == "supervisord" and \
                            (rep > 0 or self.quick):
                        continue  # Python under callgrind: ~30 s a run, and Ir repeats
                    self.trial(metric, init, fn)


def init_info(i):
    e = {"kind": i.kind, "notes": i.notes, "is_rinit": i.is_rinit,
         "packages": [sysinfo.package(p) for p in i.packages],
         "binaries": [sysinfo.binary(b) for b in [i.binary] + i.extra_binaries]}
    if i.skip:
        e["skipped"] = i.skip
    elif not os.path.exists(i.binary):
        e["skipped"] = f"{i.binary} not installed"
    return e


def render(res, out_dir):
    names, rinit = report.build_table(res)
    table = report.markdown_table(res, names)
    report.write_json(os.path.join(out_dir, "results.json"), res)
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(markdown(res, names, rinit, table))
    drawn = False
    if any(r["chart"] and r["ratios"] for r in res["rows"]):
        drawn = chart.draw(os.path.join(out_dir, "chart.png"), res,
                           "rinit vs peers" + (" (--quick: 1 repetition)" if res["quick"] else ""))
    return names, drawn


def markdown(res, names, rinit, table):
    m = res["machine"]
    p = res["params"]
    out = [f"# rinit benchmark{' (--quick)' if res['quick'] else ''}\n",
           f"`{res['command']}` on {res['date']} ({res['elapsed_s']:.0f} s)"
           + (f", repository at {res['repo_commit']}" if res.get("repo_commit") else "") + ". "
           f"{m['os']}, kernel {m['kernel']}, {m['cpus']} x {m['cpu']}; 1-min load "
           f"average {res['loadavg_start'][0]} at start, {res['loadavg_end'][0]} at end.\n",
           "Each init runs as PID 1 of a fresh PID namespace "
           f"(`{' '.join(UNSHARE)} INIT ...`). Cells: median (min–max) over "
           "repetitions; under each peer, *rinit/peer* = rinit's median / the peer's "
           "median (< 1: rinit is smaller or faster). The goal column judges rinit's "
           "median. Repetitions: " +
           ", ".join(f"{k} {v}" for k, v in res["reps"].items()) +
           f"; restart: {p['restart_kills']} kills, scale restart: {p['scale_kills']} kills "
           "per repetition.\n"]
    skipped = {n: e["skipped"] for n, e in res["inits"].items() if e.get("skipped")}
    if skipped:
        out.append("Skipped: " + "; ".join(f"{n} ({r})" for n, r in skipped.items()) + ".\n")
    out.append(table)
    if res["goals"]:
        out.append("\n" + report.goals_text(res).capitalize() + ":\n")
        out += [f"- {'✓' if g['met'] else '✗' if g['met'] is False else '–'} "
                f"{g['metric']}: goal {g['goal']}, rinit "
                f"{g['rinit'] if g['rinit'] is not None else 'not measured'}"
                for g in res["goals"]]
        out.append("")
    psi = res.get("cpu_pressure_pct")
    if psi:
        out.append("CPU contention while each metric ran (PSI `some`, % of wall time "
                   "in which a runnable task waited for a CPU), median (max): " + "; ".join(
                       f"{k} {v['median']:.0f}% ({v['max']:.0f}%)"
                       for k, v in psi.items() if "median" in v) + ".\n")
    for note in res.get("notes", []):
        out.append(f"Note: {note}\n")
    if res["errors"]:
        out.append("\n**Errors during the run:**\n")
        out += [f"- {e['metric']} / {e['init']}: {e['error']}" for e in res["errors"]]
        out.append("")
    out.append("\n![rinit/peer ratios](chart.png)\n")
    out.append("## Inits\n")
    for n, e in res["inits"].items():
        ver = ", ".join(f"{x['package']} {x.get('version') or '?'}" for x in e["packages"])
        path = e["binaries"][0]["path"].replace(ROOT + "/", "")
        out.append(f"- **{n}**: `{path}`" + (f" ({ver})" if ver else "") +
                   (f"; {e['notes']}" if e["notes"] else ""))
    out.append("\n" + METHOD.format(**p))
    return "\n".join(out) + "\n"


METHOD = """## How each metric is measured

Every trial starts the init afresh, as PID 1 of a new PID namespace, in a
fresh work directory whose files are backdated one hour. Supervisors (rinit
config mode, supervisord) read the same `supervisord.conf`: a `[supervisord]`
section (`nodaemon=true`, `logfile=/dev/null`, `pidfile`, `childlogdir` in the
work directory) and one `[program:x]` per program with `autorestart=true`,
`startsecs=1`, `startretries=3`, `stopsignal=TERM`, `stopwaitsecs=2`.
Single-child inits (tini, dumb-init, catatonit, `rinit --`) run the program as
their child; two programs become one `sh -c 'p1 & p2 & wait'` child. Times are
CLOCK_MONOTONIC: `bench/helpers/benchhelper.c` writes `TAG ns pid` stamps that
the harness (Python) compares with its own clock.

1. **Idle memory**: programs `sleep1`, `sleep2` = `sleep 100000`; once both run,
   wait {settle_s:g} s, read VmRSS (`/proc/PID/status`) and PSS
   (`/proc/PID/smaps_rollup`) of the init.
2. **Idle wakeups**: right after, voluntary + involuntary context switches of
   the init over {idle_window_s:g} s, scaled to 10 s.
3. **Restart latency**: program `benchhelper stamp F start sleep 100000`; when
   it has been up {restart_hold_s:g} s it is SIGKILLed; latency = its next start
   stamp - the kill ({restart_kills} kills in a row).
4. **Orphans**: program `benchhelper orphans F {orphans} {orphan_life_us}`: on
   SIGUSR1 it double-forks {orphans} grandchildren that sleep
   {orphan_life_us} µs and exit, reparented to PID 1. The harness polls
   `/proc/INIT/task/*/children` every ~1 ms; the clock stops when no orphan is
   left (every one exited and was reaped), measured from the burst's end.
   Zombies are counted every {zombie_sample_s:g} s (peak = lower bound).
5. **TERM**: program `benchhelper trapterm F` stamps when it gets SIGTERM;
   1.5 s after it started the harness sends `kill -TERM` to the init; the
   init's exit is seen by a pidfd (after the kernel has torn the namespace
   down).
6. **Stubborn child**: program `benchhelper ignterm F` ignores TERM; same, with
   `stopwaitsecs=2`; no exit within {stubborn_timeout_s:g} s is "no exit"
   (single-child inits never SIGKILL their child).
7. **Start-up**: PID 1 is `benchhelper stamp F exec INIT ...`, which stamps and
   execs the init; the first program is `benchhelper stamp F child sleep
   100000`. Start-up = child stamp - exec stamp; for rinit this includes reading
   and parsing the config file. **Instructions**: the same workload with the
   init under `valgrind --tool=callgrind` (its children are not traced); once
   the program runs, `kill -TERM`; Ir = the init's user-space instructions from
   exec to exit, loader and libc included. Repeatable on a noisy machine.
8. **Binary size**: `ls -l` bytes of the file exec'd, and `file`'s verdict.
9. **Scale**: one `[program:p]` with `numprocs={scale_procs}`,
   `process_name=%(program_name)s_%(process_num)d`, command `benchhelper hold F
   start` (stamps, then sleeps). Start-up = exec of the init -> the last of the
   {scale_procs} start stamps; then RSS/PSS and idle wakeups as in 1-2; then the
   restart latency of one program (the one that started in the middle), as in 3,
   {scale_kills} kills.

Every wait is bounded; every trial ends with SIGKILL to the init (the kernel
then kills the rest of its namespace). The harness signals only processes in
namespaces it created.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="one repetition of everything, small numbers (smoke test, < 3 min)")
    ap.add_argument("--rinit", help="rinit binary (default: target/{musl,gnu}/release/rinit)")
    ap.add_argument("--rinit-min", help="minimal build of rinit, shown beside it "
                    "(default: target/min/x86_64-unknown-linux-musl/release/rinit, from bench/build-min.sh)")
    ap.add_argument("--only", help="comma-separated metrics (" + ",".join(METRICS) +
                    ") and/or inits (rinit,'rinit --',tini,dumb-init,catatonit,supervisord)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="output directory")
    ap.add_argument("--keep", action="store_true", help="keep the per-trial work directories")
    ap.add_argument("--render", action="store_true",
                    help="only rewrite results.md and chart.png from OUT/results.json")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.render:
        with open(os.path.join(args.out, "results.json")) as f:
            res = json.load(f)
        render(res, args.out)
        return 0

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    preflight()
    rinit = args.rinit or next((p for p in DEFAULT_RINIT if os.path.exists(p)), DEFAULT_RINIT[0])
    rinit = os.path.abspath(rinit)
    reps = dict(REPS)
    if args.quick:
        reps = {k: 1 for k in reps}
        for k, v in QUICK.items():
            setattr(M.P, k, v)
    rinit_min = args.rinit_min or DEFAULT_RINIT_MIN
    rinit_min = os.path.abspath(rinit_min) if os.path.exists(rinit_min) else None
    inits = all_inits(rinit, rinit_min)
    which = list(METRICS)
    if args.only:
        toks = [t.strip() for t in args.only.split(",") if t.strip()]
        names = {i.name for i in inits}
        bad = [t for t in toks if t not in METRICS and t not in names]
        if bad:
            sys.exit(f"--only: unknown {bad}; metrics: {','.join(METRICS)}; "
                     f"inits: {','.join(sorted(names))}")
        if any(t in METRICS for t in toks):
            which = [m for m in METRICS if m in toks]
        if any(t in names for t in toks):
            inits = [i for i in inits if i.name in toks]

    info = {i.name: init_info(i) for i in inits}
    for n, e in info.items():
        if e.get("skipped"):
            log(f"skipping {n}: {e['skipped']}")
    live = [i for i in inits if not info[i.name].get("skipped")]
    if not live:
        sys.exit("no init to run")

    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="rinit-bench-")
    ctx = M.Ctx(helper=build_helper(), sleep=shutil.which("sleep"), tmp=tmp)
    t0 = time.monotonic()
    load0 = open("/proc/loadavg").read().split()[:3]
    log(f"inits: {', '.join(i.name for i in live)}; metrics: {', '.join(which)}; "
        f"work dirs in {tmp}")
    run = Run(ctx, live, reps, args.quick)
    try:
        run.run(which)
    finally:
        stop_all()
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    params = {k: getattr(M.P, k) for k in dir(M.P) if not k.startswith("_")}
    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "elapsed_s": time.monotonic() - t0,
        "quick": args.quick,
        "repo_commit": git or None,
        "command": "python3 bench/run.py" + "".join(
            f" {a}" if " " not in a else f" '{a}'" for a in sys.argv[1:]),
        "machine": sysinfo.machine(),
        "loadavg_start": load0,
        "loadavg_end": open("/proc/loadavg").read().split()[:3],
        "reps": {m: reps[m] for m in which},
        "params": params,
        "inits": info,
        "metrics": {k: {n: report.summarize(s) for n, s in per.items()}
                    for k, per in run.samples.items()},
        "cpu_pressure_pct": {k: report.summarize(v) for k, v in run.pressure.items()},
        "errors": run.errors,
    }
    names, drawn = render(res, args.out)
    print(report.text_table(res, names))
    if res["goals"]:
        print(report.goals_text(res))
    for e in run.errors:
        print(f"ERROR {e['metric']} / {e['init']}: {e['error']}")
    log(f"wrote {args.out}/results.json, results.md{', chart.png' if drawn else ''}"
        f" in {res['elapsed_s']:.0f} s")
    # a broken rinit (or harness) fails the run; slow numbers never do
    return 1 if any(e["init"].startswith("rinit") for e in run.errors) else 0


if __name__ == "__main__":
    sys.exit(main())
