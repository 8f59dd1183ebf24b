/* stub/api.h: the agent APIs the stub speaks, one file each, and the
 * answer they all render (inside lib/stub only).
 *
 * An API reads a request's conversation in its native form, and writes an
 * answer as its reply body, as its stream of events, and as its error
 * bodies.  Adding one is a file defining `const struct stub_api
 * stub_api_NAME`, a line below and a line in stub_api_table[] (api.c).
 *
 * Ownership: an API's functions return cJSON the caller deletes; a
 * struct stub_reply only borrows.
 */
#ifndef CANARY_STUB_API_H
#define CANARY_STUB_API_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "stub/conversation.h"
#include "stub/script.h"

struct stub_stream;

/* One answer as every API renders it. */
struct stub_reply {
	enum stub_answer_kind kind;  /* STUB_TEXT (SIZE and ECHO too), STUB_REFUSAL or
				      * STUB_TOOL_CALLS */
	const char *text;            /* TEXT, REFUSAL: the whole text; TEXT: NULL for null */
	const struct stub_text *pieces; /* the text as a stream sends it, delta by delta */
	size_t npieces;
	const struct stub_tool_call *calls;
	const char *const *call_ids; /* each call's id, defaults numbered */
	size_t ncalls;
	const char *model;
	const char *fingerprint;     /* NULL: none */
	long number;                 /* numbers the reply's own ids */
	double created;              /* unix seconds */
	struct stub_usage usage;     /* declared, or counted from the bytes */
	const cJSON *request;
	bool include_usage;          /* openai-chat: stream_options.include_usage */
};

struct stub_api {
	const char *name;            /* as --api names it */
	const char *path;            /* the path that speaks it whatever --api says */
	const char *call_prefix;     /* of the default tool call ids */
	/* read: report the request's conversation to c; false when body holds
	 * none (then rules match the whole body). */
	bool (*read)(const cJSON *body, struct stub_conversation *c);
	/* reply: the body of a reply that is not streamed. */
	cJSON *(*reply)(const struct stub_reply *r);
	/* stream: the reply's events, appended to st in order. */
	void (*stream)(const struct stub_reply *r, struct stub_stream *st);
	/* stream_error: the data of the error event sent as event index (its
	 * type in *type, NULL for none). */
	cJSON *(*stream_error)(size_t index, const char **type);
	/* error: the body of an error status. */
	cJSON *(*error)(int status, const char *message);
};

extern const struct stub_api stub_api_openai_chat;
extern const struct stub_api stub_api_openai_responses;
extern const struct stub_api stub_api_anthropic_messages;

/* stub_api_table: every API, NULL-terminated; the first is the default. */
extern const struct stub_api *const stub_api_table[];

const struct stub_api *stub_api_find(const char *name);
/* stub_api_for_path: the API whose path this is, or NULL. */
const struct stub_api *stub_api_for_path(const char *path);

/* stub_json_str: o's member key when it is a string, else NULL. */
const char *stub_json_str(const cJSON *o, const char *key);
/* stub_json_list: o's member key when it is an array, else NULL. */
const cJSON *stub_json_list(const cJSON *o, const char *key);
/* stub_json_copy: a copy of o's member key, or null when it is absent. */
cJSON *stub_json_copy(const cJSON *o, const char *key);

/* A stream sends a text, or a call's arguments, in at most about this many
 * deltas: a longer one gets longer pieces, so that what a reply holds
 * stays in proportion to its text. */
#define STUB_MAX_PIECES 1024

/* stub_text_piece: the length of the next delta of text s[off..len): a
 * word with the spaces before it (several words in a long text). */
size_t stub_text_piece(const char *s, size_t len, size_t off);
/* stub_arguments_piece: the length of the next delta of tool arguments
 * s[off..len): a few bytes, ending on a UTF-8 character boundary. */
size_t stub_arguments_piece(const char *s, size_t len, size_t off);

#endif
