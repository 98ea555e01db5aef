// SPDX-License-Identifier: GPL-2.0-only
/* controller/auth.c and the controller's config file: password hashes,
 * sessions that expire and end at logout, API tokens compared whole. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ctl_config.h"

#define TOKEN "0123456789abcdef0123456789abcdef"

Test(ctl_auth, hash_then_check)
{
	char h[160];

	cr_assert_eq(auth_hash_password("correct horse", h, sizeof(h)), 0);
	cr_assert_eq(strncmp(h, "pbkdf2-sha256$", 14), 0, "%s", h);
	cr_assert_eq(auth_check_password(h, "correct horse"), 0);
	cr_assert_eq(auth_check_password(h, "correct horsE"), -EACCES);
	cr_assert_eq(auth_check_password(h, ""), -EACCES);
}

Test(ctl_auth, two_hashes_of_one_password_differ)
{
	char a[160], b[160];

	cr_assert_eq(auth_hash_password("pw123456", a, sizeof(a)), 0);
	cr_assert_eq(auth_hash_password("pw123456", b, sizeof(b)), 0);
	cr_assert_str_neq(a, b, "no salt?");
}

Test(ctl_auth, malformed_hashes_are_refused_not_matched)
{
	cr_assert_eq(auth_check_password("plain", "plain"), -EINVAL);
	cr_assert_eq(auth_check_password("pbkdf2-sha256$1$00$00", "x"), -EINVAL,
		     "1 iteration must not be accepted");
	cr_assert_eq(auth_check_password("pbkdf2-sha256$200000$zz$00", "x"),
		     -EINVAL);
	cr_assert_eq(auth_check_password("pbkdf2-sha256$200000$"
					 "00112233445566778899aabbccddeeff$"
					 "0011",
					 "x"),
		     -EINVAL, "short hash");
}

static struct ctl_config cfg;

static struct auth *make_auth(void)
{
	char text[1024], h[160];

	cr_assert_eq(auth_hash_password("s3cret-pw", h, sizeof(h)), 0);
	snprintf(text, sizeof(text),
		 "{\"allow_plain_tcp\": true, \"agents_listen\": "
		 "\"127.0.0.1:1\", \"session_ttl_s\": 60,"
		 "\"users\": [{\"name\": \"op\", \"password_hash\": \"%s\"}],"
		 "\"api_tokens\": [\"" TOKEN "\"]}",
		 h);
	cr_assert_eq(ctl_config_parse("t.json", text, &cfg), 0);
	return auth_new(&cfg);
}

Test(ctl_auth, login_session_expiry_logout)
{
	struct auth *a = make_auth();
	char id[AUTH_SESSION_ID_HEX + 1], id2[AUTH_SESSION_ID_HEX + 1];
	uint64_t now = auth_now_ms();

	cr_assert_not_null(a);
	cr_assert_eq(auth_login(a, "op", "wrong", id), -EACCES);
	cr_assert_eq(auth_login(a, "nobody", "s3cret-pw", id), -EACCES);
	cr_assert_eq(auth_login(a, "op", "s3cret-pw", id), 0);
	cr_assert_eq(strlen(id), 64);
	cr_assert(auth_session_ok(a, id, now));
	cr_assert_not(auth_session_ok(a, "00", now));
	id[0] = id[0] == 'a' ? 'b' : 'a';
	cr_assert_not(auth_session_ok(a, id, now), "a changed id matched");
	id[0] = id[0] == 'a' ? 'b' : 'a';
	cr_assert_eq(auth_login(a, "op", "s3cret-pw", id2), 0);
	cr_assert_str_neq(id, id2);
	/* From now, not from before the logins: PBKDF2 under ASan on a busy
	 * machine takes seconds. */
	cr_assert_not(auth_session_ok(a, id, auth_now_ms() + 61 * 1000),
		      "session outlived session_ttl_s");
	cr_assert_not(auth_session_ok(a, id, now), "an expired session must "
						   "stay gone");
	auth_logout(a, id2);
	cr_assert_not(auth_session_ok(a, id2, now));
	auth_free(a);
	ctl_config_free(&cfg);
}

Test(ctl_auth, tokens_match_whole)
{
	struct auth *a = make_auth();

	cr_assert(auth_token_ok(a, TOKEN));
	cr_assert_not(auth_token_ok(a, "0123456789abcdef"));
	cr_assert_not(auth_token_ok(a, TOKEN "0"));
	cr_assert_not(auth_token_ok(a, ""));
	auth_free(a);
	ctl_config_free(&cfg);
}

static int parse(const char *text)
{
	struct ctl_config c;
	int r = ctl_config_parse("t.json", text, &c);

	if (!r)
		ctl_config_free(&c);
	return r;
}

Test(ctl_config, refusals)
{
	const char *users = "\"api_tokens\": [\"" TOKEN "\"]";
	char t[512];

	snprintf(t, sizeof(t),
		 "{\"allow_plain_tcp\": true, \"agents_listen\": "
		 "\"0.0.0.0:7443\", %s}",
		 users);
	cr_assert_eq(parse(t), -EINVAL, "plain TCP on a public address");
	snprintf(t, sizeof(t), "{%s}", users);
	cr_assert_eq(parse(t), -EINVAL, "no tls and no plain tcp");
	cr_assert_eq(parse("{\"allow_plain_tcp\": true, \"agents_listen\": "
			   "\"127.0.0.1:7443\"}"),
		     -EINVAL, "nobody could log in");
	snprintf(t, sizeof(t),
		 "{\"allow_plain_tcp\": true, \"agents_listen\": "
		 "\"127.0.0.1:7443\", \"colour\": 1, %s}",
		 users);
	cr_assert_eq(parse(t), -EINVAL, "unknown key");
	snprintf(t, sizeof(t),
		 "{\"allow_plain_tcp\": true, \"agents_listen\": "
		 "\"127.0.0.1:70000\", %s}",
		 users);
	cr_assert_eq(parse(t), -EINVAL, "port out of range");
	cr_assert_eq(parse("{\"allow_plain_tcp\": true, \"agents_listen\": "
			   "\"127.0.0.1:7443\", \"api_tokens\": [\"short\"]}"),
		     -EINVAL, "short token");
	snprintf(t, sizeof(t),
		 "{\"allow_plain_tcp\": true, \"agents_listen\": "
		 "\"127.0.0.1:7443\", \"a2s\": {\"epoch_s\": 30, "
		 "\"rotate_s\": 40}, %s}",
		 users);
	cr_assert_eq(parse(t), -EINVAL, "rotation faster than two epochs");
	cr_assert_eq(parse("{\"allow_plain_tcp\": true,"), -EINVAL);
	cr_assert_eq(parse("[]"), -EINVAL);
	snprintf(
	    t, sizeof(t),
	    "{ // a comment\n\"allow_plain_tcp\": true, \"agents_listen\": "
	    "\"127.0.0.1:7443\", %s}",
	    users);
	cr_assert_eq(parse(t), 0, "a valid file with a comment");
}

Test(ctl_config, the_example_file_is_valid)
{
	const char *path = getenv("KM_CTL_EXAMPLE_CONFIG");
	struct ctl_config c;

	cr_assert_not_null(path, "KM_CTL_EXAMPLE_CONFIG not set");
	cr_assert_eq(ctl_config_load(path, &c), 0);
	cr_assert_eq(c.n_users, 1);
	cr_assert_not(c.allow_plain_tcp);
	ctl_config_free(&c);
}

Test(ctl_auth, failed_logins_throttle_one_address_for_a_window)
{
	struct auth *a = make_auth();
	uint64_t t = 1000000;

	for (int i = 0; i < AUTH_FAIL_MAX; i++) {
		cr_assert_eq(auth_throttled(a, 0x7f000001, t), 0, "try %d", i);
		auth_failed(a, 0x7f000001, t);
	}
	cr_assert_eq(auth_throttled(a, 0x7f000001, t + 1000),
		     AUTH_FAIL_WINDOW_MS / 1000 - 1);
	cr_assert_eq(auth_throttled(a, 0x7f000002, t), 0,
		     "another address must not be throttled");
	cr_assert_eq(auth_throttled(a, 0x7f000001, t + AUTH_FAIL_WINDOW_MS), 0,
		     "the window must end");
	auth_free(a);
	ctl_config_free(&cfg);
}
