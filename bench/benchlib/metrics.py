"""One function per metric.  Each runs ONE trial of one init and returns a dict
of named samples (numbers, lists of numbers, or None for "did not happen in
time").  Parameters are in P (run.py shrinks them for --quick).

All times are CLOCK_MONOTONIC: the harness uses time.monotonic_ns(), the
workload programs (helpers/benchhelper.c) write clock_gettime(CLOCK_MONOTONIC)
stamps; PID namespaces share that clock.
"""
import os
import re
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass

from .inits import Program
from .nsrun import (Instance, children, ctxt_switches, kib, now_ns, proc_state,
                    pss_kib, read, status, wait_for)


class P:
    settle_s = 2.0          # idle: settle after the workload is up
    idle_window_s = 10.0    # idle: context-switch window
    restart_hold_s = 1.2    # restart: the program has been up this long when killed
    restart_kills = 20
    orphans = 2000          # orphan burst size
    orphan_life_us = 10000  # each orphan sleeps 10 ms, then exits
    orphan_timeout_s = 60
    zombie_sample_s = 0.05  # zombie count sampled this often
    term_timeout_s = 15
    stubborn_timeout_s = 6  # the goal is 2 s; single-child inits never exit
    scale_procs = 1000
    scale_timeout_s = 120
    scale_kills = 5
    callgrind_timeout_s = 180
    flood_s = 10.0          # output throughput: the program writes this long


class Failure(Exception):
    pass


class Skip(Exception):
    """Not applicable to this init (not an error)."""


@dataclass
class Ctx:
    helper: str
    sleep: str
    tmp: str

    def workdir(self, init):
        return tempfile.mkdtemp(prefix=re.sub(r"\W", "_", init.name) + "-", dir=self.tmp)

    def launch(self, argv, wd):
        backdate(wd)
        return Instance(argv, wd, os.path.join(wd, "init.log")).start()


def backdate(wd, age_s=3600):
    """Config files get an old mtime, as they would have in a container image."""
    t = time.time() - age_s
    for root, dirs, files in os.walk(wd):
        for name in dirs + files:
            os.utime(os.path.join(root, name), (t, t))
    os.utime(wd, (t, t))


def stamps(path):
    """[(tag, t_ns, nspid), ...] from a benchhelper stamp file."""
    try:
        with open(path) as f:
            rows = [ln.split() for ln in f.read().splitlines()]
    except FileNotFoundError:
        return []
    return [(r[0], int(r[1]), int(r[2])) for r in rows if len(r) == 3]


def alive_wait(inst, cond, timeout, interval=0.002):
    """wait_for(cond), but fail at once if the init has exited (a config
    error, a crash): the init's log tail is the error message."""
    def check():
        v = cond()
        if v or inst.alive():
            return v
        raise Failure("the init exited: " + log_tail(inst.log_path))
    return wait_for(check, timeout, interval)


def log_tail(path, n=3):
    try:
        with open(path, errors="replace") as f:
            lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
    except OSError:
        return "(no log)"
    return " | ".join(lines[-n:]) or "(empty log)"


def first(inst, path, tag, timeout, interval=0.002):
    return alive_wait(inst, lambda: next((s for s in stamps(path) if s[0] == tag), None),
                      timeout, interval)


def ms(ns):
    return None if ns is None else ns / 1e6


# -- workloads ------------------------------------------------------------------

def w_idle(ctx, wd):
    return [Program(f"sleep{i}", [ctx.sleep, "100000"]) for i in (1, 2)]


def w_restart(ctx, wd):
    return [Program("victim", [ctx.helper, "stamp", os.path.join(wd, "starts"), "start",
                               ctx.sleep, "100000"])]


def w_orphans(ctx, wd):
    return [Program("orphans", [ctx.helper, "orphans", os.path.join(wd, "orphans"),
                                str(P.orphans), str(P.orphan_life_us)])]


def w_term(ctx, wd, mode):
    return [Program("child", [ctx.helper, mode, os.path.join(wd, "term")])]


def w_startup(ctx, wd):
    return [Program("first", [ctx.helper, "stamp", os.path.join(wd, "startup"), "child",
                              ctx.sleep, "100000"])]


def w_scale(ctx, wd):
    return [Program("p", [ctx.helper, "hold", os.path.join(wd, "starts"), "start"],
                    numprocs=P.scale_procs)]


def startup_argv(ctx, init, wd, programs):
    """PID 1 starts as `benchhelper stamp F exec INIT...`: it stamps, then
    execs the init (still PID 1)."""
    return [ctx.helper, "stamp", os.path.join(wd, "startup"), "exec",
            *init.command(programs, wd)]


def idle_sample(inst, workload_comm):
    """RSS/PSS now, then context switches over the idle window."""
    time.sleep(P.settle_s)
    tree = inst.members()
    st = status(inst.init_pid)
    sample = {
        "rss_init_kib": kib(st.get("VmRSS")),
        "pss_init_kib": pss_kib(inst.init_pid),
        "rss_overhead_kib": sum(p.rss_kib for p in tree if p.comm != workload_comm),
        "procs_tree": len(tree),
    }
    c0 = ctxt_switches(inst.init_pid)
    t0 = time.monotonic()
    time.sleep(P.idle_window_s)
    c1 = ctxt_switches(inst.init_pid)
    sample["ctxsw_init"] = (c1 - c0) * 10.0 / (time.monotonic() - t0)
    return sample


# -- 1 + 2: idle memory and wakeups ------------------------------------------

def idle(ctx, init):
    wd = ctx.workdir(init)
    with ctx.launch(init.command(w_idle(ctx, wd), wd), wd) as inst:
        if not alive_wait(inst, lambda: sum(p.comm == "sleep" for p in inst.members()) >= 2,
                          20, 0.05):
            raise Failure("the two sleep programs did not start")
        return idle_sample(inst, "sleep")


# -- 3: restart latency ------------------------------------------------------

def kill_and_time(inst, f, hold_s, kills, timeout, pick=lambda seen: seen[-1]):
    """SIGKILL a supervised program `kills` times, each time once it has been up
    hold_s; latency = its next start stamp - kill time.  Stops at the first kill
    not followed by a restart within timeout (recorded as None)."""
    lat = []
    for _ in range(kills):
        seen = stamps(f)
        _, t_start, nspid = pick(seen)
        time.sleep(max(0.0, (t_start - now_ns()) / 1e9 + hold_s))
        pid = inst.host_pid(nspid)
        if pid is None:
            raise Failure(f"program pid {nspid} not found in the namespace")
        t_kill = now_ns()
        os.kill(pid, signal.SIGKILL)
        new = alive_wait(inst, lambda: stamps(f)[len(seen):], timeout, 0.0005)
        if not new:
            lat.append(None)
            break
        lat.append(ms(new[0][1] - t_kill))
    return lat


def restart(ctx, init):
    wd = ctx.workdir(init)
    f = os.path.join(wd, "starts")
    with ctx.launch(init.command(w_restart(ctx, wd), wd), wd) as inst:
        if not first(inst, f, "start", 20):
            raise Failure("program never started")
        return {"restart_ms": kill_and_time(inst, f, P.restart_hold_s, P.restart_kills, 8.0)}


# -- 4: orphan reaping -------------------------------------------------------

def orphans(ctx, init):
    """The program double-forks N short-lived orphans; they are reparented to
    PID 1.  Clock stops when the init has no child left besides its pre-burst
    children (every orphan exited AND was reaped)."""
    wd = ctx.workdir(init)
    f = os.path.join(wd, "orphans")
    with ctx.launch(init.command(w_orphans(ctx, wd), wd), wd) as inst:
        ready = first(inst, f, "ready", 20)
        if not ready:
            raise Failure("orphan generator did not start")
        time.sleep(1.0)
        gen = inst.host_pid(ready[2])
        pid1 = inst.init_pid
        base = children(pid1)
        os.kill(gen, signal.SIGUSR1)
        peak_z = peak_children = 0
        t_sample = 0
        t_clean = None
        burst_end = None
        deadline = now_ns() + int(P.orphan_timeout_s * 1e9)
        while now_ns() < deadline:
            extra = children(pid1) - base
            t = now_ns()
            peak_children = max(peak_children, len(extra))
            if burst_end is None:
                burst_end = next((s for s in stamps(f) if s[0] == "burst_end"), None)
            elif not extra:
                t_clean = t
                break
            if t - t_sample >= P.zombie_sample_s * 1e9:
                peak_z = max(peak_z, sum(proc_state(p) == "Z" for p in extra))
                t_sample = now_ns()
            time.sleep(0.001)
        st = {s[0]: s[1] for s in stamps(f)}
        if peak_children == 0:
            raise Failure("no orphan was ever a child of the init")
        return {
            "orphan_clear_after_end_ms": ms(t_clean - st["burst_end"]) if t_clean else None,
            "orphan_peak_zombies": peak_z,
            "orphan_burst_ms": ms(st["burst_end"] - st["burst_start"]) if "burst_end" in st
            else None,
        }


# -- 5 + 6: SIGTERM handling -------------------------------------------------

def _term(ctx, init, mode, timeout):
    wd = ctx.workdir(init)
    f = os.path.join(wd, "term")
    with ctx.launch(init.command(w_term(ctx, wd, mode), wd), wd) as inst:
        if not first(inst, f, "start", 20):
            raise Failure("child did not start")
        time.sleep(1.5)  # > startsecs=1: supervisors have it RUNNING
        t0 = now_ns()
        inst.signal(signal.SIGTERM)
        t_exit = inst.wait_exit(timeout)
        term = next((s for s in stamps(f) if s[0] == "term"), None)
        return ms(term[1] - t0) if term else None, ms(t_exit - t0) if t_exit else None


def sigterm(ctx, init):
    child, exit_ = _term(ctx, init, "trapterm", P.term_timeout_s)
    return {"term_child_ms": child, "term_exit_ms": exit_}


def stubborn(ctx, init):
    _, exit_ = _term(ctx, init, "ignterm", P.stubborn_timeout_s)
    return {"stubborn_exit_ms": exit_}


# -- 7: start-up ---------------------------------------------------------------

def startup(ctx, init):
    """exec stamp of PID 1 -> stamp of the first program."""
    wd = ctx.workdir(init)
    f = os.path.join(wd, "startup")
    with ctx.launch(startup_argv(ctx, init, wd, w_startup(ctx, wd)), wd) as inst:
        child = first(inst, f, "child", 20, 0.001)
        if not child:
            raise Failure("first program never started")
        t_exec = next(s[1] for s in stamps(f) if s[0] == "exec")
        return {"startup_ms": ms(child[1] - t_exec)}


# -- 7b: instructions (callgrind) ----------------------------------------------

def instructions(ctx, init):
    """The start-up workload under `valgrind --tool=callgrind`, as PID 1:
    exec -> first program running; then kill -TERM and wait for the exit (an
    init that idles forever never writes its profile otherwise).  Ir = the
    init's own user-space instructions (the loader and libc included; its
    children are not traced)."""
    valgrind = shutil.which("valgrind")
    if not valgrind:
        raise Failure("valgrind not installed")
    with open(init.binary, "rb") as fh:  # a stand-in for rinit (supervisord's Python counts)
        if init.name.startswith("rinit") and fh.read(2) == b"#!":
            raise Skip("a script: callgrind would count its interpreter")
    wd = ctx.workdir(init)
    f = os.path.join(wd, "startup")
    out = os.path.join(wd, "callgrind.out")
    argv = [valgrind, "--tool=callgrind", "--quiet", f"--callgrind-out-file={out}",
            *init.command(w_startup(ctx, wd), wd)]
    with ctx.launch(argv, wd) as inst:
        if not first(inst, f, "child", P.callgrind_timeout_s, 0.01):
            raise Failure("first program never started under callgrind")
        time.sleep(0.2)
        inst.signal(signal.SIGTERM)
        if inst.wait_exit(P.callgrind_timeout_s) is None:
            raise Failure("init did not exit after TERM under callgrind")
    try:
        txt = open(out).read()
    except OSError:
        raise Failure("callgrind wrote no profile")
    m = re.search(r"^(?:summary|totals):\s*(\d+)", txt, re.M)
    if not m:
        raise Failure("no totals in the callgrind profile")
    return {"startup_ir": int(m.group(1))}


# -- 9: scale: numprocs=N ------------------------------------------------------

def scale(ctx, init):
    """One [program:p] with numprocs=N (`benchhelper hold F start`): exec of the
    init -> all N started; then RSS and idle wakeups; then the restart latency
    of one of them (the one that started in the middle) while all run."""
    n = P.scale_procs
    wd = ctx.workdir(init)
    f = os.path.join(wd, "starts")
    argv = startup_argv(ctx, init, wd, w_scale(ctx, wd))
    with ctx.launch(argv, wd) as inst:
        done = alive_wait(inst, lambda: (lambda s: s if len(s) >= n else None)(stamps(f)),
                          P.scale_timeout_s, 0.002)
        if not done:
            raise Failure(f"only {len(stamps(f))} of {n} programs started in "
                          f"{P.scale_timeout_s} s")
        t_exec = first(inst, os.path.join(wd, "startup"), "exec", 1)[1]
        sample = {"scale_startup_ms": ms(max(s[1] for s in done[:n]) - t_exec)}
        idle = idle_sample(inst, "benchhelper")
        sample.update({"scale_rss_kib": idle["rss_init_kib"],
                       "scale_pss_kib": idle["pss_init_kib"],
                       "scale_ctxsw": idle["ctxsw_init"]})
        lat = []
        for _ in range(P.scale_kills):
            seen = stamps(f)
            # first the program that started in the middle, then its successor
            target = seen[-1] if len(seen) > n else seen[n // 2]
            lat += kill_and_time(inst, f, P.restart_hold_s, 1, 8.0, lambda s, t=target: t)
            if lat[-1] is None:
                break
        sample["scale_restart_ms"] = lat
        return sample


# -- 10: output throughput -------------------------------------------------------

def _cpu_ticks(pid):
    """utime + stime of pid (clock ticks)."""
    s = read(f"/proc/{pid}/stat") or ""
    f = s[s.rindex(")") + 2:].split() if ")" in s else []
    return int(f[11]) + int(f[12]) if len(f) > 12 else 0


def _io(pid):
    """(rchar, wchar): bytes pid moved through read/write system calls."""
    out = {}
    for line in (read(f"/proc/{pid}/io") or "").splitlines():
        k, _, v = line.partition(":")
        out[k] = int(v)
    return out.get("rchar", 0), out.get("wchar", 0)


def _flood(ctx, init, tag, extra, sink):
    """One program writes 100-byte lines as fast as it can for P.flood_s
    (helpers/benchhelper.c `flood`); the init's stdout goes to `sink`.
    Returns MB/s written (= reaching the sink: the pipe between holds only
    64 KiB), the init's CPU % and peak RSS, and the bytes it copied."""
    wd = ctx.workdir(init)
    f = os.path.join(wd, "flood")
    prog = Program("flood", [ctx.helper, "flood", f, str(P.flood_s)], extra=extra.format(wd=wd))
    argv = init.command([prog], wd)
    backdate(wd)
    with Instance(argv, wd, sink).start() as inst:
        start = first(inst, f, "start", 20, 0.001)
        if not start:
            raise Failure("flood program did not start")
        pid1 = inst.init_pid
        c0, (r0, w0) = _cpu_ticks(pid1), _io(pid1)
        done = alive_wait(inst, lambda: next((s for s in stamps(f) if s[0] == "done"), None),
                          P.flood_s + 20, 0.01)
        if not done:
            raise Failure("flood program did not finish")
        time.sleep(0.5)  # what is in flight reaches the sink
        c1, (r1, w1) = _cpu_ticks(pid1), _io(pid1)
        secs = (done[1] - start[1]) / 1e9
        nbytes = int(read(f + ".bytes", "0").strip() or 0)
        hz = os.sysconf("SC_CLK_TCK")
        return {
            f"flood_{tag}_mbps": nbytes / secs / 1e6,
            f"flood_{tag}_cpu_pct": (c1 - c0) / hz / secs * 100,
            f"flood_{tag}_rss_kib": kib(status(pid1).get("VmHWM")),
            f"flood_{tag}_copied_mb": (r1 - r0) / 1e6,
        }


def throughput(ctx, init):
    """(a) to a rotating log file (50MB x 2 backups); (b) to the init's
    stdout, prefixed with the program's name under rinit (output_prefix);
    supervisord, which has no prefix, copies it raw (stdout_logfile=
    /dev/stdout, maxbytes=0); (c) AUTO pass-through under rinit (supervisord:
    its AUTO file in childlogdir)."""
    rot = ("stdout_logfile={wd}/flood.log\nstdout_logfile_maxbytes=50MB\n"
           "stdout_logfile_backups=2\n")
    if init.is_rinit or init.name.startswith("rinit"):
        pre = "output_prefix=true\n"
    else:
        pre = "stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\n"
    out = {}
    out.update(_flood(ctx, init, "file", rot, os.devnull))
    out.update(_flood(ctx, init, "stdout", pre, os.devnull))
    out.update(_flood(ctx, init, "auto", "", os.devnull))
    return out
