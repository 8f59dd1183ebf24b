/* test_jsonptr.c: JSON pointers per RFC 6901, section 5's examples first. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonptr.h"

/* The example document of RFC 6901, section 5. */
static const char rfc_doc[] =
	"{\"foo\": [\"bar\", \"baz\"], \"\": 0, \"a/b\": 1, \"c%d\": 2, \"e^f\": 3, "
	"\"g|h\": 4, \"i\\\\j\": 5, \"k\\\"l\": 6, \" \": 7, \"m~n\": 8}";

static int setup_rfc(void **state)
{
	cJSON *doc = cJSON_Parse(rfc_doc);
	if (!doc)
		return -1;
	*state = doc;
	return 0;
}

static int teardown(void **state)
{
	cJSON_Delete(*state);
	return 0;
}

static void want_number(const cJSON *doc, const char *p, double want)
{
	const cJSON *v = jsonptr_get(doc, p);
	if (!v)
		fail_msg("pointer '%s' did not resolve", p);
	assert_true(cJSON_IsNumber(v));
	assert_true(v->valuedouble == want);
}

static void want_string(const cJSON *doc, const char *p, const char *want)
{
	const cJSON *v = jsonptr_get(doc, p);
	if (!v)
		fail_msg("pointer '%s' did not resolve", p);
	assert_true(cJSON_IsString(v));
	assert_string_equal(v->valuestring, want);
}

static void test_rfc_examples(void **state)
{
	const cJSON *doc = *state;
	assert_ptr_equal(jsonptr_get(doc, ""), doc);
	const cJSON *foo = jsonptr_get(doc, "/foo");
	assert_non_null(foo);
	assert_true(cJSON_IsArray(foo));
	assert_int_equal(cJSON_GetArraySize(foo), 2);
	want_string(doc, "/foo/0", "bar");
	want_number(doc, "/", 0);
	want_number(doc, "/a~1b", 1);
	want_number(doc, "/c%d", 2);
	want_number(doc, "/e^f", 3);
	want_number(doc, "/g|h", 4);
	want_number(doc, "/i\\j", 5);
	want_number(doc, "/k\"l", 6);
	want_number(doc, "/ ", 7);
	want_number(doc, "/m~0n", 8);
}

static void test_array_indices(void **state)
{
	const cJSON *doc = *state;
	want_string(doc, "/foo/1", "baz");
	assert_null(jsonptr_get(doc, "/foo/2"));
	assert_null(jsonptr_get(doc, "/foo/01"));     /* leading zero */
	assert_null(jsonptr_get(doc, "/foo/00"));
	assert_null(jsonptr_get(doc, "/foo/-"));      /* past the end: never resolves */
	assert_null(jsonptr_get(doc, "/foo/-1"));
	assert_null(jsonptr_get(doc, "/foo/+1"));
	assert_null(jsonptr_get(doc, "/foo/1a"));
	assert_null(jsonptr_get(doc, "/foo/ 1"));
	assert_null(jsonptr_get(doc, "/foo/"));
	assert_null(jsonptr_get(doc, "/foo/99999999999999999999999999999"));
	assert_null(jsonptr_get(doc, "/foo/18446744073709551617"));
	assert_null(jsonptr_get(doc, "/foo/0/0"));    /* into a string */
}

static void test_escapes(void **state)
{
	cJSON *doc = cJSON_Parse("{\"~1\": 10, \"/0\": 11, \"~\": 12, \"/\": 13, \"a~/b\": 14,"
				 " \"x\": {\"y/z\": {\"~\": [true, {\"w\": \"deep\"}]}}}");
	assert_non_null(doc);
	want_number(doc, "/~01", 10);   /* ~0 then 1, not ~1 */
	want_number(doc, "/~10", 11);
	want_number(doc, "/~0", 12);
	want_number(doc, "/~1", 13);
	want_number(doc, "/a~0~1b", 14);
	want_string(doc, "/x/y~1z/~0/1/w", "deep");
	assert_true(cJSON_IsTrue(jsonptr_get(doc, "/x/y~1z/~0/0")));
	assert_null(jsonptr_get(doc, "/x/y/z"));
	cJSON_Delete(doc);
}

static void test_objects(void **state)
{
	cJSON *doc = cJSON_Parse("{\"ab\": 1, \"0\": \"zero\", \"01\": \"one\", \"A\": 2,"
				 " \"n\": null, \"e\": {}}");
	assert_non_null(doc);
	assert_null(jsonptr_get(doc, "/a"));        /* a prefix of a key */
	assert_null(jsonptr_get(doc, "/abc"));      /* a key is a prefix of the token */
	assert_null(jsonptr_get(doc, "/Ab"));       /* case-sensitive */
	want_string(doc, "/0", "zero");          /* digits are keys in an object */
	want_string(doc, "/01", "one");
	assert_true(cJSON_IsNull(jsonptr_get(doc, "/n")));
	assert_true(cJSON_IsObject(jsonptr_get(doc, "/e")));
	assert_null(jsonptr_get(doc, "/e/"));
	assert_null(jsonptr_get(doc, "/n/x"));      /* into null */
	assert_null(jsonptr_get(doc, "/ab/x"));     /* into a number */
	cJSON_Delete(doc);
}

static void test_scalar_document(void **state)
{
	cJSON *doc = cJSON_Parse("\"text\"");
	assert_non_null(doc);
	assert_ptr_equal(jsonptr_get(doc, ""), doc);
	assert_null(jsonptr_get(doc, "/"));
	assert_null(jsonptr_get(doc, "/0"));
	cJSON_Delete(doc);
}

static void test_valid(void **state)
{
	assert_true(jsonptr_valid(""));
	assert_true(jsonptr_valid("/"));
	assert_true(jsonptr_valid("//"));
	assert_true(jsonptr_valid("/foo/0"));
	assert_true(jsonptr_valid("/a~0b~1c"));
	assert_true(jsonptr_valid("/~01"));
	assert_true(jsonptr_valid("/caf\xc3\xa9"));
	assert_false(jsonptr_valid(NULL));
	assert_false(jsonptr_valid("foo"));
	assert_false(jsonptr_valid("#/foo"));
	assert_false(jsonptr_valid(" /foo"));
	assert_false(jsonptr_valid("/~"));
	assert_false(jsonptr_valid("/~2"));
	assert_false(jsonptr_valid("/a~"));
	assert_false(jsonptr_valid("/a/~x/b"));
}

static void test_invalid_pointers_do_not_resolve(void **state)
{
	const cJSON *doc = *state;
	assert_null(jsonptr_get(doc, "foo"));
	assert_null(jsonptr_get(doc, "/m~n"));   /* a bare ~ is not an escape */
	assert_null(jsonptr_get(doc, "/a~2b"));
	assert_null(jsonptr_get(doc, NULL));
	assert_null(jsonptr_get(NULL, ""));
	assert_null(jsonptr_get(NULL, "/foo"));
}

static void test_long_pointer(void **state)
{
	/* A pointer far deeper than the document ends cleanly. */
	char p[4096];
	size_t n = 0;
	while (n + 2 < sizeof(p)) {
		p[n++] = '/';
		p[n++] = 'x';
	}
	p[n] = '\0';
	cJSON *doc = cJSON_Parse("{\"x\": {\"x\": {\"x\": 1}}}");
	assert_non_null(doc);
	assert_null(jsonptr_get(doc, p));
	want_number(doc, "/x/x/x", 1);
	cJSON_Delete(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rfc_examples, setup_rfc, teardown),
		cmocka_unit_test_setup_teardown(test_array_indices, setup_rfc, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_pointers_do_not_resolve, setup_rfc,
						teardown),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_scalar_document),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_long_pointer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
