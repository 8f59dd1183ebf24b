/* judge.c: an LLM judges the whole reply against a rubric.
 *     - judge: States that refunds are accepted within 30 days.
 *     - judge: {rubric: "...", threshold: 0.7}
 *     - judge: {builtin: factual-grounding}
 * The judge is the suite's judge: section; its request runs on the run's
 * transport (the judge pool).  The judge is a third party: it sees the
 * sample with the suite's secrets masked, and the reasons it gives are
 * masked before they are kept.  Decided verdicts are cached; a judge that
 * cannot be reached or gives no usable verdict makes an error, never a pass.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "judge/cache.h"
#include "judge/prompt.h"
#include "provider.h"
#include "redact.h"
#include "suite/suite.h"
#include "template.h"
#include "transport/transport.h"
#include "util.h"

#define JUDGE_DEFAULT_THRESHOLD 0.5

struct judge {
	const struct judge_config *cfg; /* the suite's; lives as long as the grader */
	char *rubric;                   /* the full text, a built-in's included */
	const struct judge_builtin *builtin;
	double threshold;
	const struct redact *redact;    /* the suite's; it fills as the run goes */
};

_Static_assert(JUDGE_CACHE_KEY_HEX == JUDGE_HASH_HEX, "one key size");

/* What the judge is shown of one sample, secrets masked, and where it is sent. */
struct judge_texts {
	char *url;              /* rendered */
	char *input;
	char *content;
	char *calls;
};

/* One sample's judgement in flight. */
struct judge_call {
	char key[JUDGE_CACHE_KEY_HEX + 1];
};

static const char *const judge_cfg_keys[] = {"rubric", "threshold", "builtin", NULL};

/* builtin_names: the built-ins' names for a suggestion or a list. */
static void builtin_names(const char **names, size_t max)
{
	size_t n = 0;
	for (const struct judge_builtin *b = judge_builtins; b->name && n + 1 < max; b++)
		names[n++] = b->name;
	names[n] = NULL;
}

/* compile_builtin: the built-in named by v, or an error with a suggestion. */
static int compile_builtin(struct judge *p, const struct ynode *v, char **err)
{
	if (grader_cfg_text(v, "judge builtin", err) < 0)
		return -1;
	p->builtin = judge_builtin_find(v->str);
	if (p->builtin)
		return 0;
	const char *names[16];
	builtin_names(names, ARRAY_SIZE(names));
	const char *hint = util_suggest(v->str, names);
	if (hint) {
		*err = ynode_error(v, "unknown judge builtin '%s' (did you mean '%s'?)", v->str,
				   hint);
		return -1;
	}
	struct buf b;
	buf_init(&b, BUF_MAX_DEFAULT);
	for (size_t i = 0; names[i]; i++)
		buf_addf(&b, "%s%s", i ? ", " : "", names[i]);
	*err = ynode_error(v, "unknown judge builtin '%s' (one of %s)", v->str, b.data);
	buf_release(&b);
	return -1;
}

/* compile_rubric: a rubric text that is not blank. */
static int compile_rubric(struct judge *p, const struct ynode *v, char **err)
{
	if (grader_cfg_text(v, "judge rubric", err) < 0)
		return -1;
	const char *s = v->str;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (!*s) {
		*err = ynode_error(v, "judge rubric is empty");
		return -1;
	}
	p->rubric = xstrdup(v->str);
	return 0;
}

static int judge_compile(void *priv, const struct ynode *cfg, const struct grader_env *env,
			 char **err)
{
	struct judge *p = priv;
	if (!cfg) {
		*err = xstrdup("judge needs a rubric");
		return -1;
	}
	if (!env || !env->judge || !env->judge->present) {
		*err = ynode_error(cfg, "the judge grader needs a 'judge:' section in the suite "
				   "(url, api, model)");
		return -1;
	}
	p->cfg = env->judge;
	p->redact = env->redact;
	p->threshold = JUDGE_DEFAULT_THRESHOLD;
	if (cfg->kind != YNODE_MAP)
		return compile_rubric(p, cfg, err);

	if (grader_check_keys(cfg, "judge", judge_cfg_keys, err) < 0)
		return -1;
	const struct ynode *rubric = ynode_get(cfg, "rubric");
	const struct ynode *builtin = ynode_get(cfg, "builtin");
	const struct ynode *threshold = ynode_get(cfg, "threshold");
	if (rubric && builtin) {
		*err = ynode_error(builtin, "judge takes a rubric or a builtin, not both");
		return -1;
	}
	if (!rubric && !builtin) {
		*err = ynode_error(cfg, "judge needs a rubric or a builtin");
		return -1;
	}
	if (rubric && compile_rubric(p, rubric, err) < 0)
		return -1;
	if (builtin) {
		if (compile_builtin(p, builtin, err) < 0)
			return -1;
		p->rubric = xstrdup(p->builtin->rubric);
		p->threshold = p->builtin->threshold;
	}
	if (threshold) {
		double t;
		if (threshold->kind != YNODE_SCALAR || ynode_number(threshold, &t) < 0 ||
		    !(t >= 0 && t <= 1)) {
			*err = ynode_error(threshold,
					   "judge threshold must be a number from 0 to 1");
			return -1;
		}
		p->threshold = t;
	}
	return 0;
}

static void judge_release(void *priv)
{
	struct judge *p = priv;
	free(p->rubric);
	p->rubric = NULL;
}

/* texts_init: render the judge URL as the request is sent to it, and mask
 * the suite's secrets in the sample's input, text and tool calls; -1 and
 * *err (naming no secret) when the URL cannot be rendered. */
static int texts_init(const struct judge *p, const struct grade_input *in, struct judge_texts *t,
		      char **err)
{
	const struct judge_config *j = p->cfg;
	const struct reply *r = in->reply;
	struct tmpl_ctx ctx = {.allowed = TMPL_ENV};
	memset(t, 0, sizeof(*t));
	t->url = j->url_overridden ? xstrdup(j->url) : template_render(j->url, &ctx, err);
	if (!t->url)
		return -1;
	char *calls = judge_prompt_tool_calls(r->tool_calls, r->ntool_calls);
	size_t len = r->content ? r->content_len : 0;
	char *content = redact_span(p->redact, r->content ? r->content : "", len, 0, len, &len);
	t->input = redact_apply(p->redact, in->input);
	/* The judge reads every byte: a NUL is shown, not an end. */
	t->content = util_show_nul(content, len);
	free(content);
	t->calls = redact_apply(p->redact, calls);
	free(calls);
	return 0;
}

static void texts_release(struct judge_texts *t)
{
	free(t->url);
	free(t->input);
	free(t->content);
	free(t->calls);
	memset(t, 0, sizeof(*t));
}

/* cache_key: the key of this judgement: the judge (its rendered URL), the
 * template, the rubric and threshold, and the texts the judge is shown. */
static void cache_key(const struct judge *p, const struct judge_texts *t,
		      char out[JUDGE_CACHE_KEY_HEX + 1])
{
	const struct judge_config *j = p->cfg;
	char temperature[40], max_tokens[24], threshold[40];
	snprintf(temperature, sizeof(temperature), "%.17g", j->temperature);
	snprintf(max_tokens, sizeof(max_tokens), "%d", j->max_tokens);
	snprintf(threshold, sizeof(threshold), "%.17g", p->threshold);
	const char *parts[] = {
		"canary-judge-cache-2",
		t->url,
		j->provider ? j->provider->name : "",
		j->model,
		temperature,
		max_tokens,
		JUDGE_PROMPT_VERSION,
		judge_prompt_hash(),
		p->builtin ? p->builtin->name : NULL,
		p->rubric,
		threshold,
		t->input,
		t->content,
		t->calls,
	};
	judge_cache_key(parts, ARRAY_SIZE(parts), out);
}

/* decide: turn a verdict into a grade (reason already masked). */
static void decide(const struct judge *p, bool pass, double score, const char *reason,
		   struct grade_result *out)
{
	if (pass) {
		grade_pass(out);
	} else if (reason && reason[0]) {
		grade_fail(out, "score %.2f: %s", score, reason);
	} else {
		grade_fail(out, "score %.2f below %.2f", score, p->threshold);
	}
	out->score = score;
}

/* new_request: the HTTP request for the judge at url, or NULL and *err
 * (never naming a header value). */
static struct http_request *new_request(const struct judge *p, const char *url, const char *body,
					char **err)
{
	const struct judge_config *j = p->cfg;
	struct tmpl_ctx ctx = {.allowed = TMPL_ENV};
	struct http_request *req = xcalloc(1, sizeof(*req));
	const char *const *fixed = j->provider->headers;
	size_t nfixed = 0;
	while (fixed && fixed[nfixed])
		nfixed++;
	req->url = xstrdup(url);
	req->headers = xcalloc(nfixed + j->nheaders + 1, sizeof(*req->headers));
	for (size_t i = 0; i < nfixed; i++)
		req->headers[req->nheaders++] = xstrdup(fixed[i]);
	for (size_t i = 0; i < j->nheaders; i++) {
		char *value = template_render(j->headers[i].value, &ctx, err);
		if (!value)
			goto fail;
		req->headers[req->nheaders++] = xasprintf("%s: %s", j->headers[i].name, value);
		free(value);
	}
	req->body = xstrdup(body);
	req->body_len = strlen(body);
	req->timeout_ms = j->timeout_ms;
	return req;
fail:
	http_request_free(req);
	return NULL;
}

/* judge_start: a cached verdict at once, else the judge request to send. */
static int judge_start(const void *priv, const struct grade_input *in, struct http_request **req,
		       void **call, struct grade_result *out)
{
	const struct judge *p = priv;
	struct grader_runtime *rt = in->rt;
	struct judge_cache *cache = rt ? rt->judge_cache : NULL;
	struct judge_call *jc = xcalloc(1, sizeof(*jc));
	struct judge_texts t;
	char *user = NULL, *body = NULL, *err = NULL;
	int rc = 0;

	if (texts_init(p, in, &t, &err) < 0) {
		grade_error(out, "cannot build the judge request: %s", err ? err : "unknown error");
		goto out;
	}
	cache_key(p, &t, jc->key);
	if (cache) {
		bool pass;
		double score;
		char *reason = NULL;
		/* A cache that cannot be read only costs a judge call. */
		if (judge_cache_get(cache, jc->key, &pass, &score, &reason, &err) == 1) {
			char *masked = redact_apply(p->redact, reason);
			rt->judge_cache_hits++;
			decide(p, pass, score, masked, out);
			free(masked);
			free(reason);
			goto out;
		}
		free(err);
		err = NULL;
	}
	struct judge_prompt jp = {
		.rubric = p->rubric,
		.input = t.input,
		.content = t.content,
		.tool_calls_text = t.calls,
	};
	user = judge_prompt_user(&jp);
	body = p->cfg->provider->judge_build(p->cfg, judge_prompt_system(p->builtin != NULL), user);
	*req = new_request(p, t.url, body, &err);
	if (!*req) {
		grade_error(out, "cannot build the judge request: %s", err ? err : "unknown error");
		goto out;
	}
	if (rt)
		rt->judge_calls++;
	*call = jc;
	jc = NULL;
	rc = 1;
out:
	texts_release(&t);
	free(jc);
	free(err);
	free(body);
	free(user);
	return rc;
}

/* judge_finish: the judge's answer as a grade; decided verdicts are cached. */
static void judge_finish(const void *priv, void *callp, const struct http_result *res,
			 struct grader_runtime *rt, struct grade_result *out)
{
	const struct judge *p = priv;
	struct judge_call *jc = callp;
	const struct provider *api = p->cfg->provider;
	struct reply r = {0};
	struct judge_verdict v = {0};
	const char *refused;
	bool quote = false;
	char *err = NULL;

	if (!res || !res->ok) {
		const char *e = res && res->error ? res->error : "request failed";
		if (res && res->attempts > 1)
			grade_error(out, "%s after %d attempts", e, res->attempts);
		else
			grade_error(out, "%s", e);
		goto out;
	}
	r.status = res->status;
	r.raw = xstrndup(res->body ? res->body : "", res->body ? res->body_len : 0);
	r.raw_len = res->body ? res->body_len : 0;
	r.redact = p->redact;
	if (provider_parse_reply(api, NULL, &r, &err) < 0) {
		if (res->attempts > 1)
			grade_error(out, "%s (after %d attempts)", err, res->attempts);
		else
			grade_error(out, "%s", err);
		goto out;
	}
	refused = api->judge_refusal ? api->judge_refusal(&r, &quote) : NULL;
	if (refused && quote) {
		char *ex = grade_excerpt(p->redact, refused, strlen(refused));
		grade_error(out, "judge refused: \"%s\"", ex);
		free(ex);
		goto out;
	}
	if (refused) {
		grade_error(out, "judge refused (%s)", refused);
		goto out;
	}
	/* The judge may quote a secret (its key, echoed): the reason is masked
	 * before it is cut, kept in the cache or shown. */
	if (judge_verdict_parse(r.content, strlen(r.content), p->builtin != NULL, p->threshold,
				p->redact, &v, &err) < 0) {
		grade_error(out, "%s", err);
		goto out;
	}
	decide(p, v.pass, v.score, v.reason, out);
	if (rt && rt->judge_cache) {
		char *e = NULL;
		/* A verdict that cannot be stored is judged again next time. */
		judge_cache_put(rt->judge_cache, jc->key, v.pass, v.score, v.reason, &e);
		free(e);
	}
out:
	judge_verdict_release(&v);
	reply_release(&r);
	free(err);
	free(jc);
}

bool judge_grader_info(const struct grader *g, struct judge_grader_info *out)
{
	if (!g || g->ops != &grader_judge)
		return false;
	const struct judge *p = g->priv;
	out->rubric = p->rubric;
	out->builtin = p->builtin ? p->builtin->name : NULL;
	out->threshold = p->threshold;
	return true;
}

int judge_grader_key(const struct grader *g, const struct grade_input *in,
		     char out[JUDGE_HASH_HEX + 1], char **err)
{
	if (!g || g->ops != &grader_judge) {
		*err = xstrdup("not a judge grader");
		return -1;
	}
	struct judge_texts t;
	if (texts_init(g->priv, in, &t, err) < 0)
		return -1;
	cache_key(g->priv, &t, out);
	texts_release(&t);
	return 0;
}

const struct grader_ops grader_judge = {
	.name = "judge",
	.priv_size = sizeof(struct judge),
	.compile = judge_compile,
	.release = judge_release,
	.whole_reply = true,
	.start = judge_start,
	.finish = judge_finish,
};
