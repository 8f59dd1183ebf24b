/* provider.h: the agent APIs canary speaks, as a table of implementations.
 *
 * A provider builds a request body for one case and extracts the content and
 * tool calls from a reply; one the judge can use also builds the judge's
 * request and reads its answer.  The implementations live in providers/,
 * one file each, and provider_table[] (providers/providers.c) lists them:
 * the API names come from there and nowhere else.
 *
 * Like an mpv audio output, a provider declares the private state a target
 * of its API holds (priv_size) and the target keys it takes (options[]);
 * the suite loader allocates that state, reads and checks the options into
 * it (errors with file:line:col) and calls load().  The provider only
 * implements.
 *
 * Ownership: a target's private state belongs to the target until
 * provider_priv_free(); build() and judge_build() return a body the caller
 * frees; parse() fills the reply's content and tool calls, which the reply
 * owns and reply_release() frees together with raw and json, and its token
 * usage.
 */
#ifndef CANARY_PROVIDER_H
#define CANARY_PROVIDER_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "template.h"
#include "util.h"

struct buf;
struct judge_config;
struct redact;
struct sse_event;
struct target;
struct suite_case;
struct ynode;

struct tool_call {
	char *id;            /* NULL when the API gives none */
	char *name;
	char *arguments_raw; /* the arguments as sent (JSON text) */
	cJSON *arguments;    /* parsed, or NULL when arguments_raw is not JSON */
};

/* Token counts a reply declares; each is -1 where the API gave none. */
struct usage { long long input, output, total, cached, reasoning; };

struct reply {
	long status;           /* HTTP status */
	char *raw;             /* the response body, NUL-terminated */
	size_t raw_len;
	cJSON *json;           /* raw parsed as JSON, or NULL */
	char *content;         /* the text answer ("" when there is none) */
	size_t content_len;    /* its bytes: a plain-text answer may hold NUL bytes */
	struct tool_call *tool_calls;
	size_t ntool_calls;
	char *fingerprint;     /* NULL when not configured or absent */
	double latency_ms;
	struct usage usage;    /* read by parse(), kept when the reply is an error */
	double ttft_ms;        /* a streamed reply: time to its first token; -1 otherwise */
	const struct redact *redact; /* borrowed: secrets no reason may quote (NULL: none) */
};

void reply_release(struct reply *r);

/* How the suite loader reads an option, and what it stores for it. */
enum provider_option_kind {
	/* any YAML value, as JSON whose strings are target templates: cJSON * */
	PROVIDER_OPTION_TEMPLATE,
	/* a JSON pointer: char * */
	PROVIDER_OPTION_POINTER,
	/* a mapping of the options in sub; it stores nothing itself */
	PROVIDER_OPTION_MAP,
};

/* A target key an API takes: an unknown key, a missing required one or a
 * value of the wrong kind is a suite error with file:line:col. */
struct provider_option {
	const char *name;
	enum provider_option_kind kind;
	size_t offset;                      /* where the value goes in the private state */
	bool required;
	const char *example;                /* POINTER: one an error shows, "/reply/text" */
	const struct provider_option *sub;  /* MAP: its options, ending with a NULL name */
	/* MAP: the name of a POINTER option of sub that a scalar value sets, as
	 * if written {shorthand: value} (NULL: a mapping only). */
	const char *shorthand;
};

struct provider {
	const char *name;      /* the suite's api: value */
	/* priv_size: the private state of a target of this API (0: none);
	 * options: its target keys, stored there (NULL: none). */
	size_t priv_size;
	const struct provider_option *options;
	/* load: once the options are read, fill defaults and check them
	 * together; errors name n, the target's mapping.  NULL: nothing to do. */
	int (*load)(void *priv, const struct ynode *n, char **err);
	/* release: free what load added to priv (provider_priv_free() frees
	 * the options).  NULL: nothing to free. */
	void (*release)(void *priv);
	/* headers: fixed headers the API needs ("anthropic-version: ..."), NULL-terminated. */
	const char *const *headers;
	/* roles: the message roles the API takes (NULL: every role);
	 * system_first: it takes system messages only before the others. */
	const char *const *roles;
	bool system_first;
	/* own_body: the body is all the target's own (http): no request: is
	 * merged into it, and a target of this API takes none. */
	bool own_body;
	/* build: the JSON body for case c on target t (http: the rendered body
	 * template), t->priv being its private state; NULL and *err on failure. */
	char *(*build)(const struct target *t, const struct suite_case *c,
		       const struct tmpl_ctx *ctx, char **err);
	/* parse: fill r->content and r->tool_calls from r->json / r->raw of a 2xx
	 * reply to a target with private state priv (NULL for the judge); -1
	 * and *err (a reason for an error sample) when the reply does not have
	 * the API's shape. */
	int (*parse)(const void *priv, struct reply *r, char **err);
	/* append: add to conv, the conversation build() sends as the case's
	 * messages (a JSON array), the assistant's parsed reply r and, when
	 * results is not NULL, results[i] answering r->tool_calls[i] (each
	 * call has an id), in the API's own form.  NULL: a conversation on this
	 * API is an error sample. */
	void (*append)(cJSON *conv, const struct reply *r, const char *const *results);
	/* own_tools: the agent runs its own tools (http): the tool calls of a
	 * reply are a trace to grade, never answered, and a turn ends with the
	 * reply. */
	bool own_tools;
	/* api_error: a readable reason for a non-2xx reply ("429 rate_limit_error:
	 * slow down"); never NULL. */
	char *(*api_error)(const struct reply *r);
	/* plain_text: whether a 2xx reply that is not JSON is the plain-text
	 * answer (its content is the body) of a target with private state priv,
	 * rather than an error; NULL: never. */
	bool (*plain_text)(const void *priv);
	/* judge_build: the judge's request body with these system and user
	 * messages and j's model, temperature and max_tokens; NULL: the judge
	 * cannot use this API. */
	char *(*judge_build)(const struct judge_config *j, const char *system, const char *user);
	/* judge_refusal: how the judge's parsed reply r refuses to judge, or
	 * NULL when it does not: the judge's own words (borrowed from r; *quote
	 * is set) or the API's mark of a refusal ("stop_reason refusal").  NULL:
	 * the API has no refusal of its own. */
	const char *(*judge_refusal)(const struct reply *r, bool *quote);
	/* Streaming (NULL stream_event: the API cannot stream; build() asks
	 * for a stream when suite_streams() says so).  stream_size: the state
	 * of one streamed reply, allocated zeroed; stream_event: fold event ev
	 * into st: 1 when it carried a token (text, refusal or tool arguments),
	 * 0 when not, -1 and *err (the API's reason, or why ev is not the
	 * API's) to end the stream as an error; stream_end: the reply body the
	 * API would have sent whole, assembled in st (the caller owns it), or
	 * NULL and *err when the stream ended before its last event ("no
	 * message_stop"); stream_release: free what st holds.  priv is the
	 * target's private state (NULL: none); can_stream: whether a target
	 * with private state priv can stream (NULL: every one). */
	size_t stream_size;
	int (*stream_event)(void *st, const void *priv, const struct sse_event *ev, char **err);
	cJSON *(*stream_end)(void *st, const void *priv, char **err);
	void (*stream_release)(void *st);
	bool (*can_stream)(const void *priv);
};

/* provider_table: every provider, NULL-terminated; the first is the
 * default api. */
extern const struct provider *const provider_table[];

const struct provider *provider_find(const char *name);

/* provider_names: the names of the table (only those the judge can use,
 * when judge), NULL-terminated; the caller frees the array. */
const char **provider_names(bool judge);

/* provider_priv_free: free a target's private state of api p: what
 * release() frees, then every option (NULL: nothing). */
void provider_priv_free(const struct provider *p, void *priv);

/* provider_role_fault: why api p cannot send a message of role, or NULL;
 * after_others: messages of other roles than system come before it.  The
 * caller frees the reason. */
char *provider_role_fault(const struct provider *p, const char *role, bool after_others);

/* provider_parse_reply: parse raw into r->json (when JSON) and, for a 2xx,
 * let p extract content, tool calls and usage (each count -1 until read)
 * as for a target with private state priv (NULL for the judge).  -1 and
 * *err when the reply cannot be used (not JSON, wrong shape, non-2xx: the
 * API's reason); the usage read stays, as the tokens were spent. */
int provider_parse_reply(const struct provider *p, const void *priv, struct reply *r,
			 char **err);

/* One streamed reply on its way: what the API's events assembled so far
 * and when the first token came.  The stream owns its state until
 * provider_stream_free(). */
struct provider_stream;

/* provider_can_stream: whether a target of api p with private state priv
 * can stream. */
bool provider_can_stream(const struct provider *p, const void *priv);

/* provider_stream_new: a stream of api p to a target with private state
 * priv, which can stream; the reasons it gives mask rd's secrets (priv and
 * rd are borrowed; NULL: none). */
struct provider_stream *provider_stream_new(const struct provider *p, const void *priv,
					   const struct redact *rd);

/* provider_stream_event: fold event ev, which arrived elapsed_ms after the
 * request started; -1 and *err ("event 7 ('error'): stream error
 * overloaded_error: Overloaded", one line of at most PROVIDER_REASON_MAX
 * bytes after the event's name) when it ends the stream as an error. */
int provider_stream_event(struct provider_stream *s, const struct sse_event *ev,
			  double elapsed_ms, char **err);

/* provider_stream_end: once the event stream is over, the reply it makes:
 * r->raw and r->json the body the API would have sent whole, r->ttft_ms;
 * -1 and *err when it did not finish ("the stream ended after event 4
 * ('content_block_delta') without message_stop"). */
int provider_stream_end(struct provider_stream *s, struct reply *r, char **err);

void provider_stream_free(struct provider_stream *s);

/* A part of a streamed reply being assembled (a choice, a content block, an
 * output item, a tool call), found by its keys (e.g. a choice's index and a
 * tool call's); its text and args gather the fragments.  Parts belong to
 * their list until stream_parts_release(). */
struct stream_part {
	long key[2];
	cJSON *item;           /* its skeleton, or NULL */
	bool whole;            /* item is final: the fragments are in it */
	struct buf text;
	struct buf args;
};

struct stream_parts {
	struct stream_part *v;
	size_t n;
};

/* stream_parts_get: the part with keys k0 and k1, added (empty) when it is
 * new and add is true, else NULL. */
struct stream_part *stream_parts_get(struct stream_parts *ps, long k0, long k1, bool add);
void stream_parts_release(struct stream_parts *ps);
/* stream_part_order: qsort()'s order of parts by their keys. */
int stream_part_order(const void *a, const void *b);

/* stream_event_json: the data of ev as a JSON value; NULL and *err
 * ("malformed event: invalid JSON at byte 3", quoting none of it) when it
 * is not. */
cJSON *stream_event_json(const struct sse_event *ev, char **err);

/* stream_error_reason: "stream error <code or type>: <message>" of an
 * error event's JSON, whole (provider_stream_event() masks, folds and cuts
 * it). */
char *stream_error_reason(const cJSON *j);

/* stream_event_is: whether ev's type is type. */
bool stream_event_is(const struct sse_event *ev, const char *type);

/* provider_quota_exhausted: whether a 429 body says the quota is used up
 * (and so retrying cannot help). */
bool provider_quota_exhausted(const char *body, size_t len);

/* Helpers the providers share; the strings they return are the caller's. */

/* PROVIDER_REASON_MAX: the longest reason provider_api_error() returns. */
#define PROVIDER_REASON_MAX 300

/* provider_api_error: "<status> <type or code>: <message>" from the common
 * error shapes (OpenAI, Anthropic, {"error": "text"}, {"message": "text"}),
 * else "<status> <start of the body>", else "HTTP <status>"; always one line
 * of valid UTF-8, at most PROVIDER_REASON_MAX bytes.  What it quotes of the
 * reply has r->redact's secrets masked before it is folded and cut. */
char *provider_api_error(const struct reply *r);

/* provider_reason: "HEAD LABEL: MSG", "HEAD MSG", "HEAD LABEL" or "HEAD"
 * (label and msg may be NULL): a reason quoting label and msg, text of r's
 * reply, as provider_api_error() quotes its parts (r->redact's secrets
 * masked, one line, cut). */
char *provider_reason(const struct reply *r, const char *head, const char *label,
		      const char *msg);

/* provider_json_parse: the whole of s[0..len) as one JSON value; NULL and
 * *err (when err is not NULL) saying why not, e.g. "truncated: unexpected end
 * of input at byte 57", or "invalid JSON at byte 3 near '...'" quoting the
 * text with rd's secrets masked (rd may be NULL).  A raw NUL byte is never
 * JSON: a parser of C strings would stop at it. */
cJSON *provider_json_parse(const char *s, size_t len, const struct redact *rd, char **err);

/* provider_json_text: j as compact JSON text. */
char *provider_json_text(const cJSON *j);

/* provider_merge_request: copy every member of request (an object; anything
 * else is ignored) into body, replacing members of the same name. */
void provider_merge_request(cJSON *body, const cJSON *request);

/* provider_add_text: append to b the text of a message's content: a
 * string, or the text blocks of an array joined together. */
void provider_add_text(struct buf *b, const cJSON *content);

/* provider_message: a {"role", "content"} message. */
cJSON *provider_message(const char *role, const char *content);

/* A count an API's usage object declares: the JSON pointer to it inside
 * that object and the count of struct usage (offsetof) it adds to. */
struct usage_field {
	const char *at;
	size_t offset;
};

/* provider_read_usage: add each count of usage (NULL: none) that fields (ending with a NULL at) point to, a whole number
 * >= 0, to its count in r->usage (the first replacing -1). */
void provider_read_usage(struct reply *r, const cJSON *usage, const struct usage_field *fields);

/* reply_add_tool_call: append a tool call to r.  args is the arguments as
 * the API gave them: a string is taken as JSON text (arguments is NULL when
 * it does not parse), any other value is copied, NULL means none (""). */
struct tool_call *reply_add_tool_call(struct reply *r, const char *id, const char *name,
				      const cJSON *args);

#endif
