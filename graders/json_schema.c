/* json_schema.c: pass when the subject, parsed as JSON, validates against a
 * JSON Schema (draft 2020-12 by default, draft-07 by "$schema").
 *     - json_schema: {type: object, required: [answer]}
 *     - json_schema: schemas/answer.json
 *     - json_schema: {file: schemas/answer.json, extract: fenced, format: assert}
 *     - json_schema: {schema: {type: array}, extract: fenced}
 *
 * The schema config is shared with tool_call's `arguments` through the
 * schema_cfg functions below.
 */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "jsonptr.h"
#include "schema/jsonschema.h"
#include "provider.h"
#include "util.h"

/* A compiled schema config (declared in common.h, shared with tool_call.c). */
struct schema_cfg {
	struct jsonschema *schema;
	cJSON *json;            /* the schema's root document, when it could be read */
	char *json_path;        /* a file schema: the real path of that document */
	char *base_uri;         /* "file:///suite/dir/", cut from error text */
	bool fenced;            /* extract: fenced */
};

#define SCHEMA_ERRS_SHOWN 3
#define SCHEMA_FILE_MAX ((size_t)16 << 20)
#define SCHEMA_FORMS "a mapping, true, false or a file name"

/* uri_escape: s percent-encoded for a URI path (unreserved bytes and '/'
 * kept), as the validator encodes file URIs. */
static char *uri_escape(const char *s, const char *keep)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9');
		if (alnum || strchr(keep, *p))
			buf_addch(&b, (char)*p);
		else
			buf_addf(&b, "%%%02X", *p);
	}
	return buf_detach(&b, NULL);
}

/* base_uri: the file URI the validator gives the suite folder, or NULL. */
static char *base_uri(const char *dir)
{
	if (!dir)
		return NULL;
	char *real = realpath(dir, NULL);
	if (!real)
		return NULL;
	char *esc = uri_escape(real, "-._~/!$&'()*+,;=:@");
	char *uri = xasprintf("file://%s%s", esc, esc[0] && esc[strlen(esc) - 1] == '/' ? "" : "/");
	free(esc);
	free(real);
	return uri;
}

/* file_error: the error for a fault at ptr inside the local schema file
 * path (a decoded file URI path), positioned in that file when it parses as
 * YAML (JSON included); NULL when the file cannot be read. */
static char *file_error(const char *path, const char *ptr, const char *suite_dir,
			const char *msg)
{
	char *real_dir = suite_dir ? realpath(suite_dir, NULL) : NULL;
	char *shown = NULL, *e = NULL, *data = NULL, *why = NULL;
	struct ydoc *doc = NULL;
	size_t dlen = real_dir ? strlen(real_dir) : 0, len = 0;
	if (real_dir && strncmp(path, real_dir, dlen) == 0 && path[dlen] == '/') {
		if (strcmp(suite_dir, ".") == 0)
			shown = xstrdup(path + dlen + 1);
		else
			shown = xasprintf("%s/%s", suite_dir, path + dlen + 1);
	} else {
		shown = xstrdup(path);
	}
	data = util_read_file(path, SCHEMA_FILE_MAX, &len, &why);
	if (!data)
		goto out;
	doc = ydoc_parse(shown, data, len, &why);
	if (!doc || !doc->root)
		goto out;
	const struct ynode *n = ynode_at(doc->root, ptr);
	if (ptr[0])
		e = ynode_error(n, "bad schema at %s: %s", ptr, msg);
	else
		e = ynode_error(n, "bad schema: %s", msg);
out:
	if (!e)
		e = xasprintf("%s: bad schema at %s: %s", shown, ptr[0] ? ptr : "(root)", msg);
	ydoc_free(doc);
	free(data);
	free(why);
	free(shown);
	free(real_dir);
	return e;
}

/* compile_error: the suite error for a schema that does not compile: msg at
 * the schema location ptr (the validator's err_pointer), placed in the YAML
 * of node (the inline schema) or, for a file, in the file. */
static char *compile_error(const struct ynode *node, bool is_file, const char *ptr,
			   const char *suite_dir, const char *msg)
{
	const char *hash = ptr ? strchr(ptr, '#') : NULL;
	if (hash && strncmp(ptr, "file://", 7) == 0) {
		char *path = util_pct_decode(ptr + 7, (size_t)(hash - ptr) - 7);
		if (path) {
			char *e = file_error(path, hash + 1, suite_dir, msg);
			free(path);
			return e;
		}
	}
	if (is_file && ptr && !hash)   /* a fault in the $ref to the file itself */
		return ynode_error(node, "%s", msg);
	return jsonschema_error_at(node, ptr, msg);
}

/* file_schema: {"$ref": FILE} with FILE as a URI reference; -1 and *err
 * (at node) when the file cannot be opened. */
static cJSON *file_schema(const struct ynode *node, const char *suite_dir, char **err)
{
	char *path = node->str[0] == '/' || !suite_dir ? xstrdup(node->str)
						       : xasprintf("%s/%s", suite_dir, node->str);
	struct stat st;
	int rc = stat(path, &st);
	int saved = errno;
	free(path);
	if (rc < 0) {
		*err = ynode_error(node, "cannot open schema file '%s': %s", node->str,
				   strerror(saved));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = ynode_error(node, "schema file '%s' is not a regular file", node->str);
		return NULL;
	}
	char *ref = uri_escape(node->str, "-._~/");
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "$ref", ref);
	free(ref);
	return j;
}

/* load_document: read the schema file name (already compiled) into c->json
 * for schema_cfg_at(); it stays NULL when that fails. */
static void load_document(struct schema_cfg *c, const char *name, const char *suite_dir)
{
	char *path = name[0] == '/' || !suite_dir ? xstrdup(name)
						  : xasprintf("%s/%s", suite_dir, name);
	char *real = realpath(path, NULL), *data = NULL, *why = NULL;
	size_t len = 0, nlen = strlen(name);
	struct ydoc *doc = NULL;
	if (!real || !(data = util_read_file(real, SCHEMA_FILE_MAX, &len, &why)))
		goto out;
	if ((nlen > 5 && strcmp(name + nlen - 5, ".yaml") == 0) ||
	    (nlen > 4 && strcmp(name + nlen - 4, ".yml") == 0)) {
		doc = ydoc_parse(real, data, len, &why);
		if (doc && doc->root)
			c->json = ynode_to_json(doc->root, &why);
	} else {
		c->json = provider_json_parse(data, len, NULL, NULL);
	}
	if (c->json) {
		c->json_path = real;
		real = NULL;
	}
out:
	ydoc_free(doc);
	free(data);
	free(why);
	free(real);
	free(path);
}

struct schema_cfg *schema_cfg_compile(const struct ynode *cfg, const struct grader_env *env,
				      const char *what, bool allow_extract, char **err)
{
	static const char *const keys_extract[] = { "schema", "file", "extract", "format", NULL };
	static const char *const keys[] = { "schema", "file", "format", NULL };
	const char *suite_dir = env ? env->suite_dir : NULL;
	const struct ynode *schema = cfg, *file = NULL;
	struct jsonschema_options o = { .base_dir = suite_dir };
	struct schema_cfg *c = xcalloc(1, sizeof(*c));
	cJSON *json = NULL;
	char *ptr = NULL, *e = NULL;
	int rc = -1;
	bool b;

	/* A folder that does not exist refuses file references, nothing else. */
	char *real = suite_dir ? realpath(suite_dir, NULL) : NULL;
	if (!real)
		o.base_dir = NULL;
	free(real);
	if (!cfg || (cfg->kind == YNODE_SCALAR && ynode_is_null(cfg) && cfg->plain)) {
		*err = cfg ? ynode_error(cfg, "%s needs a schema: %s", what, SCHEMA_FORMS)
			   : xasprintf("%s needs a schema", what);
		goto out;
	}
	if (cfg->kind == YNODE_MAP && (ynode_get(cfg, "schema") || ynode_get(cfg, "file"))) {
		if (grader_check_keys(cfg, what, allow_extract ? keys_extract : keys, err) < 0)
			goto out;
		schema = ynode_get(cfg, "schema");
		file = ynode_get(cfg, "file");
		if (schema && file) {
			*err = ynode_error(cfg, "%s takes 'schema' or 'file', not both", what);
			goto out;
		}
		const struct ynode *x = ynode_get(cfg, "extract");
		if (x) {
			if (grader_cfg_text(x, "extract", err) < 0)
				goto out;
			if (strcmp(x->str, "fenced") != 0 && strcmp(x->str, "none") != 0) {
				*err = ynode_error(x, "bad extract '%s' (use fenced or none)",
						   x->str);
				goto out;
			}
			c->fenced = strcmp(x->str, "fenced") == 0;
		}
		const struct ynode *f = ynode_get(cfg, "format");
		if (f) {
			if (grader_cfg_text(f, "format", err) < 0)
				goto out;
			if (strcmp(f->str, "assert") != 0 && strcmp(f->str, "annotate") != 0) {
				*err = ynode_error(f, "bad format '%s' (use assert or annotate)",
						   f->str);
				goto out;
			}
			o.format_assert = strcmp(f->str, "assert") == 0;
		}
		if (file) {
			if (grader_cfg_text(file, "schema file", err) < 0)
				goto out;
			if (file->len == 0) {
				*err = ynode_error(file, "schema file name is empty");
				goto out;
			}
			schema = NULL;
		}
	} else if (cfg->kind == YNODE_MAP && allow_extract && ynode_get(cfg, "extract")) {
		*err = ynode_error(ynode_get(cfg, "extract"),
				   "'extract' needs the schema under 'schema' or 'file': "
				   "{schema: {...}, extract: fenced}");
		goto out;
	} else if (cfg->kind == YNODE_SCALAR && ynode_bool(cfg, &b) < 0) {
		double d;
		if (cfg->plain && ynode_number(cfg, &d) == 0) {
			*err = ynode_error(cfg, "%s needs a schema: %s, not %s", what, SCHEMA_FORMS,
					   cfg->str);
			goto out;
		}
		file = cfg;
		schema = NULL;
		if (grader_cfg_text(file, "schema file", err) < 0)
			goto out;
	} else if (cfg->kind == YNODE_SEQ) {
		*err = ynode_error(cfg, "%s needs a schema: %s, not a list", what, SCHEMA_FORMS);
		goto out;
	}

	if (file) {
		json = file_schema(file, suite_dir, err);
		if (!json)
			goto out;
	} else {
		if (schema->kind == YNODE_SEQ ||
		    (schema->kind == YNODE_SCALAR && ynode_bool(schema, &b) < 0)) {
			*err = ynode_error(schema, "a schema must be a mapping, true or false");
			goto out;
		}
		json = ynode_to_json(schema, &e);
		if (!json) {
			*err = ynode_error(schema, "%s", e);
			goto out;
		}
		if (jsonschema_check_keywords(schema, err) < 0)
			goto out;
	}
	c->schema = jsonschema_compile(json, &o, &ptr, &e);
	if (!c->schema) {
		*err = compile_error(file ? file : schema, file != NULL, ptr, suite_dir, e);
		goto out;
	}
	c->base_uri = base_uri(suite_dir);
	if (file) {
		load_document(c, file->str, suite_dir);
	} else {
		c->json = json;
		json = NULL;
	}
	rc = 0;
out:
	cJSON_Delete(json);
	free(ptr);
	free(e);
	if (rc < 0) {
		schema_cfg_free(c);
		c = NULL;
	}
	return c;
}

int schema_cfg_validate(const struct schema_cfg *c, const cJSON *instance,
			volatile sig_atomic_t *stop, struct jsonschema_error *errs, size_t max_errs,
			size_t *nerrs)
{
	return jsonschema_validate(c->schema, instance, stop, errs, max_errs, nerrs);
}

/* cut: s with every occurrence of what removed (what may be NULL). */
static char *cut(char *s, const char *what)
{
	if (!what || !what[0])
		return s;
	size_t wl = strlen(what);
	char *w = s, *r = s, *hit;
	while ((hit = strstr(r, what))) {
		memmove(w, r, (size_t)(hit - r));
		w += hit - r;
		r = hit + wl;
	}
	memmove(w, r, strlen(r) + 1);
	return s;
}

char *schema_cfg_error(const struct schema_cfg *c, const struct jsonschema_error *e)
{
	return cut(jsonschema_error_format(e), c->base_uri);
}

char *schema_cfg_errors(const struct schema_cfg *c, const struct jsonschema_error *errs,
			size_t n)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (size_t i = 0; i < n; i++) {
		char *one = schema_cfg_error(c, &errs[i]);
		buf_addf(&b, "%s%s", i ? "; " : "", one);
		free(one);
	}
	return buf_detach(&b, NULL);
}

const cJSON *schema_cfg_at(const struct schema_cfg *c, const char *schema_ptr)
{
	const char *hash = strchr(schema_ptr, '#'), *frag = schema_ptr;
	if (!c->json)
		return NULL;
	if (c->json_path) {
		if (!hash || strncmp(schema_ptr, "file://", 7) != 0)
			return NULL;
		char *path = util_pct_decode(schema_ptr + 7, (size_t)(hash - schema_ptr) - 7);
		bool same = path && strcmp(path, c->json_path) == 0;
		free(path);
		if (!same)
			return NULL;
		frag = hash + 1;
	} else if (hash) {
		return NULL;
	}
	return jsonptr_get(c->json, frag);
}

void schema_cfg_free(struct schema_cfg *c)
{
	if (!c)
		return;
	jsonschema_free(c->schema);
	cJSON_Delete(c->json);
	free(c->json_path);
	free(c->base_uri);
	free(c);
}

struct json_schema {
	struct schema_cfg *cfg;
};

/* fence_line: the number of backticks (at least 3) opening s[0..len) after
 * up to 3 spaces, with *rest after them; 0 when it is no fence. */
static size_t fence_line(const char *s, size_t len, const char **rest, size_t *rest_len)
{
	size_t i = 0, n = 0;
	while (i < len && i < 3 && s[i] == ' ')
		i++;
	while (i + n < len && s[i + n] == '`')
		n++;
	if (n < 3)
		return 0;
	*rest = s + i + n;
	*rest_len = len - i - n;
	return n;
}

/* blank: whether s[0..len) holds only spaces, tabs and CRs. */
static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	}
	return true;
}

/* json_info: whether a fence's info string announces JSON or nothing. */
static bool json_info(const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	size_t w = 0;
	while (w < len && s[w] != ' ' && s[w] != '\t' && s[w] != '\r')
		w++;
	return w == 0 || (w == 4 && strncasecmp(s, "json", 4) == 0);
}

/* fenced_block: the body of the first ``` or ```json fenced block of
 * s[0..len) (CommonMark: the closing fence is at least as long, an
 * unclosed block runs to the end); false when there is none. */
static bool fenced_block(const char *s, size_t len, const char **body, size_t *body_len)
{
	size_t i = 0, open = 0, start = 0;
	bool want = false;
	while (i < len) {
		const char *nl = memchr(s + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - s) : len;
		const char *rest;
		size_t rest_len, n = fence_line(s + i, e - i, &rest, &rest_len);
		if (!open && n && !memchr(rest, '`', rest_len)) {
			open = n;
			want = json_info(rest, rest_len);
			start = nl ? e + 1 : len;
		} else if (open && n >= open && blank(rest, rest_len)) {
			if (want) {
				*body = s + start;
				*body_len = i > start ? i - start : 0;
				return true;
			}
			open = 0;
		}
		i = nl ? e + 1 : len;
	}
	if (open && want) {
		*body = s + start;
		*body_len = len - start;
		return true;
	}
	return false;
}

static int json_schema_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			       char **err)
{
	struct json_schema *p = priv;
	p->cfg = schema_cfg_compile(cfg, env, "json_schema", true, err);
	return p->cfg ? 0 : -1;
}

/* subject_name: what in's subject is, for reasons. */
static const char *subject_name(const struct grade_input *in)
{
	if (in->reply && in->subject == in->reply->raw)
		return "reply body";
	if (in->reply && in->subject == in->reply->content)
		return "content";
	return "value";
}

static void json_schema_grade(const void *priv, const struct grade_input *in,
			      struct grade_result *out)
{
	const struct json_schema *p = priv;
	const char *s = in->subject ? in->subject : "";
	size_t len = in->subject ? in->subject_len : 0;
	const char *what = subject_name(in);
	struct jsonschema_error errs[SCHEMA_ERRS_SHOWN];
	size_t n = 0;
	char *why = NULL;
	cJSON *doc = NULL;

	if (p->cfg->fenced) {
		if (!fenced_block(s, len, &s, &len)) {
			grade_fail(out, "no fenced JSON block");
			return;
		}
		what = "fenced block";
	}
	size_t lead = 0;
	while (lead < len && (unsigned char)s[lead] <= ' ')
		lead++;
	if (lead == len) {
		grade_fail(out, "%s is not JSON: it is empty", what);
		return;
	}
	doc = provider_json_parse(s, len, grade_secrets(in), &why);
	if (!doc && !p->cfg->fenced && strcmp(what, "value") == 0) {
		/* on: a pointer to a string that is not JSON text: the string
		 * itself is the value. */
		doc = cJSON_CreateString(s);
		free(why);
		why = NULL;
	}
	if (!doc) {
		grade_fail(out, "%s is not JSON: %s", what, why);
		free(why);
		return;
	}
	int rc = schema_cfg_validate(p->cfg, doc, in->rt ? in->rt->stop : NULL, errs,
				     ARRAY_SIZE(errs), &n);
	if (rc == 1) {
		grade_pass(out);
	} else if (rc == 0) {
		why = schema_cfg_errors(p->cfg, errs, n);
		grade_fail(out, "%s", why);
	} else {
		why = n ? schema_cfg_error(p->cfg, &errs[n - 1]) : xstrdup("validation failed");
		grade_error(out, "%s", why);
	}
	free(why);
	jsonschema_errors_release(errs, n);
	cJSON_Delete(doc);
}

static void json_schema_release(void *priv)
{
	struct json_schema *p = priv;
	schema_cfg_free(p->cfg);
}

const struct grader_ops grader_json_schema = {
	.name = "json_schema",
	.priv_size = sizeof(struct json_schema),
	.compile = json_schema_compile,
	.grade = json_schema_grade,
	.release = json_schema_release,
};
