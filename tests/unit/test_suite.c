/* test_suite.c: loading suites, and every suite error with its position.
 *
 * Valid suites are the YAML files of tests/fixtures/suites.  Each file of
 * tests/fixtures/suites/errors/ is one broken suite whose first line reads
 * "# error: LINE:COL: message"; the runner loads them all and expects
 * exactly "PATH:LINE:COL: message".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grader.h"
#include "provider.h"
#include "redact.h"
#include "suite/suite.h"
#include "support.h"
#include "template.h"
#include "util.h"

#define EVAL_TOKEN "eval-token-5d2c81"
#define PROD_URL "http://127.0.0.1:9/prod?key=prod-secret-77f3"
#define JUDGE_TOKEN "judge-token-a61e"

static const char *const secrets[] = {EVAL_TOKEN, PROD_URL, "prod-secret-77f3", JUDGE_TOKEN};

static char *fixture(const char *name)
{
	const char *dir = getenv("FIXTURES");
	return xasprintf("%s/suites/%s", dir ? dir : "../tests/fixtures", name);
}

static void assert_no_secret(const char *text)
{
	for (size_t i = 0; i < ARRAY_SIZE(secrets); i++)
		if (strstr(text, secrets[i]))
			fail_msg("a secret leaked into: %s", text);
}

static struct suite *load_text(const char *yaml, const struct suite_options *opts, char **err)
{
	return suite_load_buffer("suite.yaml", yaml, strlen(yaml), opts, err);
}

static void assert_load_error(const char *yaml, const char *want)
{
	char *err = NULL;
	struct suite *s = load_text(yaml, NULL, &err);
	if (s)
		fail_msg("loaded, expected: %s", want);
	assert_non_null(err);
	assert_string_equal(err, want);
	assert_no_secret(err);
	free(err);
}

static struct suite *load_fixture(const char *name)
{
	char *path = fixture(name);
	char *err = NULL;
	struct suite *s = suite_load(path, NULL, &err);
	if (!s)
		fail_msg("%s: %s", path, err);
	free(path);
	return s;
}

static void assert_json(const cJSON *j, const char *want)
{
	char *text = cJSON_PrintUnformatted(j);
	assert_non_null(text);
	assert_string_equal(text, want);
	cJSON_free(text);
}

static void assert_masked(const struct suite *s, const char *secret)
{
	char *text = xasprintf("<%s>", secret);
	char *masked = redact_apply(&s->redact, text);
	assert_string_equal(masked, "<" REDACT_MASK ">");
	free(masked);
	free(text);
}

static int setup_env(void **state)
{
	(void)state;
	setenv("EVAL_TOKEN", EVAL_TOKEN, 1);
	setenv("PROD_URL", PROD_URL, 1);
	setenv("JUDGE_TOKEN", JUDGE_TOKEN, 1);
	unsetenv("CANARY_UNSET_URL");
	unsetenv("CANARY_UNSET_TOKEN");
	unsetenv("CANARY_UNSET_MODEL");
	return 0;
}

/* The base suite the inline error tests change one thing in. */
#define HEAD                                                     \
	"version: 1\n"                                           \
	"name: t\n"                                              \
	"targets:\n"                                             \
	"  eval: {url: 'http://127.0.0.1:1/v1/chat/completions'}\n" \
	"  prod: {url: 'http://127.0.0.1:2/v1/chat/completions'}\n"

/* A stratum of one case, for inline suites that test something else. */
#define ONE_CASE "strata: {s: {cases: [{id: c, input: hi, expect: [{contains: x}]}]}}\n"

static void test_design_example(void **state)
{
	(void)state;
	struct suite *s = load_fixture("design.yaml");
	assert_string_equal(s->name, "calendar-assistant");
	assert_int_equal(s->version, 1);
	assert_int_equal(s->ncases, 2);
	assert_int_equal(s->nstrata, 2);
	char *dir = fixture("");
	dir[strlen(dir) - 1] = '\0';
	assert_string_equal(s->dir, dir);
	free(dir);
	assert_int_equal(s->defaults.repeat, 1);
	assert_true(s->defaults.threshold == 1.0);
	assert_int_equal(s->defaults.timeout_ms, 30000);
	assert_int_equal(s->defaults.connect_timeout_ms, 10000);
	assert_int_equal(s->defaults.confirm, 0);
	assert_true(s->defaults.min_valid == 0.5);

	const struct target *e = &s->targets[SIDE_EVAL];
	assert_int_equal(e->side, SIDE_EVAL);
	assert_string_equal(e->url, "http://127.0.0.1:8081/v1/chat/completions");
	assert_false(e->url_overridden);
	assert_string_equal(e->provider->name, "openai-chat");
	assert_string_equal(e->model, "calendar-agent");
	assert_int_equal(e->nheaders, 1);
	assert_string_equal(e->headers[0].name, "Authorization");
	assert_string_equal(e->headers[0].value, "Bearer ${env:EVAL_TOKEN}");
	assert_int_equal(e->fingerprint, FINGERPRINT_HEADER);
	assert_string_equal(e->fingerprint_where, "X-Agent-Fingerprint");
	assert_null(e->priv);
	assert_int_equal(e->timeout_ms, 0);
	assert_int_equal(e->line, 8);

	const struct target *p = &s->targets[SIDE_PROD];
	assert_int_equal(p->side, SIDE_PROD);
	assert_string_equal(p->url, "${env:PROD_URL}");
	assert_string_equal(p->provider->name, "http");
	assert_null(p->model);
	assert_int_equal(p->fingerprint, FINGERPRINT_NONE);
	assert_json(*(cJSON **)test_option(p, "body"),
		    "{\"session\":\"canary-${case.id}\",\"message\":\"${input}\"}");
	assert_string_equal(*(char **)test_option(p, "reply/content"), "/reply/text");
	assert_string_equal(*(char **)test_option(p, "reply/tool_calls/at"), "/trace/tool_calls");

	assert_true(s->judge.present);
	assert_string_equal(s->judge.url, "http://127.0.0.1:8082/v1/chat/completions");
	assert_string_equal(s->judge.provider->name, "openai-chat");
	assert_string_equal(s->judge.model, "judge-model");
	assert_int_equal(s->judge.nheaders, 1);
	assert_true(s->judge.temperature == 0);
	assert_int_equal(s->judge.max_tokens, 0);

	assert_int_equal(s->nnamed, 1);
	assert_string_equal(s->named[0].name, "no-pii");
	assert_string_equal(s->named[0].grader->label, "no-pii");
	assert_int_equal(s->ngraders, 4);

	const struct stratum *tools = &s->strata[0];
	assert_string_equal(tools->name, "tools");
	assert_string_equal(tools->description, "tool schemas and descriptions");
	assert_int_equal(tools->ncases, 1);
	const struct suite_case *c = &tools->cases[0];
	assert_string_equal(c->id, "book-meeting");
	assert_int_equal(c->stratum, 0);
	assert_string_equal(c->input, "Book 30 minutes with ana@example.com tomorrow at 10:00");
	assert_json(c->messages, "[{\"role\":\"user\",\"content\":\"Book 30 minutes with "
				 "ana@example.com tomorrow at 10:00\"}]");
	assert_null(c->request);
	assert_int_equal(c->nvars, 0);
	assert_int_equal(c->repeat, 1);
	assert_true(c->threshold == 1.0);
	assert_int_equal(c->timeout_ms, 30000);
	assert_int_equal(c->nexpect, 2);
	assert_ptr_equal(c->expect[0], s->named[0].grader);
	assert_string_equal(c->expect[1]->label, "contains");
	assert_int_equal(c->line, 29);

	const struct stratum *prompt = &s->strata[1];
	assert_string_equal(prompt->name, "prompt");
	assert_null(prompt->description);
	c = &prompt->cases[0];
	assert_string_equal(c->id, "refund-window");
	assert_int_equal(c->stratum, 1);
	assert_string_equal(c->input, "What is your refund window?");
	assert_json(c->messages, "[{\"role\":\"user\",\"content\":\"What is your refund window?\"}]");
	assert_int_equal(c->repeat, 5);
	assert_int_equal(c->nexpect, 2);
	assert_string_equal(c->expect[0]->label, "regex");
	assert_string_equal(c->expect[1]->label, "max_latency");

	/* Every env value met, and each fixed header value, is a secret. */
	assert_masked(s, EVAL_TOKEN);
	assert_masked(s, PROD_URL);
	assert_masked(s, JUDGE_TOKEN);
	assert_masked(s, "Bearer " EVAL_TOKEN);
	suite_free(s);
}

static void test_case_ctx_renders_targets(void **state)
{
	(void)state;
	struct suite *s = load_fixture("design.yaml");
	const struct suite_case *c = suite_find_case(s, "book-meeting");
	assert_ptr_equal(c, &s->strata[0].cases[0]);
	assert_ptr_equal(suite_find_case(s, "refund-window"), &s->strata[1].cases[0]);
	assert_null(suite_find_case(s, "book"));

	struct tmpl_ctx ctx;
	suite_case_ctx(s, c, &ctx);
	assert_int_equal(ctx.allowed, TMPL_TARGET);
	assert_string_equal(ctx.case_id, "book-meeting");
	assert_string_equal(ctx.stratum, "tools");
	assert_ptr_equal(ctx.input, c->input);
	assert_ptr_equal(ctx.messages, c->messages);
	assert_ptr_equal(ctx.redact, &s->redact);

	char *err = NULL;
	cJSON *body = template_render_json(*(cJSON **)test_option(&s->targets[SIDE_PROD], "body"),
					   &ctx, &err);
	assert_json(body, "{\"session\":\"canary-book-meeting\",\"message\":\"Book 30 minutes with "
			  "ana@example.com tomorrow at 10:00\"}");
	cJSON_Delete(body);
	char *url = template_render(s->targets[SIDE_PROD].url, &ctx, &err);
	assert_string_equal(url, PROD_URL);
	free(url);

	assert_string_equal(side_name(SIDE_EVAL), "eval");
	assert_string_equal(side_name(SIDE_PROD), "prod");
	suite_free(s);
}

static void test_every_key(void **state)
{
	(void)state;
	struct suite *s = load_fixture("full.yaml");
	assert_int_equal(s->defaults.repeat, 2);
	assert_true(s->defaults.threshold == 0.5);
	assert_int_equal(s->defaults.timeout_ms, 20000);
	assert_int_equal(s->defaults.connect_timeout_ms, 500);
	assert_int_equal(s->defaults.confirm, 9);
	assert_true(s->defaults.min_valid == 0.8);

	const struct target *e = &s->targets[SIDE_EVAL];
	assert_string_equal(e->provider->name, "anthropic-messages");
	assert_int_equal(e->fingerprint, FINGERPRINT_JSON);
	assert_string_equal(e->fingerprint_where, "/model");
	assert_int_equal(e->timeout_ms, 120000);
	assert_int_equal(e->nheaders, 2);
	assert_string_equal(e->headers[1].name, "X-Case");
	assert_string_equal(e->headers[1].value, "canary-${case.id}");

	const struct target *p = &s->targets[SIDE_PROD];
	assert_string_equal(p->url, "http://127.0.0.1:9000/agents/${vars.region}/chat");
	assert_int_equal(p->nheaders, 1);

	assert_string_equal(s->judge.provider->name, "anthropic-messages");
	assert_true(s->judge.temperature == 0.2);
	assert_int_equal(s->judge.max_tokens, 256);
	assert_int_equal(s->judge.timeout_ms, 45000);

	assert_int_equal(s->nnamed, 2);
	assert_int_equal(s->ngraders, 6);
	assert_int_equal(s->named[1].grader->on, GRADER_ON_RAW);

	const struct suite_case *c = suite_find_case(s, "book-meeting");
	assert_string_equal(c->input, "Book a room in eu-west for book-meeting (tools), ${input}");
	assert_int_equal(c->nvars, 2);
	assert_string_equal(c->vars[0].name, "region");
	assert_string_equal(c->vars[0].value, "eu-west");
	assert_string_equal(c->vars[1].name, "owner");
	assert_string_equal(c->vars[1].value, "book-meeting-owner");
	assert_json(c->request, "{\"temperature\":0,\"tools\":[{\"name\":\"create_event\","
				"\"description\":\"for book-meeting-owner\"}]}");
	assert_int_equal(c->repeat, 3);
	assert_true(c->threshold == 0.75);
	assert_int_equal(c->timeout_ms, 5000);
	assert_int_equal(c->nexpect, 4);
	assert_ptr_equal(c->expect[0], s->named[1].grader);
	assert_string_equal(c->expect[1]->label, "max_latency");
	assert_ptr_equal(c->expect[2], s->named[0].grader);
	assert_string_equal(c->expect[3]->label, "equals");
	assert_int_equal(c->expect[3]->on, GRADER_ON_POINTER);
	assert_string_equal(c->expect[3]->on_pointer, "/status");

	struct tmpl_ctx ctx;
	char *err = NULL;
	suite_case_ctx(s, c, &ctx);
	char *url = template_render(p->url, &ctx, &err);
	assert_string_equal(url, "http://127.0.0.1:9000/agents/eu-west/chat");
	free(url);

	c = suite_find_case(s, "refund-window");
	assert_string_equal(c->input, "What is your refund window? (us-east)");
	assert_json(c->messages,
		    "[{\"role\":\"system\",\"content\":\"You are the prompt agent.\"},"
		    "{\"role\":\"user\",\"content\":\"Hello\"},"
		    "{\"role\":\"assistant\",\"content\":\"Hi! How can I help?\"},"
		    "{\"role\":\"user\",\"content\":\"What is your refund window? (us-east)\"}]");
	assert_null(c->request);
	assert_int_equal(c->repeat, 2);
	assert_true(c->threshold == 0.5);
	assert_int_equal(c->timeout_ms, 20000);
	assert_int_equal(c->nexpect, 2);

	suite_case_ctx(s, c, &ctx);
	cJSON *body = template_render_json(*(cJSON **)test_option(p, "body"), &ctx, &err);
	assert_json(cJSON_GetObjectItem(body, "history"),
		    "[{\"role\":\"system\",\"content\":\"You are the prompt agent.\"},"
		    "{\"role\":\"user\",\"content\":\"Hello\"},"
		    "{\"role\":\"assistant\",\"content\":\"Hi! How can I help?\"},"
		    "{\"role\":\"user\",\"content\":\"What is your refund window? (us-east)\"}]");
	assert_string_equal(cJSON_GetObjectItem(body, "region")->valuestring, "us-east");
	assert_string_equal(cJSON_GetObjectItem(body, "literal")->valuestring, "costs ${price}");
	assert_json(cJSON_GetObjectItem(body, "options"),
		    "{\"stream\":false,\"n\":1,\"tags\":[\"canary\",\"prompt\"],\"extra\":null}");
	cJSON_Delete(body);
	assert_masked(s, EVAL_TOKEN);
	assert_masked(s, JUDGE_TOKEN);
	suite_free(s);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_yaml(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 5 && strcmp(d->d_name + n - 5, ".yaml") == 0;
}

/* Every broken suite of fixtures/suites/errors gives exactly its error. */
static void test_error_fixtures(void **state)
{
	(void)state;
	char *dir = fixture("errors");
	struct dirent **names;
	int n = scandir(dir, &names, is_yaml, by_name);
	if (n < 0)
		fail_msg("cannot list '%s'", dir);
	assert_true(n >= 40);
	int failed = 0;
	for (int i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]->d_name);
		char *load_err = NULL;
		size_t len;
		char *text = util_read_file(path, 1 << 20, &len, &load_err);
		assert_non_null(text);
		const char *tag = "# error: ";
		if (strncmp(text, tag, strlen(tag)) != 0)
			fail_msg("%s: the first line must be '# error: LINE:COL: message'", path);
		char *nl = strchr(text, '\n');
		char *want = xasprintf("%s:%.*s", path, (int)(nl - text - strlen(tag)),
				       text + strlen(tag));
		char *err = NULL;
		struct suite *s = suite_load(path, NULL, &err);
		if (s) {
			print_error("%s: loaded, expected: %s\n", names[i]->d_name, want);
			suite_free(s);
			failed++;
		} else if (strcmp(err, want) != 0) {
			print_error("%s:\n  want: %s\n  got:  %s\n", names[i]->d_name, want, err);
			failed++;
		} else {
			assert_no_secret(err);
		}
		free(err);
		free(want);
		free(text);
		free(path);
		free(names[i]);
	}
	free(names);
	free(dir);
	assert_int_equal(failed, 0);
}

/* The brief's own example of an unknown key, with its exact position. */
static void test_misspelt_key(void **state)
{
	(void)state;
	assert_load_error(HEAD "strata:\n"
			       "  tools:\n"
			       "    cases:\n"
			       "      - id: x\n"
			       "        input: hi\n"
			       "        expect: [{contains: hi}]\n"
			       "      - id: book-meeting\n"
			       "        input: Book a meeting\n"
			       "        expct: [{contains: x}]\n",
			  "suite.yaml:14:9: unknown key 'expct' in case 'book-meeting' "
			  "(did you mean 'expect'?)");
	assert_load_error(HEAD "strata:\n"
			       "  tools:\n"
			       "    cases:\n"
			       "      - idd: x\n"
			       "        input: hi\n",
			  "suite.yaml:9:9: unknown key 'idd' in case 1 of stratum 'tools' "
			  "(did you mean 'id'?)");
}

static void test_empty(void **state)
{
	(void)state;
	assert_load_error("", "suite.yaml:1:1: the suite is empty");
	assert_load_error("# nothing but a comment\n\n", "suite.yaml:1:1: the suite is empty");
	assert_load_error("--- []\n", "suite.yaml:1:5: the suite must be a mapping (version, name, "
					  "targets, strata, ...)");
}

static void test_limits(void **state)
{
	(void)state;
	/* A buffer past 16 MiB is refused before parsing. */
	size_t big = ((size_t)16 << 20) + 1;
	char *data = xmalloc(big);
	memset(data, '#', big);
	char *err = NULL;
	assert_null(suite_load_buffer("big.yaml", data, big, NULL, &err));
	assert_string_equal(err, "big.yaml: the suite is larger than 16 MiB");
	free(err);
	free(data);

	/* So is such a file, without reading it. */
	char path[] = "/tmp/canary-test-suite-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)big), 0);
	close(fd);
	err = NULL;
	assert_null(suite_load(path, NULL, &err));
	char *want = xasprintf("%s: the suite is larger than 16 MiB", path);
	assert_string_equal(err, want);
	free(want);
	free(err);
	unlink(path);

	/* 10,000 cases load; one more is an error at that case. */
	struct buf b;
	buf_init(&b, 0);
	buf_addstr(&b, HEAD "strata:\n  s:\n    expect: [{contains: x}]\n    cases:\n");
	for (int i = 0; i < 10000; i++)
		buf_addf(&b, "      - {id: c%d, input: hi}\n", i);
	err = NULL;
	struct suite *s = suite_load_buffer("suite.yaml", b.data, b.len, NULL, &err);
	if (!s)
		fail_msg("%s", err);
	assert_int_equal(s->ncases, 10000);
	assert_int_equal(s->ngraders, 1);
	assert_non_null(suite_find_case(s, "c9999"));
	suite_free(s);
	buf_addstr(&b, "      - {id: one-more, input: hi}\n");
	assert_null(suite_load_buffer("suite.yaml", b.data, b.len, NULL, &err));
	assert_string_equal(err, "suite.yaml:10010:9: the suite has more than 10000 cases");
	free(err);
	buf_release(&b);
}

static void test_missing_file(void **state)
{
	(void)state;
	char *err = NULL;
	assert_null(suite_load("/nonexistent/canary/suite.yaml", NULL, &err));
	assert_string_equal(err, "cannot open '/nonexistent/canary/suite.yaml': "
				 "No such file or directory");
	free(err);
}

/* --target replaces a url, so its template is not needed at all. */
static void test_target_override(void **state)
{
	(void)state;
	const char *yaml = "version: 1\n"
			   "name: t\n"
			   "targets:\n"
			   "  eval: {url: 'http://127.0.0.1:1/v1/chat/completions'}\n"
			   "  prod: {url: '${env:CANARY_UNSET_URL}'}\n"
			   "strata: {s: {cases: [{id: c, input: hi, expect: [{contains: x}]}]}}\n";
	assert_load_error(yaml, "suite.yaml:5:15: environment variable 'CANARY_UNSET_URL' is "
				"not set");
	struct suite_options opts = {.target_url = {NULL, "http://127.0.0.1:7/override"}};
	char *err = NULL;
	struct suite *s = load_text(yaml, &opts, &err);
	if (!s)
		fail_msg("%s", err);
	assert_string_equal(s->targets[SIDE_PROD].url, "http://127.0.0.1:7/override");
	assert_true(s->targets[SIDE_PROD].url_overridden);
	assert_string_equal(s->targets[SIDE_EVAL].url, "http://127.0.0.1:1/v1/chat/completions");
	assert_false(s->targets[SIDE_EVAL].url_overridden);
	suite_free(s);

	/* With an override the url may be left out of the file. */
	const char *no_url = "version: 1\n"
			     "name: t\n"
			     "targets: {eval: {model: m}, prod: {model: m}}\n"
			     "strata: {s: {cases: [{id: c, input: hi, expect: [{contains: x}]}]}}\n";
	assert_load_error(no_url, "suite.yaml:3:17: missing required key 'url' in target 'eval'");
	opts.target_url[SIDE_EVAL] = "http://127.0.0.1:8/eval";
	s = load_text(no_url, &opts, &err);
	if (!s)
		fail_msg("%s", err);
	assert_true(s->targets[SIDE_EVAL].url_overridden);
	assert_true(s->targets[SIDE_PROD].url_overridden);
	suite_free(s);

	/* An override is checked like a url, and the error names the option:
	 * nothing may be sent to prod before eval's bad URL fails. */
	static const char *const bad[] = {"file:///x", "ftp://127.0.0.1/", "127.0.0.1:8/v1", ""};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct suite_options o = {.target_url = {bad[i], NULL}};
		err = NULL;
		assert_null(load_text(yaml, &o, &err));
		assert_string_equal(err, "--target eval: URL must start with http:// or https://");
		free(err);
		o = (struct suite_options){.target_url = {"http://127.0.0.1:7/", bad[i]}};
		assert_null(load_text(no_url, &o, &err));
		assert_string_equal(err, "--target prod: URL must start with http:// or https://");
		free(err);
	}
	opts.target_url[SIDE_PROD] = "HTTPS://127.0.0.1:9/";
	s = load_text(no_url, &opts, &err);
	if (!s)
		fail_msg("%s", err);
	suite_free(s);

	/* So is --judge-url. */
	const char *judged = HEAD "judge: {url: 'http://127.0.0.1:3/v1/chat/completions'}\n"
		ONE_CASE;
	struct suite_options jo = {.judge_url = "file:///etc/passwd"};
	assert_null(load_text(judged, &jo, &err));
	assert_string_equal(err, "--judge-url: URL must start with http:// or https://");
	free(err);
	jo.judge_url = "http://127.0.0.1:4/judge";
	s = load_text(judged, &jo, &err);
	if (!s)
		fail_msg("%s", err);
	assert_string_equal(s->judge.url, "http://127.0.0.1:4/judge");
	assert_true(s->judge.url_overridden);
	suite_free(s);
}

/* A header value that depends on the case is rendered for every case at
 * load: no case may inject a header (the value is never quoted). */
static void test_header_injection(void **state)
{
	(void)state;
	static const struct {
		const char *header;
		const char *cases;
		const char *want;
	} bad[] = {
		{"{X-Case: '${input}'}",
		 "[{id: a, input: hi}, {id: b, input: \"hi\\r\\nX-Injected: yes\"}]",
		 "suite.yaml:5:75: case 'b': header 'X-Case' must not contain a line break"},
		{"{X-Case: 'id ${case.id}'}",
		 "[{id: a, input: hi}, {id: \"b\\x01X-Injected\", input: hi}]",
		 "suite.yaml:5:75: case 'b\x01X-Injected': header 'X-Case' must not contain "
		 "control characters"},
		{"{X-Var: '${vars.v}'}", "[{id: a, input: hi, vars: {v: \"x\\nX-Injected: yes\"}}]",
		 "suite.yaml:5:74: case 'a': header 'X-Var' must not contain a line break"},
		{"{X-M: 'm ${messages}'}",
		 "[{id: a, messages: [{role: user, content: \"a\\x7f\"}]}]",
		 "suite.yaml:5:72: case 'a': header 'X-M' must not contain control characters"},
		{"{X-M: 'm ${messages}'}",
		 "[{id: a, messages: [{role: user, content: \"a\\r\\n\"}]}]",
		 NULL},
		{"{X-S: '${stratum}'}", "[{id: a, input: \"x\\ry\"}]", NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *yaml = xasprintf("version: 1\n"
				       "name: t\n"
				       "targets:\n"
				       "  eval: {url: 'http://127.0.0.1:1/v1/chat/completions'}\n"
				       "  prod: {url: 'http://127.0.0.1:2/v1/chat/completions', "
				       "headers: %s}\n"
				       "strata: {s: {expect: [{contains: x}], cases: %s}}\n",
				       bad[i].header, bad[i].cases);
		char *err = NULL;
		struct suite *s = load_text(yaml, NULL, &err);
		if (bad[i].want) {
			if (s)
				fail_msg("loaded, expected: %s", bad[i].want);
			assert_string_equal(err, bad[i].want);
			assert_null(strstr(err, "Injected: yes"));
		} else if (!s) {
			/* ${messages} is JSON text (a line break is escaped) and
			 * ${stratum} has none. */
			fail_msg("%s", err);
		}
		suite_free(s);
		free(err);
		free(yaml);
	}
	/* A tab is allowed in a header value, fixed or rendered. */
	char *err = NULL;
	struct suite *s = load_text(HEAD "strata: {s: {cases: [{id: c, input: \"a\\tb\", "
					 "expect: [{contains: x}]}]}}\n", NULL, &err);
	if (!s)
		fail_msg("%s", err);
	suite_free(s);
}

/* model is a template of ${env:...}, rendered at load; unset is an error. */
static void test_model_template(void **state)
{
	(void)state;
	setenv("CANARY_TEST_MODEL", "claude-test-7d1", 1);
	char *err = NULL;
	struct suite *s = load_text("version: 1\n"
				    "name: t\n"
				    "targets:\n"
				    "  eval: {url: 'http://127.0.0.1:1/v1/messages', "
				    "api: anthropic-messages, model: '${env:CANARY_TEST_MODEL}'}\n"
				    "  prod: {url: 'http://127.0.0.1:2/v1/chat/completions', "
				    "model: 'lit-$${env:X}'}\n"
				    "judge: {url: 'http://127.0.0.1:3/v1/chat/completions', "
				    "model: 'j-${env:CANARY_TEST_MODEL}'}\n"
				    ONE_CASE, NULL, &err);
	if (!s)
		fail_msg("%s", err);
	assert_string_equal(s->targets[SIDE_EVAL].model, "claude-test-7d1");
	assert_string_equal(s->targets[SIDE_PROD].model, "lit-${env:X}");
	assert_string_equal(s->judge.model, "j-claude-test-7d1");
	assert_masked(s, "claude-test-7d1");
	suite_free(s);
	unsetenv("CANARY_TEST_MODEL");
	assert_load_error(HEAD "judge: {url: 'http://127.0.0.1:3/v1', model: [a]}\n"
			       ONE_CASE,
			  "suite.yaml:6:46: 'model' must be a string");
	assert_load_error(HEAD "judge: {url: 'http://127.0.0.1:3/v1', model: '${case.id}'}\n"
			       ONE_CASE,
			  "suite.yaml:6:46: '${case.id}' cannot be used here");
}

/* load_http: a suite whose eval target has no api: and whose prod target
 * is api http with this reply: mapping (flow YAML) and no body. */
static struct suite *load_http(const char *reply)
{
	char *err = NULL;
	char *yaml = xasprintf("version: 1\n"
			       "name: t\n"
			       "targets:\n"
			       "  eval: {url: 'http://127.0.0.1:1/v1/chat/completions'}\n"
			       "  prod: {url: 'http://127.0.0.1:2/agent', api: http, reply: %s}\n"
			       ONE_CASE, reply);
	struct suite *s = load_text(yaml, NULL, &err);
	if (!s)
		fail_msg("%s", err);
	free(yaml);
	return s;
}

/* api http without a body sends the provider's default body, which its
 * load() fills in. */
static void test_http_without_body(void **state)
{
	(void)state;
	struct suite *s = load_http("{content: ''}");
	assert_string_equal(s->targets[SIDE_PROD].provider->name, "http");
	assert_json(*(cJSON **)test_option(&s->targets[SIDE_PROD], "body"),
		    "{\"input\":\"${input}\",\"messages\":\"${messages}\"}");
	assert_string_equal(*(char **)test_option(&s->targets[SIDE_PROD], "reply/content"), "");
	assert_null(*(char **)test_option(&s->targets[SIDE_PROD], "reply/tool_calls/at"));
	suite_free(s);
}

/* reply.tool_calls: a pointer to the calls, or a mapping that also points
 * into each call. */
static void test_http_call_pointers(void **state)
{
	(void)state;
	struct suite *s = load_http("{content: /turn/say, tool_calls: {at: /turn/actions, "
				    "name: /tool, arguments: /args}}");
	const struct target *p = &s->targets[SIDE_PROD];
	assert_string_equal(*(char **)test_option(p, "reply/tool_calls/at"), "/turn/actions");
	assert_string_equal(*(char **)test_option(p, "reply/tool_calls/name"), "/tool");
	assert_string_equal(*(char **)test_option(p, "reply/tool_calls/arguments"), "/args");
	assert_null(*(char **)test_option(p, "reply/tool_calls/id"));
	suite_free(s);
	s = load_http("{content: /turn/say, tool_calls: /turn/actions}");
	p = &s->targets[SIDE_PROD];
	assert_string_equal(*(char **)test_option(p, "reply/tool_calls/at"), "/turn/actions");
	assert_null(*(char **)test_option(p, "reply/tool_calls/name"));
	suite_free(s);
}

/* A target without api: uses the table's first; canary grade --api reads a
 * reply as another api only when that api needs no options of its own. */
static void test_target_set_api(void **state)
{
	(void)state;
	char *err = NULL;
	struct suite *s = load_http("{content: /reply/text}");
	struct target *e = &s->targets[SIDE_EVAL], *p = &s->targets[SIDE_PROD];
	assert_ptr_equal(e->provider, provider_table[0]);
	assert_null(e->priv);
	assert_int_equal(suite_target_set_api(e, e->provider, &err), 0);
	assert_int_equal(suite_target_set_api(e, p->provider, &err), -1);
	assert_string_equal(err, "target 'eval' has no options of api http (it uses api "
				 "openai-chat)");
	free(err);
	assert_ptr_equal(e->provider, provider_table[0]);
	assert_int_equal(suite_target_set_api(p, p->provider, &err), 0);
	assert_string_equal(*(char **)test_option(p, "reply/content"), "/reply/text");
	/* The http options go with the api they belong to. */
	assert_int_equal(suite_target_set_api(p, provider_find("anthropic-messages"), &err), 0);
	assert_string_equal(p->provider->name, "anthropic-messages");
	assert_null(p->priv);
	suite_free(s);
}

/* build_body: the body target t of s builds for case id, parsed. */
static cJSON *build_body(struct suite *s, const struct target *t, const char *id)
{
	const struct suite_case *c = suite_find_case(s, id);
	struct tmpl_ctx ctx;
	char *err = NULL;
	assert_non_null(c);
	suite_case_ctx(s, c, &ctx);
	char *text = t->provider->build(t, c, &ctx, &err);
	if (!text)
		fail_msg("%s", err);
	cJSON *body = cJSON_Parse(text);
	free(text);
	return body;
}

/* A request in defaults, in a target and in a case: objects are merged,
 * case over target over defaults; arrays and other values are replaced. */
static void test_request_layers(void **state)
{
	(void)state;
	char *err = NULL;
	struct suite *s = load_text(
		"version: 1\n"
		"name: t\n"
		"defaults:\n"
		"  request: {temperature: 0.5, stop: [a, b], metadata: {suite: t, case: '${case.id}'},\n"
		"            max_tokens: 64}\n"
		"targets:\n"
		"  eval:\n"
		"    url: 'http://127.0.0.1:1/v1/chat/completions'\n"
		"    request: {temperature: 0, metadata: {target: eval, region: '${vars.region}'}}\n"
		"  prod: {url: 'http://127.0.0.1:2/v1/messages', api: anthropic-messages}\n"
		"strata:\n"
		"  s:\n"
		"    cases:\n"
		"      - {id: c1, input: hi, vars: {region: eu}, expect: [{contains: x}],\n"
		"         request: {stop: [z], metadata: {case: mine}}}\n"
		"      - {id: c2, input: hi, vars: {region: us}, expect: [{contains: x}]}\n",
		NULL, &err);
	if (!s)
		fail_msg("%s", err);
	cJSON *body = build_body(s, &s->targets[SIDE_EVAL], "c1");
	assert_json(cJSON_GetObjectItem(body, "temperature"), "0");
	assert_json(cJSON_GetObjectItem(body, "stop"), "[\"z\"]");
	assert_json(cJSON_GetObjectItem(body, "metadata"),
		    "{\"suite\":\"t\",\"case\":\"mine\",\"target\":\"eval\",\"region\":\"eu\"}");
	cJSON_Delete(body);
	body = build_body(s, &s->targets[SIDE_EVAL], "c2");
	assert_json(cJSON_GetObjectItem(body, "stop"), "[\"a\",\"b\"]");
	assert_json(cJSON_GetObjectItem(body, "metadata"),
		    "{\"suite\":\"t\",\"case\":\"c2\",\"target\":\"eval\",\"region\":\"us\"}");
	cJSON_Delete(body);
	/* prod has no request of its own: the defaults' under the case's; the
	 * request's max_tokens wins over the API's default. */
	body = build_body(s, &s->targets[SIDE_PROD], "c1");
	assert_json(cJSON_GetObjectItem(body, "temperature"), "0.5");
	assert_json(cJSON_GetObjectItem(body, "max_tokens"), "64");
	assert_json(cJSON_GetObjectItem(body, "metadata"), "{\"suite\":\"t\",\"case\":\"mine\"}");
	cJSON_Delete(body);
	/* The case's own request is kept as written. */
	assert_json(suite_find_case(s, "c1")->request,
		    "{\"stop\":[\"z\"],\"metadata\":{\"case\":\"mine\"}}");
	suite_free(s);

	/* A var a case lacks is an error naming the case, at load. */
	assert_load_error("version: 1\n"
			  "name: t\n"
			  "defaults: {request: {user: '${vars.who}'}}\n"
			  "targets:\n"
			  "  eval: {url: 'http://127.0.0.1:1/v1/chat/completions'}\n"
			  "  prod: {url: 'http://127.0.0.1:2/v1/chat/completions'}\n"
			  "strata: {s: {cases: [{id: c, input: hi, vars: {whom: x}, "
			  "expect: [{contains: x}]}]}}\n",
			  "suite.yaml:3:28: case 'c': unknown var 'who' (case vars: whom)");
}

/* Tools of the suite, a stratum and a case merge by name, inner levels
 * winning in place; tool_choice is the innermost given. */
static void test_tools(void **state)
{
	(void)state;
	char *err = NULL;
	struct suite *s = load_text(
		"version: 1\n"
		"name: t\n"
		"defaults: {tool_choice: auto}\n"
		"tools:\n"
		"  - name: find_slot\n"
		"    description: Find a free slot.\n"
		"    parameters: {type: object, properties: {day: {type: string}}, required: [day]}\n"
		"  - {name: create_event, parameters: {type: object}}\n"
		"targets:\n"
		"  eval: {url: 'http://127.0.0.1:1/v1/chat/completions'}\n"
		"  prod: {url: 'http://127.0.0.1:2/v1/messages', api: anthropic-messages}\n"
		"strata:\n"
		"  a:\n"
		"    tools: [{name: create_event, description: the stratum's,\n"
		"             parameters: {type: object, required: [start]}}]\n"
		"    tool_choice: required\n"
		"    cases:\n"
		"      - {id: c1, input: hi, expect: [{contains: x}]}\n"
		"      - {id: c2, input: hi, tools: [{name: cancel}], tool_choice: {name: cancel},\n"
		"         expect: [{contains: x}]}\n"
		"  b:\n"
		"    cases:\n"
		"      - {id: c3, input: hi, tool_choice: none, expect: [{contains: x}]}\n"
		"      - {id: c4, input: hi, expect: [{contains: x}]}\n",
		NULL, &err);
	if (!s)
		fail_msg("%s", err);
	assert_int_equal(s->ntools, 4);
	const struct suite_case *c1 = suite_find_case(s, "c1"), *c2 = suite_find_case(s, "c2");
	const struct suite_case *c3 = suite_find_case(s, "c3"), *c4 = suite_find_case(s, "c4");
	assert_int_equal(c1->ntools, 2);
	assert_string_equal(c1->tools[0]->name, "find_slot");
	assert_string_equal(c1->tools[0]->description, "Find a free slot.");
	assert_json(c1->tools[0]->parameters, "{\"type\":\"object\",\"properties\":{\"day\":"
					      "{\"type\":\"string\"}},\"required\":[\"day\"]}");
	assert_string_equal(c1->tools[1]->description, "the stratum's");
	assert_int_equal(c1->tool_choice, TOOL_CHOICE_REQUIRED);
	assert_int_equal(c2->ntools, 3);
	assert_ptr_equal(c2->tools[1], c1->tools[1]);
	assert_string_equal(c2->tools[2]->name, "cancel");
	assert_null(c2->tools[2]->description);
	/* Without parameters, a tool takes an object with no properties. */
	assert_json(c2->tools[2]->parameters, "{\"type\":\"object\",\"properties\":{}}");
	assert_int_equal(c2->tool_choice, TOOL_CHOICE_NAMED);
	assert_ptr_equal(c2->tool_choice_name, c2->tools[2]->name);
	/* Stratum b has the suite's tools, shared, and the suite's choice. */
	assert_int_equal(c3->ntools, 2);
	assert_ptr_equal(c3->tools[0], c1->tools[0]);
	assert_null(c3->tools[1]->description);
	assert_int_equal(c3->tool_choice, TOOL_CHOICE_NONE);
	assert_int_equal(c4->tool_choice, TOOL_CHOICE_AUTO);

	/* Each target gets them in its own format. */
	cJSON *body = build_body(s, &s->targets[SIDE_EVAL], "c2");
	assert_json(cJSON_GetObjectItem(body, "tool_choice"),
		    "{\"type\":\"function\",\"function\":{\"name\":\"cancel\"}}");
	assert_json(cJSON_GetArrayItem(cJSON_GetObjectItem(body, "tools"), 1),
		    "{\"type\":\"function\",\"function\":{\"name\":\"create_event\","
		    "\"description\":\"the stratum's\",\"parameters\":{\"type\":\"object\","
		    "\"required\":[\"start\"]}}}");
	cJSON_Delete(body);
	body = build_body(s, &s->targets[SIDE_PROD], "c2");
	assert_json(cJSON_GetObjectItem(body, "tool_choice"), "{\"type\":\"tool\",\"name\":\"cancel\"}");
	assert_json(cJSON_GetArrayItem(cJSON_GetObjectItem(body, "tools"), 2),
		    "{\"name\":\"cancel\",\"input_schema\":{\"type\":\"object\",\"properties\":{}}}");
	cJSON_Delete(body);
	suite_free(s);

	/* A suite without tools sends none. */
	s = load_text(HEAD ONE_CASE, NULL, &err);
	assert_int_equal(s->strata[0].cases[0].ntools, 0);
	assert_int_equal(s->strata[0].cases[0].tool_choice, TOOL_CHOICE_UNSET);
	suite_free(s);
}

/* No more tools than an API takes, at any level or in all. */
static void test_tools_limit(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	buf_addstr(&b, HEAD "tools:\n");
	for (int i = 0; i < SUITE_TOOLS_MAX; i++)
		buf_addf(&b, "  - {name: t%d}\n", i);
	buf_addstr(&b, "strata: {s: {cases: [{id: c, input: hi, expect: [{contains: x}], "
		       "tools: [{name: t0}, {name: more}]}]}}\n");
	assert_load_error(b.data, "suite.yaml:135:86: more than 128 tools with those inherited");
	buf_reset(&b);
	buf_addstr(&b, HEAD "tools:\n");
	for (int i = 0; i <= SUITE_TOOLS_MAX; i++)
		buf_addf(&b, "  - {name: t%d}\n", i);
	buf_addstr(&b, ONE_CASE);
	assert_load_error(b.data, "suite.yaml:135:5: more than 128 tools");
	buf_release(&b);
}

/* lazy_env: a variable of the defaults' request is used by both targets,
 * one of a target's request by that target. */
static void test_request_lazy_env(void **state)
{
	(void)state;
	char *err = NULL;
	struct suite_options so = {.lazy_env = true};
	struct suite *s = load_text(
		"version: 1\n"
		"name: t\n"
		"defaults: {request: {user: '${env:CANARY_UNSET_TOKEN}'}}\n"
		"targets:\n"
		"  eval: {url: 'http://127.0.0.1:1/v1/chat/completions'}\n"
		"  prod: {url: 'http://127.0.0.1:2/v1/chat/completions',\n"
		"         request: {model: '${env:CANARY_UNSET_MODEL}'}}\n" ONE_CASE,
		&so, &err);
	if (!s)
		fail_msg("%s", err);
	assert_int_equal(suite_check_env(s, 1u << SIDE_EVAL, NULL, &err), -1);
	assert_string_equal(err, "suite.yaml:3:28: environment variable 'CANARY_UNSET_TOKEN' is "
				 "not set (used by target 'eval')");
	free(err);
	assert_int_equal(suite_check_env(s, 1u << SIDE_PROD, NULL, &err), -1);
	assert_string_equal(err, "suite.yaml:3:28: environment variable 'CANARY_UNSET_TOKEN' is "
				 "not set (used by target 'prod')\n"
				 "suite.yaml:7:27: environment variable 'CANARY_UNSET_MODEL' is "
				 "not set (used by target 'prod')");
	free(err);
	suite_free(s);
}

/* Errors pass through the redact set: an env value never leaves, even when
 * the same text appears in the suite. */
static void test_errors_are_redacted(void **state)
{
	(void)state;
	setenv("CANARY_TEST_SECRET", "expct", 1);
	assert_load_error("version: 1\n"
			  "name: t\n"
			  "targets:\n"
			  "  eval:\n"
			  "    url: 'http://127.0.0.1:1/v1/chat/completions'\n"
			  "    headers: {X-Key: '${env:CANARY_TEST_SECRET}'}\n"
			  "  prod: {url: 'http://127.0.0.1:2/v1/chat/completions'}\n"
			  "strata: {s: {cases: [{id: c, input: hi, expct: []}]}}\n",
			  "suite.yaml:8:41: unknown key '" REDACT_MASK "' in case 'c' (did you mean "
			  "'expect'?)");
	unsetenv("CANARY_TEST_SECRET");
}

/* A case string may hold an env value; it is rendered and redacted. */
static void test_case_env(void **state)
{
	(void)state;
	char *err = NULL;
	struct suite *s = load_text(HEAD "strata: {s: {cases: [{id: c, input: 'token "
					 "${env:EVAL_TOKEN}', expect: [{contains: x}]}]}}\n",
				    NULL, &err);
	if (!s)
		fail_msg("%s", err);
	assert_string_equal(s->strata[0].cases[0].input, "token " EVAL_TOKEN);
	assert_masked(s, EVAL_TOKEN);
	suite_free(s);
}

/* A suite whose judge, one target and one case use unset variables. */
#define LAZY                                                                        \
	"version: 1\n"                                                              \
	"name: t\n"                                                                 \
	"targets:\n"                                                                \
	"  eval: {url: 'http://127.0.0.1:1/v1', model: '${env:CANARY_UNSET_MODEL}'}\n" \
	"  prod: {url: '${env:CANARY_UNSET_URL}/v1'}\n"                              \
	"judge: {url: '${env:CANARY_UNSET_URL}', headers: {X-Key: '${env:CANARY_UNSET_TOKEN}'}}\n" \
	"strata:\n"                                                                 \
	"  plain:\n"                                                                \
	"    cases:\n"                                                              \
	"      - {id: a, input: 'hi ${env:CANARY_UNSET_TOKEN:-there}', expect: [{contains: x}]}\n" \
	"      - {id: b, input: 'x${env:CANARY_UNSET_MODEL}', expect: [{contains: x}]}\n" \
	"  judged:\n"                                                               \
	"    cases:\n"                                                              \
	"      - {id: c, input: hi, expect: [{judge: says hi}]}\n"

/* lazy_env: unset variables are recorded by use, and only what a command
 * uses must be set. */
static void test_lazy_env(void **state)
{
	(void)state;
	char *err = NULL;
	assert_load_error(LAZY, "suite.yaml:4:47: environment variable 'CANARY_UNSET_MODEL' is not "
				"set");
	struct suite_options so = {.lazy_env = true};
	struct suite *s = load_text(LAZY, &so, &err);
	if (!s)
		fail_msg("%s", err);
	assert_string_equal(s->strata[0].cases[0].input, "hi there");
	bool only_a[3] = {true, false, false}, only_b[3] = {false, true, false};
	bool only_c[3] = {false, false, true};
	assert_int_equal(suite_check_env(s, 0, only_a, &err), 0);
	assert_int_equal(suite_check_env(s, 0, only_b, &err), -1);
	assert_string_equal(err, "suite.yaml:11:24: environment variable 'CANARY_UNSET_MODEL' is "
				 "not set (used by case 'plain/b')");
	free(err);
	assert_int_equal(suite_check_env(s, 0, only_c, &err), -1);
	assert_string_equal(err, "suite.yaml:6:14: environment variable 'CANARY_UNSET_URL' is not "
				 "set (used by the judge)\n"
				 "suite.yaml:6:58: environment variable 'CANARY_UNSET_TOKEN' is not "
				 "set (used by the judge)");
	free(err);
	assert_int_equal(suite_check_env(s, 1u << SIDE_EVAL, only_a, &err), -1);
	assert_string_equal(err, "suite.yaml:4:47: environment variable 'CANARY_UNSET_MODEL' is "
				 "not set (used by target 'eval')");
	free(err);
	assert_int_equal(suite_check_env(s, SUITE_SIDES_ALL, NULL, &err), -1);
	assert_non_null(strstr(err, "(used by target 'prod')"));
	free(err);
	suite_free(s);
}

/* --stratum and --case add up; a case is named by id or stratum/id. */
static void test_select(void **state)
{
	(void)state;
	struct suite *s = load_fixture("full.yaml");
	bool *selected = xcalloc(s->ncases, sizeof(*selected));
	struct suite_filter f = {0};
	char *err = NULL;
	const struct suite_case *c = &s->strata[1].cases[0];
	char *name = xasprintf("%s/%s", s->strata[1].name, c->id);
	assert_ptr_equal(suite_find_case(s, name), c);
	assert_ptr_equal(suite_find_case(s, c->id), c);
	assert_int_equal(suite_case_index(s, c), s->strata[0].ncases);

	suite_filter_add(&f.cases, &f.ncases, name);
	suite_filter_add(&f.cases, &f.ncases, s->strata[0].cases[0].id);
	assert_int_equal(suite_select(s, &f, selected, &err), 0);
	size_t n = 0;
	for (size_t i = 0; i < s->ncases; i++)
		n += selected[i];
	assert_int_equal(n, 2);
	assert_true(selected[0]);
	assert_true(selected[s->strata[0].ncases]);

	suite_filter_add(&f.strata, &f.nstrata, s->strata[1].name);
	assert_int_equal(suite_select(s, &f, selected, &err), -1);
	assert_non_null(strstr(err, "no case matches --case '"));
	free(err);
	suite_filter_add(&f.strata, &f.nstrata, s->strata[0].name);
	assert_int_equal(suite_select(s, &f, selected, &err), 0);
	suite_filter_add(&f.strata, &f.nstrata, "no-such-stratum");
	assert_int_equal(suite_select(s, &f, selected, &err), -1);
	assert_non_null(strstr(err, "no stratum 'no-such-stratum'"));
	free(err);
	suite_filter_release(&f);
	free(name);
	free(selected);
	suite_free(s);
}

/* Aliases cannot blow a request up past the node limit. */
static void test_alias_bomb(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	buf_addstr(&b, HEAD "strata:\n"
			    "  s:\n"
			    "    cases:\n"
			    "      - id: c\n"
			    "        input: hi\n"
			    "        expect: [{contains: x}]\n"
			    "        request:\n"
			    "          a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n");
	for (int i = 1; i < 8; i++) {
		buf_addf(&b, "          a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			buf_addf(&b, "%s*a%d", j ? ", " : "", i - 1);
		buf_addstr(&b, "]\n");
	}
	char *err = NULL;
	assert_null(suite_load_buffer("suite.yaml", b.data, b.len, NULL, &err));
	assert_true(strncmp(err, "suite.yaml:", 11) == 0);
	const char *tail = "document has more than a million nodes "
			   "(an alias counts as every node it repeats)";
	assert_string_equal(err + strlen(err) - strlen(tail), tail);
	free(err);
	buf_release(&b);
}

/* Every prefix of a valid suite, and the suite with any one byte replaced,
 * loads or fails with a positioned error: never a crash. */
static void test_damaged_input(void **state)
{
	(void)state;
	char *path = fixture("full.yaml");
	char *err = NULL;
	size_t len;
	char *text = util_read_file(path, 1 << 20, &len, &err);
	assert_non_null(text);
	char *copy = xmalloc(len);
	static const char damage[] = {'{', '\n', '$', '\0'};
	int loaded = 0, failed = 0;
	for (size_t i = 0; i <= len; i++) {
		for (size_t d = 0; d <= ARRAY_SIZE(damage); d++) {
			size_t n = len;
			memcpy(copy, text, len);
			if (d == ARRAY_SIZE(damage))
				n = i;
			else if (i < len)
				copy[i] = damage[d];
			else
				continue;
			err = NULL;
			struct suite *s = suite_load_buffer("suite.yaml", copy, n, NULL, &err);
			if (s) {
				loaded++;
				assert_null(err);
				suite_free(s);
				continue;
			}
			failed++;
			assert_non_null(err);
			if (strncmp(err, "suite.yaml:", 11) != 0)
				fail_msg("unpositioned error: %s", err);
			assert_no_secret(err);
			free(err);
		}
	}
	assert_true(loaded > 0);
	assert_true(failed > 0);
	free(copy);
	free(text);
	free(path);
}

/* Conversations: turns become the first messages, tool_results merge by
 * name across levels, "*" answers any tool, when: picks by arguments. */
static void test_conversations(void **state)
{
	char *err = NULL;
	const char *why = NULL;
	struct suite *s = load_text(HEAD
		"defaults: {max_steps: 4, conversation_timeout: 2m}\n"
		"tools: [{name: lookup}, {name: book}]\n"
		"tool_results: {'*': {ok: true}}\n"
		"strata:\n"
		"  s:\n"
		"    tool_results:\n"
		"      lookup:\n"
		"        - {when: {required: [q]}, result: found}\n"
		"        - {result: [1, 2]}\n"
		"    cases:\n"
		"      - id: talk\n"
		"        turns: [hi, {input: 'and ${case.id}', expect: [{contains: x}]}]\n"
		"        max_steps: 2\n"
		"      - id: once\n"
		"        input: hi\n"
		"        tool_results: {book: done}\n"
		"        expect: [{contains: x}]\n"
		"      - id: plain\n"
		"        input: hi\n"
		"        tools: []\n"
		"        expect: [{contains: x}]\n", NULL, &err);
	if (!s)
		fail_msg("%s", err);
	const struct suite_case *talk = suite_find_case(s, "talk");
	const struct suite_case *once = suite_find_case(s, "once");
	assert_int_equal(talk->nturns, 2);
	assert_string_equal(talk->turns[1].input, "and talk");
	assert_int_equal(talk->turns[0].nexpect, 0);
	assert_int_equal(talk->turns[1].nexpect, 1);
	assert_int_equal(talk->nexpect, 0);
	assert_string_equal(talk->input, "hi");
	assert_int_equal(cJSON_GetArraySize(talk->messages), 1);
	assert_int_equal(talk->max_steps, 2);
	assert_int_equal(once->max_steps, 4);
	assert_int_equal(talk->conversation_timeout_ms, 120000);
	assert_true(suite_case_converses(talk));
	assert_true(suite_case_converses(once));

	cJSON *q = cJSON_Parse("{\"q\": \"x\"}"), *none = cJSON_Parse("{}");
	assert_string_equal(suite_tool_result(talk, "lookup", q, &why), "found");
	assert_string_equal(suite_tool_result(talk, "lookup", none, &why), "[1,2]");
	assert_string_equal(suite_tool_result(talk, "book", none, &why), "{\"ok\":true}");
	assert_string_equal(suite_tool_result(once, "book", none, &why), "done");
	/* Arguments that are not JSON match no when:, but an answer without one. */
	assert_string_equal(suite_tool_result(once, "lookup", NULL, &why), "[1,2]");
	cJSON_Delete(q);
	cJSON_Delete(none);
	suite_free(s);

	/* Without "*", an unscripted tool has no result, and a when: that does
	 * not match says so. */
	s = load_text(HEAD
		"tools: [{name: lookup}, {name: book}]\n"
		"tool_results: {lookup: [{when: {required: [q]}, result: found}]}\n"
		"strata: {s: {cases: [{id: c, turns: [hi], expect: [{contains: x}]}]}}\n", NULL, &err);
	if (!s)
		fail_msg("%s", err);
	const struct suite_case *c = suite_find_case(s, "c");
	assert_null(suite_tool_result(c, "book", NULL, &why));
	assert_string_equal(why, "no scripted result");
	assert_null(suite_tool_result(c, "lookup", NULL, &why));
	assert_string_equal(why, "no scripted result matches its arguments");
	suite_free(s);

	/* A case without tools does not converse over inherited results. */
	s = load_text(HEAD
		"tools: [{name: lookup}]\n"
		"tool_results: {lookup: x}\n"
		"strata: {s: {cases: [{id: c, input: hi, expect: [{contains: x}]},\n"
		"  {id: d, input: hi, tools: [], expect: [{contains: x}]}]}}\n", NULL, &err);
	if (!s)
		fail_msg("%s", err);
	assert_true(suite_case_converses(suite_find_case(s, "c")));
	suite_free(s);

	assert_load_error(HEAD "strata: {s: {cases: [{id: c, turns: [], expect: [{contains: x}]}]}}\n",
			  "suite.yaml:6:37: 'turns' must be a non-empty list of strings or "
			  "{input, expect}");
	assert_load_error(HEAD "strata: {s: {cases: [{id: c, turns: [[a]], expect: [{contains: x}]}]}}\n",
			  "suite.yaml:6:38: turn 1 of case 'c' must be a string or {input, expect}");
	assert_load_error(HEAD "strata: {s: {cases: [{id: c, turns: [hi]}]}}\n",
			  "suite.yaml:6:22: case 'c' has no expect");
	assert_load_error(HEAD "tool_results: {'a b': x}\n" ONE_CASE,
			  "suite.yaml:6:16: tool name 'a b' must be 1 to 64 letters, digits, '_' or "
			  "'-' (or '*' for any tool)");
	assert_load_error(HEAD "tools: [{name: a}]\ntool_results: {a: []}\n" ONE_CASE,
			  "suite.yaml:7:19: the scripted results of 'a' are an empty list");
	assert_load_error(HEAD "tools: [{name: a}]\n"
			  "tool_results: {a: [{when: {type: objekt}, result: x}]}\n" ONE_CASE,
			  "suite.yaml:7:34: bad schema at /type: unknown type 'objekt' (did you "
			  "mean 'object'?)");
	assert_load_error(HEAD "defaults: {max_steps: 0}\n" ONE_CASE,
			  "suite.yaml:6:23: 'max_steps' must be a positive integer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_design_example),
		cmocka_unit_test(test_case_ctx_renders_targets),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_error_fixtures),
		cmocka_unit_test(test_misspelt_key),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_target_override),
		cmocka_unit_test(test_header_injection),
		cmocka_unit_test(test_model_template),
		cmocka_unit_test(test_http_without_body),
		cmocka_unit_test(test_http_call_pointers),
		cmocka_unit_test(test_target_set_api),
		cmocka_unit_test(test_request_layers),
		cmocka_unit_test(test_request_lazy_env),
		cmocka_unit_test(test_tools),
		cmocka_unit_test(test_conversations),
		cmocka_unit_test(test_tools_limit),
		cmocka_unit_test(test_errors_are_redacted),
		cmocka_unit_test(test_case_env),
		cmocka_unit_test(test_lazy_env),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_alias_bomb),
		cmocka_unit_test(test_damaged_input),
	};
	return cmocka_run_group_tests(tests, setup_env, NULL);
}
