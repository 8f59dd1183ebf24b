/* template.c: ${...} substitution in suite strings. */
#include "template.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TMPL_MAX_LEN ((size_t)16 << 20)
#define TMPL_MAX_DEPTH 1000
#define NAME_SHOWN_MAX 64

/* One expansion: in check mode there is no case, so ${vars.NAME} is taken
 * on trust and nothing is written. */
struct expansion {
	const struct tmpl_ctx *ctx;
	bool check;
	struct buf *out;
};

static const char *const fixed_names[] = {
	"input", "messages", "case.id", "stratum", "tools", "session", NULL,
};

static bool is_env_name(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* A name as it may be quoted in a message: long names are cut. */
static char *shown(const char *name)
{
	if (strlen(name) <= NAME_SHOWN_MAX)
		return xstrdup(name);
	return xasprintf("%.*s...", NAME_SHOWN_MAX, name);
}

static char *unknown_name(const char *name)
{
	/* Offer env:X and vars.X for a name that looks like a mistyped prefix. */
	const char *rest = strpbrk(name, ".:_");
	char *env = rest ? xasprintf("env:%s", rest + 1) : NULL;
	char *var = rest ? xasprintf("vars.%s", rest + 1) : NULL;
	const char *candidates[ARRAY_SIZE(fixed_names) + 2];
	size_t n = 0;
	for (; fixed_names[n]; n++)
		candidates[n] = fixed_names[n];
	if (rest) {
		candidates[n++] = env;
		candidates[n++] = var;
	}
	candidates[n] = NULL;
	const char *hint = util_suggest(name, candidates);
	char *s = shown(name);
	char *msg;
	if (hint)
		msg = xasprintf("unknown name '${%s}' (did you mean '${%s}'?)", s, hint);
	else
		msg = xasprintf("unknown name '${%s}' (names: env:NAME, input, messages, "
				"case.id, stratum, vars.NAME, tools, session)", s);
	free(s);
	free(env);
	free(var);
	return msg;
}

/* A case's strings (allowed holds TMPL_CASE) cannot refer to the input,
 * and a var's value cannot refer to vars. */
static char *not_allowed(const char *name, unsigned need, unsigned allowed)
{
	char *s = shown(name);
	char *msg;
	if ((allowed & TMPL_CASE) && need == TMPL_INPUT)
		msg = xasprintf("'${%s}' cannot be used in a case's own strings", s);
	else if ((allowed & TMPL_CASE) && need == TMPL_VARS)
		msg = xasprintf("'${%s}' cannot be used in a var's value", s);
	else if (need == TMPL_TOOLS)
		msg = xasprintf("'${%s}' can only be used in a target's body", s);
	else
		msg = xasprintf("'${%s}' cannot be used here", s);
	free(s);
	return msg;
}

static char *unknown_var(const char *var, const struct tmpl_ctx *ctx)
{
	char *s = shown(var);
	if (ctx->nvars == 0) {
		char *msg = xasprintf("unknown var '%s' (the case has no vars)", s);
		free(s);
		return msg;
	}
	struct buf b;
	buf_init(&b, 0);
	buf_addf(&b, "unknown var '%s' (case vars: ", s);
	for (size_t i = 0; i < ctx->nvars; i++) {
		if (i > 0)
			buf_addstr(&b, ", ");
		buf_addstr(&b, ctx->vars[i].name);
	}
	buf_addch(&b, ')');
	free(s);
	return buf_detach(&b, NULL);
}

static int emit(struct expansion *x, const char *s, size_t n, char **err)
{
	if (x->check)
		return 0;
	if (buf_add(x->out, s, n) < 0) {
		*err = xasprintf("rendered text is larger than %zu MiB", TMPL_MAX_LEN >> 20);
		return -1;
	}
	return 0;
}

/* emit_json: j (the messages or the tools; NULL: none) as compact JSON. */
static int emit_json(struct expansion *x, const cJSON *j, const char *what, char **err)
{
	if (x->check)
		return 0;
	if (!j)
		return emit(x, "[]", 2, err);
	char *json = cJSON_PrintUnformatted(j);
	if (!json) {
		*err = xasprintf("cannot write the %s as JSON", what);
		return -1;
	}
	int rc = emit(x, json, strlen(json), err);
	cJSON_free(json);
	return rc;
}

void tmpl_unset_release(struct tmpl_unset *u)
{
	for (size_t i = 0; i < u->n; i++)
		free(u->names[i]);
	free(u->names);
	memset(u, 0, sizeof(*u));
}

static void unset_add(struct tmpl_unset *u, const char *name)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->names[i], name) == 0)
			return;
	u->names = xreallocarray(u->names, u->n + 1, sizeof(*u->names));
	u->names[u->n++] = xstrdup(name);
}

/* Substitute ${env:spec}: NAME, or NAME:-default. */
static int substitute_env(struct expansion *x, const char *spec, char **err)
{
	const struct tmpl_ctx *ctx = x->ctx;
	const char *dflt = strstr(spec, ":-");
	char *var = dflt ? xstrndup(spec, (size_t)(dflt - spec)) : xstrdup(spec);
	int rc = -1;
	if (!is_env_name(var)) {
		char *s = shown(var);
		*err = xasprintf("invalid environment variable name '%s'", s);
		free(s);
		goto out;
	}
	const char *value = getenv(var);
	if (dflt && (!value || !*value)) {
		rc = emit(x, dflt + 2, strlen(dflt + 2), err);
	} else if (value) {
		if (ctx->redact)
			redact_add(ctx->redact, value);
		rc = emit(x, value, strlen(value), err);
	} else if (ctx->unset) {
		unset_add(ctx->unset, var);
		rc = 0;
	} else {
		*err = xasprintf("environment variable '%s' is not set", var);
	}
out:
	free(var);
	return rc;
}

/* Substitute one ${name}. */
static int substitute(struct expansion *x, const char *name, char **err)
{
	const struct tmpl_ctx *ctx = x->ctx;
	unsigned need;
	if (strncmp(name, "env:", 4) == 0)
		need = TMPL_ENV;
	else if (strcmp(name, "input") == 0 || strcmp(name, "messages") == 0)
		need = TMPL_INPUT;
	else if (strcmp(name, "case.id") == 0 || strcmp(name, "stratum") == 0)
		need = TMPL_CASE;
	else if (strcmp(name, "tools") == 0)
		need = TMPL_TOOLS;
	else if (strcmp(name, "session") == 0)
		need = TMPL_SESSION;
	else if (strncmp(name, "vars.", 5) == 0)
		need = TMPL_VARS;
	else if (!*name) {
		*err = xstrdup("empty name in '${}'");
		return -1;
	} else {
		*err = unknown_name(name);
		return -1;
	}
	if (!(ctx->allowed & need)) {
		*err = not_allowed(name, need, ctx->allowed);
		return -1;
	}
	if (need == TMPL_ENV)
		return substitute_env(x, name + 4, err);
	if (need == TMPL_VARS) {
		const char *var = name + 5;
		if (!*var) {
			*err = xstrdup("empty var name in '${vars.}'");
			return -1;
		}
		if (x->check)
			return 0;
		for (size_t i = 0; i < ctx->nvars; i++)
			if (strcmp(ctx->vars[i].name, var) == 0)
				return emit(x, ctx->vars[i].value, strlen(ctx->vars[i].value), err);
		*err = unknown_var(var, ctx);
		return -1;
	}
	if (strcmp(name, "messages") == 0)
		return emit_json(x, ctx->messages, "messages", err);
	if (need == TMPL_TOOLS)
		return emit_json(x, ctx->tools, "tools", err);
	const char *value = strcmp(name, "input") == 0	 ? ctx->input
			    : strcmp(name, "case.id") == 0 ? ctx->case_id
			    : strcmp(name, "session") == 0 ? ctx->session
							   : ctx->stratum;
	if (!value)
		value = "";
	return emit(x, value, strlen(value), err);
}

/* Walk s, writing literal text and substitutions. */
static int expand(struct expansion *x, const char *s, char **err)
{
	const char *lit = s;
	const char *p = s;
	while ((p = strchr(p, '$'))) {
		if (p[1] == '$' && p[2] == '{') {
			if (emit(x, lit, (size_t)(p - lit) + 1, err) < 0 || emit(x, "{", 1, err) < 0)
				return -1;
			p += 3;
			lit = p;
			continue;
		}
		if (p[1] != '{') {
			p++;
			continue;
		}
		if (emit(x, lit, (size_t)(p - lit), err) < 0)
			return -1;
		const char *end = strchr(p + 2, '}');
		if (!end) {
			*err = xstrdup("unterminated '${'");
			return -1;
		}
		char *name = xstrndup(p + 2, (size_t)(end - p - 2));
		int rc = substitute(x, name, err);
		free(name);
		if (rc < 0)
			return -1;
		p = end + 1;
		lit = p;
	}
	return emit(x, lit, strlen(lit), err);
}

char *template_render(const char *s, const struct tmpl_ctx *ctx, char **err)
{
	struct buf out;
	buf_init(&out, TMPL_MAX_LEN);
	struct expansion x = {.ctx = ctx, .out = &out};
	if (expand(&x, s, err) < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

int template_check(const char *s, const struct tmpl_ctx *ctx, char **err)
{
	struct tmpl_ctx check = {.allowed = ctx->allowed, .redact = ctx->redact,
				 .unset = ctx->unset};
	struct expansion x = {.ctx = &check, .check = true};
	return expand(&x, s, err);
}

static cJSON *render_json(const cJSON *t, const struct tmpl_ctx *ctx, int depth, char **err)
{
	if (depth > TMPL_MAX_DEPTH) {
		*err = xasprintf("template nested deeper than %d levels", TMPL_MAX_DEPTH);
		return NULL;
	}
	if (cJSON_IsString(t)) {
		bool messages = strcmp(t->valuestring, "${messages}") == 0;
		if (messages || strcmp(t->valuestring, "${tools}") == 0) {
			unsigned need = messages ? TMPL_INPUT : TMPL_TOOLS;
			const cJSON *array = messages ? ctx->messages : ctx->tools;
			if (!(ctx->allowed & need)) {
				*err = not_allowed(messages ? "messages" : "tools", need, ctx->allowed);
				return NULL;
			}
			return array ? cJSON_Duplicate(array, true) : cJSON_CreateArray();
		}
		char *s = template_render(t->valuestring, ctx, err);
		if (!s)
			return NULL;
		cJSON *out = cJSON_CreateString(s);
		free(s);
		return out;
	}
	if (!cJSON_IsArray(t) && !cJSON_IsObject(t))
		return cJSON_Duplicate(t, false);
	cJSON *out = cJSON_IsArray(t) ? cJSON_CreateArray() : cJSON_CreateObject();
	for (const cJSON *c = t->child; c; c = c->next) {
		cJSON *r = render_json(c, ctx, depth + 1, err);
		if (!r) {
			cJSON_Delete(out);
			return NULL;
		}
		if (cJSON_IsArray(t))
			cJSON_AddItemToArray(out, r);
		else
			cJSON_AddItemToObject(out, c->string, r);
	}
	return out;
}

cJSON *template_render_json(const cJSON *tmpl, const struct tmpl_ctx *ctx, char **err)
{
	return render_json(tmpl, ctx, 0, err);
}

bool template_uses(const char *s, unsigned names)
{
	for (const char *p = s; (p = strchr(p, '$'));) {
		if (p[1] == '$' && p[2] == '{') {
			p += 3;
			continue;
		}
		if (p[1] != '{') {
			p++;
			continue;
		}
		const char *name = p + 2;
		const char *end = strchr(name, '}');
		if (!end)
			return false;
		size_t n = (size_t)(end - name);
		if ((names & TMPL_ENV) && n >= 4 && strncmp(name, "env:", 4) == 0)
			return true;
		if ((names & TMPL_VARS) && n >= 5 && strncmp(name, "vars.", 5) == 0)
			return true;
		if ((names & TMPL_INPUT) && ((n == 5 && strncmp(name, "input", 5) == 0) ||
					     (n == 8 && strncmp(name, "messages", 8) == 0)))
			return true;
		if ((names & TMPL_CASE) && ((n == 7 && strncmp(name, "case.id", 7) == 0) ||
					    (n == 7 && strncmp(name, "stratum", 7) == 0)))
			return true;
		if ((names & TMPL_TOOLS) && n == 5 && strncmp(name, "tools", 5) == 0)
			return true;
		if ((names & TMPL_SESSION) && n == 7 && strncmp(name, "session", 7) == 0)
			return true;
		p = end + 1;
	}
	return false;
}

bool template_uses_env(const char *s)
{
	return template_uses(s, TMPL_ENV);
}
