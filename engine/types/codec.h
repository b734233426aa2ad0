/*
 * codec: protobuf encoding (proto/types.proto) of the data types, for the network, the
 * WAL and the stores. The only file of the engine that sees protobuf-c structs besides
 * sign_bytes.c; everything else works on the plain C structs.
 *
 * Encoders return a malloc'd buffer the caller frees. Decoders take untrusted bytes: every
 * message has a size limit checked before parsing, parsing itself runs under an allocation
 * budget proportional to the input, every list and bytes field is checked against its
 * bound and exact length, and anything else than a well-formed message is refused with
 * PX_EDECODE (or PX_ETOOBIG for sizes) without crashing or leaking. Decoding a vote or a
 * proposal also checks vote_validate_basic / proposal_validate_basic and requires a
 * 64-byte signature: unsigned votes and proposals never travel or get logged.
 */
#ifndef PX_CODEC_H
#define PX_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "block_id.h"
#include "commit.h"
#include "evidence.h"
#include "header.h"
#include "part_set.h"
#include "proposal.h"
#include "validator_set.h"
#include "vote.h"

/* Largest encodings accepted by the decoders. */
#define CODEC_VOTE_MAX_BYTES 1024u
#define CODEC_PROPOSAL_MAX_BYTES 1024u
#define CODEC_HEADER_MAX_BYTES 2048u
#define CODEC_EVIDENCE_MAX_BYTES 4096u
#define CODEC_COMMIT_MAX_BYTES (VALIDATOR_SET_MAX * 160u + 1024u)
#define CODEC_VALIDATOR_SET_MAX_BYTES (VALIDATOR_SET_MAX * 160u + 1024u)
#define CODEC_PART_MAX_BYTES (PART_SET_PART_SIZE + 4096u)
#define CODEC_BLOCK_MAX_BYTES (BLOCK_MAX_BYTES + 4u * 1024u * 1024u)
#define CODEC_PART_SET_HEADER_MAX_BYTES 64u
#define CODEC_BLOCK_ID_MAX_BYTES 128u

/* Encoders. Errors: PX_EINVAL (a field out of range for the wire: height above INT64_MAX,
 * a list above its bound), PX_ENOMEM. */
int codec_vote_encode(const struct vote *v, uint8_t **out, size_t *len);
int codec_proposal_encode(const struct proposal *p, uint8_t **out, size_t *len);
int codec_block_id_encode(const struct block_id *id, uint8_t **out, size_t *len);
int codec_part_set_header_encode(const struct part_set_header *h, uint8_t **out, size_t *len);
int codec_header_encode(const struct header *h, uint8_t **out, size_t *len);
int codec_commit_encode(const struct commit *c, uint8_t **out, size_t *len);
int codec_evidence_encode(const struct evidence *ev, uint8_t **out, size_t *len);
int codec_validator_set_encode(const struct validator_set *vs, uint8_t **out, size_t *len);
int codec_block_encode(const struct block *b, uint8_t **out, size_t *len);
int codec_part_encode(const struct part *p, uint8_t **out, size_t *len);

/* Decoders. Errors: PX_ETOOBIG (input above the message's limit, or a list above its
 * bound), PX_EDECODE (anything malformed), PX_ENOMEM. */
int codec_vote_decode(const uint8_t *buf, size_t len, struct vote *out);
int codec_proposal_decode(const uint8_t *buf, size_t len, struct proposal *out);
int codec_block_id_decode(const uint8_t *buf, size_t len, struct block_id *out);
int codec_part_set_header_decode(const uint8_t *buf, size_t len, struct part_set_header *out);
int codec_header_decode(const uint8_t *buf, size_t len, struct header *out);
/* *out is initialised by the call (commit_fini it on success only). */
int codec_commit_decode(const uint8_t *buf, size_t len, struct commit *out);
int codec_evidence_decode(const uint8_t *buf, size_t len, struct evidence *out);
/* Restores the set as stored (validator_set_restore): order, priorities and proposer. */
int codec_validator_set_decode(const uint8_t *buf, size_t len, struct validator_set *out);
/* *out is initialised by the call (block_fini it on success only). */
int codec_block_decode(const uint8_t *buf, size_t len, struct block *out);
/* out->bytes is malloc'd (free it on success only). Checks sizes, not the proof. */
int codec_part_decode(const uint8_t *buf, size_t len, struct part *out);

/* ---- encodings that are hashed (used by header, commit, block, evidence) ---- */

#define CODEC_HEADER_LEAVES 14
#define CODEC_HEADER_LEAF_MAX (HEADER_APP_HASH_MAX + 32u)
/* The 14 leaves of a header's merkle hash, each field encoded as CometBFT's cdcEncode.
 * Errors: PX_EINVAL. */
int codec_header_leaves(const struct header *h,
                        uint8_t leaves[CODEC_HEADER_LEAVES][CODEC_HEADER_LEAF_MAX],
                        size_t lens[CODEC_HEADER_LEAVES]);
#define CODEC_COMMIT_SIG_MAX 160u
int codec_commit_sig_bytes(const struct commit_sig *s, uint8_t buf[CODEC_COMMIT_SIG_MAX],
                           size_t *len);
/* CometBFT's evidence bytes (the DuplicateVoteEvidence message, malloc'd), for hashing. */
int codec_duplicate_vote_bytes(const struct evidence *ev, uint8_t **out, size_t *len);
#define CODEC_HASHED_PARAMS_MAX 32u
int codec_hashed_params_bytes(int64_t block_max_bytes, int64_t block_max_gas,
                              uint8_t buf[CODEC_HASHED_PARAMS_MAX], size_t *len);
#define CODEC_SIMPLE_VALIDATOR_MAX 96u
int codec_simple_validator_bytes(const struct validator *v, uint8_t buf[CODEC_SIMPLE_VALIDATOR_MAX],
                                 size_t *len);

#endif
