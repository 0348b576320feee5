#!/bin/sh
# LAMP shape, like 'apache2ctl -D FOREGROUND': a shell wrapper that runs the
# real server as a child and waits for it.  $1 = the scenario directory.
"$1/bin/lockserver" "$1/port.lock" &
wait $!
