/* promote.c: `canary promote SOURCE --into FILE --stratum NAME`: a
 * production conversation made into a case of the suite. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "evidence/evidence.h"
#include "redact.h"
#include "suite/suite.h"
#include "util.h"
#include "ynode.h"

#define SOURCE_MAX ((size_t)64 << 20)

static const char promote_help[] =
	"usage: canary promote SOURCE --into FILE --stratum NAME [options]\n"
	"\n"
	"Turn a production conversation into a case: its user turns (turns:, with\n"
	"the results its tools gave as tool_results:), and the tool calls it made\n"
	"as a trajectory (or, with --bad, its failing behaviour as what its last\n"
	"turn must not do), with its provenance (source, time, fingerprint) in\n"
	"comments.  SOURCE is a sample saved by 'canary run --save-replies', a\n"
	"JSONL file of log records (each line becomes a case) or an OpenTelemetry\n"
	"GenAI span export in OTLP JSON (each chat span becomes a case).  The case\n"
	"is checked, then added to FILE's stratum NAME as text: the rest of FILE,\n"
	"comments included, stays as it is.\n"
	"\n"
	"  --into FILE           the suite file, or a file the suite includes, that\n"
	"                        gets the case (created when missing; required)\n"
	"  --stratum NAME        the stratum of the case (required)\n"
	"  --suite SUITE         check the case against the whole suite, which must\n"
	"                        include FILE (default: check FILE alone)\n"
	"  --line N              only record N: the line of a JSONL file, the Nth\n"
	"                        chat span of an export (from 1)\n"
	"  --id ID               the case's id (one record only; default promoted-\n"
	"                        and the first words of the last user turn)\n"
	"  --api API             the API of the log records (default: metadata.api,\n"
	"                        else told from their shape)\n"
	"  --bad                 the reply is the failure: expect that it does not\n"
	"                        happen again (no_tool_call, not_contains, on the\n"
	"                        last turn)\n"
	"  --dry-run             print the case instead of writing it\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 0 promoted (or printed), 2 usage, source or suite error (nothing\n"
	"written).\n";

enum {
	OPT_INTO = 256,
	OPT_STRATUM,
	OPT_SUITE,
	OPT_LINE,
	OPT_ID,
	OPT_API,
	OPT_BAD,
	OPT_DRY_RUN,
};

static const char *const promote_apis[] = {"openai-chat", "openai-responses",
					   "anthropic-messages", NULL};

static const struct cmd_option promote_options[] = {
	{"into", 0, true, OPT_INTO, CMD_VALUE_YAML, NULL},
	{"stratum", 0, true, OPT_STRATUM, CMD_VALUE_NONE, NULL},
	{"suite", 0, true, OPT_SUITE, CMD_VALUE_YAML, NULL},
	{"line", 0, true, OPT_LINE, CMD_VALUE_NONE, NULL},
	{"id", 0, true, OPT_ID, CMD_VALUE_NONE, NULL},
	{"api", 0, true, OPT_API, CMD_VALUE_WORDS, promote_apis},
	{"bad", 0, false, OPT_BAD, CMD_VALUE_NONE, NULL},
	{"dry-run", 0, false, OPT_DRY_RUN, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

/* The records of a source, each with where it came from. */
struct promote_source {
	struct evidence_record *recs;
	char **where;              /* "incident.jsonl:3" */
	size_t n;
};

static void source_add(struct promote_source *src, struct evidence_record *rec, char *where)
{
	src->recs = xreallocarray(src->recs, src->n + 1, sizeof(*src->recs));
	src->where = xreallocarray(src->where, src->n + 1, sizeof(*src->where));
	src->recs[src->n] = *rec;
	src->where[src->n++] = where;
}

static void source_release(struct promote_source *src)
{
	for (size_t i = 0; i < src->n; i++) {
		evidence_record_release(&src->recs[i]);
		free(src->where[i]);
	}
	free(src->recs);
	free(src->where);
}

/* read_lines: each line of a JSONL text (line only, when not 0) as a log
 * record; -1 after saying which line cannot be read. */
static int read_lines(const char *path, const char *text, size_t len, long line,
		      const char *api, struct promote_source *src)
{
	size_t at = 0;

	for (long n = 1; at < len; n++) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len, from = at;
		struct evidence_record rec;
		char *err = NULL;

		at = end + 1;
		if ((line && n != line) || strspn(text + from, " \t\r") >= end - from)
			continue;
		if (evidence_record_read(text + from, end - from, api, NULL, &rec, &err) < 0) {
			cmd_error("%s:%ld: %s", path, n, err);
			free(err);
			return -1;
		}
		source_add(src, &rec, xasprintf("%s:%ld", path, n));
	}
	return 0;
}

/* read_source: the records of SOURCE at path, of whichever kind it is. */
static int read_source(const char *path, long line, const char *api, struct promote_source *src)
{
	size_t len, n = 0;
	char *err = NULL, *text = util_read_file(path, SOURCE_MAX, &len, &err);
	cJSON *json = text ? cJSON_ParseWithLength(text, len) : NULL, *rec;
	struct evidence_record *spans = NULL, one;
	int rc = -1;

	if (!text) {
		cmd_error("%s", err);
		goto out;
	}
	if (cJSON_GetObjectItemCaseSensitive(json, "canary_sample")) {
		if (!(rec = evidence_sample_record(json))) {
			cmd_error("'%s' has no JSON request and reply to promote", path);
			goto out;
		}
		if (evidence_record_from_json(rec, api, NULL, &one, &err) < 0) {
			cmd_error("%s: %s", path, err);
			goto out;
		}
		source_add(src, &one, xstrdup(path));
	} else if (cJSON_GetObjectItemCaseSensitive(json, "resourceSpans")) {
		if (evidence_otel_read(text, len, &spans, &n, &err) < 0) {
			cmd_error("%s: %s", path, err);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(spans[i].metadata,
									   "span_id");
			if (line && (size_t)line != i + 1) {
				evidence_record_release(&spans[i]);
				continue;
			}
			source_add(src, &spans[i], xasprintf("%s span %s", path,
							     cJSON_IsString(id) ? id->valuestring
										: "?"));
		}
	} else if (read_lines(path, text, len, line, api, src) < 0) {
		goto out;
	}
	if (src->n == 0 && line) {
		cmd_error("'%s' has no record %ld", path, line);
		goto out;
	}
	if (src->n == 0) {
		cmd_error("'%s' has no record", path);
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(json);
	free(spans);
	free(text);
	free(err);
	return rc;
}

/* taken: whether id is a case of s (NULL: none) or among ids[0..n). */
static bool taken(const struct suite *s, char *const *ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return s && suite_find_case(s, id);
}

/* unique_id: base, or base-2, base-3, ... the first not taken. */
static char *unique_id(const struct suite *s, char *const *ids, size_t n, const char *base)
{
	char *id = xstrdup(base);

	for (int k = 2; taken(s, ids, n, id); k++) {
		free(id);
		id = xasprintf("%s-%d", base, k);
	}
	return id;
}

/* check_alone: FILE's new text loads as a suite (it is one, or its strata
 * with placeholder targets do); -1 after saying why not. */
static int check_alone(const char *file, const char *text, size_t len)
{
	static const char targets[] =
		"\nversion: 1\nname: promote-check\ntargets:\n"
		"  eval: {url: 'http://127.0.0.1/'}\n  prod: {url: 'http://127.0.0.1/'}\n";
	struct suite_options so = {.lazy_env = true};
	struct ydoc *doc = ydoc_parse(file, text, len, NULL);
	bool suite = doc && doc->root && ynode_get(doc->root, "targets");
	char *data = suite ? xstrndup(text, len) : xasprintf("%.*s%s", (int)len, text, targets);
	char *err = NULL;
	struct suite *s = suite_load_buffer(file, data, strlen(data), &so, &err);

	if (!s)
		fprintf(stderr, "%s\n", err);
	suite_free(s);
	ydoc_free(doc);
	free(data);
	free(err);
	return s ? 0 : -1;
}

/* check_suite: the suite at path loads with FILE's new text, and holds each
 * new case; -1 after saying why not. */
static int check_suite(const char *path, const char *file, const char *text, size_t len,
		       const char *stratum, char *const *ids, size_t n)
{
	struct suite_options so = {.lazy_env = true, .override = {file, text, len}};
	char *err = NULL;
	struct suite *s = suite_load(path, &so, &err);
	int rc = -1;

	if (!s) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *name = xasprintf("%s/%s", stratum, ids[i]);
		bool found = suite_find_case(s, name);
		free(name);
		if (!found) {
			cmd_error("'%s' is not included by '%s': add it to the suite's include:",
				  file, path);
			goto out;
		}
	}
	rc = 0;
out:
	suite_free(s);
	free(err);
	return rc;
}

/* write_file: text to path through a temporary file renamed over it. */
static int write_file(const char *path, const char *text, size_t len)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "w");
	int rc = -1;

	if (f && fwrite(text, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0 &&
	    fclose(f) == 0) {
		f = NULL;
		if (rename(tmp, path) == 0)
			rc = 0;
	}
	if (rc < 0)
		cmd_error("cannot write '%s': %s", path, strerror(errno));
	if (f)
		fclose(f);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static int cmd_promote(int argc, char **argv)
{
	const char *into = NULL, *stratum = NULL, *suite_path = NULL, *id = NULL, *api = NULL;
	bool bad = false, dry_run = false;
	long line = 0;
	struct promote_source src = {0};
	struct suite_options so = {.lazy_env = true};
	struct suite *s = NULL;
	char **ids = NULL, *old = NULL, *cases = NULL, *text = NULL, *err = NULL;
	size_t old_len = 0;
	struct buf b;
	struct cmd_parser p;
	int rc = EXIT_USAGE, opt;

	buf_init(&b, BUF_MAX_DEFAULT);
	cmd_parser_init(&p, &cmd_promote_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		switch (opt) {
		case OPT_INTO:
			into = p.arg;
			break;
		case OPT_STRATUM:
			stratum = p.arg;
			break;
		case OPT_SUITE:
			suite_path = p.arg;
			break;
		case OPT_LINE:
			line = strtol(p.arg, NULL, 10);
			if (line < 1) {
				cmd_error("--line takes a number from 1, not '%s'", p.arg);
				goto out;
			}
			break;
		case OPT_ID:
			id = p.arg;
			break;
		case OPT_API:
			if (cmd_parser_choice(&p) < 0)
				goto out;
			api = p.arg;
			break;
		case OPT_BAD:
			bad = true;
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		}
	}
	if (cmd_parser_end(&p, opt, 1, 1) < 0) {
		rc = p.exit;
		goto out;
	}
	if (!into || !stratum) {
		cmd_parser_error(&p, "promote needs --into and --stratum");
		goto out;
	}
	if (read_source(argv[1], line, api, &src) < 0)
		goto out;
	if (id && src.n > 1) {
		cmd_error("--id names one case, and '%s' holds %zu records (pick one with --line)",
			  argv[1], src.n);
		goto out;
	}
	if (suite_path && !(s = suite_load(suite_path, &so, &err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (access(into, F_OK) == 0 && !(old = util_read_file(into, SOURCE_MAX, &old_len, &err))) {
		cmd_error("%s", err);
		goto out;
	}
	ids = xcalloc(src.n, sizeof(*ids));
	for (size_t i = 0; i < src.n; i++) {
		struct evidence_record *rec = &src.recs[i];
		char *base = id ? xstrdup(id) : evidence_case_id(rec);
		ids[i] = id ? base : unique_id(s, ids, i, base);
		if (!id)
			free(base);
		struct evidence_promote o = {.id = ids[i], .bad = bad, .source = src.where[i]};
		if (rec->reply_error) {
			cmd_error("%s: the reply cannot be read: %s", src.where[i], rec->reply_error);
			goto out;
		}
		char *one = evidence_case_yaml(rec, &o, &err);
		if (!one) {
			cmd_error("%s: %s", src.where[i], err);
			goto out;
		}
		buf_addstr(&b, one);
		free(one);
	}
	cases = s ? redact_apply(&s->redact, b.data) : xstrdup(b.data);
	if (!(text = evidence_file_add_cases(old ? old : "", old_len, into, stratum, cases, &err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (suite_path ? check_suite(suite_path, into, text, strlen(text), stratum, ids, src.n)
		       : check_alone(into, text, strlen(text)))
		goto out;
	if (dry_run) {
		fputs(cases, stdout);
		rc = 0;
		goto out;
	}
	if (write_file(into, text, strlen(text)) < 0)
		goto out;
	for (size_t i = 0; i < src.n; i++)
		printf("promoted %s/%s into %s\n", stratum, ids[i], into);
	rc = 0;
out:
	for (size_t i = 0; ids && i < src.n; i++)
		free(ids[i]);
	free(ids);
	source_release(&src);
	suite_free(s);
	buf_release(&b);
	free(old);
	free(cases);
	free(text);
	free(err);
	return rc;
}

const struct cmd_entry cmd_promote_entry = {
	.name = "promote",
	.summary = "turn a production conversation into a case",
	.help = promote_help,
	.operands = "a SOURCE file",
	.operand_kind = CMD_VALUE_FILE,
	.options = promote_options,
	.exec = cmd_promote,
};
