/* grader.c: compiling grader entries, running them, and the rules every
 * reason obeys. */
#include "grader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jsonptr.h"
#include "provider.h"
#include "redact.h"
#include "util.h"

/* Keys an entry may hold besides a grader's name. */
static const char *const entry_keys[] = { "use", "on" };

static const char *const grade_names[] = {
	[GRADE_PASS] = "pass",
	[GRADE_FAIL] = "fail",
	[GRADE_ERROR] = "error",
};

const char *grade_name(enum grade g)
{
	return (unsigned)g < ARRAY_SIZE(grade_names) ? grade_names[g] : grade_names[GRADE_ERROR];
}

int grade_parse(const char *name, enum grade *out)
{
	for (size_t g = 0; name && g < ARRAY_SIZE(grade_names); g++) {
		if (strcmp(name, grade_names[g]) == 0) {
			*out = (enum grade)g;
			return 0;
		}
	}
	return -1;
}

const struct grader_ops *grader_find(const char *name)
{
	if (!name)
		return NULL;
	for (const struct grader_ops *const *o = grader_table; *o; o++) {
		if (strcmp((*o)->name, name) == 0)
			return *o;
	}
	return NULL;
}

/* one_line: s[0..len) as one line of valid UTF-8 holding at most max_chars
 * characters and max_bytes bytes: a NUL as UTIL_NUL_SHOWN, other controls
 * as spaces, what else util_char_unsafe() names (C1 and bidirectional
 * controls, invalid UTF-8) as U+FFFD; when cut, or when more text follows
 * s, it ends in "..." (within max_bytes).  Applying it twice changes
 * nothing. */
static char *one_line(const char *s, size_t len, bool more, size_t max_chars, size_t max_bytes)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	size_t i = 0, chars = 0, cut = 0;
	while (i < len) {
		const unsigned char *u = (const unsigned char *)s + i;
		size_t n = util_utf8_len(u, len - i);
		const char *piece = s + i;
		size_t plen = n, adv = n;
		if (n == 1 && *u == '\0') {
			piece = UTIL_NUL_SHOWN;
			plen = sizeof(UTIL_NUL_SHOWN) - 1;
		} else if (n == 1 && util_char_unsafe(u, n)) {
			piece = " ";
		} else if (util_char_unsafe(u, n)) {
			piece = "\xef\xbf\xbd";
			plen = 3;
			adv = n ? n : 1;
		}
		if (chars + 1 > max_chars || b.len + plen > max_bytes)
			break;
		buf_add(&b, piece, plen);
		chars++;
		i += adv;
		if (b.len + 3 <= max_bytes)
			cut = b.len;
	}
	if (i < len || more) {
		if (b.len > cut) {
			b.len = cut;
			b.data[cut] = '\0';
		}
		buf_addstr(&b, "...");
	}
	return buf_detach(&b, NULL);
}

/* Bytes of a subject an excerpt, or of a reason, may show: characters of
 * up to four bytes each. */
#define EXCERPT_SCAN (4 * GRADE_EXCERPT_MAX)
#define REASON_SCAN (4 * GRADE_REASON_MAX)

char *grade_excerpt_at(const struct redact *rd, const char *s, size_t len, size_t from,
		       size_t to)
{
	if (!s)
		return xstrdup("");
	size_t shown = to - from > EXCERPT_SCAN ? EXCERPT_SCAN : to - from, n;
	char *clean = redact_span(rd, s, len, from, from + shown, &n);
	char *ex = one_line(clean, n, shown < to - from, GRADE_EXCERPT_MAX, (size_t)-1);
	free(clean);
	return ex;
}

char *grade_excerpt(const struct redact *rd, const char *s, size_t len)
{
	return grade_excerpt_at(rd, s, len, 0, s ? len : 0);
}

/* set_reason: the reason is kept as written; grade_result_tidy() masks
 * its secrets before it folds or cuts anything. */
static void set_reason(struct grade_result *out, enum grade grade, const char *fmt, va_list ap)
{
	out->grade = grade;
	out->score = 0;
	out->reason = xvasprintf(fmt, ap);
}

void grade_fail(struct grade_result *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_reason(out, GRADE_FAIL, fmt, ap);
	va_end(ap);
}

void grade_error(struct grade_result *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_reason(out, GRADE_ERROR, fmt, ap);
	va_end(ap);
}

void grade_pass(struct grade_result *out)
{
	out->grade = GRADE_PASS;
	out->score = 1;
	out->reason = NULL;
}

void grade_result_release(struct grade_result *r)
{
	if (!r)
		return;
	free(r->reason);
	r->reason = NULL;
}

/* unknown_grader: the error for a key that names no grader. */
static char *unknown_grader(const struct ynode *key)
{
	size_t n = 0;
	while (grader_table[n])
		n++;
	const char **names = xcalloc(n + ARRAY_SIZE(entry_keys) + 1, sizeof(*names));
	n = 0;
	for (size_t i = 0; grader_table[i]; i++)
		names[n++] = grader_table[i]->name;
	for (size_t i = 0; i < ARRAY_SIZE(entry_keys); i++)
		names[n++] = entry_keys[i];
	const char *hint = util_suggest(key->str, names);
	char *e = hint ? ynode_error(key, "unknown grader '%s' (did you mean '%s'?)", key->str,
				     hint)
		       : ynode_error(key, "unknown grader '%s'", key->str);
	free(names);
	return e;
}

/* no_grader: the error for an entry without a grader key, listing them. */
static char *no_grader(const struct ynode *entry)
{
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (size_t i = 0; grader_table[i]; i++)
		buf_addf(&b, "%s, ", grader_table[i]->name);
	buf_addstr(&b, "use");
	char *e = ynode_error(entry, "grader entry names no grader (one of %s)", b.data);
	buf_release(&b);
	return e;
}

static int parse_on(struct grader *g, const struct ynode *on, char **err)
{
	if (g->ops->whole_reply) {
		*err = ynode_error(on, "%s grades the whole reply and takes no 'on'", g->ops->name);
		return -1;
	}
	if (on->kind != YNODE_SCALAR || ynode_is_null(on)) {
		*err = ynode_error(on, "'on' must be content, raw or a JSON pointer such as /answer");
		return -1;
	}
	if (strcmp(on->str, "content") == 0) {
		g->on = GRADER_ON_CONTENT;
	} else if (strcmp(on->str, "raw") == 0) {
		g->on = GRADER_ON_RAW;
	} else if (on->str[0] == '/') {
		if (!jsonptr_valid(on->str) || strlen(on->str) != on->len) {
			*err = ynode_error(on, "bad JSON pointer '%s' in 'on' "
					   "(write '~' as ~0 and '/' inside a key as ~1)", on->str);
			return -1;
		}
		g->on = GRADER_ON_POINTER;
		g->on_pointer = xstrdup(on->str);
	} else {
		*err = ynode_error(on, "bad 'on' value '%s': expected content, raw or a JSON "
				   "pointer such as /answer", on->str);
		return -1;
	}
	return 0;
}

struct grader *grader_compile(const struct ynode *entry, const struct grader_env *env,
			      char **err)
{
	if (!entry) {
		*err = xstrdup("empty grader entry");
		return NULL;
	}
	if (entry->kind != YNODE_MAP) {
		*err = ynode_error(entry, "grader entry must be a mapping such as {regex: ...}, not %s",
				   ynode_kind_name(entry->kind));
		return NULL;
	}

	const struct ynode *key = NULL, *cfg = NULL, *on = NULL;
	for (size_t i = 0; i < entry->n; i++) {
		const struct ynode *k = entry->items[2 * i];
		if (strcmp(k->str, "on") == 0) {
			on = entry->items[2 * i + 1];
			continue;
		}
		if (!grader_find(k->str) && strcmp(k->str, "use") != 0) {
			*err = unknown_grader(k);
			return NULL;
		}
		if (key) {
			*err = ynode_error(k, "grader entry has two graders, '%s' and '%s'", key->str,
					   k->str);
			return NULL;
		}
		key = k;
		cfg = entry->items[2 * i + 1];
	}
	if (!key) {
		*err = no_grader(entry);
		return NULL;
	}
	const struct grader_ops *ops = grader_find(key->str);
	if (!ops) {
		*err = ynode_error(key, "'use' is not allowed here");
		return NULL;
	}

	int rc = -1;
	struct grader *g = xcalloc(1, sizeof(*g));
	g->ops = ops;
	g->label = xstrdup(ops->name);
	g->on = GRADER_ON_CONTENT;
	if (on && parse_on(g, on, err) < 0)
		goto out;
	g->priv = xcalloc(1, ops->priv_size ? ops->priv_size : 1);
	char *e = NULL;
	if (ops->compile && ops->compile(g->priv, cfg, env, &e) < 0) {
		*err = e ? e : ynode_error(cfg, "bad %s config", ops->name);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		grader_free(g);
		g = NULL;
	}
	return g;
}

/* grade_subject: run g's grader on the text s[0..len) of in's reply. */
static void grade_subject(const struct grader *g, const struct grade_input *in, const char *s,
			  size_t len, struct grade_result *out)
{
	struct grade_input sub = *in;
	sub.subject = s;
	sub.subject_len = len;
	g->ops->grade(g->priv, &sub, out);
}

/* grade_pointer: grade the value at g's pointer in the reply's content. */
static void grade_pointer(const struct grader *g, const struct grade_input *in,
			  struct grade_result *out)
{
	const char *content = in->reply->content ? in->reply->content : "";
	/* provider_json_parse: a \u0000 escape must not hide what follows it. */
	cJSON *doc = provider_json_parse(content, in->reply->content ? in->reply->content_len : 0,
					 NULL, NULL);
	if (!doc) {
		grade_fail(out, "content is not JSON");
		return;
	}
	const cJSON *v = jsonptr_get(doc, g->on_pointer);
	if (!v) {
		grade_fail(out, "%s not found in content", g->on_pointer);
	} else if (cJSON_IsString(v)) {
		grade_subject(g, in, v->valuestring, strlen(v->valuestring), out);
	} else {
		char *text = cJSON_PrintUnformatted(v);
		if (text)
			grade_subject(g, in, text, strlen(text), out);
		else
			grade_error(out, "cannot print %s of content", g->on_pointer);
		cJSON_free(text);
	}
	cJSON_Delete(doc);
}

void grader_run(const struct grader *g, const struct grade_input *in, struct grade_result *out)
{
	out->grade = GRADE_ERROR;
	out->score = 0;
	out->reason = NULL;
	const struct reply *r = in->reply;
	if (!r) {
		grade_error(out, "no reply to grade");
		return;
	}
	if (!g->ops->grade) {
		grade_error(out, "'%s' cannot grade synchronously", g->ops->name);
		return;
	}
	switch (g->on) {
	case GRADER_ON_CONTENT:
		grade_subject(g, in, r->content ? r->content : "", r->content ? r->content_len : 0,
			      out);
		break;
	case GRADER_ON_RAW:
		grade_subject(g, in, r->raw ? r->raw : "", r->raw ? r->raw_len : 0, out);
		break;
	case GRADER_ON_POINTER:
		grade_pointer(g, in, out);
		break;
	}
	grade_result_tidy(out, r->redact);
}

void grade_result_tidy(struct grade_result *out, const struct redact *rd)
{
	if (out->grade == GRADE_PASS) {
		free(out->reason);
		out->reason = NULL;
	} else if (!out->reason) {
		out->reason = xstrdup("no reason given");
	} else {
		/* Only the start of a long reason can show: mask just that. */
		size_t len = strlen(out->reason), take = len < REASON_SCAN ? len : REASON_SCAN, n;
		char *clean = redact_span(rd, out->reason, len, 0, take, &n);
		free(out->reason);
		out->reason = one_line(clean, n, take < len, (size_t)-1, GRADE_REASON_MAX);
		free(clean);
	}
}

void grader_free(struct grader *g)
{
	if (!g)
		return;
	if (g->priv && g->ops->release)
		g->ops->release(g->priv);
	free(g->priv);
	free(g->on_pointer);
	free(g->label);
	free(g);
}
