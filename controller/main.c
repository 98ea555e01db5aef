// SPDX-License-Identifier: GPL-2.0-only
/* kilimanjaro-controller: wires the config, the state (SQLite), the HTTP
 * API and dashboard, and the agents' loop. README "Controller". */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api.h"
#include "auth.h"
#include "ctl_config.h"
#include "edges.h"
#include "http.h"
#include "log.h"
#include "server.h"
#include "state.h"
#include "tls.h"

#define DEFAULT_CONFIG "/etc/kilimanjaro/controller.json"

struct opts {
	const char *config;
	const char *web_root;
	bool check_config;
	bool hash_password;
	bool verbose;
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"web-root", required_argument, NULL, 'w'},
    {"check-config", no_argument, NULL, 'C'},
    {"hash-password", no_argument, NULL, 'H'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *const help[] = {
    "FILE  configuration (default " DEFAULT_CONFIG ")",
    "DIR   dashboard files (overrides web_root of the config)",
    "      check the configuration and exit (0 valid, 1 not)",
    "      read a password on stdin, print its hash for users[]",
    "      debug logging",
    "      this text",
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: kilimanjaro-controller [options]\n"
		   "The reference controller: keeps many edges in sync, serves "
		   "the HTTP API and the dashboard.\n\n");
	for (size_t i = 0; long_opts[i].name; i++)
		fprintf(f, "  --%-14s %s\n", long_opts[i].name, help[i]);
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	o->config = DEFAULT_CONFIG;
	while ((c = getopt_long(argc, argv, "c:w:CHvh", long_opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'w':
			o->web_root = optarg;
			break;
		case 'C':
			o->check_config = true;
			break;
		case 'H':
			o->hash_password = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"kilimanjaro-controller: unexpected argument "
			"\"%s\"\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* One line from stdin (no echo on a terminal) -> its hash on stdout. */
static int hash_password(void)
{
	char pw[1024], out[160];
	struct termios t, old;
	bool tty = isatty(STDIN_FILENO);
	size_t n;
	int r;

	if (tty) {
		fprintf(stderr, "password: ");
		tcgetattr(STDIN_FILENO, &old);
		t = old;
		t.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	if (!fgets(pw, sizeof(pw), stdin))
		pw[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	n = strlen(pw);
	while (n && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
		pw[--n] = '\0';
	if (n < 8) {
		OPENSSL_cleanse(pw, sizeof(pw));
		return km_log_errno(-EINVAL, "--hash-password: the password "
					     "(one line on stdin) must have at "
					     "least 8 characters");
	}
	r = auth_hash_password(pw, out, sizeof(out));
	OPENSSL_cleanse(pw, sizeof(pw));
	if (r)
		return km_log_errno(r, "--hash-password: %s", strerror(-r));
	printf("%s\n", out);
	return 0;
}

static int block_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* Blocked before any thread starts, so every thread inherits it and
	 * only the signalfd sees them. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* One descriptor per agent: the soft limit (often 1024) up to the hard. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			km_warn("setrlimit(RLIMIT_NOFILE): %s",
				strerror(errno));
	}
}

static int run(struct ctl_config *cfg)
{
	struct state st = {0};
	struct edges *edges = NULL;
	struct auth *auth = NULL;
	struct http *http = NULL;
	struct server *srv = NULL;
	SSL_CTX *tls = NULL;
	struct api api;
	int r, sigfd = -1;

	raise_nofile();
	if (cfg->tls_ca) {
		r = km_tls_ctx_new(&tls, KM_TLS_SERVER, cfg->tls_ca,
				   cfg->tls_cert, cfg->tls_key);
		if (r)
			return r;
	}
	r = state_open(&st, cfg->db_path, cfg->a2s_epoch_s, cfg->punch_ttl_s);
	if (r)
		goto out;
	edges = edges_new();
	auth = auth_new(cfg);
	if (!edges || !auth) {
		r = -ENOMEM;
		goto out;
	}
	sigfd = block_signals();
	if (sigfd < 0) {
		r = -errno;
		goto out;
	}
	api.st = &st;
	api.edges = edges;
	r = http_start(&http, &cfg->http_listen, cfg->web_root, &api, auth);
	if (r)
		goto out;
	r = server_new(&srv, cfg, tls, &st, edges, sigfd);
	if (r)
		goto out;
	km_info("state version %llu from %s; agents on %s:%u (%s), HTTP on "
		"http://%s:%u/",
		(unsigned long long)state_version(&st), cfg->db_path,
		inet_ntoa(cfg->agents_listen.sin_addr),
		ntohs(cfg->agents_listen.sin_port),
		tls ? (cfg->allow_plain_tcp ? "TLS, plain TCP from loopback"
					    : "TLS")
		    : "plain TCP from loopback only",
		inet_ntoa(cfg->http_listen.sin_addr),
		ntohs(cfg->http_listen.sin_port));
	r = server_run(srv);
out:
	server_free(srv);
	http_stop(http);
	auth_free(auth);
	edges_free(edges);
	if (st.db)
		state_close(&st);
	if (sigfd >= 0)
		close(sigfd);
	km_tls_ctx_free(tls);
	return r;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	struct ctl_config cfg;
	int r;

	if (parse_opts(argc, argv, &o))
		return 2;
	km_log_init("kilimanjaro-controller", o.verbose ? LOG_DEBUG : LOG_INFO);
	if (o.hash_password)
		return hash_password() ? 1 : 0;
	if (ctl_config_load(o.config, &cfg))
		return 1;
	if (o.web_root) {
		free(cfg.web_root);
		cfg.web_root = strdup(o.web_root);
	}
	if (o.check_config) {
		printf("%s: valid (%zu users, %zu API tokens, agents %s)\n",
		       o.config, cfg.n_users, cfg.n_tokens,
		       cfg.tls_ca ? "TLS" : "plain TCP on loopback");
		ctl_config_free(&cfg);
		return 0;
	}
	r = run(&cfg);
	ctl_config_free(&cfg);
	return r ? 1 : 0;
}
