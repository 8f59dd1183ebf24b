/* test_sse.c: the server-sent event parser, against the vendors' recorded
 * streams in every chunking, and the WHATWG parsing rules one by one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sse.h"
#include "support.h"
#include "util.h"

/* What a parse gave: every event written out, and the error if any. */
struct transcript {
	struct buf text;
	char *err;
	const char *chunk;     /* the chunk being fed */
	size_t chunk_len;
	size_t in_place;       /* events whose data pointed into the chunk */
	int refuse_at;         /* the callback fails on this event (0: never) */
};

static int record(void *ctx, const struct sse_event *ev, char **err)
{
	struct transcript *t = ctx;
	if (t->refuse_at && ev->index == (unsigned long)t->refuse_at) {
		*err = xasprintf("refused event %lu", ev->index);
		return -1;
	}
	if (ev->data_len && ev->data >= t->chunk && ev->data < t->chunk + t->chunk_len)
		t->in_place++;
	buf_addf(&t->text, "%lu [%.*s] id=[%.*s]\n%.*s\n\x1e", ev->index, (int)ev->type_len,
		 ev->type, (int)ev->id_len, ev->id, (int)ev->data_len, ev->data);
	return 0;
}

/* Parse s[0..n) cut into pieces whose sizes next_size() gives. */
static void parse_split(const char *s, size_t n, size_t max, size_t (*next_size)(void *),
			void *state, struct transcript *t)
{
	struct sse p;
	memset(t, 0, sizeof(*t));
	buf_init(&t->text, 0);
	sse_init(&p, max, record, t);
	size_t at = 0;
	int rc = 0;
	while (at < n && rc == 0) {
		size_t k = next_size(state);
		if (k > n - at)
			k = n - at;
		t->chunk = s + at;
		t->chunk_len = k;
		rc = sse_feed(&p, s + at, k, &t->err);
		at += k;
	}
	if (rc == 0)
		sse_finish(&p, &t->err);
	sse_release(&p);
}

static size_t whole_size(void *state)
{
	return SIZE_MAX;
}

static size_t one_byte(void *state)
{
	return 1;
}

/* xorshift64: random piece sizes from 1 to 64, seeded. */
static size_t random_size(void *state)
{
	uint64_t *x = state;
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (size_t)(*x % 64) + 1;
}

static void parse_whole(const char *s, size_t n, size_t max, struct transcript *t)
{
	parse_split(s, n, max, whole_size, NULL, t);
}

static void transcript_release(struct transcript *t)
{
	buf_release(&t->text);
	free(t->err);
}

static void assert_same(const struct transcript *a, const struct transcript *b,
			const char *what)
{
	if (strcmp(a->text.data ? a->text.data : "", b->text.data ? b->text.data : "") != 0)
		fail_msg("%s: the events differ:\n%s\n---\n%s", what, a->text.data,
			 b->text.data);
	if ((a->err == NULL) != (b->err == NULL) || (a->err && strcmp(a->err, b->err) != 0))
		fail_msg("%s: the errors differ: %s / %s", what, a->err ? a->err : "(none)",
			 b->err ? b->err : "(none)");
}

/* Every chunking of s gives the events of the whole: byte by byte, and in
 * random pieces under 16 seeds. */
static void assert_chunking_invariant(const char *s, size_t n, size_t max, const char *name)
{
	struct transcript whole, split;
	parse_whole(s, n, max, &whole);
	parse_split(s, n, max, one_byte, NULL, &split);
	assert_same(&whole, &split, name);
	transcript_release(&split);
	for (uint64_t seed = 1; seed <= 16; seed++) {
		uint64_t x = seed * 0x9E3779B97F4A7C15ull;
		parse_split(s, n, max, random_size, &x, &split);
		assert_same(&whole, &split, name);
		transcript_release(&split);
	}
	transcript_release(&whole);
}

/* s with each LF written as CRLF (crlf) or CR. */
static char *with_line_ends(const char *s, size_t n, bool crlf, size_t *out_len)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\n')
			buf_addch(&b, s[i]);
		else
			buf_addstr(&b, crlf ? "\r\n" : "\r");
	}
	return buf_detach(&b, out_len);
}

struct check {
	size_t events;
	bool json_type;        /* each event's data is JSON whose "type" is the event's */
	const char *last_data; /* the data of the last event, or NULL */
	char *seen_last;
};

static int check_event(void *ctx, const struct sse_event *ev, char **err)
{
	struct check *c = ctx;
	c->events++;
	free(c->seen_last);
	c->seen_last = xstrndup(ev->data, ev->data_len);
	if (!c->json_type)
		return 0;
	cJSON *j = cJSON_ParseWithLength(ev->data, ev->data_len);
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(j, "type");
	bool ok = cJSON_IsString(type) && strlen(type->valuestring) == ev->type_len &&
		  memcmp(type->valuestring, ev->type, ev->type_len) == 0;
	cJSON_Delete(j);
	if (!ok)
		*err = xasprintf("event %lu: data type is not '%.*s'", ev->index,
				 (int)ev->type_len, ev->type);
	return ok ? 0 : -1;
}

static char *read_fixture(const char *name, size_t *len)
{
	char *path = xasprintf("%s/sse/%s", test_fixtures(), name), *err = NULL;
	char *s = util_read_file(path, 1 << 20, len, &err);
	if (!s)
		fail_msg("%s", err);
	free(path);
	return s;
}

/* The recorded streams of each API parse into their events (each event's
 * JSON names its own type where the API sends event: lines), in every
 * chunking and with every kind of line end. */
static void test_fixtures_every_chunking(void **state)
{
	static const struct {
		const char *file;
		size_t events;
		bool json_type;
		const char *last_data;
	} cases[] = {
		{"openai-chat-text-usage.sse", 12, false, "[DONE]"},
		{"openai-chat-tool-calls-parallel.sse", 14, false, "[DONE]"},
		{"openai-chat-refusal.sse", 10, false, "[DONE]"},
		{"openai-chat-midstream-error.sse", 4, false, NULL},
		{"openai-chat-n2-length.sse", 8, false, "[DONE]"},
		{"openai-responses-text.sse", 14, true, NULL},
		{"openai-responses-function-calls.sse", 16, true, NULL},
		{"openai-responses-refusal.sse", 11, true, NULL},
		{"openai-responses-incomplete.sse", 11, true, NULL},
		{"openai-responses-failed.sse", 3, true, NULL},
		{"openai-responses-error-documented.sse", 2, true, NULL},
		{"openai-responses-error-observed-nested.sse", 2, true, NULL},
		{"anthropic-messages-text.sse", 10, true, NULL},
		{"anthropic-messages-tool-use.sse", 19, true, NULL},
		{"anthropic-messages-refusal.sse", 5, true, NULL},
		{"anthropic-messages-error.sse", 4, true, NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n;
		char *s = read_fixture(cases[i].file, &n);
		struct check c = {.json_type = cases[i].json_type};
		struct sse p;
		char *err = NULL;
		sse_init(&p, 1 << 20, check_event, &c);
		if (sse_feed(&p, s, n, &err) < 0 || sse_finish(&p, &err) < 0)
			fail_msg("%s: %s", cases[i].file, err);
		sse_release(&p);
		if (c.events != cases[i].events)
			fail_msg("%s: %zu events, want %zu", cases[i].file, c.events,
				 cases[i].events);
		if (cases[i].last_data)
			assert_string_equal(c.seen_last, cases[i].last_data);
		free(c.seen_last);

		assert_chunking_invariant(s, n, 1 << 20, cases[i].file);
		struct transcript lf, other;
		parse_whole(s, n, 1 << 20, &lf);
		for (int crlf = 0; crlf < 2; crlf++) {
			size_t m;
			char *t = with_line_ends(s, n, crlf, &m);
			assert_chunking_invariant(t, m, 1 << 20, cases[i].file);
			parse_whole(t, m, 1 << 20, &other);
			assert_same(&lf, &other, crlf ? "CRLF line ends" : "CR line ends");
			transcript_release(&other);
			free(t);
		}
		transcript_release(&lf);
		free(s);
	}
}

/* The hand-made stream with every corner of the rules: BOM, CRLF and CR
 * line ends, comments, retry, unknown fields, a field without a colon,
 * one leading space dropped, id kept across events and reset by a bare
 * "id", and an event without data that is never dispatched. */
static void test_whatwg_corners(void **state)
{
	static const char want[] =
		"1 [add] id=[7]\nfirst line\nsecond line\n two spaces, one kept\n\x1e"
		"2 [message] id=[7]\n\n\x1e"
		"3 [message] id=[]\nafter an unknown field\n\x1e"
		"4 [message] id=[9]\n{\"json\": true}\n\x1e";
	size_t n;
	char *s = read_fixture("whatwg-corners.sse", &n);
	struct transcript t;
	parse_whole(s, n, 1 << 20, &t);
	assert_null(t.err);
	assert_string_equal(t.text.data, want);
	transcript_release(&t);
	assert_chunking_invariant(s, n, 1 << 20, "whatwg-corners.sse");
	free(s);
}

/* Short streams and what they give: events, or the error. */
static void test_rules(void **state)
{
	static const struct {
		const char *in;
		size_t len;        /* 0: strlen(in) */
		size_t max;
		const char *events;
		const char *err;   /* NULL: none */
	} cases[] = {
		/* The WHATWG examples. */
		{"data: YHOO\ndata: +2\ndata: 10\n\n", 0, 64,
		 "1 [message] id=[]\nYHOO\n+2\n10\n\x1e", NULL},
		{"data:test\n\ndata: test\n\n", 0, 64,
		 "1 [message] id=[]\ntest\n\x1e" "2 [message] id=[]\ntest\n\x1e", NULL},
		{"data\n\ndata\ndata\n\ndata:", 0, 64,
		 "1 [message] id=[]\n\n\x1e" "2 [message] id=[]\n\n\n\x1e",
		 "the stream ended inside event 3, 5 bytes after the last whole event"},
		{"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n", 0, 64,
		 "1 [add] id=[]\n73857293\n\x1e" "2 [remove] id=[]\n2153\n\x1e", NULL},
		/* An empty event type is "message"; the type does not outlive its event. */
		{"event:\ndata: a\n\ndata: b\n\n", 0, 64,
		 "1 [message] id=[]\na\n\x1e" "2 [message] id=[]\nb\n\x1e", NULL},
		/* No data: nothing dispatched, and nothing pending either. */
		{"event: ping\n\n:keep-alive\n\n\n", 0, 64, "", NULL},
		/* An id holding NUL is ignored; an id stays for later events. */
		{"id: a\0b\ndata: x\n\nid: c\ndata: y\n\ndata: z\n\n", 41, 64,
		 "1 [message] id=[]\nx\n\x1e" "2 [message] id=[c]\ny\n\x1e"
		 "3 [message] id=[c]\nz\n\x1e", NULL},
		/* Field names are exact: case, trailing spaces. */
		{"Data: x\ndata : y\ndata: z\n\n", 0, 64, "1 [message] id=[]\nz\n\x1e", NULL},
		/* The event's limit: data and type together. */
		{"data: 0123456789\n\n", 0, 10, "1 [message] id=[]\n0123456789\n\x1e", NULL},
		{"data: 0123456789A\n\n", 0, 10, "", "server-sent event 1 is larger than 10 bytes"},
		{"data: 01234\ndata: 5678\n\n", 0, 10, "1 [message] id=[]\n01234\n5678\n\x1e", NULL},
		{"data: 01234\ndata: 56789\n\n", 0, 10, "",
		 "server-sent event 1 is larger than 10 bytes"},
		{"data: a\n\nevent: abc\ndata: 12345678\n\n", 0, 10, "1 [message] id=[]\na\n\x1e",
		 "server-sent event 2 ('abc') is larger than 10 bytes"},
		/* Comments and ignored fields are never held, however long. */
		{": 0123456789012345678901234567890123456789\nretry: 0123456789012345678901\n"
		 "longfieldname: 0123456789012345678901234567890\ndata: ok\n\n", 0, 10,
		 "1 [message] id=[]\nok\n\x1e", NULL},
		/* Cut streams: a line without its end, fields without a blank line. */
		{"data: a\n\ndata: b", 0, 64, "1 [message] id=[]\na\n\x1e",
		 "the stream ended inside event 2, 7 bytes after the last whole event"},
		{"data: a\n\nevent: delta\n", 0, 64, "1 [message] id=[]\na\n\x1e",
		 "the stream ended inside event 2 ('delta'), 13 bytes after the last whole event"},
		{"data: a\r", 0, 64, "", "the stream ended inside event 1, 8 bytes after the last "
					 "whole event"},
		{"data: a\n\n:partial comment", 0, 64, "1 [message] id=[]\na\n\x1e",
		 "the stream ended inside event 2, 16 bytes after the last whole event"},
		/* Whole streams: a CR as the blank line, a comment last. */
		{"data: a\n\r", 0, 64, "1 [message] id=[]\na\n\x1e", NULL},
		{"data: a\n\n: bye\n", 0, 64, "1 [message] id=[]\na\n\x1e", NULL},
		/* One byte order mark is skipped, not a second, not a part of one. */
		{"\xef\xbb\xbf" "data: a\n\n", 0, 64, "1 [message] id=[]\na\n\x1e", NULL},
		{"\xef\xbb\xbf\xef\xbb\xbf" "data: a\n\n", 0, 64, "", NULL},
		{"\xef\xbb" "data: a\n\n", 0, 64, "", NULL},
		{"\xef\xbb", 0, 64, "", "the stream ended inside event 1, 2 bytes after the last "
					"whole event"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n = cases[i].len ? cases[i].len : strlen(cases[i].in);
		struct transcript t;
		parse_whole(cases[i].in, n, cases[i].max, &t);
		if (strcmp(t.text.data ? t.text.data : "", cases[i].events) != 0)
			fail_msg("case %zu: events\n%s\nwant\n%s", i, t.text.data,
				 cases[i].events);
		if (cases[i].err)
			assert_non_null(t.err);
		if (cases[i].err && strcmp(t.err, cases[i].err) != 0)
			fail_msg("case %zu: error '%s', want '%s'", i, t.err, cases[i].err);
		if (!cases[i].err && t.err)
			fail_msg("case %zu: unexpected error '%s'", i, t.err);
		transcript_release(&t);
		assert_chunking_invariant(cases[i].in, n, cases[i].max, cases[i].in);
	}
}

/* An event lying whole in one chunk is handed over in place; split over
 * two, it is copied. */
static void test_zero_copy(void **state)
{
	static const char s[] = "event: a\ndata: in place\n\ndata: split\n\n";
	struct transcript t;
	parse_whole(s, strlen(s), 64, &t);
	assert_int_equal(t.in_place, 2);
	transcript_release(&t);
	parse_split(s, strlen(s), 64, one_byte, NULL, &t);
	assert_int_equal(t.in_place, 0);
	transcript_release(&t);
}

/* A callback that fails stops the parser: the feed returns its error,
 * and every later call fails. */
static void test_callback_failure(void **state)
{
	static const char s[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	struct transcript t = {.refuse_at = 2};
	struct sse p;
	char *err = NULL;
	buf_init(&t.text, 0);
	sse_init(&p, 64, record, &t);
	assert_int_equal(sse_feed(&p, s, strlen(s), &err), -1);
	assert_string_equal(err, "refused event 2");
	free(err);
	assert_string_equal(t.text.data, "1 [message] id=[]\n1\n\x1e");
	assert_int_equal(p.events, 2);
	assert_int_equal(sse_feed(&p, "data: 4\n\n", 9, &err), -1);
	assert_non_null(err);
	free(err);
	assert_int_equal(sse_finish(&p, &err), -1);
	assert_non_null(err);
	free(err);
	sse_release(&p);
	buf_release(&t.text);
}

/* A long stream with events over the limit fails at the same event in any
 * chunking, and a stream of many events holds one at a time. */
static void test_many_events(void **state)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 2000; i++)
		buf_addf(&b, "event: e%d\r\nid: %d\r\ndata: %0*d\r\n\r\n", i % 7, i, i % 50 + 1, i);
	assert_chunking_invariant(b.data, b.len, 64, "2000 events");
	struct transcript t;
	parse_whole(b.data, b.len, 40, &t);
	assert_non_null(t.err);
	assert_string_equal(t.err, "server-sent event 39 ('e3') is larger than 40 bytes");
	transcript_release(&t);
	assert_chunking_invariant(b.data, b.len, 40, "2000 events, limit 40");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_every_chunking),
		cmocka_unit_test(test_whatwg_corners),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_zero_copy),
		cmocka_unit_test(test_callback_failure),
		cmocka_unit_test(test_many_events),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
