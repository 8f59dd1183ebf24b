/* test_grading.c: the grading module: synchronous graders at once, the
 * judge on the transport (a stub judge on loopback), exec graders once the
 * transport is idle, --judge-lazy, the verdict cache, and the stop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "provider.h"
#include "run/grading.h"
#include "run/run.h"
#include "stub/stub.h"
#include "suite/suite.h"
#include "transport/transport.h"
#include "util.h"

/* The judge answers pass when the reply it is shown says PASSME. */
static const char judge_script[] =
	"rules:\n"
	"  - match: '(?s)<reply>.*PASSME.*</reply>'\n"
	"    reply: '{\"pass\": true, \"score\": 1, \"reason\": \"fine\"}'\n"
	"  - reply: '{\"pass\": false, \"score\": 0, \"reason\": \"no window\"}'\n";

/* Cases: quick graders only; a judge after a regex; a regex and an exec
 * program that answers; an exec program that waits to be stopped. */
static const char suite_fmt[] =
	"version: 1\n"
	"name: grading\n"
	"targets:\n"
	"  eval: {url: 'http://127.0.0.1:9/v1/chat/completions'}\n"
	"  prod: {url: 'http://127.0.0.1:9/v1/chat/completions'}\n"
	"judge: {url: '${env:GRADING_JUDGE_URL}/v1/chat/completions', model: judge-model}\n"
	"strata:\n"
	"  s:\n"
	"    cases:\n"
	"      - id: quick\n"
	"        input: What is your refund window?\n"
	"        expect: [{regex: '30 days'}, {not_contains: sorry}]\n"
	"      - id: judged\n"
	"        input: What is your refund window?\n"
	"        expect: [{regex: '30 days'}, {judge: States the refund window.}]\n"
	"      - id: slow\n"
	"        input: What is your refund window?\n"
	"        expect: [{regex: '30 days'}, {exec: ['%s/says-no.sh']}]\n"
	"      - id: hang\n"
	"        input: What is your refund window?\n"
	"        expect: [{exec: {argv: ['%s/hang.sh'], timeout: 1h}}]\n"
	"      - id: talk\n"
	"        turns: [Book it, Thanks]\n"
	"        expect: [{trajectory: {max_steps: 3}}]\n";

struct world {
	char dir[64];
	struct stub *judge;
	struct suite *suite;
	struct transport *tr;
	struct grading *grading;
	volatile sig_atomic_t stop;
	int graded;             /* done() calls */
};

static void write_script(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0755), 0);
	free(path);
}

static int setup(void **state)
{
	struct world *w = xcalloc(1, sizeof(*w));
	char *err = NULL;
	snprintf(w->dir, sizeof(w->dir), "/tmp/canary-grading-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	write_script(w->dir, "says-no.sh",
		     "#!/bin/sh\ncat >/dev/null\n"
		     "echo '{\"pass\": false, \"reason\": \"slow says no\"}'\n");
	write_script(w->dir, "hang.sh",
		     "#!/bin/sh\ncat >/dev/null\ntouch \"$GRADING_DIR/started\"\nexec sleep 3600\n");
	setenv("GRADING_DIR", w->dir, 1);
	struct stub_script *sc = stub_script_load_buffer("judge.yaml", judge_script,
							 strlen(judge_script), &err);
	assert_non_null(sc);
	struct stub_options so = {.host = "127.0.0.1", .seed = 1};
	w->judge = stub_start(sc, &so, &err);
	if (!w->judge)
		fail_msg("%s", err);
	char *url = xasprintf("http://127.0.0.1:%d", stub_port(w->judge));
	setenv("GRADING_JUDGE_URL", url, 1);
	free(url);
	char *yaml = xasprintf(suite_fmt, w->dir, w->dir);
	w->suite = suite_load_buffer("grading.yaml", yaml, strlen(yaml), NULL, &err);
	free(yaml);
	if (!w->suite)
		fail_msg("%s", err);
	*state = w;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct world *w = *state;
	stub_stop(w->judge);
	suite_free(w->suite);
	nftw(w->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(w);
	return 0;
}

/* begin: a transport and a grading of the suite's graders with o's
 * options (NULL: lazy off, no cache). */
static void begin(struct world *w, const struct grading_options *o)
{
	char *err = NULL;
	struct grading_options go = {.no_judge_cache = true};
	if (o)
		go = *o;
	go.graders = w->suite->graders;
	go.ngraders = w->suite->ngraders;
	go.stop = &w->stop;
	go.grace_ms = 100;
	w->stop = 0;
	w->graded = 0;
	w->tr = transport_new(NULL, &err);
	assert_non_null(w->tr);
	w->grading = grading_new(w->tr, &w->suite->redact, &go, &err);
	if (!w->grading)
		fail_msg("%s", err);
}

static void end(struct world *w)
{
	transport_free(w->tr);
	grading_free(w->grading);
	w->tr = NULL;
	w->grading = NULL;
}

static void count_done(struct sample *s, void *user)
{
	struct world *w = user;
	assert_non_null(s);
	w->graded++;
}

/* grade: start grading text as case id's reply into out. */
static void grade(struct world *w, const char *id, const char *text, struct sample *out)
{
	const struct suite_case *c = suite_find_case(w->suite, id);
	assert_non_null(c);
	memset(out, 0, sizeof(*out));
	struct reply r = {
		.status = 200,
		.raw = xstrdup(text),
		.raw_len = strlen(text),
		.content = xstrdup(text),
		.content_len = strlen(text),
	};
	struct grading_job job = {
		.graders = c->expect,
		.ngraders = c->nexpect,
		.case_id = c->id,
		.target = "prod",
		.input = c->input,
		.sample = out,
		.done = count_done,
		.user = w,
	};
	grading_start(w->grading, &job, &r);
	assert_null(r.content);
}

static void settle(struct world *w)
{
	char *err = NULL;
	assert_int_equal(transport_run(w->tr, &w->stop, &err), 0);
	grading_drain(w->grading);
}

/* A conversation's steps reach its graders through the job. */
static void test_steps(void **state)
{
	struct world *w = *state;
	const struct suite_case *c = suite_find_case(w->suite, "talk");
	begin(w, NULL);
	for (int steps = 3; steps <= 4; steps++) {
		struct sample s;
		struct reply r = {.status = 200, .raw = xstrdup("ok"), .raw_len = 2,
				  .content = xstrdup("ok"), .content_len = 2};
		struct grading_job job = {
			.graders = c->expect,
			.ngraders = c->nexpect,
			.case_id = c->id,
			.target = "prod",
			.input = "user: Book it\nassistant: ok\nuser: Thanks",
			.steps = steps,
			.sample = &s,
			.done = count_done,
			.user = w,
		};
		memset(&s, 0, sizeof(s));
		grading_start(w->grading, &job, &r);
		assert_int_equal(s.grade, steps == 3 ? GRADE_PASS : GRADE_FAIL);
		if (steps == 4)
			assert_string_equal(s.reasons[0],
					    "trajectory: took 4 steps, more than max_steps 3");
		sample_release(&s);
	}
	assert_int_equal(w->graded, 2);
	end(w);
}

/* Quick graders decide before grading_start() returns, in suite order. */
static void test_sync(void **state)
{
	struct world *w = *state;
	struct sample s;
	begin(w, NULL);
	grade(w, "quick", "Refunds are accepted within 30 days.", &s);
	assert_int_equal(w->graded, 1);
	assert_int_equal(s.grade, GRADE_PASS);
	assert_true(s.done);
	assert_int_equal(s.ngrades, 2);
	assert_string_equal(s.grades[0].grader->label, "regex");
	assert_string_equal(s.grades[1].grader->label, "not_contains");
	assert_int_equal(s.nreasons, 0);
	sample_release(&s);

	grade(w, "quick", "Well, sorry: I cannot say.", &s);
	assert_int_equal(w->graded, 2);
	assert_int_equal(s.grade, GRADE_FAIL);
	assert_true(s.done);
	assert_int_equal(s.nreasons, 2);
	assert_string_equal(s.reasons[1], "not_contains: contains \"sorry\"");
	assert_int_equal(strncmp(s.reasons[0], "regex: ", 7), 0);
	assert_int_equal(stub_requests(w->judge), 0);
	sample_release(&s);
	end(w);
}

/* The judge's request runs on the transport; its verdict arrives there. */
static void test_async(void **state)
{
	struct world *w = *state;
	struct sample a, b;
	long before = stub_requests(w->judge);
	begin(w, NULL);
	grade(w, "judged", "PASSME: 30 days.", &a);
	grade(w, "judged", "Within 30 days.", &b);
	assert_int_equal(w->graded, 0);
	assert_int_equal(a.ngrades, 1);
	settle(w);
	assert_int_equal(w->graded, 2);
	assert_int_equal(stub_requests(w->judge) - before, 2);
	assert_int_equal(grading_runtime(w->grading)->judge_calls, 2);
	assert_int_equal(a.grade, GRADE_PASS);
	assert_true(a.done);
	assert_int_equal(a.ngrades, 2);
	assert_string_equal(a.grades[1].grader->label, "judge");
	assert_int_equal(b.grade, GRADE_FAIL);
	assert_int_equal(b.nreasons, 1);
	assert_string_equal(b.reasons[0], "judge: score 0.00: no window");
	sample_release(&a);
	sample_release(&b);
	end(w);
}

/* A verdict the cache holds decides at once, without a request. */
static void test_cache(void **state)
{
	struct world *w = *state;
	struct sample s;
	char *path = xasprintf("%s/judge.sqlite", w->dir);
	struct grading_options o = {.judge_cache = path};
	begin(w, &o);
	assert_null(grading_warning(w->grading));
	grade(w, "judged", "PASSME, cached: 30 days.", &s);
	settle(w);
	assert_int_equal(s.grade, GRADE_PASS);
	sample_release(&s);
	end(w);

	long before = stub_requests(w->judge);
	begin(w, &o);
	grade(w, "judged", "PASSME, cached: 30 days.", &s);
	assert_int_equal(w->graded, 1);
	assert_int_equal(s.grade, GRADE_PASS);
	assert_int_equal(grading_runtime(w->grading)->judge_cache_hits, 1);
	assert_int_equal(grading_runtime(w->grading)->judge_calls, 0);
	settle(w);
	assert_int_equal(stub_requests(w->judge), before);
	sample_release(&s);
	end(w);

	/* A cache asked for that cannot be opened is an error. */
	char *err = NULL;
	struct grading_options bad = {
		.graders = w->suite->graders,
		.ngraders = w->suite->ngraders,
		.judge_cache = "/proc/nonexistent/judge.sqlite",
	};
	struct transport *tr = transport_new(NULL, &err);
	assert_null(grading_new(tr, &w->suite->redact, &bad, &err));
	assert_non_null(err);
	free(err);
	transport_free(tr);
	free(path);
}

/* --judge-lazy: a sample another grader failed is not judged. */
static void test_lazy(void **state)
{
	struct world *w = *state;
	struct sample s;
	long before = stub_requests(w->judge);
	struct grading_options o = {.no_judge_cache = true, .judge_lazy = true};
	begin(w, &o);
	grade(w, "judged", "No refunds.", &s);
	assert_int_equal(w->graded, 1);
	assert_int_equal(s.grade, GRADE_FAIL);
	assert_int_equal(s.ngrades, 1);
	settle(w);
	assert_int_equal(stub_requests(w->judge), before);
	assert_int_equal(grading_runtime(w->grading)->judge_calls, 0);
	sample_release(&s);
	grade(w, "judged", "PASSME: 30 days.", &s);
	settle(w);
	assert_int_equal(stub_requests(w->judge), before + 1);
	assert_int_equal(s.grade, GRADE_PASS);
	sample_release(&s);
	end(w);

	/* Not lazy: the judge still sees a failed sample. */
	begin(w, NULL);
	grade(w, "judged", "No refunds.", &s);
	settle(w);
	assert_int_equal(stub_requests(w->judge), before + 2);
	assert_int_equal(s.ngrades, 2);
	sample_release(&s);
	end(w);
}

/* Exec graders wait until the transport is idle and grading_drain(). */
static void test_slow(void **state)
{
	struct world *w = *state;
	struct sample s;
	char *err = NULL;
	begin(w, NULL);
	grade(w, "slow", "30 days.", &s);
	assert_int_equal(w->graded, 0);
	assert_int_equal(s.ngrades, 1);
	assert_int_equal(transport_run(w->tr, &w->stop, &err), 0);
	assert_int_equal(w->graded, 0);
	grading_drain(w->grading);
	assert_int_equal(w->graded, 1);
	assert_int_equal(s.grade, GRADE_FAIL);
	assert_true(s.done);
	assert_int_equal(s.ngrades, 2);
	assert_int_equal(s.nreasons, 1);
	assert_string_equal(s.reasons[0], "exec: slow says no");
	sample_release(&s);
	end(w);
}

/* The stop: queued exec graders do not start and judge requests end, the
 * sample then unmeasured, unless another grader failed it. */
static void test_stop_queued(void **state)
{
	struct world *w = *state;
	struct sample a, b, c;
	long before = stub_requests(w->judge);
	begin(w, NULL);
	grade(w, "slow", "30 days.", &a);
	grade(w, "slow", "No refunds.", &b);
	grade(w, "judged", "PASSME: 30 days.", &c);
	w->stop = 1;
	settle(w);
	assert_int_equal(w->graded, 3);
	assert_false(a.done);
	assert_int_equal(a.ngrades, 1);
	assert_int_equal(a.nreasons, 0);
	assert_true(b.done);
	assert_int_equal(b.grade, GRADE_FAIL);
	assert_int_equal(b.ngrades, 1);
	assert_false(c.done);
	assert_int_equal(c.nreasons, 0);
	assert_int_equal(stub_requests(w->judge), before);
	sample_release(&a);
	sample_release(&b);
	sample_release(&c);
	end(w);
}

/* stop_when_started: set the stop once the exec program has started. */
static void *stop_when_started(void *arg)
{
	struct world *w = arg;
	char *path = xasprintf("%s/started", w->dir);
	const struct timespec tick = {0, 10 * 1000 * 1000};
	while (access(path, F_OK) != 0)
		nanosleep(&tick, NULL);
	free(path);
	w->stop = 1;
	return NULL;
}

/* A program running when the stop comes is ended, and its sample left
 * unmeasured rather than counted as an error. */
static void test_stop_running(void **state)
{
	struct world *w = *state;
	struct sample s;
	pthread_t t;
	begin(w, NULL);
	grade(w, "hang", "30 days.", &s);
	assert_int_equal(pthread_create(&t, NULL, stop_when_started, w), 0);
	settle(w);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(w->graded, 1);
	assert_false(s.done);
	assert_int_equal(s.ngrades, 0);
	assert_int_equal(s.nreasons, 0);
	sample_release(&s);
	end(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_lazy),
		cmocka_unit_test(test_slow),
		cmocka_unit_test(test_stop_queued),
		cmocka_unit_test(test_stop_running),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
