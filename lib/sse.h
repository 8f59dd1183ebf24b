/* sse.h: an incremental parser of server-sent event streams
 * (text/event-stream), by the WHATWG EventSource parsing rules.
 *
 * Bytes are pushed in chunks of any size, as libcurl's write callback
 * delivers them; each complete event is handed to a callback at once, in
 * one pass over the bytes.  Lines end with CRLF, LF or CR (a CRLF split
 * between two chunks is one line end); one leading byte order mark is
 * skipped; lines starting with ':' are comments; a line without a colon is
 * a field with an empty value; one space after the colon is dropped; the
 * fields are event, data (lines joined by "\n") and id, and the others
 * (retry among them) are ignored; a blank line dispatches the event, unless
 * it has no data line.  Comments and ignored fields are never held.
 *
 * An event may hold at most max_event bytes (its data and its type): one
 * larger is an error naming it.  At the end of the input, bytes after the
 * last event that do not make a whole event (a line without its end, or
 * fields without their blank line) are a cut stream, also an error.
 *
 *     struct sse p;
 *     sse_init(&p, max_reply, on_event, ctx);
 *     ... sse_feed(&p, chunk, n, &err) for each chunk ...
 *     rc = sse_finish(&p, &err);
 *     sse_release(&p);
 *
 * Ownership: the parser owns its buffers until sse_release(); an event's
 * strings are lent to the callback and live only until it returns.  The
 * data of an event that lies whole in the chunk being fed is not copied.
 */
#ifndef CANARY_SSE_H
#define CANARY_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* One event; no string is NUL-terminated: use the lengths. */
struct sse_event {
	unsigned long index;   /* 1 for the first event dispatched */
	const char *type;      /* the event: field, or "message" when it has none */
	size_t type_len;
	const char *data;      /* the data lines joined by "\n" */
	size_t data_len;
	const char *id;        /* the last event id the stream set, "" when none */
	size_t id_len;
};

/* sse_event_fn: take one event; a negative return stops the stream with
 * *err (the message the feed returns). */
typedef int sse_event_fn(void *ctx, const struct sse_event *ev, char **err);

/* The parser's state; callers read only events. */
struct sse {
	unsigned long events;  /* events dispatched so far */
	sse_event_fn *on_event;
	void *ctx;
	size_t max;            /* the most one event may hold */
	int state;             /* where in a line the next byte falls */
	int field;             /* the field of the line being read */
	char name[8];          /* the field name read so far */
	size_t name_len;
	size_t value_len;      /* bytes of the line's value read so far */
	unsigned char head[3]; /* the first bytes, while they may be a byte order mark */
	size_t nhead;
	bool started;          /* past the byte order mark */
	bool cr;               /* the last byte was CR: an LF next ends no line */
	bool failed;
	bool pending;          /* a field of an event not dispatched yet */
	bool has_data;         /* the event has a data line */
	bool type_done;        /* the event's event: line is whole */
	size_t size;           /* the event's bytes: data and type */
	size_t tail;           /* bytes since the last blank line */
	const char *ref;       /* the data, while it lies whole in the chunk being fed */
	size_t ref_len;
	struct buf data;
	struct buf type;
	struct buf id;         /* the last event id */
	struct buf id_line;    /* the id field being read */
};

/* sse_init: a parser calling on_event(ctx, ...) for each event, holding at
 * most max_event (> 0) bytes per event. */
void sse_init(struct sse *p, size_t max_event, sse_event_fn *on_event, void *ctx);
/* sse_feed: parse the next n bytes; -1 and *err on an event over the
 * limit or when the callback failed, after which the parser fails every
 * call. */
int sse_feed(struct sse *p, const void *bytes, size_t n, char **err);
/* sse_finish: the end of the input; -1 and *err when the stream was cut
 * inside an event ("the stream ended inside event 4 ('content_block_delta'),
 * 31 bytes after the last whole event"). */
int sse_finish(struct sse *p, char **err);
void sse_release(struct sse *p);

#endif
