#!/bin/sh
# Stand-in for rinit, only to test the benchmark's plumbing before rinit exists:
#   python3 bench/run.py --quick --rinit bench/helpers/fake-rinit.sh --out /tmp/smoke
#   rinit -- CMD ARGS  -> tini-static -- CMD ARGS
#   rinit -c FILE      -> supervisord -n -c FILE (the benchmark's configs are supervisord's)
case "$1" in
  --) shift; exec /usr/bin/tini-static -- "$@" ;;
  -c) exec /usr/bin/supervisord -n -c "$2" ;;
esac
echo "usage: fake-rinit.sh -- CMD... | -c FILE" >&2; exit 2
