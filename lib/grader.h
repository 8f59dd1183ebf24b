/* grader.h: the grader interface lib uses: grades, the grader vtable,
 * compiled grader entries, and the text rules every grader's reason obeys.
 *
 * A grader entry in a suite is a mapping with one grader key and an optional
 * `on:` (content, raw, or a JSON pointer into the parsed content):
 *     - regex: '\b30 days\b'
 *     - {contains: refund, on: /answer}
 * grader_compile() finds the key in grader_table[], allocates priv_size
 * bytes of zeroed private state and calls ops->compile once, at load time.
 * ops->grade then runs for every sample without compiling anything.
 * The graders themselves live in graders/, which defines grader_table[]
 * (graders/graders.c); lib only declares it and never includes graders/.
 * Adding a grader is one file there plus one line in that table.
 *
 * Ownership: a struct grader owns its private state and label; the reply
 * and subject passed to grade are borrowed; result->reason is owned by the
 * result and freed by grade_result_release().
 */
#ifndef CANARY_GRADER_H
#define CANARY_GRADER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "util.h"
#include "ynode.h"

struct reply;
struct judge_cache;
struct judge_config;
struct redact;
struct http_request;
struct http_result;

enum grade {
	GRADE_PASS,
	GRADE_FAIL,
	GRADE_ERROR,  /* the grader could not decide: never a pass or a fail */
};

/* grade_name: "pass", "fail" or "error" (anything else reads as "error"). */
const char *grade_name(enum grade g);
/* grade_parse: the grade grade_name() gives as name; -1 when none does. */
int grade_parse(const char *name, enum grade *out);

struct grade_result {
	enum grade grade;
	double score;   /* 0..1; 1 for a pass, 0 for a fail unless the grader knows better */
	char *reason;   /* one line, lowercase; NULL on a pass */
};

/* What grading lends to graders that need more than the sample (the judge,
 * exec); the grading module (run/grading.h) owns it. */
struct grader_runtime {
	struct judge_cache *judge_cache; /* NULL: no cache */
	long judge_calls;                /* requests sent to the judge */
	long judge_cache_hits;           /* verdicts taken from the cache */
	/* The run's stop flag (NULL: none): once set, long grading gives up
	 * (an error that the run does not count), and a program an exec grader
	 * runs gets SIGTERM, then SIGKILL after grace_ms (at once when the flag
	 * is 2 or more: a second signal). */
	volatile sig_atomic_t *stop;
	long grace_ms;
};

/* What a grader sees of one sample. */
struct grade_input {
	const struct reply *reply;
	const char *subject;    /* the text selected by on: (content by default) */
	size_t subject_len;
	const char *case_id;
	const char *target;     /* "eval" or "prod" */
	/* input: the case's last user message; for a conversation, its
	 * transcript before the reply ("user: ...", "assistant: ...",
	 * "assistant calls NAME ARGS", "tool: NAME: RESULT", one per line) */
	const char *input;
	int steps;              /* requests the reply took (0: one; more in a tool loop) */
	struct grader_runtime *rt; /* may be NULL (offline grading, tests) */
};

/* Context for compiling: where relative files resolve from. */
struct grader_env {
	const char *suite_dir;
	const struct judge_config *judge; /* the suite's judge: section (present or not) */
	const struct redact *redact;      /* the suite's secrets, filled as the run goes */
};

struct grader_ops {
	const char *name;       /* the YAML key */
	size_t priv_size;
	/* compile: read cfg (the value under the key) into priv; errors name
	 * cfg's file:line:col. */
	int (*compile)(void *priv, const struct ynode *cfg, const struct grader_env *env,
		       char **err);
	/* grade: judge one sample; fills out (out->reason NULL on a pass). */
	void (*grade)(const void *priv, const struct grade_input *in, struct grade_result *out);
	/* release: free what compile allocated in priv (may be NULL).  It also
	 * runs after a failed compile, on a partly filled (zeroed) priv. */
	void (*release)(void *priv);
	/* whole_reply: the grader looks at the reply itself (latency, tool
	 * calls), not at a subject, so an `on:` is a suite error. */
	bool whole_reply;
	/* slow: grading may take long (it runs a program); grading runs such
	 * graders after the transfers, so they never stall the multi loop. */
	bool slow;
	/* start (asynchronous graders such as the judge, which set it instead of
	 * grade): begin grading one sample.  Returns 0 when it decided at once
	 * (a cache hit, or an error) and filled out; returns 1 with *req, a heap
	 * request for the transport's judge pool (done and user left unset), and
	 * *call, the grader's state for finish().  Grading submits *req on the
	 * same multi loop and calls finish() with its result. */
	int (*start)(const void *priv, const struct grade_input *in, struct http_request **req,
		     void **call, struct grade_result *out);
	/* finish: turn the request's result into a grade and free call. */
	void (*finish)(const void *priv, void *call, const struct http_result *res,
		       struct grader_runtime *rt, struct grade_result *out);
};

enum grader_on {
	GRADER_ON_CONTENT,
	GRADER_ON_RAW,
	GRADER_ON_POINTER,
};

struct grader {
	const struct grader_ops *ops;
	void *priv;
	enum grader_on on;
	char *on_pointer;       /* GRADER_ON_POINTER: the JSON pointer */
	char *label;            /* "regex", or "no-pii" for a named grader */
	int line, col;
};

/* grader_table: every grader, NULL-terminated (graders/graders.c). */
extern const struct grader_ops *const grader_table[];

const struct grader_ops *grader_find(const char *name);

/* grader_compile: compile one grader entry (a mapping); NULL and *err on a
 * suite error.  `use` entries are resolved by the suite loader, not here. */
struct grader *grader_compile(const struct ynode *entry, const struct grader_env *env,
			      char **err);

/* grader_run: select the subject by on: and grade one sample.  A pointer
 * that does not resolve, or content that is not JSON when a pointer is
 * asked for, fails the sample with that reason.  out->reason is always one
 * line of valid UTF-8 of at most GRADE_REASON_MAX bytes, without the label,
 * with the reply's secrets (in->reply->redact) masked. */
void grader_run(const struct grader *g, const struct grade_input *in, struct grade_result *out);

void grader_free(struct grader *g);

/* grade_result_tidy: what grader_run does to every result: no reason on a
 * pass, a reason on anything else, rd's secrets masked (rd may be NULL),
 * then made one line and capped. */
void grade_result_tidy(struct grade_result *out, const struct redact *rd);
void grade_result_release(struct grade_result *r);

/* grade_fail/grade_error: set out to a failure or error with a formatted
 * reason, which grade_result_tidy() masks, makes one line and caps at
 * GRADE_REASON_MAX bytes. */
void grade_fail(struct grade_result *out, const char *fmt, ...) PRINTF_LIKE(2, 3);
void grade_error(struct grade_result *out, const char *fmt, ...) PRINTF_LIKE(2, 3);
void grade_pass(struct grade_result *out);

#define GRADE_REASON_MAX 300    /* bytes, "..." included */
#define GRADE_EXCERPT_MAX 80    /* characters quoted from a subject */

/* grade_excerpt: s[0..len) as one line to quote in a reason, rd's secrets
 * masked before anything else (rd may be NULL): at most GRADE_EXCERPT_MAX
 * characters then "...", a NUL byte as UTIL_NUL_SHOWN, other control
 * characters as spaces, C1 and bidirectional controls and invalid UTF-8 as
 * U+FFFD.  The caller frees it. */
char *grade_excerpt(const struct redact *rd, const char *s, size_t len);
/* grade_excerpt_at: the same for s[from..to) of the text s[0..len), whose
 * secrets are looked for in all of it (one the excerpt cuts into is masked). */
char *grade_excerpt_at(const struct redact *rd, const char *s, size_t len, size_t from,
		       size_t to);

#endif
