/* calibrate.c: `canary calibrate SUITE LABELS.yaml`: run a suite's judge
 * graders over human-labelled replies and print, per rubric, how often the
 * judge agrees with the humans (accuracy, Cohen's kappa, confusion matrix). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "redact.h"
#include "judge/cache.h"
#include "judge/prompt.h"
#include "provider.h"
#include "suite/suite.h"
#include "transport/transport.h"
#include "util.h"
#include "ynode.h"

#define LABELS_MAX_BYTES ((size_t)64 << 20)
#define REPLY_FILE_MAX ((size_t)8 << 20)

static const char calibrate_help[] =
	"usage: canary calibrate SUITE LABELS.yaml [options]\n"
	"\n"
	"Run SUITE's judge graders over human-labelled replies and print, per rubric,\n"
	"the judge's agreement with the humans: accuracy, Cohen's kappa and the\n"
	"confusion matrix.  LABELS.yaml is a list of\n"
	"  - {case: ID, reply: TEXT, human: pass}      # or reply_file: PATH\n"
	"    tool_calls: [{name: NAME, arguments: {...}}]   # optional\n"
	"\n"
	"  --min-kappa K         the lowest acceptable kappa (default 0.6)\n"
	"  --judge-url URL       override the judge's URL\n"
	"  --judge-concurrency N judge requests in flight (default 8)\n"
	"  --judge-cache PATH    the judge's verdict cache (default\n"
	"                        $XDG_CACHE_HOME/canary/judge.sqlite)\n"
	"  --no-judge-cache      judge every reply afresh (use it to catch a drifting\n"
	"                        judge behind an unchanged model name)\n"
	"  -h, --help            show this help\n"
	"\n"
	"exit: 0 every rubric's kappa >= K, 1 some rubric's kappa is lower (or\n"
	"undefined), 2 usage, suite or labels error.\n";

enum {
	OPT_MIN_KAPPA = 256,
	OPT_JUDGE_URL,
	OPT_JUDGE_CONCURRENCY,
	OPT_JUDGE_CACHE,
	OPT_NO_JUDGE_CACHE,
};

static const struct cmd_option calibrate_options[] = {
	{"min-kappa", 0, true, OPT_MIN_KAPPA, CMD_VALUE_NONE, NULL},
	{"judge-url", 0, true, OPT_JUDGE_URL, CMD_VALUE_NONE, NULL},
	{"judge-concurrency", 0, true, OPT_JUDGE_CONCURRENCY, CMD_VALUE_NONE, NULL},
	{"judge-cache", 0, true, OPT_JUDGE_CACHE, CMD_VALUE_FILE, NULL},
	{"no-judge-cache", 0, false, OPT_NO_JUDGE_CACHE, CMD_VALUE_NONE, NULL},
	{NULL, 0, false, 0, CMD_VALUE_NONE, NULL},
};

static const char *const label_keys[] = {
	"case", "reply", "reply_file", "tool_calls", "human", NULL,
};
static const char *const tool_call_keys[] = {"name", "arguments", "id", NULL};

/* One labelled reply. */
struct label {
	const struct suite_case *c;
	struct reply reply;
	bool human_pass;
	int line;
};

/* A rubric's agreement figures. */
struct group {
	char *title;
	const char *rubric;
	double threshold;
	struct judge_confusion c;
	long errors;
	struct buf notes;       /* disagreements and errors, one per line */
};

/* One judgement: a label graded by one judge grader. */
struct slot {
	const struct label *label;
	const struct grader *g;
	size_t group;
	struct grader_runtime *rt;
	void *call;
	struct grade_result res;
};

struct calibration {
	struct suite *suite;
	const char *labels_path;
	struct ydoc *doc;
	struct label *labels;
	size_t nlabels;
	struct group *groups;
	size_t ngroups;
	struct slot *slots;
	size_t nslots;
	struct grader_runtime rt;
};

/* label_error: print "file:line:col: what" for node n. */
static int label_error(const struct ynode *n, const char *fmt, ...) PRINTF_LIKE(2, 3);

static int label_error(const struct ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *what = xvasprintf(fmt, ap);
	va_end(ap);
	char *msg = ynode_error(n, "%s", what);
	fprintf(stderr, "%s\n", msg);
	free(msg);
	free(what);
	return -1;
}

static int check_keys(const struct ynode *map, const char *const *keys, const char *where)
{
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->items[2 * i];
		const char *const *p;
		for (p = keys; *p && strcmp(*p, k->str) != 0; p++)
			;
		if (*p)
			continue;
		const char *hint = util_suggest(k->str, keys);
		if (hint)
			return label_error(k, "unknown key '%s' in %s (did you mean '%s'?)", k->str,
					   where, hint);
		return label_error(k, "unknown key '%s' in %s", k->str, where);
	}
	return 0;
}

static int need_text(const struct ynode *n, const char *what)
{
	if (n->kind != YNODE_SCALAR || (ynode_is_null(n) && n->len == 0))
		return label_error(n, "'%s' must be a string", what);
	if (strlen(n->str) != n->len)
		return label_error(n, "'%s' contains a NUL byte", what);
	return 0;
}

/* find_case: the suite's case named by n, or an error with a suggestion. */
static const struct suite_case *find_case(struct suite *s, const struct ynode *n)
{
	if (need_text(n, "case") < 0)
		return NULL;
	const struct suite_case *c = suite_find_case(s, n->str);
	if (c)
		return c;
	const char **ids = xcalloc(s->ncases + 1, sizeof(*ids));
	size_t k = 0;
	for (size_t i = 0; i < s->nstrata; i++)
		for (size_t j = 0; j < s->strata[i].ncases; j++)
			ids[k++] = s->strata[i].cases[j].id;
	const char *hint = util_suggest(n->str, ids);
	if (hint)
		label_error(n, "no case '%s' in the suite (did you mean '%s'?)", n->str, hint);
	else
		label_error(n, "no case '%s' in the suite", n->str);
	free(ids);
	return NULL;
}

static int load_tool_calls(struct reply *r, const struct ynode *n)
{
	if (n->kind != YNODE_SEQ)
		return label_error(n, "'tool_calls' must be a list of {name, arguments}");
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *tc = n->items[i];
		if (tc->kind != YNODE_MAP)
			return label_error(tc, "a tool call must be a mapping {name, arguments}");
		if (check_keys(tc, tool_call_keys, "a tool call") < 0)
			return -1;
		const struct ynode *name = ynode_get(tc, "name");
		const struct ynode *id = ynode_get(tc, "id");
		const struct ynode *args = ynode_get(tc, "arguments");
		if (!name)
			return label_error(tc, "a tool call needs a 'name'");
		if (need_text(name, "name") < 0 || (id && need_text(id, "id") < 0))
			return -1;
		char *err = NULL;
		cJSON *json = args ? ynode_to_json(args, &err) : NULL;
		if (args && !json) {
			label_error(args, "%s", err);
			free(err);
			return -1;
		}
		/* A string is the arguments' JSON text, as an API sends it. */
		reply_add_tool_call(r, id ? id->str : NULL, name->str, json);
		cJSON_Delete(json);
	}
	return 0;
}

/* labels_dir: the folder of the labels file, for reply_file paths. */
static char *labels_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static int load_reply(struct label *l, const struct ynode *item, const char *dir)
{
	const struct ynode *reply = ynode_get(item, "reply");
	const struct ynode *file = ynode_get(item, "reply_file");
	if (reply && file)
		return label_error(file, "a label takes 'reply' or 'reply_file', not both");
	if (!reply && !file)
		return label_error(item, "a label needs a 'reply' or a 'reply_file'");
	l->reply.status = 200;
	if (reply) {
		/* An empty reply is allowed: a reply may be tool calls only. */
		if (reply->kind != YNODE_SCALAR || strlen(reply->str) != reply->len)
			return label_error(reply, "'reply' must be a string");
		l->reply.content = xstrdup(ynode_is_null(reply) && reply->plain ? "" : reply->str);
		l->reply.content_len = strlen(l->reply.content);
		return 0;
	}
	if (need_text(file, "reply_file") < 0)
		return -1;
	char *path = file->str[0] == '/' ? xstrdup(file->str) : xasprintf("%s/%s", dir, file->str);
	char *err = NULL;
	size_t len;
	char *text = util_read_file(path, REPLY_FILE_MAX, &len, &err);
	free(path);
	if (!text) {
		label_error(file, "%s", err);
		free(err);
		return -1;
	}
	if (strlen(text) != len) {
		free(text);
		return label_error(file, "reply_file '%s' contains a NUL byte", file->str);
	}
	l->reply.content = text;
	l->reply.content_len = len;
	return 0;
}

static int load_label(struct calibration *cal, struct label *l, const struct ynode *item,
		      const char *dir)
{
	if (item->kind != YNODE_MAP)
		return label_error(item, "a label must be a mapping {case, reply, human}");
	if (check_keys(item, label_keys, "a label") < 0)
		return -1;
	const struct ynode *c = ynode_get(item, "case");
	const struct ynode *human = ynode_get(item, "human");
	const struct ynode *calls = ynode_get(item, "tool_calls");
	l->line = item->line;
	if (!c)
		return label_error(item, "a label needs a 'case'");
	if (!(l->c = find_case(cal->suite, c)))
		return -1;
	if (!human)
		return label_error(item, "a label needs 'human: pass' or 'human: fail'");
	if (human->kind != YNODE_SCALAR ||
	    (strcmp(human->str, "pass") != 0 && strcmp(human->str, "fail") != 0))
		return label_error(human, "'human' must be pass or fail");
	l->human_pass = strcmp(human->str, "pass") == 0;
	if (load_reply(l, item, dir) < 0)
		return -1;
	if (calls && load_tool_calls(&l->reply, calls) < 0)
		return -1;
	bool judged = false;
	struct judge_grader_info info;
	for (size_t i = 0; i < l->c->nexpect; i++)
		judged |= judge_grader_info(l->c->expect[i], &info);
	if (!judged)
		return label_error(c, "case '%s' has no judge grader", l->c->id);
	return 0;
}

static int load_labels(struct calibration *cal, const char *path)
{
	char *err = NULL;
	size_t len;
	char *data = util_read_file(path, LABELS_MAX_BYTES, &len, &err);
	if (!data) {
		cmd_error("%s", err);
		free(err);
		return -1;
	}
	cal->doc = ydoc_parse(path, data, len, &err);
	free(data);
	if (!cal->doc) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return -1;
	}
	const struct ynode *root = cal->doc->root;
	if (!root || root->kind != YNODE_SEQ || root->n == 0) {
		cmd_error("%s: the labels must be a non-empty list of {case, reply, human}", path);
		return -1;
	}
	cal->labels = xcalloc(root->n, sizeof(*cal->labels));
	char *dir = labels_dir(path);
	int rc = 0;
	for (size_t i = 0; i < root->n && rc == 0; i++) {
		rc = load_label(cal, &cal->labels[i], root->items[i], dir);
		cal->nlabels = i + 1;
	}
	free(dir);
	return rc;
}

/* group_title: how a rubric is named: a named grader's name, a built-in's
 * name, else the start of the rubric. */
static char *group_title(const struct grader *g, const struct judge_grader_info *info)
{
	if (strcmp(g->label, "judge") != 0)
		return xstrdup(g->label);
	if (info->builtin)
		return xasprintf("builtin %s", info->builtin);
	char *ex = grade_excerpt(NULL, info->rubric, strlen(info->rubric));
	char *t = xasprintf("\"%s\"", ex);
	free(ex);
	return t;
}

static size_t find_group(struct calibration *cal, const struct grader *g)
{
	struct judge_grader_info info;
	judge_grader_info(g, &info);
	char *title = group_title(g, &info);
	for (size_t i = 0; i < cal->ngroups; i++) {
		struct group *gr = &cal->groups[i];
		if (strcmp(gr->title, title) == 0 && strcmp(gr->rubric, info.rubric) == 0 &&
		    gr->threshold == info.threshold) {
			free(title);
			return i;
		}
	}
	cal->groups = xreallocarray(cal->groups, cal->ngroups + 1, sizeof(*cal->groups));
	struct group *gr = &cal->groups[cal->ngroups];
	memset(gr, 0, sizeof(*gr));
	gr->title = title;
	gr->rubric = info.rubric;
	gr->threshold = info.threshold;
	buf_init(&gr->notes, BUF_MAX_DEFAULT);
	return cal->ngroups++;
}

/* The transport's callback for one judgement. */
static void slot_done(struct http_result *res, void *user)
{
	struct slot *s = user;
	s->g->ops->finish(s->g->priv, s->call, res, s->rt, &s->res);
	s->call = NULL;
}

/* judge_all: start every label's judge graders and run the judge requests
 * on one transport; -1 when the transport itself fails. */
static int judge_all(struct calibration *cal, const struct transport_options *to)
{
	char *err = NULL;
	struct transport *tr = transport_new(to, &err);
	if (!tr) {
		cmd_error("%s", err);
		free(err);
		return -1;
	}
	for (size_t i = 0; i < cal->nlabels; i++)
		cal->nslots += cal->labels[i].c->nexpect;
	cal->slots = xcalloc(cal->nslots ? cal->nslots : 1, sizeof(*cal->slots));
	size_t n = 0;
	for (size_t i = 0; i < cal->nlabels; i++) {
		const struct label *l = &cal->labels[i];
		for (size_t k = 0; k < l->c->nexpect; k++) {
			const struct grader *g = l->c->expect[k];
			struct judge_grader_info info;
			if (!judge_grader_info(g, &info))
				continue;
			struct slot *s = &cal->slots[n++];
			s->label = l;
			s->g = g;
			s->group = find_group(cal, g);
			s->rt = &cal->rt;
			s->res.grade = GRADE_ERROR;
			struct grade_input in = {
				.reply = &l->reply,
				.subject = l->reply.content,
				.subject_len = strlen(l->reply.content),
				.case_id = l->c->id,
				.target = "eval",
				.input = l->c->input,
				.rt = &cal->rt,
			};
			struct http_request *req = NULL;
			if (g->ops->start(g->priv, &in, &req, &s->call, &s->res) == 0 || !req)
				continue;
			req->pool = POOL_JUDGE;
			req->done = slot_done;
			req->user = s;
			transport_submit(tr, req);
		}
	}
	cal->nslots = n;
	int rc = transport_run(tr, NULL, &err);
	if (rc < 0) {
		cmd_error("%s", err);
		free(err);
	}
	transport_free(tr);
	return rc;
}

/* tally: count every judgement into its group's matrix, or as an error. */
static void tally(struct calibration *cal)
{
	for (size_t i = 0; i < cal->nslots; i++) {
		struct slot *s = &cal->slots[i];
		struct group *gr = &cal->groups[s->group];
		/* Reasons are redacted like a run's: no env value leaves. */
		grade_result_tidy(&s->res, &cal->suite->redact);
		const char *why = s->res.reason ? s->res.reason : "";
		const char *where = cal->labels_path;
		if (s->res.grade == GRADE_ERROR) {
			gr->errors++;
			buf_addf(&gr->notes, "  error: %s (%s:%d): %s\n", s->label->c->id, where,
				 s->label->line, why);
		} else {
			bool judge_pass = s->res.grade == GRADE_PASS;
			gr->c.n[judge_pass ? 0 : 1][s->label->human_pass ? 0 : 1]++;
			if (judge_pass != s->label->human_pass)
				buf_addf(&gr->notes,
					 "  disagree: %s (%s:%d): judge %s, human %s%s%s\n",
					 s->label->c->id, where, s->label->line,
					 judge_pass ? "pass" : "fail",
					 s->label->human_pass ? "pass" : "fail", why[0] ? ": " : "",
					 why);
		}
	}
}

/* print_group: one rubric's figures; whether its kappa reaches min. */
static bool print_group(const struct group *gr, double min_kappa)
{
	const long(*m)[2] = gr->c.n;
	long judged = m[0][0] + m[0][1] + m[1][0] + m[1][1];
	double kappa = judge_kappa(&gr->c);
	double acc = judge_accuracy(&gr->c);
	bool ok = !isnan(kappa) && kappa >= min_kappa;
	printf("rubric %s (threshold %.2f)\n", gr->title, gr->threshold);
	printf("  labels %ld, judged %ld, errors %ld\n", judged + gr->errors, judged, gr->errors);
	if (isnan(acc))
		printf("  accuracy n/a");
	else
		printf("  accuracy %.3f", acc);
	if (isnan(kappa) && judged == 0)
		printf("  kappa n/a (min %.2f): below: no verdict to compare\n", min_kappa);
	else if (isnan(kappa))
		printf("  kappa n/a (min %.2f): below: the judge and the humans gave one verdict "
		       "only; label passing and failing replies\n", min_kappa);
	else
		printf("  kappa %.3f (min %.2f): %s\n", kappa, min_kappa, ok ? "ok" : "below");
	printf("               human pass  human fail\n");
	printf("  judge pass   %10ld  %10ld\n", m[0][0], m[0][1]);
	printf("  judge fail   %10ld  %10ld\n", m[1][0], m[1][1]);
	if (gr->notes.len)
		fputs(gr->notes.data, stdout);
	return ok;
}

static void calibration_release(struct calibration *cal)
{
	for (size_t i = 0; i < cal->nslots; i++)
		grade_result_release(&cal->slots[i].res);
	free(cal->slots);
	for (size_t i = 0; i < cal->ngroups; i++) {
		free(cal->groups[i].title);
		buf_release(&cal->groups[i].notes);
	}
	free(cal->groups);
	for (size_t i = 0; i < cal->nlabels; i++)
		reply_release(&cal->labels[i].reply);
	free(cal->labels);
	ydoc_free(cal->doc);
	judge_cache_close(cal->rt.judge_cache);
	suite_free(cal->suite);
}

static int parse_kappa(const char *arg, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= -1 && v <= 1)) {
		cmd_error("--min-kappa takes a number from -1 to 1, not '%s'", arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* Only the judge and the labelled cases need their environment variables. */
static int check_env(const struct calibration *cal)
{
	bool *selected = xcalloc(cal->suite->ncases, sizeof(*selected));
	for (size_t i = 0; i < cal->nlabels; i++)
		selected[suite_case_index(cal->suite, cal->labels[i].c)] = true;
	int rc = cmd_check_env(cal->suite, 0, selected);
	free(selected);
	return rc;
}

static int cmd_calibrate(int argc, char **argv)
{
	struct suite_options so = {.lazy_env = true};
	struct transport_options to;
	struct calibration cal = {0};
	double min_kappa = 0.6;
	const char *cache_path = NULL;
	bool no_cache = false;
	struct cmd_parser p;
	int opt, rc = EXIT_USAGE;
	long n;

	transport_options_default(&to);
	cmd_parser_init(&p, &cmd_calibrate_entry, argc, argv);
	while ((opt = cmd_parser_next(&p)) > 0) {
		switch (opt) {
		case OPT_MIN_KAPPA:
			if (parse_kappa(p.arg, &min_kappa) < 0)
				return EXIT_USAGE;
			break;
		case OPT_JUDGE_URL:
			so.judge_url = p.arg;
			break;
		case OPT_JUDGE_CONCURRENCY:
			if (cmd_parser_count(&p, 1, 1024, &n) < 0)
				return EXIT_USAGE;
			to.concurrency[POOL_JUDGE] = (int)n;
			break;
		case OPT_JUDGE_CACHE:
			cache_path = p.arg;
			break;
		case OPT_NO_JUDGE_CACHE:
			no_cache = true;
			break;
		}
	}
	if (cmd_parser_end(&p, opt, 2, 2) < 0)
		return p.exit;
	char *err = NULL;
	cal.labels_path = argv[2];
	cal.suite = suite_load(argv[1], &so, &err);
	if (!cal.suite) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	if (!cal.suite->judge.present) {
		cmd_error("%s: the suite has no judge: section", argv[1]);
		goto out;
	}
	if (load_labels(&cal, cal.labels_path) < 0 || check_env(&cal) < 0)
		goto out;
	if (!no_cache) {
		char *path = cache_path ? xstrdup(cache_path) : judge_cache_default_path();
		if (path && !(cal.rt.judge_cache = judge_cache_open(path, &err))) {
			cmd_error("%s", err);
			free(err);
			free(path);
			goto out;
		}
		free(path);
	}
	if (judge_all(&cal, &to) < 0)
		goto out;
	tally(&cal);

	const struct judge_config *j = &cal.suite->judge;
	char *model = redact_apply(&cal.suite->redact, j->model ? j->model : "(none)");
	printf("judge: model %s, api %s, template %s sha256:%.12s\n", model,
	       j->provider->name, JUDGE_PROMPT_VERSION, judge_prompt_hash());
	free(model);
	printf("labels: %zu, judge calls %ld, cache hits %ld\n\n", cal.nlabels,
	       cal.rt.judge_calls, cal.rt.judge_cache_hits);
	size_t below = 0;
	for (size_t i = 0; i < cal.ngroups; i++) {
		if (i)
			putchar('\n');
		below += !print_group(&cal.groups[i], min_kappa);
	}
	putchar('\n');
	if (below) {
		printf("calibrate: %zu of %zu rubrics below kappa %.2f\n", below, cal.ngroups,
		       min_kappa);
		rc = EXIT_FAIL;
	} else {
		printf("calibrate: %zu %s at or above kappa %.2f\n", cal.ngroups,
		       cal.ngroups == 1 ? "rubric" : "rubrics", min_kappa);
		rc = EXIT_PASS;
	}
out:
	calibration_release(&cal);
	return rc;
}

const struct cmd_entry cmd_calibrate_entry = {
	.name = "calibrate",
	.summary = "measure the judge against human labels",
	.help = calibrate_help,
	.operands = "a SUITE and a LABELS.yaml",
	.operand_kind = CMD_VALUE_YAML,
	.options = calibrate_options,
	.exec = cmd_calibrate,
};
