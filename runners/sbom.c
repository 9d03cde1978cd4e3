#include "runners/sbom.h"
#include "common/error.h"
#include "common/file.h"
#include "common/strbuf.h"
#include "common/xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef RPL_TOOL_VERSION
#define RPL_TOOL_VERSION "0.0.0"
#endif

const char rpl_sbom_tool[] = "ripple (" RPL_TOOL_VERSION ")";

#define NOASSERTION "NOASSERTION"

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* ---- text ------------------------------------------------------------------------------ */

/*
 * The document as Go's json.Encoder with SetIndent("", "  ") writes it:
 * jansson's indented output is the same but for `<`, `>` and `&`, which Go
 * escapes (they can only occur inside strings), and the final newline.
 */
static char *go_dumps(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	struct rpl_strbuf b = RPL_STRBUF_INIT;

	json_decref(j);
	if (!s)
		RPL_BUG("cannot dump an SBOM document");
	for (const char *p = s; *p; p++) {
		if (*p == '<')
			rpl_strbuf_addstr(&b, "\\u003c");
		else if (*p == '>')
			rpl_strbuf_addstr(&b, "\\u003e");
		else if (*p == '&')
			rpl_strbuf_addstr(&b, "\\u0026");
		else
			rpl_strbuf_addch(&b, *p);
	}
	rpl_strbuf_addch(&b, '\n');
	free(s);
	return rpl_strbuf_detach(&b);
}

static void rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

/*
 * An SPDX identifier from `in` as melange makes it: ':' and '/' become '-',
 * letters, digits, '-' and '.' stay, anything else becomes "C<code point>".
 */
static void melange_id(struct rpl_strbuf *b, const char *in)
{
	const unsigned char *p = (const unsigned char *)in;

	while (*p) {
		unsigned c = *p++;
		if (c == ':' || c == '/') {
			rpl_strbuf_addch(b, '-');
		} else if (c == '-' || c == '.' || (c >= 'a' && c <= 'z') ||
		           (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			rpl_strbuf_addch(b, (char)c);
		} else {
			/* A UTF-8 sequence is one code point; a stray byte is itself. */
			int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
			unsigned cp = more == 3 ? c & 7 : more == 2 ? c & 15 : more ? c & 31 : c;
			for (int i = 0; i < more && (*p & 0xc0) == 0x80; i++)
				cp = cp << 6 | (*p++ & 0x3f);
			rpl_strbuf_addf(b, "C%u", cp);
		}
	}
}

/* As apko makes one: ':' becomes '-', every other byte but [a-zA-Z0-9-.] "C<byte>". */
static void apko_id(struct rpl_strbuf *b, const char *in)
{
	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if (*p == ':')
			rpl_strbuf_addch(b, '-');
		else if (*p == '-' || *p == '.' || (*p >= 'a' && *p <= 'z') ||
		         (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
			rpl_strbuf_addch(b, (char)*p);
		else
			rpl_strbuf_addf(b, "C%u", *p);
	}
}

/*
 * Percent-encodes `s` for a purl: unreserved characters stay, and in a path
 * segment (Go's url.PathEscape, which packageurl-go uses) also "$&+:=@";
 * in a qualifier value only the unreserved ones.
 */
static void purl_escape(struct rpl_strbuf *b, const char *s, int segment)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' ||
		    (segment &&
		     (c == '$' || c == '&' || c == '+' || c == ':' || c == '=' || c == '@')))
			rpl_strbuf_addch(b, (char)c);
		else if (c == ' ' && !segment)
			rpl_strbuf_addch(b, '+');
		else
			rpl_strbuf_addf(b, "%%%02X", c);
	}
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int set(const char *s)
{
	return s && *s;
}

/* Each '/'-separated segment of `s` escaped, the slashes kept. */
static void purl_path(struct rpl_strbuf *b, const char *s)
{
	char *copy = rpl_xstrdup(s), *seg = copy, *slash;

	for (;;) {
		slash = strchr(seg, '/');
		if (slash)
			*slash = '\0';
		purl_escape(b, seg, 1);
		if (!slash)
			break;
		rpl_strbuf_addch(b, '/');
		seg = slash + 1;
	}
	free(copy);
}

/* "Organization: " + `ns` in title case (golang.org/x/text cases.Title). */
static void supplier_of(struct rpl_strbuf *b, const char *ns)
{
	int start = 1;

	rpl_strbuf_addstr(b, "Organization: ");
	for (const char *p = ns; *p; p++) {
		int letter = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
		char c = *p;
		if (letter && start && c >= 'a')
			c = (char)(c - 'a' + 'A');
		else if (letter && !start && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		rpl_strbuf_addch(b, c);
		start = !letter && !(*p >= '0' && *p <= '9') && *p != '\'';
	}
}

static json_t *purl_ref(const char *locator)
{
	return json_pack("[{s:s,s:s,s:s}]", "referenceCategory", "PACKAGE-MANAGER",
	                 "referenceLocator", locator, "referenceType", "purl");
}

static json_t *document(const char *name, const char *created, const char *license_list,
                        const char *ns, const char *describes)
{
	json_t *d = json_object();

	json_object_set_new(d, "SPDXID", json_string("SPDXRef-DOCUMENT"));
	json_object_set_new(d, "name", json_string(name));
	json_object_set_new(d, "spdxVersion", json_string("SPDX-2.3"));
	json_object_set_new(d, "creationInfo",
	                    json_pack("{s:s,s:[s],s:s}", "created", created, "creators",
	                              "Tool: ripple (" RPL_TOOL_VERSION ")", "licenseListVersion",
	                              license_list));
	json_object_set_new(d, "dataLicense", json_string("CC0-1.0"));
	json_object_set_new(d, "documentNamespace", json_string(ns));
	json_object_set_new(d, "documentDescribes", json_pack("[s]", describes));
	return d;
}

static json_t *relationship(const char *a, const char *type, const char *b)
{
	return json_pack("{s:s,s:s,s:s}", "spdxElementId", a, "relationshipType", type,
	                 "relatedSpdxElement", b);
}

/* ---- a package's document ---------------------------------------------------------------- */

void rpl_sbom_fnv128a(const void *data, size_t len, char out[33])
{
	/* 128-bit FNV-1a in two 64-bit halves: prime = 2^88 + 0x13b. */
	uint64_t hi = 0x6c62272e07bb0142ULL, lo = 0x62b821756295c58dULL;
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		uint64_t l32, h32, mid, nlo, nhi;
		lo ^= p[i];
		/* (hi:lo) * 0x13b */
		l32 = (lo & 0xffffffffULL) * 0x13b;
		h32 = (lo >> 32) * 0x13b;
		mid = (l32 >> 32) + (h32 & 0xffffffffULL);
		nlo = (l32 & 0xffffffffULL) | (mid << 32);
		nhi = hi * 0x13b + (h32 >> 32) + (mid >> 32);
		/* + (hi:lo) << 88: only lo's low 40 bits reach the high half */
		nhi += lo << 24;
		hi = nhi;
		lo = nlo;
	}
	snprintf(out, 33, "%016llx%016llx", (unsigned long long)hi, (unsigned long long)lo);
}

static json_t *apk_package(const char *id, const char *name, const char *version,
                           const char *license, const char *supplier, const char *copyright,
                           const char *purpose, const char *purl)
{
	json_t *p = json_object();

	json_object_set_new(p, "SPDXID", json_string(id));
	json_object_set_new(p, "name", json_string(name));
	if (version && *version)
		json_object_set_new(p, "versionInfo", json_string(version));
	json_object_set_new(p, "filesAnalyzed", json_false());
	json_object_set_new(p, "licenseConcluded", json_string(NOASSERTION));
	json_object_set_new(p, "licenseDeclared",
	                    json_string(license && *license ? license : NOASSERTION));
	if (!purl)
		json_object_set_new(p, "description", json_string("Operating System"));
	json_object_set_new(p, "downloadLocation", json_string(NOASSERTION));
	json_object_set_new(p, "originator", json_string(supplier));
	json_object_set_new(p, "supplier", json_string(supplier));
	if (copyright)
		json_object_set_new(p, "copyrightText", json_string(copyright));
	json_object_set_new(p, "primaryPackagePurpose", json_string(purpose));
	if (purl)
		json_object_set_new(p, "externalRefs", purl_ref(purl));
	return p;
}

/* What a source's element is made of: fetch_source or git_source fills it. */
struct source_parts {
	struct rpl_strbuf raw, purl, sup, where;
	char *owner, *name;
	const char *version, *license;
	json_t *sums;
};

static void source_parts_release(struct source_parts *sp)
{
	json_decref(sp->sums);
	free(sp->owner);
	free(sp->name);
	rpl_strbuf_release(&sp->raw);
	rpl_strbuf_release(&sp->purl);
	rpl_strbuf_release(&sp->sup);
	rpl_strbuf_release(&sp->where);
}

/* A fetched source's purl: generic, its checksum and download URL as qualifiers. */
static void fetch_purl(struct rpl_strbuf *purl, const struct rpl_sbom_source *s,
                       const char *version)
{
	rpl_strbuf_addstr(purl, "pkg:generic/");
	purl_escape(purl, s->purl_name, 1);
	if (*version) {
		rpl_strbuf_addch(purl, '@');
		purl_escape(purl, version, 1);
	}
	/* Qualifiers sorted by key; a sha512 is the checksum over a sha256. */
	rpl_strbuf_addch(purl, '?');
	if (set(s->sha256) || set(s->sha512)) {
		struct rpl_strbuf sum = RPL_STRBUF_INIT;
		rpl_strbuf_addstr(purl, "checksum=");
		rpl_strbuf_addstr(&sum, set(s->sha512) ? "sha512:" : "sha256:");
		rpl_strbuf_addstr(&sum, set(s->sha512) ? s->sha512 : s->sha256);
		purl_escape(purl, sum.buf, 0);
		rpl_strbuf_release(&sum);
		rpl_strbuf_addch(purl, '&');
	}
	rpl_strbuf_addstr(purl, "download_url=");
	purl_escape(purl, nz(s->uri), 0);
}

static void add_checksum(json_t *sums, const char *algorithm, const char *value)
{
	if (set(value))
		json_array_append_new(sums, json_pack("{s:s,s:s}", "algorithm", algorithm,
		                                      "checksumValue", value));
}

/* A fetched source's parts; 0 when melange makes no element (no purl name). */
static int fetch_source(struct source_parts *sp, const struct rpl_sbom_source *s, const char *ns)
{
	if (!set(s->purl_name))
		return 0;
	sp->version = nz(s->purl_version);
	rpl_strbuf_addf(&sp->raw, "SPDXRef-Package-%s-%s-%zu", s->purl_name, sp->version, s->index);
	fetch_purl(&sp->purl, s, sp->version);
	add_checksum(sp->sums, "SHA256", s->sha256);
	add_checksum(sp->sums, "SHA512", s->sha512);
	rpl_strbuf_addstr(&sp->where, set(s->uri) ? s->uri : NOASSERTION);
	sp->name = rpl_xstrdup(s->purl_name);
	supplier_of(&sp->sup, ns);
	sp->license = NULL; /* melange gives a fetched source no license */
	return 1;
}

/* A git repository's URL in the pieces melange reads: scheme, host, the path after it. */
struct git_repo {
	char *scheme, *host, *path;
	int github, gitlab, gitlabish;
};

static void git_repo_split(struct git_repo *r, const char *repo, const char *type_hint)
{
	const char *scheme_end = strstr(repo, "://"), *host, *path;

	r->scheme = scheme_end ? rpl_xstrndup(repo, (size_t)(scheme_end - repo)) : rpl_xstrdup("");
	host = scheme_end ? scheme_end + 3 : "";
	path = strchr(host, '/');
	r->host = path ? rpl_xstrndup(host, (size_t)(path - host)) : rpl_xstrdup(host);
	r->path = rpl_xstrdup(path ? path + 1 : "");
	r->github = !strcmp(r->host, "github.com");
	r->gitlab = !strcmp(r->host, "gitlab.com");
	r->gitlabish =
	        !strncmp(r->host, "gitlab", 6) || (type_hint && !strcmp(type_hint, "gitlab"));
}

static void git_repo_release(struct git_repo *r)
{
	free(r->scheme);
	free(r->host);
	free(r->path);
}

/* The source's owner and name: a forge's first path segment and the rest, else
 * melange's whole path with the namespace as owner; without ".git". */
static void git_owner_name(struct source_parts *sp, const struct git_repo *r, const char *ns)
{
	const char *slash = strchr(r->path, '/');

	if (r->github || r->gitlab || r->gitlabish) {
		sp->owner = slash ? rpl_xstrndup(r->path, (size_t)(slash - r->path))
		                  : rpl_xstrdup(r->path);
		sp->name = rpl_xstrdup(slash ? slash + 1 : "");
	} else {
		sp->owner = rpl_xstrdup(ns);
		sp->name = rpl_xstrdup(r->path);
	}
	if (rpl_str_endswith(sp->name, ".git"))
		sp->name[strlen(sp->name) - 4] = '\0';
}

/* Where a forge serves the archive of `ref`; NOASSERTION elsewhere. */
static void git_archive_url(struct rpl_strbuf *where, const struct git_repo *r, const char *owner,
                            const char *name, const char *ref)
{
	if (r->github)
		rpl_strbuf_addf(where, "%s://github.com/%s/%s/archive/%s.tar.gz", r->scheme, owner,
		                name, ref);
	else if (r->gitlab)
		rpl_strbuf_addf(where, "%s://gitlab.com/%s/%s/-/archive/%s/%s.tar.gz", r->scheme,
		                owner, name, ref, ref);
	else if (r->gitlabish)
		rpl_strbuf_addf(where, "%s://%s/%s/%s/-/archive/%s/%s.tar.gz", r->scheme, r->host,
		                owner, name, ref, ref);
	else
		rpl_strbuf_addstr(where, NOASSERTION); /* melange's is Chainguard's mirror */
}

/* The unescaped id: the repository without http(s)://, branch, tag, commit, index. */
static void git_raw_id(struct rpl_strbuf *raw, const char *repo, const struct rpl_sbom_source *s)
{
	const char *cleaned = !strncmp(repo, "https://", 8)  ? repo + 8
	                      : !strncmp(repo, "http://", 7) ? repo + 7
	                                                     : repo;
	const char *parts[] = { cleaned, s->branch, s->tag, s->expected_commit };

	rpl_strbuf_addstr(raw, "SPDXRef-Package");
	for (size_t i = 0; i < 4; i++)
		if (set(parts[i]))
			rpl_strbuf_addf(raw, "-%s", parts[i]);
	rpl_strbuf_addf(raw, "-%zu", s->index);
}

/* A forge's purl, or a generic one with the repository as vcs_url. */
static void git_purl(struct rpl_strbuf *purl, const struct git_repo *r, const char *repo,
                     const struct source_parts *sp, const char *commit)
{
	if (r->github || r->gitlab) {
		/* packageurl-go's normalisation: these types are case-insensitive. */
		char *lo = rpl_xstrdup(sp->owner), *ln = rpl_xstrdup(sp->name);
		lower(lo);
		lower(ln);
		rpl_strbuf_addf(purl, "pkg:%s/", r->github ? "github" : "gitlab");
		purl_path(purl, lo);
		rpl_strbuf_addch(purl, '/');
		purl_escape(purl, ln, 1);
		free(lo);
		free(ln);
	} else {
		rpl_strbuf_addstr(purl, "pkg:generic/");
		purl_escape(purl, sp->name, 1);
	}
	rpl_strbuf_addch(purl, '@');
	purl_escape(purl, sp->version, 1);
	if (!r->github && !r->gitlab) {
		struct rpl_strbuf vcs = RPL_STRBUF_INIT;
		if (strncmp(repo, "git", 3))
			rpl_strbuf_addstr(&vcs, "git+");
		rpl_strbuf_addstr(&vcs, repo);
		if (set(commit))
			rpl_strbuf_addf(&vcs, "@%s", commit);
		rpl_strbuf_addstr(purl, "?vcs_url=");
		purl_escape(purl, vcs.buf, 0);
		rpl_strbuf_release(&vcs);
	}
}

/* A checkout's parts; 0 when melange makes no element (neither tag nor commit). */
static int git_source(struct source_parts *sp, const struct rpl_sbom_source *s, const char *ns)
{
	const char *repo = nz(s->repository);
	const char *ref = set(s->expected_commit) ? s->expected_commit
	                  : set(s->tag)           ? s->tag
	                                          : NULL;
	struct git_repo r;

	if (!ref)
		return 0;
	git_repo_split(&r, repo, s->type_hint);
	git_owner_name(sp, &r, ns);
	git_archive_url(&sp->where, &r, sp->owner, sp->name, ref);
	sp->version = set(s->tag) ? s->tag : s->expected_commit;
	git_raw_id(&sp->raw, repo, s);
	git_purl(&sp->purl, &r, repo, sp, s->expected_commit);
	supplier_of(&sp->sup, sp->owner);
	git_repo_release(&r);
	return 1;
}

static json_t *source_json(const struct source_parts *sp, const char *id)
{
	json_t *p = json_object();

	json_object_set_new(p, "SPDXID", json_string(id));
	json_object_set_new(p, "name", json_string(sp->name));
	if (*sp->version)
		json_object_set_new(p, "versionInfo", json_string(sp->version));
	json_object_set_new(p, "filesAnalyzed", json_false());
	json_object_set_new(p, "licenseConcluded", json_string(NOASSERTION));
	json_object_set_new(p, "licenseDeclared",
	                    json_string(set(sp->license) ? sp->license : NOASSERTION));
	json_object_set_new(p, "downloadLocation", json_string(sp->where.buf));
	json_object_set_new(p, "originator", json_string(sp->sup.buf));
	json_object_set_new(p, "supplier", json_string(sp->sup.buf));
	json_object_set_new(p, "primaryPackagePurpose", json_string("SOURCE"));
	if (json_array_size(sp->sums))
		json_object_set(p, "checksums", sp->sums);
	json_object_set_new(p, "externalRefs", purl_ref(sp->purl.buf));
	return p;
}

/*
 * The element of an upstream source, as melange makes it, with its id in
 * `id`; NULL when melange makes none (a checkout without tag or commit, a
 * fetch without a purl name).  `license` is the package's, `ns` the
 * namespace.  The primary purpose is SOURCE.
 */
static json_t *source_element(const struct rpl_sbom_source *s, const char *license, const char *ns,
                              struct rpl_strbuf *id)
{
	struct source_parts sp = { .raw = RPL_STRBUF_INIT,
		                   .purl = RPL_STRBUF_INIT,
		                   .sup = RPL_STRBUF_INIT,
		                   .where = RPL_STRBUF_INIT,
		                   .version = "",
		                   .license = license,
		                   .sums = json_array() };
	json_t *p = NULL;

	rpl_strbuf_reset(id);
	if (s->git ? git_source(&sp, s, ns) : fetch_source(&sp, s, ns)) {
		melange_id(id, sp.raw.buf);
		p = source_json(&sp, id->buf);
	}
	source_parts_release(&sp);
	return p;
}

/* Each source's element, GENERATED_FROM `root`, into `pkgs` and `rels`. */
static void add_sources(json_t *pkgs, json_t *rels, const char *root,
                        const struct rpl_sbom_source *v, size_t n, const char *license,
                        const char *ns)
{
	struct rpl_strbuf id = RPL_STRBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		json_t *p = source_element(&v[i], license, ns, &id);
		if (!p)
			continue;
		json_array_append_new(pkgs, p);
		json_array_append_new(rels, relationship(root, "GENERATED_FROM", id.buf));
	}
	rpl_strbuf_release(&id);
}

/* The document's namespace: melange's URL over the FNV hash of namespace and version. */
static void apk_document_namespace(struct rpl_strbuf *ns, const struct rpl_sbom_apk *a)
{
	struct rpl_strbuf h = RPL_STRBUF_INIT;
	char hash[33];

	rpl_strbuf_addf(&h, "apk-%s-%s", a->namespace, a->version);
	rpl_sbom_fnv128a(h.buf, h.len, hash);
	rpl_strbuf_release(&h);
	rpl_strbuf_addf(ns, "https://spdx.org/spdxdocs/chainguard/melange/%s", hash);
}

/* "pkg:apk/<namespace>/<name>@<version>?arch=<arch>" */
static void apk_purl(struct rpl_strbuf *purl, const struct rpl_sbom_apk *a)
{
	rpl_strbuf_addstr(purl, "pkg:apk/");
	purl_path(purl, a->namespace);
	rpl_strbuf_addch(purl, '/');
	purl_escape(purl, a->name, 1);
	rpl_strbuf_addch(purl, '@');
	purl_escape(purl, a->version, 1);
	rpl_strbuf_addstr(purl, "?arch=");
	purl_escape(purl, a->arch, 0);
}

/* The recipe's purl: "pkg:github/<namespace>/<name>@<commit>#<config>". */
static void config_purl(struct rpl_strbuf *cpurl, const char *url, const char *commit,
                        const char *config)
{
	const char *gh = "https://github.com/", *rest, *slash;
	char *nsp, *nm;
	size_t n;

	/* melange cuts the URL after github.com/ (or not) at its first slash:
	 * namespace, then name; neither may be empty for a purl. */
	rest = strncmp(url, gh, strlen(gh)) ? url : url + strlen(gh);
	slash = strchr(rest, '/');
	rpl_strbuf_addstr(cpurl, "pkg:github/");
	nsp = slash ? rpl_xstrndup(rest, (size_t)(slash - rest)) : rpl_xstrdup(rest);
	nm = rpl_xstrdup(slash ? slash + 1 : "unknown");
	n = strlen(nm);
	if (n > 4 && !strcmp(nm + n - 4, ".git") && rest != url)
		nm[n - 4] = '\0';
	purl_path(cpurl, nsp);
	rpl_strbuf_addch(cpurl, '/');
	purl_escape(cpurl, nm, 1);
	free(nsp);
	free(nm);
	rpl_strbuf_addch(cpurl, '@');
	purl_escape(cpurl, commit, 1);
	rpl_strbuf_addch(cpurl, '#');
	purl_path(cpurl, config);
}

/* The extracted licences, sorted by id: melange walks a Go map, whose order
 * changes from run to run. */
static json_t *license_infos(const struct rpl_sbom_apk *a)
{
	size_t *order = rpl_xcalloc(a->nlicense_infos, sizeof(*order));
	json_t *infos = json_array();

	for (size_t i = 0; i < a->nlicense_infos; i++) {
		size_t at = i;
		while (at > 0 && strcmp(a->license_ids[order[at - 1]], a->license_ids[i]) > 0) {
			order[at] = order[at - 1];
			at--;
		}
		order[at] = i;
	}
	for (size_t i = 0; i < a->nlicense_infos; i++)
		json_array_append_new(infos,
		                      json_pack("{s:s,s:s}", "licenseId", a->license_ids[order[i]],
		                                "extractedText", a->license_texts[order[i]]));
	free(order);
	return infos;
}

char *rpl_sbom_apk(const struct rpl_sbom_apk *a)
{
	struct rpl_strbuf name = RPL_STRBUF_INIT, ns = RPL_STRBUF_INIT, id = RPL_STRBUF_INIT,
	                  cid = RPL_STRBUF_INIT, purl = RPL_STRBUF_INIT, cpurl = RPL_STRBUF_INIT,
	                  sup = RPL_STRBUF_INIT;
	const char *commit = a->commit && *a->commit ? a->commit : "unknown";
	const char *url =
	        a->repo_url && *a->repo_url ? a->repo_url : "https://unknown/unknown/unknown";
	char created[32];
	json_t *d, *pkgs, *rels;

	rfc3339(a->created, created);
	rpl_strbuf_addf(&name, "apk-%s-%s", a->name, a->version);
	apk_document_namespace(&ns, a);
	rpl_strbuf_addstr(&id, "SPDXRef-Package-");
	melange_id(&id, name.buf);
	rpl_strbuf_addstr(&cid, "SPDXRef-Package-Melange-");
	melange_id(&cid, a->config);
	rpl_strbuf_addch(&cid, '-');
	melange_id(&cid, commit);
	supplier_of(&sup, a->namespace);
	apk_purl(&purl, a);
	config_purl(&cpurl, url, commit, a->config);

	d = document(name.buf, created, "3.22", ns.buf, id.buf);
	pkgs = json_array();
	json_array_append_new(pkgs, apk_package("SPDXRef-OperatingSystem", "unknown", NULL, NULL,
	                                        sup.buf, NULL, "OPERATING-SYSTEM", NULL));
	json_array_append_new(
	        pkgs, apk_package(id.buf, a->name, a->version, a->license, sup.buf,
	                          a->copyright && *a->copyright ? a->copyright : NOASSERTION,
	                          "APPLICATION", purl.buf));
	/* melange's order: the package's own sources, the recipe, the main pipeline's. */
	rels = json_array();
	add_sources(pkgs, rels, id.buf, a->own, a->nown, a->license, a->namespace);
	json_array_append_new(pkgs, apk_package(cid.buf, a->config, commit, NULL, sup.buf, NULL,
	                                        "INSTALL", cpurl.buf));
	json_array_append_new(rels, relationship(id.buf, "DESCRIBED_BY", cid.buf));
	add_sources(pkgs, rels, id.buf, a->main, a->nmain, a->license, a->namespace);
	json_object_set_new(d, "packages", pkgs);
	json_object_set_new(d, "relationships", rels);
	if (a->nlicense_infos)
		json_object_set_new(d, "hasExtractedLicensingInfos", license_infos(a));
	rpl_strbuf_release(&name);
	rpl_strbuf_release(&ns);
	rpl_strbuf_release(&id);
	rpl_strbuf_release(&cid);
	rpl_strbuf_release(&purl);
	rpl_strbuf_release(&cpurl);
	rpl_strbuf_release(&sup);
	return go_dumps(d);
}

/* ---- images ---------------------------------------------------------------------------- */

/* "pkg:oci/<name>@<digest>?" + the qualifiers, which are sorted by key. */
static void oci_purl(struct rpl_strbuf *b, const char *name, const char *digest, const char *arch,
                     const char *media, const char *variant)
{
	rpl_strbuf_addstr(b, "pkg:oci/");
	purl_escape(b, name, 1);
	rpl_strbuf_addch(b, '@');
	purl_escape(b, digest, 1);
	rpl_strbuf_addch(b, '?');
	if (arch) {
		rpl_strbuf_addstr(b, "arch=");
		purl_escape(b, arch, 0);
		rpl_strbuf_addch(b, '&');
	}
	rpl_strbuf_addstr(b, "mediaType=");
	purl_escape(b, media, 0);
	if (arch)
		rpl_strbuf_addstr(b, "&os=linux");
	if (arch && variant) {
		rpl_strbuf_addstr(b, "&variant=");
		purl_escape(b, variant, 0);
	}
}

static json_t *container(const char *id, const char *name, const char *version, const char *desc,
                         const char *supplier, const char *source_info, const char *checksum,
                         const char *purl)
{
	json_t *p = json_object();

	json_object_set_new(p, "SPDXID", json_string(id));
	json_object_set_new(p, "name", json_string(name));
	if (version && *version)
		json_object_set_new(p, "versionInfo", json_string(version));
	json_object_set_new(p, "filesAnalyzed", json_false());
	if (desc)
		json_object_set_new(p, "description", json_string(desc));
	json_object_set_new(p, "downloadLocation", json_string(NOASSERTION));
	json_object_set_new(p, "supplier", json_string(supplier));
	if (source_info)
		json_object_set_new(p, "sourceInfo", json_string(source_info));
	json_object_set_new(p, "primaryPackagePurpose",
	                    json_string(purl ? "CONTAINER" : "OPERATING_SYSTEM"));
	if (checksum)
		json_object_set_new(
		        p, "checksums",
		        json_pack("[{s:s,s:s}]", "algorithm", "SHA256", "checksumValue", checksum));
	if (purl)
		json_object_set_new(p, "externalRefs", purl_ref(purl));
	return p;
}

static int has_id(json_t *pkgs, const char *id)
{
	size_t i;
	json_t *p;

	json_array_foreach(pkgs, i, p)
	{
		const char *s = json_string_value(json_object_get(p, "SPDXID"));
		if (s && !strcmp(s, id))
			return 1;
	}
	return 0;
}

/*
 * Merges a package's own document into the image's as apko does: the
 * elements it describes, and everything they reach through relationships
 * (but files), with those relationships, each described element then
 * CONTAINed by the image.  Packages already there (by id) are not doubled.
 */
static void merge_apk_doc(json_t *pkgs, json_t *rels, const char *root, const char *text,
                          size_t len, const char *supplier)
{
	json_t *doc = json_loadb(text, len, 0, NULL), *todo = json_object(), *described;
	size_t i, before;
	json_t *x;

	if (!json_is_object(doc) || !json_is_array(json_object_get(doc, "packages")))
		goto out;
	described = json_object();
	json_array_foreach(json_object_get(doc, "documentDescribes"), i, x)
	{
		if (json_is_string(x))
			json_object_set_new(described, json_string_value(x), json_true());
	}
	json_array_foreach(json_object_get(doc, "relationships"), i, x)
	{
		const char *e = json_string_value(json_object_get(x, "spdxElementId")),
		           *t = json_string_value(json_object_get(x, "relationshipType")),
		           *r = json_string_value(json_object_get(x, "relatedSpdxElement"));
		if (e && t && r && !strcmp(e, "SPDXRef-DOCUMENT") && !strcmp(t, "DESCRIBES"))
			json_object_set_new(described, r, json_true());
	}
	json_array_foreach(json_object_get(doc, "packages"), i, x)
	{
		const char *id = json_string_value(json_object_get(x, "SPDXID"));
		if (id && json_object_get(described, id))
			json_object_set_new(todo, id, json_true());
	}
	json_decref(described);
	described = json_deep_copy(todo);
	do {
		before = json_object_size(todo);
		json_array_foreach(json_object_get(doc, "relationships"), i, x)
		{
			const char *e = json_string_value(json_object_get(x, "spdxElementId")),
			           *r = json_string_value(json_object_get(x, "relatedSpdxElement"));
			if (e && r && strncmp(r, "SPDXRef-File-", 13) && json_object_get(todo, e))
				json_object_set_new(todo, r, json_true());
		}
	} while (json_object_size(todo) != before);
	json_array_foreach(json_object_get(doc, "packages"), i, x)
	{
		const char *id = json_string_value(json_object_get(x, "SPDXID"));
		if (!id || !json_object_get(todo, id) || has_id(pkgs, id))
			continue;
		/* apko's fix-ups: a supplier and originator for old documents, no files. */
		if (!json_string_value(json_object_get(x, "originator")))
			json_object_set_new(x, "originator", json_string(supplier));
		if (!json_string_value(json_object_get(x, "supplier")))
			json_object_set(x, "supplier", json_object_get(x, "originator"));
		json_object_set_new(x, "filesAnalyzed", json_false());
		json_object_del(x, "packageVerificationCode");
		json_array_append(pkgs, x);
	}
	json_array_foreach(json_object_get(doc, "relationships"), i, x)
	{
		const char *e = json_string_value(json_object_get(x, "spdxElementId")),
		           *r = json_string_value(json_object_get(x, "relatedSpdxElement"));
		if (e && r && json_object_get(todo, e) && strncmp(r, "SPDXRef-File-", 13))
			json_array_append(rels, x);
	}
	{
		const char *id;
		json_t *v;
		json_object_foreach(described, id, v)
		{
			(void)v;
			json_array_append_new(rels, relationship(root, "CONTAINS", id));
		}
	}
	json_decref(described);
out:
	json_decref(todo);
	json_decref(doc);
}

/*
 * apko's element for the config's vcs-url, GENERATED_FROM `parent`: named
 * by the URL without its scheme, its version and SHA-1 the commit after
 * `@`, a github purl for github.com/<org>/<repo>.
 */
static void add_vcs(json_t *pkgs, json_t *rels, const char *parent, const char *vcs,
                    const char *supplier)
{
	static const char *const schemes[] = { "git+ssh://", "git://", "https://" };
	struct rpl_strbuf id = RPL_STRBUF_INIT, purl = RPL_STRBUF_INIT;
	const char *at = strchr(vcs, '@'), *commit = at ? at + 1 : "";
	char *url = at ? rpl_xstrndup(vcs, (size_t)(at - vcs)) : rpl_xstrdup(vcs), *name = url;
	json_t *p = json_object();

	for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes); i++)
		if (!strncmp(name, schemes[i], strlen(schemes[i])))
			name += strlen(schemes[i]);
	rpl_strbuf_addstr(&id, "SPDXRef-Package-");
	apko_id(&id, vcs);
	json_object_set_new(p, "SPDXID", json_string(id.buf));
	json_object_set_new(p, "name", json_string(name));
	if (*commit)
		json_object_set_new(p, "versionInfo", json_string(commit));
	json_object_set_new(p, "filesAnalyzed", json_false());
	json_object_set_new(p, "description", json_string("Image configuration source"));
	json_object_set_new(p, "downloadLocation", json_string(vcs));
	json_object_set_new(p, "supplier", json_string(supplier));
	json_object_set_new(p, "primaryPackagePurpose", json_string("SOURCE"));
	if (*commit)
		json_object_set_new(
		        p, "checksums",
		        json_pack("[{s:s,s:s}]", "algorithm", "SHA1", "checksumValue", commit));
	if (!strncmp(name, "github.com/", 11) && strchr(name + 11, '/')) {
		const char *org = name + 11, *slash = strchr(org, '/');
		char *o = rpl_xstrndup(org, (size_t)(slash - org)), *r = rpl_xstrdup(slash + 1);
		if (rpl_str_endswith(r, ".git"))
			r[strlen(r) - 4] = '\0';
		/* apko does not normalise this purl: the case stays. */
		rpl_strbuf_addstr(&purl, "pkg:github/");
		purl_escape(&purl, o, 1);
		rpl_strbuf_addch(&purl, '/');
		purl_escape(&purl, r, 1);
		if (*commit) {
			rpl_strbuf_addch(&purl, '@');
			purl_escape(&purl, commit, 1);
		}
		json_object_set_new(p, "externalRefs", purl_ref(purl.buf));
		free(o);
		free(r);
	}
	json_array_append_new(pkgs, p);
	json_array_append_new(rels, relationship(parent, "GENERATED_FROM", id.buf));
	free(url);
	rpl_strbuf_release(&id);
	rpl_strbuf_release(&purl);
}

char *rpl_sbom_image(const struct rpl_sbom_image *im)
{
	struct rpl_strbuf name = RPL_STRBUF_INIT, iid = RPL_STRBUF_INIT, lid = RPL_STRBUF_INIT,
	                  oid = RPL_STRBUF_INIT, sup = RPL_STRBUF_INIT, purl = RPL_STRBUF_INIT,
	                  lpurl = RPL_STRBUF_INIT;
	const char *os_id = im->os_id && *im->os_id ? im->os_id : "unknown";
	char created[32];
	json_t *d, *pkgs = json_array(), *rels = json_array();

	rfc3339(im->created, created);
	rpl_strbuf_addf(&name, "sbom-%s", im->layer);
	rpl_strbuf_addstr(&iid, "SPDXRef-Package-Image-");
	apko_id(&iid, im->manifest);
	rpl_strbuf_addstr(&lid, "SPDXRef-Package-ImageLayer-");
	apko_id(&lid, im->layer);
	rpl_strbuf_addstr(&oid, "SPDXRef-OperatingSystem-");
	apko_id(&oid, os_id);
	if (im->os_name && *im->os_name)
		rpl_strbuf_addf(&sup, "Organization: %s", im->os_name);
	else
		rpl_strbuf_addstr(&sup, NOASSERTION);
	oci_purl(&purl, im->name, im->manifest, im->oci_arch,
	         "application/vnd.oci.image.manifest.v1+json", im->variant);
	oci_purl(&lpurl, im->name, im->layer, im->oci_arch,
	         "application/vnd.oci.image.layer.v1.tar+gzip", im->variant);

	d = document(name.buf, created, "3.27", "https://spdx.org/spdxdocs/apko/", iid.buf);
	json_array_append_new(pkgs,
	                      container(iid.buf, im->manifest, im->manifest, "apko container image",
	                                sup.buf, NULL, strchr(im->manifest, ':') + 1, purl.buf));
	json_array_append_new(pkgs, container(lid.buf, im->layer, im->os_version,
	                                      "apko operating system layer", sup.buf, NULL, NULL,
	                                      lpurl.buf));
	json_array_append_new(rels, relationship(iid.buf, "CONTAINS", lid.buf));
	json_array_append_new(pkgs, container(oid.buf, os_id, im->os_version, "Operating System",
	                                      sup.buf, NULL, NULL, NULL));
	if (set(im->vcs_url))
		add_vcs(pkgs, rels, iid.buf, im->vcs_url, sup.buf);
	for (size_t i = 0; i < im->ndocs; i++)
		if (im->docs[i])
			merge_apk_doc(pkgs, rels, iid.buf, im->docs[i], im->lens[i], sup.buf);
	json_object_set_new(d, "packages", pkgs);
	json_object_set_new(d, "relationships", rels);
	rpl_strbuf_release(&name);
	rpl_strbuf_release(&iid);
	rpl_strbuf_release(&lid);
	rpl_strbuf_release(&oid);
	rpl_strbuf_release(&sup);
	rpl_strbuf_release(&purl);
	rpl_strbuf_release(&lpurl);
	return go_dumps(d);
}

char *rpl_sbom_index(const char *name, const char *digest, const struct json_t *index,
                     const char *os_name, const char *vcs_url, const char *created)
{
	struct rpl_strbuf dn = RPL_STRBUF_INIT, id = RPL_STRBUF_INIT, sup = RPL_STRBUF_INIT,
	                  purl = RPL_STRBUF_INIT;
	json_t *d, *pkgs = json_array(), *rels = json_array(), *m;
	size_t i;

	rpl_strbuf_addf(&dn, "sbom-%s", digest);
	rpl_strbuf_addstr(&id, "SPDXRef-Package-");
	apko_id(&id, digest);
	if (os_name && *os_name)
		rpl_strbuf_addf(&sup, "Organization: %s", os_name);
	else
		rpl_strbuf_addstr(&sup, NOASSERTION);
	oci_purl(&purl, name, digest, NULL, "application/vnd.oci.image.index.v1+json", NULL);
	d = document(dn.buf, created, "3.27", "https://spdx.org/spdxdocs/apko/", id.buf);
	json_array_append_new(pkgs, container(id.buf, digest, digest, "Multi-arch image index",
	                                      sup.buf, "Generated at image build time by ripple",
	                                      strchr(digest, ':') + 1, purl.buf));
	json_array_foreach(json_object_get(index, "manifests"), i, m)
	{
		const char *md = json_string_value(json_object_get(m, "digest"));
		json_t *plat = json_object_get(m, "platform");
		struct rpl_strbuf mid = RPL_STRBUF_INIT, mp = RPL_STRBUF_INIT;
		if (!md || !strchr(md, ':'))
			continue;
		rpl_strbuf_addstr(&mid, "SPDXRef-Package-");
		apko_id(&mid, md);
		oci_purl(&mp, name, md,
		         nz(json_string_value(json_object_get(plat, "architecture"))),
		         "application/vnd.oci.image.manifest.v1+json",
		         json_string_value(json_object_get(plat, "variant")));
		json_array_append_new(pkgs, container(mid.buf, md, md, NULL, sup.buf, NULL,
		                                      strchr(md, ':') + 1, mp.buf));
		json_array_append_new(rels, relationship(id.buf, "VARIANT_OF", mid.buf));
		rpl_strbuf_release(&mid);
		rpl_strbuf_release(&mp);
	}
	if (set(vcs_url))
		add_vcs(pkgs, rels, id.buf, vcs_url, sup.buf);
	json_object_set_new(d, "packages", pkgs);
	json_object_set_new(d, "relationships", rels);
	rpl_strbuf_release(&dn);
	rpl_strbuf_release(&id);
	rpl_strbuf_release(&sup);
	rpl_strbuf_release(&purl);
	return go_dumps(d);
}
