/* stub/stream.h: the bytes of one stub reply, a body or a stream of
 * server-sent events, with the faults a script asks for (inside lib/stub
 * only).
 *
 * An API appends its events in order; the stream counts them and gives
 * the event a fault falls on its fault (see enum stub_fault): cut, broken,
 * padded, replaced by the API's error event, or never sent.  Filler (a
 * `size:` answer's content, an oversized event's white space) is never
 * held: where the text of marker stands in an event or body, pad bytes of
 * filler are produced as the bytes are read.
 *
 * Ownership: the stream owns copies of what is appended, until
 * stub_stream_release(); the plan, the API and the marker are borrowed.
 */
#ifndef CANARY_STUB_STREAM_H
#define CANARY_STUB_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "stub/script.h"

struct stub_api;

struct stub_segment {
	char *bytes;           /* NULL: len bytes of filler */
	size_t len;
	bool blank;            /* filler: white space, not lorem ipsum */
	bool event_end;        /* the last segment of an event */
};

struct stub_stream {
	const struct stub_stream_plan *plan; /* NULL: a body, not a stream */
	const struct stub_api *api;
	const char *marker;    /* the text the filler stands for, or NULL */
	size_t pad;
	struct stub_segment *segs;
	size_t nsegs, cap;
	size_t events;         /* events appended, counted as faults count them */
	bool ended;            /* a fault ended the stream: later events are dropped */
	bool hang;             /* after the last byte, the connection stays open */
	size_t seg;            /* reading: the segment, and the offset in it */
	size_t off;
};

void stub_stream_init(struct stub_stream *st, const struct stub_stream_plan *plan,
		      const struct stub_api *api, const char *marker, size_t pad);
/* stub_stream_body: the whole reply body j (deleted here). */
void stub_stream_body(struct stub_stream *st, cJSON *j);
/* stub_stream_event: an event of type (NULL: none) whose data is j
 * (deleted here); terminal: the event that ends a whole stream. */
void stub_stream_event(struct stub_stream *st, const char *type, cJSON *j, bool terminal);
/* stub_stream_text: the same with data that is not JSON ("[DONE]"). */
void stub_stream_text(struct stub_stream *st, const char *type, const char *data,
		      bool terminal);
/* stub_stream_size: the bytes of the whole reply. */
uint64_t stub_stream_size(const struct stub_stream *st);
/* stub_stream_read: the next bytes, at most max, and not past the end of
 * an event when one_event; 0 at the end. */
size_t stub_stream_read(struct stub_stream *st, char *out, size_t max, bool one_event);
bool stub_stream_more(const struct stub_stream *st);
void stub_stream_release(struct stub_stream *st);

#endif
