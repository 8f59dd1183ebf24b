/* stub/stub.c: the scripted agent's server, on libmicrohttpd.
 *
 * A request's path picks the API it speaks (else the stub's --api); the
 * API reads its conversation, the script's first rule that matches and
 * still applies gives the answer, and the API writes it as a body or, when
 * the request asks for a stream, as server-sent events (stub/stream.c
 * makes their bytes, faults included).  The mutable state of a running
 * stub (the PRNG, the per-rule `times` counters, the stop flag) sits
 * behind one mutex; sleeps wait on a condition variable that stub_stop()
 * broadcasts.
 */
#include "stub/stub.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "stub/api.h"
#include "stub/conversation.h"
#include "stub/script.h"
#include "stub/stream.h"
#include "util.h"

#define STUB_MAX_BODY ((size_t)8 << 20)      /* larger request bodies get 413 */
#define STUB_POLL_MS 50                      /* how often sleepers look at the client */
#define STUB_BLOCK ((size_t)64 << 10)        /* the most one write of a reply sends */
#define STUB_DEFAULT_MODEL "stub-model"

struct stub {
	struct stub_script *script;
	const struct stub_api *api; /* for paths that name no API */
	struct MHD_Daemon *daemon;
	int port;
	FILE *log;
	pthread_mutex_t log_lock;
	pthread_mutex_t lock;     /* guards stopping, rng and used */
	pthread_cond_t wake;      /* broadcast by stub_stop() */
	bool stopping;
	uint64_t rng;
	long *used;               /* per rule: requests it answered */
	atomic_long requests;
	atomic_long next_id;
	atomic_long next_call;
};

/* What one request is while its body arrives. */
struct request {
	struct buf body;
	size_t dropped;           /* bytes past the limit */
	bool too_large;
};

/* One request being answered. */
struct exchange {
	struct stub *stub;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const struct stub_api *api; /* the path's, or the stub's */
	const cJSON *json;        /* the parsed body, or NULL */
	const char *body;         /* the raw body when it is not JSON, or NULL */
	size_t body_len;
};

/* A reply on its way out, read by MHD as it sends. */
struct outgoing {
	struct stub *stub;
	struct MHD_Connection *conn;
	struct stub_stream st;
	char marker[48];          /* where a `size:` answer's filler goes */
	bool started;
};

/* xorshift64*, advanced with s->lock held. */
static double next_random(struct stub *s)
{
	uint64_t x = s->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* splitmix64 of the seed, so that nearby seeds give unrelated streams. */
static uint64_t seed_state(unsigned seed)
{
	uint64_t z = seed;
	if (!z) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		z = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
	}
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return z ? z : 1;
}

/* The answer of the first rule that matches c and still applies, after
 * drawing its probability; NULL when none does.  A rule whose draw fails
 * and that has no `otherwise:` lets the later rules answer. */
static const struct stub_answer *choose(struct stub *s, const struct stub_conversation *c,
					long *index, bool *otherwise)
{
	const struct stub_script *sc = s->script;
	for (size_t i = 0; i < sc->nrules; i++) {
		const struct stub_rule *r = &sc->rules[i];
		const struct stub_answer *a = NULL;
		if (!stub_rule_matches(r, c))
			continue;
		pthread_mutex_lock(&s->lock);
		if (!r->times || s->used[i] < r->times) {
			if (!r->has_probability || next_random(s) < r->probability)
				a = &r->answer;
			else if (r->has_otherwise)
				a = &r->otherwise;
			if (a)
				s->used[i]++;
		}
		pthread_mutex_unlock(&s->lock);
		if (a) {
			*index = (long)i;
			*otherwise = a == &r->otherwise;
			return a;
		}
	}
	return NULL;
}

/* Whether the client closed its end of the connection. */
static bool client_gone(int fd)
{
	if (fd < 0)
		return false;
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) <= 0)
		return false;
	return p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL);
}

/* Sleep ms milliseconds (until the stub stops when ms < 0): 0 when the time
 * passed, -1 early when the stub stops or the client hangs up. */
static int wait_for(struct stub *s, struct MHD_Connection *conn, long ms)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	int fd = ci ? ci->connect_fd : -1;
	double end = util_now_ms() + (double)ms;
	int rc = -1;
	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		double left = ms < 0 ? STUB_POLL_MS : end - util_now_ms();
		if (left <= 0) {
			rc = 0;
			break;
		}
		long step = left < STUB_POLL_MS ? (long)ceil(left) : STUB_POLL_MS;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += step * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
		pthread_mutex_unlock(&s->lock);
		bool gone = client_gone(fd);
		pthread_mutex_lock(&s->lock);
		if (gone)
			break;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Append one JSON line for a request (its body, never its headers) and
 * count it; status 0 and rule -1 are logged as null. */
static void log_request(struct exchange *x, int status, long rule, bool otherwise)
{
	struct stub *s = x->stub;
	atomic_fetch_add(&s->requests, 1);
	if (!s->log)
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "time_ms", (double)util_wall_ms());
	cJSON_AddStringToObject(o, "method", x->method);
	cJSON_AddStringToObject(o, "path", x->path);
	if (x->json)
		cJSON_AddItemReferenceToObject(o, "body", (cJSON *)x->json);
	else if (x->body)
		cJSON_AddStringToObject(o, "body", x->body);
	else
		cJSON_AddNullToObject(o, "body");
	if (status)
		cJSON_AddNumberToObject(o, "status", status);
	else
		cJSON_AddNullToObject(o, "status");
	if (rule >= 0) {
		cJSON_AddNumberToObject(o, "rule", (double)rule);
		cJSON_AddBoolToObject(o, "otherwise", otherwise);
	} else {
		cJSON_AddNullToObject(o, "rule");
	}
	char *line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!line)
		return;
	pthread_mutex_lock(&s->log_lock);
	fputs(line, s->log);
	fputc('\n', s->log);
	fflush(s->log);
	pthread_mutex_unlock(&s->log_lock);
	cJSON_free(line);
}

/* Add the stub's headers to resp and queue it; resp is released. */
static enum MHD_Result queue(struct exchange *x, int status, struct MHD_Response *resp,
			     const char *content_type, const char *retry_after)
{
	const struct stub_script *sc = x->stub->script;
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (sc->fingerprint)
		MHD_add_response_header(resp, sc->fingerprint_header, sc->fingerprint);
	if (retry_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
	enum MHD_Result rc = MHD_queue_response(x->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* Queue a cJSON body, which is deleted. */
static enum MHD_Result send_json(struct exchange *x, int status, cJSON *j,
				 const char *retry_after)
{
	char *data = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!data)
		return MHD_NO;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(strlen(data), data, cJSON_free);
	if (!resp)
		cJSON_free(data);
	return queue(x, status, resp, "application/json", retry_after);
}

/* Queue text that outlives the server (the script's). */
static enum MHD_Result send_static(struct exchange *x, int status, const char *text,
				   const char *content_type, const char *retry_after)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	return queue(x, status, resp, content_type, retry_after);
}

/* Log and answer an error the stub itself decides (no rule). */
static enum MHD_Result send_error(struct exchange *x, int status, const char *message)
{
	log_request(x, status, -1, false);
	return send_json(x, status, x->api->error(status, message), NULL);
}

/* MHD's reader of a reply: the next write, after the stream's delay; at
 * the end of a stream that hangs, the wait for the client or the stop. */
static ssize_t outgoing_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct outgoing *o = cls;
	const struct stub_stream_plan *p = o->st.plan;
	if (!stub_stream_more(&o->st)) {
		if (!o->st.hang)
			return MHD_CONTENT_READER_END_OF_STREAM;
		wait_for(o->stub, o->conn, -1);
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (o->started && p && p->delay_ms > 0 && wait_for(o->stub, o->conn, p->delay_ms) < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	o->started = true;
	size_t limit = p && p->chunk && p->chunk < max ? p->chunk : max;
	return (ssize_t)stub_stream_read(&o->st, out, limit, p && !p->chunk && p->delay_ms > 0);
}

static void outgoing_free(void *cls)
{
	struct outgoing *o = cls;
	stub_stream_release(&o->st);
	free(o);
}

/* The pieces a stream sends s[0..len) in (stub_text_piece()); counted
 * only when out is NULL. */
static size_t split_words(const char *s, size_t len, struct stub_text *out)
{
	size_t n = 0;
	for (size_t off = 0, k; off < len; off += k, n++) {
		k = stub_text_piece(s, len, off);
		if (out)
			out[n] = (struct stub_text){s + off, k};
	}
	return n;
}

static const char *reply_model(const struct exchange *x)
{
	const char *m = stub_json_str(x->json, "model");
	if (x->stub->script->model)
		return x->stub->script->model;
	return m ? m : STUB_DEFAULT_MODEL;
}

/* Answer with content: a's text, refusal or tool calls (c's last user
 * turn for an echo), as a body or, when the request asks, a stream. */
static enum MHD_Result send_reply(struct exchange *x, const struct stub_answer *a,
				  const struct stub_conversation *c)
{
	struct stub *s = x->stub;
	struct outgoing *o = xcalloc(1, sizeof(*o));
	const struct stub_text *last = &c->last;
	const cJSON *options = cJSON_GetObjectItemCaseSensitive(x->json, "stream_options");
	bool stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x->json, "stream"));
	struct stub_reply r = {
		.kind = a->kind == STUB_REFUSAL || a->kind == STUB_TOOL_CALLS ? a->kind : STUB_TEXT,
		.calls = a->calls,
		.ncalls = a->ncalls,
		.model = reply_model(x),
		.fingerprint = s->script->fingerprint,
		.number = atomic_fetch_add(&s->next_id, 1) + 1,
		.created = (double)time(NULL),
		.usage = a->usage,
		.request = x->json,
		.include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(options,
									       "include_usage")),
	};
	char *text = a->kind == STUB_ECHO ? xstrndup(last->s, last->len)
		     : a->text        ? xstrdup(a->text)
		     : a->kind == STUB_SIZE ? xstrdup("")
					    : NULL;
	size_t len = text ? strlen(text) : 0, pad = 0, nwords;
	if (a->kind == STUB_SIZE) {
		/* The filler stands where the marker does (cJSON prints it as
		 * it is), and is streamed as one last delta. */
		snprintf(o->marker, sizeof(o->marker), "\u27e6stub-pad-%ld\u27e7", r.number);
		pad = a->size > len ? a->size - len : 0;
		char *t = xasprintf("%s%s", text, o->marker);
		free(text);
		text = t;
	}
	nwords = split_words(text, len, NULL);
	struct stub_text *pieces = xcalloc(nwords + 1, sizeof(*pieces));
	split_words(text, len, pieces);
	if (a->kind == STUB_SIZE)
		pieces[nwords++] = (struct stub_text){text + len, strlen(o->marker)};
	r.text = text;
	r.pieces = pieces;
	r.npieces = nwords;

	const char **ids = xcalloc(a->ncalls + 1, sizeof(*ids));
	size_t done = len + pad;
	for (size_t i = 0; i < a->ncalls; i++) {
		const struct stub_tool_call *tc = &a->calls[i];
		ids[i] = tc->id ? xstrdup(tc->id)
				: xasprintf("%s%ld", x->api->call_prefix,
					    atomic_fetch_add(&s->next_call, 1) + 1);
		done += strlen(tc->name) + strlen(tc->arguments);
	}
	r.call_ids = ids;
	if (!r.usage.declared) {
		r.usage.input = (long)((x->body_len + 3) / 4);
		r.usage.output = (long)((done + 3) / 4);
	}

	o->stub = s;
	o->conn = x->conn;
	stub_stream_init(&o->st, stream ? &a->stream : NULL, x->api, pad ? o->marker : NULL, pad);
	if (stream)
		x->api->stream(&r, &o->st);
	else
		stub_stream_body(&o->st, x->api->reply(&r));
	for (size_t i = 0; i < a->ncalls; i++)
		free((char *)ids[i]);
	free(ids);
	free(pieces);
	free(text);

	struct MHD_Response *resp = MHD_create_response_from_callback(
		stream ? MHD_SIZE_UNKNOWN : stub_stream_size(&o->st), STUB_BLOCK, outgoing_read, o,
		outgoing_free);
	if (!resp) {
		outgoing_free(o);
		return MHD_NO;
	}
	return queue(x, a->status, resp, stream ? "text/event-stream" : "application/json", NULL);
}

/* Give answer a of rule index to a request whose conversation is c. */
static enum MHD_Result give(struct exchange *x, const struct stub_rule *r, long index,
			    const struct stub_answer *a, bool otherwise,
			    const struct stub_conversation *c)
{
	bool silent = a->kind == STUB_HANG || a->kind == STUB_CLOSE;
	log_request(x, silent ? 0 : a->status, index, otherwise);
	long ms = a->latency_ms >= 0 ? a->latency_ms : r->latency_ms;
	if (ms > 0 && wait_for(x->stub, x->conn, ms) < 0)
		return MHD_NO;
	switch (a->kind) {
	case STUB_HANG:
		wait_for(x->stub, x->conn, -1);
		return MHD_NO;
	case STUB_CLOSE:
		return MHD_NO;
	case STUB_STATUS:
		if (!a->text)
			return send_json(x, a->status, x->api->error(a->status, a->message),
					 a->retry_after);
		/* fall through */
	case STUB_RAW:
		return send_static(x, a->status, a->text, a->content_type, a->retry_after);
	case STUB_TEXT:
	case STUB_REFUSAL:
	case STUB_TOOL_CALLS:
	case STUB_SIZE:
	case STUB_ECHO:
		break;
	}
	return send_reply(x, a, c);
}

/* Answer a request whose whole body has arrived. */
static enum MHD_Result serve_post(struct exchange *x, const char *body, size_t body_len)
{
	const char *end = NULL;
	cJSON *json = cJSON_ParseWithLengthOpts(body, body_len, &end, 0);
	if (json && end && strspn(end, " \t\r\n") != body_len - (size_t)(end - body)) {
		cJSON_Delete(json);
		json = NULL;
	}
	if (!json) {
		x->body = body;
		return send_error(x, 400, "request body is not JSON");
	}
	x->json = json;
	struct stub_conversation c;
	stub_conversation_init(&c);
	bool have = x->api->read(json, &c);
	stub_conversation_end(&c, have, body, body_len);
	long index = -1;
	bool otherwise = false;
	const struct stub_answer *a = choose(x->stub, &c, &index, &otherwise);
	enum MHD_Result rc;
	if (a)
		rc = give(x, &x->stub->script->rules[index], index, a, otherwise, &c);
	else
		rc = send_error(x, 404, "no stub rule matches");
	stub_conversation_release(&c);
	cJSON_Delete(json);
	return rc;
}

/* MHD's handler, called for the headers, each chunk of the body, and once
 * more when the body is complete: only then is the request answered. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **state)
{
	struct stub *s = cls;
	struct request *r = *state;
	const struct stub_api *api = stub_api_for_path(url);
	struct exchange x = {.stub = s, .conn = conn, .method = method, .path = url,
			     .api = api ? api : s->api};
	if (!r) {
		r = xcalloc(1, sizeof(*r));
		buf_init(&r->body, STUB_MAX_BODY);
		*state = r;
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtod(cl, NULL) > (double)STUB_MAX_BODY)
			return send_error(&x, 413, "request body is larger than 8 MiB");
		return MHD_YES;
	}
	if (*upload_len) {
		if (!r->too_large && buf_add(&r->body, upload, *upload_len) < 0) {
			r->too_large = true;
			buf_release(&r->body);
		}
		if (r->too_large) {
			r->dropped += *upload_len;
			if (r->dropped > 4 * STUB_MAX_BODY)
				return MHD_NO; /* a chunked body without end */
		}
		*upload_len = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return send_error(&x, 413, "request body is larger than 8 MiB");
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0) {
		if (strcmp(url, "/healthz") != 0)
			return send_error(&x, 404, "not found: POST a request to the agent");
		log_request(&x, 200, -1, false);
		return send_static(&x, 200, "ok", "text/plain", NULL);
	}
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
		return send_error(&x, 405, "method not allowed: POST a request to the agent");
	x.body_len = r->body.len;
	return serve_post(&x, r->body.data ? r->body.data : "", r->body.len);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *r = *state;
	if (!r)
		return;
	buf_release(&r->body);
	free(r);
	*state = NULL;
}

static int listen_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (!info || getsockname(info->listen_fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

struct stub *stub_start(struct stub_script *script, const struct stub_options *o, char **err)
{
	const struct stub_api *api = o && o->api ? stub_api_find(o->api) : stub_api_table[0];
	const char *host = o && o->host ? o->host : "127.0.0.1";
	int port = o ? o->port : 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct stub *s = NULL;
	bool ok = false;
	char service[16];

	if (port < 0 || port > 65535) {
		*err = xasprintf("bad port %d", port);
		goto out;
	}
	if (!api) {
		char *names = util_join(stub_api_names, ", ");
		*err = xasprintf("unknown api '%s' (%s)", o->api, names);
		free(names);
		goto out;
	}
	snprintf(service, sizeof(service), "%d", port);
	int rc = getaddrinfo(host, service, &hints, &ai);
	if (rc != 0) {
		*err = xasprintf("cannot resolve '%s': %s", host, gai_strerror(rc));
		ai = NULL;
		goto out;
	}
	s = xcalloc(1, sizeof(*s));
	s->script = script;
	s->api = api;
	s->used = xcalloc(script->nrules ? script->nrules : 1, sizeof(*s->used));
	s->rng = seed_state(o ? o->seed : 0);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->log_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (o && o->log_path) {
		s->log = fopen(o->log_path, "a");
		if (!s->log) {
			*err = xasprintf("cannot open '%s': %s", o->log_path, strerror(errno));
			goto out;
		}
	}
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	s->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
				     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				     MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
				     MHD_OPTION_END);
	if (!s->daemon) {
		*err = errno ? xasprintf("cannot listen on %s:%d: %s", host, port, strerror(errno))
			     : xasprintf("cannot listen on %s:%d", host, port);
		goto out;
	}
	s->port = listen_port(s->daemon);
	ok = true;
out:
	if (ai)
		freeaddrinfo(ai);
	if (!ok) {
		if (s)
			stub_stop(s); /* frees the script too */
		else
			stub_script_free(script);
		s = NULL;
	}
	return s;
}

int stub_port(const struct stub *s)
{
	return s->port;
}

long stub_requests(const struct stub *s)
{
	return atomic_load(&s->requests);
}

void stub_stop(struct stub *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->log)
		fclose(s->log);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->log_lock);
	free(s->used);
	stub_script_free(s->script);
	free(s);
}
