#!/usr/bin/env bash
# `supervisorctl status` round-trip against rinit and supervisord with N
# programs (docs/control.md, "Measured"). Usage: roundtrip.sh RINIT [N] [RUNS]
set -euo pipefail
RINIT=${1:?path to rinit}; N=${2:-100}; RUNS=${3:-20}
dir=$(mktemp -d); trap 'kill $(cat $dir/*.pid 2>/dev/null) 2>/dev/null; sleep 1; rm -rf $dir' EXIT
conf() { # $1 = tag
  printf '[supervisord]\nnodaemon=true\nlogfile=/dev/null\npidfile=%s/%s.pid\n' "$dir" "$1"
  printf '[unix_http_server]\nfile=%s/%s.sock\n[supervisorctl]\nserverurl=unix://%s/%s.sock\n' "$dir" "$1" "$dir" "$1"
  printf '[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n'
  for i in $(seq 1 "$N"); do printf '[program:p%03d]\ncommand=sleep 100000\nstdout_logfile=NONE\nstderr_logfile=NONE\n' "$i"; done
}
conf rinit > "$dir/rinit.conf"; conf sd > "$dir/sd.conf"
"$RINIT" -c "$dir/rinit.conf" >/dev/null 2>&1 &
supervisord -n -c "$dir/sd.conf" >/dev/null 2>&1 &
for t in rinit sd; do
  for _ in $(seq 100); do [ "$(supervisorctl -c $dir/$t.conf status 2>/dev/null | grep -c RUNNING)" = "$N" ] && break; sleep 0.2; done
done
# Whole command (python start-up included), then the raw request bytes in,
# response bytes out (the server's share).
for t in rinit sd; do
  python3 - "$dir/$t.sock" "$RUNS" "$t" "$dir/$t.conf" <<'PY'
import sys, time, subprocess, http.client, socket, xmlrpc.client
sock, runs, tag, conf = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t0 = time.perf_counter()
for _ in range(runs):
    subprocess.run(["supervisorctl", "-c", conf, "status"], stdout=subprocess.DEVNULL)
cmd = (time.perf_counter() - t0) / runs * 1000
body = b"<?xml version='1.0'?><methodCall><methodName>supervisor.getAllProcessInfo</methodName><params></params></methodCall>"
req = b"POST /RPC2 HTTP/1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body
ts = []
for _ in range(runs * 5):
    s = socket.socket(socket.AF_UNIX); s.connect(sock)
    t0 = time.perf_counter(); s.sendall(req)
    while s.recv(65536):
        pass
    ts.append(time.perf_counter() - t0); s.close()
ts.sort()
rpc = ts[len(ts) // 2] * 1000
print(f"{tag:6s} supervisorctl status: {cmd:7.1f} ms   getAllProcessInfo raw round-trip (median): {rpc:6.2f} ms")
PY
done
