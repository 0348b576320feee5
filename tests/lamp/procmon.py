#!/usr/bin/python3
"""Watch how every process of a PID namespace ends, through the kernel's proc connector.

usage: procmon.py HOST_PID_OF_NS_INIT READY_FILE REPORT_FILE [TIMEOUT_S]

Subscribes to process events (fork/exit, NETLINK_CONNECTOR), then snapshots the namespace's
processes, writes READY_FILE, and records the exit status of each of them and of their
descendants until the namespace's init has exited (or TIMEOUT_S). REPORT_FILE gets one line
per process: "<+seconds> <host pid> <status> <comm>", then "killed-by-SIGKILL: N".
The kernel SIGKILLs whatever is still alive when the init of a PID namespace exits, so a
clean shutdown shows no SIGKILL at all.
"""
import os, socket, struct, sys, time

NETLINK_CONNECTOR, CN_IDX_PROC, CN_VAL_PROC = 11, 1, 1
PROC_CN_MCAST_LISTEN = 1
EV_FORK, EV_EXEC, EV_EXIT = 0x1, 0x2, 0x80000000

init_pid = int(sys.argv[1]); ready, report = sys.argv[2], sys.argv[3]
timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0

s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
s.bind((os.getpid(), CN_IDX_PROC))
cn = struct.pack("=IIIIHH", CN_IDX_PROC, CN_VAL_PROC, 0, 0, 4, 0) + struct.pack("=I", PROC_CN_MCAST_LISTEN)
s.send(struct.pack("=IHHII", 16 + len(cn), 3, 0, 0, os.getpid()) + cn)  # NLMSG_DONE

def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"

ns = os.readlink(f"/proc/{init_pid}/ns/pid")
tracked = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            if os.readlink(f"/proc/{d}/ns/pid") == ns:
                tracked[int(d)] = comm(d)
        except OSError:
            pass
open(ready, "w").write(f"{len(tracked)} processes\n")

t0 = time.monotonic(); lines = []; killed = 0
s.settimeout(0.5)
while time.monotonic() - t0 < timeout:
    try:
        data = s.recv(65536)
    except socket.timeout:
        if not os.path.exists(f"/proc/{init_pid}"):
            break
        continue
    off = 0
    done = False
    while off + 16 <= len(data):
        nl_len = struct.unpack_from("=I", data, off)[0]
        ev = data[off + 16 + 20: off + nl_len]
        off += (nl_len + 3) & ~3
        if len(ev) < 16:
            continue
        what = struct.unpack_from("=I", ev, 0)[0]
        if what == EV_FORK:
            ppid, ptgid, cpid, ctgid = struct.unpack_from("=IIII", ev, 16)
            if ptgid in tracked and cpid == ctgid:
                tracked[cpid] = comm(cpid)
        elif what == EV_EXEC:
            pid, tgid = struct.unpack_from("=II", ev, 16)
            if tgid in tracked:
                tracked[tgid] = comm(tgid)
        elif what == EV_EXIT:
            pid, tgid, code, _sig = struct.unpack_from("=IIII", ev, 16)
            if pid != tgid or pid not in tracked:
                continue
            name = tracked.pop(pid)
            sig = code & 0x7f
            status = f"signal {sig}" if sig else f"exit {code >> 8}"
            if sig == 9:
                killed += 1
            lines.append(f"+{time.monotonic() - t0:.3f} {pid} {status} {name}")
            if pid == init_pid:
                done = True
    if done:
        break
with open(report, "w") as f:
    for l in lines:
        f.write(l + "\n")
    for pid, name in tracked.items():
        f.write(f"? {pid} still-running-or-missed {name}\n")
    f.write(f"killed-by-SIGKILL: {killed}\n")
