/* stub.c: `canary stub`, serve a scripted agent until SIGINT or SIGTERM. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "stub/stub.h"
#include "util.h"

static const char stub_help[] =
	"usage: canary stub SCRIPT.yaml [--port N] [--host ADDR] [--api API] [--log FILE]\n"
	"                   [--seed N]\n"
	"\n"
	"Serve a scripted agent until interrupted.  POST /v1/chat/completions\n"
	"speaks openai-chat, /v1/responses openai-responses, /v1/messages\n"
	"anthropic-messages, and any other path the --api one; a request with\n"
	"\"stream\": true gets server-sent events.  The script's rules answer the\n"
	"conversation (see docs/stub.md).  Once it accepts connections it prints\n"
	"'listening on http://HOST:PORT'.\n"
	"\n"
	"  -p, --port N     port to listen on (default 0: a free one)\n"
	"      --host ADDR  address to bind (default 127.0.0.1)\n"
	"      --api API    what other paths speak: openai-chat (the default),\n"
	"                   openai-responses or anthropic-messages\n"
	"      --log FILE   append one JSON line per request (bodies, never headers)\n"
	"      --seed N     seed for the rules' probabilities (default: the clock)\n"
	"  -h, --help       show this help\n";

enum {
	OPT_PORT = 'p',
	OPT_HOST = 256,
	OPT_API,
	OPT_LOG,
	OPT_SEED,
};

static const struct cmd_option stub_options[] = {
	{"port", 'p', true, OPT_PORT, CMD_VALUE_NONE, NULL},
	{"host", 0, true, OPT_HOST, CMD_VALUE_NONE, NULL},
	{"api", 0, true, OPT_API, CMD_VALUE_WORDS, stub_api_names},
	{"log", 0, true, OPT_LOG, CMD_VALUE_FILE, NULL},
	{"seed", 0, true, OPT_SEED, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

static int cmd_stub(int argc, char **argv)
{
	struct stub_options o = {.host = "127.0.0.1"};
	struct cmd_parser p;
	long v;
	int opt;

	cmd_parser_init(&p, &cmd_stub_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		switch (opt) {
		case OPT_PORT:
			if (cmd_parser_count(&p, 0, 65535, &v) < 0)
				return EXIT_USAGE;
			o.port = (int)v;
			break;
		case OPT_HOST:
			o.host = p.arg;
			break;
		case OPT_API:
			if (cmd_parser_choice(&p) < 0)
				return EXIT_USAGE;
			o.api = p.arg;
			break;
		case OPT_LOG:
			o.log_path = p.arg;
			break;
		case OPT_SEED:
			if (cmd_parser_count(&p, 0, UINT_MAX, &v) < 0)
				return EXIT_USAGE;
			o.seed = (unsigned)v;
			break;
		}
	}
	if (cmd_parser_end(&p, opt, 1, 1) < 0)
		return p.exit;

	char *err = NULL;
	struct stub_script *script = stub_script_load(argv[1], &err);
	if (!script) {
		cmd_error("%s", err);
		free(err);
		return EXIT_USAGE;
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
		cmd_error("%s", err);
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

const struct cmd_entry cmd_stub_entry = {
	.name = "stub",
	.summary = "serve a scripted agent (three APIs, streaming) on loopback",
	.help = stub_help,
	.operands = "a SCRIPT.yaml file",
	.operand_kind = CMD_VALUE_YAML,
	.options = stub_options,
	.exec = cmd_stub,
};
