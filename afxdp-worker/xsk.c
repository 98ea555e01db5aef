// SPDX-License-Identifier: GPL-2.0-only
#include "xsk.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/if_xdp.h>

#include "log.h"

static uint64_t frame_get(struct kw_xsk *x)
{
	return x->nfree ? x->free_addr[--x->nfree] : UINT64_MAX;
}

static void frame_put(struct kw_xsk *x, uint64_t addr)
{
	if (x->nfree < KW_XSK_FRAMES)
		x->free_addr[x->nfree++] = xsk_umem__extract_addr(addr);
}

/* Keep the fill ring as full as the free frames allow, leaving a quarter
 * of the UMEM for transmission. */
static void refill(struct kw_xsk *x)
{
	uint32_t want, got, idx, i;

	want = xsk_prod_nb_free(&x->fill, KW_XSK_RING);
	if (x->nfree <= KW_XSK_FRAMES / 4)
		return;
	if (want > x->nfree - KW_XSK_FRAMES / 4)
		want = x->nfree - KW_XSK_FRAMES / 4;
	if (!want)
		return;
	got = xsk_ring_prod__reserve(&x->fill, want, &idx);
	for (i = 0; i < got; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) = frame_get(x);
	xsk_ring_prod__submit(&x->fill, got);
}

static int bind_socket(struct kw_xsk *x, const char *ifname, uint32_t queue)
{
	static const struct {
		uint16_t flags;
		const char *mode;
	} tries[] = {
	    {XDP_ZEROCOPY | XDP_USE_NEED_WAKEUP, "zero-copy, need-wakeup"},
	    {XDP_COPY | XDP_USE_NEED_WAKEUP, "copy, need-wakeup"},
	    {XDP_COPY, "copy"},
	};
	struct xsk_socket_config cfg = {
	    .rx_size = KW_XSK_RING,
	    .tx_size = KW_XSK_RING,
	    .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
	};
	unsigned int i;
	int r = -EINVAL;

	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		cfg.bind_flags = tries[i].flags;
		r = xsk_socket__create(&x->xsk, ifname, queue, x->umem, &x->rx,
				       &x->tx, &cfg);
		if (!r) {
			x->zerocopy = tries[i].flags & XDP_ZEROCOPY;
			x->need_wakeup = tries[i].flags & XDP_USE_NEED_WAKEUP;
			km_info("%s queue %u: AF_XDP socket in %s mode", ifname,
				queue, tries[i].mode);
			return 0;
		}
		x->xsk = NULL;
		/* Only "the driver cannot do this mode" moves on to the next
		 * one; anything else (no such queue, busy) is final. */
		if (r != -EOPNOTSUPP && r != -EINVAL && r != -EPROTONOSUPPORT)
			break;
		km_debug("%s queue %u: %s mode refused: %s", ifname, queue,
			 tries[i].mode, strerror(-r));
	}
	return km_log_errno(r, "%s queue %u: cannot bind an AF_XDP socket: %s",
			    ifname, queue, strerror(-r));
}

int kw_xsk_open(struct kw_xsk *x, const char *ifname, uint32_t queue)
{
	struct xsk_umem_config ucfg = {
	    .fill_size = KW_XSK_RING,
	    .comp_size = KW_XSK_RING,
	    .frame_size = KW_XSK_FRAME_SIZE,
	    .frame_headroom = 0,
	};
	size_t size = (size_t)KW_XSK_FRAMES * KW_XSK_FRAME_SIZE;
	uint32_t i;
	int r;

	memset(x, 0, sizeof(*x));
	x->fd = -1;
	x->area = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (x->area == MAP_FAILED) {
		x->area = NULL;
		return km_log_errno(-errno, "UMEM mmap: %s", strerror(errno));
	}
	r = xsk_umem__create(&x->umem, x->area, size, &x->fill, &x->comp,
			     &ucfg);
	if (r) {
		x->umem = NULL;
		km_err("xsk_umem__create: %s", strerror(-r));
		goto fail;
	}
	r = bind_socket(x, ifname, queue);
	if (r)
		goto fail;
	x->fd = xsk_socket__fd(x->xsk);
	for (i = 0; i < KW_XSK_FRAMES; i++)
		x->free_addr[i] = (uint64_t)i * KW_XSK_FRAME_SIZE;
	x->nfree = KW_XSK_FRAMES;
	refill(x);
	return 0;
fail:
	kw_xsk_close(x);
	return r;
}

void kw_xsk_close(struct kw_xsk *x)
{
	if (x->xsk)
		xsk_socket__delete(x->xsk);
	if (x->umem)
		xsk_umem__delete(x->umem);
	if (x->area)
		munmap(x->area, (size_t)KW_XSK_FRAMES * KW_XSK_FRAME_SIZE);
	x->xsk = NULL;
	x->umem = NULL;
	x->area = NULL;
	x->fd = -1;
}

unsigned int kw_xsk_rx(struct kw_xsk *x, unsigned int budget, kw_xsk_rx_fn fn,
		       void *ctx)
{
	uint32_t idx, n, i;

	kw_xsk_complete(x);
	n = xsk_ring_cons__peek(&x->rx, budget, &idx);
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d =
		    xsk_ring_cons__rx_desc(&x->rx, idx + i);
		uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);

		if (d->len <= KW_XSK_FRAME_SIZE)
			fn(ctx, xsk_umem__get_data(x->area, addr), d->len);
		frame_put(x, d->addr);
	}
	if (n)
		xsk_ring_cons__release(&x->rx, n);
	refill(x);
	return n;
}

int kw_xsk_send(struct kw_xsk *x, const uint8_t *frame, size_t len)
{
	uint64_t addr;
	uint32_t idx;

	if (len > KW_XSK_FRAME_SIZE)
		return -EMSGSIZE;
	if (!x->nfree)
		kw_xsk_complete(x);
	if (!x->nfree || xsk_ring_prod__reserve(&x->tx, 1, &idx) != 1)
		return -ENOBUFS;
	addr = frame_get(x);
	memcpy(xsk_umem__get_data(x->area, addr), frame, len);
	xsk_ring_prod__tx_desc(&x->tx, idx)->addr = addr;
	xsk_ring_prod__tx_desc(&x->tx, idx)->len = (uint32_t)len;
	xsk_ring_prod__submit(&x->tx, 1);
	x->tx_outstanding++;
	return 0;
}

void kw_xsk_flush(struct kw_xsk *x)
{
	if (!x->tx_outstanding)
		return;
	if (!x->need_wakeup || xsk_ring_prod__needs_wakeup(&x->tx)) {
		if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 &&
		    errno != EAGAIN && errno != EBUSY && errno != ENOBUFS &&
		    errno != ENETDOWN)
			km_debug("AF_XDP TX kick: %s", strerror(errno));
	}
	kw_xsk_complete(x);
}

void kw_xsk_complete(struct kw_xsk *x)
{
	uint32_t idx, n, i;

	n = xsk_ring_cons__peek(&x->comp, KW_XSK_RING, &idx);
	for (i = 0; i < n; i++)
		frame_put(x, *xsk_ring_cons__comp_addr(&x->comp, idx + i));
	if (n) {
		xsk_ring_cons__release(&x->comp, n);
		x->tx_outstanding -=
		    n < x->tx_outstanding ? n : x->tx_outstanding;
	}
}
