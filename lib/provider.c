/* provider.c: the provider table, reply parsing and the helpers every API shares. */
#include "provider.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonptr.h"
#include "redact.h"
#include "sse.h"
#include "util.h"

/* How much of a body the quota check and the HTML title search look at. */
#define QUOTA_SCAN_MAX ((size_t)256 << 10)
#define TITLE_SCAN_MAX ((size_t)8 << 10)
/* How much of a body that is not an error object a reason quotes. */
#define BODY_QUOTE_MAX 120
/* How much of a body a "not JSON" reason quotes. */
#define SNIPPET_MAX 40

const struct provider *provider_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; provider_table[i]; i++)
		if (strcmp(provider_table[i]->name, name) == 0)
			return provider_table[i];
	return NULL;
}

const char **provider_names(bool judge)
{
	size_t n = 0, k = 0;
	const char **names;

	while (provider_table[n])
		n++;
	names = xcalloc(n + 1, sizeof(*names));
	for (size_t i = 0; i < n; i++)
		if (!judge || provider_table[i]->judge_build)
			names[k++] = provider_table[i]->name;
	return names;
}

/* free_options: free the values opts stored in priv. */
static void free_options(const struct provider_option *opts, void *priv)
{
	for (const struct provider_option *o = opts; o && o->name; o++) {
		void *slot = (char *)priv + o->offset;

		switch (o->kind) {
		case PROVIDER_OPTION_TEMPLATE:
			cJSON_Delete(*(cJSON **)slot);
			break;
		case PROVIDER_OPTION_POINTER:
			free(*(char **)slot);
			break;
		case PROVIDER_OPTION_MAP:
			free_options(o->sub, priv);
			break;
		}
	}
}

void provider_priv_free(const struct provider *p, void *priv)
{
	if (!priv)
		return;
	if (p->release)
		p->release(priv);
	free_options(p->options, priv);
	free(priv);
}

char *provider_role_fault(const struct provider *p, const char *role, bool after_others)
{
	bool known = !p->roles;

	for (size_t i = 0; !known && p->roles[i]; i++)
		known = strcmp(p->roles[i], role) == 0;
	if (!known)
		return xasprintf("role '%s' is not supported by api %s", role, p->name);
	if (p->system_first && after_others && strcmp(role, "system") == 0)
		return xasprintf("api %s takes system messages only before the others "
				 "(move it to the start)", p->name);
	return NULL;
}

/* reply_clear_parsed: free what parse() filled, keeping raw and json. */
static void reply_clear_parsed(struct reply *r)
{
	for (size_t i = 0; i < r->ntool_calls; i++) {
		struct tool_call *tc = &r->tool_calls[i];
		free(tc->id);
		free(tc->name);
		free(tc->arguments_raw);
		cJSON_Delete(tc->arguments);
	}
	free(r->tool_calls);
	r->tool_calls = NULL;
	r->ntool_calls = 0;
	free(r->content);
	r->content = NULL;
	r->content_len = 0;
}

void reply_release(struct reply *r)
{
	if (!r)
		return;
	reply_clear_parsed(r);
	free(r->raw);
	cJSON_Delete(r->json);
	free(r->fingerprint);
	memset(r, 0, sizeof(*r));
}

struct tool_call *reply_add_tool_call(struct reply *r, const char *id, const char *name,
				      const cJSON *args)
{
	size_t n = r->ntool_calls;
	struct tool_call *tc;

	/* The capacity is the next power of two, so appending stays linear. */
	if ((n & (n - 1)) == 0)
		r->tool_calls = xreallocarray(r->tool_calls, n ? 2 * n : 1, sizeof(*tc));
	tc = &r->tool_calls[r->ntool_calls++];
	memset(tc, 0, sizeof(*tc));
	tc->id = id ? xstrdup(id) : NULL;
	tc->name = xstrdup(name ? name : "");
	if (cJSON_IsString(args)) {
		tc->arguments_raw = xstrdup(args->valuestring);
		tc->arguments = provider_json_parse(tc->arguments_raw,
						    strlen(tc->arguments_raw), NULL, NULL);
	} else if (args) {
		tc->arguments_raw = provider_json_text(args);
		tc->arguments = cJSON_Duplicate(args, 1);
	} else {
		tc->arguments_raw = xstrdup("");
	}
	return tc;
}

void provider_read_usage(struct reply *r, const cJSON *usage, const struct usage_field *fields)
{
	for (const struct usage_field *f = fields; f->at; f++) {
		const cJSON *v = jsonptr_get(usage, f->at);
		long long *count = (long long *)((char *)&r->usage + f->offset);

		/* 2^53: where a double stops holding every whole number. */
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
		    v->valuedouble != (double)(long long)v->valuedouble)
			continue;
		*count = (*count < 0 ? 0 : *count) + (long long)v->valuedouble;
	}
}

char *provider_json_text(const cJSON *j)
{
	char *p = cJSON_PrintUnformatted(j);
	char *s;

	/* cJSON allocates with malloc: printing a valid tree fails only when
	 * memory runs out, which aborts like xmalloc does. */
	if (!p)
		abort();
	s = xstrdup(p);
	cJSON_free(p);
	return s;
}

void provider_add_text(struct buf *b, const cJSON *content)
{
	const cJSON *block;

	if (cJSON_IsString(content)) {
		buf_addstr(b, content->valuestring);
		return;
	}
	cJSON_ArrayForEach(block, content) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(block, "text");

		if (cJSON_IsString(text))
			buf_addstr(b, text->valuestring);
	}
}

cJSON *provider_message(const char *role, const char *content)
{
	cJSON *m = cJSON_CreateObject();

	cJSON_AddStringToObject(m, "role", role);
	cJSON_AddStringToObject(m, "content", content);
	return m;
}

void provider_merge_request(cJSON *body, const cJSON *request)
{
	const cJSON *m;

	if (!cJSON_IsObject(request))
		return;
	cJSON_ArrayForEach(m, request) {
		cJSON *copy;

		if (!m->string)
			continue;
		copy = cJSON_Duplicate(m, 1);
		if (cJSON_GetObjectItemCaseSensitive(body, m->string))
			cJSON_ReplaceItemInObjectCaseSensitive(body, m->string, copy);
		else
			cJSON_AddItemToObject(body, m->string, copy);
	}
}


/* add_line: append s[0..n) to b as one line of valid UTF-8 (whitespace and
 * control runs become one space, invalid bytes '?'), cutting with "..." so
 * that b stays within max bytes; more: text follows s, so it ends in "...". */
static void add_line(struct buf *b, const char *s, size_t n, size_t max, bool more)
{
	const unsigned char *p = (const unsigned char *)s;
	bool emitted = false, space = false;
	size_t i = 0;

	while (i < n) {
		size_t len = 1;

		if (p[i] <= ' ' || p[i] == 0x7f) {
			space = emitted;
			i++;
			continue;
		}
		if (p[i] >= 0x80)
			len = util_utf8_len(p + i, n - i);
		if (b->len + (space ? 1 : 0) + (len ? len : 1) + 3 > max) {
			buf_addstr(b, "...");
			return;
		}
		if (space)
			buf_addch(b, ' ');
		space = false;
		emitted = true;
		if (len)
			buf_add(b, p + i, len);
		else
			buf_addch(b, '?');
		i += len ? len : 1;
	}
	if (more)
		buf_addstr(b, "...");
}

/* add_quote: s[from..to) of the text s[0..n) as add_line() adds it, with
 * rd's secrets masked first (so that no cut or fold hides one from it);
 * only as much of it as max leaves room for is looked at. */
static void add_quote(struct buf *b, const struct redact *rd, const char *s, size_t n,
		      size_t from, size_t to, size_t max)
{
	size_t len, take = to - from > 4 * max ? 4 * max : to - from;
	char *clean = redact_span(rd, s, n, from, from + take, &len);
	add_line(b, clean, len, max, from + take < to);
	free(clean);
}

/* find_nocase: the first case-insensitive occurrence of the lowercase
 * needle in s[0..n), or NULL. */
static const char *find_nocase(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; k && i + k <= n; i++)
		if ((s[i] | 0x20) == (needle[0] | 0x20) && strncasecmp(s + i, needle, k) == 0)
			return s + i;
	return NULL;
}

bool provider_quota_exhausted(const char *body, size_t len)
{
	static const char *const phrases[] = {
		"insufficient_quota",
		"exceeded your current quota",
		"quota exceeded",
		"quota_exceeded",
		"billing hard limit",
		"billing_hard_limit",
		"credit balance is too low",
		NULL,
	};

	if (!body)
		return false;
	if (len > QUOTA_SCAN_MAX)
		len = QUOTA_SCAN_MAX;
	for (size_t i = 0; phrases[i]; i++)
		if (find_nocase(body, len, phrases[i]))
			return true;
	return false;
}

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* error_fields: the label (code or type) and message of an error body. */
static void error_fields(const cJSON *j, long status, const char **label, const char **msg,
			 char num[32])
{
	const cJSON *e, *code;

	*label = NULL;
	*msg = NULL;
	if (!cJSON_IsObject(j))
		return;
	e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (cJSON_IsString(e) && e->valuestring[0])
		*msg = e->valuestring;
	else if (cJSON_IsObject(e))
		j = e;
	if (!*msg)
		*msg = json_str(j, "message");
	if (!*msg)
		*msg = json_str(j, "detail");
	if (!*msg)
		*msg = json_str(j, "error_description");
	*label = json_str(j, "code");
	if (!*label && json_str(j, "type") && strcmp(json_str(j, "type"), "error") != 0)
		*label = json_str(j, "type");
	if (!*label)
		*label = json_str(j, "status");
	code = cJSON_GetObjectItemCaseSensitive(j, "code");
	if (!*label && cJSON_IsNumber(code) && code->valuedouble != (double)status &&
	    code->valuedouble > -1e15 && code->valuedouble < 1e15) {
		snprintf(num, 32, "%.0f", code->valuedouble);
		*label = num;
	}
	if (*label && !*msg) {
		*msg = *label;
		*label = NULL;
	}
}

/* html_title: the text of an HTML page's <title>, or NULL. */
static const char *html_title(const char *s, size_t n, size_t *len)
{
	const char *p, *end;

	if (n > TITLE_SCAN_MAX)
		n = TITLE_SCAN_MAX;
	p = find_nocase(s, n, "<title");
	if (!p)
		return NULL;
	end = memchr(p, '>', n - (size_t)(p - s));
	if (!end)
		return NULL;
	p = end + 1;
	while (p < s + n && (unsigned char)*p <= ' ')
		p++;
	end = find_nocase(p, n - (size_t)(p - s), "</title");
	if (!end || end == p)
		return NULL;
	*len = (size_t)(end - p);
	return p;
}

/* add_label_msg: " LABEL: MSG" or " MSG" (either may be NULL), quoted from
 * r's reply as every reason quotes it. */
static void add_label_msg(struct buf *b, const struct reply *r, const char *label,
			  const char *msg)
{
	if (label) {
		buf_addch(b, ' ');
		add_quote(b, r->redact, label, strlen(label), 0, strlen(label),
			  PROVIDER_REASON_MAX / 2);
		if (msg)
			buf_addch(b, ':');
	}
	if (msg) {
		buf_addch(b, ' ');
		add_quote(b, r->redact, msg, strlen(msg), 0, strlen(msg), PROVIDER_REASON_MAX);
	}
}

char *provider_reason(const struct reply *r, const char *head, const char *label,
		      const char *msg)
{
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, head);
	add_label_msg(&b, r, label, msg);
	return buf_detach(&b, NULL);
}

char *provider_api_error(const struct reply *r)
{
	const cJSON *j = r->json;
	cJSON *own = NULL;
	const char *label, *msg, *raw = r->raw ? r->raw : "";
	size_t n = r->raw ? r->raw_len : 0;
	char num[32];
	struct buf b;

	if (!j && n)
		j = own = provider_json_parse(raw, n, NULL, NULL);
	error_fields(j, r->status, &label, &msg, num);
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addf(&b, "%ld", r->status);
	if (msg) {
		add_label_msg(&b, r, label, msg);
	} else {
		const char *title;
		size_t tlen, before;

		buf_addch(&b, ' ');
		before = b.len;
		title = html_title(raw, n, &tlen);
		/* "<title>502 Bad Gateway</title>" reads "502 Bad Gateway", not
		 * "502 502 Bad Gateway". */
		if (title && tlen > b.len && strncmp(title, b.data, b.len) == 0) {
			title += b.len;
			tlen -= b.len;
		}
		if (title)
			add_quote(&b, r->redact, raw, n, (size_t)(title - raw),
				  (size_t)(title - raw) + tlen, before + BODY_QUOTE_MAX);
		if (b.len == before)
			add_quote(&b, r->redact, raw, n, 0,
				  n < 4 * BODY_QUOTE_MAX ? n : 4 * BODY_QUOTE_MAX,
				  before + BODY_QUOTE_MAX);
		if (b.len == before) {
			buf_reset(&b);
			buf_addf(&b, "HTTP %ld", r->status);
		}
	}
	cJSON_Delete(own);
	return buf_detach(&b, NULL);
}

enum json_end {
	JSON_END_CLOSED, /* every string and bracket was closed */
	JSON_END_OPEN,   /* the text stops inside a value: it was cut off */
	JSON_END_BAD,    /* brackets that do not match */
	JSON_END_DEEP,   /* deeper than cJSON parses */
};

static bool json_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '+' || c == '.';
}

/* json_word_prefix: whether s[0..n) can begin a literal or a number. */
static bool json_word_prefix(const char *s, size_t n)
{
	static const char *const literals[] = {"true", "false", "null"};

	for (size_t i = 0; i < ARRAY_SIZE(literals); i++)
		if (n <= strlen(literals[i]) && strncmp(s, literals[i], n) == 0)
			return true;
	return strspn(s, "-+.eE0123456789") >= n;
}

/* json_scan: how a text that cJSON rejected ends; *at is where the last
 * token starts (JSON_END_OPEN) or where nesting got too deep. */
static enum json_end json_scan(const char *s, size_t len, size_t *at)
{
	char stack[CJSON_NESTING_LIMIT];
	size_t depth = 0, tok = 0, i;
	bool in_str = false, esc = false;

	for (i = 0; i < len; i++) {
		char c = s[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if ((unsigned char)c <= ' ')
			continue;
		if (c == '{' || c == '[') {
			if (depth == sizeof(stack)) {
				*at = i;
				return JSON_END_DEEP;
			}
			stack[depth++] = c;
		} else if (c == '}' || c == ']') {
			if (!depth || stack[depth - 1] != (c == '}' ? '{' : '['))
				return JSON_END_BAD;
			depth--;
		} else if (c == '"') {
			in_str = true;
		} else if (json_word_char(c) && i > 0 && json_word_char(s[i - 1])) {
			continue;
		}
		tok = i;
	}
	*at = tok;
	if (!in_str && !depth)
		return JSON_END_CLOSED;
	if (!in_str && json_word_char(s[tok])) {
		size_t n = 0;

		while (tok + n < len && json_word_char(s[tok + n]))
			n++;
		if (!json_word_prefix(s + tok, n))
			return JSON_END_BAD;
	}
	return JSON_END_OPEN;
}

/* json_failure: why cJSON stopped at byte fail of s[0..len), quoting the
 * text there with rd's secrets masked. */
static char *json_failure(const char *s, size_t len, size_t fail, const struct redact *rd)
{
	struct buf b;
	size_t at = 0;
	enum json_end end = json_scan(s, len, &at);

	if (end == JSON_END_DEEP)
		return xasprintf("nested deeper than %d levels at byte %zu",
				 CJSON_NESTING_LIMIT, at);
	if (end == JSON_END_OPEN && fail >= at)
		return xasprintf("truncated: unexpected end of input at byte %zu", len);
	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addf(&b, "invalid JSON at byte %zu near '", fail);
	add_quote(&b, rd, s, len, fail, len - fail < 4 * SNIPPET_MAX ? len : fail + 4 * SNIPPET_MAX,
		  b.len + SNIPPET_MAX);
	buf_addch(&b, '\'');
	if ((len >= 5 && strncmp(s, "data:", 5) == 0) || (len >= 6 && strncmp(s, "event:", 6) == 0))
		buf_addstr(&b, " (a server-sent event stream: set stream: true on the target)");
	return buf_detach(&b, NULL);
}

/* without_nul_escapes: a copy of s[0..len) in which every \u0000 escape is
 * \ufffd (as long), or NULL when s has none.  cJSON would end the string at
 * the NUL, hiding what follows it from every grader. */
static char *without_nul_escapes(const char *s, size_t len)
{
	static const char nul[] = "\\u0000";
	char *copy = NULL;
	size_t i = 0;

	while (i < len) {
		const char *p = memmem(s + i, len - i, nul, sizeof(nul) - 1);
		size_t at, run = 1;

		if (!p)
			break;
		at = (size_t)(p - s);
		/* An escape when an even number of backslashes precede it:
		 * \\u0000 is an escaped backslash and the text u0000. */
		while (run <= at && s[at - run] == '\\')
			run++;
		if (run % 2 == 1) {
			if (!copy) {
				copy = xmalloc(len + 1);
				memcpy(copy, s, len);
				copy[len] = '\0';
			}
			memcpy(copy + at, "\\ufffd", sizeof(nul) - 1);
		}
		i = at + sizeof(nul) - 1;
	}
	return copy;
}

cJSON *provider_json_parse(const char *s, size_t len, const struct redact *rd, char **err)
{
	const char *end = NULL;
	char *copy;
	cJSON *j;
	size_t at;

	at = 0;
	while (s && at < len && (unsigned char)s[at] <= ' ')
		at++;
	if (!s || at == len) {
		if (err)
			*err = xstrdup("empty body");
		return NULL;
	}
	if (memchr(s, '\0', len)) {
		if (err)
			*err = xasprintf("invalid JSON at byte %zu: a NUL byte",
					 (size_t)((const char *)memchr(s, '\0', len) - s));
		return NULL;
	}
	copy = without_nul_escapes(s, len);
	if (copy)
		s = copy;
	j = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	at = end && end >= s && end <= s + len ? (size_t)(end - s) : 0;
	if (!j) {
		if (err)
			*err = json_failure(s, len, at < len ? at : len - 1, rd);
		goto out;
	}
	while (at < len && (unsigned char)s[at] <= ' ')
		at++;
	if (at < len) {
		cJSON_Delete(j);
		j = NULL;
		if (err)
			*err = xasprintf("unexpected data after the JSON value at byte %zu", at);
	}
out:
	free(copy);
	return j;
}

int provider_parse_reply(const struct provider *p, const void *priv, struct reply *r,
			 char **err)
{
	char *why = NULL;
	int ret = -1;

	reply_clear_parsed(r);
	r->usage = (struct usage){-1, -1, -1, -1, -1};
	if (!r->json)
		r->json = provider_json_parse(r->raw, r->raw ? r->raw_len : 0, r->redact, &why);
	if (r->status < 200 || r->status > 299) {
		*err = p->api_error(r);
		goto out;
	}
	if (!r->json && !(p->plain_text && p->plain_text(priv))) {
		*err = xasprintf("reply is not JSON: %s", why);
		goto out;
	}
	if (p->parse(priv, r, err) < 0)
		goto out;
	if (!r->content)
		r->content = xstrdup("");
	if (!r->content_len)
		r->content_len = strlen(r->content);
	ret = 0;
out:
	if (ret < 0)
		reply_clear_parsed(r);
	free(why);
	return ret;
}

/* How much of an event's type a reason quotes. */
#define EVENT_TYPE_MAX 40

struct provider_stream {
	const struct provider *p;
	const void *priv;         /* the target's private state */
	const struct redact *rd;  /* secrets a reason may not quote */
	void *st;                 /* p->stream_size bytes */
	unsigned long events;     /* folded so far */
	char last_type[EVENT_TYPE_MAX + 1]; /* the type of the last one */
	double ttft_ms;           /* -1 until a token came */
};

bool provider_can_stream(const struct provider *p, const void *priv)
{
	return p->stream_event && (!p->can_stream || p->can_stream(priv));
}

struct provider_stream *provider_stream_new(const struct provider *p, const void *priv,
					   const struct redact *rd)
{
	struct provider_stream *s = xcalloc(1, sizeof(*s));

	s->p = p;
	s->priv = priv;
	s->rd = rd;
	s->st = xcalloc(1, p->stream_size ? p->stream_size : 1);
	s->ttft_ms = -1;
	return s;
}

/* event_type: ev's type, cut to fit a reason, into out. */
static void event_type(const struct sse_event *ev, char out[EVENT_TYPE_MAX + 1])
{
	size_t n = ev->type_len < EVENT_TYPE_MAX ? ev->type_len : EVENT_TYPE_MAX;

	memcpy(out, ev->type, n);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < ' ' || out[i] == 0x7f || out[i] == '\'')
			out[i] = '?';
}

int provider_stream_event(struct provider_stream *s, const struct sse_event *ev,
			  double elapsed_ms, char **err)
{
	char *why = NULL;
	int rc;

	s->events = ev->index;
	event_type(ev, s->last_type);
	rc = s->p->stream_event(s->st, s->priv, ev, &why);
	if (rc < 0) {
		/* Masked before it is folded and cut, as an API's reason is. */
		char *masked = redact_apply(s->rd, why);
		struct buf b;

		buf_init(&b, BUF_MAX_DEFAULT);
		buf_addf(&b, "event %lu ('%s'): ", ev->index, s->last_type);
		add_line(&b, masked, strlen(masked), b.len + PROVIDER_REASON_MAX, false);
		*err = buf_detach(&b, NULL);
		free(masked);
		free(why);
		return -1;
	}
	if (rc > 0 && s->ttft_ms < 0)
		s->ttft_ms = elapsed_ms;
	return 0;
}

int provider_stream_end(struct provider_stream *s, struct reply *r, char **err)
{
	char *why = NULL;
	cJSON *doc = s->p->stream_end(s->st, s->priv, &why);

	if (!doc) {
		if (s->events)
			*err = xasprintf("the stream ended after event %lu ('%s') without %s",
					 s->events, s->last_type, why);
		else
			*err = xasprintf("the stream ended without any event (no %s)", why);
		free(why);
		return -1;
	}
	cJSON_Delete(r->json);
	free(r->raw);
	r->json = doc;
	r->raw = provider_json_text(doc);
	r->raw_len = strlen(r->raw);
	r->ttft_ms = s->ttft_ms;
	return 0;
}

void provider_stream_free(struct provider_stream *s)
{
	if (!s)
		return;
	if (s->p->stream_release)
		s->p->stream_release(s->st);
	free(s->st);
	free(s);
}

struct stream_part *stream_parts_get(struct stream_parts *ps, long k0, long k1, bool add)
{
	struct stream_part *part;

	/* Parts come in order: the one sought is most often the last. */
	for (size_t i = ps->n; i-- > 0;)
		if (ps->v[i].key[0] == k0 && ps->v[i].key[1] == k1)
			return &ps->v[i];
	if (!add)
		return NULL;
	if ((ps->n & (ps->n - 1)) == 0)
		ps->v = xreallocarray(ps->v, ps->n ? 2 * ps->n : 1, sizeof(*ps->v));
	part = &ps->v[ps->n++];
	memset(part, 0, sizeof(*part));
	part->key[0] = k0;
	part->key[1] = k1;
	buf_init(&part->text, BUF_MAX_DEFAULT);
	buf_init(&part->args, BUF_MAX_DEFAULT);
	return part;
}

int stream_part_order(const void *a, const void *b)
{
	const struct stream_part *x = a, *y = b;

	if (x->key[0] != y->key[0])
		return x->key[0] < y->key[0] ? -1 : 1;
	return x->key[1] < y->key[1] ? -1 : x->key[1] > y->key[1];
}

void stream_parts_release(struct stream_parts *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		cJSON_Delete(ps->v[i].item);
		buf_release(&ps->v[i].text);
		buf_release(&ps->v[i].args);
	}
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

cJSON *stream_event_json(const struct sse_event *ev, char **err)
{
	char *why = NULL;
	cJSON *j = provider_json_parse(ev->data, ev->data_len, NULL, &why);
	char *quote;

	if (!j) {
		/* No quote of the text: secrets are masked in the reason later,
		 * and a cut quote may hold part of one. */
		if ((quote = strstr(why, " near '")))
			*quote = '\0';
		*err = xasprintf("malformed event: %s", why);
		free(why);
	}
	return j;
}

bool stream_event_is(const struct sse_event *ev, const char *type)
{
	return ev->type_len == strlen(type) && memcmp(ev->type, type, ev->type_len) == 0;
}

char *stream_error_reason(const cJSON *j)
{
	const char *label, *msg;
	char num[32];

	error_fields(j, 0, &label, &msg, num);
	return xasprintf("stream error%s%s%s%s", label ? " " : "", label ? label : "",
			 label && msg ? ": " : msg ? " " : "", msg ? msg : "");
}
