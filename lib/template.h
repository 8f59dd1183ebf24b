/* template.h: ${...} substitution in suite strings.
 *
 * Names: ${env:NAME}, ${env:NAME:-default}, ${input}, ${messages} (as
 * JSON), ${case.id}, ${stratum}, ${vars.NAME}, ${session} (unique per
 * sample, stable across a conversation's turns) in a target's strings, and
 * ${tools} (as JSON) where a target's body allows it.  "$${" writes a literal "${".
 * The default of ${env:NAME:-default} (literal text up to the '}') is used
 * when NAME is unset or empty, as in the shell.  An unknown name, an
 * unterminated "${" and an unset environment variable without a default
 * are errors (unless the context collects unset names).
 *
 * Ownership: rendered strings and JSON trees belong to the caller.  The
 * context is borrowed.  Every env value that is substituted is added to the
 * context's redact set, so it never reaches an output; a default, written
 * in the suite, is not a secret.  Names collected in a struct tmpl_unset
 * belong to it until tmpl_unset_release().
 */
#ifndef CANARY_TEMPLATE_H
#define CANARY_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "redact.h"

/* Which names a string may use: case strings cannot refer to themselves. */
enum {
	TMPL_ENV = 1 << 0,
	TMPL_INPUT = 1 << 1,    /* ${input} and ${messages} */
	TMPL_CASE = 1 << 2,     /* ${case.id} and ${stratum} */
	TMPL_VARS = 1 << 3,     /* ${vars.NAME} */
	TMPL_TOOLS = 1 << 4,    /* ${tools}: only in a target's body */
	TMPL_SESSION = 1 << 5,  /* ${session}: a target's strings */
	TMPL_TARGET = TMPL_ENV | TMPL_INPUT | TMPL_CASE | TMPL_VARS | TMPL_SESSION,
	TMPL_CASE_STRING = TMPL_ENV | TMPL_CASE | TMPL_VARS,
};

struct tmpl_var {
	const char *name;
	const char *value;
};

/* The environment variables a rendering met unset, each once. */
struct tmpl_unset {
	char **names;
	size_t n;
};

void tmpl_unset_release(struct tmpl_unset *u);

struct tmpl_ctx {
	unsigned allowed;          /* TMPL_* names permitted */
	const char *input;         /* last user message */
	const cJSON *messages;     /* the case's messages array */
	const cJSON *tools;        /* the case's tools array (NULL: []) */
	const char *case_id;
	const char *stratum;
	const char *session;       /* the sample's session id (NULL: "") */
	const struct tmpl_var *vars;
	size_t nvars;
	struct redact *redact;     /* may be NULL */
	/* unset: when not NULL, an unset ${env:NAME} without a default is no
	 * error: it renders as "" and NAME is added here. */
	struct tmpl_unset *unset;
};

/* template_render: substitute every ${...} of s.  On failure returns NULL
 * and sets *err to a message naming the problem (never a secret value). */
char *template_render(const char *s, const struct tmpl_ctx *ctx, char **err);

/* template_render_json: a deep copy of tmpl with every string rendered; a
 * string that is exactly "${messages}" or "${tools}" becomes that array
 * itself. */
cJSON *template_render_json(const cJSON *tmpl, const struct tmpl_ctx *ctx, char **err);

/* template_uses_env: whether s refers to any ${env:...}. */
bool template_uses_env(const char *s);

/* template_uses: whether s refers to any name of the TMPL_* classes in
 * names (escaped "$${" text does not count). */
bool template_uses(const char *s, unsigned names);

/* template_check: check s without a case: syntax, names permitted by
 * ctx->allowed, and every ${env:NAME} set (its value is added to
 * ctx->redact when that is not NULL; ctx->unset as for template_render).
 * ${vars.NAME} is accepted for any NAME, as only a case can tell; the
 * other fields of ctx are not used.  0, or -1 and *err as for
 * template_render. */
int template_check(const char *s, const struct tmpl_ctx *ctx, char **err);

#endif
