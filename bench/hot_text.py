#!/usr/bin/env python3
"""Write src/hot-text.ld: the linker script that places the code rinit runs
from `exec` to its idle loop, and on to TERM and exit, at the start of the
binary's text (docs/design.md, "Start-up").

The kernel maps a file's pages 64 KiB at a time around each page fault
(fault-around), so code spread over the whole 1 MB text costs a fault per
64 KiB window at start-up and keeps most of the text resident. Grouped, it
fits in a few windows.

    sudo python3 bench/hot_text.py [--rinit PATH]

`--rinit` wants an unstripped build of the current code (function names),
the default is target-prof's:
`CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --target-dir target-prof`.
Needs root (unshare --pid) and valgrind. The functions come from two
callgrind runs as PID 1, each forked child's up to its `exec` included:
config mode on startup_cost.py's 2-program config (both programs promoted
to RUNNING, then TERM), on a config that keeps the defaults, and `rinit --
sleep`. Legacy
symbol hashes are wildcarded, so the script survives rebuilds; a function
renamed since simply goes back to the ordinary text.
"""
import argparse
import glob
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
from startup_cost import two_programs  # noqa: E402

DEFAULT_RINIT = os.path.join(ROOT, "target-prof", "x86_64-unknown-linux-musl", "release", "rinit")
OUT = os.path.join(ROOT, "src", "hot-text.ld")


def profile(argv, wd, name, n_children):
    """callgrind over `argv` as PID 1 until `n_children` sleeps run and
    have been up 1.2 s (startsecs=1 promotions), then TERM and exit."""
    out = os.path.join(wd, name)
    # One profile per process (%p), and the forked children's dumped just
    # before their exec: the code between fork and exec runs in each start.
    cg = ["valgrind", "--tool=callgrind", "--quiet", "--demangle=no",
          "--dump-before=execve", f"--callgrind-out-file={out}.%p"]
    with Instance(cg + argv, wd, os.path.join(wd, name + ".log")).start() as inst:
        def running():
            kids = children(inst.init_pid)
            return len(kids) == n_children and all(
                read(f"/proc/{k}/comm", "").strip() == "sleep" for k in kids)
        if not wait_for(running, 120, 0.01):
            sys.exit(f"{name}: the programs never ran: " + read(inst.log_path, ""))
        time.sleep(1.2)
        inst.signal(signal.SIGTERM)
        if inst.wait_exit(120) is None:
            sys.exit(f"{name}: rinit did not exit after TERM")
    return glob.glob(out + ".*")


def functions(paths):
    names = set()
    for path in paths:
        for line in open(path, errors="replace"):
            m = re.match(r"^c?fn=\(\d+\) (.+)$", line)
            if m:
                names.add(m.group(1).split("'")[0])
    return names


def musl_members():
    """symbol -> archive member of the musl libc.a the binary links."""
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True,
                             text=True).stdout.strip()
    libs = glob.glob(os.path.join(sysroot, "lib/rustlib/x86_64-unknown-linux-musl/lib/"
                                           "self-contained/libc.a"))
    members = {}
    if libs:
        nm = subprocess.run(["nm", "-A", libs[0]], capture_output=True, text=True).stdout
        for line in nm.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "TtWw":
                members.setdefault(f[2], f[0].split(":")[1])
    return members


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rinit", default=DEFAULT_RINIT)
    args = ap.parse_args()
    rinit = os.path.abspath(args.rinit)
    with tempfile.TemporaryDirectory(prefix="rinit-hot-") as wd:
        sleep = shutil.which("sleep") or "/bin/sleep"
        names = functions(profile([rinit, "-c", two_programs(wd)], wd, "config.cg", 2))
        # The defaults instead (log file in the cwd, the temporary
        # directory from the environment), output to rinit's stdout.
        plain = os.path.join(wd, "plain.conf")
        with open(plain, "w") as f:
            f.write(f"[supervisord]\nnodaemon=true\n\n[program:a]\ncommand={sleep} 100000\n"
                    "stdout_logfile=/dev/stdout\nstdout_logfile_maxbytes=0\nredirect_stderr=true\n")
        names |= functions(profile([rinit, "-c", plain], wd, "plain.cg", 1))
        names |= functions(profile([rinit, "--", sleep, "100000"], wd, "single.cg", 1))
    members = musl_members()
    rust, musl = set(), set()
    for n in names:
        if n.startswith(("_ZN", "_R")):
            rust.add(re.sub(r"\.\d+$", "*", re.sub(r"17h[0-9a-f]{16}E$", "17h*E", n)))
        elif n in members:
            musl.add(members[n])
    # valgrind runs its own copies of these, or does their work itself, so
    # the profiles never name them.
    musl |= {"memcpy.lo", "memmove.lo", "memset.lo", "__set_thread_area.lo"}
    with open(OUT, "w") as o:
        o.write("/* Generated by bench/hot_text.py: the code rinit runs from exec to its idle\n"
                "   loop and exit, first in the text (docs/design.md, \"Start-up\"). */\n"
                "SECTIONS\n{\n  .text.rinit_hot :\n  {\n"
                "    *(.text.main)\n    *crt1.o(.text .text.*)\n    *crtbegin*.o(.text .text.*)\n")
        for n in sorted(rust):
            o.write(f"    *(.text.{n})\n")
        for m in sorted(musl):
            o.write(f"    *libc.a:{m}(.text .text.*)\n")
        o.write("  }\n}\nINSERT BEFORE .text;\n")
    print(f"{OUT}: {len(rust)} Rust functions, {len(musl)} musl objects")


if __name__ == "__main__":
    main()
