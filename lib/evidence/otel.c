/* otel.c: the chat spans of an OpenTelemetry GenAI export (OTLP JSON). */
#include "evidence/evidence.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static const cJSON *member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* attribute: the value of key in an OTLP attribute list, or NULL. */
static const cJSON *attribute(const cJSON *attrs, const char *key)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, attrs) {
		const cJSON *k = member(a, "key");

		if (cJSON_IsString(k) && strcmp(k->valuestring, key) == 0)
			return member(a, "value");
	}
	return NULL;
}

/* attribute_json: a GenAI attribute that holds JSON (as the conventions
 * record it on spans: a string value of JSON text); NULL when absent or
 * not JSON. */
static cJSON *attribute_json(const cJSON *attrs, const char *key)
{
	const cJSON *s = member(attribute(attrs, key), "stringValue");

	return cJSON_IsString(s) ? cJSON_Parse(s->valuestring) : NULL;
}

/* parts_text: the text parts of a message (or of system instructions) joined. */
static char *parts_text(const cJSON *parts)
{
	const cJSON *p;
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	cJSON_ArrayForEach(p, parts) {
		const cJSON *type = member(p, "type"), *content = member(p, "content");

		if (cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0 &&
		    cJSON_IsString(content))
			buf_addstr(&b, content->valuestring);
	}
	return buf_detach(&b, NULL);
}

/* add_turn: a message's text as {role, content}, when it has text and a
 * role a case takes. */
static void add_turn(cJSON *out, const char *role, const cJSON *parts)
{
	static const char *const roles[] = {"system", "user", "assistant", NULL};
	char *text = parts_text(parts);

	for (size_t i = 0; roles[i] && *text; i++) {
		if (strcmp(roles[i], role) == 0) {
			cJSON_AddItemToArray(out, provider_message(role, text));
			break;
		}
	}
	free(text);
}

/* read_history: the tool_call and tool_call_response parts of input
 * messages, as the record's history. */
static void read_history(struct evidence_record *rec, const cJSON *input)
{
	const cJSON *m, *p;

	cJSON_ArrayForEach(m, input) {
		cJSON_ArrayForEach(p, member(m, "parts")) {
			const cJSON *type = member(p, "type"), *name = member(p, "name");
			const cJSON *id = member(p, "id");

			if (!cJSON_IsString(type))
				continue;
			if (strcmp(type->valuestring, "tool_call") == 0 && cJSON_IsString(name))
				reply_add_tool_call(&rec->calls,
						    cJSON_IsString(id) ? id->valuestring : NULL,
						    name->valuestring, member(p, "arguments"));
			else if (strcmp(type->valuestring, "tool_call_response") == 0)
				evidence_record_result(rec, id, member(p, "response"));
		}
	}
}

/* read_output: the assistant's text and tool calls of output messages. */
static void read_output(struct reply *r, const cJSON *output)
{
	const cJSON *m, *p;
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	cJSON_ArrayForEach(m, output) {
		const cJSON *parts = member(m, "parts");
		char *text = parts_text(parts);

		buf_addstr(&b, text);
		free(text);
		cJSON_ArrayForEach(p, parts) {
			const cJSON *type = member(p, "type"), *name = member(p, "name");
			const cJSON *id = member(p, "id");

			if (cJSON_IsString(type) && strcmp(type->valuestring, "tool_call") == 0 &&
			    cJSON_IsString(name))
				reply_add_tool_call(r, cJSON_IsString(id) ? id->valuestring : NULL,
						    name->valuestring, member(p, "arguments"));
		}
	}
	r->status = 200;
	r->content = buf_detach(&b, NULL);
	r->content_len = strlen(r->content);
}

/* span_time: startTimeUnixNano (a decimal string, or a number) as RFC 3339. */
static void span_time(const cJSON *span, char out[32])
{
	const cJSON *t = member(span, "startTimeUnixNano");
	long long ms = cJSON_IsString(t) ? strtoll(t->valuestring, NULL, 10) / 1000000
		       : cJSON_IsNumber(t) ? (long long)(t->valuedouble / 1e6) : 0;

	util_rfc3339(ms, out);
}

/* read_span: a chat span with gen_ai.input.messages into rec; false when
 * the span has none (another operation: a tool's, an agent's). */
static bool read_span(const cJSON *span, struct evidence_record *rec)
{
	const cJSON *attrs = member(span, "attributes"), *m;
	cJSON *input = attribute_json(attrs, "gen_ai.input.messages");
	cJSON *output, *system, *meta;
	char time[32];

	if (!cJSON_IsArray(input)) {
		cJSON_Delete(input);
		return false;
	}
	output = attribute_json(attrs, "gen_ai.output.messages");
	system = attribute_json(attrs, "gen_ai.system_instructions");
	memset(rec, 0, sizeof(*rec));
	rec->messages = cJSON_CreateArray();
	if (system)
		add_turn(rec->messages, "system", system);
	cJSON_ArrayForEach(m, input) {
		const cJSON *role = member(m, "role");

		if (cJSON_IsString(role))
			add_turn(rec->messages, role->valuestring, member(m, "parts"));
	}
	read_history(rec, input);
	read_output(&rec->reply, output);
	rec->json = cJSON_CreateObject();
	meta = cJSON_AddObjectToObject(rec->json, "metadata");
	span_time(span, time);
	cJSON_AddStringToObject(meta, "time", time);
	if (cJSON_IsString(member(span, "traceId")))
		cJSON_AddStringToObject(meta, "trace_id", member(span, "traceId")->valuestring);
	if (cJSON_IsString(member(span, "spanId")))
		cJSON_AddStringToObject(meta, "span_id", member(span, "spanId")->valuestring);
	rec->metadata = meta;
	cJSON_Delete(input);
	cJSON_Delete(output);
	cJSON_Delete(system);
	return true;
}

int evidence_otel_read(const char *text, size_t len, struct evidence_record **recs, size_t *n,
		       char **err)
{
	char *why = NULL;
	cJSON *doc = provider_json_parse(text, len, NULL, &why);
	const cJSON *rs, *ss, *span;

	*recs = NULL;
	*n = 0;
	if (!cJSON_IsArray(member(doc, "resourceSpans"))) {
		*err = doc ? xstrdup("an OTLP JSON export has a 'resourceSpans' array")
			   : xasprintf("not JSON: %s", why);
		free(why);
		cJSON_Delete(doc);
		return -1;
	}
	cJSON_ArrayForEach(rs, member(doc, "resourceSpans")) {
		cJSON_ArrayForEach(ss, member(rs, "scopeSpans")) {
			cJSON_ArrayForEach(span, member(ss, "spans")) {
				struct evidence_record rec;

				if (!read_span(span, &rec))
					continue;
				*recs = xreallocarray(*recs, *n + 1, sizeof(**recs));
				(*recs)[(*n)++] = rec;
			}
		}
	}
	cJSON_Delete(doc);
	return 0;
}
