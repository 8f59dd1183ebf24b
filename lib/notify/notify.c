/* notify/notify.c: when to tell a webhook about a suite, and what. */
#include "notify/notify.h"

#include <stdlib.h>
#include <string.h>

#include "history/history.h"
#include "report/report.h"
#include "transport/transport.h"
#include "util.h"

/* Reasons and names in the payload are cut to about this many bytes. */
#define NOTIFY_REASON_MAX 300
#define NOTIFY_VALUE_MAX 4096
#define NOTIFY_TIMEOUT_MS 10000

static const char *const kind_names[] = {"none", "change", "recovery", "reminder", "strata"};

const char *notify_kind_name(enum notify_kind k)
{
	return (unsigned)k < ARRAY_SIZE(kind_names) ? kind_names[k] : "none";
}

const char *notify_state(const struct report *r)
{
	if (r->interrupted || r->exit_code == EXIT_INTERRUPTED)
		return NULL;
	if (r->exit_code == EXIT_PASS)
		return "pass";
	const struct report_fingerprint_failure *ff = report_fingerprint_failure(r);
	if (ff && !verdict_failing(r->verdict))
		return ff->state;
	return verdict_name(r->verdict);
}

static bool unknown(const char *state)
{
	return !state || !*state || strcmp(state, "unknown") == 0;
}

enum notify_kind notify_decide(const char *prev_state, const char *new_state,
			       long long last_sent_ms, long long now_ms, long remind_ms)
{
	if (!new_state)
		return NOTIFY_NONE;
	bool pass = strcmp(new_state, "pass") == 0;
	if (unknown(prev_state))
		return pass ? NOTIFY_NONE : NOTIFY_CHANGE;
	if (strcmp(prev_state, new_state) != 0)
		return pass ? NOTIFY_RECOVERY : NOTIFY_CHANGE;
	if (!pass && remind_ms > 0 && now_ms - last_sent_ms >= remind_ms)
		return NOTIFY_REMINDER;
	return NOTIFY_NONE;
}

enum notify_kind notify_decide_strata(const char *prev_state, const char *new_state,
				      const char *prev_strata, const char *new_strata,
				      long long last_sent_ms, long long now_ms, long remind_ms)
{
	enum notify_kind k = notify_decide(prev_state, new_state, last_sent_ms, now_ms, remind_ms);
	if ((k == NOTIFY_NONE || k == NOTIFY_REMINDER) && new_state && !unknown(prev_state) &&
	    prev_strata && new_strata && strcmp(prev_strata, new_strata) != 0)
		return NOTIFY_STRATA;
	return k;
}

bool notify_should_send(const char *prev_state, const char *new_state, long long last_sent_ms,
			long long now_ms, long remind_ms)
{
	return notify_decide(prev_state, new_state, last_sent_ms, now_ms, remind_ms) !=
	       NOTIFY_NONE;
}

/* slack_escape: s for Slack's text, where &, < and > are control
 * characters; invalid UTF-8 replaced and long strings cut. */
static void slack_escape(struct buf *b, const char *s)
{
	char *clean = report_clean(s ? s : "", NOTIFY_REASON_MAX);
	for (const char *p = clean; *p; p++) {
		if (*p == '&')
			buf_addstr(b, "&amp;");
		else if (*p == '<')
			buf_addstr(b, "&lt;");
		else if (*p == '>')
			buf_addstr(b, "&gt;");
		else
			buf_addch(b, *p);
	}
	free(clean);
}

/* listed: a stratum the report lists, with cases. */
static bool listed(const struct report_stratum *s)
{
	return s->selected && s->ncases > 0;
}

/* failing: a listed stratum whose verdict fails it (flaky allowed). */
static bool failing(const struct report_stratum *s)
{
	return listed(s) && s->verdict > VERDICT_FLAKY;
}

char *notify_failing_strata(const struct report *r)
{
	const char **names = xcalloc(r->nstrata + 1, sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; i < r->nstrata; i++)
		if (failing(&r->strata[i]))
			names[n++] = r->strata[i].name;
	qsort(names, n, sizeof(*names), util_str_cmp);
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
	char *text = cJSON_PrintUnformatted(a);
	if (!text)
		abort();
	char *out = xstrdup(text);
	cJSON_free(text);
	cJSON_Delete(a);
	free(names);
	return out;
}

/* add_strata_before: "; failing before: tools, prompt" from the strata
 * the receivers knew (a JSON array of names). */
static void add_strata_before(struct buf *b, const char *prev_strata)
{
	cJSON *a = cJSON_Parse(prev_strata), *name;
	bool first = true;
	buf_addstr(b, " (failing before: ");
	cJSON_ArrayForEach(name, a) {
		if (!cJSON_IsString(name))
			continue;
		buf_addstr(b, first ? "" : ", ");
		slack_escape(b, name->valuestring);
		first = false;
	}
	buf_addstr(b, first ? "none)" : ")");
	cJSON_Delete(a);
}

/* add_where: "drift in tools, prompt; error in retrieval": the strata that
 * did not pass, grouped by verdict, worst first. */
static void add_where(struct buf *b, const struct report *r)
{
	bool first_group = true;
	for (int v = VERDICT__COUNT - 1; v > VERDICT_FLAKY; v--) {
		bool first = true;
		for (size_t i = 0; i < r->nstrata; i++) {
			const struct report_stratum *s = &r->strata[i];
			if (!listed(s) || s->verdict != (enum verdict)v)
				continue;
			if (first) {
				buf_addstr(b, first_group ? "" : "; ");
				buf_addstr(b, verdict_name((enum verdict)v));
				buf_addstr(b, " in ");
				first_group = false;
			} else {
				buf_addstr(b, ", ");
			}
			slack_escape(b, s->name);
			first = false;
		}
	}
	if (first_group)
		buf_addstr(b, verdict_name(r->verdict));
}

static char *payload_text(const struct report *r, const char *state, const char *prev,
			  const char *prev_strata, const char *report_url, enum notify_kind kind)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	const char *suite = r->suite ? r->suite : "";
	if (kind == NOTIFY_RECOVERY) {
		buf_addstr(&b, ":white_check_mark: canary ");
		slack_escape(&b, suite);
		buf_addstr(&b, " recovered: pass");
	} else {
		bool error = state && strcmp(state, "error") == 0;
		buf_addstr(&b, error ? ":warning: canary " : ":rotating_light: canary ");
		slack_escape(&b, suite);
		buf_addstr(&b, kind == NOTIFY_REMINDER ? ": still " : ": ");
		if (state && strcmp(state, "pass") == 0)
			buf_addstr(&b, "pass");
		else
			add_where(&b, r);
	}
	if (kind == NOTIFY_REMINDER) {
		buf_addstr(&b, " (reminder)");
	} else if (kind == NOTIFY_STRATA) {
		add_strata_before(&b, prev_strata);
	} else if (!unknown(prev)) {
		buf_addstr(&b, " (was ");
		slack_escape(&b, prev);
		buf_addstr(&b, ")");
	}
	if (report_url && *report_url) {
		buf_addstr(&b, " <");
		slack_escape(&b, report_url);
		buf_addstr(&b, "|report>");
	}
	return buf_detach(&b, NULL);
}

static void add_clean(cJSON *o, const char *key, const char *s, size_t max)
{
	if (!s) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	char *clean = report_clean(s, max);
	cJSON_AddStringToObject(o, key, clean);
	free(clean);
}

static cJSON *clean_string(const char *s)
{
	char *clean = report_clean(s, NOTIFY_VALUE_MAX);
	cJSON *item = cJSON_CreateString(clean);
	free(clean);
	return item;
}

static cJSON *json_strata(const struct report *r)
{
	cJSON *strata = cJSON_CreateArray();
	for (size_t i = 0; i < r->nstrata; i++) {
		const struct report_stratum *s = &r->strata[i];
		if (!listed(s))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToArray(strata, o);
		add_clean(o, "name", s->name, NOTIFY_VALUE_MAX);
		cJSON_AddStringToObject(o, "verdict", verdict_name(s->verdict));
		cJSON_AddNumberToObject(o, "cases", s->ncases);
		cJSON_AddNumberToObject(o, "eval_passed", s->passed[SIDE_EVAL]);
		cJSON_AddNumberToObject(o, "prod_passed", s->passed[SIDE_PROD]);
	}
	return strata;
}

/* add_first_failure: the first reason of a side that did not pass, or null. */
static void add_first_failure(cJSON *o, const struct report_case *c, enum side side)
{
	char *failures[REPORT_FAILURES_MAX];
	size_t n = report_side_failures(&c->side[side], failures);

	add_clean(o, side_name(side), n ? failures[0] : NULL, NOTIFY_REASON_MAX);
	for (size_t i = 0; i < n; i++)
		free(failures[i]);
}

static cJSON *json_failures(const struct report *r)
{
	cJSON *failures = cJSON_CreateArray();
	int n = 0;
	for (size_t i = 0; i < r->ncases && n < NOTIFY_TOP_FAILURES; i++) {
		const struct report_case *c = &r->cases[i];
		if (c->skipped || c->verdict == VERDICT_PASS || c->verdict == VERDICT_FLAKY)
			continue;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddItemToArray(failures, f);
		add_clean(f, "case", c->id, NOTIFY_VALUE_MAX);
		add_clean(f, "stratum", r->strata[c->stratum].name, NOTIFY_VALUE_MAX);
		cJSON_AddStringToObject(f, "verdict", verdict_name(c->verdict));
		for (int side = 0; side < SIDE__COUNT; side++)
			add_first_failure(f, c, (enum side)side);
		n++;
	}
	return failures;
}

static cJSON *json_targets(const struct report *r)
{
	cJSON *targets = cJSON_CreateObject();
	for (int side = 0; side < SIDE__COUNT; side++) {
		const struct report_target *t = &r->targets[side];
		cJSON *o = cJSON_AddObjectToObject(targets, side_name((enum side)side));
		add_clean(o, "url", t->url, NOTIFY_VALUE_MAX);
		cJSON *fps = cJSON_AddObjectToObject(o, "fingerprints");
		for (size_t k = 0; k < t->nfingerprints; k++) {
			char *clean = report_clean(t->fingerprints[k].value, NOTIFY_VALUE_MAX);
			cJSON *have = cJSON_GetObjectItemCaseSensitive(fps, clean);
			double count = (double)t->fingerprints[k].count;
			if (have)
				cJSON_SetNumberValue(have, have->valuedouble + count);
			else
				cJSON_AddNumberToObject(fps, clean, count);
			free(clean);
		}
	}
	return targets;
}

/* json_strings: the strings of l, sorted. */
static cJSON *json_strings(const struct report_names *l)
{
	cJSON *a = cJSON_CreateArray();
	const char **sorted = xcalloc(l->n + 1, sizeof(*sorted));
	for (size_t i = 0; i < l->n; i++)
		sorted[i] = l->v[i];
	qsort(sorted, l->n, sizeof(*sorted), util_str_cmp);
	for (size_t i = 0; i < l->n; i++)
		cJSON_AddItemToArray(a, clean_string(sorted[i]));
	free(sorted);
	return a;
}

/* json_parsed: the JSON text s (a list of strata the history kept) as an
 * array; an empty one when it is not one. */
static cJSON *json_parsed(const char *s)
{
	cJSON *a = cJSON_Parse(s);
	if (cJSON_IsArray(a))
		return a;
	cJSON_Delete(a);
	return cJSON_CreateArray();
}

cJSON *notify_payload(const struct report *r, const char *prev_state, const char *prev_strata,
		      const char *report_url, enum notify_kind kind)
{
	cJSON *o = cJSON_CreateObject();
	const char *state = notify_state(r);
	bool reminder = kind == NOTIFY_REMINDER;
	char *text = payload_text(r, state, prev_state, prev_strata, report_url, kind);
	cJSON_AddStringToObject(o, "text", text);
	free(text);
	add_clean(o, "suite", r->suite, NOTIFY_VALUE_MAX);
	add_clean(o, "state", state, NOTIFY_VALUE_MAX);
	cJSON_AddStringToObject(o, "verdict", verdict_name(r->verdict));
	add_clean(o, "previous", unknown(prev_state) ? "unknown" : prev_state, NOTIFY_VALUE_MAX);
	cJSON_AddStringToObject(o, "kind", notify_kind_name(kind));
	cJSON_AddBoolToObject(o, "reminder", reminder);
	cJSON_AddNumberToObject(o, "exit_code", r->exit_code);
	add_clean(o, "started_at", r->started_at, NOTIFY_VALUE_MAX);
	cJSON_AddNumberToObject(o, "duration_ms", r->duration_ms);
	cJSON_AddItemToObject(o, "strata", json_strata(r));
	char *strata = notify_failing_strata(r);
	cJSON_AddItemToObject(o, "failing_strata", json_parsed(strata));
	free(strata);
	if (prev_strata)
		cJSON_AddItemToObject(o, "previous_failing_strata", json_parsed(prev_strata));
	cJSON_AddItemToObject(o, "top_failures", json_failures(r));
	cJSON_AddItemToObject(o, "targets", json_targets(r));
	/* With a history, what it says of the prod fingerprints. */
	cJSON_AddItemToObject(o, "unevaluated",
			      json_strings(r->history.present ? &r->history.unevaluated
							      : &r->unevaluated));
	if (report_url && *report_url)
		add_clean(o, "report_url", report_url, NOTIFY_VALUE_MAX);
	if (r->history.present)
		cJSON_AddItemToObject(o, "new_since_last",
				      json_strings(&r->history.new_since_last));
	return o;
}

int notify_prepare(struct history *h, const struct report *r, const struct notify_options *o,
		   struct notify_plan *plan, char **err)
{
	memset(plan, 0, sizeof(*plan));
	if (!r->suite) {
		*err = xstrdup("cannot notify about a run without its suite");
		return -1;
	}
	plan->suite = xstrdup(r->suite);
	const char *state = notify_state(r);
	plan->state = state ? xstrdup(state) : NULL;
	if (!state)
		return 0;
	plan->strata = notify_failing_strata(r);
	if (history_last_notification(h, plan->suite, &plan->previous, &plan->previous_strata,
				      &plan->previous_sent_at, err) < 0) {
		notify_plan_release(plan);
		return -1;
	}
	plan->kind = notify_decide_strata(plan->previous, state, plan->previous_strata,
					  plan->strata, plan->previous_sent_at, o->now_ms,
					  o->remind_ms);
	if (plan->kind == NOTIFY_NONE)
		return 0;
	plan->payload = notify_payload(r, plan->previous, plan->previous_strata, o->report_url,
				       plan->kind);
	char *text = cJSON_PrintUnformatted(plan->payload);
	if (!text)
		abort();
	plan->body = util_json_escape(text);
	cJSON_free(text);
	return 0;
}

int notify_commit(struct history *h, const struct notify_plan *plan, long long now_ms,
		  char **err)
{
	if (!plan->state || !plan->suite)
		return 0;
	if (plan->kind != NOTIFY_NONE)
		return history_note_notification(h, plan->suite, plan->state, plan->strata, now_ms,
						 err);
	/* Silence after a first passing run tells the receivers "pass". */
	if (unknown(plan->previous) && strcmp(plan->state, "pass") == 0)
		return history_note_notification(h, plan->suite, plan->state, plan->strata, 0,
						 err);
	/* Told before the history kept strata: learn them from this run. */
	if (!plan->previous_strata && strcmp(plan->previous, plan->state) == 0)
		return history_note_notification(h, plan->suite, plan->state, plan->strata,
						 plan->previous_sent_at, err);
	return 0;
}

void notify_plan_release(struct notify_plan *plan)
{
	free(plan->suite);
	free(plan->state);
	free(plan->previous);
	free(plan->strata);
	free(plan->previous_strata);
	cJSON_Delete(plan->payload);
	free(plan->body);
	memset(plan, 0, sizeof(*plan));
}

struct http_request *notify_request(const char *url, const struct notify_plan *plan)
{
	struct http_request *req = xcalloc(1, sizeof(*req));
	const char *body = plan->body ? plan->body : "{}";
	req->url = xstrdup(url);
	req->headers = xcalloc(1, sizeof(*req->headers));
	req->headers[0] = xstrdup("Content-Type: application/json");
	req->nheaders = 1;
	req->body = xstrdup(body);
	req->body_len = strlen(body);
	req->timeout_ms = NOTIFY_TIMEOUT_MS;
	req->pool = POOL_TARGET;
	return req;
}

bool notify_delivered(const struct http_result *res)
{
	return res->ok && res->status >= 200 && res->status < 300;
}

char *notify_url_display(const char *url)
{
	const char *sep = url ? strstr(url, "://") : NULL;
	if (!sep)
		return xstrdup("the webhook");
	const char *host = sep + 3;
	size_t n = strcspn(host, "/?#");
	/* Userinfo is a secret too: keep what follows the last '@'. */
	for (size_t i = 0; i < n; i++) {
		if (host[i] == '@') {
			host += i + 1;
			n -= i + 1;
			i = (size_t)-1;
		}
	}
	char *raw = xasprintf("%.*s://%.*s%s", (int)(sep - url), url, (int)n, host,
			      host[n] ? "/..." : "");
	char *out = report_clean(raw, NOTIFY_REASON_MAX);
	free(raw);
	return out;
}
