/* test_notify.c: when --notify sends (the decision table, and a sequence of
 * runs against a real history and a local receiver), and what it sends
 * (fields, Slack text, no secrets). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "history/history.h"
#include "notify/notify.h"
#include "report/report.h"
#include "stub/stub.h"
#include "support.h"
#include "transport/transport.h"
#include "util.h"
#include "report/verdict.h"

#define NOW 1773144000000LL
#define HOUR HISTORY_HOUR_MS
#define REMIND (24 * HOUR)

#define FP_EVAL "sha256:7513b42b651c2dbc8aa127119eb9b7b5b40d816e98fe4514718c84e374ade204"
#define FP_PROD "sha256:4d9855065a0cffc8af0a62006aaaa55c58cc1bdc5fef922caf4142c5e43d6850"

enum { MAX_CASES = 8 };

struct case_spec {
	const char *id;
	int stratum;
	enum grade eval, prod;
	const char *eval_reason, *prod_reason;
};

/* The suite of a test: strata tools, prompt and retrieval, and its cases. */
struct notify_world {
	const char *name;
	const struct case_spec *cases;
	size_t ncases;
};

static void notify_world_init(struct notify_world *w, const char *name,
			      const struct case_spec *cases, size_t n)
{
	*w = (struct notify_world){name, cases, n};
}

static const struct case_spec *spec_of(const struct case_spec *cases, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cases[i].id, id) == 0)
			return &cases[i];
	return NULL;
}

/* make_report: the report of a finished run in which each case's sample
 * got the grade of its spec (cases not in specs pass), with its reasons
 * as redacted ("[redacted]") and its URLs as displayed: what a run of a
 * suite holding secrets leaves. */
static struct report *make_report(struct notify_world *w, const struct case_spec *specs,
				  size_t nspecs, bool interrupted)
{
	static const char *const strata[] = {"tools", "prompt", "retrieval", NULL};
	struct report *r = test_report_new(w->name, strata);

	for (size_t s = 0; s < 3; s++) {
		for (size_t i = 0; i < w->ncases; i++) {
			if (w->cases[i].stratum != (int)s)
				continue;
			const struct case_spec *cs = spec_of(specs, nspecs, w->cases[i].id);
			size_t ci = test_report_case(r, s, w->cases[i].id, 1);
			for (int side = 0; side < SIDE__COUNT; side++) {
				enum grade g = !cs ? GRADE_PASS : side == SIDE_EVAL ? cs->eval : cs->prod;
				const char *reason = !cs ? NULL : side == SIDE_EVAL ? cs->eval_reason
										     : cs->prod_reason;
				struct report_sample *smp = test_report_sample(r, ci, (enum side)side, g,
									       reason, NULL);
				smp->latency_ms = 120;
				smp->attempts = 1;
				smp->fingerprint = side == SIDE_EVAL ? FP_EVAL : FP_PROD;
			}
		}
	}
	report_add_fingerprint(r, SIDE_EVAL, FP_EVAL, (long)w->ncases);
	report_add_fingerprint(r, SIDE_PROD, FP_PROD, (long)w->ncases);
	report_names_add(r, &r->unevaluated, FP_PROD);
	r->started_ms = NOW;
	r->started_at = report_strdup(r, "2026-03-10T12:00:00Z");
	r->duration_ms = 4321;
	r->interrupted = interrupted;
	verdict_compute(r);
	return r;
}

static const struct case_spec suite_cases[] = {
	{"book-meeting", 0, GRADE_PASS, GRADE_PASS, NULL, NULL},
	{"cancel-meeting", 0, GRADE_PASS, GRADE_PASS, NULL, NULL},
	{"refund-window", 1, GRADE_PASS, GRADE_PASS, NULL, NULL},
	{"greeting", 1, GRADE_PASS, GRADE_PASS, NULL, NULL},
	{"policy-lookup", 2, GRADE_PASS, GRADE_PASS, NULL, NULL},
};

#define REASON_BOOK "tool_call: missing required property 'attendee_emails'"
#define REASON_REFUND "regex: no match for /\\b30 days\\b/ in \"we refund within [redacted]\""

static const struct case_spec drift_specs[] = {
	{"book-meeting", 0, GRADE_PASS, GRADE_FAIL, NULL, REASON_BOOK},
	{"refund-window", 1, GRADE_PASS, GRADE_FAIL, NULL, REASON_REFUND},
};

static const struct case_spec drift_tools[] = {
	{"book-meeting", 0, GRADE_PASS, GRADE_FAIL, NULL, REASON_BOOK},
};

static const struct case_spec error_specs[] = {
	{"policy-lookup", 2, GRADE_ERROR, GRADE_ERROR, "connection refused", "timed out"},
};

/* The same state with other failing strata is told; unknown strata (a
 * history written before they were kept) are not a change. */
static void test_decide_strata(void **state)
{
	(void)state;
	static const char *tools = "[\"tools\"]", *both = "[\"prompt\",\"tools\"]";
	assert_int_equal(notify_decide_strata("drift", "drift", tools, both, NOW, NOW, REMIND),
			 NOTIFY_STRATA);
	assert_int_equal(notify_decide_strata("drift", "drift", tools, tools, NOW, NOW, REMIND),
			 NOTIFY_NONE);
	assert_int_equal(notify_decide_strata("drift", "drift", NULL, both, NOW, NOW, REMIND),
			 NOTIFY_NONE);
	/* A change of state is a change, whatever the strata. */
	assert_int_equal(notify_decide_strata("error", "drift", tools, both, NOW, NOW, REMIND),
			 NOTIFY_CHANGE);
	assert_int_equal(notify_decide_strata(NULL, "drift", NULL, both, NOW, NOW, REMIND),
			 NOTIFY_CHANGE);
	/* A reminder that is due with other strata says what changed. */
	assert_int_equal(notify_decide_strata("drift", "drift", tools, both, 0, NOW, 1),
			 NOTIFY_STRATA);
	assert_int_equal(notify_decide_strata("drift", "drift", tools, tools, 0, NOW, 1),
			 NOTIFY_REMINDER);
	assert_int_equal(notify_decide_strata("drift", NULL, tools, both, 0, NOW, 1), NOTIFY_NONE);
	assert_string_equal(notify_kind_name(NOTIFY_STRATA), "strata");
}

static void test_decide_table(void **state)
{
	static const struct {
		const char *prev, *next;
		long long last_sent, now;
		long remind;
		enum notify_kind want;
	} rows[] = {
		/* A first run: silent when it passes. */
		{NULL, "pass", 0, NOW, REMIND, NOTIFY_NONE},
		{"unknown", "pass", 0, NOW, REMIND, NOTIFY_NONE},
		{"", "pass", 0, NOW, REMIND, NOTIFY_NONE},
		{NULL, "drift", 0, NOW, REMIND, NOTIFY_CHANGE},
		{"unknown", "error", 0, NOW, 0, NOTIFY_CHANGE},
		/* Changes. */
		{"pass", "drift", NOW - HOUR, NOW, REMIND, NOTIFY_CHANGE},
		{"drift", "regression", NOW - HOUR, NOW, REMIND, NOTIFY_CHANGE},
		{"pass", "error", NOW - HOUR, NOW, REMIND, NOTIFY_CHANGE},
		{"error", "drift", NOW - HOUR, NOW, REMIND, NOTIFY_CHANGE},
		{"drift", "pass", NOW - HOUR, NOW, REMIND, NOTIFY_RECOVERY},
		{"error", "pass", NOW - HOUR, NOW, REMIND, NOTIFY_RECOVERY},
		{"flaky", "pass", NOW - HOUR, NOW, 0, NOTIFY_RECOVERY},
		/* Repeats: silent, but a bad state is reminded. */
		{"pass", "pass", 0, NOW, REMIND, NOTIFY_NONE},
		{"pass", "pass", NOW - 90 * REMIND, NOW, REMIND, NOTIFY_NONE},
		{"drift", "drift", NOW - HOUR, NOW, REMIND, NOTIFY_NONE},
		{"drift", "drift", NOW - REMIND + 1, NOW, REMIND, NOTIFY_NONE},
		{"drift", "drift", NOW - REMIND, NOW, REMIND, NOTIFY_REMINDER},
		{"error", "error", NOW - 2 * REMIND, NOW, REMIND, NOTIFY_REMINDER},
		{"drift", "drift", NOW - 90 * REMIND, NOW, 0, NOTIFY_NONE},
		{"drift", "drift", NOW - 90 * REMIND, NOW, -5, NOTIFY_NONE},
		/* An interrupted run has no state. */
		{"pass", NULL, 0, NOW, REMIND, NOTIFY_NONE},
		{"drift", NULL, 0, NOW, REMIND, NOTIFY_NONE},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		enum notify_kind got = notify_decide(rows[i].prev, rows[i].next, rows[i].last_sent,
						     rows[i].now, rows[i].remind);
		if (got != rows[i].want)
			fail_msg("row %zu (%s -> %s): %s, want %s", i,
				 rows[i].prev ? rows[i].prev : "NULL",
				 rows[i].next ? rows[i].next : "NULL", notify_kind_name(got),
				 notify_kind_name(rows[i].want));
		assert_int_equal(notify_should_send(rows[i].prev, rows[i].next, rows[i].last_sent,
						    rows[i].now, rows[i].remind),
				 rows[i].want != NOTIFY_NONE);
	}
}

static void test_state(void **state)
{
	struct notify_world w;
	notify_world_init(&w, "calendar-assistant", suite_cases, ARRAY_SIZE(suite_cases));
	struct report *r = make_report(&w, NULL, 0, false);
	assert_string_equal(notify_state(r), "pass");
	report_free(r);
	r = make_report(&w, drift_specs, ARRAY_SIZE(drift_specs), false);
	assert_string_equal(notify_state(r), "drift");
	report_free(r);
	r = make_report(&w, error_specs, ARRAY_SIZE(error_specs), false);
	assert_int_equal(r->exit_code, EXIT_ERRORS);
	assert_string_equal(notify_state(r), "error");
	report_free(r);
	r = make_report(&w, drift_specs, ARRAY_SIZE(drift_specs), true);
	assert_null(notify_state(r));
	report_free(r);
	/* Fingerprints that fail a passing run are its state; a failing
	 * verdict comes first. */
	r = make_report(&w, NULL, 0, false);
	r->fail_on_unevaluated = true;
	verdict_compute(r);
	assert_int_equal(r->exit_code, EXIT_FAIL);
	assert_string_equal(notify_state(r), "unevaluated");
	r->targets[SIDE_EVAL].expected = report_strdup(r, "model=sha256:00");
	report_analyse_fingerprints(r);
	assert_string_equal(notify_state(r), "uncertified");
	report_free(r);
	r = make_report(&w, drift_specs, ARRAY_SIZE(drift_specs), false);
	r->fail_on_unevaluated = true;
	verdict_compute(r);
	assert_string_equal(notify_state(r), "drift");
	report_free(r);
}

static const cJSON *get(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!v)
		fail_msg("no '%s'", key);
	return v;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);
	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static void test_payload_fields(void **state)
{
	struct notify_world w;
	notify_world_init(&w, "calendar-assistant", suite_cases, ARRAY_SIZE(suite_cases));
	struct report *r = make_report(&w, drift_specs, ARRAY_SIZE(drift_specs), false);
	cJSON *p = notify_payload(r, "pass", NULL, "https://ci.example/runs/42?x=1&y=2", NOTIFY_CHANGE);
	assert_string_equal(str(p, "text"),
			    ":rotating_light: canary calendar-assistant: drift in tools, prompt "
			    "(was pass) <https://ci.example/runs/42?x=1&amp;y=2|report>");
	assert_string_equal(str(p, "suite"), "calendar-assistant");
	assert_string_equal(str(p, "state"), "drift");
	assert_string_equal(str(p, "verdict"), "drift");
	assert_string_equal(str(p, "previous"), "pass");
	assert_string_equal(str(p, "kind"), "change");
	assert_true(cJSON_IsFalse(get(p, "reminder")));
	assert_int_equal(get(p, "exit_code")->valueint, 1);
	assert_string_equal(str(p, "started_at"), "2026-03-10T12:00:00Z");
	assert_int_equal(get(p, "duration_ms")->valueint, 4321);
	assert_string_equal(str(p, "report_url"), "https://ci.example/runs/42?x=1&y=2");

	const cJSON *strata = get(p, "strata");
	assert_int_equal(cJSON_GetArraySize(strata), 3);
	const cJSON *tools = cJSON_GetArrayItem(strata, 0);
	assert_string_equal(str(tools, "name"), "tools");
	assert_string_equal(str(tools, "verdict"), "drift");
	assert_int_equal(get(tools, "cases")->valueint, 2);
	assert_int_equal(get(tools, "eval_passed")->valueint, 2);
	assert_int_equal(get(tools, "prod_passed")->valueint, 1);
	assert_string_equal(str(cJSON_GetArrayItem(strata, 2), "verdict"), "pass");

	const cJSON *failures = get(p, "top_failures");
	assert_int_equal(cJSON_GetArraySize(failures), 2);
	const cJSON *f0 = cJSON_GetArrayItem(failures, 0);
	assert_string_equal(str(f0, "case"), "book-meeting");
	assert_string_equal(str(f0, "stratum"), "tools");
	assert_string_equal(str(f0, "verdict"), "drift");
	assert_string_equal(str(f0, "prod"), REASON_BOOK);
	assert_true(cJSON_IsNull(get(f0, "eval")));
	assert_string_equal(str(cJSON_GetArrayItem(failures, 1), "prod"), REASON_REFUND);

	const cJSON *targets = get(p, "targets");
	const cJSON *prod = get(targets, "prod");
	assert_string_equal(str(prod, "url"), "${env:PROD_URL}");
	assert_int_equal(get(get(prod, "fingerprints"), FP_PROD)->valueint, 5);
	assert_int_equal(get(get(get(targets, "eval"), "fingerprints"), FP_EVAL)->valueint, 5);
	const cJSON *unev = get(p, "unevaluated");
	assert_int_equal(cJSON_GetArraySize(unev), 1);
	assert_string_equal(cJSON_GetArrayItem(unev, 0)->valuestring, FP_PROD);

	/* No secret, wherever the suite holds one. */
	char *text = cJSON_PrintUnformatted(p);
	assert_null(strstr(text, "s3cr3t"));
	assert_null(strstr(text, "Authorization"));
	assert_null(strstr(text, "pa55word"));
	assert_null(strstr(text, "k3y-in-query"));
	assert_null(strstr(text, "prod.example"));
	assert_non_null(strstr(text, "[redacted]"));
	cJSON_free(text);
	cJSON_Delete(p);

	/* Without a report link, and without a known previous state. */
	p = notify_payload(r, NULL, NULL, NULL, NOTIFY_CHANGE);
	assert_string_equal(str(p, "text"),
			    ":rotating_light: canary calendar-assistant: drift in tools, prompt");
	assert_string_equal(str(p, "previous"), "unknown");
	assert_null(cJSON_GetObjectItemCaseSensitive(p, "report_url"));
	assert_null(cJSON_GetObjectItemCaseSensitive(p, "new_since_last"));
	cJSON_Delete(p);

	/* With a history, its lists, even empty (the run's fingerprint_diff
	 * lists prod's fingerprint, which the history has seen on eval). */
	r->history.present = true;
	p = notify_payload(r, NULL, NULL, NULL, NOTIFY_CHANGE);
	assert_int_equal(cJSON_GetArraySize(get(p, "unevaluated")), 0);
	assert_true(cJSON_IsArray(get(p, "new_since_last")));
	assert_int_equal(cJSON_GetArraySize(get(p, "new_since_last")), 0);
	cJSON_Delete(p);
	report_names_add(r, &r->history.new_since_last, FP_PROD);
	p = notify_payload(r, NULL, NULL, "https://ci.example/runs/42", NOTIFY_CHANGE);
	assert_string_equal(cJSON_GetArrayItem(get(p, "new_since_last"), 0)->valuestring, FP_PROD);
	/* After the link, as the payload always had it. */
	assert_ptr_equal(get(p, "report_url")->next, get(p, "new_since_last"));
	cJSON_Delete(p);
	report_free(r);
}

static void test_payload_texts(void **state)
{
	struct notify_world w;
	notify_world_init(&w, "cal <b>&</b>", suite_cases, ARRAY_SIZE(suite_cases));
	struct report *r = make_report(&w, NULL, 0, false);
	cJSON *p = notify_payload(r, "drift", NULL, NULL, NOTIFY_RECOVERY);
	assert_string_equal(str(p, "text"), ":white_check_mark: canary cal &lt;b&gt;&amp;"
					    "&lt;/b&gt; recovered: pass (was drift)");
	assert_string_equal(str(p, "kind"), "recovery");
	assert_string_equal(str(p, "suite"), "cal <b>&</b>");
	assert_int_equal(cJSON_GetArraySize(get(p, "top_failures")), 0);
	cJSON_Delete(p);
	report_free(r);

	r = make_report(&w, drift_specs, ARRAY_SIZE(drift_specs), false);
	p = notify_payload(r, "drift", NULL, NULL, NOTIFY_REMINDER);
	assert_string_equal(str(p, "text"), ":rotating_light: canary cal &lt;b&gt;&amp;&lt;/b&gt;: "
					    "still drift in tools, prompt (reminder)");
	assert_true(cJSON_IsTrue(get(p, "reminder")));
	assert_string_equal(str(p, "kind"), "reminder");
	cJSON_Delete(p);
	report_free(r);

	r = make_report(&w, error_specs, ARRAY_SIZE(error_specs), false);
	p = notify_payload(r, "pass", NULL, NULL, NOTIFY_CHANGE);
	assert_string_equal(str(p, "text"), ":warning: canary cal &lt;b&gt;&amp;&lt;/b&gt;: "
					    "error in retrieval (was pass)");
	const cJSON *f0 = cJSON_GetArrayItem(get(p, "top_failures"), 0);
	assert_string_equal(str(f0, "eval"), "connection refused");
	assert_string_equal(str(f0, "prod"), "timed out");
	cJSON_Delete(p);
	report_free(r);

	/* Two verdicts: worst first. */
	static const struct case_spec mixed[] = {
		{"book-meeting", 0, GRADE_FAIL, GRADE_FAIL, "a", "b"},
		{"refund-window", 1, GRADE_PASS, GRADE_FAIL, NULL, "c"},
	};
	r = make_report(&w, mixed, ARRAY_SIZE(mixed), false);
	p = notify_payload(r, "pass", NULL, NULL, NOTIFY_CHANGE);
	assert_string_equal(str(p, "text"), ":rotating_light: canary cal &lt;b&gt;&amp;&lt;/b&gt;: "
					    "drift in prompt; regression in tools (was pass)");
	cJSON_Delete(p);
	report_free(r);
}

static void test_top_failures_limit(void **state)
{
	static const struct case_spec many[] = {
		{"c1", 0, GRADE_PASS, GRADE_FAIL, NULL, "r1"},
		{"c2", 0, GRADE_PASS, GRADE_FAIL, NULL, "r2"},
		{"c3", 0, GRADE_PASS, GRADE_FAIL, NULL, "r3"},
		{"c4", 1, GRADE_PASS, GRADE_FAIL, NULL, "r4"},
		{"c5", 1, GRADE_PASS, GRADE_FAIL, NULL, "r5"},
		{"c6", 1, GRADE_PASS, GRADE_FAIL, NULL, "r6"},
		{"c7", 2, GRADE_PASS, GRADE_PASS, NULL, NULL},
	};
	struct notify_world w;
	notify_world_init(&w, "many", many, ARRAY_SIZE(many));
	struct report *r = make_report(&w, many, ARRAY_SIZE(many), false);
	cJSON *p = notify_payload(r, "pass", NULL, NULL, NOTIFY_CHANGE);
	const cJSON *failures = get(p, "top_failures");
	assert_int_equal(cJSON_GetArraySize(failures), NOTIFY_TOP_FAILURES);
	for (int i = 0; i < NOTIFY_TOP_FAILURES; i++) {
		char id[16];
		snprintf(id, sizeof(id), "c%d", i + 1);
		assert_string_equal(str(cJSON_GetArrayItem(failures, i), "case"), id);
	}
	cJSON_Delete(p);
	report_free(r);
}

static void test_url_display(void **state)
{
	static const char *const rows[][2] = {
		{"https://hooks.slack.com/services/T000/B000/XXXXSECRET",
		 "https://hooks.slack.com/..."},
		{"http://user:pw@127.0.0.1:8080/hook?token=abc", "http://127.0.0.1:8080/..."},
		{"https://a@b@host.example", "https://host.example"},
		{"http://127.0.0.1:9", "http://127.0.0.1:9"},
		{"not a url", "the webhook"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		char *got = notify_url_display(rows[i][0]);
		assert_string_equal(got, rows[i][1]);
		free(got);
	}
	char *got = notify_url_display(NULL);
	assert_string_equal(got, "the webhook");
	free(got);
}

/*
 * A sequence of runs against a history and a local receiver, as
 * `canary run --history H --notify URL --remind 24h` does it.
 */

struct receiver {
	char dir[64];
	char *log;
	struct stub *stub;
	char *url;
	char *refused_url;
};

static int refused_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void receiver_start(struct receiver *rv)
{
	static const char script[] = "rules:\n  - reply: ok\n";
	char *err = NULL;
	snprintf(rv->dir, sizeof(rv->dir), "/tmp/canary-notify-XXXXXX");
	assert_non_null(mkdtemp(rv->dir));
	rv->log = xasprintf("%s/receiver.log", rv->dir);
	struct stub_script *s = stub_script_load_buffer("receiver", script, strlen(script), &err);
	assert_non_null(s);
	struct stub_options o = {.host = "127.0.0.1", .port = 0, .log_path = rv->log, .seed = 1};
	rv->stub = stub_start(s, &o, &err);
	if (!rv->stub)
		fail_msg("%s", err);
	rv->url = xasprintf("http://127.0.0.1:%d/hooks/canary", stub_port(rv->stub));
	rv->refused_url = xasprintf("http://127.0.0.1:%d/hooks/canary", refused_port());
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void receiver_stop(struct receiver *rv)
{
	stub_stop(rv->stub);
	nftw(rv->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(rv->log);
	free(rv->url);
	free(rv->refused_url);
}

static void on_done(struct http_result *res, void *user)
{
	*(bool *)user = notify_delivered(res);
}

/* post: send the plan's payload to url; whether it was delivered. */
static bool post(const char *url, const struct notify_plan *plan)
{
	struct transport_options o;
	transport_options_default(&o);
	o.retries = 1;
	o.backoff_base_ms = 1;
	o.backoff_max_ms = 5;
	char *err = NULL;
	struct transport *t = transport_new(&o, &err);
	assert_non_null(t);
	bool delivered = false;
	struct http_request *req = notify_request(url, plan);
	assert_string_equal(req->headers[0], "Content-Type: application/json");
	req->done = on_done;
	req->user = &delivered;
	transport_submit(t, req);
	assert_int_equal(transport_run(t, NULL, &err), 0);
	transport_free(t);
	return delivered;
}

/* step: one hourly run: decide, send, remember; the kind decided. */
static enum notify_kind step(struct history *h, struct notify_world *w,
			     const struct case_spec *specs, size_t n, bool interrupted,
			     long long now, const char *url, bool *delivered)
{
	struct report *r = make_report(w, specs, n, interrupted);
	r->started_ms = now;
	char *err = NULL;
	assert_int_equal(history_record(h, r, NULL, NULL, &err), 0);
	struct notify_options o = {.now_ms = now, .remind_ms = REMIND,
				   .report_url = "https://ci.example/42"};
	/* What the history said: prod's fingerprint never evaluated, none new. */
	r->history.present = true;
	report_names_add(r, &r->history.unevaluated, FP_PROD);
	struct notify_plan plan;
	assert_int_equal(notify_prepare(h, r, &o, &plan, &err), 0);
	enum notify_kind kind = plan.kind;
	*delivered = false;
	if (kind != NOTIFY_NONE) {
		assert_non_null(plan.body);
		*delivered = post(url, &plan);
		if (*delivered)
			assert_int_equal(notify_commit(h, &plan, now, &err), 0);
	} else {
		assert_null(plan.body);
		assert_int_equal(notify_commit(h, &plan, now, &err), 0);
	}
	notify_plan_release(&plan);
	report_free(r);
	return kind;
}

static cJSON **read_log(const char *path, size_t *n)
{
	char *err = NULL;
	char *text = util_read_file(path, 1 << 20, NULL, &err);
	cJSON **lines = NULL;
	*n = 0;
	if (!text)
		return NULL;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		lines = xreallocarray(lines, *n + 1, sizeof(*lines));
		lines[*n] = cJSON_Parse(line);
		assert_non_null(lines[*n]);
		(*n)++;
	}
	free(text);
	return lines;
}

static void test_sequence_with_receiver(void **state)
{
	struct receiver rv;
	receiver_start(&rv);
	struct notify_world w;
	notify_world_init(&w, "calendar-assistant", suite_cases, ARRAY_SIZE(suite_cases));
	char *path = xasprintf("%s/history.sqlite", rv.dir);
	char *err = NULL;
	struct history *h = history_open(path, &err);
	assert_non_null(h);
	const struct case_spec *drift = drift_specs;
	size_t nd = ARRAY_SIZE(drift_specs);
	bool sent;
	long long t = NOW;

	/* 1. A first passing run: silent, but remembered as known. */
	assert_int_equal(step(h, &w, NULL, 0, false, t, rv.url, &sent), NOTIFY_NONE);
	char *known = NULL, *known_strata = NULL;
	long long at = -1;
	assert_int_equal(history_last_notification(h, w.name, &known, &known_strata, &at, &err),
			 0);
	assert_string_equal(known, "pass");
	assert_string_equal(known_strata, "[]");
	assert_int_equal(at, 0);
	free(known);
	free(known_strata);
	/* 2. Passes again: silent. */
	assert_int_equal(step(h, &w, NULL, 0, false, t += HOUR, rv.url, &sent), NOTIFY_NONE);
	/* 3. Drift: sent. */
	assert_int_equal(step(h, &w, drift, nd, false, t += HOUR, rv.url, &sent), NOTIFY_CHANGE);
	assert_true(sent);
	/* 4-5. Still drift within a day: silent. */
	assert_int_equal(step(h, &w, drift, nd, false, t += HOUR, rv.url, &sent), NOTIFY_NONE);
	assert_int_equal(step(h, &w, drift, nd, false, t += 20 * HOUR, rv.url, &sent),
			 NOTIFY_NONE);
	/* 6. A day after it was sent: a reminder. */
	assert_int_equal(step(h, &w, drift, nd, false, t += 4 * HOUR, rv.url, &sent),
			 NOTIFY_REMINDER);
	assert_true(sent);
	/* 6b. Still drift, but in tools only: the failing strata changed. */
	assert_int_equal(step(h, &w, drift_tools, 1, false, t += HOUR, rv.url, &sent),
			 NOTIFY_STRATA);
	assert_true(sent);
	/* 6c. The same strata again: silent. */
	assert_int_equal(step(h, &w, drift_tools, 1, false, t += HOUR, rv.url, &sent),
			 NOTIFY_NONE);
	/* 7. Interrupted: nothing, and nothing changes. */
	assert_int_equal(step(h, &w, NULL, 0, true, t += HOUR, rv.url, &sent), NOTIFY_NONE);
	/* 8. Recovered, but the receiver is down: not remembered ... */
	assert_int_equal(step(h, &w, NULL, 0, false, t += HOUR, rv.refused_url, &sent),
			 NOTIFY_RECOVERY);
	assert_false(sent);
	/* 9. ... so the next run sends the recovery again. */
	assert_int_equal(step(h, &w, NULL, 0, false, t += HOUR, rv.url, &sent), NOTIFY_RECOVERY);
	assert_true(sent);
	/* 10. Passes again: silent. */
	assert_int_equal(step(h, &w, NULL, 0, false, t += HOUR, rv.url, &sent), NOTIFY_NONE);
	/* 11. An error: sent. */
	assert_int_equal(step(h, &w, error_specs, 1, false, t += HOUR, rv.url, &sent),
			 NOTIFY_CHANGE);
	assert_true(sent);

	size_t n = 0;
	cJSON **lines = read_log(rv.log, &n);
	static const char *const kinds[] = {"change", "reminder", "strata", "recovery", "change"};
	static const char *const previous[] = {"pass", "drift", "drift", "drift", "pass"};
	assert_int_equal(n, ARRAY_SIZE(kinds));
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(str(lines[i], "method"), "POST");
		assert_string_equal(str(lines[i], "path"), "/hooks/canary");
		const cJSON *body = get(lines[i], "body");
		assert_string_equal(str(body, "kind"), kinds[i]);
		if (strcmp(kinds[i], "strata") == 0) {
			assert_string_equal(str(body, "text"),
					    ":rotating_light: canary calendar-assistant: drift in "
					    "tools (failing before: prompt, tools) "
					    "<https://ci.example/42|report>");
			assert_int_equal(cJSON_GetArraySize(get(body, "failing_strata")), 1);
			assert_int_equal(cJSON_GetArraySize(get(body, "previous_failing_strata")),
					 2);
		}
		assert_string_equal(str(body, "previous"), previous[i]);
		assert_string_equal(str(body, "suite"), "calendar-assistant");
		assert_string_equal(str(body, "report_url"), "https://ci.example/42");
		assert_int_equal(cJSON_GetArraySize(get(body, "new_since_last")), 0);
		assert_string_equal(cJSON_GetArrayItem(get(body, "unevaluated"), 0)->valuestring,
				    FP_PROD);
		char *text = cJSON_PrintUnformatted(body);
		assert_null(strstr(text, "s3cr3t"));
		assert_null(strstr(text, "pa55word"));
		cJSON_free(text);
		cJSON_Delete(lines[i]);
	}
	free(lines);
	history_close(h);
	free(path);
	receiver_stop(&rv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide_table),
		cmocka_unit_test(test_decide_strata),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_payload_fields),
		cmocka_unit_test(test_payload_texts),
		cmocka_unit_test(test_top_failures_limit),
		cmocka_unit_test(test_url_display),
		cmocka_unit_test(test_sequence_with_receiver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
