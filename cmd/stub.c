/* stub.c: `canary stub`, serve a scripted openai-chat agent until SIGINT or SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "stub.h"
#include "util.h"

static const char stub_usage[] =
	"usage: canary stub SCRIPT.yaml [--port N] [--host ADDR] [--log FILE] [--seed N]\n"
	"\n"
	"Serve a scripted openai-chat agent until interrupted; the script's rules\n"
	"answer the last user message (see docs/stub.md).  Once it accepts\n"
	"connections it prints 'listening on http://HOST:PORT'.\n"
	"\n"
	"  -p, --port N     port to listen on (default 0: a free one)\n"
	"      --host ADDR  address to bind (default 127.0.0.1)\n"
	"      --log FILE   append one JSON line per request (bodies, never headers)\n"
	"      --seed N     seed for the rules' probabilities (default: the clock)\n"
	"  -h, --help       show this help\n";

static int usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Print a usage error and a pointer to --help; the exit code for it. */
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("canary stub: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nsee 'canary stub --help'\n", stderr);
	va_end(ap);
	return 2;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cmd_stub(int argc, char **argv)
{
	static const struct option options[] = {
		{"port", required_argument, NULL, 'p'},
		{"host", required_argument, NULL, 'H'},
		{"log", required_argument, NULL, 'l'},
		{"seed", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct stub_options o = {.host = "127.0.0.1"};
	long v;
	int c;

	optind = 0; /* glibc: start afresh whatever parsed argv before */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:h", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_long(optarg, 0, 65535, &v) < 0)
				return usage_error("bad port '%s'", optarg);
			o.port = (int)v;
			break;
		case 'H':
			o.host = optarg;
			break;
		case 'l':
			o.log_path = optarg;
			break;
		case 's':
			if (parse_long(optarg, 0, UINT_MAX, &v) < 0)
				return usage_error("bad seed '%s'", optarg);
			o.seed = (unsigned)v;
			break;
		case 'h':
			fputs(stub_usage, stdout);
			return 0;
		case ':':
			return usage_error("'%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_error("missing SCRIPT");
	if (optind < argc - 1)
		return usage_error("unexpected argument '%s'", argv[optind + 1]);

	char *err = NULL;
	struct stub_script *script = stub_script_load(argv[optind], &err);
	if (!script) {
		fprintf(stderr, "canary stub: %s\n", err);
		free(err);
		return 2;
	}

	/* Blocked before the server starts, so that its threads inherit the
	 * mask and the signals reach sigwait() below. */
	sigset_t sigs, old;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);

	struct stub *s = stub_start(script, &o, &err);
	if (!s) {
		fprintf(stderr, "canary stub: %s\n", err);
		free(err);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	bool v6 = strchr(o.host, ':') != NULL;
	printf("listening on http://%s%s%s:%d\n", v6 ? "[" : "", o.host, v6 ? "]" : "",
	       stub_port(s));
	fflush(stdout);

	int sig;
	while (sigwait(&sigs, &sig) != 0)
		;
	stub_stop(s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}
