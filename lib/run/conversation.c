/* run/conversation.c: the state of one conversation sample. */
#include "run/conversation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/run.h"

/* The longest tool result or message a transcript line quotes in full. */
#define TRANSCRIPT_LINE_MAX 4000

/* say: one transcript line "who: text", text cut at TRANSCRIPT_LINE_MAX. */
static void say(struct conversation *cv, const char *who, const char *text)
{
	size_t len = strlen(text);
	buf_addf(&cv->transcript, "%s: %.*s%s\n", who, (int)(len > TRANSCRIPT_LINE_MAX
							   ? TRANSCRIPT_LINE_MAX : len),
		 text, len > TRANSCRIPT_LINE_MAX ? "..." : "");
}

/* The text of a message's content, for the transcript. */
static void say_message(struct conversation *cv, const cJSON *m)
{
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	provider_add_text(&b, cJSON_GetObjectItemCaseSensitive(m, "content"));
	say(cv, cJSON_IsString(role) ? role->valuestring : "message", b.data ? b.data : "");
	buf_release(&b);
}

void conversation_init(struct conversation *cv, const struct suite_case *c,
		       const struct target *t, size_t max_bytes)
{
	const cJSON *m;
	memset(cv, 0, sizeof(*cv));
	cv->c = c;
	cv->t = t;
	cv->max_bytes = max_bytes;
	cv->ttft_ms = -1;
	cv->turn_ttft_ms = -1;
	cv->usage = (struct usage){-1, -1, -1, -1, -1};
	cv->messages = cJSON_Duplicate(c->messages, 1);
	cv->view = *c;
	cv->view.messages = cv->messages;
	buf_init(&cv->transcript, BUF_MAX_DEFAULT);
	cJSON_ArrayForEach(m, c->messages)
		say_message(cv, m);
}

void conversation_free(struct conversation *cv)
{
	cJSON_Delete(cv->messages);
	buf_release(&cv->transcript);
	free(cv->heard);
	reply_release(&cv->last);
	reply_release(&cv->turn_calls);
	reply_release(&cv->all_calls);
	memset(cv, 0, sizeof(*cv));
}

/* copy_call: append tc to r. */
static void copy_call(struct reply *r, const struct tool_call *tc)
{
	if (tc->arguments) {
		reply_add_tool_call(r, tc->id, tc->name, tc->arguments);
	} else {
		cJSON *raw = cJSON_CreateString(tc->arguments_raw);
		reply_add_tool_call(r, tc->id, tc->name, raw);
		cJSON_Delete(raw);
	}
}

/* offered: whether the case offers the tool called name. */
static bool offered(const struct suite_case *c, const char *name)
{
	for (size_t i = 0; i < c->ntools; i++)
		if (strcmp(c->tools[i]->name, name) == 0)
			return true;
	return false;
}

/* record_step: the request's step in out's current turn. */
static void record_step(struct conversation *cv, const struct reply *r, struct sample *out)
{
	while (out->nturns <= cv->turn) {
		out->turns = xreallocarray(out->turns, out->nturns + 1, sizeof(*out->turns));
		memset(&out->turns[out->nturns++], 0, sizeof(*out->turns));
	}
	struct sample_turn *st = &out->turns[cv->turn];
	st->steps = xreallocarray(st->steps, st->nsteps + 1, sizeof(*st->steps));
	struct sample_step *s = &st->steps[st->nsteps++];
	memset(s, 0, sizeof(*s));
	s->status = r->status;
	s->latency_ms = r->latency_ms;
	s->ncalls = r->ntool_calls;
	s->calls = xcalloc(r->ntool_calls ? r->ntool_calls : 1, sizeof(*s->calls));
	for (size_t i = 0; i < r->ntool_calls; i++)
		s->calls[i] = xstrdup(r->tool_calls[i].name);
}

/* answer: the scripted results of r's tool calls, each call given an id
 * when the API gave none; NULL and *err when one cannot be answered. */
static const char **answer(struct conversation *cv, struct reply *r, char **err)
{
	const char **results = xcalloc(r->ntool_calls, sizeof(*results));
	for (size_t i = 0; i < r->ntool_calls; i++) {
		struct tool_call *tc = &r->tool_calls[i];
		const char *why = NULL;
		if (!tc->id)
			tc->id = xasprintf("call_%d_%zu", cv->steps, i + 1);
		if (!tc->arguments && tc->arguments_raw[0]) {
			*err = xasprintf("the arguments of tool call '%s' are not valid JSON",
					 tc->name);
		} else if (!offered(cv->c, tc->name)) {
			*err = xasprintf("the agent called tool '%s', which the case does not offer",
					 tc->name);
		} else if (!(results[i] = suite_tool_result(cv->c, tc->name, tc->arguments, &why))) {
			*err = xasprintf("%s for tool '%s'", why, tc->name);
		}
		if (*err) {
			free(results);
			return NULL;
		}
	}
	return results;
}

int conversation_take(struct conversation *cv, struct reply *r, struct sample *out, char **err)
{
	int rc = -1;
	const char **results = NULL;
	cv->step++;
	cv->steps++;
	cv->bytes += r->raw_len;
	cv->latency_ms += r->latency_ms;
	if (cv->step == 1)
		cv->turn_ttft_ms = r->ttft_ms;
	if (cv->steps == 1)
		cv->ttft_ms = r->ttft_ms;
	record_step(cv, r, out);
	if (cv->max_bytes && cv->bytes > cv->max_bytes) {
		*err = xasprintf("the conversation's replies are over --max-reply (%zu bytes "
				 "in all)", cv->bytes);
		goto out;
	}
	for (size_t i = 0; i < r->ntool_calls; i++) {
		copy_call(&cv->turn_calls, &r->tool_calls[i]);
		copy_call(&cv->all_calls, &r->tool_calls[i]);
	}
	if (!cv->t->provider->append) {
		*err = xasprintf("api %s cannot hold a conversation", cv->t->provider->name);
		goto out;
	}
	bool loop = r->ntool_calls && !cv->t->provider->own_tools;
	if (loop && cv->step >= cv->c->max_steps) {
		*err = xasprintf("still calling tools after max_steps (%d requests)",
				 cv->c->max_steps);
		goto out;
	}
	if (loop && !(results = answer(cv, r, err)))
		goto out;
	if (!loop) {
		/* Without the last line's newline: the judge's tag closes it. */
		free(cv->heard);
		cv->heard = xstrndup(cv->transcript.data ? cv->transcript.data : "",
				     cv->transcript.len ? cv->transcript.len - 1 : 0);
	}
	if (r->content[0] || !r->ntool_calls)
		say(cv, "assistant", r->content);
	for (size_t i = 0; i < r->ntool_calls; i++) {
		char *line = xasprintf("%s %s", r->tool_calls[i].name,
				       r->tool_calls[i].arguments_raw);
		say(cv, "assistant calls", line);
		free(line);
		if (results) {
			line = xasprintf("%s: %s", r->tool_calls[i].name, results[i]);
			say(cv, "tool", line);
			free(line);
		}
	}
	cv->t->provider->append(cv->messages, r, results);
	rc = loop ? 1 : 0;
out:
	free(results);
	reply_release(&cv->last);
	cv->last = *r;
	memset(r, 0, sizeof(*r));
	return rc;
}

void conversation_count(struct conversation *cv, const struct reply *r)
{
	long long *sum[] = {&cv->usage.input, &cv->usage.output, &cv->usage.total,
			    &cv->usage.cached, &cv->usage.reasoning};
	const long long add[] = {r->usage.input, r->usage.output, r->usage.total,
				 r->usage.cached, r->usage.reasoning};
	for (size_t i = 0; i < ARRAY_SIZE(add); i++)
		if (add[i] >= 0)
			*sum[i] = (*sum[i] < 0 ? 0 : *sum[i]) + add[i];
}

bool conversation_next_turn(struct conversation *cv)
{
	if (cv->turn + 1 >= cv->c->nturns)
		return false;
	cv->turn++;
	cv->step = 0;
	reply_release(&cv->turn_calls);
	cv->view.input = cv->c->turns[cv->turn].input;
	cJSON_AddItemToArray(cv->messages, provider_message("user", cv->view.input));
	say(cv, "user", cv->view.input);
	return true;
}

void conversation_reply(const struct conversation *cv, bool whole, struct reply *out,
			const char **input)
{
	const struct reply *calls = whole ? &cv->all_calls : &cv->turn_calls;
	const struct reply *last = &cv->last;
	memset(out, 0, sizeof(*out));
	out->status = last->status;
	out->raw = xstrndup(last->raw ? last->raw : "", last->raw ? last->raw_len : 0);
	out->raw_len = last->raw ? last->raw_len : 0;
	out->json = last->json ? cJSON_Duplicate(last->json, 1) : NULL;
	out->content = xstrndup(last->content ? last->content : "",
				last->content ? last->content_len : 0);
	out->content_len = last->content ? last->content_len : 0;
	out->fingerprint = last->fingerprint ? xstrdup(last->fingerprint) : NULL;
	out->latency_ms = cv->latency_ms;
	out->ttft_ms = whole ? cv->ttft_ms : cv->turn_ttft_ms;
	out->usage = cv->usage;
	out->redact = last->redact;
	for (size_t i = 0; i < calls->ntool_calls; i++)
		copy_call(out, &calls->tool_calls[i]);
	*input = cv->heard ? cv->heard : "";
}
