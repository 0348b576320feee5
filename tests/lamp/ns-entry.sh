#!/bin/bash
# PID 1 of the test's namespaces (unshare --pid --mount --net, see run.sh) until it execs the init.
# Makes the host's LAMP packages run as in a fresh container without touching the host:
# a private /run, private copies of /etc/apache2 and /etc/mysql, an empty datadir
# and log dirs from the work dir, the example's www/ as the document root. Then it runs
# examples/lamp/setup.sh as the image build does, and execs the init command.
#   ns-entry.sh WORKDIR REPO INIT_CMD...
set -euo pipefail
W=$1 REPO=$2; shift 2

mkdir -p /var/log/apache2 /var/log/mysql /var/www/html  # mount points (normally there)
ip link set lo up                                   # loopback only: nothing leaves the namespace
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run  # empty /run, like a fresh container
# /tmp stays the host's: the checkout (and so the init binary, its config and
# www/) may live under /tmp, and an empty tmpfs there would hide them
# (regression: a clean clone in /tmp failed with "special device … does not exist").
mount --bind "$W/etc/apache2"  /etc/apache2         # setup.sh edits these copies
mount --bind "$W/etc/mysql"    /etc/mysql
mount --bind "$W/mysql-data"   /var/lib/mysql       # empty: setup.sh runs mysql_install_db
mount --bind "$W/log/apache2"  /var/log/apache2
mount --bind "$W/log/mysql"    /var/log/mysql
mount --bind "$REPO/examples/lamp/www" /var/www/html
mount -o remount,bind,ro /var/www/html

sh "$REPO/examples/lamp/setup.sh" > "$W/setup.log" 2>&1 || { cat "$W/setup.log" >&2; exit 1; }
cd "$W"
echo "ns-entry: exec $*"
exec "$@"
