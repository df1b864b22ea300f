/* rtc.h — the MC146818 real-time clock and CMOS RAM at ports 0x70/0x71: time from the host's
 * wall clock (plus whatever offset the guest sets), BCD or binary, 24 or 12 hour, the UIP bit,
 * registers A-D, and update-ended / periodic / alarm interrupts on an irq_line (ISA IRQ 8). The
 * NMI-mask bit of port 0x70 is ignored. The other CMOS bytes are RAM; the board may fill some
 * (memory size, century) with rtc_cmos_set. */
#pragma once
#include <stdint.h>

#include "vessel/irq.h"

struct bus;
struct state_writer;
struct state_reader;

#define RTC_BASE        0x70
#define RTC_IRQ         8
#define RTC_CMOS_SIZE   128
#define RTC_REG_CENTURY 0x32

struct rtc;

/* now: host monotonic ns, wall: host realtime ns since the epoch (NULL: clock_ns and
 * clock_wall_ns); tests pass fake clocks. NULL on failure. */
struct rtc *rtc_create(struct bus *bus, struct irq_line irq, uint64_t (*now)(void),
                       uint64_t (*wall)(void));
void rtc_destroy(struct rtc *r);
/* CMOS RAM bytes (index < 128) for the board; time registers are not affected. */
void rtc_cmos_set(struct rtc *r, unsigned index, uint8_t value);
uint8_t rtc_cmos_get(struct rtc *r, unsigned index);
/* Host monotonic ns of the next interrupt-relevant event (UINT64_MAX if none); run due ones. */
uint64_t rtc_next_deadline(struct rtc *r);
void rtc_update(struct rtc *r, uint64_t now_ns);

/* Section "rtc". */
void rtc_save(struct rtc *r, struct state_writer *w);
int rtc_load(struct rtc *r, struct state_reader *rd);
