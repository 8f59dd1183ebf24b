/* common.h: what the graders share and lib never sees: each grader's ops,
 * config helpers that report errors in one form, and the configs that
 * several graders compile alike (regex, contains, JSON Schema).
 *
 * Adding a grader is one file defining `const struct grader_ops
 * grader_NAME`, one extern line below and one line in grader_table[]
 * (graders.c).
 *
 * Ownership: each *_cfg owns what its compile allocated until its release
 * or free; reasons they produce are the caller's.
 */
#ifndef CANARY_GRADERS_COMMON_H
#define CANARY_GRADERS_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "grader.h"
#include "ynode.h"

struct rx;
struct jsonschema_error;

extern const struct grader_ops grader_regex;
extern const struct grader_ops grader_not_regex;
extern const struct grader_ops grader_contains;
extern const struct grader_ops grader_not_contains;
extern const struct grader_ops grader_equals;
extern const struct grader_ops grader_max_latency;
extern const struct grader_ops grader_max_ttft;
extern const struct grader_ops grader_judge;
extern const struct grader_ops grader_json_schema;
extern const struct grader_ops grader_tool_call;
extern const struct grader_ops grader_no_tool_call;
extern const struct grader_ops grader_trajectory;
extern const struct grader_ops grader_exec;

/* grade_secrets: what a reason about in's sample must not quote: the
 * reply's redact set, or NULL. */
const struct redact *grade_secrets(const struct grade_input *in);

/* grader_check_keys: -1 and *err naming the first key of map that is not in
 * keys (NULL-terminated), with a suggestion: "unknown key 'ignore_cse' in
 * contains (did you mean 'ignore_case'?)". */
int grader_check_keys(const struct ynode *map, const char *grader, const char *const *keys,
		      char **err);
/* grader_cfg_text: -1 and *err unless n is a scalar string that is given
 * (not null) and holds no NUL byte; what names it ("regex pattern"). */
int grader_cfg_text(const struct ynode *n, const char *what, char **err);
/* grader_cfg_duration: a duration over 0 (250ms, 2s, 1m) in *ms; -1 and
 * *err naming the grader otherwise. */
int grader_cfg_duration(const struct ynode *n, const char *grader, long *ms, char **err);
/* grade_within: pass when ms <= limit, else fail with "WHAT 2300 ms >
 * 2000 ms" (one decimal when rounding would print the limit itself). */
void grade_within(struct grade_result *out, const char *what, double ms, long limit);
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

/* json_schema.c: a compiled JSON Schema grader config, shared by
 * json_schema and tool_call: schema_cfg_compile() reads a schema (inline,
 * true/false, or file:) with its options; errors name the YAML position of
 * the offending schema node.  what names the config in messages;
 * allow_extract permits `extract:`. */
struct schema_cfg;
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

#endif
