/*
 * APKINDEX reader (the format of apko's pkg/apk/apk/apkindex.go).
 *
 * The text format (apk-tools' index v2, unversioned): one record per
 * package, lines `X:value` where X is a single letter, records separated by
 * one or more blank lines.  A missing blank line after the last record is
 * tolerated, as apk-tools does.  Unknown letters are ignored so that newer
 * writers (e.g. `i:` install_if, `r:` replaces) do not break us.  P: and V:
 * are required; S:, I:, t: must be unsigned decimals, k: a signed decimal.
 * The text holds no NUL byte.
 *
 * The archive: APKINDEX.tar.gz is a gzip'd tar with the entries APKINDEX and
 * DESCRIPTION.  A signed index is a byte concatenation of two gzip members:
 * a tar holding one `.SIGN.<ALG>.<key>` entry and no end-of-archive blocks,
 * then the unsigned index.  libarchive's gzip filter decodes concatenated
 * members as one stream, and since the signature tar has no trailer the
 * concatenation reads as one tar with three entries, so no manual member
 * splitting is needed.  The signature is recorded, not verified.
 */
#include "graph/apkindex.h"
#include "common/error.h"
#include "common/file.h"
#include "common/http.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <archive.h>
#include <archive_entry.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void idx_init(struct rpl_apkindex *idx, const char *source)
{
	memset(idx, 0, sizeof(*idx));
	rpl_arena_init(&idx->arena);
	idx->source = rpl_arena_strdup(&idx->arena, source);
	idx->description = "";
	idx->sign_key = "";
}

void rpl_apkindex_release(struct rpl_apkindex *idx)
{
	rpl_arena_release(&idx->arena);
	memset(idx, 0, sizeof(*idx));
}

/* ---- text ---------------------------------------------------------------- */

struct parser {
	struct rpl_apkindex *idx;
	const char *source;
	struct rpl_apkindex_pkg *pkgs; /* malloc'd while growing, copied to the arena */
	size_t npkgs, alloc;
	struct rpl_apkindex_pkg cur;
	int in_record;
	unsigned record_line;
};

/* Whether v[0..n) is a decimal that fits in a uint64_t; stores it in *out. */
static int decimal(const char *v, size_t n, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (v[i] < '0' || v[i] > '9')
			return 0;
		d = (unsigned)(v[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return 0;
		x = x * 10 + d;
	}
	*out = x;
	return 1;
}

static int parse_u64(struct parser *ps, unsigned line, char key, const char *v, size_t n,
                     uint64_t *out)
{
	if (!decimal(v, n, out))
		return rpl_error(-RPL_EPARSE, "%s:%u: %c: expects a number, got '%.*s'", ps->source,
		                 line, key, (int)n, v);
	return 0;
}

static int parse_i64(struct parser *ps, unsigned line, char key, const char *v, size_t n,
                     int64_t *out)
{
	int neg = n > 0 && v[0] == '-';
	uint64_t x;

	if (!decimal(v + neg, n - (size_t)neg, &x) || x > (uint64_t)INT64_MAX + (uint64_t)neg)
		return rpl_error(-RPL_EPARSE, "%s:%u: %c: expects a number, got '%.*s'", ps->source,
		                 line, key, (int)n, v);
	*out = neg && x ? -(int64_t)(x - 1) - 1 : (int64_t)x;
	return 0;
}

/* Splits a space-separated list (D:, p:) into arena strings. */
static const char **split_words(struct rpl_arena *a, const char *v, size_t n, size_t *count)
{
	const char **words;
	size_t i, k = 0, nwords = 0;

	for (i = 0; i < n; i++)
		if (v[i] != ' ' && v[i] != '\t' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t'))
			nwords++;
	*count = nwords;
	if (!nwords)
		return NULL;
	words = rpl_arena_alloc(a, nwords * sizeof(*words));
	for (i = 0; i < n;) {
		size_t start;

		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		start = i;
		while (i < n && v[i] != ' ' && v[i] != '\t')
			i++;
		if (i > start)
			words[k++] = rpl_arena_strndup(a, v + start, i - start);
	}
	return words;
}

static void record_start(struct parser *ps, unsigned line)
{
	memset(&ps->cur, 0, sizeof(ps->cur));
	ps->cur.arch = ps->cur.origin = ps->cur.checksum = ps->cur.commit = "";
	ps->in_record = 1;
	ps->record_line = line;
}

static int record_end(struct parser *ps)
{
	ps->in_record = 0;
	if (!ps->cur.name)
		return rpl_error(-RPL_EPARSE, "%s:%u: record has no P: (package name)", ps->source,
		                 ps->record_line);
	if (!ps->cur.version)
		return rpl_error(-RPL_EPARSE, "%s:%u: record for '%s' has no V: (version)",
		                 ps->source, ps->record_line, ps->cur.name);
	RPL_ALLOC_GROW(ps->pkgs, ps->npkgs + 1, ps->alloc);
	ps->pkgs[ps->npkgs++] = ps->cur;
	return 0;
}

static int parse_field(struct parser *ps, unsigned line, const char *l, size_t n)
{
	struct rpl_arena *a = &ps->idx->arena;
	struct rpl_apkindex_pkg *p = &ps->cur;
	const char *v = l + 2;
	size_t vn;

	if (n < 2 || l[1] != ':')
		return rpl_error(-RPL_EPARSE, "%s:%u: expected a 'X:value' line, got '%.*s'",
		                 ps->source, line, (int)n, l);
	vn = n - 2;
	switch (l[0]) {
	case 'P':
		p->name = vn ? rpl_arena_strndup(a, v, vn) : NULL;
		break;
	case 'V':
		p->version = vn ? rpl_arena_strndup(a, v, vn) : NULL;
		break;
	case 'A':
		p->arch = rpl_arena_strndup(a, v, vn);
		break;
	case 'o':
		p->origin = rpl_arena_strndup(a, v, vn);
		break;
	case 'C':
		p->checksum = rpl_arena_strndup(a, v, vn);
		break;
	case 'c':
		p->commit = rpl_arena_strndup(a, v, vn);
		break;
	case 'S':
		return parse_u64(ps, line, 'S', v, vn, &p->size);
	case 'I':
		return parse_u64(ps, line, 'I', v, vn, &p->installed_size);
	case 't':
		return parse_u64(ps, line, 't', v, vn, &p->build_time);
	case 'k':
		return parse_i64(ps, line, 'k', v, vn, &p->provider_priority);
	case 'D':
		p->depends = split_words(a, v, vn, &p->ndepends);
		break;
	case 'p':
		p->provides = split_words(a, v, vn, &p->nprovides);
		break;
	default:
		break;
	}
	return 0;
}

static int parse_into(struct rpl_apkindex *idx, const char *source, const char *text, size_t len)
{
	struct parser ps = { .idx = idx, .source = source };
	const char *p = text, *end = text + len;
	unsigned line = 0;
	int err = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t n = (size_t)(eol - p);

		line++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0) {
			if (ps.in_record && (err = record_end(&ps)))
				goto out;
		} else {
			/* Fields are C strings from here on: a NUL would cut one short
			 * ("P:\0" a name of "", "D:a \0b" an empty dependency). */
			if (memchr(p, '\0', n)) {
				err = rpl_error(-RPL_EPARSE, "%s:%u: a NUL byte in the line",
				                ps.source, line);
				goto out;
			}
			if (!ps.in_record)
				record_start(&ps, line);
			if ((err = parse_field(&ps, line, p, n)))
				goto out;
		}
		p = nl ? nl + 1 : end;
	}
	if (ps.in_record && (err = record_end(&ps)))
		goto out;
	idx->pkgs = rpl_arena_memdup(&idx->arena, ps.pkgs, ps.npkgs, sizeof(*ps.pkgs));
	idx->npkgs = ps.npkgs;
out:
	free(ps.pkgs);
	return err;
}

int rpl_apkindex_parse_text(struct rpl_apkindex *idx, const char *source, const char *text,
                            size_t len)
{
	int err;

	idx_init(idx, source);
	err = parse_into(idx, idx->source, text, len);
	if (err)
		rpl_apkindex_release(idx);
	return err;
}

/* ---- archive ------------------------------------------------------------- */

/*
 * Appends the data of the current entry to `out`; *budget is what the
 * archive may still inflate to, a gzip bomb is refused as it comes.
 */
static int read_entry(struct archive *ar, const char *source, const char *name,
                      struct rpl_strbuf *out, uint64_t *budget)
{
	char buf[16384];

	for (;;) {
		la_ssize_t n = archive_read_data(ar, buf, sizeof(buf));

		if (n == 0)
			return 0;
		if (n < 0)
			return rpl_error(-RPL_EPARSE, "cannot read '%s' (entry %s): %s", source,
			                 name, archive_error_string(ar));
		if ((uint64_t)n > *budget)
			return rpl_error(-RPL_EPARSE,
			                 "cannot read '%s': its %s inflates past %llu MiB (a "
			                 "decompression bomb?)",
			                 source, name,
			                 (unsigned long long)(RPL_APKINDEX_MAX >> 20));
		*budget -= (uint64_t)n;
		rpl_strbuf_add(out, buf, (size_t)n);
	}
}

/* ".SIGN.RSA256.melange.rsa.pub" -> "melange.rsa.pub" */
static const char *sign_key_name(const char *entry)
{
	const char *alg = entry + strlen(".SIGN.");
	const char *dot = strchr(alg, '.');

	return dot ? dot + 1 : "";
}

int rpl_apkindex_parse_targz(struct rpl_apkindex *idx, const char *source, const void *data,
                             size_t len)
{
	struct rpl_strbuf text = RPL_STRBUF_INIT;
	struct archive_entry *ent;
	struct archive *ar;
	uint64_t budget = RPL_APKINDEX_MAX;
	int have_index = 0, err = 0;

	idx_init(idx, source);
	source = idx->source;
	ar = archive_read_new();
	if (!ar) {
		err = rpl_error(-RPL_ELIB, "cannot read '%s': archive_read_new failed", source);
		goto out;
	}
	archive_read_support_filter_gzip(ar);
	archive_read_support_format_tar(ar);
	if (archive_read_open_memory(ar, data, len) != ARCHIVE_OK) {
		err = rpl_error(-RPL_EPARSE, "cannot read '%s': %s", source,
		                archive_error_string(ar));
		goto out_archive;
	}
	for (;;) {
		const char *name;
		int r = archive_read_next_header(ar, &ent);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			err = rpl_error(-RPL_EPARSE, "cannot read '%s': %s", source,
			                archive_error_string(ar));
			goto out_archive;
		}
		name = archive_entry_pathname(ent);
		if (!name)
			continue;
		if (!strncmp(name, ".SIGN.", 6)) {
			idx->signed_ = 1;
			idx->sign_key = rpl_arena_strdup(&idx->arena, sign_key_name(name));
		} else if (!strcmp(name, "APKINDEX")) {
			rpl_strbuf_reset(&text);
			if ((err = read_entry(ar, source, name, &text, &budget)))
				goto out_archive;
			have_index = 1;
		} else if (!strcmp(name, "DESCRIPTION")) {
			struct rpl_strbuf d = RPL_STRBUF_INIT;

			if ((err = read_entry(ar, source, name, &d, &budget)))
				goto out_archive;
			while (d.len && (d.buf[d.len - 1] == '\n' || d.buf[d.len - 1] == '\r'))
				d.len--;
			idx->description =
			        rpl_arena_strndup(&idx->arena, rpl_strbuf_str(&d), d.len);
			rpl_strbuf_release(&d);
		}
	}
	if (!have_index) {
		err = rpl_error(-RPL_EPARSE, "cannot read '%s': no APKINDEX entry in the archive",
		                source);
		goto out_archive;
	}
	err = parse_into(idx, source, rpl_strbuf_str(&text), text.len);
out_archive:
	archive_read_free(ar);
out:
	rpl_strbuf_release(&text);
	if (err)
		rpl_apkindex_release(idx);
	return err;
}

/* ---- fetching ------------------------------------------------------------ */

/* The index at `url` into the empty `out`, at most RPL_APKINDEX_MAX bytes. */
static int fetch(const char *url, struct rpl_strbuf *out)
{
	struct rpl_http_req req = {
		.url = url,
		.max_bytes = RPL_APKINDEX_MAX,
		.item = "an APKINDEX",
		.connect_timeout_s = 10,
		.follow = 1,
		.fail_status = 1,
	};
	struct rpl_http_resp resp;
	int err = rpl_http_perform(&req, &resp);

	if (!err) {
		*out = resp.body;
		rpl_strbuf_init(&resp.body);
	}
	rpl_http_resp_release(&resp);
	return err;
}

int rpl_apkindex_load(struct rpl_apkindex *idx, const char *repo, const char *arch)
{
	struct rpl_strbuf loc = RPL_STRBUF_INIT, data = RPL_STRBUF_INIT;
	size_t n;
	char *shown = NULL, *buf = NULL;
	int err;

	memset(idx, 0, sizeof(*idx));
	if (!strncmp(repo, "file://", 7))
		repo += 7;
	n = strlen(repo);
	while (n > 1 && repo[n - 1] == '/')
		n--;
	rpl_strbuf_add(&loc, repo, n);
	if (!rpl_str_endswith(rpl_strbuf_str(&loc), ".tar.gz")) {
		if (!arch)
			RPL_BUG("rpl_apkindex_load: a repository directory needs an arch");
		rpl_strbuf_addf(&loc, "/%s/APKINDEX.tar.gz", arch);
	}

	if (rpl_is_url(loc.buf)) {
		shown = rpl_http_redact(loc.buf);
		if ((err = fetch(loc.buf, &data)))
			goto out;
		err = rpl_apkindex_parse_targz(idx, shown, rpl_strbuf_str(&data), data.len);
		goto out;
	}
	err = rpl_read_file_max(loc.buf, RPL_APKINDEX_MAX, &buf, &n);
	if (err == -ENOENT || err == -ENOTDIR) {
		err = rpl_error(-RPL_ENOTFOUND, "cannot open '%s': no such file", loc.buf);
		goto out;
	}
	if (err)
		goto out;
	err = rpl_apkindex_parse_targz(idx, loc.buf, buf, n);
out:
	free(shown);
	free(buf);
	rpl_strbuf_release(&data);
	rpl_strbuf_release(&loc);
	return err;
}
