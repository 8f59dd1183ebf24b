/* stub/conversation.c: the turns, steps and tool results of a request. */
#include "stub/conversation.h"

#include <stdlib.h>
#include <string.h>

void stub_conversation_init(struct stub_conversation *c)
{
	memset(c, 0, sizeof(*c));
	c->last.s = "";
}

void stub_conversation_release(struct stub_conversation *c)
{
	free(c->earlier);
	free(c->results);
	free(c->calls);
	arena_release(&c->arena);
}

/* Room for one more element in *items (n used of *cap). */
static void *grow(void *items, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return items;
	*cap = *cap ? 2 * *cap : 8;
	return xreallocarray(items, *cap, size);
}

/* The text of a content: a string, or the "text" strings of its parts (a
 * part may also be a bare string) joined by newlines. */
static struct stub_text text_of(struct stub_conversation *c, const cJSON *content)
{
	struct stub_text t = {"", 0};
	const cJSON *part;
	if (cJSON_IsString(content)) {
		t.s = content->valuestring;
		t.len = strlen(t.s);
		return t;
	}
	const cJSON *parts = cJSON_IsArray(content) ? content : NULL;
	struct buf b;
	buf_init(&b, 0);
	bool first = true;
	cJSON_ArrayForEach(part, parts) {
		const cJSON *text =
			cJSON_IsString(part) ? part : cJSON_GetObjectItemCaseSensitive(part, "text");
		if (!cJSON_IsString(text))
			continue;
		if (!first)
			buf_addch(&b, '\n');
		buf_addstr(&b, text->valuestring);
		first = false;
	}
	if (b.len) {
		t.s = arena_strndup(&c->arena, b.data, b.len);
		t.len = b.len;
	}
	buf_release(&b);
	return t;
}

void stub_conversation_user(struct stub_conversation *c, const cJSON *content)
{
	if (c->turn) {
		c->earlier = grow(c->earlier, c->nearlier, &c->cap_earlier, sizeof(*c->earlier));
		c->earlier[c->nearlier++] = c->last;
	}
	c->last = text_of(c, content);
	c->turn++;
	c->step = 1;
	c->nresults = 0;
}

void stub_conversation_assistant(struct stub_conversation *c)
{
	c->step++;
	c->nresults = 0;
	c->ncalls = 0;
}

void stub_conversation_call(struct stub_conversation *c, const char *id, const char *name)
{
	if (!id || !name)
		return;
	c->calls = grow(c->calls, c->ncalls, &c->cap_calls, 2 * sizeof(*c->calls));
	c->calls[2 * c->ncalls] = id;
	c->calls[2 * c->ncalls + 1] = name;
	c->ncalls++;
}

void stub_conversation_result(struct stub_conversation *c, const char *id, const cJSON *content)
{
	c->results = grow(c->results, c->nresults, &c->cap_results, sizeof(*c->results));
	c->results[c->nresults++] = (struct stub_tool_result){
		.call_id = id,
		.content = text_of(c, content),
	};
}

static int call_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void stub_conversation_end(struct stub_conversation *c, bool have, const char *s, size_t len)
{
	if (!have) {
		c->last = (struct stub_text){s, len};
		return;
	}
	/* Sorted by id, so that many results find their calls in n log n. */
	if (c->ncalls)
		qsort(c->calls, c->ncalls, 2 * sizeof(*c->calls), call_cmp);
	for (size_t i = 0; i < c->nresults; i++) {
		const char *key = c->results[i].call_id;
		const char **hit = key && c->ncalls ? bsearch(&key, c->calls, c->ncalls,
							      2 * sizeof(*c->calls), call_cmp)
						    : NULL;
		c->results[i].name = hit ? hit[1] : NULL;
	}
}
