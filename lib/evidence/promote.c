/* promote.c: a record made into a case, added to a suite file as text. */
#include "evidence/evidence.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "ynode.h"

#define EXCERPT_MAX 80
#define SLUG_WORDS 5

/* last_user: the content of the last user turn of rec, or NULL. */
static const char *last_user(const struct evidence_record *rec)
{
	const cJSON *m, *found = NULL;

	cJSON_ArrayForEach(m, rec->messages) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");

		if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
			found = cJSON_GetObjectItemCaseSensitive(m, "content");
	}
	return cJSON_IsString(found) ? found->valuestring : NULL;
}

char *evidence_case_id(const struct evidence_record *rec)
{
	const char *text = last_user(rec);
	struct buf b;
	int words = 0;
	bool in_word = false;

	buf_init(&b, BUF_MAX_DEFAULT);
	buf_addstr(&b, "promoted");
	for (const char *p = text ? text : ""; *p && words <= SLUG_WORDS; p++) {
		bool alnum = isascii((unsigned char)*p) && isalnum((unsigned char)*p);

		if (alnum && !in_word && ++words <= SLUG_WORDS)
			buf_addch(&b, '-');
		if (alnum && words <= SLUG_WORDS)
			buf_addch(&b, (char)tolower((unsigned char)*p));
		in_word = alnum;
	}
	return buf_detach(&b, NULL);
}

/* add_json: j as one line of JSON (a YAML flow value), its unsafe
 * characters escaped. */
static void add_json(struct buf *b, const cJSON *j)
{
	char *text = cJSON_PrintUnformatted(j);
	char *safe = util_json_escape(text);

	buf_addstr(b, safe);
	free(safe);
	cJSON_free(text);
}

/* add_string: s as a YAML double-quoted scalar. */
static void add_string(struct buf *b, const char *s)
{
	cJSON *j = cJSON_CreateString(s);

	add_json(b, j);
	cJSON_Delete(j);
}

/* add_literal: s as a case string, a template: "${" is written "$${". */
static void add_literal(struct buf *b, const char *s)
{
	struct buf t;

	buf_init(&t, BUF_MAX_DEFAULT);
	for (const char *p = s; *p; p++) {
		if (p[0] == '$' && p[1] == '{')
			buf_addch(&t, '$');
		buf_addch(&t, *p);
	}
	add_string(b, t.data ? t.data : "");
	buf_release(&t);
}

/* excerpt: the first line of s, at most EXCERPT_MAX bytes of whole UTF-8
 * characters; the caller frees. */
static char *excerpt(const char *s)
{
	size_t n = 0, len = strlen(s);

	while (n < len && s[n] != '\n' && s[n] != '\r') {
		size_t k = util_utf8_len((const unsigned char *)s + n, len - n);

		if (!k || n + k > EXCERPT_MAX)
			break;
		n += k;
	}
	return xstrndup(s, n);
}

/* call_json: {"name", "arguments": {"type": "object", "required": [...]}},
 * the members the call gave required (none: only the name). */
static cJSON *call_json(const struct tool_call *tc)
{
	cJSON *call = cJSON_CreateObject(), *schema, *required;
	const cJSON *arg;

	cJSON_AddStringToObject(call, "name", tc->name);
	if (!cJSON_IsObject(tc->arguments) || !tc->arguments->child)
		return call;
	schema = cJSON_AddObjectToObject(call, "arguments");
	cJSON_AddStringToObject(schema, "type", "object");
	required = cJSON_AddArrayToObject(schema, "required");
	cJSON_ArrayForEach(arg, tc->arguments)
		cJSON_AddItemToArray(required, cJSON_CreateString(arg->string));
	return call;
}

/* add_trajectory: trajectory: {calls, order: exact} of every call of the
 * history, then of the reply, in order. */
static void add_trajectory(struct buf *b, const struct evidence_record *rec)
{
	cJSON *j = cJSON_CreateObject(), *calls = cJSON_AddArrayToObject(j, "calls");

	for (size_t i = 0; i < rec->calls.ntool_calls; i++)
		cJSON_AddItemToArray(calls, call_json(&rec->calls.tool_calls[i]));
	for (size_t i = 0; i < rec->reply.ntool_calls; i++)
		cJSON_AddItemToArray(calls, call_json(&rec->reply.tool_calls[i]));
	cJSON_AddStringToObject(j, "order", "exact");
	buf_addstr(b, "trajectory: ");
	add_json(b, j);
	cJSON_Delete(j);
}

/* add_bad: what must not happen again: no_tool_call of the tools the reply
 * called, else not_contains of the start of its answer. */
static int add_bad(struct buf *b, const struct reply *r, char **err)
{
	if (r->ntool_calls) {
		cJSON *j = cJSON_CreateArray();
		for (size_t i = 0; i < r->ntool_calls; i++)
			cJSON_AddItemToArray(j, cJSON_CreateString(r->tool_calls[i].name));
		buf_addstr(b, "no_tool_call: ");
		add_json(b, j);
		cJSON_Delete(j);
		return 0;
	}
	char *ex = excerpt(r->content ? r->content : "");
	if (!*ex) {
		*err = xstrdup("the reply has neither tool calls nor text: nothing to forbid");
		free(ex);
		return -1;
	}
	buf_addstr(b, "not_contains: ");
	add_string(b, ex);
	free(ex);
	return 0;
}

/* result_next: the result the history gives the call of *slot (an item
 * of rec->results, or NULL past its end), or NULL; *slot moves on. */
static const char *result_next(const cJSON **slot)
{
	const cJSON *r = *slot;

	*slot = r ? r->next : NULL;
	return cJSON_IsString(r) ? r->valuestring : NULL;
}

/* when_json: a schema that the arguments of tc, and only they, validate. */
static cJSON *when_json(const struct tool_call *tc)
{
	cJSON *when = cJSON_CreateObject(), *props, *required;
	const cJSON *arg;

	if (!cJSON_IsObject(tc->arguments) || !tc->arguments->child) {
		cJSON_AddNumberToObject(when, "maxProperties", 0);
		return when;
	}
	cJSON_AddStringToObject(when, "type", "object");
	props = cJSON_AddObjectToObject(when, "properties");
	required = cJSON_AddArrayToObject(when, "required");
	cJSON_ArrayForEach(arg, tc->arguments) {
		cJSON *c = cJSON_AddObjectToObject(props, arg->string);
		cJSON_AddItemToObject(c, "const", cJSON_Duplicate(arg, 1));
		cJSON_AddItemToArray(required, cJSON_CreateString(arg->string));
	}
	return when;
}

/* add_tool_results: the tool_results: of the tool called name: the one
 * result its calls got in the history; when they got several, each call's
 * "when" its arguments, the last one answering any; a placeholder when
 * none was logged. */
static void add_tool_results(struct buf *b, const struct evidence_record *rec, const char *name)
{
	const char *first = NULL;
	size_t last = 0;
	bool several = false;

	const cJSON *slot = rec->results ? rec->results->child : NULL;
	for (size_t i = 0; i < rec->calls.ntool_calls; i++) {
		const char *r = result_next(&slot);
		if (!r || strcmp(rec->calls.tool_calls[i].name, name) != 0)
			continue;
		several = several || (first && strcmp(first, r) != 0);
		first = first ? first : r;
		last = i;
	}
	buf_addf(b, "    %s:", name);
	if (!several) {
		buf_addch(b, ' ');
		add_string(b, first ? first : "(no result was logged for this call)");
		buf_addch(b, '\n');
		return;
	}
	buf_addch(b, '\n');
	slot = rec->results ? rec->results->child : NULL;
	for (size_t i = 0; i < rec->calls.ntool_calls; i++) {
		const char *r = result_next(&slot);
		if (!r || strcmp(rec->calls.tool_calls[i].name, name) != 0)
			continue;
		if (i != last) {
			cJSON *when = when_json(&rec->calls.tool_calls[i]);
			buf_addstr(b, "      - when: ");
			add_json(b, when);
			cJSON_Delete(when);
			buf_addstr(b, "\n        result: ");
		} else {
			buf_addstr(b, "      - result: ");
		}
		add_string(b, r);
		buf_addch(b, '\n');
	}
}

/* add_scripts: tool_results: for every tool called, in the history or by
 * the reply, each once, in the order first called. */
static void add_scripts(struct buf *b, const struct evidence_record *rec)
{
	const struct reply *lists[] = {&rec->calls, &rec->reply};
	cJSON *seen = cJSON_CreateObject();

	buf_addstr(b, "  tool_results:\n");
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		for (size_t i = 0; i < lists[l]->ntool_calls; i++) {
			const char *name = lists[l]->tool_calls[i].name;
			if (cJSON_GetObjectItemCaseSensitive(seen, name))
				continue;
			cJSON_AddTrueToObject(seen, name);
			add_tool_results(b, rec, name);
		}
	}
	cJSON_Delete(seen);
}

/* add_provenance: comment lines: source, time, fingerprint, api, and what
 * the reply was. */
static void add_provenance(struct buf *b, const struct evidence_record *rec,
			   const struct evidence_promote *o)
{
	const cJSON *time = cJSON_GetObjectItemCaseSensitive(rec->metadata, "time");
	const char *fp = rec->reply.fingerprint;
	const cJSON *mfp = cJSON_GetObjectItemCaseSensitive(rec->metadata, "fingerprint");
	char *ex;

	if (!fp && cJSON_IsString(mfp))
		fp = mfp->valuestring;
	buf_addf(b, "# promoted by canary promote%s from %s\n", o->bad ? " --bad" : "", o->source);
	buf_addf(b, "# time: %s, fingerprint: %s, api: %s\n",
		 cJSON_IsString(time) ? time->valuestring : "unknown", fp ? fp : "none",
		 rec->api ? rec->api->name : "opentelemetry");
	buf_addstr(b, "# it replied:");
	for (size_t i = 0; i < rec->reply.ntool_calls; i++)
		buf_addf(b, "%s tool call %s", i ? "," : "", rec->reply.tool_calls[i].name);
	ex = excerpt(rec->reply.content ? rec->reply.content : "");
	if (*ex || !rec->reply.ntool_calls) {
		char *shown = util_json_escape(ex);
		buf_addf(b, "%s text \"%s%s\"", rec->reply.ntool_calls ? "," : "", shown,
			 rec->reply.content && strlen(ex) < strlen(rec->reply.content) ? "..." : "");
		free(shown);
	}
	buf_addch(b, '\n');
	free(ex);
}

char *evidence_case_yaml(const struct evidence_record *rec, const struct evidence_promote *o,
			 char **err)
{
	const cJSON *m;
	size_t nturns = 0, turn = 0;
	struct buf b;
	bool converses;

	if (!last_user(rec)) {
		*err = xstrdup("the conversation has no user turn");
		return NULL;
	}
	cJSON_ArrayForEach(m, rec->messages)
		nturns += strcmp(cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring, "user") == 0;
	converses = nturns > 1 || rec->calls.ntool_calls > 0;
	buf_init(&b, BUF_MAX_DEFAULT);
	add_provenance(&b, rec, o);
	buf_addstr(&b, "- id: ");
	add_string(&b, o->id);
	if (!converses) {
		buf_addstr(&b, "\n  input: ");
		add_literal(&b, last_user(rec));
		buf_addch(&b, '\n');
	} else {
		buf_addstr(&b, "\n  turns:\n");
		cJSON_ArrayForEach(m, rec->messages) {
			const char *role = cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring;
			const char *text = cJSON_GetObjectItemCaseSensitive(m, "content")->valuestring;

			if (strcmp(role, "user") != 0)
				continue;
			/* with --bad, the last turn's reply must not do it again */
			bool bad = o->bad && ++turn == nturns;
			buf_addstr(&b, bad ? "    - input: " : "    - ");
			add_literal(&b, text);
			if (bad) {
				buf_addstr(&b, "\n      expect:\n        - ");
				if (add_bad(&b, &rec->reply, err) < 0)
					goto fail;
			}
			buf_addch(&b, '\n');
		}
		if (rec->calls.ntool_calls || rec->reply.ntool_calls)
			add_scripts(&b, rec);
	}
	if (converses && o->bad)
		return buf_detach(&b, NULL);
	buf_addstr(&b, "  expect:\n    - ");
	if (o->bad && add_bad(&b, &rec->reply, err) < 0)
		goto fail;
	if (!o->bad && (rec->calls.ntool_calls || rec->reply.ntool_calls))
		add_trajectory(&b, rec);
	else if (!o->bad)
		buf_addstr(&b, "no_tool_call: true");
	buf_addch(&b, '\n');
	return buf_detach(&b, NULL);
fail:
	buf_release(&b);
	return NULL;
}

/* line_start: the offset of line (from 1) in text, or len past the end. */
static size_t line_start(const char *text, size_t len, int line)
{
	size_t at = 0;

	for (int l = 1; l < line && at < len; at++)
		if (text[at] == '\n')
			l++;
	return at;
}

/* before_comments: at (a line start), moved back over the blank lines and
 * the comment lines indented less than indent just above it: they belong
 * to the key at at, not to what comes before. */
static size_t before_comments(const char *text, size_t at, int indent)
{
	while (at > 0) {
		size_t from = at - 1;
		while (from > 0 && text[from - 1] != '\n')
			from--;
		size_t sp = strspn(text + from, " ");
		char c = text[from + sp];
		if (!(c == '\n' || c == '\r' || (c == '#' && sp < (size_t)indent)))
			break;
		at = from;
	}
	return at;
}

/* key_index: the index of key in map's pairs, or map->n. */
static size_t key_index(const struct ynode *map, const char *key)
{
	size_t i = 0;

	while (i < map->n && strcmp(map->items[2 * i]->str, key) != 0)
		i++;
	return i;
}

/* next_line: the line of the key after pair i of map, or 0 when it is the last. */
static int next_line(const struct ynode *map, size_t i)
{
	return i + 1 < map->n ? map->items[2 * (i + 1)]->line : 0;
}

/* add_indented: text's lines, each after indent spaces. */
static void add_indented(struct buf *b, const char *text, int indent)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);

		buf_addf(b, "%*s", indent, "");
		buf_add(b, p, n);
		p += n;
	}
}

/* flow: whether the collection n, the value of key k, is written in flow
 * style ({...} or [...]) rather than as a block. */
static bool flow(const struct ynode *k, const struct ynode *n)
{
	return n->n == 0 || n->items[0]->line == k->line;
}

char *evidence_file_add_cases(const char *text, size_t len, const char *name,
			      const char *stratum, const char *cases, char **err)
{
	struct ydoc *doc = len ? ydoc_parse(name, text, len, err) : NULL;
	const struct ynode *root = doc ? doc->root : NULL, *strata = NULL, *st, *list;
	size_t at = len, si, ci;
	int indent = 0, line = 0;
	struct buf b;

	if (len && !doc)
		return NULL;
	buf_init(&b, BUF_MAX_DEFAULT);
	if (root && root->kind != YNODE_MAP) {
		*err = ynode_error(root, "the file is not a mapping: cannot add a stratum to it");
		goto fail;
	}
	if (root && (si = key_index(root, "strata")) < root->n)
		strata = root->items[2 * si + 1];
	if (!strata) {
		buf_add(&b, text, len);
		if (len && text[len - 1] != '\n')
			buf_addch(&b, '\n');
		buf_addf(&b, "strata:\n  %s:\n    cases:\n", stratum);
		add_indented(&b, cases, 6);
		goto out;
	}
	if (strata->kind != YNODE_MAP || flow(root->items[2 * si], strata)) {
		*err = ynode_error(strata, "'strata' is not a block mapping: add the case by hand");
		goto fail;
	}
	ci = key_index(strata, stratum);
	if (ci == strata->n) {
		/* a new stratum at the end of strata */
		indent = strata->items[0]->col - 1;
		line = next_line(root, si);
		at = line ? before_comments(text, line_start(text, len, line), indent) : len;
		buf_add(&b, text, at);
		if (at && text[at - 1] != '\n')
			buf_addch(&b, '\n');
		buf_addf(&b, "%*s%s:\n%*scases:\n", indent, "", stratum, indent + 2, "");
		add_indented(&b, cases, indent + 4);
		buf_add(&b, text + at, len - at);
		goto out;
	}
	st = strata->items[2 * ci + 1];
	size_t k = st->kind == YNODE_MAP ? key_index(st, "cases") : 0;
	list = st->kind == YNODE_MAP && k < st->n ? st->items[2 * k + 1] : NULL;
	if (!list || list->kind != YNODE_SEQ || flow(st->items[2 * k], list)) {
		*err = ynode_error(list ? list : st, "the cases of stratum '%s' are not a block "
				   "list: add the case by hand", stratum);
		goto fail;
	}
	/* after the last case: before the next key of the stratum, of strata
	 * or of the file */
	indent = list->items[0]->col - 3;
	line = next_line(st, k);
	if (!line)
		line = next_line(strata, ci);
	if (!line)
		line = next_line(root, si);
	at = line ? before_comments(text, line_start(text, len, line), indent) : len;
	if (indent < 0 || text[line_start(text, len, list->items[0]->line) + (size_t)indent] != '-') {
		*err = ynode_error(list->items[0], "cannot tell the indentation of the cases of "
				   "stratum '%s': add the case by hand", stratum);
		goto fail;
	}
	buf_add(&b, text, at);
	if (at && text[at - 1] != '\n')
		buf_addch(&b, '\n');
	add_indented(&b, cases, indent);
	buf_add(&b, text + at, len - at);
out:
	ydoc_free(doc);
	return buf_detach(&b, NULL);
fail:
	ydoc_free(doc);
	buf_release(&b);
	return NULL;
}
