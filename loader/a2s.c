// SPDX-License-Identifier: GPL-2.0-only
#include "a2s.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static void warn_no_challenge(const struct km_cfg *cfg)
{
	char ab[INET_ADDRSTRLEN];

	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct km_service_spec *s = &cfg->services[i];
		struct in_addr a = {.s_addr = s->addr};

		if (!(s->a2s.flags & KM_A2S_F_NO_CHALLENGE))
			continue;
		km_warn("service %s (udp %s:%u): a2s.challenge is \"off\": "
			"cached A2S answers go to unproven, spoofable sources "
			"(a reflection amplifier); use it for legacy clients "
			"only",
			cfg->service_names[i] ? cfg->service_names[i] : "-",
			inet_ntop(AF_INET, &a, ab, sizeof(ab)), ntohs(s->port));
	}
}

int a2s_apply(const struct km_maps *m, const struct km_cfg *cfg)
{
	enum km_a2s_key_action act;
	struct km_a2s_key k;
	int r;

	r = km_a2s_key_install(m, cfg->a2s_key_loaded ? cfg->a2s_key : NULL,
			       cfg->a2s_epoch_s, &act);
	if (!r)
		r = km_a2s_key_read(m, &k);
	if (r)
		return r;
	switch (act) {
	case KM_A2S_KEY_KEPT:
		km_info("A2S key %u kept (%s), epoch %u of %u s", k.key_id,
			cfg->a2s_key_loaded ? cfg->a2s_key_file
					    : "the pinned map's",
			k.epoch, k.epoch_s);
		break;
	case KM_A2S_KEY_NEW:
		km_info("A2S key %u installed (%s), epoch %u of %u s", k.key_id,
			cfg->a2s_key_loaded ? cfg->a2s_key_file
					    : "random, this edge only",
			k.epoch, k.epoch_s);
		break;
	case KM_A2S_KEY_ROTATED:
		km_info("A2S key rotated to key %u from %s (key %u still "
			"accepted), epoch %u of %u s",
			k.key_id, cfg->a2s_key_file, k.key_id - 1, k.epoch,
			k.epoch_s);
		break;
	}
	explicit_bzero(&k, sizeof(k));
	warn_no_challenge(cfg);
	return 0;
}

int a2s_timer_open(void)
{
	int fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		km_err("timerfd_create: %s; the A2S epoch moves only at "
		       "reloads",
		       strerror(errno));
	return fd;
}

void a2s_timer_arm(int fd, uint32_t epoch_s)
{
	struct itimerspec its = {0};
	struct timespec now;

	if (fd < 0 || !epoch_s)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	its.it_value.tv_sec =
	    (time_t)(km_a2s_epoch_of(now.tv_sec, epoch_s) + 1ull) * epoch_s;
	/* CANCEL_ON_SET: a clock step wakes the loop, which recomputes. */
	if (timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET,
			    &its, NULL))
		km_err("timerfd_settime: %s; the A2S epoch moves only at "
		       "reloads",
		       strerror(errno));
}

void a2s_timer_fire(const struct km_maps *m, int fd, uint32_t epoch_s)
{
	uint64_t ticks;
	bool changed;

	/* ECANCELED: the wall clock was set; EAGAIN: nothing pending. */
	if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN &&
	    errno != ECANCELED)
		km_warn("A2S epoch timer: %s", strerror(errno));
	if (!km_a2s_epoch_advance(m, &changed) && changed)
		km_debug("A2S epoch advanced");
	a2s_timer_arm(fd, epoch_s);
}
