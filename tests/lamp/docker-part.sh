# Part 2 of run.sh (sourced; uses its helpers): the LAMP example through Dockerfile.lamp.
# Builds the image FROM a debootstrapped base (tests/lamp/docker.sh, no registry), runs it, and
# checks docker top, a docker exec kill of apache2 and of mysqld, and docker stop.
say "docker part: building the image (base: debootstrap + docker import, cached by tag)"
t=$(now)
DIMG=${LAMP_DOCKER_IMAGE:-rinit-lamp:test}   # LAMP_DOCKER_IMAGE: use that image, already built
if [ -n "${LAMP_DOCKER_IMAGE:-}" ]; then
    say "using the existing image $DIMG"
elif ! bash "$here/docker.sh" build "$rinit" "$DIMG"; then
    bad "docker build -f Dockerfile.lamp"
    return 0
fi
ok "docker build -f Dockerfile.lamp ($(since "$t") s, base image and layer cache included)"

CID=$(docker run -d "$DIMG")
IP=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$CID")
say "container ${CID:0:12} at $IP"
dpages_ok() {
    curl -sS -m 2 -f "http://$IP/" 2>/dev/null | grep -q 'static page ok' &&
        curl -sS -m 2 -f "http://$IP/db.php" 2>/dev/null | grep -q '^db ok'
}
dlogs() { docker logs "$CID" 2>&1; }
dlines() { dlogs | wc -l; }
t=$(now) up=0
for _ in $(seq 300); do dpages_ok && { up=1; break; }; sleep 0.1; done
if [ $up = 0 ]; then
    bad "docker: the static page and the PHP->MariaDB page answer"
    dlogs | tail -n 30
    return 0
fi
ok "docker: the static page and the PHP->MariaDB page answer ($(since "$t") s after docker run)"

echo "---- docker top ----"
top=$(docker top "$CID" -eo pid,ppid,cmd); echo "$top"
if echo "$top" | grep -q '/sbin/init' && echo "$top" | grep -q 'apache2' && echo "$top" | grep -qE 'mariadbd|mysqld'; then
    ok "docker top lists rinit (/sbin/init), apache2 and mysqld"
else
    bad "docker top lists rinit (/sbin/init), apache2 and mysqld"
fi
echo "---- docker exec ps ----"
docker exec "$CID" ps -eo pid,ppid,pgid,stat,cmd --forest

# dkill LABEL PROGRAM PATTERN: docker exec kill of the process that ps shows
dkill() {
    local label=$1 prog=$2 pat=$3 exit_ere=$4 pid n t out got
    pid=$(docker exec "$CID" pgrep -o -x "$pat")
    n=$(dlines)
    say "docker exec kill $pid ($label)"
    t=$(now)
    docker exec "$CID" kill "$pid"
    await_recovery "docker exec kill $label" "$t" "$pid" dpages_ok docker exec "$CID"
    for _ in $(seq 60); do dlogs | tail -n +$((n + 1)) | grep -q "success: $prog entered RUNNING" && break; sleep 0.1; done
    out=$(dlogs | tail -n +$((n + 1)))
    got=$(echo "$out" | grep -oE "exited: $prog \(($exit_ere)\)" | head -n1)
    if [ -n "$got" ] && echo "$out" | grep -qE "spawned: '$prog' with pid [0-9]+" &&
        echo "$out" | grep -qE "success: $prog entered RUNNING state, process has stayed up for > than 1 seconds \(startsecs\)"; then
        ok "docker exec kill $label: '$got' / spawned / success in docker logs"
    else
        bad "docker exec kill $label: exited ($exit_ere) / spawned / success in docker logs"
        echo "---- docker logs since the kill ----"; echo "$out" | tail -n 30
    fi
    if echo "$out" | grep -qE 'Address already in use|FATAL|gave up|already running|already exists'; then
        bad "docker exec kill $label: no 'Address already in use', no FATAL"
    else
        ok "docker exec kill $label: no 'Address already in use', no FATAL"
    fi
}
# (apache2: see the note on restart_check in run.sh for why both exit lines are accepted)
dkill apache2 apache2 apache2 'exit status 0; expected|terminated by SIGTERM; not expected'
dkill mysqld mysql 'mariadbd|mysqld' 'exit status 0; expected'

curl -sS -m 2 "http://$IP/db.php"     # an InnoDB write just before the stop
n=$(dlines)
t=$(now)
docker stop "$CID" >/dev/null
dt=$(since "$t")
code=$(docker inspect -f '{{.State.ExitCode}}' "$CID")
echo "---- docker logs during docker stop ----"; dlogs | tail -n +$((n + 1))
if awk -v d="$dt" 'BEGIN { exit !(d < 10.0) }'; then ok "docker stop finishes in under 10 s (${dt} s)"
else bad "docker stop finishes in under 10 s (${dt} s)"; fi
check "docker stop: exit code 0 (got $code)" [ "$code" = 0 ]
if docker cp "$CID:/var/log/mysql/error.log" - 2>/dev/null | tar -xO | tail -n 20 | grep -q 'Shutdown complete'; then
    ok "docker stop: MariaDB logs a clean shutdown"
else
    bad "docker stop: MariaDB logs a clean shutdown"
fi
dlogs > "$W/docker-logs.txt"
docker rm -f "$CID" >/dev/null; CID=
