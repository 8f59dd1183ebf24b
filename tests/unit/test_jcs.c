/* test_jcs.c: RFC 8785 canonical JSON.
 *
 * The expected strings are RFC 8785's own examples (section 3.2.2, 3.2.3
 * and Appendix B); node's JSON.stringify and String(number) agree with
 * every one of them, and with jcs_number() on 1.4 million random doubles
 * (checked once, outside this test).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fingerprint/jcs.h"
#include "util.h"

static void assert_canonical(const char *json, const char *want)
{
	cJSON *v = cJSON_Parse(json);
	assert_non_null(v);
	char *err = NULL;
	char *got = jcs_canonicalize(v, &err);
	if (!got)
		fail_msg("'%s': %s", json, err);
	assert_string_equal(got, want);
	free(got);
	cJSON_Delete(v);
}

/* The error jcs_canonicalize() gives for v (which it deletes). */
static char *canonical_error(cJSON *v)
{
	char *err = NULL;
	char *got = jcs_canonicalize(v, &err);
	assert_null(got);
	assert_non_null(err);
	cJSON_Delete(v);
	return err;
}

static void test_rfc_sample(void **state)
{
	(void)state;
	/* RFC 8785 section 3.2.2. */
	assert_canonical("{\n"
			 "  \"numbers\": [333333333.33333329, 1E30, 4.50,\n"
			 "              2e-3, 0.000001],\n"
			 "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
			 "  \"literals\": [null, true, false]\n"
			 "}",
			 "{\"literals\":[null,true,false],"
			 "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,0.000001],"
			 "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

static void test_rfc_sorting(void **state)
{
	(void)state;
	/* RFC 8785 section 3.2.3: UTF-16 code units, so the emoji (D83D DE00)
	 * sorts before U+FB33 although its code point is larger. */
	assert_canonical("{\n"
			 "  \"\\u20ac\": \"Euro Sign\",\n"
			 "  \"\\r\": \"Carriage Return\",\n"
			 "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
			 "  \"1\": \"One\",\n"
			 "  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n"
			 "  \"\\u0080\": \"Control\",\n"
			 "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n"
			 "}",
			 "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
			 "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
			 "\"\xe2\x82\xac\":\"Euro Sign\","
			 "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
			 "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
	/* A prefix sorts first; U+FFFF after the emoji, "b" after "a\uffff". */
	assert_canonical("{\"ab\":1,\"a\":2,\"\\uffff\":3,\"\\ud83d\\ude00\":4,\"b\":5,\"a\\uffff\":6}",
			 "{\"a\":2,\"ab\":1,\"a\xef\xbf\xbf\":6,\"b\":5,"
			 "\"\xf0\x9f\x98\x80\":4,\"\xef\xbf\xbf\":3}");
	/* Recursively, arrays keep their order. */
	assert_canonical(" { \"z\" : [ {\"y\":1, \"x\":[3, 2]} , {} , [] ], \"a\" : { } } ",
			 "{\"a\":{},\"z\":[{\"x\":[3,2],\"y\":1},{},[]]}");
}

static const struct {
	uint64_t bits;
	const char *want;
} appendix_b[] = {
	{0x0000000000000000, "0"},
	{0x8000000000000000, "0"},
	{0x0000000000000001, "5e-324"},
	{0x8000000000000001, "-5e-324"},
	{0x7fefffffffffffff, "1.7976931348623157e+308"},
	{0xffefffffffffffff, "-1.7976931348623157e+308"},
	{0x4340000000000000, "9007199254740992"},
	{0xc340000000000000, "-9007199254740992"},
	{0x4430000000000000, "295147905179352830000"},
	{0x44b52d02c7e14af5, "9.999999999999997e+22"},
	{0x44b52d02c7e14af6, "1e+23"},
	{0x44b52d02c7e14af7, "1.0000000000000001e+23"},
	{0x444b1ae4d6e2ef4e, "999999999999999700000"},
	{0x444b1ae4d6e2ef4f, "999999999999999900000"},
	{0x444b1ae4d6e2ef50, "1e+21"},
	{0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
	{0x3eb0c6f7a0b5ed8d, "0.000001"},
	{0x41b3de4355555553, "333333333.3333332"},
	{0x41b3de4355555554, "333333333.33333325"},
	{0x41b3de4355555555, "333333333.3333333"},
	{0x41b3de4355555556, "333333333.3333334"},
	{0x41b3de4355555557, "333333333.33333343"},
	{0xbecbf647612f3696, "-0.0000033333333333333333"},
	{0x43143ff3c1cb0959, "1424953923781206.2"},
	/* Powers of two where the closest 16-digit candidate falls in the
	 * narrow gap below and the next one up is the answer (node agrees). */
	{0x4790000000000000, "5.316911983139664e+36"},
	{0x4830000000000000, "5.444517870735016e+39"},
};

static double from_bits(uint64_t bits)
{
	double d;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

static void test_appendix_b(void **state)
{
	(void)state;
	char out[JCS_NUMBER_MAX];
	for (size_t i = 0; i < ARRAY_SIZE(appendix_b); i++) {
		assert_int_equal(jcs_number(from_bits(appendix_b[i].bits), out), 0);
		if (strcmp(out, appendix_b[i].want) != 0)
			fail_msg("%016llx: got %s, want %s", (unsigned long long)appendix_b[i].bits,
				 out, appendix_b[i].want);
		/* The same through a tree. */
		cJSON *v = cJSON_CreateNumber(from_bits(appendix_b[i].bits));
		char *err = NULL, *got = jcs_canonicalize(v, &err);
		assert_non_null(got);
		assert_string_equal(got, appendix_b[i].want);
		free(got);
		cJSON_Delete(v);
	}
	/* NaN and Infinity (7fffffffffffffff, 7ff0000000000000) are errors. */
	assert_int_equal(jcs_number(from_bits(0x7fffffffffffffff), out), -1);
	assert_int_equal(jcs_number(from_bits(0x7ff0000000000000), out), -1);
	assert_int_equal(jcs_number(-INFINITY, out), -1);
}

static void test_number_text(void **state)
{
	(void)state;
	static const char *const rows[][2] = {
		{"0", "0"},
		{"-0", "0"},
		{"0.0e5", "0"},
		{"1e21", "1e+21"},
		{"1e20", "100000000000000000000"},
		{"333333333.33333329", "333333333.3333333"},
		{"1E30", "1e+30"},
		{"4.50", "4.5"},
		{"2e-3", "0.002"},
		{"0.000001", "0.000001"},
		{"1e-7", "1e-7"},
		{"-1e-7", "-1e-7"},
		{"1.5e-7", "1.5e-7"},
		{"9007199254740992", "9007199254740992"},
		{"295147905179352830000", "295147905179352830000"},
		{"5e-324", "5e-324"},
		{"1.7976931348623157e308", "1.7976931348623157e+308"},
		{"0.1", "0.1"},
		{"100", "100"},
		{"-12.5", "-12.5"},
		{"123e-20", "1.23e-18"},
		{"1.25e100", "1.25e+100"},
		{"2.2250738585072014e-308", "2.2250738585072014e-308"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
		assert_canonical(rows[i][0], rows[i][1]);
	cJSON *v = cJSON_CreateNumber(0.1 + 0.2);
	char *err = NULL, *got = jcs_canonicalize(v, &err);
	assert_string_equal(got, "0.30000000000000004");
	free(got);
	cJSON_Delete(v);
}

static void test_strings(void **state)
{
	(void)state;
	/* Only the required escapes; DEL, U+2028, '/' and non-ASCII stay. */
	assert_canonical("\"\\u0001\\u001f\\u007f\\u2028\\b\\f\\n\\r\\t\\\"\\\\\\/ \\u00e9\"",
			 "\"\\u0001\\u001f\x7f\xe2\x80\xa8\\b\\f\\n\\r\\t\\\"\\\\/ \xc3\xa9\"");
	assert_canonical("\"\"", "\"\"");
	assert_canonical("[\"\\u000b\", \"\\u001B\"]", "[\"\\u000b\",\"\\u001b\"]");
	assert_canonical("{\"\\n\": \"\\t\"}", "{\"\\n\":\"\\t\"}");
	assert_canonical("[true,false,null, \"x\"]", "[true,false,null,\"x\"]");
}

static void test_errors(void **state)
{
	(void)state;
	char *err;

	err = canonical_error(cJSON_Parse("{\"a\":1,\"b\":2,\"a\":3}"));
	assert_string_equal(err, "duplicate member name 'a'");
	free(err);

	cJSON *arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, cJSON_CreateNumber(NAN));
	err = canonical_error(arr);
	assert_string_equal(err, "NaN and Infinity are not JSON numbers");
	free(err);

	static const char *const bad_utf8[] = {
		"\xff", "a\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xf8\x88\x80\x80\x80", "ok\x80",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad_utf8); i++) {
		err = canonical_error(cJSON_CreateString(bad_utf8[i]));
		assert_string_equal(err, "string is not valid utf-8");
		free(err);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNullToObject(o, bad_utf8[i]);
		err = canonical_error(o);
		assert_string_equal(err, "member name is not valid utf-8");
		free(err);
	}

	err = canonical_error(cJSON_CreateRaw("{}"));
	assert_string_equal(err, "raw json item cannot be canonicalised");
	free(err);

	err = NULL;
	assert_null(jcs_canonicalize(NULL, &err));
	assert_non_null(err);
	free(err);

	/* Deeper than JCS_MAX_DEPTH fails cleanly; just at it works. */
	cJSON *root = cJSON_CreateArray(), *cur = root;
	for (int i = 0; i < JCS_MAX_DEPTH; i++) {
		cJSON *next = cJSON_CreateArray();
		cJSON_AddItemToArray(cur, next);
		cur = next;
	}
	err = NULL;
	char *got = jcs_canonicalize(root, &err);
	assert_non_null(got);
	assert_int_equal(strlen(got), 2 * (JCS_MAX_DEPTH + 1));
	free(got);
	cJSON_AddItemToArray(cur, cJSON_CreateObject());
	err = canonical_error(root);
	assert_non_null(strstr(err, "nested deeper than"));
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_sample),
		cmocka_unit_test(test_rfc_sorting),
		cmocka_unit_test(test_appendix_b),
		cmocka_unit_test(test_number_text),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
