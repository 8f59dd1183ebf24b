/* grader.h: the grader vtable, the grader table and compiled grader entries.
 *
 * A grader entry in a suite is a mapping with one grader key and an optional
 * `on:` (content, raw, or a JSON pointer into the parsed content):
 *     - regex: '\b30 days\b'
 *     - {contains: refund, on: /answer}
 * grader_compile() finds the key in grader_table[], allocates priv_size
 * bytes of zeroed private state and calls ops->compile once, at load time.
 * ops->grade then runs for every sample without compiling anything.
 *
 * Ownership: a struct grader owns its private state and label; the reply
 * and subject passed to grade are borrowed; result->reason is owned by the
 * result and freed by grade_result_release().
 */
#ifndef CANARY_GRADER_H
#define CANARY_GRADER_H

#include <stdbool.h>
#include <stddef.h>

#include "ynode.h"

struct reply;
struct suite;

enum grade {
	GRADE_PASS,
	GRADE_FAIL,
	GRADE_ERROR,  /* the grader could not decide: never a pass or a fail */
};

struct grade_result {
	enum grade grade;
	double score;   /* 0..1; 1 for a pass, 0 for a fail unless the grader knows better */
	char *reason;   /* one line, lowercase; NULL on a pass */
};

/* What a grader sees of one sample. */
struct grade_input {
	const struct reply *reply;
	const char *subject;    /* the text selected by on: (content by default) */
	size_t subject_len;
	const char *case_id;
	const char *target;     /* "eval" or "prod" */
	const char *input;      /* the case's last user message */
};

/* Context for compiling: where relative files resolve from. */
struct grader_env {
	const char *suite_dir;
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
	/* release: free what compile allocated in priv (may be NULL). */
	void (*release)(void *priv);
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

const struct grader_ops *grader_find(const char *name);

/* grader_compile: compile one grader entry (a mapping); NULL and *err on a
 * suite error. */
struct grader *grader_compile(const struct ynode *entry, const struct grader_env *env,
			      char **err);

/* grader_run: select the subject by on: and grade one sample.  A pointer
 * that does not resolve, or content that is not JSON when a pointer is
 * asked for, fails the sample with that reason. */
void grader_run(const struct grader *g, const struct grade_input *in, struct grade_result *out);

void grader_free(struct grader *g);
void grade_result_release(struct grade_result *r);

/* grade_fail/grade_error: set out to a failure or error with a formatted
 * reason. */
void grade_fail(struct grade_result *out, const char *fmt, ...) PRINTF_LIKE(2, 3);
void grade_error(struct grade_result *out, const char *fmt, ...) PRINTF_LIKE(2, 3);
void grade_pass(struct grade_result *out);

#endif
