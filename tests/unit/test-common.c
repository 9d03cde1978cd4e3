/*
 * The building blocks in common/: the arena, strbuf, strmap, binary records,
 * SHA-256, the file helpers and the per-thread error message.  File cases
 * work in a temporary directory made by each run.
 */
#include "common/arena.h"
#include "common/bytes.h"
#include "common/error.h"
#include "common/file.h"
#include "common/sha256.h"
#include "common/strbuf.h"
#include "common/strmap.h"
#include "common/utf8.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/testlib.h"

#define N(a) (sizeof(a) / sizeof(*(a)))

#define ALIGN alignof(max_align_t)

static int is_aligned(const void *p)
{
	return (uintptr_t)p % ALIGN == 0;
}

/* Bytes [0, n) of p are all zero. */
static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

/* ---- arena ----------------------------------------------------------------- */

static void test_arena_alignment(void **state)
{
	struct rpl_arena a;

	(void)state;
	rpl_arena_init(&a);
	/* Odd-sized strings in between leave the bump pointer unaligned; every
	 * rpl_arena_alloc must realign it, across block boundaries too. */
	for (size_t i = 0; i < 3000; i++) {
		size_t n = 1 + (i * 7) % 97;
		void *p;

		rpl_arena_strndup(&a, "abcdefghijklmnopqrstuvwxyz", 1 + i % 25);
		p = rpl_arena_alloc(&a, n);
		if (!is_aligned(p))
			fail_msg("allocation %zu (%zu bytes) at %p is not %zu-aligned", i, n, p,
			         (size_t)ALIGN);
		memset(p, 0x5a, n);
	}
	/* A zero-byte request still gives a distinct, aligned pointer. */
	void *z1 = rpl_arena_alloc(&a, 0);
	void *z2 = rpl_arena_alloc(&a, 0);
	assert_non_null(z1);
	assert_true(is_aligned(z1));
	assert_true(is_aligned(z2));
	assert_ptr_not_equal(z1, z2);
	rpl_arena_release(&a);
	assert_null(a.head);
	assert_int_equal(a.total, 0);
}

/*
 * Dirty the heap with a first arena, then check a second one hands out
 * zeroed memory: malloc gives the freed blocks back, so an allocator that
 * relied on fresh pages would show 0xff here.
 */
static void test_arena_zeroed(void **state)
{
	struct rpl_arena a;
	static const size_t sizes[] = { 1, 16, 100, 1000, 3000, 5000, 70000 };

	(void)state;
	for (int round = 0; round < 2; round++) {
		rpl_arena_init(&a);
		for (int k = 0; k < 20; k++)
			for (size_t i = 0; i < N(sizes); i++) {
				unsigned char *p = rpl_arena_alloc(&a, sizes[i]);
				if (!all_zero(p, sizes[i]))
					fail_msg("round %d: %zu-byte allocation is not zeroed",
					         round, sizes[i]);
				memset(p, 0xff, sizes[i]);
			}
		rpl_arena_release(&a);
	}
}

/*
 * A sized arena that outgrows its hint grows from the hint (1, 2, 4 KiB),
 * not by a 4 KiB block: thousands of recipes a little over their hint
 * would otherwise carry mostly empty blocks.  A large hint still falls back
 * to small blocks after its first.
 */
static void test_arena_sized_growth(void **state)
{
	struct rpl_arena a;

	(void)state;
	rpl_arena_init_sized(&a, 1024);
	rpl_arena_alloc(&a, 1000);
	assert_int_equal(a.block_size, 2048);
	rpl_arena_alloc(&a, 100); /* a second block, of 2 KiB */
	assert_int_equal(a.block_size, 4096);
	assert_int_equal(a.total, 1100);
	rpl_arena_release(&a);

	rpl_arena_init_sized(&a, 1 << 20);
	rpl_arena_alloc(&a, 10);
	assert_int_equal(a.block_size, 4096);
	rpl_arena_release(&a);
}

static void test_arena_strings(void **state)
{
	struct rpl_arena a = RPL_ARENA_INIT;
	const char raw[] = { 'x', 'y', 'z', 'w' }; /* not NUL-terminated */
	char big[1000];
	char *s;

	(void)state;
	rpl_arena_init(&a);
	s = rpl_arena_strdup(&a, "hello");
	assert_string_equal(s, "hello");
	s = rpl_arena_strdup(&a, "");
	assert_string_equal(s, "");

	/* strndup copies exactly n bytes: callers pass slices of larger text. */
	s = rpl_arena_strndup(&a, raw, 3);
	assert_string_equal(s, "xyz");
	s = rpl_arena_strndup(&a, "hello world", 5);
	assert_string_equal(s, "hello");
	s = rpl_arena_strndup(&a, raw, 0);
	assert_string_equal(s, "");

	s = rpl_arena_printf(&a, "%s-%d-%c", "ab", 42, 'z');
	assert_string_equal(s, "ab-42-z");
	s = rpl_arena_printf(&a, "%s", "");
	assert_string_equal(s, "");
	/* Past the 256-byte stack buffer the output is formatted twice. */
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	s = rpl_arena_printf(&a, "<%s|%d>", big, 7);
	assert_int_equal(strlen(s), sizeof(big) - 1 + 4);
	assert_int_equal(s[0], '<');
	assert_memory_equal(s + 1, big, sizeof(big) - 1);
	assert_string_equal(s + sizeof(big), "|7>");
	/* Exactly 255 and 256 characters: either side of the buffer's edge. */
	s = rpl_arena_printf(&a, "%.255s", big);
	assert_int_equal(strlen(s), 255);
	s = rpl_arena_printf(&a, "%.256s", big);
	assert_int_equal(strlen(s), 256);
	rpl_arena_release(&a);
}

static void test_arena_memdup(void **state)
{
	struct rpl_arena a;
	const uint64_t v[] = { 1, 2, 3, UINT64_MAX };
	uint64_t *p;

	(void)state;
	rpl_arena_init(&a);
	assert_null(rpl_arena_memdup(&a, v, 0, sizeof(*v)));
	rpl_arena_strdup(&a, "x"); /* unalign the bump pointer */
	p = rpl_arena_memdup(&a, v, N(v), sizeof(*v));
	assert_non_null(p);
	assert_ptr_not_equal(p, v);
	assert_true(is_aligned(p));
	for (size_t i = 0; i < N(v); i++)
		assert_int_equal(p[i], v[i]);
	rpl_arena_release(&a);
}

/*
 * A request larger than a block gets a block of its own, behind the current
 * one, so the next small allocation continues where the last one stopped.
 */
static void test_arena_large(void **state)
{
	struct rpl_arena a;
	size_t big = 1 << 20;
	unsigned char *p1, *p2, *large;

	(void)state;
	rpl_arena_init(&a);
	p1 = rpl_arena_alloc(&a, ALIGN);
	large = rpl_arena_alloc(&a, big);
	p2 = rpl_arena_alloc(&a, ALIGN);
	assert_true(is_aligned(large));
	assert_true(all_zero(large, big));
	memset(large, 0xab, big); /* all of it is ours (ASan checks) */
	assert_ptr_equal(p2, p1 + ALIGN);
	assert_int_equal(a.total, big + 2 * ALIGN);

	/* Twice in a row, and with the first block full. */
	for (int i = 0; i < 3; i++) {
		unsigned char *q = rpl_arena_alloc(&a, 3 * big / 2);
		assert_true(all_zero(q, 3 * big / 2));
		memset(q, i, 3 * big / 2);
	}
	assert_int_equal(large[0], 0xab);
	assert_int_equal(large[big - 1], 0xab);
	rpl_arena_release(&a);
}

/* A sized arena holds up to its hint in one block: allocations are contiguous. */
static void test_arena_sized(void **state)
{
	struct rpl_arena a;
	enum { CHUNK = 1000, NCHUNK = 90 };
	size_t step = (CHUNK + ALIGN - 1) / ALIGN * ALIGN;
	unsigned char *first, *p = NULL;

	(void)state;
	rpl_arena_init_sized(&a, 100000);
	first = rpl_arena_alloc(&a, CHUNK);
	for (size_t i = 1; i < NCHUNK; i++) {
		p = rpl_arena_alloc(&a, CHUNK);
		if (p != first + i * step)
			fail_msg("chunk %zu at %p, want %p (one block of 100000 bytes)", i,
			         (void *)p, (void *)(first + i * step));
	}
	/* Past the hint the arena goes on in new blocks. */
	for (size_t i = 0; i < 100; i++) {
		p = rpl_arena_alloc(&a, CHUNK);
		assert_true(all_zero(p, CHUNK));
		memset(p, 1, CHUNK);
	}
	rpl_arena_release(&a);

	/* A tiny hint is rounded up and still works. */
	rpl_arena_init_sized(&a, 1);
	for (size_t i = 0; i < 100; i++) {
		p = rpl_arena_alloc(&a, 100);
		assert_true(is_aligned(p));
		memset(p, 2, 100);
	}
	rpl_arena_release(&a);
}

/* Earlier allocations stay where they are while the arena grows. */
static void test_arena_many(void **state)
{
	enum { NALLOC = 10000 };
	struct rpl_arena a;
	unsigned char **ptrs = calloc(NALLOC, sizeof(*ptrs));
	size_t *lens = calloc(NALLOC, sizeof(*lens));
	size_t total = 0;

	(void)state;
	assert_non_null(ptrs);
	assert_non_null(lens);
	rpl_arena_init(&a);
	for (size_t i = 0; i < NALLOC; i++) {
		lens[i] = 1 + (i * 131) % 509;
		if (i % 997 == 0)
			lens[i] = 70000; /* a one-off now and then */
		ptrs[i] = i % 3 ? rpl_arena_alloc(&a, lens[i])
		                : (unsigned char *)rpl_arena_strndup(&a, "", 0);
		if (i % 3 == 0) {
			lens[i] = 1;
			ptrs[i][0] = (unsigned char)i; /* strndup gave one byte */
			continue;
		}
		for (size_t j = 0; j < lens[i]; j++)
			ptrs[i][j] = (unsigned char)(i * 31 + j);
		total += lens[i];
	}
	for (size_t i = 0; i < NALLOC; i++) {
		if (i % 3 == 0) {
			if (ptrs[i][0] != (unsigned char)i)
				fail_msg("string %zu: byte %u, want %u", i, ptrs[i][0],
				         (unsigned char)i);
			continue;
		}
		for (size_t j = 0; j < lens[i]; j++)
			if (ptrs[i][j] != (unsigned char)(i * 31 + j))
				fail_msg("allocation %zu byte %zu: %u, want %u", i, j, ptrs[i][j],
				         (unsigned char)(i * 31 + j));
	}
	assert_true(a.total >= total);
	rpl_arena_release(&a);
	free(ptrs);
	free(lens);
}

/* ---- strbuf ---------------------------------------------------------------- */

/* rpl_strfmt: a new string of exactly what printf makes, "" included. */
static void test_size_text(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(rpl_size_text(0, buf), "0 bytes");
	assert_string_equal(rpl_size_text(1000, buf), "1000 bytes");
	assert_string_equal(rpl_size_text(1536 * 1024, buf), "1536 KiB");
	assert_string_equal(rpl_size_text((uint64_t)256 << 20, buf), "256 MiB");
	assert_string_equal(rpl_size_text((uint64_t)4 << 30, buf), "4 GiB");
	assert_string_equal(rpl_size_text(UINT64_MAX, buf), "18446744073709551615 bytes");
}

static void test_strfmt(void **state)
{
	char *a = rpl_strfmt("%s-%d.apk", "hello", 12), *b = rpl_strfmt("%s", "");
	char *c = rpl_strfmt("%0300d", 7);

	(void)state;
	assert_string_equal(a, "hello-12.apk");
	assert_string_equal(b, "");
	assert_int_equal(strlen(c), 300);
	assert_int_equal(c[299], '7');
	free(a);
	free(b);
	free(c);
}

static void test_strbuf_growth(void **state)
{
	struct rpl_strbuf sb = RPL_STRBUF_INIT;
	char *big = malloc(100 * 1024 + 1);
	size_t want = 0;

	(void)state;
	assert_non_null(big);
	assert_string_equal(rpl_strbuf_str(&sb), "");
	for (size_t i = 0; i < 100 * 1024; i++)
		big[i] = (char)('a' + i % 26);
	big[100 * 1024] = '\0';

	/* One addf far beyond the buffer and the 64-byte first guess. */
	rpl_strbuf_addf(&sb, "[%s]", big);
	want = 100 * 1024 + 2;
	assert_int_equal(sb.len, want);
	assert_int_equal(strlen(sb.buf), want);
	assert_true(sb.alloc > sb.len);
	assert_int_equal(sb.buf[0], '[');
	assert_memory_equal(sb.buf + 1, big, 100 * 1024);
	assert_int_equal(sb.buf[want - 1], ']');

	/* Many small appends, of every kind, past 200 KiB. */
	for (int i = 0; i < 20000; i++) {
		rpl_strbuf_addf(&sb, "%05d", i);
		rpl_strbuf_addch(&sb, ',');
		rpl_strbuf_addstr(&sb, "");
		rpl_strbuf_add(&sb, "xy", 2);
	}
	assert_int_equal(sb.len, want + 20000 * 8);
	assert_int_equal(strlen(sb.buf), sb.len);
	for (int i = 0; i < 20000; i += 1234) {
		char expect[9];
		snprintf(expect, sizeof(expect), "%05d,xy", i);
		assert_memory_equal(sb.buf + want + (size_t)i * 8, expect, 8);
	}
	/* Bytes, NUL included, are kept as given. */
	rpl_strbuf_reset(&sb);
	rpl_strbuf_add(&sb, "a\0b", 3);
	assert_int_equal(sb.len, 3);
	assert_memory_equal(sb.buf, "a\0b", 4);
	rpl_strbuf_release(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);
	free(big);
}

static void test_strbuf_detach_reset(void **state)
{
	struct rpl_strbuf sb;
	size_t alloc;
	char *s;

	(void)state;
	rpl_strbuf_init(&sb);
	/* A never-grown buffer detaches as an empty, freeable string. */
	s = rpl_strbuf_detach(&sb);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	rpl_strbuf_addstr(&sb, "hello");
	rpl_strbuf_addf(&sb, " %s", "world");
	s = rpl_strbuf_detach(&sb);
	assert_string_equal(s, "hello world");
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, 0);
	assert_string_equal(rpl_strbuf_str(&sb), "");
	free(s);

	/* reset empties but keeps the allocation. */
	rpl_strbuf_addstr(&sb, "some text to keep a buffer");
	alloc = sb.alloc;
	rpl_strbuf_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.alloc, alloc);
	assert_string_equal(rpl_strbuf_str(&sb), "");
	rpl_strbuf_addf(&sb, "%d", 12);
	assert_string_equal(rpl_strbuf_str(&sb), "12");
	rpl_strbuf_release(&sb);

	/* reset of a never-grown buffer is harmless. */
	rpl_strbuf_reset(&sb);
	assert_string_equal(rpl_strbuf_str(&sb), "");
}

/* ---- strmap ---------------------------------------------------------------- */

static void test_strmap(void **state)
{
	enum { NKEYS = 100000 };
	struct rpl_strmap m = RPL_STRMAP_INIT;
	struct rpl_arena a;
	const char **keys = calloc(NKEYS, sizeof(*keys));
	struct rpl_strmap_slot *s;
	char probe[32];

	(void)state;
	assert_non_null(keys);
	rpl_arena_init(&a);
	assert_null(rpl_strmap_get(&m, "anything"));
	for (size_t i = 0; i < NKEYS; i++) {
		keys[i] = rpl_arena_printf(&a, "key-%zu", i);
		s = rpl_strmap_slot(&m, keys[i]);
		if (s->value)
			fail_msg("new key '%s' has a value already", keys[i]);
		assert_ptr_equal(s->key, keys[i]);
		s->value = (void *)(uintptr_t)(i + 1);
	}
	assert_int_equal(m.n, NKEYS);
	assert_int_equal(m.cap & (m.cap - 1), 0);
	assert_true(m.cap >= 2 * m.n);

	for (size_t i = 0; i < NKEYS; i++) {
		/* Keys compare by content, not by pointer. */
		snprintf(probe, sizeof(probe), "key-%zu", i);
		uintptr_t v = (uintptr_t)rpl_strmap_get(&m, probe);
		if (v != i + 1)
			fail_msg("get '%s': %zu, want %zu", probe, (size_t)v, i + 1);
	}
	/* The slot of a present key is its own, with its value; nothing is added. */
	snprintf(probe, sizeof(probe), "key-%d", 4242);
	s = rpl_strmap_slot(&m, probe);
	assert_ptr_equal(s->key, keys[4242]);
	assert_int_equal((uintptr_t)s->value, 4243);
	assert_int_equal(m.n, NKEYS);

	assert_null(rpl_strmap_get(&m, "key-100000"));
	assert_null(rpl_strmap_get(&m, "key-"));
	assert_null(rpl_strmap_get(&m, ""));
	assert_null(rpl_strmap_get(&m, "key-1 "));

	/* The empty string is a key like any other. */
	s = rpl_strmap_slot(&m, "");
	assert_null(s->value);
	s->value = &m;
	assert_ptr_equal(rpl_strmap_get(&m, ""), &m);
	assert_int_equal(m.n, NKEYS + 1);

	rpl_strmap_release(&m);
	assert_int_equal(m.n, 0);
	assert_int_equal(m.cap, 0);
	assert_null(rpl_strmap_get(&m, "key-1"));
	rpl_arena_release(&a);
	free(keys);
}

/*
 * A slot stays valid until the next insertion: asking slot() for a key that
 * is present inserts nothing, so earlier slot pointers must stay put.  Every
 * map size up to 300 is tried, so whatever the growth policy, each load
 * threshold is crossed.
 */
static void test_strmap_slot_stable(void **state)
{
	enum { NKEYS = 300 };
	struct rpl_strmap m = RPL_STRMAP_INIT;
	char keys[NKEYS][16];
	size_t moved_at = 0; /* the map size at which a lookup moved a slot, 0 if none */

	(void)state;

	for (size_t n = 0; n < NKEYS && !moved_at; n++) {
		struct rpl_strmap_slot *inserted, *again;

		snprintf(keys[n], sizeof(keys[n]), "k%zu", n);
		inserted = rpl_strmap_slot(&m, keys[n]);
		inserted->value = keys[n];
		again = rpl_strmap_slot(&m, keys[n]); /* present: a lookup, not an insertion */
		if (again != inserted) {
			print_error("with %zu keys, looking up present key '%s' moved its slot\n",
			            n + 1, keys[n]);
			moved_at = n + 1;
		}
		if (m.n != n + 1) {
			print_error("after %zu insertions the map counts %zu keys\n", n + 1, m.n);
			moved_at = SIZE_MAX;
		}
	}
	rpl_strmap_release(&m);
	assert_int_equal(moved_at, 0);
}

/* ---- sha256 ---------------------------------------------------------------- */

static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

/* FIPS 180-2 appendix B and the empty message. */
static const struct {
	const char *msg;
	const char *hex;
} nist[] = {
	{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	{ msg448, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
};

static void hex_of(const void *p, size_t n, char out[RPL_SHA256_HEX])
{
	uint8_t d[RPL_SHA256_LEN];

	rpl_sha256(p, n, d);
	rpl_hex(d, sizeof(d), out);
}

/* Binary records: what is written reads back; a short record reads as bad. */
static void test_bytes_roundtrip(void **state)
{
	struct rpl_strbuf b = RPL_STRBUF_INIT;
	struct rpl_arena a;
	struct rpl_cursor c;

	(void)state;
	rpl_arena_init(&a);
	rpl_put_u8(&b, 0xfe);
	rpl_put_u32(&b, 0x01020304);
	rpl_put_u64(&b, UINT64_C(0x1122334455667788));
	rpl_put_str(&b, "zlib");
	rpl_put_str(&b, NULL);
	rpl_put_str(&b, "");
	/* Little-endian on every host. */
	assert_memory_equal(b.buf + 1, "\x04\x03\x02\x01", 4);

	c = rpl_cursor_make(b.buf, b.len);
	assert_int_equal(rpl_get_u8(&c), 0xfe);
	assert_int_equal(rpl_get_u32(&c), 0x01020304);
	assert_true(rpl_get_u64(&c) == UINT64_C(0x1122334455667788));
	assert_string_equal(rpl_get_str(&c, &a), "zlib");
	assert_null(rpl_get_str(&c, &a));
	assert_string_equal(rpl_get_str(&c, &a), "");
	assert_false(c.bad);
	assert_true(c.p == c.end);

	/* Every prefix is a short read: bad, zeros and "", never past the end. */
	for (size_t n = 0; n < b.len; n++) {
		c = rpl_cursor_make(b.buf, n);
		rpl_get_u8(&c);
		rpl_get_u32(&c);
		rpl_get_u64(&c);
		rpl_get_str(&c, &a);
		rpl_get_str(&c, &a);
		rpl_get_str(&c, &a);
		assert_true(c.bad);
		assert_int_equal(rpl_get_u32(&c), 0);
		assert_string_equal(rpl_get_str(&c, &a), "");
		assert_true(c.p <= c.end);
	}
	rpl_strbuf_release(&b);
	rpl_arena_release(&a);
}

static void test_bytes_counts_and_strtab(void **state)
{
	struct rpl_strbuf b = RPL_STRBUF_INIT;
	struct rpl_strtab t = RPL_STRTAB_INIT;
	struct rpl_cursor c;
	uint32_t x, y, x2;

	(void)state;
	/* A count larger than the bytes left could hold is refused. */
	rpl_put_u32(&b, 3);
	rpl_put_u64(&b, 0);
	rpl_put_u32(&b, 0);
	c = rpl_cursor_make(b.buf, b.len);
	assert_int_equal(rpl_get_count(&c, 4), 3);
	c = rpl_cursor_make(b.buf, b.len);
	assert_int_equal(rpl_get_count(&c, 8), 0);
	assert_true(c.bad);
	rpl_strbuf_reset(&b);
	rpl_put_u32(&b, UINT32_MAX - 1);
	c = rpl_cursor_make(b.buf, b.len);
	assert_int_equal(rpl_get_count(&c, 1), 0);
	assert_true(c.bad);
	rpl_strbuf_release(&b);

	/* Each distinct string once; NULL is none; offsets point at the copy. */
	x = rpl_strtab_add(&t, "glibc");
	y = rpl_strtab_add(&t, "busybox");
	x2 = rpl_strtab_add(&t, "glibc");
	assert_int_equal(x, x2);
	assert_int_not_equal(x, y);
	assert_int_equal(rpl_strtab_add(&t, NULL), RPL_BYTES_NONE);
	assert_int_equal(t.data.len, strlen("glibc") + strlen("busybox") + 2);
	c = rpl_cursor_make("", 0);
	assert_string_equal(rpl_strtab_at(t.data.buf, t.data.len, x, &c), "glibc");
	assert_string_equal(rpl_strtab_at(t.data.buf, t.data.len, y, &c), "busybox");
	assert_null(rpl_strtab_at(t.data.buf, t.data.len, RPL_BYTES_NONE, &c));
	assert_false(c.bad);
	assert_string_equal(rpl_strtab_at(t.data.buf, t.data.len, (uint32_t)t.data.len, &c), "");
	assert_true(c.bad);
	rpl_strtab_release(&t);
}

static void test_sha256_vectors(void **state)
{
	char hex[RPL_SHA256_HEX];

	(void)state;
	for (size_t i = 0; i < N(nist); i++) {
		char oci[RPL_OCI_DIGEST];
		hex_of(nist[i].msg, strlen(nist[i].msg), hex);
		assert_string_equal(hex, nist[i].hex);
		rpl_oci_digest(nist[i].msg, strlen(nist[i].msg), oci);
		assert_true(!strncmp(oci, "sha256:", 7));
		assert_string_equal(oci + 7, nist[i].hex);
	}
}

static void test_sha256_streaming(void **state)
{
	static const size_t pieces[] = { 1, 3, 7, 13, 55, 56, 63, 64, 65 };
	char one[RPL_SHA256_HEX], streamed[RPL_SHA256_HEX];
	unsigned char *buf = malloc(1000000);
	uint8_t d[RPL_SHA256_LEN];
	struct rpl_sha256 h;

	(void)state;
	assert_non_null(buf);
	hex_of(msg448, strlen(msg448), one);
	for (size_t k = 0; k < N(pieces); k++) {
		rpl_sha256_init(&h);
		rpl_sha256_update(&h, "", 0); /* an empty update changes nothing */
		for (size_t off = 0; off < strlen(msg448); off += pieces[k]) {
			size_t n = strlen(msg448) - off;
			rpl_sha256_update(&h, msg448 + off, n < pieces[k] ? n : pieces[k]);
		}
		rpl_sha256_final(&h, d);
		assert_null(h.ctx);
		rpl_hex(d, sizeof(d), streamed);
		assert_string_equal(streamed, one);
	}

	/* A million 'a' (FIPS 180-2 B.3), one shot and in uneven pieces. */
	memset(buf, 'a', 1000000);
	hex_of(buf, 1000000, one);
	assert_string_equal(one,
	                    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	rpl_sha256_init(&h);
	for (size_t off = 0, n = 1; off < 1000000; off += n, n = n * 3 % 9973 + 1) {
		if (n > 1000000 - off)
			n = 1000000 - off;
		rpl_sha256_update(&h, buf + off, n);
	}
	rpl_sha256_final(&h, d);
	rpl_hex(d, sizeof(d), streamed);
	assert_string_equal(streamed, one);
	free(buf);
}

static void test_hex(void **state)
{
	const uint8_t b[] = { 0x00, 0x0f, 0x10, 0xa5, 0xff, 0x7e };
	char out[2 * sizeof(b) + 2];

	(void)state;
	memset(out, '#', sizeof(out));
	rpl_hex(b, sizeof(b), out);
	assert_string_equal(out, "000f10a5ff7e");
	assert_int_equal(out[sizeof(out) - 1], '#'); /* nothing past the NUL */
	rpl_hex(b, 0, out);
	assert_string_equal(out, "");
}

/* ---- file ------------------------------------------------------------------ */

static char tmpdir[256];

static char *tmp_path(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void put_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		fail_msg("cannot write %s: %s", path, strerror(errno));
	if (n && fwrite(p, 1, n, f) != n)
		fail_msg("short write to %s", path);
	fclose(f);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The names in `dir`, sorted, joined by spaces. */
static void list_dir(const char *dir, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char names[16][256];
	size_t n = 0;

	if (!d)
		fail_msg("cannot open %s", dir);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && n < N(names))
			snprintf(names[n++], sizeof(names[0]), "%s", e->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, size - l, "%s%s", i ? " " : "", names[i]);
	}
}

static int file_setup(void **state)
{
	(void)state;
	return rpl_test_mkdtemp(tmpdir, sizeof(tmpdir), "common");
}

static int file_teardown(void **state)
{
	(void)state;
	return rpl_test_remove_tree(tmpdir);
}

/* The directory's entries but "." and "..", counted. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/*
 * A hashed file: its digest is the hash of every byte written, in pieces;
 * kept, it is at its new name and nothing else is left; released unkept
 * (a failed download), nothing is left at all.
 */
static void test_hashed_file(void **state)
{
	struct rpl_hashed_file f;
	uint8_t d[RPL_SHA256_LEN];
	char hex[129], want[RPL_SHA256_HEX], dest[1024], *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(rpl_hashed_file_open(&f, tmpdir, 0), 0);
	assert_int_equal(rpl_hashed_file_write(&f, "hello, ", 7), 0);
	assert_int_equal(rpl_hashed_file_write(&f, "world", 5), 0);
	assert_int_equal(rpl_hashed_file_finish(&f, hex), 0);
	rpl_sha256("hello, world", 12, d);
	rpl_hex(d, sizeof(d), want);
	assert_string_equal(hex, want);
	snprintf(dest, sizeof(dest), "%s/sha256:%s", tmpdir, hex);
	assert_int_equal(rpl_hashed_file_keep(&f, dest), 0);
	rpl_hashed_file_release(&f);
	assert_int_equal(rpl_read_file(dest, &buf, &len), 0);
	assert_int_equal(len, 12);
	assert_memory_equal(buf, "hello, world", 12);
	free(buf);
	assert_int_equal(count_entries(tmpdir), 1);

	/* SHA-512, and released without being kept. */
	assert_int_equal(rpl_hashed_file_open(&f, tmpdir, 1), 0);
	assert_int_equal(rpl_hashed_file_write(&f, "abc", 3), 0);
	assert_int_equal(count_entries(tmpdir), 2);
	assert_int_equal(rpl_hashed_file_finish(&f, hex), 0);
	assert_string_equal(hex,
	                    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	                    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	rpl_hashed_file_release(&f);
	assert_int_equal(count_entries(tmpdir), 1);

	/* A directory that is not there: an error, and releasing is safe. */
	snprintf(dest, sizeof(dest), "%s/missing", tmpdir);
	assert_int_not_equal(rpl_hashed_file_open(&f, dest, 0), 0);
	rpl_hashed_file_release(&f);
}

static void test_read_file(void **state)
{
	size_t big = 3 * 1024 * 1024 + 17, len = 12345;
	unsigned char *data = malloc(big);
	char *buf = NULL;
	const char *path;
	int err;

	(void)state;
	assert_non_null(data);
	path = tmp_path("empty");
	put_file(path, "", 0);
	err = rpl_read_file(path, &buf, &len);
	assert_int_equal(err, 0);
	assert_non_null(buf);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);

	for (size_t i = 0; i < big; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	path = tmp_path("big");
	put_file(path, data, big);
	buf = NULL;
	err = rpl_read_file(path, &buf, &len);
	assert_int_equal(err, 0);
	assert_int_equal(len, big);
	assert_memory_equal(buf, data, big);
	assert_int_equal(buf[big], '\0');
	free(buf);
	free(data);
}

/* A file whose size stat does not know: read until EOF past the first guess. */
static void test_read_file_unsized(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	int err;

	(void)state;
	if (access("/proc/self/maps", R_OK))
		rpl_test_skip("/proc/self/maps cannot be read");
	err = rpl_read_file("/proc/self/maps", &buf, &len);
	assert_int_equal(err, 0);
	assert_true(len > 0);
	assert_int_equal(strlen(buf), len);
	free(buf);
}

static void test_read_file_errors(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	const char *path;
	int err;

	(void)state;
	rpl_error_clear();
	err = rpl_read_file(tmpdir, &buf, &len);
	assert_int_equal(err, -EISDIR);
	assert_non_null(strstr(rpl_errmsg(), tmpdir));

	path = tmp_path("no-such-file");
	rpl_error_clear();
	err = rpl_read_file(path, &buf, &len);
	assert_int_equal(err, -ENOENT);
	assert_non_null(strstr(rpl_errmsg(), path));
}

/* Expects `err` to be `want` and the message to be "cannot read '<path>': <tail>". */
static void expect_read_error(int err, int want, const char *path, const char *tail)
{
	char msg[1024];

	snprintf(msg, sizeof(msg), "cannot read '%s': %s", path, tail);
	assert_int_equal(err, want);
	assert_string_equal(rpl_errmsg(), msg);
}

/*
 * Only regular files are read: a FIFO would block the open or the read
 * until something writes (the alarm turns that hang into a failure), and
 * /dev/zero would be read until memory runs out.
 */
static void test_read_file_irregular(void **state)
{
	char fifo[512], zero[512], *buf = NULL;
	size_t len = 0;

	(void)state;
	snprintf(fifo, sizeof(fifo), "%s", tmp_path("fifo"));
	snprintf(zero, sizeof(zero), "%s", tmp_path("zero"));
	assert_int_equal(mkfifo(fifo, 0644), 0);
	assert_int_equal(symlink("/dev/zero", zero), 0);
	alarm(20);
	expect_read_error(rpl_read_file(fifo, &buf, &len), -EINVAL, fifo,
	                  "it is a FIFO, not a regular file");
	expect_read_error(rpl_read_file_max(zero, 100, &buf, &len), -EINVAL, zero,
	                  "it is a character device, not a regular file");
	assert_int_equal(rpl_open_regular(fifo), -EINVAL);
	assert_int_equal(rpl_open_regular("/dev/null"), -EINVAL);
	alarm(0);
	assert_null(buf);
}

/* rpl_read_file_max refuses a file past the bound, before reading it. */
static void test_read_file_max(void **state)
{
	char path[512], *buf = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s", tmp_path("sized"));
	put_file(path, "0123456789", 10);
	assert_int_equal(rpl_read_file_max(path, 10, &buf, &len), 0);
	assert_int_equal(len, 10);
	free(buf);
	buf = NULL;
	expect_read_error(rpl_read_file_max(path, 9, &buf, &len), -EFBIG, path,
	                  "larger than 0 MiB");
	/* A sparse file of 3 GiB costs nothing to make and is never read. */
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)3 << 30), 0);
	close(fd);
	expect_read_error(rpl_read_file_max(path, (size_t)16 << 20, &buf, &len), -EFBIG, path,
	                  "larger than 16 MiB");
	assert_null(buf);
}

static void test_path_check_inside(void **state)
{
	char real[PATH_MAX], sub[PATH_MAX + 16], link[512], file[512], msg[1024];

	(void)state;
	assert_non_null(realpath(tmpdir, real));
	snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(file, sizeof(file), "%s/sub/f.yaml", tmpdir);
	put_file(file, "x", 1);
	assert_int_equal(rpl_path_check_inside(real, file), 0);
	assert_int_equal(rpl_path_check_inside(real, tmpdir), 0);
	assert_int_equal(rpl_path_check_inside("/", file), 0);

	/* A link inside the root to a file inside it is fine; out of it is not. */
	snprintf(link, sizeof(link), "%s/in.yaml", tmpdir);
	assert_int_equal(symlink("sub/f.yaml", link), 0);
	assert_int_equal(rpl_path_check_inside(real, link), 0);
	snprintf(link, sizeof(link), "%s/out.yaml", tmpdir);
	assert_int_equal(symlink("/dev/null", link), 0);
	rpl_error_clear();
	assert_int_equal(rpl_path_check_inside(real, link), -EXDEV);
	snprintf(msg, sizeof(msg), "'%s' leads to '/dev/null', outside the repository", link);
	assert_string_equal(rpl_errmsg(), msg);
	/* `..` as much as a link; and a sibling sharing the root's prefix is outside. */
	snprintf(link, sizeof(link), "%s/sub/../../", tmpdir);
	assert_int_equal(rpl_path_check_inside(real, link), -EXDEV);
	snprintf(sub, sizeof(sub), "%s/sub", real);
	snprintf(link, sizeof(link), "%s/sub2", tmpdir);
	assert_int_equal(mkdir(link, 0755), 0);
	assert_int_equal(rpl_path_check_inside(sub, link), -EXDEV);
	/* A dangling link cannot be resolved. */
	snprintf(link, sizeof(link), "%s/dangling", tmpdir);
	assert_int_equal(symlink("nowhere", link), 0);
	assert_int_equal(rpl_path_check_inside(real, link), -ENOENT);
}

static void test_utf8_names(void **state)
{
	static const struct {
		const char *s, *problem, *escaped;
	} cases[] = {
		{ "plain-name_1.0", NULL, "plain-name_1.0" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", NULL, "caf\xc3\xa9 \xf0\x9f\x98\x80" },
		{ "back\\slash", NULL, "back\\\\slash" },
		{ "a\nb", "holds a control character", "a\\x0ab" },
		{ "tab\t", "holds a control character", "tab\\x09" },
		{ "del\x7f", "holds a control character", "del\\x7f" },
		{ "c1\xc2\x9b", "holds a control character", "c1\\u{009b}" },
		{ "ls\xe2\x80\xa8", "holds a control character", "ls\\u{2028}" },
		{ "bidi\xe2\x81\xa6", "holds a control character", "bidi\\u{2066}" },
		{ "latin1\xe9", "is not valid UTF-8", "latin1\\xe9" },
		{ "overlong\xc0\x80", "is not valid UTF-8", "overlong\\xc0\\x80" },
		{ "surrogate\xed\xa0\x80", "is not valid UTF-8", "surrogate\\xed\\xa0\\x80" },
		{ "big\xf4\x90\x80\x80", "is not valid UTF-8", "big\\xf4\\x90\\x80\\x80" },
		{ "cut\xe6\x97", "is not valid UTF-8", "cut\\xe6\\x97" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *p = rpl_utf8_name_problem(cases[i].s);
		struct rpl_strbuf sb = RPL_STRBUF_INIT;

		if (cases[i].problem)
			assert_string_equal(p ? p : "(none)", cases[i].problem);
		else if (p)
			fail_msg("case %zu: '%s' %s", i, cases[i].s, p);
		rpl_utf8_escape(&sb, cases[i].s);
		assert_string_equal(rpl_strbuf_str(&sb), cases[i].escaped);
		rpl_strbuf_release(&sb);
	}
}

static void test_write_file_atomic(void **state)
{
	char *path = strdup(tmp_path("state.db"));
	char listing[1024];
	char *buf = NULL;
	size_t len = 0;
	int err;

	(void)state;
	assert_non_null(path);
	assert_int_equal(rpl_write_file_atomic(path, "first version, longer", 21), 0);
	assert_int_equal(rpl_read_file(path, &buf, &len), 0);
	assert_string_equal(buf, "first version, longer");
	free(buf);

	/* Replacing with shorter contents leaves nothing of the old. */
	assert_int_equal(rpl_write_file_atomic(path, "second", 6), 0);
	assert_int_equal(rpl_read_file(path, &buf, &len), 0);
	assert_int_equal(len, 6);
	assert_string_equal(buf, "second");
	free(buf);

	assert_int_equal(rpl_write_file_atomic(path, "", 0), 0);
	assert_int_equal(rpl_read_file(path, &buf, &len), 0);
	assert_int_equal(len, 0);
	free(buf);

	/* No temporary file is left next to it. */
	list_dir(tmpdir, listing, sizeof(listing));
	assert_non_null(strstr(listing, "state.db"));
	assert_null(strstr(listing, ".tmp"));

	/* A directory that does not exist: an error naming where, nothing left. */
	free(path);
	path = strdup(tmp_path("missing-dir/x"));
	assert_non_null(path);
	rpl_error_clear();
	err = rpl_write_file_atomic(path, "x", 1);
	assert_int_equal(err, -ENOENT);
	assert_non_null(strstr(rpl_errmsg(), "missing-dir"));
	free(path);
	list_dir(tmpdir, listing, sizeof(listing));
	assert_null(strstr(listing, ".tmp"));
}

/* Pieces written as one file, with and without the fsync; empty pieces add nothing. */
static void test_write_file_atomic_v(void **state)
{
	char *path = strdup(tmp_path("snapshot"));
	struct iovec parts[4] = { { "head", 4 }, { "", 0 }, { "-table", 6 }, { "-body", 5 } };
	char listing[1024];
	char *buf = NULL;
	size_t len = 0;
	struct stat sb;

	(void)state;
	assert_non_null(path);
	for (int sync = 0; sync < 2; sync++) {
		assert_int_equal(rpl_write_file_atomic_v(path, parts, 4, 0600, sync), 0);
		assert_int_equal(rpl_read_file(path, &buf, &len), 0);
		assert_int_equal(len, 15);
		assert_string_equal(buf, "head-table-body");
		free(buf);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
	}
	list_dir(tmpdir, listing, sizeof(listing));
	assert_null(strstr(listing, ".tmp"));
	free(path);
}

static void test_path_join(void **state)
{
	static const struct {
		const char *a, *b, *want;
	} cases[] = {
		{ "a", "b", "a/b" },
		{ "a/", "b", "a/b" },
		{ "a/b", "c/d", "a/b/c/d" },
		{ "/", "b", "/b" },
		{ "/root", "x.yaml", "/root/x.yaml" },
		{ ".", "b", "b" },
		{ ".", "b/c", "b/c" },
		{ "", "b", "b" },
		{ "a", "/b", "/b" },
		{ ".", "/b", "/b" },
		{ "./a", "b", "./a/b" },
		{ "..", "b", "../b" },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char *got = rpl_path_join(cases[i].a, cases[i].b);
		if (strcmp(got, cases[i].want))
			fail_msg("join('%s', '%s') = '%s', want '%s'", cases[i].a, cases[i].b, got,
			         cases[i].want);
		free(got);
	}
}

static void test_path_dirname(void **state)
{
	static const struct {
		const char *path, *want;
	} cases[] = {
		{ "a/b/c", "a/b" }, { "a/b", "a" },
		{ "a", "." },       { "", "." },
		{ "/a", "/" },      { "/", "/" },
		{ "/a/b", "/a" },   { "./x.yaml", "." },
		{ "../x", ".." },   { ".ripple.yaml", "." },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		char *got = rpl_path_dirname(cases[i].path);
		if (strcmp(got, cases[i].want))
			fail_msg("dirname('%s') = '%s', want '%s'", cases[i].path, got,
			         cases[i].want);
		free(got);
	}
}

static void test_str_affixes(void **state)
{
	(void)state;
	assert_int_equal(rpl_str_endswith("recipe.yaml", ".yaml"), 1);
	assert_int_equal(rpl_str_endswith("recipe.yaml", "recipe.yaml"), 1);
	assert_int_equal(rpl_str_endswith("recipe.yaml", ""), 1);
	assert_int_equal(rpl_str_endswith("", ""), 1);
	assert_int_equal(rpl_str_endswith("recipe.yml", ".yaml"), 0);
	assert_int_equal(rpl_str_endswith("aml", ".yaml"), 0);
	assert_int_equal(rpl_str_endswith("", "a"), 0);
	assert_int_equal(rpl_str_endswith("yaml.x", "yaml"), 0);

	assert_int_equal(rpl_str_startswith("pipelines/x", "pipelines/"), 1);
	assert_int_equal(rpl_str_startswith("abc", "abc"), 1);
	assert_int_equal(rpl_str_startswith("abc", ""), 1);
	assert_int_equal(rpl_str_startswith("", ""), 1);
	assert_int_equal(rpl_str_startswith("ab", "abc"), 0);
	assert_int_equal(rpl_str_startswith("abc", "b"), 0);
	assert_int_equal(rpl_str_startswith("", "a"), 0);
}

/* ---- error ----------------------------------------------------------------- */

static void test_error(void **state)
{
	char longer[5000];

	(void)state;
	rpl_error_clear();
	assert_string_equal(rpl_errmsg(), "");
	assert_int_equal(rpl_error(-EINVAL, "cannot frob '%s' (%d)", "x", 3), -EINVAL);
	assert_string_equal(rpl_errmsg(), "cannot frob 'x' (3)");
	assert_int_equal(rpl_error(-RPL_ENOTFOUND, "second"), -RPL_ENOTFOUND);
	assert_string_equal(rpl_errmsg(), "second");
	rpl_error_clear();
	assert_string_equal(rpl_errmsg(), "");

	assert_int_equal(rpl_error_at(-RPL_EPARSE, "a/pkg.yaml", 3, 7, "bad %s", "thing"),
	                 -RPL_EPARSE);
	assert_string_equal(rpl_errmsg(), "a/pkg.yaml:3:7: bad thing");
	/* Line 0 is a synthesised position: it reads 1:1 whatever the column. */
	assert_int_equal(rpl_error_at(-RPL_ESCHEMA, "f.yaml", 0, 5, "x"), -RPL_ESCHEMA);
	assert_string_equal(rpl_errmsg(), "f.yaml:1:1: x");

	rpl_error(-ENOENT, "cannot open 'x'");
	assert_int_equal(rpl_error_prefix(-ENOENT, "loading '%s'", "repo"), -ENOENT);
	assert_string_equal(rpl_errmsg(), "loading 'repo': cannot open 'x'");
	assert_int_equal(rpl_error_prefix(-ENOENT, "plan"), -ENOENT);
	assert_string_equal(rpl_errmsg(), "plan: loading 'repo': cannot open 'x'");

	/* The last message as an argument of the next: wrapped, not garbled. */
	rpl_error(-EINVAL, "missing package name in dependency '%s'", "");
	rpl_error(-EINVAL, "'%s': %s", "x", rpl_errmsg());
	assert_string_equal(rpl_errmsg(), "'x': missing package name in dependency ''");
	rpl_error_at(-EINVAL, "f", 2, 3, "in %s", rpl_errmsg());
	assert_string_equal(rpl_errmsg(), "f:2:3: in 'x': missing package name in dependency ''");

	/* Messages longer than the buffer are cut, never overrun (ASan). */
	memset(longer, 'm', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	rpl_error(-EINVAL, "%s", longer);
	assert_true(strlen(rpl_errmsg()) > 1000);
	assert_true(strlen(rpl_errmsg()) < sizeof(longer) - 1);
	rpl_error_prefix(-EINVAL, "ctx");
	assert_true(rpl_str_startswith(rpl_errmsg(), "ctx: mmm"));
	rpl_error_prefix(-EINVAL, "%s", longer);
	assert_true(rpl_str_startswith(rpl_errmsg(), "mmm"));
	rpl_error_at(-EINVAL, longer, 1, 1, "tail");
	assert_true(rpl_str_startswith(rpl_errmsg(), "mmm"));
	rpl_error_clear();
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(rpl_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(rpl_strerror(-EISDIR), strerror(EISDIR));
	assert_string_equal(rpl_strerror(-RPL_EPARSE), "malformed input");
	assert_string_equal(rpl_strerror(-RPL_ECYCLE), "cycle");
	assert_string_equal(rpl_strerror(-RPL_ELIB), "library error");
	/* Every project code has its own text. */
	for (int c = RPL_EBASE + 1; c < RPL_ELAST; c++) {
		const char *s = rpl_strerror(-c);
		if (!strcmp(s, "unknown error"))
			fail_msg("code %d has no message", c);
		for (int d = RPL_EBASE + 1; d < c; d++)
			if (!strcmp(s, rpl_strerror(-d)))
				fail_msg("codes %d and %d share '%s'", c, d, s);
	}
	assert_string_equal(rpl_strerror(-RPL_EBASE), "unknown error");
	assert_string_equal(rpl_strerror(-RPL_ELAST), "unknown error");
	assert_string_equal(rpl_strerror(-999999), "unknown error");
}

struct thread_result {
	char before[64]; /* the thread's message before it set one */
	char after[64];
	int code;
};

static void *error_thread(void *arg)
{
	struct thread_result *r = arg;

	snprintf(r->before, sizeof(r->before), "%s", rpl_errmsg());
	r->code = rpl_error_at(-RPL_EPARSE, "t.yaml", 2, 3, "from the thread");
	rpl_error_prefix(-RPL_EPARSE, "worker");
	snprintf(r->after, sizeof(r->after), "%s", rpl_errmsg());
	return NULL;
}

static void test_error_per_thread(void **state)
{
	struct thread_result r = { "", "", 0 };
	pthread_t t;

	(void)state;
	rpl_error(-EINVAL, "main thread's message");
	assert_int_equal(pthread_create(&t, NULL, error_thread, &r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(r.before, "");
	assert_int_equal(r.code, -RPL_EPARSE);
	assert_string_equal(r.after, "worker: t.yaml:2:3: from the thread");
	assert_string_equal(rpl_errmsg(), "main thread's message");
	rpl_error_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_alignment),
		cmocka_unit_test(test_arena_zeroed),
		cmocka_unit_test(test_arena_sized_growth),
		cmocka_unit_test(test_arena_strings),
		cmocka_unit_test(test_arena_memdup),
		cmocka_unit_test(test_arena_large),
		cmocka_unit_test(test_arena_sized),
		cmocka_unit_test(test_arena_many),
		cmocka_unit_test(test_strbuf_growth),
		cmocka_unit_test(test_strfmt),
		cmocka_unit_test(test_size_text),
		cmocka_unit_test(test_strbuf_detach_reset),
		cmocka_unit_test(test_strmap),
		cmocka_unit_test(test_strmap_slot_stable),
		cmocka_unit_test(test_bytes_roundtrip),
		cmocka_unit_test(test_bytes_counts_and_strtab),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_streaming),
		cmocka_unit_test(test_hex),
		cmocka_unit_test_setup_teardown(test_read_file, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_hashed_file, file_setup, file_teardown),
		cmocka_unit_test(test_read_file_unsized),
		cmocka_unit_test_setup_teardown(test_read_file_errors, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_read_file_irregular, file_setup,
		                                file_teardown),
		cmocka_unit_test_setup_teardown(test_read_file_max, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_path_check_inside, file_setup, file_teardown),
		cmocka_unit_test(test_utf8_names),
		cmocka_unit_test_setup_teardown(test_write_file_atomic, file_setup, file_teardown),
		cmocka_unit_test_setup_teardown(test_write_file_atomic_v, file_setup,
		                                file_teardown),
		cmocka_unit_test(test_path_join),
		cmocka_unit_test(test_path_dirname),
		cmocka_unit_test(test_str_affixes),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_error_per_thread),
	};

	return rpl_test_result(cmocka_run_group_tests(tests, NULL, NULL));
}
