/* vm.h — one virtual machine's lifecycle: build the PC from a vm_config, run the vCPU loop
 * (timers, console, idle sleep), and turn how the guest ended into a process exit status. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vessel/cpu.h"
#include "machine/pc.h"

#define VM_MEM_MIN        (64ull << 20)
#define VM_MEM_MAX        (64ull << 30)
#define VM_MEM_DEFAULT    (256ull << 20)
#define VM_MAX_CPUS       PC_MAX_CPUS
#define VM_DISPLAY_WIDTH  1024
#define VM_DISPLAY_HEIGHT 768
/* With a display the kernel console is on the framebuffer too; the last console= stays
 * /dev/console, so the serial console keeps init's shell. */
#define VM_CMDLINE_DISPLAY "console=tty0 "
/* reboot=acpi: on hardware-reduced ACPI without EFI, Linux would otherwise pick the EFI reset,
 * find no EFI and fall back to the BIOS path through a real-mode trampoline; the ACPI reset
 * register is the way this board resets. */
#define VM_CMDLINE_DEFAULT "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 reboot=acpi"

/* Process exit statuses (documented in `vessel run --help`). */
enum vm_status {
    VM_STATUS_OK = 0,    /* guest powered off, rebooted (--reboot=exit), or Ctrl-A x */
    VM_STATUS_ERROR = 1, /* host-side failure while running (I/O error, out of memory) */
    VM_STATUS_USAGE = 2, /* bad command line or bad input files */
    VM_STATUS_PANIC = 3, /* the guest kernel panicked */
    VM_STATUS_CRASH = 4, /* triple fault or engine internal error (registers on stderr) */
};

enum vm_reboot { VM_REBOOT_EXIT, VM_REBOOT_RESTART };

#define VM_MAX_DISKS    4
#define VM_MAX_FW_CFG   16
#define VM_BIOS_DEFAULT "/usr/share/seabios/bios-256k.bin" /* Debian's seabios package */

struct vm_config {
    const char *kernel;  /* bzImage path */
    const char *initrd;  /* initramfs path, or NULL */
    const char *cmdline; /* full kernel command line */
    uint64_t mem_size;   /* bytes of guest RAM */
    unsigned cpus;
    const char *console; /* "stdio" or "file:PATH" */
    enum vm_reboot reboot;
    const char *disks[VM_MAX_DISKS]; /* --disk specs (PATH[,format=..][,backing-dir=..]:
                                        disk_spec_parse), virtio-blk devices in order */
    bool disk_ro[VM_MAX_DISKS];
    unsigned ndisks;
    const char *net; /* net back-end spec (backend/net.h) for a virtio-net device, or NULL */
    bool rng;        /* a virtio-rng device (default on) */
    const char *disk_id[VM_MAX_DISKS]; /* virtio-blk serial (GET_ID), or NULL for the default */
    const char *mac;         /* virtio-net MAC "52:54:00:12:34:56", or NULL for that default */
    bool hvc;                /* the console is virtio-console (hvc0) rather than COM1 */
    const char *memory_file; /* --memory-file: guest RAM in a file (directory or new) */
    struct pc_balloon_config balloon; /* --balloon */
    bool share_on;                    /* --share: content-based page sharing */
    struct share_config share;
    const char *balloon_control; /* a file holding the balloon size, read again on SIGUSR2 */
    const char *display;         /* display front end spec, NULL for none (--display) */
    unsigned display_width;      /* --resolution */
    unsigned display_height;
    bool display_bochs;          /* --display-device bochs: the PCI display bochs-drm drives */
    const char *screenshot;      /* PNG of the display written at exit (--screenshot-on-exit) */
    const char *api_sock;        /* control API socket path (src/api/), or NULL */
    const char *restore;         /* state file to restore instead of booting, or NULL */
    const char *restore_mem;     /* its memory file when not the one the state file names */
    uint64_t restore_mem_offset; /* where the memory starts in restore_mem (an appliance) */
    bool net_given;              /* --net was on the command line (a restore keeps it) */
    const char *incoming;        /* receive a live migration at this address, or NULL */
    enum vcpu_engine engine;     /* --engine (DEFAULT: jit where available) */
    size_t jit_cache;            /* --jit-cache bytes, 0 for the default */
    const char *cpu_model;       /* --cpu (NULL: the default model, docs/CPU-MODEL.md) */
    const char *fw_cfg[VM_MAX_FW_CFG]; /* --fw-cfg items for the guest (machine/pc_fwcfg.c) */
    const char *bios;         /* --bios: boot this firmware image instead of a kernel, or NULL */
    const char *firmware_log; /* --firmware-log: the firmware's debug port into this file */
    unsigned nfw_cfg;
};

/* Build (or restore, or wait for the API to configure), run and tear down the machine. Returns an
 * enum vm_status; every exit path restores the terminal. */
int vm_main(const struct vm_config *cfg);
