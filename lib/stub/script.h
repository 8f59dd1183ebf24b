/* stub/script.h: a loaded stub script, as the server and the API writers
 * read it (inside lib/stub only).
 *
 * A script is a list of rules; each rule has conditions on the request's
 * conversation and one answer (and maybe an `otherwise:` answer).  Every
 * string, array and regex is made once at load; serving only reads them.
 *
 * Ownership: the script owns everything below through its arena and its
 * compiled regexes, freed by stub_script_free().
 */
#ifndef CANARY_STUB_SCRIPT_H
#define CANARY_STUB_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "stub/stub.h"
#include "util.h"

struct stub_conversation;

enum stub_answer_kind {
	STUB_TEXT,
	STUB_REFUSAL,
	STUB_TOOL_CALLS,
	STUB_SIZE,
	STUB_ECHO,
	STUB_STATUS,
	STUB_RAW,
	STUB_HANG,
	STUB_CLOSE,
};

struct stub_tool_call {
	const char *id;        /* NULL: the API's default, numbered */
	const char *name;
	const char *arguments; /* JSON text as OpenAI sends it (or any text) */
};

/* Token figures a rule declares (`usage:`). */
struct stub_usage {
	bool declared;
	long input;            /* every input token, cached ones included */
	long output;           /* every output token, reasoning ones included */
	long cached;
	long reasoning;
};

/* What goes wrong in a streamed answer (`stream: {fault: ...}`). */
enum stub_fault {
	STUB_FAULT_NONE,
	STUB_FAULT_CUT,        /* half of event `at`, then the body ends */
	STUB_FAULT_MALFORMED,  /* event `at` carries half its JSON */
	STUB_FAULT_OVERSIZED,  /* event `at` carries `size` more bytes of white space */
	STUB_FAULT_ERROR,      /* the API's error event instead of event `at`, then the end */
	STUB_FAULT_CLOSE,      /* the body ends before event `at` */
	STUB_FAULT_HANG,       /* nothing more from event `at` on; the connection stays */
};

struct stub_stream_plan {
	size_t chunk;          /* bytes per write; 0: one event per write */
	long delay_ms;         /* the pause before every write but the first */
	enum stub_fault fault;
	size_t at;             /* the event the fault falls on (1-based); 0: the last */
	size_t size;           /* STUB_FAULT_OVERSIZED: the extra bytes */
};

struct stub_answer {
	enum stub_answer_kind kind;
	const char *text;         /* TEXT, REFUSAL: the text (TEXT: NULL for null);
				   * SIZE: leading text or NULL; STATUS, RAW: the body
				   * (STATUS: NULL for the API's error body) */
	const char *message;      /* STATUS: the message of the API's error body */
	struct stub_tool_call *calls;
	size_t ncalls;
	int status;
	const char *retry_after;  /* NULL: no Retry-After header */
	const char *content_type; /* STATUS, RAW */
	size_t size;              /* SIZE: content bytes */
	long latency_ms;          /* -1: the rule's */
	struct stub_usage usage;
	struct stub_stream_plan stream;
};

struct stub_rule {
	/* Conditions, all of which must hold (see docs/stub.md). */
	pcre2_code *match;        /* the last user turn; NULL: any */
	pcre2_code *earlier;      /* some earlier user turn; NULL: no condition */
	long turn;                /* the number of user turns; 0: any */
	long step;                /* 1 + assistant messages since the last user turn; 0: any */
	bool tool_result;         /* the request ends with tool results... */
	const char *tool_name;    /* ...one of them for this tool (NULL: any)... */
	pcre2_code *tool_content; /* ...whose content matches (NULL: any) */
	long times;               /* 0: no limit */
	long latency_ms;
	bool has_probability;
	double probability;
	bool has_otherwise;
	struct stub_answer answer;
	struct stub_answer otherwise;
};

struct stub_script {
	struct arena arena;       /* every string and array below */
	const char *fingerprint;  /* NULL: none */
	const char *fingerprint_header;
	const char *model;        /* NULL: the request's */
	struct stub_rule *rules;
	size_t nrules;
};

/* stub_rule_matches: whether every condition of r holds for c. */
bool stub_rule_matches(const struct stub_rule *r, const struct stub_conversation *c);

#endif
