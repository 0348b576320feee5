#!/usr/bin/env python3
"""Differential scenario tests: supervisord 4.2.5 vs rinit, each as PID 1.

Each scenario is a directory under scenarios/ holding a supervisord.conf and a
scenario.json (steps + expected normalized transcripts).  See README.md.

    difftest.py --init supervisord|rinit [--rinit PATH] [--runs N] [--only NAME[,NAME]]
                [--jobs N] [--keep] [--record] [--times]

Exits non-zero on any failure; the last line is always "N passed, N failed".
Python 3 standard library only.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCENARIOS = os.path.join(HERE, "scenarios")
HELPERS = os.path.join(HERE, "bin")
DEFAULT_RINIT = os.path.join(REPO, "target", "x86_64-unknown-linux-musl", "release", "rinit")

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# One activity-log record.  search(), not match(): a child's partial output line
# may precede a record on the same physical line.
LOG_RE = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (CRIT|ERRO|WARN|INFO|DEBG|TRAC|BLAT) (.*)$")

# Start-up lines that differ by design between the two inits (rinit.md §6, §2).
# Dropped unless the scenario sets "keep_startup": true.
STARTUP_DROPS = [
    re.compile(r"^CRIT Supervisor is running as root\.  Privileges were not dropped"),
    re.compile(r"^INFO (supervisord|rinit) started with pid \d+$"),
    re.compile(r"^INFO .*\[?(unix_http_server|inet_http_server|supervisorctl|rpcinterface)"),
]

# Lines that end a reaction-time measurement: the process life cycle (§1.5.2)
# and the init's reaction to a signal (§1.5.3).
LIFECYCLE_RE = re.compile(
    r"^(INFO|WARN|CRIT|ERRO) (spawned: |spawnerr: |success: |exited: |gave up: |stopped: |"
    r"killing '|reaped unknown pid |received SIG|waiting for |.*leftover)")

SPAWNED_RE = re.compile(r"^(INFO spawned: '(?P<name>[^']+)' with pid )(?P<pid>\d+)$")
KILLING_RE = re.compile(r"^(WARN killing '(?P<name>[^']+)' \()(?P<pid>\d+)(\) with SIGKILL)$")
REAPED_RE = re.compile(r"^(INFO reaped unknown pid )(?P<pid>\d+)( \(.*\))$")
NAMED_RE = re.compile(r"^(?:INFO|WARN) (?:success|exited|gave up|stopped): (?P<name>\S+) ")
SPAWNED_NAME_RE = re.compile(r"^INFO spawned: '(?P<name>[^']+)' with pid")
KILL_NAME_RE = re.compile(r"^WARN killing '(?P<name>[^']+)' ")

SIGNALS = {n[3:]: getattr(signal, n) for n in dir(signal)
           if n.startswith("SIG") and not n.startswith("SIG_") and isinstance(getattr(signal, n), int)}


class StepFailure(Exception):
    pass


# --------------------------------------------------------------------------
# scenario loading

def load_scenarios(only):
    names = sorted(d for d in os.listdir(SCENARIOS)
                   if os.path.isfile(os.path.join(SCENARIOS, d, "scenario.json")))
    if only:
        wanted = [w.strip() for w in only.split(",") if w.strip()]
        names = [n for n in names if any(w == n or w in n for w in wanted)]
    out = []
    for n in names:
        with open(os.path.join(SCENARIOS, n, "scenario.json")) as f:
            sc = json.load(f)
        sc["name"] = n
        sc["dir"] = os.path.join(SCENARIOS, n)
        out.append(sc)
    return out


def pick(sc, key, init):
    """Per-init value: KEY_rinit overrides KEY when running rinit."""
    if init == "rinit" and key + "_rinit" in sc:
        return sc[key + "_rinit"]
    return sc.get(key)


# --------------------------------------------------------------------------
# namespace process table

def read_status(pid):
    d = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            d[k] = v.strip()
    return d


def read_cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return f.read().rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")


def ns_processes(nslink):
    """Every process whose pid namespace is nslink: dicts host/ns/ppid/state/cmd."""
    procs = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        try:
            if os.readlink("/proc/%d/ns/pid" % pid) != nslink:
                continue
            st = read_status(pid)
            cmd = read_cmdline(pid)
        except OSError:
            continue
        nspids = st.get("NSpid", "").split()
        procs.append({"host": pid, "ns": int(nspids[-1]) if nspids else None,
                      "ppid": int(st.get("PPid", "0")), "state": st.get("State", "?")[:1],
                      "cmd": cmd, "status": st})
    return procs


# --------------------------------------------------------------------------
# one run of one scenario under one init

class Run:
    def __init__(self, sc, init, binary, run_no, keep=False):
        self.sc = sc
        self.init = init
        self.binary = binary
        self.run_no = run_no
        self.keep = keep
        self.entries = []      # (arrival monotonic, timestamp text, "LEVEL msg")
        self.other = []        # non-log output lines (child output etc.)
        self.cond = threading.Condition()
        self.eof = False
        self.proc = None
        self.pid1 = None       # host pid of the namespace's PID 1
        self.nslink = None
        self.term_index = None
        self.actions = []      # (label, monotonic time, entry index)
        self.errors = []
        self.rundir = None
        self.record = False
        self.event_logs = {}   # events step: file -> its lines

    # ---- process management

    def start(self):
        self.rundir = tempfile.mkdtemp(prefix="difftest-%s-%s-" % (self.sc["name"][:20], self.init))
        os.chmod(self.rundir, 0o777)
        for entry in os.listdir(self.sc["dir"]):
            if entry == "scenario.json":
                continue
            src = os.path.join(self.sc["dir"], entry)
            dst = os.path.join(self.rundir, entry)
            if os.path.isdir(src):
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)
        shutil.copytree(HELPERS, os.path.join(self.rundir, "bin"))
        for setup in self.sc.get("setup", []):
            subprocess.run(["sh", "-c", setup], cwd=self.rundir, check=True)
        conf = os.path.join(self.rundir, "supervisord.conf")
        if self.init == "supervisord":
            argv = [self.binary, "-n", "-c", conf]
        else:
            argv = [self.binary, "-c", conf]
        # setpriv: if this script dies, unshare gets SIGKILL, and through
        # --kill-child the whole namespace goes with it (no leaked processes).
        # (pdeathsig follows the forking thread: the pool's workers live
        # until every run is over.)
        prefix = ["setpriv", "--pdeathsig", "KILL", "prlimit", "--core=0"]
        for k, v in self.sc.get("rlimits", {}).items():
            prefix.append("--%s=%s" % (k, v))
        cmd = prefix + ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"] + argv
        env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8"}
        env.update(self.sc.get("env", {}))
        self.t0 = time.monotonic()
        self.actions.append(("start", self.t0, 0))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=self.rundir, env=env,
                                     start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        # find the namespace's PID 1: the child of unshare (setpriv and prlimit exec)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.pid1 is None:
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        st = read_status(int(d))
                    except OSError:
                        continue
                    if int(st.get("PPid", "0")) == self.proc.pid and st.get("NSpid", "").split()[-1:] == ["1"]:
                        self.pid1 = int(d)
                        try:
                            self.nslink = os.readlink("/proc/%d/ns/pid" % self.pid1)
                        except OSError:
                            self.pid1 = None
                        break
            if self.pid1 is None:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.005)
        if self.pid1 is None and self.proc.poll() is None:
            raise StepFailure("could not find the namespace's PID 1")
        # else: the init already exited (rinit with nothing to run); the
        # steps still check its transcript and exit status

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            t = time.monotonic()
            line = raw.decode("utf-8", "replace").rstrip("\n")
            m = LOG_RE.search(line)
            with self.cond:
                if m:
                    text = "%s %s" % (m.group(2), m.group(3))
                    text = text.replace(self.rundir, "$HERE")
                    self.entries.append((t, m.group(1), text))
                else:
                    self.other.append(line)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def alive(self):
        return self.proc.poll() is None

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)  # --kill-child: PID 1 gets SIGKILL
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self.pid1:
            # belt and braces: nothing of this namespace may survive
            for _ in range(50):
                try:
                    os.kill(self.pid1, signal.SIGKILL)
                except ProcessLookupError:
                    break
                time.sleep(0.02)
        self.reader.join(5)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def remove_rundir(self):
        if self.rundir and not self.keep:
            shutil.rmtree(self.rundir, ignore_errors=True)

    # ---- helpers for steps

    def procs(self):
        if not self.nslink:
            return []
        return ns_processes(self.nslink)

    def host_pid_of(self, nspid):
        for p in self.procs():
            if p["ns"] == nspid:
                return p["host"]
        return None

    def latest_pid(self, prog):
        with self.cond:
            for _, _, text in reversed(self.entries):
                m = SPAWNED_RE.match(text)
                if m and m.group("name") == prog:
                    return int(m.group("pid"))
        raise StepFailure("no 'spawned: %r' line yet" % prog)

    def action(self, label):
        with self.cond:
            self.actions.append((label, time.monotonic(), len(self.entries)))

    def count_matching(self, rx):
        return sum(1 for _, _, text in self.entries if rx.search(text))

    # ---- steps

    def run_steps(self):
        deadline = self.t0 + self.sc.get("timeout", 60)
        for i, step in enumerate(self.sc["steps"]):
            only = step.get("only")
            if only and only != self.init:
                continue
            if time.monotonic() > deadline:
                raise StepFailure("scenario timeout (%ss) before step %d" % (self.sc.get("timeout", 60), i + 1))
            try:
                self.step(step, deadline)
            except StepFailure as e:
                raise StepFailure("step %d %s: %s" % (i + 1, json.dumps(step), e))

    def step(self, st, deadline):
        timeout = min(st.get("timeout", 10), max(0.0, deadline - time.monotonic()))
        end = time.monotonic() + timeout
        if "wait" in st:
            rx = re.compile(st["wait"])
            n = st.get("n", 1)
            with self.cond:
                while self.count_matching(rx) < n:
                    left = end - time.monotonic()
                    if left <= 0 or self.eof:
                        raise StepFailure("saw %d of %d matching lines%s" % (
                            self.count_matching(rx), n, " (output ended)" if self.eof else ""))
                    self.cond.wait(min(left, 0.5))
        elif "sleep" in st:
            time.sleep(st["sleep"])
        elif "kill" in st:
            sig = SIGNALS[st.get("signal", "TERM")]
            nspid = self.latest_pid(st["kill"])
            host = self.host_pid_of(nspid)
            if host is None:
                raise StepFailure("%s's pid %d is not alive" % (st["kill"], nspid))
            self.action("kill %s %s" % (st["kill"], st.get("signal", "TERM")))
            os.kill(host, sig)
        elif "kill_cmd" in st:
            sig = SIGNALS[st.get("signal", "TERM")]
            rx = re.compile(st["kill_cmd"])
            targets = [p for p in self.procs() if p["ns"] != 1 and p["state"] != "Z" and rx.search(p["cmd"])]
            if not targets:
                raise StepFailure("no process matches %r" % st["kill_cmd"])
            self.action("kill %s %s" % (st.get("label", st["kill_cmd"]), st.get("signal", "TERM")))
            for p in targets:
                os.kill(p["host"], sig)
        elif "signal_init" in st:
            if self.pid1 is None or not self.alive():
                raise StepFailure("the init is not running")
            self.action("init %s" % st["signal_init"])
            os.kill(self.pid1, SIGNALS[st["signal_init"]])
        elif "term_if_running" in st:
            # supervisord never exits on its own (reference §5.2), rinit does
            # (rinit.md §3.5): end the run either way.  The resulting
            # "received SIGTERM" line is not part of the transcript.
            with self.cond:
                self.term_index = len(self.entries)
            if self.pid1 is not None and self.alive():
                try:
                    os.kill(self.pid1, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        elif "expect_exit" in st:
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                raise StepFailure("init still running after %.1fs" % timeout)
            if rc != st["expect_exit"]:
                raise StepFailure("init exit status %s, expected %s" % (rc, st["expect_exit"]))
        elif "no_zombies" in st:
            while True:
                z = [p for p in self.procs() if p["state"] == "Z"]
                if not z:
                    break
                if time.monotonic() > end:
                    raise StepFailure("zombies: %s" % ", ".join("%d(%s)" % (p["ns"], p["cmd"] or "?") for p in z))
                time.sleep(0.05)
        elif "procs" in st:
            rx = re.compile(st["procs"])
            want = st["count"]
            while True:
                got = [p for p in self.procs() if p["ns"] != 1 and p["state"] != "Z" and rx.search(p["cmd"])]
                if len(got) == want:
                    break
                if time.monotonic() > end:
                    raise StepFailure("%d processes match %r, expected %d" % (len(got), st["procs"], want))
                time.sleep(0.05)
        elif "proc_status" in st:
            nspid = self.latest_pid(st["proc_status"])
            host = self.host_pid_of(nspid)
            if host is None:
                raise StepFailure("%s's pid %d is not alive" % (st["proc_status"], nspid))
            status = read_status(host)
            for field, want in st["fields"].items():
                got = status.get(field)
                if got != want:
                    raise StepFailure("%s: /proc status %s is %r, expected %r" % (st["proc_status"], field, got, want))
        elif "file" in st:
            path = os.path.join(self.rundir, st["file"])
            while True:
                problem = self.check_file(path, st)
                if problem is None:
                    break
                if time.monotonic() > end:
                    raise StepFailure(problem)
                time.sleep(0.05)
        elif "output" in st:
            # the init's non-log output (children writing to its stdout/stderr)
            rx = re.compile(st["output"])
            want = st.get("present", True)
            with self.cond:
                while True:
                    seen = any(rx.search(l) for l in self.other)
                    if seen == want:
                        break
                    if not want or time.monotonic() > end or self.eof:
                        raise StepFailure("output line /%s/ %s" % (st["output"], "seen" if seen else "not seen"))
                    self.cond.wait(0.1)
        elif "events" in st:
            # a recording listener's transcript (tests/fixtures/events/recorder.py):
            # one line per event, `EVENTNAME PROCESSNAME FROM_STATE EXPECTED`
            path = os.path.join(self.rundir, st["events"])
            want = pick(st, "expected", self.init)
            while True:
                try:
                    with open(path, errors="replace") as f:
                        got = f.read().splitlines()
                except OSError:
                    got = None
                if got is not None and st.get("ignore"):
                    # lines racy under supervisord itself (e.g. events queued
                    # while the listener is being stopped at shutdown)
                    got = [l for l in got if not re.search(st["ignore"], l)]
                self.event_logs[st["events"]] = got
                if self.record:
                    break
                problem = compare_events(got, want, st.get("ordered", False), st.get("order", []))
                if problem is None:
                    break
                if time.monotonic() > end:
                    raise StepFailure("%s: %s" % (st["events"], problem))
                time.sleep(0.05)
        elif "touch" in st:
            self.action("touch %s" % st["touch"])
            with open(os.path.join(self.rundir, st["touch"]), "a"):
                pass
        else:
            raise StepFailure("unknown step")

    def check_file(self, path, st):
        exists = os.path.exists(path)
        if "exists" in st and exists != st["exists"]:
            return "%s %s" % (st["file"], "exists" if exists else "does not exist")
        if "size" in st:
            size = os.path.getsize(path) if exists else None
            if size != st["size"]:
                return "%s has %s bytes, expected %d" % (st["file"], size, st["size"])
        if "lines" in st or "absent" in st:
            if not exists:
                return "%s does not exist" % st["file"]
            with open(path, errors="replace") as f:
                lines = f.read().splitlines()
            missing = [l for l in st.get("lines", []) if l not in lines]
            if missing:
                return "%s lacks lines %r" % (st["file"], missing)
            present = [l for l in st.get("absent", []) if any(x == l or x.startswith(l) for x in lines)]
            if present:
                return "%s has lines %r" % (st["file"], present)
        return None


def compare_events(got, want, ordered, chains=()):
    """None when the event transcript `got` matches `want`; else why not.
    Unless `ordered`, the sequences of each PROCESSNAME column (the second
    field; `-` for the supervisor's own events) are compared separately, as
    the interleaving of different programs is racy; each chain of `chains`
    lists whole lines that must appear in that relative order."""
    if got is None:
        return "no such file"
    for chain in chains:
        pos = 0
        for line in chain:
            if line not in got[pos:]:
                return "order %s: %r not found after line %d in %s" % (chain, line, pos, got)
            pos = got.index(line, pos) + 1
    if ordered:
        return None if got == want else "expected %s, got %s" % (want, got)

    def split(lines):
        d = {}
        for l in lines:
            f = l.split()
            d.setdefault(f[1] if len(f) > 1 else "", []).append(l)
        return d

    g, w = split(got), split(want)
    bad = ["%s: expected %s, got %s" % (k or "?", w.get(k, []), g.get(k, []))
           for k in sorted(set(g) | set(w)) if g.get(k, []) != w.get(k, [])]
    return "; ".join(bad) or None


# --------------------------------------------------------------------------
# normalization and comparison

def normalize(run):
    """Timestamps gone, pids replaced by <prog#n> tokens in order of appearance,
    by-design start-up differences dropped."""
    sc = run.sc
    out = []
    tokens = {}
    counters = {}

    def token(name, pid):
        if pid not in tokens:
            counters[name] = counters.get(name, 0) + 1
            tokens[pid] = "<%s#%d>" % (name, counters[name])
        return tokens[pid]

    for i, (_, _, text) in enumerate(run.entries):
        if not sc.get("keep_startup") and any(rx.search(text) for rx in STARTUP_DROPS):
            continue
        if run.term_index is not None and i >= run.term_index and \
                text == "WARN received SIGTERM indicating exit request":
            continue
        m = SPAWNED_RE.match(text)
        if m:
            # a pid number can be reused: a new spawn always gets a new token
            tokens.pop(m.group("pid"), None)
            text = m.group(1) + token(m.group("name"), m.group("pid"))
        m = KILLING_RE.match(text)
        if m:
            text = m.group(1) + token(m.group("name"), m.group("pid")) + m.group(4)
        m = REAPED_RE.match(text)
        if m:
            text = m.group(1) + "<pid>" + m.group(3)
        out.append(text)
    return out


def stream_of(text, attribute):
    """Which per-program sequence a line belongs to."""
    for rx, stream in attribute:
        if rx.search(text):
            return stream
    for rx in (SPAWNED_NAME_RE, KILL_NAME_RE, NAMED_RE):
        m = rx.match(text)
        if m:
            return m.group("name")
    if text.startswith("INFO reaped unknown pid "):
        return "(reaped)"
    return "(init)"


class Pattern:
    """An expected line: literal text, or {"re": ..., "stream": ...}."""

    def __init__(self, item, attribute):
        if isinstance(item, dict):
            self.rx = re.compile(item["re"])
            self.text = "~/" + item["re"] + "/"
            self.stream = item.get("stream") or stream_of(item["re"], attribute)
        else:
            self.rx = None
            self.text = item
            self.stream = stream_of(item, attribute)

    def matches(self, line):
        return self.rx.fullmatch(line) is not None if self.rx else line == self.text


def compare(run, lines):
    sc = run.sc
    init = run.init
    attribute = [(re.compile(k), v) for k, v in sc.get("attribute", {}).items()]
    expected = [Pattern(x, attribute) for x in pick(sc, "expected", init)]
    problems = []

    exp_streams, act_streams = {}, {}
    for p in expected:
        exp_streams.setdefault(p.stream, []).append(p)
    for l in lines:
        act_streams.setdefault(stream_of(l, attribute), []).append(l)

    for stream in sorted(set(exp_streams) | set(act_streams)):
        exp = exp_streams.get(stream, [])
        act = act_streams.get(stream, [])
        if stream == "(reaped)":
            # reaping order of several orphans is the kernel's: compare as a multiset
            rest = list(act)
            ok = True
            for p in exp:
                hit = next((l for l in rest if p.matches(l)), None)
                if hit is None:
                    ok = False
                    break
                rest.remove(hit)
            if not ok or rest:
                problems.append("stream %s (any order): expected %s, got %s" % (
                    stream, [p.text for p in exp], act))
            continue
        if len(exp) != len(act) or not all(p.matches(l) for p, l in zip(exp, act)):
            problems.append("stream %s: expected %s, got %s" % (stream, [p.text for p in exp], act))

    if pick(sc, "ordered", init):
        core = [l for l in lines if stream_of(l, attribute) != "(reaped)"]
        exp = [p for p in expected if p.stream != "(reaped)"]
        if len(exp) != len(core) or not all(p.matches(l) for p, l in zip(exp, core)):
            problems.append("global order differs (ordered scenario)")

    for chain in pick(sc, "order", init) or []:
        pos = 0
        for want in chain:
            idx = next((i for i in range(pos, len(lines)) if want in lines[i]), None)
            if idx is None:
                problems.append("order %s: %r not found after position %d" % (chain, want, pos))
                break
            pos = idx + 1

    if init == "rinit":
        problems.extend(spawn_gap_problems(run))
    return problems, [p.text for p in expected]


def spawn_gap_problems(run):
    """rinit.md §3.1: two spawns of the same process are never less than 1 s apart."""
    import datetime
    last = {}
    problems = []
    for _, ts, text in run.entries:
        m = SPAWNED_RE.match(text)
        if not m:
            continue
        t = datetime.datetime.strptime(ts, "%Y-%m-%d %H:%M:%S,%f")
        name = m.group("name")
        if name in last:
            gap = (t - last[name]).total_seconds()
            if gap < 0.998:  # both stamps truncated to ms
                problems.append("spawns of %s only %.3fs apart (rinit.md §3.1 guard: >= 1 s)" % (name, gap))
        last[name] = t
    return problems


def reaction_times(run):
    out = []
    for label, t, idx in run.actions:
        hit = None
        for (arr, _, text) in run.entries[idx:]:
            if arr >= t and LIFECYCLE_RE.match(text):
                hit = arr
                break
        out.append((label, None if hit is None else (hit - t) * 1000.0))
    return out


# --------------------------------------------------------------------------

def run_one(sc, init, binary, run_no, keep, record):
    run = Run(sc, init, binary, run_no, keep)
    run.record = record
    t_start = time.monotonic()
    err = None
    try:
        run.start()
        run.run_steps()
    except StepFailure as e:
        err = str(e)
    except Exception as e:  # harness bug: report, never hang
        err = "harness error: %r" % (e,)
    finally:
        if run.proc is not None:
            run.cleanup()
    with run.cond:
        lines = normalize(run)
    problems = [err] if err else []
    expected = []
    if not record:
        p, expected = compare(run, lines)
        problems.extend(p)
    res = {"name": sc["name"], "init": init, "run": run_no, "ok": not problems,
           "problems": problems, "lines": lines, "expected": expected,
           "elapsed": time.monotonic() - t_start, "times": reaction_times(run),
           "other": run.other, "events": run.event_logs, "rundir": run.rundir, "exit": run.proc.returncode if run.proc else None}
    if not (problems and keep):
        run.remove_rundir()
    return res


def report(res, record, verbose):
    tag = "PASS" if res["ok"] else "FAIL"
    print("%s %s [%s] run %d (%.1fs)" % (tag, res["name"], res["init"], res["run"], res["elapsed"]), flush=True)
    if record:
        print("  exit status: %s" % res["exit"])
        print("  transcript: " + json.dumps(res["lines"], indent=4).replace("\n", "\n  "))
        for name, ev in sorted(res["events"].items()):
            print("  events %s: " % name + json.dumps(ev, indent=4).replace("\n", "\n  "))
    if not res["ok"]:
        for p in res["problems"]:
            print("    - " + p)
        print("    expected: " + json.dumps(res["expected"], indent=6).replace("\n", "\n    "))
        print("    actual:   " + json.dumps(res["lines"], indent=6).replace("\n", "\n    "))
        if verbose and res["other"]:
            print("    other output: %r" % res["other"][-20:])
        if res["rundir"] and os.path.isdir(res["rundir"]):
            print("    run dir kept: %s" % res["rundir"])
    sys.stdout.flush()


def reset_signal_state():
    """Give the inits a clean signal state whatever this script inherited: no
    signal blocked, none ignored (e.g. under `cargo test` signal 32 arrives
    ignored, and an ignored signal stays ignored across exec, down to the
    programs' /proc SigIgn).  Raw syscalls: glibc refuses to touch 32 and 33.
    SIGPIPE and SIGXFSZ stay as Python set them here; subprocess restores
    them to the default in the child."""
    import ctypes
    import platform
    if platform.machine() != "x86_64":
        return
    SYS_rt_sigaction, SYS_rt_sigprocmask, SIG_IGN = 13, 14, 1

    class KSigaction(ctypes.Structure):
        _fields_ = [("handler", ctypes.c_void_p), ("flags", ctypes.c_ulong),
                    ("restorer", ctypes.c_void_p), ("mask", ctypes.c_ulong)]

    libc = ctypes.CDLL(None, use_errno=True)
    for sig in range(1, 65):
        if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGPIPE, signal.SIGXFSZ):
            continue
        old = KSigaction()
        if libc.syscall(SYS_rt_sigaction, sig, None, ctypes.byref(old), 8) == 0 and old.handler == SIG_IGN:
            new = KSigaction()
            libc.syscall(SYS_rt_sigaction, sig, ctypes.byref(new), None, 8)
    empty = ctypes.c_ulong(0)
    libc.syscall(SYS_rt_sigprocmask, 2, ctypes.byref(empty), None, 8)  # SIG_SETMASK


def binary_for(init, args):
    if init == "supervisord":
        return shutil.which("supervisord") or "/usr/bin/supervisord"
    return os.path.abspath(args.rinit)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--init", choices=["supervisord", "rinit"])
    ap.add_argument("--rinit", default=os.environ.get("RINIT", DEFAULT_RINIT), help="rinit binary")
    ap.add_argument("--runs", type=int, default=1, help="runs per scenario (all must pass)")
    ap.add_argument("--only", help="comma-separated scenario names or substrings")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("DIFFTEST_JOBS", "2")),
                    help="scenarios run in parallel (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the run directory of failed runs")
    ap.add_argument("--record", action="store_true", help="print normalized transcripts, do not compare")
    ap.add_argument("--times", action="store_true",
                    help="run under both inits and print the reaction-time table")
    ap.add_argument("--list", action="store_true", help="list scenarios")
    ap.add_argument("--pending", action="store_true", default=os.environ.get("DIFFTEST_PENDING") == "1",
                    help="also run the rinit half of scenarios marked pending_rinit")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    reset_signal_state()
    scenarios = load_scenarios(args.only)
    if args.list:
        for sc in scenarios:
            print("%-40s %s" % (sc["name"], sc.get("description", "")))
        return 0
    if args.times:
        inits = ["supervisord", "rinit"]
    elif args.init:
        inits = [args.init]
    else:
        ap.error("--init or --times is required")
    for init in inits:
        b = binary_for(init, args)
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            print("error: %s binary not found: %s" % (init, b), file=sys.stderr)
            print("0 passed, %d failed" % len(scenarios))
            return 1
    if os.geteuid() != 0:
        print("error: must run as root (unshare --pid, user=, rlimits)", file=sys.stderr)
        print("0 passed, %d failed" % len(scenarios))
        return 1

    # A scenario whose rinit half waits for a feature not wired yet carries
    # "pending_rinit": WHY; its rinit runs are skipped (listed, counted in
    # neither total) unless --pending or DIFFTEST_PENDING=1.
    pending = [] if args.pending else [sc["name"] for sc in scenarios if sc.get("pending_rinit")]
    tasks = [(sc, init, r + 1) for r in range(args.runs) for init in inits for sc in scenarios
             if not (init == "rinit" and sc["name"] in pending)]
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futs = [pool.submit(run_one, sc, init, binary_for(init, args), r, args.keep, args.record)
                for sc, init, r in tasks]
        for fut in concurrent.futures.as_completed(futs):
            res = fut.result()
            report(res, args.record, args.verbose)
            results.append(res)

    if args.times:
        print_times(scenarios, results)

    by_sc = {}
    for r in results:
        by_sc.setdefault((r["name"], r["init"]), []).append(r["ok"])
    passed = sum(1 for v in by_sc.values() if all(v))
    failed = len(by_sc) - passed
    if args.runs > 1:
        for (name, init), v in sorted(by_sc.items()):
            if not all(v):
                print("unstable or failing: %s [%s]: %d/%d runs passed" % (name, init, sum(v), len(v)))
    if "rinit" in inits:
        for sc in scenarios:
            if sc["name"] in pending:
                print("PENDING %s [rinit]: %s" % (sc["name"], sc["pending_rinit"]))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


def print_times(scenarios, results):
    table = {}
    for r in results:
        for i, (label, ms) in enumerate(r["times"]):
            table.setdefault((r["name"], i, label), {}).setdefault(r["init"], []).append(ms)

    def med(v):
        v = [x for x in v or [] if x is not None]
        return "%.0f" % statistics.median(v) if v else "-"

    print()
    print("Reaction time: action -> next lifecycle line, median ms")
    print()
    print("| scenario | action | supervisord | rinit |")
    print("|---|---|---:|---:|")
    order = {sc["name"]: n for n, sc in enumerate(scenarios)}
    for (name, i, label) in sorted(table, key=lambda k: (order.get(k[0], 0), k[1])):
        row = table[(name, i, label)]
        print("| %s | %s | %s | %s |" % (name, label, med(row.get("supervisord")), med(row.get("rinit"))))
    # summary: median over every scenario of each kind of action
    kinds = {}
    for (name, i, label), row in table.items():
        kind = "start -> first spawn" if label == "start" else \
            "signal to the init -> reaction" if label.startswith("init ") else \
            "kill a process -> reaction" if label.startswith("kill ") else None
        if kind:
            for init, v in row.items():
                kinds.setdefault(kind, {}).setdefault(init, []).extend(v)
    print("| **all scenarios** | | | |")
    for kind in sorted(kinds):
        print("| *median* | %s | %s | %s |" % (kind, med(kinds[kind].get("supervisord")), med(kinds[kind].get("rinit"))))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
