/* bochs_display.h — the PCI display Linux's bochs-drm driver (drivers/gpu/drm/tiny/bochs.c)
 * drives: QEMU's "bochs-display" (vendor 0x1234, device 0x1111, class 0x0380, revision 2, no
 * VGA). BAR0 is the video memory (prefetchable, 32-bit): pixels in guest RAM the board set aside,
 * which the bus shows at BAR0's address as ordinary RAM (bus_set_ram_alias), so the CPU engine
 * stores to it at full speed and the bus's dirty bits see every write. BAR2 is one MMIO page:
 *   0x000-0x0ff  EDID (read only): one monitor whose preferred mode is the configured size
 *   0x400-0x41f  the VGA ports of std-vga: absent here (reads 0, writes ignored)
 *   0x500-0x515  the VBE DISPI registers, 16 bits each at 0x500 + (index << 1)
 *   0x600-0x607  QEMU's extended registers: size of the block (8), framebuffer byte order
 * The scanout is what the DISPI registers say: xres x yres at bpp 32 (XRGB8888), each row
 * virt_width pixels apart, starting at (y_offset * virt_width + x_offset) * 4 in video memory.
 * Other depths are accepted and remembered but not shown (bochs-drm only uses 32).
 *
 * Every guest-supplied value is bounded: register writes outside their ranges are dropped, and
 * a mode is shown only when it lies wholly inside video memory. Call
 * everything from the thread that runs the vCPU (MMIO and config accesses come from there). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus;
struct pci_host;
struct state_writer;
struct state_reader;

#define BOCHS_VENDOR_ID 0x1234
#define BOCHS_DEVICE_ID 0x1111
#define BOCHS_CLASS     0x038000 /* display controller, other (not VGA compatible) */
#define BOCHS_REVISION  2        /* bochs-drm reads the extended registers from revision 2 */

#define BOCHS_MMIO_SIZE 0x1000
#define BOCHS_EDID      0x000
#define BOCHS_EDID_SIZE 0x100
#define BOCHS_VGA       0x400
#define BOCHS_DISPI     0x500
#define BOCHS_QEXT      0x600
#define BOCHS_QEXT_SIZE 8
#define BOCHS_BYTE_LE   0x1e1e1e1e
#define BOCHS_BYTE_BE   0xbebebebe
#define BOCHS_VRAM_MIN  (16u << 20) /* QEMU's default; bochs-drm wants at least 4 MiB */
#define BOCHS_VRAM_MAX  (256u << 20)

/* VBE DISPI register indices and values (as in bochs.c and QEMU's vga_int.h). */
enum {
    BOCHS_DISPI_ID,
    BOCHS_DISPI_XRES,
    BOCHS_DISPI_YRES,
    BOCHS_DISPI_BPP,
    BOCHS_DISPI_ENABLE,
    BOCHS_DISPI_BANK,
    BOCHS_DISPI_VIRT_WIDTH,
    BOCHS_DISPI_VIRT_HEIGHT,
    BOCHS_DISPI_X_OFFSET,
    BOCHS_DISPI_Y_OFFSET,
    BOCHS_DISPI_VIDEO_MEMORY_64K,
    BOCHS_DISPI_NREGS
};
#define BOCHS_DISPI_ID5         0xB0C5
#define BOCHS_DISPI_ENABLED     0x01
#define BOCHS_DISPI_GETCAPS     0x02
#define BOCHS_DISPI_8BIT_DAC    0x20
#define BOCHS_DISPI_LFB_ENABLED 0x40
#define BOCHS_DISPI_NOCLEARMEM  0x80
#define BOCHS_DISPI_MAX_XRES    16000
#define BOCHS_DISPI_MAX_YRES    12000
#define BOCHS_DISPI_MAX_BPP     32
#define BOCHS_MIN_SIDE          64 /* smaller modes are not shown (as QEMU) */

/* Translations of guest addresses must go when the framebuffer BAR moves (the board flushes
 * the vCPU's TLB). */
typedef void (*bochs_flush_fn)(void *opaque);

struct bochs_display_config {
    uint64_t vram_gpa;      /* the video memory: RAM at this guest-physical address (page
                             * aligned, reserved from the guest's own use by the board) */
    uint64_t vram_size;     /* power of two, BOCHS_VRAM_MIN..BOCHS_VRAM_MAX */
    unsigned width, height; /* the monitor's preferred mode (EDID) and the firmware's mode */
    bochs_flush_fn flush;
    void *opaque;
};

/* Video memory bytes for a preferred mode of width x height: the smallest power of two at
 * least BOCHS_VRAM_MIN holding two frames (the console plus a client's buffer). 0 if the mode
 * does not fit in BOCHS_VRAM_MAX. */
uint64_t bochs_display_vram_for(unsigned width, unsigned height);

/* The device on the host bridge (first free slot). NULL if the video memory is not RAM or the
 * configuration is out of range. */
struct bochs_display *bochs_display_create(struct pci_host *host, struct bus *bus,
                                           const struct bochs_display_config *cfg);
void bochs_display_destroy(struct bochs_display *d);

/* What firmware does before the OS: place BAR0 at fb_gpa and BAR2 at mmio_gpa, enable memory
 * decoding, and set the preferred mode (32 bpp, scanout at offset 0), so a kernel without the
 * driver can use the framebuffer as an EFI one (screen_info) until bochs-drm takes it. */
void bochs_display_firmware_init(struct bochs_display *d, uint64_t fb_gpa, uint64_t mmio_gpa);

/* The picture the registers describe. */
struct bochs_scanout {
    uint64_t offset;        /* bytes into video memory */
    unsigned width, height; /* pixels */
    unsigned stride;        /* bytes per row */
};
/* true and *s when the display is on, at 32 bpp, and the mode lies inside video memory. */
bool bochs_display_scanout(const struct bochs_display *d, struct bochs_scanout *s);
uint64_t bochs_display_vram_gpa(const struct bochs_display *d);
/* A counter bumped by every register write that may change the scanout (enable, mode,
 * offsets): the board rereads the scanout only when it moved. */
uint64_t bochs_display_generation(const struct bochs_display *d);

/* BAR2 accesses, as the bus delivers them (exported for the unit test). */
uint64_t bochs_display_mmio_read(void *opaque, uint64_t offset, unsigned size);
void bochs_display_mmio_write(void *opaque, uint64_t offset, uint64_t value, unsigned size);

/* Section "bochs-display" (docs/STATE-FORMAT.md): PCI config space, the DISPI registers, the
 * byte order. The pixels are guest RAM, saved with it. */
void bochs_display_save(struct bochs_display *d, struct state_writer *w);
int bochs_display_load(struct bochs_display *d, struct state_reader *r);
