/* jsonw.c: JSON written as it goes. */
#include "jsonw.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "util.h"

/* put_scalar: j as cJSON prints it, with util_json_escape(). */
static void put_scalar(FILE *f, const cJSON *j)
{
	char *text = cJSON_PrintUnformatted(j), *shown = util_json_escape(text ? text : "null");

	fputs(shown, f);
	cJSON_free(text);
	free(shown);
}

/* before: what comes before a value in the innermost container: its
 * opening or a comma, the line break and indent, and the key. */
static void before(struct jsonw *w, const char *key)
{
	if (w->depth == 0)
		return;
	struct jsonw_level *l = &w->stack[w->depth - 1];
	fputc(!l->any ? (l->object ? '{' : '[') : ',', w->f);
	l->any = true;
	fprintf(w->f, "\n%*s", (int)(2 * w->depth), "");
	if (l->object) {
		cJSON k = {.type = cJSON_String, .valuestring = (char *)(key ? key : "")};
		put_scalar(w->f, &k);
		fputs(": ", w->f);
	}
}

/* after: the newline that ends the top value. */
static void after(struct jsonw *w)
{
	if (w->depth > 0)
		return;
	fputc('\n', w->f);
	free(w->stack);
	w->stack = NULL;
	w->cap = 0;
}

static void put_value(struct jsonw *w, const char *key, const cJSON *j)
{
	before(w, key);
	put_scalar(w->f, j);
	after(w);
}

static void open_level(struct jsonw *w, const char *key, bool object)
{
	before(w, key);
	if (w->depth == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 8;
		w->stack = xreallocarray(w->stack, w->cap, sizeof(*w->stack));
	}
	w->stack[w->depth++] = (struct jsonw_level){.object = object};
}

void jsonw_init(struct jsonw *w, FILE *f)
{
	*w = (struct jsonw){.f = f};
}

void jsonw_object(struct jsonw *w, const char *key)
{
	open_level(w, key, true);
}

void jsonw_array(struct jsonw *w, const char *key)
{
	open_level(w, key, false);
}

void jsonw_end(struct jsonw *w)
{
	struct jsonw_level l = w->stack[--w->depth];

	if (!l.any)
		fputs(l.object ? "{}" : "[]", w->f);
	else
		fprintf(w->f, "\n%*s%c", (int)(2 * w->depth), "", l.object ? '}' : ']');
	after(w);
}

void jsonw_string(struct jsonw *w, const char *key, const char *s)
{
	cJSON j = {.type = s ? cJSON_String : cJSON_NULL, .valuestring = (char *)s};

	put_value(w, key, &j);
}

void jsonw_number(struct jsonw *w, const char *key, double v)
{
	cJSON j = {.type = cJSON_Number};

	cJSON_SetNumberHelper(&j, v);
	put_value(w, key, &j);
}

void jsonw_bool(struct jsonw *w, const char *key, bool v)
{
	cJSON j = {.type = v ? cJSON_True : cJSON_False};

	put_value(w, key, &j);
}

void jsonw_null(struct jsonw *w, const char *key)
{
	jsonw_string(w, key, NULL);
}

void jsonw_tree(struct jsonw *w, const char *key, const cJSON *j)
{
	bool object = cJSON_IsObject(j);

	if (!object && !cJSON_IsArray(j)) {
		put_value(w, key, j);
		return;
	}
	open_level(w, key, object);
	for (const cJSON *c = j->child; c; c = c->next)
		jsonw_tree(w, c->string, c);
	jsonw_end(w);
}
