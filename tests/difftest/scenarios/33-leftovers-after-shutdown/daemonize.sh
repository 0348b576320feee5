#!/bin/sh
# leaves two daemons in sessions of their own; the second ignores SIGTERM
sh -c 'setsid sleep 100003 &'
sh -c 'setsid sh -c "trap \"\" TERM; exec sleep 100004" &'
exec sleep 100000
