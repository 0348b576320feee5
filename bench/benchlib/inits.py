"""The inits under test.  Each turns a *workload* (a list of Program) into the
argv run as PID 1, writing whatever config file it needs into the workdir:

    init.command(programs, workdir) -> argv

Single-child inits get exactly one child: the program itself, or for several
programs one `sh -c 'p1 & p2 & wait'` child.  Supervisors (rinit in config
mode, supervisord) get the same supervisord.conf: one `[supervisord]` section
and one `[program:x]` section per program, restarted on exit, 2 s stop timeout.
"""
import os
import shlex
from dataclasses import dataclass, field


@dataclass
class Program:
    name: str
    argv: list
    startsecs: int = 1       # supervisord-style
    stop_timeout_s: int = 2  # stopwaitsecs
    numprocs: int = 1        # > 1: one section with numprocs=N (scale workload)
    extra: str = ""          # more `key=value` lines for its section (output metrics)


@dataclass
class Init:
    name: str
    kind: str                 # "single" (one child) or "supervisor" (config file, restarts)
    binary: str               # the file exec'd as PID 1, sized for metric 8
    build: object             # build(programs, workdir) -> argv
    packages: list = field(default_factory=list)   # Debian packages, for the version
    extra_binaries: list = field(default_factory=list)  # also sized (supervisord: python3)
    notes: str = ""
    is_rinit: bool = False
    skip: str = ""            # non-empty: why it is not run

    @property
    def supervises(self):
        return self.kind == "supervisor"

    def command(self, programs, workdir):
        return self.build(programs, workdir)


# -- single-child inits -------------------------------------------------------

def one_child(programs):
    if len(programs) == 1 and programs[0].numprocs == 1:
        return list(programs[0].argv)
    cmds = [p.argv for p in programs for _ in range(p.numprocs)]
    return ["/bin/sh", "-c", " ".join(shlex.join(a) + " &" for a in cmds) + " wait"]


def single(binary, *flags):
    return lambda programs, workdir: [binary, *flags, "--", *one_child(programs)]


# -- supervisord.conf, shared by rinit -c and supervisord ---------------------

def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def program_sections(programs):
    out = []
    for p in programs:
        sec = (f"[program:{p.name}]\n"
               f"command={shlex.join(p.argv)}\n")
        if p.numprocs > 1:
            sec += (f"numprocs={p.numprocs}\n"
                    "process_name=%(program_name)s_%(process_num)d\n")
        sec += ("autostart=true\n"
                "autorestart=true\n"
                f"startsecs={p.startsecs}\n"
                "startretries=3\n"
                "stopsignal=TERM\n"
                f"stopwaitsecs={p.stop_timeout_s}\n")
        sec += p.extra
        out.append(sec)
    return "\n".join(out)


def supervisord_conf(programs, workdir):
    """One file for both supervisors.  The program output is the default
    (AUTO): supervisord writes it to files in childlogdir, rinit to its own
    stdout (spec §6).  minfds: supervisord keeps 3 pipe ends per process."""
    n = sum(p.numprocs for p in programs)
    conf = os.path.join(workdir, "supervisord.conf")
    write(conf,
          "[supervisord]\n"
          "nodaemon=true\n"
          "logfile=/dev/null\n"
          f"pidfile={workdir}/init.pid\n"
          f"childlogdir={workdir}\n"
          + (f"minfds={max(1024, 8 * n + 64)}\n" if n > 100 else "")
          + "\n" + program_sections(programs))
    return conf


def supervisord(programs, workdir):
    return ["/usr/bin/supervisord", "-n", "-c", supervisord_conf(programs, workdir)]


def rinit_config(path):
    return lambda programs, workdir: [path, "-c", supervisord_conf(programs, workdir)]


# -- the table ----------------------------------------------------------------

def all_inits(rinit, rinit_min=None):
    """rinit (config mode) first: it is the column every ratio is taken against."""
    skip = "" if rinit and os.access(rinit, os.X_OK) else \
        f"no rinit binary ({rinit or 'none given'}); build it or pass --rinit PATH"
    skip_min = "" if rinit_min and os.access(rinit_min, os.X_OK) else \
        "no minimal build; make one with bench/build-min.sh or pass --rinit-min PATH"
    return [
        Init("rinit", "supervisor", rinit, rinit_config(rinit), is_rinit=True, skip=skip,
             notes="config mode: `rinit -c supervisord.conf`; every ratio is rinit/peer"),
        Init("rinit --", "single", rinit, single(rinit), skip=skip,
             notes="single-program mode: `rinit -- CMD ARGS` (shown, no ratio, no goal)"),
        Init("rinit min", "supervisor", rinit_min or "", rinit_config(rinit_min), skip=skip_min,
             notes="config mode, the same code built by `bench/build-min.sh` (std rebuilt with "
                   "panic=immediate-abort, non-PIE; shown, no ratio, no goal)"),
        Init("tini", "single", "/usr/bin/tini-static", single("/usr/bin/tini-static"),
             packages=["tini"], notes="Debian's static build (tini-static)"),
        Init("dumb-init", "single", "/usr/bin/dumb-init", single("/usr/bin/dumb-init"),
             packages=["dumb-init"], notes="Debian ships only a dynamic build"),
        Init("catatonit", "single", "/usr/bin/catatonit", single("/usr/bin/catatonit"),
             packages=["catatonit"]),
        Init("supervisord", "supervisor", "/usr/bin/supervisord", supervisord,
             packages=["supervisor"], extra_binaries=[os.path.realpath("/usr/bin/python3")],
             notes="a Python script; its interpreter is sized too"),
    ]
