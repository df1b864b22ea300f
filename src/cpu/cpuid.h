/* cpuid.h — the CPU model vessel presents: CPUID leaves built from what the engine really
 * implements (feature bits probed through the decoder and exec_lookup), plus the fixed platform
 * facts the MMU and the rest of the engine must agree with. Owned by the system family. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Address widths reported by CPUID 0x80000008; the MMU's reserved-bit checks use the same. */
#define CPUID_PHYS_ADDR_BITS   40
#define CPUID_LINEAR_ADDR_BITS 48

struct cpu;

struct cpuid_regs {
    uint32_t eax, ebx, ecx, edx;
};

/* Which register of which leaf a probed (model-dependent) feature lives in: leaf 1 ECX, leaf 7
 * EBX/ECX/EDX, 0x80000001 ECX, leaf 0xD sub-leaf 1 EAX. */
enum { P_1ECX, P_7EBX, P_7ECX, P_7EDX, P_X1ECX, P_D1EAX, P_NREGS };

/* ---- CPU models (docs/CPU-MODEL.md): one per process ----
 * Select a model by name (NULL or "" for the default, x86-64-v2) before creating vCPUs. Returns 0,
 * or -1 with a message in err when the name is unknown or this host CPU lacks an extension the
 * model offers. */
int cpuid_model_select(const char *name, char *err, size_t errlen);
const char *cpuid_model_name(void);
/* The host-backed extensions (HOST_* of ops/host.h) the model offers: the instruction tables
 * hand out those families' forms only for these (a subset of host_ext()). */
unsigned cpuid_model_ext(void);
/* The feature words the current model's probes give (leaf/register as P_*). */
void cpuid_probe_words(uint32_t out[P_NREGS]);

/* What a snapshot records of the model ("cpu" section, version 4). */
struct cpuid_model_rec {
    char name[16];
    uint32_t ext;
    uint32_t words[P_NREGS];
};
void cpuid_model_record(struct cpuid_model_rec *r);
/* NULL if this host and engine can provide the recorded model, else why not (in buf). */
const char *cpuid_model_check(const struct cpuid_model_rec *r, char *buf, size_t len);
/* Make the recorded model (checked) the process's model. */
void cpuid_model_adopt(const struct cpuid_model_rec *r);

/* CPUID for `leaf`/`subleaf` as vCPU `c` sees it. */
void cpuid_query(const struct cpu *c, uint32_t leaf, uint32_t subleaf, struct cpuid_regs *out);
/* The XCR0 bits (user state components) this model supports: x87 and SSE, and AVX when
 * CPUID advertises it. XSETBV accepts nothing else; leaf 0xD describes exactly these. */
uint64_t cpuid_xcr0_supported(void);
