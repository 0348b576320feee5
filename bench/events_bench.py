#!/usr/bin/env python3
"""Event-listener throughput (issue 12, item 7): a pool of 4 listeners
receives 10,000 PROCESS_LOG events.

One program writes N numbered lines to its stdout (stdout_events_enabled),
one write per line, and waits until the init has read each line (FIONREAD
on its stdout pipe is 0) before writing the next: one read, so one
PROCESS_LOG_STDOUT event, per line, whatever the init's loop speed.
`[eventlistener:ev]` with numprocs=4 subscribes to PROCESS_LOG; each
listener appends `TIME SERIAL NLINES FIRSTLINE` per event to its own file
and answers OK.

Reported per init (supervisord, rinit), each as PID 1 of a fresh PID
namespace:
  * events/s: events received / (last event received - first line written);
  * no event lost, counted on both sides: lines written by the producer
    vs distinct lines received, events received vs the serial range
    (a discarded event leaves a hole in the serials), duplicates, and the
    init's `event buffer overflowed` ERRO lines;
  * the init's peak and final RSS (VmHWM, VmRSS) with the pool's
    buffer_size.

    sudo python3 bench/events_bench.py [--init supervisord,rinit] [--rinit PATH]
                                       [--events 10000] [--listeners 4]
                                       [--buffer-size 10000] [--json FILE]

Needs root (unshare --pid), util-linux, Debian's supervisor (/usr/bin/supervisord)
for the supervisord half. Standard library only. Exit status 1 if an event
was lost under any init.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_RINIT = os.path.join(REPO, "target", "x86_64-unknown-linux-musl", "release", "rinit")
PY = "/usr/bin/python3"

PRODUCER = r'''
import fcntl, os, struct, sys, termios, time
n, t0file, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
time.sleep(delay)  # the listeners reach RUNNING (startsecs) first
with open(t0file, "w") as f:
    f.write(repr(time.time()))
buf = bytearray(4)
for i in range(n):
    os.write(1, b"line %06d\n" % i)
    while True:  # until the init has read it: one read, one event
        try:
            fcntl.ioctl(1, termios.FIONREAD, buf)
        except OSError:
            break  # not a pipe: nothing to wait for
        if struct.unpack("i", bytes(buf))[0] == 0:
            break
        time.sleep(0.00005)
with open(t0file + ".done", "w") as f:
    f.write(repr(time.time()))
while True:
    time.sleep(3600)
'''

LISTENER = r'''
import os, sys, time
name = os.environ.get("SUPERVISOR_PROCESS_NAME") or str(os.getpid())
out = open(os.path.join(sys.argv[1], "ev." + name), "a")
stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
while True:
    stdout.write(b"READY\n")
    stdout.flush()
    header = stdin.readline()
    if not header:
        break
    h = dict(t.split(b":", 1) for t in header.split() if b":" in t)
    payload = stdin.read(int(h[b"len"]))  # ASCII payload: chars == bytes
    data = payload.split(b"\n", 1)[1] if b"\n" in payload else b""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    first = lines[0].split()[-1].decode() if lines else "-"
    out.write("%.6f %s %d %s\n" % (time.time(), h[b"serial"].decode(), len(lines), first))
    out.write("".join("L %s\n" % l.split()[-1].decode() for l in lines[1:]))
    out.flush()
    stdout.write(b"RESULT 2\nOK")
    stdout.flush()
'''

CONF = """[supervisord]
nodaemon=true
logfile=/dev/null
pidfile={d}/init.pid
childlogdir={d}

[eventlistener:ev]
command={py} {d}/listener.py {d}/out
process_name=%(program_name)s_%(process_num)d
numprocs={listeners}
events=PROCESS_LOG
buffer_size={buffer_size}

[program:gen]
command={py} {d}/producer.py {events} {d}/t0 2
stdout_logfile=NONE
stdout_events_enabled=true
autorestart=false
"""


def status(pid):
    d = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                d[k] = v.strip()
    except OSError:
        pass
    return d


def find_pid1(parent, deadline):
    while time.monotonic() < deadline:
        for e in os.listdir("/proc"):
            if e.isdigit():
                st = status(int(e))
                if st.get("PPid") == str(parent) and st.get("NSpid", "").split()[-1:] == ["1"]:
                    return int(e)
        time.sleep(0.01)
    return None


def read_records(outdir):
    events, lines = [], []
    for name in sorted(os.listdir(outdir)):
        with open(os.path.join(outdir, name)) as f:
            for rec in f:
                p = rec.split()
                if p[0] == "L":
                    lines.append(p[1])
                elif len(p) == 4:
                    events.append((float(p[0]), int(p[1]), int(p[2])))
                    if p[3] != "-":
                        lines.append(p[3])
    return events, lines


def run(init, binary, args):
    d = tempfile.mkdtemp(prefix="events-bench-%s-" % init)
    os.chmod(d, 0o755)
    os.mkdir(os.path.join(d, "out"))
    with open(os.path.join(d, "producer.py"), "w") as f:
        f.write(PRODUCER)
    with open(os.path.join(d, "listener.py"), "w") as f:
        f.write(LISTENER)
    with open(os.path.join(d, "supervisord.conf"), "w") as f:
        f.write(CONF.format(d=d, py=PY, listeners=args.listeners, buffer_size=args.buffer_size,
                            events=args.events))
    argv = [binary, "-n", "-c", d + "/supervisord.conf"] if init == "supervisord" else \
        [binary, "-c", d + "/supervisord.conf"]
    cmd = ["setpriv", "--pdeathsig", "KILL", "unshare", "--pid", "--fork", "--mount-proc", "--kill-child"] + argv
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=d, env=env, start_new_session=True)
    log = []
    reader = threading.Thread(target=lambda: log.extend(
        l.decode("utf-8", "replace").rstrip("\n") for l in iter(proc.stdout.readline, b"")), daemon=True)
    reader.start()
    res = {"init": init, "events_sent": args.events, "listeners": args.listeners, "buffer_size": args.buffer_size}
    try:
        pid1 = find_pid1(proc.pid, time.monotonic() + 10)
        if pid1 is None:
            raise RuntimeError("no PID 1 found: %s" % "\n".join(log))
        # wait for every line, or for progress to stop
        deadline = time.monotonic() + args.timeout
        last, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            events, lines = read_records(os.path.join(d, "out"))
            if len(lines) >= args.events:
                break
            if len(lines) != last:
                last, last_change = len(lines), time.monotonic()
            elif time.monotonic() - last_change > 15:
                break  # no progress for 15 s: report what arrived
            time.sleep(0.1)
        st = status(pid1)
        res["vmhwm_kib"] = int(st.get("VmHWM", "0 kB").split()[0])
        res["vmrss_kib"] = int(st.get("VmRSS", "0 kB").split()[0])
        os.kill(pid1, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
    events, lines = read_records(os.path.join(d, "out"))
    try:
        with open(d + "/t0") as f:
            t0 = float(f.read())
    except (OSError, ValueError):
        t0 = None
    serials = sorted(s for _, s, _ in events)
    expected_lines = {"%06d" % i for i in range(args.events)}
    got_lines = set(lines)
    res.update({
        "events_received": len(events),
        "lines_received": len(lines),
        "lines_missing": len(expected_lines - got_lines),
        "lines_duplicated": len(lines) - len(got_lines),
        "serial_holes": (serials[-1] - serials[0] + 1 - len(set(serials))) if serials else 0,
        "serials_duplicated": len(serials) - len(set(serials)),
        "overflow_lines": sum(1 for l in log if "event buffer overflowed" in l),
        "seconds": (max(t for t, _, _ in events) - t0) if events and t0 else None,
        "per_listener": sorted(len(open(os.path.join(d, "out", n)).read().splitlines())
                               for n in os.listdir(os.path.join(d, "out"))),
    })
    res["events_per_s"] = res["events_received"] / res["seconds"] if res["seconds"] else None
    res["log_tail"] = log[-5:]
    res["lost"] = bool(res["lines_missing"] or res["serial_holes"] or res["overflow_lines"]
                       or res["lines_duplicated"])
    shutil.rmtree(d, ignore_errors=True)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", default="supervisord,rinit")
    ap.add_argument("--rinit", default=os.environ.get("RINIT", DEFAULT_RINIT))
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--listeners", type=int, default=4)
    ap.add_argument("--buffer-size", type=int, default=10000)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (unshare --pid)")
    results = []
    for init in [i.strip() for i in args.init.split(",") if i.strip()]:
        if init == "supervisord":
            binary = shutil.which("supervisord") or "/usr/bin/supervisord"
        else:
            binary = os.path.abspath(args.rinit)
        if not os.access(binary, os.X_OK):
            print("skipped %s: %s not found" % (init, binary))
            continue
        r = run(init, binary, args)
        results.append(r)
        print(json.dumps(r), flush=True)
    print()
    print("| init | events received | events/s | lines missing | serial holes | overflow ERRO | "
          "peak RSS KiB | RSS KiB | buffer_size |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print("| %s | %d | %s | %d | %d | %d | %d | %d | %d |" % (
            r["init"], r["events_received"], "%.0f" % r["events_per_s"] if r["events_per_s"] else "-",
            r["lines_missing"], r["serial_holes"], r["overflow_lines"], r["vmhwm_kib"], r["vmrss_kib"],
            r["buffer_size"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 1 if any(r["lost"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
