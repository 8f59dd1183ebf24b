/* test_graders_structured.c: the graders that look at structure:
 * json_schema, tool_call, no_tool_call and exec (passes, failures with
 * their exact reasons, errors, and suite errors with their positions). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "grader.h"
#include "support.h"
#include "provider.h"
#include "util.h"
#include "ynode.h"

static char *suite_dir;      /* tests/fixtures/graders */

static struct grader *must_compile(const char *yaml)
{
	return test_grader_must_compile(yaml, suite_dir);
}

static void expect_suite_error(const char *yaml, const char *want)
{
	test_grader_expect_error(yaml, suite_dir, want);
}

/* A reply under test: content, raw body and tool calls. */
static void reply_init(struct reply *r, const char *content)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->latency_ms = 12.5;
	r->content = xstrdup(content ? content : "");
	r->content_len = strlen(r->content);
}

/* add_call: a tool call whose arguments are JSON text (maybe broken). */
static void add_call(struct reply *r, const char *name, const char *args)
{
	cJSON *a = cJSON_CreateString(args);
	reply_add_tool_call(r, NULL, name, a);
	cJSON_Delete(a);
}

/* run_grader: g on r; asserts the grade and the reason (NULL: none). */
static void run_grader(const struct grader *g, const struct reply *r, enum grade want,
		       const char *reason)
{
	struct grade_input in = { .reply = r, .case_id = "book", .target = "prod",
				  .input = "Book it" };
	struct grade_result out;
	grader_run(g, &in, &out);
	if (out.grade != want || (reason && (!out.reason || strcmp(out.reason, reason) != 0)))
		fail_msg("grade %d, expected %d\n  reason: %s\n  wanted: %s", out.grade, want,
			 out.reason ? out.reason : "(none)", reason ? reason : "(none)");
	if (!reason)
		assert_null(out.reason);
	grade_result_release(&out);
}

/* check: compile yaml, grade content (no tool calls). */
static void check(const char *yaml, const char *content, enum grade want, const char *reason)
{
	struct grader *g = must_compile(yaml);
	struct reply r;
	reply_init(&r, content);
	run_grader(g, &r, want, reason);
	reply_release(&r);
	grader_free(g);
}

/* check_calls: compile yaml, grade a reply with calls ("name", "args",
 * ... NULL) and no content. */
static void check_calls(const char *yaml, enum grade want, const char *reason, ...)
{
	struct grader *g = must_compile(yaml);
	struct reply r;
	reply_init(&r, "");
	va_list ap;
	va_start(ap, reason);
	const char *name;
	while ((name = va_arg(ap, const char *))) {
		const char *args = va_arg(ap, const char *);
		add_call(&r, name, args);
	}
	va_end(ap);
	run_grader(g, &r, want, reason);
	reply_release(&r);
	grader_free(g);
}

/* ---- json_schema ---- */

static const char answer_schema[] =
	"json_schema:\n"
	"  type: object\n"
	"  required: [answer]\n"
	"  properties:\n"
	"    answer: {type: string}\n"
	"    days: {type: integer, minimum: 1}\n"
	"    tags: {type: array, maxItems: 2}\n"
	"    lang: {enum: [en, de]}\n";

static void test_json_schema_pass_fail(void **state)
{
	check(answer_schema, "{\"answer\": \"30 days\", \"days\": 30}", GRADE_PASS, NULL);
	check(answer_schema, "  {\"answer\": \"x\"}\n", GRADE_PASS, NULL);
	check(answer_schema, "{\"answer\": 30}", GRADE_FAIL,
	      "/answer: expected string, got integer (schema /properties/answer/type)");
	check(answer_schema, "{\"days\": 0}", GRADE_FAIL,
	      "/answer: required property missing (schema /required); "
	      "/days: 0 is less than the minimum 1 (schema /properties/days/minimum)");
	/* At most three errors. */
	check(answer_schema, "{\"days\": 0, \"tags\": [1, 2, 3], \"lang\": \"fr\"}", GRADE_FAIL,
	      "/answer: required property missing (schema /required); "
	      "/days: 0 is less than the minimum 1 (schema /properties/days/minimum); "
	      "/tags: array has more than 2 items (schema /properties/tags/maxItems)");
	check(answer_schema, "[1]", GRADE_FAIL,
	      "(root): expected object, got array (schema /type)");
	check("json_schema: true", "[1, {\"a\": null}]", GRADE_PASS, NULL);
	check("json_schema: false", "1", GRADE_FAIL,
	      "(root): value not allowed (the schema is false) (schema (root))");
	check("json_schema: {type: array, items: {type: number}}", "[1, 2.5, -3]", GRADE_PASS,
	      NULL);
}

static void test_json_schema_not_json(void **state)
{
	check(answer_schema, "Sure! The answer is 30 days.", GRADE_FAIL,
	      "content is not JSON: invalid JSON at byte 0 near 'Sure! The answer is 30 days.'");
	check(answer_schema, "{\"answer\": \"30 d", GRADE_FAIL,
	      "content is not JSON: truncated: unexpected end of input at byte 16");
	check(answer_schema, "{\"answer\": \"x\"} and more", GRADE_FAIL,
	      "content is not JSON: unexpected data after the JSON value at byte 16");
	check(answer_schema, "", GRADE_FAIL, "content is not JSON: it is empty");
	check(answer_schema, " \n\t", GRADE_FAIL, "content is not JSON: it is empty");
	/* Deep nesting is refused, never a crash. */
	size_t depth = 100000;
	char *deep = xmalloc(2 * depth + 1);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[2 * depth] = '\0';
	check("json_schema: true", deep, GRADE_FAIL,
	      "content is not JSON: nested deeper than 1000 levels at byte 1000");
	free(deep);
}

static void test_json_schema_fenced(void **state)
{
	static const char yaml[] =
		"json_schema: {schema: {type: object, required: [answer]}, extract: fenced}";
	check(yaml, "Here you go:\n```json\n{\"answer\": \"yes\"}\n```\nAnything else?", GRADE_PASS,
	      NULL);
	check(yaml, "```\n{\"answer\": \"yes\"}\n```", GRADE_PASS, NULL);
	check(yaml, "```JSON\n{\"answer\": 1}\n```", GRADE_PASS, NULL);
	/* Other languages are skipped, a longer fence holds shorter ones. */
	check(yaml, "```python\nprint('{}')\n```\n````json\n{\"answer\": \"```\"}\n````\n",
	      GRADE_PASS, NULL);
	check(yaml, "```json\n{\"other\": 1}\n```", GRADE_FAIL,
	      "/answer: required property missing (schema /required)");
	/* An unclosed block runs to the end. */
	check(yaml, "```json\n{\"answer\": \"cut\"}", GRADE_PASS, NULL);
	check(yaml, "{\"answer\": \"not fenced\"}", GRADE_FAIL, "no fenced JSON block");
	check(yaml, "```python\nx = 1\n```", GRADE_FAIL, "no fenced JSON block");
	check(yaml, "Inline ```json {\"answer\": 1}``` is no block", GRADE_FAIL,
	      "no fenced JSON block");
	check(yaml, "```json\n{\"answer\": oops}\n```", GRADE_FAIL,
	      "fenced block is not JSON: invalid JSON at byte 11 near 'oops}'");
	check(yaml, "```json\n```", GRADE_FAIL, "fenced block is not JSON: it is empty");
}

static void test_json_schema_on(void **state)
{
	struct grader *g = must_compile("{json_schema: {type: integer}, on: /data/n}");
	struct reply r;
	reply_init(&r, "{\"data\": {\"n\": 3}}");
	run_grader(g, &r, GRADE_PASS, NULL);
	reply_release(&r);
	reply_init(&r, "{\"data\": {\"n\": \"3\"}}");
	/* A string value is graded as its text, which here is JSON. */
	run_grader(g, &r, GRADE_PASS, NULL);
	reply_release(&r);
	reply_init(&r, "{\"data\": {\"n\": \"three\"}}");
	run_grader(g, &r, GRADE_FAIL, "(root): expected integer, got string (schema /type)");
	reply_release(&r);
	reply_init(&r, "{\"data\": {\"n\": [3]}}");
	run_grader(g, &r, GRADE_FAIL, "(root): expected integer, got array (schema /type)");
	reply_release(&r);
	grader_free(g);

	/* A string that is not JSON text is the string itself. */
	g = must_compile("{json_schema: {type: string, pattern: '^ev_'}, on: /id}");
	reply_init(&r, "{\"id\": \"ev_12\"}");
	run_grader(g, &r, GRADE_PASS, NULL);
	reply_release(&r);
	reply_init(&r, "{\"id\": \"x\"}");
	run_grader(g, &r, GRADE_FAIL,
		   "(root): string does not match pattern '^ev_' (schema /pattern)");
	reply_release(&r);
	reply_init(&r, "{\"id\": 12}");
	run_grader(g, &r, GRADE_FAIL, "(root): expected string, got integer (schema /type)");
	reply_release(&r);
	grader_free(g);

	g = must_compile("{json_schema: {required: [choices]}, on: raw}");
	reply_init(&r, "");
	r.raw = xstrdup("<html>");
	r.raw_len = 6;
	run_grader(g, &r, GRADE_FAIL, "reply body is not JSON: invalid JSON at byte 0 near '<html>'");
	free(r.raw);
	r.raw = xstrdup("{\"choices\": []}");
	r.raw_len = strlen(r.raw);
	run_grader(g, &r, GRADE_PASS, NULL);
	reply_release(&r);
	grader_free(g);
}

static void test_json_schema_files(void **state)
{
	/* A JSON file with a $ref into another file; error text names the
	 * files relative to the suite folder. */
	static const char yaml[] = "json_schema: {file: schemas/create_event.json}";
	check(yaml, "{\"attendee_emails\": [\"ana@example.com\"], \"start\": \"10:00\"}", GRADE_PASS,
	      NULL);
	check(yaml, "{\"attendee_emails\": [\"ana at example\"], \"start\": \"10:00\"}", GRADE_FAIL,
	      "/attendee_emails/0: string does not match pattern '^[^@ ]+@[^@ ]+$' "
	      "(schema schemas/defs.json#/$defs/email/pattern)");
	check(yaml, "{\"invitees\": [], \"start\": \"10:00\"}", GRADE_FAIL,
	      "/attendee_emails: required property missing "
	      "(schema schemas/create_event.json#/required); /invitees: property not allowed "
	      "(schema schemas/create_event.json#/additionalProperties)");
	/* The short form, a YAML file and format assertion. */
	check("json_schema: schemas/answer.yaml", "{\"answer\": \"x\", \"when\": \"soon\"}",
	      GRADE_PASS, NULL);
	check("json_schema: {file: schemas/answer.yaml, format: assert}",
	      "{\"answer\": \"x\", \"when\": \"soon\"}", GRADE_FAIL,
	      "/when: string is not a valid date-time "
	      "(schema schemas/answer.yaml#/properties/when/format)");
	check("json_schema: {file: schemas/answer.yaml, format: assert}",
	      "{\"answer\": \"x\", \"when\": \"2026-11-23T10:00:00Z\"}", GRADE_PASS, NULL);
	check("json_schema: {schema: {$ref: 'schemas/answer.yaml'}, extract: fenced}",
	      "```json\n{\"answer\": \"\"}\n```", GRADE_FAIL,
	      "/answer: string is shorter than 1 characters "
	      "(schema schemas/answer.yaml#/properties/answer/minLength)");
	check("json_schema: {schema: {type: string, format: email}, format: assert}",
	      "\"ana@example\"", GRADE_PASS, NULL);
	check("json_schema: {schema: {type: string, format: ipv4}, format: assert}",
	      "\"300.1.1.1\"", GRADE_FAIL,
	      "(root): string is not a valid ipv4 (schema /format)");
}

static void test_json_schema_errors(void **state)
{
	/* The validator's JSON pointer into the schema, mapped back to YAML. */
	expect_suite_error("json_schema:\n"
			   "  type: object\n"
			   "  properties:\n"
			   "    when: {type: strnig}\n",
			   "t.yaml:4:18: bad schema at /properties/when/type: unknown type "
			   "'strnig' (did you mean 'string'?)");
	expect_suite_error("json_schema:\n"
			   "  properties:\n"
			   "    code:\n"
			   "      pattern: '('\n",
			   "t.yaml:4:16: bad schema at /properties/code/pattern: bad regex '(' at "
			   "offset 1: missing closing parenthesis");
	expect_suite_error("json_schema:\n"
			   "  anyOf:\n"
			   "    - {type: string}\n"
			   "    - {minLength: -1}\n",
			   "t.yaml:4:19: bad schema at /anyOf/1/minLength: 'minLength' must be a "
			   "non-negative integer");
	expect_suite_error("json_schema: {schema: {items: 3}, extract: fenced}",
			   "t.yaml:1:31: bad schema at /items: a schema must be an object or a "
			   "boolean");
	expect_suite_error("json_schema: {$ref: '#/$defs/nope'}",
			   "t.yaml:1:21: bad schema at /$ref: cannot resolve $ref '#/$defs/nope'");
	expect_suite_error("json_schema: {$ref: 'https://example.com/s.json'}",
			   "t.yaml:1:21: bad schema at /$ref: remote $ref "
			   "'https://example.com/s.json' is not allowed: only local files under "
			   "the suite's folder");
	expect_suite_error("json_schema: {$ref: '../suites/x.json'}",
			   "t.yaml:1:21: bad schema at /$ref: $ref '../suites/x.json' is outside "
			   "the suite's folder");
	/* format alone is the schema keyword (an annotation by default), not
	 * the option. */
	check("json_schema: {type: string, format: emial}", "\"x\"", GRADE_PASS, NULL);
}

/* A misspelt keyword in a schema written in the suite would check nothing,
 * so it is an error at its key; other unknown keywords are extensions. */
static void test_json_schema_misspelt_keyword(void **state)
{
	static const struct {
		const char *yaml;
		const char *want;
	} cases[] = {
		{"json_schema: {type: object, requried: [a]}",
		 "t.yaml:1:29: unknown schema keyword 'requried' (did you mean 'required'?)"},
		{"json_schema:\n"
		 "  type: object\n"
		 "  properites:\n"
		 "    a: {type: string}\n",
		 "t.yaml:3:3: unknown schema keyword 'properites' (did you mean 'properties'?)"},
		{"json_schema:\n"
		 "  properties:\n"
		 "    when: {type: string, maxlength: 3}\n",
		 "t.yaml:3:26: unknown schema keyword 'maxlength' (did you mean 'maxLength'?)"},
		{"json_schema: {items: {minimun: 1}}",
		 "t.yaml:1:23: unknown schema keyword 'minimun' (did you mean 'minimum'?)"},
		{"json_schema: {anyOf: [{type: string}, {enums: [a]}]}",
		 "t.yaml:1:40: unknown schema keyword 'enums' (did you mean 'enum'?)"},
		{"json_schema: {$defs: {d: {addtionalProperties: false}}, $ref: '#/$defs/d'}",
		 "t.yaml:1:27: unknown schema keyword 'addtionalProperties' (did you mean "
		 "'additionalProperties'?)"},
		{"json_schema: {schema: {not: {tpye: string}}, extract: fenced}",
		 "t.yaml:1:30: unknown schema keyword 'tpye' (did you mean 'type'?)"},
		{"json_schema: {prefixItems: [true, {ref: '#'}]}",
		 "t.yaml:1:36: unknown schema keyword 'ref' (did you mean '$ref'?)"},
		{"tool_call: {name: f, arguments: {type: object, requird: [a]}}",
		 "t.yaml:1:48: unknown schema keyword 'requird' (did you mean 'required'?)"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		expect_suite_error(cases[i].yaml, cases[i].want);

	/* Names under properties and the values of enum, const, default and
	 * examples are data, however close to a keyword; x-* and keywords not
	 * close to any are extensions. */
	check("json_schema:\n"
	      "  type: object\n"
	      "  properties:\n"
	      "    requried: {type: string, default: {requried: 1}}\n"
	      "    itmes: {const: {tpye: x}, examples: [{properites: 1}]}\n"
	      "    typ: {enum: [{requried: true}]}\n"
	      "  patternProperties: {'^tpye$': true}\n"
	      "  x-requried: true\n"
	      "  x-internal-note: keep\n"
	      "  example: {a: 1}\n"
	      "  nullable: false\n"
	      "  discriminator: {propertyName: kind}\n"
	      "  dependencies: {a: [b], c: {required: [d]}}\n"
	      "  required: [requried]\n",
	      "{\"requried\": \"x\"}", GRADE_PASS, NULL);
	/* The check walks into dependencies' schemas too. */
	expect_suite_error("json_schema: {dependencies: {a: [b], c: {requred: [d]}}}",
			   "t.yaml:1:42: unknown schema keyword 'requred' (did you mean "
			   "'required'?)");
}

static void test_json_schema_config_errors(void **state)
{
	expect_suite_error("json_schema:", "t.yaml:1:13: json_schema needs a schema: a mapping, "
			   "true, false or a file name");
	expect_suite_error("json_schema: 3", "t.yaml:1:14: json_schema needs a schema: a "
			   "mapping, true, false or a file name, not 3");
	expect_suite_error("json_schema: [a]", "t.yaml:1:14: json_schema needs a schema: a "
			   "mapping, true, false or a file name, not a list");
	expect_suite_error("json_schema: {schema: {}, file: a.json}",
			   "t.yaml:1:14: json_schema takes 'schema' or 'file', not both");
	expect_suite_error("json_schema: {schema: {}, extrat: fenced}",
			   "t.yaml:1:27: unknown key 'extrat' in json_schema (did you mean "
			   "'extract'?)");
	expect_suite_error("json_schema: {schema: {}, extract: first}",
			   "t.yaml:1:36: bad extract 'first' (use fenced or none)");
	expect_suite_error("json_schema: {schema: {}, format: strict}",
			   "t.yaml:1:35: bad format 'strict' (use assert or annotate)");
	expect_suite_error("json_schema: {schema: {type: string, format: emial}, format: assert}",
			   "t.yaml:1:46: bad schema at /format: unknown format 'emial' (did you "
			   "mean 'email'?)");
	expect_suite_error("json_schema: {type: object, extract: fenced}",
			   "t.yaml:1:38: 'extract' needs the schema under 'schema' or 'file': "
			   "{schema: {...}, extract: fenced}");
	expect_suite_error("json_schema: {schema: [1]}",
			   "t.yaml:1:23: a schema must be a mapping, true or false");
	expect_suite_error("json_schema: {file: ''}", "t.yaml:1:21: schema file name is empty");
	expect_suite_error("json_schema: {file: schemas/nope.json}",
			   "t.yaml:1:21: cannot open schema file 'schemas/nope.json': No such file "
			   "or directory");
	expect_suite_error("json_schema: schemas", "t.yaml:1:14: schema file 'schemas' is not a "
			   "regular file");
	/* (../graders/ is this suite's own folder again, and allowed.) */
	expect_suite_error("json_schema: ../suites/design.yaml",
			   "t.yaml:1:14: $ref '../suites/design.yaml' is outside the "
			   "suite's folder");

	/* A bad schema in a file is placed in that file. */
	char *want = xasprintf("%s/schemas/bad.json:4:24: bad schema at /properties/answer/type: "
			       "unknown type 'strnig' (did you mean 'string'?)", suite_dir);
	expect_suite_error("json_schema: schemas/bad.json", want);
	free(want);
	want = xasprintf("%s/schemas/bad.yaml:5:14: bad schema at /properties/answer/pattern: "
			 "bad regex '(' at offset 1: missing closing parenthesis", suite_dir);
	expect_suite_error("json_schema: {schema: {$ref: schemas/bad.yaml}}", want);
	free(want);
}

/* ---- tool_call ---- */

static const char create_event[] =
	"tool_call:\n"
	"  name: create_event\n"
	"  arguments:\n"
	"    type: object\n"
	"    required: [attendee_emails, start]\n"
	"    properties:\n"
	"      attendee_emails: {type: array, items: {type: string}}\n"
	"      start: {type: string}\n"
	"      duration_minutes: {type: integer}\n";

static const char eval_args[] =
	"{\"attendee_emails\": [\"ana@example.com\"], \"start\": \"10:00\", \"duration_minutes\": 30}";
static const char prod_args[] =
	"{\"invitees\": [\"ana@example.com\"], \"start\": \"10:00\", \"duration_minutes\": 30}";

static void test_tool_call_basic(void **state)
{
	check_calls(create_event, GRADE_PASS, NULL, "create_event", eval_args, NULL);
	check_calls("tool_call: create_event", GRADE_PASS, NULL, "create_event", "{oops", NULL);
	check_calls("tool_call: {name: create_event}", GRADE_PASS, NULL, "list_events", "{}",
		    "create_event", "{}", NULL);
	check_calls(create_event, GRADE_FAIL,
		    "no call to tool 'create_event' (got: delete_event, list_events)",
		    "delete_event", "{}", "list_events", "{}", NULL);
	check_calls(create_event, GRADE_FAIL, "no call to tool 'create_event' (no tool calls)",
		    NULL);
	check("tool_call: create_event", "I booked it for you.", GRADE_FAIL,
	      "no call to tool 'create_event' (no tool calls; content \"I booked it for you.\")");
}

static void test_tool_call_renames(void **state)
{
	/* The drift canary exists for: a renamed parameter. */
	check_calls(create_event, GRADE_FAIL,
		    "tool 'create_event': argument 'attendee_emails' missing (got 'invitees')",
		    "create_event", prod_args, NULL);
	/* Without properties, every member the schema does not name is shown. */
	check_calls("tool_call: {name: create_event, arguments: {required: [attendee_emails, "
		    "start]}}", GRADE_FAIL,
		    "tool 'create_event': argument 'attendee_emails' missing (got 'invitees', "
		    "'duration_minutes')",
		    "create_event", prod_args, NULL);
	/* additionalProperties: false does not repeat the renamed one... */
	check_calls("tool_call: {name: create_event, arguments: {required: [attendee_emails], "
		    "properties: {attendee_emails: {}, start: {}}, additionalProperties: false}}",
		    GRADE_FAIL,
		    "tool 'create_event': argument 'attendee_emails' missing (got 'invitees', "
		    "'duration_minutes')",
		    "create_event", prod_args, NULL);
	/* ...but names an extra one. */
	check_calls("tool_call: {name: create_event, arguments: {properties: {start: {}}, "
		    "additionalProperties: false}}", GRADE_FAIL,
		    "tool 'create_event': argument 'invitees' not allowed; "
		    "argument 'duration_minutes' not allowed",
		    "create_event", prod_args, NULL);
	/* Nothing to suggest: no parenthesis. */
	check_calls(create_event, GRADE_FAIL,
		    "tool 'create_event': argument 'attendee_emails' missing",
		    "create_event", "{\"start\": \"10:00\"}", NULL);
	/* Nested objects name the path. */
	check_calls("tool_call:\n"
		    "  name: set_place\n"
		    "  arguments:\n"
		    "    properties:\n"
		    "      place: {required: [city], properties: {city: {}, zip: {}}}\n",
		    GRADE_FAIL, "tool 'set_place': argument 'place/city' missing (got 'town')",
		    "set_place", "{\"place\": {\"town\": \"Lisbon\", \"zip\": \"1000\"}}", NULL);
	/* The same from a schema file. */
	check_calls("tool_call: {name: create_event, arguments: schemas/create_event.json}",
		    GRADE_FAIL,
		    "tool 'create_event': argument 'attendee_emails' missing (got 'invitees')",
		    "create_event", prod_args, NULL);
	/* Other errors are the validator's. */
	check_calls(create_event, GRADE_FAIL,
		    "tool 'create_event': /start: expected string, got integer "
		    "(schema /properties/start/type)",
		    "create_event", "{\"attendee_emails\": [], \"start\": 10}", NULL);
	check_calls(create_event, GRADE_FAIL,
		    "tool 'create_event' arguments are not JSON: \"{\"invitees\": [\"ana@exa\"\"",
		    "create_event", "{\"invitees\": [\"ana@exa\"", NULL);
	check_calls(create_event, GRADE_FAIL, "tool 'create_event' arguments are not JSON: \"\"",
		    "create_event", "", NULL);
}

static void test_tool_call_index(void **state)
{
	static const char at1[] = "tool_call: {name: create_event, index: 1}";
	check_calls(at1, GRADE_PASS, NULL, "list_events", "{}", "create_event", "{}", NULL);
	check_calls(at1, GRADE_FAIL, "call #1 is 'list_events', expected 'create_event'",
		    "create_event", "{}", "list_events", "{}", NULL);
	check_calls(at1, GRADE_FAIL, "no call #1 to tool 'create_event' (got: create_event)",
		    "create_event", "{}", NULL);
	check_calls("tool_call: {name: create_event, index: 0, arguments: {required: [a]}}",
		    GRADE_FAIL, "tool 'create_event': argument 'a' missing (got 'b')",
		    "create_event", "{\"b\": 1}", "create_event", "{\"a\": 1}", NULL);
	/* Any position: one valid call is enough. */
	check_calls("tool_call: {name: create_event, arguments: {required: [a]}}", GRADE_PASS,
		    NULL, "create_event", "{\"b\": 1}", "create_event", "{\"a\": 1}", NULL);
	check_calls("tool_call: {name: create_event, arguments: {required: [a]}}", GRADE_FAIL,
		    "tool 'create_event' (call #1): argument 'a' missing (got 'b')",
		    "list_events", "{}", "create_event", "{\"b\": 1}", "create_event", "{\"c\": 1}",
		    NULL);
}

static void test_tool_call_sequence(void **state)
{
	static const char exact[] =
		"tool_call:\n"
		"  calls:\n"
		"    - list_events\n"
		"    - {name: create_event, arguments: {required: [start]}}\n";
	check_calls(exact, GRADE_PASS, NULL, "list_events", "{}", "create_event",
		    "{\"start\": \"x\"}", NULL);
	check_calls(exact, GRADE_FAIL,
		    "call #0 is 'create_event', expected 'list_events' (got: create_event, "
		    "list_events)",
		    "create_event", "{\"start\": \"x\"}", "list_events", "{}", NULL);
	check_calls(exact, GRADE_FAIL,
		    "no call #1 to tool 'create_event' (got: list_events)", "list_events", "{}",
		    NULL);
	check_calls(exact, GRADE_FAIL, "no call #0 to tool 'list_events' (no tool calls)", NULL);
	check_calls(exact, GRADE_FAIL,
		    "unexpected call #2 to tool 'delete_event' (expected 2 calls; got: "
		    "list_events, create_event, delete_event)",
		    "list_events", "{}", "create_event", "{\"start\": \"x\"}", "delete_event", "{}",
		    NULL);
	check_calls(exact, GRADE_FAIL,
		    "tool 'create_event' (call #1): argument 'start' missing (got 'begin')",
		    "list_events", "{}", "create_event", "{\"begin\": \"x\"}", NULL);

	static const char ordered[] =
		"tool_call:\n"
		"  sequence: ordered\n"
		"  calls: [list_events, {name: create_event, arguments: {required: [start]}}]\n";
	check_calls(ordered, GRADE_PASS, NULL, "get_user", "{}", "list_events", "{}",
		    "create_event", "{}", "create_event", "{\"start\": 1}", "notify", "{}", NULL);
	check_calls(ordered, GRADE_FAIL,
		    "no call to tool 'create_event' after call #1 (got: create_event, list_events)",
		    "create_event", "{\"start\": 1}", "list_events", "{}", NULL);
	check_calls("tool_call: {sequence: ordered, calls: [create_event, list_events]}",
		    GRADE_FAIL,
		    "no call to tool 'list_events' after call #0 (got: create_event)",
		    "create_event", "{}", NULL);
	check_calls(ordered, GRADE_FAIL,
		    "tool 'create_event' (call #2): argument 'start' missing (got 'when')",
		    "notify", "{}", "list_events", "{}", "create_event", "{\"when\": 1}", NULL);
	check_calls(ordered, GRADE_FAIL, "no call to tool 'list_events' (got: create_event)",
		    "create_event", "{}", NULL);
}

static void test_tool_call_undecided(void **state)
{
	/* A $ref loop through allOf: the validator cannot decide. */
	static const char loop[] =
		"tool_call:\n"
		"  name: f\n"
		"  arguments: {$defs: {a: {allOf: [{$ref: '#/$defs/a'}]}}, $ref: '#/$defs/a'}\n";
	struct grader *g = must_compile(loop);
	struct reply r;
	reply_init(&r, "");
	add_call(&r, "f", "{}");
	struct grade_input in = { .reply = &r };
	struct grade_result out;
	grader_run(g, &in, &out);
	assert_int_equal(out.grade, GRADE_ERROR);
	assert_non_null(strstr(out.reason, "tool 'f': "));
	assert_non_null(strstr(out.reason, "1000 levels"));
	grade_result_release(&out);
	reply_release(&r);
	grader_free(g);
}

static void test_tool_call_config_errors(void **state)
{
	expect_suite_error("tool_call:", "t.yaml:1:11: tool name is missing");
	expect_suite_error("tool_call: [a]", "t.yaml:1:12: tool_call takes a tool name or a "
			   "mapping; write a sequence as {calls: [...]}");
	expect_suite_error("tool_call: {}", "t.yaml:1:12: tool_call needs a name, or calls: [...]");
	expect_suite_error("tool_call: {name: a, calls: [b]}",
			   "t.yaml:1:29: tool_call takes 'name' or 'calls', not both");
	expect_suite_error("tool_call: {name: a, argumnets: {}}",
			   "t.yaml:1:22: unknown key 'argumnets' in tool_call (did you mean "
			   "'arguments'?)");
	expect_suite_error("tool_call: {name: ''}", "t.yaml:1:19: tool name is empty");
	expect_suite_error("tool_call: {name: a, index: -1}",
			   "t.yaml:1:29: index must be a whole number from 0 (the first call)");
	expect_suite_error("tool_call: {name: a, index: first}",
			   "t.yaml:1:29: index must be a whole number from 0 (the first call)");
	expect_suite_error("tool_call: {name: a, sequence: exact}",
			   "t.yaml:1:32: 'sequence' goes with 'calls', not 'name'");
	expect_suite_error("tool_call: {calls: [a], arguments: {}}",
			   "t.yaml:1:36: 'arguments' goes with 'name'; in 'calls' give each call "
			   "its own");
	expect_suite_error("tool_call: {calls: []}", "t.yaml:1:20: calls must be a list of "
			   "expected calls such as [{name: create_event}]");
	expect_suite_error("tool_call: {calls: [a], sequence: any}",
			   "t.yaml:1:35: bad sequence 'any' (use exact or ordered)");
	expect_suite_error("tool_call: {calls: [{arguments: {}}]}",
			   "t.yaml:1:21: expected call needs a name");
	expect_suite_error("tool_call: {calls: [{name: a, index: 1}]}",
			   "t.yaml:1:31: unknown key 'index' in tool_call calls (keys: name, arguments)");
	expect_suite_error("tool_call:\n"
			   "  name: create_event\n"
			   "  arguments:\n"
			   "    properties:\n"
			   "      start: {type: [string, datetime]}\n",
			   "t.yaml:5:30: bad schema at /properties/start/type/1: unknown type "
			   "'datetime'");
	expect_suite_error("tool_call: {calls: [a, {name: b, arguments: {type: strng}}]}",
			   "t.yaml:1:52: bad schema at /type: unknown type 'strng' (did you mean "
			   "'string'?)");
	expect_suite_error("tool_call: {name: a, arguments: {file: x.json, extract: fenced}}",
			   "t.yaml:1:48: unknown key 'extract' in tool_call arguments (keys: schema, file, format)");
	expect_suite_error("{tool_call: a, on: raw}",
			   "t.yaml:1:20: tool_call grades the whole reply and takes no 'on'");
}

/* ---- no_tool_call ---- */

static void test_no_tool_call(void **state)
{
	check_calls("no_tool_call: true", GRADE_PASS, NULL, NULL);
	check_calls("no_tool_call: true", GRADE_FAIL, "unexpected tool call 'delete_event'",
		    "delete_event", "{}", NULL);
	check_calls("no_tool_call: true", GRADE_FAIL,
		    "unexpected tool calls 'list_events', 'delete_event'",
		    "list_events", "{}", "delete_event", "{}", NULL);
	check_calls("no_tool_call: delete_event", GRADE_PASS, NULL, "list_events", "{}", NULL);
	check_calls("no_tool_call: delete_event", GRADE_FAIL, "unexpected tool call 'delete_event'",
		    "list_events", "{}", "delete_event", "{}", NULL);
	check_calls("no_tool_call: [delete_event, share_calendar]", GRADE_FAIL,
		    "unexpected tool call 'share_calendar'", "list_events", "{}", "share_calendar",
		    "{}", NULL);
	check_calls("no_tool_call: 'true'", GRADE_PASS, NULL, "list_events", "{}", NULL);
	check_calls("no_tool_call: 'true'", GRADE_FAIL, "unexpected tool call 'true'", "true", "{}",
		    NULL);

	expect_suite_error("no_tool_call: false", "t.yaml:1:15: no_tool_call: false checks "
			   "nothing; write true, a tool name or a list of tool names");
	expect_suite_error("no_tool_call:", "t.yaml:1:14: no_tool_call takes true, a tool name "
			   "or a list of tool names");
	expect_suite_error("no_tool_call: []", "t.yaml:1:15: no_tool_call takes true, a tool "
			   "name or a list of tool names");
	expect_suite_error("no_tool_call: {name: x}", "t.yaml:1:15: no_tool_call takes true, a "
			   "tool name or a list of tool names");
	expect_suite_error("no_tool_call: [a, [b]]", "t.yaml:1:19: tool name must be a string, "
			   "not a list");
	expect_suite_error("{no_tool_call: true, on: /x}",
			   "t.yaml:1:26: no_tool_call grades the whole reply and takes no 'on'");
}

/* ---- exec ---- */

/* exec_run: compile an exec entry and grade a reply with content; the
 * result's reason is returned (caller frees) after checking the grade. */
static char *exec_run(const char *yaml, const char *content, enum grade want, double *score)
{
	struct grader *g = must_compile(yaml);
	struct reply r;
	reply_init(&r, content);
	struct grade_input in = { .reply = &r, .case_id = "book", .target = "prod",
				  .input = "Book it" };
	struct grade_result out;
	grader_run(g, &in, &out);
	if (out.grade != want)
		fail_msg("%s: grade %d, expected %d (reason: %s)", yaml, out.grade, want,
			 out.reason ? out.reason : "none");
	if (score)
		*score = out.score;
	reply_release(&r);
	grader_free(g);
	/* Every process it started was reaped: canary has no child left. */
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	return out.reason;
}

static void expect_exec(const char *yaml, const char *content, enum grade want,
			const char *reason)
{
	char *got = exec_run(yaml, content, want, NULL);
	if (reason && (!got || strcmp(got, reason) != 0))
		fail_msg("%s: reason\n  %s\nexpected\n  %s", yaml, got ? got : "(none)", reason);
	if (!reason)
		assert_null(got);
	free(got);
}

static void test_exec_pass_fail(void **state)
{
	double score = -1;
	char *r = exec_run("exec: [exec/pass.py]", "Refunds within 30 days.", GRADE_PASS, &score);
	assert_null(r);
	assert_true(score == 1.0);
	r = exec_run("exec: [./exec/pass.py]", "Refunds within 14 days.", GRADE_FAIL, &score);
	assert_string_equal(r, "no refund window in 'Refunds within 14 days.'");
	assert_true(score == 0.25);
	free(r);
	/* Through PATH, with arguments. */
	expect_exec("exec: {argv: [python3, exec/pass.py], timeout: 5s}", "30 days", GRADE_PASS,
		    NULL);
	/* Every field of the sample, and the working directory. */
	struct grader *g = must_compile("exec: [exec/sample.py]");
	struct reply rep;
	reply_init(&rep, "");
	rep.raw = xstrdup("{\"raw\": true}");
	rep.raw_len = strlen(rep.raw);
	cJSON *a = cJSON_CreateString("{\"invitees\": [\"a@b.c\"]}");
	reply_add_tool_call(&rep, "call_1", "create_event", a);
	cJSON_Delete(a);
	add_call(&rep, "broken", "{oops");
	run_grader(g, &rep, GRADE_PASS, NULL);
	reply_release(&rep);
	grader_free(g);
	/* The environment is passed on unchanged. */
	setenv("CANARY_EXEC_TEST", "hello from the test", 1);
	expect_exec("exec: exec/env.sh", "", GRADE_FAIL, "CANARY_EXEC_TEST=hello from the test");
	unsetenv("CANARY_EXEC_TEST");
	expect_exec("exec: exec/env.sh", "", GRADE_FAIL, "CANARY_EXEC_TEST=");
}

static void test_exec_errors(void **state)
{
	expect_exec("exec: [exec/exit3.sh]", "", GRADE_ERROR,
		    "'exec/exit3.sh' exited with status 3; stderr: \"check.sh: cannot reach the "
		    "database\"");
	expect_exec("exec: [exec/badjson.sh]", "", GRADE_ERROR,
		    "'exec/badjson.sh' answered no JSON: invalid JSON at byte 0 near 'pass: yes'");
	expect_exec("exec: [exec/nopass.sh]", "", GRADE_ERROR,
		    "'exec/nopass.sh' answered no \"pass\": true or false");
	expect_exec("exec: [exec/badscore.sh]", "", GRADE_ERROR,
		    "'exec/badscore.sh' answered a score that is not a number from 0 to 1");
	expect_exec("exec: [exec/silent.sh]", "", GRADE_ERROR,
		    "'exec/silent.sh' answered nothing on stdout");
	expect_exec("exec: [exec/flood.sh]", "", GRADE_ERROR,
		    "'exec/flood.sh' wrote more than 1 MiB to stdout");
	expect_exec("exec: [exec/noreason.sh]", "", GRADE_FAIL,
		    "'exec/noreason.sh' failed without a reason");
	expect_exec("exec: [exec/crash.sh]", "", GRADE_ERROR,
		    "'exec/crash.sh' was killed by signal 11 (Segmentation fault); stderr: "
		    "\"about to crash\"");
}

/* The fixtures sleep an hour: a grade that waited for them would outlast
 * the test's timeout. */
static void test_exec_timeout(void **state)
{
	double t0 = util_now_ms();
	expect_exec("exec: {argv: [exec/sleep.sh], timeout: 200ms}", "", GRADE_ERROR,
		    "'exec/sleep.sh' timed out after 200 ms; stderr: \"sleeping\"");
	assert_true(util_now_ms() - t0 >= 200);
	/* A process left behind holding stdout does not hold the grade. */
	double score = 0;
	char *r = exec_run("exec: {argv: [exec/background.sh], timeout: 2h}", "", GRADE_PASS,
			   &score);
	assert_null(r);
	assert_true(score == 0.75);
}

static void test_exec_large(void **state)
{
	size_t n = (size_t)1 << 20;
	char *big = xmalloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	expect_exec("exec: [exec/stdin_size.py]", big, GRADE_FAIL, "content of 1048576 bytes");
	/* Writes its whole answer and 200 KB of stderr before reading. */
	char *r = exec_run("exec: [exec/chatty.py]", big, GRADE_FAIL, NULL);
	assert_int_equal(strncmp(r, "long yyyy", 9), 0);
	assert_int_equal(strlen(r), GRADE_REASON_MAX);
	free(r);
	/* Never reads stdin: the writes meet a closed pipe, and no SIGPIPE
	 * ends this process. */
	expect_exec("exec: [exec/noread.sh]", big, GRADE_PASS, NULL);
	free(big);
}

static void test_exec_config_errors(void **state)
{
	expect_suite_error("exec:", "t.yaml:1:6: exec command is missing");
	expect_suite_error("exec: []", "t.yaml:1:7: exec needs a command: an argv list such as "
			   "[python3, check.py]");
	expect_suite_error("exec: python3 check.py", "t.yaml:1:7: exec runs no shell: write the "
			   "command as a list, e.g. [python3, check.py]");
	expect_suite_error("exec: [exec/nope.py]",
			   "t.yaml:1:8: cannot run 'exec/nope.py': No such file or directory");
	expect_suite_error("exec: [exec/not_executable.sh]",
			   "t.yaml:1:8: cannot run 'exec/not_executable.sh': Permission denied");
	expect_suite_error("exec: [exec]", "t.yaml:1:8: cannot run 'exec': not found in PATH");
	expect_suite_error("exec: [canary-no-such-program-xyz]",
			   "t.yaml:1:8: cannot run 'canary-no-such-program-xyz': not found in PATH");
	expect_suite_error("exec: [python3, [x]]",
			   "t.yaml:1:17: exec argument must be a string, not a list");
	expect_suite_error("exec: {argv: [python3], timeout: soon}",
			   "t.yaml:1:34: bad duration 'soon' for exec timeout (use e.g. 250ms, 2s "
			   "or 1m)");
	expect_suite_error("exec: {argv: [python3], timeout: 0s}",
			   "t.yaml:1:34: exec timeout must be more than 0");
	expect_suite_error("exec: {args: [python3]}",
			   "t.yaml:1:8: unknown key 'args' in exec (did you mean 'argv'?)");
	expect_suite_error("exec: {timeout: 1s}", "t.yaml:1:7: exec needs argv: [command, "
			   "args...]");
	expect_suite_error("exec: {argv: {a: b}}",
			   "t.yaml:1:14: argv must be a list such as [python3, check.py]");
}

static int setup(void **state)
{
	const char *fx = getenv("FIXTURES");
	suite_dir = xasprintf("%s/graders", fx ? fx : "../tests/fixtures");
	return 0;
}

static int teardown(void **state)
{
	free(suite_dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_schema_pass_fail),
		cmocka_unit_test(test_json_schema_not_json),
		cmocka_unit_test(test_json_schema_fenced),
		cmocka_unit_test(test_json_schema_on),
		cmocka_unit_test(test_json_schema_files),
		cmocka_unit_test(test_json_schema_errors),
		cmocka_unit_test(test_json_schema_config_errors),
		cmocka_unit_test(test_json_schema_misspelt_keyword),
		cmocka_unit_test(test_tool_call_basic),
		cmocka_unit_test(test_tool_call_renames),
		cmocka_unit_test(test_tool_call_index),
		cmocka_unit_test(test_tool_call_sequence),
		cmocka_unit_test(test_tool_call_undecided),
		cmocka_unit_test(test_tool_call_config_errors),
		cmocka_unit_test(test_no_tool_call),
		cmocka_unit_test(test_exec_pass_fail),
		cmocka_unit_test(test_exec_errors),
		cmocka_unit_test(test_exec_timeout),
		cmocka_unit_test(test_exec_large),
		cmocka_unit_test(test_exec_config_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
