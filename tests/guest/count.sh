#!/bin/sh
# count.sh PROGRAM.S — number of checks a guest program reports: each CHECK line is one,
# FAULT_CHECK two, TRACE_AT (debug.S) two, and FEATURE (cpuidx.S) one. Macro definitions (.macro lines and the
# bodies in lib.inc) are not counted because only the program's own lines are read.
awk '/^[ \t]*\.macro/ {inmacro = 1} /^[ \t]*\.endm/ {inmacro = 0; next} inmacro {next}
     /^[^#]*[ \t]CHECK[ \t]/ {n++} /^[^#]*FAULT_CHECK[ \t]/ {n += 2} /^[ \t]*TRACE_AT[ \t]/ {n += 2} /^[ \t]*FEATURE[ \t]/ {n++}
     END {print n + 0}' "$1"
