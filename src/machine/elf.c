/* elf.c — loads a 64-bit x86 vmlinux (elf.h). Two passes: every header is validated against the
 * file and guest RAM first, so a bad image leaves RAM untouched; then segments are copied and
 * their bss zeroed. Linux links p_paddr and e_entry as physical addresses, which is all the
 * 64-bit boot protocol needs: no relocation when the kernel runs where it was linked. */
#include "machine/elf.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>

#include "vessel/bus.h"

#define ELF_MAX_PHDRS 64

int elf_is_elf(const uint8_t *img, size_t len)
{
    return len >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

int elf_load(struct bus *bus, const uint8_t *img, size_t len, uint64_t min_addr,
             struct elf_load_info *out, char *err, size_t errlen)
{
    Elf64_Ehdr eh;
    memset(out, 0, sizeof(*out));
    if (len < sizeof(eh) || !elf_is_elf(img, len)) {
        snprintf(err, errlen, "kernel: not an ELF file");
        return -1;
    }
    memcpy(&eh, img, sizeof(eh));
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_machine != EM_X86_64 || (eh.e_type != ET_EXEC && eh.e_type != ET_DYN)) {
        snprintf(err, errlen, "kernel: not a 64-bit x86-64 executable ELF");
        return -1;
    }
    if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS ||
        eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff) {
        snprintf(err, errlen, "kernel: ELF program headers are missing or truncated");
        return -1;
    }

    Elf64_Phdr ph[ELF_MAX_PHDRS];
    memcpy(ph, img + eh.e_phoff, eh.e_phnum * sizeof(Elf64_Phdr));
    uint64_t lo = UINT64_MAX, hi = 0;
    bool entry_ok = false;
    unsigned nload = 0;
    for (unsigned k = 0; k < eh.e_phnum; k++) {
        const Elf64_Phdr *p = &ph[k];
        if (p->p_type != PT_LOAD || p->p_memsz == 0) continue;
        if (p->p_filesz > p->p_memsz || p->p_offset > len || p->p_filesz > len - p->p_offset) {
            snprintf(err, errlen, "kernel: ELF segment %u lies outside the file", k);
            return -1;
        }
        /* Low RAM only: the entry page tables identity-map the first 4 GiB. */
        if (p->p_paddr < min_addr || p->p_paddr + p->p_memsz < p->p_paddr ||
            p->p_paddr + p->p_memsz > bus->low_ram_end ||
            !bus_ram_ptr(bus, p->p_paddr, p->p_memsz)) {
            snprintf(err, errlen,
                     "kernel: ELF segment %u at %#llx+%#llx is not in guest RAM above %#llx "
                     "(too little memory?)",
                     k, (unsigned long long)p->p_paddr, (unsigned long long)p->p_memsz,
                     (unsigned long long)min_addr);
            return -1;
        }
        for (unsigned j = 0; j < k; j++)
            if (ph[j].p_type == PT_LOAD && ph[j].p_memsz &&
                p->p_paddr < ph[j].p_paddr + ph[j].p_memsz &&
                ph[j].p_paddr < p->p_paddr + p->p_memsz) {
                snprintf(err, errlen, "kernel: ELF segments %u and %u overlap", j, k);
                return -1;
            }
        if (eh.e_entry >= p->p_paddr && eh.e_entry - p->p_paddr < p->p_filesz) entry_ok = true;
        lo = p->p_paddr < lo ? p->p_paddr : lo;
        hi = p->p_paddr + p->p_memsz > hi ? p->p_paddr + p->p_memsz : hi;
        nload++;
    }
    if (nload == 0) {
        snprintf(err, errlen, "kernel: ELF has no loadable segments");
        return -1;
    }
    if (!entry_ok) {
        snprintf(err, errlen, "kernel: ELF entry point %#llx is not inside a loaded segment",
                 (unsigned long long)eh.e_entry);
        return -1;
    }

    for (unsigned k = 0; k < eh.e_phnum; k++) {
        const Elf64_Phdr *p = &ph[k];
        if (p->p_type != PT_LOAD || p->p_memsz == 0) continue;
        uint8_t *dst = bus_ram_ptr(bus, p->p_paddr, p->p_memsz);
        memcpy(dst, img + p->p_offset, p->p_filesz);
        memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
        bus_note_write(bus, p->p_paddr, p->p_memsz);
    }
    out->entry = eh.e_entry;
    out->lo = lo;
    out->hi = hi;
    out->nsegments = nload;
    return 0;
}
