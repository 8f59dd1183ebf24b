/* evidence.h: log records, what an agent in production was asked and
 * answered, read into the shapes canary grades and sends.
 *
 * A log record is one JSON object on one line (docs/evidence.md):
 *
 *   {"request": PROVIDER_REQUEST, "response": PROVIDER_REPLY, "metadata": {...}}
 *
 * request and response are bodies of one agent API: openai-chat,
 * openai-responses or anthropic-messages.  metadata is free; canary reads
 * "api" (the API, when it cannot be told from the bodies), "status" (the
 * reply's HTTP status, 200 when absent), "latency_ms", "fingerprint", and
 * leaves the rest to whoever reads the record (replay's JSON pointers).
 *
 * Ownership: a struct evidence_record owns everything it points to (the
 * parsed line, its messages and its reply) until evidence_record_release().
 */
#ifndef CANARY_EVIDENCE_H
#define CANARY_EVIDENCE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "provider.h"

/* EVIDENCE_APIS: the APIs a log record may be in, NULL-terminated. */
extern const char *const evidence_apis[];

struct evidence_record {
	const struct provider *api; /* the API of request and response */
	cJSON *json;                /* the whole record */
	const cJSON *request;       /* in json: the request body as logged */
	const cJSON *response;      /* in json: the reply body as logged */
	const cJSON *metadata;      /* in json, or NULL when the record has none */
	/* messages: the request's conversation as a suite case's messages,
	 * [{"role": "system"|"user"|"assistant", "content": TEXT}], in order;
	 * turns with no text (tool calls and their results) are left out. */
	cJSON *messages;
	/* reply: the response as the API's provider parses it (status, raw,
	 * content, tool calls, latency and fingerprint from metadata), as if
	 * the target had answered it; reply_error says why it could not be
	 * parsed (an error reply, a wrong shape), NULL when it was. */
	struct reply reply;
	char *reply_error;
};

/* evidence_record_read: read one log record from line[0..len) (a trailing
 * newline is allowed).  api names the API (NULL: from metadata.api, else
 * from the shape of the bodies).  -1 and *err when the line is not a
 * record: not one JSON object, no request or response object, an unknown or
 * undecidable API, a request with no messages of that API's shape.  A reply
 * that does not parse is not an error here: see reply_error.  rd (may be
 * NULL) masks secrets in what *err and reply_error quote of the line. */
int evidence_record_read(const char *line, size_t len, const char *api, const struct redact *rd,
			 struct evidence_record *rec, char **err);

/* evidence_record_release: free what rec owns and zero it. */
void evidence_record_release(struct evidence_record *rec);

/* evidence_detect_api: the API whose shape request and response (either
 * may be NULL) have, or NULL when they match none or several. */
const struct provider *evidence_detect_api(const cJSON *request, const cJSON *response);

#endif
