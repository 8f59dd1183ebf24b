/* stub/stream.c: a reply's bytes as a list of segments, faults applied as
 * the events are appended. */
#include "stub/stream.h"

#include <stdlib.h>
#include <string.h>

#include "stub/api.h"
#include "util.h"

static const char stub_lorem[] = "lorem ipsum dolor sit amet ";

void stub_stream_init(struct stub_stream *st, const struct stub_stream_plan *plan,
		      const struct stub_api *api, const char *marker, size_t pad)
{
	memset(st, 0, sizeof(*st));
	st->plan = plan;
	st->api = api;
	st->marker = marker;
	st->pad = pad;
}

void stub_stream_release(struct stub_stream *st)
{
	for (size_t i = 0; i < st->nsegs; i++)
		free(st->segs[i].bytes);
	free(st->segs);
	st->segs = NULL;
	st->nsegs = 0;
}

/* Append len bytes: a copy of s, or filler when s is NULL. */
static void add_segment(struct stub_stream *st, const char *s, size_t len, bool blank)
{
	if (!len)
		return;
	if (st->nsegs == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 16;
		st->segs = xreallocarray(st->segs, st->cap, sizeof(*st->segs));
	}
	st->segs[st->nsegs++] = (struct stub_segment){
		.bytes = s ? xstrndup(s, len) : NULL,
		.len = len,
		.blank = blank,
	};
}

/* Append s[0..n), with the filler where the marker stands. */
static void add_text(struct stub_stream *st, const char *s, size_t n)
{
	const char *m = st->marker ? memmem(s, n, st->marker, strlen(st->marker)) : NULL;
	if (!m) {
		add_segment(st, s, n, false);
		return;
	}
	size_t before = (size_t)(m - s), after = before + strlen(st->marker);
	add_segment(st, s, before, false);
	add_segment(st, NULL, st->pad, false);
	add_segment(st, s + after, n - after, false);
}

static void end_event(struct stub_stream *st)
{
	if (st->nsegs)
		st->segs[st->nsegs - 1].event_end = true;
}

void stub_stream_body(struct stub_stream *st, cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!s)
		return;
	add_text(st, s, strlen(s));
	cJSON_free(s);
}

/* The bytes of one event: its event: line, its data line, the blank line. */
static char *framed(const char *type, const char *data, size_t len, size_t *out_len)
{
	struct buf b;
	buf_init(&b, 0);
	if (type)
		buf_addf(&b, "event: %s\n", type);
	buf_addstr(&b, "data: ");
	buf_add(&b, data, len);
	buf_addstr(&b, "\n\n");
	return buf_detach(&b, out_len);
}

/* Append an event whole, or with extra white space before its blank line. */
static void add_event(struct stub_stream *st, const char *type, const char *data, size_t len,
		      size_t extra)
{
	size_t n;
	char *f = framed(type, data, len, &n);
	add_text(st, f, n - 2);
	add_segment(st, NULL, extra, true);
	add_text(st, f + n - 2, 2);
	end_event(st);
	free(f);
}

void stub_stream_text(struct stub_stream *st, const char *type, const char *data,
		      bool terminal)
{
	if (st->ended)
		return;
	const struct stub_stream_plan *p = st->plan;
	size_t at = ++st->events, len = strlen(data), n;
	if (!p || p->fault == STUB_FAULT_NONE ||
	    (at != p->at && !(terminal && (p->at == 0 || p->at > at)))) {
		add_event(st, type, data, len, 0);
		return;
	}
	char *f, *e;
	const char *etype = NULL;
	cJSON *j;
	switch (p->fault) {
	case STUB_FAULT_NONE:
		break;
	case STUB_FAULT_CUT:
		f = framed(type, data, len, &n);
		add_text(st, f, n / 2);
		free(f);
		st->ended = true;
		break;
	case STUB_FAULT_MALFORMED:
		add_event(st, type, data, len / 2, 0);
		break;
	case STUB_FAULT_OVERSIZED:
		add_event(st, type, data, len, p->size);
		break;
	case STUB_FAULT_ERROR:
		j = st->api->stream_error(at, &etype);
		e = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		if (e)
			add_event(st, etype, e, strlen(e), 0);
		cJSON_free(e);
		st->ended = true;
		break;
	case STUB_FAULT_HANG:
		st->hang = true;
		/* fall through */
	case STUB_FAULT_CLOSE:
		st->ended = true;
		break;
	}
}

void stub_stream_event(struct stub_stream *st, const char *type, cJSON *j, bool terminal)
{
	char *s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (s)
		stub_stream_text(st, type, s, terminal);
	cJSON_free(s);
}

uint64_t stub_stream_size(const struct stub_stream *st)
{
	uint64_t n = 0;
	for (size_t i = 0; i < st->nsegs; i++)
		n += st->segs[i].len;
	return n;
}

bool stub_stream_more(const struct stub_stream *st)
{
	return st->seg < st->nsegs;
}

size_t stub_stream_read(struct stub_stream *st, char *out, size_t max, bool one_event)
{
	size_t n = 0;
	while (n < max && st->seg < st->nsegs) {
		const struct stub_segment *g = &st->segs[st->seg];
		size_t k = g->len - st->off < max - n ? g->len - st->off : max - n;
		if (g->bytes)
			memcpy(out + n, g->bytes + st->off, k);
		else
			for (size_t i = 0; i < k; i++)
				out[n + i] = g->blank ? ' '
						      : stub_lorem[(st->off + i) %
								   (sizeof(stub_lorem) - 1)];
		n += k;
		st->off += k;
		if (st->off < g->len)
			continue;
		st->seg++;
		st->off = 0;
		if (one_event && g->event_end)
			break;
	}
	return n;
}
