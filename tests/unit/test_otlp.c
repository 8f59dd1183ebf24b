/* test_otlp.c: the OpenTelemetry variables read, endpoints joined, and a
 * report's export cut into OTLP JSON requests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "otlp/otlp.h"
#include "report/report.h"
#include "support.h"
#include "util.h"

static void free_pairs(struct otlp_pair *p, size_t n)
{
	struct otlp_config c = {.headers = p, .nheaders = n};
	otlp_config_release(&c);
}

static void test_pairs(void **state)
{
	(void)state;
	struct otlp_pair *p = NULL;
	size_t n = 0;
	char *err = NULL;
	assert_int_equal(otlp_parse_pairs(" api-key = a%3Db%2Cc ,x=,y=1=2", "V", &p, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(p[0].key, "api-key");
	assert_string_equal(p[0].value, "a=b,c");
	assert_string_equal(p[1].key, "x");
	assert_string_equal(p[1].value, "");
	assert_string_equal(p[2].value, "1=2");
	free_pairs(p, n);
}

/* expect_bad: text is refused with message want, which quotes no value. */
static void expect_bad(const char *text, const char *want)
{
	struct otlp_pair *p = NULL;
	size_t n = 0;
	char *err = NULL;
	assert_int_equal(otlp_parse_pairs(text, "OTEL_EXPORTER_OTLP_HEADERS", &p, &n, &err), -1);
	assert_string_equal(err, want);
	free(err);
	free_pairs(p, n);
}

static void test_pairs_bad(void **state)
{
	(void)state;
	expect_bad("a=1,secret", "OTEL_EXPORTER_OTLP_HEADERS: member 2 has no '='");
	expect_bad(" =secret", "OTEL_EXPORTER_OTLP_HEADERS: member 1 has an empty key");
	expect_bad("k=sec%zzret",
		   "OTEL_EXPORTER_OTLP_HEADERS: member 1 has a bad percent escape in its value");
	expect_bad("k=sec%00", "OTEL_EXPORTER_OTLP_HEADERS: member 1 has a bad percent escape "
			       "in its value");
	expect_bad("k=a%0D%0AX-Evil: 1",
		   "OTEL_EXPORTER_OTLP_HEADERS: member 1 has a line break in its value");
}

static void test_signal_url(void **state)
{
	(void)state;
	static const char *const cases[][3] = {
		{"http://h:4318", "traces", "http://h:4318/v1/traces"},
		{"http://h:4318/", "logs", "http://h:4318/v1/logs"},
		{"https://h/otlp", "traces", "https://h/otlp/v1/traces"},
		{"https://h/otlp/?a=1", "logs", "https://h/otlp/v1/logs?a=1"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *url = otlp_signal_url(cases[i][0], cases[i][1]);
		assert_string_equal(url, cases[i][2]);
		free(url);
	}
}

/* attr_value: the value object of attribute key in o's "attributes". */
static const cJSON *attr_value(const cJSON *o, const char *key)
{
	const cJSON *a;
	cJSON_ArrayForEach(a, cJSON_GetObjectItem(o, "attributes"))
		if (strcmp(cJSON_GetObjectItem(a, "key")->valuestring, key) == 0)
			return cJSON_GetObjectItem(a, "value");
	return NULL;
}

static const char *attr_string(const cJSON *o, const char *key)
{
	const cJSON *v = attr_value(o, key);
	return v ? cJSON_GetStringValue(cJSON_GetObjectItem(v, "stringValue")) : NULL;
}

/* items: the innermost array of an OTLP request. */
static const cJSON *items(const cJSON *root, const char *outer, const char *scoped,
			  const char *key)
{
	const cJSON *res = cJSON_GetArrayItem(cJSON_GetObjectItem(root, outer), 0);
	const cJSON *scope = cJSON_GetArrayItem(cJSON_GetObjectItem(res, scoped), 0);
	return cJSON_GetObjectItem(scope, key);
}

static bool is_hex(const char *s, size_t len)
{
	return s && strlen(s) == len && strspn(s, "0123456789abcdef") == len;
}

/* A report of two cases, one with two graders: 4 samples, 5 grades. */
static struct report *two_cases(void)
{
	static const char *const strata[] = {"prompt", NULL};
	struct report *r = test_report_new("otlp", strata);
	for (int side = 0; side < SIDE__COUNT; side++) {
		r->targets[side].api = report_strdup(r, "anthropic-messages");
		r->targets[side].model = report_strdup(r, "claude");
		r->targets[side].url = report_strdup(r, "https://api.example.com/v1/messages");
	}
	size_t a = test_report_case(r, 0, "a", 1);
	size_t b = test_report_case(r, 0, "b", 1);
	for (int side = 0; side < SIDE__COUNT; side++) {
		struct report_sample *s = test_report_sample(r, a, (enum side)side, GRADE_PASS,
							      NULL, NULL);
		s->start_ms = (double)TEST_STARTED_MS + 10.5;
		s->latency_ms = 100.25;
		s->status = 200;
		s->response_id = report_strdup(r, side ? "msg_prod" : "msg_eval");
		struct report_grade *g = report_sample_grades(r, s, 2);
		g[0] = (struct report_grade){.grader = "regex", .score = 1, .grade = GRADE_PASS};
		g[1] = (struct report_grade){.grader = "judge", .score = 0.25, .grade = GRADE_FAIL,
					     .reason = "too vague"};
	}
	struct report_sample *s = test_report_sample(r, b, SIDE_EVAL, GRADE_PASS, NULL, NULL);
	report_sample_grades(r, s, 1)[0] =
		(struct report_grade){.grader = "contains", .score = 1, .grade = GRADE_PASS};
	s = test_report_sample(r, b, SIDE_PROD, GRADE_ERROR, "timed out after 2000 ms", NULL);
	s->status = 0;
	s->attempts = 3;
	s->start_ms = 0;
	return r;
}

/* The export in requests of two items: the run span and four sample spans
 * in three traces requests, then five records in three logs requests; every
 * record names its sample's span. */
static void test_batches(void **state)
{
	(void)state;
	struct report *r = two_cases();
	struct otlp_config c = {.batch = 2};
	char *err = NULL;
	assert_int_equal(otlp_parse_pairs("service.name=my-canary,team=ml", "V", &c.resource,
					  &c.nresource, &err),
			 0);
	struct otlp_batches *b = otlp_batches_new(r, &c);
	const char *signal, *trace = NULL, *run_id = NULL;
	cJSON *kept[8] = {0};
	size_t n, nreq = 0, spans = 0, records = 0;
	char *body;
	const char *sample_span[4] = {0};
	while ((body = otlp_batches_next(b, &signal, &n))) {
		cJSON *root = cJSON_Parse(body);
		free(body);
		assert_non_null(root);
		assert_true(nreq < ARRAY_SIZE(kept));
		kept[nreq++] = root;
		assert_in_range(n, 1, 2);
		bool traces = strcmp(signal, "traces") == 0;
		const cJSON *res = cJSON_GetArrayItem(
			cJSON_GetObjectItem(root, traces ? "resourceSpans" : "resourceLogs"), 0);
		const cJSON *resource = cJSON_GetObjectItem(res, "resource");
		assert_string_equal(attr_string(resource, "service.name"), "my-canary");
		assert_string_equal(attr_string(resource, "team"), "ml");
		assert_string_equal(attr_string(resource, "canary.suite"), "otlp");
		const cJSON *list = traces ? items(root, "resourceSpans", "scopeSpans", "spans")
					   : items(root, "resourceLogs", "scopeLogs", "logRecords");
		assert_int_equal(cJSON_GetArraySize(list), n);
		const cJSON *it;
		cJSON_ArrayForEach(it, list) {
			const char *tid = cJSON_GetStringValue(cJSON_GetObjectItem(it, "traceId"));
			const char *sid = cJSON_GetStringValue(cJSON_GetObjectItem(it, "spanId"));
			assert_true(is_hex(tid, 32));
			assert_true(is_hex(sid, 16));
			if (!trace)
				trace = tid;
			assert_string_equal(tid, trace);
			if (!traces) {
				assert_true(records < 5);
				/* a's two graders on each side, then b's eval one */
				size_t sample = records < 4 ? records / 2 : 2;
				assert_string_equal(sid, sample_span[sample]);
				records++;
				continue;
			}
			assert_int_equal(records, 0); /* every span goes before any record */
			const char *start = cJSON_GetStringValue(
				cJSON_GetObjectItem(it, "startTimeUnixNano"));
			if (spans == 0) {
				run_id = sid;
				assert_string_equal(cJSON_GetObjectItem(it, "name")->valuestring,
						    "canary run otlp");
				assert_string_equal(start, "1767323045000000000");
			} else {
				sample_span[spans - 1] = sid;
				assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
							    it, "parentSpanId")),
						    run_id);
				assert_string_equal(cJSON_GetObjectItem(it, "name")->valuestring,
						    "chat claude");
				assert_string_equal(attr_string(it, "gen_ai.provider.name"),
						    "anthropic");
				assert_string_equal(attr_string(it, "server.address"),
						    "api.example.com");
				assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
							    attr_value(it, "server.port"),
							    "intValue")),
						    "443");
			}
			if (spans == 1) {
				assert_string_equal(start, "1767323045010500000");
				assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(
							    it, "endTimeUnixNano")),
						    "1767323045110750000");
				assert_string_equal(attr_string(it, "gen_ai.response.id"),
						    "msg_eval");
				assert_null(attr_string(it, "error.type"));
			}
			if (spans == 4) {
				assert_string_equal(attr_string(it, "error.type"), "timeout");
				assert_string_equal(attr_string(it, "canary.case.id"), "b");
				assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(it, "status"),
								     "code")
							 ->valueint,
						 2);
			}
			spans++;
		}
	}
	assert_int_equal(nreq, 6);
	assert_int_equal(spans, 5);
	assert_int_equal(records, 5);
	/* The second record: the judge's fail on eval, with its reason. */
	const cJSON *rec = cJSON_GetArrayItem(items(kept[3], "resourceLogs", "scopeLogs",
						    "logRecords"),
					      1);
	assert_string_equal(cJSON_GetObjectItem(rec, "eventName")->valuestring,
			    "gen_ai.evaluation.result");
	assert_string_equal(attr_string(rec, "gen_ai.evaluation.name"), "judge");
	assert_string_equal(attr_string(rec, "gen_ai.evaluation.score.label"), "fail");
	assert_string_equal(attr_string(rec, "gen_ai.evaluation.explanation"), "too vague");
	assert_string_equal(attr_string(rec, "gen_ai.response.id"), "msg_eval");
	assert_true(cJSON_GetObjectItem(attr_value(rec, "gen_ai.evaluation.score.value"),
					"doubleValue")
			    ->valuedouble == 0.25);
	for (size_t i = 0; i < nreq; i++)
		cJSON_Delete(kept[i]);
	otlp_batches_free(b);
	otlp_config_release(&c);
	report_free(r);
}

/* With the default batch, a run of 5,000 cases (10,000 spans, 10,000
 * records) exports in three traces and three logs requests. */
static void test_batches_few(void **state)
{
	(void)state;
	static const char *const strata[] = {"s", NULL};
	struct report *r = test_report_new("big", strata);
	for (int i = 0; i < 5000; i++) {
		char id[16];
		snprintf(id, sizeof(id), "c%d", i);
		size_t ci = test_report_case(r, 0, id, 1);
		for (int side = 0; side < SIDE__COUNT; side++) {
			struct report_sample *s = test_report_sample(r, ci, (enum side)side,
								      GRADE_PASS, NULL, NULL);
			report_sample_grades(r, s, 1)[0] = (struct report_grade){
				.grader = "regex", .score = 1, .grade = GRADE_PASS};
		}
	}
	struct otlp_config c = {0};
	struct otlp_batches *b = otlp_batches_new(r, &c);
	const char *signal;
	size_t n, count[2] = {0, 0}, total[2] = {0, 0};
	char *body;
	while ((body = otlp_batches_next(b, &signal, &n))) {
		int logs = strcmp(signal, "logs") == 0;
		count[logs]++;
		total[logs] += n;
		free(body);
	}
	assert_int_equal(count[0], 3);
	assert_int_equal(count[1], 3);
	assert_int_equal(total[0], 10001);
	assert_int_equal(total[1], 10000);
	otlp_batches_free(b);
	report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_pairs_bad),
		cmocka_unit_test(test_signal_url),
		cmocka_unit_test(test_batches),
		cmocka_unit_test(test_batches_few),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
