/* test_replay.c: canary replay: the replay: section, sampling, putting log
 * records into strata, counting every line, and the given prod samples. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/replay.h"
#include "support.h"
#include "util.h"

static const char suite_head[] =
	"version: 1\n"
	"name: r\n"
	"targets:\n"
	"  eval: {url: 'http://127.0.0.1:9/v1/chat/completions'}\n"
	"  prod: {url: '${env:CANARY_TEST_UNSET_PROD}/v1/chat/completions'}\n"
	"strata:\n"
	"  tools:\n"
	"    expect: [{tool_call: {name: create_event}}]\n"
	"    cases: [{id: book, input: book}]\n"
	"  prompt:\n"
	"    expect: [{regex: '30 days'}]\n"
	"    cases: [{id: refund, input: refund}]\n"
	"  bare:\n"
	"    cases: [{id: hi, input: hi, expect: [{contains: hi}]}]\n";

static struct suite *load(const char *replay, char **err)
{
	char *text = xasprintf("%s%s", suite_head, replay);
	struct suite_options so = {.lazy_env = true};
	struct suite *s = suite_load_buffer("suite.yaml", text, strlen(text), &so, err);
	free(text);
	return s;
}

static struct suite *must_load(const char *replay)
{
	char *err = NULL;
	struct suite *s = load(replay, &err);
	if (!s)
		fail_msg("%s", err);
	return s;
}

static void expect_error(const char *replay, const char *want)
{
	char *err = NULL;
	struct suite *s = load(replay, &err);
	assert_null(s);
	if (!strstr(err, want))
		fail_msg("got '%s', want '%s'", err, want);
	free(err);
}

/* The replay: section is checked at load, with positions. */
static void test_section_errors(void **state)
{
	(void)state;
	expect_error("replay: {}\n", "suite.yaml:15:9: 'replay' needs exactly one of");
	expect_error("replay: {stratum: /a, strata: {tools: {match: x}}}\n",
		     "needs exactly one of 'stratum'");
	expect_error("replay: {stratum: metadata}\n",
		     "15:19: 'stratum' must be a JSON pointer such as /metadata/stratum");
	expect_error("replay: {strata: {nope: {match: x}}}\n",
		     "15:19: replay names stratum 'nope', which the suite does not have");
	expect_error("replay: {strata: {tools: {match: '('}}}\n", "15:34: bad regex '('");
	expect_error("replay: {strata: {tools: {mach: x}}}\n", "unknown key 'mach'");
	expect_error("replay: {strata: {tools: {}}}\n", "'match'");
	expect_error("replay: {strategy: x}\n", "unknown key 'strategy'");

	struct suite *s = must_load("replay: {strata: {prompt: {match: '(?i)refund'}, "
				    "tools: {match: book}}}\n");
	assert_true(s->replay.present);
	assert_null(s->replay.stratum_pointer);
	assert_int_equal(s->replay.nmatches, 2);
	assert_int_equal(s->replay.matches[0].stratum, 1);
	assert_int_equal(s->replay.matches[1].stratum, 0);
	assert_int_equal(s->strata[0].nexpect, 1);
	assert_int_equal(s->strata[2].nexpect, 0);
	suite_free(s);
}

/* A record's stratum by pointer, or by the first regex in order. */
static void test_stratum(void **state)
{
	(void)state;
	struct suite *s = must_load("replay: {stratum: /metadata/stratum}\n");
	char *why = NULL;
	cJSON *rec = cJSON_Parse("{\"metadata\": {\"stratum\": \"prompt\"}}");
	assert_int_equal(replay_stratum(s, rec, NULL, &why), 1);
	cJSON_Delete(rec);
	rec = cJSON_Parse("{\"metadata\": {\"stratum\": \"billing\"}}");
	assert_int_equal(replay_stratum(s, rec, NULL, &why), s->nstrata);
	assert_string_equal(why, "/metadata/stratum names no stratum of the suite: 'billing'");
	free(why);
	cJSON_Delete(rec);
	rec = cJSON_Parse("{\"metadata\": {\"stratum\": 3}}");
	assert_int_equal(replay_stratum(s, rec, NULL, &why), s->nstrata);
	assert_string_equal(why, "/metadata/stratum is not a string, not a stratum's name");
	free(why);
	cJSON_Delete(rec);
	rec = cJSON_Parse("{}");
	assert_int_equal(replay_stratum(s, rec, NULL, &why), s->nstrata);
	assert_string_equal(why, "/metadata/stratum is absent, not a stratum's name");
	free(why);
	suite_free(s);

	s = must_load("replay: {strata: {prompt: {match: '(?i)refund'}, tools: {match: '.'}}}\n");
	assert_int_equal(replay_stratum(s, rec, "A REFUND please", &why), 1);
	assert_int_equal(replay_stratum(s, rec, "book it", &why), 0);
	assert_int_equal(replay_stratum(s, rec, "", &why), s->nstrata);
	assert_string_equal(why, "the user's last message matches no replay stratum");
	free(why);
	assert_int_equal(replay_stratum(s, rec, NULL, &why), s->nstrata);
	assert_string_equal(why, "the record has no user message");
	free(why);
	cJSON_Delete(rec);
	suite_free(s);
}

/* --sample: a record is in or out by its line and the seed alone, and
 * about the fraction asked is taken. */
static void test_sampled(void **state)
{
	(void)state;
	long taken = 0, same = 0;
	for (long line = 1; line <= 10000; line++) {
		bool in = replay_sampled(7, line, 0.1);
		taken += in;
		same += in == replay_sampled(7, line, 0.1);
		assert_true(replay_sampled(7, line, 1.0));
	}
	assert_int_equal(same, 10000);
	assert_in_range(taken, 900, 1100);
	long other = 0;
	for (long line = 1; line <= 10000; line++)
		other += replay_sampled(7, line, 0.1) != replay_sampled(8, line, 0.1);
	assert_true(other > 0);
}

static char *temp_log(const char *text)
{
	char *path = xstrdup("/tmp/canary-replay-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

#define CHAT_REQ(text) \
	"\"request\": {\"model\": \"m\", \"messages\": [{\"role\": \"system\", \"content\": " \
	"\"s\"}, {\"role\": \"user\", \"content\": \"" text "\"}]}"
#define CHAT_REPLY(text) \
	"\"response\": {\"object\": \"chat.completion\", \"choices\": [{\"index\": 0, " \
	"\"message\": {\"role\": \"assistant\", \"content\": \"" text "\"}, " \
	"\"finish_reason\": \"stop\"}]}"

/* Every non-empty line is counted once; the records become the strata's
 * cases in suite order, their replies prod's given samples. */
static void test_prepare(void **state)
{
	(void)state;
	char *path = temp_log(
		"{" CHAT_REQ("refund?") ", " CHAT_REPLY("30 days") ", \"metadata\": "
		"{\"stratum\": \"prompt\", \"fingerprint\": \"fp-a\"}}\n"
		"not json\n"
		"\n"
		"{" CHAT_REQ("book") ", " CHAT_REPLY("booked") ", \"metadata\": "
		"{\"stratum\": \"tools\"}}\n"
		"{" CHAT_REQ("hi") ", " CHAT_REPLY("hi") ", \"metadata\": {\"stratum\": \"x\"}}\n"
		"{" CHAT_REQ("refund again") ", " CHAT_REPLY("30 days") ", \"metadata\": "
		"{\"stratum\": \"prompt\"}}\n"
		"{" CHAT_REQ("over") ", " CHAT_REPLY("x") "}\n"
		"  \n"
		"tail\n");
	struct suite *s = must_load("replay: {stratum: /metadata/stratum}\n");
	struct replay_options o;
	struct replay rp;
	char *err = NULL;
	replay_options_default(&o);
	o.log = path;
	o.limit = 3;
	if (replay_prepare(s, &o, &rp, &err) < 0)
		fail_msg("%s", err);
	assert_int_equal(rp.counts.lines, 7);
	assert_int_equal(rp.counts.replayed, 3);
	assert_int_equal(rp.counts.unreadable, 1);
	assert_int_equal(rp.counts.unmatched, 1);
	assert_int_equal(rp.counts.sampled_out, 0);
	assert_int_equal(rp.counts.over_limit, 2);
	assert_int_equal(rp.nproblems, 2);
	assert_true(strncmp(rp.problems[0], "line 2: ", 8) == 0);
	assert_string_equal(rp.problems[1],
			    "line 5: /metadata/stratum names no stratum of the suite: 'x'");
	/* Suite order: tools' record, then prompt's two; bare has none. */
	assert_int_equal(s->ncases, 3);
	assert_int_equal(s->strata[0].ncases, 1);
	assert_string_equal(s->strata[0].cases[0].id, "line-4");
	assert_string_equal(s->strata[0].cases[0].input, "book");
	assert_int_equal(s->strata[0].cases[0].nexpect, 1);
	assert_int_equal(s->strata[1].ncases, 2);
	assert_string_equal(s->strata[1].cases[0].id, "line-1");
	assert_string_equal(s->strata[1].cases[1].id, "line-6");
	assert_int_equal(s->strata[2].ncases, 0);
	assert_int_equal(rp.ngiven, 3);
	assert_string_equal(rp.given[0].reply.content, "booked");
	assert_string_equal(rp.given[1].reply.content, "30 days");
	assert_string_equal(rp.given[1].reply.fingerprint, "fp-a");
	assert_null(rp.given[1].error);

	struct report *rep = report_new();
	replay_report(&rp, rep);
	assert_true(rep->replay.present);
	assert_string_equal(rep->replay.log, path);
	assert_string_equal(rep->targets[SIDE_PROD].url, path);
	assert_int_equal(rep->replay.problems.n, 2);
	report_free(rep);
	replay_release(&rp);
	suite_free(s);

	/* A record in a stratum without stratum-level expect stops it all. */
	s = must_load("replay: {strata: {bare: {match: .}}}\n");
	o.limit = REPLAY_LIMIT_DEFAULT;
	assert_int_equal(replay_prepare(s, &o, &rp, &err), -1);
	assert_non_null(strstr(err, "stratum 'bare' has no stratum-level expect"));
	assert_non_null(strstr(err, "suite.yaml:13:3:"));
	free(err);
	replay_release(&rp);
	suite_free(s);

	/* Sampling out everything leaves nothing to replay: an error. */
	s = must_load("replay: {stratum: /metadata/stratum}\n");
	o.sample = 1e-9;
	assert_int_equal(replay_prepare(s, &o, &rp, &err), -1);
	assert_non_null(strstr(err, "no record of"));
	assert_non_null(strstr(err, "5 not sampled"));
	free(err);
	replay_release(&rp);
	suite_free(s);

	s = must_load("");
	assert_int_equal(replay_prepare(s, &o, &rp, &err), -1);
	assert_non_null(strstr(err, "has no 'replay' section"));
	free(err);
	replay_release(&rp);
	suite_free(s);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_section_errors),
		cmocka_unit_test(test_stratum),
		cmocka_unit_test(test_sampled),
		cmocka_unit_test(test_prepare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
