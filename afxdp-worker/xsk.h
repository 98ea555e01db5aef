/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One AF_XDP socket on one RX queue (libxdp xsk API), bound without
 * loading a program (the loader's XDP program redirects through the
 * pinned km_xsks). Zero-copy first, copy mode when the driver refuses;
 * need-wakeup when the kernel offers it. One UMEM of KW_XSK_FRAMES frames:
 * half on the fill ring, the rest for transmission, recycled through a
 * free stack (frames from RX and from the completion ring go back there).
 */
#ifndef KW_XSK_H
#define KW_XSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xdp/xsk.h>

#define KW_XSK_FRAMES 4096
#define KW_XSK_FRAME_SIZE 2048
#define KW_XSK_RING 2048

struct kw_xsk {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	void *area;
	uint64_t free_addr[KW_XSK_FRAMES];
	uint32_t nfree;
	uint32_t tx_outstanding; /* submitted, not completed */
	bool zerocopy;
	bool need_wakeup;
	int fd;
};

int kw_xsk_open(struct kw_xsk *x, const char *ifname, uint32_t queue);
void kw_xsk_close(struct kw_xsk *x); /* accepts a zeroed struct */

typedef void (*kw_xsk_rx_fn)(void *ctx, const uint8_t *frame, size_t len);
/* Handle up to `budget` received frames, return their buffers to the fill
 * ring. Returns the number handled. */
unsigned int kw_xsk_rx(struct kw_xsk *x, unsigned int budget, kw_xsk_rx_fn fn,
		       void *ctx);
/* Queue one frame for transmission (copied into a UMEM frame): 0, or
 * -ENOBUFS when no frame or no TX slot is free. kw_xsk_flush() kicks. */
int kw_xsk_send(struct kw_xsk *x, const uint8_t *frame, size_t len);
void kw_xsk_flush(struct kw_xsk *x);
/* Reclaim completed TX frames. */
void kw_xsk_complete(struct kw_xsk *x);

#endif
