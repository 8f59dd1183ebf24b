/* fingerprint.c: `canary fingerprint COMPOSITION.yaml`: hash a composition
 * manifest the way docs/fingerprint.md specifies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "fingerprint/fingerprint.h"
#include "util.h"

static const char fingerprint_help[] =
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

enum {
	OPT_JSON = 256,
	OPT_HEADER,
};

static const struct cmd_option fingerprint_options[] = {
	{"json", 0, false, OPT_JSON, CMD_VALUE_NONE, NULL},
	{"header", 0, false, OPT_HEADER, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

static int cmd_fingerprint(int argc, char **argv)
{
	bool json = false, header = false;
	struct cmd_parser p;
	int opt;
	cmd_parser_init(&p, &cmd_fingerprint_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		if (opt == OPT_JSON)
			json = true;
		else
			header = true;
	}
	if (cmd_parser_end(&p, opt, 1, 1) < 0)
		return p.exit;
	if (json && header) {
		cmd_parser_error(&p, "fingerprint takes at most one of --json, --header");
		return EXIT_USAGE;
	}
	char *err = NULL;
	struct fingerprint *fp = fingerprint_manifest_load(argv[1], &err);
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

const struct cmd_entry cmd_fingerprint_entry = {
	.name = "fingerprint",
	.summary = "hash an agent composition manifest",
	.help = fingerprint_help,
	.operands = "a COMPOSITION.yaml file",
	.operand_kind = CMD_VALUE_YAML,
	.options = fingerprint_options,
	.exec = cmd_fingerprint,
};
