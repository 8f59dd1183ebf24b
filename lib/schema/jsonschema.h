/* schema/jsonschema.h: JSON Schema validation over cJSON, draft 2020-12 (the
 * default) and draft-07 (chosen by "$schema" or by the options).
 *
 * A schema compiles once: every $ref, $dynamicRef, $id and $anchor is
 * resolved and every pattern is compiled with PCRE2.  Validating then
 * allocates nothing on the success path; errors, when asked for, are small
 * allocations, and at most max_errs of them are kept.
 *
 * $ref never reaches the network.  A reference that leaves the schema's own
 * documents resolves only to a local file under options.base_dir (JSON, or
 * YAML for .yaml/.yml), to http://localhost:1234/X as remotes_dir/X (the
 * conformance suite's remotes) or to the drafts' metaschemas, which are
 * known and accept every schema; anything else is a compile error.
 *
 * Ownership: jsonschema_compile() copies what it needs from the cJSON it is
 * given, which the caller keeps; the result is freed by jsonschema_free().
 * Strings returned through err, err_pointer and jsonschema_error_format(),
 * and the fields of each error, belong to the caller (free(), and
 * jsonschema_errors_release() for an array of errors).
 *
 * A compiled schema is immutable, but its regexes keep their match state
 * (see rx.h): validate with one schema from one thread at a time.
 */
#ifndef CANARY_JSONSCHEMA_H
#define CANARY_JSONSCHEMA_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define JSONSCHEMA_DRAFT_2020 2020
#define JSONSCHEMA_DRAFT_7 7

struct jsonschema;

struct jsonschema_options {
	/* Relative and file: references resolve to files under this folder
	 * (never outside it); NULL refuses every file reference. */
	const char *base_dir;
	/* Conformance only: http://localhost:1234/X resolves to remotes_dir/X. */
	const char *remotes_dir;
	/* Assert format (date-time, date, time, email, hostname, ipv4, ipv6,
	 * uri, uri-reference, uuid, json-pointer, regex, duration) instead of
	 * treating it as an annotation; an unknown format is then a compile
	 * error. */
	bool format_assert;
	/* JSONSCHEMA_DRAFT_2020 (also for 0) or JSONSCHEMA_DRAFT_7: the draft of
	 * documents without a "$schema" naming one. */
	int default_draft;
	/* The step budget of each validation (0: JSONSCHEMA_MAX_STEPS). */
	size_t max_steps;
};

/* jsonschema_compile: compile schema (options may be NULL).  A bad schema
 * gives NULL, *err (e.g. "unknown type 'strnig' (did you mean 'string'?)")
 * and, when err_pointer is not NULL, *err_pointer: the JSON pointer into the
 * schema where it is wrong ("/properties/x/pattern"; prefixed with "URI#"
 * when the fault is in a referenced document). */
struct jsonschema *jsonschema_compile(const cJSON *schema, const struct jsonschema_options *options,
				      char **err_pointer, char **err);

/* jsonschema_draft: the draft the root schema was compiled as (2020 or 7). */
int jsonschema_draft(const struct jsonschema *s);

/* One validation error. */
struct jsonschema_error {
	char *instance;  /* JSON pointer into the instance; "" is the whole instance */
	char *keyword;   /* "required", "type", ...; "" for a false schema or a limit */
	char *schema;    /* JSON pointer of the failing keyword in the schema */
	char *message;   /* lowercase, one line: "expected string, got integer" */
};

/* The work one validation may do, in steps: a step is a subschema applied to
 * a value, a required property looked up, or a value visited to compare
 * (enum, const, uniqueItems), hash (uniqueItems) or read as a schema (a
 * metaschema $ref).  A valid 1 MiB reply against a forty-keyword schema
 * takes about 144,000 steps (bench/jsonschema_bench.c), 10,000,000 about
 * half a second; 40 nested anyOf levels of two $refs each would take 2^40. */
#define JSONSCHEMA_MAX_STEPS 10000000

/* jsonschema_validate: 1 when instance is valid, 0 when it is not, -1 when
 * validation could not decide (nesting or $ref loops past 1000 levels, more
 * steps than the budget, a regex past its match limit, or *stop
 * set while it ran; stop may be NULL).  Up to max_errs errors (the first
 * found) go to errs and their count to *nerrs; on -1 the last of them says
 * why.  errs may be NULL when max_errs is 0, and nerrs may be NULL. */
int jsonschema_validate(const struct jsonschema *s, const cJSON *instance,
			volatile sig_atomic_t *stop, struct jsonschema_error *errs, size_t max_errs,
			size_t *nerrs);

/* jsonschema_error_format: "/attendee_emails: required property missing
 * (schema /required)"; the whole instance shows as "(root)". */
char *jsonschema_error_format(const struct jsonschema_error *e);

/* jsonschema_errors_release: free the fields of errs[0..n). */
void jsonschema_errors_release(struct jsonschema_error *errs, size_t n);

void jsonschema_free(struct jsonschema *s);

struct ynode;

/* jsonschema_check_keywords: -1 and *err ("file:line:col: unknown schema
 * keyword 'requried' (did you mean 'required'?)") at the first key of the
 * schema written as YAML node n (and of the schemas inside it) that looks
 * like a misspelt keyword; 0 otherwise.  Only schema positions are walked:
 * property names and the values of enum, const, default or examples are
 * data.  The caller has converted n to JSON, which bounds the walk through
 * aliases. */
int jsonschema_check_keywords(const struct ynode *n, char **err);

/* jsonschema_error_at: the error for a schema written as YAML node n that
 * jsonschema_compile() refused with err_pointer ptr (may be NULL) and msg:
 * "file:line:col: bad schema at /properties/x/pattern: ...", placed at the
 * node ptr names when the fault is in n's own document. */
char *jsonschema_error_at(const struct ynode *n, const char *ptr, const char *msg);

#endif
