/* grader.h: the grader vtable, the grader table and compiled grader entries.
 *
 * A grader entry in a suite is a mapping with one grader key and an optional
 * `on:` (content, raw, or a JSON pointer into the parsed content):
 *     - regex: '\b30 days\b'
 *     - {contains: refund, on: /answer}
 * grader_compile() finds the key in grader_table[], allocates priv_size
 * bytes of zeroed private state and calls ops->compile once, at load time.
 * ops->grade then runs for every sample without compiling anything.
 * Adding a grader is one file defining `const struct grader_ops grader_NAME`,
 * one extern line below and one line in grader_table[] (grader.c).
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

#include "grade.h"
#include "ynode.h"

struct reply;
struct suite;
struct judge_cache;
struct judge_config;
struct redact;
struct rx;

struct grade_result {
	enum grade grade;
	double score;   /* 0..1; 1 for a pass, 0 for a fail unless the grader knows better */
	char *reason;   /* one line, lowercase; NULL on a pass */
};

/* What a grader sees of one sample. */
/* What a run lends to graders that need more than the sample (the judge). */
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

struct grade_input {
	const struct reply *reply;
	const char *subject;    /* the text selected by on: (content by default) */
	size_t subject_len;
	const char *case_id;
	const char *target;     /* "eval" or "prod" */
	const char *input;      /* the case's last user message */
	struct grader_runtime *rt; /* may be NULL (offline grading, tests) */
};

/* Context for compiling: where relative files resolve from. */
struct grader_env {
	const char *suite_dir;
	const struct judge_config *judge; /* the suite's judge: section (present or not) */
	const struct redact *redact;      /* the suite's secrets, filled as the run goes */
};

struct http_request;
struct http_result;

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
	/* slow: grading may take long (it runs a program); a run grades such
	 * graders after its transfers, so they never stall the multi loop. */
	bool slow;
	/* start (asynchronous graders such as the judge, which set it instead of
	 * grade): begin grading one sample.  Returns 0 when it decided at once
	 * (a cache hit, or an error) and filled out; returns 1 with *req, a heap
	 * request for the transport's judge pool (done and user left unset), and
	 * *call, the grader's state for finish().  The run submits *req on the
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

/* grader_table: every grader, NULL-terminated. */
extern const struct grader_ops *const grader_table[];

extern const struct grader_ops grader_regex;
extern const struct grader_ops grader_not_regex;
extern const struct grader_ops grader_contains;
extern const struct grader_ops grader_not_contains;
extern const struct grader_ops grader_equals;
extern const struct grader_ops grader_max_latency;
extern const struct grader_ops grader_judge;
extern const struct grader_ops grader_json_schema;
extern const struct grader_ops grader_tool_call;
extern const struct grader_ops grader_no_tool_call;
extern const struct grader_ops grader_exec;

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

/* A compiled JSON Schema grader config, shared by json_schema and tool_call:
 * schema_cfg_compile() reads a schema (inline, true/false, or file:) with
 * its options; errors name the YAML position of the offending schema node.
 * what names the config in messages; allow_extract permits `extract:`. */
struct schema_cfg;
struct jsonschema_error;
struct schema_cfg *schema_cfg_compile(const struct ynode *cfg, const struct grader_env *env,
				      const char *what, bool allow_extract, char **err);
/* schema_cfg_validate: 1 valid, 0 invalid (the first max_errs errors kept),
 * -1 could not decide (see jsonschema_validate(): its step budget, or *stop
 * set; stop may be NULL). */
int schema_cfg_validate(const struct schema_cfg *c, const cJSON *instance,
			volatile sig_atomic_t *stop, struct jsonschema_error *errs, size_t max_errs,
			size_t *nerrs);
/* schema_cfg_error(s): one error, or the first few joined, as reason text. */
char *schema_cfg_error(const struct schema_cfg *c, const struct jsonschema_error *e);
char *schema_cfg_errors(const struct schema_cfg *c, const struct jsonschema_error *errs,
			size_t n);
/* schema_cfg_at: the schema node at a schema-location pointer, or NULL. */
const cJSON *schema_cfg_at(const struct schema_cfg *c, const char *schema_ptr);
void schema_cfg_free(struct schema_cfg *c);

/* grade_result_tidy: what grader_run does to every result: no reason on a
 * pass, a reason on anything else, rd's secrets masked (rd may be NULL),
 * then made one line and capped. */
void grade_result_tidy(struct grade_result *out, const struct redact *rd);

void grader_free(struct grader *g);
void grade_result_release(struct grade_result *r);

/* grade_fail/grade_error: set out to a failure or error with a formatted
 * reason, which grade_result_tidy() masks, makes one line and caps at
 * GRADE_REASON_MAX bytes. */
void grade_fail(struct grade_result *out, const char *fmt, ...) PRINTF_LIKE(2, 3);
void grade_error(struct grade_result *out, const char *fmt, ...) PRINTF_LIKE(2, 3);
void grade_pass(struct grade_result *out);

/* Helpers for grader implementations. */

#define GRADE_REASON_MAX 300    /* bytes, "..." included */
#define GRADE_EXCERPT_MAX 80    /* characters quoted from a subject */

/* grade_secrets: what a reason about in's sample must not quote: the
 * reply's redact set, or NULL. */
const struct redact *grade_secrets(const struct grade_input *in);

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

/* grader_check_keys: -1 and *err naming the first key of map that is not in
 * keys (NULL-terminated), with a suggestion: "unknown key 'ignore_cse' in
 * contains (did you mean 'ignore_case'?)". */
int grader_check_keys(const struct ynode *map, const char *grader, const char *const *keys,
		      char **err);
/* grader_cfg_text: -1 and *err unless n is a scalar string that is given
 * (not null) and holds no NUL byte; what names it ("regex pattern"). */
int grader_cfg_text(const struct ynode *n, const char *what, char **err);
/* grader_cfg_bool: parse a true/false option; -1 and *err otherwise. */
int grader_cfg_bool(const struct ynode *n, const char *what, bool *out, char **err);

/* regex.c: the config regex and not_regex share, a pattern string or
 * {pattern, flags: "ims"}, compiled; NULL and *err (with the position). */
struct rx *regex_cfg_compile(const struct ynode *cfg, const char *grader, char **err);

/* contains.c: the config contains and not_contains share: a string, a
 * list of strings, or {value: string or list, ignore_case: bool}. */
struct contains_cfg {
	char **needles;
	size_t *lens;
	struct rx **rx;         /* ignore_case: a caseless literal per needle */
	size_t n;
};

int contains_cfg_compile(struct contains_cfg *c, const struct ynode *cfg, const char *grader,
			 char **err);
/* contains_cfg_grade: pass when every needle is present (present = true)
 * or when none is; the reason lists the needles that are missing
 * (`missing "x"`) or present (`contains "x"`). */
void contains_cfg_grade(const struct contains_cfg *c, const struct grade_input *in, bool present,
			struct grade_result *out);
void contains_cfg_release(struct contains_cfg *c);

#endif
