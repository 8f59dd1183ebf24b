/* test_transport.c: the multi loop, retries, limits and stop against an
 * in-process libmicrohttpd server on 127.0.0.1 whose behaviour is chosen by
 * the URL path. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "transport/transport.h"
#include "sse.h"
#include "util.h"
#include "version.h"

/* ---- the test server ---------------------------------------------------- */

#define MAX_HITS 64
#define MAX_TIMES 16
#define BIG_SIZE 65536

/* What the server saw on one path. */
struct hit {
	char path[64];
	int count;
	double at[MAX_TIMES]; /* arrival of each request, util_now_ms() */
	int cur, max;         /* requests being handled now, and the most ever */
};

struct server {
	struct MHD_Daemon *d;
	unsigned short port;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool quit;
	struct hit hits[MAX_HITS];
	size_t nhits;
	int connections;      /* TCP connections accepted */
};

static struct server srv = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* Per request: the uploaded body. */
struct req_state {
	struct buf body;
	struct hit *hit;
};

struct reply {
	unsigned status;
	const char *body;
	const char *headers[4][2];
	long delay_ms;
};

/* hit_find: the record for path, created on first use; call with the lock. */
static struct hit *hit_find(const char *path)
{
	for (size_t i = 0; i < srv.nhits; i++) {
		if (strcmp(srv.hits[i].path, path) == 0)
			return &srv.hits[i];
	}
	if (srv.nhits == MAX_HITS)
		return NULL;
	struct hit *h = &srv.hits[srv.nhits++];
	snprintf(h->path, sizeof(h->path), "%s", path);
	return h;
}

static struct hit hit_get(const char *path)
{
	struct hit copy = {0};
	pthread_mutex_lock(&srv.lock);
	for (size_t i = 0; i < srv.nhits; i++) {
		if (strcmp(srv.hits[i].path, path) == 0)
			copy = srv.hits[i];
	}
	pthread_mutex_unlock(&srv.lock);
	return copy;
}

static int connections_get(void)
{
	pthread_mutex_lock(&srv.lock);
	int n = srv.connections;
	pthread_mutex_unlock(&srv.lock);
	return n;
}

/* Wait up to ms, or until the server shuts down (so teardown never waits). */
static void server_wait(long ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&srv.lock);
	while (!srv.quit && pthread_cond_timedwait(&srv.cond, &srv.lock, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&srv.lock);
}

static ssize_t big_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	if (pos >= BIG_SIZE)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = BIG_SIZE - pos < max ? BIG_SIZE - pos : max;
	memset(out, 'x', n);
	return (ssize_t)n;
}

/* The behaviour of path on its n-th request (1-based). */
static struct reply route(const char *path, int n)
{
	static char big[BIG_SIZE + 1];
	if (!big[0])
		memset(big, 'x', BIG_SIZE);
	if (strcmp(path, "/ok") == 0)
		return (struct reply){200, "hello", {{"X-Fingerprint", "fp-123"}}, 0};
	if (strcmp(path, "/500-then-ok") == 0)
		return n == 1 ? (struct reply){500, "oops", {{0}}, 0} :
			(struct reply){200, "ok", {{0}}, 0};
	if (strcmp(path, "/429-retry-after") == 0)
		return n == 1 ? (struct reply){429, "slow down", {{"Retry-After", "1"}}, 0} :
			(struct reply){200, "ok", {{0}}, 0};
	if (strcmp(path, "/429-retry-after-long") == 0)
		return n == 1 ? (struct reply){429, "slow down", {{"Retry-After", "86400"}}, 0} :
			(struct reply){200, "ok", {{0}}, 0};
	if (strcmp(path, "/429-retry-date") == 0)
		return n == 1 ? (struct reply){429, "slow down",
					       {{"Retry-After", "Wed, 01 Mar 2000 00:00:00 GMT"}}, 0} :
			(struct reply){200, "ok", {{0}}, 0};
	if (strcmp(path, "/always-503") == 0)
		return (struct reply){503, "busy", {{0}}, 0};
	if (strcmp(path, "/always-503-ra") == 0)
		return (struct reply){503, "busy", {{"Retry-After", "10"}}, 0};
	if (strcmp(path, "/quota") == 0)
		return (struct reply){429,
			"{\"error\": {\"message\": \"You exceeded your current quota\", "
			"\"code\": \"Insufficient_Quota\"}}",
			{{"Retry-After", "0"}}, 0};
	if (strcmp(path, "/404") == 0)
		return (struct reply){404, "no such thing", {{0}}, 0};
	if (strcmp(path, "/slow") == 0)
		return (struct reply){200, "late", {{0}}, 3000};
	if (strcmp(path, "/delayed") == 0)
		return (struct reply){200, "delayed", {{0}}, 300};
	if (strncmp(path, "/slowish", 8) == 0)
		return (struct reply){200, "slowish", {{0}}, 50};
	if (strcmp(path, "/big") == 0)
		return (struct reply){200, big, {{0}}, 0};
	if (strcmp(path, "/sse") == 0)
		return (struct reply){200, "data: a\n\nevent: x\ndata: b\n\n",
				      {{"Content-Type", "text/event-stream; charset=utf-8"}}, 0};
	if (strcmp(path, "/sse-cut") == 0)
		return (struct reply){200, "data: a\n\ndata: b",
				      {{"Content-Type", "text/event-stream"}}, 0};
	if (strcmp(path, "/sse-503") == 0)
		return (struct reply){503, "data: busy\n\n", {{"Content-Type", "text/event-stream"}}, 0};
	return (struct reply){404, "unknown path", {{0}}, 0};
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version,
			       const char *upload, size_t *upload_size, void **con_cls)
{
	struct req_state *st = *con_cls;
	if (!st) {
		st = xcalloc(1, sizeof(*st));
		buf_init(&st->body, 1 << 20);
		pthread_mutex_lock(&srv.lock);
		st->hit = hit_find(url);
		if (st->hit) {
			if (st->hit->count < MAX_TIMES)
				st->hit->at[st->hit->count] = util_now_ms();
			st->hit->count++;
			st->hit->cur++;
			if (st->hit->cur > st->hit->max)
				st->hit->max = st->hit->cur;
		}
		pthread_mutex_unlock(&srv.lock);
		*con_cls = st;
		return MHD_YES;
	}
	if (*upload_size) {
		buf_add(&st->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	struct MHD_Response *r;
	unsigned status;
	if (strcmp(url, "/echo") == 0) {
		const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
		const char *ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
		const char *tok = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Token");
		r = MHD_create_response_from_buffer(st->body.len,
						    st->body.data ? st->body.data : "",
						    MHD_RESPMEM_MUST_COPY);
		MHD_add_response_header(r, "X-Method", method);
		MHD_add_response_header(r, "X-Content-Type", ct ? ct : "none");
		MHD_add_response_header(r, "X-User-Agent", ua ? ua : "none");
		MHD_add_response_header(r, "X-Token", tok ? tok : "none");
		status = 200;
	} else if (strcmp(url, "/big-chunked") == 0) {
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, big_reader,
						      NULL, NULL);
		status = 200;
	} else {
		int n = st->hit ? st->hit->count : 1;
		struct reply rep = route(url, n);
		if (rep.delay_ms)
			server_wait(rep.delay_ms);
		r = MHD_create_response_from_buffer(strlen(rep.body), (void *)rep.body,
						    MHD_RESPMEM_MUST_COPY);
		for (size_t i = 0; i < ARRAY_SIZE(rep.headers) && rep.headers[i][0]; i++)
			MHD_add_response_header(r, rep.headers[i][0], rep.headers[i][1]);
		status = rep.status;
	}
	pthread_mutex_lock(&srv.lock);
	if (st->hit)
		st->hit->cur--;
	st->hit = NULL;
	pthread_mutex_unlock(&srv.lock);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *con_cls;
	if (!st)
		return;
	pthread_mutex_lock(&srv.lock);
	if (st->hit)
		st->hit->cur--;
	pthread_mutex_unlock(&srv.lock);
	buf_release(&st->body);
	free(st);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	pthread_mutex_lock(&srv.lock);
	srv.connections++;
	pthread_mutex_unlock(&srv.lock);
}

static int server_start(void **state)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv.cond, &ca);
	pthread_condattr_destroy(&ca);
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = 0,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	srv.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
				 MHD_USE_THREAD_PER_CONNECTION,
				 0, NULL, NULL, handler, NULL,
				 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				 MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
				 MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
				 MHD_OPTION_END);
	if (!srv.d)
		return -1;
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.d, MHD_DAEMON_INFO_BIND_PORT);
	srv.port = info ? info->port : 0;
	return srv.port ? 0 : -1;
}

static int server_stop(void **state)
{
	pthread_mutex_lock(&srv.lock);
	srv.quit = true;
	pthread_cond_broadcast(&srv.cond);
	pthread_mutex_unlock(&srv.lock);
	MHD_stop_daemon(srv.d);
	pthread_cond_destroy(&srv.cond);
	return 0;
}

/* ---- helpers --------------------------------------------------------------- */

/* What a done() callback saw. */
struct outcome {
	bool called;
	bool ok;
	long status;
	char *body;
	char *header;
	char *error;
	double latency_ms;
	int attempts;
	bool streamed;
	char events[64];      /* "type:data;" per event a stream gave */
	unsigned long refuse_at; /* the event on_event refuses (0: none) */
	/* optional actions of done() */
	volatile sig_atomic_t *stop_on_done;
	struct transport *t;
	struct outcome *followup;
	bool submit_after_stop;
};

static char *url_for(const char *path)
{
	return xasprintf("http://127.0.0.1:%u%s", (unsigned)srv.port, path);
}

static void submit_to(struct transport *t, const char *url, const char *body,
		      const char *const *headers, struct outcome *o);

static void record(struct http_result *res, void *user)
{
	struct outcome *o = user;
	assert_false(o->called);
	o->called = true;
	o->ok = res->ok;
	o->status = res->status;
	o->body = res->body;        /* taken */
	res->body = NULL;
	o->header = res->header_value ? xstrdup(res->header_value) : NULL;
	o->error = res->error ? xstrdup(res->error) : NULL;
	o->latency_ms = res->latency_ms;
	o->attempts = res->attempts;
	o->streamed = res->streamed;
	if (o->stop_on_done)
		*o->stop_on_done = 1;
	if (o->followup) {
		/* A judge-like request built from this reply. */
		char *u = url_for("/echo");
		submit_to(o->t, u, o->body, NULL, o->followup);
		free(u);
	}
	if (o->submit_after_stop) {
		char *u = url_for("/ok");
		submit_to(o->t, u, NULL, NULL, o + 1);
		free(u);
	}
}

static void outcome_release(struct outcome *o)
{
	free(o->body);
	free(o->header);
	free(o->error);
}

static struct http_request *request_new(const char *url, const char *body,
					const char *const *headers, struct outcome *o)
{
	struct http_request *req = xcalloc(1, sizeof(*req));
	req->url = xstrdup(url);
	if (body) {
		req->body = xstrdup(body);
		req->body_len = strlen(body);
	}
	size_t n = 0;
	while (headers && headers[n])
		n++;
	if (n) {
		req->headers = xcalloc(n, sizeof(*req->headers));
		for (size_t i = 0; i < n; i++)
			req->headers[i] = xstrdup(headers[i]);
		req->nheaders = n;
	}
	req->pool = POOL_TARGET;
	req->done = record;
	req->user = o;
	return req;
}

static void submit_to(struct transport *t, const char *url, const char *body,
		      const char *const *headers, struct outcome *o)
{
	transport_submit(t, request_new(url, body, headers, o));
}

static struct transport *transport_with(const struct transport_options *o)
{
	char *err = NULL;
	struct transport *t = transport_new(o, &err);
	assert_non_null(t);
	assert_null(err);
	return t;
}

static void run_ok(struct transport *t, volatile sig_atomic_t *stop)
{
	char *err = NULL;
	assert_int_equal(transport_run(t, stop, &err), 0);
	assert_null(err);
}

static struct transport_options fast_options(void)
{
	struct transport_options o;
	transport_options_default(&o);
	o.backoff_base_ms = 10;
	o.backoff_max_ms = 50;
	return o;
}

/* on_event: record an event of a streamed reply in its outcome. */
static int on_event(void *user, const struct sse_event *ev, double elapsed_ms, char **err)
{
	struct outcome *o = user;
	size_t n = strlen(o->events);

	assert_true(elapsed_ms >= 0);
	if (ev->index == o->refuse_at) {
		*err = xasprintf("refused event %lu", ev->index);
		return -1;
	}
	snprintf(o->events + n, sizeof(o->events) - n, "%.*s:%.*s;", (int)ev->type_len, ev->type,
		 (int)ev->data_len, ev->data);
	return 0;
}

/* submit_stream: a request to path whose event stream goes to o. */
static void submit_stream(struct transport *t, const char *path, struct outcome *o)
{
	char *u = url_for(path);
	struct http_request *req = request_new(u, "{}", NULL, o);

	req->on_event = on_event;
	transport_submit(t, req);
	free(u);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_defaults(void **state)
{
	struct transport_options o;
	transport_options_default(&o);
	assert_int_equal(o.concurrency[POOL_TARGET], 16);
	assert_int_equal(o.concurrency[POOL_JUDGE], 8);
	assert_int_equal(o.retries, 2);
	assert_int_equal(o.max_reply, 8u << 20);
	assert_int_equal(o.backoff_base_ms, 250);
	assert_int_equal(o.backoff_max_ms, 30000);
	assert_int_equal(o.grace_ms, 2000);
	assert_true(o.wall_ms == util_wall_ms);

	o.concurrency[POOL_JUDGE] = 0;
	char *err = NULL;
	assert_null(transport_new(&o, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "concurrency"));
	free(err);
}

static void test_get_ok_and_capture(void **state)
{
	struct transport *t = transport_with(NULL);
	struct outcome o = {0};
	struct http_request *req = request_new("", NULL, NULL, &o);
	free(req->url);
	req->url = url_for("/ok");
	req->capture_header = "x-FINGERPRINT";
	transport_submit(t, req);
	run_ok(t, NULL);

	assert_true(o.called);
	assert_true(o.ok);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.body, "hello");
	assert_string_equal(o.header, "fp-123");
	assert_null(o.error);
	assert_int_equal(o.attempts, 1);
	assert_true(o.latency_ms >= 0);

	struct transport_stats s;
	transport_get_stats(t, &s);
	assert_int_equal(s.requests, 1);
	assert_int_equal(s.attempts, 1);
	assert_int_equal(s.retries, 0);
	outcome_release(&o);
	transport_free(t);
}

static void test_post_headers(void **state)
{
	struct transport *t = transport_with(NULL);
	struct outcome plain = {0}, typed = {0}, get = {0};
	char *u = url_for("/echo");
	submit_to(t, u, "{\"a\": 1}", NULL, &plain);
	const char *const hdrs[] = {"content-type: text/plain", "X-Token: s3cret", NULL};
	submit_to(t, u, "just text", hdrs, &typed);
	struct http_request *req = request_new(u, NULL, NULL, &get);
	req->capture_header = "X-Method";
	transport_submit(t, req);
	run_ok(t, NULL);
	free(u);

	assert_true(plain.ok);
	assert_string_equal(plain.body, "{\"a\": 1}");
	assert_true(typed.ok);
	assert_string_equal(typed.body, "just text");
	assert_true(get.ok);
	assert_string_equal(get.header, "GET");
	outcome_release(&plain);
	outcome_release(&typed);
	outcome_release(&get);

	/* What the server saw, read back through capture_header. */
	static const struct {
		const char *body;
		const char *hdr;
		const char *header;
		const char *want;
	} cases[] = {
		{"{}", NULL, "X-Method", "POST"},
		{"{}", NULL, "X-Content-Type", "application/json"},
		{"{}", NULL, "X-User-Agent", "canary/" CANARY_VERSION},
		{"x", "Content-Type: text/plain", "X-Content-Type", "text/plain"},
		{"x", "X-Token: s3cret", "X-Token", "s3cret"},
	};
	struct outcome o[ARRAY_SIZE(cases)];
	memset(o, 0, sizeof(o));
	u = url_for("/echo");
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *h[] = {cases[i].hdr, NULL};
		req = request_new(u, cases[i].body, h, &o[i]);
		req->capture_header = cases[i].header;
		transport_submit(t, req);
	}
	free(u);
	run_ok(t, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_true(o[i].ok);
		assert_non_null(o[i].header);
		assert_string_equal(o[i].header, cases[i].want);
		outcome_release(&o[i]);
	}
	transport_free(t);
}

static void test_retry_500_then_ok(void **state)
{
	struct transport_options opt = fast_options();
	struct transport *t = transport_with(&opt);
	struct outcome o = {0};
	char *u = url_for("/500-then-ok");
	submit_to(t, u, NULL, NULL, &o);
	free(u);
	run_ok(t, NULL);

	assert_true(o.ok);
	assert_int_equal(o.status, 200);
	assert_string_equal(o.body, "ok");
	assert_int_equal(o.attempts, 2);
	assert_int_equal(hit_get("/500-then-ok").count, 2);
	struct transport_stats s;
	transport_get_stats(t, &s);
	assert_int_equal(s.requests, 1);
	assert_int_equal(s.attempts, 2);
	assert_int_equal(s.retries, 1);
	outcome_release(&o);
	transport_free(t);
}

/* expect_retried_after: path answers 429 once, then 200; the retry came
 * at least min_ms after the first attempt. */
static void expect_retried_after(const struct transport_options *opt, const char *path,
				 double min_ms)
{
	struct transport *t = transport_with(opt);
	struct outcome o = {0};
	char *u = url_for(path);
	submit_to(t, u, NULL, NULL, &o);
	free(u);
	run_ok(t, NULL);

	assert_true(o.ok);
	assert_int_equal(o.status, 200);
	assert_int_equal(o.attempts, 2);
	struct hit h = hit_get(path);
	assert_int_equal(h.count, 2);
	assert_true(h.at[1] - h.at[0] >= min_ms);
	outcome_release(&o);
	transport_free(t);
}

static void test_retry_after_honoured(void **state)
{
	struct transport_options opt = fast_options();
	opt.backoff_max_ms = 5000;
	/* Retry-After: 1 means a second, not the 10 ms jitter ceiling. */
	expect_retried_after(&opt, "/429-retry-after", 950);
}

static void test_retry_after_capped(void **state)
{
	struct transport_options opt = fast_options();
	opt.backoff_max_ms = 200;
	/* Uncapped, the wait of a day would outlast the test's timeout. */
	expect_retried_after(&opt, "/429-retry-after-long", 150);
}

static long long pinned_ms;

static long long pinned_clock(void)
{
	return pinned_ms;
}

/* A Retry-After date is read against the transport's clock: a second
 * before it here, years after it by the system's. */
static void test_retry_after_date(void **state)
{
	struct transport_options opt = fast_options();
	opt.backoff_max_ms = 5000;
	opt.wall_ms = pinned_clock;
	pinned_ms = 951868799000LL; /* 2000-02-29T23:59:59Z */
	expect_retried_after(&opt, "/429-retry-date", 950);
}

static void test_persistent_503(void **state)
{
	struct transport_options opt = fast_options();
	opt.retries = 3;
	struct transport *t = transport_with(&opt);
	struct outcome o = {0};
	char *u = url_for("/always-503");
	submit_to(t, u, NULL, NULL, &o);
	free(u);
	run_ok(t, NULL);

	assert_true(o.ok);
	assert_int_equal(o.status, 503);
	assert_string_equal(o.body, "busy");
	assert_int_equal(o.attempts, 4);
	assert_int_equal(hit_get("/always-503").count, 4);
	struct transport_stats s;
	transport_get_stats(t, &s);
	assert_int_equal(s.retries, 3);
	outcome_release(&o);
	transport_free(t);
}

static void test_not_retried(void **state)
{
	struct transport_options opt = fast_options();
	struct transport *t = transport_with(&opt);
	struct outcome quota = {0}, missing = {0};
	char *u = url_for("/quota");
	submit_to(t, u, NULL, NULL, &quota);
	free(u);
	u = url_for("/404");
	submit_to(t, u, NULL, NULL, &missing);
	free(u);
	run_ok(t, NULL);

	assert_true(quota.ok);
	assert_int_equal(quota.status, 429);
	assert_int_equal(quota.attempts, 1);
	assert_non_null(strstr(quota.body, "quota"));
	assert_int_equal(hit_get("/quota").count, 1);
	assert_true(missing.ok);
	assert_int_equal(missing.status, 404);
	assert_int_equal(missing.attempts, 1);
	assert_int_equal(hit_get("/404").count, 1);
	outcome_release(&quota);
	outcome_release(&missing);
	transport_free(t);
}

static void test_connection_refused(void **state)
{
	/* A port that was just free: bind, read the number, close. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t len = sizeof(sa);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);

	struct transport_options opt = fast_options();
	struct transport *t = transport_with(&opt);
	struct outcome o = {0};
	char *u = xasprintf("http://127.0.0.1:%u/ok", (unsigned)ntohs(sa.sin_port));
	submit_to(t, u, NULL, NULL, &o);
	free(u);
	run_ok(t, NULL);

	assert_false(o.ok);
	assert_string_equal(o.error, "connection refused");
	assert_int_equal(o.attempts, 3);
	assert_non_null(o.body);
	assert_null(o.header);
	outcome_release(&o);
	transport_free(t);
}

static void test_timeout(void **state)
{
	struct transport_options opt = fast_options();
	opt.retries = 1;
	struct transport *t = transport_with(&opt);
	struct outcome o = {0};
	char *u = url_for("/slow");
	struct http_request *req = request_new(u, NULL, NULL, &o);
	free(u);
	req->timeout_ms = 200;
	transport_submit(t, req);
	run_ok(t, NULL);

	assert_false(o.ok);
	assert_string_equal(o.error, "timed out after 200 ms");
	assert_int_equal(o.attempts, 2);
	assert_true(o.latency_ms >= 190);
	outcome_release(&o);
	transport_free(t);
}

static void test_oversized(void **state)
{
	struct transport_options opt = fast_options();
	opt.max_reply = 1000;
	struct transport *t = transport_with(&opt);
	struct outcome sized = {0}, chunked = {0};
	char *u = url_for("/big");
	submit_to(t, u, NULL, NULL, &sized);
	free(u);
	u = url_for("/big-chunked");
	submit_to(t, u, NULL, NULL, &chunked);
	free(u);
	run_ok(t, NULL);

	assert_false(sized.ok);
	assert_string_equal(sized.error, "reply larger than 1000 bytes");
	assert_int_equal(sized.attempts, 1);
	assert_false(chunked.ok);
	assert_string_equal(chunked.error, "reply larger than 1000 bytes");
	assert_int_equal(chunked.attempts, 1);
	outcome_release(&sized);
	outcome_release(&chunked);
	transport_free(t);

	/* A reply of exactly max_reply bytes fits. */
	opt.max_reply = 5;
	t = transport_with(&opt);
	struct outcome exact = {0};
	u = url_for("/ok");
	submit_to(t, u, NULL, NULL, &exact);
	free(u);
	run_ok(t, NULL);
	assert_true(exact.ok);
	assert_string_equal(exact.body, "hello");
	outcome_release(&exact);
	transport_free(t);
}

/* An event stream is parsed as it arrives when the request takes events,
 * and kept whole when it does not; how it fails names the event. */
static void test_event_stream(void **state)
{
	struct transport_options opt = fast_options();
	struct transport *t = transport_with(&opt);
	struct outcome streamed = {0}, whole = {0}, refused = {.refuse_at = 2}, cut = {0},
		       status = {0};
	char *u = url_for("/sse");

	submit_stream(t, "/sse", &streamed);
	submit_to(t, u, "{}", NULL, &whole);
	submit_stream(t, "/sse", &refused);
	submit_stream(t, "/sse-cut", &cut);
	submit_stream(t, "/sse-503", &status);
	free(u);
	run_ok(t, NULL);

	assert_true(streamed.ok && streamed.streamed);
	assert_string_equal(streamed.events, "message:a;x:b;");
	assert_string_equal(streamed.body, "");
	assert_true(whole.ok);
	assert_false(whole.streamed);
	assert_string_equal(whole.body, "data: a\n\nevent: x\ndata: b\n\n");
	/* Failures after an event are never retried. */
	assert_false(refused.ok);
	assert_string_equal(refused.error, "refused event 2");
	assert_int_equal(refused.attempts, 1);
	assert_false(cut.ok);
	assert_string_equal(cut.error,
			    "the stream ended inside event 2, 7 bytes after the last whole event");
	assert_int_equal(cut.attempts, 1);
	/* A status that is not 2xx is an error body, read and retried as any. */
	assert_true(status.ok);
	assert_false(status.streamed);
	assert_int_equal(status.status, 503);
	assert_int_equal(status.attempts, 1 + opt.retries);
	assert_string_equal(status.events, "");
	outcome_release(&streamed);
	outcome_release(&whole);
	outcome_release(&refused);
	outcome_release(&cut);
	outcome_release(&status);
	transport_free(t);

	/* A stream over max_reply fails, as a body over it does. */
	opt.max_reply = 12;
	t = transport_with(&opt);
	struct outcome big = {0};
	submit_stream(t, "/sse", &big);
	run_ok(t, NULL);
	assert_false(big.ok);
	assert_non_null(strstr(big.error, "event stream larger than 12 bytes"));
	outcome_release(&big);
	transport_free(t);
}

static void test_concurrency_bound(void **state)
{
	struct transport_options opt = fast_options();
	opt.concurrency[POOL_TARGET] = 4;
	opt.concurrency[POOL_JUDGE] = 2;
	struct transport *t = transport_with(&opt);
	enum { NT = 40, NJ = 12 };
	struct outcome o[NT + NJ];
	memset(o, 0, sizeof(o));
	char *ut = url_for("/slowish");
	char *uj = url_for("/slowish-judge");
	int conns = connections_get();
	for (int i = 0; i < NT + NJ; i++) {
		struct http_request *req = request_new(i < NT ? ut : uj, NULL, NULL, &o[i]);
		req->pool = i < NT ? POOL_TARGET : POOL_JUDGE;
		transport_submit(t, req);
	}
	free(ut);
	free(uj);
	run_ok(t, NULL);

	for (int i = 0; i < NT + NJ; i++) {
		assert_true(o[i].ok);
		assert_string_equal(o[i].body, "slowish");
		outcome_release(&o[i]);
	}
	struct hit ht = hit_get("/slowish"), hj = hit_get("/slowish-judge");
	assert_int_equal(ht.count, NT);
	assert_int_equal(hj.count, NJ);
	assert_true(ht.max <= 4);
	assert_true(ht.max >= 2);
	assert_true(hj.max <= 2);
	/* Keep-alive: connections are reused, not opened per request. */
	assert_true(connections_get() - conns <= 6);
	struct transport_stats s;
	transport_get_stats(t, &s);
	assert_int_equal(s.requests, NT + NJ);
	transport_free(t);
}

static void test_followup_from_done(void **state)
{
	struct transport *t = transport_with(NULL);
	struct outcome first = {0}, second = {0};
	first.t = t;
	first.followup = &second;
	char *u = url_for("/ok");
	submit_to(t, u, NULL, NULL, &first);
	free(u);
	run_ok(t, NULL);

	assert_true(first.ok);
	assert_true(second.called);
	assert_true(second.ok);
	assert_string_equal(second.body, "hello");
	struct transport_stats s;
	transport_get_stats(t, &s);
	assert_int_equal(s.requests, 2);
	outcome_release(&first);
	outcome_release(&second);
	transport_free(t);
}

static void test_stop_queued(void **state)
{
	struct transport_options opt = fast_options();
	opt.concurrency[POOL_TARGET] = 1;
	struct transport *t = transport_with(&opt);
	volatile sig_atomic_t stop = 0;
	/* o[0] runs and stops the run; o[2..5] wait in the queue; o[1] is
	 * submitted by o[0]'s done(), after the stop. */
	struct outcome o[6];
	memset(o, 0, sizeof(o));
	o[0].stop_on_done = &stop;
	o[0].t = t;
	o[0].submit_after_stop = true;
	char *u = url_for("/slowish-stop");
	for (size_t i = 0; i < ARRAY_SIZE(o); i++) {
		if (i != 1)
			submit_to(t, u, NULL, NULL, &o[i]);
	}
	free(u);
	run_ok(t, &stop);

	assert_true(o[0].ok);
	assert_int_equal(o[0].status, 200);
	for (size_t i = 1; i < ARRAY_SIZE(o); i++) {
		assert_true(o[i].called);
		assert_false(o[i].ok);
		assert_string_equal(o[i].error, "interrupted");
		assert_int_equal(o[i].attempts, 0);
		outcome_release(&o[i]);
	}
	outcome_release(&o[0]);
	assert_int_equal(hit_get("/slowish-stop").count, 1);
	transport_free(t);
}

/* A rate spaces the starts of a pool's attempts (the loop waits on its
 * poll, nothing sleeps); other pools are not held back. */
static void test_rate(void **state)
{
	struct transport_options opt = fast_options();
	opt.rate[POOL_TARGET] = 50; /* one start every 20 ms */
	struct transport *t = transport_with(&opt);
	enum { N = 6 };
	struct outcome o[N + 1];
	memset(o, 0, sizeof(o));
	char *u = url_for("/ok");
	for (int i = 0; i < N; i++)
		submit_to(t, u, NULL, NULL, &o[i]);
	struct http_request *judge = request_new(u, NULL, NULL, &o[N]);
	judge->pool = POOL_JUDGE;
	transport_submit(t, judge);
	free(u);
	double t0 = util_now_ms();
	run_ok(t, NULL);
	double elapsed = util_now_ms() - t0;
	for (int i = 0; i <= N; i++) {
		assert_true(o[i].ok);
		outcome_release(&o[i]);
	}
	/* N starts are N - 1 intervals apart (a millisecond of slack for the
	 * clocks' rounding). */
	assert_true(elapsed >= (N - 1) * 20.0 - 1);
	transport_free(t);

	opt.rate[POOL_TARGET] = -1;
	char *err = NULL;
	assert_null(transport_new(&opt, &err));
	assert_non_null(err);
	free(err);
}

/* A stop ends requests still waiting for their turn under a rate. */
static void test_rate_stop(void **state)
{
	struct transport_options opt = fast_options();
	opt.rate[POOL_TARGET] = 0.01; /* one start every 100 s */
	struct transport *t = transport_with(&opt);
	volatile sig_atomic_t stop = 0;
	struct outcome o[3];
	memset(o, 0, sizeof(o));
	o[0].stop_on_done = &stop;
	char *u = url_for("/ok");
	for (size_t i = 0; i < ARRAY_SIZE(o); i++)
		submit_to(t, u, NULL, NULL, &o[i]);
	free(u);
	run_ok(t, &stop);
	assert_true(o[0].ok);
	for (size_t i = 1; i < ARRAY_SIZE(o); i++) {
		assert_false(o[i].ok);
		assert_string_equal(o[i].error, "interrupted");
		assert_int_equal(o[i].attempts, 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(o); i++)
		outcome_release(&o[i]);
	transport_free(t);
}

static void test_stop_grace(void **state)
{
	struct transport_options opt = fast_options();
	opt.backoff_max_ms = 20000;
	opt.grace_ms = 100;
	struct transport *t = transport_with(&opt);
	volatile sig_atomic_t stop = 0;
	struct outcome delayed = {0}, slow = {0}, retrying = {0};
	delayed.stop_on_done = &stop;
	char *u = url_for("/delayed");
	submit_to(t, u, NULL, NULL, &delayed);
	free(u);
	u = url_for("/slow");
	submit_to(t, u, NULL, NULL, &slow);
	free(u);
	u = url_for("/always-503-ra");
	submit_to(t, u, NULL, NULL, &retrying);
	free(u);
	run_ok(t, &stop);

	assert_true(delayed.ok);
	/* Waiting for its Retry-After when the stop came: ends at once. */
	assert_false(retrying.ok);
	assert_string_equal(retrying.error, "interrupted");
	assert_int_equal(retrying.attempts, 1);
	/* In flight: cut off after the grace period. */
	assert_false(slow.ok);
	assert_string_equal(slow.error, "interrupted");
	assert_int_equal(slow.attempts, 1);
	assert_true(slow.latency_ms >= 300);
	outcome_release(&delayed);
	outcome_release(&slow);
	outcome_release(&retrying);
	transport_free(t);
}

/* Pinned clocks, Unix ms: a Wednesday (the longest day name), seconds
 * before the end of a leap day, and the last second of a year. */
#define WEDNESDAY 1796205600000LL /* 2026-12-02T10:00:00Z */
#define LEAP_DAY 1835481590000LL  /* 2028-02-29T23:59:50Z */
#define YEAR_END 1798761599000LL  /* 2026-12-31T23:59:59Z */

static void test_parse_retry_after(void **state)
{
	static const struct {
		long long now;
		const char *value;
		long want;
	} rows[] = {
		{WEDNESDAY, "3", 3000},
		{WEDNESDAY, " 0 ", 0},
		{WEDNESDAY, "120", 120000},
		/* An HTTP date in each of its three forms. */
		{WEDNESDAY, "Wed, 02 Dec 2026 10:00:10 GMT", 10000},
		{WEDNESDAY, "Wednesday, 02-Dec-26 10:00:10 GMT", 10000},
		{WEDNESDAY, "Wed Dec  2 10:00:10 2026", 10000},
		{LEAP_DAY, "Tue, 29 Feb 2028 23:59:59 GMT", 9000},
		{LEAP_DAY, "Wed, 01 Mar 2028 00:00:10 GMT", 20000},
		{YEAR_END, "Fri, 01 Jan 2027 00:00:09 GMT", 10000},
		/* A date in the past means now. */
		{WEDNESDAY, "Sun, 06 Nov 1994 08:49:37 GMT", 0},
		{YEAR_END, "Thu, 31 Dec 2026 23:59:58 GMT", 0},
		/* Unparsable. */
		{WEDNESDAY, "", -1},
		{WEDNESDAY, "   ", -1},
		{WEDNESDAY, "garbage", -1},
		{WEDNESDAY, "-1", -1},
		{WEDNESDAY, "1.5", -1},
		{WEDNESDAY, "3 s", -1},
		{WEDNESDAY, "0x10", -1},
		{WEDNESDAY, "soon", -1},
		{WEDNESDAY, "+5", -1},
		{WEDNESDAY, NULL, -1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		long got = transport_parse_retry_after(rows[i].value, rows[i].now);
		if (got != rows[i].want)
			fail_msg("'%s': %ld ms, want %ld", rows[i].value ? rows[i].value : "NULL",
				 got, rows[i].want);
	}
	assert_true(transport_parse_retry_after("99999999999999999999999", WEDNESDAY) >
		    86400000L);
	char huge[200];
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_int_equal(transport_parse_retry_after(huge, WEDNESDAY), -1);
}

/* ---- replies libmicrohttpd would not send ----------------------------------- */

/* A loopback server that answers one connection with canned bytes. */
struct raw_server {
	int fd;
	unsigned short port;
	const char *reply;
	pthread_t thread;
};

static void *raw_serve(void *arg)
{
	struct raw_server *r = arg;
	int c = accept(r->fd, NULL, NULL);
	if (c < 0)
		return NULL;
	char req[4096];
	size_t n = 0;
	ssize_t got;
	while (n < sizeof(req) - 1 && (got = read(c, req + n, sizeof(req) - 1 - n)) > 0) {
		n += (size_t)got;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	size_t len = strlen(r->reply);
	for (size_t off = 0; off < len && (got = write(c, r->reply + off, len - off)) > 0;)
		off += (size_t)got;
	close(c);
	return NULL;
}

static void raw_start(struct raw_server *r, const char *reply)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sa);
	r->reply = reply;
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r->fd >= 0);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(r->fd, 4), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&sa, &len), 0);
	r->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&r->thread, NULL, raw_serve, r), 0);
}

/* A broken or redirecting reply is named as what it is: libcurl's error
 * buffer tells garbage chunked encoding from a reset, and a redirect shows
 * where it points, without credentials, query or fragment. */
static void test_reply_named(void **state)
{
	static const struct {
		const char *reply;
		const char *want;
	} cases[] = {
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzzzz\r\nhello\r\n0\r\n\r\n",
		 "malformed chunked encoding in the reply"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n",
		 "malformed chunked encoding in the reply"},
		{"not http at all\r\n\r\n", "reply is not http (no status line)"},
		{"HTTP/1.1 302 Found\r\nLocation: https://user:pw@example.com/v2/chat?key=k#x\r\n"
		 "Content-Length: 0\r\n\r\n",
		 "redirect (HTTP 302) to 'https://example.com/v2/chat'; canary does not follow "
		 "redirects: give the final URL"},
		{"HTTP/1.1 304 Not Modified\r\n\r\n",
		 "redirect (HTTP 304) without a location; canary does not follow redirects"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct transport_options opt = fast_options();
		opt.retries = 0;
		struct transport *t = transport_with(&opt);
		struct raw_server r;
		struct outcome o = {0};
		raw_start(&r, cases[i].reply);
		char *u = xasprintf("http://127.0.0.1:%u/v1/chat", (unsigned)r.port);
		submit_to(t, u, NULL, NULL, &o);
		free(u);
		run_ok(t, NULL);
		pthread_join(r.thread, NULL);
		close(r.fd);
		assert_false(o.ok);
		assert_string_equal(o.error, cases[i].want);
		outcome_release(&o);
		transport_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_parse_retry_after),
		cmocka_unit_test(test_get_ok_and_capture),
		cmocka_unit_test(test_post_headers),
		cmocka_unit_test(test_retry_500_then_ok),
		cmocka_unit_test(test_retry_after_honoured),
		cmocka_unit_test(test_retry_after_capped),
		cmocka_unit_test(test_retry_after_date),
		cmocka_unit_test(test_persistent_503),
		cmocka_unit_test(test_not_retried),
		cmocka_unit_test(test_connection_refused),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_event_stream),
		cmocka_unit_test(test_concurrency_bound),
		cmocka_unit_test(test_followup_from_done),
		cmocka_unit_test(test_stop_queued),
		cmocka_unit_test(test_stop_grace),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_rate_stop),
		cmocka_unit_test(test_reply_named),
	};
	return cmocka_run_group_tests(tests, server_start, server_stop);
}
