/* test_net_frame.c — the length-prefixed frame stream of backend/net_frame.h over a real
 * socketpair: frames arriving a byte at a time and several in one read come out whole and in
 * order; a zero or oversized length is a broken peer; a writer facing a full socket keeps the
 * unsent tail of its frame, drops later frames whole, and the reader still sees a clean stream;
 * a closed peer reads as end of stream and a write to it as broken. */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend/net_frame.h"
#include "check.h"

static struct net_frame_reader rd;
static struct net_frame_writer wr;
static uint8_t seen[64][2048];
static size_t seen_len[64];
static unsigned nseen;

static void on_frame(void *opaque, const uint8_t *data, size_t len)
{
    (void)opaque;
    if (nseen < 64 && len <= sizeof(seen[0])) {
        memcpy(seen[nseen], data, len);
        seen_len[nseen] = len;
    }
    nseen++;
}

static void pair(int sv[2])
{
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    net_frame_reader_reset(&rd);
    net_frame_writer_reset(&wr);
    nseen = 0;
}

static void test_pieces(void)
{
    int sv[2];
    pair(sv);
    /* two frames, the first sent a byte at a time with reads in between */
    const uint8_t bytes[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 2, 'x', 'y'};
    for (size_t k = 0; k < 7; k++) {
        CHECK_EQ(write(sv[1], bytes + k, 1), 1);
        CHECK_EQ(net_frame_read(&rd, sv[0], on_frame, NULL), 1);
        CHECK_EQ(nseen, k == 6 ? 1u : 0u);
    }
    CHECK_EQ(write(sv[1], bytes + 7, 6), 6);
    CHECK_EQ(net_frame_read(&rd, sv[0], on_frame, NULL), 1);
    CHECK_EQ(nseen, 2);
    CHECK(seen_len[0] == 3 && !memcmp(seen[0], "abc", 3));
    CHECK(seen_len[1] == 2 && !memcmp(seen[1], "xy", 2));
    close(sv[1]);
    CHECK_EQ(net_frame_read(&rd, sv[0], on_frame, NULL), 0);
    close(sv[0]);
}

static void test_bad_lengths(void)
{
    int sv[2];
    pair(sv);
    const uint8_t zero[] = {0, 0, 0, 0};
    CHECK_EQ(write(sv[1], zero, 4), 4);
    CHECK_EQ(net_frame_read(&rd, sv[0], on_frame, NULL), -1);
    close(sv[0]);
    close(sv[1]);
    pair(sv);
    uint32_t big = NET_FRAME_MAX + 1;
    const uint8_t huge[] = {(uint8_t)(big >> 24), (uint8_t)(big >> 16), (uint8_t)(big >> 8),
                            (uint8_t)big};
    CHECK_EQ(write(sv[1], huge, 4), 4);
    CHECK_EQ(net_frame_read(&rd, sv[0], on_frame, NULL), -1);
    CHECK_EQ(nseen, 0);
    /* the writer refuses what the reader would */
    static uint8_t frame[NET_FRAME_MAX + 1];
    CHECK_EQ(net_frame_write(&wr, sv[1], frame, sizeof(frame)), 0);
    CHECK_EQ(net_frame_write(&wr, sv[1], frame, 0), 0);
    close(sv[0]);
    close(sv[1]);
}

static void test_full_socket(void)
{
    int sv[2];
    pair(sv);
    int small = 4096;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    static uint8_t frame[1500];
    unsigned sent = 0, dropped = 0;
    for (unsigned k = 0; k < 200; k++) {
        memset(frame, (int)k, sizeof(frame));
        int rc = net_frame_write(&wr, sv[1], frame, sizeof(frame));
        CHECK(rc >= 0);
        if (rc == 1)
            sent++;
        else
            dropped++;
    }
    CHECK(dropped > 0);
    CHECK(net_frame_pending(&wr));
    CHECK_EQ(wr.dropped, dropped);
    /* drain: every frame that was sent or kept arrives whole, in order, none torn */
    unsigned spins = 0;
    while ((net_frame_pending(&wr) || nseen < sent) && spins++ < 100000) {
        CHECK(net_frame_read(&rd, sv[0], on_frame, NULL) == 1);
        CHECK(net_frame_flush(&wr, sv[1]) >= 0);
    }
    CHECK(!net_frame_pending(&wr));
    CHECK_EQ(nseen, sent);
    unsigned ordered = 1;
    for (unsigned k = 0; k < nseen && k < 64; k++) {
        CHECK_EQ(seen_len[k], sizeof(frame));
        for (size_t b = 1; b < sizeof(frame); b++)
            if (seen[k][b] != seen[k][0]) ordered = 0;
        if (k && seen[k][0] <= seen[k - 1][0]) ordered = 0;
    }
    CHECK(ordered);
    close(sv[0]);
    CHECK_EQ(net_frame_write(&wr, sv[1], frame, sizeof(frame)), -1);
    close(sv[1]);
}

int main(void)
{
    RUN(test_pieces);
    RUN(test_bad_lengths);
    RUN(test_full_socket);
    return check_done();
}
