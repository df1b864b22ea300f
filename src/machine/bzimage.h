/* bzimage.h — the x86 Linux bzImage: setup header parsing and validation (boot protocol,
 * Documentation/arch/x86/boot.rst) and host-side decompression of the payload (the vmlinux ELF)
 * so the board can load the kernel straight into 64-bit mode without running the real-mode setup
 * code or the in-guest decompressor.
 *
 * Every size and offset in the file is checked against the file; errors come back as a message
 * for the operator. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Offsets in the image / in boot_params of the setup header fields we use. */
#define BZ_HDR_START        0x1f1 /* struct setup_header begins here */
#define BZ_SETUP_SECTS      0x1f1
#define BZ_BOOT_FLAG        0x1fe
#define BZ_JUMP             0x200 /* 0x201: header end - 0x202 */
#define BZ_HEADER           0x202 /* "HdrS" */
#define BZ_VERSION          0x206
#define BZ_TYPE_OF_LOADER   0x210
#define BZ_LOADFLAGS        0x211
#define BZ_RAMDISK_IMAGE    0x218
#define BZ_RAMDISK_SIZE     0x21c
#define BZ_HEAP_END_PTR     0x224
#define BZ_CMD_LINE_PTR     0x228
#define BZ_INITRD_ADDR_MAX  0x22c
#define BZ_KERNEL_ALIGNMENT 0x230
#define BZ_RELOCATABLE      0x234
#define BZ_XLOADFLAGS       0x236
#define BZ_CMDLINE_SIZE     0x238
#define BZ_PAYLOAD_OFFSET   0x248
#define BZ_PAYLOAD_LENGTH   0x24c
#define BZ_PREF_ADDRESS     0x258
#define BZ_INIT_SIZE        0x260
#define BZ_HDR_MAX_END      0x280 /* the setup header never extends past this in boot_params */

#define BZ_HDRS_MAGIC    0x53726448u /* "HdrS" */
#define BZ_BOOT_FLAG_VAL 0xAA55
#define BZ_MIN_VERSION   0x020C /* 2.12: payload fields and xloadflags */
#define BZ_XLF_KERNEL_64 0x0001
#define BZ_LOADED_HIGH   0x01
#define BZ_CAN_USE_HEAP  0x80

/* Cap on the decompressed kernel: nothing real comes close; a hostile size field can't make us
 * allocate gigabytes. */
#define BZ_MAX_VMLINUX (512u << 20)

struct bzimage_info {
    uint16_t version;
    uint8_t loadflags;
    uint16_t xloadflags;
    uint32_t initrd_addr_max;
    uint32_t kernel_alignment;
    uint32_t cmdline_size;
    uint64_t pref_address;
    uint32_t init_size;
    const uint8_t *payload; /* points into the image passed to bzimage_parse */
    size_t payload_len;
    const uint8_t *hdr; /* the setup header bytes, image[0x1f1 .. 0x1f1+hdr_len) */
    size_t hdr_len;
};

/* True if the image has the bzImage boot sector and "HdrS" magic (cheap format sniffing). */
int bzimage_is_bzimage(const uint8_t *img, size_t len);
/* Validate the setup header and locate the payload. 0, or -1 with a message in err. */
int bzimage_parse(const uint8_t *img, size_t len, struct bzimage_info *out, char *err,
                  size_t errlen);
/* Decompress a kernel payload (LZ4 legacy, gzip, xz, lzma, zstd, bzip2 when built in; chosen by
 * magic) into a malloc'd buffer. The payload's trailing 4-byte size is used only as an upper
 * bound. 0, or -1 with a message. */
int bzimage_decompress(const uint8_t *payload, size_t len, uint8_t **out, size_t *out_len,
                       char *err, size_t errlen);
