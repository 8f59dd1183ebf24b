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
 * A saved sample is one JSON file per sample that `canary run
 * --save-replies DIR` writes (DIR/STRATUM/CASE/SIDE/INDEX.json): the
 * request as sent and the reply as received, redacted, with the sample's
 * grades.  `canary grade` and `canary promote` read it; its request and
 * reply are a log record (evidence_sample_record()).
 *
 * Ownership: a struct evidence_record owns everything it points to (the
 * parsed line, its messages and its reply) until evidence_record_release().
 * A struct evidence_sample to write borrows every string it points to; one
 * read owns them until evidence_sample_release().
 */
#ifndef CANARY_EVIDENCE_H
#define CANARY_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "provider.h"

/* EVIDENCE_APIS: the APIs a log record may be in, NULL-terminated. */
extern const char *const evidence_apis[];

struct evidence_record {
	/* api: the API of request and response; NULL for a span of an
	 * OpenTelemetry export (evidence_otel_read()), whose json is
	 * {"metadata": {...}} and has no request or response. */
	const struct provider *api;
	cJSON *json;                /* the whole record */
	const cJSON *request;       /* in json: the request body as logged */
	const cJSON *response;      /* in json: the reply body as logged */
	const cJSON *metadata;      /* in json, or NULL when the record has none */
	/* messages: the request's conversation as a suite case's messages,
	 * [{"role": "system"|"user"|"assistant", "content": TEXT}], in order;
	 * turns with no text (tool calls and their results) are left out. */
	cJSON *messages;
	/* calls: the tool calls of the request's history (the agent's earlier
	 * steps), in order; results: item i is the result the history gives
	 * call i, as a string (its text, else its JSON text), or null (or
	 * past the end) when it gives none. */
	struct reply calls;
	cJSON *results;
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

/* evidence_record_from_json: the same from a parsed record, which rec
 * takes (freed with it, or at once on failure). */
int evidence_record_from_json(cJSON *json, const char *api, const struct redact *rd,
			      struct evidence_record *rec, char **err);

/* evidence_record_release: free what rec owns and zero it. */
void evidence_record_release(struct evidence_record *rec);

/* evidence_detect_api: the API whose shape request and response (either
 * may be NULL) have, or NULL when they match none or several. */
const struct provider *evidence_detect_api(const cJSON *request, const cJSON *response);

/* evidence_record_result: the result of call id (NULL: none) that a tool
 * turn of the history gives in content (a string, text blocks, else any
 * JSON), recorded for the call of rec->calls with that id. */
void evidence_record_result(struct evidence_record *rec, const cJSON *id, const cJSON *content);

/* evidence_otel_read: the chat spans of an OpenTelemetry export in OTLP
 * JSON (resourceSpans[].scopeSpans[].spans[]): each span with a
 * gen_ai.input.messages attribute becomes a record (api NULL) with the
 * text turns of gen_ai.system_instructions and gen_ai.input.messages, the
 * tool_call and tool_call_response parts of the latter as its history, and
 * as its reply the text and tool_call parts of gen_ai.output.messages;
 * metadata holds time (the span's start), trace_id and span_id.  *recs
 * (the caller frees each with evidence_record_release(), then the array)
 * holds *n of them, in export order.  -1 and *err when text is not an
 * export. */
int evidence_otel_read(const char *text, size_t len, struct evidence_record **recs, size_t *n,
		       char **err);

/* What `canary promote` makes of a record. */
struct evidence_promote {
	const char *id;          /* the case's id */
	bool bad;                /* the reply is the failure: it must not happen */
	const char *source;      /* where the record came from, "incident.jsonl:3" */
};

/* evidence_case_id: an id for a case made of rec: "promoted-" and the
 * first words of its last user turn; the caller frees. */
char *evidence_case_id(const struct evidence_record *rec);

/* evidence_case_yaml: rec as one item of a YAML list of cases, at column
 * 0 (comments with its provenance first).  Its user turns: input: for a
 * lone user turn without tool calls in its history, else turns: (the
 * agent's own replies are left out: it gives them again; system turns
 * belong to the composition under test), with the results its history
 * gave each tool as tool_results: ("when" the call's arguments, when a
 * tool gave several; a placeholder for a tool whose result was not
 * logged).  As expect: every tool call, of the history then of the reply,
 * as trajectory: {calls, order: exact} (no_tool_call: true when there are
 * none) or, with o->bad, what must not happen again in its last turn
 * (no_tool_call of the tools the reply called, else not_contains of the
 * start of its answer).  NULL and *err when rec has no user turn.  The
 * caller frees. */
char *evidence_case_yaml(const struct evidence_record *rec, const struct evidence_promote *o,
			 char **err);

/* evidence_file_add_cases: text[0..len), the YAML of file name (a suite or
 * an included file, perhaps empty), with cases (items at column 0, as
 * evidence_case_yaml() makes them) added to stratum: appended to its cases,
 * or in a new stratum at the end of strata:, or in a new strata: at the end;
 * everything else is left as it is, comments included.  NULL and *err when
 * the text is not YAML or the place is written in flow style.  The caller
 * frees. */
char *evidence_file_add_cases(const char *text, size_t len, const char *name,
			      const char *stratum, const char *cases, char **err);

/* One grader's verdict in a saved sample. */
struct evidence_grade {
	const char *grader;     /* its label */
	const char *grade;      /* pass, fail or error */
	const char *reason;     /* NULL on a pass */
};

struct evidence_sample {
	const char *suite;
	const char *stratum;
	const char *case_id;
	const char *side;       /* eval or prod */
	int index;              /* repeat number, from 0 */
	const char *time;       /* when it finished, RFC 3339 */
	const char *api;        /* the target's api */
	const char *url;        /* the target's URL as reports show it */
	const char *request;    /* the body as sent, or NULL when none was built */
	char *const *request_headers; /* "Name: value" as sent */
	size_t nrequest_headers;
	long status;            /* 0 when no reply arrived */
	const char *body;       /* the reply body, or NULL when none arrived */
	size_t body_len;
	const char *header;     /* a reply header kept (the fingerprint's), or NULL */
	const char *header_value;
	double latency_ms;
	int attempts;
	const char *fingerprint; /* NULL when none */
	const char *grade;       /* pass, fail or error */
	const struct evidence_grade *grades;
	size_t ngrades;
	char *const *reasons;    /* why it failed or is an error */
	size_t nreasons;
	/* Read: the parsed file the strings point into, and the texts made. */
	cJSON *json;
	char *owned_request;
	char *owned_body;
};

/* evidence_sample_path: "STRATUM/CASE/SIDE/INDEX.json" for s, each name
 * with '/', '%', control characters and a leading '.' percent-encoded (so a
 * path never leaves DIR); the caller frees. */
char *evidence_sample_path(const struct evidence_sample *s);

/* evidence_sample_json: s as a saved sample's JSON; every string of the
 * request and the reply (headers, bodies) passes through rd first (rd's
 * secrets masked), and a body that is then JSON is kept as JSON, else as
 * text.  The caller frees. */
cJSON *evidence_sample_json(const struct evidence_sample *s, const struct redact *rd);

/* evidence_mkdirs: mkdir -p dir; -1 and *err when a part of it cannot be
 * made or is not a folder. */
int evidence_mkdirs(const char *dir, char **err);

/* evidence_sample_write: write s to DIR/evidence_sample_path(s), creating
 * the folders, atomically (a temporary file renamed); its path (DIR/...)
 * in *path (the caller's) when path is not NULL.  -1 and *err on failure. */
int evidence_sample_write(const char *dir, const struct evidence_sample *s,
			  const struct redact *rd, char **path, char **err);

/* evidence_sample_read: a saved sample from text[0..len) into s (which
 * then owns its strings); name is for messages.  -1 and *err when the text
 * is not one. */
int evidence_sample_read(const char *text, size_t len, const char *name,
			 struct evidence_sample *s, char **err);

void evidence_sample_release(struct evidence_sample *s);

/* evidence_sample_record: the log record of a saved sample's JSON (as
 * evidence_sample_json() makes it): its request and reply bodies, and as
 * metadata its api, status, latency, fingerprint, time, suite, stratum,
 * case, side and grade; NULL when it has no JSON request and reply body.
 * The caller frees. */
cJSON *evidence_sample_record(const cJSON *sample);

#endif
