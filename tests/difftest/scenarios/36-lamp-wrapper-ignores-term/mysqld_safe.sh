#!/bin/sh
# LAMP shape, like mysqld_safe: start the database as a child, then ignore SIGTERM
# and wait for it.  $1 = the scenario directory.
"$1/bin/fakedb" "$1/db.clean" &
trap '' TERM
wait
