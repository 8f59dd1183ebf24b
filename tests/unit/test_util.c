/* test_util.c: bounded buffers, arenas, durations, sizes, suggestions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "jsonw.h"
#include "util.h"

static void test_buf_max(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_addstr(&b, "hello"), 0);
	assert_int_equal(buf_addstr(&b, "world"), -1); /* would pass the maximum */
	assert_string_equal(b.data, "hello");
	assert_int_equal(buf_addstr(&b, "abc"), 0);
	assert_int_equal(b.len, 8);
	assert_int_equal(buf_addch(&b, 'x'), -1);
	size_t len;
	char *s = buf_detach(&b, &len);
	assert_string_equal(s, "helloabc");
	assert_int_equal(len, 8);
	assert_null(b.data);
	free(s);
	buf_release(&b);
}

static void test_buf_growth_and_format(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(buf_addf(&b, "%d,", i), 0);
	assert_true(strncmp(b.data, "0,1,2,", 6) == 0);
	assert_true(strstr(b.data, ",999,") != NULL);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_release(&b);
	char *empty = buf_detach(&b, NULL);
	assert_string_equal(empty, "");
	free(empty);
}

static void test_arena(void **state)
{
	(void)state;
	struct arena a = {0};
	char *first = arena_strdup(&a, "first");
	for (int i = 0; i < 5000; i++)
		assert_non_null(arena_alloc(&a, 100));
	char *big = arena_alloc(&a, 100000); /* larger than a chunk */
	memset(big, 1, 100000);
	assert_string_equal(first, "first");
	assert_string_equal(arena_strndup(&a, "abcdef", 3), "abc");
	arena_release(&a);
	assert_null(a.head);
}

static void test_durations(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		long ms;
	} ok[] = {{"250ms", 250}, {"30s", 30000}, {"2m", 120000}, {"1h", 3600000},
		  {"1.5s", 1500}, {"5", 5000}, {"0s", 0}, {".5s", 500}, {"1e3ms", 1000}};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		long ms = -1;
		assert_int_equal(util_parse_duration(ok[i].in, &ms), 0);
		assert_int_equal(ms, ok[i].ms);
	}
	static const char *const bad[] = {
		"", "ms", "-1s", "10x", "1e400s", "s30", "+2s",
		/* strtod reads these, but they are no durations (NaN cast to long) */
		"nan", "nans", "NaN", "nanms", "inf", "infs", "infinity", "INF", "-nan", " 5s",
		"0x10s", "1e999", ".s",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		long ms;
		assert_int_equal(util_parse_duration(bad[i], &ms), -1);
	}
	assert_int_equal(util_parse_duration(NULL, &(long){0}), -1);
}

static void test_sizes(void **state)
{
	(void)state;
	size_t n;
	assert_int_equal(util_parse_size("8MiB", &n), 0);
	assert_int_equal(n, 8u << 20);
	assert_int_equal(util_parse_size("512", &n), 0);
	assert_int_equal(n, 512);
	assert_int_equal(util_parse_size("64K", &n), 0);
	assert_int_equal(n, 65536);
	assert_int_equal(util_parse_size("1GiB", &n), 0);
	assert_int_equal(n, (size_t)1 << 30);
	assert_int_equal(util_parse_size("-1", &n), -1);
	assert_int_equal(util_parse_size("1TiB", &n), -1);
	assert_int_equal(util_parse_size("", &n), -1);
}

static void test_suggest(void **state)
{
	(void)state;
	static const char *const keys[] = {"id", "input", "messages", "expect", "repeat",
					   "threshold", NULL};
	assert_string_equal(util_suggest("expct", keys), "expect");
	assert_string_equal(util_suggest("treshold", keys), "threshold");
	assert_string_equal(util_suggest("mesages", keys), "messages");
	assert_null(util_suggest("banana", keys));
	assert_null(util_suggest("x", (const char *const[]){"yyyyy", NULL}));
}

static void test_glob_and_time(void **state)
{
	(void)state;
	assert_true(util_glob("book-*", "book-meeting"));
	assert_false(util_glob("book-*", "cancel"));
	assert_true(util_glob("re?und", "refund"));
	char buf[32];
	util_rfc3339(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	util_rfc3339(1767225600000LL, buf);
	assert_string_equal(buf, "2026-01-01T00:00:00Z");
	util_rfc3339(1835481599999LL, buf);
	assert_string_equal(buf, "2028-02-29T23:59:59Z");
	util_rfc3339(1798761599000LL, buf);
	assert_string_equal(buf, "2026-12-31T23:59:59Z");
	/* Every wall time fits the 32 bytes, whatever a history file holds. */
	util_rfc3339(LLONG_MAX, buf);
	assert_string_equal(buf, "292278994-08-17T07:12:55Z");
	util_rfc3339(LLONG_MIN, buf);
	assert_string_equal(buf, "-292275055-05-16T16:47:05Z");
	double a = util_now_ms(), b = util_now_ms();
	assert_true(b >= a);
	for (int i = 0; i < 1000; i++) {
		double r = util_random();
		assert_true(r >= 0.0 && r < 1.0);
	}
}

static void test_read_file(void **state)
{
	(void)state;
	char path[] = "/tmp/canary-test-util-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0123456789", 10), 10);
	close(fd);
	char *err = NULL;
	size_t len;
	char *s = util_read_file(path, 100, &len, &err);
	assert_non_null(s);
	assert_int_equal(len, 10);
	assert_string_equal(s, "0123456789");
	free(s);
	assert_null(util_read_file(path, 5, &len, &err));
	assert_non_null(strstr(err, "larger than 5 bytes"));
	free(err);
	unlink(path);
	assert_null(util_read_file(path, 100, &len, &err));
	assert_non_null(strstr(err, "cannot open"));
	free(err);
}

/* Every JSON the binary prints: two-space indent, "key": value, no tab. */
static void test_json_write(void **state)
{
	(void)state;
	cJSON *j = cJSON_Parse("{\"a\":1,\"b\":[true,\"x\\ty\",{}],\"c\":{\"d\":null},\"e\":[],"
			       "\"f\":0.5}");
	assert_non_null(j);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	assert_non_null(f);
	util_json_write(f, j);
	fclose(f);
	assert_string_equal(out, "{\n"
				 "  \"a\": 1,\n"
				 "  \"b\": [\n"
				 "    true,\n"
				 "    \"x\\ty\",\n"
				 "    {}\n"
				 "  ],\n"
				 "  \"c\": {\n"
				 "    \"d\": null\n"
				 "  },\n"
				 "  \"e\": [],\n"
				 "  \"f\": 0.5\n"
				 "}\n");
	free(out);
	cJSON_Delete(j);
}

/* Written as it goes, JSON is byte for byte what the tree writer prints:
 * numbers, escapes, empty containers, nesting deeper than the first stack. */
static void test_jsonw(void **state)
{
	(void)state;
	char *streamed = NULL, *printed = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&streamed, &len);
	struct jsonw w;

	assert_non_null(f);
	jsonw_init(&w, f);
	jsonw_object(&w, NULL);
	jsonw_number(&w, "int", 3);
	jsonw_number(&w, "third", 1.0 / 3);
	jsonw_number(&w, "big", 3e9);
	jsonw_number(&w, "neg", -2147483648.0);
	jsonw_string(&w, "s", "q\"\\\n\x01\xe2\x80\xae\xc3\xa9");
	jsonw_null(&w, "none");
	jsonw_string(&w, "null", NULL);
	jsonw_bool(&w, "t", true);
	jsonw_array(&w, "empty");
	jsonw_end(&w);
	jsonw_object(&w, "o");
	jsonw_end(&w);
	jsonw_array(&w, "deep");
	for (int i = 0; i < 20; i++)
		jsonw_array(&w, NULL);
	jsonw_bool(&w, NULL, false);
	for (int i = 0; i < 20; i++)
		jsonw_end(&w);
	jsonw_end(&w);
	jsonw_end(&w);
	fclose(f);
	assert_int_equal(w.depth, 0);

	cJSON *j = cJSON_Parse(streamed);
	assert_non_null(j);
	f = open_memstream(&printed, &len);
	assert_non_null(f);
	util_json_write(f, j);
	fclose(f);
	assert_string_equal(streamed, printed);
	assert_non_null(strstr(streamed, "  \"third\": 0.33333333333333331,\n"));
	assert_non_null(strstr(streamed, "  \"big\": 3000000000,\n"));
	assert_non_null(strstr(streamed, "\\u202e"));
	assert_non_null(strstr(streamed, "  \"empty\": [],\n  \"o\": {},\n"));
	cJSON_Delete(j);
	free(streamed);
	free(printed);

	/* A scalar at the top ends its line too. */
	f = open_memstream(&streamed, &len);
	jsonw_init(&w, f);
	jsonw_string(&w, NULL, "x");
	fclose(f);
	assert_string_equal(streamed, "\"x\"\n");
	free(streamed);
}

/* Strings kept once, found again by value, through many growths. */
static void test_strmap(void **state)
{
	(void)state;
	struct strmap m = {0};
	struct arena a = {0};
	bool added = false;
	char key[32];

	assert_null(strmap_find(&m, "x"));
	for (size_t i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%zu", i);
		struct strmap_entry *e = strmap_get(&m, &a, key, &added);
		assert_true(added);
		assert_true(e->key != key);
		e->value = i;
	}
	assert_int_equal(m.n, 1000);
	const char *first = strmap_find(&m, "k0")->key;
	assert_ptr_equal(strmap_get(&m, &a, "k0", &added)->key, first);
	assert_false(added);
	assert_int_equal(strmap_find(&m, "k999")->value, 999);
	assert_null(strmap_find(&m, "k1000"));
	/* Without an arena the key is the caller's. */
	static const char mine[] = "mine";
	assert_ptr_equal(strmap_get(&m, NULL, mine, NULL)->key, mine);
	strmap_release(&m);
	arena_release(&a);
	assert_null(strmap_find(&m, "k0"));
}

/* One rule for what may not reach a terminal or a report as it is. */
static void test_char_unsafe(void **state)
{
	(void)state;
	static const char *const unsafe[] = {
		"\x1b", "\x07", "\x7f", "\n", "\xc2\x9b", "\xd8\x9c", "\xe2\x80\x8e",
		"\xe2\x80\x8f", "\xe2\x80\xaa", "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x81\xa9",
	};
	static const char *const safe[] = {
		"a", " ", "\xc2\xa0", "\xd8\x9b", "\xe2\x80\x8d", "\xe2\x80\xaf", "\xe2\x81\xa5",
		"\xe2\x81\xaa", "\xe2\x90\x80", "\xf0\x9f\x98\x80",
	};
	for (size_t i = 0; i < ARRAY_SIZE(unsafe); i++)
		assert_true(util_char_unsafe((const unsigned char *)unsafe[i], strlen(unsafe[i])));
	for (size_t i = 0; i < ARRAY_SIZE(safe); i++)
		assert_false(util_char_unsafe((const unsigned char *)safe[i], strlen(safe[i])));
	assert_true(util_char_unsafe((const unsigned char *)"\xff", 0));
	assert_int_equal(util_utf8_cp((const unsigned char *)"\xe2\x80\xae", 3), 0x202e);
	assert_int_equal(util_utf8_cp((const unsigned char *)"\xf0\x9f\x98\x80", 4), 0x1f600);

	/* JSON keeps its white space and shows the rest escaped. */
	char *s = util_json_escape("{\n\t\"a\": \"x\xe2\x80\xaey\x7f\xc2\x9b\xc3\xa9\"}");
	assert_string_equal(s, "{\n\t\"a\": \"x\\u202ey\\u007f\\u009b\xc3\xa9\"}");
	free(s);
	s = util_show_nul("a\0b\0", 4);
	assert_string_equal(s, "a" UTIL_NUL_SHOWN "b" UTIL_NUL_SHOWN);
	free(s);
}

/* A FIFO without a writer, a device or a folder is refused at once: reading
 * one blocked forever or never ended. */
static void test_read_file_not_regular(void **state)
{
	(void)state;
	char dir[] = "/tmp/canary-test-util-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *fifo = xasprintf("%s/suite.yaml", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	const char *paths[] = {fifo, "/dev/zero", dir};
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		char *err = NULL, *want = xasprintf("'%s' is not a regular file", paths[i]);
		size_t len;
		assert_null(util_read_file(paths[i], 100, &len, &err));
		assert_string_equal(err, want);
		free(err);
		free(want);
	}
	unlink(fifo);
	rmdir(dir);
	free(fifo);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_max),
		cmocka_unit_test(test_buf_growth_and_format),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test(test_glob_and_time),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_json_write),
		cmocka_unit_test(test_jsonw),
		cmocka_unit_test(test_strmap),
		cmocka_unit_test(test_char_unsafe),
		cmocka_unit_test(test_read_file_not_regular),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
