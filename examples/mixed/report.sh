#!/bin/sh
# Writes report.md from the evaluate stage's metrics and the shell stage's counts.
set -eu
accuracy=$(tr ',' '\n' < metrics.json | grep '"accuracy"' | head -n 1 | tr -dc '0-9.')
{
  echo "# Flowers"
  echo
  echo "Test accuracy: $accuracy"
  echo
  echo "Training rows per species:"
  sed 's/^/- /' class_counts.txt
} > report.md
