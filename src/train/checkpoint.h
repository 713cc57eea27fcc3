/* Model checkpoints: a model's parameters and buffers, optionally extra
 * stores (the optimiser state), in a safetensors file under PyTorch's
 * state_dict names, with the run's description in the metadata.
 *
 * Tensors: every tensor of the model's store as F32 under its own name;
 * for every batch norm (a store name ending in ".running_mean") also
 * "<bn>.num_batches_tracked", I64 of shape [], as PyTorch's state_dict has
 * it, so that `model.load_state_dict(tensors, strict=True)` works in
 * PyTorch (scripts/load_in_pytorch.py); extra stores as F32 under
 * "<prefix><name>" (prefix "optimizer." for instance).
 *
 * Metadata (string -> string): the keys below, written from the model's
 * config, plus the caller's pairs (dataset, flags, epoch, iteration, RNG
 * counters...), which must not reuse these names:
 *   checkpoint_version  "1"
 *   arch                resnet18 | cnn | lenet
 *   in_channels, height, width, n_classes, n_layers, n_filters, resnet_width
 *   extra_prefixes      the extra stores' prefixes, comma-separated ("" if none)
 *
 *   crc32:<tensor>      for every tensor: the CRC-32 (zlib's) of its data
 *                       bytes, 8 lowercase hexadecimal digits
 *
 * Writing is atomic (fa_st_write): a crash never leaves half a checkpoint,
 * and a failed save leaves the previous file in place.
 *
 * Opening verifies the checksums when the file has any: a tensor whose data
 * does not match, a tensor without a checksum or a checksum without its
 * tensor is refused, naming the tensor. Files without checksums (written
 * by PyTorch's safetensors, or by fastadv before it wrote them) open
 * unverified.
 *
 * Loading checks the whole file against the model before it writes
 * anything: every name the model expects must be there with its shape and
 * a floating dtype (F32; F64, F16 and BF16 are converted), no tensor may be
 * left over except num_batches_tracked scalars and the tensors of extra
 * stores the caller did not ask for; no value loaded may be a NaN or an
 * Inf (the first one is named). On any problem the model is left
 * untouched and the message lists the first problems and what to do. */
#ifndef FA_TRAIN_CHECKPOINT_H
#define FA_TRAIN_CHECKPOINT_H

#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "nn/model.h"

/* A store saved or loaded beside the model, its names prefixed. */
typedef struct {
  const char *prefix; /* e.g. "optimizer.", not empty */
  fa_store *store;
} fa_ckpt_extra;

/* Metadata pairs given by the caller. */
typedef struct {
  const char *const *keys;
  const char *const *values;
  int n;
} fa_ckpt_meta_list;

/* Writes `model` (and the extras) to `path`. num_batches_tracked is the
 * count of training-mode forward passes (0 when unknown). */
fa_status fa_ckpt_save(const char *path, const fa_model *model, int64_t num_batches_tracked,
                       const fa_ckpt_extra *extras, int n_extras, fa_ckpt_meta_list meta);

/* An opened checkpoint: the whole file read and checked as safetensors. */
typedef struct fa_checkpoint fa_checkpoint;

fa_checkpoint *fa_ckpt_open(const char *path); /* NULL and a message on failure */
void fa_ckpt_close(fa_checkpoint *ckpt);

/* Whether the file carries checksums (then verified by fa_ckpt_open). */
bool fa_ckpt_has_checksums(const fa_checkpoint *ckpt);

/* A metadata value, NULL when absent. */
const char *fa_ckpt_meta(const fa_checkpoint *ckpt, const char *key);

/* The model config from the metadata, so that the architecture can be
 * rebuilt from the file alone. */
fa_status fa_ckpt_config(const fa_checkpoint *ckpt, fa_model_config *config);

/* Copies the checkpoint into `model` and the extras (see above). When
 * num_batches_tracked is not NULL it receives the largest count in the file
 * (0 when the file has none). */
fa_status fa_ckpt_load(const fa_checkpoint *ckpt, fa_model *model, const fa_ckpt_extra *extras,
                       int n_extras, int64_t *num_batches_tracked);

/* A new model built from the metadata and loaded from the file (the
 * extras, if any, are skipped): what `fastadv eval` needs. */
fa_model *fa_ckpt_load_model(const fa_checkpoint *ckpt);

/* The same with the model described by `config` (NULL: by the metadata,
 * as above; a file without fastadv's metadata needs one) and loaded from
 * the tensors named "<prefix><name>" ("": the model; "best.": the best
 * model of a resume checkpoint, train/resume.h), the file's model tensors
 * then being checked but not kept. */
fa_model *fa_ckpt_load_model_as(const fa_checkpoint *ckpt, const fa_model_config *config, const char *prefix);

#endif
