#!/bin/sh
# Writes summary.json: how many short and long reviews there are.
set -eu
printf '{"short": %d, "long": %d}\n' "$(wc -l < short.txt)" "$(wc -l < long.txt)" > summary.json
