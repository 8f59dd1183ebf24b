/* sse.c: server-sent events, parsed byte run by byte run as the WHATWG
 * EventSource rules say.
 *
 * A line is never gathered before it is read: the field name goes to a
 * few bytes of state, and the value straight to its buffer (data, type or
 * id) or nowhere (comments, ignored fields).  A data value that begins and
 * ends in the chunk being fed, as the first data line of its event, is only
 * pointed at; it is copied when a second data line comes or the chunk ends
 * before the event does.
 */
#include "sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SSE_START, SSE_NAME, SSE_SPACE, SSE_VALUE, SSE_SKIP };
enum { SSE_OTHER, SSE_EVENT, SSE_DATA, SSE_ID };

static const struct {
	const char *name;
	int field;
} sse_fields[] = {
	{"event", SSE_EVENT},
	{"data", SSE_DATA},
	{"id", SSE_ID},
};

static const unsigned char sse_bom[] = {0xef, 0xbb, 0xbf};

void sse_init(struct sse *p, size_t max_event, sse_event_fn *on_event, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->on_event = on_event;
	p->ctx = ctx;
	p->max = max_event ? max_event : 1;
	buf_init(&p->data, p->max);
	buf_init(&p->type, p->max);
	buf_init(&p->id, p->max);
	buf_init(&p->id_line, p->max);
}

void sse_release(struct sse *p)
{
	buf_release(&p->data);
	buf_release(&p->type);
	buf_release(&p->id);
	buf_release(&p->id_line);
}

/* "event 4" or "event 4 ('content_block_delta')" for the event being read,
 * once its event: line is whole (so any chunking names it alike). */
static char *pending_name(const struct sse *p)
{
	if (!p->type_done || !p->type.len)
		return xasprintf("event %lu", p->events + 1);
	return xasprintf("event %lu ('%.*s')", p->events + 1,
			 (int)(p->type.len < 64 ? p->type.len : 64), p->type.data);
}

static int fail_over_limit(struct sse *p, char **err)
{
	char *name = pending_name(p);
	*err = xasprintf("server-sent %s is larger than %zu bytes", name, p->max);
	free(name);
	p->failed = true;
	return -1;
}

/* Copy the data still pointed at into the parser's buffer. */
static void keep_ref(struct sse *p)
{
	if (!p->ref)
		return;
	buf_add(&p->data, p->ref, p->ref_len);
	p->ref = NULL;
}

/* Grow the event by n bytes, or fail when that passes the limit. */
static int grow(struct sse *p, size_t n, char **err)
{
	if (n > p->max - p->size)
		return fail_over_limit(p, err);
	p->size += n;
	return 0;
}

/* The line's field is known and its value begins. */
static int value_begin(struct sse *p, char **err)
{
	p->value_len = 0;
	switch (p->field) {
	case SSE_DATA:
		p->pending = true;
		if (p->has_data) {
			if (grow(p, 1, err) < 0)
				return -1;
			keep_ref(p);
			buf_addch(&p->data, '\n');
		}
		p->has_data = true;
		break;
	case SSE_EVENT:
		p->pending = true;
		p->size -= p->type.len;
		p->type_done = false;
		buf_reset(&p->type);
		break;
	case SSE_ID:
		p->pending = true;
		buf_reset(&p->id_line);
		break;
	}
	return 0;
}

/* Add s[0..n) to the line's value; at_end: the line ends right after. */
static int value_add(struct sse *p, const char *s, size_t n, bool at_end, char **err)
{
	bool whole = at_end && p->value_len == 0;
	p->value_len += n;
	switch (p->field) {
	case SSE_DATA:
		if (grow(p, n, err) < 0)
			return -1;
		if (whole && p->data.len == 0 && !p->ref) {
			p->ref = s;
			p->ref_len = n;
			return 0;
		}
		keep_ref(p);
		buf_add(&p->data, s, n);
		return 0;
	case SSE_EVENT:
		if (grow(p, n, err) < 0)
			return -1;
		buf_add(&p->type, s, n);
		return 0;
	case SSE_ID:
		if (n > p->max - p->id_line.len)
			return fail_over_limit(p, err);
		buf_add(&p->id_line, s, n);
		return 0;
	}
	return 0;
}

static void reset_event(struct sse *p)
{
	buf_reset(&p->data);
	buf_reset(&p->type);
	p->ref = NULL;
	p->has_data = false;
	p->type_done = false;
	p->pending = false;
	p->size = 0;
	p->tail = 0;
}

/* A blank line: hand the event over when it has data, and start anew. */
static int dispatch(struct sse *p, char **err)
{
	if (!p->has_data) {
		reset_event(p);
		return 0;
	}
	struct sse_event ev = {
		.index = ++p->events,
		.type = p->type.len ? p->type.data : "message",
		.type_len = p->type.len ? p->type.len : strlen("message"),
		.data = p->ref ? p->ref : p->data.data ? p->data.data : "",
		.data_len = p->ref ? p->ref_len : p->data.len,
		.id = p->id.data ? p->id.data : "",
		.id_len = p->id.len,
	};
	char *e = NULL;
	int rc = p->on_event(p->ctx, &ev, &e);
	reset_event(p);
	if (rc < 0) {
		*err = e ? e : xasprintf("server-sent event %lu was refused", ev.index);
		p->failed = true;
		return -1;
	}
	return 0;
}

/* The field whose name was read; anything longer than a known name is
 * ignored. */
static int field_of(const struct sse *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(sse_fields); i++)
		if (strlen(sse_fields[i].name) == p->name_len &&
		    memcmp(sse_fields[i].name, p->name, p->name_len) == 0)
			return sse_fields[i].field;
	return SSE_OTHER;
}

/* The line ends: finish what it began. */
static int line_end(struct sse *p, char **err)
{
	int state = p->state;
	p->state = SSE_START;
	switch (state) {
	case SSE_START:
		return dispatch(p, err);
	case SSE_NAME: /* a field without a colon: its value is empty */
		p->field = field_of(p);
		if (value_begin(p, err) < 0)
			return -1;
		/* fall through */
	case SSE_SPACE:
	case SSE_VALUE:
		p->type_done |= p->field == SSE_EVENT;
		if (p->field == SSE_ID && !memchr(p->id_line.data ? p->id_line.data : "", '\0',
						 p->id_line.len)) {
			struct buf t = p->id;
			p->id = p->id_line;
			p->id_line = t;
		}
		return 0;
	}
	return 0;
}

static bool is_eol(char c)
{
	return c == '\n' || c == '\r';
}

/* Parse s[0..n), the bytes after the byte order mark. */
static int parse(struct sse *p, const char *s, size_t n, char **err)
{
	size_t i = 0;
	while (i < n) {
		if (p->cr) {
			p->cr = false;
			if (s[i] == '\n') {
				i++;
				continue;
			}
		}
		size_t j = i;
		switch (p->state) {
		case SSE_START:
			if (!is_eol(s[i])) {
				p->state = s[i] == ':' ? SSE_SKIP : SSE_NAME;
				p->name_len = 0;
				continue;
			}
			break;
		case SSE_NAME:
			while (j < n && s[j] != ':' && !is_eol(s[j]))
				j++;
			if (j - i > sizeof(p->name) - p->name_len) {
				p->name_len = sizeof(p->name); /* longer than any field's */
			} else {
				memcpy(p->name + p->name_len, s + i, j - i);
				p->name_len += j - i;
			}
			if (j < n && s[j] == ':') {
				p->field = field_of(p);
				p->state = p->field == SSE_OTHER ? SSE_SKIP : SSE_SPACE;
				if (value_begin(p, err) < 0)
					return -1;
				p->tail += j + 1 - i;
				i = j + 1;
				continue;
			}
			break;
		case SSE_SPACE:
			if (!is_eol(s[i])) {
				p->state = SSE_VALUE;
				if (s[i] == ' ') {
					i++;
					p->tail++;
				}
				continue;
			}
			break;
		case SSE_VALUE:
			while (j < n && !is_eol(s[j]))
				j++;
			if (value_add(p, s + i, j - i, j < n, err) < 0)
				return -1;
			break;
		case SSE_SKIP:
			while (j < n && !is_eol(s[j]))
				j++;
			break;
		}
		p->tail += j - i;
		i = j;
		if (i < n) { /* s[i] ends the line */
			p->cr = s[i] == '\r';
			i++;
			p->tail++;
			if (line_end(p, err) < 0)
				return -1;
		}
	}
	return 0;
}

/* Skip one leading byte order mark, however the chunks split it. */
static int feed_start(struct sse *p, const unsigned char **s, size_t *n, char **err)
{
	while (!p->started && *n) {
		p->head[p->nhead++] = **s;
		(*s)++;
		(*n)--;
		if (memcmp(p->head, sse_bom, p->nhead) != 0) {
			p->started = true;
			return parse(p, (const char *)p->head, p->nhead, err);
		}
		p->started = p->nhead == sizeof(sse_bom);
	}
	return 0;
}

int sse_feed(struct sse *p, const void *bytes, size_t n, char **err)
{
	const unsigned char *s = bytes;
	if (p->failed) {
		*err = xstrdup("the event stream already failed");
		return -1;
	}
	if (feed_start(p, &s, &n, err) < 0 || parse(p, (const char *)s, n, err) < 0)
		return -1;
	keep_ref(p);
	return 0;
}

int sse_finish(struct sse *p, char **err)
{
	if (p->failed) {
		*err = xstrdup("the event stream already failed");
		return -1;
	}
	if (!p->started && p->nhead) {
		p->started = true;
		if (parse(p, (const char *)p->head, p->nhead, err) < 0)
			return -1;
		keep_ref(p);
	}
	if (p->state == SSE_START && !p->pending)
		return 0;
	char *name = pending_name(p);
	*err = xasprintf("the stream ended inside %s, %zu bytes after the last whole event", name,
			 p->tail);
	free(name);
	p->failed = true;
	return -1;
}
