// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: what kilimanjaro-controller parses from outside, other
 * than protocol frames (fuzz_frame, fuzz_envelope): HTTP API bodies and
 * path parts (controller/api.c) and its configuration file
 * (controller/ctl_config.c). The first input byte picks the parser.
 * Checks beyond "no crash, no leak":
 *  - an accepted service names proto udp or tcp, a port 1..65535, unicast
 *    service and backend addresses, A2S only on UDP with max_age >=
 *    refresh and timeout >= 2 x refresh, and packs and unpacks as itself;
 *  - an accepted prefix has no host bits; a refusal always says why;
 *  - an accepted configuration has someone who can log in and plain TCP
 *    only on loopback.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "ctl_config.h"
#include "log.h"

#define FZ_NAME "fuzz_ctl_api"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	km_log_init("fuzz_ctl_api", LOG_EMERG);
	return 0;
}

static bool unicast(uint32_t a)
{
	return (a >> 24) != 0 && (a >> 24) != 127 && (a >> 28) < 14;
}

static void fuzz_service(const char *s, size_t n)
{
	char why[API_WHY_LEN] = "";
	struct api_service svc;
	Kilimanjaro__V1__Service *back;
	uint8_t buf[4096];
	size_t len;

	if (api_service_parse(s, n, &svc, why, sizeof(why))) {
		CHECK(why[0], "a refused service without a reason");
		return;
	}
	CHECK(svc.key.proto == 17 || svc.key.proto == 6, "proto %d",
	      svc.key.proto);
	CHECK(svc.key.port >= 1 && svc.key.port <= 65535, "port %u",
	      svc.key.port);
	CHECK(unicast(svc.key.addr) && unicast(svc.svc.backend),
	      "non-unicast address accepted");
	CHECK(!svc.svc.has_backend_port ||
		  (svc.svc.backend_port >= 1 && svc.svc.backend_port <= 65535),
	      "backend_port %u", svc.svc.backend_port);
	if (svc.svc.a2s) {
		CHECK(svc.key.proto == 17, "A2S on TCP accepted");
		CHECK(svc.svc.a2s->max_age_ms >= svc.svc.a2s->refresh_ms &&
			  svc.svc.a2s->timeout_ms >=
			      2 * svc.svc.a2s->refresh_ms,
		      "A2S times inconsistent");
	}
	len = kilimanjaro__v1__service__get_packed_size(&svc.svc);
	CHECK(len <= sizeof(buf), "service of %zu bytes", len);
	kilimanjaro__v1__service__pack(&svc.svc, buf);
	back = kilimanjaro__v1__service__unpack(NULL, len, buf);
	CHECK(back && back->key->port == svc.key.port &&
		  back->backend == svc.svc.backend,
	      "service does not survive pack/unpack");
	kilimanjaro__v1__service__free_unpacked(back, NULL);
}

static void fuzz_prefix(const char *s)
{
	char why[API_WHY_LEN] = "";
	uint32_t a;
	uint8_t l;

	if (api_parse_prefix(s, &a, &l, why, sizeof(why))) {
		CHECK(why[0], "a refused prefix without a reason");
		return;
	}
	CHECK(l <= 32, "length %u", l);
	CHECK(!l || !(a & ~(~0u << (32 - l))), "host bits accepted");
	CHECK(l || !a, "host bits accepted in /0");
}

static void fuzz_config(const char *s)
{
	struct ctl_config c;

	if (ctl_config_parse("fuzz.json", s, &c))
		return;
	CHECK(c.n_users || c.n_tokens, "nobody can log in");
	CHECK(!c.allow_plain_tcp ||
		  (ntohl(c.agents_listen.sin_addr.s_addr) >> 24) == 127,
	      "plain TCP off loopback");
	CHECK(c.tls_ca || c.allow_plain_tcp, "neither TLS nor plain TCP");
	ctl_config_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	uint32_t a;
	char why[API_WHY_LEN];

	if (size < 1)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		/* not NUL-terminated as far as the parser knows: exact length
		 */
		fuzz_service(s, size - 1);
		break;
	case 1:
		fuzz_prefix(s);
		break;
	case 2:
		if (!api_parse_host(s, &a, why, sizeof(why)))
			CHECK(unicast(a), "non-unicast host accepted");
		break;
	default:
		fuzz_config(s);
	}
	free(s);
	return 0;
}
