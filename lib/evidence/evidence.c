/* evidence.c: log records read into messages and a parsed reply. */
#include "evidence/evidence.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char *const evidence_apis[] = {"openai-chat", "openai-responses", "anthropic-messages",
				     NULL};

static const cJSON *member(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static bool is_str(const cJSON *obj, const char *key, const char *value)
{
	const cJSON *v = member(obj, key);

	return cJSON_IsString(v) && strcmp(v->valuestring, value) == 0;
}

/* has_role: whether a message of array messages has role. */
static bool has_role(const cJSON *messages, const char *role)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, messages) {
		if (is_str(m, "role", role))
			return true;
	}
	return false;
}

static bool chat_response(const cJSON *r)
{
	return cJSON_IsArray(member(r, "choices"));
}

/* chat_request: messages with a role only chat takes in its messages. */
static bool chat_request(const cJSON *r)
{
	const cJSON *m = member(r, "messages");

	return !member(r, "system") &&
	       (has_role(m, "system") || has_role(m, "developer") || has_role(m, "tool"));
}

static bool responses_response(const cJSON *r)
{
	return is_str(r, "object", "response") || cJSON_IsArray(member(r, "output"));
}

static bool responses_request(const cJSON *r)
{
	return member(r, "input") || member(r, "instructions");
}

static bool anthropic_response(const cJSON *r)
{
	return is_str(r, "type", "message") && cJSON_IsArray(member(r, "content"));
}

static bool anthropic_request(const cJSON *r)
{
	return member(r, "system") && cJSON_IsArray(member(r, "messages"));
}

/* add_message: append {role, content} to out when text is not empty. */
static void add_message(cJSON *out, const char *role, const cJSON *content)
{
	struct buf b;

	buf_init(&b, BUF_MAX_DEFAULT);
	provider_add_text(&b, content);
	if (b.len)
		cJSON_AddItemToArray(out, provider_message(role, b.data));
	buf_release(&b);
}

/* message_role: the suite role of an API role (developer is system), or
 * NULL for one that carries no turn of text (tool). */
static const char *message_role(const cJSON *m)
{
	static const char *const roles[][2] = {
		{"system", "system"},
		{"developer", "system"},
		{"user", "user"},
		{"assistant", "assistant"},
	};
	const cJSON *role = member(m, "role");

	for (size_t i = 0; cJSON_IsString(role) && i < ARRAY_SIZE(roles); i++) {
		if (strcmp(role->valuestring, roles[i][0]) == 0)
			return roles[i][1];
	}
	return NULL;
}

/* add_list: the text turns of an array of messages (or message items). */
static void add_list(cJSON *out, const cJSON *list)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, list) {
		const char *role = message_role(m);

		if (role)
			add_message(out, role, member(m, "content"));
	}
}

/* chat_messages: messages[]. */
static int chat_messages(const cJSON *req, cJSON *out, char **err)
{
	const cJSON *messages = member(req, "messages");

	if (!cJSON_IsArray(messages)) {
		*err = xstrdup("request has no 'messages' array");
		return -1;
	}
	add_list(out, messages);
	return 0;
}

/* responses_messages: instructions, then input (a string or items). */
static int responses_messages(const cJSON *req, cJSON *out, char **err)
{
	const cJSON *input = member(req, "input");

	if (!cJSON_IsString(input) && !cJSON_IsArray(input)) {
		*err = xstrdup("request has no 'input' string or array");
		return -1;
	}
	add_message(out, "system", member(req, "instructions"));
	if (cJSON_IsString(input))
		add_message(out, "user", input);
	else
		add_list(out, input);
	return 0;
}

/* anthropic_messages: system (a string or text blocks), then messages[]. */
static int anthropic_messages(const cJSON *req, cJSON *out, char **err)
{
	const cJSON *messages = member(req, "messages");

	if (!cJSON_IsArray(messages)) {
		*err = xstrdup("request has no 'messages' array");
		return -1;
	}
	add_message(out, "system", member(req, "system"));
	add_list(out, messages);
	return 0;
}

/* How each API's bodies look, and how its request holds the conversation. */
static const struct shape {
	const char *api;
	bool (*response)(const cJSON *r);
	bool (*request)(const cJSON *r);
	int (*messages)(const cJSON *req, cJSON *out, char **err);
} shapes[] = {
	{"openai-chat", chat_response, chat_request, chat_messages},
	{"openai-responses", responses_response, responses_request, responses_messages},
	{"anthropic-messages", anthropic_response, anthropic_request, anthropic_messages},
};

static const struct shape *shape_of(const struct provider *p)
{
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		if (strcmp(shapes[i].api, p->name) == 0)
			return &shapes[i];
	}
	return NULL;
}

/* detect: the one shape whose test (response or request) body passes. */
static const struct shape *detect(const cJSON *body, bool response)
{
	const struct shape *found = NULL;

	if (!cJSON_IsObject(body))
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		if (!(response ? shapes[i].response : shapes[i].request)(body))
			continue;
		if (found)
			return NULL;
		found = &shapes[i];
	}
	return found;
}

const struct provider *evidence_detect_api(const cJSON *request, const cJSON *response)
{
	const struct shape *s = detect(response, true);

	if (!s)
		s = detect(request, false);
	return s ? provider_find(s->api) : NULL;
}

/* pick_api: the API named by name, else metadata.api, else detected. */
static const struct provider *pick_api(const char *name, const struct evidence_record *rec,
				       char **err)
{
	const cJSON *meta_api = member(rec->metadata, "api");
	const struct provider *p;
	char *names;

	if (!name && cJSON_IsString(meta_api))
		name = meta_api->valuestring;
	if (!name) {
		p = evidence_detect_api(rec->request, rec->response);
		if (!p)
			*err = xstrdup("cannot tell the record's api from its bodies "
				       "(give metadata.api)");
		return p;
	}
	p = provider_find(name);
	if (p && shape_of(p))
		return p;
	names = util_join(evidence_apis, ", ");
	*err = xasprintf("unknown log record api '%s' (one of %s)", name, names);
	free(names);
	return NULL;
}

/* read_reply: the response as the target's reply, parsed by rec->api. */
static void read_reply(struct evidence_record *rec, const struct redact *rd)
{
	const cJSON *status = member(rec->metadata, "status");
	const cJSON *latency = member(rec->metadata, "latency_ms");
	const cJSON *fp = member(rec->metadata, "fingerprint");
	struct reply *r = &rec->reply;

	r->status = cJSON_IsNumber(status) ? (long)status->valuedouble : 200;
	r->raw = provider_json_text(rec->response);
	r->raw_len = strlen(r->raw);
	r->latency_ms = cJSON_IsNumber(latency) ? latency->valuedouble : 0;
	r->fingerprint = cJSON_IsString(fp) ? xstrdup(fp->valuestring) : NULL;
	r->redact = rd;
	provider_parse_reply(rec->api, NULL, r, &rec->reply_error);
	r->redact = NULL;
}

int evidence_record_read(const char *line, size_t len, const char *api, const struct redact *rd,
			 struct evidence_record *rec, char **err)
{
	char *why = NULL;
	int ret = -1;

	memset(rec, 0, sizeof(*rec));
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	rec->json = provider_json_parse(line, len, rd, &why);
	if (!rec->json) {
		*err = xasprintf("not JSON: %s", why);
		goto out;
	}
	rec->request = member(rec->json, "request");
	rec->response = member(rec->json, "response");
	rec->metadata = member(rec->json, "metadata");
	if (!cJSON_IsObject(rec->json) || !cJSON_IsObject(rec->request) ||
	    !cJSON_IsObject(rec->response)) {
		*err = xstrdup("a log record is an object with 'request' and 'response' objects");
		goto out;
	}
	if (rec->metadata && !cJSON_IsObject(rec->metadata)) {
		*err = xstrdup("a log record's 'metadata' is an object");
		goto out;
	}
	rec->api = pick_api(api, rec, err);
	if (!rec->api)
		goto out;
	rec->messages = cJSON_CreateArray();
	if (shape_of(rec->api)->messages(rec->request, rec->messages, &why) < 0) {
		*err = xasprintf("%s %s", rec->api->name, why);
		goto out;
	}
	read_reply(rec, rd);
	ret = 0;
out:
	free(why);
	if (ret < 0)
		evidence_record_release(rec);
	return ret;
}

void evidence_record_release(struct evidence_record *rec)
{
	if (!rec)
		return;
	cJSON_Delete(rec->json);
	cJSON_Delete(rec->messages);
	reply_release(&rec->reply);
	free(rec->reply_error);
	memset(rec, 0, sizeof(*rec));
}
