/* run/calibration.c: load human-labelled replies, judge them with their
 * cases' judge graders and count the agreement per rubric. */
#include "run/calibration.h"

#include <stdlib.h>
#include <string.h>

#include "run/grading.h"
#include "run/run.h"
#include "suite/suite.h"
#include "transport/transport.h"
#include "util.h"
#include "ynode.h"

#define REPLY_FILE_MAX ((size_t)8 << 20)

static const char *const label_keys[] = {
	"case", "reply", "reply_file", "tool_calls", "human", NULL,
};
static const char *const tool_call_keys[] = {"name", "arguments", "id", NULL};

/* need_text: 0 when n is a string without a NUL byte; else -1 and *err. */
static int need_text(const struct ynode *n, const char *what, char **err)
{
	if (n->kind != YNODE_SCALAR || (ynode_is_null(n) && n->len == 0))
		*err = ynode_error(n, "'%s' must be a string", what);
	else if (strlen(n->str) != n->len)
		*err = ynode_error(n, "'%s' contains a NUL byte", what);
	else
		return 0;
	return -1;
}

/* find_case: the suite's case named by n, or NULL and *err with a
 * suggestion. */
static const struct suite_case *find_case(const struct suite *s, const struct ynode *n,
					  char **err)
{
	if (need_text(n, "case", err) < 0)
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
		*err = ynode_error(n, "no case '%s' in the suite (did you mean '%s'?)", n->str, hint);
	else
		*err = ynode_error(n, "no case '%s' in the suite", n->str);
	free(ids);
	return NULL;
}

static int load_tool_calls(struct reply *r, const struct ynode *n, char **err)
{
	if (n->kind != YNODE_SEQ) {
		*err = ynode_error(n, "'tool_calls' must be a list of {name, arguments}");
		return -1;
	}
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *tc = n->items[i];
		if (tc->kind != YNODE_MAP) {
			*err = ynode_error(tc, "a tool call must be a mapping {name, arguments}");
			return -1;
		}
		if (ynode_check_keys(tc, tool_call_keys, "in a tool call", err) < 0)
			return -1;
		const struct ynode *name = ynode_get(tc, "name");
		const struct ynode *id = ynode_get(tc, "id");
		const struct ynode *args = ynode_get(tc, "arguments");
		if (!name) {
			*err = ynode_error(tc, "a tool call needs a 'name'");
			return -1;
		}
		if (need_text(name, "name", err) < 0 || (id && need_text(id, "id", err) < 0))
			return -1;
		char *why = NULL;
		cJSON *json = args ? ynode_to_json(args, &why) : NULL;
		if (args && !json) {
			*err = ynode_error(args, "%s", why);
			free(why);
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

static int load_reply(struct calibration_label *l, const struct ynode *item, const char *dir,
		      char **err)
{
	const struct ynode *reply = ynode_get(item, "reply");
	const struct ynode *file = ynode_get(item, "reply_file");
	if (reply && file) {
		*err = ynode_error(file, "a label takes 'reply' or 'reply_file', not both");
		return -1;
	}
	if (!reply && !file) {
		*err = ynode_error(item, "a label needs a 'reply' or a 'reply_file'");
		return -1;
	}
	l->reply.status = 200;
	if (reply) {
		/* An empty reply is allowed: a reply may be tool calls only. */
		if (reply->kind != YNODE_SCALAR || strlen(reply->str) != reply->len) {
			*err = ynode_error(reply, "'reply' must be a string");
			return -1;
		}
		l->reply.content = xstrdup(ynode_is_null(reply) && reply->plain ? "" : reply->str);
		l->reply.content_len = strlen(l->reply.content);
		return 0;
	}
	if (need_text(file, "reply_file", err) < 0)
		return -1;
	char *path = file->str[0] == '/' ? xstrdup(file->str) : xasprintf("%s/%s", dir, file->str);
	char *why = NULL;
	size_t len;
	char *text = util_read_file(path, REPLY_FILE_MAX, &len, &why);
	free(path);
	if (!text) {
		*err = ynode_error(file, "%s", why);
		free(why);
		return -1;
	}
	if (strlen(text) != len) {
		free(text);
		*err = ynode_error(file, "reply_file '%s' contains a NUL byte", file->str);
		return -1;
	}
	l->reply.content = text;
	l->reply.content_len = len;
	return 0;
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

/* find_group: the group of judge grader g (info), added when new. */
static size_t find_group(struct calibration *cal, const struct grader *g,
			 const struct judge_grader_info *info)
{
	char *title = group_title(g, info);
	for (size_t i = 0; i < cal->ngroups; i++) {
		struct calibration_group *gr = &cal->groups[i];
		if (strcmp(gr->title, title) == 0 && strcmp(gr->rubric, info->rubric) == 0 &&
		    gr->threshold == info->threshold) {
			free(title);
			return i;
		}
	}
	cal->groups = xreallocarray(cal->groups, cal->ngroups + 1, sizeof(*cal->groups));
	cal->groups[cal->ngroups] = (struct calibration_group){
		.title = title,
		.rubric = info->rubric,
		.threshold = info->threshold,
	};
	return cal->ngroups++;
}

/* add_judgements: one judgement per judge grader of l's case; -1 and *err
 * (at case) when it has none. */
static int add_judgements(struct calibration *cal, const struct calibration_label *l,
			  const struct ynode *at, char **err)
{
	size_t before = cal->njudgements;
	for (size_t i = 0; i < l->c->nexpect; i++) {
		struct grader *g = l->c->expect[i];
		struct judge_grader_info info;
		if (!judge_grader_info(g, &info))
			continue;
		cal->judgements = xreallocarray(cal->judgements, cal->njudgements + 1,
						sizeof(*cal->judgements));
		cal->judgements[cal->njudgements++] = (struct calibration_judgement){
			.label = l,
			.grader = g,
			.group = find_group(cal, g, &info),
			.grade = GRADE_ERROR,
		};
	}
	if (cal->njudgements > before)
		return 0;
	*err = ynode_error(at, "case '%s' has no judge grader", l->c->id);
	return -1;
}

static int load_label(struct calibration *cal, struct calibration_label *l,
		      const struct ynode *item, const char *dir, char **err)
{
	if (item->kind != YNODE_MAP) {
		*err = ynode_error(item, "a label must be a mapping {case, reply, human}");
		return -1;
	}
	if (ynode_check_keys(item, label_keys, "in a label", err) < 0)
		return -1;
	const struct ynode *c = ynode_get(item, "case");
	const struct ynode *human = ynode_get(item, "human");
	const struct ynode *calls = ynode_get(item, "tool_calls");
	enum grade verdict;
	l->line = item->line;
	if (!c) {
		*err = ynode_error(item, "a label needs a 'case'");
		return -1;
	}
	if (!(l->c = find_case(cal->suite, c, err)))
		return -1;
	if (!human) {
		*err = ynode_error(item, "a label needs 'human: pass' or 'human: fail'");
		return -1;
	}
	if (human->kind != YNODE_SCALAR || grade_parse(human->str, &verdict) < 0 ||
	    verdict == GRADE_ERROR) {
		*err = ynode_error(human, "'human' must be pass or fail");
		return -1;
	}
	l->human_pass = verdict == GRADE_PASS;
	if (load_reply(l, item, dir, err) < 0)
		return -1;
	if (calls && load_tool_calls(&l->reply, calls, err) < 0)
		return -1;
	return add_judgements(cal, l, c, err);
}

struct calibration *calibration_load(struct suite *s, const char *path, const char *data,
				     size_t len, char **err)
{
	struct calibration *cal = xcalloc(1, sizeof(*cal));
	char *dir = NULL;
	int rc = -1;
	cal->suite = s;
	cal->path = path;
	struct ydoc *doc = ydoc_parse(path, data, len, err);
	if (!doc)
		goto out;
	const struct ynode *root = doc->root;
	if (!root || root->kind != YNODE_SEQ || root->n == 0) {
		*err = xasprintf("%s: the labels must be a non-empty list of {case, reply, human}",
				 path);
		goto out;
	}
	cal->labels = xcalloc(root->n, sizeof(*cal->labels));
	dir = labels_dir(path);
	for (size_t i = 0; i < root->n; i++) {
		cal->nlabels = i + 1;
		if (load_label(cal, &cal->labels[i], root->items[i], dir, err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(dir);
	ydoc_free(doc);
	if (rc < 0) {
		calibration_free(cal);
		cal = NULL;
	}
	return cal;
}

/* take_grade: judgement j's grade and reason out of its label's sample
 * (whose graders may have finished in any order). */
static void take_grade(struct calibration_judgement *j, struct sample *smp)
{
	for (size_t i = 0; i < smp->ngrades; i++) {
		struct sample_grade *sg = &smp->grades[i];
		if (sg->grader != j->grader)
			continue;
		j->grade = sg->grade;
		j->reason = sg->reason;
		sg->reason = NULL;
		sg->grader = NULL;
		return;
	}
}

/* count: a judgement into its group: an error, or the matrix cell of the
 * judge's and the human's verdicts. */
static void count(struct calibration *cal, const struct calibration_judgement *j)
{
	struct calibration_group *gr = &cal->groups[j->group];
	if (j->grade == GRADE_ERROR)
		gr->errors++;
	else
		gr->c.n[j->grade == GRADE_PASS ? 0 : 1][j->label->human_pass ? 0 : 1]++;
}

int calibration_judge(struct calibration *cal, const struct transport_options *to,
		      const struct grading_options *go, char **warning, char **err)
{
	struct grading_options o = *go;
	struct grading *g = NULL;
	struct sample *samples = xcalloc(cal->nlabels + 1, sizeof(*samples));
	/* Each label's judge graders, side by side, in judgement order. */
	struct grader **judges = xcalloc(cal->njudgements + 1, sizeof(*judges));
	int rc = -1;
	o.graders = cal->suite->graders;
	o.ngraders = cal->suite->ngraders;
	struct transport *tr = transport_new(to, err);
	if (!tr || !(g = grading_new(tr, &cal->suite->redact, &o, err)))
		goto out;
	if (grading_warning(g))
		*warning = xstrdup(grading_warning(g));
	for (size_t i = 0, k = 0; i < cal->nlabels; i++) {
		struct calibration_label *l = &cal->labels[i];
		size_t first = k;
		for (; k < cal->njudgements && cal->judgements[k].label == l; k++)
			judges[k] = cal->judgements[k].grader;
		struct grading_job job = {
			.graders = judges + first,
			.ngraders = k - first,
			.case_id = l->c->id,
			.target = side_name(SIDE_EVAL),
			.input = l->c->input,
			.sample = &samples[i],
		};
		grading_start(g, &job, &l->reply);
	}
	if (transport_run(tr, o.stop, err) < 0)
		goto out;
	grading_drain(g);
	for (size_t k = 0; k < cal->njudgements; k++) {
		struct calibration_judgement *j = &cal->judgements[k];
		take_grade(j, &samples[j->label - cal->labels]);
		count(cal, j);
	}
	cal->judge_calls = grading_runtime(g)->judge_calls;
	cal->judge_cache_hits = grading_runtime(g)->judge_cache_hits;
	rc = 0;
out:
	transport_free(tr);
	grading_free(g);
	for (size_t i = 0; i < cal->nlabels; i++)
		sample_release(&samples[i]);
	free(samples);
	free(judges);
	return rc;
}

void calibration_free(struct calibration *cal)
{
	if (!cal)
		return;
	for (size_t i = 0; i < cal->njudgements; i++)
		free(cal->judgements[i].reason);
	free(cal->judgements);
	for (size_t i = 0; i < cal->ngroups; i++)
		free(cal->groups[i].title);
	free(cal->groups);
	for (size_t i = 0; i < cal->nlabels; i++)
		reply_release(&cal->labels[i].reply);
	free(cal->labels);
	free(cal);
}
