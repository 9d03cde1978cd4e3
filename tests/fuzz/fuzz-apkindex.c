/*
 * The APKINDEX reader (graph/apkindex.h): every input is read both as the
 * index text and as an APKINDEX.tar.gz (signed or not), so one corpus holds
 * both kinds.  Records that parse must hold what the header promises: a
 * name and a version, and never a NULL string.
 */
#include "tests/fuzz/fuzz.h"
#include "common/error.h"
#include "graph/apkindex.h"

#include <string.h>

static unsigned char sink;

static void touch(const char *s)
{
	RPL_FUZZ_CHECK(s != NULL, "a NULL string in a record");
	for (; *s; s++)
		sink ^= (unsigned char)*s;
}

static void check(const struct rpl_apkindex *idx)
{
	touch(idx->source);
	touch(idx->description);
	touch(idx->sign_key);
	for (size_t i = 0; i < idx->npkgs; i++) {
		const struct rpl_apkindex_pkg *p = &idx->pkgs[i];

		RPL_FUZZ_CHECK(p->name && *p->name && p->version && *p->version,
		               "a record without P: or V:");
		touch(p->arch);
		touch(p->origin);
		touch(p->checksum);
		touch(p->commit);
		for (size_t k = 0; k < p->ndepends; k++)
			RPL_FUZZ_CHECK(p->depends[k] && *p->depends[k], "an empty D: word");
		for (size_t k = 0; k < p->nprovides; k++)
			RPL_FUZZ_CHECK(p->provides[k] && *p->provides[k], "an empty p: word");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rpl_apkindex idx;

	if (rpl_apkindex_parse_text(&idx, "fuzz", (const char *)data, size) == 0)
		check(&idx);
	rpl_apkindex_release(&idx);
	if (rpl_apkindex_parse_targz(&idx, "fuzz.tar.gz", data, size) == 0)
		check(&idx);
	rpl_apkindex_release(&idx);
	rpl_error_clear();
	return 0;
}
