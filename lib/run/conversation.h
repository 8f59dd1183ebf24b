/* run/conversation.h: one conversation sample of a case that has turns or
 * scripted tool results: the conversation in the target API's own form,
 * the tool loop of each turn, and what graders see of it.
 *
 * A conversation sends the case's first turn, reads each reply with the
 * target's provider, answers its tool calls with the case's scripted
 * results (the provider appends the reply and the results in its own
 * form) until the agent stops calling tools or the turn has taken
 * max_steps requests, and then goes on with the next user turn.  The run
 * (run.c) sends its requests and grades its turns; this module only keeps
 * its state.
 *
 * Ownership: a struct conversation borrows its case and target (the
 * suite's) and owns its messages, transcript and replies until
 * conversation_free().  Replies handed to conversation_take() are taken;
 * conversation_reply() gives a new one the caller owns.
 */
#ifndef CANARY_RUN_CONVERSATION_H
#define CANARY_RUN_CONVERSATION_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "provider.h"
#include "suite/suite.h"
#include "util.h"

struct sample;

struct conversation {
	const struct suite_case *c;
	const struct target *t;
	struct suite_case view;    /* c as the next request sends it */
	cJSON *messages;           /* the conversation in the API's form */
	size_t turn;               /* the current turn, from 0 */
	int step;                  /* requests of the current turn so far */
	int steps;                 /* requests of the whole conversation */
	size_t bytes;              /* reply bytes of the whole conversation */
	size_t max_bytes;          /* their cap (--max-reply) */
	double latency_ms;         /* of every request */
	double ttft_ms;            /* the first request's time to first token; -1: none */
	double turn_ttft_ms;       /* the current turn's first request's; -1: none */
	struct usage usage;        /* the tokens its replies declared, summed; -1: none did */
	struct buf transcript;     /* what the judge reads: one line per message */
	char *heard;               /* the transcript before the turn's last reply */
	struct reply last;         /* the last reply (content, raw, json) */
	struct reply turn_calls;   /* the tool calls of the current turn */
	struct reply all_calls;    /* the tool calls of the whole conversation */
};

/* conversation_init: the conversation of case c with target t, at its first
 * turn; max_bytes caps the bytes of all its replies (--max-reply). */
void conversation_init(struct conversation *cv, const struct suite_case *c,
		       const struct target *t, size_t max_bytes);
void conversation_free(struct conversation *cv);

/* conversation_take: take the parsed reply r of the current step and
 * record the step in out.  1: its tool calls are answered, send the next
 * step; 0: the turn is over (grade it with conversation_reply()); -1 and
 * *err (a reason for an error sample): the reply cannot go on (tool-call
 * arguments not JSON, a tool the case does not offer or has no result
 * for, max_steps reached, the conversation over max_bytes). */
int conversation_take(struct conversation *cv, struct reply *r, struct sample *out, char **err);

/* conversation_count: add the tokens reply r declared to the conversation's
 * usage (every reply read, whether or not the conversation can go on). */
void conversation_count(struct conversation *cv, const struct reply *r);

/* conversation_next_turn: go on to the next user turn; false when the
 * turn that ended was the last. */
bool conversation_next_turn(struct conversation *cv);

/* conversation_reply: what graders see when a turn ends (whole: the whole
 * conversation, else the turn): the last reply's content, raw body and
 * fingerprint, the tool calls of the turn or of the whole conversation, the
 * latency and the declared tokens of all its requests and the time to first
 * token of its first request (-1 when that one was not streamed); *input
 * (borrowed) is the transcript the judge reads before that reply. */
void conversation_reply(const struct conversation *cv, bool whole, struct reply *out,
			const char **input);

#endif
