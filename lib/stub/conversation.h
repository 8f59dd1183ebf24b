/* stub/conversation.h: what the stub's rules see of a request, read from
 * any API's native form (inside lib/stub only).
 *
 * Each API's reader walks its messages in order and reports user turns,
 * assistant messages with the tool calls they made, and tool results;
 * stub_conversation_end() then settles the figures rules match on.
 *
 * Ownership: the conversation borrows the request's JSON (texts and names
 * point into it) and owns what it joined or gathered, until
 * stub_conversation_release().
 */
#ifndef CANARY_STUB_CONVERSATION_H
#define CANARY_STUB_CONVERSATION_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "util.h"

struct stub_text {
	const char *s;
	size_t len;
};

struct stub_tool_result {
	const char *call_id;
	const char *name;          /* the tool, from the call it answers; NULL: unknown */
	struct stub_text content;
};

struct stub_conversation {
	struct arena arena;
	struct stub_text last;     /* the last user turn's text, or the whole body */
	struct stub_text *earlier; /* the user turns before it */
	size_t nearlier;
	size_t turn;               /* user turns; 0 when the body holds no conversation */
	size_t step;               /* 1 + assistant messages since the last user turn */
	struct stub_tool_result *results; /* the tool results the request ends with */
	size_t nresults;
	/* The calls of the last assistant message: id, then name. */
	const char **calls;
	size_t ncalls;
	size_t cap_earlier, cap_results, cap_calls;
};

void stub_conversation_init(struct stub_conversation *c);
/* stub_conversation_user: a user turn whose content is a string or a list
 * of parts (their "text" strings are joined by newlines). */
void stub_conversation_user(struct stub_conversation *c, const cJSON *content);
/* stub_conversation_assistant: an assistant message begins. */
void stub_conversation_assistant(struct stub_conversation *c);
/* stub_conversation_call: the assistant message calls tool name as id
 * (either NULL: ignored). */
void stub_conversation_call(struct stub_conversation *c, const char *id, const char *name);
/* stub_conversation_result: a tool result for call id (may be NULL), its
 * content read as a user turn's. */
void stub_conversation_result(struct stub_conversation *c, const char *id, const cJSON *content);
/* stub_conversation_end: name each result's tool; with no conversation
 * read (have false), the whole body s[0..len) is the text rules match. */
void stub_conversation_end(struct stub_conversation *c, bool have, const char *s, size_t len);
void stub_conversation_release(struct stub_conversation *c);

#endif
