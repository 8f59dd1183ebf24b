/* report/load.c: a saved JSON report read into the model: parsed, checked
 * field by field (so that no renderer meets a value it cannot show), and
 * laid out in suite order. */
#include "report/report.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "stats.h"
#include "util.h"

#define REPORT_STR_(x) #x
#define REPORT_STR(x) REPORT_STR_(x)

/*
 * Reading a checked tree: the value at key, or a zero when absent or of
 * another type.
 */

static const char *tree_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double tree_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : 0;
}

static int tree_int(const cJSON *o, const char *key)
{
	double v = tree_num(o, key);

	if (v > INT_MAX)
		return INT_MAX;
	if (v < -INT_MAX)
		return -INT_MAX;
	return (int)v;
}


/*
 * Checking a tree.  Each rule names a field, the kind of value it must
 * hold, and for objects and arrays of objects the rules of what is inside.
 */

enum kind {
	K_STRING,
	K_STRING_OR_NULL,
	K_COUNT,        /* a whole number from 0 to INT_MAX */
	K_SMALL,        /* a whole number from 0 to REPORT_COUNT_MAX */
	K_WHOLE,        /* a whole number from -INT_MAX to INT_MAX */
	K_NUMBER,       /* a number from 0 to 1e15 (so that it fits a long) */
	K_BOOL,
	K_VERDICT,
	K_GRADE,
	K_STRINGS,      /* an array of strings */
	K_NUMBERS,      /* an array of two numbers from 0 to 1e15 */
	K_COUNTS,       /* an object of counts */
	K_OBJECT,       /* an object, checked with rules */
	K_OBJECTS,      /* an array of objects, each checked with rules */
};

struct rule {
	const char *key;
	enum kind kind;
	bool optional;         /* may be absent; checked when present */
	const struct rule *rules; /* K_OBJECT, K_OBJECTS: ends with {NULL} */
};

static const struct rule grade_rules[] = {
	{"grader", K_STRING, false, NULL},
	{"grade", K_GRADE, false, NULL},
	{"score", K_NUMBER, false, NULL},
	{"reason", K_STRING, true, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule usage_rules[] = {
	{"input", K_NUMBER, true, NULL},
	{"output", K_NUMBER, true, NULL},
	{"total", K_NUMBER, true, NULL},
	{"cached", K_NUMBER, true, NULL},
	{"reasoning", K_NUMBER, true, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule step_rules[] = {
	{"status", K_WHOLE, false, NULL},
	{"latency_ms", K_NUMBER, false, NULL},
	{"tool_calls", K_STRINGS, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule turn_rules[] = {
	{"grade", K_GRADE, false, NULL},
	{"reasons", K_STRINGS, false, NULL},
	{"steps", K_OBJECTS, false, step_rules},
	{NULL, K_STRING, false, NULL},
};

static const struct rule sample_rules[] = {
	{"index", K_SMALL, false, NULL},
	{"grade", K_GRADE, false, NULL},
	{"status", K_WHOLE, false, NULL},
	{"latency_ms", K_NUMBER, false, NULL},
	{"start_ms", K_NUMBER, true, NULL},
	{"ttft_ms", K_NUMBER, true, NULL},
	{"attempts", K_SMALL, false, NULL},
	{"reasons", K_STRINGS, false, NULL},
	{"fingerprint", K_STRING, true, NULL},
	{"reply_file", K_STRING, true, NULL},
	{"response_id", K_STRING, true, NULL},
	{"response_model", K_STRING, true, NULL},
	{"grades", K_OBJECTS, true, grade_rules},
	{"usage", K_OBJECT, true, usage_rules},
	{"turns", K_OBJECTS, true, turn_rules},
	{NULL, K_STRING, false, NULL},
};

static const struct rule side_rules[] = {
	{"passed", K_SMALL, false, NULL},
	{"failed", K_SMALL, false, NULL},
	{"errors", K_SMALL, false, NULL},
	{"total", K_SMALL, false, NULL},
	{"first_passed", K_SMALL, true, NULL},
	{"first_failed", K_SMALL, true, NULL},
	{"rate", K_NUMBER, false, NULL},
	{"measured", K_BOOL, false, NULL},
	{"ok", K_BOOL, false, NULL},
	{"interval", K_NUMBERS, true, NULL},
	{"failures", K_STRINGS, false, NULL},
	{"samples", K_OBJECTS, false, sample_rules},
	{NULL, K_STRING, false, NULL},
};

static const struct rule case_rules[] = {
	{"id", K_STRING, false, NULL},
	{"stratum", K_STRING, false, NULL},
	{"position", K_COUNT, true, NULL},
	{"verdict", K_VERDICT, false, NULL},
	{"threshold", K_NUMBER, false, NULL},
	{"repeat", K_SMALL, false, NULL},
	{"confirmed", K_BOOL, true, NULL},
	{"confirmed_by_stratum", K_BOOL, true, NULL},
	{"confirm", K_SMALL, true, NULL},
	{"repeated", K_BOOL, true, NULL},
	{"p_value", K_NUMBER, true, NULL},
	{"p_least", K_NUMBER, true, NULL},
	{"p_below", K_NUMBER, true, NULL},
	{"below", K_BOOL, true, NULL},
	{"note", K_STRING, true, NULL},
	{"eval", K_OBJECT, false, side_rules},
	{"prod", K_OBJECT, false, side_rules},
	{NULL, K_STRING, false, NULL},
};

static const struct rule skipped_rules[] = {
	{"id", K_STRING, false, NULL},
	{"stratum", K_STRING, false, NULL},
	{"position", K_COUNT, true, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule pass_count_rules[] = {
	{"passed", K_COUNT, false, NULL},
	{"total", K_COUNT, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule stratum_rules[] = {
	{"name", K_STRING, false, NULL},
	{"description", K_STRING, true, NULL},
	{"cases", K_COUNT, false, NULL},
	{"verdict", K_VERDICT, false, NULL},
	{"eval", K_OBJECT, false, pass_count_rules},
	{"prod", K_OBJECT, false, pass_count_rules},
	{"diff", K_WHOLE, false, NULL},
	{"tested", K_BOOL, true, NULL},
	{"p_cmh", K_NUMBER, true, NULL},
	{"p_value", K_NUMBER, true, NULL},
	{"p_least", K_NUMBER, true, NULL},
	{"p_adjusted", K_NUMBER, true, NULL},
	{"significant", K_BOOL, true, NULL},
	{"effect", K_STRING, true, NULL},
	{"counts", K_COUNTS, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule price_rules[] = {
	{"input", K_NUMBER, false, NULL},
	{"output", K_NUMBER, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule target_rules[] = {
	{"url", K_STRING_OR_NULL, false, NULL},
	{"api", K_STRING, true, NULL},
	{"model", K_STRING, true, NULL},
	{"price", K_OBJECT, true, price_rules},
	{"fingerprints", K_COUNTS, false, NULL},
	{"expected", K_STRING, true, NULL},
	{"unexpected", K_STRINGS, true, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule targets_rules[] = {
	{"eval", K_OBJECT, false, target_rules},
	{"prod", K_OBJECT, false, target_rules},
	{NULL, K_STRING, false, NULL},
};

static const struct rule fingerprint_diff_rules[] = {
	{"unevaluated", K_STRINGS, false, NULL},
	{"differing", K_STRINGS, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule shard_rules[] = {
	{"index", K_COUNT, false, NULL},
	{"count", K_COUNT, false, NULL},
	{"others", K_COUNT, true, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule judge_rules[] = {
	{"model", K_STRING_OR_NULL, true, NULL},
	{"api", K_STRING_OR_NULL, true, NULL},
	{"template", K_STRING_OR_NULL, true, NULL},
	{"template_hash", K_STRING_OR_NULL, true, NULL},
	{"calls", K_COUNT, true, NULL},
	{"cache_hits", K_COUNT, true, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule budget_rules[] = {
	{"tokens", K_NUMBER, true, NULL},
	{"usd", K_NUMBER, true, NULL},
	{"spent_tokens", K_NUMBER, false, NULL},
	{"spent_usd", K_NUMBER, false, NULL},
	{"reached", K_BOOL, false, NULL},
	{"not_run", K_COUNT, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule history_rules[] = {
	{"unevaluated", K_STRINGS, true, NULL},
	{"new_since_last", K_STRINGS, true, NULL},
	{"previous_run", K_BOOL, true, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule replay_rules[] = {
	{"log", K_STRING, false, NULL},
	{"lines", K_COUNT, false, NULL},
	{"replayed", K_COUNT, false, NULL},
	{"unreadable", K_COUNT, false, NULL},
	{"unmatched", K_COUNT, false, NULL},
	{"sampled_out", K_COUNT, false, NULL},
	{"over_limit", K_COUNT, false, NULL},
	{"problems", K_STRINGS, false, NULL},
	{NULL, K_STRING, false, NULL},
};

static const struct rule report_rules[] = {
	{"canary_version", K_STRING, true, NULL},
	{"suite", K_STRING, false, NULL},
	{"suite_cases", K_COUNT, true, NULL},
	{"suite_strata", K_STRINGS, true, NULL},
	{"shard", K_OBJECT, true, shard_rules},
	{"started_at", K_STRING, false, NULL},
	{"duration_ms", K_NUMBER, false, NULL},
	{"verdict", K_VERDICT, false, NULL},
	{"exit_code", K_COUNT, false, NULL},
	{"interrupted", K_BOOL, false, NULL},
	{"alpha", K_NUMBER, true, NULL},
	{"min_valid", K_NUMBER, true, NULL},
	{"confirm", K_SMALL, true, NULL},
	{"strict", K_BOOL, true, NULL},
	{"fail_on_unevaluated", K_BOOL, true, NULL},
	{"selected", K_COUNT, false, NULL},
	{"filtered", K_COUNT, false, NULL},
	{"samples", K_COUNT, false, NULL},
	{"confirm_samples", K_COUNT, true, NULL},
	{"requests", K_COUNT, true, NULL},
	{"attempts", K_COUNT, true, NULL},
	{"retries", K_COUNT, true, NULL},
	{"targets", K_OBJECT, false, targets_rules},
	{"judge", K_OBJECT, true, judge_rules},
	{"budget", K_OBJECT, true, budget_rules},
	{"history", K_OBJECT, true, history_rules},
	{"replay", K_OBJECT, true, replay_rules},
	{"fingerprint_diff", K_OBJECT, true, fingerprint_diff_rules},
	{"strata", K_OBJECTS, false, stratum_rules},
	{"cases", K_OBJECTS, false, case_rules},
	{"skipped", K_OBJECTS, true, skipped_rules},
	{NULL, K_STRING, false, NULL},
};

static bool is_whole(const cJSON *v, double lo, double hi)
{
	return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= lo &&
	       v->valuedouble <= hi && floor(v->valuedouble) == v->valuedouble;
}

/* Where a checked value is: a chain of keys and array indexes, formatted
 * only for a message. */
struct check_path {
	const struct check_path *up;
	const char *key;       /* NULL for an array element */
	size_t index;
};

static void path_add(struct buf *b, const struct check_path *p)
{
	if (!p)
		return;
	path_add(b, p->up);
	if (p->key)
		buf_addf(b, "%s%s", p->up ? "." : "", p->key);
	else
		buf_addf(b, "[%zu]", p->index);
}

static char *path_error(const struct check_path *p, const char *what)
{
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addch(&b, '\'');
	path_add(&b, p);
	buf_addf(&b, "' %s", what);
	return buf_detach(&b, NULL);
}

static int check_object(const cJSON *o, const struct check_path *path, const struct rule *rules,
			char **err);

/* check_value: v against rule; what it should have been in *what. */
static int check_value(const cJSON *v, const struct check_path *path, const struct rule *rule,
		       const char **what, char **err)
{
	const cJSON *item;
	enum verdict verdict;
	enum grade grade;
	size_t i = 0;

	switch (rule->kind) {
	case K_STRING:
		*what = "a string";
		return cJSON_IsString(v) ? 0 : -1;
	case K_STRING_OR_NULL:
		*what = "a string or null";
		return cJSON_IsString(v) || cJSON_IsNull(v) ? 0 : -1;
	case K_COUNT:
		*what = "a whole number from 0";
		return is_whole(v, 0, INT_MAX) ? 0 : -1;
	case K_SMALL:
		*what = "a whole number from 0 to " REPORT_STR(REPORT_COUNT_MAX);
		return is_whole(v, 0, REPORT_COUNT_MAX) ? 0 : -1;
	case K_WHOLE:
		*what = "a whole number";
		return is_whole(v, -INT_MAX, INT_MAX) ? 0 : -1;
	case K_NUMBER:
		*what = "a number from 0 to 1e15";
		return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e15 ? 0 : -1;
	case K_BOOL:
		*what = "true or false";
		return cJSON_IsBool(v) ? 0 : -1;
	case K_VERDICT:
		*what = "a verdict (pass, flaky, error, eval-regression, regression, drift)";
		return cJSON_IsString(v) && verdict_parse(v->valuestring, &verdict) == 0 ? 0 : -1;
	case K_GRADE:
		*what = "a grade (pass, fail, error)";
		return cJSON_IsString(v) && grade_parse(v->valuestring, &grade) == 0 ? 0 : -1;
	case K_STRINGS:
		*what = "an array of strings";
		if (!cJSON_IsArray(v))
			return -1;
		cJSON_ArrayForEach(item, v)
			if (!cJSON_IsString(item))
				return -1;
		return 0;
	case K_NUMBERS:
		*what = "an array of two numbers from 0";
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
			return -1;
		cJSON_ArrayForEach(item, v)
			if (!cJSON_IsNumber(item) || item->valuedouble < 0 ||
			    item->valuedouble > 1e15)
				return -1;
		return 0;
	case K_COUNTS:
		*what = "an object of whole numbers from 0";
		if (!cJSON_IsObject(v))
			return -1;
		cJSON_ArrayForEach(item, v)
			if (!is_whole(item, 0, INT_MAX))
				return -1;
		return 0;
	case K_OBJECT:
		*what = "an object";
		if (!cJSON_IsObject(v))
			return -1;
		return check_object(v, path, rule->rules, err) < 0 ? -2 : 0;
	case K_OBJECTS:
		*what = "an array of objects";
		if (!cJSON_IsArray(v))
			return -1;
		cJSON_ArrayForEach(item, v) {
			struct check_path sub = {path, NULL, i++};
			if (!cJSON_IsObject(item)) {
				*err = path_error(&sub, "is not an object");
				return -2;
			}
			if (check_object(item, &sub, rule->rules, err) < 0)
				return -2;
		}
		return 0;
	}
	return -1;
}

/* check_object: every rule's field of o; path says where o is. */
static int check_object(const cJSON *o, const struct check_path *path, const struct rule *rules,
			char **err)
{
	for (const struct rule *rule = rules; rule->key; rule++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, rule->key);
		struct check_path sub = {path, rule->key, 0};
		const char *what = "";
		if (!v) {
			if (rule->optional)
				continue;
			*err = path_error(&sub, "is missing");
			return -1;
		}
		int rc = check_value(v, &sub, rule, &what, err);
		if (rc == -1) {
			char *is_not = xasprintf("is not %s", what);
			*err = path_error(&sub, is_not);
			free(is_not);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* check_counts: what the rules cannot say: each side's passed, failed and
 * errors add up to its total, which is no more than the case's repeat or
 * the samples it lists, and no stratum passes more cases than it has. */
static int check_counts(const cJSON *report, char **err)
{
	const cJSON *o;
	size_t i = 0;

	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(report, "cases")) {
		long repeat = (long)tree_int(o, "repeat") + tree_int(o, "confirm");
		for (int side = 0; side < SIDE__COUNT; side++) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, side_name((enum side)side));
			long sum = (long)tree_int(s, "passed") + tree_int(s, "failed") +
				   tree_int(s, "errors");
			long total = tree_int(s, "total");
			long listed = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "samples"));
			if (sum != total) {
				*err = xasprintf("'cases[%zu].%s.total' is %ld, not passed + failed + "
						 "errors (%ld)", i, side_name((enum side)side), total, sum);
				return -1;
			}
			if (total > repeat && total > listed) {
				*err = xasprintf("'cases[%zu].%s.total' is %ld, more than the case's "
						 "repeat and confirm (%ld) and the samples listed (%ld)", i,
						 side_name((enum side)side), total, repeat, listed);
				return -1;
			}
		}
		i++;
	}
	i = 0;
	cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(report, "strata")) {
		for (int side = 0; side < SIDE__COUNT; side++) {
			const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, side_name((enum side)side));
			if (tree_int(s, "passed") > tree_int(s, "total")) {
				*err = xasprintf("'strata[%zu].%s.passed' is %d, more than its total "
						 "(%d)", i, side_name((enum side)side), tree_int(s, "passed"),
						 tree_int(s, "total"));
				return -1;
			}
		}
		i++;
	}
	return 0;
}

static int check_report(const cJSON *report, char **err)
{
	const cJSON *version = cJSON_GetObjectItemCaseSensitive(report, "canary_report");

	if (!cJSON_IsObject(report)) {
		*err = xstrdup("not a canary report (not a JSON object)");
		return -1;
	}
	if (!version) {
		*err = xstrdup("not a canary report (no 'canary_report' field)");
		return -1;
	}
	if (!cJSON_IsNumber(version)) {
		*err = xstrdup("not a canary report ('canary_report' is not a number)");
		return -1;
	}
	if (version->valuedouble != REPORT_VERSION) {
		*err = xasprintf("unsupported canary_report version %g (this canary reads "
				 "version %d)", version->valuedouble, REPORT_VERSION);
		return -1;
	}
	if (check_object(report, NULL, report_rules, err) < 0)
		return -1;
	return check_counts(report, err);
}

/* json_position: "line L, column C" of offset in text. */
static void json_position(const char *text, size_t offset, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/*
 * The model from a checked tree.
 */

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* str_or_null: the string at key, or NULL when absent or not a string. */
static const char *str_or_null(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* num_or: the number at key, or dflt when absent. */
static double num_or(const cJSON *o, const char *key, double dflt)
{
	return get(o, key) ? tree_num(o, key) : dflt;
}

static bool is_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(get(o, key));
}

static enum verdict verdict_of(const cJSON *o)
{
	enum verdict v = VERDICT_ERROR;

	verdict_parse(tree_str(o, "verdict"), &v);
	return v;
}

static void load_names(struct report *r, struct report_names *l, const cJSON *array)
{
	const cJSON *s;

	cJSON_ArrayForEach(s, array)
		if (cJSON_IsString(s))
			report_names_add(r, l, s->valuestring);
}

/* load_turns: a conversation sample's turns (none when turns is NULL). */
static void load_turns(struct report *r, struct report_sample *s, const cJSON *turns)
{
	const cJSON *turn, *step, *v;
	size_t t = 0;

	if (!turns)
		return;
	report_sample_turns(r, s, (size_t)cJSON_GetArraySize(turns));
	cJSON_ArrayForEach(turn, turns) {
		struct report_turn *rt = &s->turns[t++];
		const cJSON *reasons = get(turn, "reasons"), *steps = get(turn, "steps");
		size_t k = 0;

		rt->grade = GRADE_ERROR;
		grade_parse(tree_str(turn, "grade"), &rt->grade);
		rt->reasons = report_strings(r, (size_t)cJSON_GetArraySize(reasons));
		cJSON_ArrayForEach(v, reasons)
			rt->reasons[rt->nreasons++] = report_intern(r, v->valuestring);
		report_turn_steps(r, rt, (size_t)cJSON_GetArraySize(steps));
		cJSON_ArrayForEach(step, steps) {
			struct report_step *st = &rt->steps[k++];
			const cJSON *calls = get(step, "tool_calls");

			st->status = tree_int(step, "status");
			st->latency_ms = tree_num(step, "latency_ms");
			st->calls = report_strings(r, (size_t)cJSON_GetArraySize(calls));
			cJSON_ArrayForEach(v, calls)
				st->calls[st->ncalls++] = report_intern(r, v->valuestring);
		}
	}
}

static void load_sample(struct report *r, struct report_sample *s, const cJSON *o)
{
	const cJSON *reasons = get(o, "reasons"), *reason;
	const cJSON *grades = get(o, "grades"), *grade;
	size_t k = 0;

	s->index = tree_int(o, "index");
	s->grade = GRADE_ERROR;
	grade_parse(tree_str(o, "grade"), &s->grade);
	s->status = tree_int(o, "status");
	s->latency_ms = tree_num(o, "latency_ms");
	s->start_ms = tree_num(o, "start_ms");
	s->ttft_ms = get(o, "ttft_ms") ? tree_num(o, "ttft_ms") : -1;
	s->attempts = tree_int(o, "attempts");
	s->fingerprint = report_intern(r, str_or_null(o, "fingerprint"));
	s->reply_file = report_strdup(r, str_or_null(o, "reply_file"));
	s->response_id = report_strdup(r, str_or_null(o, "response_id"));
	s->response_model = report_intern(r, str_or_null(o, "response_model"));
	for (const struct report_usage_field *f = report_usage_fields; f->name; f++)
		if (get(get(o, "usage"), f->name))
			*(long long *)((char *)&s->usage + f->offset) =
				(long long)tree_num(get(o, "usage"), f->name);
	report_sample_grades(r, s, (size_t)cJSON_GetArraySize(grades));
	cJSON_ArrayForEach(grade, grades) {
		struct report_grade *g = &s->grades[k++];
		g->grader = report_intern(r, tree_str(grade, "grader"));
		g->reason = report_intern(r, str_or_null(grade, "reason"));
		g->score = tree_num(grade, "score");
		g->grade = GRADE_ERROR;
		grade_parse(tree_str(grade, "grade"), &g->grade);
	}
	report_sample_reasons(r, s, (size_t)cJSON_GetArraySize(reasons));
	cJSON_ArrayForEach(reason, reasons)
		s->reasons[s->nreasons++] = report_intern(r, reason->valuestring);
	load_turns(r, s, get(o, "turns"));
}

static void load_side(struct report *r, struct report_side *s, const cJSON *o)
{
	const cJSON *samples = get(o, "samples"), *sample;
	size_t k = 0;

	s->passed = tree_int(o, "passed");
	s->failed = tree_int(o, "failed");
	s->errors = tree_int(o, "errors");
	/* Reports without the first counts come from runs without confirmation. */
	bool first = get(o, "first_passed") != NULL;
	s->first_passed = first ? tree_int(o, "first_passed") : s->passed;
	s->first_failed = first ? tree_int(o, "first_failed") : s->failed;
	report_side_samples(r, s, (size_t)cJSON_GetArraySize(samples));
	cJSON_ArrayForEach(sample, samples)
		load_sample(r, &s->samples[k++], sample);
}

/* load_case: an element of "cases" or (skipped) of "skipped". */
static void load_case(struct report *r, const cJSON *o, bool skipped)
{
	struct report_case *c = report_add_case(r, tree_str(o, "id"),
						report_stratum_index(r, tree_str(o, "stratum")));

	c->position = get(o, "position") ? (long)tree_num(o, "position") : -1;
	c->skipped = skipped;
	if (skipped)
		return;
	c->verdict = verdict_of(o);
	c->threshold = tree_num(o, "threshold");
	c->repeat = tree_int(o, "repeat");
	c->confirm = tree_int(o, "confirm");
	c->confirmed = is_true(o, "confirmed");
	c->by_stratum = is_true(o, "confirmed_by_stratum");
	c->p_value = num_or(o, "p_value", 1.0);
	c->p_least = num_or(o, "p_least", 1.0);
	c->p_below = num_or(o, "p_below", 1.0);
	c->below = is_true(o, "below");
	c->note = *tree_str(o, "note") ? report_intern(r, tree_str(o, "note")) : NULL;
	for (int side = 0; side < SIDE__COUNT; side++)
		load_side(r, &c->side[side], get(o, side_name((enum side)side)));
}

/* load_stratum: a "strata" entry, unless its name had one already. */
static void load_stratum(struct report *r, const cJSON *o)
{
	size_t index = report_stratum_index(r, tree_str(o, "name"));
	struct report_stratum *s = &r->strata[index];
	const char *effect = tree_str(o, "effect");

	if (s->selected)
		return;
	s->selected = true;
	s->description = report_strdup(r, str_or_null(o, "description"));
	s->ncases = tree_int(o, "cases");
	for (int side = 0; side < SIDE__COUNT; side++)
		s->passed[side] = tree_int(get(o, side_name((enum side)side)), "passed");
	for (int v = 0; v < VERDICT__COUNT; v++)
		s->counts[v] = tree_int(get(o, "counts"), verdict_name((enum verdict)v));
	s->verdict = verdict_of(o);
	s->tested = is_true(o, "tested");
	s->p_cmh = tree_num(o, "p_cmh");
	s->p_value = tree_num(o, "p_value");
	s->p_least = tree_num(o, "p_least");
	s->p_adjusted = tree_num(o, "p_adjusted");
	s->significant = is_true(o, "significant");
	s->direction = strcmp(effect, "drift") == 0 ? 1
		       : strcmp(effect, "eval-regression") == 0 ? -1 : 0;
}

static void load_targets(struct report *r, const cJSON *targets)
{
	for (int side = 0; side < SIDE__COUNT; side++) {
		const cJSON *t = get(targets, side_name((enum side)side)), *fp;
		r->targets[side].url = report_strdup(r, str_or_null(t, "url"));
		r->targets[side].api = report_strdup(r, str_or_null(t, "api"));
		r->targets[side].model = report_strdup(r, str_or_null(t, "model"));
		r->targets[side].priced = get(t, "price") != NULL;
		r->targets[side].price_input = tree_num(get(t, "price"), "input");
		r->targets[side].price_output = tree_num(get(t, "price"), "output");
		r->targets[side].expected = report_strdup(r, str_or_null(t, "expected"));
		load_names(r, &r->targets[side].unexpected, get(t, "unexpected"));
		cJSON_ArrayForEach(fp, get(t, "fingerprints"))
			report_add_fingerprint(r, (enum side)side, fp->string,
					       (long)fp->valuedouble);
	}
}

static void load_budget(struct report_budget *b, const cJSON *o)
{
	b->present = o != NULL;
	b->tokens = (long long)tree_num(o, "tokens");
	b->usd = tree_num(o, "usd");
	b->spent_tokens = (long long)tree_num(o, "spent_tokens");
	b->spent_usd = tree_num(o, "spent_usd");
	b->reached = is_true(o, "reached");
	b->not_run = tree_int(o, "not_run");
}

static void load_judge(struct report *r, const cJSON *judge)
{
	if (!cJSON_IsObject(judge))
		return;
	r->judge.present = true;
	r->judge.model = report_strdup(r, str_or_null(judge, "model"));
	r->judge.api = report_strdup(r, str_or_null(judge, "api"));
	r->judge.template = report_strdup(r, str_or_null(judge, "template"));
	r->judge.template_hash = report_strdup(r, str_or_null(judge, "template_hash"));
	r->judge.calls = tree_int(judge, "calls");
	r->judge.cache_hits = tree_int(judge, "cache_hits");
}

/* Strata are numbered as met: "suite_strata" first, then "strata", then the
 * cases' and skipped cases' strata. */
static struct report *model_of_tree(const cJSON *t)
{
	struct report *r = report_new();
	const cJSON *o, *shard = get(t, "shard"), *history = get(t, "history");
	const cJSON *diff = get(t, "fingerprint_diff"), *replay = get(t, "replay");

	r->canary_version = report_strdup(r, str_or_null(t, "canary_version"));
	r->suite = report_strdup(r, tree_str(t, "suite"));
	r->suite_cases = get(t, "suite_cases") ? (long)tree_num(t, "suite_cases") : -1;
	r->has_suite_strata = get(t, "suite_strata") != NULL;
	r->has_skipped = get(t, "skipped") != NULL;
	load_names(r, &r->suite_strata, get(t, "suite_strata"));
	for (size_t i = 0; i < r->suite_strata.n; i++)
		report_stratum_index(r, r->suite_strata.v[i]);
	if (shard) {
		r->shard_index = tree_int(shard, "index");
		r->shard_count = tree_int(shard, "count");
		r->shard_others = tree_int(shard, "others");
	}
	r->started_at = report_strdup(r, tree_str(t, "started_at"));
	r->started_ms = -1;
	r->duration_ms = tree_num(t, "duration_ms");
	r->verdict = verdict_of(t);
	r->exit_code = tree_int(t, "exit_code");
	r->interrupted = is_true(t, "interrupted");
	r->alpha = tree_num(t, "alpha");
	r->min_valid = num_or(t, "min_valid", STATS_MIN_VALID_DEFAULT);
	r->confirm = tree_int(t, "confirm");
	r->strict = is_true(t, "strict");
	r->fail_on_unevaluated = is_true(t, "fail_on_unevaluated");
	r->filtered = tree_int(t, "filtered");
	r->requests = tree_int(t, "requests");
	r->attempts = tree_int(t, "attempts");
	r->retries = tree_int(t, "retries");
	load_targets(r, get(t, "targets"));
	load_judge(r, get(t, "judge"));
	load_budget(&r->budget, get(t, "budget"));
	if (cJSON_IsObject(history)) {
		r->history.present = true;
		load_names(r, &r->history.unevaluated, get(history, "unevaluated"));
		load_names(r, &r->history.new_since_last, get(history, "new_since_last"));
		r->history.previous_run = is_true(history, "previous_run");
	}
	if (cJSON_IsObject(replay)) {
		struct report_replay *rp = &r->replay;
		rp->present = true;
		rp->log = report_strdup(r, tree_str(replay, "log"));
		rp->lines = tree_int(replay, "lines");
		rp->replayed = tree_int(replay, "replayed");
		rp->unreadable = tree_int(replay, "unreadable");
		rp->unmatched = tree_int(replay, "unmatched");
		rp->sampled_out = tree_int(replay, "sampled_out");
		rp->over_limit = tree_int(replay, "over_limit");
		load_names(r, &rp->problems, get(replay, "problems"));
	}
	load_names(r, &r->unevaluated, get(diff, "unevaluated"));
	load_names(r, &r->differing, get(diff, "differing"));
	cJSON_ArrayForEach(o, get(t, "strata"))
		load_stratum(r, o);
	cJSON_ArrayForEach(o, get(t, "cases"))
		load_case(r, o, false);
	cJSON_ArrayForEach(o, get(t, "skipped"))
		load_case(r, o, true);
	report_sort_cases(r);
	return r;
}

/* parse_tree: text as one JSON value and nothing after it. */
static cJSON *parse_tree(const char *name, const char *text, size_t len, char **err)
{
	const char *end = NULL;
	cJSON *tree = cJSON_ParseWithLengthOpts(text, len, &end, false);
	int line, col;

	if (tree && end) {
		while (end < text + len && strchr(" \t\r\n", *end) && *end)
			end++;
		if (end < text + len) {
			cJSON_Delete(tree);
			tree = NULL;
		}
	}
	if (!tree) {
		const char *at = end ? end : cJSON_GetErrorPtr();
		size_t offset = at && at >= text && at <= text + len ? (size_t)(at - text) : len;
		json_position(text, offset, &line, &col);
		*err = len == 0 ? xasprintf("'%s' is empty, not a canary report", name)
				: xasprintf("'%s' is not valid JSON (line %d, column %d)", name,
					    line, col);
	}
	return tree;
}

struct report *report_parse(const char *name, const char *text, size_t len, char **err)
{
	cJSON *tree = parse_tree(name, text, len, err);
	struct report *r = NULL;
	char *why = NULL;

	if (!tree)
		return NULL;
	if (check_report(tree, &why) < 0) {
		*err = xasprintf("'%s': %s", name, why);
		free(why);
	} else {
		r = model_of_tree(tree);
	}
	cJSON_Delete(tree);
	return r;
}

/* read_report: the text of a report file ("-": standard input) and the
 * name messages give it. */
static char *read_report(const char *path, const char **name, size_t *len, char **err)
{
	bool is_stdin = strcmp(path, "-") == 0;

	*name = is_stdin ? "standard input" : path;
	return is_stdin ? util_read_stream(stdin, *name, REPORT_FILE_MAX, len, err)
			: util_read_file(path, REPORT_FILE_MAX, len, err);
}

struct report *report_load(const char *path, char **err)
{
	const char *name;
	size_t len = 0;
	char *text = read_report(path, &name, &len, err);

	if (!text)
		return NULL;
	struct report *r = report_parse(name, text, len, err);
	free(text);
	return r;
}

