/*
 * Strict, table-driven decoding of YAML trees into C structs.
 *
 * A schema lists the keys a mapping may hold and where each goes; a key the
 * schema does not list is an error, as with yaml.v3's KnownFields(true) that
 * melange and apko use.  Strings keep their raw YAML text and position.
 */
#ifndef RPL_DECODE_H
#define RPL_DECODE_H

#include "recipes/yaml.h"

#include <stddef.h>
#include <stdint.h>

struct rpl_arena;

/* A string with the position it came from (line 0 when synthesised). */
struct rpl_text {
	const char *s;
	uint32_t line, col;
};

struct rpl_textlist {
	struct rpl_text *v;
	size_t n;
};

struct rpl_kv {
	struct rpl_text key;
	struct rpl_text val;
};

/* An ordered string map (source order). */
struct rpl_kvlist {
	struct rpl_kv *v;
	size_t n;
};

struct rpl_dctx {
	struct rpl_arena *arena;
	const char *file;
	/* Ignore unknown keys: melange reads pipeline definition files with a
	 * plain yaml.Unmarshal, which does. */
	int lenient;
};

struct rpl_schema;

enum rpl_fkind {
	RPL_F_STR,     /* struct rpl_text */
	RPL_F_STRLIST, /* struct rpl_textlist */
	RPL_F_STRMAP,  /* struct rpl_kvlist */
	RPL_F_U64,     /* uint64_t, plus presence in `aux` (int) when aux_off set */
	RPL_F_INT,     /* int64_t */
	RPL_F_BOOL,    /* int */
	RPL_F_STRUCT,  /* embedded struct described by `sub` */
	RPL_F_PTR,     /* pointer to a struct described by `sub`, NULL when absent */
	RPL_F_LIST,    /* `sub *` at off, size_t count at aux_off */
	RPL_F_CUSTOM,  /* decoded by `fn` */
	RPL_F_NODE,    /* const struct rpl_ynode * kept as is (caller owns the doc) */
};

typedef int (*rpl_decode_fn)(const struct rpl_dctx *c, const struct rpl_ynode *n, void *dst);

struct rpl_field {
	const char *key;
	enum rpl_fkind kind;
	size_t off;
	const struct rpl_schema *sub;
	size_t aux_off;
	rpl_decode_fn fn;
};

struct rpl_schema {
	const char *name; /* for messages: "package", "pipeline step" */
	size_t size;
	const struct rpl_field *fields; /* terminated by a NULL key */
	/* 1 + the offset of two uint32_t members (line, col) that receive the
	 * mapping's position; 0 when the struct has none. */
	size_t at_off;
};

#define RPL_AT(type) (offsetof(type, line) + 1)

/*
 * Decodes mapping `n` into `dst` (already zeroed) after `schema`.  Returns 0
 * or -RPL_ESCHEMA with a "file:line:col: ..." message.
 */
int rpl_decode(const struct rpl_dctx *c, const struct rpl_ynode *n, const struct rpl_schema *schema,
               void *dst);

/* Single-value decoders, also usable from custom functions. */
int rpl_decode_str(const struct rpl_dctx *c, const struct rpl_ynode *n, struct rpl_text *out);
int rpl_decode_strlist(const struct rpl_dctx *c, const struct rpl_ynode *n,
                       struct rpl_textlist *out);
int rpl_decode_strmap(const struct rpl_dctx *c, const struct rpl_ynode *n, struct rpl_kvlist *out);
int rpl_decode_u64(const struct rpl_dctx *c, const struct rpl_ynode *n, uint64_t *out);
int rpl_decode_bool(const struct rpl_dctx *c, const struct rpl_ynode *n, int *out);

/* Formats "file:line:col: <msg>" for node `n` and returns -RPL_ESCHEMA. */
int rpl_decode_error(const struct rpl_dctx *c, const struct rpl_ynode *n, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* A text with no position. */
struct rpl_text rpl_text_make(const char *s);
/* The value for `key` in `kv`, or NULL. */
const struct rpl_kv *rpl_kvlist_get(const struct rpl_kvlist *kv, const char *key);

#define RPL_FIELD(k, kind, type, member)                       \
	{                                                      \
		k, kind, offsetof(type, member), NULL, 0, NULL \
	}
#define RPL_FIELD_SUB(k, kind, type, member, sub)             \
	{                                                     \
		k, kind, offsetof(type, member), sub, 0, NULL \
	}
#define RPL_FIELD_LIST(k, type, member, count, sub)                                     \
	{                                                                               \
		k, RPL_F_LIST, offsetof(type, member), sub, offsetof(type, count), NULL \
	}
#define RPL_FIELD_FN(k, type, member, fn)                            \
	{                                                            \
		k, RPL_F_CUSTOM, offsetof(type, member), NULL, 0, fn \
	}
#define RPL_FIELD_END                     \
	{                                 \
		NULL, 0, 0, NULL, 0, NULL \
	}

#endif
