/* test_fingerprint.c: manifests, component hashes, compact forms and diffs.
 *
 * The hashes of fixtures/fingerprint/example.yaml (the worked example of
 * docs/fingerprint.md) were computed independently in python3: hashlib
 * over the files' bytes and over json.dumps(value, sort_keys=True,
 * separators=(",", ":"), ensure_ascii=False) of the inline values, which
 * is RFC 8785 for these ASCII names and numbers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fingerprint/fingerprint.h"
#include "report/report.h"
#include "support.h"
#include "util.h"

#define H_EXPERIMENTS "sha256:b491311a31dabff8f988ec4f84fe1b3bd94e52bd6565f8d4366a23cf815ede08"
#define H_FLAGS "sha256:24dd42d7abf32190cc64b266da2691560f5cb222bf1fb81e08cdfac232b5f009"
#define H_GUARDRAILS "sha256:122b699821aebebed210b9510936c243d77db9804691987c1dbc200a4b219007"
#define H_MODEL "sha256:1e1800f8f7c9970f731ab2c13d89e8c2620347b708148dff2cbab9075ba6c7dd"
#define H_PROMPT "sha256:cf6a34ab8a0b030c07c86350d753e3793c640a57c99ed4ae4f6be3ed86e18109"
#define H_TOOLS "sha256:3542d3a55f61bcae189f241665676754c8dd79eba2ee3ca7b279fac1a4ed3f3b"
#define H_WHOLE "sha256:54edeb40f7f94f80b6d068b581a6ee70f4333315f95bd49b0e79268b0908345e"


static char *fixture(const char *name)
{
	return xasprintf("%s/fingerprint/%s", test_fixtures(), name);
}

static struct fingerprint *load_text(const char *text, const char *dir, char **err)
{
	*err = NULL;
	return fingerprint_manifest_load_buffer("m.yaml", text, strlen(text), dir, err);
}

static struct fingerprint *must_load(const char *text, const char *dir)
{
	char *err;
	struct fingerprint *fp = load_text(text, dir, &err);
	if (!fp)
		fail_msg("%s", err);
	return fp;
}

static char *load_error(const char *text, const char *dir)
{
	char *err;
	struct fingerprint *fp = load_text(text, dir, &err);
	assert_null(fp);
	assert_non_null(err);
	return err;
}

static void assert_error(const char *text, const char *dir, const char *want)
{
	char *err = load_error(text, dir);
	assert_string_equal(err, want);
	free(err);
}

static void test_example(void **state)
{
	(void)state;
	char *path = fixture("example.yaml"), *err = NULL;
	struct fingerprint *fp = fingerprint_manifest_load(path, &err);
	if (!fp)
		fail_msg("%s", err);
	assert_string_equal(fp->whole, H_WHOLE);
	assert_int_equal(fp->ncomponents, 6);
	static const char *const want[][2] = {
		{"experiments", H_EXPERIMENTS}, {"flags", H_FLAGS}, {"guardrails", H_GUARDRAILS},
		{"model", H_MODEL},             {"system_prompt", H_PROMPT}, {"tools", H_TOOLS},
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		assert_string_equal(fp->components[i].name, want[i][0]);
		assert_string_equal(fp->components[i].hash, want[i][1]);
		assert_string_equal(fingerprint_get(fp, want[i][0]), want[i][1]);
	}
	assert_null(fingerprint_get(fp, "retrieval"));

	/* Flow style, other key order, other quoting, 0.20: the same. */
	char *flow_path = fixture("example-flow.yaml");
	struct fingerprint *flow = fingerprint_manifest_load(flow_path, &err);
	if (!flow)
		fail_msg("%s", err);
	assert_string_equal(flow->whole, H_WHOLE);
	assert_int_equal(flow->ncomponents, 6);
	for (size_t i = 0; i < flow->ncomponents; i++)
		assert_string_equal(flow->components[i].hash, fp->components[i].hash);

	fingerprint_free(flow);
	fingerprint_free(fp);
	free(flow_path);
	free(path);
}

static void test_formatting_stability(void **state)
{
	(void)state;
	static const char *const same[] = {
		"flags: {a: 1, b: x, c: [1, 2.50, 'three'], d: {e: null, f: false}}\n",
		"flags:\n  d:\n    f: false\n    e: ~\n  c:\n    - 1\n    - 2.5\n    - three\n"
		"  b: \"x\"\n  a: 1.0\n",
		"# a comment\nflags: {\"d\": {\"e\": null, f: false}, b: 'x', c: [1, 2.5e0, \"three\"],"
		" a: 0x1}\n",
	};
	struct fingerprint *first = must_load(same[0], NULL);
	for (size_t i = 1; i < ARRAY_SIZE(same); i++) {
		struct fingerprint *fp = must_load(same[i], NULL);
		assert_string_equal(fp->whole, first->whole);
		assert_string_equal(fp->components[0].hash, first->components[0].hash);
		fingerprint_free(fp);
	}
	/* A string inline value hashes its canonical JSON, quotes included;
	 * a block scalar's text is the same string as a quoted one. */
	struct fingerprint *a = must_load("system_prompt: |\n  Be brief.\n", NULL);
	struct fingerprint *b = must_load("system_prompt: \"Be brief.\\n\"\n", NULL);
	char *want = fingerprint_sha256("\"Be brief.\\n\"", 13);
	assert_string_equal(a->components[0].hash, want);
	assert_string_equal(b->components[0].hash, want);
	free(want);
	/* Types matter: the number 1 and the string "1" differ. */
	struct fingerprint *n1 = must_load("flags: {a: 1}\n", NULL);
	struct fingerprint *s1 = must_load("flags: {a: '1'}\n", NULL);
	assert_string_not_equal(n1->whole, s1->whole);
	fingerprint_free(n1);
	fingerprint_free(s1);
	fingerprint_free(a);
	fingerprint_free(b);
	fingerprint_free(first);
}

static void test_one_change_one_hash(void **state)
{
	(void)state;
	static const char base[] =
		"system_prompt: Be brief.\n"
		"model: {provider: openai, id: gpt-4o, params: {temperature: 0}}\n"
		"tools: [{name: create_event}]\n"
		"retrieval: {index: docs-v3, top_k: 5}\n"
		"guardrails: [no-pii]\n"
		"flags: {v2: true}\n"
		"experiments: {tone: concise}\n";
	static const struct {
		const char *from, *to, *component;
	} changes[] = {
		{"Be brief.", "Be very brief.", "system_prompt"},
		{"id: gpt-4o,", "id: gpt-4o-mini,", "model"},
		{"temperature: 0", "temperature: 0.1", "model"},
		{"create_event", "create_events", "tools"},
		{"top_k: 5", "top_k: 6", "retrieval"},
		{"[no-pii]", "[no-pii, no-phi]", "guardrails"},
		{"v2: true", "v2: false", "flags"},
		{"concise", "verbose", "experiments"},
	};
	struct fingerprint *fp = must_load(base, NULL);
	assert_int_equal(fp->ncomponents, 7);
	for (size_t i = 0; i < ARRAY_SIZE(changes); i++) {
		const char *at = strstr(base, changes[i].from);
		assert_non_null(at);
		char *text = xasprintf("%.*s%s%s", (int)(at - base), base, changes[i].to,
				       at + strlen(changes[i].from));
		struct fingerprint *changed = must_load(text, NULL);
		assert_string_not_equal(changed->whole, fp->whole);
		assert_int_equal(changed->ncomponents, fp->ncomponents);
		for (size_t j = 0; j < fp->ncomponents; j++) {
			const struct fingerprint_component *was = &fp->components[j];
			bool target = strcmp(was->name, changes[i].component) == 0;
			bool same = strcmp(was->hash, changed->components[j].hash) == 0;
			if (target == same)
				fail_msg("changing %s: component %s %s", changes[i].component,
					 was->name, same ? "kept its hash" : "changed");
		}
		const char **names;
		size_t n = fingerprint_diff(fp->components, fp->ncomponents, changed->components,
					    changed->ncomponents, &names);
		assert_int_equal(n, 1);
		assert_string_equal(names[0], changes[i].component);
		free(names);
		fingerprint_free(changed);
		free(text);
	}
	/* Removing a component removes it, and changes the whole. */
	struct fingerprint *fewer = must_load("system_prompt: Be brief.\n", NULL);
	assert_int_equal(fewer->ncomponents, 1);
	assert_string_equal(fewer->components[0].hash, fingerprint_get(fp, "system_prompt"));
	assert_string_not_equal(fewer->whole, fp->whole);
	fingerprint_free(fewer);
	fingerprint_free(fp);
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_file_bytes(void **state)
{
	(void)state;
	char dir[] = "/tmp/canary-fp-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = xasprintf("%s/prompt.md", dir);
	char data[] = "Be brief.\n";
	write_file(path, data, strlen(data));

	struct fingerprint *fp = must_load("system_prompt: {file: prompt.md}\n", dir);
	char *want = fingerprint_sha256(data, strlen(data));
	assert_string_equal(fp->components[0].hash, want);
	/* Reformatting would change it: bytes, not parsed content. */
	data[0] = 'b';
	write_file(path, data, strlen(data));
	struct fingerprint *changed = must_load("system_prompt: {file: prompt.md}\n", dir);
	assert_string_not_equal(changed->components[0].hash, fp->components[0].hash);
	assert_string_not_equal(changed->whole, fp->whole);
	/* An absolute path ignores dir. */
	char *abs = xasprintf("system_prompt:\n  file: '%s'\n", path);
	struct fingerprint *absolute = must_load(abs, "/nonexistent");
	assert_string_equal(absolute->components[0].hash, changed->components[0].hash);
	/* An empty file is a file too. */
	write_file(path, "", 0);
	struct fingerprint *empty = must_load("tools: {file: prompt.md}\n", dir);
	assert_string_equal(empty->components[0].hash,
			    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	fingerprint_free(empty);
	fingerprint_free(absolute);
	fingerprint_free(changed);
	fingerprint_free(fp);
	free(abs);
	free(want);
	unlink(path);
	rmdir(dir);
	free(path);
}

static void test_file_errors(void **state)
{
	(void)state;
	char *path = fixture("missing-file.yaml"), *err = NULL;
	assert_null(fingerprint_manifest_load(path, &err));
	char *want = xasprintf("%s:3:9: cannot open '%s/fingerprint/prompts/does-not-exist.md': "
			       "No such file or directory", path, test_fixtures());
	assert_string_equal(err, want);
	free(want);
	free(err);
	free(path);

	assert_error("tools: {file: nope.json}\n", "/nonexistent",
		     "m.yaml:1:15: cannot open '/nonexistent/nope.json': No such file or directory");
	assert_error("tools: {file: /dev/zero}\n", NULL,
		     "m.yaml:1:15: '/dev/zero' is not a regular file");
	assert_error("tools: {file: /tmp}\n", NULL, "m.yaml:1:15: '/tmp' is not a regular file");
	assert_error("tools: {file: tools.json, format: json}\n", NULL,
		     "m.yaml:1:27: a file reference takes only 'file', not 'format'");
	assert_error("tools: {file: [a]}\n", NULL, "m.yaml:1:15: 'file' must be a path");
	assert_error("tools: {file: ''}\n", NULL, "m.yaml:1:15: 'file' must be a path");
	assert_error("tools: {file: \"a\\0b\"}\n", NULL, "m.yaml:1:15: NUL characters are not allowed");

	err = NULL;
	assert_null(fingerprint_manifest_load("/nonexistent/m.yaml", &err));
	assert_string_equal(err, "cannot open '/nonexistent/m.yaml': No such file or directory");
	free(err);
}

static void test_manifest_errors(void **state)
{
	(void)state;
	assert_error("system_prompt: x\ntool: [a]\n", NULL,
		     "m.yaml:2:1: unknown key 'tool' in the manifest (did you mean 'tools'?)");
	assert_error("zzz: 1\n", NULL,
		     "m.yaml:1:1: unknown key 'zzz' in the manifest (keys: experiments, flags, "
		     "guardrails, model, retrieval, system_prompt, tools)");
	assert_error("model: {provider: openai, id: gpt-4o, parms: {}}\n", NULL,
		     "m.yaml:1:39: unknown key 'parms' in 'model' (did you mean 'params'?)");
	assert_error("model: {provider: openai}\n", NULL, "m.yaml:1:8: missing 'id' in 'model'");
	assert_error("model: {provider: openai, id: 4}\n", NULL,
		     "m.yaml:1:31: 'id' must be a non-empty string (quote it)");
	assert_error("model: gpt-4o\n", NULL,
		     "m.yaml:1:8: 'model' must be a mapping (provider, id, params) or {file: path}");
	assert_error("model: {provider: openai, id: x, params: [1]}\n", NULL,
		     "m.yaml:1:42: 'params' must be a mapping");
	assert_error("", NULL, "m.yaml:1:1: the manifest is empty");
	assert_error("[tools]\n", NULL,
		     "m.yaml:1:1: a manifest must be a mapping of components (experiments, flags, "
		     "guardrails, model, retrieval, system_prompt, tools)");
	assert_error("{}\n", NULL,
		     "m.yaml:1:1: a manifest must be a mapping of components (experiments, flags, "
		     "guardrails, model, retrieval, system_prompt, tools)");
	assert_error("flags: {a: \"x\\0y\"}\n", NULL,
		     "m.yaml:1:12: NUL characters are not allowed");
}

/* YAML errors are ynode's wording: check only that they carry a position. */
static void test_yaml_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"flags: {a: 1}\nflags: {a: 2}\n", "flags: [1, 2\n", "flags: {a: *nope}\n",
		"\"unterminated\n", "flags: \x01\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *err = load_error(bad[i], NULL);
		assert_int_equal(strncmp(err, "m.yaml:", 7), 0);
		free(err);
	}
	/* Deep nesting and alias bombs fail cleanly. */
	struct buf b;
	buf_init(&b, 0);
	buf_addstr(&b, "flags: ");
	for (int i = 0; i < 200; i++)
		buf_addch(&b, '[');
	for (int i = 0; i < 200; i++)
		buf_addch(&b, ']');
	char *err = load_error(b.data, NULL);
	free(err);
	buf_release(&b);
	buf_init(&b, 0);
	buf_addstr(&b, "flags:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 9; i++) {
		buf_addf(&b, "  a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			buf_addf(&b, "%s*a%d", j ? ", " : "", i - 1);
		buf_addstr(&b, "]\n");
	}
	err = load_error(b.data, NULL);
	assert_non_null(strstr(err, "million"));
	free(err);
	buf_release(&b);
}

static void test_header_and_json(void **state)
{
	(void)state;
	char *path = fixture("example.yaml"), *err = NULL;
	struct fingerprint *fp = fingerprint_manifest_load(path, &err);
	assert_non_null(fp);

	char *full = fingerprint_header(fp, 0);
	assert_string_equal(full, "experiments=" H_EXPERIMENTS ";flags=" H_FLAGS
				  ";guardrails=" H_GUARDRAILS ";model=" H_MODEL
				  ";system_prompt=" H_PROMPT ";tools=" H_TOOLS);
	char *shortform = fingerprint_header(fp, 12);
	assert_string_equal(shortform, "experiments=b491311a31da;flags=24dd42d7abf3;"
				       "guardrails=122b699821ae;model=1e1800f8f7c9;"
				       "system_prompt=cf6a34ab8a0b;tools=3542d3a55f61");
	char *huge = fingerprint_header(fp, 1000);
	assert_non_null(strstr(huge, "tools=3542d3a55f61bcae189f241665676754c8dd79eba2ee3ca7b279fa"
				     "c1a4ed3f3b"));

	/* Read back, the full form gives the same components and whole. */
	struct fingerprint_component *c;
	size_t n;
	assert_int_equal(fingerprint_parse_components(full, &c, &n), 0);
	assert_int_equal(n, fp->ncomponents);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(c[i].name, fp->components[i].name);
		assert_string_equal(c[i].hash, fp->components[i].hash);
	}
	char *whole = fingerprint_combine(c, n);
	assert_string_equal(whole, H_WHOLE);
	free(whole);
	fingerprint_components_free(c, n);

	/* The short form diffs equal against the full one. */
	assert_int_equal(fingerprint_parse_components(shortform, &c, &n), 0);
	const char **names = NULL;
	assert_int_equal(fingerprint_diff(c, n, fp->components, fp->ncomponents, &names), 0);
	assert_null(names);
	fingerprint_components_free(c, n);

	/* The JSON form, and reading it back. */
	cJSON *j = fingerprint_to_json(fp);
	assert_string_equal(cJSON_GetObjectItem(j, "fingerprint")->valuestring, H_WHOLE);
	cJSON *comps = cJSON_GetObjectItem(j, "components");
	assert_string_equal(cJSON_GetObjectItem(comps, "model")->valuestring, H_MODEL);
	char *text = cJSON_PrintUnformatted(j);
	assert_int_equal(fingerprint_parse_components(text, &c, &n), 0);
	assert_int_equal(n, 6);
	assert_string_equal(c[0].name, "experiments");
	fingerprint_components_free(c, n);
	free(text);
	cJSON_Delete(j);

	/* Two components with one name cannot be combined. */
	struct fingerprint_component dup[2] = {{"a", "sha256:1"}, {"a", "sha256:2"}};
	assert_null(fingerprint_combine(dup, 2));

	free(huge);
	free(shortform);
	free(full);
	fingerprint_free(fp);
	free(path);
}

static void test_parse_components(void **state)
{
	(void)state;
	struct fingerprint_component *c;
	size_t n;

	assert_int_equal(fingerprint_parse_components(
				 " {\"tools\": \"sha256:aa\", \"model\": \"sha256:bb\"} ", &c, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].name, "model");
	assert_string_equal(c[0].hash, "sha256:bb");
	assert_string_equal(c[1].name, "tools");
	assert_string_equal(c[1].hash, "sha256:aa");
	fingerprint_components_free(c, n);

	assert_int_equal(fingerprint_parse_components("b=2;a=1", &c, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].name, "a");
	assert_string_equal(c[0].hash, "1");
	assert_string_equal(c[1].name, "b");
	assert_string_equal(c[1].hash, "2");
	fingerprint_components_free(c, n);

	/* Spaces around items, a trailing ';', base64 padding in a hash. */
	assert_int_equal(fingerprint_parse_components(" model = sha256:ab ; tools=q1w2== ;", &c,
						      &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].hash, "sha256:ab");
	assert_string_equal(c[1].hash, "q1w2==");
	fingerprint_components_free(c, n);

	/* Opaque or malformed: -1, nothing allocated. */
	static const char *const opaque[] = {
		"sha256:abc", "fp_44709d6fcb", "", "   ", "{}", "[1,2]", "{\"a\": 1}",
		"{\"a\": \"\"}", "{\"a\": \"x\"", "a=", "=x", "a b=1", "a=1;b", "a=1;a=2",
		"a=x y", "{\"a\": \"x\", \"a\": \"y\"}", "a=\x01",
	};
	for (size_t i = 0; i < ARRAY_SIZE(opaque); i++) {
		c = (void *)1;
		n = 99;
		if (fingerprint_parse_components(opaque[i], &c, &n) != -1)
			fail_msg("'%s' parsed", opaque[i]);
		assert_null(c);
		assert_int_equal(n, 0);
	}
	assert_int_equal(fingerprint_parse_components(NULL, &c, &n), -1);

	/* Limits on untrusted values. */
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i <= FINGERPRINT_MAX_COMPONENTS; i++)
		buf_addf(&b, "c%d=h;", i);
	assert_int_equal(fingerprint_parse_components(b.data, &c, &n), -1);
	buf_reset(&b);
	buf_addstr(&b, "a=");
	for (size_t i = 0; i < FINGERPRINT_MAX_VALUE; i++)
		buf_addch(&b, 'f');
	assert_int_equal(fingerprint_parse_components(b.data, &c, &n), -1);
	buf_release(&b);
}

static void test_diff(void **state)
{
	(void)state;
	struct fingerprint_component a[] = {
		{"tools", "sha256:aaaa1111bbbb"}, {"model", "sha256:0123456789ab"},
		{"flags", "sha256:ff"},
	};
	struct fingerprint_component b[] = {
		{"model", "0123456789AB"}, {"guardrails", "sha256:77"},
		{"tools", "sha256:aaaa1111bbbc"},
	};
	const char **names;
	size_t n = fingerprint_diff(a, ARRAY_SIZE(a), b, ARRAY_SIZE(b), &names);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "flags");
	assert_string_equal(names[1], "guardrails");
	assert_string_equal(names[2], "tools");
	free(names);

	n = fingerprint_diff(a, ARRAY_SIZE(a), a, ARRAY_SIZE(a), &names);
	assert_int_equal(n, 0);
	assert_null(names);
	n = fingerprint_diff(NULL, 0, b, ARRAY_SIZE(b), &names);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "guardrails");
	free(names);
	n = fingerprint_diff(NULL, 0, NULL, 0, &names);
	assert_int_equal(n, 0);
	assert_null(names);

	assert_true(fingerprint_hash_equal("sha256:ABCDEF12", "abcdef12"));
	assert_true(fingerprint_hash_equal("sha256:abcdef1234", "abcdef12"));
	assert_true(fingerprint_hash_equal("x", "x"));
	assert_false(fingerprint_hash_equal("sha256:abcdef1234", "abcdef1"));
	assert_false(fingerprint_hash_equal("sha256:abcdef1234", "abcdef13"));
	assert_false(fingerprint_hash_equal("md5:abcdef1234", "abcdef12"));
	assert_false(fingerprint_hash_equal("", "abcdef12"));
}

/* same: fingerprint_same() of two reported values, each read as a run
 * reads them. */
static bool same(const char *a, const char *b)
{
	struct fingerprint_component *ca = NULL, *cb = NULL;
	size_t na = 0, nb = 0;
	fingerprint_parse_components(a, &ca, &na);
	fingerprint_parse_components(b, &cb, &nb);
	bool yes = fingerprint_same(a, ca, na, b, cb, nb);
	assert_true(yes == fingerprint_same(b, cb, nb, a, ca, na));
	fingerprint_components_free(ca, na);
	fingerprint_components_free(cb, nb);
	return yes;
}

/* Reported values are compared component by component with the prefix
 * rule, never as strings. */
static void test_same(void **state)
{
	(void)state;
	const char *full = "model=" H_MODEL ";tools=" H_TOOLS;
	assert_true(same(full, full));
	assert_true(same(full, "tools=3542d3a55f61; model=1E1800F8F7C9"));
	assert_true(same(full, "{\"model\": \"1e1800f8\", \"tools\": \"" H_TOOLS "\"}"));
	assert_false(same(full, "model=1e1800f8f7c9"));
	assert_false(same(full, "model=1e1800f8f7c9;tools=3542d3a55f62"));
	assert_false(same(full, "model=1e1800f;tools=3542d3a55f61"));
	/* Opaque values are equal as hashes; a list of full hashes is the
	 * whole fingerprint it combines to. */
	assert_true(same(H_WHOLE, "54EDEB40F7F94F80B6D068B581A6EE70F4333315F95BD49B0E79268B0908345E"));
	assert_true(same(H_WHOLE, "sha256:54edeb40"));
	assert_false(same(H_WHOLE, "sha256:54edeb41"));
	struct fingerprint_component c[] = {
		{"experiments", H_EXPERIMENTS}, {"flags", H_FLAGS}, {"guardrails", H_GUARDRAILS},
		{"model", H_MODEL}, {"system_prompt", H_PROMPT}, {"tools", H_TOOLS},
	};
	struct fingerprint fp = {.whole = H_WHOLE, .components = c, .ncomponents = ARRAY_SIZE(c)};
	char *header = fingerprint_header(&fp, 0), *short12 = fingerprint_header(&fp, 12);
	assert_true(same(header, H_WHOLE));
	assert_true(same(header, short12));
	assert_false(same(short12, H_WHOLE));
	free(header);
	free(short12);
}

/* A run with prod fingerprints that eval served under another spelling
 * warns of nothing; one that differs names the component. */
static void test_report_analyse(void **state)
{
	(void)state;
	static const char *const prod[] = {
		"tools=3542d3a55f61;model=1E1800F8F7C9",
		"model=1e1800f8f7c9;tools=0000aaaabbbb",
		"model=1e1800f8f7c9970f;tools=0000aaaabbbbcc",
	};
	struct report *r = report_new();
	report_add_fingerprint(r, SIDE_EVAL, "model=" H_MODEL ";tools=" H_TOOLS, 3);
	report_add_fingerprint(r, SIDE_PROD, prod[0], 2);
	report_add_fingerprint(r, SIDE_PROD, prod[1], 1);
	report_add_fingerprint(r, SIDE_PROD, prod[2], 1);
	report_analyse_fingerprints(r);
	assert_int_equal(r->unevaluated.n, 1);
	assert_string_equal(r->unevaluated.v[0], prod[1]);
	assert_int_equal(r->differing.n, 1);
	assert_string_equal(r->differing.v[0], "tools");

	r->targets[SIDE_PROD].nfingerprints = 1;
	report_analyse_fingerprints(r);
	assert_int_equal(r->unevaluated.n, 0);
	assert_int_equal(r->differing.n, 0);
	report_free(r);
}

/* add_sample: one case of r with one sample per fingerprint and grade. */
static void add_samples(struct report *r, enum side side, const char *const *fp,
			const enum grade *grades, size_t n)
{
	struct report_case *c = report_add_case(r, "c", report_stratum_index(r, "s"));
	struct report_sample *s = report_side_samples(r, &c->side[side], n);

	for (size_t i = 0; i < n; i++) {
		s[i].fingerprint = report_intern(r, fp[i]);
		s[i].grade = grades[i];
		s[i].index = (int)i;
	}
}

/* An expected composition is met by any spelling of it; another one, or
 * no fingerprint at all, fails the run with exit 1 and "uncertified". */
static void test_report_expected(void **state)
{
	(void)state;
	const char *want = "model=" H_MODEL ";tools=" H_TOOLS;
	struct report *r = report_new();

	r->targets[SIDE_EVAL].expected = want;
	report_analyse_fingerprints(r);
	assert_non_null(report_fingerprint_failure(r));
	assert_string_equal(report_fingerprint_failure(r)->state, "uncertified");

	report_add_fingerprint(r, SIDE_EVAL, "tools=3542d3a55f61;model=1E1800F8F7C9", 2);
	report_analyse_fingerprints(r);
	assert_int_equal(r->targets[SIDE_EVAL].unexpected.n, 0);
	assert_null(report_fingerprint_failure(r));
	r->exit_code = EXIT_ERRORS;
	report_apply_fingerprints(r);
	assert_int_equal(r->exit_code, EXIT_ERRORS);

	report_add_fingerprint(r, SIDE_EVAL, "model=1e1800f8f7c9;tools=0000aaaabbbb", 1);
	report_analyse_fingerprints(r);
	assert_int_equal(r->targets[SIDE_EVAL].unexpected.n, 1);
	assert_string_equal(r->targets[SIDE_EVAL].unexpected.v[0],
			    "model=1e1800f8f7c9;tools=0000aaaabbbb");
	assert_string_equal(report_fingerprint_failure(r)->reason,
			    "eval did not serve the expected composition (--expect-fingerprint)");
	report_apply_fingerprints(r);
	assert_int_equal(r->exit_code, EXIT_FAIL);
	r->exit_code = EXIT_INTERRUPTED;
	report_apply_fingerprints(r);
	assert_int_equal(r->exit_code, EXIT_INTERRUPTED);
	report_free(r);
}

/* --fail-on-unevaluated counts the run's unevaluated compositions, or the
 * history's when the report has one. */
static void test_report_fail_on_unevaluated(void **state)
{
	(void)state;
	struct report *r = report_new();

	report_add_fingerprint(r, SIDE_EVAL, "model=" H_MODEL, 1);
	report_add_fingerprint(r, SIDE_PROD, "model=0000aaaa", 1);
	report_analyse_fingerprints(r);
	assert_int_equal(report_unevaluated_count(r), 1);
	assert_null(report_fingerprint_failure(r));
	r->fail_on_unevaluated = true;
	assert_string_equal(report_fingerprint_failure(r)->state, "unevaluated");
	r->exit_code = EXIT_PASS;
	report_apply_fingerprints(r);
	assert_int_equal(r->exit_code, EXIT_FAIL);
	/* A history that saw it on eval in an earlier run knows better. */
	r->history.present = true;
	assert_int_equal(report_unevaluated_count(r), 0);
	assert_null(report_fingerprint_failure(r));
	report_free(r);
}

/* Prod samples are counted per composition (spellings of one composition
 * together), each with the components in which it differs from eval's. */
static void test_report_compositions(void **state)
{
	(void)state;
	static const char *const fp[] = {
		"model=" H_MODEL ";tools=" H_TOOLS,
		"model=1e1800f8f7c9;tools=0000aaaabbbb",
		"tools=3542d3a55f61;model=1e1800f8f7c9",
		"model=1e1800f8f7c9;tools=0000aaaabbbb",
	};
	static const enum grade grades[] = {GRADE_PASS, GRADE_FAIL, GRADE_ERROR, GRADE_FAIL};
	struct report *r = report_new();
	struct report_composition *c = NULL;

	report_add_fingerprint(r, SIDE_EVAL, fp[0], 1);
	for (size_t i = 0; i < ARRAY_SIZE(fp); i++)
		report_add_fingerprint(r, SIDE_PROD, fp[i], 1);
	add_samples(r, SIDE_PROD, fp, grades, ARRAY_SIZE(fp));
	size_t n = report_compositions(r, SIDE_PROD, &c);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].value, fp[0]);
	assert_true(c[0].evaluated);
	assert_int_equal(c[0].passed, 1);
	assert_int_equal(c[0].errors, 1);
	assert_int_equal(c[0].ndiffering, 0);
	assert_string_equal(c[1].value, fp[1]);
	assert_false(c[1].evaluated);
	assert_int_equal(c[1].failed, 2);
	assert_int_equal(c[1].ndiffering, 1);
	assert_string_equal(c[1].differing[0], "tools");
	report_compositions_free(c, n);
	report_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_formatting_stability),
		cmocka_unit_test(test_one_change_one_hash),
		cmocka_unit_test(test_file_bytes),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_manifest_errors),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_header_and_json),
		cmocka_unit_test(test_parse_components),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_report_analyse),
		cmocka_unit_test(test_report_expected),
		cmocka_unit_test(test_report_fail_on_unevaluated),
		cmocka_unit_test(test_report_compositions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
