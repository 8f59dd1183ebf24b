/* test_jsonschema.c: what the conformance suite does not cover: error
 * messages and pointers, limits, bad schemas, local $ref rules, formats. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema/jsonschema.h"
#include "util.h"

static cJSON *parse(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	if (!j)
		fail_msg("test JSON does not parse: %s", text);
	return j;
}

static struct jsonschema *compile_opts(const char *schema, const struct jsonschema_options *o)
{
	cJSON *j = parse(schema);
	char *err = NULL, *ptr = NULL;
	struct jsonschema *s = jsonschema_compile(j, o, &ptr, &err);
	cJSON_Delete(j);
	if (!s)
		fail_msg("schema does not compile: %s (at '%s')", err, ptr);
	return s;
}

static struct jsonschema *compile(const char *schema)
{
	return compile_opts(schema, NULL);
}

/* compile_error: compile a bad schema; *ptr and the returned message are
 * the caller's. */
static char *compile_error(const char *schema, const struct jsonschema_options *o, char **ptr)
{
	cJSON *j = parse(schema);
	char *err = NULL;
	*ptr = NULL;
	struct jsonschema *s = jsonschema_compile(j, o, ptr, &err);
	cJSON_Delete(j);
	if (s) {
		jsonschema_free(s);
		fail_msg("schema compiles but should not: %s", schema);
	}
	assert_non_null(err);
	assert_non_null(*ptr);
	return err;
}

static void assert_compile_error(const char *schema, const struct jsonschema_options *o,
				 const char *want_ptr, const char *want_err)
{
	char *ptr;
	char *err = compile_error(schema, o, &ptr);
	assert_string_equal(ptr, want_ptr);
	assert_string_equal(err, want_err);
	free(ptr);
	free(err);
}

/* run: validate the instance v; *out gets the formatted errors, one a line. */
static int run(const struct jsonschema *s, const cJSON *v, size_t max, char **out)
{
	struct jsonschema_error *errs = xcalloc(max ? max : 1, sizeof(*errs));
	size_t n = 99;
	int rc = jsonschema_validate(s, v, NULL, errs, max, &n);
	assert_true(n <= max);
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < n; i++) {
		char *line = jsonschema_error_format(&errs[i]);
		buf_addf(&b, "%s%s", i ? "\n" : "", line);
		free(line);
	}
	jsonschema_errors_release(errs, n);
	free(errs);
	char *text = buf_detach(&b, NULL);
	if (out)
		*out = text;
	else
		free(text);
	return rc;
}

static int check(const struct jsonschema *s, const char *instance, size_t max, char **out)
{
	cJSON *v = parse(instance);
	int rc = run(s, v, max, out);
	cJSON_Delete(v);
	return rc;
}

static void assert_valid(const struct jsonschema *s, const char *instance)
{
	char *out;
	int rc = check(s, instance, 4, &out);
	if (rc != 1)
		fail_msg("expected %s to be valid, got %d: %s", instance, rc, out);
	free(out);
}

static void assert_invalid(const struct jsonschema *s, const char *instance)
{
	assert_int_equal(check(s, instance, 0, NULL), 0);
}

static void assert_errors(const struct jsonschema *s, const char *instance, const char *want)
{
	char *out;
	int rc = check(s, instance, 10, &out);
	if (rc != 0)
		fail_msg("expected %s to be invalid, got %d", instance, rc);
	assert_string_equal(out, want);
	free(out);
}

static const char event_schema[] =
	"{\"type\": \"object\","
	" \"required\": [\"attendee_emails\", \"start\"],"
	" \"additionalProperties\": false,"
	" \"properties\": {"
	"   \"title\": {\"type\": \"string\", \"minLength\": 3},"
	"   \"start\": {\"type\": \"string\", \"format\": \"date-time\"},"
	"   \"minutes\": {\"type\": \"integer\", \"minimum\": 5, \"multipleOf\": 5},"
	"   \"attendee_emails\": {\"type\": \"array\", \"minItems\": 1,"
	"                         \"items\": {\"type\": \"string\", \"format\": \"email\"}},"
	"   \"place\": {\"$ref\": \"#/$defs/place\"}},"
	" \"$defs\": {\"place\": {\"type\": \"object\", \"required\": [\"city\"],"
	"                         \"properties\": {\"city\": {\"enum\": [\"Lisbon\", \"Porto\"]}}}}}";

static void test_error_messages(void **state)
{
	(void)state;
	struct jsonschema_options o = {.format_assert = true};
	struct jsonschema *s = compile_opts(event_schema, &o);
	assert_valid(s, "{\"start\": \"2026-01-02T10:00:00Z\","
			" \"attendee_emails\": [\"ana@example.com\"]}");
	assert_errors(s, "{\"start\": \"2026-01-02T10:00:00Z\"}",
		      "/attendee_emails: required property missing (schema /required)");
	assert_errors(s,
		      "{\"title\": \"ab\", \"start\": \"tomorrow\", \"minutes\": 7.5,"
		      " \"attendee_emails\": [\"ana@example.com\", \"bob\", 3],"
		      " \"place\": {\"city\": \"Faro\"}, \"room\": 4}",
		      "/title: string is shorter than 3 characters (schema /properties/title/minLength)\n"
		      "/start: string is not a valid date-time (schema /properties/start/format)\n"
		      "/minutes: expected integer, got number (schema /properties/minutes/type)\n"
		      "/minutes: 7.5 is not a multiple of 5 (schema /properties/minutes/multipleOf)\n"
		      "/attendee_emails/1: string is not a valid email "
		      "(schema /properties/attendee_emails/items/format)\n"
		      "/attendee_emails/2: expected string, got integer "
		      "(schema /properties/attendee_emails/items/type)\n"
		      "/place/city: value is not one of [\"Lisbon\",\"Porto\"] "
		      "(schema /$defs/place/properties/city/enum)\n"
		      "/room: property not allowed (schema /additionalProperties)");
	assert_errors(s, "[1]", "(root): expected object, got array (schema /type)");
	assert_errors(s, "{\"start\": \"2026-01-02T10:00:00Z\", \"attendee_emails\": [],"
			 " \"minutes\": 0, \"place\": {}}",
		      "/attendee_emails: array has fewer than 1 items "
		      "(schema /properties/attendee_emails/minItems)\n"
		      "/minutes: 0 is less than the minimum 5 (schema /properties/minutes/minimum)\n"
		      "/place/city: required property missing (schema /$defs/place/required)");

	/* The fields of one error, and ~ and / escaped in pointers. */
	struct jsonschema *t = compile("{\"properties\": {\"a/b~c\": {\"const\": 1}}}");
	cJSON *v = parse("{\"a/b~c\": 2}");
	struct jsonschema_error e[1];
	size_t n;
	assert_int_equal(jsonschema_validate(t, v, NULL, e, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].instance, "/a~1b~0c");
	assert_string_equal(e[0].keyword, "const");
	assert_string_equal(e[0].schema, "/properties/a~1b~0c/const");
	assert_string_equal(e[0].message, "value is not 1");
	jsonschema_errors_release(e, n);
	assert_null(e[0].message);
	cJSON_Delete(v);
	jsonschema_free(t);
	jsonschema_free(s);
}

static void test_applicator_messages(void **state)
{
	(void)state;
	struct jsonschema *s = compile(
		"{\"properties\": {"
		"  \"a\": {\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"null\"}]},"
		"  \"b\": {\"oneOf\": [{\"minimum\": 0}, {\"maximum\": 10}]},"
		"  \"c\": {\"not\": {\"type\": \"string\"}},"
		"  \"d\": {\"type\": \"array\", \"contains\": {\"const\": 1}, \"uniqueItems\": true},"
		"  \"e\": {\"propertyNames\": {\"pattern\": \"^[a-z]+$\"}},"
		"  \"f\": {\"if\": {\"const\": 1}, \"then\": {\"required\": [\"x\"]}, \"else\": false},"
		"  \"g\": {\"dependentRequired\": {\"a\": [\"b\"]}},"
		"  \"h\": {\"type\": [\"string\", \"integer\", \"null\"]}}}");
	assert_errors(s, "{\"a\": 1, \"b\": 5, \"c\": \"x\", \"d\": [2, 2], \"e\": {\"Ab\": 1},"
			 " \"f\": 2, \"g\": {\"a\": 1}, \"h\": 1.5}",
		      "/a: value matches no schema in anyOf (schema /properties/a/anyOf)\n"
		      "/b: value matches schemas 0 and 1 in oneOf, not exactly one "
		      "(schema /properties/b/oneOf)\n"
		      "/c: value matches the schema in not (schema /properties/c/not)\n"
		      "/d: items 0 and 1 are equal (schema /properties/d/uniqueItems)\n"
		      "/d: array contains no matching item (schema /properties/d/contains)\n"
		      "/e/Ab: invalid property name (schema /properties/e/propertyNames)\n"
		      "/f: value not allowed (the schema is false) (schema /properties/f/else)\n"
		      "/g/b: required property missing (required when 'a' is present) "
		      "(schema /properties/g/dependentRequired)\n"
		      "/h: expected string, integer or null, got number (schema /properties/h/type)");
	jsonschema_free(s);
}

static void test_error_cap(void **state)
{
	(void)state;
	struct jsonschema *s = compile("{\"type\": \"array\", \"items\": {\"type\": \"integer\"}}");
	cJSON *v = cJSON_CreateArray();
	for (int i = 0; i < 100000; i++)
		cJSON_AddItemToArray(v, cJSON_CreateString("bad"));
	char *out;
	assert_int_equal(run(s, v, 3, &out), 0);
	assert_string_equal(out, "/0: expected integer, got string (schema /items/type)\n"
				 "/1: expected integer, got string (schema /items/type)\n"
				 "/2: expected integer, got string (schema /items/type)");
	free(out);
	/* No errors asked for: the first failure decides (bench/jsonschema_bench
	 * times it). */
	assert_int_equal(run(s, v, 0, NULL), 0);
	cJSON_Delete(v);
	jsonschema_free(s);
}

/* deep_array: [[[...]]] nested depth levels, built without the parser. */
static cJSON *deep_array(int depth)
{
	cJSON *v = cJSON_CreateArray();
	cJSON *cur = v;
	for (int i = 1; i < depth; i++) {
		cJSON *inner = cJSON_CreateArray();
		cJSON_AddItemToArray(cur, inner);
		cur = inner;
	}
	return v;
}

static void test_deep_instance(void **state)
{
	(void)state;
	cJSON *deep = deep_array(10000);
	/* A schema that does not descend never looks at the depth. */
	struct jsonschema *flat = compile("{\"type\": \"array\", \"maxItems\": 1}");
	assert_int_equal(run(flat, deep, 4, NULL), 1);
	jsonschema_free(flat);

	/* A recursive schema stops at the limit and says so. */
	struct jsonschema *rec = compile("{\"type\": \"array\", \"items\": {\"$ref\": \"#\"}}");
	char *out;
	assert_int_equal(run(rec, deep, 4, &out), -1);
	assert_non_null(strstr(out, "validation nested more than 1000 levels deep"));
	free(out);
	assert_int_equal(run(rec, deep, 0, NULL), -1);
	cJSON *shallow = deep_array(100);
	assert_int_equal(run(rec, shallow, 4, NULL), 1);
	cJSON_Delete(shallow);
	jsonschema_free(rec);

	/* Comparing deep values gives up instead of recursing without end. */
	struct jsonschema *uniq = compile("{\"uniqueItems\": true}");
	cJSON *pair = cJSON_CreateArray();
	cJSON_AddItemToArray(pair, deep_array(5000));
	cJSON_AddItemToArray(pair, deep_array(5000));
	assert_int_equal(run(uniq, pair, 2, &out), -1);
	assert_string_equal(out, "(root): items nested too deeply to compare (schema /uniqueItems)");
	free(out);
	cJSON_Delete(pair);
	jsonschema_free(uniq);

	struct jsonschema *cst = compile("{\"const\": [[1]]}");
	assert_int_equal(run(cst, deep, 2, NULL), 0);
	jsonschema_free(cst);
	cJSON_Delete(deep);
}

static void test_deep_schema(void **state)
{
	(void)state;
	/* 300 nested "not": past the schema nesting limit. */
	cJSON *schema = cJSON_CreateObject();
	cJSON *cur = schema;
	for (int i = 0; i < 300; i++) {
		cJSON *inner = cJSON_CreateObject();
		cJSON_AddItemToObject(cur, "not", inner);
		cur = inner;
	}
	char *err = NULL, *ptr = NULL;
	assert_null(jsonschema_compile(schema, NULL, &ptr, &err));
	assert_string_equal(err, "schema nested more than 200 levels deep");
	assert_int_equal(strncmp(ptr, "/not/not/not/", 13), 0);
	assert_int_equal(strlen(ptr), 201 * 4);
	free(err);
	free(ptr);
	cJSON_Delete(schema);

	/* A document nested past what is ever compared. */
	cJSON *deep = cJSON_CreateObject();
	cJSON_AddItemToObject(deep, "const", deep_array(10000));
	assert_null(jsonschema_compile(deep, NULL, &ptr, &err));
	assert_string_equal(err, "schema nested more than 512 levels deep");
	assert_string_equal(ptr, "");
	free(err);
	free(ptr);
	cJSON_Delete(deep);
}

static void test_ref_loops(void **state)
{
	(void)state;
	assert_compile_error("{\"$ref\": \"#\"}", NULL, "/$ref", "$ref '#' refers to itself");
	assert_compile_error("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"},"
			     " \"b\": {\"$ref\": \"#/$defs/a\"}},"
			     " \"properties\": {\"x\": {\"$ref\": \"#/$defs/a\"}}}",
			     NULL, "/$defs/a/$ref", "$ref '#/$defs/b' refers to itself");
	/* A loop through allOf compiles, then stops at the limit. */
	struct jsonschema *s = compile("{\"$defs\": {\"a\": {\"type\": \"object\","
				       " \"allOf\": [{\"$ref\": \"#/$defs/a\"}]}}, \"$ref\": \"#/$defs/a\"}");
	char *out;
	assert_int_equal(check(s, "{}", 2, &out), -1);
	assert_string_equal(out, "(root): validation nested more than 1000 levels deep (a $ref loop?) "
				 "(schema /$defs/a/allOf/0)");
	free(out);
	jsonschema_free(s);
	/* Recursion that follows the instance is fine. */
	s = compile("{\"$defs\": {\"node\": {\"type\": \"object\", \"properties\": {"
		    " \"value\": {\"type\": \"integer\"},"
		    " \"next\": {\"anyOf\": [{\"type\": \"null\"}, {\"$ref\": \"#/$defs/node\"}]}}}},"
		    " \"$ref\": \"#/$defs/node\"}");
	assert_valid(s, "{\"value\": 1, \"next\": {\"value\": 2, \"next\": null}}");
	assert_errors(s, "{\"value\": 1, \"next\": {\"value\": \"2\", \"next\": null}}",
		      "/next: value matches no schema in anyOf "
		      "(schema /$defs/node/properties/next/anyOf)");
	jsonschema_free(s);
}

/* anyof_bomb: levels nested anyOf, each of two $refs to the next level. */
static cJSON *anyof_bomb(int levels)
{
	cJSON *schema = cJSON_CreateObject(), *defs = cJSON_AddObjectToObject(schema, "$defs");
	for (int i = 0; i < levels; i++) {
		char *next = xasprintf("#/$defs/n%d", i + 1), *name = xasprintf("n%d", i);
		cJSON *any = cJSON_AddArrayToObject(cJSON_AddObjectToObject(defs, name), "anyOf");
		for (int k = 0; k < 2; k++) {
			cJSON *ref = cJSON_CreateObject();
			cJSON_AddStringToObject(ref, "$ref", next);
			cJSON_AddItemToArray(any, ref);
		}
		free(next);
		free(name);
	}
	char *last = xasprintf("n%d", levels);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(defs, last), "type", "string");
	cJSON_AddStringToObject(schema, "$ref", "#/$defs/n0");
	free(last);
	return schema;
}

/* Validation work is bounded: 40 anyOf levels of two $refs each took 2^40
 * steps (more than eleven minutes); now -1 once the budget is spent. */
static void test_step_budget(void **state)
{
	(void)state;
	cJSON *bomb = anyof_bomb(40);
	char *err = NULL, *ptr = NULL;
	struct jsonschema *s = jsonschema_compile(bomb, NULL, &ptr, &err);
	cJSON_Delete(bomb);
	if (!s)
		fail_msg("%s at %s", err, ptr);
	char *out;
	assert_int_equal(check(s, "5", 4, &out), -1);
	assert_string_equal(out, "(root): validation took more than 10000000 steps (anyOf, oneOf "
				 "or $ref branches that multiply?) (schema /$defs/n39/anyOf/0)");
	free(out);
	assert_int_equal(check(s, "5", 0, NULL), -1);

	/* A set stop flag ends it too, whatever the budget. */
	volatile sig_atomic_t stop = 1;
	cJSON *v = parse("5");
	struct jsonschema_error e[2];
	size_t n = 0;
	assert_int_equal(jsonschema_validate(s, v, &stop, e, 2, &n), -1);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].message, "validation interrupted");
	jsonschema_errors_release(e, n);
	stop = 0;
	assert_int_equal(jsonschema_validate(s, v, &stop, NULL, 0, NULL), -1);
	cJSON_Delete(v);
	jsonschema_free(s);

	/* Ten levels are well within it, but not within a budget of 1000. */
	bomb = anyof_bomb(10);
	s = jsonschema_compile(bomb, NULL, &ptr, &err);
	assert_non_null(s);
	assert_valid(s, "\"x\"");
	assert_invalid(s, "5");
	jsonschema_free(s);
	struct jsonschema_options small = {.max_steps = 1000};
	s = jsonschema_compile(bomb, &small, &ptr, &err);
	cJSON_Delete(bomb);
	assert_non_null(s);
	assert_int_equal(check(s, "5", 1, &out), -1);
	assert_non_null(strstr(out, "validation took more than 1000 steps"));
	free(out);
	jsonschema_free(s);

	/* Comparisons count: 300 values found last in an enum of 100,000. */
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, "{\"items\": {\"enum\": [0");
	for (int i = 1; i < 100000; i++)
		buf_addf(&b, ", %d", i);
	buf_addstr(&b, "]}}");
	s = compile(b.data);
	buf_reset(&b);
	buf_addstr(&b, "[99999");
	for (int i = 1; i < 300; i++)
		buf_addstr(&b, ", 99999");
	buf_addch(&b, ']');
	assert_int_equal(check(s, b.data, 1, &out), -1);
	assert_non_null(strstr(out, "validation took more than 10000000 steps"));
	free(out);
	buf_release(&b);
	jsonschema_free(s);
}

static void test_bad_schemas(void **state)
{
	(void)state;
	assert_compile_error("{\"type\": \"strnig\"}", NULL, "/type",
			     "unknown type 'strnig' (did you mean 'string'?)");
	assert_compile_error("{\"type\": [\"null\", \"bolean\"]}", NULL, "/type/1",
			     "unknown type 'bolean' (did you mean 'boolean'?)");
	assert_compile_error("{\"type\": 3}", NULL, "/type",
			     "'type' must be a type name or a non-empty array of them");
	char *ptr;
	char *err = compile_error("{\"properties\": {\"x\": {\"pattern\": \"(\"}}}", NULL, &ptr);
	assert_string_equal(ptr, "/properties/x/pattern");
	assert_int_equal(strncmp(err, "bad regex '(' at offset 1: ", 27), 0);
	free(err);
	free(ptr);
	err = compile_error("{\"patternProperties\": {\"a[\": true}}", NULL, &ptr);
	assert_string_equal(ptr, "/patternProperties/a[");
	free(err);
	free(ptr);
	assert_compile_error("{\"items\": {\"minLength\": -1}}", NULL, "/items/minLength",
			     "'minLength' must be a non-negative integer");
	assert_compile_error("{\"multipleOf\": 0}", NULL, "/multipleOf",
			     "'multipleOf' must be greater than 0");
	assert_compile_error("{\"required\": \"a\"}", NULL, "/required",
			     "'required' must be an array of strings");
	assert_compile_error("{\"allOf\": []}", NULL, "/allOf",
			     "'allOf' must be a non-empty array of schemas");
	assert_compile_error("{\"properties\": {\"a\": 5}}", NULL, "/properties/a",
			     "a schema must be an object or a boolean");
	assert_compile_error("{\"$ref\": \"#/$defs/missing\"}", NULL, "/$ref",
			     "cannot resolve $ref '#/$defs/missing'");
	assert_compile_error("{\"$defs\": {\"a\": {\"$anchor\": \"1x\"}}}", NULL, "/$defs/a/$anchor",
			     "'$anchor' must be a name (a letter or '_', then letters, digits, '-', "
			     "'_', '.')");
	assert_compile_error("{\"$ref\": \"#nowhere\"}", NULL, "/$ref",
			     "cannot resolve $ref '#nowhere'");
	assert_compile_error("{\"$schema\": 7}", NULL, "/$schema", "'$schema' must be a string");
	/* Unknown keywords are annotations, by the specification. */
	struct jsonschema *s = compile("{\"x-note\": {\"type\": \"strnig\"}, \"title\": 3}");
	assert_valid(s, "1");
	jsonschema_free(s);
	/* minLength 2.0 is an integer. */
	s = compile("{\"minLength\": 2.0}");
	assert_invalid(s, "\"a\"");
	jsonschema_free(s);
}

static void test_remote_refused(void **state)
{
	(void)state;
	assert_compile_error("{\"properties\": {\"a\": {\"$ref\": \"https://example.com/s.json\"}}}",
			     NULL, "/properties/a/$ref",
			     "remote $ref 'https://example.com/s.json' is not allowed: only local "
			     "files under the suite's folder");
	assert_compile_error("{\"$id\": \"https://example.com/root.json\", \"$ref\": \"other.json\"}",
			     NULL, "/$ref",
			     "remote $ref 'other.json' is not allowed: only local files under the "
			     "suite's folder");
	assert_compile_error("{\"$ref\": \"http://localhost:1234/integer.json\"}", NULL, "/$ref",
			     "remote $ref 'http://localhost:1234/integer.json' is not allowed: only "
			     "local files under the suite's folder");
	assert_compile_error("{\"$ref\": \"schemas/a.json\"}", NULL, "/$ref",
			     "$ref 'schemas/a.json' names a local file, but no folder was given to "
			     "find it in");
	/* The drafts' metaschemas are known without fetching them. */
	struct jsonschema *s = compile("{\"$ref\": \"https://json-schema.org/draft/2020-12/schema\"}");
	assert_valid(s, "{\"type\": \"string\", \"properties\": {\"a\": {\"minimum\": 1}}}");
	assert_valid(s, "true");
	assert_errors(s, "{\"properties\": {\"a\": {\"type\": \"strnig\"}}}",
		      "(root): not a valid schema: unknown type 'strnig' (did you mean 'string'?) "
		      "(at /properties/a/type) (schema https://json-schema.org/draft/2020-12/schema#)");
	assert_invalid(s, "3");
	jsonschema_free(s);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void test_local_refs(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/test_jsonschema.XXXXXX";
	char *top = mkdtemp(tmpl);
	assert_non_null(top);
	char *base = xasprintf("%s/suite dir", top);
	char *schemas = xasprintf("%s/schemas", base);
	assert_int_equal(mkdir(base, 0700), 0);
	assert_int_equal(mkdir(schemas, 0700), 0);
	write_file(schemas, "place.json",
		   "{\"type\": \"object\", \"required\": [\"city\"],"
		   " \"properties\": {\"country\": {\"$ref\": \"country.yaml#/$defs/code\"}}}");
	write_file(schemas, "country.yaml", "$defs:\n  code: {type: string, pattern: '^[A-Z]{2}$'}\n");
	write_file(top, "outside.json", "{\"type\": \"string\"}");
	char *link = xasprintf("%s/link.json", schemas);
	char *target = xasprintf("%s/outside.json", top);
	assert_int_equal(symlink(target, link), 0);

	struct jsonschema_options o = {.base_dir = base};
	struct jsonschema *s = compile_opts(
		"{\"properties\": {\"place\": {\"$ref\": \"schemas/place.json\"},"
		" \"home\": {\"$ref\": \"./schemas/../schemas/place.json\"}}}", &o);
	assert_valid(s, "{\"place\": {\"city\": \"Porto\", \"country\": \"PT\"}}");
	char *out;
	assert_int_equal(check(s, "{\"place\": {\"country\": \"pt\"}, \"home\": {\"city\": 1}}", 4, &out),
			 0);
	char *uri = xasprintf("file://%s/suite%%20dir/schemas/", top);
	char *want = xasprintf("/place/city: required property missing (schema %splace.json#/required)\n"
			       "/place/country: string does not match pattern '^[A-Z]{2}$' "
			       "(schema %scountry.yaml#/$defs/code/pattern)",
			       uri, uri);
	assert_string_equal(out, want);
	free(want);
	free(uri);
	free(out);
	jsonschema_free(s);

	assert_compile_error("{\"$ref\": \"../outside.json\"}", &o, "/$ref",
			     "$ref '../outside.json' is outside the suite's folder");
	assert_compile_error("{\"$ref\": \"schemas/link.json\"}", &o, "/$ref",
			     "$ref 'schemas/link.json' is outside the suite's folder");
	char *abs = xasprintf("{\"$ref\": \"file://%s/outside.json\"}", top);
	char *msg = xasprintf("$ref 'file://%s/outside.json' is outside the suite's folder", top);
	assert_compile_error(abs, &o, "/$ref", msg);
	free(abs);
	free(msg);
	/* A $ref inside a file climbs from that file's folder: two levels up
	 * from schemas/ is outside, however many levels the suite's folder has
	 * (it was cut to one level, into the suite's folder). */
	write_file(schemas, "nested.json", "{\"$ref\": \"../../outside.json\"}");
	write_file(base, "outside.json", "{\"type\": \"integer\"}");
	char *nested = xasprintf("file://%s/suite%%20dir/schemas/nested.json#/$ref", top);
	assert_compile_error("{\"$ref\": \"schemas/nested.json\"}", &o, nested,
			     "$ref '../../outside.json' is outside the suite's folder");
	free(nested);
	char *ptr;
	char *err = compile_error("{\"$ref\": \"schemas/missing.json\"}", &o, &ptr);
	assert_non_null(strstr(err, "cannot open"));
	assert_string_equal(ptr, "/$ref");
	free(err);
	free(ptr);
	assert_compile_error("{\"$ref\": \"https://example.com/x.json\"}", &o, "/$ref",
			     "remote $ref 'https://example.com/x.json' is not allowed: only local "
			     "files under the suite's folder");

	unlink(link);
	char *p = xasprintf("%s/place.json", schemas);
	unlink(p);
	free(p);
	p = xasprintf("%s/country.yaml", schemas);
	unlink(p);
	free(p);
	p = xasprintf("%s/nested.json", schemas);
	unlink(p);
	free(p);
	p = xasprintf("%s/outside.json", base);
	unlink(p);
	free(p);
	unlink(target);
	rmdir(schemas);
	rmdir(base);
	rmdir(top);
	free(link);
	free(target);
	free(schemas);
	free(base);
}

struct format_case {
	const char *format;
	const char *value;
	bool valid;
};

static const struct format_case format_cases[] = {
	{"date-time", "1963-06-19T08:30:06.283185Z", true},
	{"date-time", "1990-12-31T15:59:50.123-08:00", true},
	{"date-time", "1998-12-31T23:59:60Z", true},
	{"date-time", "1963-06-19t08:30:06z", true},
	{"date-time", "1998-12-31T22:59:60Z", false},
	{"date-time", "1990-02-31T15:59:59Z", false},
	{"date-time", "1990-12-31T15:59:59-24:00", false},
	{"date-time", "2026-01-02 10:00:00Z", false},
	{"date-time", "2026-01-02T10:00:00", false},
	{"date", "2020-02-29", true},
	{"date", "2021-02-29", false},
	{"date", "2020-1-01", false},
	{"date", "2020-01-01T00:00:00Z", false},
	{"time", "08:30:06Z", true},
	{"time", "23:59:60+00:00", true},
	{"time", "15:59:60-08:00", true},
	{"time", "08:30:06", false},
	{"time", "24:00:00Z", false},
	{"email", "joe.bloggs@example.com", true},
	{"email", "\"joe bloggs\"@example.com", true},
	{"email", "joe@[IPv6:::1]", true},
	{"email", "joe@[127.0.0.1]", true},
	{"email", "te..st@example.com", false},
	{"email", ".test@example.com", false},
	{"email", "2962", false},
	{"email", "a@b@c.org", false},
	{"email", "joe@example.com\n", false},
	{"hostname", "www.example.com", true},
	{"hostname", "xn--4gbwdl.xn--wgbh1c", true},
	{"hostname", "-start.example", false},
	{"hostname", "host_name", false},
	{"hostname", "", false},
	{"hostname", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl.com", false},
	{"ipv4", "192.168.0.1", true},
	{"ipv4", "256.1.1.1", false},
	{"ipv4", "087.10.0.1", false},
	{"ipv4", "1.2.3", false},
	{"ipv6", "::1", true},
	{"ipv6", "1::d6:192.168.0.1", true},
	{"ipv6", "12345::", false},
	{"ipv6", "1::d6::42", false},
	{"ipv6", "fe80::a%eth1", false},
	{"uri", "http://foo.bar/?baz=qux#quux", true},
	{"uri", "urn:oasis:names:specification:docbook:dtd:xml:4.1.2", true},
	{"uri", "ldap://[2001:db8::7]/c=GB?objectClass?one", true},
	{"uri", "/abc", false},
	{"uri", "http:// shouldfail.com", false},
	{"uri", "http://example.com/%6G", false},
	{"uri", "http://example.com:abc/path", false},
	{"uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d16380", true},
	{"uuid", "2eb8aa08-aa98-11ea-b4aa-73b441d1638", false},
	{"uuid", "2eb8aa08aa9811eab4aa73b441d16380", false},
	{"uri-reference", "/abc", true},
	{"json-pointer", "/foo/0", true},
	{"json-pointer", "foo", false},
	{"regex", "^[a-z]+$", true},
	{"regex", "(", false},
	{"duration", "P4DT12H30M5S", true},
	{"duration", "PT", false},
};

static void test_formats(void **state)
{
	(void)state;
	struct jsonschema_options on = {.format_assert = true};
	for (size_t i = 0; i < ARRAY_SIZE(format_cases); i++) {
		const struct format_case *f = &format_cases[i];
		char *schema = xasprintf("{\"format\": \"%s\"}", f->format);
		cJSON *v = cJSON_CreateString(f->value);
		struct jsonschema *off_s = compile(schema);
		struct jsonschema *on_s = compile_opts(schema, &on);
		int off_rc = run(off_s, v, 1, NULL);
		int on_rc = run(on_s, v, 1, NULL);
		if (off_rc != 1 || on_rc != (f->valid ? 1 : 0))
			fail_msg("format %s on '%s': annotation %d, assertion %d", f->format, f->value,
				 off_rc, on_rc);
		cJSON *num = cJSON_CreateNumber(1);
		assert_int_equal(run(on_s, num, 1, NULL), 1);  /* formats apply to strings only */
		cJSON_Delete(num);
		cJSON_Delete(v);
		jsonschema_free(off_s);
		jsonschema_free(on_s);
		free(schema);
	}
	assert_compile_error("{\"format\": \"emial\"}", &on, "/format",
			     "unknown format 'emial' (did you mean 'email'?)");
	struct jsonschema *s = compile("{\"format\": \"emial\"}");
	assert_valid(s, "\"x\"");
	jsonschema_free(s);
}

static void test_values(void **state)
{
	(void)state;
	struct jsonschema *s = compile("{\"enum\": [1, {\"a\": [1, 2], \"b\": null}, \"x\"]}");
	assert_valid(s, "1.0");
	assert_valid(s, "{\"b\": null, \"a\": [1.0, 2]}");
	assert_invalid(s, "{\"b\": null, \"a\": [2, 1]}");
	assert_invalid(s, "true");
	jsonschema_free(s);

	s = compile("{\"uniqueItems\": true}");
	assert_errors(s, "[1, 1.0]", "(root): items 0 and 1 are equal (schema /uniqueItems)");
	assert_valid(s, "[{\"a\": 1, \"b\": 2}, {\"a\": 2, \"b\": 1}, [1, 2], [2, 1], 0, false]");
	assert_invalid(s, "[{\"a\": 1, \"b\": 2}, {\"b\": 2, \"a\": 1}]");
	/* Past the pairwise size, by hash. */
	cJSON *big = cJSON_CreateArray();
	for (int i = 0; i < 2000; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", i);
		cJSON_AddItemToArray(big, o);
	}
	assert_int_equal(run(s, big, 1, NULL), 1);
	cJSON *dup = cJSON_CreateObject();
	cJSON_AddNumberToObject(dup, "id", 7.0);
	cJSON_AddItemToArray(big, dup);
	char *out;
	assert_int_equal(run(s, big, 1, &out), 0);
	assert_string_equal(out, "(root): items 7 and 2000 are equal (schema /uniqueItems)");
	free(out);
	cJSON_Delete(big);
	jsonschema_free(s);

	s = compile("{\"type\": \"integer\"}");
	assert_valid(s, "1.0");
	assert_valid(s, "-0");
	assert_invalid(s, "1.5");
	jsonschema_free(s);

	s = compile("{\"maxLength\": 5, \"minLength\": 5}");
	assert_valid(s, "\"h\\u00e9llo\"");
	assert_valid(s, "\"\\ud83d\\ude00abcd\"");
	assert_invalid(s, "\"hello!\"");
	jsonschema_free(s);

	const struct {
		const char *schema, *value;
		bool valid;
	} numbers[] = {
		{"{\"multipleOf\": 0.0001}", "0.0075", true},
		{"{\"multipleOf\": 0.0001}", "0.00751", false},
		{"{\"multipleOf\": 0.1}", "0.3", true},
		{"{\"multipleOf\": 0.01}", "19.99", true},
		{"{\"multipleOf\": 2}", "7", false},
		{"{\"multipleOf\": 2}", "-8", true},
		{"{\"multipleOf\": 0.123456789}", "1e308", false},
		{"{\"multipleOf\": 1e-8}", "12391239123", true},
		{"{\"exclusiveMaximum\": 3}", "3", false},
		{"{\"exclusiveMinimum\": 3}", "3.0001", true},
	};
	for (size_t i = 0; i < ARRAY_SIZE(numbers); i++) {
		s = compile(numbers[i].schema);
		if (check(s, numbers[i].value, 1, NULL) != (numbers[i].valid ? 1 : 0))
			fail_msg("%s with %s", numbers[i].schema, numbers[i].value);
		jsonschema_free(s);
	}
}

static void test_patterns(void **state)
{
	(void)state;
	/* ECMA-262: $ is the very end, \p{...} takes long names, no anchoring. */
	struct jsonschema *s = compile("{\"pattern\": \"^[0-9]+$\"}");
	assert_valid(s, "\"123\"");
	assert_invalid(s, "\"123\\n\"");
	jsonschema_free(s);
	s = compile("{\"pattern\": \"\\\\p{Letter}+\", \"patternProperties\": {\"[$]\": false}}");
	assert_valid(s, "\"\\u00e9t\\u00e9\"");
	assert_invalid(s, "\"123\"");
	assert_invalid(s, "{\"a$\": 1}");
	jsonschema_free(s);
	s = compile("{\"pattern\": \"b\"}");
	assert_valid(s, "\"abc\"");
	jsonschema_free(s);
	/* \uXXXX (surrogate pairs too) and \u{...} are code points. */
	s = compile("{\"pattern\": \"^\\\\u00e9t\\\\u{e9} \\\\ud83d\\\\ude00$\"}");
	assert_valid(s, "\"\\u00e9t\\u00e9 \\ud83d\\ude00\"");
	assert_invalid(s, "\"ete \\ud83d\\ude00\"");
	jsonschema_free(s);
	/* Catastrophic backtracking ends with -1, not a hang. */
	s = compile("{\"pattern\": \"^(a|a)*$\"}");
	char *text = xmalloc(20002);
	memset(text, 'a', 20000);
	text[20000] = 'b';
	text[20001] = '\0';
	cJSON *v = cJSON_CreateString(text);
	char *out;
	assert_int_equal(run(s, v, 1, &out), -1);
	assert_string_equal(out, "(root): pattern '^(a|a)*$': regex match limit exceeded "
				 "(schema /pattern)");
	free(out);
	assert_int_equal(run(s, v, 0, NULL), -1);
	cJSON_Delete(v);
	free(text);
	jsonschema_free(s);
}

static void test_drafts(void **state)
{
	(void)state;
	const char *d7 = "{\"$schema\": \"http://json-schema.org/draft-07/schema#\","
			 " \"definitions\": {\"n\": {\"type\": \"number\"}},"
			 " \"properties\": {"
			 "  \"t\": {\"items\": [{\"type\": \"string\"}], \"additionalItems\": false},"
			 "  \"r\": {\"$ref\": \"#/definitions/n\", \"type\": \"string\"},"
			 "  \"d\": {\"dependencies\": {\"a\": [\"b\"], \"c\": {\"required\": [\"e\"]}}},"
			 "  \"p\": {\"prefixItems\": [false]}}}";
	struct jsonschema *s = compile(d7);
	assert_int_equal(jsonschema_draft(s), JSONSCHEMA_DRAFT_7);
	assert_valid(s, "{\"t\": [\"a\"], \"r\": 1, \"d\": {\"a\": 1, \"b\": 2}, \"p\": [1]}");
	assert_errors(s, "{\"t\": [\"a\", 2], \"r\": \"x\", \"d\": {\"a\": 1, \"c\": 1}}",
		      "/t/1: item not allowed (schema /properties/t/additionalItems)\n"
		      "/r: expected number, got string (schema /definitions/n/type)\n"
		      "/d/b: required property missing (required when 'a' is present) "
		      "(schema /properties/d/dependencies)\n"
		      "/d/e: required property missing (schema /properties/d/dependencies/c/required)");
	jsonschema_free(s);

	/* Draft-07's location-independent identifiers: "$id": "#name". */
	s = compile("{\"$schema\": \"http://json-schema.org/draft-07/schema#\","
		    " \"allOf\": [{\"$ref\": \"#foo\"}, {\"$ref\": \"http://example.com/b.json#bar\"}],"
		    " \"definitions\": {\"A\": {\"$id\": \"#foo\", \"type\": \"integer\"},"
		    "  \"B\": {\"$id\": \"http://example.com/b.json#bar\", \"minimum\": 2}}}");
	assert_valid(s, "2");
	assert_errors(s, "\"a\"", "(root): expected integer, got string (schema /definitions/A/type)");
	assert_errors(s, "1", "(root): 1 is less than the minimum 2 (schema /definitions/B/minimum)");
	jsonschema_free(s);

	/* The same without $schema, as draft-07 by the options. */
	struct jsonschema_options o = {.default_draft = JSONSCHEMA_DRAFT_7};
	s = compile_opts("{\"items\": [{\"type\": \"string\"}], \"additionalItems\": false}", &o);
	assert_invalid(s, "[\"a\", 1]");
	jsonschema_free(s);

	/* 2020-12: $ref sits beside its siblings; prefixItems and items. */
	s = compile("{\"$defs\": {\"n\": {\"type\": \"number\"}}, \"$ref\": \"#/$defs/n\","
		    " \"minimum\": 5}");
	assert_int_equal(jsonschema_draft(s), JSONSCHEMA_DRAFT_2020);
	assert_invalid(s, "3");
	assert_valid(s, "6");
	jsonschema_free(s);
	s = compile("{\"prefixItems\": [{\"type\": \"string\"}], \"items\": false}");
	assert_valid(s, "[\"a\"]");
	assert_errors(s, "[\"a\", 1]", "/1: item not allowed (schema /items)");
	jsonschema_free(s);
}

static void test_unevaluated(void **state)
{
	(void)state;
	struct jsonschema *s = compile(
		"{\"type\": \"object\", \"properties\": {\"kind\": {\"enum\": [\"a\", \"b\"]}},"
		" \"oneOf\": [{\"properties\": {\"kind\": {\"const\": \"a\"}, \"x\": true}},"
		"           {\"properties\": {\"kind\": {\"const\": \"b\"}, \"y\": true}}],"
		" \"unevaluatedProperties\": false}");
	assert_valid(s, "{\"kind\": \"a\", \"x\": 1}");
	assert_errors(s, "{\"kind\": \"a\", \"y\": 1}",
		      "/y: property not allowed (unevaluated) (schema /unevaluatedProperties)");
	jsonschema_free(s);
	s = compile("{\"prefixItems\": [true], \"contains\": {\"type\": \"string\"},"
		    " \"unevaluatedItems\": {\"type\": \"integer\"}}");
	assert_valid(s, "[null, \"a\", 1, \"b\"]");
	assert_errors(s, "[null, \"a\", 1.5]",
		      "/2: expected integer, got number (schema /unevaluatedItems/type)");
	jsonschema_free(s);
}

static void test_dynamic_ref(void **state)
{
	(void)state;
	/* A generic list whose items an extension narrows through $dynamicRef. */
	struct jsonschema *s = compile(
		"{\"$id\": \"https://example.com/strings\", \"$ref\": \"list\","
		" \"$defs\": {"
		"  \"item\": {\"$dynamicAnchor\": \"item\", \"type\": \"string\"},"
		"  \"list\": {\"$id\": \"list\", \"type\": \"array\","
		"            \"items\": {\"$dynamicRef\": \"#item\"},"
		"            \"$defs\": {\"any\": {\"$dynamicAnchor\": \"item\"}}}}}");
	assert_valid(s, "[\"a\", \"b\"]");
	assert_errors(s, "[\"a\", 2]", "/1: expected string, got integer (schema /$defs/item/type)");
	jsonschema_free(s);
}

/* A 1 MiB reply validates (bench/jsonschema_bench times it). */
static void test_large_reply(void **state)
{
	(void)state;
	struct jsonschema *s = compile(
		"{\"type\": \"array\", \"items\": {\"type\": \"object\","
		" \"required\": [\"id\", \"name\", \"tags\"],"
		" \"properties\": {\"id\": {\"type\": \"integer\", \"minimum\": 0},"
		"  \"name\": {\"type\": \"string\", \"pattern\": \"^item-[0-9]+$\"},"
		"  \"tags\": {\"type\": \"array\", \"items\": {\"enum\": [\"a\", \"b\", \"c\"]},"
		"            \"uniqueItems\": true}}, \"additionalProperties\": false}}");
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addch(&b, '[');
	for (int i = 0; b.len < ((size_t)1 << 20); i++)
		buf_addf(&b, "%s{\"id\": %d, \"name\": \"item-%d\", \"tags\": [\"a\", \"c\"]}",
			 i ? "," : "", i, i);
	buf_addch(&b, ']');
	cJSON *v = parse(b.data);
	buf_release(&b);
	assert_int_equal(run(s, v, 4, NULL), 1);
	cJSON_Delete(v);
	jsonschema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_applicator_messages),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_deep_instance),
		cmocka_unit_test(test_deep_schema),
		cmocka_unit_test(test_ref_loops),
		cmocka_unit_test(test_step_budget),
		cmocka_unit_test(test_bad_schemas),
		cmocka_unit_test(test_remote_refused),
		cmocka_unit_test(test_local_refs),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_drafts),
		cmocka_unit_test(test_unevaluated),
		cmocka_unit_test(test_dynamic_ref),
		cmocka_unit_test(test_large_reply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
