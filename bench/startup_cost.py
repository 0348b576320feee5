#!/usr/bin/env python3
"""Start-up cost of rinit (issues 9 and 10), in figures that do not move with
the machine's load:

  1. instructions (callgrind) from `exec` of rinit as PID 1 of a fresh PID
     namespace, through both programs of a 2-program config (`sleep`) running,
     to `kill -TERM` and rinit's exit;
  2. instructions of `rinit check -c` on the same config;
  3. time and peak RSS of `rinit check -c` on a config of N `[program:x]`
     sections (default 100,000), with `/usr/bin/time -v`.

    sudo python3 bench/startup_cost.py [--rinit PATH] [--sections N] [--annotate N] [--keep DIR]

`--rinit` wants an unstripped build for `--annotate` (the top N functions of
each profile by `callgrind_annotate`; `--keep DIR` keeps the profiles for
`callgrind_annotate --inclusive=yes`), e.g.
`CARGO_PROFILE_RELEASE_STRIP=false CARGO_PROFILE_RELEASE_DEBUG=1 cargo build
--release --target-dir target-prof`.  Needs root (unshare --pid) and valgrind.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from benchlib.nsrun import Instance, children, read, wait_for  # noqa: E402

DEFAULT_RINIT = os.path.join(ROOT, "target", "x86_64-unknown-linux-musl", "release", "rinit")


def two_programs(wd):
    sleep = shutil.which("sleep") or "/bin/sleep"
    conf = os.path.join(wd, "two.conf")
    with open(conf, "w") as f:
        f.write("[supervisord]\nnodaemon=true\nlogfile=/dev/null\n"
                f"pidfile={wd}/init.pid\nchildlogdir={wd}\n")
        for i in (1, 2):
            f.write(f"\n[program:sleep{i}]\ncommand={sleep} 100000\nautorestart=true\n"
                    "startsecs=1\nstopwaitsecs=2\n")
    return conf


def many_programs(wd, n):
    """n `[program:x]` sections, each with a few keys (issue 9's shape)."""
    conf = os.path.join(wd, f"many-{n}.conf")
    with open(conf, "w") as f:
        f.write("[supervisord]\nnodaemon=true\nlogfile=/dev/null\n"
                f"pidfile={wd}/init.pid\n")
        for i in range(n):
            f.write(f"\n[program:p{i}]\ncommand=/bin/sleep {i}\nautostart=false\n"
                    "startsecs=1\nstopwaitsecs=2\n")
    return conf


def total_ir(path):
    m = re.search(r"^(?:summary|totals):\s*(\d+)", read(path, ""), re.M)
    return int(m.group(1)) if m else None


def annotate(path, n):
    if n <= 0:
        return
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", path],
                         capture_output=True, text=True).stdout
    rows = [ln for ln in out.splitlines() if re.match(r"^\s*[\d,]+ \(", ln)]
    print("\n".join("    " + r.strip() for r in rows[1:n + 1]))


def callgrind(extra):
    return ["valgrind", "--tool=callgrind", "--quiet", *extra]


def run_init(rinit, conf, wd, n_annotate):
    """exec -> both programs running -> TERM -> exit, rinit as PID 1."""
    out = os.path.join(wd, "run.callgrind")
    argv = callgrind([f"--callgrind-out-file={out}"]) + [rinit, "-c", conf]
    with Instance(argv, wd, os.path.join(wd, "init.log")).start() as inst:
        def both_running():
            kids = children(inst.init_pid)
            return len(kids) == 2 and all(
                read(f"/proc/{k}/comm", "").strip() == "sleep" for k in kids)
        if not wait_for(both_running, 120, 0.01):
            sys.exit("the two programs never ran: " + read(inst.log_path, ""))
        time.sleep(0.2)
        inst.signal(signal.SIGTERM)
        if inst.wait_exit(120) is None:
            sys.exit("rinit did not exit after TERM")
    ir = total_ir(out)
    print(f"exec -> 2 programs running -> TERM -> exit: {ir:,} instructions")
    annotate(out, n_annotate)


def run_check(rinit, conf, wd, n_annotate):
    out = os.path.join(wd, "check.callgrind")
    subprocess.run(callgrind([f"--callgrind-out-file={out}"]) + [rinit, "check", "-c", conf],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"rinit check, 2 programs: {total_ir(out):,} instructions")
    annotate(out, n_annotate)


def run_many(rinit, wd, n):
    conf = many_programs(wd, n)
    r = subprocess.run(["/usr/bin/time", "-v", rinit, "check", "-c", conf],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"rinit check failed: {r.stdout[-500:]} {r.stderr[-500:]}")
    f = dict(re.findall(r"^\s*(.+?): (.+)$", r.stderr, re.M))
    print(f"rinit check, {n:,} sections: {f.get('Elapsed (wall clock) time (h:mm:ss or m:ss)')} elapsed, "
          f"{f.get('User time (seconds)')} s user + {f.get('System time (seconds)')} s sys, "
          f"max RSS {int(f.get('Maximum resident set size (kbytes)', 0)):,} KiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rinit", default=DEFAULT_RINIT)
    ap.add_argument("--sections", type=int, default=100_000, help="0: skip the large config")
    ap.add_argument("--annotate", type=int, default=0, metavar="N",
                    help="print the top N functions of each profile")
    ap.add_argument("--keep", metavar="DIR",
                    help="copy the callgrind profiles (run.callgrind, check.callgrind) to DIR")
    args = ap.parse_args()
    rinit = os.path.abspath(args.rinit)
    print(f"{rinit}: {os.path.getsize(rinit):,} bytes")
    with tempfile.TemporaryDirectory(prefix="rinit-startup-") as wd:
        conf = two_programs(wd)
        run_init(rinit, conf, wd, args.annotate)
        run_check(rinit, conf, wd, args.annotate)
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for name in ("run.callgrind", "check.callgrind"):
                shutil.copy(os.path.join(wd, name), args.keep)
        if args.sections > 0:
            run_many(rinit, wd, args.sections)


if __name__ == "__main__":
    main()
