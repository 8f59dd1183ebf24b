/* fingerprint.c: `canary fingerprint COMPOSITION.yaml`: hash a composition
 * manifest the way docs/fingerprint.md specifies. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "fingerprint.h"
#include "util.h"

static const char fingerprint_usage[] =
	"usage: canary fingerprint COMPOSITION.yaml [--json | --header]\n"
	"\n"
	"Hash an agent composition manifest (system_prompt, model, tools,\n"
	"retrieval, guardrails, flags, experiments; each inline or as file:) and\n"
	"print sha256:<hex> for the whole.  Structured values are canonicalised\n"
	"with RFC 8785, so key order and YAML formatting do not change the hash;\n"
	"files are hashed as bytes.  See docs/fingerprint.md.\n"
	"\n"
	"  --json     print the whole and each component's hash as JSON\n"
	"  --header   print the name=hash;name=hash form a serving stack can send\n"
	"             as its fingerprint header, so canary can name the components\n"
	"             that differ\n"
	"  -h, --help show this help\n";

static const struct option fingerprint_options[] = {
	{"json", no_argument, NULL, 'j'},
	{"header", no_argument, NULL, 'H'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int cmd_fingerprint(int argc, char **argv)
{
	bool json = false, header = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", fingerprint_options, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'H':
			header = true;
			break;
		case 'h':
			fputs(fingerprint_usage, stdout);
			return 0;
		default:
			fputs("see 'canary fingerprint --help'\n", stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || (json && header)) {
		cmd_error("fingerprint takes one COMPOSITION.yaml and at most one of --json, "
			  "--header; see 'canary fingerprint --help'");
		return EXIT_USAGE;
	}
	char *err = NULL;
	struct fingerprint *fp = fingerprint_manifest_load(argv[optind], &err);
	if (!fp) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	if (json) {
		cJSON *tree = fingerprint_to_json(fp);
		util_json_write(stdout, tree);
		cJSON_Delete(tree);
	} else if (header) {
		char *h = fingerprint_header(fp, 0);
		printf("%s\n", h);
		free(h);
	} else {
		printf("%s\n", fp->whole);
	}
	fingerprint_free(fp);
	return 0;
}
