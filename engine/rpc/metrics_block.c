/*
 * metrics_block: the per-block consensus metrics computed from a committed block and the
 * validator sets around it (see metrics_std_block in metrics.h), so the node makes one
 * call per commit. Reads the block only; never keeps a pointer to it.
 */
#include "block.h"
#include "metrics.h"
#include "px_encoding.h"
#include "px_error.h"

static void addr_label(const uint8_t addr[20], char out[41])
{
    px_hex_encode(out, 41, addr, 20, true);
}

int metrics_std_block(const struct metrics_std *m, const struct block *b, uint64_t block_bytes,
                      const struct validator_set *vals, const struct validator_set *last_vals)
{
    int err = 0, e;
    char label[41];
    if ((e = metrics_observe(m->block_size_bytes, NULL, (double)block_bytes)) < 0)
        err = e;
    for (uint32_t i = 0; vals != NULL && i < vals->count; i++) {
        addr_label(vals->validators[i].address, label);
        if ((e = metrics_set(m->validator_power, label, (double)vals->validators[i].voting_power)) <
            0)
            err = e;
    }
    const struct commit *lc = &b->last_commit;
    if (last_vals != NULL && lc->height > 0) {
        if (lc->count != last_vals->count)
            return PX_EINVAL;
        uint32_t missing = 0;
        int64_t missing_power = 0;
        for (uint32_t i = 0; i < lc->count; i++) {
            const struct validator *v = &last_vals->validators[i];
            addr_label(v->address, label);
            if (lc->sigs[i].flag == COMMIT_FLAG_ABSENT) {
                missing++;
                missing_power += v->voting_power;
                e = metrics_add(m->validator_missed_blocks, label, 1);
            } else {
                e = metrics_add(m->validator_precommits, label, 1);
            }
            if (e < 0)
                err = e;
        }
        metrics_set(m->missing_validators, NULL, missing);
        metrics_set(m->missing_validators_power, NULL, (double)missing_power);
    }
    int64_t byz_power = 0;
    for (uint32_t i = 0; i < b->evidence_count; i++)
        byz_power += b->evidence[i].validator_power;
    metrics_set(m->byzantine_validators, NULL, b->evidence_count);
    metrics_set(m->byzantine_validators_power, NULL, (double)byz_power);
    return err;
}
