#!/bin/sh
# count.sh PROGRAM.S — number of checks a guest program reports (CHECK = 1, FAULT_CHECK = 2).
awk '/^[^#]*[ \t]CHECK[ \t]/ {n++} /^[^#]*FAULT_CHECK[ \t]/ {n += 2} END {print n}' "$1"
