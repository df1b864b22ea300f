/* net_frame.h — Ethernet frames over a byte stream, the framing of QEMU's "stream" netdev and of
 * passt: each frame is a 32-bit big-endian length and then that many bytes. Both ends of
 * vessel's stream network (net_stream.c in a VM, net_daemon.c in `vessel netd`) use it, so the
 * VM side also talks to passt and the daemon also serves QEMU.
 *
 * The reader accepts bytes in whatever pieces the socket gives and hands out whole frames; a
 * length of zero or above NET_FRAME_MAX is a broken peer (the caller drops the connection).
 * The writer keeps the unsent tail of one frame when a non-blocking socket is full, because
 * dropping half a frame would desynchronise the stream; while a tail waits, further frames are
 * dropped whole, as a full wire drops them (TCP retransmits). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_FRAME_MAX (65536 + 14) /* the largest frame virtio-net or a tap device hands over */

struct net_frame_reader {
    uint8_t buf[4 + NET_FRAME_MAX];
    size_t have; /* bytes of the current length word and frame received */
};

/* Read what `fd` has (non-blocking) and call `frame` for each complete frame. Returns 1 while the
 * connection is good, 0 at end of stream, -1 on an error or a malformed length. */
int net_frame_read(struct net_frame_reader *r, int fd,
                   void (*frame)(void *opaque, const uint8_t *data, size_t len), void *opaque);
void net_frame_reader_reset(struct net_frame_reader *r);

struct net_frame_writer {
    uint8_t pending[4 + NET_FRAME_MAX];
    size_t off, len; /* pending[off..len) still to be written */
    uint64_t dropped;
};

/* Send one frame (or keep its tail for net_frame_flush). Returns 1 when sent or kept, 0 when
 * dropped because an earlier tail waits, -1 when the connection is broken. */
int net_frame_write(struct net_frame_writer *w, int fd, const uint8_t *data, size_t len);
/* Write a kept tail; 1 when nothing is left, 0 when some is, -1 on a broken connection. */
int net_frame_flush(struct net_frame_writer *w, int fd);
static inline bool net_frame_pending(const struct net_frame_writer *w)
{
    return w->off < w->len;
}
void net_frame_writer_reset(struct net_frame_writer *w);
