/* event.h — exception and interrupt delivery (event.c), used by the run loop in exec.c. */
#pragma once
#include <stdbool.h>

#include "cpu/core.h"

/* Deliver c->pending_exc (raised by cpu_fault*, cpu_soft_int) through the IDT, escalating to
 * #DF and to a triple fault as the SDM's table says. Returns false on a triple fault (the VM
 * is dead: c->exit is VCPU_EXIT_SHUTDOWN and c->exit_why says why). Uses c->fault_jmp. */
bool event_fault(struct cpu *c);
/* Deliver external interrupt `vector` (already acknowledged). Faults during delivery unwind to
 * c->fault_jmp like any other. */
void event_interrupt(struct cpu *c, unsigned vector);
/* Short name of an exception vector ("#PF"), for diagnostics. */
const char *event_name(unsigned vector);
